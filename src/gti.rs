//! The upstream client: one function per GTI endpoint, typed errors.
//!
//! [`GtiApi`] is what the workflow talks to; [`HttpGti`] implements it with
//! one pooled ureq agent, unit tests with in-memory fakes, integration tests
//! against a mock GTI server. Events stay `serde_json::Value` objects because
//! the CTIM mapper reads many optional, loosely typed fields from them; what
//! the workflow itself relies on is typed here.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::metrics::{Metrics, UpstreamOutcome};

/// One active detection, as `GET detections` returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Detection {
    pub uuid: String,
    pub account_uuid: String,
    #[serde(default)]
    pub device_ip: Option<String>,
    pub rule_uuid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub indicators: Vec<DetectionIndicator>,
}

/// Which event field made a detection fire, and with which values.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DetectionIndicator {
    /// E.g. `dst.ip`, `http:host.domain`, `http:files.sha256`.
    pub field: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<Value>,
}

/// The answer of `GET detections?…&include=indicators&include=rules`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Detections {
    #[serde(deserialize_with = "null_as_default")]
    pub detections: Vec<Detection>,
    /// Rule objects, kept whole for the mapper (`uuid`, `name`, `severity`, …).
    #[serde(default, deserialize_with = "null_as_default")]
    pub rules: Vec<Value>,
}

/// One day of the event search, both ends formatted the way GTI wants them
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayWindow {
    pub start: String,
    pub end: String,
}

/// One IP of the DHCP bulk look-up, with the event time to look it up at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpLookup {
    pub ip: String,
    pub event_time: String,
}

/// What the workflow needs from GTI. Implementations must be cheap to share
/// across threads: every call may run on a different one.
pub trait GtiApi: Send + Sync {
    /// Active detections whose indicators hold `value`, with their rules.
    fn detections(&self, key: &str, value: &str) -> Result<Detections, GtiError>;
    /// The events (unwrapped from their `{"event": …}` envelope) of one detection.
    fn detection_events(&self, key: &str, detection_uuid: &str) -> Result<Vec<Value>, GtiError>;
    /// The event search for `query` within one day window.
    fn search_events(
        &self,
        key: &str,
        query: &str,
        window: &DayWindow,
    ) -> Result<Vec<Value>, GtiError>;
    /// DHCP records for internal IPs, in GTI's order (each has an `ip`).
    fn dhcp_records(&self, key: &str, lookups: &[DhcpLookup]) -> Result<Vec<Value>, GtiError>;
}

/// GTI's endpoints, named in error messages and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Detections,
    DetectionEvents,
    EventSearch,
    Dhcp,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Detections => "detections",
            Endpoint::DetectionEvents => "detection events",
            Endpoint::EventSearch => "event search",
            Endpoint::Dhcp => "DHCP look-up",
        }
    }
}

/// A failed GTI call (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtiError {
    /// GTI answered an error status with its `{"error":{code, message}}`
    /// body (after the retries, for 429 and 5xx).
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// 429 without an error body, after the retries.
    TooManyRequests { endpoint: Endpoint },
    /// 5xx without an error body after the retries, a connection failure or
    /// a timeout.
    Unavailable { endpoint: Endpoint, detail: String },
    /// The API key cannot be sent as an HTTP header value.
    InvalidKey,
    /// GTI's TLS certificate could not be verified.
    Certificate { reason: String },
    /// A 2xx answer whose body is not the JSON GTI documents, or an error
    /// status whose body is not GTI's error JSON.
    InvalidResponse { endpoint: Endpoint, detail: String },
}

