//! The `latency` section, at every L and cap: issue 10's rows with their
//! targets (observe N = 1, 5, 20, 50 and health), the fairness row (N = 1
//! beside a running N = 200), throughput at N = 5 with 1, 8 and 32 clients,
//! then on a fresh relay per `WORKERS` value 32 clients again with the
//! relay's CPU per request, the threads it created per 1,000 GTI calls
//! (`perf`, after a warm-up), its RSS after the load and its idle CPU.

use std::time::{Duration, Instant};

use gti_relay::config::Config;
use gti_relay::demo::gti::MockGti;
use serde_json::Value;
use testkit::child::Relay;
use testkit::procfs::{clock_ticks_per_second, cpu_ticks, load_average, proc_status_kib};
use testkit::samples::{mb, ms, percentile};

use crate::support::data::{load, observe_body, Detail, Shape, DAY_RANGE, LATENCY_SHAPE};
use crate::support::load::{CpuReading, Load, Until};
use crate::support::threads::{NewThreads, Threads, TARGET_PER_THOUSAND};
use crate::support::{verdict, Bench, ROW_TIME_LIMIT};
use crate::Options;

/// Observable counts of the latency rows.
const OBSERVABLE_COUNTS: [usize; 4] = [1, 5, 20, 50];

/// The fairness row: a request of this many observables (of the latency
/// rows' shape) runs while a request of one is timed beside it, in each of
/// [`FAIRNESS_ROUNDS`] rounds; the one must answer within
/// [`FAIRNESS_TARGET`] L (issue 10).
pub const FAIRNESS_BIG: usize = 200;
const FAIRNESS_ROUNDS: usize = 5;
const FAIRNESS_TARGET: f64 = 5.0;

/// Concurrent clients of the throughput rows (observe, N = 5).
const CLIENTS: [usize; 3] = [1, 8, LOAD_CLIENTS];

/// The throughput row after which the relay's CPU per request, RSS and
/// idle CPU are read (issue 10), and the row run for the other `--workers`;
/// its targets; how long the relay is left without requests after it.
pub const LOAD_CLIENTS: usize = 32;
const LOAD_RATE_TARGET: f64 = 60.0;
const LOAD_CPU_TARGET_MS: f64 = 3.0;
const IDLE_TIME: Duration = Duration::from_secs(5);
const IDLE_CPU_TARGET_PERCENT: f64 = 1.0;
const IDLE_RSS_TARGET_MIB: f64 = 16.0;

/// Requests run before each row is measured (connections, caches).
const WARM_UP: usize = 3;

/// Latency samples of one row, sorted.
struct Row {
    median: Duration,
    p99: Duration,
    calls: usize,
    max_in_flight: usize,
    errors: usize,
}

/// Loads the latency rows' observables (of [`LATENCY_SHAPE`], compact
/// events as earlier runs had them) into `gti`: the first is the fairness
/// row's small request, the next [`FAIRNESS_BIG`] its big one; the plateau
/// takes the first few.
pub fn load_observables(gti: &MockGti, now: u64) -> Vec<Value> {
    let count = FAIRNESS_BIG + 1;
    load(
        gti,
        "198.51.100",
        count,
        LATENCY_SHAPE,
        Detail::Compact,
        now,
    )
    .observables
}

/// At every L of `options`, for every cap: [`Bench::latency_section`].
pub fn run(bench: &Bench, options: &Options, observables: &[Value]) {
    for &latency in &options.latencies {
        bench.gti.set_latency(Duration::from_millis(latency));
        println!();
        println!(
            "## L = {latency} ms (mock GTI latency per call); observe: {} detections × {} events + {} searched events over {DAY_RANGE} windows per observable, {} GTI calls per observable",
            LATENCY_SHAPE.detections,
            LATENCY_SHAPE.events_per_detection,
            LATENCY_SHAPE.searched,
            LATENCY_SHAPE.calls()
        );
        for &cap in &options.caps {
            bench.latency_section(options, latency, cap, observables);
        }
    }
}

