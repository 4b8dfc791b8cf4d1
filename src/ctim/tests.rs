//! The mapper against the reference's fixtures and hand-made events, fed
//! through [`super::reference`] as the reference's JSON.

use serde_json::{json, Value};

use super::reference::{indicator, sighting, Bundle};
use super::{random_id, rebuild_url, refer_link, Context};
use crate::encoding::{quote, quote_plus};
use crate::observable::ObservableType;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

const PORTAL: &str = "https://portal.icebrg.io";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is valid JSON")
}

fn reference_events() -> Vec<Value> {
    let events = fixture(include_str!(
        "../../tests/fixtures/reference/workflow/events_for_observable.json"
    ));
    events.as_array().expect("an array of events").clone()
}

/// Ids `transient:<type>-0`, `-1`, … in the order they are asked for.
fn counter() -> impl Fn(&str) -> String + Sync {
    let next = AtomicUsize::new(0);
    move |entity_type: &str| {
        format!(
            "transient:{entity_type}-{}",
            next.fetch_add(1, Ordering::SeqCst)
        )
    }
}

fn map_one(event: &Value) -> Value {
    let ids = counter();
    sighting(
        &Context {
            portal_url: PORTAL,
            new_id: &ids,
        },
        event,
    )
}

fn map_all(batches: &[Vec<Value>]) -> Value {
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    let mut bundle = Bundle::new();
    for events in batches {
        bundle.add_events(&ctx, events);
    }
    bundle.into_json()
}

/// `transient:<type>-<uuid4>`, lowercase hex, version 4, RFC 4122 variant.
fn is_transient_uuid4(id: &str, entity_type: &str) -> bool {
    let Some(uuid) = id.strip_prefix(&format!("transient:{entity_type}-")) else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
}

/// Replaces random sighting and relationship ids by their position, and
/// references by the position of what they point to (or `dangling`), so
/// two bundles compare equal exactly when they match field for field,
/// in the same order, with the same links between entities.
fn canonical(mut bundle: Value) -> Value {
    let mut names = HashMap::new();
    if let Some(docs) = bundle
        .pointer_mut("/sightings/docs")
        .and_then(Value::as_array_mut)
    {
        for (i, doc) in docs.iter_mut().enumerate() {
            let name = format!("sighting #{i}");
            names.insert(
                doc["id"].as_str().unwrap_or_default().to_owned(),
                name.clone(),
            );
            doc["id"] = json!(name);
        }
    }
    if let Some(docs) = bundle.pointer("/indicators/docs").and_then(Value::as_array) {
        for doc in docs {
            let id = doc["id"].as_str().unwrap_or_default().to_owned();
            names.insert(id.clone(), id);
        }
    }
    if let Some(docs) = bundle
        .pointer_mut("/relationships/docs")
        .and_then(Value::as_array_mut)
    {
        for (i, doc) in docs.iter_mut().enumerate() {
            doc["id"] = json!(format!("relationship #{i}"));
            for field in ["source_ref", "target_ref"] {
                let target = doc[field].as_str().unwrap_or_default();
                let name = names
                    .get(target)
                    .cloned()
                    .unwrap_or_else(|| format!("dangling {target}"));
                doc[field] = json!(name);
            }
        }
    }
    bundle
}

fn relation(source: (&str, &str), relation: &str, related: (&str, &str)) -> Value {
    json!({
        "origin": "Gigamon ThreatINSIGHT",
        "related": {"type": related.0, "value": related.1},
        "relation": relation,
        "source": {"type": source.0, "value": source.1},
    })
}

// --- the reference's own fixtures -------------------------------------

#[test]
fn reproduces_the_reference_bundle_field_for_field() {
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &random_id,
    };
    let mut bundle = Bundle::new();
    bundle.add_events(&ctx, &reference_events());
    let actual = bundle.into_json();

    for doc in actual["sightings"]["docs"].as_array().into_iter().flatten() {
        assert!(
            is_transient_uuid4(doc["id"].as_str().unwrap_or_default(), "sighting"),
            "{doc}"
        );
    }
    for doc in actual["relationships"]["docs"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert!(
            is_transient_uuid4(doc["id"].as_str().unwrap_or_default(), "relationship"),
            "{doc}"
        );
    }

    let expected = json!({
        "sightings": fixture(include_str!("../../tests/fixtures/reference/sightings.json")),
        "indicators": fixture(include_str!("../../tests/fixtures/reference/indicators.json")),
        "relationships": fixture(include_str!("../../tests/fixtures/reference/relationships.json")),
    });
    let (actual, expected) = (canonical(actual), canonical(expected));
    // Both relationships link the two detected (HTTP) sightings to the one
    // indicator; checked explicitly so a broken `canonical` cannot hide it.
    assert_eq!(
        expected["relationships"]["docs"][1]["source_ref"],
        json!("sighting #3")
    );
    assert_eq!(
        actual["relationships"]["docs"][0]["target_ref"],
        json!("transient:indicator-5b7d1cc6-21b1-4be2-ba4d-4cafe6ad8947")
    );
    assert_eq!(actual, expected);
}

