//! Talking to GTI: the [`GtiApi`] the workflow calls, GTI's endpoints, and
//! what each call is asked with. [`client::HttpGti`] implements it over
//! HTTP(S); unit tests implement it in memory, integration tests against the
//! simulated GTI of `demo`.
//!
//! Submodules: `model` (GTI's answers as typed structs), `client` (ureq),
//! `error` (what a failed call means, SPEC §4), `retry` (backoff and
//! `Retry-After`). Whoever wants to count calls implements [`CallObserver`];
//! this module knows nothing of metrics.

use std::time::{Duration, Instant};

pub mod client;
pub mod error;
pub mod model;
pub mod retry;

pub use client::{http_agent, HttpGti, USER_AGENT};
pub use error::GtiError;
pub use model::{DetectionEvent, Detections, DhcpRecord, Event};

use crate::time::{format_timestamp, DAY_MILLIS};

/// The observable types GTI can be asked about (and the last key of the
/// event fields its indicators name).
pub const SUPPORTED_TYPES: [&str; 5] = ["ip", "domain", "md5", "sha1", "sha256"];

/// Response bodies larger than this are refused: far beyond any GTI page,
/// yet small enough that a misbehaving upstream cannot exhaust memory.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Detections per page of the detections listing.
pub const LIST_PAGE_SIZE: usize = 1000;

/// The most pages of the listing read for one period: beyond
/// `LIST_PAGE_SIZE × MAX_LIST_PAGES` detections the tiles say they are capped.
pub const MAX_LIST_PAGES: usize = 10;

/// One day of the event search (or any span of the detections listing),
/// both ends formatted the way GTI wants them (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
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

/// One GTI call, as the workflow asks for it.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// Active detections whose indicators hold `value`, with their rules.
    Detections { value: &'a str },
    /// The events of one detection, each with its indicator values.
    DetectionEvents { detection_uuid: &'a str },
    /// The event search for `query` within one day window.
    Search {
        query: &'a str,
        window: &'a DayWindow,
    },
    /// DHCP records for internal IPs.
    Dhcp { lookups: &'a [DhcpLookup] },
    /// One page (`offset`, [`LIST_PAGE_SIZE`] long) of the active
    /// detections created or shared within `window`, newest `first_seen`
    /// first, with their rules: what the dashboard tiles count.
    DetectionList {
        window: &'a DayWindow,
        offset: usize,
    },
    /// Resolves one detection with `resolution` (`true_positive_mitigated`,
    /// `true_positive_no_action` or `false_positive`).
    Resolve {
        detection_uuid: &'a str,
        resolution: &'a str,
    },
}

impl Call<'_> {
    /// The endpoint the call goes to.
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Call::Detections { .. } => Endpoint::Detections,
            Call::DetectionEvents { .. } => Endpoint::DetectionEvents,
            Call::Search { .. } => Endpoint::EventSearch,
            Call::Dhcp { .. } => Endpoint::Dhcp,
            Call::DetectionList { .. } => Endpoint::DetectionList,
            Call::Resolve { .. } => Endpoint::Resolve,
        }
    }
}

/// What a call answered, by the kind of call.
#[derive(Debug)]
pub enum Answer {
    Detections(Detections),
    DetectionEvents(Vec<DetectionEvent>),
    Events(Vec<Event>),
    Dhcp(Vec<DhcpRecord>),
    /// A page of the detections listing (the same shape as `Detections`).
    DetectionList(Detections),
    /// GTI accepted a resolve (its body is not read).
    Resolved,
}

/// How one try of a call ended.
#[derive(Debug)]
pub enum Try {
    /// An answer, or a failure no other try can fix.
    Done(Result<Answer, GtiError>),
    /// A failure another try may fix after `after` (GTI's `Retry-After` or
    /// the backoff); `error` is the answer if no further try is made.
    Retry { error: GtiError, after: Duration },
}

/// What the workflow needs from GTI. Implementations must be cheap to share
/// across threads: every call may run on a different one.
///
/// The one required method makes a single try, so that whoever schedules
/// the calls decides where a backoff waits (the relay's executor waits
/// without holding a call slot); the provided methods make whole calls,
/// retries and their sleeps included, for callers that simply block.
pub trait GtiApi: Send + Sync {
    /// Try number `attempt` (0 for the first) of `call`, taking at most
    /// `budget` (and never more than one call's own time limit).
    fn try_call(&self, key: &str, call: &Call<'_>, attempt: u32, budget: Duration) -> Try;

    /// How long a whole call may take, retries included, when no request
    /// deadline is shorter.
    fn call_budget(&self) -> Duration;

    /// The whole call: tries until it succeeds, fails for good, or the next
    /// try could not start before `deadline`; sleeps between tries.
    fn call(&self, key: &str, call: &Call<'_>, deadline: Instant) -> Result<Answer, GtiError> {
        let mut attempt = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.try_call(key, call, attempt, left) {
                Try::Done(result) => return result,
                Try::Retry { error, after } => {
                    let in_budget = Instant::now()
                        .checked_add(after)
                        .is_some_and(|resume| resume < deadline);
                    if !in_budget {
                        return Err(error);
                    }
                    log::debug!(
                        "GTI {} API: retrying in {} ms",
                        call.endpoint().name(),
                        after.as_millis()
                    );
                    std::thread::sleep(after);
                    attempt += 1;
                }
            }
        }
    }

