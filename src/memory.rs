//! The heap: glibc's malloc set up by the program itself, and the memory
//! that requests free handed back to the system soon after they end. No
//! other module touches the allocator, and this is the crate's only
//! `unsafe` code: two libc calls, each with its `SAFETY` note.
//!
//! Why: glibc gives threads that contend for the heap arenas of their own,
//! up to 8 per core, and gives back to the system only the free memory at
//! the top of each. After a 30 MB answer built on 64 call threads, the
//! freed pages stay spread over the arenas and the RSS stays near its peak
//! for good. Two arenas (what the image's `GLIBC_TUNABLES` used to ask
//! for) and a `malloc_trim` after requests end bring it back down without
//! any environment variable; BENCHMARKS.md compares this with jemalloc and
//! mimalloc (idle, peak and after-load RSS, CPU) and says why it won.
//!
//! [`restart_without_thread_caches`] turns glibc's per-thread caches off,
//! which would otherwise hold a little memory on each of hundreds of
//! threads, out of the trim's reach.
//!
//! Bounds: one thread, asleep while no request ends; at most one trim per
//! [`TRIM_INTERVAL`], the last one at most that long after the last request,
//! and one more [`SETTLE`] later, when the idle call threads have ended.
//! Elsewhere than glibc (musl, macOS) both are no-ops and no thread starts.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sync::{lock, recover};
use crate::workflow::pool::IDLE_EXIT;

/// The most malloc arenas: two serve the call threads of a 2-core pod
/// without lock contention that shows in the CPU figures (BENCHMARKS.md),
/// and leave little free memory stranded.
pub const ARENAS: i32 = 2;

/// The least time between two trims: a trim walks the whole heap, so under
/// load it runs once per interval, not once per request.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(1);

/// How long after its last trim an idle relay trims once more: by then the
/// call threads have idled out and freed their stacks and caches.
pub const SETTLE: Duration = IDLE_EXIT.saturating_add(Duration::from_secs(1));

/// Sets the allocator up for a long-running relay: call once at start-up,
/// before the threads start (the arena limit applies to arenas made after
/// it). Serve and demo do; the one-shot lookups need not.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets a tunable of glibc's allocator; it takes
        // plain integers, touches no memory of ours, and is safe to call at
        // any time from any thread (glibc takes its own locks).
        let accepted = unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) };
        if accepted != 1 {
            log::warn!("glibc refused the malloc arena limit ({ARENAS})");
        }
    }
}

/// The glibc tunable of the per-thread caches.
const THREAD_CACHES: &str = "glibc.malloc.tcache_count";

/// Set in the restarted relay's environment, so that it never restarts
/// again whatever its glibc makes of `GLIBC_TUNABLES` (glibc parses that
/// variable at start-up and, depending on its version, rewrites it).
pub const RESTARTED: &str = "GTI_RELAY_RESTARTED_WITHOUT_THREAD_CACHES";

/// Starts this program again, same arguments and process id, with glibc's
/// per-thread malloc caches off, unless the environment already says how
/// many chunks they keep (an operator's `GLIBC_TUNABLES` wins). Call it
/// first in a long-running command, before any thread starts: it returns
/// only when it does not restart (the setting is there, the allocator is
/// not glibc's), or with the error that kept it from restarting, which the
/// caller logs once logging is up; the relay then runs with the caches.
///
/// Why: each thread keeps up to 7 freed chunks of each of 64 small sizes
/// in a cache of its own, which neither the arenas nor `malloc_trim`
/// reach. With a thread per client connection, per worker and per call in
/// flight (over 500 under `make soak`), the caches held about 25 MB and
/// grew all through the soak as rarer sizes filled up (RSS +4 to 6 % over
/// its second half; with the caches off, flat at 32 MB and no slower:
/// BENCHMARKS.md). glibc reads this setting only from `GLIBC_TUNABLES` at
/// start-up: no `mallopt` parameter sets it, hence the restart.
pub fn restart_without_thread_caches() -> Option<std::io::Error> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt as _;
        let current = std::env::var_os("GLIBC_TUNABLES").unwrap_or_default();
        if std::env::var_os(RESTARTED).is_some()
            || current.to_string_lossy().contains(THREAD_CACHES)
        {
            return None;
        }
        let mut tunables = current;
        if !tunables.is_empty() {
            tunables.push(":");
        }
        tunables.push(format!("{THREAD_CACHES}=0"));
        let mut args = std::env::args_os();
        let name = args.next();
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(error) => return Some(error),
        };
        let mut command = std::process::Command::new(exe);
        if let Some(name) = name {
            command.arg0(name);
        }
        // Returns only on failure: on success this process image is gone.
        let command = command
            .args(args)
            .env("GLIBC_TUNABLES", tunables)
            .env(RESTARTED, "1");
        return Some(command.exec());
    }
    #[allow(unreachable_code)]
    None
}

/// Hands free heap memory back to the system.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a plain integer (the padding to keep at
        // the top of the heap) and releases only pages glibc holds free; it
        // locks each arena while it walks it, so it is safe beside any
        // allocation on other threads.
        unsafe { libc::malloc_trim(0) };
    }
}

/// Whether this build's allocator is glibc's, the one [`Releaser`] trims.
const TRIMS: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// Trims the heap soon after requests end, on a thread of its own (never
/// on a request's). Dropping it stops the thread.
pub struct Releaser {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    timing: Timing,
}

