//! Input generators shared by the fuzz targets: bounded JSON values built
//! from libFuzzer's bytes, biased towards the field names and values the
//! relay looks at, so the fuzzer reaches the mapping and token logic instead
//! of spending its time on JSON syntax.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use serde_json::{Map, Number, Value};

/// Field names the payload parser, the token checks, the workflow and the
/// mapper read.
pub const KEYS: &[&str] = &[
    "type",
    "value",
    "event_type",
    "uuid",
    "timestamp",
    "customer_id",
    "sensor_id",
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
    "sha1",
    "sha256",
    "detection",
    "rule",
    "name",
    "severity",
    "confidence",
    "created",
    "description",
    "category",
    "primary_attack_id",
    "secondary_attack_id",
    "account_uuid",
    "summary",
    "impacted_devices",
    "indicator_values",
    "observable",
    "rejected",
    "qtype",
    "rcode",
    "status_code",
    "flow_state",
    "total_pkts",
    "sig_rev",
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
    "GTI_ALLOW_TEST_ACCOUNTS",
];

/// Values that steer the code paths: event types, levels, methods, hosts,
/// URL shapes, test accounts, algorithms, MITRE ATT&CK technique ids.
pub const STRINGS: &[&str] = &[
    "",
    " ",
    "T1071.001",
    "t1573, T1008,",
    "flow",
    "dns",
    "http",
    "ssl",
    "x509",
    "ssh",
    "suricata",
    "smb",
    "GET",
    "POST",
    "high",
    "moderate",
    "low",
    "ip",
    "domain",
    "md5",
    "sha1",
    "sha256",
    "url",
    "true",
    "false",
    "10.0.0.1",
    "8.8.8.8",
    "example.com",
    "dmo",
    "acme",
    "2026-01-01T00:00:00.000Z",
    "http://a.example/x;p?q#f",
    "//host:80/path;params",
    "upload.php",
    "[::1",
    "http://[",
    "mailto:x@y",
    "\t\r\n",
    ";",
    "?",
    "#",
    "é€😀",
    "RS256",
    "none",
    "HS256",
    "JWT",
    "JWE",
    "127.0.0.1:1",
    "visibility.amp.cisco.com",
    "http://relay.test",
];

/// Event types the mapper distinguishes, plus one it does not know.
pub const EVENT_TYPES: &[&str] = &[
    "flow", "dns", "http", "ssl", "x509", "ssh", "suricata", "smb", "",
];

/// A JSON value at most `depth` containers deep, each container small.
pub fn value(u: &mut Unstructured, depth: u32) -> Result<Value> {
    let last = if depth == 0 { 5 } else { 7 };
    Ok(match u.int_in_range(0..=last)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        4 => Value::String(u.arbitrary()?),
        5 => Value::String((*u.choose(STRINGS)?).to_owned()),
        6 => {
            let len = u.int_in_range(0..=4)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(value(u, depth - 1)?);
            }
            Value::Array(items)
        }
        _ => Value::Object(object(u, depth - 1)?),
    })
}

/// An object of up to six fields, mostly with names from [`KEYS`].
pub fn object(u: &mut Unstructured, depth: u32) -> Result<Map<String, Value>> {
    let len = u.int_in_range(0..=6)?;
    let mut map = Map::new();
    for _ in 0..len {
        map.insert(key(u)?, value(u, depth)?);
    }
    Ok(map)
}

/// A field name: usually a known one, sometimes anything.
pub fn key(u: &mut Unstructured) -> Result<String> {
    if u.ratio(1u8, 5)? {
        u.arbitrary()
    } else {
        Ok((*u.choose(KEYS)?).to_owned())
    }
}

/// A GTI event as the mapper receives it: a known `event_type` (or none)
/// and fields the mapper reads, holding arbitrary JSON.
pub fn event(u: &mut Unstructured) -> Result<Value> {
    let mut event = object(u, 3)?;
    if u.ratio(7u8, 8)? {
        let event_type = *u.choose(EVENT_TYPES)?;
        event.insert("event_type".to_owned(), Value::from(event_type));
    }
    Ok(Value::Object(event))
}

/// base64url without padding, as JWTs use it.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}
