//! The `limit1000` section (issues 9 and 19), at L = 0: a token with
//! `CTR_ENTITIES_LIMIT` 1000 and 1, 5 and 20 observables of ~1,000
//! sightings each, on a fresh relay per count: wall time, CPU per 1,000
//! sightings, peak and settled RSS, and the threads created per 1,000 GTI
//! calls (`perf`).
//!
//! The events behind each observable are as large and varied as GTI's
//! (`Detail::Gti`: every event type the mapper knows, GTI's full field
//! sets), so the answer is as large per sighting as GTI's (printed as
//! "answer bytes per sighting"), and every column runs twice: **as built**
//! (the bench's relay binary, no allocator environment) and **as shipped**
//! (the `make static` binary with the environment of the Dockerfile's
//! final stage; "not built (make static)" without it).

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::procfs::{clock_ticks_per_second, cpu_ticks, load_average, proc_status_kib};
use testkit::samples::{mb, ms, percentile};

use crate::support::data::{load, observe_body, Detail, Loaded, Shape, DAY_RANGE};
use crate::support::events::Kind;
use crate::support::setup::Setup;
use crate::support::threads::{NewThreads, Threads, TARGET_PER_THOUSAND};
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
/// `bench` (whose token asks for [`HEAVY_LIMIT`] entities and whose set-up
/// is the relay as built), then with the `shipped` set-up, and prints both.
pub fn run(bench: &Bench, shipped: &Result<Setup, String>, now: u64) {
    let loaded = load(
        bench.gti,
        "192.0.2",
        HEAVY_OBSERVABLES,
        HEAVY_SHAPE,
        Detail::Gti,
        now,
    );
    let built = Ok((bench.setup, bench.limit1000(&loaded.observables)));
    let shipped = match shipped {
        Ok(setup) => Ok((
            setup,
            bench.with_setup(setup).limit1000(&loaded.observables),
        )),
        Err(reason) => Err(reason.clone()),
    };
    print_heavy(&loaded, &[("as built", built), ("as shipped", shipped)]);
}

impl Bench<'_> {
    /// L = 0, the bench's token asking for [`HEAVY_LIMIT`] entities: per
    /// count of [`HEAVY_COUNTS`], a fresh relay, one `/health` (it fetches
    /// the JWKS without touching the data path), then `HEAVY_OBSERVABLES /
    /// count` observes of `count` of `observables` in a row.
    fn limit1000(&self, observables: &[Value]) -> Vec<Heavy> {
        self.gti.set_latency(Duration::ZERO);
        HEAVY_COUNTS
            .map(|count| {
                let load_average = load_average();
                let relay = self.start_relay(64, None);
                let agent = self.agent();
                self.check(self.post(&agent, &relay, ""), None);
                let mut row = Heavy {
                    observables: count,
                    load_average,
                    ..Heavy::default()
                };
                self.gti.reset_calls();
                let counting = NewThreads::count(relay.pid());
                let before = cpu_ticks(relay.pid());
                self.heavy_observes(&agent, &relay, &observables[..count], &mut row);
                let ticks = cpu_ticks(relay.pid()).saturating_sub(before) as f64;
                row.threads = counting.stop(self.gti.total_calls());
                row.cpu_ms = ticks * 1000.0
                    / clock_ticks_per_second()
                    / (row.all_sightings.max(1) as f64 / 1000.0);
                row.peak_kib = proc_status_kib(relay.pid(), "VmHWM:");
                std::thread::sleep(SETTLE_TIME);
                row.settled_kib = proc_status_kib(relay.pid(), "VmRSS:");
                row.wall.sort();
                self.gti.reset_calls();
                row
            })
            .into()
    }

    /// `HEAVY_OBSERVABLES / observables.len()` observes of `observables` in
    /// a row, each checked and timed into `row`.
    fn heavy_observes(
        &self,
        agent: &ureq::Agent,
        relay: &testkit::child::Relay,
        observables: &[Value],
        row: &mut Heavy,
    ) {
        let body = observe_body(observables);
        let expected = observables.len() * HEAVY_SHAPE.events().min(HEAVY_LIMIT);
        let requests = HEAVY_OBSERVABLES / observables.len();
        let started = Instant::now();
        while row.wall.len() < requests && started.elapsed() < ROW_TIME_LIMIT {
            let begun = Instant::now();
            let answer = self.fetch(agent, relay, &body);
            row.wall.push(begun.elapsed());
            row.answer_bytes = answer.as_ref().map_or(0, Vec::len);
            let answer = answer.and_then(|bytes| sightings(&bytes));
            row.sightings = *answer.as_ref().unwrap_or(&0);
            row.all_sightings += row.sightings;
            if !self.check(answer, Some(expected)) {
                row.errors += 1;
            }
        }
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
    /// Over every observe.
    threads: Threads,
}

impl Heavy {
    /// The last answer's bytes per (event) sighting.
    fn bytes_per_sighting(&self) -> usize {
        self.answer_bytes / self.sightings.max(1)
    }
}

