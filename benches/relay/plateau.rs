//! The `plateau` section (issue 9), at L = 0: the relay's RSS sampled while
//! 8 clients send 800 observes each.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use testkit::procfs::{load_average, proc_status_kib};
use testkit::samples::mb;

use crate::support::data::{observe_body, LATENCY_SHAPE};
use crate::support::load::{Load, Until};
use crate::support::{verdict, Bench};

/// The `plateau` section: clients × observes each of the throughput rows'
/// N = 5 body, and how often the relay's RSS is sampled meanwhile.
const PLATEAU_CLIENTS: usize = 8;
const PLATEAU_REQUESTS: usize = 800;
const PLATEAU_OBSERVABLES: usize = 5;
const PLATEAU_TIME_LIMIT: Duration = Duration::from_secs(900);
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Measures the plateau over the first [`PLATEAU_OBSERVABLES`] of
/// `observables` and prints it.
pub fn run(bench: &Bench, observables: &[Value]) {
    bench.plateau(&observables[..PLATEAU_OBSERVABLES]).print();
}

impl Bench<'_> {
    /// L = 0: [`PLATEAU_CLIENTS`] clients × [`PLATEAU_REQUESTS`] observes
    /// each of `observables` (of [`LATENCY_SHAPE`]) against a fresh relay,
    /// its RSS sampled every [`RSS_SAMPLE_EVERY`] meanwhile.
    fn plateau(&self, observables: &[Value]) -> Plateau {
        self.gti.set_latency(Duration::ZERO);
        let load_average = load_average();
        let relay = self.start_relay(64, None);
        let pid = relay.pid();
        let idle_kib = proc_status_kib(pid, "VmRSS:");
        let body = observe_body(observables);
        let expected = observables.len() * LATENCY_SHAPE.events();
        let stop = AtomicBool::new(false);
        let max_kib = AtomicU64::new(idle_kib);
        let (load, end_kib) = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    max_kib.fetch_max(proc_status_kib(pid, "VmRSS:"), Ordering::SeqCst);
                    std::thread::sleep(RSS_SAMPLE_EVERY);
                }
            });
            let until = Until::Each(PLATEAU_REQUESTS, PLATEAU_TIME_LIMIT);
            let load = self.clients(&relay, &body, expected, PLATEAU_CLIENTS, until);
            let end_kib = proc_status_kib(pid, "VmRSS:");
            stop.store(true, Ordering::SeqCst);
            (load, end_kib)
        });
        Plateau {
            load,
            idle_kib,
            end_kib,
            max_kib: max_kib.load(Ordering::SeqCst).max(end_kib),
            peak_kib: proc_status_kib(pid, "VmHWM:"),
            load_average,
        }
    }
}

/// The `plateau` section's figures.
struct Plateau {
    load: Load,
    idle_kib: u64,
    end_kib: u64,
    max_kib: u64,
    peak_kib: u64,
    load_average: String,
}

impl Plateau {
    fn print(&self) {
        println!(
            "## Mixed-load RSS plateau (L = 0, GTI_MAX_INFLIGHT = 64, a fresh relay): {PLATEAU_CLIENTS} clients × {PLATEAU_REQUESTS} observes of N = {PLATEAU_OBSERVABLES} ({} events each); load average at the start: {}",
            LATENCY_SHAPE.events(),
            self.load_average
        );
        println!();
        println!("| measure | value | target |");
        println!("|---|---|---|");
        println!(
            "| observes (errors; requests / s over {:.1} s) | {} ({}; {:.1}) | {} |",
            self.load.elapsed.as_secs_f64(),
            self.load.done,
            self.load.errors,
            self.load.rate(),
            PLATEAU_CLIENTS * PLATEAU_REQUESTS
        );
        println!(
            "| RSS idle (after start-up) | {:.1} MiB | |",
            mb(self.idle_kib)
        );
        println!(
            "| RSS at the end of the load | {:.1} MiB | ≤ 32 MiB: {} |",
            mb(self.end_kib),
            verdict(mb(self.end_kib) <= 32.0)
        );
        println!(
            "| RSS max sampled every {} ms / peak (VmHWM) | {:.1} MiB / {:.1} MiB | |",
            RSS_SAMPLE_EVERY.as_millis(),
            mb(self.max_kib),
            mb(self.peak_kib)
        );
    }
}