impl GtiError {
    /// The raw code; [`crate::errors::RelayError`] normalises it.
    pub fn code(&self) -> String {
        match self {
            GtiError::Api { code, .. } => code.clone(),
            GtiError::TooManyRequests { .. } => "too many requests".to_owned(),
            GtiError::Unavailable { .. } => "service unavailable".to_owned(),
            GtiError::InvalidKey => "client.invalid_authentication".to_owned(),
            GtiError::Certificate { .. } => "ssl certificate verification failed".to_owned(),
            GtiError::InvalidResponse { .. } => "invalid upstream response".to_owned(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            GtiError::Api {
                status: 401 | 403,
                message,
                ..
            } => {
                format!("Authorization failed: {message}")
            }
            GtiError::Api { message, .. } => message.clone(),
            GtiError::TooManyRequests { endpoint } => format!(
                "GTI {} API kept answering 429 Too Many Requests; retries ran out.",
                endpoint.name()
            ),
            GtiError::Unavailable { endpoint, detail } => {
                format!("GTI {} API is unavailable: {detail}.", endpoint.name())
            }
            GtiError::InvalidKey => "Authorization failed: Invalid Authorization header".to_owned(),
            GtiError::Certificate { reason } => {
                format!("Unable to verify SSL certificate: {reason}.")
            }
            GtiError::InvalidResponse { endpoint, detail } => format!(
                "GTI {} API answered with an unexpected body: {detail}.",
                endpoint.name()
            ),
        }
    }
}

/// The User-Agent GTI sees on every call (the reference relay's).
pub const USER_AGENT: &str =
    "SecureX Threat Response Integrations <tr-integrations-support@cisco.com>";

/// Response bodies larger than this are refused: far beyond any GTI page,
/// yet small enough that a misbehaving upstream cannot exhaust memory.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// The first retry waits about this long, each further one twice as long.
const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// The one pooled HTTP agent for every upstream call (GTI and JWKS). Clone
/// it into threads: clones share the connection pool.
pub fn http_agent(config: &Config) -> ureq::Agent {
    // ureq's defaults suit a browser: no timeout at all, 3 idle connections
    // per host and errors for 4xx/5xx. The fan-out keeps up to
    // `gti_max_inflight` calls open at once; reconnecting (TLS handshake
    // included) for most of them would dominate their latency.
    let per_host = config.gti_max_inflight.max(3);
    ureq::Agent::config_builder()
        .timeout_global(Some(config.gti_timeout))
        .http_status_as_error(false)
        .max_idle_connections_per_host(per_host)
        // Three GTI hosts plus a JWKS host or two.
        .max_idle_connections(per_host.saturating_mul(4))
        .user_agent(USER_AGENT)
        .build()
        .new_agent()
}

/// [`GtiApi`] over HTTP(S) with the pooled agent of [`http_agent`].
///
/// Each call may take `gti_timeout` per try and is retried (429, 5xx,
/// connection failures) `gti_retries` times, but never runs past
/// `gti_timeout × (gti_retries + 1)` in total.
#[derive(Clone)]
pub struct HttpGti {
    agent: ureq::Agent,
    detections_url: String,
    events_url: Option<String>,
    entity_url: String,
    timeout: Duration,
    retries: u32,
    backoff_base: Duration,
    /// Where each try is counted (see [`crate::metrics`]).
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for HttpGti {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGti")
            .field("detections_url", &self.detections_url)
            .field("events_url", &self.events_url)
            .field("entity_url", &self.entity_url)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl HttpGti {
    pub fn new(config: &Config, agent: ureq::Agent) -> HttpGti {
        HttpGti {
            agent,
            detections_url: config.detections_url.clone(),
            events_url: config.events_url.clone(),
            entity_url: config.entity_url.clone(),
            timeout: config.gti_timeout,
            retries: config.gti_retries,
            backoff_base: BACKOFF_BASE,
            // Counts nowhere visible until `with_metrics` says where.
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Records every try in `metrics` (the app's, so `/metrics` shows it).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> HttpGti {
        self.metrics = metrics;
        self
    }

    /// Changes the first retry's wait (200 ms by default), so that tests and
    /// benchmarks of the retry path need not sleep for real.
    pub fn with_backoff_base(mut self, base: Duration) -> HttpGti {
        self.backoff_base = base;
        self
    }

    /// Sends `request` until it succeeds, fails for good, or the retry
    /// budget is spent, and decodes the 2xx body as `T`.
    fn execute<T: DeserializeOwned>(&self, key: &str, request: &Request) -> Result<T, GtiError> {
        let authorization = authorization_header(key)?;
        let deadline = Instant::now() + self.timeout.saturating_mul(self.retries.saturating_add(1));
        let mut retry = 0;
        loop {
            // The last try gets only what is left of the budget.
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .min(self.timeout);
            let in_flight = self.metrics.upstream_started();
            let started = Instant::now();
            let (attempt, mut outcome) = self.attempt(request, &authorization, budget, retry);
            let elapsed = started.elapsed();
            drop(in_flight);
            let (error, retry_after) = match attempt {
                Attempt::Done(body) => {
                    let decoded = body.and_then(|body| decode(request.endpoint, &body));
                    if decoded.is_err() && outcome == UpstreamOutcome::Ok {
                        outcome = UpstreamOutcome::InvalidResponse;
                    }
                    self.metrics
                        .record_upstream(request.endpoint, outcome, elapsed);
                    return decoded;
                }
                Attempt::Retry { error, retry_after } => {
                    self.metrics
                        .record_upstream(request.endpoint, outcome, elapsed);
                    (error, retry_after)
                }
            };
            let wait = retry_after
                .unwrap_or_else(|| backoff_delay(self.backoff_base, retry, clock_jitter()));
            let in_budget = Instant::now()
                .checked_add(wait)
                .is_some_and(|resume| resume < deadline);
            if retry >= self.retries || !in_budget {
                return Err(error);
            }
            log::debug!(
                "GTI {} API: retrying in {} ms",
                request.endpoint.name(),
                wait.as_millis()
            );
            std::thread::sleep(wait);
            retry += 1;
        }
    }

    /// One try of `request`, limited to `budget`, and how it ended for the
    /// metrics (a 2xx is `Ok` here even if its body turns out not to decode).
    fn attempt(
        &self,
        request: &Request,
        authorization: &str,
        budget: Duration,
        retry: u32,
    ) -> (Attempt, UpstreamOutcome) {
        let started = Instant::now();
        let sent = match &request.json {
            None => self
                .agent
                .get(&request.url)
                .header("Authorization", authorization)
                .header("User-Agent", USER_AGENT)
                .config()
                .timeout_global(Some(budget))
                .build()
                .call(),
            Some(json) => self
                .agent
                .post(&request.url)
                .header("Authorization", authorization)
                .header("User-Agent", USER_AGENT)
                .header("Content-Type", "application/json")
                .config()
                .timeout_global(Some(budget))
                .build()
                .send(json.as_bytes()),
        };
        let outcome = sent.and_then(|mut response| {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now()));
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_vec()?;
            Ok((status, retry_after, body))
        });
        let elapsed = started.elapsed().as_millis();
        match outcome {
            Ok((status, retry_after, body)) => {
                log::debug!(
                    "GTI {} API: HTTP {status} in {elapsed} ms (try {})",
                    request.endpoint.name(),
                    retry + 1
                );
                (
                    classify_status(request.endpoint, status, body, retry_after),
                    UpstreamOutcome::of_status(status),
                )
            }
            Err(error) => {
                log::debug!(
                    "GTI {} API: {error} after {elapsed} ms (try {})",
                    request.endpoint.name(),
                    retry + 1
                );
                let attempt = classify_failure(request.endpoint, &error, budget);
                let outcome = failure_outcome(&error, &attempt);
                (attempt, outcome)
            }
        }
    }
}

impl GtiApi for HttpGti {
    fn detections(&self, key: &str, value: &str) -> Result<Detections, GtiError> {
        let request = Request {
            endpoint: Endpoint::Detections,
            url: detections_url(&self.detections_url, value),
            json: None,
        };
        self.execute(key, &request)
    }

    fn detection_events(&self, key: &str, detection_uuid: &str) -> Result<Vec<Value>, GtiError> {
        let request = Request {
            endpoint: Endpoint::DetectionEvents,
            url: detection_events_url(&self.detections_url, detection_uuid),
            json: None,
        };
        let page: DetectionEventPage = self.execute(key, &request)?;
        Ok(page
            .events
            .into_iter()
            .map(|envelope| Value::Object(envelope.event))
            .collect())
    }

    fn search_events(
        &self,
        key: &str,
        query: &str,
        window: &DayWindow,
    ) -> Result<Vec<Value>, GtiError> {
        // No event search in this region or account: nothing to find.
        let Some(base) = &self.events_url else {
            return Ok(Vec::new());
        };
        let request = Request {
            endpoint: Endpoint::EventSearch,
            url: format!("{base}query"),
            json: Some(search_body(query, window)),
        };
        let page: EventPage = self.execute(key, &request)?;
        Ok(page.events.into_iter().map(Value::Object).collect())
    }

    fn dhcp_records(&self, key: &str, lookups: &[DhcpLookup]) -> Result<Vec<Value>, GtiError> {
        // GTI refuses an empty look-up ("No entities specified."), so don't ask.
        if lookups.is_empty() {
            return Ok(Vec::new());
        }
        let request = Request {
            endpoint: Endpoint::Dhcp,
            url: format!("{}entity/tracking/bulk/get/ip", self.entity_url),
            json: Some(dhcp_body(lookups)),
        };
        let answer: DhcpAnswer = self.execute(key, &request)?;
        let records = answer.entity_tracking_bulk_response.dhcp;
        // The workflow groups records by `ip`; one without it is unusable.
        if let Some(index) = records
            .iter()
            .position(|record| !record.get("ip").is_some_and(Value::is_string))
        {
            return Err(GtiError::InvalidResponse {
                endpoint: Endpoint::Dhcp,
                detail: format!("DHCP record {index} has no string `ip`"),
            });
        }
        Ok(records.into_iter().map(Value::Object).collect())
    }
}

/// One GTI request, kept whole so that a retry can send it again.
struct Request {
    endpoint: Endpoint,
    /// Full URL, query string included.
    url: String,
    /// The JSON body of a POST; `None` sends a GET.
    json: Option<String>,
}

/// What one try came to.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// A 2xx body to decode, or an error no retry can fix.
    Done(Result<Vec<u8>, GtiError>),
    /// A failure another try may fix; `error` is the answer once the retries
    /// or the budget run out. `retry_after` is GTI's own `Retry-After`.
    Retry {
        error: GtiError,
        retry_after: Option<Duration>,
    },
}

/// `{"events":[{"event":{…}}, …]}` of `GET events`.
#[derive(Deserialize)]
struct DetectionEventPage {
    #[serde(deserialize_with = "null_as_default")]
    events: Vec<DetectionEventEnvelope>,
}

#[derive(Deserialize)]
struct DetectionEventEnvelope {
    event: Map<String, Value>,
}

/// `{"events":[{…}, …]}` of `POST query`.
#[derive(Debug, Deserialize)]
struct EventPage {
    #[serde(deserialize_with = "null_as_default")]
    events: Vec<Map<String, Value>>,
}

/// `{"entity_tracking_bulk_response":{"dhcp":[…]}}` of the bulk look-up.
#[derive(Deserialize)]
struct DhcpAnswer {
    entity_tracking_bulk_response: DhcpBulk,
}

#[derive(Deserialize)]
struct DhcpBulk {
    #[serde(deserialize_with = "null_as_default")]
    dhcp: Vec<Map<String, Value>>,
}

/// What an HTTP answer means (SPEC §4), in one `match` over its status.
fn classify_status(
    endpoint: Endpoint,
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
) -> Attempt {
    match status {
        200..=299 => Attempt::Done(Ok(body)),
        429 => Attempt::Retry {
            error: api_error(status, &body).unwrap_or(GtiError::TooManyRequests { endpoint }),
            retry_after,
        },
        500..=599 => Attempt::Retry {
            error: api_error(status, &body).unwrap_or_else(|| GtiError::Unavailable {
                endpoint,
                detail: format!("it answered HTTP {status}"),
            }),
            retry_after,
        },
        _ => Attempt::Done(Err(api_error(status, &body).unwrap_or_else(|| {
            GtiError::InvalidResponse {
                endpoint,
                detail: format!("HTTP {status} without a GTI error body"),
            }
        }))),
    }
}

/// GTI's error body `{"error":{"code":…,"message":…}}` as [`GtiError::Api`].
fn api_error(status: u16, body: &[u8]) -> Option<GtiError> {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: ErrorDetail,
    }
    #[derive(Deserialize)]
    struct ErrorDetail {
        code: String,
        message: String,
    }
    let ErrorBody { error } = serde_json::from_slice(body).ok()?;
    Some(GtiError::Api {
        status,
        code: error.code,
        message: error.message,
    })
}

/// What a request that got no (complete) HTTP answer means. Connection
/// trouble and timeouts are usually transient, so they are retried; a
/// certificate GTI cannot prove or a malformed answer will not get better.
fn classify_failure(endpoint: Endpoint, error: &ureq::Error, budget: Duration) -> Attempt {
    let retry = |detail: String| Attempt::Retry {
        error: GtiError::Unavailable { endpoint, detail },
        retry_after: None,
    };
    let invalid =
        |detail: String| Attempt::Done(Err(GtiError::InvalidResponse { endpoint, detail }));
    match error {
        ureq::Error::Timeout(_) => retry(format!("timed out after {}", human_duration(budget))),
        ureq::Error::HostNotFound => retry("host not found".to_owned()),
        ureq::Error::ConnectionFailed => retry("connection failed".to_owned()),
        ureq::Error::Io(io) => {
            // rustls reports a failed handshake as an I/O error wrapping its own.
            let inner = io.get_ref().map(ToString::to_string);
            match inner.as_deref().and_then(certificate_reason) {
                Some(reason) => Attempt::Done(Err(GtiError::Certificate { reason })),
                None => retry(io_detail(io)),
            }
        }
        ureq::Error::Rustls(tls) => match certificate_reason(&tls.to_string()) {
            Some(reason) => Attempt::Done(Err(GtiError::Certificate { reason })),
            None => retry(format!("TLS failed: {tls}")),
        },
        ureq::Error::BodyExceedsLimit(_) => invalid(format!(
            "the body is larger than {} MiB",
            MAX_RESPONSE_BYTES >> 20
        )),
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => {
            invalid(format!("not a valid HTTP answer ({error})"))
        }
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
            invalid(format!("unexpected redirect ({error})"))
        }
        // Bad URLs, TLS set-up and the like: configuration faults that no
        // retry fixes. The detail goes to the caller, who needs it to act.
        _ => Attempt::Done(Err(GtiError::Unavailable {
            endpoint,
            detail: error.to_string(),
        })),
    }
}

