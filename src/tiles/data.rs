//! Each tile's data from one period's detections listing: pure functions of
//! the listing, the period and the time. Detections of test accounts are
//! dropped here (the cached listing is shared by tokens that may differ).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use super::{Period, Tile};
use crate::encoding::quote;
use crate::gti::model::{Detection, Rule, Verbatim, VerbatimField};
use crate::gti::{LIST_PAGE_SIZE, MAX_LIST_PAGES};
use crate::level::Level;
use crate::time::{format_timestamp, parse_timestamp, DAY_MILLIS};
use crate::workflow::allowed_detections;

/// How many rules the top-rules tile lists.
const TOP_RULES: usize = 10;

/// One period's active detections, as GTI listed them (newest first), and
/// their rules.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub detections: Vec<Detection>,
    pub rules: Vec<Rule>,
    /// GTI had more than the pages read ([`MAX_LIST_PAGES`] full pages).
    pub capped: bool,
}

impl Listing {
    /// About how many bytes it holds, for the cache's bound.
    pub fn approximate_bytes(&self) -> usize {
        let text = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        let verbatim =
            |field: &VerbatimField| field.get().map_or(0, |value| value.canonical_text().len());
        let detections: usize = self
            .detections
            .iter()
            .map(|detection| {
                std::mem::size_of::<Detection>()
                    + detection.uuid.len()
                    + detection.account_uuid.len()
                    + detection.rule_uuid.len()
                    + text(&detection.device_ip)
                    + text(&detection.first_seen)
                    + text(&detection.created)
                    + detection
                        .indicators
                        .iter()
                        .map(|indicator| indicator.field.len() + 32 * indicator.values.len())
                        .sum::<usize>()
            })
            .sum();
        let rules: usize = self
            .rules
            .iter()
            .map(|rule| {
                std::mem::size_of::<Rule>()
                    + verbatim(&rule.uuid)
                    + verbatim(&rule.name)
                    + verbatim(&rule.description)
                    + verbatim(&rule.category)
                    + 64
            })
            .sum();
        std::mem::size_of::<Listing>() + detections + rules
    }
}

/// What the labels and the markdown say when the listing is capped.
fn capped_note() -> String {
    format!(
        "(capped: newest {} detections)",
        LIST_PAGE_SIZE * MAX_LIST_PAGES
    )
}

/// The level a rule's severity or confidence reads (any case).
fn level(field: Option<&Verbatim>) -> Option<Level> {
    field
        .and_then(Verbatim::as_str)
        .and_then(Level::parse_any_case)
}

/// The data of `tile` over `period` ending at `now_millis`, from `listing`;
/// test accounts dropped unless `allow_test_accounts`. `portal_url` is where
/// rule links point.
pub fn tile_data(
    tile: Tile,
    period: Period,
    listing: &Listing,
    allow_test_accounts: bool,
    now_millis: u64,
    portal_url: &str,
) -> Value {
    let detections: Vec<&Detection> =
        allowed_detections(&listing.detections, allow_test_accounts).collect();
    let rules: HashMap<&str, &Rule> = listing
        .rules
        .iter()
        .filter_map(|rule| Some((rule.uuid()?, rule)))
        .collect();
    let rule_of = |detection: &Detection| rules.get(detection.rule_uuid.as_str()).copied();
    let start = now_millis.saturating_sub(u64::from(period.days()) * DAY_MILLIS);
    let time =
        json!({"start_time": format_timestamp(start), "end_time": format_timestamp(now_millis)});
    let mut body = json!({
        "valid_time": time,
        "observed_time": time,
        "cache_scope": "none",
        "hide_legend": false,
    });
    let fields = match tile {
        Tile::Summary => summary(&detections, &rule_of, listing.capped),
        Tile::BySeverity => by_severity(&detections, &rule_of),
        Tile::PerDay => per_day(&detections, &rule_of, period, now_millis),
        Tile::TopRules => top_rules(&detections, &rule_of, period, listing.capped, portal_url),
    };
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    body
}

type RuleOf<'a> = dyn Fn(&Detection) -> Option<&'a Rule> + 'a;

fn summary(detections: &[&Detection], rule_of: &RuleOf<'_>, capped: bool) -> Value {
    let high = detections
        .iter()
        .filter(|detection| {
            rule_of(detection).and_then(|rule| level(rule.severity.get())) == Some(Level::High)
        })
        .count();
    let devices: HashSet<&str> = detections
        .iter()
        .filter_map(|detection| detection.device_ip.as_deref())
        .collect();
    let rules: HashSet<&str> = detections
        .iter()
        .map(|detection| detection.rule_uuid.as_str())
        .collect();
    let note = if capped {
        format!(" {}", capped_note())
    } else {
        String::new()
    };
    let metric = |icon: &str, label: &str, value: usize| json!({"icon": icon, "label": format!("{label}{note}"), "value": value, "value_unit": "integer"});
    json!({
        "data": [
            metric("warning", "Active detections", detections.len()),
            metric("alert", "High-severity detections", high),
            metric("device-type", "Devices", devices.len()),
            metric("rule", "Rules", rules.len()),
        ]
    })
}

