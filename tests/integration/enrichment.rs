//! SPEC §8.4 end to end, as GTI sees it: the entity v1 calls an observe
//! request makes (paths, parameters, encoded values, region), that they run
//! beside the other calls, and that `GTI_ENTITY_V1_URL=` switches them off
//! and leaves every answer as it was.

use std::time::Duration;

use gti_relay::gti::Endpoint;
use serde_json::{json, Value};

use crate::support::mock_gti::{Fault, MockGti};
use crate::support::regions::{TwoRegions, EU_KEY, US_KEY};
use crate::support::relay::raw_request;
use crate::support::stack::Stack;

const ENTITY_V1: [Endpoint; 3] = [
    Endpoint::EntitySummary,
    Endpoint::PassiveDns,
    Endpoint::FileSummary,
];

/// An entity v1 call as GTI saw it: its endpoint, path and query.
type EntityCall = (Endpoint, String, Vec<(String, String)>);

fn entity_calls(gti: &MockGti) -> Vec<EntityCall> {
    let mut calls: Vec<_> = ENTITY_V1
        .iter()
        .flat_map(|endpoint| gti.calls_to(*endpoint))
        .map(|call| (call.endpoint.unwrap(), call.path, call.query))
        .collect();
    calls.sort_by(|a, b| (a.0.index(), &a.1).cmp(&(b.0.index(), &b.1)));
    calls
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[test]
fn each_observable_type_gets_its_look_ups_with_the_value_as_one_path_segment() {
    let stack = Stack::start(&[]);
    let token = stack.token_with(|claims| {
        claims.insert("CTR_ENTITIES_LIMIT".into(), json!(7));
    });
    let observables = json!([
        {"type": "ip", "value": "2001:db8::1"},
        {"type": "domain", "value": "a b.example"},
        {"type": "sha256", "value": "ab/cd"},
        {"type": "md5", "value": ".."},
        {"type": "url", "value": "http://skipped.example/"},
    ]);
    let answer = stack.observe(&token, &observables);
    // GTI knows none of them (404): no sighting, no error.
    assert_eq!(answer, json!({"data": {}}));
    let summary = |kind| query(&[("entity_type", kind)]);
    let limit = query(&[("limit", "7")]);
    assert_eq!(
        entity_calls(&stack.gti),
        [
            (
                Endpoint::EntitySummary,
                "/entity/v1/entity/2001:db8::1/summary".to_owned(),
                summary("ip")
            ),
            (
                Endpoint::EntitySummary,
                "/entity/v1/entity/a%20b.example/summary".to_owned(),
                summary("domain")
            ),
            (
                Endpoint::PassiveDns,
                "/entity/v1/entity/2001:db8::1/pdns".to_owned(),
                limit.clone()
            ),
            (
                Endpoint::PassiveDns,
                "/entity/v1/entity/a%20b.example/pdns".to_owned(),
                limit
            ),
            // `..` gets no call.
            (
                Endpoint::FileSummary,
                "/entity/v1/entity/ab%2Fcd/file".to_owned(),
                Vec::new()
            ),
        ]
    );
}

#[test]
fn the_look_ups_run_beside_the_detections_call() {
    // The search off, no detections: the detections call and the two
    // look-ups are the request's only calls. Each is held a while; if the
    // look-ups waited for the detections, at most one would be in flight.
    let stack = Stack::start(&[("GTI_EVENTS_URL", "")]);
    for endpoint in [
        Endpoint::Detections,
        Endpoint::EntitySummary,
        Endpoint::PassiveDns,
    ] {
        stack
            .gti
            .fault(endpoint, Fault::delay(Duration::from_millis(500)));
    }
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "ip", "value": "192.0.2.7"}]),
    );
    assert_eq!(answer, json!({"data": {}}));
    assert_eq!(stack.gti.total_calls(), 3);
    assert_eq!(stack.gti.max_in_flight(), 3);
}

#[test]
fn an_empty_entity_v1_url_makes_no_call() {
    let stack = Stack::start(&[("GTI_ENTITY_V1_URL", "")]);
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "ip", "value": "192.0.2.8"}, {"type": "sha1", "value": "ab"}]),
    );
    assert_eq!(answer, json!({"data": {}}));
    assert!(entity_calls(&stack.gti).is_empty());
}

#[test]
fn the_look_ups_go_to_the_token_s_region() {
    let regions = TwoRegions::start(&[]);
    let body = json!([{"type": "domain", "value": "example.com"}]);
    let eu = regions.token(EU_KEY, Some(json!("eu")));
    let answer: Value = regions.post("/observe/observables", Some(&eu), &body);
    assert_eq!(answer, json!({"data": {}}));
    assert_eq!(entity_calls(&regions.eu).len(), 2);
    assert!(entity_calls(&regions.us).is_empty());

    let us = regions.token(US_KEY, None);
    regions.post("/observe/observables", Some(&us), &body);
    assert_eq!(entity_calls(&regions.us).len(), 2);
}

#[test]
fn a_failing_look_up_is_reported_and_costs_nothing_else() {
    let stack = Stack::start(&[("GTI_RETRIES", "0")]);
    stack.gti.fault(Endpoint::PassiveDns, Fault::status(500));
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "domain", "value": "example.org"}]),
    );
    // Nothing found, so no data; the failure is the answer's one error.
    assert_eq!(
        answer,
        json!({
            "errors": [{
                "code": "service unavailable",
                "message": "GTI passive DNS API is unavailable: it answered HTTP 500.",
                "type": "fatal",
            }],
        })
    );
}

