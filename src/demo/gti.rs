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

use std::collections::{HashMap, VecDeque};
use std::io::{Cursor, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, Weak};
use std::thread;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::encoding::{unquote, unquote_plus};
use crate::gti::Endpoint;
use crate::time::parse_timestamp;

/// The GTI API key the mock accepts unless told otherwise.
pub const TEST_KEY: &str = "test-gti-api-key";

/// How many calls [`MockGti::start`] and [`MockGti::try_start`] keep for
/// [`MockGti::calls`]: far more than a test makes, few enough that a
/// benchmark's mock stays a few MB however long it runs.
pub const CALL_LOG_CAPACITY: usize = 4096;

/// Request bodies larger than this are refused (the relay never sends them).
const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// The most connections served at once (each has a tiny_http thread).
const MAX_CONNECTIONS: usize = 1024;

/// The most handler threads, so the most calls answered at once.
const MAX_HANDLERS: usize = 1024;

/// Handler threads kept however idle the mock is.
const MIN_HANDLERS: usize = 4;

/// A handler thread beyond [`MIN_HANDLERS`] leaves after this long idle.
const HANDLER_IDLE_EXIT: Duration = Duration::from_secs(30);

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
}

/// One request the mock received, as it received it.
#[derive(Debug, Clone)]
pub struct Call {
    /// `None` for a path that is none of GTI's endpoints.
    pub endpoint: Option<Endpoint>,
    pub method: String,
    pub path: String,
    /// The query string, percent-decoded, in order (`include` appears twice).
    pub query: Vec<(String, String)>,
    /// Every header, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
}

impl Call {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// How many times header `name` was sent.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(field, _)| field.eq_ignore_ascii_case(name))
            .count()
    }

    /// Every value of query parameter `name`, in order.
    pub fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first value of query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query_values(name).first().copied()
    }
}

/// A fault to inject on one endpoint: build with [`Fault::status`],
/// [`Fault::gti_error`] or [`Fault::delay`], refine with the `with_*`/other
/// methods. Faults apply to every matching call unless limited by
/// [`Fault::times`]; the first applicable fault (in the order added) wins.
#[derive(Debug, Clone, Default)]
pub struct Fault {
    status: Option<u16>,
    body: Option<String>,
    retry_after: Option<String>,
    delay: Duration,
    delivery: Delivery,
    times: Option<usize>,
    matching: Option<String>,
}

/// How an answer's body reaches the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Delivery {
    /// All at once.
    #[default]
    Whole,
    /// The head announces the whole body, half of it is sent, then the
    /// connection is closed: a reset in the middle of a body.
    Truncated,
    /// The head at once, the body after this long.
    SlowBody(Duration),
}

impl Fault {
    /// Answer `status` with an empty body.
    pub fn status(status: u16) -> Fault {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }

    /// Answer `status` with GTI's error body `{"error":{code, message}}`.
    pub fn gti_error(status: u16, code: &str, message: &str) -> Fault {
        Fault::status(status).with_json(json!({"error": {"code": code, "message": message}}))
    }

    /// Wait `delay`, then answer normally (or as the rest of the fault says).
    pub fn delay(delay: Duration) -> Fault {
        Fault {
            delay,
            ..Fault::default()
        }
    }

    /// Send `body` as is (e.g. HTML for a non-JSON answer). Without a status
    /// the answer is a 200.
    pub fn with_body(mut self, body: &str) -> Fault {
        self.body = Some(body.to_owned());
        self
    }

    /// Send `body` as JSON (e.g. the wrong shape). Without a status the
    /// answer is a 200.
    pub fn with_json(self, body: Value) -> Fault {
        self.with_body(&body.to_string())
    }

