//! [`GtiApi`] over HTTP(S): one pooled ureq agent, each GTI answer read
//! straight from its bytes into the typed structs of [`super::model`].

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::error::{classify_failure, classify_status, failure_outcome, Attempt};
use super::model::{null_as_default, Event, WireDhcpRecord};
use super::retry::{backoff_delay, clock_jitter, parse_retry_after, BACKOFF_BASE};
use super::{
    Answer, Call, CallObserver, DayWindow, DetectionEvent, DhcpLookup, Endpoint, GtiApi, GtiError,
    Try, Unobserved, UpstreamOutcome, MAX_RESPONSE_BYTES,
};
use crate::config::Config;
use crate::egress::{Egress, ExtraRoots};
use crate::encoding::quote;
use crate::region::Region;
use crate::time::since_epoch;

/// The User-Agent GTI sees on every call (the reference relay's).
pub const USER_AGENT: &str =
    "SecureX Threat Response Integrations <tr-integrations-support@cisco.com>";

/// The one pooled HTTP agent for every upstream call (GTI and JWKS). Clone
/// it into threads: clones share the connection pool.
///
/// TLS trusts the built-in web PKI roots, plus `GTI_CA_FILE`'s when set.
/// The agent itself uses no proxy (ureq's default would read the proxy
/// variables its own way): each request names the proxy
/// [`crate::egress::Egress::proxy_for`] chooses for its URL.
pub fn http_agent(config: &Config) -> ureq::Agent {
    // ureq's defaults suit a browser: no timeout at all, 3 idle connections
    // per host and errors for 4xx/5xx. The fan-out keeps up to
    // `gti_max_inflight` calls open at once; reconnecting (TLS handshake
    // included) for most of them would dominate their latency.
    let per_host = config.gti_max_inflight.max(3);
    let mut builder = ureq::Agent::config_builder()
        .timeout_global(Some(config.gti_timeout))
        .http_status_as_error(false)
        .max_idle_connections_per_host(per_host)
        // Six GTI hosts (two regions) plus a JWKS host or two.
        .max_idle_connections(per_host.saturating_mul(8))
        .user_agent(USER_AGENT)
        // A POST's head and body go out in separate writes: without
        // TCP_NODELAY the body could wait for a delayed ACK (ureq's default
        // too, stated because the relay depends on it).
        .no_delay(true)
        .proxy(None);
    if let Some(extra) = &config.egress.extra_roots {
        builder = builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(root_certs(extra))
                .build(),
        );
    }
    builder.build().new_agent()
}

