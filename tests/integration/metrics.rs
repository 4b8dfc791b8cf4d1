//! `GET /metrics` over a real socket: a relay against the mock GTI and mock
//! JWKS serves a few requests, and the scrape shows each counter moved by
//! exactly what those requests did, with nothing secret in it.

use gti_relay::config::Config;
use gti_relay::gti::Endpoint;
use serde_json::json;

use crate::support::jwks::MockJwks;
use crate::support::mock_gti::{Fault, MockGti, TEST_KEY};
use crate::support::relay::{raw_request, TestRelay};
use crate::support::tokens::{self, relay_key};

const KID: &str = "metrics-kid";

/// The value of the sample named exactly `series` (name and labels as
/// rendered), or `None` when the scrape has no such line.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        Some(value.parse().expect("a sample value is a number"))
    })
}

fn count(scrape: &str, series: &str) -> f64 {
    sample(scrape, series).unwrap_or_else(|| panic!("no {series} in:\n{scrape}"))
}

fn scrape(relay: &TestRelay) -> String {
    let answer = raw_request(relay.address, "GET", "/metrics", &[], b"");
    assert_eq!(answer.status, 200);
    let content_type = answer
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str());
    assert_eq!(
        content_type,
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    String::from_utf8(answer.body).expect("the scrape is UTF-8")
}

/// Every line is a comment or `name{labels} value`, and every family is
/// announced by `# HELP` and `# TYPE` before its samples.
fn assert_well_formed(scrape: &str) {
    let mut announced: Vec<&str> = Vec::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            announced.push(rest.split(' ').next().unwrap_or_default());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        value.parse::<f64>().expect("a numeric value");
        let name = series.split('{').next().unwrap_or_default();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|family| announced.contains(family))
            .unwrap_or(name);
        assert!(announced.contains(&family), "{name} not announced");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name}"
        );
    }
}

fn small() -> Config {
    Config::from_vars([("WORKERS", "2")]).unwrap()
}

