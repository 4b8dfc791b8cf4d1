//! The CTIM indicator of a GTI rule.

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::mitre::{self, Technique};
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
    external_references: References<'a>,
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
    tags: Option<Tags<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a Verbatim>,
    #[serde(rename = "type")]
    kind: &'static str,
    valid_time: ValidTime<'a>,
}

/// The rule's link, then one reference per MITRE ATT&CK technique of the
/// rule (SPEC §8.5).
#[derive(Debug)]
struct References<'a> {
    rule: ExternalReference<'a>,
    techniques: Vec<Technique>,
}

impl Serialize for References<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut references = serializer.serialize_seq(Some(1 + self.techniques.len()))?;
        references.serialize_element(&self.rule)?;
        for &technique in &self.techniques {
            references.serialize_element(&mitre::Reference(technique))?;
        }
        references.end()
    }
}

/// The rule's category, then its MITRE ATT&CK technique ids; never empty
/// (no tags is no `tags` field).
#[derive(Debug)]
struct Tags<'a> {
    category: Option<&'a Verbatim>,
    techniques: Vec<Technique>,
}

impl<'a> Tags<'a> {
    fn new(category: Option<&'a Verbatim>, techniques: Vec<Technique>) -> Option<Tags<'a>> {
        (category.is_some() || !techniques.is_empty()).then_some(Tags {
            category,
            techniques,
        })
    }
}

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = usize::from(self.category.is_some()) + self.techniques.len();
        let mut tags = serializer.serialize_seq(Some(len))?;
        if let Some(category) = self.category {
            tags.serialize_element(category)?;
        }
        for technique in &self.techniques {
            tags.serialize_element(technique)?;
        }
        tags.end()
    }
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
/// could be neither identified nor linked. The rule's MITRE ATT&CK
/// technique ids, if any, add references and tags (SPEC §8.5).
pub fn indicator<'a>(ctx: &Context, rule: &'a Rule) -> Option<Indicator<'a>> {
    let uuid = rule.uuid()?;
    let url = rule_url(ctx.portal(), uuid, None);
    let name = present(rule.name.get());
    let techniques =
        mitre::techniques([rule.primary_attack_id.get(), rule.secondary_attack_id.get()]);
    Some(Indicator {
        confidence: level(rule.confidence.get()),
        description: present(rule.description.get()),
        external_ids: [uuid],
        external_references: References {
            rule: ExternalReference::new(&RULE_REFERENCE, uuid, url.clone()),
            techniques: techniques.clone(),
        },
        id: indicator_id(uuid),
        producer: SOURCE,
        schema_version: SCHEMA_VERSION,
        severity: level(rule.severity.get()),
        short_description: name,
        source: SOURCE,
        source_uri: url,
        tags: Tags::new(present(rule.category.get()), techniques),
        title: name,
        kind: "indicator",
        valid_time: ValidTime {
            start_time: present(rule.created.get()),
        },
    })
}
