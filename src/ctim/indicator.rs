//! The CTIM indicator of a GTI rule.

use serde::Serialize;

use super::url::rule_url;
use super::{level, present, Context, ExternalReference, Preescaped, SCHEMA_VERSION, SOURCE};
use crate::gti::model::{Rule, Verbatim};

/// An indicator, borrowing from its rule. Fields in alphabetical order.
#[derive(Debug, Serialize)]
pub struct Indicator<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a Verbatim>,
    external_ids: [&'a str; 1],
    external_references: [ExternalReference<'a>; 1],
    pub id: String,
    producer: &'static str,
    schema_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    short_description: Option<&'a Verbatim>,
    source: &'static str,
    source_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<[&'a Verbatim; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a Verbatim>,
    #[serde(rename = "type")]
    kind: &'static str,
    valid_time: ValidTime<'a>,
}

#[derive(Debug, Serialize)]
struct ValidTime<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<&'a Verbatim>,
}

static RULE_REFERENCE: Preescaped = Preescaped::new(
    "- Represents the UUID of the given rule.\n\
    - Links to a UI page describing that specific rule along with providing some summary over its history.",
);

/// The deterministic id of the indicator for a rule: the same rule always
/// yields the same indicator, which lets sightings of several observables
/// share it.
pub fn indicator_id(rule_uuid: &str) -> String {
    format!("transient:indicator-{rule_uuid}")
}

/// The indicator of a GTI rule, with the id `transient:indicator-<rule
/// uuid>`. `None` when the rule has no string `uuid`: such an indicator
/// could be neither identified nor linked.
pub fn indicator<'a>(ctx: &Context, rule: &'a Rule) -> Option<Indicator<'a>> {
    let uuid = rule.uuid()?;
    let url = rule_url(ctx.portal(), uuid, None);
    let name = present(rule.name.get());
    Some(Indicator {
        confidence: level(rule.confidence.get()),
        description: present(rule.description.get()),
        external_ids: [uuid],
        external_references: [ExternalReference::new(&RULE_REFERENCE, uuid, url.clone())],
        id: indicator_id(uuid),
        producer: SOURCE,
        schema_version: SCHEMA_VERSION,
        severity: level(rule.severity.get()),
        short_description: name,
        source: SOURCE,
        source_uri: url,
        tags: present(rule.category.get()).map(|category| [category]),
        title: name,
        kind: "indicator",
        valid_time: ValidTime {
            start_time: present(rule.created.get()),
        },
    })
}
