//! The response actions: what `/respond/observables` offers for each
//! observable with active detections, and `/respond/trigger`, which
//! resolves them in GTI (and so drops the key's cached tiles).

use std::time::Instant;

use log::warn;

use super::{note, App};
use crate::actions::{self, Action, Trigger};
use crate::auth::Credentials;
use crate::error::RelayError;
use crate::gti::Resolve;
use crate::observable::Observable;

/// What `/respond/observables` offers: the actions in request order, and
/// one error per distinct failure.
#[derive(Debug, Default)]
pub struct Offer {
    pub actions: Vec<Action>,
    pub errors: Vec<RelayError>,
}

impl App {
    /// The response actions of `/respond/observables` and `gti-relay
    /// respond`: three resolves per observable with active detections.
    pub fn respond_actions(
        &self,
        credentials: &Credentials,
        observables: &[Observable],
        deadline: Instant,
    ) -> Offer {
        let mut offer = Offer::default();
        for (observable, detections) in self.detections_of(credentials, observables, deadline) {
            match detections {
                Ok(detections) => offer
                    .actions
                    .extend(actions::actions(&observable, detections.detections.len())),
                Err(error) => {
                    warn!("respond {} failed: {}", observable.kind, error.message());
                    note(&mut offer.errors, error);
                }
            }
        }
        offer
    }

    /// `/respond/trigger`: re-reads the observable's active detections and
    /// resolves each, all at once. `Ok` when every resolve succeeded (none
    /// needed included), else one error per distinct failure. When anything
    /// was resolved, the key's cached tiles are dropped.
    pub fn trigger(
        &self,
        credentials: &Credentials,
        trigger: &Trigger,
        deadline: Instant,
    ) -> Result<usize, Vec<RelayError>> {
        let observable = std::slice::from_ref(&trigger.observable);
        let detections = match self.detections_of(credentials, observable, deadline).pop() {
            Some((_, Ok(detections))) => detections,
            Some((_, Err(error))) => return Err(vec![error]),
            None => return Ok(0),
        };
        let requests: Vec<Resolve> = detections
            .detections
            .iter()
            .map(|detection| Resolve {
                detection_uuid: detection.uuid.clone(),
                resolution: trigger.action.resolution,
            })
            .collect();
        let mut errors = Vec::new();
        let mut resolved = 0;
        for (detection, result) in detections.detections.iter().zip(self.call_gti(
            credentials.region,
            &credentials.key,
            requests,
            deadline,
        )) {
            match result {
                Ok(_) => resolved += 1,
                Err(error) => {
                    warn!(
                        "resolving detection {} failed: {}",
                        detection.uuid,
                        error.message()
                    );
                    note(&mut errors, error);
                }
            }
        }
        if resolved > 0 {
            self.tiles
                .forget(&(credentials.region, credentials.key.as_str()));
        }
        if errors.is_empty() {
            Ok(resolved)
        } else {
            Err(errors)
        }
    }
}