#[test]
fn indicator_of_the_reference_rule_matches_the_fixture() {
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    let rule = &reference_events()[2]["detection"]["rule"];
    let expected = fixture(include_str!(
        "../../tests/fixtures/reference/indicators.json"
    ));
    assert_eq!(indicator(&ctx, rule), Some(expected["docs"][0].clone()));
}

#[test]
fn deterministic_ids_come_from_the_context_in_mapping_order() {
    let bundle = map_all(&[reference_events()]);
    let ids: Vec<&Value> = bundle["sightings"]["docs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["id"])
        .collect();
    // Sighting, then its relationship, event by event.
    assert_eq!(
        ids,
        [
            &json!("transient:sighting-0"),
            &json!("transient:sighting-1"),
            &json!("transient:sighting-2"),
            &json!("transient:sighting-4")
        ]
    );
    assert_eq!(
        bundle["relationships"]["docs"][0]["id"],
        json!("transient:relationship-3")
    );
    assert_eq!(
        bundle["relationships"]["docs"][1]["source_ref"],
        json!("transient:sighting-4")
    );
}

#[test]
fn random_ids_are_transient_uuid4s() {
    let (a, b) = (random_id("sighting"), random_id("sighting"));
    assert!(is_transient_uuid4(&a, "sighting"), "{a}");
    assert_ne!(a, b);
    assert!(!is_transient_uuid4("transient:sighting-0", "sighting"));
    assert!(!is_transient_uuid4(&random_id("relationship"), "sighting"));
}

// --- quote_plus ---------------------------------------------------------

#[test]
fn quote_plus_matches_python() {
    // Expected values printed by Python 3's urllib.parse.quote_plus.
    let cases = [
        ("uuid = 'abc'", "uuid+%3D+%27abc%27"),
        ("a&b#c d", "a%26b%23c+d"),
        ("&#", "%26%23"),
        (
            "café ünï 日本",
            "caf%C3%A9+%C3%BCn%C3%AF+%E6%97%A5%E6%9C%AC",
        ),
        ("~_.-/+=?%", "~_.-%2F%2B%3D%3F%25"),
        ("a\nb\t", "a%0Ab%09"),
        ("😀", "%F0%9F%98%80"),
        ("AZaz09", "AZaz09"),
        ("", ""),
    ];
    for (raw, encoded) in cases {
        assert_eq!(quote_plus(raw), encoded, "{raw:?}");
    }
    // Python's quote(…, safe=''), used for path segments.
    assert_eq!(quote("a b/c"), "a%20b%2Fc");
}

// --- data tables --------------------------------------------------------

fn event_columns_table(event: Value) -> Value {
    map_one(&event)["data"].clone()
}

fn bulleted(names: &[(&str, &str)]) -> Vec<Value> {
    let mut columns = vec![json!({"name": "Event Summary", "type": "string"})];
    columns.extend(
        names
            .iter()
            .map(|(n, t)| json!({"name": format!("• {n}"), "type": t})),
    );
    columns
}

#[test]
fn flow_table() {
    let table = event_columns_table(json!({
        "event_type": "flow", "flow_state": "SF", "proto": "tcp", "service": "dns", "total_pkts": 12
    }));
    let columns = bulleted(&[
        ("flow_state", "string"),
        ("proto", "string"),
        ("service", "string"),
        ("total_pkts", "integer"),
    ]);
    assert_eq!(
        table,
        json!({"columns": columns, "rows": [[" ", "SF", "tcp", "dns", 12]]})
    );
}

#[test]
fn dns_table_shows_rejected_as_python_text() {
    let columns = bulleted(&[
        ("qtype", "integer"),
        ("qtype_name", "string"),
        ("rcode", "integer"),
        ("rcode_name", "string"),
        ("rejected", "string"),
    ]);
    for (rejected, text) in [
        (json!(false), "false"),
        (json!(true), "true"),
        (json!(null), "none"),
        (json!("Maybe"), "maybe"),
    ] {
        let table = event_columns_table(json!({
            "event_type": "dns", "qtype": 1, "qtype_name": "A", "rcode": 0, "rcode_name": "NOERROR", "rejected": rejected
        }));
        assert_eq!(
            table,
            json!({"columns": columns, "rows": [[" ", 1, "A", 0, "NOERROR", text]]})
        );
    }
}

#[test]
fn http_table_counts_files() {
    let columns = bulleted(&[
        ("method", "string"),
        ("status_code", "integer"),
        ("status_msg", "string"),
        ("files", "integer"),
    ]);
    for (files, count) in [(json!([{}, {}]), 2), (json!(null), 0), (json!([]), 0)] {
        let table = event_columns_table(json!({
            "event_type": "http", "method": "GET", "status_code": 404, "status_msg": "Not Found", "files": files
        }));
        assert_eq!(
            table,
            json!({"columns": columns, "rows": [[" ", "GET", 404, "Not Found", count]]})
        );
    }
}

#[test]
fn ssh_table() {
    let table = event_columns_table(json!({
        "event_type": "ssh", "direction": "outbound", "client": "OpenSSH_8.2", "server": "OpenSSH_7.4"
    }));
    let columns = bulleted(&[
        ("direction", "string"),
        ("client", "string"),
        ("server", "string"),
    ]);
    assert_eq!(
        table,
        json!({"columns": columns, "rows": [[" ", "outbound", "OpenSSH_8.2", "OpenSSH_7.4"]]})
    );
}

#[test]
fn suricata_table() {
    let table = event_columns_table(json!({
        "event_type": "suricata", "sig_name": "ET POLICY", "sig_category": "Misc", "sig_id": 2000419, "sig_rev": 3.5
    }));
    let columns = bulleted(&[
        ("sig_name", "string"),
        ("sig_category", "string"),
        ("sig_id", "integer"),
        ("sig_rev", "number"),
    ]);
    assert_eq!(
        table,
        json!({"columns": columns, "rows": [[" ", "ET POLICY", "Misc", 2000419, 3.5]]})
    );
}

#[test]
fn detection_summary_comes_first_and_stands_alone_for_other_event_types() {
    let detection = json!({"rule": {}, "summary": {"impacted_devices": 2, "indicator_values": 5}});
    let summary_columns = json!([
        {"name": "Detection Summary", "type": "string"},
        {"name": "Impacted Devices", "type": "integer"},
        {"name": "Indicator Values", "type": "integer"},
    ]);
    let table = event_columns_table(json!({"event_type": "x509", "detection": detection}));
    assert_eq!(
        table,
        json!({"columns": summary_columns, "rows": [[" ", 2, 5]]})
    );

    let table = event_columns_table(
        json!({"event_type": "ssh", "direction": "in", "detection": detection}),
    );
    assert_eq!(
        table["columns"][3],
        json!({"name": "Event Summary", "type": "string"})
    );
    assert_eq!(table["rows"], json!([[" ", 2, 5, " ", "in", null, null]]));
}

#[test]
fn no_table_without_detection_or_known_event_type() {
    let sighting = map_one(&json!({"event_type": "pe", "uuid": "e"}));
    assert!(sighting.get("data").is_none());
}

// --- relations ----------------------------------------------------------

fn relations_of(event: Value) -> Value {
    map_one(&event)
        .get("relations")
        .cloned()
        .unwrap_or(json!([]))
}

#[test]
fn connected_to_needs_both_ends() {
    let both = json!({"event_type": "flow", "src": {"ip": "10.0.0.1"}, "dst": {"ip": "8.8.8.8"}});
    assert_eq!(
        relations_of(both),
        json!([relation(
            ("ip", "10.0.0.1"),
            "Connected_To",
            ("ip", "8.8.8.8")
        )])
    );
    let one = json!({"event_type": "flow", "src": {"ip": "10.0.0.1"}});
    assert_eq!(relations_of(one), json!([]));
}

#[test]
fn dns_queried_for_and_resolved_to() {
    let event = json!({
        "event_type": "dns",
        "src": {"ip": "10.0.0.1"}, "dst": {"ip": "10.0.0.53"},
        "query": {"domain": "evil.example"},
        "answers": [{"ip": "1.2.3.4"}, {"cname": "alias.example"}, {"ip": "5.6.7.8"}],
    });
    assert_eq!(
        relations_of(event),
        json!([
            relation(("ip", "10.0.0.1"), "Connected_To", ("ip", "10.0.0.53")),
            relation(
                ("ip", "10.0.0.1"),
                "Queried_For",
                ("domain", "evil.example")
            ),
            relation(("domain", "evil.example"), "Resolved_To", ("ip", "1.2.3.4")),
            relation(("domain", "evil.example"), "Resolved_To", ("ip", "5.6.7.8")),
        ])
    );
    // No query (null or empty), no DNS relations; answers alone mean nothing.
    let silent = json!({"event_type": "dns", "src": {"ip": "10.0.0.1"}, "query": null, "answers": [{"ip": "1.2.3.4"}]});
    assert_eq!(relations_of(silent), json!([]));
}

#[test]
fn http_sent_resolved_url_and_download_relations() {
    let event = json!({
        "event_type": "http", "method": "GET",
        "src": {"ip": "10.0.0.1"}, "dst": {"ip": "203.0.113.9"},
        "host": {"domain": "files.example", "ip": "203.0.113.9"},
        "uri": {"uri": "/get.exe?x=1"},
        "user_agent": "curl/8",
        "files": [{"md5": "m", "sha1": "", "sha256": null}, {"sha256": "s"}],
    });
    assert_eq!(
        relations_of(event),
        json!([
            relation(("ip", "10.0.0.1"), "Connected_To", ("ip", "203.0.113.9")),
            relation(("user_agent", "curl/8"), "Sent_From", ("ip", "10.0.0.1")),
            relation(("user_agent", "curl/8"), "Sent_To", ("ip", "203.0.113.9")),
            relation(
                ("domain", "files.example"),
                "Resolved_To",
                ("ip", "203.0.113.9")
            ),
            relation(
                ("ip", "10.0.0.1"),
                "Connected_To",
                ("url", "http://files.example/get.exe?x=1")
            ),
            relation(
                ("url", "http://files.example/get.exe?x=1"),
                "Hosted_On",
                ("ip", "203.0.113.9")
            ),
            relation(("md5", "m"), "Downloaded_To", ("ip", "10.0.0.1")),
            relation(("sha256", "s"), "Downloaded_To", ("ip", "10.0.0.1")),
            relation(("md5", "m"), "Downloaded_From", ("ip", "203.0.113.9")),
            relation(("sha256", "s"), "Downloaded_From", ("ip", "203.0.113.9")),
        ])
    );
}

#[test]
fn http_upload_relations_and_url_from_host_ip() {
    let event = json!({
        "event_type": "http", "method": "PUT",
        "src": {"ip": "10.0.0.1"}, "dst": {"ip": "203.0.113.9"},
        "host": {"ip": "203.0.113.9"},
        "uri": {"uri": "/put"},
        "user_agent": "",
        "files": [{"sha1": "h"}],
    });
    assert_eq!(
        relations_of(event),
        json!([
            relation(("ip", "10.0.0.1"), "Connected_To", ("ip", "203.0.113.9")),
            relation(
                ("ip", "10.0.0.1"),
                "Connected_To",
                ("url", "http://203.0.113.9/put")
            ),
            relation(
                ("url", "http://203.0.113.9/put"),
                "Hosted_On",
                ("ip", "203.0.113.9")
            ),
            relation(("sha1", "h"), "Uploaded_From", ("ip", "10.0.0.1")),
            relation(("sha1", "h"), "Uploaded_To", ("ip", "203.0.113.9")),
        ])
    );
}

#[test]
fn x509_san_dns_for_only_for_domain_observables() {
    let event = |observable: Value| json!({"event_type": "x509", "dst": {"ip": "203.0.113.9"}, "observable": observable});
    assert_eq!(
        relations_of(event(json!({"type": "domain", "value": "tls.example"}))),
        json!([relation(
            ("domain", "tls.example"),
            "SAN_DNS_For",
            ("ip", "203.0.113.9")
        )])
    );
    assert_eq!(
        relations_of(event(json!({"type": "ip", "value": "203.0.113.9"}))),
        json!([])
    );
}

#[test]
fn urls_are_rebuilt_like_python_urlparse_and_urlunparse() {
    // Expected values printed by Python 3.11:
    // urlparse(uri, scheme='http'), netloc replaced when empty, geturl().
    let cases = [
        ("/upload.php", "10.1.70.2", "http://10.1.70.2/upload.php"),
        (
            "/download.php?a=1&b=2#frag",
            "mystery.io",
            "http://mystery.io/download.php?a=1&b=2#frag",
        ),
        ("upload.php", "h", "http://h/upload.php"),
        ("upload.php", "", "http:///upload.php"),
        ("/p", "", "http:///p"),
        ("", "h", "http://h"),
        ("", "", "http://"),
        ("https://Example.com/x", "h", "https://Example.com/x"),
        ("HTTPS://ex.com/x?q", "h", "https://ex.com/x?q"),
        (
            "//cdn.example.com/lib.js",
            "h",
            "http://cdn.example.com/lib.js",
        ),
        ("/a;b/c;d?x#y", "h", "http://h/a;b/c;d?x#y"),
        ("/a;", "h", "http://h/a"),
        ("/a?", "h", "http://h/a"),
        ("/a#", "h", "http://h/a"),
        ("ftp:/x", "h", "ftp://h/x"),
        ("mailto:bob@x", "h", "mailto://h/bob@x"),
        ("1abc:/x", "h", "http://h/1abc:/x"),
        ("\t /pa\nth\r", "h", "http://h/path"),
        ("/p:80", "h", "http://h/p:80"),
        ("path:80", "h", "path://h/80"),
        ("?q=1", "h", "http://h?q=1"),
        ("#f", "h", "http://h#f"),
        ("//", "h", "http://h"),
        ("http://[::1]/x", "h", "http://[::1]/x"),
        ("ws:x", "", "ws:///x"),
        ("x;y", "h", "http://h/x;y"),
        ("http:", "h", "http://h"),
    ];
    for (uri, host, url) in cases {
        assert_eq!(rebuild_url(uri, host), url, "{uri:?} on {host:?}");
    }
    // Python raises on an unbalanced bracket; we keep the text.
    assert_eq!(rebuild_url("http://[::1/x", "h"), "http://[::1/x");
}

// --- targets ------------------------------------------------------------

#[test]
fn targets_take_dhcp_of_the_events_own_account_only() {
    let event = json!({
        "timestamp": "2020-01-01T00:00:00.000Z",
        "customer_id": "mine",
        "src": {"ip": "8.8.8.8", "internal": false},
        "dst": {"ip": "10.0.0.7", "internal": true, "dhcp": [
            {"account_code": "other", "hostname": "not-me", "mac": "00:00:00:00:00:01", "ip": "10.0.0.7"},
            {"account_code": "mine", "hostname": "me", "mac": "00:00:00:00:00:02", "ip": "10.0.0.7"},
        ]},
    });
    let observed =
        json!({"start_time": "2020-01-01T00:00:00.000Z", "end_time": "2020-01-01T00:00:00.000Z"});
    assert_eq!(
        map_one(&event)["targets"],
        json!([{
            "observables": [
                {"type": "ip", "value": "10.0.0.7"},
                {"type": "hostname", "value": "me"},
                {"type": "mac_address", "value": "00:00:00:00:00:02"},
            ],
            "observed_time": observed,
            "type": "endpoint",
        }])
    );

    // Only other accounts' records (or no customer): the IP alone.
    let mut foreign = event.clone();
    foreign["dst"]["dhcp"][1]["account_code"] = json!("third");
    assert_eq!(
        map_one(&foreign)["targets"][0]["observables"],
        json!([{"type": "ip", "value": "10.0.0.7"}])
    );
    let mut anonymous = event.clone();
    anonymous.as_object_mut().map(|e| e.remove("customer_id"));
    assert_eq!(
        map_one(&anonymous)["targets"][0]["observables"],
        json!([{"type": "ip", "value": "10.0.0.7"}])
    );

    // Empty hostname or MAC are left out; the source wins when internal.
    let mut blank = event.clone();
    blank["dst"]["dhcp"][1]["hostname"] = json!("");
    blank["src"]["internal"] = json!(true);
    assert_eq!(
        map_one(&blank)["targets"][0]["observables"],
        json!([{"type": "ip", "value": "8.8.8.8"}])
    );
    blank["src"]["internal"] = json!(false);
    assert_eq!(
        map_one(&blank)["targets"][0]["observables"],
        json!([{"type": "ip", "value": "10.0.0.7"}, {"type": "mac_address", "value": "00:00:00:00:00:02"}])
    );

    // No internal end, no target.
    let mut external = event;
    external["dst"]["internal"] = json!(false);
    assert!(map_one(&external).get("targets").is_none());
}

// --- severity, confidence and links -------------------------------------

#[test]
fn unknown_severity_and_confidence_are_left_out() {
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    let rule = json!({"uuid": "r", "severity": "catastrophic", "confidence": "HIGH", "name": "n"});
    let event =
        json!({"event_type": "pe", "uuid": "e", "detection": {"rule": rule, "account_uuid": "a"}});
    let sighting = sighting(&ctx, &event);
    assert!(sighting.get("severity").is_none());
    let indicator = indicator(&ctx, &rule).unwrap_or_default();
    assert!(indicator.get("severity").is_none() && indicator.get("confidence").is_none());
    assert_eq!(indicator["title"], json!("n"));

    for (gti, ctim) in [("high", "High"), ("moderate", "Medium"), ("low", "Low")] {
        let rule = json!({"uuid": "r", "severity": gti, "confidence": gti});
        let indicator = super::reference::indicator(&ctx, &rule).unwrap_or_default();
        assert_eq!(
            (&indicator["severity"], &indicator["confidence"]),
            (&json!(ctim), &json!(ctim))
        );
    }
}

#[test]
fn rule_link_without_account_and_portal_with_trailing_slash() {
    let ids = counter();
    let ctx = Context {
        portal_url: "https://portal.example/",
        new_id: &ids,
    };
    let event = json!({"event_type": "pe", "uuid": "e 1", "detection": {"rule": {"uuid": "r"}}});
    let sighting = sighting(&ctx, &event);
    assert_eq!(
        sighting["external_references"][0]["url"],
        json!("https://portal.example/search?query=uuid+%3D+%27e+1%27")
    );
    assert_eq!(
        sighting["source_uri"],
        json!("https://portal.example/detections/rules/r")
    );
    assert_eq!(sighting["description"], json!("- Event: `PE`"));
    assert_eq!(sighting["external_ids"], json!(["e 1", "r"]));
}

// --- MITRE ATT&CK techniques (SPEC §8.5) ------------------------------

fn reference_rule() -> Value {
    reference_events()[2]["detection"]["rule"].clone()
}

/// The indicator of a rule, as the bytes the answer carries.
fn indicator_bytes(rule: &Value) -> String {
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    let rule: crate::gti::model::Rule =
        serde_json::from_str(&rule.to_string()).expect("a rule object");
    serde_json::to_string(&super::indicator(&ctx, &rule)).expect("an indicator serialises")
}

#[test]
fn indicator_with_techniques_matches_the_golden_json() {
    let mut rule = reference_rule();
    rule["primary_attack_id"] = json!("T1105");
    rule["secondary_attack_id"] = json!(["t1204.002", "T1105", "T123"]);
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    let rule_link =
        "https://portal.icebrg.io/detections/rules/5b7d1cc6-21b1-4be2-ba4d-4cafe6ad8947";
    let expected = json!({
        "type": "indicator",
        "producer": "Gigamon ThreatINSIGHT",
        "source": "Gigamon ThreatINSIGHT",
        "schema_version": "1.0.17",
        "id": "transient:indicator-5b7d1cc6-21b1-4be2-ba4d-4cafe6ad8947",
        "valid_time": {"start_time": "2020-05-04T21:39:41.696Z"},
        "confidence": "Low",
        "description": "This logic is intended to detect suspicious executable files downloaded over HTTP...",
        "external_ids": ["5b7d1cc6-21b1-4be2-ba4d-4cafe6ad8947"],
        "external_references": [
            {
                "source_name": "Gigamon ThreatINSIGHT",
                "description": "- Represents the UUID of the given rule.\n- Links to a UI page describing that specific rule along with providing some summary over its history.",
                "external_id": "5b7d1cc6-21b1-4be2-ba4d-4cafe6ad8947",
                "url": rule_link,
            },
            {
                "source_name": "MITRE ATT&CK",
                "external_id": "T1105",
                "url": "https://attack.mitre.org/techniques/T1105/",
                "description": "MITRE ATT&CK technique T1105",
            },
            {
                "source_name": "MITRE ATT&CK",
                "external_id": "T1204.002",
                "url": "https://attack.mitre.org/techniques/T1204/002/",
                "description": "MITRE ATT&CK technique T1204.002",
            },
        ],
        "severity": "Medium",
        "short_description": "Suspicious Executable File",
        "source_uri": rule_link,
        "tags": ["Attack:Installation", "T1105", "T1204.002"],
        "title": "Suspicious Executable File",
    });
    assert_eq!(indicator(&ctx, &rule), Some(expected));
}

#[test]
fn technique_references_are_written_in_alphabetical_field_order() {
    let mut rule = json!({"uuid": "r", "primary_attack_id": "T1071.001, T1573"});
    rule["secondary_attack_id"] = json!("t1573,T1008");
    assert_eq!(
        indicator_bytes(&rule),
        concat!(
            r#"{"external_ids":["r"],"external_references":[{"description":"- Represents the UUID of the given rule.\n- Links to a UI page describing that specific rule along with providing some summary over its history.","external_id":"r","source_name":"Gigamon ThreatINSIGHT","url":"https://portal.icebrg.io/detections/rules/r"},"#,
            r#"{"description":"MITRE ATT&CK technique T1071.001","external_id":"T1071.001","source_name":"MITRE ATT&CK","url":"https://attack.mitre.org/techniques/T1071/001/"},"#,
            r#"{"description":"MITRE ATT&CK technique T1573","external_id":"T1573","source_name":"MITRE ATT&CK","url":"https://attack.mitre.org/techniques/T1573/"},"#,
            r#"{"description":"MITRE ATT&CK technique T1008","external_id":"T1008","source_name":"MITRE ATT&CK","url":"https://attack.mitre.org/techniques/T1008/"}],"#,
            r#""id":"transient:indicator-r","producer":"Gigamon ThreatINSIGHT","schema_version":"1.0.17","source":"Gigamon ThreatINSIGHT","source_uri":"https://portal.icebrg.io/detections/rules/r","#,
            r#""tags":["T1071.001","T1573","T1008"],"type":"indicator","valid_time":{}}"#,
        )
    );
}

#[test]
fn missing_null_empty_or_malformed_techniques_change_no_byte() {
    let plain = indicator_bytes(&reference_rule());
    for (primary, secondary) in [
        (json!(null), json!(null)),
        (json!(""), json!([])),
        (
            json!("T123, T12345, X1234"),
            json!(["T1234.5", "T1234.0001", 1105]),
        ),
        (json!(1105), json!([["T1105"]])),
        (json!({"id": "T1105"}), json!(" , ")),
    ] {
        let mut rule = reference_rule();
        rule["primary_attack_id"] = primary.clone();
        rule["secondary_attack_id"] = secondary.clone();
        assert_eq!(indicator_bytes(&rule), plain, "{primary} {secondary}");
    }
    // A rule without a category: the techniques are its only tags; with
    // neither, it has no tags.
    let mut rule = json!({"uuid": "r", "category": null, "secondary_attack_id": "T1008"});
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    assert_eq!(
        indicator(&ctx, &rule).map(|indicator| indicator["tags"].clone()),
        Some(json!(["T1008"]))
    );
    rule["secondary_attack_id"] = json!("T10008");
    assert!(indicator(&ctx, &rule).is_some_and(|indicator| indicator.get("tags").is_none()));
}

#[test]
fn techniques_leave_sightings_as_they_were() {
    let plain = map_one(&reference_events()[2]);
    let mut event = reference_events()[2].clone();
    event["detection"]["rule"]["primary_attack_id"] = json!("T1105");
    event["detection"]["rule"]["secondary_attack_id"] = json!(["T1204.002"]);
    assert_eq!(map_one(&event), plain);
}

// --- the bundle ---------------------------------------------------------

#[test]
fn indicators_are_shared_across_observables() {
    let events = reference_events();
    let mut other = events[2].clone();
    other["observable"] = json!({"type": "ip", "value": "207.148.78.106"});
    let bundle = map_all(&[events, vec![other]]);
    assert_eq!(bundle["sightings"]["count"], json!(5));
    assert_eq!(bundle["indicators"]["count"], json!(1));
    assert_eq!(bundle["relationships"]["count"], json!(3));
    assert_eq!(
        bundle["relationships"]["docs"][2]["source_ref"],
        bundle["sightings"]["docs"][4]["id"]
    );
    assert_eq!(
        bundle["relationships"]["docs"][2]["target_ref"],
        bundle["indicators"]["docs"][0]["id"]
    );
}

#[test]
fn empty_bundle_is_an_empty_object_and_kinds_without_entities_are_absent() {
    assert!(Bundle::new().is_empty());
    assert_eq!(Bundle::new().into_json(), json!({}));
    assert_eq!(map_all(&[vec![], vec![]]), json!({}));

    let ids = counter();
    let mut bundle = Bundle::new();
    bundle.add_events(
        &Context {
            portal_url: PORTAL,
            new_id: &ids,
        },
        &reference_events()[..1],
    );
    assert!(!bundle.is_empty());
    let json = bundle.into_json();
    assert_eq!(
        json.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["sightings".to_owned()])
    );
    assert_eq!(json["sightings"]["count"], json!(1));
}

