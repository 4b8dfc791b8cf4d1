//! `/observe/observables` and `/health` end to end: the relay over a real
//! socket, the mock GTI and mock JWKS behind it, whole answers compared.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use gti_relay::gti::Endpoint;
use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

use crate::support::mock_gti::{wire_detections, Fault, MockGti};
use crate::support::stack::{ip_observables, Stack};

const SHA256: &str = "9ffc7e4333d3be11b244d5f83b02ebcd194a671539f7faf1b5597d9209cc25c3";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/reference/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// A GTI timestamp `minutes` ago.
fn ago(minutes: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    format_timestamp(now - minutes * 60_000)
}

/// Replaces every transient id by the kind and position of the entity it
/// names, so answers with random ids compare exactly and every reference is
/// checked to point at the right entity.
fn normalise_ids(data: &Value) -> Value {
    let mut names: HashMap<String, String> = HashMap::new();
    for kind in ["sightings", "indicators", "relationships"] {
        for (index, doc) in data[kind]["docs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let id = doc["id"].as_str().unwrap();
            let prefix = format!("transient:{}-", &kind[..kind.len() - 1]);
            assert!(id.starts_with(&prefix), "{id}");
            if kind != "indicators" {
                let uuid = &id[prefix.len()..];
                assert_eq!(uuid.len(), 36, "{id} holds a uuid4");
                assert_eq!(&uuid[14..15], "4", "{id} holds a uuid4");
            }
            names.insert(id.to_owned(), format!("{kind}[{index}]"));
        }
    }
    let mut text = data.to_string();
    for (id, name) in &names {
        text = text.replace(&format!("\"{id}\""), &format!("\"{name}\""));
    }
    serde_json::from_str(&text).unwrap()
}

/// The reference's fixtures served by the mock GTI for the sha256 observable.
/// Searched events must fall into the relay's day windows, so their 2020
/// timestamps are moved to today (in the fixtures and the expectations alike).
fn serve_reference_data(gti: &MockGti) -> HashMap<&'static str, String> {
    let moved = HashMap::from([
        ("2020-05-04T21:42:01.961Z", ago(60)),
        ("2020-05-04T21:41:29.961Z", ago(61)),
    ]);
    let shift = |text: String| {
        moved
            .iter()
            .fold(text, |text, (old, new)| text.replace(old, new))
    };
    let detections = json_fixture("integration/detections_for_entity.json");
    gti.set_detections(SHA256, wire_detections(detections.as_array().unwrap()));
    for detection in detections.as_array().unwrap() {
        let events = json_fixture("integration/events_for_detection.json");
        gti.set_detection_events(
            detection["uuid"].as_str().unwrap(),
            events.as_array().unwrap().clone(),
        );
    }
    let searched: Value = serde_json::from_str(&shift(fixture("integration/events.json"))).unwrap();
    gti.add_searched_events(
        &format!("sha256 = '{SHA256}'"),
        searched.as_array().unwrap().clone(),
    );
    for (ip, records) in json_fixture("integration/dhcp_records_by_ip.json")
        .as_object()
        .unwrap()
    {
        gti.set_dhcp_records(ip, records.as_array().unwrap().clone());
    }
    ["sightings", "indicators", "relationships"]
        .into_iter()
        .map(|kind| (kind, shift(fixture(&format!("{kind}.json")))))
        .collect()
}

