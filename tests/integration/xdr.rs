//! Deliberate, respond and tiles (SPEC §6) over real sockets against the
//! simulated GTI: verdicts, the resolve actions and the calls GTI receives
//! for them, the tiles and their shared listing.

use gti_relay::demo::gti::{Fault, MockGti};
use gti_relay::gti::Endpoint;
use gti_relay::time::{format_timestamp, now_millis};
use serde_json::{json, Value};

use crate::support::stack::{ip_observables, Stack};

const ACME: &str = "acme-account";
const HIGH: &str = "rule-high-high";
const MODERATE: &str = "rule-moderate";
const LOW: &str = "rule-low";

fn ago(hours: u64) -> String {
    format_timestamp(now_millis() - hours * 3_600_000)
}

fn detection(uuid: &str, rule: &str, value: &str, device: &str, hours_ago: u64) -> Value {
    json!({
        "uuid": uuid, "account_uuid": ACME, "rule_uuid": rule, "device_ip": device,
        "indicators": [{"field": "dst.ip", "values": [value]}],
        "first_seen": ago(hours_ago + 1), "created": ago(hours_ago), "status": "active",
    })
}

fn rules() -> Value {
    json!([
        {"uuid": HIGH, "name": "C2 beacon", "severity": "high", "confidence": "high"},
        {"uuid": MODERATE, "name": "Watched domain", "severity": "moderate", "confidence": "low"},
        {"uuid": LOW, "name": "Public DNS", "severity": "low", "confidence": "high"},
    ])
}

/// Three detections on 10.0.0.66 (one high/high), one low on 8.8.8.8, one
/// of a test account on 10.0.0.77.
fn load(gti: &MockGti) {
    gti.set_detections(
        "10.0.0.66",
        json!({"detections": [
            detection("d-1", HIGH, "10.0.0.66", "10.1.0.1", 2),
            detection("d-2", MODERATE, "10.0.0.66", "10.1.0.2", 30),
            detection("d-3", HIGH, "10.0.0.66", "10.1.0.1", 100),
        ], "rules": rules()}),
    );
    gti.set_detections(
        "8.8.8.8",
        json!({"detections": [detection("d-4", LOW, "8.8.8.8", "10.1.0.3", 5)], "rules": rules()}),
    );
    let mut test_account = detection("d-5", HIGH, "10.0.0.77", "10.9.9.9", 3);
    test_account["account_uuid"] = json!("dmo");
    gti.set_detections(
        "10.0.0.77",
        json!({"detections": [test_account], "rules": rules()}),
    );
}

fn stack() -> Stack {
    let stack = Stack::start(&[]);
    load(&stack.gti);
    stack
}

fn trigger_body(action: &str, value: &str) -> String {
    json!({"action-id": action, "observable_type": "ip", "observable_value": value}).to_string()
}

#[test]
fn deliberate_gives_verdicts_by_rule_severity() {
    let stack = stack();
    let token = stack.token();
    let body = stack.relay.post(
        "/deliberate/observables",
        Some(&token),
        &ip_observables(&["10.0.0.66", "8.8.8.8", "10.0.0.5"]).to_string(),
    );
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["verdicts"]["count"], 1, "{body}");
    let verdict = &body["data"]["verdicts"]["docs"][0];
    assert_eq!(verdict["type"], "verdict");
    assert_eq!(
        verdict["observable"],
        json!({"type": "ip", "value": "10.0.0.66"})
    );
    assert_eq!(
        (&verdict["disposition"], &verdict["disposition_name"]),
        (&json!(2), &json!("Malicious"))
    );
    // The earliest first_seen of the high/high detections (d-3: 101 h ago).
    let start = verdict["valid_time"]["start_time"].as_str().unwrap();
    assert!(
        start < ago(100).as_str() && start > ago(102).as_str(),
        "{start}"
    );
    // Deliberate only reads the value's detections.
    assert_eq!(stack.gti.count(Endpoint::Detections), 3);
    assert_eq!(stack.gti.count(Endpoint::DetectionEvents), 0);
    assert_eq!(stack.gti.count(Endpoint::EventSearch), 0);

    // Nothing: {"data": {}}; a test account's detections only when allowed.
    let none = stack.relay.post(
        "/deliberate/observables",
        Some(&token),
        &ip_observables(&["8.8.8.8"]).to_string(),
    );
    assert_eq!(none, json!({"data": {}}));
    let strict = stack.token_with(|claims| {
        claims.insert("GTI_ALLOW_TEST_ACCOUNTS".into(), json!(false));
    });
    let test_account = ip_observables(&["10.0.0.77"]).to_string();
    assert_eq!(
        stack
            .relay
            .post("/deliberate/observables", Some(&strict), &test_account),
        json!({"data": {}})
    );
    let allowed = stack
        .relay
        .post("/deliberate/observables", Some(&token), &test_account);
    assert_eq!(allowed["data"]["verdicts"]["count"], 1, "{allowed}");
}

