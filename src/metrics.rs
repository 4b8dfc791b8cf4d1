//! The relay's own metrics, rendered for `GET /metrics` in the Prometheus
//! text exposition format (version 0.0.4).
//!
//! Every label set is fixed and small (routes, status codes, GTI endpoints,
//! outcomes), so each series is a pre-declared atomic in an array indexed by
//! an enum's `index()` (a closed set: its `ALL` gives the labels' order, so
//! the two cannot drift): recording is lock-free and allocation-free on the hot path. No
//! label ever carries a request's data (observable values, API keys, tokens,
//! hosts or paths): routes are named by [`Route::name`], never by path.
//!
//! One [`Metrics`] lives in each relay's shared state, never in a global, so
//! several relays in one process (the integration tests) keep their own
//! counts. This module only counts and renders; it does no I/O.
//!
//! What counts as an upstream call: each *try* of an HTTP request to GTI,
//! retries included, because that is what GTI sees and rate-limits, and the
//! in-flight gauge and duration histogram then describe the network, not the
//! backoff sleeps between tries.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::JwksObserver;
pub use crate::gti::UpstreamOutcome;
use crate::gti::{CallObserver, Endpoint};
use crate::region::Region;
use crate::route::Route;

/// The `Content-Type` of the rendered metrics.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the duration histograms' buckets, in microseconds (how
/// durations are stored) and as rendered in the `le` label. From 5 ms (a
/// cached answer) to 30 s (the default GTI timeout).
const BUCKETS: [(u64, &str); 12] = [
    (5_000, "0.005"),
    (10_000, "0.01"),
    (25_000, "0.025"),
    (50_000, "0.05"),
    (100_000, "0.1"),
    (250_000, "0.25"),
    (500_000, "0.5"),
    (1_000_000, "1"),
    (2_500_000, "2.5"),
    (5_000_000, "5"),
    (10_000_000, "10"),
    (30_000_000, "30"),
];

/// The route slots: every [`Route`] plus `unknown` (404) last.
const ROUTE_SLOTS: usize = Route::ALL.len() + 1;

/// The status codes counted under their own label; anything else (which the
/// handlers do not produce today) is counted as `status="other"`.
const STATUSES: [u16; 7] = [200, 400, 404, 405, 413, 500, 503];
const STATUS_SLOTS: usize = STATUSES.len() + 1;

/// The `outcome` label of `gti_relay_upstream_calls_total`.
fn outcome_label(outcome: UpstreamOutcome) -> &'static str {
    match outcome {
        UpstreamOutcome::Ok => "ok",
        UpstreamOutcome::Http4xx => "http_4xx",
        UpstreamOutcome::Http429 => "http_429",
        UpstreamOutcome::Http5xx => "http_5xx",
        UpstreamOutcome::Timeout => "timeout",
        UpstreamOutcome::Connection => "connection",
        UpstreamOutcome::Tls => "tls",
        UpstreamOutcome::InvalidResponse => "invalid_response",
    }
}

/// A histogram with the fixed [`BUCKETS`]. Each bucket counts only its own
/// range (not cumulative), so one observation touches one bucket; the
/// cumulative counts Prometheus wants are summed when rendering.
#[derive(Debug, Default)]
struct Histogram {
    /// `BUCKETS.len()` ranges plus the one above the last bound (`+Inf`).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        // `le` is inclusive: an observation equal to a bound falls in it.
        let slot = BUCKETS
            .iter()
            .position(|(bound, _)| micros <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The count, as the sum of the buckets so that `_count` always equals
    /// the `+Inf` bucket even while other threads record.
    fn snapshot(&self) -> ([u64; BUCKETS.len() + 1], u64) {
        let counts = std::array::from_fn(|index| self.buckets[index].load(Ordering::Relaxed));
        (counts, self.sum_micros.load(Ordering::Relaxed))
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of one series, or
    /// nothing if it never observed anything.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let (counts, sum_micros) = self.snapshot();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return;
        }
        let mut cumulative = 0;
        for ((_, bound), count) in BUCKETS.iter().zip(counts) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", seconds(sum_micros));
        let _ = writeln!(out, "{name}_count{{{labels}}} {total}");
    }
}

