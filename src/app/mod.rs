//! The relay's shared state, built once from [`Config`] and handed to every
//! request: the authenticator (with its JWKS cache), one GTI client per
//! region, the pool whose threads make the GTI calls (its size bounds the
//! calls in flight), and the metrics they all record into; and, one file
//! per family, the use-cases that the routes and the command line both
//! call: `observe`, `health`, `deliberate`, `respond` (actions and
//! trigger), `tiles` and `refer`. This file holds what several of them
//! share: the one door to GTI and the detections of each observable.
//!
//! A request uses one region throughout (its token's, SPEC §7): every GTI
//! call goes through that region's client and every portal link names that
//! region's portal, so concurrent requests of different regions never mix.
//!
//! No use-case reads the wall clock: the edge (a route, a command) reads it
//! once per request with [`crate::time::now_millis`] and passes it in as
//! `now`, so one request sees one time throughout. The deadline comes in
//! the same way.

use std::sync::Arc;
use std::time::Instant;

use crate::auth::{Authenticator, Credentials};
use crate::config::Config;
use crate::error::RelayError;
use crate::gti::{self, DetectionsOf, Gti, GtiRequest, HttpTransport};
use crate::metrics::Metrics;
use crate::observable::Observable;
use crate::region::{PerRegion, Region};
use crate::tiles::TileCache;
use crate::workflow::{self, allowed_detections, CallPool};

mod deliberate;
mod health;
mod observe;
mod refer;
mod respond;
mod tiles;

pub use deliberate::Deliberation;
pub use observe::Observation;
pub use refer::refer_links;
pub use respond::Offer;

use observe::{Throttle, UNAVAILABLE_LOG_EVERY};

/// Everything a request handler needs; shared by all worker threads.
pub struct App {
    pub config: Config,
    pub auth: Authenticator,
    /// Each region's GTI: that region's URLs over one shared transport (so
    /// one connection pool); every call goes through `calls`, so the
    /// in-flight cap holds across regions.
    pub gti: PerRegion<Gti>,
    /// Makes every GTI call, observe and health check alike: at most
    /// `GTI_MAX_INFLIGHT` at once, shared fairly between requests.
    pub calls: CallPool,
    /// This relay's counters, served by `GET /metrics`. Per app, not global,
    /// so that relays sharing a process (tests) keep separate counts.
    pub metrics: Arc<Metrics>,
    /// The dashboard tiles' listings, shared by the tiles of one key and
    /// period for a minute; keyed by a hash, never by the key.
    pub tiles: TileCache,
    /// An API that is gone would otherwise log on every request. Only the
    /// log reads it; answers never depend on it (SPEC §8.2).
    unavailable_logged: Throttle<(Region, gti::Endpoint)>,
}

impl App {
    /// The production relay: GTI (every region) and JWKS reached through
    /// one pooled agent.
    pub fn new(config: Config) -> App {
        let agent = gti::http_agent(&config);
        let metrics = Arc::new(Metrics::new());
        // One transport per region over the one agent (so one connection
        // pool): each counts its tries under its region.
        let gti = PerRegion::new(|region| {
            let transport =
                HttpTransport::new(&config, agent.clone()).with_observer(metrics.calls_of(region));
            Gti::new(Arc::new(transport), config.urls(region).clone())
        });
        let calls = CallPool::new(config.gti_max_inflight());
        let auth = Authenticator::new(&config, agent).with_observer(Arc::clone(&metrics) as _);
        App {
            config,
            auth,
            gti,
            calls,
            metrics,
            tiles: TileCache::default(),
            unavailable_logged: Throttle::new(UNAVAILABLE_LOG_EVERY),
        }
    }

    /// When a request that starts now must have its answer.
    pub fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.config.request_deadline())
            .unwrap_or(now)
    }

    /// The error of a call the deadline cut short.
    fn deadline_error(&self) -> RelayError {
        RelayError::Deadline {
            budget: self.config.request_deadline(),
        }
    }

    /// Every call of `calls` at once through the pool, within `deadline`:
    /// the one door of deliberate, respond and the tiles to GTI. A call not
    /// done by the deadline is the deadline's error.
    fn call_gti<R: GtiRequest>(
        &self,
        region: Region,
        key: &str,
        requests: Vec<R>,
        deadline: Instant,
    ) -> Vec<Result<R::Output, RelayError>> {
        workflow::call_all(&self.calls, self.gti.get(region), key, requests, deadline)
            .into_iter()
            .map(|result| match result {
                Some(result) => result.map_err(RelayError::Gti),
                None => Err(self.deadline_error()),
            })
            .collect()
    }

    /// "The value's detections" of each supported observable (what observe
    /// reads first), all at once, test accounts dropped unless allowed:
    /// what deliberate, the respond actions and the trigger start from.
    fn detections_of(
        &self,
        credentials: &Credentials,
        observables: &[Observable],
        deadline: Instant,
    ) -> Vec<(Observable, Result<gti::Detections, RelayError>)> {
        let requests = observables
            .iter()
            .map(|observable| DetectionsOf {
                value: observable.value.clone(),
            })
            .collect();
        let results = self.call_gti(credentials.region, &credentials.key, requests, deadline);
        observables
            .iter()
            .cloned()
            .zip(results)
            .map(|(observable, result)| {
                let detections = result.map(|mut detections| {
                    let allowed: Vec<_> =
                        allowed_detections(&detections.detections, credentials.allow_test_accounts)
                            .cloned()
                            .collect();
                    detections.detections = allowed;
                    detections
                });
                (observable, detections)
            })
            .collect()
    }
}

/// Adds `error` to `errors` unless one saying the same is there.
fn note(errors: &mut Vec<RelayError>, error: RelayError) {
    if !errors.iter().any(|known| known.same_as(&error)) {
        errors.push(error);
    }
}
