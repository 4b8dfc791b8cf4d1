//! A simulated Gigamon ThreatINSIGHT API on `127.0.0.1:0`, for the demo
//! mode, the integration tests and the benchmarks. Production never starts
//! it: the relay only talks to it when a configuration points there.
//!
//! It serves GTI's four endpoints from data the test gives it, checks the
//! `Authorization: IBToken <key>` header, injects faults on demand, and
//! records every call. Every connection gets its own thread, so concurrent
//! calls are served concurrently (and [`MockGti::max_in_flight`] tells how
//! many were), keep-alive included.
//!
//! Why not tiny_http: its connection pool (0.12, `util::TaskPool::spawn`)
//! counts a woken worker as idle until it re-takes the queue lock, so a burst
//! of new connections can be queued behind a keep-alive connection that
//! holds its thread until the client closes it; such calls then hang until
//! the client times out. The HTTP/1.1 subset GTI clients need is small
//! enough to serve by hand.
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
//! Layout: `{base}/detections/v1/` (`detections`, `events`), `{base}/events/v2/`
//! (`query`) and `{base}/entity/v2/` (`entity/tracking/bulk/get/ip`).
//! Malformed requests get a 400 with a GTI error body; the mock never panics
//! on what a client sends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crate::config::Config;
use crate::gti::Endpoint;
use serde_json::{json, Value};

/// The GTI API key the mock accepts unless told otherwise.
pub const TEST_KEY: &str = "test-gti-api-key";

/// Request bodies larger than this are refused (the relay never sends them).
const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// A request line or header longer than this is refused.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A running mock GTI. Dropping it stops accepting connections; open ones
/// end when their client closes them or after a minute idle.
pub struct MockGti {
    shared: Arc<Shared>,
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

    /// Wait `delay` before answering.
    pub fn with_delay(mut self, delay: Duration) -> Fault {
        self.delay = delay;
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
    /// Starts the mock on `127.0.0.1:0`, accepting [`TEST_KEY`].
    pub fn try_start() -> std::io::Result<MockGti> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared.lock().key = TEST_KEY.to_owned();
        let accepting = Arc::clone(&shared);
        thread::Builder::new()
            .name("mock-gti-accept".to_owned())
            .spawn(move || accept(&listener, &accepting))?;
        Ok(MockGti { shared, addr })
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
        self.shared.lock().key = key.to_owned();
    }

    /// The whole `GET detections` body for `indicator_value` (use
    /// [`wire_detections`] to build it from the reference fixtures' shape).
    /// Values without one get no detections.
    pub fn set_detections(&self, indicator_value: &str, body: Value) {
        self.shared
            .lock()
            .detections
            .insert(indicator_value.to_owned(), body);
    }

    /// The events of one detection (bare event objects; the mock wraps each
    /// in `{"event": …}` as GTI does).
    pub fn set_detection_events(&self, detection_uuid: &str, events: Vec<Value>) {
        self.shared
            .lock()
            .detection_events
            .insert(detection_uuid.to_owned(), events);
    }

    /// Adds events the search for `query` (e.g. `ip = '1.2.3.4'`) finds.
    /// Each must carry a `timestamp`; a search returns those within its
    /// `[start_date, end_date)`, in the order added.
    pub fn add_searched_events(&self, query: &str, events: Vec<Value>) {
        self.shared
            .lock()
            .searched
            .entry(query.to_owned())
            .or_default()
            .extend(events);
    }

    /// The DHCP records of `ip` (each should carry `"ip": ip`).
    pub fn set_dhcp_records(&self, ip: &str, records: Vec<Value>) {
        self.shared.lock().dhcp.insert(ip.to_owned(), records);
    }

    /// Injects `fault` on `endpoint` (see [`Fault`]).
    pub fn fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.push((endpoint, fault));
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Delays every answer by `latency` (benchmarks); zero by default.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// The calls to `endpoint` so far.
    pub fn calls_to(&self, endpoint: Endpoint) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|call| call.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// How many calls `endpoint` received.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|call| call.endpoint == Some(endpoint))
            .count()
    }

    /// How many calls the mock received in all (unknown paths included).
    pub fn total_calls(&self) -> usize {
        self.shared.lock().calls.len()
    }

    /// The most calls the mock was answering at the same moment.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Forgets the calls and the in-flight maximum (data and faults stay).
    pub fn reset_calls(&self) {
        self.shared.lock().calls.clear();
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }
}

impl Drop for MockGti {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag and closes the socket.
        let _ = TcpStream::connect(self.addr);
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

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    stopping: AtomicBool,
}

impl Shared {
    /// The state, even if a test thread panicked while holding it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Default)]
struct State {
    key: String,
    detections: HashMap<String, Value>,
    detection_events: HashMap<String, Vec<Value>>,
    searched: HashMap<String, Vec<Value>>,
    dhcp: HashMap<String, Vec<Value>>,
    /// In the order added; each fault's `times` counts down as it applies.
    faults: Vec<(Endpoint, Fault)>,
    latency: Duration,
    calls: Vec<Call>,
}

/// An answer, before it is written out.
struct Answer {
    status: u16,
    body: String,
    retry_after: Option<String>,
    delivery: Delivery,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body: body.to_string(),
            retry_after: None,
            delivery: Delivery::Whole,
        }
    }

    fn gti_error(status: u16, code: &str, message: &str) -> Answer {
        Answer::json(status, json!({"error": {"code": code, "message": message}}))
    }

    fn bad_request(message: &str) -> Answer {
        Answer::gti_error(400, "client.bad_request", message)
    }
}

