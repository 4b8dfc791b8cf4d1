//! Property tests (proptest): hostile input never panics the payload parser,
//! the token checks, the mapper or the workflow's merge functions, and a few
//! invariants hold for any input. Small sizes and 256 cases per property
//! keep the suite quick; `make fuzz` explores much further.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use gti_relay::auth::{AuthError, Authenticator};
use gti_relay::config::Config;
use gti_relay::ctim::reference::Bundle;
use gti_relay::ctim::{quote_plus, refer_link, Context};
use gti_relay::gti::http_agent;
use gti_relay::gti::model::{
    Detection, DetectionEvent, DetectionIndicator, Detections, Event, ObjectOrNone, Rule, Verbatim,
    WireDhcpRecord,
};
use gti_relay::observable::{parse_observables, Observable, ObservableType};
use gti_relay::workflow::{
    dhcp_lookups, match_detection_events, select_events, DetectionInfo, DhcpIndex, FoundEvent,
    Settings, TEST_ACCOUNTS,
};
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Number, Value};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Shrinking a failure is worth little time here; the seed is printed.
        max_shrink_iters: 256,
        // A failure prints its minimal input; no files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Field names the relay reads, so generated objects hit real code paths.
const KEYS: &[&str] = &[
    "type",
    "value",
    "event_type",
    "uuid",
    "timestamp",
    "customer_id",
    "src",
    "dst",
    "ip",
    "internal",
    "dhcp",
    "account_code",
    "hostname",
    "mac",
    "query",
    "domain",
    "answers",
    "uri",
    "host",
    "user_agent",
    "method",
    "files",
    "md5",
    "sha256",
    "detection",
    "rule",
    "name",
    "severity",
    "account_uuid",
    "summary",
    "observable",
    "rejected",
    "alg",
    "kid",
    "typ",
    "crit",
    "jwks_host",
    "aud",
    "key",
    "exp",
    "nbf",
    "CTR_ENTITIES_LIMIT",
];

/// Values that steer code paths (event types, levels, URL shapes, hosts).
const STRINGS: &[&str] = &[
    "",
    "flow",
    "dns",
    "http",
    "x509",
    "ssh",
    "suricata",
    "GET",
    "high",
    "moderate",
    "ip",
    "domain",
    "true",
    "10.0.0.1",
    "dmo",
    "2026-01-01T00:00:00.000Z",
    "http://a.example/x;p?q#f",
    "//host/path;params",
    "upload.php",
    "[::1",
    "RS256",
    "none",
    "HS256",
    "JWT",
    "127.0.0.1:1",
    "visibility.amp.cisco.com",
];

const EVENT_TYPES: &[&str] = &["flow", "dns", "http", "ssl", "x509", "ssh", "suricata", ""];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEYS).prop_map(str::to_owned),
        1 => ".{0,6}",
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("not finite", |f| Number::from_f64(f).map(Value::Number)),
        ".{0,8}".prop_map(Value::String),
        select(STRINGS).prop_map(Value::from),
    ]
}

/// Any JSON value, at most three containers deep and a few dozen nodes.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(json_key(), inner, 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// A GTI event: a known `event_type` (or none) and fields the mapper reads,
/// holding any JSON.
fn gti_event() -> impl Strategy<Value = Value> {
    (
        proptest::option::weighted(0.9, select(EVENT_TYPES)),
        btree_map(select(KEYS), json_value(), 0..6),
    )
        .prop_map(|(event_type, fields)| {
            let mut event: Map<String, Value> = fields
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect();
            if let Some(event_type) = event_type {
                event.insert("event_type".to_owned(), json!(event_type));
            }
            Value::Object(event)
        })
}

// ---------------------------------------------------------------------------
// The payload parser
// ---------------------------------------------------------------------------

