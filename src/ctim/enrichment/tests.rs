//! The enrichment sightings from entity v1 answers as GTI sends them
//! (decoded as the client decodes them), compared with golden CTIM.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

use super::enrichment_sightings;
use crate::ctim::reference::Parts;
use crate::ctim::{Answer, Context, Enrichment, Fragment};
use crate::encoding::quote_plus;
use crate::gti::{Decode, EntitySummary, FileSummary, PdnsRecord};
use crate::observable::{Observable, ObservableType};

const PORTAL: &str = "https://portal.icebrg.io";
const SHA256: &str = "9ffc7e4333d3be11b244d5f83b02ebcd194a671539f7faf1b5597d9209cc25c3";
const SHA1: &str = "36c5d12033b2eaf251bae61c00690ffb17fddc87";
const MD5: &str = "908b64b1971a979c7e3e8ce4621945cb";

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

fn observable(kind: ObservableType, value: &str) -> Observable {
    Observable {
        kind,
        value: value.to_owned(),
    }
}

fn ip() -> Observable {
    observable(ObservableType::Ip, "8.8.8.8")
}

fn domain() -> Observable {
    observable(ObservableType::Domain, "example.com")
}

fn summary(answer: &str) -> Option<EntitySummary> {
    Option::<EntitySummary>::decode(answer.as_bytes()).expect("a summary answer")
}

fn pdns(answer: &str) -> Vec<PdnsRecord> {
    Vec::<PdnsRecord>::decode(answer.as_bytes()).expect("a passive DNS answer")
}

fn file(answer: &str) -> Option<FileSummary> {
    Option::<FileSummary>::decode(answer.as_bytes()).expect("a file answer")
}

fn map(observable: &Observable, enrichment: &Enrichment) -> Vec<Value> {
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    enrichment_sightings(&ctx, observable, enrichment)
        .iter()
        .map(|sighting| serde_json::to_value(sighting).expect("serialisable"))
        .collect()
}

/// The one sighting of `enrichment`.
fn only(observable: &Observable, enrichment: &Enrichment) -> Value {
    let mut sightings = map(observable, enrichment);
    assert_eq!(sightings.len(), 1, "{sightings:#?}");
    sightings.remove(0)
}

/// What every enrichment sighting of `observable` holds, `fields` added.
fn golden(observable: &Observable, fields: Value) -> Value {
    let mut doc = json!({
        "confidence": "High",
        "id": "transient:sighting-0",
        "schema_version": "1.0.17",
        "sensor": "network.sensor",
        "source": "Gigamon ThreatINSIGHT",
        "source_uri": format!("{PORTAL}/search?query={}", quote_plus(&observable.value)),
        "type": "sighting",
    });
    for (name, value) in fields.as_object().expect("fields").clone() {
        doc[name] = value;
    }
    doc
}

fn resolved_to(source: (&str, &str), related: (&str, &str)) -> Value {
    json!({
        "origin": "Gigamon ThreatINSIGHT Passive DNS",
        "related": {"type": related.0, "value": related.1},
        "relation": "Resolved_To",
        "source": {"type": source.0, "value": source.1},
    })
}

fn pdns_columns() -> Value {
    let names = [
        "resolved",
        "record_type",
        "first_seen",
        "last_seen",
        "sensor_id",
    ];
    names
        .iter()
        .map(|name| json!({"name": name, "type": "string"}))
        .collect()
}

// --- none --------------------------------------------------------------

#[test]
fn an_empty_enrichment_gives_no_sighting() {
    for observable in [ip(), domain(), observable(ObservableType::Sha256, SHA256)] {
        assert_eq!(
            map(&observable, &Enrichment::default()),
            Vec::<Value>::new()
        );
    }
}

