//! The enrichment sightings of one observable (SPEC §8.4): what the entity
//! v1 API knows of it beyond events — its entity summary, its passive DNS,
//! its file summary — each at most one CTIM sighting, with neither
//! indicator nor relationship. Pure mapping: the workflow made the calls and
//! chose, ordered and cut the passive DNS records; nothing here filters,
//! sorts or counts against a limit.
//!
//! GTI's times are copied as they come and compared as text: GTI writes
//! them all in one ISO 8601 UTC format, where text order is time order.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::relations::Relation;
use super::table::Column;
use super::url::search_url;
use super::{Context, Enrichment, ObservedTime, TypedValue, SCHEMA_VERSION, SOURCE};
use crate::gti::model::Verbatim;
use crate::gti::{EntitySummary, FileSummary, PdnsRecord};
use crate::observable::{Observable, ObservableType};

/// The `origin` of the passive DNS relations.
const PDNS_ORIGIN: &str = "Gigamon ThreatINSIGHT Passive DNS";

/// The relation of a file's name to the file, in the words other CTIM
/// modules use for it (`file_name` `File_Name_Of` the hash).
const FILE_NAME_OF: &str = "File_Name_Of";

/// An enrichment sighting, borrowing from the observable and the entity v1
/// answers. Fields in alphabetical order, as [`super::Sighting`]'s.
#[derive(Debug, Serialize)]
pub(crate) struct EnrichmentSighting<'a> {
    confidence: &'static str,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<PdnsTable<'a>>,
    description: String,
    id: String,
    observables: Vec<TypedValue<'a>>,
    observed_time: Span<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    relations: Vec<Relation<'a>>,
    schema_version: &'static str,
    sensor: &'static str,
    source: &'static str,
    source_uri: String,
    title: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The observed time of GTI's first and last sightings; an end is left out
/// only when no time at all is known.
type Span<'a> = ObservedTime<'a, str>;

/// The passive DNS records as a CTIM data table, one row per record, a
/// missing value a null cell.
#[derive(Debug, Serialize)]
struct PdnsTable<'a> {
    columns: [Column; 5],
    rows: Vec<[Option<&'a str>; 5]>,
}

const PDNS_COLUMNS: [Column; 5] = [
    text_column("resolved"),
    text_column("record_type"),
    text_column("first_seen"),
    text_column("last_seen"),
    text_column("sensor_id"),
];

const fn text_column(name: &'static str) -> Column {
    Column {
        name,
        kind: "string",
    }
}

/// The enrichment sightings of `observable`, in the answer's order: entity
/// summary, passive DNS, file summary, each only when GTI's answer makes
/// one (a summary or file with a `first_seen`, passive DNS records). Each
/// takes a fresh id from the context, in that order.
pub(crate) fn enrichment_sightings<'a>(
    ctx: &Context,
    observable: &'a Observable,
    enrichment: &'a Enrichment,
) -> Vec<EnrichmentSighting<'a>> {
    let summary = enrichment.summary.as_ref();
    let file = enrichment.file.as_ref();
    [
        summary.and_then(|summary| entity_summary(ctx, observable, summary)),
        passive_dns(ctx, observable, &enrichment.passive_dns),
        file.and_then(|file| file_summary(ctx, observable, file)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

impl<'a> EnrichmentSighting<'a> {
    /// A sighting of `observable` alone, titled `{what} of {value} in
    /// Gigamon ThreatINSIGHT`, with no data table and no relations yet.
    fn new(
        ctx: &Context,
        observable: &'a Observable,
        what: &str,
        (count, observed_time): (u64, Span<'a>),
        description: Vec<String>,
    ) -> Self {
        EnrichmentSighting {
            confidence: "High",
            count,
            data: None,
            description: description.join("\n"),
            id: (ctx.new_id)("sighting"),
            observables: vec![typed(observable)],
            observed_time,
            relations: Vec::new(),
            schema_version: SCHEMA_VERSION,
            sensor: "network.sensor",
            source: SOURCE,
            source_uri: search_url(ctx.portal(), &observable.value),
            title: format!("{what} of {} in {SOURCE}", observable.value),
            kind: "sighting",
        }
    }
}

fn typed(observable: &Observable) -> TypedValue<'_> {
    TypedValue::new(observable.kind.name(), observable.value.as_str())
}

/// A text GTI gave, unless empty.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|text| !text.is_empty())
}

/// What a summary and a file share: when GTI first and last saw the entity
/// and on how many internal devices.
struct Seen<'a> {
    first: &'a str,
    last: Option<&'a str>,
    prevalence: Option<u64>,
}