// --- refer links --------------------------------------------------------

#[test]
fn refer_links_for_every_supported_type() {
    for (kind, label) in [
        ("ip", "IP"),
        ("domain", "domain"),
        ("md5", "MD5"),
        ("sha1", "SHA1"),
        ("sha256", "SHA256"),
    ] {
        assert_eq!(
            ObservableType::parse(kind).map(|kind| refer_link(PORTAL, kind, "v-1.x")),
            Some(json!({
                "id": format!("ref-gti-search-{kind}-v-1.x"),
                "title": format!("Search for this {label}"),
                "description": format!("Lookup this {label} on Gigamon ThreatINSIGHT"),
                "url": "https://portal.icebrg.io/search?query=v-1.x",
                "categories": ["Search", "Gigamon ThreatINSIGHT"],
            })),
            "{kind}"
        );
    }
    // Other types are no observables of the relay's: they get no link.
    assert_eq!(ObservableType::parse("url"), None);
    assert_eq!(ObservableType::parse("IP"), None);
}

#[test]
fn refer_link_encodes_the_value_only_in_the_url() {
    let link = refer_link(PORTAL, ObservableType::Domain, "a&b#c d");
    assert_eq!(link["id"], json!("ref-gti-search-domain-a&b#c d"));
    assert_eq!(
        link["url"],
        json!("https://portal.icebrg.io/search?query=a%26b%23c+d")
    );
}