#[test]
fn null_ish_answers_give_no_sighting() {
    for answer in [
        r#"{"summary":{}}"#,
        r#"{"summary":{"first_seen":null,"last_seen":"2026-01-01T00:00:00.000Z"}}"#,
        r#"{"summary":{"first_seen":"","prevalence_count_internal":3}}"#,
        r#"{"summary":{"first_seen":17,"tags":[{"text":"x"}]}}"#,
    ] {
        let enrichment = Enrichment {
            summary: summary(answer),
            ..Enrichment::default()
        };
        assert!(enrichment.summary.is_some(), "{answer}");
        assert_eq!(map(&ip(), &enrichment), Vec::<Value>::new(), "{answer}");
    }
    for answer in [r#"{"summary":null}"#, "{}", r#"{"summary":[1]}"#] {
        assert_eq!(summary(answer), None, "{answer}");
    }
    for answer in [r#"{"passivedns":[]}"#, r#"{"passivedns":null}"#, "{}"] {
        let enrichment = Enrichment {
            passive_dns: pdns(answer),
            ..Enrichment::default()
        };
        assert_eq!(map(&domain(), &enrichment), Vec::<Value>::new(), "{answer}");
    }
    for answer in [
        r#"{"file":{}}"#,
        r#"{"file":{"first_seen":null,"names":["a.exe"],"bytes":3}}"#,
    ] {
        let enrichment = Enrichment {
            file: file(answer),
            ..Enrichment::default()
        };
        let hash = observable(ObservableType::Md5, MD5);
        assert_eq!(map(&hash, &enrichment), Vec::<Value>::new(), "{answer}");
    }
}

// --- entity summary ---------------------------------------------------

#[test]
fn minimal_entity_summary() {
    let enrichment = Enrichment {
        summary: summary(r#"{"summary":{"first_seen":"2026-01-02T03:04:05.678Z"}}"#),
        ..Enrichment::default()
    };
    let expected = golden(
        &domain(),
        json!({
            "count": 1,
            "description": "- First seen: 2026-01-02T03:04:05.678Z",
            "observables": [{"type": "domain", "value": "example.com"}],
            "observed_time": {
                "end_time": "2026-01-02T03:04:05.678Z",
                "start_time": "2026-01-02T03:04:05.678Z",
            },
            "title": "Entity summary of example.com in Gigamon ThreatINSIGHT",
        }),
    );
    assert_eq!(only(&domain(), &enrichment), expected);
}

#[test]
fn full_entity_summary_field_for_field_and_in_order() {
    let enrichment = Enrichment {
        summary: summary(
            r#"{"summary":{"entity":"8.8.8.8","first_seen":"2025-11-02T08:00:00.000Z",
                "last_seen":"2026-01-15T10:30:00.000Z","prevalence_count_internal":42,
                "tags":[{"text":"dns"},{"text":"public-resolver"},{"text":""},null,{"text":7}],
                "something_new":true}}"#,
        ),
        ..Enrichment::default()
    };
    let expected = golden(
        &ip(),
        json!({
            "count": 42,
            "description": "- First seen: 2025-11-02T08:00:00.000Z\n\
                            - Last seen: 2026-01-15T10:30:00.000Z\n\
                            - Internal prevalence: 42\n\
                            - Tags: `dns`, `public-resolver`",
            "observables": [{"type": "ip", "value": "8.8.8.8"}],
            "observed_time": {
                "end_time": "2026-01-15T10:30:00.000Z",
                "start_time": "2025-11-02T08:00:00.000Z",
            },
            "title": "Entity summary of 8.8.8.8 in Gigamon ThreatINSIGHT",
        }),
    );
    let ids = counter();
    let ctx = Context {
        portal_url: PORTAL,
        new_id: &ids,
    };
    let observable = ip();
    let sightings = enrichment_sightings(&ctx, &observable, &enrichment);
    let text = serde_json::to_string(&sightings[0]).unwrap();
    // `Value` sorts its keys: equal text means the struct writes them in
    // alphabetical order too, as every other sighting does.
    assert_eq!(text, expected.to_string());
}

