//! The command line, run as the built binary against the mock GTI: stdout
//! JSON, stderr messages and exit codes (0 ok, 1 failure, 2 usage), and
//! where the API key comes from (`--key-file`, `GTI_API_KEY`, `--key`)
//! without it ever being printed.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use gti_relay::config::Config;
use gti_relay::gti::Endpoint;
use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

use crate::support::mock_gti::{MockGti, TEST_KEY};
use crate::support::process::{Bin, Output};
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
            portal_url: &Config::default().default_urls().portal,
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
fn region_picks_the_portal_of_refer_and_the_gti_of_observe_and_health() {
    let body = r#"[{"type": "ip", "value": "1.2.3.4"}]"#;
    let link = |out: &Output| json_of(&out.stdout)["data"][0]["url"].clone();
    let out = Bin::new(&["refer", "--region", "eu", "-"])
        .stdin(body)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        link(&out),
        "https://portal-eu.fortindr.forticloud.com/search?query=1.2.3.4"
    );
    let out = Bin::new(&["refer", "-"])
        .env("GTI_REGION", "eu")
        .stdin(body)
        .run();
    assert_eq!(
        link(&out),
        "https://portal-eu.fortindr.forticloud.com/search?query=1.2.3.4"
    );
    let out = Bin::new(&["refer", "--region=US", "-"])
        .env("GTI_REGION", "eu")
        .stdin(body)
        .run();
    assert_eq!(link(&out), "https://portal.icebrg.io/search?query=1.2.3.4");

    // GTI of the US region on one mock, the EU region's on another (no
    // search there): --region decides which one the command asks.
    let us = gti();
    let eu = gti();
    let urls = eu.base_urls();
    let both = |args: &[&str]| {
        bin(&us, args)
            .env("GTI_EU_DETECTIONS_URL", &urls.detections)
            .env("GTI_EU_ENTITY_URL", &urls.entity)
            .env("GTI_EU_ENTITY_V1_URL", &urls.entity_v1)
            .env("GTI_API_KEY", TEST_KEY)
    };
    eu.set_detections("8.8.8.8", json!({"detections": [], "rules": []}));
    let out = both(&["health", "--region", "eu"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!((us.total_calls(), eu.count(Endpoint::Detections)), (0, 1));
    let out = both(&["observe", "--region", "eu", "-"]).stdin(body).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout), json!({"data": {}}), "no EU search");
    assert_eq!(us.total_calls(), 0);
    let out = both(&["observe", "-"]).stdin(body).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout)["data"]["sightings"]["count"], 1);
    assert!(us.count(Endpoint::EventSearch) > 0);

    let out = Bin::new(&["refer", "--region", "apjc", "-"])
        .stdin(body)
        .run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("us, eu"), "{}", out.stderr);
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
    let relay = TestRelay::start(Config::from_vars([("WORKERS", "1")]).unwrap());
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
    for words in ["--key-file PATH", "GTI_API_KEY", "process list"] {
        assert!(out.stdout.contains(words), "{words}: {}", out.stdout);
    }
    for words in [
        "--region us|eu",
        "GTI_REGION (us)",
        "GTI_PORTAL_URL",
        "GTI_US_<API>_URL",
        "GTI_EU_<API>_URL",
        "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY",
        "GTI_CA_FILE",
    ] {
        assert!(out.stdout.contains(words), "{words}: {}", out.stdout);
    }
    let out = Bin::new(&["--version"]).run();
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.trim(),
        format!("gti-relay {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_readme_names_every_variable_and_module_type_offers_the_region() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    for name in gti_relay::config::variable_names() {
        assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
    }
    let module_type: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/module_type.json")).unwrap())
            .unwrap();
    let field = module_type["configuration_spec"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|field| field["key"] == "custom_GTI_REGION")
        .cloned()
        .expect("custom_GTI_REGION in module_type.json");
    assert_eq!(field["required"], false);
    let tooltip = field["tooltip"].as_str().unwrap_or_default();
    assert!(tooltip.starts_with("us or eu"), "{tooltip}");
}

/// The key the mock GTI accepts in the key tests: distinctive, so that a
/// leak into any output is found by a plain `contains`.
const SECRET_KEY: &str = "SECRET-cli-key-7c41e0d2";