// --- robustness ---------------------------------------------------------

/// Odd values to put wherever GTI should have sent something sensible.
fn odd_values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1.5),
        json!(""),
        json!("dns"),
        json!("http"),
        json!([]),
        json!([null, 1, "x", {"ip": 3}]),
        json!({}),
        json!({"ip": null, "internal": "yes", "dhcp": {"account_code": null}, "domain": 7, "uri": [1]}),
    ]
}

/// Every field of a rule the mapper reads, for [`odd_json_never_panics`].
const RULE_FIELDS: [&str; 8] = [
    "uuid",
    "name",
    "severity",
    "confidence",
    "created",
    "category",
    "primary_attack_id",
    "secondary_attack_id",
];

// Long on purpose: one table of odd values crossed with every field the
// mapper reads, kept in one place so a new field cannot be missed.
#[test]
fn odd_json_never_panics() {
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    let fields = [
        "event_type",
        "uuid",
        "timestamp",
        "customer_id",
        "sensor_id",
        "observable",
        "detection",
        "src",
        "dst",
        "query",
        "answers",
        "host",
        "uri",
        "user_agent",
        "files",
        "method",
        "rejected",
    ];
    let mut bundle = Bundle::new();
    // Every odd value as a whole event, a rule, and in every field of
    // both a plain and a detected HTTP/DNS/x509 event.
    for odd in odd_values() {
        let _ = sighting(&ctx, &odd);
        let _ = indicator(&ctx, &odd);
        bundle.add_events(&ctx, std::slice::from_ref(&odd));
        for base in reference_events()
            .into_iter()
            .chain([json!({"event_type": "dns"}), json!({"event_type": "x509"})])
        {
            for field in fields {
                let mut event = base.clone();
                event[field] = odd.clone();
                bundle.add_events(&ctx, &[event.clone()]);
                for nested in ["rule", "summary", "account_uuid"] {
                    let mut detected = base.clone();
                    detected["detection"] = json!({"rule": {"uuid": "r"}});
                    detected["detection"][nested] = odd.clone();
                    bundle.add_events(&ctx, &[detected]);
                }
                for rule_field in RULE_FIELDS {
                    let mut rule = reference_events()[2]["detection"]["rule"].clone();
                    rule[rule_field] = odd.clone();
                    let _ = indicator(&ctx, &rule);
                }
            }
        }
    }
    let json = bundle.into_json();
    assert!(json["sightings"]["count"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn missing_everything_yields_a_bare_sighting() {
    let sighting = map_one(&json!({}));
    assert_eq!(
        sighting,
        json!({
            "type": "sighting", "confidence": "High", "count": 1, "internal": true,
            "source": "Gigamon ThreatINSIGHT", "schema_version": "1.0.17",
            "id": "transient:sighting-0", "observed_time": {},
        })
    );
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    assert_eq!(indicator(&ctx, &json!({"uuid": 5})), None);
    // A detection whose rule has no uuid: the sighting, nothing else.
    let bundle = map_all(&[vec![
        json!({"uuid": "e", "detection": {"rule": {"name": "n"}}}),
    ]]);
    assert_eq!(bundle.as_object().map(|o| o.len()), Some(1));
}