impl<'a> Seen<'a> {
    /// `None` without a first sighting.
    fn new(
        first: &'a Option<String>,
        last: &'a Option<String>,
        prevalence: Option<u64>,
    ) -> Option<Self> {
        Some(Seen {
            first: given(first)?,
            last: given(last),
            prevalence,
        })
    }

    /// `count` (the internal prevalence, 1 when unknown) and
    /// `observed_time` (the last sighting, else the first, as its end).
    fn count_and_time(&self) -> (u64, Span<'a>) {
        let span = Span {
            end_time: Some(self.last.unwrap_or(self.first)),
            start_time: Some(self.first),
        };
        (self.prevalence.unwrap_or(1), span)
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("- First seen: {}", self.first)];
        if let Some(last) = self.last {
            lines.push(format!("- Last seen: {last}"));
        }
        if let Some(prevalence) = self.prevalence {
            lines.push(format!("- Internal prevalence: {prevalence}"));
        }
        lines
    }
}

fn entity_summary<'a>(
    ctx: &Context,
    observable: &'a Observable,
    summary: &'a EntitySummary,
) -> Option<EnrichmentSighting<'a>> {
    let seen = Seen::new(
        &summary.first_seen,
        &summary.last_seen,
        summary.prevalence_count_internal,
    )?;
    let mut lines = seen.lines();
    push_list(&mut lines, "Tags", summary.tag_texts());
    Some(EnrichmentSighting::new(
        ctx,
        observable,
        "Entity summary",
        seen.count_and_time(),
        lines,
    ))
}

fn passive_dns<'a>(
    ctx: &Context,
    observable: &'a Observable,
    records: &'a [PdnsRecord],
) -> Option<EnrichmentSighting<'a>> {
    if records.is_empty() {
        return None;
    }
    let count = u64::try_from(records.len()).unwrap_or(u64::MAX);
    let mut lines = vec![format!("- Records: {count}")];
    let mut types: Vec<String> = Vec::new();
    for record_type in records
        .iter()
        .filter_map(|record| given(&record.record_type))
    {
        // DNS record types are case-insensitive; GTI's case varies.
        let record_type = record_type.to_ascii_uppercase();
        if !types.contains(&record_type) {
            types.push(record_type);
        }
    }
    push_list(&mut lines, "Record types", types.iter().map(String::as_str));

    let mut sighting = EnrichmentSighting::new(
        ctx,
        observable,
        "Passive DNS",
        (count, pdns_span(records)),
        lines,
    );
    sighting.relations = records
        .iter()
        .filter_map(|record| resolved_to(observable, record))
        .collect();
    sighting.data = Some(PdnsTable {
        columns: PDNS_COLUMNS,
        rows: records.iter().map(pdns_row).collect(),
    });
    Some(sighting)
}

/// From the earliest first sighting to the latest last one; a record may
/// lack either, so each end falls back on the other kind of time.
fn pdns_span(records: &[PdnsRecord]) -> Span<'_> {
    let firsts = || {
        records
            .iter()
            .filter_map(|record| given(&record.first_seen))
    };
    let lasts = || records.iter().filter_map(|record| given(&record.last_seen));
    Span {
        end_time: lasts().max().or_else(|| firsts().max()),
        start_time: firsts().min().or_else(|| lasts().min()),
    }
}

