//! The entity v1 API (SPEC §8.4): what FortiNDR Cloud knows of an entity
//! beyond events. `entity/<value>/summary` (first and last seen, internal
//! prevalence, tags) and `entity/<value>/pdns` (passive DNS) for IPs and
//! domains, `entity/<hash>/file` (names, size, type, PE facts) for hashes.
//!
//! The URLs name the observable, so a 404 says GTI knows nothing of it (the
//! caller reads it so); every call is supplementary. The models tolerate
//! whatever GTI may send: a field of another type than documented reads as
//! absent, never as a failed answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::model::{text_or_none, ListOrNone, ObjectOrNone, Verbatim};
use super::request::{json, Decode, DecodeError, GtiRequest, HttpCall};
use super::Endpoint;
use crate::encoding::quote_segment;
use crate::observable::ObservableType;
use crate::region::{BaseUrl, RegionUrls};

/// `{base}entity/<value>/<what>`, the value one percent-encoded path
/// segment; `None` without an entity v1 base, or for `.` and `..` (which a
/// path would read as a step, not a name).
fn entity_url(urls: &RegionUrls, value: &str, what: &str) -> Option<String> {
    let base: &BaseUrl = urls.entity_v1.as_ref()?;
    if value.is_empty() || value == "." || value == ".." {
        return None;
    }
    Some(format!("{base}entity/{}/{what}", quote_segment(value)))
}

/// The entity summary of an IP or a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryOf {
    pub value: String,
    pub kind: ObservableType,
}

impl GtiRequest for SummaryOf {
    type Output = Option<EntitySummary>;
    const ENDPOINT: Endpoint = Endpoint::EntitySummary;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        let url = entity_url(urls, &self.value, "summary")?;
        Some(HttpCall::get(
            Self::ENDPOINT,
            format!("{url}?entity_type={}", self.kind),
        ))
    }
}

/// The passive DNS records of an IP or a domain, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassiveDnsOf {
    pub value: String,
    pub limit: usize,
}

impl GtiRequest for PassiveDnsOf {
    type Output = Vec<PdnsRecord>;
    const ENDPOINT: Endpoint = Endpoint::PassiveDns;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        let url = entity_url(urls, &self.value, "pdns")?;
        Some(HttpCall::get(
            Self::ENDPOINT,
            format!("{url}?limit={}", self.limit),
        ))
    }
}

/// The file summary of an MD5, SHA-1 or SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOf {
    pub hash: String,
}

impl GtiRequest for FileOf {
    type Output = Option<FileSummary>;
    const ENDPOINT: Endpoint = Endpoint::FileSummary;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        Some(HttpCall::get(
            Self::ENDPOINT,
            entity_url(urls, &self.hash, "file")?,
        ))
    }
}

/// `{"summary": {…}}`: when, and by how many internal devices, an entity
/// was seen.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EntitySummary {
    #[serde(deserialize_with = "text_or_none")]
    pub entity: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub first_seen: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub last_seen: Option<String>,
    #[serde(deserialize_with = "positive_count")]
    pub prevalence_count_internal: Option<u64>,
    pub tags: ListOrNone<ObjectOrNone<Tag>>,
}

impl EntitySummary {
    /// The tags' texts, in GTI's order.
    pub fn tag_texts(&self) -> impl Iterator<Item = &str> {
        self.tags
            .items()
            .iter()
            .filter_map(|tag| tag.get()?.text.as_deref())
    }
}

/// A tag of an entity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Tag {
    #[serde(deserialize_with = "text_or_none")]
    pub text: Option<String>,
}

/// One passive DNS record: `resolved` answered a query for the entity (or
/// the entity answered one for `resolved`), seen by a sensor.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PdnsRecord {
    #[serde(deserialize_with = "text_or_none")]
    pub resolved: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub record_type: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub first_seen: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub last_seen: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub source: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub sensor_id: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub account_uuid: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub customer_id: Option<String>,
}

/// `{"file": {…}}`: what GTI knows of a file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FileSummary {
    #[serde(deserialize_with = "text_or_none")]
    pub entity: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub first_seen: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub last_seen: Option<String>,
    #[serde(deserialize_with = "positive_count")]
    pub prevalence_count_internal: Option<u64>,
    #[serde(deserialize_with = "size")]
    pub bytes: Option<u64>,
    pub mime_type: ListOrNone<Verbatim>,
    pub names: ListOrNone<Verbatim>,
    #[serde(deserialize_with = "text_or_none")]
    pub md5: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub sha1: Option<String>,
    #[serde(deserialize_with = "text_or_none")]
    pub sha256: Option<String>,
    /// The PE header's facts (`compile_time`, `imphash`, …), as GTI names
    /// them; only scalar ones are shown.
    pub pe: ObjectOrNone<BTreeMap<String, Verbatim>>,
}

impl FileSummary {
    /// The MIME types that are strings.
    pub fn mime_types(&self) -> impl Iterator<Item = &str> {
        self.mime_type.items().iter().filter_map(Verbatim::as_str)
    }

