//! `gti-relay demo` as a child process: it prints its address and token,
//! answers /observe with sightings of every event type the mapper handles,
//! serves its dashboard preview beside the relay (whose `/` stays the
//! production 404), and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::process::{Bin, WAIT};

/// Lines the demo printed until it said it serves, or a failure after
/// [`WAIT`].
fn banner(lines: &mpsc::Receiver<String>) -> Vec<String> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = WAIT.saturating_sub(started.elapsed());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let done = line.starts_with("Serving until Ctrl-C");
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(error) => panic!("the demo stopped talking ({error}) after: {seen:#?}"),
        }
    }
}

fn field<'a>(lines: &'a [String], name: &str) -> &'a str {
    lines
        .iter()
        .find_map(|line| line.strip_prefix(name))
        .unwrap_or_else(|| panic!("no `{name}` line in {lines:#?}"))
        .trim()
}

#[test]
fn demo_serves_every_event_type_and_stops_on_sigterm() {
    let mut demo = Bin::new(&["demo"])
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        // A proxy in the shell must not take the demo's loopback calls.
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .spawn();
    let stdout = demo.child().stdout.take().expect("stdout is piped");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let printed = banner(&lines);

    let relay = field(&printed, "relay:");
    let token = field(&printed, "token:");
    // The summary names every observable of observables.json.
    for kind in ["ip", "domain", "md5", "sha1", "sha256"] {
        assert!(
            printed
                .iter()
                .any(|line| line.trim_start().starts_with(&format!("{kind} "))
                    && line.contains("sightings")),
            "no summary line for {kind}: {printed:#?}"
        );
    }
    assert!(
        printed
            .iter()
            .any(|line| line.trim_start().starts_with("curl ")),
        "{printed:#?}"
    );

    assert!(relay.starts_with("http://127.0.0.1:"), "{relay}");
    // ureq rather than the raw test client: the answer is large enough for
    // tiny_http to send it chunked.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(WAIT))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut answer = agent
        .post(&format!("{relay}/observe/observables"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(gti_relay::demo::OBSERVABLES)
        .expect("the demo relay answers");
    assert_eq!(answer.status(), 200);
    let bytes = answer.body_mut().read_to_vec().expect("read the answer");
    let body: Value = serde_json::from_slice(&bytes).expect("JSON answer");
    assert!(body.get("errors").is_none(), "{body}");
    let sightings = body["data"]["sightings"]["docs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for event_type in ["FLOW", "DNS", "HTTP", "SSH", "SURICATA", "X509"] {
        let wanted = format!("- Event: `{event_type}`");
        assert!(
            sightings.iter().any(|sighting| sighting["description"]
                .as_str()
                .is_some_and(|text| text.starts_with(&wanted))),
            "no {event_type} sighting in {body}"
        );
    }
    let count = |kind: &str| body["data"][kind]["count"].as_u64().unwrap_or(0);
    assert!(count("indicators") >= 3, "{body}");
    assert!(count("relationships") >= 3, "{body}");
    // The demo's rules carry MITRE ATT&CK techniques (SPEC §8.5): the
    // download rule's sub-technique is a tag and a reference to its page.
    let download = body["data"]["indicators"]["docs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|indicator| indicator["title"] == "[DEMO] Suspicious Executable Downloaded")
        .unwrap_or_else(|| panic!("no download indicator in {body}"));
    assert_eq!(download["tags"][2], "T1204.002", "{download}");
    assert_eq!(
        download["external_references"][2]["url"], "https://attack.mitre.org/techniques/T1204/002/",
        "{download}"
    );
    // DHCP enrichment: an internal device carries its demo hostname.
    assert!(body.to_string().contains("DEMO-DC01"), "{body}");
    // Test-account events are in the sample data but not allowed by the token.
    for hidden in ["000000000198", "000000000199"] {
        assert!(!body.to_string().contains(hidden), "{body}");
    }

    // The EU tenant's token: the EU region's simulated GTI (no event search
    // there), links into the EU portal.
    let eu_token = field(&printed, "eu-token:");
    let post = |path: &str, token: &str, body: &str| -> Value {
        let mut answer = agent
            .post(&format!("{relay}{path}"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body)
            .expect("the demo relay answers");
        let bytes = answer.body_mut().read_to_vec().expect("read the answer");
        serde_json::from_slice(&bytes).expect("JSON answer")
    };
    let eu = post(
        "/observe/observables",
        eu_token,
        gti_relay::demo::OBSERVABLES,
    );
    assert!(eu.get("errors").is_none(), "{eu}");
    let eu_sightings = eu["data"]["sightings"]["docs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!eu_sightings.is_empty(), "{eu}");
    assert!(
        eu_sightings.len() < sightings.len(),
        "no event search in the EU"
    );
    for sighting in &eu_sightings {
        let link = sighting["source_uri"].as_str().unwrap_or_default();
        assert!(
            link.starts_with("https://portal-eu.fortindr.forticloud.com/"),
            "{link}"
        );
    }
    let body = r#"[{"type": "domain", "value": "google.com"}]"#;
    for (token, portal) in [
        (eu_token, "https://portal-eu.fortindr.forticloud.com/"),
        (token, "https://portal.icebrg.io/"),
    ] {
        let links = post("/refer/observables", token, body);
        let link = links["data"][0]["url"].as_str().unwrap_or_default();
        assert!(link.starts_with(portal), "{link}");
    }
    assert!(
        printed
            .iter()
            .any(|line| line.contains("EU tenant")
                && line.contains("portal-eu.fortindr.forticloud.com")),
        "{printed:#?}"
    );

    check_the_preview(&agent, &printed, relay, token);

    demo.terminate();
    assert_eq!(demo.wait_bounded(Duration::from_secs(30)), 0);
}

/// The preview's URL comes first and the banner stays short; the page
/// names every tile and requests nothing outside its origin; it forwards
/// the tile data but no other relay API; the relay's own `/` is the
/// production 404.
fn check_the_preview(agent: &ureq::Agent, printed: &[String], relay: &str, token: &str) {
    let position = |prefix: &str| printed.iter().position(|line| line.starts_with(prefix));
    assert!(position("preview:") < position("relay:"), "{printed:#?}");
    let curls = printed
        .iter()
        .filter(|line| line.trim_start().starts_with("curl "))
        .count();
    assert!(curls <= 6, "{curls} curls in the banner: {printed:#?}");
    let preview = field(printed, "preview:")
        .split_whitespace()
        .next()
        .unwrap_or_default();
    assert!(preview.starts_with("http://127.0.0.1:"), "{preview}");
    assert_ne!(format!("{relay}/"), preview);

    let mut answer = agent.get(preview).call().expect("the preview answers");
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = answer.body_mut().read_to_string().expect("read the page");
    // The tiles as the relay defines them.
    let mut tiles = agent
        .post(&format!("{relay}/tiles"))
        .header("Authorization", &format!("Bearer {token}"))
        .send_empty()
        .expect("the relay answers");
    let tiles: Value =
        serde_json::from_slice(&tiles.body_mut().read_to_vec().expect("read the tiles"))
            .expect("JSON tiles");
    let tiles = tiles["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(tiles.len(), 4, "{tiles:?}");
    for tile in &tiles {
        for name in ["id", "title", "type"] {
            let text = tile[name].as_str().unwrap_or_default();
            assert!(
                !text.is_empty() && page.contains(text),
                "{text} not on the page"
            );
        }
    }
    for external in ["http://", "https://", "//cdn", "src=\"//"] {
        assert!(!page.contains(external), "the page names {external}");
    }

    let post = |path: &str, body: &str| {
        let mut answer = agent
            .post(&format!("{}{}", preview.trim_end_matches('/'), path))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body)
            .expect("the preview answers");
        let bytes = answer.body_mut().read_to_vec().expect("read the answer");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON answer");
        (answer.status().as_u16(), body)
    };
    let (status, tile) = post(
        "/tiles/tile-data",
        r#"{"tile_id": "gti-detection-summary"}"#,
    );
    assert_eq!(status, 200, "{tile}");
    assert!(
        tile["data"]["data"][0]["value"].as_u64() > Some(0),
        "{tile}"
    );
    let trigger = r#"{"action-id": "gti-resolve-false-positive", "observable_type": "ip", "observable_value": "198.51.100.20"}"#;
    let (status, body) = post("/respond/trigger", trigger);
    assert_eq!(
        (status, &body["errors"][0]["code"]),
        (404, &json!("not found"))
    );

    let mut answer = agent
        .get(&format!("{relay}/"))
        .call()
        .expect("the relay answers");
    assert_eq!(answer.status(), 404);
    let bytes = answer.body_mut().read_to_vec().expect("read the answer");
    let body: Value = serde_json::from_slice(&bytes).expect("JSON answer");
    assert_eq!(body["errors"][0]["code"], "not found", "{body}");
}