/// How a try that got no (complete) HTTP answer ended, for the metrics;
/// `attempt` is what [`classify_failure`] made of `error`.
fn failure_outcome(error: &ureq::Error, attempt: &Attempt) -> UpstreamOutcome {
    if matches!(attempt, Attempt::Done(Err(GtiError::Certificate { .. }))) {
        return UpstreamOutcome::Tls;
    }
    match error {
        ureq::Error::Timeout(_) => UpstreamOutcome::Timeout,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            UpstreamOutcome::Timeout
        }
        ureq::Error::Rustls(_) => UpstreamOutcome::Tls,
        ureq::Error::BodyExceedsLimit(_)
        | ureq::Error::Protocol(_)
        | ureq::Error::LargeResponseHeader(..)
        | ureq::Error::TooManyRedirects
        | ureq::Error::RedirectFailed => UpstreamOutcome::InvalidResponse,
        // DNS, refused, reset, other I/O and set-up faults: GTI was not
        // reached, or not for long enough to answer.
        _ => UpstreamOutcome::Connection,
    }
}

/// The reason of a TLS certificate verification failure, capitalised like
/// the reference relay's (`Invalid peer certificate: UnknownIssuer`), or
/// `None` for any other error. rustls renders these as
/// `invalid peer certificate: …`; its types are not reachable from here
/// without depending on rustls directly, so the rendering is matched.
fn certificate_reason(error: &str) -> Option<String> {
    let error = error.strip_prefix("rustls: ").unwrap_or(error);
    error
        .starts_with("invalid peer certificate")
        .then(|| capitalise(error))
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A short, lower-case account of an I/O failure for the caller.
fn io_detail(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        ErrorKind::ConnectionReset => "connection reset".to_owned(),
        ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
        ErrorKind::UnexpectedEof => "connection closed before the answer was complete".to_owned(),
        ErrorKind::TimedOut => "timed out".to_owned(),
        ErrorKind::HostUnreachable => "host unreachable".to_owned(),
        ErrorKind::NetworkUnreachable => "network unreachable".to_owned(),
        // E.g. a TLS handshake that failed for a reason other than the
        // certificate: "received corrupt message of type InvalidContentType".
        _ => format!("connection failed: {error}"),
    }
}