#[test]
fn prevalence_counts_when_a_positive_integer_or_digits() {
    for (prevalence, count) in [
        ("\"12\"", 12),
        ("12", 12),
        ("1", 1),
        ("\"0\"", 1),
        ("0", 1),
        ("-3", 1),
        ("2.5", 1),
        ("\"x\"", 1),
        ("\"\"", 1),
        ("null", 1),
    ] {
        let summary_answer = format!(
            r#"{{"summary":{{"first_seen":"2026-01-01T00:00:00.000Z",
                "prevalence_count_internal":{prevalence}}}}}"#
        );
        let file_answer = summary_answer.replace("summary", "file");
        let enrichment = Enrichment {
            summary: summary(&summary_answer),
            file: file(&file_answer),
            ..Enrichment::default()
        };
        let sightings = map(&ip(), &enrichment);
        assert_eq!(sightings.len(), 2, "{prevalence}");
        for sighting in sightings {
            assert_eq!(sighting["count"], json!(count), "{prevalence}");
            let described = sighting["description"]
                .as_str()
                .unwrap()
                .contains("Internal prevalence");
            assert_eq!(described, count > 1 || prevalence == "1", "{prevalence}");
        }
    }
}

#[test]
fn text_is_fenced_so_that_gti_cannot_break_the_markdown() {
    let enrichment = Enrichment {
        summary: summary(
            r#"{"summary":{"first_seen":"2026-01-01T00:00:00.000Z",
                "tags":[{"text":"a`b"},{"text":"``c"}]}}"#,
        ),
        ..Enrichment::default()
    };
    assert_eq!(
        only(&ip(), &enrichment)["description"],
        "- First seen: 2026-01-01T00:00:00.000Z\n- Tags: `` a`b ``, ``` ``c ```"
    );
}

// --- passive DNS ------------------------------------------------------

#[test]
fn passive_dns_of_a_domain() {
    let enrichment = Enrichment {
        passive_dns: pdns(
            r#"{"passivedns":[
                {"resolved":"93.184.216.34","record_type":"A","first_seen":"2025-12-01T00:00:00.000Z",
                 "last_seen":"2026-01-10T00:00:00.000Z","source":"icebrg_dns","sensor_id":"sen1",
                 "account_uuid":"acc","customer_id":"cust"},
                {"resolved":"2606:2800:220:1:248:1893:25c8:1946","record_type":"AAAA",
                 "first_seen":"2025-11-01T00:00:00.000Z","last_seen":"2026-01-09T00:00:00.000Z",
                 "source":"icebrg_dns","sensor_id":"sen2"},
                {"resolved":"edge.example.net","record_type":"CNAME",
                 "first_seen":"2025-12-15T00:00:00.000Z","last_seen":"2026-01-08T00:00:00.000Z",
                 "source":"icebrg_dns","sensor_id":null}
            ]}"#,
        ),
        ..Enrichment::default()
    };
    let expected = golden(
        &domain(),
        json!({
            "count": 3,
            "data": {
                "columns": pdns_columns(),
                "rows": [
                    ["93.184.216.34", "A", "2025-12-01T00:00:00.000Z",
                     "2026-01-10T00:00:00.000Z", "sen1"],
                    ["2606:2800:220:1:248:1893:25c8:1946", "AAAA", "2025-11-01T00:00:00.000Z",
                     "2026-01-09T00:00:00.000Z", "sen2"],
                    ["edge.example.net", "CNAME", "2025-12-15T00:00:00.000Z",
                     "2026-01-08T00:00:00.000Z", null],
                ],
            },
            "description": "- Records: 3\n- Record types: `A`, `AAAA`, `CNAME`",
            "observables": [{"type": "domain", "value": "example.com"}],
            "observed_time": {
                "end_time": "2026-01-10T00:00:00.000Z",
                "start_time": "2025-11-01T00:00:00.000Z",
            },
            "relations": [
                resolved_to(("domain", "example.com"), ("ip", "93.184.216.34")),
                resolved_to(
                    ("domain", "example.com"),
                    ("ipv6", "2606:2800:220:1:248:1893:25c8:1946"),
                ),
                resolved_to(("domain", "example.com"), ("domain", "edge.example.net")),
            ],
            "title": "Passive DNS of example.com in Gigamon ThreatINSIGHT",
        }),
    );
    assert_eq!(only(&domain(), &enrichment), expected);
}