    /// Add a `Retry-After` header with this value (seconds or HTTP-date).
    pub fn with_retry_after(mut self, value: &str) -> Fault {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Send the head and half the body, then close the connection.
    pub fn truncated(mut self) -> Fault {
        self.delivery = Delivery::Truncated;
        self
    }

    /// Send the head at once and the body after `delay` (a slow body, as
    /// opposed to [`Fault::delay`]'s slow head).
    pub fn with_slow_body(mut self, delay: Duration) -> Fault {
        self.delivery = Delivery::SlowBody(delay);
        self
    }

    /// Apply to the first `n` matching calls only, then serve normally
    /// ("fail the first N calls, then succeed").
    pub fn times(mut self, n: usize) -> Fault {
        self.times = Some(n);
        self
    }

    /// Apply only to calls whose decoded query string or JSON body contains
    /// `needle` (e.g. an indicator value or a detection uuid).
    pub fn matching(mut self, needle: &str) -> Fault {
        self.matching = Some(needle.to_owned());
        self
    }
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
        let http = tiny_http::Server::new(tiny_http::ServerConfig {
            addr: tiny_http::ConfigListenAddr::from_socket_addrs("127.0.0.1:0")?,
            ssl: None,
            socket_timeout: Some(tiny_http::DEFAULT_SOCKET_TIMEOUT),
            max_connections: MAX_CONNECTIONS,
        })
        .map_err(std::io::Error::other)?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("the mock GTI is not on an IP socket"))?;
        let http = Arc::new(http);
        let shared = Arc::new(Shared {
            data: RwLock::new(Data {
                key: TEST_KEY.to_owned(),
                ..Data::default()
            }),
            faults: Mutex::default(),
            log: Mutex::new(Log {
                capacity,
                ..Log::default()
            }),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            handlers: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        });
        for _ in 0..MIN_HANDLERS {
            spawn_handler(&Arc::downgrade(&http), &shared)?;
        }
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
        }
    }

    /// `GTI_DETECTIONS_URL`, `GTI_EVENTS_URL`, `GTI_ENTITY_URL` pointing here,
    /// to extend with other variables for [`Config::from_vars`].
    pub fn vars(&self) -> Vec<(String, String)> {
        let urls = self.base_urls();
        vec![
            ("GTI_DETECTIONS_URL".to_owned(), urls.detections),
            ("GTI_EVENTS_URL".to_owned(), urls.events),
            ("GTI_ENTITY_URL".to_owned(), urls.entity),
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

    /// The DHCP records of `ip` (each should carry `"ip": ip`).
    pub fn set_dhcp_records(&self, ip: &str, records: Vec<Value>) {
        self.shared.edit_data().dhcp.insert(ip.to_owned(), records);
    }

    /// Injects `fault` on `endpoint` (see [`Fault`]).
    pub fn fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.faults().push((endpoint, fault));
    }

    /// Delays every answer by `latency` (benchmarks); zero by default.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.edit_data().latency = latency;
    }

    /// The calls so far that the log still holds (see [`MockGti`]), in
    /// arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.log().calls.iter().cloned().collect()
    }

    /// The calls to `endpoint` so far that the log still holds.
    pub fn calls_to(&self, endpoint: Endpoint) -> Vec<Call> {
        self.shared
            .log()
            .calls
            .iter()
            .filter(|call| call.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// How many calls `endpoint` received.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared
            .log()
            .counts
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// How many calls the mock received in all (unknown paths included).
    pub fn total_calls(&self) -> usize {
        self.shared.log().total
    }

    /// The most calls the mock was answering at the same moment.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// The detections resolved so far (`uuid`, resolution), sorted by uuid.
    pub fn resolutions(&self) -> Vec<(String, String)> {
        let mut resolved: Vec<(String, String)> = self
            .shared
            .data()
            .resolved
            .iter()
            .map(|(uuid, resolution)| (uuid.clone(), resolution.clone()))
            .collect();
        resolved.sort();
        resolved
    }

    /// Forgets the calls, their counts and the in-flight maximum (data and
    /// faults stay).
    pub fn reset_calls(&self) {
        let mut log = self.shared.log();
        log.calls.clear();
        log.counts.clear();
        log.total = 0;
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }
}

impl Drop for MockGti {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake every handler waiting for a call, so that it lets go of the
        // server; busy ones see the flag when they are done. Once the last
        // strong reference (ours, dropped next) goes, tiny_http closes the
        // listener.
        for _ in 0..self.shared.handlers.load(Ordering::SeqCst) {
            self.http.unblock();
        }
    }
}

