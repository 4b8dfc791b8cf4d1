//! GTI's answers as typed structs: what the relay reads of detections,
//! rules, events and DHCP records, and nothing more (serde skips every
//! other field without storing it).
//!
//! GTI data is loosely typed, and the reference relay copies much of it into
//! CTIM as it comes, so the types here tolerate what the reference
//! tolerates:
//!
//! * a field the relay copies or reads as text is a [`VerbatimField`]:
//!   missing, or the [`Verbatim`] JSON text of whatever GTI sent (`null`
//!   included, which is not the same as a missing field for every use),
//!   with the string case unescaped so that the mapper reads it without
//!   parsing again; the structs holding such fields are `#[serde(default)]`;
//! * a nested object the relay looks into (`src`, `host`, `query`, a rule, a
//!   file) is an [`ObjectOrNone`]: anything but an object reads as absent, as
//!   `event.get("src").get("ip")` is absent in the reference;
//! * a list is a [`ListOrNone`]: anything but an array reads as absent.
//!
//! The fields the workflow itself relies on (a detection's uuid, account and
//! rule; a DHCP record's ip) are strict: without them GTI's answer is not
//! what it documents, and the client reports `invalid upstream response`.
//!
//! [`Verbatim`] borrows GTI's text while it parses (`&RawValue`), so these
//! types are read with `serde_json::from_slice` or `from_str`, never from a
//! `serde_json::Value`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::observable::ObservableType;

// ---------------------------------------------------------------------------
// Loosely typed values
// ---------------------------------------------------------------------------

/// A JSON value as GTI sent it, for the fields the reference copies into
/// CTIM verbatim or reads as text: a string (unescaped) or any other JSON
/// (number, boolean, `null`, list, object) as its text.
#[derive(Clone)]
pub enum Verbatim {
    Text(Box<str>),
    Json(Box<RawValue>),
}

impl Verbatim {
    /// The text, when the value is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Verbatim::Text(text) => Some(text),
            Verbatim::Json(_) => None,
        }
    }

    /// Whether the value is JSON `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Verbatim::Json(raw) if raw.get() == "null")
    }

    /// The value when it is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Verbatim::Json(raw) if raw.get() == "true" => Some(true),
            Verbatim::Json(raw) if raw.get() == "false" => Some(false),
            _ => None,
        }
    }

    /// Python's truthiness, which the reference relies on to skip empty
    /// fields: `null`, `false`, `0`, `""`, `[]` and `{}` are false.
    pub fn truthy(&self) -> bool {
        match self {
            Verbatim::Text(text) => !text.is_empty(),
            Verbatim::Json(raw) => match raw.get() {
                "null" | "false" | "[]" | "{}" => false,
                "true" => true,
                other => match serde_json::from_str::<Value>(other) {
                    Ok(Value::Number(number)) => number.as_f64().is_some_and(|f| f != 0.0),
                    Ok(Value::Array(items)) => !items.is_empty(),
                    Ok(Value::Object(fields)) => !fields.is_empty(),
                    Ok(Value::Bool(flag)) => flag,
                    Ok(Value::String(text)) => !text.is_empty(),
                    Ok(Value::Null) | Err(_) => false,
                },
            },
        }
    }

    /// A non-empty string: what the reference's `if x:` lets through as text.
    pub fn truthy_str(&self) -> Option<&str> {
        self.as_str().filter(|text| !text.is_empty())
    }

    /// The value as `serde_json` would print it: the text itself for a
    /// string, compact JSON otherwise (two spellings of one number or list
    /// print alike). For identities and Python-style text, never on a hot
    /// path: non-string values are rare where it is used.
    pub fn canonical_text(&self) -> String {
        match self {
            Verbatim::Text(text) => text.to_string(),
            Verbatim::Json(raw) => serde_json::from_str::<Value>(raw.get())
                .map_or_else(|_| raw.get().to_owned(), |value| value.to_string()),
        }
    }

    fn from_raw(raw: &RawValue) -> Verbatim {
        let text = raw.get();
        match text
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
        {
            // No escapes: the text between the quotes is the string.
            Some(inner) if !inner.contains('\\') => Verbatim::Text(inner.into()),
            Some(_) => serde_json::from_str::<String>(text).map_or_else(
                |_| Verbatim::Json(raw.to_owned()),
                |s| Verbatim::Text(s.into()),
            ),
            None => Verbatim::Json(raw.to_owned()),
        }
    }
}

