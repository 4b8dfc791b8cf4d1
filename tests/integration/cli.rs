//! The command line, run as the built binary against the mock GTI: stdout
//! JSON, stderr messages and exit codes (0 ok, 1 failure, 2 usage).

use std::time::{SystemTime, UNIX_EPOCH};

use gti_relay::config::Config;
use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

use crate::support::mock_gti::{MockGti, TEST_KEY};
use crate::support::process::Bin;
use crate::support::relay::TestRelay;

const OBSERVABLES: &str = r#"[
    {"type": "ip", "value": "1.2.3.4"},
    {"type": "email", "value": "skipped@example.com"}
]"#;

fn hours_ago(hours: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64;
    format_timestamp(now - hours * 3_600_000)
}

/// A mock GTI with two searchable events for `1.2.3.4`, one of them from a
/// test account.
fn gti() -> MockGti {
    let gti = MockGti::start();
    gti.add_searched_events(
        "ip = '1.2.3.4'",
        vec![
            json!({"event_type": "flow", "uuid": "e-1", "customer_id": "cstmr",
                   "timestamp": hours_ago(1), "src": {"ip": "1.2.3.4"}, "dst": {"ip": "5.6.7.8"}}),
            json!({"event_type": "flow", "uuid": "e-2", "customer_id": "dmo",
                   "timestamp": hours_ago(2), "src": {"ip": "1.2.3.4"}, "dst": {"ip": "5.6.7.8"}}),
        ],
    );
    gti
}

/// The binary with GTI pointing at `gti`, no retries.
fn bin(gti: &MockGti, args: &[&str]) -> Bin {
    Bin::new(args)
        .envs(&gti.vars())
        .env("GTI_RETRIES", "0")
        .env("GTI_TIMEOUT_SECS", "10")
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"))
}

#[test]
fn observe_prints_the_bundle_of_supported_observables() {
    let gti = gti();
    let out = bin(&gti, &["observe", "--key", TEST_KEY, "-"])
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body = json_of(&out.stdout);
    // The test account's event is dropped: --allow-test-accounts is not given.
    assert_eq!(body["data"]["sightings"]["count"], 1, "{body}");
    let sighting = &body["data"]["sightings"]["docs"][0];
    assert_eq!(sighting["external_ids"], json!(["e-1"]));
    assert_eq!(
        sighting["observables"],
        json!([{"type": "ip", "value": "1.2.3.4"}])
    );
}

#[test]
fn observe_options_reach_the_workflow() {
    let gti = gti();
    let out = bin(&gti, &["observe", "--allow-test-accounts", "-"])
        .env("GTI_API_KEY", TEST_KEY)
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout)["data"]["sightings"]["count"], 2);

    let out = bin(
        &gti,
        &["observe", "--allow-test-accounts", "--limit", "1", "-"],
    )
    .env("GTI_API_KEY", TEST_KEY)
    .stdin(OBSERVABLES)
    .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout)["data"]["sightings"]["count"], 1);
}

#[test]
fn observe_reads_a_file_and_matches_the_http_endpoint() {
    let gti = gti();
    let path = std::env::temp_dir().join(format!("gti-relay-cli-{}.json", std::process::id()));
    std::fs::write(&path, OBSERVABLES).expect("write the observables file");
    let out = bin(
        &gti,
        &[
            "observe",
            "--key",
            TEST_KEY,
            path.to_str().expect("UTF-8 path"),
        ],
    )
    .run();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cli = json_of(&out.stdout);
    assert_eq!(cli["data"]["sightings"]["count"], 1);
    // Ids are random per answer; everything else must be what /observe maps.
    let mut sighting = cli["data"]["sightings"]["docs"][0].clone();
    sighting["id"] = json!("id");
    let expected = gti_relay::ctim::reference::sighting(
        &gti_relay::ctim::Context {
            portal_url: &Config::default().portal_url,
            new_id: &|_| "id".to_owned(),
        },
        &json!({"event_type": "flow", "uuid": "e-1", "customer_id": "cstmr",
                "timestamp": sighting["observed_time"]["start_time"],
                "src": {"ip": "1.2.3.4"}, "dst": {"ip": "5.6.7.8"},
                "observable": {"type": "ip", "value": "1.2.3.4"}}),
    );
    assert_eq!(sighting, expected);
}

#[test]
fn observe_with_a_bad_key_fails_with_gtis_message() {
    let gti = gti();
    let out = bin(&gti, &["observe", "--key", "wrong-key", "-"])
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(
        out.code, 1,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "client : invalid authentication: Authorization failed: Authentication is invalid."
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn observe_refuses_an_invalid_payload() {
    let gti = gti();
    let out = bin(&gti, &["observe", "--key", TEST_KEY, "-"])
        .stdin(r#"{"type": "ip"}"#)
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("Invalid JSON payload received."),
        "{}",
        out.stderr
    );
    assert_eq!(gti.total_calls(), 0);

    let out = bin(
        &gti,
        &[
            "observe",
            "--key",
            TEST_KEY,
            "/nonexistent/observables.json",
        ],
    )
    .run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("cannot read"), "{}", out.stderr);
}

#[test]
fn refer_prints_the_pivot_links() {
    let out = Bin::new(&["refer", "-"])
        .stdin(r#"[{"type": "domain", "value": "a b.example"}, {"type": "email", "value": "x"}]"#)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let links = json_of(&out.stdout);
    assert_eq!(links["data"].as_array().map(Vec::len), Some(1), "{links}");
    assert_eq!(
        links["data"][0]["url"],
        "https://portal.icebrg.io/search?query=a+b.example"
    );
}

#[test]
fn health_checks_the_key() {
    let gti = gti();
    let out = bin(&gti, &["health", "--key", TEST_KEY]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout), json!({"data": {"status": "ok"}}));

    let out = bin(&gti, &["health", "--key", "wrong-key"]).run();
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("Authorization failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn health_reports_an_unreachable_gti() {
    let gti = gti();
    let vars = gti.vars();
    drop(gti);
    let out = Bin::new(&["health", "--key", TEST_KEY])
        .envs(&vars)
        .env("GTI_RETRIES", "0")
        .run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("service unavailable"), "{}", out.stderr);
}

#[test]
fn healthcheck_probes_the_local_watchdog() {
    let relay = TestRelay::start(Config {
        workers: 1,
        ..Config::default()
    });
    let port = relay.address.port().to_string();
    let out = Bin::new(&["healthcheck"]).env("PORT", &port).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = Bin::new(&["healthcheck"])
        .env("HOST", "0.0.0.0")
        .env("PORT", &port)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    drop(relay);
    let out = Bin::new(&["healthcheck"]).env("PORT", &port).run();
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("unhealthy"), "{}", out.stderr);
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [
        &["observe", "-"][..],
        &["observe"],
        &["observe", "--limit", "0", "--key", "k", "-"],
        &["observe", "--key"],
        &["refer"],
        &["health"],
        &["frobnicate"],
        &["demo", "extra"],
    ] {
        let out = Bin::new(args).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("gti-relay: "),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = Bin::new(&["health", "--key", "k"])
        .env("GTI_TIMEOUT_SECS", "soon")
        .run();
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("GTI_TIMEOUT_SECS"), "{}", out.stderr);
}

#[test]
fn help_and_version_exit_with_0() {
    let out = Bin::new(&["--help"]).run();
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("gti-relay observe"), "{}", out.stdout);
    let out = Bin::new(&["--version"]).run();
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.trim(),
        format!("gti-relay {}", env!("CARGO_PKG_VERSION"))
    );
}