fn by_severity(detections: &[&Detection], rule_of: &RuleOf<'_>) -> Value {
    let mut counts = [[0usize; Level::ALL.len()]; Level::ALL.len()];
    for detection in detections {
        let Some(rule) = rule_of(detection) else {
            continue;
        };
        if let (Some(severity), Some(confidence)) =
            (level(rule.severity.get()), level(rule.confidence.get()))
        {
            counts[severity.index()][confidence.index()] += 1;
        }
    }
    let names: Vec<&str> = Level::ALL.map(Level::label).to_vec();
    let data: Vec<Value> = counts
        .iter()
        .enumerate()
        .filter(|(_, row)| row.iter().sum::<usize>() > 0)
        .map(|(severity, row)| {
            let segments: Vec<Value> = row
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(confidence, n)| json!({"key": confidence, "value": n}))
                .collect();
            json!({"key": severity, "value": row.iter().sum::<usize>(), "segments": segments})
        })
        .collect();
    json!({
        "label_headers": ["Severity", "Confidence"],
        "labels": [names, names],
        "data": data,
    })
}

fn per_day(
    detections: &[&Detection],
    rule_of: &RuleOf<'_>,
    period: Period,
    now_millis: u64,
) -> Value {
    let days = u64::from(period.days());
    let today = now_millis / DAY_MILLIS;
    let first = today.saturating_sub(days - 1);
    // Per day: the total and each severity's count.
    let mut counts: BTreeMap<u64, (usize, [usize; Level::ALL.len()])> = (first..=today)
        .map(|day| (day, (0, [0; Level::ALL.len()])))
        .collect();
    for detection in detections {
        let Some(day) = detection
            .created
            .as_deref()
            .and_then(parse_timestamp)
            .map(|at| at / DAY_MILLIS)
        else {
            continue;
        };
        let Some((total, levels)) = counts.get_mut(&day) else {
            continue;
        };
        *total += 1;
        if let Some(severity) = rule_of(detection).and_then(|rule| level(rule.severity.get())) {
            levels[severity.index()] += 1;
        }
    }
    let data: Vec<Value> = counts
        .iter()
        .map(|(day, (total, levels))| {
            let date = format_timestamp(day * DAY_MILLIS)[..10].to_owned();
            let values: Vec<Value> = Level::ALL
                .iter()
                .zip(levels)
                .map(|(level, n)| json!({"key": level.word(), "value": n}))
                .collect();
            json!({"key": date, "label": date, "value": total, "values": values})
        })
        .collect();
    let keys: Vec<Value> = Level::ALL
        .iter()
        .map(|level| json!({"key": level.word(), "label": level.label()}))
        .collect();
    json!({"keys": keys, "key_type": "string", "data": data})
}

/// Text that goes into a markdown table cell or link as it reads.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace(['\n', '\r'], " ")
}

fn top_rules(
    detections: &[&Detection],
    rule_of: &RuleOf<'_>,
    period: Period,
    capped: bool,
    portal_url: &str,
) -> Value {
    // Per rule uuid: detections and distinct devices.
    let mut per_rule: HashMap<&str, (usize, HashSet<&str>)> = HashMap::new();
    for detection in detections {
        let entry = per_rule.entry(detection.rule_uuid.as_str()).or_default();
        entry.0 += 1;
        entry.1.extend(detection.device_ip.as_deref());
    }
    let mut ranked: Vec<(&str, usize, usize)> = per_rule
        .iter()
        .map(|(uuid, (count, devices))| (*uuid, *count, devices.len()))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let span = match period {
        Period::Last24Hours => "the last 24 hours",
        Period::Last7Days => "the last 7 days",
        Period::Last30Days => "the last 30 days",
    };
    let mut lines: Vec<String> = Vec::new();
    if ranked.is_empty() {
        lines.push(format!("No active GTI detections in {span}."));
    } else {
        lines.push("| Rule | Severity | Confidence | Detections | Devices |".to_owned());
        lines.push("| --- | --- | --- | ---: | ---: |".to_owned());
        for (uuid, count, devices) in ranked.iter().take(TOP_RULES) {
            let rule = per_rule_rule(rule_of, detections, uuid);
            let name = rule
                .and_then(|rule| rule.name.get())
                .and_then(Verbatim::as_str)
                .unwrap_or(uuid);
            let level_name =
                |field: Option<&Verbatim>| level(field).map_or("Unknown", Level::label);
            lines.push(format!(
                "| [{}]({}/detections/rules/{}) | {} | {} | {count} | {devices} |",
                cell(name),
                portal_url.trim_end_matches('/'),
                quote(uuid),
                level_name(rule.and_then(|rule| rule.severity.get())),
                level_name(rule.and_then(|rule| rule.confidence.get())),
            ));
        }
    }
    if capped {
        lines.push(String::new());
        lines.push(capped_note());
    }
    json!({ "data": lines })
}