#[test]
fn deliberate_keeps_verdicts_beside_a_gti_failure() {
    let stack = stack();
    stack.gti.fault(
        Endpoint::Detections,
        Fault::gti_error(400, "client.bad_request", "Nope.").matching("8.8.8.8"),
    );
    let body = stack.relay.post(
        "/deliberate/observables",
        Some(&stack.token()),
        &ip_observables(&["10.0.0.66", "8.8.8.8"]).to_string(),
    );
    assert_eq!(body["data"]["verdicts"]["count"], 1, "{body}");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["errors"][0]["code"], "client : bad request");
}

#[test]
fn respond_offers_three_resolves_for_observables_with_detections() {
    let stack = stack();
    let body = stack.relay.post(
        "/respond/observables",
        Some(&stack.token()),
        &ip_observables(&["10.0.0.66", "10.0.0.5"]).to_string(),
    );
    let actions = body["data"].as_array().expect("a list of actions");
    let ids: Vec<&str> = actions
        .iter()
        .map(|action| action["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "gti-resolve-true-positive-mitigated",
            "gti-resolve-true-positive-no-action",
            "gti-resolve-false-positive"
        ]
    );
    assert_eq!(
        actions[2]["title"],
        "Resolve GTI detections: false positive"
    );
    assert!(
        actions[2]["description"]
            .as_str()
            .unwrap()
            .contains("3 active"),
        "{body}"
    );
    assert_eq!(
        actions[2]["query-params"],
        json!({"observable_type": "ip", "observable_value": "10.0.0.66", "resolution": "false_positive"})
    );
    assert_eq!(
        actions[0]["categories"],
        json!(["Gigamon ThreatINSIGHT", "Resolve detections"])
    );
}

#[test]
fn a_trigger_resolves_every_detection_and_gti_receives_the_puts() {
    let stack = stack();
    let token = stack.token();
    let body = stack.relay.post(
        "/respond/trigger",
        Some(&token),
        &trigger_body("gti-resolve-true-positive-mitigated", "10.0.0.66"),
    );
    assert_eq!(body, json!({"data": {"status": "success"}}));
    let mut puts: Vec<(String, String, Value)> = stack
        .gti
        .calls_to(Endpoint::Resolve)
        .into_iter()
        .map(|call| (call.method, call.path, call.body.unwrap_or_default()))
        .collect();
    puts.sort_by(|a, b| a.1.cmp(&b.1));
    let expected_body = json!({"resolution": "true_positive_mitigated", "resolution_comment": "Resolved from Cisco XDR (gti-relay)"});
    assert_eq!(
        puts,
        ["d-1", "d-2", "d-3"]
            .iter()
            .map(|uuid| (
                "PUT".to_owned(),
                format!("/detections/v1/detections/{uuid}/resolve"),
                expected_body.clone()
            ))
            .collect::<Vec<_>>()
    );
    // Resolved: no verdict, no actions, no detection sightings any more.
    let observables = ip_observables(&["10.0.0.66"]).to_string();
    assert_eq!(
        stack
            .relay
            .post("/deliberate/observables", Some(&token), &observables),
        json!({"data": {}})
    );
    assert_eq!(
        stack
            .relay
            .post("/respond/observables", Some(&token), &observables),
        json!({"data": []})
    );
    // Nothing left to resolve: still a success.
    let again = stack.relay.post(
        "/respond/trigger",
        Some(&token),
        &trigger_body("gti-resolve-false-positive", "10.0.0.66"),
    );
    assert_eq!(again, json!({"data": {"status": "success"}}));
    assert_eq!(stack.gti.count(Endpoint::Resolve), 3);
}

