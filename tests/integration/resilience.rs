//! SPEC §8.1–8.3 end to end: a supplementary GTI API that fails costs its
//! own part of the answer, one that is gone (404, 410) is a warning, and
//! `/health` needs the detections API only. Each answer is compared whole
//! with the answer of a relay that never had the missing part.

use std::time::{SystemTime, UNIX_EPOCH};

use gti_relay::gti::Endpoint;
use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

use crate::support::mock_gti::{Fault, MockGti, TEST_KEY};
use crate::support::process::Bin;
use crate::support::relay::raw_request;
use crate::support::stack::Stack;

const VALUE: &str = "203.0.113.7";
const INTERNAL: &str = "10.0.0.5";
const DAY_MINUTES: u64 = 24 * 60;

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn ago(minutes: u64) -> String {
    format_timestamp(now_millis() - minutes * 60_000)
}

/// The UTC date `days` ago, as GTI timestamps begin.
fn date_days_ago(days: u64) -> String {
    format_timestamp(now_millis() - days * DAY_MINUTES * 60_000)[..10].to_owned()
}

fn flow(uuid: &str, timestamp: &str) -> Value {
    json!({
        "uuid": uuid, "timestamp": timestamp, "event_type": "flow", "customer_id": "acme",
        "sensor_id": "sensor1", "proto": "tcp", "total_pkts": 1,
        "src": {"ip": INTERNAL, "internal": true}, "dst": {"ip": VALUE, "internal": false},
    })
}

/// One observable's GTI data, made once (timestamps included) so that two
/// relays serve exactly the same: three active detections of one rule, an
/// event for each, a searched event in each of the last four days, and
/// the DHCP record of the internal IP they all share.
struct Data {
    detections: Value,
    detection_events: Vec<(String, Value)>,
    searched: Vec<Value>,
}

impl Data {
    fn new() -> Data {
        let uuids = ["det-1", "det-2", "det-3"];
        let detections = uuids.map(|uuid| {
            json!({
                "uuid": uuid, "account_uuid": "acme", "rule_uuid": "rule-1",
                "device_ip": INTERNAL, "status": "active",
                "first_seen": ago(120), "last_seen": ago(5), "created": ago(120),
                "indicators": [{"field": "dst.ip", "values": [VALUE]}],
            })
        });
        let rule = json!({
            "uuid": "rule-1", "name": "Beacon to a known C2", "severity": "high",
            "confidence": "high", "category": "Attack:Command and Control",
            "description": "Traffic to a known command-and-control address.",
        });
        let detection_events = uuids
            .iter()
            .enumerate()
            .map(|(index, uuid)| {
                let minutes = 10 + index as u64;
                (
                    uuid.to_string(),
                    flow(&format!("{uuid}-event"), &ago(minutes)),
                )
            })
            .collect();
        let searched = (0..4)
            .map(|day| flow(&format!("day-{day}"), &ago(day * DAY_MINUTES + 30)))
            .collect();
        Data {
            detections: json!({"detections": detections, "rules": [rule]}),
            detection_events,
            searched,
        }
    }

    fn serve(&self, gti: &MockGti) {
        gti.set_detections(VALUE, self.detections.clone());
        for (uuid, event) in &self.detection_events {
            gti.set_detection_events(uuid, vec![event.clone()]);
        }
        gti.add_searched_events(&format!("ip = '{VALUE}'"), self.searched.clone());
    }

    /// A relay with `vars` serving this data, the DHCP record included
    /// unless `dhcp` is false.
    fn stack(&self, vars: &[(&str, &str)], dhcp: bool) -> Stack {
        let stack = Stack::start(vars);
        self.serve(&stack.gti);
        if dhcp {
            stack.gti.set_dhcp_records(
                INTERNAL,
                vec![json!({"ip": INTERNAL, "account_code": "acme", "hostname": "finance-laptop", "mac": "00:15:5d:00:04:0e"})],
            );
        }
        stack
    }
}

fn observe(stack: &Stack) -> Value {
    stack.observe(&stack.token(), &json!([{"type": "ip", "value": VALUE}]))
}

/// The answer's data with every transient id replaced by the same word:
/// the order of the entities is deterministic, so what remains compares
/// exactly.
fn data_of(answer: &Value) -> Value {
    fn scrub(value: &Value) -> Value {
        match value {
            Value::String(text) if text.starts_with("transient:") => json!("transient"),
            Value::Array(items) => items.iter().map(scrub).collect(),
            Value::Object(fields) => fields
                .iter()
                .map(|(name, value)| (name.clone(), scrub(value)))
                .collect(),
            other => other.clone(),
        }
    }
    scrub(&answer["data"])
}

