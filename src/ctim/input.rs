//! What the mapper reads: an event with everything known about it, by
//! reference ([`EnrichedEvent`]), and what its detection adds
//! ([`DetectionInfo`], made once per detection and shared by its events).
//! The workflow makes them; the mapper never sees how.

use std::sync::Arc;

use crate::gti::model::{DhcpRecord, Event, Rule, Side};
use crate::gti::{EntitySummary, FileSummary, PdnsRecord};
use crate::observable::Observable;

/// What the entity v1 API told of one observable (SPEC §8.4), as the
/// workflow kept it: each part absent when GTI knows nothing of it, its
/// call failed, or the enrichment is off. The passive DNS records are
/// already chosen: test accounts dropped unless allowed, for an IP only
/// those that resolved a domain name, newest `last_seen` first, cut to the
/// entity limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Enrichment {
    pub summary: Option<EntitySummary>,
    pub passive_dns: Vec<PdnsRecord>,
    pub file: Option<FileSummary>,
}

/// What a detection adds to each of its events, made once per detection and
/// shared by them.
///
/// The workflow always knows the account and the summary; they are optional
/// because the mapper also reads events in the reference's own JSON shape
/// (its fixtures, read by the mapper's `reference` module), where either
/// may be absent.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionInfo {
    pub account_uuid: Option<String>,
    /// Shared with the other detections of the same rule.
    pub rule: Arc<Rule>,
    pub summary: Option<Summary>,
}

/// Distinct impacted devices and indicator values of a rule in an account,
/// over the allowed detections of one observable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub impacted_devices: usize,
    pub indicator_values: usize,
}

/// An event with everything the mapper needs to know about it, by reference.
#[derive(Debug, Clone, Copy)]
pub struct EnrichedEvent<'a> {
    pub event: &'a Event,
    /// The observable it was found for (always known to the workflow; see
    /// [`DetectionInfo`] for when it is not).
    pub observable: Option<&'a Observable>,
    pub detection: Option<&'a DetectionInfo>,
    /// The DHCP records of the `src` and `dst` ends, in GTI's order; empty
    /// unless the end is internal and GTI knew its IP.
    pub dhcp: [&'a [DhcpRecord]; 2],
}

impl<'a> EnrichedEvent<'a> {
    /// The `src` and `dst` ends with their DHCP records.
    pub fn sides(&self) -> [(Option<&'a Side>, &'a [DhcpRecord]); 2] {
        let [src, dst] = self.event.sides();
        [(src, self.dhcp[0]), (dst, self.dhcp[1])]
    }
}