#[test]
fn a_resolve_failing_for_one_detection_of_three_is_a_failure_with_one_error() {
    let stack = stack();
    stack.gti.fault(
        Endpoint::Resolve,
        Fault::gti_error(403, "client.forbidden", "Not your detection.").matching("/d-2/"),
    );
    let body = stack.relay.post(
        "/respond/trigger",
        Some(&stack.token()),
        &trigger_body("gti-resolve-false-positive", "10.0.0.66"),
    );
    assert_eq!(body["data"], json!({"status": "failure"}), "{body}");
    assert_eq!(
        body["errors"],
        json!([{"code": "client : forbidden", "message": "Authorization failed: Not your detection.", "type": "fatal"}])
    );
    assert_eq!(stack.gti.count(Endpoint::Resolve), 3);
    let resolved: Vec<String> = stack
        .gti
        .resolutions()
        .into_iter()
        .map(|(uuid, _)| uuid)
        .collect();
    assert_eq!(resolved, ["d-1", "d-3"]);
}

#[test]
fn a_resolve_is_retried_on_5xx() {
    let stack = Stack::start(&[("GTI_RETRIES", "1")]);
    load(&stack.gti);
    stack
        .gti
        .fault(Endpoint::Resolve, Fault::status(503).times(1));
    let body = stack.relay.post(
        "/respond/trigger",
        Some(&stack.token()),
        &trigger_body("gti-resolve-false-positive", "8.8.8.8"),
    );
    assert_eq!(body, json!({"data": {"status": "success"}}));
    assert_eq!(stack.gti.count(Endpoint::Resolve), 2);
}

#[test]
fn bad_bodies_are_invalid_payloads_before_the_token() {
    let stack = stack();
    let cases = [
        ("/respond/trigger", trigger_body("gti-nope", "10.0.0.66"), "Unknown action 'gti-nope'"),
        (
            "/respond/trigger",
            json!({"action-id": "gti-resolve-false-positive", "observable_type": "url", "observable_value": "x"}).to_string(),
            "Unsupported type 'url'",
        ),
        ("/respond/trigger", json!({"action-id": "gti-resolve-false-positive", "observable_type": "ip", "observable_value": " "}).to_string(), "Field may not be blank."),
        ("/respond/trigger", json!({"observable_type": "ip", "observable_value": "x"}).to_string(), "\"action-id\": [\"Missing data for required field.\"]"),
        ("/tiles/tile-data", json!({"tile_id": "gti-nope"}).to_string(), "Unknown tile 'gti-nope'"),
        ("/tiles/tile-data", json!({"tile_id": "gti-detections-per-day", "period": "last_24_hours"}).to_string(), "Unknown period 'last_24_hours'"),
        ("/tiles/tile", json!({"tile_id": "gti-nope"}).to_string(), "Unknown tile 'gti-nope'"),
        ("/deliberate/observables", "{}".to_owned(), "Invalid JSON payload received."),
        ("/respond/observables", "{}".to_owned(), "Invalid JSON payload received."),
    ];
    for (path, body, wanted) in cases {
        let answer = stack.relay.post(path, None, &body);
        assert_eq!(
            answer["errors"][0]["code"], "invalid payload received",
            "{path}: {answer}"
        );
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(wanted), "{path}: {message}");
    }
    assert_eq!(stack.gti.total_calls(), 0);
}

