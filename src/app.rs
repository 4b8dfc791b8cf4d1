//! The relay's shared state, built once from [`Config`] and handed to every
//! request: the authenticator (with its JWKS cache), one GTI client per
//! region, the pool whose threads make the GTI calls (its size bounds the
//! calls in flight), and the metrics they all record into; and the
//! use-cases that the routes and the command line both call.
//!
//! A request uses one region throughout (its token's, SPEC §7): every GTI
//! call goes through that region's client and every portal link names that
//! region's portal, so concurrent requests of different regions never mix.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use log::warn;
use serde_json::Value;

use crate::actions::{self, Action, Trigger};
use crate::auth::{Authenticator, Credentials};
use crate::config::Config;
use crate::ctim::{self, Answer, Fragment};
use crate::error::RelayError;
use crate::gti::model::Rule;
use crate::gti::{
    self, DetectionPage, DetectionsOf, Gti, GtiError, GtiRequest, HttpTransport, Resolve,
    LIST_PAGE_SIZE, MAX_LIST_PAGES,
};
use crate::metrics::Metrics;
use crate::observable::Observable;
use crate::region::{PerRegion, Region};
use crate::tiles::{self, Listing, Period, Tile, TileCache};
use crate::time::now_millis;
use crate::workflow::{self, allowed_detections, CallPool, Findings, Settings, Shortfall};

/// The observable the health check asks GTI about.
const HEALTH_CHECK_IP: &str = "8.8.8.8";

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

/// How often an unavailable API is logged, per region and API.
const UNAVAILABLE_LOG_EVERY: Duration = Duration::from_secs(600);

/// Says yes to a key at most once per `every`. Bounded by its keys' type:
/// used with (region, API) pairs, it holds at most a handful.
#[derive(Debug)]
struct Throttle<K> {
    every: Duration,
    last: Mutex<HashMap<K, Instant>>,
}

impl<K: std::hash::Hash + Eq> Throttle<K> {
    fn new(every: Duration) -> Throttle<K> {
        Throttle {
            every,
            last: Mutex::default(),
        }
    }

    /// Whether `key` may pass at `now`; if so, its next turn is `every` on.
    fn allows(&self, key: K, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let due = last
            .get(&key)
            .is_none_or(|then| now.saturating_duration_since(*then) >= self.every);
        if due {
            last.insert(key, now);
        }
        due
    }
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
        let transport = Arc::new(
            HttpTransport::new(&config, agent.clone()).with_observer(Arc::clone(&metrics) as _),
        );
        let gti = PerRegion::new(|region| {
            Gti::new(Arc::clone(&transport) as _, config.urls(region).clone())
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
        let region = credentials.region;
        let urls = self.config.urls(region);
        let settings = Settings {
            entities_limit: credentials.entities_limit,
            allow_test_accounts: credentials.allow_test_accounts,
            windows: match urls.events {
                Some(_) => gti::day_windows(now_millis(), self.config.day_range()),
                None => Vec::new(),
            },
        };
        let context = ctim::Context {
            portal_url: &urls.portal,
            new_id: &ctim::random_id,
        };
        let map = |observable: &Observable, findings: Result<Findings, GtiError>| {
            findings.map(|findings| {
                let fragment = Fragment::map(&context, findings.enriched(observable));
                (fragment, findings.shortfalls)
            })
        };
        let results = workflow::observe(
            &self.calls,
            self.gti.get(region),
            &credentials.key,
            &settings,
            observables,
            deadline,
            &map,
        );

        let mut fragments = Vec::with_capacity(results.len());
        let mut errors: Vec<RelayError> = Vec::new();
        for (observable, result) in observables.iter().zip(results) {
            match result {
                Some(Ok((fragment, shortfalls))) => {
                    fragments.push(fragment);
                    for shortfall in shortfalls {
                        note(&mut errors, self.shortfall_error(observable, shortfall));
                    }
                }
                Some(Err(error)) => {
                    warn!("observe {} failed: {}", observable.kind, error.message());
                    note(&mut errors, RelayError::Gti(error));
                }
                None => {
                    warn!("observe {} did not finish by the deadline", observable.kind);
                    note(
                        &mut errors,
                        RelayError::Deadline {
                            budget: self.config.request_deadline(),
                        },
                    );
                }
            }
        }
        for error in &errors {
            if let RelayError::ApiUnavailable { endpoint, status } = error {
                self.metrics.record_api_unavailable(region, *endpoint);
                self.log_unavailable(region, *endpoint, *status);
            }
        }
        // Nothing collected is dropped: the data of every observable that
        // succeeded stands beside the errors.
        Observation {
            answer: Answer::new(fragments, &errors),
            errors,
        }
    }

    /// The entry of the `errors` array for what a supplementary call cost.
    fn shortfall_error(&self, observable: &Observable, shortfall: Shortfall) -> RelayError {
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

/// What `/deliberate/observables` found: the verdicts in request order, and
/// one error per distinct failure.
#[derive(Debug, Default)]
pub struct Deliberation {
    pub verdicts: Vec<ctim::Verdict>,
    pub errors: Vec<RelayError>,
}

/// What `/respond/observables` offers: the actions in request order, and
/// one error per distinct failure.
#[derive(Debug, Default)]
pub struct Offer {
    pub actions: Vec<Action>,
    pub errors: Vec<RelayError>,
}

/// Adds `error` to `errors` unless one saying the same is there.
fn note(errors: &mut Vec<RelayError>, error: RelayError) {
    if !errors.iter().any(|known| known.same_as(&error)) {
        errors.push(error);
    }
}

impl App {
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
                None => Err(RelayError::Deadline {
                    budget: self.config.request_deadline(),
                }),
            })
            .collect()
    }

