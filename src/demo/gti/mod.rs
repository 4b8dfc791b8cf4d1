//! A simulated Gigamon ThreatINSIGHT API on `127.0.0.1:0`, for the demo
//! mode, the integration tests and the benchmarks. Production never starts
//! it: the relay only talks to it when a configuration points there.
//!
//! It serves GTI's endpoints from data the caller gives it — detections by
//! indicator value, the detections listing by creation date (every
//! detection it knows, paged), `PUT detections/<uuid>/resolve` (which marks
//! a detection resolved, so no later answer lists it; see
//! [`MockGti::resolutions`]), detection events, the event search and the
//! DHCP look-up — checks the
//! `Authorization: IBToken <key>` header, injects faults on demand, counts
//! every call and keeps a bounded log of them (see [`MockGti`]). HTTP is
//! the vendored tiny_http's, the relay's own server; this module only
//! decides answers.
//!
//! Calls are served concurrently, keep-alive included: tiny_http gives each
//! connection a thread of its own (`vendor/tiny_http/PATCHES.md`, patch 6),
//! and calls are answered by an elastic pool of handler threads that
//! always keeps one waiting for the next call, so a call sleeping out its
//! latency or fault never holds up another. [`MockGti::max_in_flight`] tells
//! how many were answered at once.
//!
//! ```ignore
//! let gti = MockGti::start();
//! gti.set_detections("1.2.3.4", json!({"detections": [], "rules": []}));
//! gti.fault(Endpoint::EventSearch, Fault::status(503).times(1));
//! let config = gti.config(); // GTI_*_URL pointing here
//! // … exercise the relay …
//! assert_eq!(gti.count(Endpoint::EventSearch), 2);
//! ```
//!
//! Layout: `{base}/detections/v1/` (`detections`, `detections/<uuid>/resolve`,
//! `events`), `{base}/events/v2/`
//! (`query`) and `{base}/entity/v2/` (`entity/tracking/bulk/get/ip`).
//! Requests GTI would refuse get a 400 with a GTI error body; the mock never
//! panics on what a client sends.
//!
//! This module owns [`MockGti`]: starting it, the configuration pointing
//! at it, loading its data and faults, reading its calls. Each call goes
//! `server` (threads, sockets) → `handler` (in order: `routes`, the
//! `calls` log, the key, `faults`) → `data` (each endpoint's answer), and
//! back as an `answer`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::sync::{lock, recover};
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;
use crate::gti::Endpoint;

mod calls;
mod data;
mod faults;
mod handler;
mod reply;
mod routes;
mod server;

pub use calls::Call;
pub use data::wire_detections;
pub use faults::Fault;

use calls::CallLog;
use data::Data;
use faults::Faults;

/// The GTI API key the mock accepts unless told otherwise.
pub const TEST_KEY: &str = "test-gti-api-key";

/// How many calls [`MockGti::start`] and [`MockGti::try_start`] keep for
/// [`MockGti::calls`]: far more than a test makes, few enough that a
/// benchmark's mock stays a few MB however long it runs.
pub const CALL_LOG_CAPACITY: usize = 4096;

/// A running mock GTI. Dropping it stops the listener; connections already
/// open are no longer answered.
///
/// **The call log is bounded**: it keeps the last [`CALL_LOG_CAPACITY`]
/// calls (or as many as [`MockGti::try_start_with_call_log`] says; the demo
/// keeps none), oldest dropped first. [`MockGti::count`],
/// [`MockGti::total_calls`] and [`MockGti::max_in_flight`] are exact however
/// many calls the log holds.
pub struct MockGti {
    shared: Arc<Shared>,
    /// The only lasting strong reference: handler threads hold a weak one
    /// between calls, so that dropping this closes the listener.
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
}

/// The bases of the three GTI API families on the mock, each ending in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrls {
    pub detections: String,
    pub events: String,
    pub entity: String,
    pub entity_v1: String,
}

impl MockGti {
    /// Starts the mock on `127.0.0.1:0`, accepting [`TEST_KEY`] and keeping
    /// the last [`CALL_LOG_CAPACITY`] calls.
    pub fn try_start() -> std::io::Result<MockGti> {
        MockGti::try_start_with_call_log(CALL_LOG_CAPACITY)
    }