impl Bench<'_> {
    /// One cap at one L: the latency rows and the throughput rows on one
    /// relay, then the [`LOAD_CLIENTS`] row on a fresh relay per `WORKERS`
    /// value.
    fn latency_section(&self, options: &Options, latency: u64, cap: usize, observables: &[Value]) {
        let defaults = Config::default();
        let reading = CpuReading::now(None);
        let relay = self.start_relay(cap, None);
        println!();
        println!(
            "GTI_MAX_INFLIGHT = {cap}{}, WORKERS = {} (default); load average at the start: {}",
            if cap == defaults.gti_max_inflight() {
                " (default)"
            } else {
                ""
            },
            defaults.workers(),
            load_average()
        );
        let base_latency = self.latency_rows(&relay, options, latency, cap, observables);

        println!();
        self.fairness(
            &relay,
            cap,
            &observables[1..=FAIRNESS_BIG],
            &observables[..1],
        )
        .print(latency);

        println!();
        self.throughput_rows(&relay, options, observables, base_latency);
        drop(relay);
        // A fresh relay per WORKERS value, so that what the rows above left
        // (the N = 200 answers among them) is not in its RSS.
        let body = observe_body(&observables[..5]);
        let expected = 5 * LATENCY_SHAPE.events();
        let others = options.workers.iter().filter(|&&w| w != defaults.workers());
        let under_load: Vec<UnderLoad> = std::iter::once(&defaults.workers())
            .chain(others)
            .map(|&workers| {
                let relay = self.start_relay(cap, Some(workers));
                let (load, threads) =
                    self.counted_load(&relay, &body, expected, options.throughput_time);
                self.after_load(&relay, workers, load, threads)
            })
            .collect();
        println!();
        UnderLoad::print(&under_load, defaults.workers());
        println!();
        println!(
            "(other processes took {:.1} % of the machine's CPU over this cap's {:.0} s)",
            reading.others_percent(None),
            reading.at.elapsed().as_secs_f64()
        );
    }

    /// The latency table: observe at every count of [`OBSERVABLE_COUNTS`],
    /// then health. Returns the median at N = 5.
    fn latency_rows(
        &self,
        relay: &Relay,
        options: &Options,
        latency: u64,
        cap: usize,
        observables: &[Value],
    ) -> Option<Duration> {
        println!();
        println!("| measure | median | p99 | median / L | p99 / L | GTI calls / request | max GTI calls in flight | cap floor | target |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let mut base_latency = None;
        for &count in &OBSERVABLE_COUNTS {
            let body = observe_body(&observables[..count]);
            let expected = count * LATENCY_SHAPE.events();
            let row = self.latency_row(relay, &body, Some(expected), options.requests);
            let calls = count * LATENCY_SHAPE.calls();
            let floor = cap_floor(count, LATENCY_SHAPE, cap);
            print_latency(
                &format!("observe N = {count}"),
                &row,
                latency,
                Some((calls, floor)),
                Some(latency_target(count)),
            );
            if count == 5 {
                base_latency = Some(row.median);
            }
        }
        let health = self.latency_row(relay, "", None, options.requests);
        print_latency("health", &health, latency, None, Some(1.2));
        base_latency
    }

    /// The throughput table: observe N = 5 with every count of [`CLIENTS`];
    /// `base_latency` (the median at N = 5) bounds the one client's rate.
    fn throughput_rows(
        &self,
        relay: &Relay,
        options: &Options,
        observables: &[Value],
        base_latency: Option<Duration>,
    ) {
        let defaults = Config::default();
        println!(
            "| throughput, observe N = 5 | requests / s | linear from 1 client | errors | requests | other processes' CPU |"
        );
        println!("|---|---|---|---|---|---|");
        let body = observe_body(&observables[..5]);
        let expected = 5 * LATENCY_SHAPE.events();
        let mut single = None;
        for &clients in &CLIENTS {
            let load = self.throughput(relay, &body, expected, clients, options.throughput_time);
            let rate = load.rate();
            let single_rate = *single.get_or_insert(rate);
            // Linear growth stops at WORKERS: each worker holds one request.
            let linear = single_rate * clients.min(defaults.workers()) as f64;
            println!(
                "| {clients} client{} | {rate:.1} | {linear:.1} | {} | {} | {:.1} % |",
                if clients == 1 { "" } else { "s" },
                load.errors,
                load.done,
                load.others_percent
            );
        }
        if let Some(base) = base_latency {
            println!();
            println!(
                "(1 client at N = 5 is bounded by 1 / median = {:.1} requests / s)",
                1.0 / base.as_secs_f64()
            );
        }
    }

    fn latency_row(
        &self,
        relay: &Relay,
        body: &str,
        expected: Option<usize>,
        requests: usize,
    ) -> Row {
        let agent = self.agent();
        for _ in 0..WARM_UP {
            self.check(self.post(&agent, relay, body), expected);
        }
        // One request alone tells the calls per request.
        self.gti.reset_calls();
        let _ = self.post(&agent, relay, body);
        let calls = self.gti.total_calls();
        self.gti.reset_calls();

        let started = Instant::now();
        let mut samples = Vec::with_capacity(requests);
        let mut errors = 0;
        for _ in 0..requests {
            if started.elapsed() > ROW_TIME_LIMIT {
                eprintln!("bench: row stopped after {ROW_TIME_LIMIT:?}");
                break;
            }
            let begun = Instant::now();
            let answer = self.post(&agent, relay, body);
            samples.push(begun.elapsed());
            if !self.check(answer, expected) {
                errors += 1;
            }
        }
        let max_in_flight = self.gti.max_in_flight();
        self.gti.reset_calls();
        samples.sort();
        Row {
            median: percentile(&samples, 50),
            p99: percentile(&samples, 99),
            calls,
            max_in_flight,
            errors,
        }
    }

    /// Per round of [`FAIRNESS_ROUNDS`]: `big` is posted, and once the mock
    /// GTI has received as many calls as the cap lets the relay make at
    /// once (the call pool is full of the big request's calls; a counter,
    /// not a sleep), `small` is posted beside it on its own connection and
    /// timed. One warm-up of each first.
    fn fairness(&self, relay: &Relay, cap: usize, big: &[Value], small: &[Value]) -> Fairness {
        let (big_body, small_body) = (observe_body(big), observe_body(small));
        let big_expected = Some(big.len() * LATENCY_SHAPE.events());
        let small_expected = Some(small.len() * LATENCY_SHAPE.events());
        let (big_agent, small_agent) = (self.agent(), self.agent());
        self.check(self.post(&big_agent, relay, &big_body), big_expected);
        self.check(self.post(&small_agent, relay, &small_body), small_expected);
        let full = cap.min(big.len() * LATENCY_SHAPE.calls());
        let mut row = Fairness {
            big_observables: big.len(),
            small_observables: small.len(),
            ..Fairness::default()
        };
        for _ in 0..FAIRNESS_ROUNDS {
            self.gti.reset_calls();
            std::thread::scope(|scope| {
                let running = scope.spawn(|| {
                    let begun = Instant::now();
                    let answer = self.post(&big_agent, relay, &big_body);
                    (begun.elapsed(), self.check(answer, big_expected))
                });
                let waiting = Instant::now();
                while self.gti.total_calls() < full
                    && !running.is_finished()
                    && waiting.elapsed() < ROW_TIME_LIMIT
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let begun = Instant::now();
                let answer = self.post(&small_agent, relay, &small_body);
                row.small.push(begun.elapsed());
                row.beside += usize::from(!running.is_finished());
                row.errors += usize::from(!self.check(answer, small_expected));
                let (wall, ok) = running.join().expect("the big request's thread panicked");
                row.big.push(wall);
                row.errors += usize::from(!ok);
            });
            row.max_in_flight = row.max_in_flight.max(self.gti.max_in_flight());
        }
        self.gti.reset_calls();
        row.small.sort();
        row.big.sort();
        row
    }

    /// `clients` threads posting `body` for at least `least` and at least
    /// 30 requests in all (bounded by [`ROW_TIME_LIMIT`]), after one
    /// warm-up request each.
    fn throughput(
        &self,
        relay: &Relay,
        body: &str,
        expected: usize,
        clients: usize,
        least: Duration,
    ) -> Load {
        self.clients(
            relay,
            body,
            expected,
            clients,
            Until::Each(1, ROW_TIME_LIMIT),
        );
        self.clients(relay, body, expected, clients, Until::Least(least))
    }

    /// [`Bench::throughput`] with [`LOAD_CLIENTS`] clients, the relay's new
    /// threads counted over the measured requests (after the warm-up,
    /// which starts the connections' threads and fills the call pool).
    fn counted_load(
        &self,
        relay: &Relay,
        body: &str,
        expected: usize,
        least: Duration,
    ) -> (Load, Threads) {
        let clients = LOAD_CLIENTS;
        self.clients(
            relay,
            body,
            expected,
            clients,
            Until::Each(1, ROW_TIME_LIMIT),
        );
        let counting = NewThreads::count(relay.pid());
        let load = self.clients(relay, body, expected, clients, Until::Least(least));
        let threads = counting.stop(load.gti_calls);
        (load, threads)
    }

    /// The relay after `load` (of `workers` request workers, which created
    /// `threads`): its RSS, then its CPU over [`IDLE_TIME`] without
    /// requests, then its RSS again.
    fn after_load(&self, relay: &Relay, workers: usize, load: Load, threads: Threads) -> UnderLoad {
        let pid = relay.pid();
        let rss_after_kib = proc_status_kib(pid, "VmRSS:");
        let before = cpu_ticks(pid);
        std::thread::sleep(IDLE_TIME);
        UnderLoad {
            workers,
            load,
            threads,
            rss_after_kib,
            idle_ticks: cpu_ticks(pid).saturating_sub(before),
            rss_idle_kib: proc_status_kib(pid, "VmRSS:"),
        }
    }
}

