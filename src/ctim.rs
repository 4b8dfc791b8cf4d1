//! Pure GTI → CTIM mapping: sightings, indicators, relationships and the
//! bundle that groups them. No I/O, no clock, no randomness of its own.
//!
//! The input is what the workflow hands over: GTI events enriched exactly as
//! the reference relay enriches them (`observable`, optional `detection` with
//! its `rule`, `account_uuid` and `summary`, optional `src.dhcp`/`dst.dhcp`).
//! Every field mirrors the reference's `mappings.py`; its unit-test fixtures
//! (copied under `tests/fixtures/reference/`) are the golden files.
//!
//! GTI data is loosely typed and this module must never panic on it, so the
//! events stay `serde_json::Value`s read with `get`. Where the reference would
//! crash on a missing or odd field (a `KeyError`, `None.upper()`, …) we follow
//! one rule instead:
//!
//! * a value copied verbatim (timestamp, sensor, rule description, table
//!   cells, …) is left out when missing or null — table cells become null
//!   instead, so every row keeps its columns;
//! * text that is built into a string, an id or a URL (event type, uuids,
//!   rule name, IPs and other observable values) must be a JSON string,
//!   otherwise the piece that needs it (description line, external id or
//!   reference, relation, target) is left out;
//! * an unknown severity or confidence leaves that field out.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

/// The CTIM schema version the reference stamps on every entity.
const SCHEMA_VERSION: &str = "1.0.17";

/// `source`, `producer`, `origin` and `source_name` of every entity.
const SOURCE: &str = "Gigamon ThreatINSIGHT";

/// What varies between calls of the mapper: where the UI lives and how
/// transient ids are made. Everything else is a pure function of GTI data.
pub struct Context<'a> {
    /// The GTI portal, e.g. `https://portal.icebrg.io` (a trailing `/` is
    /// tolerated). Links are `{portal}/search?query=…` and
    /// `{portal}/detections/rules/{uuid}[?account_uuid=…]`.
    pub portal_url: &'a str,
    /// Makes a fresh transient id for an entity type (`"sighting"`,
    /// `"relationship"`): production passes [`random_id`], tests a
    /// deterministic counter.
    pub new_id: &'a (dyn Fn(&str) -> String + Sync),
}

impl Context<'_> {
    fn portal(&self) -> &str {
        trim_portal(self.portal_url)
    }
}

/// A random transient id, `transient:<entity_type>-<uuid4>`, as the reference
/// makes them.
pub fn random_id(entity_type: &str) -> String {
    format!("transient:{entity_type}-{}", uuid::Uuid::new_v4())
}

/// The deterministic id of the indicator for a rule: the same rule always
/// yields the same indicator, which lets sightings of several observables
/// share it.
fn indicator_id(rule_uuid: &str) -> String {
    format!("transient:indicator-{rule_uuid}")
}

// ---------------------------------------------------------------------------
// Sightings
// ---------------------------------------------------------------------------

/// The CTIM sighting of one enriched GTI event, with a fresh id from
/// `ctx.new_id`.
pub fn sighting(ctx: &Context, event: &Value) -> Value {
    map_sighting(ctx, (ctx.new_id)("sighting"), event)
}

