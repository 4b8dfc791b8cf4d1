//! The `demo` section (issue 9): the RSS of `gti-relay demo` (its own
//! simulated GTI, JWKS and token) over 3,000 observes of `observables.json`.

use std::time::{Duration, Instant};

use testkit::child::Banner;
use testkit::procfs::{load_average, proc_status_kib};
use testkit::samples::mb;

use crate::support::{verdict, Bench};

/// The `demo` section: observes of `observables.json` sent to `gti-relay
/// demo`, and after which of them its RSS is read first.
const DEMO_REQUESTS: usize = 3000;
const DEMO_FIRST_READING: usize = 500;
const DEMO_TIME_LIMIT: Duration = Duration::from_secs(900);
const DEMO_OBSERVABLES: &str = include_str!("../../observables.json");

/// Measures the demo's RSS and prints it.
pub fn run(bench: &Bench) {
    bench.demo().print();
}

impl Bench<'_> {
    /// `gti-relay demo` (its own simulated GTI and JWKS, its own token):
    /// [`DEMO_REQUESTS`] observes of `observables.json` in a row, its RSS
    /// read after the first [`DEMO_FIRST_READING`] and after the last.
    fn demo(&self) -> DemoRss {
        let load_average = load_average();
        let relay = self.spawn(&["demo"], &[], Banner::Demo);
        let token = relay.token.clone().expect("the demo prints its token");
        let demo = self.with_token(token);
        let pid = relay.pid();
        let agent = self.agent();
        let mut row = DemoRss {
            started_kib: proc_status_kib(pid, "VmRSS:"),
            load_average,
            ..DemoRss::default()
        };
        let mut expected = None;
        let started = Instant::now();
        while row.done < DEMO_REQUESTS && started.elapsed() < DEMO_TIME_LIMIT {
            let answer = demo.post(&agent, &relay, DEMO_OBSERVABLES);
            // Every answer must have the first one's sightings.
            let first = *expected.get_or_insert(*answer.as_ref().unwrap_or(&0));
            if !demo.check(answer, Some(first)) {
                row.errors += 1;
            }
            row.done += 1;
            if row.done == DEMO_FIRST_READING {
                row.first_kib = proc_status_kib(pid, "VmRSS:");
            }
        }
        row.elapsed = started.elapsed();
        row.last_kib = proc_status_kib(pid, "VmRSS:");
        row.sightings = expected.unwrap_or(0);
        row
    }
}

/// The `demo` section's figures.
#[derive(Default)]
struct DemoRss {
    done: usize,
    errors: usize,
    sightings: usize,
    elapsed: Duration,
    started_kib: u64,
    /// After [`DEMO_FIRST_READING`] observes.
    first_kib: u64,
    last_kib: u64,
    load_average: String,
}

impl DemoRss {
    fn print(&self) {
        let change = percent(self.first_kib, self.last_kib);
        println!(
            "## Demo RSS (`gti-relay demo`, release build: its own simulated GTI, JWKS and token): {DEMO_REQUESTS} observes of observables.json in a row; load average at the start: {}",
            self.load_average
        );
        println!();
        println!("| measure | value | target |");
        println!("|---|---|---|");
        println!(
            "| observes (errors; sightings per answer; requests / s) | {} ({}; {}; {:.1}) | {DEMO_REQUESTS} |",
            self.done,
            self.errors,
            self.sightings,
            self.done as f64 / self.elapsed.as_secs_f64()
        );
        println!("| RSS after start-up | {:.1} MiB | |", mb(self.started_kib));
        println!(
            "| RSS after observe {DEMO_FIRST_READING} | {:.1} MiB | |",
            mb(self.first_kib)
        );
        println!(
            "| RSS after observe {} | {:.1} MiB | |",
            self.done,
            mb(self.last_kib)
        );
        println!(
            "| change from observe {DEMO_FIRST_READING} to {} | {change:+.1} % | within ±10 %: {} |",
            self.done,
            verdict(change.abs() <= 10.0)
        );
    }
}

/// The change from `from` to `to`, in per cent of `from`.
fn percent(from: u64, to: u64) -> f64 {
    (to as f64 / from.max(1) as f64 - 1.0) * 100.0
}