/// One request as read off the wire.
struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    /// `None` when the body could not be read (too large, broken chunking).
    body: Option<Vec<u8>>,
    /// The client asked to close the connection after this answer.
    close: bool,
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(shared);
        // A thread per connection: keep-alive connections never starve others.
        let _ = thread::Builder::new()
            .name("mock-gti-connection".to_owned())
            .spawn(move || connection(stream, &shared));
    }
}

fn connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let (answer, close) = match read_request(&mut reader) {
            Ok(Some(request)) => {
                let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let answer = answer(shared, &request);
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                (answer, request.close)
            }
            // The client closed the connection (or went idle too long).
            Ok(None) => return,
            Err(problem) => (Answer::bad_request(&problem), true),
        };
        // The client may have given up (timeout tests); that is not our error.
        if write_answer(&mut writer, answer, close).is_err() || close {
            return;
        }
    }
}

/// Reads one request; `Ok(None)` at a clean end of the connection, `Err`
/// with what was wrong when the request is malformed.
fn read_request(reader: &mut impl BufRead) -> Result<Option<RawRequest>, String> {
    let Some(request_line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Malformed request line.".to_owned());
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err("Malformed request line.".to_owned());
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or("Connection closed inside the headers.")?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or("Malformed header.")?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.to_ascii_lowercase())
    };
    let close =
        header("Connection").is_some_and(|value| value.contains("close")) || version == "HTTP/1.0";
    let body = if header("Transfer-Encoding").is_some_and(|value| value.contains("chunked")) {
        read_chunked(reader)
    } else {
        match header("Content-Length").map(|value| value.parse::<u64>()) {
            None => Some(Vec::new()),
            Some(Ok(length)) if length <= MAX_REQUEST_BYTES => {
                let mut body = Vec::new();
                match reader.take(length).read_to_end(&mut body) {
                    Ok(read) if read as u64 == length => Some(body),
                    _ => return Err("Body shorter than its Content-Length.".to_owned()),
                }
            }
            Some(_) => return Err("Bad or excessive Content-Length.".to_owned()),
        }
    };
    Ok(Some(RawRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body,
        close,
    }))
}

/// One CRLF-terminated line without its terminator; `None` at end of input.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut line = Vec::new();
    match reader.take(MAX_LINE_BYTES).read_until(b'\n', &mut line) {
        Ok(0) => return Ok(None),
        Ok(_) if line.ends_with(b"\n") => {}
        Ok(_) => return Err("Line too long or cut short.".to_owned()),
        // An idle keep-alive connection timing out ends like a close.
        Err(_) => return Ok(None),
    }
    while line
        .last()
        .is_some_and(|byte| *byte == b'\n' || *byte == b'\r')
    {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| "Non-UTF-8 request head.".to_owned())
}

/// A `Transfer-Encoding: chunked` body; `None` when malformed or too large.
fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader).ok()??;
        let size = u64::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(reader).ok()??.is_empty() {}
            return Some(body);
        }
        if body.len() as u64 + size > MAX_REQUEST_BYTES {
            return None;
        }
        let start = body.len();
        reader.take(size).read_to_end(&mut body).ok()?;
        if (body.len() - start) as u64 != size || !read_line(reader).ok()??.is_empty() {
            return None;
        }
    }
}

