//! What a failed GTI call means (SPEC §4): the [`GtiError`] a caller sees,
//! and the one place that turns an HTTP status or a transport failure into
//! it, deciding on the way whether another try may help.

use std::time::Duration;

use serde::Deserialize;

use super::{Endpoint, UpstreamOutcome, MAX_RESPONSE_BYTES};

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
    /// A 2xx answer whose body is not the JSON GTI documents.
    InvalidResponse { endpoint: Endpoint, detail: String },
    /// An error status (not 429 or 5xx) whose body is not GTI's error JSON:
    /// rendered as an invalid response, with the status kept so that a
    /// retired API (404, 410) can be told apart (SPEC §8.2).
    UnexpectedStatus { endpoint: Endpoint, status: u16 },
}

impl GtiError {
    /// The raw code, as GTI names it; the public rendering normalises it.
    pub fn code(&self) -> String {
        match self {
            GtiError::Api { code, .. } => code.clone(),
            GtiError::TooManyRequests { .. } => "too many requests".to_owned(),
            GtiError::Unavailable { .. } => "service unavailable".to_owned(),
            GtiError::InvalidKey => "client.invalid_authentication".to_owned(),
            GtiError::Certificate { .. } => "ssl certificate verification failed".to_owned(),
            GtiError::InvalidResponse { .. } | GtiError::UnexpectedStatus { .. } => {
                "invalid upstream response".to_owned()
            }
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
            GtiError::UnexpectedStatus { endpoint, status } => format!(
                "GTI {} API answered with an unexpected body: \
                 HTTP {status} without a GTI error body.",
                endpoint.name()
            ),
        }
    }

    /// The HTTP status GTI answered with, when the failure is an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            GtiError::Api { status, .. } | GtiError::UnexpectedStatus { status, .. } => {
                Some(*status)
            }
            GtiError::TooManyRequests { .. } => Some(429),
            GtiError::Unavailable { .. }
            | GtiError::InvalidKey
            | GtiError::Certificate { .. }
            | GtiError::InvalidResponse { .. } => None,
        }
    }

    /// The status, when it says the API itself is gone (404 Not Found, 410
    /// Gone). Only meaningful for URLs that name no observable: for those
    /// that do, a 404 says GTI knows nothing of the observable.
    pub fn gone_status(&self) -> Option<u16> {
        self.status().filter(|status| matches!(status, 404 | 410))
    }
}

/// What one try came to.
#[derive(Debug, PartialEq)]
pub(crate) enum Attempt {
    /// A 2xx body to decode, or an error no retry can fix.
    Done(Result<Vec<u8>, GtiError>),
    /// A failure another try may fix; `error` is the answer once the retries
    /// or the budget run out. `retry_after` is GTI's own `Retry-After`.
    Retry {
        error: GtiError,
        retry_after: Option<Duration>,
    },
}

/// What an HTTP answer means (SPEC §4), in one `match` over its status.
pub(crate) fn classify_status(
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
        _ => Attempt::Done(Err(
            api_error(status, &body).unwrap_or(GtiError::UnexpectedStatus { endpoint, status })
        )),
    }
}

/// GTI's error body `{"error":{"code":…,"message":…}}` as [`GtiError::Api`].
pub(crate) fn api_error(status: u16, body: &[u8]) -> Option<GtiError> {
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
/// Where a caller is sent for what the HTTP and TLS stacks said: their
/// words are internal detail, logged with each failed try.
const SEE_LOG: &str = "the relay's log has the reason";

pub(crate) fn classify_failure(
    endpoint: Endpoint,
    error: &ureq::Error,
    budget: Duration,
) -> Attempt {
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
            None => retry(format!("the TLS handshake failed ({SEE_LOG})")),
        },
        ureq::Error::BodyExceedsLimit(_) => invalid(format!(
            "the body is larger than {} MiB",
            MAX_RESPONSE_BYTES >> 20
        )),
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(..) => {
            invalid(format!("not a valid HTTP answer ({SEE_LOG})"))
        }
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
            invalid(format!("unexpected redirect ({SEE_LOG})"))
        }
        // Bad URLs, TLS set-up and the like: configuration faults that no
        // retry fixes. ureq's own words go to the log, for the operator.
        _ => Attempt::Done(Err(GtiError::Unavailable {
            endpoint,
            detail: format!("the request could not be made ({SEE_LOG})"),
        })),
    }
}

/// How a try that got no (complete) HTTP answer ended, for the metrics;
/// `attempt` is what [`classify_failure`] made of `error`.
pub(crate) fn failure_outcome(error: &ureq::Error, attempt: &Attempt) -> UpstreamOutcome {
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
        // certificate ("received corrupt message of type InvalidContentType").
        _ => format!("connection failed: {SEE_LOG}"),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            Attempt::Done(Err(GtiError::UnexpectedStatus {
                endpoint,
                status: 404
            }))
        );
        assert_eq!(
            GtiError::UnexpectedStatus {
                endpoint,
                status: 404
            }
            .message(),
            "GTI event search API answered with an unexpected body: \
             HTTP 404 without a GTI error body."
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
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_millis(29_394)), "29 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "2 s");
        assert_eq!(human_duration(Duration::from_millis(985)), "985 ms");
        assert_eq!(human_duration(Duration::ZERO), "0 ms");
    }
}