/// GTI's wire form of `GET detections` from the reference fixtures' shape
/// (`detections_for_entity.json`: each detection with its `rule` inlined):
/// rules move to a `rules` list (once per uuid), detections keep `rule_uuid`.
pub fn wire_detections(detections: &[Value]) -> Value {
    let mut wire = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    for detection in detections {
        let mut detection = detection.clone();
        if let Some(object) = detection.as_object_mut() {
            if let Some(rule) = object.remove("rule") {
                if let Some(uuid) = rule.get("uuid").cloned() {
                    object.insert("rule_uuid".to_owned(), uuid);
                }
                if !rules
                    .iter()
                    .any(|known| known.get("uuid") == rule.get("uuid"))
                {
                    rules.push(rule);
                }
            }
        }
        wire.push(detection);
    }
    json!({"detections": wire, "rules": rules})
}

/// What the handler threads share with the [`MockGti`] handle.
struct Shared {
    /// Read by every call, written by the test between calls: concurrent
    /// calls build their answers side by side.
    data: RwLock<Data>,
    /// In the order added; each fault's `times` counts down as it applies.
    faults: Mutex<Vec<(Endpoint, Fault)>>,
    log: Mutex<Log>,
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
        self.data.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn edit_data(&self) -> std::sync::RwLockWriteGuard<'_, Data> {
        self.data.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, Vec<(Endpoint, Fault)>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the mock serves.
#[derive(Default)]
struct Data {
    key: String,
    detections: HashMap<String, Value>,
    detection_events: HashMap<String, Vec<Value>>,
    searched: HashMap<String, Vec<Value>>,
    dhcp: HashMap<String, Vec<Value>>,
    /// Detections resolved through `PUT detections/<uuid>/resolve`, with
    /// their resolution: no longer active, so no listing shows them.
    resolved: HashMap<String, String>,
    latency: Duration,
}

/// The calls received: exact counts, and the last `capacity` calls.
#[derive(Default)]
struct Log {
    capacity: usize,
    calls: VecDeque<Call>,
    counts: HashMap<Endpoint, usize>,
    total: usize,
}

impl Log {
    fn record(&mut self, endpoint: Option<Endpoint>, call: impl FnOnce() -> Call) {
        self.total += 1;
        if let Some(endpoint) = endpoint {
            *self.counts.entry(endpoint).or_default() += 1;
        }
        if self.capacity == 0 {
            return;
        }
        if self.calls.len() == self.capacity {
            self.calls.pop_front();
        }
        self.calls.push_back(call());
    }
}

/// One request as tiny_http delivered it, body read.
struct Incoming {
    method: String,
    /// Path and query string, as sent.
    target: String,
    headers: Vec<(String, String)>,
    /// `None` when the body could not be read or is over the size limit.
    body: Option<Vec<u8>>,
}

impl Incoming {
    fn read(request: &mut tiny_http::Request) -> Incoming {
        let headers = request
            .headers()
            .iter()
            .map(|header| (header.field.to_string(), header.value.to_string()))
            .collect();
        let body = match request.body_length() {
            Some(length) if length as u64 > MAX_REQUEST_BYTES => None,
            _ => {
                let mut body = Vec::new();
                match request
                    .as_reader()
                    .take(MAX_REQUEST_BYTES + 1)
                    .read_to_end(&mut body)
                {
                    Ok(read) if read as u64 <= MAX_REQUEST_BYTES => Some(body),
                    _ => None,
                }
            }
        };
        Incoming {
            method: request.method().as_str().to_owned(),
            target: request.url().to_owned(),
            headers,
            body,
        }
    }
}

/// An answer, before it is written out.
struct Answer {
    status: u16,
    body: String,
    retry_after: Option<String>,
    delivery: Delivery,
    /// Close the connection afterwards (the request body was left unread).
    close: bool,
}

impl Answer {
    fn new(status: u16, body: String) -> Answer {
        Answer {
            status,
            body,
            retry_after: None,
            delivery: Delivery::Whole,
            close: false,
        }
    }

    /// `body` serialised; it is built from the mock's own data, so it
    /// always serialises.
    fn json(status: u16, body: &impl Serialize) -> Answer {
        Answer::new(status, serde_json::to_string(body).unwrap_or_default())
    }

    fn gti_error(status: u16, code: &str, message: &str) -> Answer {
        Answer::json(
            status,
            &json!({"error": {"code": code, "message": message}}),
        )
    }