/// Ok, or the invalid-payload error with a JSON detail; nothing else.
fn parse_is_clean(body: &[u8]) -> Result<Vec<Observable>, TestCaseError> {
    match parse_observables(body) {
        Ok(observables) => Ok(observables),
        Err(detail) => {
            let detail = detail.to_string();
            prop_assert!(
                serde_json::from_str::<Value>(&detail).is_ok(),
                "detail is not JSON: {detail}"
            );
            Ok(Vec::new())
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn payload_parser_takes_any_bytes(body in vec(any::<u8>(), 0..256)) {
        parse_is_clean(&body)?;
    }

    #[test]
    fn payload_parser_takes_any_json(value in json_value()) {
        // Items of unsupported types are skipped: never more observables
        // than items.
        let observables = parse_is_clean(value.to_string().as_bytes())?;
        if !observables.is_empty() {
            prop_assert!(value.as_array().map(Vec::len) >= Some(observables.len()));
        }
    }

    #[test]
    fn payload_parser_takes_near_valid_items(
        items in vec(btree_map(json_key(), json_value(), 0..4), 0..5)
    ) {
        let body = Value::Array(items.into_iter().map(|m| Value::Object(m.into_iter().collect())).collect());
        parse_is_clean(body.to_string().as_bytes())?;
    }

    #[test]
    fn valid_observables_round_trip(
        pairs in vec((select(ObservableType::ALL.to_vec()), ".{1,24}"), 0..8),
        other in "[a-z_]{1,12}",
    ) {
        let observables: Vec<Observable> = pairs
            .into_iter()
            .map(|(kind, value)| Observable { kind, value })
            .collect();
        let body = serde_json::to_vec(&observables).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parse_observables(&body), Ok(observables.clone()));

        // A well-formed item of another type is skipped, wherever it stands.
        let mut items: Vec<Value> = observables.iter().map(|o| serde_json::to_value(o).unwrap()).collect();
        if ObservableType::parse(&other).is_none() {
            items.insert(items.len() / 2, json!({"type": other, "value": "x"}));
        }
        let body = Value::Array(items).to_string();
        prop_assert_eq!(parse_observables(body.as_bytes()), Ok(observables));
    }
}

// ---------------------------------------------------------------------------
// The token checks
// ---------------------------------------------------------------------------

/// An authenticator whose allow-list admits only `127.0.0.1:1`, where nothing
/// listens: no generated token can reach a real network or be accepted.
fn authenticator() -> &'static Authenticator {
    static AUTH: OnceLock<Authenticator> = OnceLock::new();
    AUTH.get_or_init(|| {
        let config = Config::from_vars([
            ("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks"),
            ("JWKS_ALLOWED_HOSTS", "127.0.0.1:1"),
            ("GTI_TIMEOUT_SECS", "2"),
        ])
        .unwrap();
        Authenticator::new(&config, http_agent(&config))
    })
}

fn authenticate(header: &str) -> Result<AuthError, TestCaseError> {
    match authenticator().authenticate(Some(header), "http://relay.test") {
        Ok(_) => Err(TestCaseError::fail(format!("accepted {header:?}"))),
        Err(error) => {
            prop_assert!(!error.message().is_empty());
            Ok(error)
        }
    }
}

fn base64url(bytes: &[u8]) -> Result<String, TestCaseError> {
    Base64UrlSafeNoPadding::encode_to_string(bytes).map_err(|e| TestCaseError::fail(e.to_string()))
}

/// A JWT header: any JSON object, usually with `alg` (mostly RS256).
fn jwt_header() -> impl Strategy<Value = Value> {
    (
        btree_map(json_key(), json_value(), 0..4),
        proptest::option::weighted(0.8, prop_oneof![3 => Just("RS256"), 1 => select(STRINGS)]),
    )
        .prop_map(|(fields, alg)| {
            let mut header: Map<String, Value> = fields.into_iter().collect();
            if let Some(alg) = alg {
                header.insert("alg".to_owned(), json!(alg));
            }
            Value::Object(header)
        })
}

