//! The [`Transport`] over HTTP(S): one pooled ureq agent, GTI's headers,
//! each try's budget and proxy, the classification of every status and
//! failure, retries' timing, and the observer told of every try. It moves
//! bytes; what they mean is each request's own business.

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::error::{classify_failure, classify_status, failure_outcome, Attempt};
use super::request::{DecodeError, HttpCall, Method};
use super::resolver::CachingResolver;
use super::retry::{backoff_delay, clock_jitter, parse_retry_after, BACKOFF_BASE};
use super::{
    CallObserver, GtiError, Transport, Try, Unobserved, UpstreamOutcome, MAX_RESPONSE_BYTES,
};
use crate::config::Config;
use crate::egress::{Egress, ExtraRoots};
use crate::logging;
use crate::time::since_epoch;

/// The User-Agent GTI sees on every call (the reference relay's).
pub const USER_AGENT: &str =
    "SecureX Threat Response Integrations <tr-integrations-support@cisco.com>";

/// Each pooled connection's buffer for what it reads (chosen by
/// measurement: BENCHMARKS.md, issue 19).
pub const INPUT_BUFFER: usize = 16 * 1024;
/// Each pooled connection's buffer for what it writes.
pub const OUTPUT_BUFFER: usize = 8 * 1024;
/// The largest response head (status line and headers) read: below the
/// input buffer, which must hold it whole.
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// The one pooled HTTP agent for every upstream call (GTI and JWKS). Clone
/// it into threads: clones share the connection pool.
///
/// Each host's addresses are looked up once per `resolver::TTL`, not per
/// call. TLS trusts the built-in web PKI roots, plus `GTI_CA_FILE`'s when set.
/// The agent itself uses no proxy (ureq's default would read the proxy
/// variables its own way): each request names the proxy
/// `crate::egress::Egress::proxy_for` chooses for its URL.
pub fn http_agent(config: &Config) -> ureq::Agent {
    // ureq's defaults suit a browser: no timeout at all, 3 idle connections
    // per host and errors for 4xx/5xx. The fan-out keeps up to
    // `gti_max_inflight` calls open at once; reconnecting (TLS handshake
    // included) for most of them would dominate their latency.
    let per_host = config.gti_max_inflight().max(3);
    let mut builder = ureq::Agent::config_builder()
        .timeout_global(Some(config.gti_timeout()))
        .http_status_as_error(false)
        .max_idle_connections_per_host(per_host)
        // Six GTI hosts (two regions) plus a JWKS host or two.
        .max_idle_connections(per_host.saturating_mul(8))
        .user_agent(USER_AGENT)
        // A POST's head and body go out in separate writes: without
        // TCP_NODELAY the body could wait for a delayed ACK (ureq's default
        // too, stated because the relay depends on it).
        .no_delay(true)
        .proxy(None)
        // ureq's 128 KiB each way suit a browser's few connections; the
        // pool keeps one per call in flight, and each keeps its buffers
        // (256 of them held 64 MiB after a load). 16 KiB in holds a whole
        // TLS record (the largest carries 16 KiB), and the CPU per
        // request did not move (BENCHMARKS.md); 8 KiB out holds any
        // request head the relay writes, and bodies pass through it in
        // pieces. A head larger than a proxy's usual limit is refused.
        .input_buffer_size(INPUT_BUFFER)
        .output_buffer_size(OUTPUT_BUFFER)
        .max_response_header_size(MAX_RESPONSE_HEAD);
    if let Some(extra) = &config.egress().extra_roots {
        builder = builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(root_certs(extra))
                .build(),
        );
    }
    // ureq's own connector, with a resolver that does not start a thread
    // per call (`resolver`'s docs say why).
    ureq::Agent::with_parts(
        builder.build(),
        ureq::unversioned::transport::DefaultConnector::new(),
        CachingResolver::new(),
    )
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

