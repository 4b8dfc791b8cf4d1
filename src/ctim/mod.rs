//! Pure GTI → CTIM mapping: sightings, indicators, relationships, and the
//! `/observe` answer that groups them. No I/O, no clock, no randomness of
//! its own.
//!
//! The input is [`EnrichedEvent`]s (the workflow makes them); every field mirrors the
//! reference's `mappings.py`, whose unit-test fixtures (copied under
//! `tests/fixtures/reference/`) are the golden files. Each entity is a
//! `Serialize` struct borrowing from the event, serialised once: the
//! answer is the concatenation of each observable's serialised
//! [`Fragment`].
//!
//! GTI data is loosely typed and this module must never panic on it. Where
//! the reference would crash on a missing or odd field (a `KeyError`,
//! `None.upper()`, …) we follow one rule instead:
//!
//! * a value copied verbatim (timestamp, sensor, rule description, table
//!   cells, …) is left out when missing or null — table cells become null
//!   instead, so every row keeps its columns;
//! * text that is built into a string, an id or a URL (event type, uuids,
//!   rule name, IPs and other observable values) must be a JSON string,
//!   otherwise the piece that needs it (description line, external id or
//!   reference, relation, target) is left out;
//! * an unknown severity or confidence leaves that field out.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::gti::model::Verbatim;
use crate::level::Level;

mod answer;
mod enrichment;
mod indicator;
mod input;
mod mitre;
mod refer;
#[cfg(any(test, feature = "test-support"))]
pub mod reference;
mod relations;
mod relationship;
mod sighting;
mod table;
mod targets;
pub mod url;
pub mod verdict;

pub use answer::{Answer, Fragment};
pub use indicator::{indicator, indicator_id, Indicator};
pub use input::{DetectionInfo, EnrichedEvent, Enrichment, Summary};
pub use refer::refer_link;
pub use relationship::{relationship, Relationship};
pub use sighting::{sighting, Sighting};
pub use url::rebuild_url;
pub use verdict::{verdict, Verdict};

pub use crate::encoding::quote_plus;

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
        url::trim_portal(self.portal_url)
    }
}

/// A random transient id, `transient:<entity_type>-<uuid4>`, as the reference
/// makes them.
pub fn random_id(entity_type: &str) -> String {
    format!("transient:{entity_type}-{}", uuid::Uuid::new_v4())
}

/// GTI's `high`/`moderate`/`low` in CTIM's words; used for both severity and
/// confidence. Anything else (another case included) is unknown and yields
/// `None`.
fn level(value: Option<&Verbatim>) -> Option<&'static str> {
    Level::parse(value?.as_str()?).map(Level::ctim)
}

/// A value that is there and not null.
fn present(value: Option<&Verbatim>) -> Option<&Verbatim> {
    value.filter(|value| !value.is_null())
}

/// A constant text serialised once: the long descriptions of external
/// references (with newlines to escape) are written as ready JSON into
/// every entity instead of being escaped again each time.
struct Preescaped {
    text: &'static str,
    json: OnceLock<Option<Box<RawValue>>>,
}

impl Preescaped {
    const fn new(text: &'static str) -> Preescaped {
        Preescaped {
            text,
            json: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Preescaped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.text, f)
    }
}

impl Serialize for Preescaped {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = self
            .json
            .get_or_init(|| serde_json::value::to_raw_value(self.text).ok());
        match json {
            Some(json) => json.serialize(serializer),
            // A text always serialises; this only keeps the code panic-free.
            None => serializer.serialize_str(self.text),
        }
    }
}

/// A link back to GTI.
#[derive(Debug, Serialize)]
struct ExternalReference<'a> {
    description: &'static Preescaped,
    external_id: &'a str,
    source_name: &'static str,
    url: String,
}

impl<'a> ExternalReference<'a> {
    fn new(description: &'static Preescaped, external_id: &'a str, url: String) -> Self {
        ExternalReference {
            description,
            external_id,
            source_name: SOURCE,
            url,
        }
    }
}

/// `{"start_time", "end_time"}`, each left out when unknown: a GTI event's
/// is a point in time (its [`Verbatim`] timestamp twice, `{}` when it has
/// none); an enrichment sighting's spans GTI's first and last sightings
/// (text).
#[derive(Debug, Serialize)]
struct ObservedTime<'a, T: ?Sized = Verbatim> {
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<&'a T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<&'a T>,
}

// Copy whatever `T` is: the fields are references (derive would ask `T: Copy`).
impl<T: ?Sized> Clone for ObservedTime<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for ObservedTime<'_, T> {}

/// `{"type", "value"}`: an observable CTIM builds itself, its value mostly
/// borrowed from the event (a rebuilt URL is owned).
#[derive(Debug, Serialize)]
struct TypedValue<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: Cow<'a, str>,
}

impl<'a> TypedValue<'a> {
    fn new(kind: &'static str, value: impl Into<Cow<'a, str>>) -> Self {
        TypedValue {
            kind,
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests;