#[test]
fn every_new_endpoint_needs_a_token_with_a_jwks_host() {
    let stack = stack();
    let no_host = stack.token_with(|claims| {
        claims.remove("jwks_host");
    });
    let observables = ip_observables(&["10.0.0.66"]).to_string();
    let tile = json!({"tile_id": "gti-top-rules"}).to_string();
    let cases = [
        ("/deliberate/observables", observables.clone()),
        ("/respond/observables", observables),
        (
            "/respond/trigger",
            trigger_body("gti-resolve-false-positive", "10.0.0.66"),
        ),
        ("/tiles", String::new()),
        ("/tiles/tile", tile.clone()),
        ("/tiles/tile-data", tile),
    ];
    for (path, body) in cases {
        let answer = stack.relay.post(path, Some(&no_host), &body);
        assert_eq!(
            answer["errors"][0]["code"], "authorization error",
            "{path}: {answer}"
        );
        assert_eq!(
            answer["errors"][0]["message"],
            "Authorization failed: jwks_host is missing in JWT payload. Make sure custom_jwks_host field is present in module_type",
            "{path}"
        );
        let missing = stack.relay.post(path, None, &body);
        assert_eq!(
            missing["errors"][0]["message"],
            "Authorization failed: Authorization header is missing",
            "{path}"
        );
    }
    assert_eq!(stack.gti.total_calls(), 0);
}

#[test]
fn tiles_are_defined_and_each_has_data_for_each_period() {
    let stack = stack();
    let token = stack.token();
    let definitions = stack.relay.post("/tiles", Some(&token), "ignored");
    let tiles = definitions["data"].as_array().expect("tile definitions");
    assert_eq!(tiles.len(), 4);
    let one = stack.relay.post(
        "/tiles/tile",
        Some(&token),
        &json!({"tile_id": "gti-detections-per-day"}).to_string(),
    );
    assert_eq!(one["data"]["type"], "vertical_bar_chart");
    assert_eq!(
        one["data"]["periods"],
        json!(["last_7_days", "last_30_days"])
    );
    for tile in tiles {
        for period in tile["periods"].as_array().unwrap() {
            let asked = json!({"tile_id": tile["id"], "period": period}).to_string();
            let body = stack.relay.post("/tiles/tile-data", Some(&token), &asked);
            assert!(body.get("errors").is_none(), "{asked}: {body}");
            assert_eq!(body["data"]["cache_scope"], "none");
            assert!(
                body["data"]["data"]
                    .as_array()
                    .is_some_and(|data| !data.is_empty()),
                "{asked}: {body}"
            );
        }
    }
    // One listing per period (the 7-day one asked twice per tile family),
    // the tiles of a period sharing it.
    assert_eq!(stack.gti.count(Endpoint::DetectionList), 3);
    let call = &stack.gti.calls_to(Endpoint::DetectionList)[0];
    for (name, value) in [
        ("status", "active"),
        ("include", "rules"),
        ("sort_by", "first_seen"),
        ("sort_order", "desc"),
        ("limit", "1000"),
        ("offset", "0"),
    ] {
        assert_eq!(call.query_value(name), Some(value), "{name}");
    }
    assert!(call.query_value("created_or_shared_start_date").is_some());
    assert!(call.query_value("created_or_shared_end_date").is_some());

    let summary = |token: &str| {
        stack.relay.post(
            "/tiles/tile-data",
            Some(token),
            &json!({"tile_id": "gti-detection-summary", "period": "last_7_days"}).to_string(),
        )["data"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| metric["value"].as_u64().unwrap())
            .collect::<Vec<u64>>()
    };
    // 7 days: d-1, d-2, d-3 (100 h), d-4, d-5 (test account, allowed).
    assert_eq!(summary(&token), [5, 3, 4, 3]);
    let strict = stack.token_with(|claims| {
        claims.insert("GTI_ALLOW_TEST_ACCOUNTS".into(), json!(false));
    });
    assert_eq!(summary(&strict), [4, 2, 3, 3]);
    assert_eq!(
        stack.gti.count(Endpoint::DetectionList),
        3,
        "cached for both tokens"
    );

    // A trigger that resolved something drops the key's cached tiles.
    stack.relay.post(
        "/respond/trigger",
        Some(&token),
        &trigger_body("gti-resolve-false-positive", "10.0.0.66"),
    );
    assert_eq!(summary(&token), [2, 1, 2, 2]);
    assert_eq!(stack.gti.count(Endpoint::DetectionList), 4);
    let day = stack.relay.post(
        "/tiles/tile-data",
        Some(&token),
        &json!({"tile_id": "gti-top-rules", "period": "last_24_hours"}).to_string(),
    );
    let lines = day["data"]["data"].to_string();
    assert!(
        lines.contains("Public DNS") && !lines.contains("Watched domain"),
        "{day}"
    );
}

