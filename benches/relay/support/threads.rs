//! The threads a relay creates while it works, counted by `perf stat -e
//! task:task_newtask -p <pid>` (every `clone` of a thread or process, in
//! every thread of the relay, those started meanwhile included), and set
//! against the GTI calls the mock received: issue 19's "threads created per
//! 1,000 GTI calls", whose target (< 5) says no call starts a thread.
//!
//! perf is optional: when it is missing, not allowed (it needs root or a
//! low `perf_event_paranoid`) or says nothing readable, the figure is
//! "n/a (perf unavailable)" and the bench goes on.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::procfs::threads;

/// How long perf may take to attach, and to report once interrupted.
const PERF_TIME_LIMIT: Duration = Duration::from_secs(5);

/// The target: fewer new threads than this per 1,000 GTI calls.
pub const TARGET_PER_THOUSAND: f64 = 5.0;

/// A running count of a process's new threads ([`NewThreads::stop`] ends
/// it; dropping it stops perf, uncounted).
pub struct NewThreads {
    perf: Option<Child>,
    pid: u32,
    /// The process's threads when the count started.
    threads_before: u64,
}

impl NewThreads {
    /// Attaches perf to process `pid` and returns once it counts (or has
    /// failed, which [`NewThreads::stop`] then reports).
    pub fn count(pid: u32) -> NewThreads {
        let mut perf = Command::new("perf")
            .args(["stat", "-e", "task:task_newtask", "-x", ",", "-p"])
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok();
        if let Some(perf) = &mut perf {
            wait_until_attached(perf, pid);
        }
        NewThreads {
            perf,
            pid,
            threads_before: threads(pid),
        }
    }

    /// Stops counting (SIGINT, after which perf prints its count) and sets
    /// the count against `gti_calls`.
    pub fn stop(mut self, gti_calls: usize) -> Threads {
        let kept = threads(self.pid).saturating_sub(self.threads_before);
        let created = self.perf.take().and_then(interrupt_and_read);
        Threads {
            created,
            kept,
            gti_calls,
        }
    }
}

impl Drop for NewThreads {
    fn drop(&mut self) {
        if let Some(mut perf) = self.perf.take() {
            // Our own child, by its handle.
            let _ = perf.kill();
            let _ = perf.wait();
        }
    }
}

/// Waits until `perf` holds a counter for each thread of `pid` (its
/// `perf_event` file descriptors), then a little longer for it to enable
/// them; at most [`PERF_TIME_LIMIT`]. A perf that has exited already
/// says why when it is read.
fn wait_until_attached(perf: &mut Child, pid: u32) {
    let fds = format!("/proc/{}/fd", perf.id());
    let started = Instant::now();
    while started.elapsed() < PERF_TIME_LIMIT && matches!(perf.try_wait(), Ok(None)) {
        let counters = std::fs::read_dir(&fds)
            .map(|fds| {
                fds.filter_map(Result::ok)
                    .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                    .filter(|target| target.to_string_lossy().contains("perf_event"))
                    .count() as u64
            })
            .unwrap_or(0);
        if counters >= threads(pid).max(1) {
            std::thread::sleep(Duration::from_millis(50));
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Interrupts `perf` as Ctrl-C would and reads the count from what it
/// prints (`value,unit,event,…`; `<not counted>` is 0: the process never
/// ran); `None` when it printed no count.
fn interrupt_and_read(mut perf: Child) -> Option<u64> {
    // Until it is waited for, its pid stays ours even if it has exited.
    if perf.try_wait().ok()?.is_none() {
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let started = Instant::now();
    while perf.try_wait().ok()?.is_none() {
        if started.elapsed() > PERF_TIME_LIMIT {
            let _ = perf.kill();
            let _ = perf.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut report = String::new();
    perf.stderr.take()?.read_to_string(&mut report).ok()?;
    let line = report
        .lines()
        .find(|line| line.contains("task:task_newtask"))?;
    match line.split(',').next()?.trim() {
        "<not counted>" => Some(0),
        count => count.parse().ok(),
    }
}

/// New threads over a stretch of work.
#[derive(Clone, Copy, Debug, Default)]
pub struct Threads {
    /// Threads (and processes) created; `None` without perf.
    pub created: Option<u64>,
    /// How many more threads the relay had at the end than at the start:
    /// those it started to keep (the call pool's, a connection's), not one
    /// per call.
    pub kept: u64,
    pub gti_calls: usize,
}

impl Threads {
    /// Threads created per 1,000 GTI calls, without the threads kept:
    /// those that came and went with the calls, which the target is about.
    pub fn passing_per_thousand(&self) -> Option<f64> {
        self.created
            .map(|created| self.per_thousand_of(created.saturating_sub(self.kept)))
    }

    fn per_thousand_of(&self, threads: u64) -> f64 {
        threads as f64 * 1000.0 / self.gti_calls.max(1) as f64
    }

    /// The threads that came and went per 1,000 calls, then what it is
    /// made of, e.g. `954 (241 created over 240 calls, 12 kept)`.
    pub fn cell(&self) -> String {
        match (self.created, self.passing_per_thousand()) {
            (Some(created), Some(per_thousand)) => format!(
                "{per_thousand:.0} ({created} created over {} calls, {} kept)",
                self.gti_calls, self.kept
            ),
            _ => "n/a (perf unavailable)".to_owned(),
        }
    }

    /// Whether the threads that came and went stay under the target;
    /// `None` without perf.
    pub fn met(&self) -> Option<bool> {
        self.passing_per_thousand()
            .map(|per_thousand| per_thousand < TARGET_PER_THOUSAND)
    }
}