    fn bad_request(message: &str) -> Answer {
        Answer::gti_error(400, "client.bad_request", message)
    }
}

/// Starts one more handler thread.
fn spawn_handler(http: &Weak<tiny_http::Server>, shared: &Arc<Shared>) -> std::io::Result<()> {
    shared.handlers.fetch_add(1, Ordering::SeqCst);
    let (http, handler_shared) = (Weak::clone(http), Arc::clone(shared));
    thread::Builder::new()
        .name("mock-gti".to_owned())
        .spawn(move || handle_calls(&http, &handler_shared))
        .map(drop)
        .inspect_err(|_| {
            shared.handlers.fetch_sub(1, Ordering::SeqCst);
        })
}

/// Counts a handler thread out when it ends, even by a panic.
struct HandlerAlive<'a>(&'a Shared);

impl Drop for HandlerAlive<'_> {
    fn drop(&mut self) {
        self.0.handlers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A handler thread: takes calls until the mock is dropped, or until it has
/// been idle a while with another handler waiting.
fn handle_calls(http: &Weak<tiny_http::Server>, shared: &Arc<Shared>) {
    let _alive = HandlerAlive(shared);
    loop {
        let Some(server) = http.upgrade() else { return };
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        shared.idle.fetch_add(1, Ordering::SeqCst);
        let next = server.recv_timeout(HANDLER_IDLE_EXIT);
        drop(server);
        let still_idle = shared.idle.fetch_sub(1, Ordering::SeqCst) - 1;
        match next {
            Ok(Some(request)) => {
                // Someone must wait for the next call while this one is
                // answered (it may sleep out a latency or a fault).
                if still_idle == 0 && shared.handlers.load(Ordering::SeqCst) < MAX_HANDLERS {
                    // Without a thread the next calls wait their turn.
                    let _ = spawn_handler(http, shared);
                }
                handle(shared, request);
            }
            // Stopping, or idle: leave if another handler is waiting.
            Ok(None) | Err(_) => {
                if shared.stopping.load(Ordering::SeqCst)
                    || (still_idle > 0 && shared.handlers.load(Ordering::SeqCst) > MIN_HANDLERS)
                {
                    return;
                }
            }
        }
    }
}

/// Counts a call in flight while it is answered.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn start(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle(shared: &Shared, mut request: tiny_http::Request) {
    let incoming = Incoming::read(&mut request);
    let answer = {
        let _in_flight = InFlight::start(shared);
        answer(shared, &incoming)
    };
    // The client may have given up (timeout tests); that is not our error.
    let _ = send(request, answer);
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name, value).ok()
}

