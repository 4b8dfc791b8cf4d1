//! The observe workflow's decisions, as pure functions of what GTI answered:
//! which calls an observable starts with ([`first_calls`]), and after each
//! answer which calls follow, or that the observable is complete
//! ([`Progress::on_done`]). No I/O, no threads: the executor runs the calls
//! this module names and hands their outcomes back.
//!
//! Per observable (SPEC §5): the detections call and every search window at
//! once; each allowed detection's events once the detections are back; once
//! everything before it is back, the merge and the cut, then one DHCP call
//! for the internal IPs of the events kept.
//!
//! The detections call is the core: its failure fails the observable. Every
//! other call is supplementary (SPEC §8.1): its failure becomes a
//! [`Shortfall`] beside what the others found.

use log::warn;

use super::merge::{match_detection_events, select_events, select_passive_dns, Shortfall};
use super::{dhcp_lookups, DhcpIndex, Enrichment, Findings, FoundEvent, Settings};
use crate::gti::model::{Detection, DetectionEvent, Detections, DhcpRecord, Event};
use crate::gti::{
    DetectionsOf, DhcpLookups, Endpoint, EntitySummary, EventsOfDetection, FileOf, FileSummary,
    GtiError, PassiveDnsOf, PdnsRecord, Search, SummaryOf,
};
use crate::observable::{Observable, ObservableType};

/// A request the workflow wants made for one observable; its outcome comes
/// back as the [`Outcome`] variant of the same name, whose payload is the
/// request's own output type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Detections(DetectionsOf),
    /// The events of the allowed detection number `index`.
    DetectionEvents {
        index: usize,
        request: EventsOfDetection,
    },
    /// The search window number `index` (0: the newest).
    Window {
        index: usize,
        request: Search,
    },
    Dhcp(DhcpLookups),
    /// The entity v1 look-ups (SPEC §8.4): beside the rest, never waited
    /// for by it.
    EntitySummary(SummaryOf),
    PassiveDns(PassiveDnsOf),
    File(FileOf),
}

impl Step {
    /// The endpoint of an entity v1 look-up; `None` for any other step.
    fn entity_v1_endpoint(&self) -> Option<Endpoint> {
        match self {
            Step::EntitySummary(_) => Some(Endpoint::EntitySummary),
            Step::PassiveDns(_) => Some(Endpoint::PassiveDns),
            Step::File(_) => Some(Endpoint::FileSummary),
            _ => None,
        }
    }

    /// Whether the call heads the observable's critical path (detections →
    /// events → DHCP): such calls go before the window and entity v1 calls
    /// waiting with them.
    pub fn is_urgent(&self) -> bool {
        matches!(
            self,
            Step::Detections(_) | Step::DetectionEvents { .. } | Step::Dhcp(_)
        )
    }
}

/// What the request of a [`Step`] came to, in the variant of the same name
/// (with the step's position, where it has one).
#[derive(Debug)]
pub enum Outcome {
    Detections(Result<Detections, GtiError>),
    /// A detection's failure only loses its events, as in the reference.
    DetectionEvents {
        index: usize,
        result: Result<Vec<DetectionEvent>, GtiError>,
    },
    Window {
        index: usize,
        result: Result<Vec<Event>, GtiError>,
    },
    Dhcp(Result<Vec<DhcpRecord>, GtiError>),
    EntitySummary(Result<Option<EntitySummary>, GtiError>),
    PassiveDns(Result<Vec<PdnsRecord>, GtiError>),
    File(Result<Option<FileSummary>, GtiError>),
}

impl Outcome {
    /// Whether the call failed.
    pub fn is_err(&self) -> bool {
        match self {
            Outcome::Detections(result) => result.is_err(),
            Outcome::DetectionEvents { result, .. } => result.is_err(),
            Outcome::Window { result, .. } => result.is_err(),
            Outcome::Dhcp(result) => result.is_err(),
            Outcome::EntitySummary(result) => result.is_err(),
            Outcome::PassiveDns(result) => result.is_err(),
            Outcome::File(result) => result.is_err(),
        }
    }
}

/// What to do after an outcome.
#[derive(Debug)]
pub enum Next {
    /// Make these calls (possibly none: other calls are still out).
    Calls(Vec<Step>),
    /// The observable is complete.
    Done(Result<Findings, GtiError>),
}