#[test]
fn the_listing_pages_until_a_short_page() {
    let stack = Stack::start(&[]);
    let detections: Vec<Value> = (0..2500)
        .map(|n| {
            detection(
                &format!("p-{n:04}"),
                LOW,
                "10.0.0.99",
                "10.1.0.9",
                1 + n % 100,
            )
        })
        .collect();
    stack.gti.set_detections(
        "10.0.0.99",
        json!({"detections": detections, "rules": rules()}),
    );
    let body = stack.relay.post(
        "/tiles/tile-data",
        Some(&stack.token()),
        &json!({"tile_id": "gti-detection-summary"}).to_string(),
    );
    assert_eq!(body["data"]["data"][0]["value"], 2500, "{body}");
    assert_eq!(body["data"]["data"][0]["label"], "Active detections");
    let offsets: Vec<String> = stack
        .gti
        .calls_to(Endpoint::DetectionList)
        .iter()
        .filter_map(|call| call.query_value("offset").map(str::to_owned))
        .collect();
    assert_eq!(offsets, ["0", "1000", "2000"]);
}

#[test]
fn a_failing_listing_is_reported_and_not_cached() {
    let stack = stack();
    stack.gti.fault(
        Endpoint::DetectionList,
        Fault::gti_error(401, "client.invalid_authentication", "Bad key.").times(1),
    );
    let asked = json!({"tile_id": "gti-detection-summary"}).to_string();
    let body = stack
        .relay
        .post("/tiles/tile-data", Some(&stack.token()), &asked);
    assert_eq!(
        body["errors"][0]["code"], "client : invalid authentication",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["message"],
        "Authorization failed: Bad key."
    );
    let body = stack
        .relay
        .post("/tiles/tile-data", Some(&stack.token()), &asked);
    assert!(body.get("errors").is_none(), "{body}");
}

#[test]
fn metrics_count_the_new_routes_and_endpoints() {
    let stack = stack();
    let token = stack.token();
    stack.relay.post(
        "/respond/trigger",
        Some(&token),
        &trigger_body("gti-resolve-false-positive", "8.8.8.8"),
    );
    stack.relay.post(
        "/tiles/tile-data",
        Some(&token),
        &json!({"tile_id": "gti-top-rules"}).to_string(),
    );
    let answer = crate::support::relay::raw_request(
        stack
            .relay
            .url()
            .trim_start_matches("http://")
            .parse()
            .unwrap(),
        "GET",
        "/metrics",
        &[],
        b"",
    );
    let text = String::from_utf8_lossy(&answer.body);
    for wanted in [
        "route=\"respond_trigger\"",
        "route=\"tile_data\"",
        "api=\"resolve\"",
        "api=\"detection_list\"",
    ] {
        assert!(text.contains(wanted), "{wanted} not in {text}");
    }
}
