//! One relay, two regions (SPEC §7): a token's `GTI_REGION` claim picks the
//! mock GTI every call of its request goes to and the portal every link
//! names; a bad claim is refused; concurrent requests of both regions never
//! cross.

use std::thread;

use gti_relay::gti::Endpoint;
use serde_json::{json, Value};

use crate::support::mock_gti::wire_detections;
use crate::support::regions::{links, load_tagged, sighting_uuids, TwoRegions, EU_KEY, US_KEY};
use crate::support::timestamp_minutes_ago;

const US_PORTAL: &str = "https://portal.icebrg.io/";
const EU_PORTAL: &str = "https://portal-eu.fortindr.forticloud.com/";
const VALUE: &str = "203.0.113.9";

fn observables() -> Value {
    json!([{"type": "ip", "value": VALUE}])
}

fn loaded(extra: &[(&str, &str)]) -> TwoRegions {
    let regions = TwoRegions::start(extra);
    load_tagged(&regions.us, "us", VALUE);
    load_tagged(&regions.eu, "eu", VALUE);
    regions
}

fn assert_links_to(answer: &Value, portal: &str) {
    let links = links(answer);
    assert!(!links.is_empty(), "{answer}");
    for link in &links {
        assert!(link.starts_with(portal), "{link} in {answer}");
    }
}

#[test]
fn a_us_token_reaches_only_the_us_gti_and_links_to_the_us_portal() {
    let regions = loaded(&[]);
    for claim in [
        None,
        Some(json!(null)),
        Some(json!("")),
        Some(json!("us")),
        Some(json!("US")),
    ] {
        regions.us.reset_calls();
        let token = regions.token(US_KEY, claim.clone());
        let answer = regions.post("/observe/observables", Some(&token), &observables());
        assert_eq!(
            sighting_uuids(&answer),
            ["us-detected", "us-searched"],
            "{claim:?}: {answer}"
        );
        assert_links_to(&answer, US_PORTAL);
        assert_eq!(regions.us.count(Endpoint::Detections), 1);
        assert_eq!(
            regions.us.count(Endpoint::EventSearch),
            7,
            "the US search is on"
        );
        assert_eq!(regions.eu.total_calls(), 0, "{claim:?}");
    }
}

#[test]
fn an_eu_token_reaches_only_the_eu_gti_with_the_search_off() {
    let regions = loaded(&[]);
    for claim in ["eu", "EU", "Eu"] {
        let token = regions.token(EU_KEY, Some(json!(claim)));
        let answer = regions.post("/observe/observables", Some(&token), &observables());
        assert_eq!(
            sighting_uuids(&answer),
            ["eu-detected"],
            "{claim}: {answer}"
        );
        assert_links_to(&answer, EU_PORTAL);
    }
    assert_eq!(regions.us.total_calls(), 0);
    assert_eq!(regions.eu.count(Endpoint::Detections), 3);
    assert_eq!(regions.eu.count(Endpoint::DetectionEvents), 3);
    assert_eq!(regions.eu.count(Endpoint::EventSearch), 0, "no EU search");
    assert_eq!(
        regions.eu.count(Endpoint::Dhcp),
        3,
        "DHCP goes to the EU entity API"
    );
}

#[test]
fn an_eu_events_url_switches_the_eu_search_on() {
    let regions = TwoRegions::with_eu_search(&[]);
    load_tagged(&regions.us, "us", VALUE);
    load_tagged(&regions.eu, "eu", VALUE);
    let token = regions.token(EU_KEY, Some(json!("eu")));
    let answer = regions.post("/observe/observables", Some(&token), &observables());
    assert_eq!(
        sighting_uuids(&answer),
        ["eu-detected", "eu-searched"],
        "{answer}"
    );
    assert_links_to(&answer, EU_PORTAL);
    assert_eq!(regions.eu.count(Endpoint::EventSearch), 7);
    assert_eq!(regions.us.total_calls(), 0);
}

