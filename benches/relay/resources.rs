//! The `resources` section, at L = 0: the relay's CPU per observe, its idle
//! and peak RSS, the binary's size and the time from process start to the
//! first `/watchdog` answer.

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::child::Relay;
use testkit::procfs::{clock_ticks_per_second, cpu_ticks, proc_status_kib};
use testkit::samples::{mb, ms, percentile};

use crate::support::data::{load, observe_body, Detail, Shape};
use crate::support::{verdict, Bench, ROW_TIME_LIMIT};

/// Requests of the CPU row, and its time limit.
const CPU_REQUESTS: usize = 400;

/// Starts measured for the start-up row.
const STARTS: usize = 5;

/// The CPU row: 100 events per observable (the default limit), 5 observables.
const CPU_SHAPE: Shape = Shape {
    detections: 5,
    events_per_detection: 10,
    searched: 50,
};
const CPU_OBSERVABLES: usize = 5;

/// Loads the CPU row's observables into the mock GTI and takes the
/// figures; the caller prints them (after the latency section: resources
/// are measured first, while the machine is as calm as the run gets).
pub fn measure(bench: &Bench, now: u64) -> Resources {
    let loaded = load(
        bench.gti,
        "203.0.113",
        CPU_OBSERVABLES,
        CPU_SHAPE,
        Detail::Compact,
        now,
    );
    bench.resources(&loaded.observables)
}

impl Bench<'_> {
    /// The size of one answer to `body`, in bytes.
    fn answer_bytes(&self, agent: &ureq::Agent, relay: &Relay, body: &str) -> usize {
        self.fetch(agent, relay, body)
            .map_or(0, |bytes| bytes.len())
    }

    /// L = 0: CPU per observe, memory, binary size, start-up time.
    fn resources(&self, cpu_observables: &[Value]) -> Resources {
        self.gti.set_latency(Duration::ZERO);
        let mut starts = Vec::new();
        for _ in 0..STARTS {
            let relay = self.start_relay(64, None);
            starts.push(relay.started_in);
        }
        starts.sort();

        let relay = self.start_relay(64, None);
        let idle_rss = proc_status_kib(relay.pid(), "VmRSS:");
        let body = observe_body(cpu_observables);
        let expected = CPU_OBSERVABLES * CPU_SHAPE.events().min(100);
        let agent = self.agent();
        // Warm-up fetches the JWKS and fills the connection pools.
        for _ in 0..10 {
            self.check(self.post(&agent, &relay, &body), Some(expected));
        }
        let before = cpu_ticks(relay.pid());
        let started = Instant::now();
        let mut done = 0;
        let mut wall = Vec::new();
        while done < CPU_REQUESTS && started.elapsed() < ROW_TIME_LIMIT {
            let begun = Instant::now();
            self.check(self.post(&agent, &relay, &body), Some(expected));
            wall.push(begun.elapsed());
            done += 1;
        }
        let after = cpu_ticks(relay.pid());
        wall.sort();
        let ticks = after.saturating_sub(before) as f64;
        let cpu_ms = ticks * 1000.0 / clock_ticks_per_second() / done.max(1) as f64;
        let peak_rss = proc_status_kib(relay.pid(), "VmHWM:");
        let after_rss = proc_status_kib(relay.pid(), "VmRSS:");
        self.gti.reset_calls();
        Resources {
            starts,
            idle_rss,
            peak_rss,
            after_rss,
            cpu_ms,
            cpu_requests: done,
            cpu_wall_median: percentile(&wall, 50),
            answer_bytes: self.answer_bytes(&agent, &relay, &body),
            binary_bytes: std::fs::metadata(&self.setup.binary).map_or(0, |meta| meta.len()),
            jwks_host: self.jwks_host.clone(),
        }
    }
}

/// The `resources` section's figures.
pub struct Resources {
    starts: Vec<Duration>,
    idle_rss: u64,
    peak_rss: u64,
    after_rss: u64,
    cpu_ms: f64,
    cpu_requests: usize,
    cpu_wall_median: Duration,
    answer_bytes: usize,
    binary_bytes: u64,
    jwks_host: String,
}

impl Resources {
    pub fn print(&self) {
        let start = percentile(&self.starts, 50);
        println!(
            "## Resources (L = 0, GTI_MAX_INFLIGHT = 64, JWKS on {})",
            self.jwks_host
        );
        println!();
        println!("| measure | value | target |");
        println!("|---|---|---|");
        println!(
            "| relay CPU per observe, N = {CPU_OBSERVABLES} × {} events (utime + stime over {} requests; wall median {:.2} ms; answer {:.2} MB) | {:.2} ms | ≤ 4 ms: {} |",
            CPU_SHAPE.events(),
            self.cpu_requests,
            ms(self.cpu_wall_median),
            self.answer_bytes as f64 / 1e6,
            self.cpu_ms,
            verdict(self.cpu_ms <= 4.0)
        );
        println!(
            "| RSS idle (VmRSS after start-up) | {:.1} MB | ≤ 8 MB: {} |",
            mb(self.idle_rss),
            verdict(mb(self.idle_rss) <= 8.0)
        );
        println!(
            "| RSS peak (VmHWM after the CPU row) / RSS after it | {:.1} MB / {:.1} MB | |",
            mb(self.peak_rss),
            mb(self.after_rss)
        );
        println!(
            "| binary size (release, stripped) | {:.2} MB | |",
            self.binary_bytes as f64 / 1e6
        );
        println!(
            "| process start → first /watchdog answer (median of {}; min {:.1}, max {:.1}) | {:.1} ms | ≤ 50 ms: {} |",
            self.starts.len(),
            ms(self.starts.first().copied().unwrap_or_default()),
            ms(self.starts.last().copied().unwrap_or_default()),
            ms(start),
            verdict(ms(start) <= 50.0)
        );
    }
}