/// The rule of the first detection of rule `uuid`.
fn per_rule_rule<'a>(
    rule_of: &RuleOf<'a>,
    detections: &[&Detection],
    uuid: &str,
) -> Option<&'a Rule> {
    detections
        .iter()
        .find(|detection| detection.rule_uuid == uuid)
        .and_then(|detection| rule_of(detection))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T01:12:18.123Z.
    const NOW: u64 = 1_796_001_138_123;
    const PORTAL: &str = "https://portal.example";

    fn listing(detections: Value, rules: Value, capped: bool) -> Listing {
        Listing {
            detections: serde_json::from_str(&detections.to_string()).unwrap(),
            rules: serde_json::from_str(&rules.to_string()).unwrap(),
            capped,
        }
    }

    fn rules() -> Value {
        json!([
            {"uuid": "r-high", "name": "High | one", "severity": "high", "confidence": "high"},
            {"uuid": "r-mod", "name": "Moderate", "severity": "moderate", "confidence": "low"},
            {"uuid": "r-low", "name": "Low", "severity": "low", "confidence": "moderate"},
        ])
    }

    fn detection(uuid: &str, rule: &str, device: &str, created: &str, account: &str) -> Value {
        json!({"uuid": uuid, "rule_uuid": rule, "device_ip": device, "created": created,
               "first_seen": created, "account_uuid": account})
    }

    fn sample() -> Listing {
        listing(
            json!([
                detection(
                    "a",
                    "r-high",
                    "10.0.0.1",
                    "2026-11-30T00:10:00.000Z",
                    "acme"
                ),
                detection(
                    "b",
                    "r-high",
                    "10.0.0.2",
                    "2026-11-29T12:00:00.000Z",
                    "acme"
                ),
                detection("c", "r-mod", "10.0.0.1", "2026-11-25T12:00:00.000Z", "acme"),
                detection("d", "r-low", "10.0.0.3", "2026-11-02T12:00:00.000Z", "acme"),
                detection("t", "r-low", "10.9.9.9", "2026-11-29T12:00:00.000Z", "dmo"),
            ]),
            rules(),
            false,
        )
    }

    fn data(tile: Tile, period: Period, listing: &Listing, allow: bool) -> Value {
        tile_data(tile, period, listing, allow, NOW, PORTAL)
    }

    fn values(metrics: &Value) -> Vec<u64> {
        metrics["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["value"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn every_tile_carries_its_period_and_scope() {
        let body = data(Tile::Summary, Period::Last7Days, &sample(), false);
        assert_eq!(body["valid_time"]["start_time"], "2026-11-23T01:12:18.123Z");
        assert_eq!(body["valid_time"]["end_time"], "2026-11-30T01:12:18.123Z");
        assert_eq!(body["observed_time"], body["valid_time"]);
        assert_eq!(
            (&body["cache_scope"], &body["hide_legend"]),
            (&json!("none"), &json!(false))
        );
    }

    #[test]
    fn the_summary_counts_detections_high_ones_devices_and_rules() {
        let body = data(Tile::Summary, Period::Last30Days, &sample(), false);
        assert_eq!(values(&body), [4, 2, 3, 3]);
        assert_eq!(body["data"][0]["label"], "Active detections");
        assert_eq!(body["data"][0]["value_unit"], "integer");
        // Test accounts only when allowed.
        assert_eq!(
            values(&data(Tile::Summary, Period::Last30Days, &sample(), true)),
            [5, 2, 4, 3]
        );
    }

    #[test]
    fn an_empty_period_shows_zeros_empty_days_and_says_so() {
        let empty = Listing::default();
        assert_eq!(
            values(&data(Tile::Summary, Period::Last24Hours, &empty, false)),
            [0, 0, 0, 0]
        );
        assert_eq!(
            data(Tile::BySeverity, Period::Last24Hours, &empty, false)["data"],
            json!([])
        );
        let days = data(Tile::PerDay, Period::Last7Days, &empty, false);
        assert_eq!(days["data"].as_array().unwrap().len(), 7);
        assert!(days["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|day| day["value"] == 0));
        assert_eq!(
            data(Tile::TopRules, Period::Last24Hours, &empty, false)["data"],
            json!(["No active GTI detections in the last 24 hours."])
        );
    }

    #[test]
    fn the_donut_splits_severity_by_confidence() {
        let body = data(Tile::BySeverity, Period::Last30Days, &sample(), false);
        assert_eq!(body["label_headers"], json!(["Severity", "Confidence"]));
        assert_eq!(body["labels"][0], json!(["High", "Moderate", "Low"]));
        assert_eq!(
            body["data"],
            json!([
                {"key": 0, "value": 2, "segments": [{"key": 0, "value": 2}]},
                {"key": 1, "value": 1, "segments": [{"key": 2, "value": 1}]},
                {"key": 2, "value": 1, "segments": [{"key": 1, "value": 1}]},
            ])
        );
    }

    #[test]
    fn one_day_and_thirty_days_of_bars_oldest_first_today_included() {
        let week = data(Tile::PerDay, Period::Last7Days, &sample(), false);
        let days = week["data"].as_array().unwrap();
        assert_eq!(days.len(), 7);
        assert_eq!(days[0]["key"], "2026-11-24");
        assert_eq!(days[6]["key"], "2026-11-30");
        assert_eq!(days[6]["label"], "2026-11-30");
        assert_eq!(days[6]["value"], 1);
        assert_eq!(
            days[6]["values"],
            json!([{"key": "high", "value": 1}, {"key": "moderate", "value": 0}, {"key": "low", "value": 0}])
        );
        assert_eq!(days[5]["value"], 1);
        // Created on the 25th (in the week) and the 2nd (only in the month).
        assert_eq!(days[1]["value"], 1);
        let total = |body: &Value| {
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["value"].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!(total(&week), 3);
        let month = data(Tile::PerDay, Period::Last30Days, &sample(), false);
        assert_eq!(month["data"].as_array().unwrap().len(), 30);
        assert_eq!(month["data"][0]["key"], "2026-11-01");
        assert_eq!(total(&month), 4);
        assert_eq!(month["keys"][0], json!({"key": "high", "label": "High"}));
        assert_eq!(month["key_type"], "string");
        // A detection created on one day only.
        let one = listing(
            json!([detection(
                "x",
                "r-mod",
                "10.0.0.1",
                "2026-11-28T23:59:59Z",
                "acme"
            )]),
            rules(),
            false,
        );
        let body = data(Tile::PerDay, Period::Last7Days, &one, false);
        let counted: Vec<u64> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["value"].as_u64().unwrap())
            .collect();
        assert_eq!(counted, [0, 0, 0, 0, 1, 0, 0]);
    }

    #[test]
    fn top_rules_are_ranked_and_linked() {
        let body = data(Tile::TopRules, Period::Last30Days, &sample(), false);
        assert_eq!(
            body["data"],
            json!([
                "| Rule | Severity | Confidence | Detections | Devices |",
                "| --- | --- | --- | ---: | ---: |",
                "| [High \\| one](https://portal.example/detections/rules/r-high) | High | High | 2 | 2 |",
                "| [Low](https://portal.example/detections/rules/r-low) | Low | Moderate | 1 | 1 |",
                "| [Moderate](https://portal.example/detections/rules/r-mod) | Moderate | Low | 1 | 1 |",
            ])
        );
    }

    #[test]
    fn capped_paging_is_said_in_labels_and_markdown() {
        let mut capped = sample();
        capped.capped = true;
        let summary = data(Tile::Summary, Period::Last30Days, &capped, false);
        assert_eq!(
            summary["data"][0]["label"],
            "Active detections (capped: newest 10000 detections)"
        );
        let markdown = data(Tile::TopRules, Period::Last30Days, &capped, false);
        let lines = markdown["data"].as_array().unwrap();
        assert_eq!(lines.last().unwrap(), "(capped: newest 10000 detections)");
    }

    #[test]
    fn only_ten_rules_are_listed() {
        let detections: Vec<Value> = (0..12)
            .map(|n| {
                detection(
                    &format!("d{n}"),
                    &format!("rule-{n:02}"),
                    "10.0.0.1",
                    "2026-11-29T00:00:00Z",
                    "acme",
                )
            })
            .collect();
        let body = data(
            Tile::TopRules,
            Period::Last7Days,
            &listing(json!(detections), json!([]), false),
            false,
        );
        assert_eq!(body["data"].as_array().unwrap().len(), 2 + 10);
    }
}