    /// [`MockGti::try_start`] keeping the last `capacity` calls for
    /// [`MockGti::calls`] (0: none, for a mock nobody inspects, like the
    /// demo's). The counters are exact either way.
    pub fn try_start_with_call_log(capacity: usize) -> std::io::Result<MockGti> {
        let (http, addr) = server::listen()?;
        let http = Arc::new(http);
        let shared = Arc::new(Shared {
            data: RwLock::new(Data {
                key: TEST_KEY.to_owned(),
                ..Data::default()
            }),
            faults: Mutex::default(),
            log: Mutex::new(CallLog::new(capacity)),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            handlers: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        });
        server::start_handlers(&http, &shared)?;
        Ok(MockGti { shared, http, addr })
    }

    /// [`MockGti::try_start`] for tests and benchmarks.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start() -> MockGti {
        MockGti::try_start().unwrap_or_else(|error| panic!("mock GTI cannot start: {error}"))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bases to give the relay (`GTI_DETECTIONS_URL` etc.).
    pub fn base_urls(&self) -> BaseUrls {
        let root = format!("http://{}", self.addr);
        BaseUrls {
            detections: format!("{root}/detections/v1/"),
            events: format!("{root}/events/v2/"),
            entity: format!("{root}/entity/v2/"),
            entity_v1: format!("{root}/entity/v1/"),
        }
    }

    /// `GTI_DETECTIONS_URL`, `GTI_EVENTS_URL`, `GTI_ENTITY_URL` and
    /// `GTI_ENTITY_V1_URL` pointing here, to extend with other variables for
    /// [`Config::from_vars`].
    pub fn vars(&self) -> Vec<(String, String)> {
        let urls = self.base_urls();
        vec![
            ("GTI_DETECTIONS_URL".to_owned(), urls.detections),
            ("GTI_EVENTS_URL".to_owned(), urls.events),
            ("GTI_ENTITY_URL".to_owned(), urls.entity),
            ("GTI_ENTITY_V1_URL".to_owned(), urls.entity_v1),
        ]
    }

    /// The default configuration with GTI pointing here.
    pub fn config(&self) -> Config {
        self.config_with(&[])
    }

    /// The configuration with GTI pointing here plus `extra` variables
    /// (which win over the mock's own).
    ///
    /// # Panics
    /// When `extra` holds an invalid value.
    pub fn config_with(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars = self.vars();
        vars.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        Config::from_vars(vars).unwrap_or_else(|error| panic!("mock GTI config: {error}"))
    }

    /// The key the mock accepts from now on.
    pub fn set_key(&self, key: &str) {
        self.shared.edit_data().key = key.to_owned();
    }

    /// The whole `GET detections` body for `indicator_value` (use
    /// [`wire_detections`] to build it from the reference fixtures' shape).
    /// Values without one get no detections.
    pub fn set_detections(&self, indicator_value: &str, body: Value) {
        self.shared
            .edit_data()
            .detections
            .insert(indicator_value.to_owned(), body);
    }

    /// The events of one detection (bare event objects; the mock wraps each
    /// in `{"event": …}` as GTI does).
    pub fn set_detection_events(&self, detection_uuid: &str, events: Vec<Value>) {
        self.shared
            .edit_data()
            .detection_events
            .insert(detection_uuid.to_owned(), events);
    }

    /// Adds events the search for `query` (e.g. `ip = '1.2.3.4'`) finds.
    /// Each must carry a `timestamp`; a search returns those within its
    /// `[start_date, end_date)`, in the order added.
    pub fn add_searched_events(&self, query: &str, events: Vec<Value>) {
        self.shared
            .edit_data()
            .searched
            .entry(query.to_owned())
            .or_default()
            .extend(events);
    }

    /// The whole answer of an entity v1 look-up (`endpoint`: the summary,
    /// passive DNS or file) of `value`; without one the mock answers 404.
    pub fn set_entity(&self, endpoint: Endpoint, value: &str, body: Value) {
        self.shared
            .edit_data()
            .entities
            .insert((endpoint, value.to_owned()), body);
    }