#[test]
fn the_reference_fixtures_give_the_reference_answer() {
    let stack = Stack::start(&[]);
    let expected = serve_reference_data(&stack.gti);

    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "sha256", "value": SHA256}]),
    );

    let expected: Value = json!({
        "sightings": serde_json::from_str::<Value>(&expected["sightings"]).unwrap(),
        "indicators": serde_json::from_str::<Value>(&expected["indicators"]).unwrap(),
        "relationships": serde_json::from_str::<Value>(&expected["relationships"]).unwrap(),
    });
    assert_eq!(normalise_ids(&answer["data"]), normalise_ids(&expected));
    assert!(answer.get("errors").is_none(), "{answer}");

    // One chain (detections, one detection's events, DHCP) and every window.
    assert_eq!(stack.gti.count(Endpoint::Detections), 1);
    assert_eq!(stack.gti.count(Endpoint::DetectionEvents), 1);
    assert_eq!(stack.gti.count(Endpoint::EventSearch), 7);
    assert_eq!(stack.gti.count(Endpoint::Dhcp), 1);
    assert_eq!(stack.jwks.requests(), 1);
}

/// One searched event of `kind` seen `minutes` ago, on the given account.
fn flow(uuid: &str, minutes: u64, customer: &str) -> Value {
    json!({
        "uuid": uuid, "timestamp": ago(minutes), "event_type": "flow", "customer_id": customer,
        "sensor_id": "sensor1", "flow_state": "S0", "proto": "tcp", "service": "http", "total_pkts": 1,
        "src": {"ip": "10.0.0.5", "internal": true}, "dst": {"ip": "203.0.113.9", "internal": false},
    })
}