/// Equality as the reference's Python sees it for JSON values: strings by
/// their text, other values by what they mean (`1.0` and `1.00` alike).
impl PartialEq for Verbatim {
    fn eq(&self, other: &Verbatim) -> bool {
        match (self, other) {
            (Verbatim::Text(a), Verbatim::Text(b)) => a == b,
            (Verbatim::Json(a), Verbatim::Json(b)) => {
                a.get() == b.get()
                    || matches!(
                        (serde_json::from_str::<Value>(a.get()), serde_json::from_str::<Value>(b.get())),
                        (Ok(a), Ok(b)) if a == b
                    )
            }
            _ => false,
        }
    }
}

impl fmt::Debug for Verbatim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verbatim::Text(text) => fmt::Debug::fmt(text, f),
            Verbatim::Json(raw) => f.write_str(raw.get()),
        }
    }
}

impl<'de> Deserialize<'de> for Verbatim {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Verbatim, D::Error> {
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        Ok(Verbatim::from_raw(raw))
    }
}

impl Serialize for Verbatim {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Verbatim::Text(text) => serializer.serialize_str(text),
            Verbatim::Json(raw) => raw.serialize(serializer),
        }
    }
}

/// A field the relay copies or reads as text: `None` when GTI left it out,
/// otherwise the [`Verbatim`] value GTI sent there, `null` included.
///
/// Serde's own `Option` reads `null` as `None`, but `null` is not always a
/// missing field: the reference copies it into CTIM, and Python prints it
/// as `None`. So a value that is there, whatever it is, is `Some`, and only
/// a missing field is `None`: the struct holding the field is
/// `#[serde(default)]`, which fills a missing field with this type's
/// default (without it, a missing field is an error).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerbatimField(pub Option<Verbatim>);

impl VerbatimField {
    /// The value GTI sent, `null` included; `None` when the field was
    /// missing.
    pub fn get(&self) -> Option<&Verbatim> {
        self.0.as_ref()
    }
}

impl<'de> Deserialize<'de> for VerbatimField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<VerbatimField, D::Error> {
        Verbatim::deserialize(deserializer).map(|value| VerbatimField(Some(value)))
    }
}

/// A string, or `None` for anything else (`null`, a number, an object):
/// for fields the relay only reads when they make sense.
pub(crate) fn text_or_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Verbatim::deserialize(deserializer)?
        .as_str()
        .map(str::to_owned))
}

/// Accepts `null` where a list (or other defaultable value) is expected.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A nested object the relay looks into, or nothing when GTI sent anything
/// else there (a string, a list, `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectOrNone<T>(pub Option<T>);

impl<T> Default for ObjectOrNone<T> {
    fn default() -> Self {
        ObjectOrNone(None)
    }
}

impl<T> ObjectOrNone<T> {
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOrNone<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ObjectOrNone<T>, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = ObjectOrNone<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ObjectOrNone<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
                    .map(|value| ObjectOrNone(Some(value)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ObjectOrNone<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ObjectOrNone(None))
            }
            absent_scalars!(ObjectOrNone(None));
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// A list, or nothing when GTI sent anything else there.
#[derive(Debug, Clone, PartialEq)]
pub struct ListOrNone<T>(pub Option<Vec<T>>);

impl<T> Default for ListOrNone<T> {
    fn default() -> Self {
        ListOrNone(None)
    }
}

impl<T> ListOrNone<T> {
    /// The items; none when the field was not a list.
    pub fn items(&self) -> &[T] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListOrNone<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ListOrNone<T>, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = ListOrNone<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListOrNone<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(ListOrNone(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListOrNone<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ListOrNone(None))
            }
            absent_scalars!(ListOrNone(None));
        }
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

/// The scalar `visit_*` methods of a visitor for which a scalar means
/// "not what was looked for".
macro_rules! absent_scalars {
    ($absent:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
}
use absent_scalars;

// ---------------------------------------------------------------------------
// Detections and rules
// ---------------------------------------------------------------------------

/// The answer of `GET detections?…&include=indicators&include=rules`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Detections {
    #[serde(deserialize_with = "null_as_default")]
    pub detections: Vec<Detection>,
    /// The rules of those detections; an item that is not an object is
    /// ignored, as the reference's look-up by `uuid` ignores it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub rules: Vec<ObjectOrNone<Rule>>,
}

/// One active detection.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Detection {
    pub uuid: String,
    pub account_uuid: String,
    #[serde(default)]
    pub device_ip: Option<String>,
    pub rule_uuid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub indicators: Vec<DetectionIndicator>,
    /// When GTI first saw the detection's activity (ISO 8601); read
    /// leniently: anything but a string is absent.
    #[serde(default, deserialize_with = "text_or_none")]
    pub first_seen: Option<String>,
    /// When GTI created the detection (ISO 8601); lenient as `first_seen`.
    #[serde(default, deserialize_with = "text_or_none")]
    pub created: Option<String>,
}