#[test]
fn the_default_region_decides_for_tokens_without_a_claim() {
    let regions = TwoRegions::start(&[("GTI_REGION", "eu")]);
    load_tagged(&regions.us, "us", VALUE);
    load_tagged(&regions.eu, "eu", VALUE);
    let answer = regions.post(
        "/observe/observables",
        Some(&regions.token(EU_KEY, None)),
        &observables(),
    );
    assert_eq!(sighting_uuids(&answer), ["eu-detected"], "{answer}");
    assert_links_to(&answer, EU_PORTAL);
    let answer = regions.post(
        "/observe/observables",
        Some(&regions.token(US_KEY, Some(json!("us")))),
        &observables(),
    );
    assert_eq!(sighting_uuids(&answer), ["us-detected", "us-searched"]);
    assert_links_to(&answer, US_PORTAL);
}

#[test]
fn a_bad_region_claim_is_a_configuration_error_and_calls_nothing() {
    let regions = loaded(&[]);
    for claim in [
        json!("apjc"),
        json!("https://detections.attacker.example/v1/"),
        json!("127.0.0.1"),
        json!(" eu"),
        json!(1),
        json!(true),
        json!(["eu"]),
        json!({"detections": "http://127.0.0.1:1/"}),
    ] {
        let token = regions.token(EU_KEY, Some(claim.clone()));
        for path in ["/observe/observables", "/health"] {
            let answer = regions.post(path, Some(&token), &observables());
            let errors = answer["errors"].as_array().cloned().unwrap_or_default();
            assert_eq!(errors.len(), 1, "{claim} {path}: {answer}");
            assert_eq!(errors[0]["code"], "invalid configuration", "{claim}");
            assert_eq!(errors[0]["type"], "fatal");
            let message = errors[0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("GTI_REGION"), "{message}");
            assert!(
                message.contains("us") && message.contains("eu"),
                "{message}"
            );
            assert!(answer.get("data").is_none(), "{answer}");
        }
    }
    assert_eq!(regions.total_calls(), (0, 0));
}

#[test]
fn health_checks_the_tokens_region() {
    let regions = loaded(&[]);
    regions
        .eu
        .set_detections("8.8.8.8", json!({"detections": [], "rules": []}));
    let ok = json!({"data": {"status": "ok"}});
    let us = regions.token(US_KEY, None);
    assert_eq!(regions.post("/health", Some(&us), &json!(null)), ok);
    assert_eq!(regions.total_calls(), (1, 0));
    // Both regions ask the detections API (SPEC §8.3).
    assert_eq!(regions.us.count(Endpoint::Detections), 1);

    let eu = regions.token(EU_KEY, Some(json!("eu")));
    assert_eq!(regions.post("/health", Some(&eu), &json!(null)), ok);
    assert_eq!(regions.total_calls(), (1, 1));
    assert_eq!(regions.eu.count(Endpoint::Detections), 1);

    // The US tenant's key is no good in the EU region.
    let wrong = regions.token(US_KEY, Some(json!("eu")));
    let answer = regions.post("/health", Some(&wrong), &json!(null));
    assert_eq!(
        answer["errors"][0]["code"],
        "client : invalid authentication"
    );
    assert_eq!(regions.total_calls(), (1, 2));
}