fn sighting_uuids(answer: &Value) -> Vec<String> {
    answer["data"]["sightings"]["docs"]
        .as_array()
        .map(|docs| {
            docs.iter()
                .map(|doc| doc["external_ids"][0].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_supported_type_is_searched_and_the_rest_skipped() {
    let stack = Stack::start(&[]);
    let observables = json!([
        {"type": "ip", "value": "203.0.113.9"},
        {"type": "domain", "value": "example.com"},
        {"type": "url", "value": "http://example.com/"},
        {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"},
        {"type": "sha1", "value": "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"type": "sha256", "value": SHA256},
    ]);
    for (index, observable) in observables.as_array().unwrap().iter().enumerate() {
        let query = format!(
            "{} = '{}'",
            observable["type"].as_str().unwrap(),
            observable["value"].as_str().unwrap()
        );
        stack.gti.add_searched_events(
            &query,
            vec![flow(&format!("event-{index}"), 10 + index as u64, "acme")],
        );
    }

    let answer = stack.observe(&stack.token(), &observables);

    assert_eq!(
        sighting_uuids(&answer),
        ["event-0", "event-1", "event-3", "event-4", "event-5"]
    );
    let observed: Vec<&Value> = answer["data"]["sightings"]["docs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|doc| &doc["observables"][0]["type"])
        .collect();
    assert_eq!(observed, ["ip", "domain", "md5", "sha1", "sha256"]);
    assert!(
        answer["data"].get("indicators").is_none(),
        "no detections, no indicators"
    );
    assert_eq!(stack.gti.count(Endpoint::Detections), 5);
    assert_eq!(
        stack
            .relay
            .post("/observe/observables", Some(&stack.token()), "[]"),
        json!({"data": {}})
    );
}

#[test]
fn the_entities_limit_claim_caps_sightings_per_observable() {
    let stack = Stack::start(&[("GTI_DAY_RANGE", "1")]);
    let events: Vec<Value> = (0..1200)
        .map(|n| flow(&format!("e{n:04}"), 1 + n / 10, "acme"))
        .collect();
    stack.gti.add_searched_events("ip = '203.0.113.9'", events);
    let observable = json!([{"type": "ip", "value": "203.0.113.9"}]);

    for (claim, expected) in [
        (json!(1), 1),
        (json!(5), 5),
        (json!(100), 100),
        (json!(1000), 1000),
        (json!(5000), 1000),
        (json!("abc"), 100),
        (json!("7"), 7),
        (json!(0), 100),
        (Value::Null, 100),
    ] {
        let token = stack.token_with(|claims| {
            claims.insert("CTR_ENTITIES_LIMIT".into(), claim.clone());
        });
        let answer = stack.observe(&token, &observable);
        assert_eq!(
            answer["data"]["sightings"]["count"], expected,
            "limit {claim}"
        );
        assert_eq!(
            answer["data"]["sightings"]["docs"]
                .as_array()
                .unwrap()
                .len(),
            expected
        );
    }
}

#[test]
fn windows_are_used_newest_first_until_the_limit() {
    let stack = Stack::start(&[("GTI_DAY_RANGE", "3")]);
    let query = "domain = 'example.com'";
    // Three events a day, in the order GTI returns them within a window.
    let day = 24 * 60;
    let events = vec![
        flow("d0-b", 20, "acme"),
        flow("d0-a", 10, "acme"),
        flow("d0-c", 30, "acme"),
        flow("d1-a", day + 10, "acme"),
        flow("d1-b", day + 20, "acme"),
        flow("d1-c", day + 30, "acme"),
        flow("d2-a", 2 * day + 10, "acme"),
    ];
    stack.gti.add_searched_events(query, events);
    let token = stack.token_with(|claims| {
        claims.insert("CTR_ENTITIES_LIMIT".into(), json!(4));
    });

    let answer = stack.observe(&token, &json!([{"type": "domain", "value": "example.com"}]));

    // The newest window's three, then the next window's first in GTI's order,
    // then newest first; the third window is never used.
    assert_eq!(sighting_uuids(&answer), ["d0-a", "d0-b", "d0-c", "d1-a"]);
    let mut windows: Vec<String> = stack
        .gti
        .calls_to(Endpoint::EventSearch)
        .iter()
        .map(|call| {
            call.body.as_ref().unwrap()["end_date"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    windows.sort();
    windows.dedup();
    assert_eq!(windows.len(), 3, "all windows are asked at once");
}

#[test]
fn test_accounts_are_dropped_unless_the_token_allows_them() {
    let stack = Stack::start(&[]);
    let value = "203.0.113.9";
    stack.gti.add_searched_events(
        &format!("ip = '{value}'"),
        vec![
            flow("real", 5, "acme"),
            flow("demo", 6, "dmo"),
            flow("training", 7, "f6f6f836-8bcd-4f5d-bd61-68d303c4f634"),
        ],
    );
    let observable = json!([{"type": "ip", "value": value}]);

    for (claim, expected) in [
        (json!(true), vec!["real", "demo", "training"]),
        (json!("true"), vec!["real", "demo", "training"]),
        (json!(false), vec!["real"]),
        (json!("false"), vec!["real"]),
        (Value::Null, vec!["real"]),
    ] {
        let token = stack.token_with(|claims| {
            claims.insert("GTI_ALLOW_TEST_ACCOUNTS".into(), claim.clone());
        });
        assert_eq!(
            sighting_uuids(&stack.observe(&token, &observable)),
            expected,
            "{claim}"
        );
    }
    let token = stack.token_with(|claims| {
        claims.remove("GTI_ALLOW_TEST_ACCOUNTS");
    });
    assert_eq!(
        sighting_uuids(&stack.observe(&token, &observable)),
        ["real"]
    );
}

/// A detection of `rule` on `account` whose indicator is `dst.ip = value`.
fn detection(uuid: &str, account: &str, value: &str) -> Value {
    json!({
        "uuid": uuid, "account_uuid": account, "device_ip": "10.0.0.5",
        "indicators": [{"field": "dst.ip", "values": [value]}],
        "rule": {
            "uuid": "rule-1", "name": "Beacon", "category": "Attack:Command and Control",
            "description": "Beaconing", "severity": "high", "confidence": "moderate",
            "created": "2021-01-01T00:00:00.000Z",
        },
    })
}

#[test]
fn detection_events_win_over_the_same_searched_events_and_test_detections_are_skipped() {
    let stack = Stack::start(&[]);
    let value = "203.0.113.9";
    stack.gti.set_detections(
        value,
        wire_detections(&[
            detection("det-1", "acme", value),
            detection("det-demo", "dmo", value),
        ]),
    );
    stack.gti.set_detection_events(
        "det-1",
        vec![flow("shared", 5, "acme"), flow("unrelated", 6, "acme")],
    );
    // "unrelated" does not hold the value in dst.ip: it is not a detected event.
    let mut unrelated = flow("unrelated", 6, "acme");
    unrelated["dst"]["ip"] = json!("198.51.100.1");
    stack
        .gti
        .set_detection_events("det-1", vec![flow("shared", 5, "acme"), unrelated]);
    stack
        .gti
        .set_detection_events("det-demo", vec![flow("demo-only", 1, "dmo")]);
    stack.gti.add_searched_events(
        &format!("ip = '{value}'"),
        vec![flow("shared", 5, "acme"), flow("searched", 7, "acme")],
    );
    let token = stack.token_with(|claims| {
        claims.insert("GTI_ALLOW_TEST_ACCOUNTS".into(), json!(false));
    });

    let answer = stack.observe(&token, &json!([{"type": "ip", "value": value}]));

    assert_eq!(sighting_uuids(&answer), ["shared", "searched"]);
    let detected = &answer["data"]["sightings"]["docs"][0];
    assert_eq!(detected["external_ids"], json!(["shared", "rule-1"]));
    assert_eq!(detected["severity"], "High");
    assert_eq!(answer["data"]["indicators"]["count"], 1);
    assert_eq!(answer["data"]["relationships"]["count"], 1);
    assert_eq!(
        answer["data"]["relationships"]["docs"][0]["source_ref"],
        detected["id"]
    );
    let calls: Vec<String> = stack
        .gti
        .calls_to(Endpoint::DetectionEvents)
        .iter()
        .filter_map(|call| call.query_value("detection_uuid").map(str::to_owned))
        .collect();
    assert_eq!(
        calls,
        ["det-1"],
        "the test account's detection is not fetched"
    );
}

#[test]
fn an_indicator_appears_once_when_observables_share_a_rule() {
    let stack = Stack::start(&[]);
    for value in ["203.0.113.9", "203.0.113.10"] {
        let uuid = format!("det-{value}");
        stack
            .gti
            .set_detections(value, wire_detections(&[detection(&uuid, "acme", value)]));
        let mut event = flow(&format!("event-{value}"), 5, "acme");
        event["dst"]["ip"] = json!(value);
        stack.gti.set_detection_events(&uuid, vec![event]);
    }
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "ip", "value": "203.0.113.9"}, {"type": "ip", "value": "203.0.113.10"}]),
    );
    assert_eq!(answer["data"]["sightings"]["count"], 2);
    assert_eq!(answer["data"]["indicators"]["count"], 1);
    assert_eq!(answer["data"]["relationships"]["count"], 2);
}

#[test]
fn dhcp_targets_come_from_the_events_own_account() {
    let stack = Stack::start(&[]);
    stack
        .gti
        .add_searched_events("ip = '203.0.113.9'", vec![flow("e1", 5, "acme")]);
    stack.gti.set_dhcp_records(
        "10.0.0.5",
        vec![
            json!({"ip": "10.0.0.5", "account_code": "other", "hostname": "not-this-one", "mac": "00:00:00:00:00:01"}),
            json!({"ip": "10.0.0.5", "account_code": "acme", "hostname": "finance-07", "mac": "00:00:00:00:00:02"}),
        ],
    );

    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "ip", "value": "203.0.113.9"}]),
    );

    assert_eq!(
        answer["data"]["sightings"]["docs"][0]["targets"][0]["observables"],
        json!([
            {"type": "ip", "value": "10.0.0.5"},
            {"type": "hostname", "value": "finance-07"},
            {"type": "mac_address", "value": "00:00:00:00:00:02"},
        ])
    );
    let lookup = stack.gti.calls_to(Endpoint::Dhcp)[0].body.clone().unwrap();
    assert_eq!(lookup["entities"][0]["ip"], "10.0.0.5");
    assert_eq!(
        lookup["entities"][0]["event_time"],
        answer["data"]["sightings"]["docs"][0]["observed_time"]["start_time"]
    );
}

#[test]
fn a_wrong_gti_key_is_one_prefixed_error() {
    let stack = Stack::start(&[]);
    let token = stack.token_with(|claims| {
        claims.insert("key".into(), json!("not-the-key"));
    });
    let answer = stack.observe(
        &token,
        &json!([{"type": "ip", "value": "203.0.113.9"}, {"type": "domain", "value": "example.com"}]),
    );
    assert_eq!(
        answer,
        json!({"errors": [{
            "code": "client : invalid authentication",
            "message": "Authorization failed: Authentication is invalid.",
            "type": "fatal",
        }]})
    );
}

#[test]
fn a_gti_error_body_is_passed_on() {
    let stack = Stack::start(&[("GTI_RETRIES", "1")]);
    stack.gti.fault(
        Endpoint::Detections,
        Fault::gti_error(
            500,
            "server.internal_error",
            "The detections service had a problem.",
        ),
    );
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "ip", "value": "203.0.113.9"}]),
    );
    assert_eq!(
        answer,
        json!({"errors": [{
            "code": "server : internal error",
            "message": "The detections service had a problem.",
            "type": "fatal",
        }]})
    );
    assert_eq!(stack.gti.count(Endpoint::Detections), 2, "one retry");
}