/// The calls an observable starts with: its detections, every window, and
/// its entity v1 look-ups.
pub fn first_calls(observable: &Observable, settings: &Settings) -> Vec<Step> {
    let detections = Step::Detections(DetectionsOf {
        value: observable.value.clone(),
    });
    let query = observable.search_query();
    let windows = settings
        .windows
        .iter()
        .enumerate()
        .map(|(index, window)| Step::Window {
            index,
            request: Search {
                query: query.clone(),
                window: window.clone(),
            },
        });
    std::iter::once(detections)
        .chain(windows)
        .chain(enrichment_calls(observable, settings))
        .collect()
}

/// The entity v1 look-ups of an observable (SPEC §8.4): summary and passive
/// DNS for an IP or a domain, the file for a hash; none when off.
fn enrichment_calls(observable: &Observable, settings: &Settings) -> Vec<Step> {
    if !settings.enrich {
        return Vec::new();
    }
    let value = observable.value.clone();
    match observable.kind {
        ObservableType::Ip | ObservableType::Domain => vec![
            Step::EntitySummary(SummaryOf {
                value: value.clone(),
                kind: observable.kind,
            }),
            Step::PassiveDns(PassiveDnsOf {
                value,
                limit: settings.entities_limit,
            }),
        ],
        ObservableType::Md5 | ObservableType::Sha1 | ObservableType::Sha256 => {
            vec![Step::File(FileOf { hash: value })]
        }
    }
}

/// One observable's answers so far.
#[derive(Debug)]
pub struct Progress {
    detections: Option<Result<Detections, GtiError>>,
    /// The events of each allowed detection, in detection order.
    detection_events: Vec<Option<Vec<DetectionEvent>>>,
    /// Each search window's answer, newest window first.
    windows: Vec<Option<Result<Vec<Event>, Shortfall>>>,
    /// Calls before DHCP that have not come back yet.
    pending: usize,
    /// The merged events, waiting for their DHCP records, and what the
    /// search lacked.
    merged: Option<(Vec<FoundEvent>, Vec<Shortfall>)>,
    /// The observable's type (which records passive DNS keeps).
    kind: ObservableType,
    /// The entity v1 look-ups not back yet; the rest never waits for them.
    enrich_out: Vec<Endpoint>,
    /// What they told, and what their failures cost.
    enrichment: Enrichment,
    enrich_shortfalls: Vec<Shortfall>,
    /// The findings of every other call, when they are complete before the
    /// look-ups.
    complete: Option<Findings>,
}

impl Progress {
    /// Nothing answered yet; [`first_calls`] are out.
    pub fn new(observable: &Observable, settings: &Settings) -> Progress {
        Progress {
            detections: None,
            detection_events: Vec::new(),
            windows: settings.windows.iter().map(|_| None).collect(),
            pending: 1 + settings.windows.len(),
            merged: None,
            kind: observable.kind,
            enrich_out: enrichment_calls(observable, settings)
                .iter()
                .filter_map(Step::entity_v1_endpoint)
                .collect(),
            enrichment: Enrichment::default(),
            enrich_shortfalls: Vec::new(),
            complete: None,
        }
    }

    /// Takes an outcome for the observable of `value`.
    pub fn on_done(&mut self, outcome: Outcome, value: &str, settings: &Settings) -> Next {
        let mut follow = Vec::new();
        match outcome {
            Outcome::Detections(result) => follow = self.on_detections(result, settings),
            Outcome::DetectionEvents { index, result } => {
                let events = result.unwrap_or_else(|error| {
                    warn!(
                        "events of the observable's detection number {index} skipped: {}",
                        error.message()
                    );
                    Vec::new()
                });
                if let Some(slot) = self.detection_events.get_mut(index) {
                    *slot = Some(events);
                }
            }
            Outcome::Window { index, result } => {
                if let Some(slot) = self.windows.get_mut(index) {
                    *slot =
                        Some(result.map_err(|error| Shortfall::of(Endpoint::EventSearch, error)));
                }
            }
            Outcome::Dhcp(result) => {
                let findings = self.on_dhcp(result);
                return self.finish(findings);
            }
            Outcome::EntitySummary(result) => {
                self.enrichment.summary = self.enriched(Endpoint::EntitySummary, result).flatten();
                return self.finish_enrichment();
            }
            Outcome::PassiveDns(result) => {
                let records = self.enriched(Endpoint::PassiveDns, result);
                let kind = self.kind;
                self.enrichment.passive_dns =
                    select_passive_dns(records.unwrap_or_default(), kind, settings);
                return self.finish_enrichment();
            }
            Outcome::File(result) => {
                self.enrichment.file = self.enriched(Endpoint::FileSummary, result).flatten();
                return self.finish_enrichment();
            }
        }
        self.pending = self.pending.saturating_sub(1);
        if self.pending > 0 {
            return Next::Calls(follow);
        }
        self.merge(value, settings)
    }