fn map_sighting(ctx: &Context, id: String, event: &Value) -> Value {
    let mut s = Map::new();
    s.insert("type".into(), json!("sighting"));
    s.insert("confidence".into(), json!("High"));
    s.insert("count".into(), json!(1));
    s.insert("internal".into(), json!(true));
    s.insert("source".into(), json!(SOURCE));
    s.insert("schema_version".into(), json!(SCHEMA_VERSION));
    s.insert("id".into(), Value::String(id));

    let observed_time = observed_time(event.get("timestamp"));
    s.insert("observed_time".into(), observed_time.clone());

    if let Some(data) = data_table(event) {
        s.insert("data".into(), data);
    }

    let event_type = str_at(event, "event_type");
    let detection = detection(event);
    let rule = detection.and_then(|d| d.get("rule"));
    let rule_uuid = rule.and_then(|r| str_at(r, "uuid"));

    let mut description = Vec::new();
    if let Some(event_type) = event_type {
        description.push(format!("- Event: `{}`", event_type.to_uppercase()));
    }
    if let Some(name) = rule.and_then(|r| str_at(r, "name")) {
        description.push(format!("- Rule: `{name}`"));
    }
    if !description.is_empty() {
        s.insert("description".into(), json!(description.join("\n")));
    }

    let event_uuid = str_at(event, "uuid");
    let external_ids: Vec<&str> = event_uuid.into_iter().chain(rule_uuid).collect();
    if !external_ids.is_empty() {
        s.insert("external_ids".into(), json!(external_ids));
    }

    let mut references = Vec::new();
    if let Some(uuid) = event_uuid {
        references.push(external_reference(
            &[
                "- Represents the UUID of the given event.",
                "- Links to a UI search page querying for that particular event by its UUID.",
            ],
            uuid,
            search_url(ctx.portal(), &format!("uuid = '{uuid}'")),
        ));
    }
    if let Some(uuid) = rule_uuid {
        let account = detection.and_then(|d| str_at(d, "account_uuid"));
        references.push(external_reference(
            &[
                "- Represents the UUID of a rule matching the given event.",
                "- Links to a UI page describing that specific rule along with providing some summary over its history.",
                "- Includes the UUID of an account associated with that particular detection.",
            ],
            uuid,
            rule_url(ctx.portal(), uuid, account),
        ));
    }
    // The reference points `source_uri` at the most specific link: the rule
    // page for a detection, the event search otherwise.
    let source_uri = references.last().and_then(|r| r.get("url")).cloned();
    if !references.is_empty() {
        s.insert("external_references".into(), Value::Array(references));
    }

    if let Some(observable) = event.get("observable").filter(|o| o.is_object()) {
        s.insert("observables".into(), json!([observable]));
    }

    let relations = relations(event);
    if !relations.is_empty() {
        s.insert("relations".into(), Value::Array(relations));
    }

    if let Some(sensor) = present(event.get("sensor_id")) {
        s.insert("sensor".into(), sensor.clone());
    }

    if let Some(severity) = rule.and_then(|r| level(r.get("severity"))) {
        s.insert("severity".into(), json!(severity));
    }

    if let Some(uri) = source_uri {
        s.insert("source_uri".into(), uri);
    }

    if let Some(targets) = targets(event, &observed_time) {
        s.insert("targets".into(), targets);
    }

    Value::Object(s)
}

/// `{"start_time": t, "end_time": t}`: a GTI event is a point in time.
fn observed_time(timestamp: Option<&Value>) -> Value {
    match present(timestamp) {
        Some(t) => json!({"start_time": t, "end_time": t}),
        None => json!({}),
    }
}

/// The detection an event was found through, if it came with one.
fn detection(event: &Value) -> Option<&Value> {
    event.get("detection").filter(|d| d.is_object())
}

/// GTI's `high`/`moderate`/`low` in CTIM's words; used for both severity and
/// confidence. Anything else is unknown and yields `None`.
fn level(value: Option<&Value>) -> Option<&'static str> {
    match value?.as_str()? {
        "high" => Some("High"),
        "moderate" => Some("Medium"),
        "low" => Some("Low"),
        _ => None,
    }
}

fn external_reference(description: &[&str], external_id: &str, url: String) -> Value {
    json!({
        "source_name": SOURCE,
        "description": description.join("\n"),
        "external_id": external_id,
        "url": url,
    })
}

// ---------------------------------------------------------------------------
// The sighting's `data` table
// ---------------------------------------------------------------------------

/// How a table cell is taken from the event.
#[derive(Clone, Copy)]
enum Cell {
    /// The field's value as it is (null when missing).
    Copy,
    /// Python's `str(value).lower()`: CTIM tables have no boolean type yet,
    /// so the reference shows `rejected` as the text `true`/`false`.
    LowerText,
    /// The length of an array field (`files`); 0 when null or missing, as
    /// the reference's `len(x or [])`.
    Count,
}

/// One event-specific column: field name, CTIM column type, how to read it.
type Column = (&'static str, &'static str, Cell);

const FLOW_COLUMNS: &[Column] = &[
    ("flow_state", "string", Cell::Copy),
    ("proto", "string", Cell::Copy),
    ("service", "string", Cell::Copy),
    ("total_pkts", "integer", Cell::Copy),
];

