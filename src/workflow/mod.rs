//! The observe workflow: for each observable, the GTI calls of SPEC §5, run
//! in parallel, their results merged into the events the mapper reads.
//!
//! Plan, execute, merge: the decisions (which calls, which follow which,
//! which events match, which search windows are used, the cut to the limit,
//! the DHCP look-ups) are pure functions in `plan`, `merge` and `dhcp`,
//! tested without threads; `executor` only runs the calls on the `pool`'s
//! sleeping threads, within the request's deadline, and hands each
//! observable's findings, as soon as they are complete, to the caller's
//! mapping function, on rayon, in parallel with the other observables.
//!
//! Context travels by reference: an [`EnrichedEvent`] points at its event,
//! its observable, its detection's shared [`DetectionInfo`] and the DHCP
//! records of its ends; nothing is copied into the events.

use std::sync::Arc;

use crate::gti::model::{Detection, DhcpRecord, Event, Rule, Side};
use crate::gti::DayWindow;
use crate::observable::Observable;

pub mod dhcp;
pub mod executor;
#[cfg(test)]
mod fixtures;
pub mod merge;
pub mod plan;
pub mod pool;

pub use dhcp::{dhcp_lookups, DhcpIndex};
pub use executor::{call_all, call_once, observe};
pub use merge::{match_detection_events, select_events, Shortfall};
pub use pool::CallPool;

/// GTI's demo and training accounts: their data is dropped unless a token
/// allows it.
pub const TEST_ACCOUNTS: [&str; 4] = [
    "dmo",
    "chg",
    "6bc3d2f1-af77-4236-a9db-17dacd06e4d9",
    "f6f6f836-8bcd-4f5d-bd61-68d303c4f634",
];

/// What one request's token and the relay's configuration decide about the
/// workflow. Built per request: requests never share it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Events (and so sightings) per observable.
    pub entities_limit: usize,
    pub allow_test_accounts: bool,
    /// The event search's windows, newest first; empty when the search is off.
    pub windows: Vec<DayWindow>,
}

/// The detections whose account may be shown: test accounts dropped unless
/// `allow_test_accounts` (deliberate, respond and the tiles read the same
/// detections observe does, with the same rule).
pub fn allowed_detections(
    detections: &[Detection],
    allow_test_accounts: bool,
) -> impl Iterator<Item = &Detection> {
    detections.iter().filter(move |detection| {
        allow_test_accounts || !TEST_ACCOUNTS.contains(&detection.account_uuid.as_str())
    })
}

impl Settings {
    /// Whether data of `account` may be shown (`None`: no account known).
    pub fn allows(&self, account: Option<&str>) -> bool {
        self.allow_test_accounts || account.is_none_or(|account| !TEST_ACCOUNTS.contains(&account))
    }
}

/// What a detection adds to each of its events, made once per detection and
/// shared by them.
#[derive(Debug, Clone, PartialEq)]
///
/// The workflow always knows the account and the summary; they are optional
/// because the mapper also reads events in the reference's own JSON shape
/// (its fixtures, read by the mapper's `reference` module), where either
/// may be absent.
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

/// An event the workflow kept, with the detection it was found through.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundEvent {
    pub event: Event,
    pub detection: Option<Arc<DetectionInfo>>,
}

impl FoundEvent {
    /// A searched event: no detection.
    pub fn searched(event: Event) -> FoundEvent {
        FoundEvent {
            event,
            detection: None,
        }
    }
}

/// One observable's result: its events, newest first, the DHCP records of
/// their internal IPs, and what failed supplementary calls cost it.
#[derive(Debug, Default)]
pub struct Findings {
    pub events: Vec<FoundEvent>,
    pub dhcp: DhcpIndex,
    /// At most one per supplementary API (the search ends at its first
    /// failed window), in call order: search, then DHCP.
    pub shortfalls: Vec<Shortfall>,
}

impl Findings {
    /// The events as the mapper reads them.
    pub fn enriched<'a>(
        &'a self,
        observable: &'a Observable,
    ) -> impl ExactSizeIterator<Item = EnrichedEvent<'a>> + 'a {
        self.events.iter().map(move |found| EnrichedEvent {
            event: &found.event,
            observable: Some(observable),
            detection: found.detection.as_deref(),
            dhcp: found.event.sides().map(|side| self.dhcp.of(side)),
        })
    }
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