/// Which event field made a detection fire, and with which values.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DetectionIndicator {
    /// E.g. `dst.ip`, `http:host.domain`, `http:files.sha256`.
    pub field: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<Verbatim>,
}

/// A GTI rule: what its indicator and its sightings show.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Rule {
    pub uuid: VerbatimField,
    pub name: VerbatimField,
    pub severity: VerbatimField,
    pub confidence: VerbatimField,
    pub created: VerbatimField,
    pub description: VerbatimField,
    pub category: VerbatimField,
    /// MITRE ATT&CK technique ids: one, a comma-separated string of them,
    /// or a list. Kept as whatever GTI sent; the indicator reads the ids
    /// it can and ignores the rest (SPEC §8.5).
    pub primary_attack_id: VerbatimField,
    /// More technique ids, as `primary_attack_id`.
    pub secondary_attack_id: VerbatimField,
}

impl Rule {
    /// The rule's uuid, when it is a string (the only kind that can be
    /// looked up or linked).
    pub fn uuid(&self) -> Option<&str> {
        self.uuid.get().and_then(Verbatim::as_str)
    }
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// A GTI event (flow, dns, http, ssl, x509, ssh, suricata, …) as the mapper
/// reads it: the common fields and each event type's fields that reach CTIM.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Event {
    pub uuid: VerbatimField,
    pub timestamp: VerbatimField,
    pub event_type: VerbatimField,
    pub customer_id: VerbatimField,
    pub sensor_id: VerbatimField,
    pub src: ObjectOrNone<Side>,
    pub dst: ObjectOrNone<Side>,
    // flow
    pub flow_state: VerbatimField,
    pub proto: VerbatimField,
    pub service: VerbatimField,
    pub total_pkts: VerbatimField,
    // dns
    pub qtype: VerbatimField,
    pub qtype_name: VerbatimField,
    pub rcode: VerbatimField,
    pub rcode_name: VerbatimField,
    pub rejected: VerbatimField,
    pub query: ObjectOrNone<Query>,
    pub answers: ListOrNone<ObjectOrNone<DnsAnswer>>,
    // http
    pub method: VerbatimField,
    pub status_code: VerbatimField,
    pub status_msg: VerbatimField,
    pub files: ListOrNone<ObjectOrNone<File>>,
    pub user_agent: VerbatimField,
    pub host: ObjectOrNone<Host>,
    pub uri: ObjectOrNone<Uri>,
    // ssh
    pub direction: VerbatimField,
    pub client: VerbatimField,
    pub server: VerbatimField,
    // suricata
    pub sig_name: VerbatimField,
    pub sig_category: VerbatimField,
    pub sig_id: VerbatimField,
    pub sig_rev: VerbatimField,
}

impl Event {
    pub fn uuid(&self) -> Option<&str> {
        self.uuid.get().and_then(Verbatim::as_str)
    }

    pub fn timestamp(&self) -> Option<&str> {
        self.timestamp.get().and_then(Verbatim::as_str)
    }

    pub fn event_type(&self) -> Option<&str> {
        self.event_type.get().and_then(Verbatim::as_str)
    }

    pub fn customer_id(&self) -> Option<&str> {
        self.customer_id.get().and_then(Verbatim::as_str)
    }

    /// The `src` and `dst` ends, in that order.
    pub fn sides(&self) -> [Option<&Side>; 2] {
        [self.src.get(), self.dst.get()]
    }

    /// The domain of a DNS event's query. (The reference first asks
    /// whether the query is truthy; an object with a string `domain` always
    /// is, and without one no relation can be built.)
    pub fn query_domain(&self) -> Option<&str> {
        self.query.get()?.domain.get()?.as_str()
    }
}

/// The query of a DNS event.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Query {
    pub domain: VerbatimField,
}

/// One end of a connection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Side {
    pub ip: VerbatimField,
    pub internal: VerbatimField,
}

impl Side {
    pub fn ip(&self) -> Option<&str> {
        self.ip.get().and_then(Verbatim::as_str)
    }
}