/// A JWT payload: any JSON, objects usually with a `jwks_host`.
fn jwt_payload() -> impl Strategy<Value = Value> {
    (
        json_value(),
        proptest::option::weighted(0.7, select(STRINGS)),
    )
        .prop_map(|(mut payload, host)| {
            if let (Some(map), Some(host)) = (payload.as_object_mut(), host) {
                map.insert("jwks_host".to_owned(), json!(host));
            }
            payload
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_authorization_header_is_refused(header in ".{0,64}") {
        authenticate(&header)?;
    }

    #[test]
    fn any_bearer_token_is_refused(token in "[A-Za-z0-9_.=-]{1,96}") {
        let error = authenticate(&format!("Bearer {token}"))?;
        if !token.contains('.') {
            prop_assert_eq!(error, AuthError::WrongStructure);
        }
    }

    #[test]
    fn other_schemes_are_the_wrong_type(scheme in "[A-Za-z]{0,8}", token in "[A-Za-z0-9.]{1,16}") {
        prop_assume!(!scheme.eq_ignore_ascii_case("bearer"));
        prop_assert_eq!(authenticate(&format!("{scheme} {token}"))?, AuthError::WrongType);
    }

    #[test]
    fn forged_jwts_are_refused(
        header in jwt_header(),
        payload in jwt_payload(),
        signature in vec(any::<u8>(), 0..64),
    ) {
        let token = format!(
            "{}.{}.{}",
            base64url(header.to_string().as_bytes())?,
            base64url(payload.to_string().as_bytes())?,
            base64url(&signature)?,
        );
        let error = authenticate(&format!("Bearer {token}"))?;
        // The algorithm is pinned before anything else is looked at.
        if header.get("alg") != Some(&json!("RS256")) || !payload.is_object() {
            prop_assert_eq!(error, AuthError::WrongStructure);
        }
    }

    #[test]
    fn jwts_of_arbitrary_bytes_are_refused(parts in proptest::array::uniform3(vec(any::<u8>(), 0..48))) {
        let token = format!(
            "{}.{}.{}",
            base64url(&parts[0])?,
            base64url(&parts[1])?,
            base64url(&parts[2])?,
        );
        authenticate(&format!("Bearer {token}"))?;
    }
}

// ---------------------------------------------------------------------------
// The mapper
// ---------------------------------------------------------------------------

/// Percent-decodes `quote_plus` output (`+` is a space).
fn unquote_plus(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    Some(out)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mapper_makes_one_sighting_per_event(events in vec(gti_event(), 0..6)) {
        let counter = AtomicUsize::new(0);
        let new_id = |kind: &str| format!("transient:{kind}-{}", counter.fetch_add(1, Ordering::Relaxed));
        let ctx = Context { portal_url: "https://portal.icebrg.io", new_id: &new_id };
        let mut bundle = Bundle::new();
        bundle.add_events(&ctx, &events);
        let out = bundle.into_json();
        let _ = out.to_string();

        let count = |kind: &str| out.pointer(&format!("/{kind}/count")).and_then(Value::as_u64).unwrap_or(0);
        prop_assert_eq!(count("sightings"), events.len() as u64);
        prop_assert!(count("relationships") <= events.len() as u64);
        prop_assert!(count("indicators") <= count("relationships"));
        if let Some(docs) = out.pointer("/sightings/docs").and_then(Value::as_array) {
            prop_assert!(docs.iter().all(|doc| doc["type"] == "sighting"));
        }
    }

    #[test]
    fn quote_plus_is_url_safe_and_reversible(text in any::<String>()) {
        let quoted = quote_plus(&text);
        prop_assert!(
            quoted.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.~+%-".contains(&b)),
            "{}", quoted
        );
        prop_assert_eq!(unquote_plus(&quoted), Some(text.into_bytes()));
    }

    #[test]
    fn refer_links_quote_the_value(kind in select(&["ip", "domain", "md5", "sha1", "sha256", "url", ""][..]), value in any::<String>()) {
        let portal = "https://portal.icebrg.io";
        match ObservableType::parse(kind).map(|kind| refer_link(&format!("{portal}/"), kind, &value)) {
            Some(link) => {
                let expected = format!("{portal}/search?query={}", quote_plus(&value));
                prop_assert_eq!(link["url"].as_str(), Some(expected.as_str()));
            }
            None => prop_assert!(!["ip", "domain", "md5", "sha1", "sha256"].contains(&kind)),
        }
    }
}

// ---------------------------------------------------------------------------
// The workflow's merge functions
// ---------------------------------------------------------------------------

/// An event for the merge functions: few distinct uuids and timestamps (so
/// duplicates and ties happen), sometimes missing or of the wrong type.
fn merge_event(origin: &'static str) -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(Value::Null),
            (0u8..6).prop_map(|n| json!(format!("u{n}"))),
            json_leaf()
        ],
        prop_oneof![
            (0u8..5).prop_map(|n| json!(format!("2026-01-0{}T00:00:00.000Z", n + 1))),
            json_leaf(),
        ],
        select(
            &[
                "acme",
                "dmo",
                "chg",
                "6bc3d2f1-af77-4236-a9db-17dacd06e4d9",
                "",
            ][..],
        ),
        json_value(),
        json_value(),
    )
        .prop_map(move |(uuid, timestamp, customer, src, dst)| {
            let mut event =
                json!({"origin": origin, "customer_id": customer, "src": src, "dst": dst});
            for (field, value) in [("uuid", uuid), ("timestamp", timestamp)] {
                if !value.is_null() {
                    event[field] = value;
                }
            }
            event
        })
}

