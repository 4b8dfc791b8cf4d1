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
//! Context travels by reference: the mapper's [`EnrichedEvent`] points at
//! its event, its observable, its detection's shared [`DetectionInfo`] and
//! the DHCP records of its ends; nothing is copied into the events.

use std::sync::Arc;

pub use crate::ctim::{DetectionInfo, EnrichedEvent, Enrichment, Summary};
use crate::gti::model::{Detection, Event};
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
    /// Whether the entity v1 look-ups are made (SPEC §8.4; off when the
    /// region has no entity v1 URL).
    pub enrich: bool,
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
    /// failed window): search, DHCP, then the entity v1 look-ups.
    pub shortfalls: Vec<Shortfall>,
    /// What the entity v1 API told of the observable (boxed: it is large
    /// and often empty, and findings move between threads).
    pub enrichment: Box<Enrichment>,
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