#[test]
fn passive_dns_of_an_ip_points_from_the_domain() {
    let enrichment = Enrichment {
        passive_dns: pdns(
            r#"{"passivedns":[
                {"resolved":"dns.google","record_type":"A","first_seen":"2025-01-01T00:00:00.000Z",
                 "last_seen":"2026-01-01T00:00:00.000Z","sensor_id":"sen1"},
                {"resolved":"dns.google.com","record_type":"A","first_seen":"2025-02-01T00:00:00.000Z",
                 "last_seen":"2025-12-01T00:00:00.000Z","sensor_id":"sen1"}
            ]}"#,
        ),
        ..Enrichment::default()
    };
    let sighting = only(&ip(), &enrichment);
    assert_eq!(
        sighting["relations"],
        json!([
            resolved_to(("domain", "dns.google"), ("ip", "8.8.8.8")),
            resolved_to(("domain", "dns.google.com"), ("ip", "8.8.8.8")),
        ])
    );
    assert_eq!(sighting["count"], 2);
    assert_eq!(
        sighting["title"],
        "Passive DNS of 8.8.8.8 in Gigamon ThreatINSIGHT"
    );
    assert_eq!(
        sighting["source_uri"],
        format!("{PORTAL}/search?query=8.8.8.8")
    );
    assert_eq!(
        sighting["observed_time"],
        json!({"end_time": "2026-01-01T00:00:00.000Z", "start_time": "2025-01-01T00:00:00.000Z"})
    );

    let ipv6 = observable(ObservableType::Ip, "2001:4860:4860::8888");
    let sighting = only(&ipv6, &enrichment);
    assert_eq!(
        sighting["relations"][0],
        resolved_to(("domain", "dns.google"), ("ip", "2001:4860:4860::8888"))
    );
    assert_eq!(
        sighting["source_uri"],
        format!("{PORTAL}/search?query=2001%3A4860%3A4860%3A%3A8888")
    );
}

#[test]
fn odd_record_types_are_shown_as_given_and_listed_once_in_upper_case() {
    let enrichment = Enrichment {
        passive_dns: pdns(
            r#"{"passivedns":[
                {"resolved":"a.example.net","record_type":"cname","last_seen":"2026-01-04T00:00:00.000Z"},
                {"resolved":"2001:db8::1","record_type":"AAAA","last_seen":"2026-01-03T00:00:00.000Z"},
                {"resolved":"mail.example.com","record_type":"Mx","last_seen":"2026-01-02T00:00:00.000Z"},
                {"resolved":"b.example.net","record_type":"CNAME","last_seen":"2026-01-01T00:00:00.000Z"},
                {"resolved":"c.example.net","record_type":"","last_seen":"2026-01-01T00:00:00.000Z"},
                {"resolved":"d.example.net","record_type":16,"last_seen":"2026-01-01T00:00:00.000Z"}
            ]}"#,
        ),
        ..Enrichment::default()
    };
    let sighting = only(&domain(), &enrichment);
    assert_eq!(
        sighting["description"],
        "- Records: 6\n- Record types: `CNAME`, `AAAA`, `MX`"
    );
    let types: Vec<&Value> = sighting["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row[1])
        .collect();
    assert_eq!(
        types,
        [
            &json!("cname"),
            &json!("AAAA"),
            &json!("Mx"),
            &json!("CNAME"),
            &json!(""),
            &Value::Null
        ]
    );
    let related: Vec<&Value> = sighting["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|relation| &relation["related"]["type"])
        .collect();
    assert_eq!(
        related,
        ["domain", "ipv6", "domain", "domain", "domain", "domain"]
    );
}

#[test]
fn records_without_times_or_resolved_values() {
    let enrichment = Enrichment {
        passive_dns: pdns(
            r#"{"passivedns":[
                {"resolved":"a.example.net","record_type":"A"},
                {"resolved":"b.example.net","first_seen":"2025-06-01T00:00:00.000Z"},
                {"resolved":null,"record_type":"A","first_seen":"2025-07-01T00:00:00.000Z",
                 "last_seen":"2025-08-01T00:00:00.000Z"},
                {"record_type":"A","last_seen":"2025-09-01T00:00:00.000Z","sensor_id":"sen9"}
            ]}"#,
        ),
        ..Enrichment::default()
    };
    let sighting = only(&domain(), &enrichment);
    assert_eq!(sighting["count"], 4);
    assert_eq!(
        sighting["observed_time"],
        json!({"end_time": "2025-09-01T00:00:00.000Z", "start_time": "2025-06-01T00:00:00.000Z"})
    );
    assert_eq!(
        sighting["data"]["rows"],
        json!([
            ["a.example.net", "A", null, null, null],
            [
                "b.example.net",
                null,
                "2025-06-01T00:00:00.000Z",
                null,
                null
            ],
            [
                null,
                "A",
                "2025-07-01T00:00:00.000Z",
                "2025-08-01T00:00:00.000Z",
                null
            ],
            [null, "A", null, "2025-09-01T00:00:00.000Z", "sen9"],
        ])
    );
    assert_eq!(
        sighting["relations"],
        json!([
            resolved_to(("domain", "example.com"), ("domain", "a.example.net")),
            resolved_to(("domain", "example.com"), ("domain", "b.example.net")),
        ])
    );
}

