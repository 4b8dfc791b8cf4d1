//! The relay's shared state, built once from [`Config`] and handed to every
//! request: the authenticator (with its JWKS cache), one GTI client per
//! region, the pool whose threads make the GTI calls (its size bounds the
//! calls in flight), and the metrics they all record into; and the
//! use-cases that the routes and the command line both call.
//!
//! A request uses one region throughout (its token's, SPEC §7): every GTI
//! call goes through that region's client and every portal link names that
//! region's portal, so concurrent requests of different regions never mix.

use std::sync::Arc;
use std::time::Instant;

use log::warn;
use serde_json::Value;

use crate::auth::{Authenticator, Credentials};
use crate::config::Config;
use crate::ctim::{self, Answer, Fragment};
use crate::error::RelayError;
use crate::gti::{self, GtiApi, GtiError, HttpGti};
use crate::metrics::Metrics;
use crate::observable::Observable;
use crate::region::{PerRegion, Region};
use crate::time::now_millis;
use crate::workflow::{self, CallPool, Findings, OwnedCall, Settings};

/// The observable the health check asks GTI about.
const HEALTH_CHECK_IP: &str = "8.8.8.8";

/// Everything a request handler needs; shared by all worker threads.
pub struct App {
    pub config: Config,
    pub auth: Authenticator,
    /// Each region's GTI client, built from that region's URLs; they share
    /// one agent (so one connection pool) and make their calls through
    /// `calls`, so the in-flight cap holds across regions.
    pub gti: PerRegion<Arc<dyn GtiApi>>,
    /// Makes every GTI call, observe and health check alike: at most
    /// `GTI_MAX_INFLIGHT` at once, shared fairly between requests.
    pub calls: CallPool,
    /// This relay's counters, served by `GET /metrics`. Per app, not global,
    /// so that relays sharing a process (tests) keep separate counts.
    pub metrics: Arc<Metrics>,
}

/// An `/observe` answer and the errors in it.
#[derive(Debug)]
pub struct Observation {
    /// `{"data": …}`, or the error envelope with the data collected so far.
    pub answer: Answer,
    /// One per distinct failure; empty when every observable succeeded.
    pub errors: Vec<RelayError>,
}

impl App {
    /// The production relay: GTI (every region) and JWKS reached through
    /// one pooled agent.
    pub fn new(config: Config) -> App {
        let agent = gti::http_agent(&config);
        let metrics = Arc::new(Metrics::new());
        let gti = PerRegion::new(|region| {
            let client = HttpGti::for_region(&config, region, agent.clone())
                .with_observer(Arc::clone(&metrics) as _);
            Arc::new(client) as Arc<dyn GtiApi>
        });
        App::with_gti(config, agent, gti, metrics)
    }

    /// A relay with other GTI implementations, one per region (tests).
    /// `metrics` is the registry `/metrics` serves; give the clients the
    /// same one (e.g. [`HttpGti::with_observer`]) to see their calls there.
    pub fn with_gti(
        config: Config,
        agent: ureq::Agent,
        gti: PerRegion<Arc<dyn GtiApi>>,
        metrics: Arc<Metrics>,
    ) -> App {
        let calls = CallPool::new(config.gti_max_inflight);
        let auth = Authenticator::new(&config, agent).with_observer(Arc::clone(&metrics) as _);
        App {
            config,
            auth,
            gti,
            calls,
            metrics,
        }
    }

    /// When a request that starts now must have its answer.
    pub fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.config.request_deadline).unwrap_or(now)
    }

    /// The health check behind `POST /health` and `gti-relay health`: one
    /// call to `region`'s GTI that proves `key` works there, through the
    /// same limiter as every other call.
    pub fn check_health(
        &self,
        region: Region,
        key: &str,
        deadline: Instant,
    ) -> Result<(), RelayError> {
        // One call proves the key: the event search over the last day, or the
        // detections API where the event search is switched off.
        let call = match self.config.urls(region).events {
            Some(_) => match gti::day_windows(now_millis(), 1).pop() {
                Some(window) => OwnedCall::Search {
                    query: format!("ip = '{HEALTH_CHECK_IP}'"),
                    window,
                },
                None => return Ok(()),
            },
            None => OwnedCall::Detections {
                value: HEALTH_CHECK_IP.to_owned(),
            },
        };
        workflow::call_once(&self.calls, self.gti.get(region), key, call, deadline)
            .map(drop)
            .map_err(RelayError::Gti)
    }

    /// The `/observe/observables` answer for observables already validated
    /// and credentials already verified; `gti-relay observe` prints the
    /// same body. Unsupported observable types are skipped.
    ///
    /// Each observable is mapped to CTIM as soon as its GTI calls are done,
    /// in parallel with the others; only the serialised entities are kept,
    /// so a request holds at most the answer plus what is in flight. When
    /// `deadline` passes first, the answer holds the observables that were
    /// done, and one error names the deadline. GTI calls and portal links
    /// are those of the credentials' region only.
    pub fn observe(
        &self,
        credentials: &Credentials,
        observables: &[Observable],
        deadline: Instant,
    ) -> Observation {
        let observables: Vec<Observable> = observables
            .iter()
            .filter(|observable| observable.is_supported())
            .cloned()
            .collect();

        let region = credentials.region;
        let urls = self.config.urls(region);
        let settings = Settings {
            entities_limit: credentials.entities_limit,
            allow_test_accounts: credentials.allow_test_accounts,
            windows: match urls.events {
                Some(_) => gti::day_windows(now_millis(), self.config.day_range),
                None => Vec::new(),
            },
        };
        let context = ctim::Context {
            portal_url: &urls.portal,
            new_id: &ctim::random_id,
        };
        let map = |observable: &Observable, findings: Result<Findings, GtiError>| {
            findings.map(|findings| Fragment::map(&context, findings.enriched(observable)))
        };
        let results = workflow::observe(
            &self.calls,
            self.gti.get(region),
            &credentials.key,
            &settings,
            &observables,
            deadline,
            &map,
        );

        let mut fragments = Vec::with_capacity(results.len());
        let mut errors: Vec<RelayError> = Vec::new();
        let mut note = |error: RelayError| {
            if !errors.contains(&error) {
                errors.push(error);
            }
        };
        for (observable, result) in observables.iter().zip(results) {
            match result {
                Some(Ok(fragment)) => fragments.push(fragment),
                Some(Err(error)) => {
                    warn!("observe {} failed: {}", observable.kind, error.message());
                    note(RelayError::Gti(error));
                }
                None => {
                    warn!("observe {} did not finish by the deadline", observable.kind);
                    note(RelayError::Deadline {
                        budget: self.config.request_deadline,
                    });
                }
            }
        }
        // Nothing collected is dropped: the data of every observable that
        // succeeded stands beside the errors.
        let errors_json = (!errors.is_empty()).then(|| {
            let list: Vec<Value> = errors.iter().map(RelayError::to_json).collect();
            serde_json::to_vec(&list).unwrap_or_default()
        });
        Observation {
            answer: Answer::new(fragments, errors_json),
            errors,
        }
    }
}

/// The pivot links of `/refer/observables` and `gti-relay refer`: one per
/// supported observable, in request order.
pub fn refer_links(portal_url: &str, observables: &[Observable]) -> Value {
    Value::Array(
        observables
            .iter()
            .filter_map(|observable| {
                ctim::refer_link(portal_url, &observable.kind, &observable.value)
            })
            .collect(),
    )
}