#[test]
fn refer_links_follow_a_valid_tokens_region_else_the_default() {
    let regions = loaded(&[]);
    let body = json!([{"type": "domain", "value": "example.com"}]);
    let refer = |token: Option<&str>| -> String {
        let answer = regions.post("/refer/observables", token, &body);
        answer["data"][0]["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let us_link = format!("{US_PORTAL}search?query=example.com");
    let eu_link = format!("{EU_PORTAL}search?query=example.com");
    assert_eq!(refer(None), us_link);
    assert_eq!(refer(Some(&regions.token(US_KEY, None))), us_link);
    assert_eq!(
        refer(Some(&regions.token(EU_KEY, Some(json!("eu"))))),
        eu_link
    );
    // A bad claim, a refused token or a token that is no JWT: the default.
    assert_eq!(
        refer(Some(&regions.token(EU_KEY, Some(json!("mars"))))),
        us_link
    );
    let expired = regions.token_with(|claims| {
        claims.insert("GTI_REGION".into(), json!("eu"));
        claims.insert("exp".into(), json!(1));
    });
    assert_eq!(refer(Some(&expired)), us_link);
    assert_eq!(refer(Some("not-a-jwt")), us_link);
    assert_eq!(regions.total_calls(), (0, 0), "refer calls no GTI");

    let eu_default = TwoRegions::start(&[("GTI_REGION", "eu")]);
    let answer = eu_default.post("/refer/observables", None, &body);
    assert_eq!(answer["data"][0]["url"], json!(eu_link));
}

#[test]
fn concurrent_requests_of_both_regions_never_cross() {
    let regions = loaded(&[]);
    let us_token = regions.token(US_KEY, None);
    let eu_token = regions.token(EU_KEY, Some(json!("eu")));
    const THREADS: usize = 8;
    const ROUNDS: usize = 6;
    thread::scope(|scope| {
        for index in 0..THREADS {
            let regions = &regions;
            let (us_token, eu_token) = (&us_token, &eu_token);
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    let eu = (index + round) % 2 == 1;
                    let (token, expected, portal): (&str, &[&str], &str) = if eu {
                        (eu_token, &["eu-detected"], EU_PORTAL)
                    } else {
                        (us_token, &["us-detected", "us-searched"], US_PORTAL)
                    };
                    let answer = regions.post("/observe/observables", Some(token), &observables());
                    assert_eq!(sighting_uuids(&answer), expected, "{answer}");
                    assert_links_to(&answer, portal);
                    let refer = regions.post("/refer/observables", Some(token), &observables());
                    let link = refer["data"][0]["url"].as_str().unwrap_or_default();
                    assert!(link.starts_with(portal), "{link}");
                }
            });
        }
    });
    let per_region = THREADS * ROUNDS / 2;
    for (gti, key, searches) in [(&regions.us, US_KEY, 7), (&regions.eu, EU_KEY, 0)] {
        assert_eq!(gti.count(Endpoint::Detections), per_region);
        assert_eq!(gti.count(Endpoint::DetectionEvents), per_region);
        assert_eq!(gti.count(Endpoint::EventSearch), per_region * searches);
        assert_eq!(gti.count(Endpoint::Dhcp), per_region);
        for call in gti.calls() {
            assert_eq!(
                call.header("Authorization"),
                Some(format!("IBToken {key}").as_str())
            );
            assert!(call.endpoint.is_some(), "{call:?}");
        }
    }
}

#[test]
fn verdicts_actions_and_tiles_follow_the_tokens_region() {
    let regions = loaded(&[]);
    // A detection created an hour ago in each region, so each region's
    // tiles have something to show.
    for (gti, tag) in [(&regions.us, "us"), (&regions.eu, "eu")] {
        gti.set_detections(
            "198.51.100.7",
            wire_detections(&[json!({
                "uuid": format!("recent-{tag}"), "account_uuid": "acme",
                "device_ip": "10.0.0.5", "rule": {"uuid": format!("rule-{tag}"),
                "name": format!("Rule of {tag}"), "severity": "high", "confidence": "high"},
                "created": timestamp_minutes_ago(60), "first_seen": timestamp_minutes_ago(61),
            })]),
        );
    }
    let eu = regions.token(EU_KEY, Some(json!("eu")));
    let verdicts = regions.post("/deliberate/observables", Some(&eu), &observables());
    assert_eq!(verdicts["data"]["verdicts"]["count"], 1, "{verdicts}");
    let actions = regions.post("/respond/observables", Some(&eu), &observables());
    assert_eq!(
        actions["data"].as_array().map(Vec::len),
        Some(3),
        "{actions}"
    );
    let asked = json!({"tile_id": "gti-top-rules", "period": "last_7_days"});
    let top = regions.post("/tiles/tile-data", Some(&eu), &asked);
    let markdown = top["data"]["data"].to_string();
    assert!(
        markdown.contains("Rule of eu") && !markdown.contains("Rule of us"),
        "{top}"
    );
    assert!(
        markdown.contains("https://portal-eu.fortindr.forticloud.com/detections/rules/rule-eu"),
        "{top}"
    );
    assert!(!markdown.contains("portal.icebrg.io"), "{top}");
    assert_eq!(regions.us.total_calls(), 0, "nothing reached the US GTI");

    // A US tenant's tiles come from the US GTI, with US links.
    let us = regions.token(US_KEY, Some(json!("us")));
    let top = regions.post("/tiles/tile-data", Some(&us), &asked);
    let markdown = top["data"]["data"].to_string();
    assert!(
        markdown.contains("https://portal.icebrg.io/detections/rules/rule-us"),
        "{top}"
    );
}
