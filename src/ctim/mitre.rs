//! MITRE ATT&CK technique ids of a GTI rule (SPEC §8.5): which values of
//! its `primary_attack_id` and `secondary_attack_id` are technique ids, and
//! how one is written as an indicator's external reference and tag. Pure;
//! it knows nothing of the indicator around them.
//!
//! A field holds one id, a comma-separated string of ids, or a list of ids
//! (each item one id). Anything else, and any piece that is not `T` + 4
//! digits with an optional `.` + 3 digits, adds nothing: GTI data is
//! loosely typed and a bad id must never cost the rest of the indicator.

use std::collections::HashSet;
use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::gti::model::Verbatim;

/// The `source_name` of a technique's external reference.
const SOURCE_NAME: &str = "MITRE ATT&CK";

/// A technique id such as `T1071` or, for a sub-technique, `T1027.005`;
/// written in upper case whatever case GTI sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Technique {
    /// The technique's four digits.
    number: u16,
    /// A sub-technique's three digits.
    sub: Option<u16>,
}

impl Technique {
    /// One id, surrounding whitespace ignored, `t` taken for `T`; `None`
    /// unless it is exactly `T####` or `T####.###`.
    pub fn parse(text: &str) -> Option<Technique> {
        let rest = text.trim().strip_prefix(['T', 't'])?;
        let (number, sub) = match rest.split_once('.') {
            Some((number, sub)) => (number, Some(digits(sub, 3)?)),
            None => (rest, None),
        };
        Some(Technique {
            number: digits(number, 4)?,
            sub,
        })
    }

    /// Its page: `https://attack.mitre.org/techniques/T1027/005/` for
    /// `T1027.005`.
    fn url(self) -> impl fmt::Display {
        struct Url(Technique);
        impl fmt::Display for Url {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "https://attack.mitre.org/techniques/T{:04}/",
                    self.0.number
                )?;
                match self.0.sub {
                    Some(sub) => write!(f, "{sub:03}/"),
                    None => Ok(()),
                }
            }
        }
        Url(self)
    }
}

/// `count` ASCII digits, nothing else.
fn digits(text: &str, count: usize) -> Option<u16> {
    let all_digits = text.len() == count && text.bytes().all(|b| b.is_ascii_digit());
    all_digits.then(|| text.parse().ok()).flatten()
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{:04}", self.number)?;
        match self.sub {
            Some(sub) => write!(f, ".{sub:03}"),
            None => Ok(()),
        }
    }
}

/// As a tag: the id.
impl Serialize for Technique {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The techniques of a rule's attack id fields, in the order given
/// (`primary_attack_id` first), each once. `None` is a missing field.
pub fn techniques<'a>(fields: impl IntoIterator<Item = Option<&'a Verbatim>>) -> Vec<Technique> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for field in fields.into_iter().flatten() {
        for technique in in_field(field) {
            if seen.insert(technique) {
                found.push(technique);
            }
        }
    }
    found
}

/// The techniques of one field: a string split at its commas, or a list's
/// string items; anything else (null, a number, an object, a list in the
/// list) holds none.
fn in_field(field: &Verbatim) -> Vec<Technique> {
    match field {
        Verbatim::Text(text) => text.split(',').filter_map(Technique::parse).collect(),
        Verbatim::Json(raw) => serde_json::from_str::<Vec<Verbatim>>(raw.get())
            .unwrap_or_default()
            .iter()
            .filter_map(Verbatim::as_str)
            .filter_map(Technique::parse)
            .collect(),
    }
}