const DNS_COLUMNS: &[Column] = &[
    ("qtype", "integer", Cell::Copy),
    ("qtype_name", "string", Cell::Copy),
    ("rcode", "integer", Cell::Copy),
    ("rcode_name", "string", Cell::Copy),
    ("rejected", "string", Cell::LowerText),
];

const HTTP_COLUMNS: &[Column] = &[
    ("method", "string", Cell::Copy),
    ("status_code", "integer", Cell::Copy),
    ("status_msg", "string", Cell::Copy),
    ("files", "integer", Cell::Count),
];

const SSH_COLUMNS: &[Column] = &[
    ("direction", "string", Cell::Copy),
    ("client", "string", Cell::Copy),
    ("server", "string", Cell::Copy),
];

const SURICATA_COLUMNS: &[Column] = &[
    ("sig_name", "string", Cell::Copy),
    ("sig_category", "string", Cell::Copy),
    ("sig_id", "integer", Cell::Copy),
    ("sig_rev", "number", Cell::Copy),
];

fn event_columns(event_type: Option<&str>) -> &'static [Column] {
    match event_type {
        Some("flow") => FLOW_COLUMNS,
        Some("dns") => DNS_COLUMNS,
        Some("http") => HTTP_COLUMNS,
        Some("ssh") => SSH_COLUMNS,
        Some("suricata") => SURICATA_COLUMNS,
        _ => &[],
    }
}

fn cell(event: &Value, field: &str, how: Cell) -> Value {
    let value = event.get(field);
    match how {
        Cell::Copy => value.cloned().unwrap_or(Value::Null),
        Cell::LowerText => value.map_or(Value::Null, |v| json!(python_text(v).to_lowercase())),
        Cell::Count => json!(value.and_then(Value::as_array).map_or(0, Vec::len)),
    }
}

/// Python's `str()` of a JSON value, for the scalars GTI sends
/// (`True`, `None`, `42`, text); containers fall back to their JSON text.
fn python_text(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn column(name: &str, kind: &str) -> Value {
    json!({"name": name, "type": kind})
}

/// The one-row table the UI shows under a sighting: detection summary
/// columns first (to stand out), then the event-type specific ones, each
/// group behind a blank "header" column, event fields bulleted.
fn data_table(event: &Value) -> Option<Value> {
    let mut columns = Vec::new();
    let mut row = Vec::new();

    if let Some(detection) = detection(event) {
        let summary = detection.get("summary");
        let count = |field| {
            summary
                .and_then(|s| s.get(field))
                .cloned()
                .unwrap_or(Value::Null)
        };
        columns.extend([
            column("Detection Summary", "string"),
            column("Impacted Devices", "integer"),
            column("Indicator Values", "integer"),
        ]);
        row.extend([
            json!(" "),
            count("impacted_devices"),
            count("indicator_values"),
        ]);
    }

    let specific = event_columns(str_at(event, "event_type"));
    if !specific.is_empty() {
        columns.push(column("Event Summary", "string"));
        row.push(json!(" "));
        for &(field, kind, how) in specific {
            columns.push(column(&format!("• {field}"), kind));
            row.push(cell(event, field, how));
        }
    }

    if columns.is_empty() {
        None
    } else {
        Some(json!({"columns": columns, "rows": [row]}))
    }
}

// ---------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------

/// Collects `{origin, source, relation, related}` items; a relation whose
/// source or related value is not a string is skipped rather than emitted
/// with a null value (the reference would crash or emit `null`).
#[derive(Default)]
struct Relations(Vec<Value>);

impl Relations {
    fn add(&mut self, source: (&str, Option<&str>), relation: &str, related: (&str, Option<&str>)) {
        if let ((source_type, Some(source_value)), (related_type, Some(related_value))) =
            (source, related)
        {
            self.0.push(json!({
                "origin": SOURCE,
                "related": {"type": related_type, "value": related_value},
                "relation": relation,
                "source": {"type": source_type, "value": source_value},
            }));
        }
    }
}

/// The IP of an event's `src` or `dst` end.
fn ip_of<'a>(event: &'a Value, end: &str) -> Option<&'a str> {
    event.get(end).and_then(|e| str_at(e, "ip"))
}