/// When the releaser trims (the constants above; shorter in tests).
#[derive(Clone, Copy)]
struct Timing {
    interval: Duration,
    settle: Duration,
}

impl Shared {
    fn new(timing: Timing) -> Shared {
        Shared {
            state: Mutex::default(),
            wake: Condvar::new(),
            timing,
        }
    }
}

#[derive(Default)]
struct State {
    /// A request ended since the last trim.
    pending: bool,
    stopped: bool,
}

impl Releaser {
    /// A releaser with its thread (none where the allocator is not glibc's,
    /// or when the thread cannot start: memory then stays as glibc keeps it).
    pub fn start() -> Releaser {
        let shared = Arc::new(Shared::new(Timing {
            interval: TRIM_INTERVAL,
            settle: SETTLE,
        }));
        let thread = TRIMS.then(|| {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("memory-release".to_owned())
                .stack_size(64 * 1024)
                .spawn(move || shared.release_until_stopped(trim))
                .map_err(|error| log::warn!("cannot start the memory release thread: {error}"))
                .ok()
        });
        Releaser {
            shared,
            thread: thread.flatten(),
        }
    }

    /// Tells the releaser a request ended (its memory is free now).
    pub fn request_ended(&self) {
        if self.thread.is_some() {
            lock(&self.shared.state).pending = true;
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Releaser {
    fn drop(&mut self) {
        lock(&self.shared.state).stopped = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            // A panic there (none is expected) has nothing left to undo.
            let _ = thread.join();
        }
    }
}

impl Shared {
    /// Waits for a request to end, runs `trim`, then lets `interval` pass
    /// before the next one; once no request has ended for `settle` after a
    /// trim, trims once more (what idle call threads freed as they ended).
    /// Returns when stopped.
    fn release_until_stopped(&self, trim: impl Fn()) {
        let mut state = lock(&self.state);
        // When to trim once more if no request ends before.
        let mut settle_at: Option<Instant> = None;
        loop {
            loop {
                if state.stopped {
                    return;
                }
                if state.pending {
                    break;
                }
                state = match settle_at {
                    None => recover(self.wake.wait(state)),
                    Some(at) => {
                        let left = at.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        recover(self.wake.wait_timeout(state, left)).0
                    }
                };
            }
            let after_requests = std::mem::take(&mut state.pending);
            drop(state);
            trim();
            settle_at = after_requests.then(|| Instant::now() + self.timing.settle);
            state = lock(&self.state);
            let next = Instant::now() + self.timing.interval;
            while !state.stopped {
                let left = next.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = recover(self.wake.wait_timeout(state, left)).0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc;

    use super::*;

    /// A releaser thread around `trim` that trims at most once per
    /// `interval`, and again `settle` after it once idle.
    fn releaser_timed(
        interval: Duration,
        settle: Duration,
        trim: impl Fn() + Send + 'static,
    ) -> Releaser {
        let shared = Arc::new(Shared::new(Timing { interval, settle }));
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.release_until_stopped(trim))
        };
        Releaser {
            shared,
            thread: Some(thread),
        }
    }

    /// A releaser as [`Releaser::start`] makes one, around `trim`.
    fn releaser(trim: impl Fn() + Send + 'static) -> Releaser {
        releaser_timed(TRIM_INTERVAL, SETTLE, trim)
    }

    #[test]
    fn a_burst_of_ended_requests_is_one_trim_then_one_more_after_the_interval() {
        let (trimmed, trims) = mpsc::channel();
        let releaser = releaser(move || trimmed.send(Instant::now()).unwrap());
        let started = Instant::now();
        releaser.request_ended();
        let first = trims.recv().unwrap();
        for _ in 0..100 {
            releaser.request_ended();
        }
        let second = trims.recv().unwrap();
        assert!(second.duration_since(first) >= TRIM_INTERVAL);
        assert!(first >= started);
        // Nothing ended since: no third trim, and dropping stops the thread
        // without waiting out an interval.
        drop(releaser);
        assert!(trims.recv().is_err(), "the thread ended with its sender");
    }

    #[test]
    fn an_idle_relay_is_trimmed_once_more_when_settled_then_no_more() {
        let (trimmed, trims) = mpsc::channel();
        let settle = Duration::from_millis(30);
        let releaser = releaser_timed(Duration::from_millis(1), settle, move || {
            trimmed.send(Instant::now()).unwrap()
        });
        releaser.request_ended();
        let after_request = trims.recv().unwrap();
        let settled = trims.recv().unwrap();
        assert!(settled.duration_since(after_request) >= settle);
        // Nothing more while no request ends (bounded: 20 settle times).
        let quiet = trims.recv_timeout(settle * 20);
        assert!(quiet.is_err(), "{quiet:?}");
        drop(releaser);
    }

    #[test]
    fn an_idle_releaser_does_not_trim() {
        let count = Arc::new(AtomicU64::new(0));
        let releaser = {
            let count = Arc::clone(&count);
            releaser(move || {
                count.fetch_add(1, Ordering::SeqCst);
            })
        };
        drop(releaser);
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn the_real_trim_and_configuration_are_harmless_to_call() {
        configure();
        trim();
        let releaser = Releaser::start();
        assert_eq!(releaser.thread.is_some(), TRIMS);
        releaser.request_ended();
        drop(releaser);
    }
}