/// A technique as an external reference: `{"description": "MITRE ATT&CK
/// technique <id>", "external_id": "<id>", "source_name": "MITRE ATT&CK",
/// "url": <its page>}`, fields in alphabetical order as every entity's.
#[derive(Debug, Clone, Copy)]
pub struct Reference(pub Technique);

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let technique = self.0;
        let mut reference = serializer.serialize_struct("ExternalReference", 4)?;
        reference.serialize_field(
            "description",
            &format_args!("{SOURCE_NAME} technique {technique}"),
        )?;
        reference.serialize_field("external_id", &technique)?;
        reference.serialize_field("source_name", SOURCE_NAME)?;
        reference.serialize_field("url", &format_args!("{}", technique.url()))?;
        reference.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// The ids found in the two fields, given as GTI's JSON (`None`: the
    /// field is missing).
    fn ids(primary: Option<Value>, secondary: Option<Value>) -> Vec<String> {
        let read = |value: Option<Value>| {
            value.map(|value| serde_json::from_str::<Verbatim>(&value.to_string()).unwrap())
        };
        let (primary, secondary) = (read(primary), read(secondary));
        techniques([primary.as_ref(), secondary.as_ref()])
            .iter()
            .map(Technique::to_string)
            .collect()
    }

    fn one(value: Value) -> Vec<String> {
        ids(Some(value), None)
    }

    #[test]
    fn one_id() {
        assert_eq!(one(json!("T1071")), ["T1071"]);
        assert_eq!(one(json!("T1071.001")), ["T1071.001"]);
        assert_eq!(one(json!(" T0001 ")), ["T0001"]);
    }

    #[test]
    fn comma_separated_ids_with_spaces() {
        assert_eq!(one(json!("T1573, T1008")), ["T1573", "T1008"]);
        assert_eq!(
            one(json!("T1573 ,T1008.001,, T1105 ,")),
            ["T1573", "T1008.001", "T1105"]
        );
    }

    #[test]
    fn a_list_of_ids() {
        assert_eq!(one(json!(["T1105", "T1204.002"])), ["T1105", "T1204.002"]);
        // Items are single ids; odd items are skipped, good ones kept.
        assert_eq!(
            one(json!([null, "T1105", 1059, ["T1059"], {"id": "T1059"}, "T1204.002"])),
            ["T1105", "T1204.002"]
        );
        assert_eq!(one(json!(["T1105, T1059"])), Vec::<String>::new());
    }

    #[test]
    fn lower_case_is_read_and_written_in_upper_case() {
        assert_eq!(one(json!("t1059.001")), ["T1059.001"]);
        assert_eq!(ids(Some(json!("t1059")), Some(json!("T1059"))), ["T1059"]);
    }

    #[test]
    fn primary_first_each_id_once() {
        assert_eq!(
            ids(
                Some(json!("T1071.001, T1573")),
                Some(json!("T1573, T1008, t1071.001, T1008"))
            ),
            ["T1071.001", "T1573", "T1008"]
        );
        assert_eq!(
            ids(Some(json!(null)), Some(json!(["T1008", "T1071"]))),
            ["T1008", "T1071"]
        );
        assert_eq!(ids(None, Some(json!("T1008"))), ["T1008"]);
        // A technique and its sub-technique are different ids.
        assert_eq!(
            ids(Some(json!("T1071")), Some(json!("T1071.001"))),
            ["T1071", "T1071.001"]
        );
    }

    #[test]
    fn malformed_ids_add_nothing() {
        let malformed = [
            "T123",
            "T12345",
            "T1234.5",
            "T1234.",
            "T1234.0001",
            "X1234",
            "1234",
            "T",
            "TT1234",
            "T12a4",
            "T+123",
            "T1234-001",
            "T1234.001.001",
            "T１２３４",
            "",
            " ",
            ",",
        ];
        for text in malformed {
            assert_eq!(one(json!(text)), Vec::<String>::new(), "{text:?}");
        }
        for value in [
            json!(null),
            json!(1234),
            json!(1071.001),
            json!(true),
            json!([]),
            json!([["T1059"]]),
            json!({"T1059": "T1059"}),
        ] {
            assert_eq!(one(value.clone()), Vec::<String>::new(), "{value}");
        }
        assert_eq!(ids(None, None), Vec::<String>::new());
        // A bad piece costs only itself.
        assert_eq!(one(json!("T123, T1059, X1234")), ["T1059"]);
    }

    #[test]
    fn references_link_the_technique_or_sub_technique_page() {
        let reference = |id: &str| serde_json::to_value(Reference(Technique::parse(id).unwrap()));
        assert_eq!(
            reference("t1027.005").unwrap(),
            json!({
                "source_name": "MITRE ATT&CK",
                "external_id": "T1027.005",
                "url": "https://attack.mitre.org/techniques/T1027/005/",
                "description": "MITRE ATT&CK technique T1027.005",
            })
        );
        assert_eq!(
            reference("T1105").unwrap(),
            json!({
                "source_name": "MITRE ATT&CK",
                "external_id": "T1105",
                "url": "https://attack.mitre.org/techniques/T1105/",
                "description": "MITRE ATT&CK technique T1105",
            })
        );
    }
}