    /// The detections are back: the events of each allowed one follow.
    fn on_detections(
        &mut self,
        result: Result<Detections, GtiError>,
        settings: &Settings,
    ) -> Vec<Step> {
        let mut follow = Vec::new();
        if let Ok(detections) = &result {
            follow = allowed(detections, settings)
                .into_iter()
                .enumerate()
                .map(|(index, detection)| Step::DetectionEvents {
                    index,
                    request: EventsOfDetection {
                        detection_uuid: detection.uuid.clone(),
                    },
                })
                .collect();
        }
        self.detection_events = follow.iter().map(|_| None).collect();
        self.pending += follow.len();
        self.detections = Some(result);
        follow
    }

    /// An entity v1 answer: a 404 means GTI knows nothing of the entity (no
    /// sighting, no error); another failure costs that sighting only.
    fn enriched<T>(&mut self, endpoint: Endpoint, result: Result<T, GtiError>) -> Option<T> {
        if let Some(at) = self.enrich_out.iter().position(|out| *out == endpoint) {
            self.enrich_out.remove(at);
        }
        match result {
            Ok(answer) => Some(answer),
            Err(error) if error.status() == Some(404) => None,
            Err(error) => {
                warn!("GTI {} API failed: {}", endpoint.name(), error.message());
                self.enrich_shortfalls.push(Shortfall::Failed(error));
                None
            }
        }
    }

    /// Every call but the look-ups is done: the observable is complete
    /// once they are too.
    fn finish(&mut self, findings: Findings) -> Next {
        self.complete = Some(findings);
        self.finish_enrichment()
    }

    /// The findings with their enrichment, when nothing is out any more.
    fn finish_enrichment(&mut self) -> Next {
        match self.complete.take() {
            Some(findings) if self.enrich_out.is_empty() => {
                Next::Done(Ok(self.with_enrichment(findings)))
            }
            complete => {
                self.complete = complete;
                Next::Calls(Vec::new())
            }
        }
    }

    /// `findings` with the enrichment so far and what its failures cost.
    fn with_enrichment(&mut self, mut findings: Findings) -> Findings {
        findings.enrichment = Box::new(std::mem::take(&mut self.enrichment));
        findings.shortfalls.append(&mut self.enrich_shortfalls);
        findings
    }

    /// When the request's deadline has passed: the findings, if every call
    /// but the look-ups is done, with the look-ups that came back; each one
    /// still out costs its sighting only (SPEC §8.1), as `late` says.
    pub fn settle(&mut self, late: impl Fn(Endpoint) -> GtiError) -> Option<Findings> {
        let findings = self.complete.take()?;
        for endpoint in std::mem::take(&mut self.enrich_out) {
            self.enrich_shortfalls
                .push(Shortfall::Failed(late(endpoint)));
        }
        Some(self.with_enrichment(findings))
    }

    /// DHCP is back: the observable is complete. Without DHCP records each
    /// target keeps its IP (SPEC §8.1).
    fn on_dhcp(&mut self, result: Result<Vec<DhcpRecord>, GtiError>) -> Findings {
        let (events, mut shortfalls) = self.merged.take().unwrap_or_default();
        let dhcp = match result {
            Ok(records) => DhcpIndex::new(records),
            Err(error) => {
                shortfalls.push(Shortfall::of(Endpoint::Dhcp, error));
                DhcpIndex::default()
            }
        };
        Findings {
            events,
            dhcp,
            shortfalls,
            enrichment: Box::default(),
        }
    }

    /// Every call before DHCP is back: merge, cut, then ask for the DHCP
    /// records of the events kept (if any has an internal IP).
    fn merge(&mut self, value: &str, settings: &Settings) -> Next {
        // Every slot is filled before `pending` reaches zero; the defaults
        // are never used.
        let detections = match self.detections.take() {
            Some(Ok(detections)) => detections,
            Some(Err(error)) => return Next::Done(Err(error)),
            None => Detections::default(),
        };
        let allowed = allowed(&detections, settings);
        let fetched = std::mem::take(&mut self.detection_events)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        let detected = match_detection_events(&detections, &allowed, fetched, value);
        let searched = std::mem::take(&mut self.windows)
            .into_iter()
            .map(|window| window.unwrap_or_else(|| Ok(Vec::new())))
            .collect();
        let (events, search_shortfall) = select_events(detected, searched, settings);
        let shortfalls: Vec<Shortfall> = search_shortfall.into_iter().collect();
        let lookups = dhcp_lookups(events.iter().map(|found| &found.event));
        if lookups.is_empty() {
            return self.finish(Findings {
                events,
                dhcp: DhcpIndex::default(),
                shortfalls,
                enrichment: Box::default(),
            });
        }
        self.merged = Some((events, shortfalls));
        Next::Calls(vec![Step::Dhcp(DhcpLookups { lookups })])
    }
}