fn sighting_uuids(answer: &Value) -> Vec<&str> {
    answer["data"]["sightings"]["docs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|doc| doc["external_ids"][0].as_str())
        .collect()
}

fn host_names(answer: &Value) -> Vec<String> {
    let text = answer["data"]["sightings"].to_string();
    text.matches("finance-laptop").map(str::to_owned).collect()
}

fn warning(message: &str) -> Value {
    json!([{"code": "api unavailable", "message": message, "type": "warning"}])
}

fn metric_line(stack: &Stack, prefix: &str) -> Option<String> {
    let answer = raw_request(stack.relay.address, "GET", "/metrics", &[], b"");
    String::from_utf8_lossy(&answer.body)
        .lines()
        .find(|line| line.starts_with(prefix))
        .map(str::to_owned)
}

#[test]
fn a_retired_event_search_is_a_warning_and_every_detection_stays() {
    let data = Data::new();
    let without_search = observe(&data.stack(&[("GTI_EVENTS_URL", "")], true));
    assert_eq!(
        sighting_uuids(&without_search),
        ["det-1-event", "det-2-event", "det-3-event"]
    );
    assert_eq!(without_search["data"]["indicators"]["count"], 1);
    assert_eq!(without_search["data"]["relationships"]["count"], 3);

    for (status, fault) in [
        (404, Fault::status(404).with_body("<html>Not Found</html>")),
        (
            410,
            Fault::gti_error(410, "client.gone", "This API is retired."),
        ),
    ] {
        let stack = data.stack(&[("GTI_RETRIES", "0")], true);
        stack.gti.fault(Endpoint::EventSearch, fault);
        let answer = observe(&stack);
        assert_eq!(
            answer["errors"],
            warning(&format!(
                "GTI event search API is not available (HTTP {status}): \
                 sightings come from detections only."
            )),
            "{answer}"
        );
        // Everything else, DHCP included, as if the search were off.
        assert_eq!(data_of(&answer), data_of(&without_search), "{status}");
        assert_eq!(host_names(&answer).len(), 3, "{answer}");
        assert_eq!(
            metric_line(&stack, "gti_relay_api_unavailable_total").as_deref(),
            Some("gti_relay_api_unavailable_total{region=\"us\",api=\"event_search\"} 1")
        );

        // Nothing is remembered: the next request asks the search again.
        let asked = stack.gti.count(Endpoint::EventSearch);
        let again = observe(&stack);
        assert_eq!(data_of(&again), data_of(&answer));
        assert_eq!(again["errors"], answer["errors"]);
        assert!(stack.gti.count(Endpoint::EventSearch) > asked);
    }
}

#[test]
fn a_retired_dhcp_look_up_is_a_warning_and_the_sightings_keep_their_ips() {
    let data = Data::new();
    let without_records = observe(&data.stack(&[], false));
    assert!(without_records.get("errors").is_none(), "{without_records}");
    assert_eq!(sighting_uuids(&without_records).len(), 7);
    assert!(host_names(&without_records).is_empty());
    let with_records = observe(&data.stack(&[], true));
    assert_eq!(host_names(&with_records).len(), 7, "{with_records}");

    let stack = data.stack(&[("GTI_RETRIES", "0")], true);
    stack.gti.fault(Endpoint::Dhcp, Fault::status(404));
    let answer = observe(&stack);
    assert_eq!(
        answer["errors"],
        warning(
            "GTI DHCP look-up API is not available (HTTP 404): \
             sightings lack the host names and MAC addresses of internal IPs."
        )
    );
    assert_eq!(data_of(&answer), data_of(&without_records));
    assert_eq!(
        metric_line(&stack, "gti_relay_api_unavailable_total").as_deref(),
        Some("gti_relay_api_unavailable_total{region=\"us\",api=\"dhcp\"} 1")
    );
}

#[test]
fn a_failing_dhcp_look_up_is_an_error_beside_the_whole_data() {
    let data = Data::new();
    let without_records = observe(&data.stack(&[], false));

    let stack = data.stack(&[("GTI_RETRIES", "0")], true);
    stack.gti.fault(Endpoint::Dhcp, Fault::status(503));
    let answer = observe(&stack);
    assert_eq!(
        answer["errors"],
        json!([{
            "code": "service unavailable",
            "message": "GTI DHCP look-up API is unavailable: it answered HTTP 503.",
            "type": "fatal",
        }])
    );
    assert_eq!(data_of(&answer), data_of(&without_records));
}

#[test]
fn a_failing_third_window_ends_the_search_as_if_it_covered_two_days() {
    let data = Data::new();
    let two_days = observe(&data.stack(&[("GTI_DAY_RANGE", "2")], true));
    assert_eq!(
        sighting_uuids(&two_days),
        [
            "det-1-event",
            "det-2-event",
            "det-3-event",
            "day-0",
            "day-1"
        ]
    );

    let stack = data.stack(&[("GTI_RETRIES", "0"), ("GTI_DAY_RANGE", "4")], true);
    // The third window, and only it, starts three days ago.
    let third = format!("\"start_date\":\"{}", date_days_ago(3));
    stack
        .gti
        .fault(Endpoint::EventSearch, Fault::status(500).matching(&third));
    let answer = observe(&stack);
    assert_eq!(
        answer["errors"],
        json!([{
            "code": "service unavailable",
            "message": "GTI event search API is unavailable: it answered HTTP 500.",
            "type": "fatal",
        }])
    );
    assert_eq!(data_of(&answer), data_of(&two_days));
    // The fourth window answered, and was not used.
    assert_eq!(stack.gti.count(Endpoint::EventSearch), 4);
}

#[test]
fn a_window_never_needed_fails_nothing() {
    let data = Data::new();
    let stack = data.stack(&[("GTI_RETRIES", "0"), ("GTI_DAY_RANGE", "4")], true);
    let third = format!("\"start_date\":\"{}", date_days_ago(3));
    stack
        .gti
        .fault(Endpoint::EventSearch, Fault::status(500).matching(&third));
    // Three detection events and the first two windows reach the limit.
    let token = stack.token_with(|claims| {
        claims.insert("CTR_ENTITIES_LIMIT".into(), json!(5));
    });
    let answer = stack.observe(&token, &json!([{"type": "ip", "value": VALUE}]));
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(sighting_uuids(&answer).len(), 5);
}

#[test]
fn health_needs_the_detections_api_only() {
    let stack = Stack::start(&[("GTI_RETRIES", "0")]);
    stack.gti.fault(Endpoint::EventSearch, Fault::status(404));
    stack.gti.fault(Endpoint::Dhcp, Fault::status(410));
    assert_eq!(
        stack.relay.post("/health", Some(&stack.token()), ""),
        json!({"data": {"status": "ok"}})
    );
    let calls = stack.gti.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].endpoint, Some(Endpoint::Detections));
    assert_eq!(calls[0].query_value("indicator_value"), Some("8.8.8.8"));
    assert_eq!(calls[0].query_values("include"), ["indicators", "rules"]);
    assert_eq!(calls[0].query_value("status"), Some("active"));

    stack.gti.fault(
        Endpoint::Detections,
        Fault::gti_error(503, "server.unavailable", "Try again later."),
    );
    assert_eq!(
        stack.relay.post("/health", Some(&stack.token()), ""),
        json!({"errors": [{"code": "server : unavailable", "message": "Try again later.", "type": "fatal"}]})
    );
}

