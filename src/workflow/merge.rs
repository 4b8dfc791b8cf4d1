//! The pure half of the workflow: which detection events match the
//! observable, what each detection tells its events, the deterministic cut
//! to the limit (SPEC §5, improvement 2), and what a failed supplementary
//! call costs (SPEC §8.1–8.2). No I/O, no threads.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use log::warn;

use super::{DetectionInfo, FoundEvent, Settings, Summary};
use crate::gti::model::{Detection, DetectionEvent, Detections, Event, Rule, Verbatim};
use crate::gti::{Endpoint, GtiError, PdnsRecord};
use crate::observable::ObservableType;

/// What a supplementary call (anything but the detections) cost an
/// observable's answer: the answer keeps everything else (SPEC §8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// The call failed after its retries: reported as the failure it was.
    Failed(GtiError),
    /// The API answered 404 or 410 to a URL that names no observable: it is
    /// not available (retired, or not offered to this tenant), which is a
    /// warning, not a failure (SPEC §8.2).
    Unavailable { endpoint: Endpoint, status: u16 },
}

impl Shortfall {
    /// What the failure of a call to `endpoint`, whose URL names no
    /// observable (the event search, the DHCP look-up), means.
    pub fn of(endpoint: Endpoint, error: GtiError) -> Shortfall {
        match error.gone_status() {
            Some(status) => Shortfall::Unavailable { endpoint, status },
            None => Shortfall::Failed(error),
        }
    }
}

/// Keeps each allowed detection's events in which one of the detection's
/// indicator fields of a supported type holds `value`, gives them the
/// detection's [`DetectionInfo`] (one per detection, shared), and orders
/// them newest first, ties by uuid.
pub fn match_detection_events(
    detections: &Detections,
    allowed: &[&Detection],
    events_per_detection: Vec<Vec<DetectionEvent>>,
    value: &str,
) -> Vec<FoundEvent> {
    let rules: HashMap<&str, Arc<Rule>> = detections
        .rules
        .iter()
        .filter_map(|rule| rule.get())
        .filter_map(|rule| Some((rule.uuid()?, Arc::new(rule.clone()))))
        .collect();

    let summaries = summaries(allowed);
    let mut matched = Vec::new();
    for (detection, events) in allowed.iter().zip(events_per_detection) {
        let Some(rule) = rules.get(detection.rule_uuid.as_str()) else {
            warn!(
                "detection {} skipped: its rule {} is not in GTI's answer",
                detection.uuid, detection.rule_uuid
            );
            continue;
        };
        let group = (
            detection.rule_uuid.as_str(),
            detection.account_uuid.as_str(),
        );
        let info = Arc::new(DetectionInfo {
            account_uuid: Some(detection.account_uuid.clone()),
            rule: Arc::clone(rule),
            summary: Some(summaries.get(&group).copied().unwrap_or_default()),
        });
        let paths: Vec<Vec<&str>> = detection
            .indicators
            .iter()
            .filter_map(|indicator| indicator_path(&indicator.field))
            .collect();
        for found in events {
            let hit = paths
                .iter()
                .any(|path| found.indicator_values.contains(path, value));
            if hit {
                matched.push(FoundEvent {
                    event: found.event,
                    detection: Some(Arc::clone(&info)),
                });
            }
        }
    }
    // A stable sort: the same event under two detections keeps detection order.
    matched.sort_by(|a, b| {
        b.event
            .timestamp()
            .cmp(&a.event.timestamp())
            .then_with(|| a.event.uuid().cmp(&b.event.uuid()))
    });
    matched
}

/// Distinct impacted devices and indicator values per (rule, account). It
/// counts every allowed detection of a rule and account, even those whose
/// events could not be fetched, as the reference does.
fn summaries<'d>(allowed: &[&'d Detection]) -> HashMap<(&'d str, &'d str), Summary> {
    let mut devices: HashMap<(&str, &str), HashSet<Option<&str>>> = HashMap::new();
    let mut indicator_values: HashMap<(&str, &str), HashSet<String>> = HashMap::new();
    for detection in allowed {
        let group = (
            detection.rule_uuid.as_str(),
            detection.account_uuid.as_str(),
        );
        devices
            .entry(group)
            .or_default()
            .insert(detection.device_ip.as_deref());
        let values = indicator_values.entry(group).or_default();
        for indicator in &detection.indicators {
            if indicator_path(&indicator.field).is_some() {
                values.extend(indicator.values.iter().map(Verbatim::canonical_text));
            }
        }
    }
    devices
        .into_iter()
        .map(|(group, devices)| {
            let summary = Summary {
                impacted_devices: devices.len(),
                indicator_values: indicator_values.get(&group).map_or(0, HashSet::len),
            };
            (group, summary)
        })
        .collect()
}