/// The built-in roots and `extra` as one set. ureq takes either its
/// built-in roots or a list of certificates, not both, so the built-in
/// ones come as certificates too: `webpki-root-certs` holds the same
/// Mozilla set that ureq's `webpki-roots` holds as bare trust anchors.
fn root_certs(extra: &ExtraRoots) -> ureq::tls::RootCerts {
    let built_in = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|certificate| ureq::tls::Certificate::from_der(certificate.as_ref()));
    let extra = extra
        .certificates()
        .map(|der| ureq::tls::Certificate::from_der(der).to_owned());
    ureq::tls::RootCerts::from(built_in.chain(extra))
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
    /// Which proxy (or none) each call goes through.
    egress: Arc<Egress>,
    timeout: Duration,
    retries: u32,
    backoff_base: Duration,
    /// Told about each try (the relay's metrics).
    observer: Arc<dyn CallObserver>,
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
    /// The client of the default region (`GTI_REGION`).
    pub fn new(config: &Config, agent: ureq::Agent) -> HttpGti {
        HttpGti::for_region(config, config.region, agent)
    }

    /// The client of `region`: its calls go to that region's hosts only.
    pub fn for_region(config: &Config, region: Region, agent: ureq::Agent) -> HttpGti {
        let urls = config.urls(region);
        HttpGti {
            agent,
            detections_url: urls.detections.clone(),
            events_url: urls.events.clone(),
            entity_url: urls.entity.clone(),
            egress: Arc::new(config.egress.clone()),
            timeout: config.gti_timeout,
            retries: config.gti_retries,
            backoff_base: BACKOFF_BASE,
            // Counts nowhere until `with_observer` says where.
            observer: Arc::new(Unobserved),
        }
    }

    /// Tells `observer` about every try (the app's metrics, so that
    /// `/metrics` shows them).
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> HttpGti {
        self.observer = observer;
        self
    }

    /// Changes the first retry's wait (200 ms by default), so that tests and
    /// benchmarks of the retry path need not sleep for real.
    pub fn with_backoff_base(mut self, base: Duration) -> HttpGti {
        self.backoff_base = base;
        self
    }

    /// One try of `request` within `budget`, decoded with `decode`;
    /// `attempt` counts the tries before it.
    fn try_request(
        &self,
        key: &str,
        request: &Request,
        attempt: u32,
        budget: Duration,
        decode: impl Fn(&[u8]) -> Result<Answer, GtiError>,
    ) -> Try {
        let authorization = match authorization_header(key) {
            Ok(authorization) => authorization,
            Err(error) => return Try::Done(Err(error)),
        };
        let budget = budget.min(self.timeout);
        self.observer.try_started(request.endpoint);
        let started = Instant::now();
        let (outcome, mut counted) = self.attempt(request, &authorization, budget, attempt);
        let elapsed = started.elapsed();
        match outcome {
            Attempt::Done(body) => {
                let decoded = body.and_then(|body| decode(&body));
                if decoded.is_err() && counted == UpstreamOutcome::Ok {
                    counted = UpstreamOutcome::InvalidResponse;
                }
                self.observer.try_ended(request.endpoint, counted, elapsed);
                Try::Done(decoded)
            }
            Attempt::Retry { error, retry_after } => {
                self.observer.try_ended(request.endpoint, counted, elapsed);
                if attempt >= self.retries {
                    return Try::Done(Err(error));
                }
                let after = retry_after
                    .unwrap_or_else(|| backoff_delay(self.backoff_base, attempt, clock_jitter()));
                Try::Retry { error, after }
            }
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
        let proxy = self.egress.proxy_for(&request.url).cloned();
        // Every try carries the same headers, budget and proxy; only the
        // method and the body differ.
        let sent = match &request.json {
            None => {
                with_try_settings(self.agent.get(&request.url), authorization, budget, proxy).call()
            }
            Some(json) => {
                let builder = if request.put {
                    self.agent.put(&request.url)
                } else {
                    self.agent.post(&request.url)
                };
                with_try_settings(builder, authorization, budget, proxy)
                    .header("Content-Type", "application/json")
                    .send(json.as_bytes())
            }
        };
        let outcome = sent.and_then(|mut response| {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, UNIX_EPOCH + since_epoch()));
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
                log::warn!(
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
    fn try_call(&self, key: &str, call: &Call<'_>, attempt: u32, budget: Duration) -> Try {
        let endpoint = call.endpoint();
        let mut put = false;
        let (url, json) = match *call {
            Call::Detections { value } => (detections_url(&self.detections_url, value), None),
            Call::DetectionEvents { detection_uuid } => (
                detection_events_url(&self.detections_url, detection_uuid),
                None,
            ),
            Call::Search { query, window } => match &self.events_url {
                Some(base) => (format!("{base}query"), Some(search_body(query, window))),
                // No event search in this region or account: nothing to find.
                None => return Try::Done(Ok(Answer::Events(Vec::new()))),
            },
            // GTI refuses an empty look-up ("No entities specified."), so don't ask.
            Call::Dhcp { lookups: [] } => return Try::Done(Ok(Answer::Dhcp(Vec::new()))),
            Call::Dhcp { lookups } => (
                format!("{}entity/tracking/bulk/get/ip", self.entity_url),
                Some(dhcp_body(lookups)),
            ),
            Call::DetectionList { window, offset } => (
                detection_list_url(&self.detections_url, window, offset),
                None,
            ),
            Call::Resolve {
                detection_uuid,
                resolution,
            } => {
                put = true;
                (
                    resolve_url(&self.detections_url, detection_uuid),
                    Some(resolve_body(resolution)),
                )
            }
        };
        let request = Request {
            endpoint,
            url,
            json,
            put,
        };
        self.try_request(key, &request, attempt, budget, |body| {
            decode_answer(endpoint, body)
        })
    }

    fn call_budget(&self) -> Duration {
        self.timeout.saturating_mul(self.retries.saturating_add(1))
    }
}

/// A request with what every try of a GTI call carries: GTI's
/// authorization, the User-Agent, this try's time budget and its proxy.
fn with_try_settings<B>(
    builder: ureq::RequestBuilder<B>,
    authorization: &str,
    budget: Duration,
    proxy: Option<ureq::Proxy>,
) -> ureq::RequestBuilder<B> {
    builder
        .header("Authorization", authorization)
        .header("User-Agent", USER_AGENT)
        .config()
        .timeout_global(Some(budget))
        .proxy(proxy)
        .build()
}

/// A 2xx body as the answer of a call to `endpoint`.
fn decode_answer(endpoint: Endpoint, body: &[u8]) -> Result<Answer, GtiError> {
    match endpoint {
        Endpoint::Detections => decode(endpoint, body).map(Answer::Detections),
        Endpoint::DetectionList => decode(endpoint, body).map(Answer::DetectionList),
        // A 2xx is the whole answer: what GTI says beside it is not needed.
        Endpoint::Resolve => Ok(Answer::Resolved),
        Endpoint::DetectionEvents => {
            let page: DetectionEventPage = decode(endpoint, body)?;
            page.events
                .iter()
                .map(|envelope| {
                    DetectionEvent::from_json(envelope.event.get())
                        .map_err(|error| shape_error(endpoint, &error))
                })
                .collect::<Result<_, _>>()
                .map(Answer::DetectionEvents)
        }
        Endpoint::EventSearch => {
            decode::<EventPage>(endpoint, body).map(|page| Answer::Events(page.events))
        }
        Endpoint::Dhcp => {
            let answer: DhcpAnswer = decode(endpoint, body)?;
            // The workflow groups records by `ip`; one without it is unusable.
            answer
                .entity_tracking_bulk_response
                .dhcp
                .into_iter()
                .enumerate()
                .map(|(index, record)| {
                    record.0.and_then(WireDhcpRecord::checked).ok_or_else(|| {
                        GtiError::InvalidResponse {
                            endpoint,
                            detail: format!("DHCP record {index} has no string `ip`"),
                        }
                    })
                })
                .collect::<Result<_, _>>()
                .map(Answer::Dhcp)
        }
    }
}

/// One GTI request, kept whole so that a retry can send it again.
struct Request {
    endpoint: Endpoint,
    /// Full URL, query string included.
    url: String,
    /// The JSON body of a POST (or a PUT); `None` sends a GET.
    json: Option<String>,
    /// Send the body with PUT rather than POST.
    put: bool,
}

/// `{"events":[{"event":{…}}, …]}` of `GET events`. Each event is kept as
/// its text until it is read twice: typed, and walked for indicator values.
#[derive(Deserialize)]
struct DetectionEventPage<'a> {
    #[serde(borrow, deserialize_with = "null_as_default")]
    events: Vec<DetectionEventEnvelope<'a>>,
}

#[derive(Deserialize)]
struct DetectionEventEnvelope<'a> {
    #[serde(borrow)]
    event: &'a RawValue,
}