#[test]
fn each_end_of_the_time_falls_back_on_the_other_kind_of_time() {
    // Only first sightings, only last ones, none at all.
    for (records, observed_time) in [
        (
            r#"[{"resolved":"a.example.net","first_seen":"2025-06-02T00:00:00.000Z"},
                {"resolved":"b.example.net","first_seen":"2025-06-01T00:00:00.000Z"}]"#,
            json!({"end_time": "2025-06-02T00:00:00.000Z", "start_time": "2025-06-01T00:00:00.000Z"}),
        ),
        (
            r#"[{"resolved":"a.example.net","last_seen":"2025-06-02T00:00:00.000Z"},
                {"resolved":"b.example.net","last_seen":"2025-06-01T00:00:00.000Z"}]"#,
            json!({"end_time": "2025-06-02T00:00:00.000Z", "start_time": "2025-06-01T00:00:00.000Z"}),
        ),
        (r#"[{"resolved":"a.example.net"}]"#, json!({})),
    ] {
        let enrichment = Enrichment {
            passive_dns: pdns(&format!(r#"{{"passivedns":{records}}}"#)),
            ..Enrichment::default()
        };
        assert_eq!(
            only(&domain(), &enrichment)["observed_time"],
            observed_time,
            "{records}"
        );
    }
}

// --- file summary -----------------------------------------------------

#[test]
fn minimal_file_summary() {
    let hash = observable(ObservableType::Sha1, SHA1);
    let enrichment = Enrichment {
        file: file(r#"{"file":{"first_seen":"2026-01-02T00:00:00.000Z","sha1":null}}"#),
        ..Enrichment::default()
    };
    let expected = golden(
        &hash,
        json!({
            "count": 1,
            "description": "- First seen: 2026-01-02T00:00:00.000Z",
            "observables": [{"type": "sha1", "value": SHA1}],
            "observed_time": {
                "end_time": "2026-01-02T00:00:00.000Z",
                "start_time": "2026-01-02T00:00:00.000Z",
            },
            "title": format!("File summary of {SHA1} in Gigamon ThreatINSIGHT"),
        }),
    );
    assert_eq!(only(&hash, &enrichment), expected);
}

/// A file GTI knows well: all three hashes, names, MIME types, PE facts.
fn full_file() -> Enrichment {
    let answer = format!(
        r#"{{"file":{{"entity":"{SHA256}","first_seen":"2025-03-01T00:00:00.000Z",
            "last_seen":"2026-01-20T00:00:00.000Z","bytes":"73802",
            "mime_type":["application/x-dosexec","",null,"application/octet-stream"],
            "names":["setup.exe","SETUP~1.EXE","",4],
            "md5":"{MD5}","sha1":"{SHA1}","sha256":"{SHA256}",
            "prevalence_count_internal":"3",
            "pe":{{"compile_time":"2019-07-11T08:12:00Z","imphash":"f34d5f2d4577ed6d9ceec516c1f5a744",
                   "number_of_sections":5,"is_dll":false,"sections":[".text"],"rich":{{"a":1}},
                   "signer":null,"comment":""}}}}}}"#
    );
    Enrichment {
        file: file(&answer),
        ..Enrichment::default()
    }
}