fn send(request: tiny_http::Request, answer: Answer) -> std::io::Result<()> {
    let status = tiny_http::StatusCode(answer.status);
    let mut headers: Vec<tiny_http::Header> = [
        header("Content-Type", "application/json"),
        answer
            .retry_after
            .as_deref()
            .and_then(|value| header("Retry-After", value)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let length = answer.body.len();
    let mut body = answer.body.into_bytes();
    match answer.delivery {
        Delivery::Whole | Delivery::Truncated => {
            if answer.close || answer.delivery == Delivery::Truncated {
                headers.extend(header("Connection", "close"));
            }
            if answer.delivery == Delivery::Truncated {
                // The head still announces the whole body; the close that
                // follows the response cuts it.
                body.truncate(length / 2);
            }
            let response =
                tiny_http::Response::new(status, headers, Cursor::new(body), Some(length), None)
                    // Content-Length, as GTI sends, however long the body.
                    .with_chunked_threshold(usize::MAX);
            request.respond(response)
        }
        Delivery::SlowBody(delay) => {
            // tiny_http buffers a head until the body follows, so this one
            // is written here.
            let mut writer = request.into_writer();
            let mut head = format!(
                "HTTP/1.1 {} {}\r\nContent-Length: {length}\r\n",
                status.0,
                status.default_reason_phrase()
            );
            for header in &headers {
                head.push_str(&format!("{header}\r\n"));
            }
            head.push_str("\r\n");
            writer.write_all(head.as_bytes())?;
            writer.flush()?;
            thread::sleep(delay);
            writer.write_all(&body)?;
            writer.flush()
        }
    }
}

/// The answer to `request`, after the configured latency and faults.
fn answer(shared: &Shared, request: &Incoming) -> Answer {
    let (path, raw_query) = request
        .target
        .split_once('?')
        .unwrap_or((request.target.as_str(), ""));
    // `None`: a body that could not be read or is not UTF-8 (answered 400
    // below, once the call is recorded).
    let raw_body: Option<&str> = request
        .body
        .as_deref()
        .and_then(|body| std::str::from_utf8(body).ok());
    let query = parse_query(raw_query);
    let body = raw_body.and_then(|text| serde_json::from_str::<Value>(text).ok());
    let method = request.method.as_str();

    let listing = query
        .as_ref()
        .is_some_and(|query| !query.iter().any(|(name, _)| name == "indicator_value"));
    let resolve = path
        .strip_prefix("/detections/v1/detections/")
        .and_then(|rest| rest.strip_suffix("/resolve"));
    let route = match (path, method) {
        ("/detections/v1/detections", "GET") if listing => Ok(Endpoint::DetectionList),
        ("/detections/v1/detections", "GET") => Ok(Endpoint::Detections),
        (_, "PUT") if resolve.is_some() => Ok(Endpoint::Resolve),
        _ if resolve.is_some() => Err(Answer::gti_error(
            405,
            "client.method_not_allowed",
            "Method not allowed.",
        )),
        ("/detections/v1/events", "GET") => Ok(Endpoint::DetectionEvents),
        ("/events/v2/query", "POST") => Ok(Endpoint::EventSearch),
        ("/entity/v2/entity/tracking/bulk/get/ip", "POST") => Ok(Endpoint::Dhcp),
        (
            "/detections/v1/detections"
            | "/detections/v1/events"
            | "/events/v2/query"
            | "/entity/v2/entity/tracking/bulk/get/ip",
            _,
        ) => Err(Answer::gti_error(
            405,
            "client.method_not_allowed",
            "Method not allowed.",
        )),
        _ => Err(Answer::new(
            404,
            format!("mock GTI has no route {method} {path}"),
        )),
    };
    let endpoint = route.as_ref().ok().copied();
    shared.log().record(endpoint, || Call {
        endpoint,
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.clone().unwrap_or_default(),
        headers: request.headers.clone(),
        body: body.clone(),
    });
    let (expected_key, latency) = {
        let data = shared.data();
        (format!("IBToken {}", data.key), data.latency)
    };
    if !latency.is_zero() {
        thread::sleep(latency);
    }

    let endpoint = match route {
        Ok(endpoint) => endpoint,
        Err(answer) => return answer,
    };
    let authorized = request.headers.iter().any(|(field, value)| {
        field.eq_ignore_ascii_case("Authorization") && *value == expected_key
    });
    if !authorized {
        return Answer::gti_error(
            401,
            "client.invalid_authentication",
            "Authentication is invalid.",
        );
    }
    let (Some(query), Some(raw_body)) = (query, raw_body) else {
        let mut answer = Answer::bad_request("Malformed query string or body.");
        answer.close = request.body.is_none();
        return answer;
    };

    let mut delivery = Delivery::Whole;
    if let Some(fault) = take_fault(shared, endpoint, path, &query, raw_body) {
        if !fault.delay.is_zero() {
            thread::sleep(fault.delay);
        }
        delivery = fault.delivery;
        if fault.status.is_some() || fault.body.is_some() {
            return Answer {
                status: fault.status.unwrap_or(200),
                body: fault.body.unwrap_or_default(),
                retry_after: fault.retry_after,
                delivery,
                close: false,
            };
        }
    }

    if endpoint == Endpoint::Resolve {
        let uuid = resolve.and_then(unquote).unwrap_or_default();
        return resolve_detection(&mut shared.edit_data(), &uuid, body.as_ref(), delivery);
    }
    let data = shared.data();
    let param = |name: &str| {
        query
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    };
    let mut answer = match endpoint {
        Endpoint::Detections => match param("indicator_value") {
            Some(value) => match data.detections.get(value) {
                Some(detections) if data.resolved.is_empty() => Answer::json(200, detections),
                Some(detections) => Answer::json(200, &still_active(&data, detections)),
                None => Answer::json(200, &json!({"detections": [], "rules": []})),
            },
            None => Answer::bad_request("indicator_value is required."),
        },
        Endpoint::DetectionList => list_detections(&data, &param),
        // Answered above, with the data writable.
        Endpoint::Resolve => Answer::bad_request("resolve"),
        Endpoint::DetectionEvents => match param("detection_uuid") {
            Some(uuid) => {
                let events = data
                    .detection_events
                    .get(uuid)
                    .into_iter()
                    .flatten()
                    .map(|event| Wrapped { event })
                    .collect();
                Answer::json(200, &Events { events })
            }
            None => Answer::bad_request("detection_uuid is required."),
        },
        Endpoint::EventSearch => search(&data, body.as_ref()),
        Endpoint::Dhcp => dhcp(&data, body.as_ref()),
    };
    answer.delivery = delivery;
    answer
}

/// Consumes one application of the first fault that applies to this call.
fn take_fault(
    shared: &Shared,
    endpoint: Endpoint,
    path: &str,
    query: &[(String, String)],
    body: &str,
) -> Option<Fault> {
    let mut faults = shared.faults();
    let applies = |fault: &Fault| {
        fault.times != Some(0)
            && fault.matching.as_deref().is_none_or(|needle| {
                body.contains(needle)
                    || path.contains(needle)
                    || query.iter().any(|(_, value)| value.contains(needle))
            })
    };
    let (_, fault) = faults
        .iter_mut()
        .find(|(target, fault)| *target == endpoint && applies(fault))?;
    if let Some(left) = fault.times.as_mut() {
        *left -= 1;
    }
    Some(fault.clone())
}

// The answers' shapes, borrowing the mock's data: serialised straight from
// it, without a copy into a `Value`.

/// `{"events": [...]}`.
#[derive(Serialize)]
struct Events<T> {
    events: Vec<T>,
}

/// `{"event": {...}}`: how GTI wraps each event of a detection.
#[derive(Serialize)]
struct Wrapped<'a> {
    event: &'a Value,
}

/// `{"entity_tracking_bulk_response": {"dhcp": [...]}}`.
#[derive(Serialize)]
struct DhcpAnswer<'a> {
    entity_tracking_bulk_response: DhcpRecords<'a>,
}