    /// Active detections whose indicators hold `value`, with their rules.
    fn detections(&self, key: &str, value: &str) -> Result<Detections, GtiError> {
        match self.call(key, &Call::Detections { value }, self.deadline())? {
            Answer::Detections(detections) => Ok(detections),
            other => Err(wrong_answer(Endpoint::Detections, &other)),
        }
    }

    /// The events of one detection, each with its indicator values.
    fn detection_events(
        &self,
        key: &str,
        detection_uuid: &str,
    ) -> Result<Vec<DetectionEvent>, GtiError> {
        let call = Call::DetectionEvents { detection_uuid };
        match self.call(key, &call, self.deadline())? {
            Answer::DetectionEvents(events) => Ok(events),
            other => Err(wrong_answer(Endpoint::DetectionEvents, &other)),
        }
    }

    /// The event search for `query` within one day window.
    fn search_events(
        &self,
        key: &str,
        query: &str,
        window: &DayWindow,
    ) -> Result<Vec<Event>, GtiError> {
        match self.call(key, &Call::Search { query, window }, self.deadline())? {
            Answer::Events(events) => Ok(events),
            other => Err(wrong_answer(Endpoint::EventSearch, &other)),
        }
    }

    /// DHCP records for internal IPs, in GTI's order.
    fn dhcp_records(&self, key: &str, lookups: &[DhcpLookup]) -> Result<Vec<DhcpRecord>, GtiError> {
        match self.call(key, &Call::Dhcp { lookups }, self.deadline())? {
            Answer::Dhcp(records) => Ok(records),
            other => Err(wrong_answer(Endpoint::Dhcp, &other)),
        }
    }

    /// When a call made now must be done by: [`GtiApi::call_budget`] away.
    fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.call_budget()).unwrap_or(now)
    }
}

/// An implementation answered a call with another kind of answer: a bug in
/// that implementation, reported rather than trusted.
pub fn wrong_answer(endpoint: Endpoint, answer: &Answer) -> GtiError {
    let kind = match answer {
        Answer::Detections(_) => "detections",
        Answer::DetectionEvents(_) => "detection events",
        Answer::Events(_) => "events",
        Answer::Dhcp(_) => "DHCP records",
        Answer::DetectionList(_) => "a detections page",
        Answer::Resolved => "a resolve",
    };
    GtiError::InvalidResponse {
        endpoint,
        detail: format!("{kind} instead of its own answer"),
    }
}

/// GTI's endpoints, named in error messages and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Detections,
    DetectionEvents,
    EventSearch,
    Dhcp,
    /// `GET detections` by creation date (the dashboard tiles).
    DetectionList,
    /// `PUT detections/<uuid>/resolve` (the response actions).
    Resolve,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Detections => "detections",
            Endpoint::DetectionEvents => "detection events",
            Endpoint::EventSearch => "event search",
            Endpoint::Dhcp => "DHCP look-up",
            Endpoint::DetectionList => "detections listing",
            Endpoint::Resolve => "detection resolve",
        }
    }
}

/// How one try of a GTI call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamOutcome {
    /// A 2xx answer whose body decoded.
    Ok,
    /// A 4xx answer other than 429 (bad key, bad request).
    Http4xx,
    /// 429 Too Many Requests.
    Http429,
    /// A 5xx answer.
    Http5xx,
    /// No complete answer within the try's time budget.
    Timeout,
    /// GTI could not be reached or the connection broke (DNS, refused,
    /// reset, a TLS handshake failing for a reason other than the
    /// certificate).
    Connection,
    /// GTI's certificate could not be verified.
    Tls,
    /// An answer that is not what GTI documents: a 2xx body that does not
    /// decode, a malformed or oversized answer, an unexpected redirect.
    InvalidResponse,
}

impl UpstreamOutcome {
    /// The outcome of a try that got an HTTP answer with `status`.
    pub fn of_status(status: u16) -> UpstreamOutcome {
        match status {
            200..=299 => UpstreamOutcome::Ok,
            429 => UpstreamOutcome::Http429,
            400..=499 => UpstreamOutcome::Http4xx,
            500..=599 => UpstreamOutcome::Http5xx,
            // 1xx and 3xx are not answers GTI gives to these requests.
            _ => UpstreamOutcome::InvalidResponse,
        }
    }
}

/// Told about every try of a GTI call (retries included: that is what GTI
/// sees and rate-limits). `try_started` and `try_ended` come in pairs, on
/// the calling thread, around the network time only (not backoff sleeps).
pub trait CallObserver: Send + Sync {
    fn try_started(&self, endpoint: Endpoint);
    fn try_ended(&self, endpoint: Endpoint, outcome: UpstreamOutcome, elapsed: Duration);
}

/// Counts nothing: for clients nobody watches.
#[derive(Debug, Default)]
pub struct Unobserved;

impl CallObserver for Unobserved {
    fn try_started(&self, _: Endpoint) {}
    fn try_ended(&self, _: Endpoint, _: UpstreamOutcome, _: Duration) {}
}

/// The event search's day windows ending at `now_millis` (milliseconds since
/// the Unix epoch, UTC), newest first: `[now-1d, now]`, `[now-2d, now-1d]`, …
pub fn day_windows(now_millis: u64, day_range: u32) -> Vec<DayWindow> {
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

/// The `days` × 24 h ending at `now_millis`, as one window (the detections
/// listing of a tile period).
pub fn span_window(now_millis: u64, days: u32) -> DayWindow {
    DayWindow {
        start: format_timestamp(now_millis.saturating_sub(u64::from(days) * DAY_MILLIS)),
        end: format_timestamp(now_millis),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