#[test]
fn file_summary_with_other_hashes_names_and_pe_facts() {
    let hash = observable(ObservableType::Sha256, SHA256);
    let enrichment = full_file();
    let name_of = |name: &str| {
        json!({
            "origin": "Gigamon ThreatINSIGHT",
            "related": {"type": "sha256", "value": SHA256},
            "relation": "File_Name_Of",
            "source": {"type": "file_name", "value": name},
        })
    };
    let expected = golden(
        &hash,
        json!({
            "count": 3,
            "description": "- First seen: 2025-03-01T00:00:00.000Z\n\
                            - Last seen: 2026-01-20T00:00:00.000Z\n\
                            - Internal prevalence: 3\n\
                            - Size: 73802 bytes\n\
                            - MIME types: `application/x-dosexec`, `application/octet-stream`\n\
                            - Names: `setup.exe`, `SETUP~1.EXE`\n\
                            - PE:\n  \
                              - compile_time: `2019-07-11T08:12:00Z`\n  \
                              - imphash: `f34d5f2d4577ed6d9ceec516c1f5a744`\n  \
                              - is_dll: `false`\n  \
                              - number_of_sections: `5`",
            "observables": [
                {"type": "sha256", "value": SHA256},
                {"type": "md5", "value": MD5},
                {"type": "sha1", "value": SHA1},
            ],
            "observed_time": {
                "end_time": "2026-01-20T00:00:00.000Z",
                "start_time": "2025-03-01T00:00:00.000Z",
            },
            "relations": [name_of("setup.exe"), name_of("SETUP~1.EXE")],
            "title": format!("File summary of {SHA256} in Gigamon ThreatINSIGHT"),
        }),
    );
    assert_eq!(only(&hash, &enrichment), expected);
}

#[test]
fn a_file_looked_up_by_another_hash_lists_the_others_after_it() {
    let enrichment = full_file();
    // Looked up by its MD5 (in another case than GTI's), the file lists its
    // SHA-1 and SHA-256 after it, and its names point at the MD5 asked for.
    let by_md5 = observable(ObservableType::Md5, &MD5.to_uppercase());
    let sighting = only(&by_md5, &enrichment);
    assert_eq!(
        sighting["observables"],
        json!([
            {"type": "md5", "value": MD5.to_uppercase()},
            {"type": "sha1", "value": SHA1},
            {"type": "sha256", "value": SHA256},
        ])
    );
    assert_eq!(
        sighting["relations"][0]["related"],
        json!({"type": "md5", "value": MD5.to_uppercase()})
    );
}

#[test]
fn a_file_without_pe_facts_says_nothing_of_pe() {
    let hash = observable(ObservableType::Md5, MD5);
    for pe in ["null", "[1]", r#"{"sections":[],"signer":null}"#] {
        let answer = format!(
            r#"{{"file":{{"first_seen":"2025-03-01T00:00:00.000Z","bytes":0,"pe":{pe}}}}}"#
        );
        let enrichment = Enrichment {
            file: file(&answer),
            ..Enrichment::default()
        };
        assert_eq!(
            only(&hash, &enrichment)["description"],
            "- First seen: 2025-03-01T00:00:00.000Z\n- Size: 0 bytes",
            "{pe}"
        );
    }
}