#[derive(Serialize)]
struct DhcpRecords<'a> {
    dhcp: Vec<&'a Value>,
}

/// A `GET detections` body without the detections resolved since.
fn still_active(data: &Data, body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(detections) = body.get_mut("detections").and_then(Value::as_array_mut) {
        detections.retain(|detection| {
            detection
                .get("uuid")
                .and_then(Value::as_str)
                .is_none_or(|uuid| !data.resolved.contains_key(uuid))
        });
    }
    body
}

/// The resolutions GTI accepts.
const RESOLUTIONS: [&str; 3] = [
    "true_positive_mitigated",
    "true_positive_no_action",
    "false_positive",
];

/// `PUT detections/<uuid>/resolve`: marks a known, active detection resolved.
fn resolve_detection(
    data: &mut Data,
    uuid: &str,
    body: Option<&Value>,
    delivery: Delivery,
) -> Answer {
    let resolution = body
        .and_then(|body| body.get("resolution"))
        .and_then(Value::as_str)
        .filter(|resolution| RESOLUTIONS.contains(resolution));
    let Some(resolution) = resolution else {
        return Answer::bad_request("resolution must be one of true_positive_mitigated, true_positive_no_action, false_positive.");
    };
    let known = data.detections.values().any(|body| {
        body.get("detections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|detection| detection.get("uuid").and_then(Value::as_str) == Some(uuid))
    });
    if !known {
        return Answer::gti_error(404, "client.not_found", "Detection not found.");
    }
    data.resolved.insert(uuid.to_owned(), resolution.to_owned());
    let mut answer = Answer::json(
        200,
        &json!({"detection": {"uuid": uuid, "status": "resolved"}}),
    );
    answer.delivery = delivery;
    answer
}

/// The listing by creation date: every detection the mock knows (once per
/// uuid), active ones whose `created` lies in `[start, end]`, newest
/// `first_seen` first, one page of `limit` from `offset`, with their rules.
fn list_detections<'a>(data: &'a Data, param: &dyn Fn(&str) -> Option<&'a str>) -> Answer {
    let window = (
        param("created_or_shared_start_date").and_then(parse_timestamp),
        param("created_or_shared_end_date").and_then(parse_timestamp),
    );
    let (Some(start), Some(end)) = window else {
        return Answer::bad_request(
            "created_or_shared_start_date and created_or_shared_end_date must be ISO 8601 timestamps.",
        );
    };
    let number = |name: &str, default: usize| match param(name) {
        None => Some(default),
        Some(text) => text.parse::<usize>().ok(),
    };
    let (Some(limit), Some(offset)) = (number("limit", 100), number("offset", 0)) else {
        return Answer::bad_request("limit and offset must be numbers.");
    };
    let text =
        |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut seen = std::collections::HashSet::new();
    let mut rules: HashMap<String, &Value> = HashMap::new();
    // By `first_seen`; one without (`None`) sorts last.
    let mut listed: Vec<(Option<u64>, &Value)> = Vec::new();
    // Sorted keys: the listing does not depend on the map's order.
    let mut bodies: Vec<(&String, &Value)> = data.detections.iter().collect();
    bodies.sort_by(|a, b| a.0.cmp(b.0));
    for (_, body) in bodies {
        for rule in body
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(uuid) = text(rule, "uuid") {
                rules.entry(uuid).or_insert(rule);
            }
        }
        for detection in body
            .get("detections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(uuid) = text(detection, "uuid") else {
                continue;
            };
            let created = text(detection, "created").and_then(|at| parse_timestamp(&at));
            let in_window = created.is_some_and(|at| start <= at && at <= end);
            if in_window && !data.resolved.contains_key(&uuid) && seen.insert(uuid) {
                let first_seen = text(detection, "first_seen").and_then(|at| parse_timestamp(&at));
                listed.push((first_seen, detection));
            }
        }
    }
    listed.sort_by_key(|(first_seen, _)| std::cmp::Reverse(*first_seen));
    let page: Vec<&Value> = listed
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, d)| *d)
        .collect();
    let wanted: std::collections::HashSet<String> =
        page.iter().filter_map(|d| text(d, "rule_uuid")).collect();
    let mut page_rules: Vec<&Value> = wanted
        .iter()
        .filter_map(|uuid| rules.get(uuid).copied())
        .collect();
    page_rules.sort_by_key(|rule| text(rule, "uuid"));
    Answer::json(
        200,
        &json!({"detections": page, "rules": page_rules, "total_count": listed.len()}),
    )
}

