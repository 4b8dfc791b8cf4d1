//! The one error type the relay shows to its callers, and its JSON envelope.
//!
//! Every failure a caller can see is a [`RelayError`]; one exhaustive `match`
//! turns it into the public `{code, message, type}` triple. Internal detail
//! (socket errors, panics) goes to the log, never into the answer.

use serde_json::{json, Value};

use crate::auth::AuthError;
use crate::config::ConfigError;
use crate::gti::{Endpoint, GtiError};
use crate::observable::PayloadError;

/// A failure answered to the caller as `{"errors":[{code, message, type}]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayError {
    /// A request body is not what its endpoint takes (for `/observe` and
    /// `/refer`, a JSON array of `{"type", "value"}` objects); the detail
    /// says what is wrong, as the reference's schema validation does.
    InvalidPayload(PayloadError),
    /// The `Authorization` header or its token was refused.
    Auth(AuthError),
    /// `GET /watchdog` came without a `Health-Check` header.
    Watchdog,
    /// A call to GTI failed.
    Gti(GtiError),
    /// A supplementary GTI API (the event search, the DHCP look-up)
    /// answered 404 or 410: the answer lacks what it adds. A warning, not a
    /// failure (SPEC §8.2).
    ApiUnavailable { endpoint: Endpoint, status: u16 },
    /// No route has this path.
    NotFound,
    /// The path exists but not with this method.
    MethodNotAllowed,
    /// The request's time budget (`REQUEST_DEADLINE_SECS`) ran out before
    /// every observable was done; the answer holds those that were.
    Deadline { budget: std::time::Duration },
    /// A handler panicked; the detail went to the log.
    Internal,
}

impl RelayError {
    /// The public error code, normalised like the reference does
    /// (`.` → ` : `, `_` → ` `), so GTI's `client.invalid_authentication`
    /// reads `client : invalid authentication`.
    pub fn code(&self) -> String {
        let raw = match self {
            RelayError::InvalidPayload(_) => "invalid payload received",
            RelayError::Auth(AuthError::InvalidRegion) => "invalid configuration",
            RelayError::Auth(_) => "authorization error",
            RelayError::Watchdog => "health check failed",
            RelayError::Gti(error) => return normalize_code(&error.code()),
            RelayError::ApiUnavailable { .. } => "api unavailable",
            RelayError::Deadline { .. } => "service unavailable",
            RelayError::NotFound => "not found",
            RelayError::MethodNotAllowed => "method not allowed",
            RelayError::Internal => "internal error",
        };
        normalize_code(raw)
    }

    /// The public, human-readable message.
    pub fn message(&self) -> String {
        match self {
            RelayError::InvalidPayload(detail) => {
                format!("Invalid JSON payload received. {detail}.")
            }
            RelayError::Auth(AuthError::InvalidRegion) => {
                AuthError::InvalidRegion.message().to_owned()
            }
            RelayError::Auth(error) => format!("Authorization failed: {}", error.message()),
            RelayError::Watchdog => "Invalid Health Check.".to_owned(),
            RelayError::Gti(error) => error.message(),
            RelayError::ApiUnavailable { endpoint, status } => format!(
                "GTI {} API is not available (HTTP {status}): {}.",
                endpoint.name(),
                match endpoint {
                    Endpoint::EventSearch => "sightings come from detections only",
                    Endpoint::Dhcp => {
                        "sightings lack the host names and MAC addresses of internal IPs"
                    }
                    _ => "the answer lacks what it adds",
                }
            ),
            RelayError::Deadline { budget } => format!(
                "GTI did not answer everything within the request's {} s deadline \
                 (REQUEST_DEADLINE_SECS); the answer holds what came back in time.",
                budget.as_secs()
            ),
            RelayError::NotFound => "The requested URL was not found on the server.".to_owned(),
            RelayError::MethodNotAllowed => {
                "The method is not allowed for the requested URL.".to_owned()
            }
            RelayError::Internal => {
                "Something went wrong inside the relay; the details are in its log.".to_owned()
            }
        }
    }

    /// The HTTP status of an answer with this error: relay-level failures
    /// are HTTP 200 with the error envelope, as SecureX expects; only
    /// routing failures have statuses of their own.
    pub fn status(&self) -> u16 {
        match self {
            RelayError::NotFound => 404,
            RelayError::MethodNotAllowed => 405,
            RelayError::InvalidPayload(_)
            | RelayError::Auth(_)
            | RelayError::Watchdog
            | RelayError::Gti(_)
            | RelayError::ApiUnavailable { .. }
            | RelayError::Deadline { .. }
            | RelayError::Internal => 200,
        }
    }

    /// Whether the entry is a warning: the answer is whole but for what an
    /// unavailable API would have added.
    pub fn is_warning(&self) -> bool {
        matches!(self, RelayError::ApiUnavailable { .. })
    }

    /// Whether `other` says the same to the caller, so one entry serves
    /// both: equal errors, or one API unavailable (whatever its status).
    pub fn same_as(&self, other: &RelayError) -> bool {
        match (self, other) {
            (
                RelayError::ApiUnavailable { endpoint, .. },
                RelayError::ApiUnavailable {
                    endpoint: other, ..
                },
            ) => endpoint == other,
            _ => self == other,
        }
    }

