//! Graceful shutdown of the real binary: SIGTERM while an observe is in
//! flight lets it finish with its data, then the process exits 0.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

use crate::support::jwks::MockJwks;
use crate::support::mock_gti::MockGti;
use crate::support::relay::raw_request;
use crate::support::tokens::{self, relay_key};

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let gti = MockGti::start();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    gti.add_searched_events(
        "ip = '203.0.113.7'",
        vec![json!({"uuid": "e1", "timestamp": format_timestamp(now - 60_000), "event_type": "flow"})],
    );
    // Slow enough that the signal surely arrives mid-request.
    gti.set_latency(Duration::from_millis(700));
    let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), "kid")]));

    let mut child = Command::new(env!("CARGO_BIN_EXE_gti-relay"))
        .envs(gti.vars())
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("WORKERS", "2")
        .env("JWKS_ALLOWED_HOSTS", "127.0.0.1:*")
        .env("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks")
        .env("RELAY_URL", "http://relay.test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the relay binary");

    // The log line "listening on <address>" tells the port it bound.
    let (address_tx, address_rx) = mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let address_tx = address_tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(address) = line.split("listening on ").nth(1) {
                    let _ = address_tx.send(address.trim().parse::<SocketAddr>().unwrap());
                }
            }
        });
    }
    let address = address_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the relay says where it listens");

    let token = tokens::sign(
        relay_key(),
        Some("kid"),
        &tokens::payload(&jwks.host(), "http://relay.test"),
    );
    let request = thread::spawn(move || {
        let authorization = format!("Bearer {token}");
        raw_request(
            address,
            "POST",
            "/observe/observables",
            &[("Authorization", &authorization)],
            br#"[{"type": "ip", "value": "203.0.113.7"}]"#,
        )
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while gti.total_calls() == 0 {
        assert!(Instant::now() < deadline, "the observe never reached GTI");
        thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(status.success());

    let answer = request.join().unwrap();
    assert_eq!(answer.status, 200);
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["data"]["sightings"]["count"], 1, "{body}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the relay did not stop");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
}