/// One answer of a DNS event (`answers[]`: the addresses the query
/// resolved to).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DnsAnswer {
    pub ip: VerbatimField,
}

/// One file of an HTTP event.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct File {
    pub md5: VerbatimField,
    pub sha1: VerbatimField,
    pub sha256: VerbatimField,
}

/// The `Host` header of an HTTP event, with the server's IP.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Host {
    pub domain: VerbatimField,
    pub ip: VerbatimField,
}

/// The request URI of an HTTP event.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Uri {
    pub uri: VerbatimField,
}

/// An event of a detection, with the values found at the paths an
/// indicator can name, for the workflow to match against the observable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectionEvent {
    pub event: Event,
    pub indicator_values: IndicatorValues,
}

impl DetectionEvent {
    /// Reads one event from its JSON text: the typed fields, then a walk for
    /// the indicator values.
    pub fn from_json(text: &str) -> serde_json::Result<DetectionEvent> {
        let event = serde_json::from_str(text)?;
        let mut indicator_values = IndicatorValues::default();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        Walk {
            path: &mut Vec::new(),
            out: &mut indicator_values.0,
            in_list: false,
        }
        .deserialize(&mut deserializer)?;
        Ok(DetectionEvent {
            event,
            indicator_values,
        })
    }
}

/// The strings of an event at key paths whose last key is a supported
/// observable type (`dst.ip`, `files.sha256`, `query.domain`), as the
/// reference's `_values` finds them: a list met on the way is descended
/// into one level (a list inside a list is not).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorValues(Vec<(Vec<Box<str>>, Box<str>)>);

impl IndicatorValues {
    /// Whether `value` is among the strings found at `path`.
    pub fn contains(&self, path: &[&str], value: &str) -> bool {
        self.0.iter().any(|(found_path, found)| {
            found.as_ref() == value
                && found_path.len() == path.len()
                && found_path.iter().zip(path).all(|(a, b)| a.as_ref() == *b)
        })
    }
}