fn write_answer(writer: &mut impl Write, answer: Answer, close: bool) -> std::io::Result<()> {
    let reason = match answer.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        answer.status,
        answer.body.len()
    );
    if let Some(retry_after) = &answer.retry_after {
        head.push_str(&format!("Retry-After: {retry_after}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    match answer.delivery {
        Delivery::Whole => {}
        Delivery::Truncated => {
            writer.write_all(&answer.body.as_bytes()[..answer.body.len() / 2])?;
            writer.flush()?;
            // An error makes the caller close the connection mid-body.
            return Err(std::io::Error::other("answer truncated on purpose"));
        }
        Delivery::SlowBody(delay) => {
            writer.flush()?;
            thread::sleep(delay);
        }
    }
    writer.write_all(answer.body.as_bytes())?;
    writer.flush()
}

fn answer(shared: &Shared, request: &RawRequest) -> Answer {
    let method = request.method.clone();
    let (path, raw_query) = match request.target.split_once('?') {
        Some((path, query)) => (path.to_owned(), query.to_owned()),
        None => (request.target.clone(), String::new()),
    };
    let headers = request.headers.clone();
    // `None`: a body that could not be read or is not UTF-8 (answered 400
    // below, once the call is recorded).
    let raw_body: Option<String> = request
        .body
        .as_ref()
        .and_then(|body| String::from_utf8(body.clone()).ok());
    let query = parse_query(&raw_query);
    let body = raw_body
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());

    let route = match (path.as_str(), method.as_str()) {
        ("/detections/v1/detections", "GET") => Ok(Endpoint::Detections),
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
        _ => Err(Answer {
            status: 404,
            body: format!("mock GTI has no route {method} {path}"),
            retry_after: None,
            delivery: Delivery::Whole,
        }),
    };
    let endpoint = route.as_ref().ok().copied();
    let (expected_key, latency) = {
        let mut state = shared.lock();
        state.calls.push(Call {
            endpoint,
            method,
            path,
            query: query.clone().unwrap_or_default(),
            headers,
            body: body.clone(),
        });
        (format!("IBToken {}", state.key), state.latency)
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
        return Answer::bad_request("Malformed query string or body.");
    };

    let mut delivery = Delivery::Whole;
    if let Some(fault) = take_fault(shared, endpoint, &query, &raw_body) {
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
            };
        }
    }

    let state = shared.lock();
    let param = |name: &str| {
        query
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    };
    let mut answer = match endpoint {
        Endpoint::Detections => match param("indicator_value") {
            Some(value) => Answer::json(
                200,
                state
                    .detections
                    .get(value)
                    .cloned()
                    .unwrap_or_else(|| json!({"detections": [], "rules": []})),
            ),
            None => Answer::bad_request("indicator_value is required."),
        },
        Endpoint::DetectionEvents => match param("detection_uuid") {
            Some(uuid) => {
                let events: Vec<Value> = state
                    .detection_events
                    .get(uuid)
                    .into_iter()
                    .flatten()
                    .map(|event| json!({"event": event}))
                    .collect();
                Answer::json(200, json!({"events": events}))
            }
            None => Answer::bad_request("detection_uuid is required."),
        },
        Endpoint::EventSearch => search(&state, body.as_ref()),
        Endpoint::Dhcp => dhcp(&state, body.as_ref()),
    };
    answer.delivery = delivery;
    answer
}

/// Consumes one application of the first fault that applies to this call.
fn take_fault(
    shared: &Shared,
    endpoint: Endpoint,
    query: &[(String, String)],
    body: &str,
) -> Option<Fault> {
    let mut state = shared.lock();
    let applies = |fault: &Fault| {
        fault.times != Some(0)
            && fault.matching.as_deref().is_none_or(|needle| {
                body.contains(needle) || query.iter().any(|(_, value)| value.contains(needle))
            })
    };
    let (_, fault) = state
        .faults
        .iter_mut()
        .find(|(target, fault)| *target == endpoint && applies(fault))?;
    if let Some(left) = fault.times.as_mut() {
        *left -= 1;
    }
    Some(fault.clone())
}

fn search(state: &State, body: Option<&Value>) -> Answer {
    let field = |name: &str| body.and_then(|body| body.get(name)).and_then(Value::as_str);
    let (Some(query), Some(start), Some(end)) =
        (field("query"), field("start_date"), field("end_date"))
    else {
        return Answer::bad_request("query, start_date and end_date are required.");
    };
    let (Some(start), Some(end)) = (normalise_timestamp(start), normalise_timestamp(end)) else {
        return Answer::bad_request("start_date and end_date must be ISO 8601 timestamps.");
    };
    let events: Vec<&Value> = state
        .searched
        .get(query)
        .into_iter()
        .flatten()
        .filter(|event| {
            event
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(normalise_timestamp)
                .is_some_and(|at| start <= at && at < end)
        })
        .collect();
    Answer::json(200, json!({"events": events}))
}

fn dhcp(state: &State, body: Option<&Value>) -> Answer {
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
    let records: Vec<&Value> = ips
        .iter()
        .flat_map(|ip| state.dhcp.get(*ip).into_iter().flatten())
        .collect();
    Answer::json(
        200,
        json!({"entity_tracking_bulk_response": {"dhcp": records}}),
    )
}

/// `a=1&b=x%20y` → `[("a","1"),("b","x y")]`; `None` when malformed.
fn parse_query(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match byte {
            b'%' => {
                let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
            }
            b'+' => {
                bytes.push(b' ');
                rest = tail;
            }
            _ => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.fff…][Z|+00:00]` (or a space for `T`) as
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, so that timestamps compare as strings.
fn normalise_timestamp(text: &str) -> Option<String> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .unwrap_or(text);
    let (date, time) = text.split_once(['T', ' '])?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    let date_ok = match date.as_bytes() {
        [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] => {
            digits(&[*y0, *y1, *y2, *y3, *m0, *m1, *d0, *d1])
        }
        _ => false,
    };
    let clock_ok = match clock.as_bytes() {
        [h0, h1, b':', m0, m1, b':', s0, s1] => digits(&[*h0, *h1, *m0, *m1, *s0, *s1]),
        _ => false,
    };
    if !date_ok || !clock_ok || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: String = fraction.chars().chain("000".chars()).take(3).collect();
    Some(format!("{date}T{clock}.{millis}Z"))
}