/// [`Transport`] over HTTP(S) with the pooled agent of [`http_agent`].
///
/// Each try may take `gti_timeout`; a failed one is retried (429, 5xx,
/// connection failures) `gti_retries` times, each retry after GTI's
/// `Retry-After` or the backoff.
#[derive(Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
    /// Which proxy (or none) each call goes through.
    egress: Arc<Egress>,
    timeout: Duration,
    retries: u32,
    backoff_base: Duration,
    /// Told about each try (the relay's metrics).
    observer: Arc<dyn CallObserver>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// The transport `config` describes (timeouts, retries, egress) over
    /// `agent`; the same for every region.
    pub fn new(config: &Config, agent: ureq::Agent) -> HttpTransport {
        HttpTransport {
            agent,
            egress: Arc::new(config.egress().clone()),
            timeout: config.gti_timeout(),
            retries: config.gti_retries(),
            backoff_base: BACKOFF_BASE,
            // Counts nowhere until `with_observer` says where.
            observer: Arc::new(Unobserved),
        }
    }

    /// Tells `observer` about every try (the app's metrics, so that
    /// `/metrics` shows them).
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> HttpTransport {
        self.observer = observer;
        self
    }

    /// Changes the first retry's wait (200 ms by default), so that tests of
    /// the retry path need not sleep for real.
    #[cfg(feature = "test-support")]
    pub fn with_backoff_base(mut self, base: Duration) -> HttpTransport {
        self.backoff_base = base;
        self
    }

    /// One try of `request`, limited to `budget`, and how it ended for the
    /// metrics (a 2xx is `Ok` here even if its body turns out not to decode).
    fn attempt(
        &self,
        request: &HttpCall,
        authorization: &str,
        budget: Duration,
        retry: u32,
    ) -> (Attempt, UpstreamOutcome) {
        let started = Instant::now();
        // For the request's last log line: every try is a call made.
        logging::count_gti_call();
        let outcome = self.exchange(request, authorization, budget);
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

    /// Sends `request` and reads its answer: the status, GTI's
    /// `Retry-After` and the body (at most [`MAX_RESPONSE_BYTES`]).
    fn exchange(
        &self,
        request: &HttpCall,
        authorization: &str,
        budget: Duration,
    ) -> Result<(u16, Option<Duration>, Vec<u8>), ureq::Error> {
        let proxy = self.egress.proxy_for(&request.url).cloned();
        // Every try carries the same headers, budget and proxy; only the
        // method and the body differ.
        let with_body = |builder, json: &str| {
            with_try_settings(builder, authorization, budget, proxy.clone())
                .header("Content-Type", "application/json")
                .send(json.as_bytes())
        };
        let json = request.body.as_deref().unwrap_or_default();
        let mut response = match request.method {
            Method::Get => with_try_settings(
                self.agent.get(&request.url),
                authorization,
                budget,
                proxy.clone(),
            )
            .call(),
            Method::Post => with_body(self.agent.post(&request.url), json),
            Method::Put => with_body(self.agent.put(&request.url), json),
        }?;
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
    }
}

impl Transport for HttpTransport {
    fn try_send(
        &self,
        key: &str,
        call: &HttpCall,
        attempt: u32,
        budget: Duration,
        read: &mut dyn FnMut(&[u8]) -> Result<(), DecodeError>,
    ) -> Try<()> {
        let authorization = match authorization_header(key) {
            Ok(authorization) => authorization,
            Err(error) => return Try::Done(Err(error)),
        };
        let budget = budget.min(self.timeout);
        self.observer.try_started(call.endpoint);
        let started = Instant::now();
        let (outcome, mut counted) = self.attempt(call, &authorization, budget, attempt);
        let elapsed = started.elapsed();
        match outcome {
            Attempt::Done(body) => {
                let read =
                    body.and_then(|body| read(&body).map_err(|error| error.at(call.endpoint)));
                if read.is_err() && counted == UpstreamOutcome::Ok {
                    counted = UpstreamOutcome::InvalidResponse;
                }
                self.observer.try_ended(call.endpoint, counted, elapsed);
                Try::Done(read)
            }
            Attempt::Retry { error, retry_after } => {
                self.observer.try_ended(call.endpoint, counted, elapsed);
                if attempt >= self.retries {
                    return Try::Done(Err(error));
                }
                let after = retry_after
                    .unwrap_or_else(|| backoff_delay(self.backoff_base, attempt, clock_jitter()));
                Try::Retry { error, after }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_agent_follows_the_configuration() {
        let config =
            Config::from_vars([("GTI_TIMEOUT_SECS", "7"), ("GTI_MAX_INFLIGHT", "50")]).unwrap();
        let agent = http_agent(&config);
        let settings = agent.config();
        assert_eq!(settings.timeouts().global, Some(Duration::from_secs(7)));
        assert!(!settings.http_status_as_error());
        assert!(settings.no_delay());
        assert!(settings.max_idle_connections_per_host() >= 50);
        assert!(settings.max_idle_connections() >= settings.max_idle_connections_per_host());
        assert_eq!(settings.input_buffer_size(), INPUT_BUFFER);
        assert_eq!(settings.output_buffer_size(), OUTPUT_BUFFER);
        // A head that fills the input buffer could never be parsed.
        assert!(settings.max_response_header_size() < settings.input_buffer_size());
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
        let extra = config.egress().extra_roots.as_ref().unwrap();
        assert_eq!(
            roots.last().map(|root| root.der()),
            extra.certificates().next()
        );
    }
}