/// The path of an indicator field whose last part is a supported type:
/// `dst.ip` → `[dst, ip]`, `http:files.sha256` → `[files, sha256]`.
fn indicator_path(field: &str) -> Option<Vec<&str>> {
    let path: Vec<&str> = field.rsplit(':').next()?.split('.').collect();
    path.last()
        .filter(|kind| ObservableType::parse(kind).is_some())
        .map(|_| path.clone())
}

/// The passive DNS records an enrichment sighting shows (SPEC §8.4):
/// records without `resolved` and of test accounts (unless allowed)
/// dropped; for an IP observable, those whose `resolved` is not a domain
/// name dropped too; newest `last_seen` first (ties by `resolved`; records
/// without `last_seen` last); cut to the entity limit.
pub fn select_passive_dns(
    records: Vec<PdnsRecord>,
    kind: ObservableType,
    settings: &Settings,
) -> Vec<PdnsRecord> {
    let mut kept: Vec<PdnsRecord> = records
        .into_iter()
        .filter(|record| {
            let account = record.account_uuid.as_deref();
            settings.allows(account) && settings.allows(record.customer_id.as_deref())
        })
        .filter(|record| match record.resolved.as_deref() {
            None | Some("") => false,
            Some(resolved) => kind != ObservableType::Ip || is_domain_name(resolved),
        })
        .collect();
    kept.sort_by(|a, b| {
        let newest = match (&a.last_seen, &b.last_seen) {
            (Some(a), Some(b)) => b.cmp(a),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        newest.then_with(|| a.resolved.cmp(&b.resolved))
    });
    kept.truncate(settings.entities_limit);
    kept
}

/// Whether `text` reads as a domain name: not an IP address, and made of
/// dot-separated labels of letters, digits, `-` and `_`.
fn is_domain_name(text: &str) -> bool {
    let text = text.trim_end_matches('.');
    text.parse::<std::net::IpAddr>().is_err()
        && !text.is_empty()
        && text.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

/// Detection events first, then searched events window by window (newest
/// first, GTI's order within a window) until the limit is reached, skipping
/// uuids already taken and test accounts; cut to the limit; newest first.
///
/// A failed window ends the search there: the windows before it are used,
/// it and the older ones are not, and its shortfall is returned (SPEC §8.1).
/// It counts only if the reference would have asked for that window, i.e.
/// if the windows before it did not reach the limit.
pub fn select_events(
    mut events: Vec<FoundEvent>,
    windows: Vec<Result<Vec<Event>, Shortfall>>,
    settings: &Settings,
) -> (Vec<FoundEvent>, Option<Shortfall>) {
    let limit = settings.entities_limit;
    let search_limit = limit.saturating_sub(events.len());
    let mut taken: HashSet<Box<str>> = events
        .iter()
        .filter_map(|found| found.event.uuid().map(Box::from))
        .collect();
    let mut searched = 0;
    let mut shortfall = None;
    for window in windows {
        if searched >= search_limit {
            break;
        }
        let window = match window {
            Ok(window) => window,
            Err(cost) => {
                shortfall = Some(cost);
                break;
            }
        };
        for event in window {
            if !settings.allows(event.customer_id()) {
                continue;
            }
            if let Some(id) = event.uuid() {
                if !taken.insert(Box::from(id)) {
                    continue;
                }
            }
            searched += 1;
            events.push(FoundEvent::searched(event));
        }
    }
    events.truncate(limit);
    events.sort_by(|a, b| b.event.timestamp().cmp(&a.event.timestamp()));
    (events, shortfall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::fixtures::{detection, event_json, settings, typed, uuids};
    use serde_json::{json, Value};

    fn event(uuid: &str, timestamp: &str) -> Event {
        typed(&event_json(uuid, timestamp))
    }

    #[test]
    fn detection_events_come_first_then_windows_newest_first_until_the_limit() {
        let detected = vec![FoundEvent::searched(event(
            "d1",
            "2026-11-29T10:00:00.000Z",
        ))];
        let windows = vec![
            Ok(vec![
                event("s1", "2026-11-29T09:00:00.000Z"),
                event("d1", "2026-11-29T10:00:00.000Z"),
            ]),
            Ok(vec![
                event("s2", "2026-11-28T09:00:00.000Z"),
                event("s3", "2026-11-28T08:00:00.000Z"),
            ]),
            // Never reached: the limit is met by the first two windows.
            Err(Shortfall::Failed(GtiError::InvalidKey)),
        ];
        let (events, shortfall) = select_events(detected, windows, &settings(3, 3));
        assert_eq!(uuids(&events), ["d1", "s1", "s2"]);
        assert_eq!(shortfall, None);
    }

    #[test]
    fn a_failed_window_ends_the_search_when_it_would_have_been_asked() {
        let failed = Shortfall::Failed(GtiError::InvalidKey);
        let detected = || {
            vec![FoundEvent::searched(event(
                "d1",
                "2026-11-20T10:00:00.000Z",
            ))]
        };
        let windows = vec![
            Ok(vec![event("s1", "2026-11-29T09:00:00.000Z")]),
            Err(failed.clone()),
            // Answered, but older than the failed window: not used.
            Ok(vec![event("s3", "2026-11-27T09:00:00.000Z")]),
        ];
        let (events, shortfall) = select_events(detected(), windows, &settings(5, 3));
        assert_eq!(uuids(&events), ["s1", "d1"]);
        assert_eq!(shortfall, Some(failed.clone()));

        // The same as a search of the windows before the failed one.
        let before = vec![Ok(vec![event("s1", "2026-11-29T09:00:00.000Z")])];
        let (same, none) = select_events(detected(), before, &settings(5, 1));
        assert_eq!(uuids(&same), uuids(&events));
        assert_eq!(none, None);

        // A failure of the newest window leaves the detection events only.
        let (events, shortfall) =
            select_events(detected(), vec![Err(failed.clone())], &settings(5, 1));
        assert_eq!(uuids(&events), ["d1"]);
        assert_eq!(shortfall, Some(failed));
    }

    #[test]
    fn only_404_and_410_mean_an_api_is_gone() {
        let endpoint = Endpoint::EventSearch;
        for status in [404, 410] {
            let bare = GtiError::UnexpectedStatus { endpoint, status };
            let with_body = GtiError::Api {
                status,
                code: "client.not_found".into(),
                message: "Not found.".into(),
            };
            for error in [bare, with_body] {
                assert_eq!(
                    Shortfall::of(endpoint, error),
                    Shortfall::Unavailable { endpoint, status }
                );
            }
        }
        for error in [
            GtiError::UnexpectedStatus {
                endpoint,
                status: 400,
            },
            GtiError::Api {
                status: 500,
                code: "server.error".into(),
                message: "Oops.".into(),
            },
            GtiError::Unavailable {
                endpoint,
                detail: "connection refused".into(),
            },
            GtiError::TooManyRequests { endpoint },
            GtiError::InvalidKey,
        ] {
            assert_eq!(
                Shortfall::of(endpoint, error.clone()),
                Shortfall::Failed(error)
            );
        }
    }

    #[test]
    fn the_cut_is_sorted_newest_first_and_test_accounts_are_dropped() {
        let mut demo = event_json("demo", "2026-11-29T11:00:00.000Z");
        demo["customer_id"] = json!("dmo");
        let windows = || {
            vec![Ok(vec![
                event("old", "2026-11-20T00:00:00.000Z"),
                typed(&demo),
                event("new", "2026-11-29T12:00:00.000Z"),
            ])]
        };
        let (events, _) = select_events(Vec::new(), windows(), &settings(10, 1));
        assert_eq!(uuids(&events), ["new", "old"]);

        let allowed = Settings {
            allow_test_accounts: true,
            ..settings(10, 1)
        };
        let (events, _) = select_events(Vec::new(), windows(), &allowed);
        assert_eq!(uuids(&events), ["new", "demo", "old"]);
    }

    #[test]
    fn events_match_through_indicator_paths_and_carry_the_detection_summary() {
        let detections = Detections {
            detections: vec![
                detection(
                    "det-1",
                    "acme",
                    "rule-1",
                    "10.0.0.1",
                    "http:files.sha256",
                    &["abc", "def"],
                ),
                detection("det-2", "acme", "rule-1", "10.0.0.2", "dst.ip", &["abc"]),
                detection(
                    "det-3",
                    "acme",
                    "rule-1",
                    "10.0.0.2",
                    "src.mac",
                    &["ignored"],
                ),
            ],
            rules: vec![typed(&json!({"uuid": "rule-1", "name": "Rule one"}))],
        };
        let allowed: Vec<&Detection> = detections.detections.iter().collect();
        let read = |value: Value| DetectionEvent::from_json(&value.to_string()).unwrap();
        let hit = read(
            json!({"uuid": "e2", "timestamp": "2026-01-01T00:00:00.000Z", "files": [{"sha256": "x"}, {"sha256": "abc"}]}),
        );
        let miss = read(
            json!({"uuid": "e3", "timestamp": "2026-01-02T00:00:00.000Z", "files": [{"sha256": "x"}]}),
        );
        let tie = read(
            json!({"uuid": "e1", "timestamp": "2026-01-01T00:00:00.000Z", "files": [{"sha256": "abc"}]}),
        );
        let matched = match_detection_events(
            &detections,
            &allowed,
            vec![
                vec![hit, miss, tie],
                vec![read(
                    json!({"uuid": "e4", "timestamp": "2026-01-03T00:00:00.000Z", "dst": {"ip": "abc"}}),
                )],
                vec![],
            ],
            "abc",
        );
        assert_eq!(uuids(&matched), ["e4", "e1", "e2"]);
        let info = matched[0].detection.as_deref().unwrap();
        assert_eq!(
            info.rule.name.get().and_then(Verbatim::as_str),
            Some("Rule one")
        );
        assert_eq!(
            info.summary,
            Some(Summary {
                impacted_devices: 2,
                indicator_values: 2
            })
        );
        assert_eq!(info.account_uuid.as_deref(), Some("acme"));
        // One rule, shared by every detection of it.
        assert!(Arc::ptr_eq(
            &info.rule,
            &matched[2].detection.as_deref().unwrap().rule
        ));
    }

    fn record(
        resolved: Option<&str>,
        last_seen: Option<&str>,
        account: Option<&str>,
    ) -> PdnsRecord {
        PdnsRecord {
            resolved: resolved.map(str::to_owned),
            last_seen: last_seen.map(str::to_owned),
            account_uuid: account.map(str::to_owned),
            ..PdnsRecord::default()
        }
    }

    #[test]
    fn passive_dns_keeps_what_the_token_may_see_newest_first_to_the_limit() {
        let records = || {
            vec![
                record(Some("b.example"), Some("2026-11-02T00:00:00.000Z"), None),
                record(Some("old.example"), None, None),
                record(
                    Some("a.example"),
                    Some("2026-11-02T00:00:00.000Z"),
                    Some("acme"),
                ),
                record(Some("203.0.113.9"), Some("2026-11-03T00:00:00.000Z"), None),
                record(
                    Some("demo.example"),
                    Some("2026-11-04T00:00:00.000Z"),
                    Some("dmo"),
                ),
                record(None, Some("2026-11-05T00:00:00.000Z"), None),
                record(Some("new.example"), Some("2026-11-03T00:00:00.000Z"), None),
            ]
        };
        let resolved = |records: Vec<PdnsRecord>| -> Vec<String> {
            records.into_iter().filter_map(|r| r.resolved).collect()
        };
        // An IP resolved from domains: the IP record and the test account's
        // are dropped, ties by name, no last_seen last.
        assert_eq!(
            resolved(select_passive_dns(
                records(),
                ObservableType::Ip,
                &settings(10, 0)
            )),
            ["new.example", "a.example", "b.example", "old.example"]
        );
        // A domain resolves to anything; the cut keeps the newest.
        assert_eq!(
            resolved(select_passive_dns(
                records(),
                ObservableType::Domain,
                &settings(2, 0)
            )),
            ["203.0.113.9", "new.example"]
        );
        let allowed = Settings {
            allow_test_accounts: true,
            ..settings(1, 0)
        };
        assert_eq!(
            resolved(select_passive_dns(
                records(),
                ObservableType::Domain,
                &allowed
            )),
            ["demo.example"]
        );
        assert!(is_domain_name("cdn.example.com.") && !is_domain_name("2001:db8::1"));
        assert!(!is_domain_name("a b.example") && !is_domain_name("a..b"));
    }
}
