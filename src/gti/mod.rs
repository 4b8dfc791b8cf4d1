//! Talking to GTI: one type per request ([`GtiRequest`]: its endpoint, its
//! HTTP call, its typed answer), the [`Transport`] that moves the bytes,
//! and [`Gti`], one region's GTI, which joins the two. [`HttpTransport`]
//! is the transport over HTTP(S); unit tests implement it in memory,
//! integration tests run it against the simulated GTI of `demo`.
//!
//! Submodules: `request` (the trait), one per API for its requests
//! (`detections`, `events`, `entity`), `model` (GTI's answers as typed
//! structs), `transport` (ureq), `resolver` (host look-ups kept
//! for a while, for the agent), `error` (what a failed call means,
//! SPEC §4), `retry` (backoff and `Retry-After`). Whoever wants to count
//! calls implements [`CallObserver`]; this module knows nothing of metrics.

use std::sync::Arc;
use std::time::Duration;

pub mod detections;
pub mod entity;
pub mod entity_v1;
pub mod error;
pub mod events;
pub mod model;
pub mod request;
mod resolver;
pub mod retry;
pub mod transport;

pub use detections::{
    DetectionPage, DetectionsOf, EventsOfDetection, Resolve, Resolved, RESOLUTION_COMMENT,
};
pub use entity::DhcpLookups;
pub use entity_v1::{EntitySummary, FileOf, FileSummary, PassiveDnsOf, PdnsRecord, SummaryOf};
pub use error::GtiError;
pub use events::Search;
pub use model::{DetectionEvent, Detections, DhcpRecord, Event};
pub use request::{Decode, DecodeError, GtiRequest, HttpCall, Method};
pub use transport::{http_agent, HttpTransport, USER_AGENT};

use crate::region::RegionUrls;

use crate::time::{format_timestamp, DAY_MILLIS};

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

/// How one try of a request ended.
#[derive(Debug)]
pub enum Try<T> {
    /// An answer, or a failure no other try can fix.
    Done(Result<T, GtiError>),
    /// A failure another try may fix after `after` (GTI's `Retry-After` or
    /// the backoff); `error` is the answer if no further try is made.
    Retry { error: GtiError, after: Duration },
}

/// Moves a request's bytes to GTI and back: headers, time budget, proxy,
/// TLS, the meaning of each status and failure, and whether another try
/// may help. Implementations must be cheap to share across threads: every
/// try may run on a different one.
///
/// It makes a single try, so that whoever schedules the calls decides where
/// a backoff waits (the executor waits without holding a call slot).
pub trait Transport: Send + Sync {
    /// Try number `attempt` (0 for the first) of `call`, taking at most
    /// `budget` (and never more than one try's own time limit). A 2xx body
    /// goes to `read`; the try succeeds only if `read` does.
    fn try_send(
        &self,
        key: &str,
        call: &HttpCall,
        attempt: u32,
        budget: Duration,
        read: &mut dyn FnMut(&[u8]) -> Result<(), DecodeError>,
    ) -> Try<()>;
}

/// One region's GTI: the shared transport and the region's URLs. Cheap to
/// clone.
#[derive(Clone)]
pub struct Gti {
    transport: Arc<dyn Transport>,
    urls: RegionUrls,
}

impl std::fmt::Debug for Gti {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gti")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl Gti {
    pub fn new(transport: Arc<dyn Transport>, urls: RegionUrls) -> Gti {
        Gti { transport, urls }
    }

    /// Try number `attempt` of `request` within `budget`, its answer
    /// decoded into the request's own output type.
    pub fn try_request<R: GtiRequest>(
        &self,
        key: &str,
        request: &R,
        attempt: u32,
        budget: Duration,
    ) -> Try<R::Output> {
        let Some(call) = request.http(&self.urls) else {
            return Try::Done(Ok(R::Output::default()));
        };
        let mut output = None;
        let mut read = |body: &[u8]| {
            output = Some(R::Output::decode(body)?);
            Ok(())
        };
        match self
            .transport
            .try_send(key, &call, attempt, budget, &mut read)
        {
            Try::Done(Ok(())) => Try::Done(output.ok_or(GtiError::InvalidResponse {
                endpoint: R::ENDPOINT,
                detail: "no body".to_owned(),
            })),
            Try::Done(Err(error)) => Try::Done(Err(error)),
            Try::Retry { error, after } => Try::Retry { error, after },
        }
    }
}

closed_set! {
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
        /// Entity v1 `entity/<value>/summary` (SPEC §8.4).
        EntitySummary,
        /// Entity v1 `entity/<value>/pdns`.
        PassiveDns,
        /// Entity v1 `entity/<hash>/file`.
        FileSummary,
    }
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
            Endpoint::EntitySummary => "entity summary",
            Endpoint::PassiveDns => "passive DNS",
            Endpoint::FileSummary => "file summary",
        }
    }
}

closed_set! {
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