#[test]
fn counters_follow_what_the_relay_did() {
    let gti = MockGti::start();
    // Every detections call for 6.6.6.6 fails with a 503; with one retry that
    // is two tries, then the observable's error in the answer.
    gti.fault(Endpoint::Detections, Fault::status(503).matching("6.6.6.6"));
    let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), KID)]));
    let relay = TestRelay::start(gti.config_with(&[
        ("GTI_RETRIES", "1"),
        ("GTI_DAY_RANGE", "1"),
        ("JWKS_ALLOWED_HOSTS", "127.0.0.1:*"),
        ("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks"),
        ("WORKERS", "2"),
    ]));
    let token = tokens::sign(
        relay_key(),
        Some(KID),
        &tokens::payload(&jwks.host(), &relay.url()),
    );

    // Nothing happened yet: the fixed series are there, at zero.
    let before = scrape(&relay);
    assert_well_formed(&before);
    assert_eq!(count(&before, "gti_relay_upstream_in_flight"), 0.0);
    assert_eq!(
        count(&before, r#"gti_relay_jwks_cache_total{result="miss"}"#),
        0.0
    );
    assert_eq!(
        count(
            &before,
            &format!(
                r#"gti_relay_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );

    relay.post("/version", None, "");
    assert_eq!(relay.call("GET", "/version", &[], b"").0, 405);
    assert_eq!(relay.call("GET", "/no/such/path", &[], b"").0, 404);
    assert_eq!(
        relay.post(
            "/observe/observables",
            Some(&token),
            r#"[{"type": "ip", "value": "1.2.3.4"}]"#
        ),
        json!({"data": {}})
    );
    let failed = relay.post(
        "/observe/observables",
        Some(&token),
        r#"[{"type": "ip", "value": "6.6.6.6"}]"#,
    );
    assert_eq!(failed["errors"][0]["code"], "service unavailable");

    let after = scrape(&relay);
    assert_well_formed(&after);
    eprintln!("SCRAPE\n{after}");
    let requests = |route: &str, status: &str| {
        sample(
            &after,
            &format!(r#"gti_relay_requests_total{{route="{route}",status="{status}"}}"#),
        )
    };
    assert_eq!(requests("version", "200"), Some(1.0));
    assert_eq!(requests("version", "405"), Some(1.0));
    assert_eq!(requests("unknown", "404"), Some(1.0));
    assert_eq!(requests("observe", "200"), Some(2.0));
    // A scrape is counted before its answer leaves, but after its body was
    // rendered: the first one is in the second, the second is not.
    assert_eq!(requests("metrics", "200"), Some(1.0));
    assert_eq!(
        count(
            &after,
            r#"gti_relay_request_duration_seconds_count{route="observe"}"#
        ),
        2.0
    );
    assert_eq!(
        count(
            &after,
            r#"gti_relay_request_duration_seconds_bucket{route="observe",le="+Inf"}"#
        ),
        2.0
    );

    let upstream = |endpoint: &str, outcome: &str| {
        sample(
            &after,
            &format!(
                r#"gti_relay_upstream_calls_total{{region="us",api="{endpoint}",outcome="{outcome}"}}"#
            ),
        )
    };
    assert_eq!(upstream("detections", "ok"), Some(1.0));
    assert_eq!(upstream("detections", "http_5xx"), Some(2.0));
    assert_eq!(upstream("event_search", "ok"), Some(2.0));
    // No detections and no events: nothing to ask the other endpoints.
    assert_eq!(upstream("detection_events", "ok"), None);
    assert_eq!(upstream("dhcp", "ok"), None);
    // Every try the mock saw is counted once, and only those.
    assert_eq!(gti.count(Endpoint::Detections), 3);
    assert_eq!(gti.count(Endpoint::EventSearch), 2);
    assert_eq!(
        count(
            &after,
            r#"gti_relay_upstream_duration_seconds_count{region="us",api="detections"}"#
        ),
        3.0
    );
    assert_eq!(count(&after, "gti_relay_upstream_in_flight"), 0.0);

    // The first token's host was fetched, the second request used the cache.
    assert_eq!(
        count(&after, r#"gti_relay_jwks_cache_total{result="miss"}"#),
        1.0
    );
    assert_eq!(
        count(&after, r#"gti_relay_jwks_cache_total{result="hit"}"#),
        1.0
    );
    assert_eq!(
        count(&after, r#"gti_relay_jwks_fetches_total{outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        count(&after, r#"gti_relay_jwks_fetches_total{outcome="error"}"#),
        0.0
    );
    assert_eq!(jwks.requests(), 1);

    // Nothing a request carried shows up in a label.
    for secret in [
        TEST_KEY,
        token.as_str(),
        "1.2.3.4",
        "6.6.6.6",
        "127.0.0.1",
        "/no/such/path",
    ] {
        assert!(!after.contains(secret), "{secret:?} leaked into the scrape");
    }
}

#[test]
fn relays_in_one_process_count_separately() {
    let first = TestRelay::start(small());
    let second = TestRelay::start(small());
    first.post("/version", None, "");
    first.post("/version", None, "");
    second.post("/version", None, "");
    let series = r#"gti_relay_requests_total{route="version",status="200"}"#;
    assert_eq!(sample(&scrape(&first), series), Some(2.0));
    assert_eq!(sample(&scrape(&second), series), Some(1.0));
}

#[test]
fn the_metrics_path_takes_a_trailing_slash_and_only_get() {
    let relay = TestRelay::start(small());
    let answer = raw_request(relay.address, "GET", "/metrics/", &[], b"");
    assert_eq!(answer.status, 200);
    assert!(String::from_utf8_lossy(&answer.body).contains("# TYPE gti_relay_requests_total"));
    let (status, body) = relay.call("POST", "/metrics", &[], b"");
    assert_eq!(status, 405);
    assert!(body["errors"].is_array(), "{body}");
}