/// The relay under and after the [`LOAD_CLIENTS`] row (see
/// [`Bench::after_load`]).
struct UnderLoad {
    workers: usize,
    load: Load,
    threads: Threads,
    rss_after_kib: u64,
    /// The relay's utime + stime over [`IDLE_TIME`] after the load.
    idle_ticks: u64,
    rss_idle_kib: u64,
}

impl UnderLoad {
    fn print(rows: &[UnderLoad], default_workers: usize) {
        let idle_secs = IDLE_TIME.as_secs();
        println!(
            "| {LOAD_CLIENTS} clients, observe N = 5 | requests / s | relay CPU / request (utime + stime) | threads created and ended per 1,000 GTI calls (perf; created less kept) | RSS right after the load | relay CPU over the {idle_secs} s after it | RSS after those {idle_secs} s | errors | requests | other processes' CPU under the load |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for row in rows {
            let rate = row.load.rate();
            let cpu = row.load.cpu_ms_per_request();
            let idle_percent =
                row.idle_ticks as f64 / clock_ticks_per_second() / IDLE_TIME.as_secs_f64() * 100.0;
            let idle_mib = mb(row.rss_idle_kib);
            println!(
                "| WORKERS = {}{} | {rate:.1} (≥ {LOAD_RATE_TARGET}: {}) | {cpu:.2} ms (≤ {LOAD_CPU_TARGET_MS} ms: {}) | {} | {:.1} MiB | {} ticks = {idle_percent:.1} % of a core (< {IDLE_CPU_TARGET_PERCENT} %: {}) | {idle_mib:.1} MiB (≤ {IDLE_RSS_TARGET_MIB} MiB: {}) | {} | {} | {:.1} % |",
                row.workers,
                if row.workers == default_workers {
                    " (default)"
                } else {
                    ""
                },
                verdict(rate >= LOAD_RATE_TARGET),
                verdict(cpu <= LOAD_CPU_TARGET_MS),
                threads_cell(&row.threads),
                mb(row.rss_after_kib),
                row.idle_ticks,
                verdict(idle_percent < IDLE_CPU_TARGET_PERCENT),
                verdict(idle_mib <= IDLE_RSS_TARGET_MIB),
                row.load.errors,
                row.load.done,
                row.load.others_percent
            );
        }
    }
}