    /// The DHCP records of `ip` (each should carry `"ip": ip`).
    pub fn set_dhcp_records(&self, ip: &str, records: Vec<Value>) {
        self.shared.edit_data().dhcp.insert(ip.to_owned(), records);
    }

    /// Injects `fault` on `endpoint` (see [`Fault`]).
    pub fn fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.faults().add(endpoint, fault);
    }

    /// Delays every answer by `latency` (benchmarks); zero by default.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.edit_data().latency = latency;
    }

    /// The calls so far that the log still holds (see [`MockGti`]), in
    /// arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.log().calls().cloned().collect()
    }

    /// The calls to `endpoint` so far that the log still holds.
    pub fn calls_to(&self, endpoint: Endpoint) -> Vec<Call> {
        self.shared
            .log()
            .calls()
            .filter(|call| call.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// How many calls `endpoint` received.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared.log().count(endpoint)
    }

    /// How many calls the mock received in all (unknown paths included).
    pub fn total_calls(&self) -> usize {
        self.shared.log().total()
    }

    /// The most calls the mock was answering at the same moment.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// The detections resolved so far (`uuid`, resolution), sorted by uuid.
    pub fn resolutions(&self) -> Vec<(String, String)> {
        self.shared.data().resolutions()
    }

    /// Forgets the calls, their counts and the in-flight maximum (data and
    /// faults stay).
    pub fn reset_calls(&self) {
        self.shared.log().clear();
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }
}

impl Drop for MockGti {
    fn drop(&mut self) {
        server::stop(&self.http, &self.shared);
    }
}

/// What the handler threads share with the [`MockGti`] handle.
struct Shared {
    /// Read by every call, written by the test between calls: concurrent
    /// calls build their answers side by side.
    data: RwLock<Data>,
    /// In the order added; each fault's `times` counts down as it applies.
    faults: Mutex<Faults>,
    log: Mutex<CallLog>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Handler threads alive.
    handlers: AtomicUsize,
    /// Handler threads waiting for a call (or about to).
    idle: AtomicUsize,
    stopping: AtomicBool,
}

impl Shared {
    // Each lock is taken even if a test thread panicked while holding it.

    fn data(&self) -> RwLockReadGuard<'_, Data> {
        recover(self.data.read())
    }

    fn edit_data(&self) -> RwLockWriteGuard<'_, Data> {
        recover(self.data.write())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    fn log(&self) -> MutexGuard<'_, CallLog> {
        lock(&self.log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    #[test]
    fn the_call_log_keeps_the_last_calls_and_the_counts_stay_exact() {
        let gti = MockGti::try_start_with_call_log(2).unwrap();
        let urls = gti.base_urls();
        let agent = agent();
        for value in ["a", "b", "c"] {
            let url = format!("{}detections?indicator_value={value}", urls.detections);
            assert_eq!(agent.get(url).call().unwrap().status(), 401);
        }
        let unknown = format!("{}nowhere", urls.events);
        assert_eq!(agent.get(unknown).call().unwrap().status(), 404);

        let calls = gti.calls();
        let kept: Vec<(Option<Endpoint>, Option<&str>)> = calls
            .iter()
            .map(|call| (call.endpoint, call.query_value("indicator_value")))
            .collect();
        assert_eq!(
            kept,
            [(Some(Endpoint::Detections), Some("c")), (None, None)]
        );
        assert_eq!(gti.count(Endpoint::Detections), 3);
        assert_eq!(gti.total_calls(), 4);

        gti.reset_calls();
        assert!(gti.calls().is_empty());
        assert_eq!((gti.count(Endpoint::Detections), gti.total_calls()), (0, 0));
    }

    #[test]
    fn without_a_call_log_the_counts_are_still_kept() {
        let gti = MockGti::try_start_with_call_log(0).unwrap();
        let url = format!("{}events?detection_uuid=d", gti.base_urls().detections);
        assert_eq!(agent().get(url).call().unwrap().status(), 401);
        assert!(gti.calls().is_empty());
        assert_eq!(gti.count(Endpoint::DetectionEvents), 1);
        assert_eq!(gti.total_calls(), 1);
    }
}