/// `30 s` (whole seconds, rounded) from one second up, `250 ms` below: the
/// last try's budget is whatever was left, and `29 s` reads better than
/// `29394 ms`.
fn human_duration(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        format!("{} s", (duration.as_millis() + 500) / 1000)
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// A 2xx body as `T`; the error names what did not fit.
fn decode<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, GtiError> {
    serde_json::from_slice(body).map_err(|error| GtiError::InvalidResponse {
        endpoint,
        detail: match error.classify() {
            // Valid JSON of the wrong shape: serde says which field.
            serde_json::error::Category::Data => error.to_string(),
            _ => format!("not JSON ({error})"),
        },
    })
}

/// `Authorization: IBToken <key>`, refused when the key holds what a header
/// value cannot carry (control characters, newlines, non-ASCII): those would
/// fail inside the HTTP stack or, worse, smuggle extra headers.
fn authorization_header(key: &str) -> Result<String, GtiError> {
    if key
        .bytes()
        .all(|byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
    {
        Ok(format!("IBToken {key}"))
    } else {
        Err(GtiError::InvalidKey)
    }
}

fn detections_url(base: &str, value: &str) -> String {
    format!(
        "{base}detections?indicator_value={}&status=active&include=indicators&include=rules",
        encode_query_value(value)
    )
}

fn detection_events_url(base: &str, detection_uuid: &str) -> String {
    format!(
        "{base}events?detection_uuid={}",
        encode_query_value(detection_uuid)
    )
}

fn search_body(query: &str, window: &DayWindow) -> String {
    serde_json::json!({
        "query": query,
        "start_date": window.start,
        "end_date": window.end,
    })
    .to_string()
}

fn dhcp_body(lookups: &[DhcpLookup]) -> String {
    let entities: Vec<Value> = lookups
        .iter()
        .map(|lookup| serde_json::json!({"ip": lookup.ip, "event_time": lookup.event_time}))
        .collect();
    serde_json::json!({ "entities": entities }).to_string()
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so any
/// observable value (`&`, `#`, spaces, non-ASCII) survives as one parameter.
fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The wait before retry number `retry + 1`: `base × 2^retry`, spread by
/// ±25 % (from `jitter`, any number) so that the many calls of one fan-out
/// that failed together do not come back together.
fn backoff_delay(base: Duration, retry: u32, jitter: u32) -> Duration {
    let exponential = base.saturating_mul(1 << retry.min(16));
    let permille = 750 + jitter % 501; // 750 ..= 1250
    exponential.saturating_mul(permille) / 1000
}

/// Cheap jitter: the clock's nanoseconds differ between threads and tries,
/// which is all the spreading needs (no random number crate).
fn clock_jitter() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_micros())
}

/// A `Retry-After` value: delay seconds or an HTTP-date (IMF-fixdate, e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`). A date in the past means now; anything
/// else is ignored (`None`), and the usual backoff applies.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Too many digits for a u64 still means "not within our budget".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = UNIX_EPOCH + Duration::from_secs(parse_http_date(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Seconds since the Unix epoch of an IMF-fixdate.
fn parse_http_date(value: &str) -> Option<u64> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let [weekday, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    if !weekday.ends_with(',') {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|name| name == month)? as u32 + 1;
    let day: u32 = day.parse().ok().filter(|day| (1..=31).contains(day))?;
    let year: i64 = year.parse().ok().filter(|year| *year >= 1970)?;
    let clock: Vec<u64> = time
        .split(':')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    let [hours, minutes, seconds] = clock.as_slice() else {
        return None;
    };
    if *hours > 23 || *minutes > 59 || *seconds > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(days * 86_400 + hours * 3600 + minutes * 60 + seconds)
}

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Accepts `null` where a list (or other defaultable value) is expected.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The event search's day windows ending at `now_millis` (milliseconds since
/// the Unix epoch, UTC), newest first: `[now-1d, now]`, `[now-2d, now-1d]`, …
pub fn day_windows(now_millis: u64, day_range: u32) -> Vec<DayWindow> {
    const DAY_MILLIS: u64 = 86_400_000;
    (0..u64::from(day_range))
        .map(|back| {
            let end = now_millis.saturating_sub(back * DAY_MILLIS);
            DayWindow {
                start: format_timestamp(end.saturating_sub(DAY_MILLIS)),
                end: format_timestamp(end),
            }
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the Unix epoch (UTC).
pub fn format_timestamp(millis: u64) -> String {
    let days = (millis / 86_400_000) as i64;
    let in_day = millis % 86_400_000;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so no date crate is needed for one format.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_formatted_in_utc_with_milliseconds() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(1_796_001_138_123),
            "2026-11-30T01:12:18.123Z"
        );
    }

    #[test]
    fn day_windows_go_back_one_day_at_a_time_newest_first() {
        let now = 1_796_001_138_123;
        let windows = day_windows(now, 3);
        assert_eq!(
            windows,
            [
                DayWindow {
                    start: "2026-11-29T01:12:18.123Z".into(),
                    end: "2026-11-30T01:12:18.123Z".into()
                },
                DayWindow {
                    start: "2026-11-28T01:12:18.123Z".into(),
                    end: "2026-11-29T01:12:18.123Z".into()
                },
                DayWindow {
                    start: "2026-11-27T01:12:18.123Z".into(),
                    end: "2026-11-28T01:12:18.123Z".into()
                },
            ]
        );
    }

    #[test]
    fn detections_tolerate_nulls_and_unknown_fields() {
        let body = r#"{"detections":[{"uuid":"d","account_uuid":"a","device_ip":null,
            "rule_uuid":"r","indicators":null,"extra":1}],"rules":null,"total":1}"#;
        let parsed: Detections = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.detections[0].indicators, []);
        assert_eq!(parsed.detections[0].device_ip, None);
        assert!(parsed.rules.is_empty());
    }

    #[test]
    fn error_messages_follow_the_spec() {
        let unauthorized = GtiError::Api {
            status: 401,
            code: "client.invalid_authentication".into(),
            message: "Authentication is invalid.".into(),
        };
        assert_eq!(
            unauthorized.message(),
            "Authorization failed: Authentication is invalid."
        );
        assert_eq!(
            GtiError::InvalidKey.message(),
            "Authorization failed: Invalid Authorization header"
        );
        assert_eq!(
            GtiError::Certificate {
                reason: "Self-signed certificate".into()
            }
            .message(),
            "Unable to verify SSL certificate: Self-signed certificate."
        );
    }

    #[test]
    fn urls_carry_the_value_as_one_encoded_parameter() {
        assert_eq!(
            detections_url("https://d/v1/", "a b&c#d=é"),
            "https://d/v1/detections?indicator_value=a%20b%26c%23d%3D%C3%A9\
             &status=active&include=indicators&include=rules"
        );
        assert_eq!(
            detection_events_url("https://d/v1/", "9bd7362e-e3aa"),
            "https://d/v1/events?detection_uuid=9bd7362e-e3aa"
        );
    }

    #[test]
    fn request_bodies_are_the_json_gti_documents() {
        let window = DayWindow {
            start: "2021-01-13T03:21:34.123Z".into(),
            end: "2021-01-14T03:21:34.123Z".into(),
        };
        let body: Value = serde_json::from_str(&search_body("ip = '8.8.8.8'", &window)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"query": "ip = '8.8.8.8'", "start_date": window.start, "end_date": window.end})
        );
        let lookups = [DhcpLookup {
            ip: "10.0.0.1".into(),
            event_time: "t".into(),
        }];
        let body: Value = serde_json::from_str(&dhcp_body(&lookups)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"entities": [{"ip": "10.0.0.1", "event_time": "t"}]})
        );
    }

    #[test]
    fn keys_that_cannot_be_header_values_are_refused() {
        assert_eq!(
            authorization_header("abc-123_X").unwrap(),
            "IBToken abc-123_X"
        );
        assert!(authorization_header("with space\tand tab").is_ok());
        for key in [
            "line\nbreak",
            "carriage\rreturn",
            "nul\0",
            "ünïcode",
            "del\u{7f}",
        ] {
            assert_eq!(
                authorization_header(key),
                Err(GtiError::InvalidKey),
                "{key:?}"
            );
        }
    }

    #[test]
    fn statuses_map_to_errors_in_one_place() {
        let endpoint = Endpoint::EventSearch;
        let gti_body = br#"{"error":{"code":"client.invalid_authentication","message":"Authentication is invalid."}}"#;
        let api = |status| GtiError::Api {
            status,
            code: "client.invalid_authentication".into(),
            message: "Authentication is invalid.".into(),
        };
        assert_eq!(
            classify_status(endpoint, 200, b"{}".to_vec(), None),
            Attempt::Done(Ok(b"{}".to_vec()))
        );
        assert_eq!(
            classify_status(endpoint, 401, gti_body.to_vec(), None),
            Attempt::Done(Err(api(401)))
        );
        assert_eq!(
            classify_status(endpoint, 404, b"<html>".to_vec(), None),
            Attempt::Done(Err(GtiError::InvalidResponse {
                endpoint,
                detail: "HTTP 404 without a GTI error body".into()
            }))
        );
        let second = Some(Duration::from_secs(1));
        assert_eq!(
            classify_status(endpoint, 429, Vec::new(), second),
            Attempt::Retry {
                error: GtiError::TooManyRequests { endpoint },
                retry_after: second
            }
        );
        assert_eq!(
            classify_status(endpoint, 503, Vec::new(), None),
            Attempt::Retry {
                error: GtiError::Unavailable {
                    endpoint,
                    detail: "it answered HTTP 503".into()
                },
                retry_after: None
            }
        );
        assert_eq!(
            classify_status(endpoint, 500, gti_body.to_vec(), None),
            Attempt::Retry {
                error: api(500),
                retry_after: None
            }
        );
        // An error body missing its message is not GTI's.
        assert_eq!(api_error(400, br#"{"error":{"code":"x"}}"#), None);
        assert_eq!(api_error(400, br#"{"error":"x"}"#), None);
    }

    #[test]
    fn transport_failures_are_retried_unless_hopeless() {
        let endpoint = Endpoint::Detections;
        let budget = Duration::from_secs(30);
        let refused = ureq::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(
            classify_failure(endpoint, &refused, budget),
            Attempt::Retry {
                error: GtiError::Unavailable {
                    endpoint,
                    detail: "connection refused".into()
                },
                retry_after: None
            }
        );
        let timeout = ureq::Error::Timeout(ureq::Timeout::Global);
        assert_eq!(
            classify_failure(endpoint, &timeout, budget),
            Attempt::Retry {
                error: GtiError::Unavailable {
                    endpoint,
                    detail: "timed out after 30 s".into()
                },
                retry_after: None
            }
        );
        assert!(matches!(
            classify_failure(endpoint, &ureq::Error::BodyExceedsLimit(1), budget),
            Attempt::Done(Err(GtiError::InvalidResponse { .. }))
        ));
    }

    #[test]
    fn transport_failures_name_their_outcome() {
        let outcome = |error: ureq::Error| {
            let attempt = classify_failure(Endpoint::Dhcp, &error, Duration::from_secs(1));
            failure_outcome(&error, &attempt)
        };
        assert_eq!(
            outcome(ureq::Error::Timeout(ureq::Timeout::Global)),
            UpstreamOutcome::Timeout
        );
        assert_eq!(
            outcome(ureq::Error::Io(std::io::ErrorKind::TimedOut.into())),
            UpstreamOutcome::Timeout
        );
        assert_eq!(
            outcome(ureq::Error::Io(
                std::io::ErrorKind::ConnectionRefused.into()
            )),
            UpstreamOutcome::Connection
        );
        assert_eq!(
            outcome(ureq::Error::HostNotFound),
            UpstreamOutcome::Connection
        );
        assert_eq!(
            outcome(ureq::Error::BodyExceedsLimit(1)),
            UpstreamOutcome::InvalidResponse
        );
        let certificate = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        assert_eq!(outcome(ureq::Error::Io(certificate)), UpstreamOutcome::Tls);
    }

    #[test]
    fn certificate_failures_carry_a_capitalised_reason() {
        // rustls wraps its error in an io::Error; its Display is what we see.
        #[derive(Debug)]
        struct FakeRustls;
        impl std::fmt::Display for FakeRustls {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("invalid peer certificate: UnknownIssuer")
            }
        }
        impl std::error::Error for FakeRustls {}
        let error = ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            FakeRustls,
        ));
        let reason = "Invalid peer certificate: UnknownIssuer".to_owned();
        assert_eq!(
            classify_failure(Endpoint::Dhcp, &error, Duration::from_secs(1)),
            Attempt::Done(Err(GtiError::Certificate { reason }))
        );
        assert_eq!(
            certificate_reason("received corrupt message of type InvalidContentType"),
            None
        );
        assert_eq!(
            certificate_reason("rustls: invalid peer certificate: Expired").as_deref(),
            Some("Invalid peer certificate: Expired")
        );
    }

    #[test]
    fn wrong_bodies_say_what_did_not_fit() {
        let not_json = decode::<EventPage>(Endpoint::EventSearch, b"<html>").unwrap_err();
        assert!(
            matches!(&not_json, GtiError::InvalidResponse { detail, .. } if detail.starts_with("not JSON (")),
            "{not_json:?}"
        );
        let wrong_shape =
            decode::<EventPage>(Endpoint::EventSearch, br#"{"results":[]}"#).unwrap_err();
        assert!(
            matches!(&wrong_shape, GtiError::InvalidResponse { detail, .. } if detail.starts_with("missing field `events`")),
            "{wrong_shape:?}"
        );
        let not_objects =
            decode::<EventPage>(Endpoint::EventSearch, br#"{"events":[1]}"#).unwrap_err();
        assert!(matches!(not_objects, GtiError::InvalidResponse { .. }));
        let page = decode::<EventPage>(Endpoint::EventSearch, br#"{"events":null}"#).unwrap();
        assert!(page.events.is_empty());
    }

    #[test]
    fn backoff_doubles_with_a_quarter_of_jitter() {
        let base = Duration::from_millis(200);
        assert_eq!(backoff_delay(base, 0, 250), Duration::from_millis(200));
        assert_eq!(backoff_delay(base, 0, 0), Duration::from_millis(150));
        assert_eq!(backoff_delay(base, 0, 500), Duration::from_millis(250));
        assert_eq!(backoff_delay(base, 2, 250), Duration::from_millis(800));
        for jitter in [0, 1, 499, 500, 501, u32::MAX] {
            let delay = backoff_delay(base, 1, jitter);
            assert!((300..=500).contains(&delay.as_millis()), "{delay:?}");
        }
        // Absurd retry counts saturate instead of overflowing.
        assert!(backoff_delay(base, u32::MAX, 0) > Duration::from_secs(3600));
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
        for junk in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT",
        ] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn the_agent_follows_the_configuration() {
        let config = Config {
            gti_timeout: Duration::from_secs(7),
            gti_max_inflight: 50,
            ..Config::default()
        };
        let agent = http_agent(&config);
        let settings = agent.config();
        assert_eq!(settings.timeouts().global, Some(Duration::from_secs(7)));
        assert!(!settings.http_status_as_error());
        assert!(settings.max_idle_connections_per_host() >= 50);
        assert!(settings.max_idle_connections() >= settings.max_idle_connections_per_host());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_millis(29_394)), "29 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "2 s");
        assert_eq!(human_duration(Duration::from_millis(985)), "985 ms");
        assert_eq!(human_duration(Duration::ZERO), "0 ms");
    }
}