/// A set-up's name, and the set-up with its columns or what to print
/// instead of them.
type Measured<'a> = (&'static str, Result<(&'a Setup, Vec<Heavy>), String>);

/// A row of the table: its name, a column's cell, and the target with its
/// verdict over a set-up's columns.
struct Measure {
    name: String,
    cell: fn(&Heavy) -> String,
    target: fn(&[Heavy]) -> String,
}

fn print_heavy(loaded: &Loaded, measured: &[Measured]) {
    print_title(loaded);
    println!();
    for (name, measured) in measured {
        match measured {
            Ok((setup, _)) => println!(
                "- {name}: `{}`, environment: {}",
                setup.shown_binary(),
                setup.shown_envs()
            ),
            Err(reason) => println!("- {name}: {reason}"),
        }
    }
    println!();
    let n = HEAVY_COUNTS.map(|count| format!("N = {count}")).join(" | ");
    println!("| measure | set-up | {n} | target |");
    println!("|---|---|{}---|", "---|".repeat(HEAVY_COUNTS.len()));
    for measure in measures() {
        let mut shown = measure.name.as_str();
        for (name, measured) in measured {
            let Ok((_, columns)) = measured else { continue };
            let cells: Vec<String> = columns.iter().map(measure.cell).collect();
            let target = (measure.target)(columns);
            println!("| {shown} | {name} | {} | {target} |", cells.join(" | "));
            shown = "";
        }
    }
    for (name, measured) in measured {
        if let Err(reason) = measured {
            let empty = " |".repeat(HEAVY_COUNTS.len());
            println!("| every measure | {name} | {reason} |{empty}");
        }
    }
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

impl Measure {
    fn new(name: &str, cell: fn(&Heavy) -> String, target: fn(&[Heavy]) -> String) -> Measure {
        Measure {
            name: name.to_owned(),
            cell,
            target,
        }
    }
}

/// The rows of the table, in order: what was answered, then what it cost.
fn measures() -> Vec<Measure> {
    let mut measures = answer_measures();
    measures.extend(cost_measures());
    measures
}

fn answer_measures() -> Vec<Measure> {
    vec![
        Measure::new(
            "sightings / answer size",
            |row| {
                format!(
                    "{} / {:.1} MB",
                    row.sightings,
                    row.answer_bytes as f64 / 1e6
                )
            },
            |_| format!("{HEAVY_LIMIT} per observable"),
        ),
        Measure::new(
            "answer bytes per sighting",
            |row| format!("{} B", row.bytes_per_sighting()),
            |rows| {
                let ok = each(rows, |row| row.bytes_per_sighting() >= GTI_ANSWER_BYTES);
                format!("≥ {GTI_ANSWER_BYTES} B, as GTI's: {ok}")
            },
        ),
        Measure::new(
            "observes (errors)",
            |row| format!("{} ({})", row.wall.len(), row.errors),
            |_| String::new(),
        ),
        Measure::new(
            "wall to the last byte, median",
            |row| format!("{:.0} ms", ms(median(row))),
            |rows| {
                let ok = at_largest(rows, |row| median(row) <= Duration::from_millis(300));
                format!("N = {} ≤ 0.3 s: {ok}", largest(rows))
            },
        ),
    ]
}

fn cost_measures() -> Vec<Measure> {
    vec![
        Measure::new(
            "relay CPU per 1,000 sightings (utime + stime over every observe)",
            |row| format!("{:.1} ms", row.cpu_ms),
            |rows| format!("≤ 8 ms: {}", each(rows, |row| row.cpu_ms <= 8.0)),
        ),
        Measure::new(
            "peak RSS (VmHWM)",
            |row| format!("{:.1} MiB", mb(row.peak_kib)),
            |rows| {
                let ok = at_largest(rows, |row| mb(row.peak_kib) <= 96.0);
                format!("N = {} ≤ 96 MiB: {ok}", largest(rows))
            },
        ),
        Measure::new(
            &format!("RSS {} s after the last answer", SETTLE_TIME.as_secs()),
            |row| format!("{:.1} MiB", mb(row.settled_kib)),
            |rows| format!("≤ 32 MiB: {}", each(rows, |row| mb(row.settled_kib) <= 32.0)),
        ),
        Measure::new(
            "threads created and ended per 1,000 GTI calls (perf, over every observe: created less those the relay kept, its call pool's)",
            |row| row.threads.cell(),
            |rows| {
                let met: Option<Vec<bool>> = rows.iter().map(|row| row.threads.met()).collect();
                let ok = met.map_or("n/a", |met| verdict(met.iter().all(|&ok| ok)));
                format!("< {TARGET_PER_THOUSAND}, less those kept: {ok}")
            },
        ),
        Measure::new(
            "load average at the start",
            |row| row.load_average.clone(),
            |_| String::new(),
        ),
    ]
}

fn median(row: &Heavy) -> Duration {
    percentile(&row.wall, 50)
}

fn each(rows: &[Heavy], ok: impl Fn(&Heavy) -> bool) -> &'static str {
    verdict(rows.iter().all(ok))
}

fn at_largest(rows: &[Heavy], ok: impl Fn(&Heavy) -> bool) -> &'static str {
    verdict(rows.last().is_some_and(ok))
}

fn largest(rows: &[Heavy]) -> usize {
    rows.last().map_or(0, |row| row.observables)
}