/// The detections whose data the token may see.
fn allowed<'d>(detections: &'d Detections, settings: &Settings) -> Vec<&'d Detection> {
    detections
        .detections
        .iter()
        .filter(|detection| settings.allows(Some(&detection.account_uuid)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gti::DhcpLookup;
    use crate::workflow::fixtures::{self, typed};
    use serde_json::json;

    fn ip(value: &str) -> Observable {
        Observable {
            kind: crate::observable::ObservableType::Ip,
            value: value.into(),
        }
    }

    fn settings(windows: usize) -> Settings {
        fixtures::settings(100, windows)
    }

    fn detections() -> Detections {
        typed(&json!({
            "detections": [
                {"uuid": "d1", "account_uuid": "acme", "rule_uuid": "r", "indicators": [{"field": "dst.ip", "values": ["1.2.3.4"]}]},
                {"uuid": "demo", "account_uuid": "dmo", "rule_uuid": "r"},
                {"uuid": "d2", "account_uuid": "acme", "rule_uuid": "r"},
            ],
            "rules": [{"uuid": "r"}],
        }))
    }

    fn internal_event() -> Event {
        typed(
            &json!({"uuid": "e", "timestamp": "2026-11-29T00:00:00.000Z",
                     "src": {"ip": "10.0.0.1", "internal": true}}),
        )
    }

    #[test]
    fn an_observable_starts_with_its_detections_and_every_window() {
        let settings = settings(3);
        let detections = Step::Detections(DetectionsOf {
            value: "1.2.3.4".into(),
        });
        let window = |index: usize| Step::Window {
            index,
            request: Search {
                query: "ip = '1.2.3.4'".into(),
                window: settings.windows[index].clone(),
            },
        };
        assert_eq!(
            first_calls(&ip("1.2.3.4"), &settings),
            [detections.clone(), window(0), window(1), window(2)]
        );
        assert_eq!(
            first_calls(&ip("1.2.3.4"), &fixtures::settings(100, 0)),
            std::slice::from_ref(&detections)
        );
        assert!(detections.is_urgent() && !window(0).is_urgent());
    }

    #[test]
    fn allowed_detections_are_followed_by_their_events_then_dhcp() {
        let settings = settings(1);
        let mut progress = Progress::new(&ip("1.2.3.4"), &settings);
        let window = progress.on_done(
            Outcome::Window {
                index: 0,
                result: Ok(vec![internal_event()]),
            },
            "1.2.3.4",
            &settings,
        );
        assert!(matches!(window, Next::Calls(calls) if calls.is_empty()));

        let Next::Calls(events) =
            progress.on_done(Outcome::Detections(Ok(detections())), "1.2.3.4", &settings)
        else {
            panic!("the detections call completes nothing yet");
        };
        // The test account's detection is not followed.
        assert_eq!(
            events,
            [
                Step::DetectionEvents {
                    index: 0,
                    request: EventsOfDetection {
                        detection_uuid: "d1".into()
                    }
                },
                Step::DetectionEvents {
                    index: 1,
                    request: EventsOfDetection {
                        detection_uuid: "d2".into()
                    }
                },
            ]
        );
        let first = progress.on_done(
            Outcome::DetectionEvents {
                index: 1,
                result: Err(GtiError::InvalidKey),
            },
            "1.2.3.4",
            &settings,
        );
        assert!(matches!(first, Next::Calls(calls) if calls.is_empty()));
        let Next::Calls(dhcp) = progress.on_done(
            Outcome::DetectionEvents {
                index: 0,
                result: Ok(Vec::new()),
            },
            "1.2.3.4",
            &settings,
        ) else {
            panic!("DHCP comes before the end");
        };
        assert_eq!(
            dhcp,
            [Step::Dhcp(DhcpLookups {
                lookups: vec![DhcpLookup {
                    ip: "10.0.0.1".into(),
                    event_time: "2026-11-29T00:00:00.000Z".into(),
                }]
            })]
        );
        let Next::Done(Ok(findings)) =
            progress.on_done(Outcome::Dhcp(Ok(Vec::new())), "1.2.3.4", &settings)
        else {
            panic!("DHCP ends the observable");
        };
        assert_eq!(findings.events.len(), 1);
    }

    #[test]
    fn without_internal_ips_the_merge_ends_the_observable() {
        let settings = settings(0);
        let mut progress = Progress::new(&ip("1.2.3.4"), &settings);
        let next = progress.on_done(
            Outcome::Detections(Ok(Detections::default())),
            "x",
            &settings,
        );
        assert!(matches!(next, Next::Done(Ok(findings)) if findings.events.is_empty()));
    }

    /// Runs one observable through the plan: the detections (none), then
    /// each window's result in order; then, if asked for, DHCP's.
    fn run(
        settings: &Settings,
        windows: Vec<Result<Vec<Event>, GtiError>>,
        dhcp: Result<Vec<DhcpRecord>, GtiError>,
    ) -> Findings {
        let mut progress = Progress::new(&ip("1.2.3.4"), settings);
        let mut next = progress.on_done(
            Outcome::Detections(Ok(Detections::default())),
            "x",
            settings,
        );
        for (index, window) in windows.into_iter().enumerate() {
            next = progress.on_done(
                Outcome::Window {
                    index,
                    result: window,
                },
                "x",
                settings,
            );
        }
        if let Next::Calls(calls) = &next {
            assert!(matches!(calls.as_slice(), [Step::Dhcp { .. }]), "{calls:?}");
            next = progress.on_done(Outcome::Dhcp(dhcp), "x", settings);
        }
        match next {
            Next::Done(Ok(findings)) => findings,
            other => panic!("a supplementary failure never fails the observable: {other:?}"),
        }
    }

    fn gone(status: u16) -> GtiError {
        GtiError::UnexpectedStatus {
            endpoint: Endpoint::EventSearch,
            status,
        }
    }

    #[test]
    fn a_failed_window_or_dhcp_call_costs_its_own_part_only() {
        let settings = settings(2);
        let broken = GtiError::Unavailable {
            endpoint: Endpoint::Dhcp,
            detail: "it answered HTTP 503".into(),
        };
        let findings = run(
            &settings,
            vec![Ok(vec![internal_event()]), Err(gone(410))],
            Err(broken.clone()),
        );
        assert_eq!(findings.events.len(), 1);
        let side = typed(&json!({"ip": "10.0.0.1", "internal": true}));
        assert!(findings.dhcp.of(Some(&side)).is_empty());
        assert_eq!(
            findings.shortfalls,
            [
                Shortfall::Unavailable {
                    endpoint: Endpoint::EventSearch,
                    status: 410
                },
                Shortfall::Failed(broken)
            ]
        );

        // A DHCP API that is gone is a shortfall of its own kind.
        let findings = run(
            &settings,
            vec![Ok(vec![internal_event()]), Ok(Vec::new())],
            Err(GtiError::UnexpectedStatus {
                endpoint: Endpoint::Dhcp,
                status: 404,
            }),
        );
        assert_eq!(
            findings.shortfalls,
            [Shortfall::Unavailable {
                endpoint: Endpoint::Dhcp,
                status: 404
            }]
        );
    }

    #[test]
    fn a_failed_newest_window_leaves_no_search_and_no_dhcp_call() {
        let findings = run(
            &settings(2),
            vec![Err(gone(404)), Ok(vec![internal_event()])],
            Ok(Vec::new()),
        );
        assert!(findings.events.is_empty());
        assert_eq!(
            findings.shortfalls,
            [Shortfall::Unavailable {
                endpoint: Endpoint::EventSearch,
                status: 404
            }]
        );
    }

    #[test]
    fn a_failed_detections_call_fails_the_observable_once_the_windows_are_back() {
        let settings = settings(1);
        let mut progress = Progress::new(&ip("1.2.3.4"), &settings);
        let next = progress.on_done(
            Outcome::Detections(Err(GtiError::InvalidKey)),
            "x",
            &settings,
        );
        assert!(matches!(next, Next::Calls(calls) if calls.is_empty()));
        let next = progress.on_done(
            Outcome::Window {
                index: 0,
                result: Ok(Vec::new()),
            },
            "x",
            &settings,
        );
        assert!(matches!(next, Next::Done(Err(GtiError::InvalidKey))));
    }

    fn enriched_settings() -> Settings {
        Settings {
            enrich: true,
            ..settings(0)
        }
    }

    fn hash(value: &str) -> Observable {
        Observable {
            kind: ObservableType::Sha1,
            value: value.into(),
        }
    }

    #[test]
    fn entity_v1_look_ups_start_with_the_rest_when_on() {
        let on = enriched_settings();
        let calls = first_calls(&ip("1.2.3.4"), &on);
        assert_eq!(
            calls[1..],
            [
                Step::EntitySummary(SummaryOf {
                    value: "1.2.3.4".into(),
                    kind: ObservableType::Ip
                }),
                Step::PassiveDns(PassiveDnsOf {
                    value: "1.2.3.4".into(),
                    limit: 100
                }),
            ]
        );
        assert_eq!(
            first_calls(&hash("ab"), &on)[1..],
            [Step::File(FileOf { hash: "ab".into() })]
        );
        assert_eq!(first_calls(&hash("ab"), &settings(0)).len(), 1);
        assert!(!calls[1].is_urgent() && !calls[2].is_urgent());
    }

    fn not_found() -> GtiError {
        GtiError::Api {
            status: 404,
            code: "client.not_found".into(),
            message: "Entity not found.".into(),
        }
    }

    #[test]
    fn the_observable_waits_for_its_look_ups_and_a_404_is_no_failure() {
        let settings = enriched_settings();
        let mut progress = Progress::new(&ip("1.2.3.4"), &settings);
        let summary = EntitySummary {
            first_seen: Some("2026-11-01T00:00:00.000Z".into()),
            ..EntitySummary::default()
        };
        let next = progress.on_done(
            Outcome::Detections(Ok(Detections::default())),
            "x",
            &settings,
        );
        assert!(matches!(next, Next::Calls(calls) if calls.is_empty()));
        let next = progress.on_done(
            Outcome::EntitySummary(Ok(Some(summary.clone()))),
            "x",
            &settings,
        );
        assert!(matches!(next, Next::Calls(calls) if calls.is_empty()));
        let Next::Done(Ok(findings)) =
            progress.on_done(Outcome::PassiveDns(Err(not_found())), "x", &settings)
        else {
            panic!("the last look-up completes the observable");
        };
        assert_eq!(findings.enrichment.summary, Some(summary));
        assert!(findings.enrichment.passive_dns.is_empty());
        assert!(findings.shortfalls.is_empty());
    }

    #[test]
    fn a_failed_look_up_costs_its_sighting_and_a_failed_core_waits_for_nothing() {
        let settings = enriched_settings();
        let broken = GtiError::Unavailable {
            endpoint: Endpoint::FileSummary,
            detail: "it answered HTTP 500".into(),
        };
        let mut progress = Progress::new(&hash("ab"), &settings);
        let next = progress.on_done(Outcome::File(Err(broken.clone())), "ab", &settings);
        assert!(matches!(next, Next::Calls(calls) if calls.is_empty()));
        let Next::Done(Ok(findings)) = progress.on_done(
            Outcome::Detections(Ok(Detections::default())),
            "ab",
            &settings,
        ) else {
            panic!("the look-up came back first");
        };
        assert_eq!(findings.enrichment.file, None);
        assert_eq!(findings.shortfalls, [Shortfall::Failed(broken)]);

        let mut progress = Progress::new(&hash("ab"), &settings);
        let next = progress.on_done(
            Outcome::Detections(Err(GtiError::InvalidKey)),
            "ab",
            &settings,
        );
        assert!(matches!(next, Next::Done(Err(GtiError::InvalidKey))));
    }

    #[test]
    fn at_the_deadline_only_the_look_ups_still_out_are_lost() {
        let settings = enriched_settings();
        let late = |endpoint| GtiError::Unavailable {
            endpoint,
            detail: "the request's deadline passed first".into(),
        };
        let mut progress = Progress::new(&ip("1.2.3.4"), &settings);
        // Nothing settles before the other calls are done.
        assert!(progress.settle(late).is_none());
        let summary = EntitySummary::default();
        progress.on_done(
            Outcome::EntitySummary(Ok(Some(summary.clone()))),
            "x",
            &settings,
        );
        progress.on_done(
            Outcome::Detections(Ok(Detections::default())),
            "x",
            &settings,
        );
        let findings = progress.settle(late).unwrap();
        assert_eq!(findings.enrichment.summary, Some(summary));
        assert_eq!(
            findings.shortfalls,
            [Shortfall::Failed(late(Endpoint::PassiveDns))]
        );
    }
}
