//! Observables: what SecureX asks about, the types GTI can be asked about
//! ([`ObservableType`], parsed once here at the edge), and the body of
//! `/observe/observables` (and its siblings) that carries them: a JSON array
//! of `{"type", "value"}` objects, validated the way the reference's
//! marshmallow schema does, with the same error detail. [`PayloadError`] is
//! that detail for every body the relay refuses, rendered in one place.
//!
//! It depends on nothing else in the crate, so that every module may use it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The observable types GTI can be asked about; any other type in a body is
/// skipped silently, as the reference does. Also the last key of the event
/// fields GTI's indicators name (`dst.ip`, `files.sha256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservableType {
    Ip,
    Domain,
    Md5,
    Sha1,
    Sha256,
}

impl ObservableType {
    pub const ALL: [ObservableType; 5] = [
        ObservableType::Ip,
        ObservableType::Domain,
        ObservableType::Md5,
        ObservableType::Sha1,
        ObservableType::Sha256,
    ];

    /// The type SecureX calls `name` (exactly: types are lower case).
    pub fn parse(name: &str) -> Option<ObservableType> {
        ObservableType::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// SecureX's (and GTI's) name of the type.
    pub fn name(self) -> &'static str {
        match self {
            ObservableType::Ip => "ip",
            ObservableType::Domain => "domain",
            ObservableType::Md5 => "md5",
            ObservableType::Sha1 => "sha1",
            ObservableType::Sha256 => "sha256",
        }
    }

    /// `ip, domain, md5, sha1, sha256`, for messages.
    pub fn names() -> String {
        let names: Vec<&str> = ObservableType::ALL.iter().map(|kind| kind.name()).collect();
        names.join(", ")
    }
}

impl fmt::Display for ObservableType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An observable of a supported type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Observable {
    #[serde(rename = "type")]
    pub kind: ObservableType,
    pub value: String,
}

impl Observable {
    /// The event search's query: `<type> = '<value>'`, as the reference sends it.
    pub fn search_query(&self) -> String {
        format!("{} = '{}'", self.kind, self.value)
    }
}

/// Why a request body is refused: the detail of the `invalid payload
/// received` error, field by field in the reference's words, rendered (by
/// `Display`) as the reference pastes marshmallow's errors: Python's
/// `json.dumps`, so any text a caller sent stays escaped and ASCII.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadError(Vec<(String, Problem)>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    Messages(Vec<String>),
    /// The field errors of one item of an array body.
    Item(PayloadError),
}

impl PayloadError {
    /// A problem with the body as a whole (`_schema`).
    pub fn schema(message: impl Into<String>) -> PayloadError {
        PayloadError::field("_schema", message)
    }

    /// A problem with one field.
    pub fn field(name: &str, message: impl Into<String>) -> PayloadError {
        let mut error = PayloadError::default();
        error.push(name, message);
        error
    }

    /// Adds a problem with field `name` (after those of the fields before).
    pub fn push(&mut self, name: &str, message: impl Into<String>) {
        match self.0.iter_mut().find(|(known, _)| known == name) {
            Some((_, Problem::Messages(messages))) => messages.push(message.into()),
            _ => self
                .0
                .push((name.to_owned(), Problem::Messages(vec![message.into()]))),
        }
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn item(&mut self, index: usize, fields: PayloadError) {
        self.0.push((index.to_string(), Problem::Item(fields)));
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (position, (name, problem)) in self.0.iter().enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: ", python_string(name))?;
            match problem {
                Problem::Item(fields) => write!(f, "{fields}")?,
                Problem::Messages(messages) => {
                    let messages: Vec<String> = messages
                        .iter()
                        .map(|message| python_string(message))
                        .collect();
                    write!(f, "[{}]", messages.join(", "))?;
                }
            }
        }
        f.write_str("}")
    }
}

const FIELDS: [&str; 2] = ["type", "value"];

/// Parses a request body into the observables of supported types (the
/// others are skipped), or the invalid-payload detail matching the
/// reference's (`{"0": {"value": ["Field may not be blank."]}}`); an item
/// of any type must be well formed.
pub fn parse_observables(body: &[u8]) -> Result<Vec<Observable>, PayloadError> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(PayloadError::schema("Invalid input type."));
    };

    let mut observables = Vec::with_capacity(items.len());
    let mut errors = PayloadError::default();
    for (index, item) in items.iter().enumerate() {
        match validate_item(item) {
            Ok(Some(observable)) => observables.push(observable),
            Ok(None) => {}
            Err(fields) => errors.item(index, fields),
        }
    }
    if errors.is_empty() {
        Ok(observables)
    } else {
        Err(errors)
    }
}

