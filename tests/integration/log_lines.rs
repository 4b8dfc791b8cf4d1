//! The log the real binary writes on stdout, in both `LOG_FORMAT`s: JSON
//! lines are one object each, every line of a request carries its request
//! id (the GTI call lines too, made on the call pool's threads), the
//! caller's `X-Request-Id` is echoed and used when well formed and replaced
//! when not, and no token, GTI key or proxy password is ever written.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use gti_relay::logging::is_valid_request_id;
use serde_json::{json, Value};

use crate::support::jwks::MockJwks;
use crate::support::mock_gti::MockGti;
use crate::support::process::{Bin, WAIT};
use crate::support::relay::{raw_request, RawAnswer};
use crate::support::tokens::{self, relay_key};

const KEY: &str = "SECRET-gti-key-77c1e0";
const PROXY_PASSWORD: &str = "SECRET-proxy-pw-3b9d";
const GOOD_ID: &str = "trace-42.abc_DEF";
const BAD_ID: &str = "two words\"}";

/// What one run of the relay answered and logged.
struct Run {
    /// The answer to an observe with [`GOOD_ID`], then one with [`BAD_ID`].
    answers: Vec<RawAnswer>,
    lines: Vec<String>,
    token: String,
}

/// Starts the relay in `format` at debug level, sends the two observes,
/// stops it and returns everything it wrote on stdout.
fn run_relay(format: &str) -> Run {
    let gti = MockGti::start();
    gti.set_key(KEY);
    gti.add_searched_events(
        "ip = '203.0.113.7'",
        vec![json!({"uuid": "e1", "timestamp": "2999-01-01T00:00:00.000Z", "event_type": "flow"})],
    );
    let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), "kid")]));
    let mut child = Bin::new(&[])
        .envs(&gti.vars())
        .env("LOG_FORMAT", format)
        .env("LOG_LEVEL", "debug")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("WORKERS", "2")
        .env("GTI_DAY_RANGE", "2")
        .env("JWKS_ALLOWED_HOSTS", "127.0.0.1:*")
        .env("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks")
        .env("RELAY_URL", "http://relay.test")
        // A proxy with credentials, configured (and logged at start-up)
        // but not used: every host here is local.
        .env(
            "HTTP_PROXY",
            &format!("http://relay-user:{PROXY_PASSWORD}@127.0.0.1:9"),
        )
        .env("NO_PROXY", "127.0.0.1")
        .spawn();
    let (address, stdout) = read_stdout(child.child().stdout.take().unwrap());
    let _stderr = drain(child.child().stderr.take().unwrap());

    let mut payload = tokens::payload(&jwks.host(), "http://relay.test");
    payload.insert("key".into(), json!(KEY));
    let token = tokens::sign(relay_key(), Some("kid"), &payload);
    let observe = |id: &str| {
        raw_request(
            address,
            "POST",
            "/observe/observables",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("X-Request-Id", id),
            ],
            br#"[{"type": "ip", "value": "203.0.113.7"}]"#,
        )
    };
    let answers = vec![observe(GOOD_ID), observe(BAD_ID)];
    child.terminate();
    assert_eq!(child.wait_bounded(WAIT), 0, "the relay stopped cleanly");
    Run {
        answers,
        lines: stdout.join().unwrap(),
        token,
    }
}

/// Reads stdout to its end from a thread; the address comes as soon as the
/// relay logs where it listens.
fn read_stdout(pipe: impl Read + Send + 'static) -> (SocketAddr, JoinHandle<Vec<String>>) {
    let (address_tx, address_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let address = rest.split(['"', ' ']).next().unwrap_or_default();
                let _ = address_tx.send(address.parse::<SocketAddr>().unwrap());
            }
            lines.push(line);
        }
        lines
    });
    let address = address_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the relay says where it listens");
    (address, reader)
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<()> {
    thread::spawn(move || {
        let _ = std::io::copy(&mut pipe, &mut std::io::sink());
    })
}

fn header<'a>(answer: &'a RawAnswer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn assert_no_secret(run: &Run) {
    let signature = run.token.rsplit('.').next().unwrap();
    let secrets = [KEY, PROXY_PASSWORD, run.token.as_str(), signature];
    assert!(
        run.lines.iter().any(|line| line.contains("egress")),
        "the start-up lines, proxy included, were read"
    );
    for line in &run.lines {
        for secret in secrets {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

#[test]
fn json_lines_carry_the_request_id_on_every_line_of_a_request() {
    let run = run_relay("json");
    let lines: Vec<Value> = run
        .lines
        .iter()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
            for field in ["timestamp", "level", "target", "message"] {
                assert!(value[field].is_string(), "{field} missing: {line}");
            }
            assert!(
                value["timestamp"].as_str().unwrap().ends_with('Z'),
                "{line}"
            );
            value
        })
        .collect();

    // The caller's well-formed id is echoed and is the id of its lines.
    let (good, bad) = (&run.answers[0], &run.answers[1]);
    assert_eq!(good.status, 200);
    assert_eq!(header(good, "X-Request-Id"), Some(GOOD_ID));
    let of = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|line| line["request_id"] == id)
            .collect()
    };
    let gti_lines = |id: &str| -> usize {
        of(id)
            .iter()
            .filter(|line| line["target"] == "gti_relay::gti::transport")
            .count()
    };
    let last = *of(GOOD_ID).last().expect("the request's lines");
    assert_eq!(
        last["message"].as_str().unwrap().split(' ').nth(2),
        Some("200")
    );
    assert_eq!(
        (&last["status"], &last["route"], &last["region"]),
        (&json!(200), &json!("observe"), &json!("us"))
    );
    assert!(last["duration_ms"].is_number(), "{last}");
    // Detections, the day windows, the enrichment: made on the call
    // pool's threads, one line per try, and counted on the last line.
    let calls = gti_lines(GOOD_ID);
    assert!(calls >= 3, "{calls} GTI call lines");
    assert_eq!(last["gti_calls"], calls);

    // A malformed id is replaced by one of ours, used the same way.
    let replaced = header(bad, "X-Request-Id").expect("an id for every answer");
    assert!(
        is_valid_request_id(replaced) && replaced != BAD_ID,
        "{replaced}"
    );
    assert_eq!(gti_lines(replaced), calls);
    assert!(!run.lines.iter().any(|line| line.contains("two words")));

    // Every GTI call line belongs to one of the two requests.
    for line in &lines {
        if line["target"] == "gti_relay::gti::transport" {
            let id = &line["request_id"];
            assert!(id == GOOD_ID || id == replaced, "{line}");
        }
    }
    assert_no_secret(&run);
}

#[test]
fn text_lines_keep_their_shape_and_name_the_request_id() {
    let run = run_relay("text");
    let good = &run.answers[0];
    assert_eq!(header(good, "X-Request-Id"), Some(GOOD_ID));
    let tagged = format!(" request_id={GOOD_ID} ");
    let of_request: Vec<&String> = run
        .lines
        .iter()
        .filter(|line| line.contains(&tagged))
        .collect();
    let calls = of_request
        .iter()
        .filter(|line| line.contains("[gti_relay::gti::transport] GTI "))
        .count();
    assert!(calls >= 3, "{of_request:#?}");
    let last = of_request.last().expect("the request's lines");
    assert!(
        last.contains(" INFO  [gti_relay::server::worker] POST /observe/observables 200 "),
        "{last}"
    );
    assert!(last.contains(" status=200 duration_ms="), "{last}");
    assert!(last.ends_with(&format!(" gti_calls={calls}")), "{last}");
    assert_no_secret(&run);
}