/// A key GTI refuses, as distinctive.
const REVOKED_KEY: &str = "SECRET-revoked-key-93ab5f";

/// [`gti`] accepting only [`SECRET_KEY`].
fn gti_with_secret_key() -> MockGti {
    let gti = gti();
    gti.set_key(SECRET_KEY);
    gti
}

/// A file in the temp directory, removed when dropped. Named after the test
/// and the process, so parallel tests and runs do not collide.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        let path = TempFile::path_for(name);
        std::fs::write(&path, contents).expect("write a temp file");
        TempFile(path)
    }

    fn path_for(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("gti-relay-cli-{}-{name}", std::process::id()))
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Neither key is anywhere in what the binary printed.
fn assert_no_key(out: &Output) {
    for key in [SECRET_KEY, REVOKED_KEY] {
        assert!(
            !out.stdout.contains(key),
            "the key on stdout: {}",
            out.stdout
        );
        assert!(
            !out.stderr.contains(key),
            "the key on stderr: {}",
            out.stderr
        );
    }
}

#[test]
fn the_key_can_come_from_a_file_which_wins_over_the_variable() {
    let gti = gti_with_secret_key();
    // As `echo KEY > file` or a Kubernetes secret leaves it: a newline at the end.
    let file = TempFile::new("key", &format!("{SECRET_KEY}\n"));

    let out = bin(&gti, &["health", "--key-file", file.path()])
        .env("GTI_API_KEY", REVOKED_KEY)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout), json!({"data": {"status": "ok"}}));
    assert_eq!(out.stderr, "", "a key file earns no warning");
    assert_no_key(&out);

    let key_file = format!("--key-file={}", file.path());
    let out = bin(&gti, &["observe", &key_file, "-"])
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout)["data"]["sightings"]["count"], 1);
    assert_eq!(out.stderr, "");
    assert_no_key(&out);
}

#[test]
fn an_unreadable_or_empty_key_file_is_a_configuration_error() {
    let gti = gti_with_secret_key();
    let missing = TempFile::path_for("no-such-key");
    let empty = TempFile::new("empty-key", " \n");
    let two_lines = TempFile::new("two-line-key", &format!("{SECRET_KEY}\n{SECRET_KEY}\n"));
    let directory = std::env::temp_dir();
    let cases = [
        (missing.to_str().expect("UTF-8"), "cannot read the key file"),
        (
            directory.to_str().expect("UTF-8"),
            "cannot read the key file",
        ),
        (empty.path(), "is empty"),
        (two_lines.path(), "holds more than one line"),
    ];
    for (path, problem) in cases {
        for args in [
            &["health", "--key-file", path][..],
            &["observe", "--key-file", path, "-"],
        ] {
            // A usable GTI_API_KEY must not stand in for a broken file.
            let out = bin(&gti, args)
                .env("GTI_API_KEY", SECRET_KEY)
                .stdin(OBSERVABLES)
                .run();
            assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
            assert_eq!(out.stdout, "", "{args:?}");
            assert!(out.stderr.starts_with("gti-relay: "), "{}", out.stderr);
            assert!(out.stderr.contains(problem), "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains(path), "names the file: {}", out.stderr);
            assert_no_key(&out);
        }
    }
    assert_eq!(gti.total_calls(), 0, "nothing reached GTI");
}

#[test]
fn a_key_on_the_command_line_works_but_is_warned_about() {
    let gti = gti_with_secret_key();
    for args in [
        &["health", "--key", SECRET_KEY][..],
        &["observe", "--key", SECRET_KEY, "-"],
    ] {
        let out = bin(&gti, args).stdin(OBSERVABLES).run();
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(json_of(&out.stdout).get("data").is_some(), "{}", out.stdout);
        let warning = out.stderr.trim();
        assert!(
            warning.starts_with("gti-relay: warning: --key")
                && warning.contains("process list")
                && warning.contains("GTI_API_KEY")
                && warning.contains("--key-file"),
            "{warning}"
        );
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert_no_key(&out);
    }
}

#[test]
fn key_and_key_file_together_are_a_usage_error() {
    let gti = gti_with_secret_key();
    let file = TempFile::new("both-key", SECRET_KEY);
    for args in [
        &["health", "--key", SECRET_KEY, "--key-file", file.path()][..],
        &["health", "--key-file", file.path(), "--key", SECRET_KEY],
        &[
            "observe",
            "--key-file",
            file.path(),
            "--key",
            SECRET_KEY,
            "-",
        ],
    ] {
        let out = bin(&gti, args).stdin(OBSERVABLES).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr
                .starts_with("gti-relay: --key and --key-file exclude each other"),
            "{}",
            out.stderr
        );
        assert_no_key(&out);
    }
    assert_eq!(gti.total_calls(), 0);
}