    /// "The value's detections" of each supported observable (what observe
    /// reads first), all at once, test accounts dropped unless allowed.
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

    /// The verdicts of `/deliberate/observables` and `gti-relay deliberate`
    /// (SPEC §6), the observables looked up in parallel.
    pub fn deliberate(
        &self,
        credentials: &Credentials,
        observables: &[Observable],
        deadline: Instant,
    ) -> Deliberation {
        let now = now_millis();
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

    /// The data of `tile` over `period` for `/tiles/tile-data` and
    /// `gti-relay tiles TILE`, from the key's cached listing or a new one.
    pub fn tile_data(
        &self,
        credentials: &Credentials,
        tile: Tile,
        period: Period,
        deadline: Instant,
    ) -> Result<Value, RelayError> {
        let owner = (credentials.region, credentials.key.as_str());
        let listing = self.tiles.get_or_fetch(&owner, period, || {
            self.list_detections(credentials.region, &credentials.key, period, deadline)
        })?;
        Ok(tiles::tile_data(
            tile,
            period,
            &listing,
            credentials.allow_test_accounts,
            now_millis(),
            &self.config.urls(credentials.region).portal,
        ))
    }

    /// The active detections created or shared in `period`, page after page
    /// until a short one, at most [`MAX_LIST_PAGES`].
    fn list_detections(
        &self,
        region: Region,
        key: &str,
        period: Period,
        deadline: Instant,
    ) -> Result<Listing, RelayError> {
        let window = gti::span_window(now_millis(), period.days());
        let mut listing = Listing::default();
        for page in 0..MAX_LIST_PAGES {
            let request = DetectionPage {
                window: window.clone(),
                offset: page * LIST_PAGE_SIZE,
            };
            let found = self
                .call_gti(region, key, vec![request], deadline)
                .pop()
                .unwrap_or(Err(RelayError::Deadline {
                    budget: self.config.request_deadline(),
                }))?;
            let full = found.detections.len() >= LIST_PAGE_SIZE;
            listing.detections.extend(found.detections);
            for rule in found.rules.into_iter().filter_map(|rule| rule.0) {
                if !listing
                    .rules
                    .iter()
                    .any(|known| known.uuid() == rule.uuid())
                {
                    listing.rules.push(rule);
                }
            }
            if !full {
                return Ok(listing);
            }
        }
        listing.capped = true;
        Ok(listing)
    }
}

/// The pivot links of `/refer/observables` and `gti-relay refer`: one per
/// supported observable, in request order.
pub fn refer_links(portal_url: &str, observables: &[Observable]) -> Value {
    Value::Array(
        observables
            .iter()
            .map(|observable| ctim::refer_link(portal_url, observable.kind, &observable.value))
            .collect(),
    )
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
