//! The `/observe/observables` use-case: GTI's data on each observable
//! mapped to CTIM, the errors of what could not be had (failed or
//! unavailable supplementary calls, the deadline), and the rate-limited log
//! of an API that is gone. The answer never depends on that log.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::sync::lock;
use std::time::{Duration, Instant};

use log::warn;

use super::{note, App};
use crate::auth::Credentials;
use crate::ctim::{self, Answer, Fragment};
use crate::error::RelayError;
use crate::gti::{self, GtiError};
use crate::observable::Observable;
use crate::region::Region;
use crate::workflow::{self, Findings, Settings, Shortfall};

/// An `/observe` answer and the errors in it.
#[derive(Debug)]
pub struct Observation {
    /// `{"data": …}`, or the error envelope with the data collected so far.
    pub answer: Answer,
    /// One per distinct failure; empty when every observable succeeded.
    pub errors: Vec<RelayError>,
}

/// What one observable came to: its CTIM and what its supplementary calls
/// cost, its failure, or `None` when the deadline came first.
type Outcome = Option<Result<(Fragment, Vec<Shortfall>), GtiError>>;

impl App {
    /// The `/observe/observables` answer for observables already validated
    /// and credentials already verified; `gti-relay observe` prints the
    /// same body. Unsupported observable types are skipped.
    ///
    /// Each observable is mapped to CTIM as soon as its GTI calls are done,
    /// in parallel with the others; only the serialised entities are kept,
    /// so a request holds at most the answer plus what is in flight. When
    /// `deadline` passes first, the answer holds the observables that were
    /// done, and one error names the deadline. GTI calls and portal links
    /// are those of the credentials' region only. The event search's day
    /// windows end at `now` (milliseconds since the Unix epoch).
    pub fn observe(
        &self,
        credentials: &Credentials,
        observables: &[Observable],
        now: u64,
        deadline: Instant,
    ) -> Observation {
        let region = credentials.region;
        let urls = self.config.urls(region);
        let settings = Settings {
            enrich: urls.entity_v1.is_some(),
            entities_limit: credentials.entities_limit,
            allow_test_accounts: credentials.allow_test_accounts,
            windows: match urls.events {
                Some(_) => gti::day_windows(now, self.config.day_range()),
                None => Vec::new(),
            },
        };
        let context = ctim::Context {
            portal_url: &urls.portal,
            new_id: &ctim::random_id,
        };
        let map = |observable: &Observable, findings: Result<Findings, GtiError>| {
            findings.map(|findings| {
                let fragment = Fragment::map_observable(
                    &context,
                    observable,
                    &findings.enrichment,
                    findings.enriched(observable),
                );
                (fragment, findings.shortfalls)
            })
        };
        let outcomes = workflow::observe(
            &self.calls,
            self.gti.get(region),
            &credentials.key,
            &settings,
            observables,
            deadline,
            &map,
        );
        let (fragments, errors) = self.gather(observables, outcomes);
        self.report_unavailable(region, &errors);
        // Nothing collected is dropped: the data of every observable that
        // succeeded stands beside the errors.
        Observation {
            answer: Answer::new(fragments, &errors),
            errors,
        }
    }

    /// The fragments of the observables that succeeded, in request order,
    /// and one error per distinct failure or shortfall.
    fn gather(
        &self,
        observables: &[Observable],
        outcomes: Vec<Outcome>,
    ) -> (Vec<Fragment>, Vec<RelayError>) {
        let mut fragments = Vec::with_capacity(outcomes.len());
        let mut errors: Vec<RelayError> = Vec::new();
        for (observable, outcome) in observables.iter().zip(outcomes) {
            match outcome {
                Some(Ok((fragment, shortfalls))) => {
                    fragments.push(fragment);
                    for shortfall in shortfalls {
                        note(&mut errors, shortfall_error(observable, shortfall));
                    }
                }
                Some(Err(error)) => {
                    warn!("observe {} failed: {}", observable.kind, error.message());
                    note(&mut errors, RelayError::Gti(error));
                }
                None => {
                    warn!("observe {} did not finish by the deadline", observable.kind);
                    note(&mut errors, self.deadline_error());
                }
            }
        }
        (fragments, errors)
    }

    /// Counts, and logs now and then, each API `errors` says is not
    /// available in `region`.
    fn report_unavailable(&self, region: Region, errors: &[RelayError]) {
        for error in errors {
            if let RelayError::ApiUnavailable { endpoint, status } = error {
                self.metrics.record_api_unavailable(region, *endpoint);
                self.log_unavailable(region, *endpoint, *status);
            }
        }
    }

    /// Logs that `endpoint` is not available in `region`, at most once per
    /// [`UNAVAILABLE_LOG_EVERY`] per region and API.
    fn log_unavailable(&self, region: Region, endpoint: gti::Endpoint, status: u16) {
        if self
            .unavailable_logged
            .allows((region, endpoint), Instant::now())
        {
            warn!(
                "GTI {} API is not available in region {region} (HTTP {status}); \
                 answers go on without it (logged at most every {} min)",
                endpoint.name(),
                UNAVAILABLE_LOG_EVERY.as_secs() / 60
            );
        }
    }
}

/// The entry of the `errors` array for what a supplementary call cost.
fn shortfall_error(observable: &Observable, shortfall: Shortfall) -> RelayError {
    match shortfall {
        Shortfall::Failed(error) => {
            warn!(
                "observe {}: part of the answer is missing: {}",
                observable.kind,
                error.message()
            );
            RelayError::Gti(error)
        }
        Shortfall::Unavailable { endpoint, status } => {
            RelayError::ApiUnavailable { endpoint, status }
        }
    }
}

/// How often an unavailable API is logged, per region and API.
pub(super) const UNAVAILABLE_LOG_EVERY: Duration = Duration::from_secs(600);

/// Says yes to a key at most once per `every`. Bounded by its keys' type:
/// used with (region, API) pairs, it holds at most a handful.
#[derive(Debug)]
pub(super) struct Throttle<K> {
    every: Duration,
    last: Mutex<HashMap<K, Instant>>,
}

impl<K: std::hash::Hash + Eq> Throttle<K> {
    pub(super) fn new(every: Duration) -> Throttle<K> {
        Throttle {
            every,
            last: Mutex::default(),
        }
    }

    /// Whether `key` may pass at `now`; if so, its next turn is `every` on.
    fn allows(&self, key: K, now: Instant) -> bool {
        let mut last = lock(&self.last);
        let due = last
            .get(&key)
            .is_none_or(|then| now.saturating_duration_since(*then) >= self.every);
        if due {
            last.insert(key, now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_each_key_pass_once_per_period() {
        let throttle = Throttle::new(Duration::from_secs(600));
        let start = Instant::now();
        let later = |secs| start + Duration::from_secs(secs);
        assert!(throttle.allows("search", start));
        assert!(!throttle.allows("search", later(599)));
        assert!(throttle.allows("dhcp", later(599)), "keys are apart");
        assert!(throttle.allows("search", later(600)));
        assert!(!throttle.allows("search", later(1199)));
        assert!(!throttle.allows("search", start), "time never runs back");
    }
}