fn relations(event: &Value) -> Vec<Value> {
    let mut out = Relations::default();
    let src_ip = ip_of(event, "src");
    let dst_ip = ip_of(event, "dst");

    out.add(("ip", src_ip), "Connected_To", ("ip", dst_ip));

    match str_at(event, "event_type") {
        Some("dns") => dns_relations(&mut out, event, src_ip),
        Some("http") => http_relations(&mut out, event, src_ip, dst_ip),
        Some("x509") => {
            // A certificate seen for a queried domain: the domain is one of
            // its subject alternative names, served by the destination.
            let observable = event.get("observable");
            if observable.and_then(|o| str_at(o, "type")) == Some("domain") {
                let domain = observable.and_then(|o| str_at(o, "value"));
                out.add(("domain", domain), "SAN_DNS_For", ("ip", dst_ip));
            }
        }
        _ => {}
    }
    out.0
}

fn dns_relations(out: &mut Relations, event: &Value, src_ip: Option<&str>) {
    let Some(query) = event.get("query").filter(|q| truthy(q)) else {
        return;
    };
    let domain = str_at(query, "domain");
    out.add(("ip", src_ip), "Queried_For", ("domain", domain));
    for answer in event
        .get("answers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.add(
            ("domain", domain),
            "Resolved_To",
            ("ip", str_at(answer, "ip")),
        );
    }
}