/// The answer's sightings with their transient ids made equal.
fn sightings_without_ids(answer: &Value) -> Vec<Value> {
    answer["data"]["sightings"]["docs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|doc| {
            let mut doc = doc.clone();
            doc["id"] = json!("transient");
            doc
        })
        .collect()
}

/// A stack serving the same five searched flows of `value`, its entity
/// summary and passive DNS (of which one record is a test account's).
fn serving(value: &str, vars: &[(&str, &str)], flows: &[Value]) -> Stack {
    let stack = Stack::start(vars);
    stack
        .gti
        .add_searched_events(&format!("ip = '{value}'"), flows.to_vec());
    stack.gti.set_entity(
        Endpoint::EntitySummary,
        value,
        json!({"summary": {"entity": value, "first_seen": "2026-11-01T00:00:00.000Z",
                           "last_seen": "2026-12-01T00:00:00.000Z", "prevalence_count_internal": 4,
                           "tags": [{"text": "lab"}]}}),
    );
    stack.gti.set_entity(
        Endpoint::PassiveDns,
        value,
        json!({"passivedns": [
            {"resolved": "a.example", "record_type": "A", "first_seen": "2026-11-02T00:00:00.000Z",
             "last_seen": "2026-12-02T00:00:00.000Z", "sensor_id": "s1", "account_uuid": "acme"},
            {"resolved": "demo.example", "record_type": "A", "first_seen": "2026-11-03T00:00:00.000Z",
             "last_seen": "2026-12-03T00:00:00.000Z", "sensor_id": "s1", "account_uuid": "dmo"},
        ]}),
    );
    stack
}

#[test]
fn enrichment_sightings_come_first_and_leave_the_event_sightings_as_they_were() {
    const VALUE: &str = "198.51.100.77";
    let flows: Vec<Value> = (0..5)
        .map(|n| {
            json!({"uuid": format!("flow-{n}"), "timestamp": crate::support::timestamp_minutes_ago(10 + n),
                   "event_type": "flow", "customer_id": "acme", "sensor_id": "s1",
                   "src": {"ip": "10.0.0.5", "internal": false}, "dst": {"ip": VALUE, "internal": false}})
        })
        .collect();
    let observe_with_limit = |stack: &Stack| {
        let token = stack.token_with(|claims| {
            claims.insert("CTR_ENTITIES_LIMIT".into(), json!(3));
            claims.insert("GTI_ALLOW_TEST_ACCOUNTS".into(), json!(false));
        });
        stack.observe(&token, &json!([{"type": "ip", "value": VALUE}]))
    };
    let off = observe_with_limit(&serving(VALUE, &[("GTI_ENTITY_V1_URL", "")], &flows));
    let stack = serving(VALUE, &[], &flows);
    let on = observe_with_limit(&stack);
    assert!(on.get("errors").is_none(), "{on}");
    let metrics = raw_request(stack.relay.address, "GET", "/metrics", &[], b"");
    let metrics = String::from_utf8_lossy(&metrics.body);
    for endpoint in ["entity_summary", "passive_dns"] {
        let line = format!(
            "gti_relay_upstream_calls_total{{region=\"us\",api=\"{endpoint}\",outcome=\"ok\"}} 1"
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }

    let (off, on) = (sightings_without_ids(&off), sightings_without_ids(&on));
    assert_eq!(off.len(), 3, "the limit cuts the event sightings");
    // Two enrichment sightings, outside the limit, then the same events.
    assert_eq!(on.len(), 5);
    assert_eq!(on[2..], off[..]);
    let titles: Vec<&str> = on[..2]
        .iter()
        .map(|doc| doc["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            format!("Entity summary of {VALUE} in Gigamon ThreatINSIGHT"),
            format!("Passive DNS of {VALUE} in Gigamon ThreatINSIGHT"),
        ]
    );
    assert_eq!(on[0]["count"], 4);
    // The test account's record is not shown to this token.
    assert_eq!(on[1]["count"], 1);
    assert_eq!(
        on[1]["relations"],
        json!([{"origin": "Gigamon ThreatINSIGHT Passive DNS", "relation": "Resolved_To",
                "source": {"type": "domain", "value": "a.example"},
                "related": {"type": "ip", "value": VALUE}}])
    );
}

#[test]
fn a_look_up_past_the_deadline_costs_its_sighting_only() {
    let stack = Stack::start(&[("REQUEST_DEADLINE_SECS", "1"), ("GTI_EVENTS_URL", "")]);
    stack.gti.set_entity(
        Endpoint::EntitySummary,
        "example.net",
        json!({"summary": {"first_seen": "2026-11-01T00:00:00.000Z"}}),
    );
    stack
        .gti
        .fault(Endpoint::PassiveDns, Fault::delay(Duration::from_secs(4)));
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "domain", "value": "example.net"}]),
    );
    assert_eq!(answer["data"]["sightings"]["count"], 1, "{answer}");
    assert_eq!(
        answer["errors"],
        json!([{
            "code": "service unavailable",
            "message": "GTI passive DNS API is unavailable: the request's deadline passed first.",
            "type": "fatal",
        }])
    );
}
