//! The CTIM sighting of one GTI event.

use serde::Serialize;

use super::relations::{relations, Relation};
use super::table::{data_table, Table};
use super::targets::{targets, Target};
use super::url::{rule_url, search_url};
use super::EnrichedEvent;
use super::{
    level, present, Context, ExternalReference, ObservedTime, Preescaped, SCHEMA_VERSION, SOURCE,
};
use crate::gti::model::Verbatim;
use crate::observable::Observable;

/// A sighting, borrowing from its event. Fields in alphabetical order, as
/// the reference's JSON has them.
#[derive(Debug, Serialize)]
pub struct Sighting<'a> {
    confidence: &'static str,
    count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Table<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_ids: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference<'a>>,
    pub id: String,
    internal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    observables: Option<[&'a Observable; 1]>,
    observed_time: ObservedTime<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relations: Vec<Relation<'a>>,
    schema_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sensor: Option<&'a Verbatim>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    targets: Option<[Target<'a>; 1]>,
    #[serde(rename = "type")]
    kind: &'static str,
}

static EVENT_REFERENCE: Preescaped = Preescaped::new(
    "- Represents the UUID of the given event.\n\
    - Links to a UI search page querying for that particular event by its UUID.",
);

static RULE_REFERENCE: Preescaped = Preescaped::new(
    "- Represents the UUID of a rule matching the given event.\n\
    - Links to a UI page describing that specific rule along with providing some summary over its history.\n\
    - Includes the UUID of an account associated with that particular detection.",
);

/// The CTIM sighting of one enriched GTI event, with the id `id`.
pub fn sighting<'a>(ctx: &Context, id: String, found: &EnrichedEvent<'a>) -> Sighting<'a> {
    let event = found.event;
    let timestamp = present(event.timestamp.get());
    let observed_time = ObservedTime {
        end_time: timestamp,
        start_time: timestamp,
    };
    let rule = found.detection.map(|detection| detection.rule.as_ref());
    let rule_uuid = rule.and_then(|rule| rule.uuid());

    let mut description = Vec::new();
    let event_type = event.event_type();
    if let Some(event_type) = event_type {
        description.push(format!("- Event: `{}`", event_type.to_uppercase()));
    }
    if let Some(name) = rule.and_then(|rule| rule.name.get()?.as_str()) {
        description.push(format!("- Rule: `{name}`"));
    }

    let event_uuid = event.uuid();
    let external_ids: Vec<&str> = event_uuid.into_iter().chain(rule_uuid).collect();

    let mut references = Vec::new();
    if let Some(uuid) = event_uuid {
        let url = search_url(ctx.portal(), &format!("uuid = '{uuid}'"));
        references.push(ExternalReference::new(&EVENT_REFERENCE, uuid, url));
    }
    if let Some(uuid) = rule_uuid {
        let account = found
            .detection
            .and_then(|detection| detection.account_uuid.as_deref());
        let url = rule_url(ctx.portal(), uuid, account);
        references.push(ExternalReference::new(&RULE_REFERENCE, uuid, url));
    }
    // The reference points `source_uri` at the most specific link: the rule
    // page for a detection, the event search otherwise.
    let source_uri = references.last().map(|reference| reference.url.clone());

    Sighting {
        confidence: "High",
        count: 1,
        data: data_table(found),
        description: (!description.is_empty()).then(|| description.join("\n")),
        external_ids,
        external_references: references,
        id,
        internal: true,
        observables: found.observable.map(|observable| [observable]),
        observed_time,
        relations: relations(found),
        schema_version: SCHEMA_VERSION,
        sensor: present(event.sensor_id.get()),
        severity: rule.and_then(|rule| level(rule.severity.get())),
        source: SOURCE,
        source_uri,
        targets: targets(found, observed_time).map(|target| [target]),
        kind: "sighting",
    }
}
