//! The `limit1000` section (issues 9 and 19), at L = 0: a token with
//! `CTR_ENTITIES_LIMIT` 1000 and 1, 5 and 20 observables of ~1,000
//! sightings each, on a fresh relay per count: wall time, CPU per 1,000
//! sightings, peak and settled RSS.
//!
//! The events behind each observable are as large and varied as GTI's
//! (`Detail::Gti`: every event type the mapper knows, GTI's full field
//! sets), so the answer is as large per sighting as GTI's (printed as
//! "answer bytes per sighting").

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::procfs::{clock_ticks_per_second, cpu_ticks, load_average, proc_status_kib};
use testkit::samples::{mb, ms, percentile};

use crate::support::data::{load, observe_body, Detail, Loaded, Shape, DAY_RANGE};
use crate::support::events::Kind;
use crate::support::{sightings, verdict, Bench, ROW_TIME_LIMIT};

/// The `limit1000` section: a token with `CTR_ENTITIES_LIMIT` 1000, and per
/// observable 1 detection × 12 events and 160 searched events in each of the
/// 7 day windows, so the limit cuts each observable to 1,000 sightings.
pub const HEAVY_LIMIT: usize = 1000;
const HEAVY_SHAPE: Shape = Shape {
    detections: 1,
    events_per_detection: 12,
    searched: 160 * DAY_RANGE,
};
/// Observable counts of the `limit1000` section; each runs on a fresh relay
/// `HEAVY_OBSERVABLES / count` times, so its CPU figure is taken over the
/// same 20,000 sightings (many clock ticks) whatever the count.
const HEAVY_COUNTS: [usize; 3] = [1, 5, 20];
const HEAVY_OBSERVABLES: usize = 20;
/// How long after its last answer the `limit1000` relay's RSS is read.
const SETTLE_TIME: Duration = Duration::from_secs(2);
/// GTI's answers are about this large per sighting (issue 19: 1.6 KB over
/// every event type); the bench's should be too.
const GTI_ANSWER_BYTES: usize = 1500;

/// Loads the section's observables into the mock GTI, measures them with
/// `bench` (whose token asks for [`HEAVY_LIMIT`] entities) and prints them.
pub fn run(bench: &Bench, now: u64) {
    let loaded = load(
        bench.gti,
        "192.0.2",
        HEAVY_OBSERVABLES,
        HEAVY_SHAPE,
        Detail::Gti,
        now,
    );
    print_heavy(&loaded, &bench.limit1000(&loaded.observables));
}

impl Bench<'_> {
    /// L = 0, the bench's token asking for [`HEAVY_LIMIT`] entities: per
    /// count of [`HEAVY_COUNTS`], a fresh relay, one `/health` (it fetches
    /// the JWKS without touching the data path), then `HEAVY_OBSERVABLES /
    /// count` observes of `count` of `observables` in a row.
    fn limit1000(&self, observables: &[Value]) -> Vec<Heavy> {
        self.gti.set_latency(Duration::ZERO);
        let per_observable = HEAVY_SHAPE.events().min(HEAVY_LIMIT);
        let rows = HEAVY_COUNTS.map(|count| {
            let load_average = load_average();
            let relay = self.start_relay(64, None);
            let agent = self.agent();
            self.check(self.post(&agent, &relay, ""), None);
            let body = observe_body(&observables[..count]);
            let expected = count * per_observable;
            let requests = HEAVY_OBSERVABLES / count;
            let mut row = Heavy {
                observables: count,
                load_average,
                ..Heavy::default()
            };
            let before = cpu_ticks(relay.pid());
            let started = Instant::now();
            while row.wall.len() < requests && started.elapsed() < ROW_TIME_LIMIT {
                let begun = Instant::now();
                let answer = self.fetch(&agent, &relay, &body);
                row.wall.push(begun.elapsed());
                row.answer_bytes = answer.as_ref().map_or(0, Vec::len);
                let answer = answer.and_then(|bytes| sightings(&bytes));
                row.sightings = *answer.as_ref().unwrap_or(&0);
                row.all_sightings += row.sightings;
                if !self.check(answer, Some(expected)) {
                    row.errors += 1;
                }
            }
            let ticks = cpu_ticks(relay.pid()).saturating_sub(before) as f64;
            row.cpu_ms = ticks * 1000.0
                / clock_ticks_per_second()
                / (row.all_sightings.max(1) as f64 / 1000.0);
            row.peak_kib = proc_status_kib(relay.pid(), "VmHWM:");
            std::thread::sleep(SETTLE_TIME);
            row.settled_kib = proc_status_kib(relay.pid(), "VmRSS:");
            row.wall.sort();
            self.gti.reset_calls();
            row
        });
        rows.into()
    }
}