/// `{"events":[{…}, …]}` of `POST query`.
#[derive(Debug, Deserialize)]
struct EventPage {
    #[serde(deserialize_with = "null_as_default")]
    events: Vec<Event>,
}

/// `{"entity_tracking_bulk_response":{"dhcp":[…]}}` of the bulk look-up.
#[derive(Deserialize)]
struct DhcpAnswer {
    entity_tracking_bulk_response: DhcpBulk,
}

#[derive(Deserialize)]
struct DhcpBulk {
    #[serde(deserialize_with = "null_as_default")]
    dhcp: Vec<super::model::Obj<WireDhcpRecord>>,
}

/// A 2xx body as `T`; the error names what did not fit.
fn decode<'a, T: Deserialize<'a>>(endpoint: Endpoint, body: &'a [u8]) -> Result<T, GtiError> {
    serde_json::from_slice(body).map_err(|error| shape_error(endpoint, &error))
}

fn shape_error(endpoint: Endpoint, error: &serde_json::Error) -> GtiError {
    GtiError::InvalidResponse {
        endpoint,
        detail: match error.classify() {
            // Valid JSON of the wrong shape: serde says which field.
            serde_json::error::Category::Data => error.to_string(),
            _ => format!("not JSON ({error})"),
        },
    }
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
        quote(value)
    )
}