fn pdns_row(record: &PdnsRecord) -> [Option<&str>; 5] {
    [
        record.resolved.as_deref(),
        record.record_type.as_deref(),
        record.first_seen.as_deref(),
        record.last_seen.as_deref(),
        record.sensor_id.as_deref(),
    ]
}

/// `domain Resolved_To ip-or-domain`: from the observable for a domain,
/// to it for an IP (which GTI's record saw a domain resolve to).
fn resolved_to<'a>(observable: &'a Observable, record: &'a PdnsRecord) -> Option<Relation<'a>> {
    let resolved = given(&record.resolved)?;
    let resolved = TypedValue::new(observable_type_of(resolved), resolved);
    let (source, related) = match observable.kind {
        ObservableType::Ip => (resolved, typed(observable)),
        _ => (typed(observable), resolved),
    };
    Some(Relation::new(PDNS_ORIGIN, source, "Resolved_To", related))
}

/// The CTIM type of a resolved value, by its form.
fn observable_type_of(value: &str) -> &'static str {
    if value.parse::<Ipv4Addr>().is_ok() {
        "ip"
    } else if value.parse::<Ipv6Addr>().is_ok() {
        "ipv6"
    } else {
        "domain"
    }
}

fn file_summary<'a>(
    ctx: &Context,
    observable: &'a Observable,
    file: &'a FileSummary,
) -> Option<EnrichmentSighting<'a>> {
    let seen = Seen::new(
        &file.first_seen,
        &file.last_seen,
        file.prevalence_count_internal,
    )?;
    let mut lines = seen.lines();
    if let Some(bytes) = file.bytes {
        lines.push(format!("- Size: {bytes} bytes"));
    }
    push_list(&mut lines, "MIME types", file.mime_types());
    push_list(&mut lines, "Names", file.file_names());
    push_pe_facts(&mut lines, file);

    let mut sighting = EnrichmentSighting::new(
        ctx,
        observable,
        "File summary",
        seen.count_and_time(),
        lines,
    );
    for (kind, hash) in [
        (ObservableType::Md5, &file.md5),
        (ObservableType::Sha1, &file.sha1),
        (ObservableType::Sha256, &file.sha256),
    ] {
        match given(hash) {
            Some(hash) if kind != observable.kind => {
                sighting
                    .observables
                    .push(TypedValue::new(kind.name(), hash));
            }
            _ => {}
        }
    }
    sighting.relations = file
        .file_names()
        .map(|name| {
            let name = TypedValue::new("file_name", name);
            Relation::new(SOURCE, name, FILE_NAME_OF, typed(observable))
        })
        .collect();
    Some(sighting)
}

/// `- PE:` and a nested item per scalar fact (text, number, boolean), in
/// the facts' name order; nothing when there is none.
fn push_pe_facts(lines: &mut Vec<String>, file: &FileSummary) {
    let Some(pe) = file.pe.get() else {
        return;
    };
    let facts: Vec<String> = pe
        .iter()
        .filter_map(|(name, value)| Some(format!("  - {name}: {}", code(&scalar(value)?))))
        .collect();
    if !facts.is_empty() {
        lines.push("- PE:".to_owned());
        lines.extend(facts);
    }
}

/// The text of a non-empty string, number or boolean.
fn scalar(value: &Verbatim) -> Option<String> {
    if let Some(text) = value.as_str() {
        return (!text.is_empty()).then(|| text.to_owned());
    }
    let json = value.canonical_text();
    let container = json.starts_with(['[', '{']);
    (!container && json != "null").then_some(json)
}

/// `- {label}: `a`, `b``, when there is any item.
fn push_list<'t>(lines: &mut Vec<String>, label: &str, items: impl Iterator<Item = &'t str>) {
    let items: Vec<String> = items.filter(|item| !item.is_empty()).map(code).collect();
    if !items.is_empty() {
        lines.push(format!("- {label}: {}", items.join(", ")));
    }
}

/// `text` as a markdown code span: fenced by one backtick more than its
/// longest run of them, so that GTI's text cannot end the span early.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if longest > 0 { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

#[cfg(test)]
mod tests;