/// One column of the `limit1000` section.
#[derive(Default)]
struct Heavy {
    observables: usize,
    load_average: String,
    /// Per observe, to the last byte of the answer; sorted.
    wall: Vec<Duration>,
    errors: usize,
    /// Of the last answer.
    sightings: usize,
    answer_bytes: usize,
    all_sightings: usize,
    /// Relay CPU (utime + stime) per 1,000 sightings, over every observe.
    cpu_ms: f64,
    peak_kib: u64,
    /// [`SETTLE_TIME`] after the last answer.
    settled_kib: u64,
}

impl Heavy {
    /// The last answer's bytes per (event) sighting.
    fn bytes_per_sighting(&self) -> usize {
        self.answer_bytes / self.sightings.max(1)
    }
}

fn print_heavy(loaded: &Loaded, rows: &[Heavy]) {
    let cells =
        |cell: &dyn Fn(&Heavy) -> String| rows.iter().map(cell).collect::<Vec<_>>().join(" | ");
    let largest = rows.last();
    let at_largest = |ok: &dyn Fn(&Heavy) -> bool| verdict(largest.is_some_and(ok));
    let each = |ok: &dyn Fn(&Heavy) -> bool| verdict(rows.iter().all(ok));
    let n = largest.map_or(0, |row| row.observables);
    print_title(loaded);
    println!();
    println!(
        "| measure | {} | target |",
        cells(&|row| format!("N = {}", row.observables))
    );
    println!("|---|{}---|", "---|".repeat(rows.len()));
    println!(
        "| sightings / answer size | {} | {HEAVY_LIMIT} per observable |",
        cells(&|row| format!(
            "{} / {:.1} MB",
            row.sightings,
            row.answer_bytes as f64 / 1e6
        ))
    );
    println!(
        "| answer bytes per sighting | {} | ≥ {GTI_ANSWER_BYTES} B, as GTI's: {} |",
        cells(&|row| format!("{} B", row.bytes_per_sighting())),
        each(&|row| row.bytes_per_sighting() >= GTI_ANSWER_BYTES)
    );
    println!(
        "| observes (errors) | {} | |",
        cells(&|row| format!("{} ({})", row.wall.len(), row.errors))
    );
    println!(
        "| wall to the last byte, median | {} | N = {n} ≤ 0.3 s: {} |",
        cells(&|row| format!("{:.0} ms", ms(percentile(&row.wall, 50)))),
        at_largest(&|row| percentile(&row.wall, 50) <= Duration::from_millis(300))
    );
    println!(
        "| relay CPU per 1,000 sightings (utime + stime over every observe) | {} | ≤ 8 ms: {} |",
        cells(&|row| format!("{:.1} ms", row.cpu_ms)),
        each(&|row| row.cpu_ms <= 8.0)
    );
    println!(
        "| peak RSS (VmHWM) | {} | N = {n} ≤ 96 MiB: {} |",
        cells(&|row| format!("{:.1} MiB", mb(row.peak_kib))),
        at_largest(&|row| mb(row.peak_kib) <= 96.0)
    );
    println!(
        "| RSS {} s after the last answer | {} | ≤ 32 MiB: {} |",
        SETTLE_TIME.as_secs(),
        cells(&|row| format!("{:.1} MiB", mb(row.settled_kib))),
        each(&|row| mb(row.settled_kib) <= 32.0)
    );
    println!(
        "| load average at the start | {} | |",
        cells(&|row| row.load_average.clone())
    );
}

/// The section's title: the shape and size of the data.
fn print_title(loaded: &Loaded) {
    let types: Vec<&str> = Kind::ALL.map(Kind::name).into();
    println!(
        "## Limit 1000 (L = 0, CTR_ENTITIES_LIMIT = {HEAVY_LIMIT}, GTI_MAX_INFLIGHT = 64): per observable {} detection × {} events + {} searched events over {DAY_RANGE} windows, as large and varied as GTI's ({}; {:.1} KB each on average as GTI sends them); a fresh relay per column, one /health, then {HEAVY_OBSERVABLES} / N observes in a row",
        HEAVY_SHAPE.detections,
        HEAVY_SHAPE.events_per_detection,
        HEAVY_SHAPE.searched,
        types.join(", "),
        loaded.mean_event_bytes() as f64 / 1000.0,
    );
}