    /// One entry of the `errors` array.
    pub fn to_json(&self) -> Value {
        let kind = if self.is_warning() {
            "warning"
        } else {
            "fatal"
        };
        json!({ "code": self.code(), "message": self.message(), "type": kind })
    }
}

/// Why the relay, or its demo, could not start: one line on stderr and a
/// non-zero exit.
#[derive(Debug)]
pub enum StartError {
    /// A variable has a value the relay cannot use (exit code 2).
    Config(ConfigError),
    /// The listening socket could not be opened.
    Listen { address: String, reason: String },
    /// A thread (a worker, the signal handler) could not be started.
    Thread {
        what: &'static str,
        error: std::io::Error,
    },
    /// A part of the demo (its simulated GTI, its JWKS, its key) could not
    /// start.
    Demo(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(error) => write!(f, "{error}"),
            StartError::Listen { address, reason } => {
                write!(f, "cannot listen on {address}: {reason}")
            }
            StartError::Thread { what, error } => write!(f, "cannot start {what}: {error}"),
            StartError::Demo(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for StartError {}

impl From<ConfigError> for StartError {
    fn from(error: ConfigError) -> Self {
        StartError::Config(error)
    }
}

impl std::fmt::Display for RelayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for RelayError {}

impl From<AuthError> for RelayError {
    fn from(error: AuthError) -> Self {
        RelayError::Auth(error)
    }
}

impl From<PayloadError> for RelayError {
    fn from(error: PayloadError) -> Self {
        RelayError::InvalidPayload(error)
    }
}

impl From<GtiError> for RelayError {
    fn from(error: GtiError) -> Self {
        RelayError::Gti(error)
    }
}

/// The error envelope: `{"errors":[…]}`, with `"data"` beside it when some
/// work was already done (nothing collected is ever dropped).
pub fn envelope(errors: &[RelayError], data: Option<Value>) -> Value {
    let mut body = serde_json::Map::new();
    if let Some(data) = data {
        body.insert("data".to_owned(), data);
    }
    body.insert(
        "errors".to_owned(),
        Value::Array(errors.iter().map(RelayError::to_json).collect()),
    );
    Value::Object(body)
}

/// `{"data": data}` when there are no errors, else the envelope with
/// `data` beside them.
pub fn envelope_or_data(errors: &[RelayError], data: Value) -> Value {
    if errors.is_empty() {
        json!({ "data": data })
    } else {
        envelope(errors, Some(data))
    }
}

fn normalize_code(code: &str) -> String {
    code.replace('.', " : ").replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gti_codes_are_normalised_like_the_reference() {
        assert_eq!(
            normalize_code("client.invalid_authentication"),
            "client : invalid authentication"
        );
        assert_eq!(normalize_code("authorization error"), "authorization error");
    }

    #[test]
    fn watchdog_error_matches_the_reference() {
        assert_eq!(
            RelayError::Watchdog.to_json(),
            json!({"code": "health check failed", "message": "Invalid Health Check.", "type": "fatal"})
        );
    }

    #[test]
    fn a_bad_region_claim_is_a_configuration_error_naming_the_claim() {
        let json = RelayError::Auth(AuthError::InvalidRegion).to_json();
        assert_eq!(json["code"], "invalid configuration");
        assert_eq!(json["type"], "fatal");
        let message = json["message"].as_str().unwrap_or_default();
        assert!(message.contains("GTI_REGION"), "{message}");
        assert!(
            message.contains("us") && message.contains("eu"),
            "{message}"
        );
        assert!(!message.starts_with("Authorization failed"), "{message}");
        assert_eq!(
            RelayError::Auth(AuthError::Expired).code(),
            "authorization error"
        );
    }

    #[test]
    fn an_unavailable_api_is_a_warning_naming_what_the_answer_lacks() {
        let search = RelayError::ApiUnavailable {
            endpoint: Endpoint::EventSearch,
            status: 404,
        };
        assert_eq!(
            search.to_json(),
            json!({"code": "api unavailable", "type": "warning",
                   "message": "GTI event search API is not available (HTTP 404): \
                               sightings come from detections only."})
        );
        let dhcp = RelayError::ApiUnavailable {
            endpoint: Endpoint::Dhcp,
            status: 410,
        };
        assert!(dhcp.message().starts_with(
            "GTI DHCP look-up API is not available (HTTP 410): sightings lack the host names"
        ));
        assert!(dhcp.is_warning() && !RelayError::Watchdog.is_warning());
        let gone = RelayError::ApiUnavailable {
            endpoint: Endpoint::EventSearch,
            status: 410,
        };
        assert!(search.same_as(&gone) && !search.same_as(&dhcp));
        assert!(RelayError::Watchdog.same_as(&RelayError::Watchdog));
    }

    #[test]
    fn envelope_keeps_data_beside_errors() {
        let body = envelope(&[RelayError::Watchdog], Some(json!({"x": 1})));
        assert_eq!(body["data"], json!({"x": 1}));
        assert_eq!(body["errors"][0]["code"], "health check failed");
        assert!(envelope(&[RelayError::Watchdog], None)
            .get("data")
            .is_none());
    }
}