fn search(data: &Data, body: Option<&Value>) -> Answer {
    let field = |name: &str| body.and_then(|body| body.get(name)).and_then(Value::as_str);
    let (Some(query), Some(start), Some(end)) =
        (field("query"), field("start_date"), field("end_date"))
    else {
        return Answer::bad_request("query, start_date and end_date are required.");
    };
    let (Some(start), Some(end)) = (parse_timestamp(start), parse_timestamp(end)) else {
        return Answer::bad_request("start_date and end_date must be ISO 8601 timestamps.");
    };
    let events: Vec<&Value> = data
        .searched
        .get(query)
        .into_iter()
        .flatten()
        .filter(|event| {
            event
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
                .is_some_and(|at| start <= at && at < end)
        })
        .collect();
    Answer::json(200, &Events { events })
}

fn dhcp(data: &Data, body: Option<&Value>) -> Answer {
    let entities = body
        .and_then(|body| body.get("entities"))
        .and_then(Value::as_array)
        .filter(|entities| !entities.is_empty());
    let Some(entities) = entities else {
        return Answer::bad_request("No entities specified.");
    };
    let mut ips: Vec<&str> = Vec::new();
    for entity in entities {
        match (
            entity.get("ip").and_then(Value::as_str),
            entity.get("event_time").and_then(Value::as_str),
        ) {
            (Some(ip), Some(_)) if !ips.contains(&ip) => ips.push(ip),
            (Some(_), Some(_)) => {}
            _ => return Answer::bad_request("Each entity needs an ip and an event_time."),
        }
    }
    let dhcp = ips
        .iter()
        .flat_map(|ip| data.dhcp.get(*ip).into_iter().flatten())
        .collect();
    Answer::json(
        200,
        &DhcpAnswer {
            entity_tracking_bulk_response: DhcpRecords { dhcp },
        },
    )
}

/// `a=1&b=x%20y` → `[("a","1"),("b","x y")]`; `None` when malformed.
fn parse_query(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((unquote_plus(name)?, unquote_plus(value)?))
        })
        .collect()
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