/// One item's field errors, in the schema's order, then unknown fields;
/// `None` for a well-formed item of an unsupported type.
fn validate_item(item: &Value) -> Result<Option<Observable>, PayloadError> {
    let Some(object) = item.as_object() else {
        return Err(PayloadError::schema("Invalid input type."));
    };
    let mut errors = PayloadError::default();
    let mut values = Vec::with_capacity(FIELDS.len());
    for field in FIELDS {
        match object.get(field) {
            None => errors.push(field, "Missing data for required field."),
            Some(Value::Null) => errors.push(field, "Field may not be null."),
            Some(Value::String(text)) if text.is_empty() => {
                errors.push(field, "Field may not be blank.")
            }
            Some(Value::String(text)) => values.push(text),
            Some(_) => errors.push(field, "Not a valid string."),
        }
    }
    // serde_json's map is ordered by key, so unknown fields come out sorted.
    for name in object
        .keys()
        .filter(|name| !FIELDS.contains(&name.as_str()))
    {
        errors.push(name, "Unknown field.");
    }
    match (errors.is_empty(), values.as_slice()) {
        (true, [kind, value]) => Ok(ObservableType::parse(kind).map(|kind| Observable {
            kind,
            value: (*value).clone(),
        })),
        _ => Err(errors),
    }
}

/// Escapes what a caller sent for a message: in single quotes, so it stays
/// one readable token (the rendering escapes the rest).
pub fn quoted(text: &str) -> String {
    format!("'{text}'")
}

/// A JSON string literal as Python's `json.dumps` writes it (ensure_ascii).
fn python_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(body: &str) -> String {
        match parse_observables(body.as_bytes()) {
            Err(detail) => detail.to_string(),
            other => panic!("expected an invalid payload for {body}, got {other:?}"),
        }
    }

    #[test]
    fn valid_bodies_give_observables_in_order() {
        let observables = parse_observables(
            br#"[{"type":"ip","value":"1.1.1.1"},{"type":"url","value":"u"},{"value":"x.com","type":"domain"}]"#,
        )
        .unwrap();
        assert_eq!(
            observables,
            [
                Observable {
                    kind: ObservableType::Ip,
                    value: "1.1.1.1".into()
                },
                Observable {
                    kind: ObservableType::Domain,
                    value: "x.com".into()
                },
            ]
        );
        assert_eq!(parse_observables(b"[]").unwrap(), []);
    }

    #[test]
    fn bodies_that_are_not_arrays_are_invalid_input() {
        for body in [
            "",
            "not json",
            "{}",
            r#"{"type":"ip","value":"1.1.1.1"}"#,
            "\"[]\"",
            "null",
            "1",
            "\u{ff}",
        ] {
            assert_eq!(
                detail(body),
                r#"{"_schema": ["Invalid input type."]}"#,
                "{body:?}"
            );
        }
    }

    #[test]
    fn item_errors_match_marshmallow() {
        assert_eq!(
            detail(r#"[{"type":"ip"}]"#),
            r#"{"0": {"value": ["Missing data for required field."]}}"#
        );
        assert_eq!(
            detail(r#"[{"type":"ip","value":""}]"#),
            r#"{"0": {"value": ["Field may not be blank."]}}"#
        );
        assert_eq!(
            detail(r#"[{"type":1,"value":null}]"#),
            r#"{"0": {"type": ["Not a valid string."], "value": ["Field may not be null."]}}"#
        );
        assert_eq!(
            detail(r#"[{"type":"ip","value":"1.1.1.1"},"x",{"type":"ip","value":"v","zé":1}]"#),
            r#"{"1": {"_schema": ["Invalid input type."]}, "2": {"z\u00e9": ["Unknown field."]}}"#
        );
        // An unsupported type is skipped only when its item is well formed.
        assert_eq!(
            detail(r#"[{"type":"url"}]"#),
            r#"{"0": {"value": ["Missing data for required field."]}}"#
        );
    }

    #[test]
    fn types_parse_exactly_by_name() {
        for kind in ObservableType::ALL {
            assert_eq!(ObservableType::parse(kind.name()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
        assert_eq!(ObservableType::parse("IP"), None);
        assert_eq!(ObservableType::parse("url"), None);
        assert_eq!(ObservableType::names(), "ip, domain, md5, sha1, sha256");
    }

    #[test]
    fn payload_errors_render_like_the_reference_whatever_they_quote() {
        let mut error = PayloadError::field("action-id", "Missing data for required field.");
        error.push("tile_id", format!("Unknown tile {}.", quoted("a\"b'é\n")));
        assert_eq!(
            error.to_string(),
            r#"{"action-id": ["Missing data for required field."], "tile_id": ["Unknown tile 'a\"b'\u00e9\n'."]}"#
        );
    }
}