fn internal_endpoint() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just(json!(true)), json_leaf()],
        prop_oneof![
            (0u8..4).prop_map(|n| json!(format!("10.0.0.{n}"))),
            json_leaf()
        ],
    )
        .prop_map(|(internal, ip)| json!({"internal": internal, "ip": ip}))
}

fn timestamp(found: &FoundEvent) -> Option<&str> {
    found.event.timestamp()
}

/// GTI's types from generated JSON, read from text as the client reads them.
fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_str(&value.to_string()).expect("generated JSON fits the lenient types")
}

/// A detected event: marked by a detection, which searched events lack.
fn detected_event(value: &Value) -> FoundEvent {
    FoundEvent {
        event: typed(value),
        detection: Some(std::sync::Arc::new(DetectionInfo {
            account_uuid: None,
            rule: Default::default(),
            summary: None,
        })),
    }
}

fn detection_strategy() -> impl Strategy<Value = Detection> {
    (
        "d[0-3]",
        select(&["acme", "dmo", "other"][..]),
        proptest::option::of("10\\.0\\.0\\.[0-3]"),
        "r[0-2]",
        vec(
            (
                select(
                    &[
                        "dst.ip",
                        "http:host.domain",
                        "http:files.sha256",
                        "src.port",
                        "query.domain",
                        "",
                    ][..],
                ),
                vec(json_leaf(), 0..3),
            ),
            0..3,
        ),
    )
        .prop_map(
            |(uuid, account, device_ip, rule_uuid, indicators)| Detection {
                uuid,
                account_uuid: account.to_owned(),
                device_ip,
                rule_uuid,
                indicators: indicators
                    .into_iter()
                    .map(|(field, values)| DetectionIndicator {
                        field: field.to_owned(),
                        values: values.iter().map(typed::<Verbatim>).collect(),
                    })
                    .collect(),
                first_seen: None,
                created: None,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn select_events_respects_the_limit_and_the_order(
        detected in vec(merge_event("detected"), 0..6),
        windows in vec(vec(merge_event("searched"), 0..6), 0..4),
        limit in 0usize..12,
        allow_test_accounts in any::<bool>(),
    ) {
        let settings = Settings { entities_limit: limit, allow_test_accounts, windows: Vec::new(), enrich: false };
        let detected_uuids: HashSet<String> = detected
            .iter()
            .filter_map(|e| e.get("uuid").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let detected = detected.iter().map(detected_event).collect();
        let windows = windows
            .iter()
            .map(|window| Ok(window.iter().map(typed::<Event>).collect()))
            .collect();
        let (events, shortfall) = select_events(detected, windows, &settings);
        prop_assert_eq!(shortfall, None);

        prop_assert!(events.len() <= limit);
        for pair in events.windows(2) {
            prop_assert!(timestamp(&pair[0]) >= timestamp(&pair[1]), "{:?}", pair);
        }
        let mut searched_uuids = HashSet::new();
        for found in events.iter().filter(|found| found.detection.is_none()) {
            let customer = found.event.customer_id().unwrap_or_default();
            prop_assert!(allow_test_accounts || !TEST_ACCOUNTS.contains(&customer));
            if let Some(uuid) = found.event.uuid() {
                prop_assert!(!detected_uuids.contains(uuid), "{} taken twice", uuid);
                prop_assert!(searched_uuids.insert(uuid.to_owned()), "{} taken twice", uuid);
            }
        }
    }

    #[test]
    fn match_detection_events_keeps_matches_newest_first(
        detections in vec(detection_strategy(), 0..4),
        rules in vec(prop_oneof![
            "r[0-2]".prop_map(|uuid| json!({"uuid": uuid, "name": "rule"})),
            json_value(),
        ], 0..4),
        events in vec(vec(prop_oneof![merge_event("detected"), gti_event()], 0..4), 0..5),
        value in prop_oneof![Just("10.0.0.1".to_owned()), ".{0,4}"],
    ) {
        let total: usize = events.iter().map(Vec::len).sum();
        let rules = rules.iter().map(typed::<ObjectOrNone<Rule>>).collect();
        let detections = Detections { detections, rules };
        let events = events
            .iter()
            .map(|events| {
                events
                    .iter()
                    .map(|event| DetectionEvent::from_json(&event.to_string()).expect("an object"))
                    .collect()
            })
            .collect();
        let allowed: Vec<&Detection> = detections.detections.iter().collect();
        let matched = match_detection_events(&detections, &allowed, events, &value);
        prop_assert!(matched.len() <= total);
        for pair in matched.windows(2) {
            prop_assert!(timestamp(&pair[0]) >= timestamp(&pair[1]));
        }
        prop_assert!(matched.iter().all(|found| found.detection.is_some()));
    }

    #[test]
    fn dhcp_lookups_and_attach_never_panic(
        events in vec(
            (prop_oneof![internal_endpoint(), json_value()], prop_oneof![internal_endpoint(), json_value()], merge_event("searched"))
                .prop_map(|(src, dst, mut event)| {
                    if let Some(map) = event.as_object_mut() {
                        map.insert("src".to_owned(), src);
                        map.insert("dst".to_owned(), dst);
                    }
                    event
                }),
            0..6,
        ),
        records in vec(prop_oneof![
            (0u8..4).prop_map(|n| json!({"ip": format!("10.0.0.{n}"), "hostname": "h"})),
            json_value(),
        ], 0..6),
    ) {
        let events: Vec<Event> = events.iter().map(typed).collect();
        let lookups = dhcp_lookups(&events);
        let ips: HashSet<&str> = lookups.iter().map(|lookup| lookup.ip.as_str()).collect();
        prop_assert_eq!(ips.len(), lookups.len(), "one look-up per IP");
        prop_assert!(lookups.len() <= 2 * events.len());
        let records = records
            .iter()
            .filter_map(|record| typed::<ObjectOrNone<WireDhcpRecord>>(record).0?.checked())
            .collect();
        let index = DhcpIndex::new(records);
        for side in events.iter().flat_map(Event::sides) {
            let found = index.of(side);
            // Records only for an internal end, and only of its own IP.
            prop_assert!(found.is_empty() || side.and_then(|side| side.internal.get()).and_then(Verbatim::as_bool) == Some(true));
            prop_assert!(found.iter().all(|record| Some(record.ip.as_str()) == side.and_then(|side| side.ip())));
        }
    }
}