fn detection_events_url(base: &str, detection_uuid: &str) -> String {
    format!("{base}events?detection_uuid={}", quote(detection_uuid))
}

fn detection_list_url(base: &str, window: &DayWindow, offset: usize) -> String {
    format!(
        "{base}detections?status=active&include=rules\
         &created_or_shared_start_date={}&created_or_shared_end_date={}\
         &sort_by=first_seen&sort_order=desc&limit={}&offset={offset}",
        quote(&window.start),
        quote(&window.end),
        super::LIST_PAGE_SIZE
    )
}

fn resolve_url(base: &str, detection_uuid: &str) -> String {
    format!("{base}detections/{}/resolve", quote(detection_uuid))
}

/// What GTI's resolve is told; the comment says where it came from.
pub const RESOLUTION_COMMENT: &str = "Resolved from Cisco XDR (gti-relay)";

fn resolve_body(resolution: &str) -> String {
    #[derive(Serialize)]
    struct Resolve<'a> {
        resolution: &'a str,
        resolution_comment: &'a str,
    }
    to_json(&Resolve {
        resolution,
        resolution_comment: RESOLUTION_COMMENT,
    })
}

fn search_body(query: &str, window: &DayWindow) -> String {
    #[derive(Serialize)]
    struct Search<'a> {
        query: &'a str,
        start_date: &'a str,
        end_date: &'a str,
    }
    to_json(&Search {
        query,
        start_date: &window.start,
        end_date: &window.end,
    })
}

fn dhcp_body(lookups: &[DhcpLookup]) -> String {
    #[derive(Serialize)]
    struct Lookup<'a> {
        ip: &'a str,
        event_time: &'a str,
    }
    #[derive(Serialize)]
    struct Bulk<'a> {
        entities: Vec<Lookup<'a>>,
    }
    to_json(&Bulk {
        entities: lookups
            .iter()
            .map(|lookup| Lookup {
                ip: &lookup.ip,
                event_time: &lookup.event_time,
            })
            .collect(),
    })
}

/// Structs of strings always serialise; the empty fallback is never sent.
fn to_json(body: &impl Serialize) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
    fn the_listing_and_resolve_have_gti_s_urls_and_body() {
        let window = DayWindow {
            start: "2021-01-13T03:21:34.123Z".into(),
            end: "2021-01-14T03:21:34.123Z".into(),
        };
        assert_eq!(
            detection_list_url("https://d/v1/", &window, 2000),
            "https://d/v1/detections?status=active&include=rules\
             &created_or_shared_start_date=2021-01-13T03%3A21%3A34.123Z\
             &created_or_shared_end_date=2021-01-14T03%3A21%3A34.123Z\
             &sort_by=first_seen&sort_order=desc&limit=1000&offset=2000"
        );
        assert_eq!(
            resolve_url("https://d/v1/", "9bd7362e/x"),
            "https://d/v1/detections/9bd7362e%2Fx/resolve"
        );
        let body: Value = serde_json::from_str(&resolve_body("false_positive")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"resolution": "false_positive", "resolution_comment": "Resolved from Cisco XDR (gti-relay)"})
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
        assert!(settings.no_delay());
        assert!(settings.max_idle_connections_per_host() >= 50);
        assert!(settings.max_idle_connections() >= settings.max_idle_connections_per_host());
        // No proxy of ureq's own choosing, and the built-in roots only.
        assert!(settings.proxy().is_none());
        assert!(matches!(
            settings.tls_config().root_certs(),
            ureq::tls::RootCerts::WebPki
        ));
    }

    #[test]
    fn a_ca_file_adds_its_roots_to_the_built_in_ones() {
        let path = format!(
            "{}/tests/fixtures/tls/test-ca-cert.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        let config = Config::from_vars([("GTI_CA_FILE", path.as_str())]).unwrap();
        let agent = http_agent(&config);
        let ureq::tls::RootCerts::Specific(roots) = agent.config().tls_config().root_certs() else {
            panic!("a CA file gives a list of roots");
        };
        let built_in = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert!(built_in > 100, "{built_in}");
        assert_eq!(roots.len(), built_in + 1);
        let extra = config.egress.extra_roots.as_ref().unwrap();
        assert_eq!(
            roots.last().map(|root| root.der()),
            extra.certificates().next()
        );
    }
}
