//! The health check behind `POST /health` and `gti-relay health`: one GTI
//! call that proves a key works in its region. No answer data, no cache.

use std::time::Instant;

use super::App;
use crate::error::RelayError;
use crate::gti::DetectionsOf;
use crate::region::Region;
use crate::workflow;

/// The observable the health check asks GTI about.
const HEALTH_CHECK_IP: &str = "8.8.8.8";

impl App {
    /// The health check behind `POST /health` and `gti-relay health`: one
    /// call to `region`'s GTI that proves `key` works there, through the
    /// same limiter as every other call.
    pub fn check_health(
        &self,
        region: Region,
        key: &str,
        deadline: Instant,
    ) -> Result<(), RelayError> {
        // The detections API, the one every capability needs and every
        // current GTI client calls, whatever the event search's state
        // (SPEC §8.3).
        let request = DetectionsOf {
            value: HEALTH_CHECK_IP.to_owned(),
        };
        workflow::call_once(&self.calls, self.gti.get(region), key, request, deadline)
            .map(drop)
            .map_err(RelayError::Gti)
    }
}
