//! The endpoints that need no GTI data: version, watchdog, refer, routing,
//! and the validation of request bodies.

use gti_relay::config::Config;
use serde_json::{json, Value};

use crate::support::relay::{raw_request, TestRelay};

fn relay() -> TestRelay {
    TestRelay::start(Config::from_vars([("WORKERS", "2"), ("MAX_BODY_BYTES", "4096")]).unwrap())
}

fn invalid_payload(detail: &str) -> Value {
    json!({"errors": [{
        "code": "invalid payload received",
        "message": format!("Invalid JSON payload received. {detail}."),
        "type": "fatal",
    }]})
}

#[test]
fn version_answers_the_crate_version() {
    let relay = relay();
    assert_eq!(
        relay.post("/version", None, ""),
        json!({"version": env!("CARGO_PKG_VERSION")})
    );
    assert_eq!(
        relay.post("/version/", None, ""),
        json!({"version": env!("CARGO_PKG_VERSION")})
    );
}

#[test]
fn watchdog_echoes_its_header_or_fails() {
    let relay = relay();
    assert_eq!(
        relay.call("GET", "/watchdog", &[("Health-Check", "ping-42")], b""),
        (200, json!({"data": "ping-42"}))
    );
    assert_eq!(
        relay.call("GET", "/watchdog", &[], b""),
        (
            200,
            json!({"errors": [{"code": "health check failed", "message": "Invalid Health Check.", "type": "fatal"}]})
        )
    );
}

#[test]
fn refer_links_every_supported_observable_and_skips_the_rest() {
    let relay = relay();
    let body = r#"[
        {"type": "ip", "value": "8.8.8.8"},
        {"type": "domain", "value": "cisco.com"},
        {"type": "email", "value": "someone@example.com"},
        {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"},
        {"type": "sha1", "value": "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"type": "sha256", "value": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}
    ]"#;
    let link = |kind: &str, label: &str, value: &str| {
        json!({
            "id": format!("ref-gti-search-{kind}-{value}"),
            "title": format!("Search for this {label}"),
            "description": format!("Lookup this {label} on Gigamon ThreatINSIGHT"),
            "url": format!("https://portal.icebrg.io/search?query={value}"),
            "categories": ["Search", "Gigamon ThreatINSIGHT"],
        })
    };
    assert_eq!(
        relay.post("/refer/observables", None, body),
        json!({"data": [
            link("ip", "IP", "8.8.8.8"),
            link("domain", "domain", "cisco.com"),
            link("md5", "MD5", "d41d8cd98f00b204e9800998ecf8427e"),
            link("sha1", "SHA1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            link("sha256", "SHA256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ]})
    );
}

#[test]
fn refer_percent_encodes_the_value_in_the_link() {
    let relay = relay();
    let answer = relay.post(
        "/refer/observables",
        None,
        r#"[{"type": "domain", "value": "a b&c#d"}]"#,
    );
    assert_eq!(answer["data"][0]["id"], "ref-gti-search-domain-a b&c#d");
    assert_eq!(
        answer["data"][0]["url"],
        "https://portal.icebrg.io/search?query=a+b%26c%23d"
    );
}

#[test]
fn malformed_bodies_are_refused_with_the_reference_detail() {
    let relay = relay();
    let cases = [
        ("not json", r#"{"_schema": ["Invalid input type."]}"#),
        (
            r#"{"type": "ip", "value": "1.1.1.1"}"#,
            r#"{"_schema": ["Invalid input type."]}"#,
        ),
        (
            r#"[{"value": "1.1.1.1"}]"#,
            r#"{"0": {"type": ["Missing data for required field."]}}"#,
        ),
        (
            r#"[{"type": "ip", "value": ""}]"#,
            r#"{"0": {"value": ["Field may not be blank."]}}"#,
        ),
        (
            r#"[{"type": "ip", "value": 1}]"#,
            r#"{"0": {"value": ["Not a valid string."]}}"#,
        ),
        (
            r#"[{"type": "ip", "value": "1.1.1.1", "x": 1}]"#,
            r#"{"0": {"x": ["Unknown field."]}}"#,
        ),
    ];
    for path in ["/refer/observables", "/observe/observables"] {
        for (body, detail) in cases {
            assert_eq!(
                relay.post(path, None, body),
                invalid_payload(detail),
                "{path} {body}"
            );
        }
    }
}

#[test]
fn oversized_bodies_are_refused_unread() {
    let relay = relay();
    let refused = invalid_payload(r#"{"_schema": ["Request body is larger than 4096 bytes."]}"#);

    // A Content-Length over the limit is refused before a byte is read,
    // even one no client could ever send.
    for length in ["4097", "99999999999999"] {
        let answer = raw_request(
            relay.address,
            "POST",
            "/observe/observables",
            &[("Content-Length", length)],
            b"",
        );
        assert_eq!(answer.status, 200);
        assert_eq!(
            serde_json::from_slice::<Value>(&answer.body).unwrap(),
            refused
        );
    }

    let big = format!(
        "[{}]",
        vec![r#"{"type":"ip","value":"1.1.1.1"}"#; 200].join(",")
    );
    assert_eq!(relay.post("/refer/observables", None, &big), refused);
    // The relay goes on serving.
    assert_eq!(
        relay.post("/version", None, "")["version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn unknown_paths_and_wrong_methods_answer_json() {
    let relay = relay();
    let (status, body) = relay.call("GET", "/nope", &[], b"");
    assert_eq!(status, 404);
    assert_eq!(body["errors"][0]["code"], "not found");
    let (status, body) = relay.call("GET", "/observe/observables", &[], b"");
    assert_eq!(status, 405);
    assert_eq!(body["errors"][0]["code"], "method not allowed");
    let (status, _) = relay.call("POST", "/watchdog", &[], b"");
    assert_eq!(status, 405);
}

#[test]
fn observe_and_health_refuse_requests_without_a_token() {
    let relay = relay();
    let missing = json!({"errors": [{
        "code": "authorization error",
        "message": "Authorization failed: Authorization header is missing",
        "type": "fatal",
    }]});
    assert_eq!(relay.post("/health", None, ""), missing);
    assert_eq!(relay.post("/observe/observables", None, "[]"), missing);
}
