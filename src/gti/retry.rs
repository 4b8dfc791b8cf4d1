//! When to try a GTI call again: exponential backoff with jitter, and GTI's
//! own `Retry-After` (seconds or an HTTP-date).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time::{parse_http_date, since_epoch};

/// The first retry waits about this long, each further one twice as long.
pub const BACKOFF_BASE: Duration = Duration::from_millis(200);

/// The wait before retry number `retry + 1`: `base × 2^retry`, spread by
/// ±25 % (from `jitter`, any number) so that the many calls of one fan-out
/// that failed together do not come back together.
pub fn backoff_delay(base: Duration, retry: u32, jitter: u32) -> Duration {
    let exponential = base.saturating_mul(1 << retry.min(16));
    let permille = 750 + jitter % 501; // 750 ..= 1250
    exponential.saturating_mul(permille) / 1000
}

/// Cheap jitter: the clock's nanoseconds differ between threads and tries,
/// which is all the spreading needs (no random number crate).
pub fn clock_jitter() -> u32 {
    since_epoch().subsec_micros()
}

/// A `Retry-After` value: delay seconds or an HTTP-date (IMF-fixdate, e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`). A date in the past means now; anything
/// else is ignored (`None`), and the usual backoff applies.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Too many digits for a u64 still means "not within our budget".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = UNIX_EPOCH + Duration::from_secs(parse_http_date(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
