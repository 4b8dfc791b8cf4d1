//! The upstream client: one function per GTI endpoint, typed errors.
//!
//! [`GtiApi`] is what the workflow talks to; [`HttpGti`] implements it with
//! one pooled ureq agent, unit tests with in-memory fakes, integration tests
//! against a mock GTI server. Events stay `serde_json::Value` objects because
//! the CTIM mapper reads many optional, loosely typed fields from them; what
//! the workflow itself relies on is typed here.

use serde::Deserialize;
use serde_json::Value;

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
}