/// Microseconds as decimal seconds, exactly (no float rounding noise).
fn seconds(micros: u64) -> String {
    let fraction = micros % 1_000_000;
    if fraction == 0 {
        return (micros / 1_000_000).to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{}.{}", micros / 1_000_000, digits.trim_end_matches('0'))
}

/// Every counter, gauge and histogram of one relay.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [[AtomicU64; STATUS_SLOTS]; ROUTE_SLOTS],
    request_durations: [Histogram; ROUTE_SLOTS],
    /// By region, then API (endpoint), then outcome.
    upstream_calls:
        [[[AtomicU64; UpstreamOutcome::ALL.len()]; Endpoint::ALL.len()]; Region::ALL.len()],
    upstream_durations: [[Histogram; Endpoint::ALL.len()]; Region::ALL.len()],
    /// Signed so that a stray extra decrement shows as -1, not as 2⁶⁴ − 1.
    upstream_in_flight: AtomicI64,
    jwks_cache_hits: AtomicU64,
    jwks_cache_misses: AtomicU64,
    jwks_fetches_ok: AtomicU64,
    jwks_fetches_failed: AtomicU64,
    /// Observe answers that carried an `api unavailable` warning, by
    /// region and API (SPEC §8.2).
    api_unavailable: [[AtomicU64; RETIRABLE.len()]; Region::ALL.len()],
}

/// The APIs whose 404 or 410 makes them unavailable rather than failed.
const RETIRABLE: [Endpoint; 2] = [Endpoint::EventSearch, Endpoint::Dhcp];