/// The threads' cell with its target: `1004 (…) (< 5: MISSED)`.
fn threads_cell(threads: &Threads) -> String {
    match threads.met() {
        Some(met) => format!(
            "{} (< {TARGET_PER_THOUSAND}, less those kept: {})",
            threads.cell(),
            verdict(met)
        ),
        None => threads.cell(),
    }
}

/// The fairness row's figures (see [`Bench::fairness`]); latencies sorted.
#[derive(Default)]
struct Fairness {
    big_observables: usize,
    small_observables: usize,
    small: Vec<Duration>,
    big: Vec<Duration>,
    /// Rounds in which the small request answered before the big one.
    beside: usize,
    errors: usize,
    max_in_flight: usize,
}

impl Fairness {
    fn print(&self, latency_ms: u64) {
        let l = latency_ms as f64;
        let (small, big) = (self.small_observables, self.big_observables);
        let median = ms(percentile(&self.small, 50));
        let worst = ms(self.small.last().copied().unwrap_or_default());
        let big_median = ms(percentile(&self.big, 50));
        println!(
            "| fairness | N = {small} median | N = {small} max | median / L | max / L | N = {big} median (/ L) | N = {small} answered first | errors | max GTI calls in flight | target |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| observe N = {small} beside a running N = {big} ({} rounds) | {median:.1} ms | {worst:.1} ms | {:.2} | {:.2} | {big_median:.0} ms ({:.1} L) | {} of {} | {} | {} | ≤ {FAIRNESS_TARGET} L each: {} |",
            self.small.len(),
            median / l,
            worst / l,
            big_median / l,
            self.beside,
            self.small.len(),
            self.errors,
            self.max_in_flight,
            verdict(worst / l <= FAIRNESS_TARGET)
        );
    }
}

