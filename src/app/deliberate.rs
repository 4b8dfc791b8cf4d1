//! The verdicts of `/deliberate/observables` and `gti-relay deliberate`
//! (SPEC §6): each observable's detections judged by `ctim::verdict`.

use std::time::Instant;

use log::warn;

use super::{note, App};
use crate::auth::Credentials;
use crate::ctim;
use crate::error::RelayError;
use crate::gti::model::Rule;
use crate::observable::Observable;

/// What `/deliberate/observables` found: the verdicts in request order, and
/// one error per distinct failure.
#[derive(Debug, Default)]
pub struct Deliberation {
    pub verdicts: Vec<ctim::Verdict>,
    pub errors: Vec<RelayError>,
}

impl App {
    /// The verdicts of `/deliberate/observables` and `gti-relay deliberate`
    /// (SPEC §6), the observables looked up in parallel, asked at `now`
    /// (milliseconds since the Unix epoch; the verdicts' validity starts
    /// there).
    pub fn deliberate(
        &self,
        credentials: &Credentials,
        observables: &[Observable],
        now: u64,
        deadline: Instant,
    ) -> Deliberation {
        let mut deliberation = Deliberation::default();
        for (observable, detections) in self.detections_of(credentials, observables, deadline) {
            match detections {
                Ok(detections) => {
                    let rules: Vec<&Rule> = detections
                        .rules
                        .iter()
                        .filter_map(|rule| rule.get())
                        .collect();
                    deliberation.verdicts.extend(ctim::verdict(
                        &observable,
                        &detections.detections,
                        &rules,
                        now,
                    ));
                }
                Err(error) => {
                    warn!("deliberate {} failed: {}", observable.kind, error.message());
                    note(&mut deliberation.errors, error);
                }
            }
        }
        deliberation
    }
}