/// Counts one upstream try as in flight until dropped, so the gauge comes
/// back down even if the try unwinds.
#[must_use = "the try counts as in flight only while the guard lives"]
pub struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// One answered request: `route` is `None` for an unknown path.
    pub fn record_request(&self, route: Option<Route>, status: u16, duration: Duration) {
        let route = route_slot(route);
        let status = STATUSES
            .iter()
            .position(|known| *known == status)
            .unwrap_or(STATUSES.len());
        self.requests[route][status].fetch_add(1, Ordering::Relaxed);
        self.request_durations[route].observe(duration);
    }

    /// Marks one upstream try as started; it ends when the guard drops.
    pub fn upstream_started(&self) -> InFlight<'_> {
        self.upstream_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.upstream_in_flight)
    }

    /// One finished upstream try to `region`'s GTI (see the module doc for
    /// what a try is).
    pub fn record_upstream(
        &self,
        region: Region,
        endpoint: Endpoint,
        outcome: UpstreamOutcome,
        duration: Duration,
    ) {
        let (region, endpoint) = (region.index(), endpoint.index());
        self.upstream_calls[region][endpoint][outcome.index()].fetch_add(1, Ordering::Relaxed);
        self.upstream_durations[region][endpoint].observe(duration);
    }

    /// The observer of `region`'s GTI calls, for that region's transport.
    pub fn calls_of(self: &Arc<Self>, region: Region) -> Arc<dyn CallObserver> {
        Arc::new(RegionCalls {
            metrics: Arc::clone(self),
            region,
        })
    }

    /// A JWKS cache look-up: `hit` when fresh keys for the host were cached.
    pub fn record_jwks_lookup(&self, hit: bool) {
        let counter = if hit {
            &self.jwks_cache_hits
        } else {
            &self.jwks_cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A JWKS download: `ok` when it gave a usable key set.
    pub fn record_jwks_fetch(&self, ok: bool) {
        let counter = if ok {
            &self.jwks_fetches_ok
        } else {
            &self.jwks_fetches_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One observe answer that lacked `endpoint`'s part because that API
    /// was not available in `region`; other endpoints are not counted.
    pub fn record_api_unavailable(&self, region: Region, endpoint: Endpoint) {
        if let Some(slot) = RETIRABLE.iter().position(|known| *known == endpoint) {
            self.api_unavailable[region.index()][slot].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Everything in the Prometheus text format. Series with a status or
    /// outcome label appear once they have been counted, so the scrape
    /// lists what happened rather than every combination that could.
    ///
    /// (`let _ = writeln!` throughout: writing to a `String` cannot fail.)
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.render_requests(&mut out);
        self.render_upstream(&mut out);
        self.render_jwks(&mut out);
        self.render_api_unavailable(&mut out);
        header(
            &mut out,
            "gti_relay_build_info",
            "gauge",
            "Always 1; the version of the running relay.",
        );
        let _ = writeln!(
            out,
            "gti_relay_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }

    fn render_requests(&self, out: &mut String) {
        header(
            out,
            "gti_relay_requests_total",
            "counter",
            "Requests answered, by route and HTTP status.",
        );
        for (slot, statuses) in self.requests.iter().enumerate() {
            for (index, counter) in statuses.iter().enumerate() {
                let count = counter.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                let status = STATUSES
                    .get(index)
                    .map_or_else(|| "other".to_owned(), u16::to_string);
                let _ = writeln!(
                    out,
                    "gti_relay_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                    route_label(slot)
                );
            }
        }
        header(
            out,
            "gti_relay_request_duration_seconds",
            "histogram",
            "Time from a request's arrival until its answer was ready, by route.",
        );
        for (slot, histogram) in self.request_durations.iter().enumerate() {
            let labels = format!("route=\"{}\"", route_label(slot));
            histogram.render(out, "gti_relay_request_duration_seconds", &labels);
        }
    }

    fn render_upstream(&self, out: &mut String) {
        header(
            out,
            "gti_relay_upstream_calls_total",
            "counter",
            "Tries of GTI calls (retries included), by region, API and outcome.",
        );
        for (region, apis) in Region::ALL.iter().zip(&self.upstream_calls) {
            for (endpoint, outcomes) in Endpoint::ALL.iter().zip(apis) {
                for (outcome, counter) in UpstreamOutcome::ALL.iter().zip(outcomes) {
                    let count = counter.load(Ordering::Relaxed);
                    if count > 0 {
                        let _ = writeln!(
                            out,
                            "gti_relay_upstream_calls_total{{region=\"{}\",api=\"{}\",outcome=\"{}\"}} {count}",
                            region.name(),
                            endpoint_label(*endpoint),
                            outcome_label(*outcome)
                        );
                    }
                }
            }
        }
        header(
            out,
            "gti_relay_upstream_duration_seconds",
            "histogram",
            "Duration of one try of a GTI call, by region and API.",
        );
        for (region, apis) in Region::ALL.iter().zip(&self.upstream_durations) {
            for (endpoint, histogram) in Endpoint::ALL.iter().zip(apis) {
                let labels = format!(
                    "region=\"{}\",api=\"{}\"",
                    region.name(),
                    endpoint_label(*endpoint)
                );
                histogram.render(out, "gti_relay_upstream_duration_seconds", &labels);
            }
        }
        header(
            out,
            "gti_relay_upstream_in_flight",
            "gauge",
            "GTI tries waiting for an answer right now.",
        );
        let _ = writeln!(
            out,
            "gti_relay_upstream_in_flight {}",
            self.upstream_in_flight.load(Ordering::Relaxed)
        );
    }

    fn render_api_unavailable(&self, out: &mut String) {
        header(
            out,
            "gti_relay_api_unavailable_total",
            "counter",
            "Observe answers that lacked an API's part because it answered 404 or 410, \
             by region and API.",
        );
        for (region, counters) in Region::ALL.iter().zip(&self.api_unavailable) {
            for (endpoint, counter) in RETIRABLE.iter().zip(counters) {
                let count = counter.load(Ordering::Relaxed);
                if count > 0 {
                    let _ = writeln!(
                        out,
                        "gti_relay_api_unavailable_total{{region=\"{}\",api=\"{}\"}} {count}",
                        region.name(),
                        endpoint_label(*endpoint)
                    );
                }
            }
        }
    }

    fn render_jwks(&self, out: &mut String) {
        labelled_counter(
            out,
            "gti_relay_jwks_cache_total",
            "JWKS cache look-ups, by whether fresh keys were cached.",
            "result",
            &[
                ("hit", &self.jwks_cache_hits),
                ("miss", &self.jwks_cache_misses),
            ],
        );
        labelled_counter(
            out,
            "gti_relay_jwks_fetches_total",
            "JWKS downloads, by whether they gave a usable key set.",
            "outcome",
            &[
                ("ok", &self.jwks_fetches_ok),
                ("error", &self.jwks_fetches_failed),
            ],
        );
    }
}

/// A counter with one label, one line per label value.
fn labelled_counter(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, &AtomicU64)],
) {
    header(out, name, "counter", help);
    for (value, counter) in values {
        let _ = writeln!(
            out,
            "{name}{{{label}=\"{value}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
}

/// Counts one region's GTI tries into the relay's metrics: the transport
/// is told nothing of regions, so each region's gets its own observer.
struct RegionCalls {
    metrics: Arc<Metrics>,
    region: Region,
}

impl CallObserver for RegionCalls {
    fn try_started(&self, _: Endpoint) {
        self.metrics
            .upstream_in_flight
            .fetch_add(1, Ordering::Relaxed);
    }

    fn try_ended(&self, endpoint: Endpoint, outcome: UpstreamOutcome, elapsed: Duration) {
        self.metrics
            .upstream_in_flight
            .fetch_sub(1, Ordering::Relaxed);
        self.metrics
            .record_upstream(self.region, endpoint, outcome, elapsed);
    }
}

impl JwksObserver for Metrics {
    fn lookup(&self, hit: bool) {
        self.record_jwks_lookup(hit);
    }

    fn fetch(&self, ok: bool) {
        self.record_jwks_fetch(ok);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A route's slot is its place in [`Route::ALL`]; an unknown path's is the
/// one after them.
fn route_slot(route: Option<Route>) -> usize {
    route.map_or(Route::ALL.len(), Route::index)
}

fn route_label(slot: usize) -> &'static str {
    Route::ALL.get(slot).map_or("unknown", |route| route.name())
}

/// Stable snake_case labels; [`Endpoint::name`] is prose for messages.
fn endpoint_label(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Detections => "detections",
        Endpoint::DetectionEvents => "detection_events",
        Endpoint::EventSearch => "event_search",
        Endpoint::Dhcp => "dhcp",
        Endpoint::DetectionList => "detection_list",
        Endpoint::Resolve => "resolve",
        Endpoint::EntitySummary => "entity_summary",
        Endpoint::PassiveDns => "passive_dns",
        Endpoint::FileSummary => "file_summary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn slots_and_labels_agree() {
        for route in [
            Route::Health,
            Route::Observe,
            Route::Refer,
            Route::Version,
            Route::Watchdog,
            Route::Metrics,
        ] {
            assert_eq!(route_label(route_slot(Some(route))), route.name());
        }
        for (slot, route) in Route::ALL.iter().enumerate() {
            assert_eq!(route_slot(Some(*route)), slot);
        }
        assert_eq!(route_label(route_slot(None)), "unknown");
        for (slot, endpoint) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(endpoint.index(), slot);
        }
        for (index, outcome) in UpstreamOutcome::ALL.iter().enumerate() {
            assert_eq!(outcome.index(), index);
        }
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(UpstreamOutcome::of_status(200), UpstreamOutcome::Ok);
        assert_eq!(UpstreamOutcome::of_status(204), UpstreamOutcome::Ok);
        assert_eq!(UpstreamOutcome::of_status(401), UpstreamOutcome::Http4xx);
        assert_eq!(UpstreamOutcome::of_status(429), UpstreamOutcome::Http429);
        assert_eq!(UpstreamOutcome::of_status(503), UpstreamOutcome::Http5xx);
        assert_eq!(
            UpstreamOutcome::of_status(302),
            UpstreamOutcome::InvalidResponse
        );
    }

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(3_000_000), "3");
        assert_eq!(seconds(1_500), "0.0015");
        assert_eq!(seconds(12_345_678), "12.345678");
    }

    #[test]
    fn buckets_are_inclusive_and_rendered_cumulatively() {
        let histogram = Histogram::default();
        histogram.observe(ms(5)); // exactly on the first bound: le="0.005"
        histogram.observe(Duration::from_micros(5_001)); // just above: le="0.01"
        histogram.observe(ms(300)); // le="0.5"
        histogram.observe(Duration::from_secs(31)); // above every bound: +Inf only
        let (counts, sum) = histogram.snapshot();
        assert_eq!(counts, [1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(sum, 5_000 + 5_001 + 300_000 + 31_000_000);

        let mut out = String::new();
        histogram.render(&mut out, "h", "k=\"v\"");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), BUCKETS.len() + 3);
        assert_eq!(lines[0], "h_bucket{k=\"v\",le=\"0.005\"} 1");
        assert_eq!(lines[1], "h_bucket{k=\"v\",le=\"0.01\"} 2");
        assert_eq!(lines[5], "h_bucket{k=\"v\",le=\"0.25\"} 2");
        assert_eq!(lines[6], "h_bucket{k=\"v\",le=\"0.5\"} 3");
        assert_eq!(lines[11], "h_bucket{k=\"v\",le=\"30\"} 3");
        assert_eq!(lines[12], "h_bucket{k=\"v\",le=\"+Inf\"} 4");
        assert_eq!(lines[13], "h_sum{k=\"v\"} 31.310001");
        assert_eq!(lines[14], "h_count{k=\"v\"} 4");
    }

    #[test]
    fn an_empty_histogram_renders_nothing() {
        let mut out = String::new();
        Histogram::default().render(&mut out, "h", "k=\"v\"");
        assert_eq!(out, "");
    }

    #[test]
    fn in_flight_falls_back_when_the_guard_drops() {
        let metrics = Metrics::new();
        let first = metrics.upstream_started();
        let second = metrics.upstream_started();
        assert_eq!(metrics.upstream_in_flight.load(Ordering::Relaxed), 2);
        drop(first);
        drop(second);
        assert_eq!(metrics.upstream_in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_small_registry_renders_exactly() {
        let metrics = Metrics::new();
        metrics.record_request(Some(Route::Version), 200, ms(2));
        metrics.record_request(Some(Route::Version), 200, ms(40));
        metrics.record_request(None, 404, ms(1));
        metrics.record_request(Some(Route::Watchdog), 418, ms(1));
        let us = Region::Us;
        metrics.record_upstream(us, Endpoint::EventSearch, UpstreamOutcome::Http5xx, ms(20));
        metrics.record_upstream(us, Endpoint::EventSearch, UpstreamOutcome::Ok, ms(7));
        metrics.record_jwks_lookup(false);
        metrics.record_jwks_fetch(true);
        metrics.record_jwks_lookup(true);
        metrics.record_api_unavailable(Region::Eu, Endpoint::Dhcp);
        metrics.record_api_unavailable(Region::Eu, Endpoint::Dhcp);
        // Not an API that can be unavailable: not counted.
        metrics.record_api_unavailable(Region::Us, Endpoint::Detections);
        let in_flight = metrics.upstream_started();

        let expected = format!(
            r#"# HELP gti_relay_requests_total Requests answered, by route and HTTP status.
# TYPE gti_relay_requests_total counter
gti_relay_requests_total{{route="version",status="200"}} 2
gti_relay_requests_total{{route="watchdog",status="other"}} 1
gti_relay_requests_total{{route="unknown",status="404"}} 1
# HELP gti_relay_request_duration_seconds Time from a request's arrival until its answer was ready, by route.
# TYPE gti_relay_request_duration_seconds histogram
gti_relay_request_duration_seconds_bucket{{route="version",le="0.005"}} 1
gti_relay_request_duration_seconds_bucket{{route="version",le="0.01"}} 1
gti_relay_request_duration_seconds_bucket{{route="version",le="0.025"}} 1
gti_relay_request_duration_seconds_bucket{{route="version",le="0.05"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="0.1"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="0.25"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="0.5"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="1"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="2.5"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="5"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="10"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="30"}} 2
gti_relay_request_duration_seconds_bucket{{route="version",le="+Inf"}} 2
gti_relay_request_duration_seconds_sum{{route="version"}} 0.042
gti_relay_request_duration_seconds_count{{route="version"}} 2
{watchdog}{unknown}# HELP gti_relay_upstream_calls_total Tries of GTI calls (retries included), by region, API and outcome.
# TYPE gti_relay_upstream_calls_total counter
gti_relay_upstream_calls_total{{region="us",api="event_search",outcome="ok"}} 1
gti_relay_upstream_calls_total{{region="us",api="event_search",outcome="http_5xx"}} 1
# HELP gti_relay_upstream_duration_seconds Duration of one try of a GTI call, by region and API.
# TYPE gti_relay_upstream_duration_seconds histogram
gti_relay_upstream_duration_seconds_bucket{{region="us",api="event_search",le="0.005"}} 0
gti_relay_upstream_duration_seconds_bucket{{region="us",api="event_search",le="0.01"}} 1
gti_relay_upstream_duration_seconds_bucket{{region="us",api="event_search",le="0.025"}} 2
{upstream_rest}gti_relay_upstream_duration_seconds_bucket{{region="us",api="event_search",le="+Inf"}} 2
gti_relay_upstream_duration_seconds_sum{{region="us",api="event_search"}} 0.027
gti_relay_upstream_duration_seconds_count{{region="us",api="event_search"}} 2
# HELP gti_relay_upstream_in_flight GTI tries waiting for an answer right now.
# TYPE gti_relay_upstream_in_flight gauge
gti_relay_upstream_in_flight 1
# HELP gti_relay_jwks_cache_total JWKS cache look-ups, by whether fresh keys were cached.
# TYPE gti_relay_jwks_cache_total counter
gti_relay_jwks_cache_total{{result="hit"}} 1
gti_relay_jwks_cache_total{{result="miss"}} 1
# HELP gti_relay_jwks_fetches_total JWKS downloads, by whether they gave a usable key set.
# TYPE gti_relay_jwks_fetches_total counter
gti_relay_jwks_fetches_total{{outcome="ok"}} 1
gti_relay_jwks_fetches_total{{outcome="error"}} 0
# HELP gti_relay_api_unavailable_total Observe answers that lacked an API's part because it answered 404 or 410, by region and API.
# TYPE gti_relay_api_unavailable_total counter
gti_relay_api_unavailable_total{{region="eu",api="dhcp"}} 2
# HELP gti_relay_build_info Always 1; the version of the running relay.
# TYPE gti_relay_build_info gauge
gti_relay_build_info{{version="{version}"}} 1
"#,
            watchdog = one_fast_request("watchdog"),
            unknown = one_fast_request("unknown"),
            upstream_rest = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30"]
                .map(|le| format!(
                    "gti_relay_upstream_duration_seconds_bucket{{region=\"us\",api=\"event_search\",le=\"{le}\"}} 2\n"
                ))
                .concat(),
            version = env!("CARGO_PKG_VERSION"),
        );
        assert_eq!(metrics.render(), expected);
        drop(in_flight);
    }

    /// The histogram lines of a route that answered once, in 1 ms.
    fn one_fast_request(route: &str) -> String {
        let name = "gti_relay_request_duration_seconds";
        let mut lines: String = BUCKETS
            .iter()
            .map(|(_, le)| format!("{name}_bucket{{route=\"{route}\",le=\"{le}\"}} 1\n"))
            .collect();
        lines.push_str(&format!(
            "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} 1\n{name}_sum{{route=\"{route}\"}} 0.001\n{name}_count{{route=\"{route}\"}} 1\n"
        ));
        lines
    }
}