fn print_latency(
    name: &str,
    row: &Row,
    latency_ms: u64,
    calls: Option<(usize, f64)>,
    target: Option<f64>,
) {
    let l = latency_ms as f64;
    let median = ms(row.median) / l;
    let p99 = ms(row.p99) / l;
    let (calls, floor) = match calls {
        Some((planned, floor)) => (
            format!("{} (plan {planned})", row.calls),
            format!("{floor:.1} L"),
        ),
        None => (row.calls.to_string(), "1.0 L".to_owned()),
    };
    let target = match target {
        Some(target) => format!(
            "≤ {target} L: {}",
            if median <= target { "met" } else { "MISSED" }
        ),
        None => String::new(),
    };
    let errors = if row.errors > 0 {
        format!(" ({} errors)", row.errors)
    } else {
        String::new()
    };
    println!(
        "| {name}{errors} | {:.1} ms | {:.1} ms | {median:.2} | {p99:.2} | {calls} | {} | {floor} | {target} |",
        ms(row.median),
        ms(row.p99),
        row.max_in_flight,
    );
}

/// Issue 10's target for observe N = `count`, in L.
fn latency_target(count: usize) -> f64 {
    if count <= 20 {
        3.3
    } else {
        4.0
    }
}

/// The least time the cap allows, in L: every call but the DHCP ones must
/// be done before an observable's DHCP call, so with `cap` calls in flight
/// at most, the pre-DHCP calls take at least ⌈calls / cap⌉ round trips
/// (and at least the two of the chain), then one for DHCP.
fn cap_floor(observables: usize, shape: Shape, cap: usize) -> f64 {
    let before_dhcp = observables * (shape.calls() - 1);
    let waves = before_dhcp.div_ceil(cap).max(2);
    (waves + observables.div_ceil(cap).max(1)) as f64
}