// --- together ---------------------------------------------------------

#[test]
fn all_three_in_order_with_ids_in_that_order() {
    let enrichment = Enrichment {
        summary: summary(r#"{"summary":{"first_seen":"2026-01-01T00:00:00.000Z"}}"#),
        passive_dns: pdns(r#"{"passivedns":[{"resolved":"a.example.net"}]}"#),
        file: file(r#"{"file":{"first_seen":"2026-01-01T00:00:00.000Z"}}"#),
    };
    let sightings = map(&domain(), &enrichment);
    let heads: Vec<(&str, &str)> = sightings
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["title"].as_str().unwrap()))
        .collect();
    assert_eq!(
        heads,
        [
            (
                "transient:sighting-0",
                "Entity summary of example.com in Gigamon ThreatINSIGHT"
            ),
            (
                "transient:sighting-1",
                "Passive DNS of example.com in Gigamon ThreatINSIGHT"
            ),
            (
                "transient:sighting-2",
                "File summary of example.com in Gigamon ThreatINSIGHT"
            ),
        ]
    );
}

fn reference_parts() -> Vec<Parts> {
    let events: Value = serde_json::from_str(include_str!(
        "../../../tests/fixtures/reference/workflow/events_for_observable.json"
    ))
    .unwrap();
    events.as_array().unwrap().iter().map(Parts::of).collect()
}

fn answer_of(fragment: Fragment) -> Value {
    serde_json::from_slice(&Answer::new(vec![fragment], &[]).to_vec()).unwrap()
}

#[test]
fn the_fragment_puts_enrichment_first_and_an_empty_one_changes_nothing() {
    let parts = reference_parts();
    let hash = parts[0].observable.clone().unwrap();
    let fragment = |enrichment: Option<&Enrichment>| {
        let ids = counter();
        let ctx = Context {
            portal_url: PORTAL,
            new_id: &ids,
        };
        let events = parts.iter().map(Parts::enriched);
        match enrichment {
            Some(enrichment) => Fragment::map_observable(&ctx, &hash, enrichment, events),
            None => Fragment::map(&ctx, events),
        }
    };
    let bytes = |fragment| Answer::new(vec![fragment], &[]).to_vec();
    let plain = bytes(fragment(None));
    assert_eq!(bytes(fragment(Some(&Enrichment::default()))), plain);

    let enrichment = Enrichment {
        file: file(r#"{"file":{"first_seen":"2026-01-01T00:00:00.000Z","names":["x.bin"]}}"#),
        ..Enrichment::default()
    };
    let enriched = answer_of(fragment(Some(&enrichment)));
    let plain: Value = serde_json::from_slice(&plain).unwrap();
    let docs = enriched["data"]["sightings"]["docs"].as_array().unwrap();
    assert_eq!(enriched["data"]["sightings"]["count"], 5);
    assert!(docs[0]["title"]
        .as_str()
        .unwrap()
        .starts_with("File summary"));
    // The event sightings follow, as they were but for their ids (the
    // enrichment took the first one), and their relationships still point
    // at them.
    let plain_docs = plain["data"]["sightings"]["docs"].as_array().unwrap();
    for (ours, theirs) in docs[1..].iter().zip(plain_docs) {
        let mut ours = ours.clone();
        ours["id"] = theirs["id"].clone();
        assert_eq!(&ours, theirs);
    }
    let relationships = enriched["data"]["relationships"]["docs"]
        .as_array()
        .unwrap();
    let sources: Vec<&Value> = relationships.iter().map(|r| &r["source_ref"]).collect();
    assert_eq!(sources, [&docs[3]["id"], &docs[4]["id"]]);
    assert_eq!(enriched["data"]["indicators"], plain["data"]["indicators"]);
}