/// Walks any JSON, recording the strings of [`IndicatorValues`].
struct Walk<'a> {
    path: &'a mut Vec<Box<str>>,
    out: &'a mut Vec<(Vec<Box<str>>, Box<str>)>,
    /// Directly inside a list: a nested list is not descended into.
    in_list: bool,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        let indicator = self
            .path
            .last()
            .is_some_and(|key| ObservableType::parse(key.as_ref()).is_some());
        if indicator {
            self.out.push((self.path.clone(), value.into()));
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            self.path.push(key.as_ref().into());
            map.next_value_seed(Walk {
                path: self.path,
                out: self.out,
                in_list: false,
            })?;
            self.path.pop();
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.in_list {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        while seq
            .next_element_seed(Walk {
                path: self.path,
                out: self.out,
                in_list: true,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// DHCP
// ---------------------------------------------------------------------------

/// One DHCP record of the entity API: which device held an IP.
#[derive(Debug, Clone, PartialEq)]
pub struct DhcpRecord {
    pub ip: String,
    pub account_code: Option<Verbatim>,
    pub hostname: Option<Verbatim>,
    pub mac: Option<Verbatim>,
}

/// A DHCP record as GTI sends it, before its `ip` is checked.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WireDhcpRecord {
    pub ip: VerbatimField,
    pub account_code: VerbatimField,
    pub hostname: VerbatimField,
    pub mac: VerbatimField,
}

impl WireDhcpRecord {
    /// The record, when its `ip` is a string (the workflow groups by it).
    pub fn checked(self) -> Option<DhcpRecord> {
        match self.ip.0 {
            Some(Verbatim::Text(ip)) => Some(DhcpRecord {
                ip: ip.into(),
                account_code: self.account_code.0,
                hostname: self.hostname.0,
                mac: self.mac.0,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detections_tolerate_nulls_and_unknown_fields() {
        let body = r#"{"detections":[{"uuid":"d","account_uuid":"a","device_ip":null,
            "rule_uuid":"r","indicators":null,"extra":1}],"rules":null,"total":1}"#;
        let parsed: Detections = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.detections[0].indicators, []);
        assert_eq!(parsed.detections[0].device_ip, None);
        assert!(parsed.rules.is_empty());
    }

    #[test]
    fn rules_keep_any_attack_ids() {
        for ids in [
            r#""T1071.001""#,
            r#""T1573, T1008""#,
            r#"["T1105","T1204.002"]"#,
            r#"[["T1059"],{"a":1},null,7]"#,
            "null",
            "1059",
            "true",
            r#"{"id":"T1059"}"#,
        ] {
            let body = format!(
                r#"{{"detections":[],"rules":[{{"uuid":"r","primary_attack_id":{ids},
                    "secondary_attack_id":{ids}}}]}}"#
            );
            let parsed: Detections = serde_json::from_str(&body).expect(ids);
            let rule = parsed.rules[0].get().expect(ids);
            assert_eq!(rule.uuid(), Some("r"));
            assert!(rule.primary_attack_id.get().is_some(), "{ids}");
            assert_eq!(rule.primary_attack_id, rule.secondary_attack_id);
        }
        let rule: Rule = serde_json::from_str(r#"{"uuid":"r"}"#).unwrap();
        assert_eq!(rule.primary_attack_id, VerbatimField(None));
        assert_eq!(rule.secondary_attack_id, VerbatimField(None));
    }

    #[test]
    fn verbatim_values_keep_text_and_json_apart() {
        let event: Event = serde_json::from_str(
            r#"{"uuid":"a\"b","timestamp":null,"total_pkts":1e3,"rejected":false,
                "src":"not an object","dst":{"ip":"10.0.0.1","internal":true},
                "files":{"not":"a list"},"answers":[1,{"ip":"1.2.3.4"}],"other":[[1]]}"#,
        )
        .unwrap();
        assert_eq!(event.uuid(), Some("a\"b"));
        assert!(event.timestamp.get().is_some_and(Verbatim::is_null));
        assert_eq!(event.timestamp(), None);
        assert_eq!(
            event
                .total_pkts
                .get()
                .map(Verbatim::canonical_text)
                .as_deref(),
            Some("1000.0")
        );
        assert_eq!(
            event.rejected.get().and_then(Verbatim::as_bool),
            Some(false)
        );
        assert_eq!(event.src, ObjectOrNone(None));
        assert_eq!(event.dst.get().and_then(Side::ip), Some("10.0.0.1"));
        assert_eq!(event.files, ListOrNone(None));
        assert_eq!(event.answers.items().len(), 2);
        assert_eq!(event.answers.items()[0], ObjectOrNone(None));
        assert_eq!(event.service, VerbatimField(None));
    }

    #[test]
    fn truthiness_is_pythons() {
        let verbatim =
            |text: &str| Verbatim::from_raw(&RawValue::from_string(text.to_owned()).unwrap());
        for falsy in ["null", "false", "0", "0.0", "\"\"", "[]", "{}", "[ ]"] {
            assert!(!verbatim(falsy).truthy(), "{falsy}");
        }
        for truthy in ["true", "1", "-0.5", "\"x\"", "[0]", "{\"a\":null}"] {
            assert!(verbatim(truthy).truthy(), "{truthy}");
        }
        assert_eq!(verbatim("1.0"), verbatim("1.00"));
        assert_ne!(verbatim("\"1\""), verbatim("1"));
    }

    #[test]
    fn indicator_values_follow_the_references_paths() {
        let found = DetectionEvent::from_json(
            r#"{"dst":{"ip":"1.2.3.4"},"files":[{"sha256":"abc"},"x",[{"sha256":"deep"}]],
                "answers":[[ "9.9.9.9" ]],"ip":["5.6.7.8"],"query":{"domain":"d.com"},"name":"n"}"#,
        )
        .unwrap();
        let values = &found.indicator_values;
        assert!(values.contains(&["dst", "ip"], "1.2.3.4"));
        assert!(values.contains(&["files", "sha256"], "abc"));
        assert!(!values.contains(&["files", "sha256"], "deep"));
        assert!(values.contains(&["ip"], "5.6.7.8"));
        assert!(!values.contains(&["answers"], "9.9.9.9"));
        assert!(values.contains(&["query", "domain"], "d.com"));
        assert!(!values.contains(&["dst"], "1.2.3.4"));
        assert_eq!(found.event.dst.get().and_then(Side::ip), Some("1.2.3.4"));
    }

    #[test]
    fn a_dns_query_needs_a_string_domain() {
        let domain = |text: &str| {
            serde_json::from_str::<Event>(text)
                .unwrap()
                .query_domain()
                .map(str::to_owned)
        };
        assert_eq!(
            domain(r#"{"query":{"domain":"a\u0062c","x":1}}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(domain(r#"{"query":"example.com"}"#), None);
        assert_eq!(domain(r#"{"query":{}}"#), None);
        assert_eq!(domain(r#"{"query":{"domain":7}}"#), None);
    }
}