#[test]
fn an_answer_with_warnings_only_keeps_an_empty_data() {
    let stack = Stack::start(&[("GTI_RETRIES", "0")]);
    stack.gti.fault(Endpoint::EventSearch, Fault::status(404));
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "domain", "value": "nothing.example"}]),
    );
    assert_eq!(
        answer,
        json!({
            "data": {},
            "errors": warning(
                "GTI event search API is not available (HTTP 404): \
                 sightings come from detections only."
            ),
        })
    );
}

#[test]
fn the_command_line_prints_a_warning_and_succeeds() {
    let data = Data::new();
    let gti = MockGti::start();
    data.serve(&gti);
    gti.fault(Endpoint::EventSearch, Fault::status(404));
    let observables = json!([{"type": "ip", "value": VALUE}]).to_string();
    let run = |gti: &MockGti| {
        Bin::new(&["observe", "-"])
            .envs(&gti.vars())
            .env("GTI_API_KEY", TEST_KEY)
            .env("GTI_RETRIES", "0")
            .stdin(&observables)
            .run()
    };
    let out = run(&gti);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "gti-relay: warning: api unavailable: GTI event search API is not available \
         (HTTP 404): sightings come from detections only."
    );
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(printed["data"]["sightings"]["count"], 3, "{printed}");

    // A failure beside it still fails the command.
    gti.fault(Endpoint::Detections, Fault::status(500));
    let out = run(&gti);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("gti-relay: service unavailable: "),
        "{}",
        out.stderr
    );
}