    /// The file names that are non-empty strings.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .items()
            .iter()
            .filter_map(Verbatim::as_str)
            .filter(|name| !name.is_empty())
    }
}

/// A count that is a JSON integer ≥ 1 or a string of digits ≥ 1; anything
/// else reads as none.
fn positive_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(whole_number(&serde_json::Value::deserialize(deserializer)?).filter(|n| *n >= 1))
}

/// A size in bytes: a JSON integer ≥ 0 or a string of digits.
fn size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(whole_number(&serde_json::Value::deserialize(deserializer)?))
}

fn whole_number(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(number) => number.as_u64(),
        serde_json::Value::String(text)
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            text.parse().ok()
        }
        _ => None,
    }
}

#[derive(Deserialize)]
struct SummaryAnswer {
    #[serde(default)]
    summary: ObjectOrNone<EntitySummary>,
}

impl Decode for Option<EntitySummary> {
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(json::<SummaryAnswer>(body)?.summary.0)
    }
}

#[derive(Deserialize)]
struct PassiveDnsAnswer {
    #[serde(default)]
    passivedns: ListOrNone<ObjectOrNone<PdnsRecord>>,
}

impl Decode for Vec<PdnsRecord> {
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let answer: PassiveDnsAnswer = json(body)?;
        Ok(answer
            .passivedns
            .0
            .unwrap_or_default()
            .into_iter()
            .filter_map(|record| record.0)
            .collect())
    }
}

#[derive(Deserialize)]
struct FileAnswer {
    #[serde(default)]
    file: ObjectOrNone<FileSummary>,
}

impl Decode for Option<FileSummary> {
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(json::<FileAnswer>(body)?.file.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;

    fn url(request: &impl GtiRequest) -> Option<String> {
        request
            .http(&Region::Us.default_urls())
            .map(|call| call.url)
    }

    #[test]
    fn the_value_is_one_encoded_path_segment() {
        let summary = SummaryOf {
            value: "a b/c?d#e:f.example".into(),
            kind: ObservableType::Domain,
        };
        assert_eq!(
            url(&summary).as_deref(),
            Some(
                "https://entity.icebrg.io/v1/entity/a%20b%2Fc%3Fd%23e:f.example/summary\
                 ?entity_type=domain"
            )
        );
        let pdns = PassiveDnsOf {
            value: "2001:db8::1".into(),
            limit: 100,
        };
        assert_eq!(
            url(&pdns).as_deref(),
            Some("https://entity.icebrg.io/v1/entity/2001:db8::1/pdns?limit=100")
        );
        let file = FileOf { hash: "ab".into() };
        assert_eq!(
            url(&file).as_deref(),
            Some("https://entity.icebrg.io/v1/entity/ab/file")
        );
        for odd in [".", ".."] {
            assert_eq!(url(&FileOf { hash: odd.into() }), None, "{odd}");
        }
        let mut off = Region::Us.default_urls();
        off.entity_v1 = None;
        assert_eq!(file.http(&off), None);
    }

    #[test]
    fn answers_tolerate_what_gti_may_send() {
        assert_eq!(
            Option::<EntitySummary>::decode(br#"{"summary":null}"#),
            Ok(None)
        );
        assert_eq!(Option::<EntitySummary>::decode(b"{}"), Ok(None));
        let summary = Option::<EntitySummary>::decode(
            br#"{"summary":{"entity":"x","first_seen":"2026-01-01T00:00:00.000Z",
                "prevalence_count_internal":"12","tags":[{"text":"c2"},null,{"text":5},"t"],"extra":1}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(summary.prevalence_count_internal, Some(12));
        assert_eq!(summary.tag_texts().collect::<Vec<_>>(), ["c2"]);
        for (count, read) in [
            ("0", None),
            ("-3", None),
            ("\"x\"", None),
            ("2.5", None),
            ("7", Some(7)),
        ] {
            let body = format!(r#"{{"summary":{{"prevalence_count_internal":{count}}}}}"#);
            let summary = Option::<EntitySummary>::decode(body.as_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(summary.prevalence_count_internal, read, "{count}");
        }
        let records = Vec::<PdnsRecord>::decode(
            br#"{"passivedns":[{"resolved":"a.example","record_type":"cname"},7,null,{"resolved":null}]}"#,
        )
        .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].record_type.as_deref(), Some("cname"));
        assert_eq!(
            Vec::<PdnsRecord>::decode(br#"{"passivedns":null}"#),
            Ok(Vec::new())
        );
        let file = Option::<FileSummary>::decode(
            br#"{"file":{"bytes":"2048","names":["a.exe","",3],"mime_type":"x","pe":[1]}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(file.bytes, Some(2048));
        assert_eq!(file.file_names().collect::<Vec<_>>(), ["a.exe"]);
        assert_eq!(file.mime_types().count(), 0);
        assert!(file.pe.get().is_none());
        assert!(Option::<FileSummary>::decode(b"not json").is_err());
    }
}
