//! The CTIM relationship from a sighting to the indicator of its rule.

use serde::Serialize;

use super::{Context, SCHEMA_VERSION};

/// `sighting-of`, sighting → indicator. Fields in alphabetical order.
#[derive(Debug, Serialize)]
pub struct Relationship<'a> {
    id: String,
    relationship_type: &'static str,
    schema_version: &'static str,
    source_ref: &'a str,
    target_ref: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A `sighting-of` relationship from a sighting to the indicator of the rule
/// that detected it, with a fresh id from `ctx.new_id`.
pub fn relationship<'a>(
    ctx: &Context,
    sighting_id: &'a str,
    indicator_id: &'a str,
) -> Relationship<'a> {
    Relationship {
        id: (ctx.new_id)("relationship"),
        relationship_type: "sighting-of",
        schema_version: SCHEMA_VERSION,
        source_ref: sighting_id,
        target_ref: indicator_id,
        kind: "relationship",
    }
}