fn http_relations(out: &mut Relations, event: &Value, src_ip: Option<&str>, dst_ip: Option<&str>) {
    if let Some(agent) = truthy_str(event.get("user_agent")) {
        out.add(("user_agent", Some(agent)), "Sent_From", ("ip", src_ip));
        out.add(("user_agent", Some(agent)), "Sent_To", ("ip", dst_ip));
    }

    let host = event.get("host");
    let host_domain = truthy_str(host.and_then(|h| h.get("domain")));
    if host_domain.is_some() {
        out.add(("domain", host_domain), "Resolved_To", ("ip", dst_ip));
    }

    let uri = event
        .get("uri")
        .and_then(|u| u.get("uri"))
        .and_then(Value::as_str);
    if let Some(uri) = uri {
        // GTI often gives only the path; the host header (else the host IP)
        // completes it, as the reference does.
        let host_ip = truthy_str(host.and_then(|h| h.get("ip")));
        let url = rebuild_url(uri, host_domain.or(host_ip).unwrap_or(""));
        out.add(("ip", src_ip), "Connected_To", ("url", Some(&url)));
        out.add(("url", Some(&url)), "Hosted_On", ("ip", dst_ip));
    }

    let files = event
        .get("files")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if files.is_empty() {
        return;
    }
    let directions = if str_at(event, "method") == Some("GET") {
        [("src", "Downloaded_To"), ("dst", "Downloaded_From")]
    } else {
        [("src", "Uploaded_From"), ("dst", "Uploaded_To")]
    };
    for (end, relation) in directions {
        for file in files {
            for hash in ["md5", "sha1", "sha256"] {
                let value = truthy_str(file.get(hash));
                if value.is_some() {
                    out.add((hash, value), relation, ("ip", ip_of(event, end)));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// URL rebuilding (Python's urlparse(uri, scheme='http') → urlunparse)
// ---------------------------------------------------------------------------

/// Schemes whose URLs Python's `urlunsplit` writes with `//netloc`.
const USES_NETLOC: &[&str] = &[
    "", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
    "snews", "prospero", "rtsp", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss",
];

/// Schemes whose last path segment Python's `urlparse` splits `;params` from.
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips",
    "mms", "sftp", "tel",
];

/// The URL the reference builds from an HTTP event's `uri.uri` and host:
/// `urlparse(uri, scheme='http')`, the host put in when the URI has none,
/// then `geturl()`. Reproduced step by step because the result is a CTIM
/// observable value that must match the reference's exactly, quirks
/// included (an empty `?` or `;` is dropped, `upload.php` with no host
/// becomes `http:///upload.php`). Unlike Python it never raises: an
/// unbalanced `[` in the netloc is kept as it is.
fn rebuild_url(uri: &str, host: &str) -> String {
    // urlsplit: strip leading C0 controls and spaces, drop tabs and newlines.
    let cleaned: String = uri
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut rest = cleaned.as_str();

    let mut scheme = String::from("http");
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        let starts_alpha = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        let all_scheme_chars = candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if starts_alpha && all_scheme_chars {
            scheme = candidate.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        }
    }

    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (mut path, query) = rest.split_once('?').unwrap_or((rest, ""));

    // urlparse: `;params` of the last segment, rejoined only when non-empty.
    let mut params = "";
    if USES_PARAMS.contains(&scheme.as_str()) {
        let segment_start = path.rfind('/').unwrap_or(0);
        if let Some(semicolon) = path[segment_start..].find(';') {
            let at = segment_start + semicolon;
            params = &path[at + 1..];
            path = &path[..at];
        }
    }

    if netloc.is_empty() {
        netloc = host;
    }

    // urlunparse / urlunsplit.
    let mut url = path.to_owned();
    if !params.is_empty() {
        url = format!("{url};{params}");
    }
    if !netloc.is_empty() || (USES_NETLOC.contains(&scheme.as_str()) && !url.starts_with("//")) {
        if !url.is_empty() && !url.starts_with('/') {
            url.insert(0, '/');
        }
        url = format!("//{netloc}{url}");
    }
    url = format!("{scheme}:{url}");
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    if !fragment.is_empty() {
        url = format!("{url}#{fragment}");
    }
    url
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/// The internal device involved (source first, as the reference looks), with
/// hostname and MAC from the DHCP record of the event's own account: the
/// same IP can belong to different machines in different customer accounts.
fn targets(event: &Value, observed_time: &Value) -> Option<Value> {
    let device = ["src", "dst"]
        .into_iter()
        .filter_map(|end| event.get(end))
        .find(|end| end.get("internal").is_some_and(truthy))?;
    let ip = str_at(device, "ip")?;

    let mut observables = vec![json!({"type": "ip", "value": ip})];
    let mut records = device
        .get("dhcp")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let own = event
        .get("customer_id")
        .and_then(|customer| records.find(|record| record.get("account_code") == Some(customer)));
    if let Some(record) = own {
        if let Some(hostname) = truthy_str(record.get("hostname")) {
            observables.push(json!({"type": "hostname", "value": hostname}));
        }
        if let Some(mac) = truthy_str(record.get("mac")) {
            observables.push(json!({"type": "mac_address", "value": mac}));
        }
    }

    Some(json!([{
        "observables": observables,
        "observed_time": observed_time,
        "type": "endpoint",
    }]))
}

// ---------------------------------------------------------------------------
// Indicators and relationships
// ---------------------------------------------------------------------------

/// The CTIM indicator of a GTI rule, with the deterministic id
/// `transient:indicator-<rule uuid>`. `None` when the rule has no string
/// `uuid`: such an indicator could be neither identified nor linked.
pub fn indicator(ctx: &Context, rule: &Value) -> Option<Value> {
    let uuid = str_at(rule, "uuid")?;
    let url = rule_url(ctx.portal(), uuid, None);

    let mut i = Map::new();
    i.insert("type".into(), json!("indicator"));
    i.insert("producer".into(), json!(SOURCE));
    i.insert("source".into(), json!(SOURCE));
    i.insert("schema_version".into(), json!(SCHEMA_VERSION));
    i.insert("id".into(), json!(indicator_id(uuid)));

    let valid_time = match present(rule.get("created")) {
        Some(created) => json!({"start_time": created}),
        None => json!({}),
    };
    i.insert("valid_time".into(), valid_time);
    if let Some(confidence) = level(rule.get("confidence")) {
        i.insert("confidence".into(), json!(confidence));
    }
    if let Some(description) = present(rule.get("description")) {
        i.insert("description".into(), description.clone());
    }
    i.insert("external_ids".into(), json!([uuid]));
    i.insert(
        "external_references".into(),
        json!([external_reference(
            &[
                "- Represents the UUID of the given rule.",
                "- Links to a UI page describing that specific rule along with providing some summary over its history.",
            ],
            uuid,
            url.clone(),
        )]),
    );
    if let Some(severity) = level(rule.get("severity")) {
        i.insert("severity".into(), json!(severity));
    }
    let name = present(rule.get("name"));
    if let Some(name) = name {
        i.insert("short_description".into(), name.clone());
    }
    i.insert("source_uri".into(), json!(url));
    if let Some(category) = present(rule.get("category")) {
        i.insert("tags".into(), json!([category]));
    }
    if let Some(name) = name {
        i.insert("title".into(), name.clone());
    }
    Some(Value::Object(i))
}

/// A `sighting-of` relationship from a sighting to the indicator of the rule
/// that detected it, with a fresh id from `ctx.new_id`.
pub fn relationship(ctx: &Context, sighting_id: &str, indicator_id: &str) -> Value {
    json!({
        "type": "relationship",
        "relationship_type": "sighting-of",
        "schema_version": SCHEMA_VERSION,
        "id": (ctx.new_id)("relationship"),
        "source_ref": sighting_id,
        "target_ref": indicator_id,
    })
}

// ---------------------------------------------------------------------------
// The bundle
// ---------------------------------------------------------------------------

/// The CTIM entities of one `/observe` answer, in the order they were made.
#[derive(Debug, Default)]
pub struct Bundle {
    sightings: Vec<Value>,
    indicators: Vec<Value>,
    relationships: Vec<Value>,
    /// Rules whose indicator is already in the bundle.
    rules: HashSet<String>,
}

impl Bundle {
    /// An empty bundle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps one observable's events: a sighting per event; for an event with
    /// a detection, the rule's indicator (once per rule for the whole bundle,
    /// even across observables — SPEC §5 improvement 3) and a `sighting-of`
    /// relationship sighting → indicator. A detection whose rule has no
    /// string `uuid` keeps its sighting but gets neither (see [`indicator`]).
    pub fn add_events(&mut self, ctx: &Context, events: &[Value]) {
        for event in events {
            let sighting_id = (ctx.new_id)("sighting");
            self.sightings
                .push(map_sighting(ctx, sighting_id.clone(), event));

            let Some(rule) = detection(event).and_then(|d| d.get("rule")) else {
                continue;
            };
            let Some(indicator) = self.indicator_for(ctx, rule) else {
                continue;
            };
            self.relationships
                .push(relationship(ctx, &sighting_id, &indicator));
        }
    }

    /// The id of the rule's indicator, adding the indicator on first sight.
    fn indicator_for(&mut self, ctx: &Context, rule: &Value) -> Option<String> {
        let uuid = str_at(rule, "uuid")?;
        if !self.rules.contains(uuid) {
            self.indicators.push(indicator(ctx, rule)?);
            self.rules.insert(uuid.to_owned());
        }
        Some(indicator_id(uuid))
    }

    /// Whether nothing was mapped yet.
    pub fn is_empty(&self) -> bool {
        self.sightings.is_empty() && self.indicators.is_empty() && self.relationships.is_empty()
    }

    /// `{"sightings":{"count","docs"},"indicators":…,"relationships":…}`; a
    /// kind with no entities is absent, so an empty bundle is `{}`.
    pub fn into_json(self) -> Value {
        let mut out = Map::new();
        for (kind, docs) in [
            ("sightings", self.sightings),
            ("indicators", self.indicators),
            ("relationships", self.relationships),
        ] {
            if !docs.is_empty() {
                // Moved, not `json!`-interpolated: `json!` would serialise
                // every entity into a fresh copy (and drop the original).
                let mut entities = Map::new();
                entities.insert("count".into(), Value::from(docs.len()));
                entities.insert("docs".into(), Value::Array(docs));
                out.insert(kind.into(), Value::Object(entities));
            }
        }
        Value::Object(out)
    }
}

// ---------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------

/// The `/refer/observables` item for a supported observable type (`ip`,
/// `domain`, `md5`, `sha1`, `sha256`), `None` for any other. As the
/// reference builds it, except that the value is form-encoded inside the
/// search link (SPEC §2); the id keeps the raw value.
pub fn refer_link(portal_url: &str, observable_type: &str, value: &str) -> Option<Value> {
    let label = match observable_type {
        "ip" => "IP",
        "domain" => "domain",
        "md5" => "MD5",
        "sha1" => "SHA1",
        "sha256" => "SHA256",
        _ => return None,
    };
    Some(json!({
        "id": format!("ref-gti-search-{observable_type}-{value}"),
        "title": format!("Search for this {label}"),
        "description": format!("Lookup this {label} on Gigamon ThreatINSIGHT"),
        "url": search_url(trim_portal(portal_url), value),
        "categories": ["Search", "Gigamon ThreatINSIGHT"],
    }))
}

fn trim_portal(portal_url: &str) -> &str {
    portal_url.trim_end_matches('/')
}

/// The portal's search page for a GTI query.
fn search_url(portal: &str, query: &str) -> String {
    format!("{portal}/search?query={}", quote_plus(query))
}

/// The portal's page of a rule, scoped to the detection's account when known.
/// The uuids are encoded so that an odd value cannot break the link; real
/// (hex and dash) uuids come out unchanged, as in the reference.
fn rule_url(portal: &str, rule_uuid: &str, account_uuid: Option<&str>) -> String {
    let url = format!("{portal}/detections/rules/{}", quote(rule_uuid, false));
    match account_uuid {
        Some(account) => format!("{url}?account_uuid={}", quote_plus(account)),
        None => url,
    }
}

/// Form-encodes `text` like Python's `urllib.parse.quote_plus`: ASCII
/// letters, digits and `_.-~` stay, a space becomes `+`, every other byte of
/// the UTF-8 text becomes `%XX` (uppercase hex).
pub fn quote_plus(text: &str) -> String {
    quote(text, true)
}

/// Python's `quote(text, safe='')`, or `quote_plus` when `space_as_plus`.
fn quote(text: &str, space_as_plus: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte))
            }
            b' ' if space_as_plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Reading loosely typed JSON
// ---------------------------------------------------------------------------

/// A field's value when it is a string.
fn str_at<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

/// A value that is there and not null.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// Python's truthiness, which the reference relies on to skip empty fields.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A non-empty string: what the reference's `if x:` lets through as text.
fn truthy_str(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const PORTAL: &str = "https://portal.icebrg.io";

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is valid JSON")
    }

    fn reference_events() -> Vec<Value> {
        let events = fixture(include_str!(
            "../tests/fixtures/reference/workflow/events_for_observable.json"
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
            "sightings": fixture(include_str!("../tests/fixtures/reference/sightings.json")),
            "indicators": fixture(include_str!("../tests/fixtures/reference/indicators.json")),
            "relationships": fixture(include_str!("../tests/fixtures/reference/relationships.json")),
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
        let expected = fixture(include_str!("../tests/fixtures/reference/indicators.json"));
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
        assert_eq!(quote("a b/c", false), "a%20b%2Fc");
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
        let detection =
            json!({"rule": {}, "summary": {"impacted_devices": 2, "indicator_values": 5}});
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
        let both =
            json!({"event_type": "flow", "src": {"ip": "10.0.0.1"}, "dst": {"ip": "8.8.8.8"}});
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
        let observed = json!({"start_time": "2020-01-01T00:00:00.000Z", "end_time": "2020-01-01T00:00:00.000Z"});
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
        let rule =
            json!({"uuid": "r", "severity": "catastrophic", "confidence": "HIGH", "name": "n"});
        let event = json!({"event_type": "pe", "uuid": "e", "detection": {"rule": rule, "account_uuid": "a"}});
        let sighting = sighting(&ctx, &event);
        assert!(sighting.get("severity").is_none());
        let indicator = indicator(&ctx, &rule).unwrap_or_default();
        assert!(indicator.get("severity").is_none() && indicator.get("confidence").is_none());
        assert_eq!(indicator["title"], json!("n"));

        for (gti, ctim) in [("high", "High"), ("moderate", "Medium"), ("low", "Low")] {
            let rule = json!({"uuid": "r", "severity": gti, "confidence": gti});
            let indicator = super::indicator(&ctx, &rule).unwrap_or_default();
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
        let event =
            json!({"event_type": "pe", "uuid": "e 1", "detection": {"rule": {"uuid": "r"}}});
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
                refer_link(PORTAL, kind, "v-1.x"),
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
        assert_eq!(refer_link(PORTAL, "url", "http://x"), None);
        assert_eq!(refer_link(PORTAL, "IP", "1.2.3.4"), None);
    }

    #[test]
    fn refer_link_encodes_the_value_only_in_the_url() {
        let link = refer_link(PORTAL, "domain", "a&b#c d").unwrap_or_default();
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
                    for rule_field in [
                        "uuid",
                        "name",
                        "severity",
                        "confidence",
                        "created",
                        "category",
                    ] {
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
}
