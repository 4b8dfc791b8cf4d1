//! The CTIM verdict of `/deliberate/observables` (SPEC §6): what the rules
//! of an observable's active detections say about it. Pure: the caller
//! gives the detections (test accounts already dropped) and the time.

use serde::Serialize;

use crate::gti::model::{Detection, Rule, Verbatim};
use crate::level::Level;
use crate::observable::Observable;
use crate::time::{format_timestamp, parse_timestamp, DAY_MILLIS};

/// How long a verdict stays valid after the request.
const VALID_DAYS: u64 = 7;

/// A CTIM verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub observable: Observable,
    pub disposition: u8,
    pub disposition_name: &'static str,
    pub valid_time: ValidTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidTime {
    pub start_time: String,
    pub end_time: String,
}

/// The level `field` of a rule reads (any case).
fn level(field: Option<&Verbatim>) -> Option<Level> {
    field
        .and_then(Verbatim::as_str)
        .and_then(Level::parse_any_case)
}

/// The verdict on `observable` from `detections` and their `rules`
/// (looked up by `rule_uuid`), asked at `now_millis`:
///
/// * `2` Malicious when some rule is severity `high` and confidence `high`;
/// * else `3` Suspicious when some rule is severity `high` or `moderate`;
/// * else none: low-severity rules alone (policy, posture) give no verdict.
///
/// `start_time` is the earliest `first_seen` of the detections behind the
/// disposition (their `created`, or `now`, when GTI gave none);
/// `end_time` is 7 days after `now_millis`.
pub fn verdict<'a>(
    observable: &Observable,
    detections: impl IntoIterator<Item = &'a Detection>,
    rules: &[&Rule],
    now_millis: u64,
) -> Option<Verdict> {
    let rule_of = |detection: &Detection| {
        rules
            .iter()
            .find(|rule| rule.uuid() == Some(detection.rule_uuid.as_str()))
            .copied()
    };
    let mut malicious: Vec<&Detection> = Vec::new();
    let mut suspicious: Vec<&Detection> = Vec::new();
    for detection in detections {
        let Some(rule) = rule_of(detection) else {
            continue;
        };
        let severity = level(rule.severity.get());
        if severity == Some(Level::High) && level(rule.confidence.get()) == Some(Level::High) {
            malicious.push(detection);
        }
        if matches!(severity, Some(Level::High | Level::Moderate)) {
            suspicious.push(detection);
        }
    }
    let (disposition, name, behind) = if !malicious.is_empty() {
        (2, "Malicious", malicious)
    } else if !suspicious.is_empty() {
        (3, "Suspicious", suspicious)
    } else {
        return None;
    };
    let start = behind
        .iter()
        .filter_map(|detection| {
            detection
                .first_seen
                .as_deref()
                .or(detection.created.as_deref())
                .and_then(parse_timestamp)
        })
        .min()
        .unwrap_or(now_millis);
    Some(Verdict {
        kind: "verdict",
        observable: observable.clone(),
        disposition,
        disposition_name: name,
        valid_time: ValidTime {
            start_time: format_timestamp(start),
            end_time: format_timestamp(now_millis.saturating_add(VALID_DAYS * DAY_MILLIS)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_796_001_138_123; // 2026-11-30T01:12:18.123Z

    fn rule(uuid: &str, severity: &str, confidence: &str) -> Rule {
        let text = json!({"uuid": uuid, "severity": severity, "confidence": confidence});
        serde_json::from_str(&text.to_string()).unwrap()
    }

    fn detection(uuid: &str, rule: &str, first_seen: &str) -> Detection {
        serde_json::from_str(
            &json!({"uuid": uuid, "account_uuid": "acme", "rule_uuid": rule, "first_seen": first_seen})
                .to_string(),
        )
        .unwrap()
    }

    fn ip() -> Observable {
        Observable {
            kind: crate::observable::ObservableType::Ip,
            value: "1.2.3.4".into(),
        }
    }

    #[test]
    fn high_and_high_is_malicious_from_its_own_first_seen() {
        let rules = [rule("hh", "high", "high"), rule("hm", "high", "moderate")];
        let rules: Vec<&Rule> = rules.iter().collect();
        let detections = [
            detection("a", "hm", "2026-11-01T00:00:00.000Z"),
            detection("b", "hh", "2026-11-20T10:00:00Z"),
            detection("c", "hh", "2026-11-25T00:00:00.000Z"),
        ];
        let verdict = verdict(&ip(), &detections, &rules, NOW).unwrap();
        assert_eq!(
            serde_json::to_value(&verdict).unwrap(),
            json!({
                "type": "verdict",
                "observable": {"type": "ip", "value": "1.2.3.4"},
                "disposition": 2,
                "disposition_name": "Malicious",
                "valid_time": {
                    "start_time": "2026-11-20T10:00:00.000Z",
                    "end_time": "2026-12-07T01:12:18.123Z"
                }
            })
        );
    }

    #[test]
    fn high_or_moderate_severity_is_suspicious_from_the_earliest() {
        let rules = [
            rule("hm", "High", "moderate"),
            rule("mh", "moderate", "high"),
            rule("low", "low", "high"),
        ];
        let rules: Vec<&Rule> = rules.iter().collect();
        let detections = [
            detection("l", "low", "2026-01-01T00:00:00.000Z"),
            detection("a", "mh", "2026-11-10T00:00:00.000Z"),
            detection("b", "hm", "2026-11-05T00:00:00.000Z"),
        ];
        let verdict = verdict(&ip(), &detections, &rules, NOW).unwrap();
        assert_eq!(
            (verdict.disposition, verdict.disposition_name),
            (3, "Suspicious")
        );
        assert_eq!(verdict.valid_time.start_time, "2026-11-05T00:00:00.000Z");
    }

    #[test]
    fn low_severity_alone_unknown_rules_and_nothing_give_no_verdict() {
        let rules = [rule("low", "low", "high")];
        let rules: Vec<&Rule> = rules.iter().collect();
        let detections = [
            detection("l", "low", "2026-01-01T00:00:00.000Z"),
            detection("x", "not-listed", "2026-01-01T00:00:00.000Z"),
        ];
        assert_eq!(verdict(&ip(), &detections, &rules, NOW), None);
        assert_eq!(verdict(&ip(), &[], &rules, NOW), None);
    }

    #[test]
    fn without_a_first_seen_the_verdict_starts_now() {
        let rules = [rule("hh", "high", "high")];
        let rules: Vec<&Rule> = rules.iter().collect();
        let detections = [detection("a", "hh", "not a time")];
        let verdict = verdict(&ip(), &detections, &rules, NOW).unwrap();
        assert_eq!(verdict.valid_time.start_time, format_timestamp(NOW));
    }
}