#[test]
fn the_key_appears_in_no_output_when_things_go_wrong() {
    let gti = gti_with_secret_key();
    let revoked = TempFile::new("revoked-key", &format!("{REVOKED_KEY}\n"));
    let good = TempFile::new("good-key", SECRET_KEY);

    // GTI refuses the key.
    let out = bin(&gti, &["observe", "--key-file", revoked.path(), "-"])
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("Authorization failed"),
        "{}",
        out.stderr
    );
    assert_no_key(&out);
    let out = bin(&gti, &["health", "--key", REVOKED_KEY]).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_no_key(&out);

    // A configuration error, an invalid payload, an unknown option.
    let out = bin(&gti, &["health", "--key-file", good.path()])
        .env("GTI_TIMEOUT_SECS", "soon")
        .run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_no_key(&out);
    let out = bin(&gti, &["observe", "-"])
        .env("GTI_API_KEY", SECRET_KEY)
        .stdin(r#"{"not": "an array"}"#)
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_no_key(&out);
    let unknown = format!("--api-key={SECRET_KEY}");
    let out = bin(&gti, &["health", &unknown]).run();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--api-key"), "{}", out.stderr);
    assert_no_key(&out);

    // GTI unreachable.
    let vars = gti.vars();
    drop(gti);
    let out = Bin::new(&["health", "--key-file", good.path()])
        .envs(&vars)
        .env("GTI_RETRIES", "0")
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("service unavailable"), "{}", out.stderr);
    assert_no_key(&out);
}

/// A mock GTI with one high/high detection of `1.2.3.4`, created an hour ago.
fn gti_with_detection() -> MockGti {
    let gti = MockGti::start();
    gti.set_detections(
        "1.2.3.4",
        json!({
            "detections": [{"uuid": "d-1", "account_uuid": "acme", "rule_uuid": "r-1",
                            "device_ip": "10.0.0.1", "first_seen": hours_ago(2), "created": hours_ago(1),
                            "indicators": [{"field": "dst.ip", "values": ["1.2.3.4"]}]}],
            "rules": [{"uuid": "r-1", "name": "C2", "severity": "high", "confidence": "high"}]
        }),
    );
    gti
}

#[test]
fn deliberate_respond_and_tiles_print_the_endpoints_json() {
    let gti = gti_with_detection();
    let out = bin(&gti, &["deliberate", "-"])
        .env("GTI_API_KEY", TEST_KEY)
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body = json_of(&out.stdout);
    assert_eq!(
        body["data"]["verdicts"]["docs"][0]["disposition_name"], "Malicious",
        "{body}"
    );

    let out = bin(&gti, &["respond", "-"])
        .env("GTI_API_KEY", TEST_KEY)
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        json_of(&out.stdout)["data"].as_array().map(Vec::len),
        Some(3)
    );

    let out = Bin::new(&["tiles"]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        json_of(&out.stdout)["data"].as_array().map(Vec::len),
        Some(4)
    );

    let out = bin(&gti, &["tiles", "gti-detection-summary", "last_24_hours"])
        .env("GTI_API_KEY", TEST_KEY)
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out.stdout)["data"]["data"][0]["value"], 1);

    let out = bin(&gti, &["tiles", "gti-nope"])
        .env("GTI_API_KEY", TEST_KEY)
        .run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("Unknown tile 'gti-nope'"),
        "{}",
        out.stderr
    );
    let out = bin(&gti, &["tiles", "gti-detections-per-day", "last_24_hours"])
        .env("GTI_API_KEY", TEST_KEY)
        .run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("Unknown period 'last_24_hours'"),
        "{}",
        out.stderr
    );

    let out = bin(&gti, &["deliberate", "-"])
        .env("GTI_API_KEY", "wrong")
        .stdin(OBSERVABLES)
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("Authorization failed"),
        "{}",
        out.stderr
    );
}
