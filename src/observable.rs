//! Observables: what SecureX asks about, which types GTI can be asked
//! about, and the body of `/observe/observables` (and its siblings) that
//! carries them: a JSON array of `{"type", "value"}` objects, validated the
//! way the reference's marshmallow schema does, with the same error detail.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RelayError;

pub use crate::gti::SUPPORTED_TYPES;

/// An observable as SecureX sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Observable {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Observable {
    pub fn is_supported(&self) -> bool {
        SUPPORTED_TYPES.contains(&self.kind.as_str())
    }

    /// The event search's query: `<type> = '<value>'`, as the reference sends it.
    pub fn search_query(&self) -> String {
        format!("{} = '{}'", self.kind, self.value)
    }
}

const FIELDS: [&str; 2] = ["type", "value"];

/// Parses a request body into observables, or the invalid-payload error
/// whose detail matches the reference's (`{"0": {"value": ["Field may not
/// be blank."]}}`).
pub fn parse_observables(body: &[u8]) -> Result<Vec<Observable>, RelayError> {
    let invalid_input =
        || RelayError::InvalidPayload(r#"{"_schema": ["Invalid input type."]}"#.to_owned());
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Err(invalid_input());
    };

    let mut observables = Vec::with_capacity(items.len());
    let mut errors: Vec<(usize, Vec<(String, &str)>)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match validate_item(item) {
            Ok(observable) => observables.push(observable),
            Err(fields) => errors.push((index, fields)),
        }
    }
    if errors.is_empty() {
        Ok(observables)
    } else {
        Err(RelayError::InvalidPayload(render_errors(&errors)))
    }
}

/// One item's field errors, in the schema's order, then unknown fields.
fn validate_item(item: &Value) -> Result<Observable, Vec<(String, &'static str)>> {
    let Some(object) = item.as_object() else {
        return Err(vec![("_schema".to_owned(), "Invalid input type.")]);
    };
    let mut errors = Vec::new();
    let mut values = Vec::with_capacity(FIELDS.len());
    for field in FIELDS {
        match object.get(field) {
            None => errors.push((field.to_owned(), "Missing data for required field.")),
            Some(Value::Null) => errors.push((field.to_owned(), "Field may not be null.")),
            Some(Value::String(text)) if text.is_empty() => {
                errors.push((field.to_owned(), "Field may not be blank."))
            }
            Some(Value::String(text)) => values.push(text.clone()),
            Some(_) => errors.push((field.to_owned(), "Not a valid string.")),
        }
    }
    // serde_json's map is ordered by key, so unknown fields come out sorted.
    for name in object
        .keys()
        .filter(|name| !FIELDS.contains(&name.as_str()))
    {
        errors.push((name.clone(), "Unknown field."));
    }
    match (errors.is_empty(), values.as_slice()) {
        (true, [kind, value]) => Ok(Observable {
            kind: kind.clone(),
            value: value.clone(),
        }),
        _ => Err(errors),
    }
}

/// Renders errors like Python's `json.dumps` (`", "` and `": "` separators,
/// non-ASCII escaped), since the reference pastes that into its message.
fn render_errors(errors: &[(usize, Vec<(String, &str)>)]) -> String {
    let items: Vec<String> = errors
        .iter()
        .map(|(index, fields)| {
            let fields: Vec<String> = fields
                .iter()
                .map(|(name, message)| {
                    format!("{}: [{}]", python_string(name), python_string(message))
                })
                .collect();
            format!("\"{index}\": {{{}}}", fields.join(", "))
        })
        .collect();
    format!("{{{}}}", items.join(", "))
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
            Err(RelayError::InvalidPayload(detail)) => detail,
            other => panic!("expected an invalid payload for {body}, got {other:?}"),
        }
    }

    #[test]
    fn valid_bodies_give_observables_in_order() {
        let observables = parse_observables(
            br#"[{"type":"ip","value":"1.1.1.1"},{"value":"x.com","type":"domain"}]"#,
        )
        .unwrap();
        assert_eq!(
            observables,
            [
                Observable {
                    kind: "ip".into(),
                    value: "1.1.1.1".into()
                },
                Observable {
                    kind: "domain".into(),
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
    }
}
