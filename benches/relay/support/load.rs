//! Clients posting to a relay at once ([`Bench::clients`]), when they stop
//! ([`Until`]), what they did ([`Load`]), and what other processes took from
//! the machine meanwhile ([`CpuReading`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use testkit::child::Relay;
use testkit::procfs::{clock_ticks_per_second, cores, cpu_ticks, machine_busy_ticks, own_ticks};

use super::{Bench, ROW_TIME_LIMIT};

/// A reading of the machine's CPU, to tell what processes other than the
/// bench and its relays took from it on (the machine is shared; its load
/// average counts the bench's own threads too). Interrupt time the kernel
/// charges to no process (some of loopback's softirq) counts as others'.
pub struct CpuReading {
    pub busy: u64,
    pub ours: u64,
    pub at: Instant,
}

impl CpuReading {
    /// `relay`: one that runs now and at the next reading; relays started
    /// and dropped in between count as the bench's (waited-for) children.
    pub fn now(relay: Option<&Relay>) -> CpuReading {
        CpuReading {
            busy: machine_busy_ticks(),
            ours: own_ticks() + relay.map_or(0, |relay| cpu_ticks(relay.pid())),
            at: Instant::now(),
        }
    }

    /// Other processes' CPU since this reading, in per cent of the machine
    /// (all its cores).
    pub fn others_percent(&self, relay: Option<&Relay>) -> f64 {
        let now = CpuReading::now(relay);
        let ours = now.ours.saturating_sub(self.ours);
        let others = now.busy.saturating_sub(self.busy).saturating_sub(ours);
        let seconds = now.at.duration_since(self.at).as_secs_f64().max(1e-3);
        others as f64 / clock_ticks_per_second() / seconds / cores() as f64 * 100.0
    }
}

/// When each client of [`Bench::clients`] stops.
#[derive(Clone, Copy)]
pub enum Until {
    /// After at least this long and at least 30 requests in all, or after
    /// [`ROW_TIME_LIMIT`].
    Least(Duration),
    /// After this many requests of its own, or after the time given.
    Each(usize, Duration),
}

impl Until {
    pub fn reached(self, elapsed: Duration, done: usize, mine: usize) -> bool {
        match self {
            Until::Least(least) => (elapsed >= least && done >= 30) || elapsed >= ROW_TIME_LIMIT,
            Until::Each(requests, limit) => mine >= requests || elapsed >= limit,
        }
    }
}

/// What [`Bench::clients`] did.
pub struct Load {
    pub done: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// The relay's utime + stime over the load, in clock ticks.
    pub relay_ticks: u64,
    /// What other processes took over the load (see [`CpuReading`]).
    pub others_percent: f64,
    /// The calls the mock GTI received meanwhile.
    pub gti_calls: usize,
}

impl Load {
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }

    /// The relay's CPU time per request, in ms.
    pub fn cpu_ms_per_request(&self) -> f64 {
        self.relay_ticks as f64 * 1000.0 / clock_ticks_per_second() / self.done.max(1) as f64
    }
}

impl Bench<'_> {
    /// `clients` threads, each with its own connection, posting `body` and
    /// checking every answer, all at once, until `until` says so.
    pub fn clients(
        &self,
        relay: &Relay,
        body: &str,
        expected: usize,
        clients: usize,
        until: Until,
    ) -> Load {
        let done = AtomicUsize::new(0);
        let errors = AtomicUsize::new(0);
        let ticks = cpu_ticks(relay.pid());
        let calls = self.gti.total_calls();
        let reading = CpuReading::now(Some(relay));
        let started = Instant::now();
        let (done_ref, errors_ref) = (&done, &errors);
        std::thread::scope(|scope| {
            for _ in 0..clients {
                scope.spawn(move || {
                    let agent = self.agent();
                    let mut mine = 0;
                    while !until.reached(started.elapsed(), done_ref.load(Ordering::SeqCst), mine) {
                        let answer = self.post(&agent, relay, body);
                        if !self.check(answer, Some(expected)) {
                            errors_ref.fetch_add(1, Ordering::SeqCst);
                        }
                        done_ref.fetch_add(1, Ordering::SeqCst);
                        mine += 1;
                    }
                });
            }
        });
        let gti_calls = self.gti.total_calls().saturating_sub(calls);
        self.gti.reset_calls();
        Load {
            done: done.load(Ordering::SeqCst),
            errors: errors.load(Ordering::SeqCst),
            elapsed: started.elapsed(),
            relay_ticks: cpu_ticks(relay.pid()).saturating_sub(ticks),
            others_percent: reading.others_percent(Some(relay)),
            gti_calls,
        }
    }
}