#[test]
fn a_failing_observable_keeps_the_data_of_the_others() {
    let stack = Stack::start(&[("GTI_RETRIES", "0")]);
    let values = [
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
        "203.0.113.4",
        "203.0.113.5",
    ];
    for (index, value) in values.iter().enumerate() {
        stack.gti.add_searched_events(
            &format!("ip = '{value}'"),
            vec![flow(&format!("event-{index}"), 5, "acme")],
        );
    }
    stack.gti.fault(
        Endpoint::Detections,
        Fault::gti_error(503, "server.unavailable", "Try again later.").matching(values[2]),
    );

    let answer = stack.observe(&stack.token(), &ip_observables(&values));

    assert_eq!(
        sighting_uuids(&answer),
        ["event-0", "event-1", "event-3", "event-4"]
    );
    assert_eq!(
        answer["errors"],
        json!([{"code": "server : unavailable", "message": "Try again later.", "type": "fatal"}])
    );
}

#[test]
fn health_proves_the_key_with_one_detections_call() {
    let stack = Stack::start(&[]);
    assert_eq!(
        stack.relay.post("/health", Some(&stack.token()), ""),
        json!({"data": {"status": "ok"}})
    );
    // SPEC §8.3: the detections API, not the event search the reference used.
    let lookups = stack.gti.calls_to(Endpoint::Detections);
    assert_eq!(stack.gti.total_calls(), 1);
    assert_eq!(lookups[0].query_value("indicator_value"), Some("8.8.8.8"));

    let bad = stack.token_with(|claims| {
        claims.insert("key".into(), json!("revoked"));
    });
    assert_eq!(
        stack.relay.post("/health", Some(&bad), ""),
        json!({"errors": [{
            "code": "client : invalid authentication",
            "message": "Authorization failed: Authentication is invalid.",
            "type": "fatal",
        }]})
    );
}

#[test]
fn health_uses_the_detections_api_when_the_search_is_off() {
    let stack = Stack::start(&[("GTI_EVENTS_URL", "")]);
    stack
        .gti
        .set_detections("8.8.8.8", json!({"detections": [], "rules": []}));
    assert_eq!(
        stack.relay.post("/health", Some(&stack.token()), ""),
        json!({"data": {"status": "ok"}})
    );
    assert_eq!(stack.gti.count(Endpoint::Detections), 1);
    assert_eq!(stack.gti.count(Endpoint::EventSearch), 0);
}
