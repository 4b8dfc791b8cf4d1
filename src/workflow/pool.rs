//! The threads that make blocking GTI calls: at most `GTI_MAX_INFLIGHT` of
//! them, started as work comes and sleeping on a condition variable while
//! there is none (an idle relay uses no CPU; rayon's workers would spin
//! looking for work, DESIGN.md).
//!
//! Fairness: each request queues its calls in its own [`Lane`], and the
//! threads take one call from each lane in turn, so a request of one
//! observable is not queued behind the hundreds of calls of a big one. In a
//! lane, urgent calls (the critical path) go before the others. A call can
//! be queued for later ([`Lane::submit_at`]): a retry's backoff waits in
//! the queue, not on a thread, so it holds no call slot.
//!
//! A thread that has had nothing to do for [`IDLE_EXIT`] ends, so that an
//! idle relay holds no call threads (their stacks and their share of the
//! heap go back to the system); under load none is idle that long, so none
//! is started again and again (BENCHMARKS.md: threads per 1,000 calls).
//!
//! Bounds: threads ≤ the pool's size; a lane's queue holds what its request
//! planned (≤ 3 + day range + detections calls per observable, each body
//! ≤ `MAX_BODY_BYTES`), and a closed lane's queued calls are dropped.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::logging;
use crate::sync::{lock, recover};
use std::time::{Duration, Instant};

/// A call to make, with what to do with its answer.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long a call thread waits for work before it ends: long beside a
/// burst of calls (a GTI round trip is well under a second), short beside
/// the pauses between analysts' lookups.
pub const IDLE_EXIT: Duration = Duration::from_secs(2);

/// The pool. Dropping it stops its threads once their current call ends.
pub struct CallPool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    size: usize,
    stack_size: usize,
    idle_exit: Duration,
}

#[derive(Default)]
struct State {
    lanes: HashMap<u64, Queue>,
    /// Lanes with queued calls, in the order they get their next turn.
    turns: VecDeque<u64>,
    /// Calls queued for later: `(due, lane, urgent, job)`. Few (retries).
    later: Vec<(Instant, u64, bool, Job)>,
    next_lane: u64,
    threads: usize,
    idle: usize,
    /// Calls in the lanes' queues (not the later ones).
    queued: usize,
    stopped: bool,
}

#[derive(Default)]
struct Queue {
    urgent: VecDeque<Job>,
    normal: VecDeque<Job>,
    /// Whether the lane is in `turns`.
    waiting: bool,
}

impl State {
    fn enqueue(&mut self, lane: u64, urgent: bool, job: Job) {
        // A closed lane's calls are dropped: their request has answered.
        let Some(queue) = self.lanes.get_mut(&lane) else {
            return;
        };
        if urgent {
            queue.urgent.push_back(job);
        } else {
            queue.normal.push_back(job);
        }
        self.queued += 1;
        if !queue.waiting {
            queue.waiting = true;
            self.turns.push_back(lane);
        }
    }

    /// The next call: the front of the next lane's queue (urgent first).
    fn next_job(&mut self) -> Option<Job> {
        while let Some(lane) = self.turns.pop_front() {
            let Some(queue) = self.lanes.get_mut(&lane) else {
                continue;
            };
            let job = queue
                .urgent
                .pop_front()
                .or_else(|| queue.normal.pop_front());
            if queue.urgent.is_empty() && queue.normal.is_empty() {
                queue.waiting = false;
            } else {
                self.turns.push_back(lane);
            }
            if job.is_some() {
                self.queued -= 1;
                return job;
            }
        }
        None
    }

    /// Moves the calls that are due into their lanes; returns when the next
    /// one is due.
    fn promote_due(&mut self, now: Instant) -> Option<Instant> {
        let mut index = 0;
        while index < self.later.len() {
            if self.later[index].0 <= now {
                let (_, lane, urgent, job) = self.later.swap_remove(index);
                self.enqueue(lane, urgent, job);
            } else {
                index += 1;
            }
        }
        self.later.iter().map(|(due, ..)| *due).min()
    }
}

impl CallPool {
    /// A pool of at most `size` threads (at least one).
    pub fn new(size: usize) -> CallPool {
        CallPool::ending_idle_threads_after(size, IDLE_EXIT)
    }

    /// [`CallPool::new`], its threads ending after `idle_exit` without work.
    fn ending_idle_threads_after(size: usize, idle_exit: Duration) -> CallPool {
        CallPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                size: size.max(1),
                // TLS handshakes and JSON parsing run on these threads; the
                // default 2 MiB is far more than they need.
                stack_size: 512 * 1024,
                idle_exit,
            }),
        }
    }

    /// The most calls it makes at once.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// A new lane for one request's calls.
    pub fn lane(&self) -> Lane {
        let mut state = self.shared.lock();
        let id = state.next_lane;
        state.next_lane += 1;
        state.lanes.insert(id, Queue::default());
        Lane {
            id,
            shared: Arc::clone(&self.shared),
        }
    }

    /// The threads started so far (never more than [`CallPool::size`]).
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Wakes an idle thread for new work, and starts one more while the
    /// queued calls outnumber the idle threads and the pool is not full.
    /// (Counting idle threads alone would not do: a burst of calls sees the
    /// same idle threads, which have not woken yet, again and again.)
    fn wake_or_start(self: &Arc<Self>, state: &mut State) {
        if state.idle > 0 {
            self.wake.notify_one();
        }
        // Calls for later need a thread too, once idle ones may have ended.
        let unserved = state.queued > state.idle || (state.threads == 0 && !state.later.is_empty());
        if !unserved || state.threads >= self.size || state.stopped {
            return;
        }
        let shared = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name(format!("gti-call-{}", state.threads))
            .stack_size(self.stack_size)
            .spawn(move || shared.work());
        match started {
            Ok(_) => state.threads += 1,
            // The calls wait for the threads there are.
            Err(error) => log::warn!("cannot start a GTI call thread: {error}"),
        }
    }

    fn work(self: Arc<Self>) {
        let mut state = self.lock();
        // Whether the last wait lasted `idle_exit` without a call coming.
        let mut idled_out = false;
        loop {
            if state.stopped {
                state.threads -= 1;
                return;
            }
            let next_due = state.promote_due(Instant::now());
            if let Some(job) = state.next_job() {
                drop(state);
                // A panicking call must not take the thread (and its slot)
                // with it; its request answers by its deadline.
                if catch_unwind(AssertUnwindSafe(job)).is_err() {
                    log::error!("a GTI call panicked");
                }
                state = self.lock();
                continue;
            }
            // Calls queued for later keep the thread that will run them.
            if idled_out && next_due.is_none() {
                state.threads -= 1;
                return;
            }
            state.idle += 1;
            let wait = match next_due {
                Some(due) => due
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
                None => self.idle_exit,
            };
            let (guard, waited) = recover(self.wake.wait_timeout(state, wait));
            state = guard;
            state.idle -= 1;
            idled_out = next_due.is_none() && waited.timed_out();
        }
    }
}

/// One request's queue in the pool. Dropping it (or [`Lane::close`]) drops
/// the calls still queued; calls already running finish.
pub struct Lane {
    id: u64,
    shared: Arc<Shared>,
}

impl Lane {
    /// Queues a call; `urgent` ones go before the others of this lane. It
    /// runs in the log context of the thread that submits it (its
    /// request's: the request id is on the call's log lines).
    pub fn submit(&self, urgent: bool, job: Job) {
        let job: Job = Box::new(logging::carried(job));
        let mut state = self.shared.lock();
        state.enqueue(self.id, urgent, job);
        self.shared.wake_or_start(&mut state);
    }

    /// Queues a call to start no earlier than `due` (in the submitter's log
    /// context, as [`Lane::submit`]).
    pub fn submit_at(&self, due: Instant, urgent: bool, job: Job) {
        let job: Job = Box::new(logging::carried(job));
        let mut state = self.shared.lock();
        if !state.lanes.contains_key(&self.id) {
            return;
        }
        state.later.push((due, self.id, urgent, job));
        // An idle thread recomputes how long to sleep; otherwise a busy
        // one finds it when it comes back.
        self.shared.wake_or_start(&mut state);
    }

    /// Drops the calls still queued; later submits are dropped too.
    pub fn close(&self) {
        let (queue, later) = {
            let mut state = self.shared.lock();
            let queue = state.lanes.remove(&self.id);
            if let Some(queue) = &queue {
                state.queued -= queue.urgent.len() + queue.normal.len();
            }
            let mut later = Vec::new();
            let mut index = 0;
            while index < state.later.len() {
                if state.later[index].1 == self.id {
                    later.push(state.later.swap_remove(index));
                } else {
                    index += 1;
                }
            }
            (queue, later)
        };
        // Dropped outside the lock: a job's captures may take locks of
        // their own when they go.
        drop(queue);
        drop(later);
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.close();
    }
}

impl Drop for CallPool {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    type Gate = Arc<(Mutex<bool>, Condvar)>;

    fn open(gate: &Gate) {
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
    }

    /// A job that waits until `gate` opens, then reports `label`.
    fn gated(gate: &Gate, done: &mpsc::Sender<&'static str>, label: &'static str) -> Job {
        let (gate, done) = (Arc::clone(gate), done.clone());
        Box::new(move || {
            let (open, opened) = &*gate;
            let mut open = open.lock().unwrap();
            while !*open {
                open = opened.wait(open).unwrap();
            }
            drop(open);
            done.send(label).unwrap();
        })
    }

    fn reporting(done: &mpsc::Sender<&'static str>, label: &'static str) -> Job {
        let done = done.clone();
        Box::new(move || done.send(label).unwrap())
    }

    /// Occupies the pool's only thread until `gate` opens; returns once the
    /// thread is held, so that what is queued next waits.
    fn hold_the_thread(lane: &Lane, gate: &Gate, done: &mpsc::Sender<&'static str>) {
        let (running, started) = mpsc::channel();
        let blocker = gated(gate, done, "blocker");
        lane.submit(
            false,
            Box::new(move || {
                running.send(()).unwrap();
                blocker();
            }),
        );
        started.recv().unwrap();
    }

    #[test]
    fn lanes_take_turns_and_urgent_calls_go_first() {
        let pool = CallPool::new(1);
        let (done, finished) = mpsc::channel();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let big = pool.lane();
        let small = pool.lane();
        // The one thread is held while the queues fill up.
        hold_the_thread(&big, &gate, &done);
        for label in ["big 1", "big 2", "big 3"] {
            big.submit(false, reporting(&done, label));
        }
        big.submit(true, reporting(&done, "big urgent"));
        small.submit(false, reporting(&done, "small"));
        open(&gate);
        let order: Vec<_> = (0..6).map(|_| finished.recv().unwrap()).collect();
        // One call per lane in turn (big was queued first), urgent first.
        assert_eq!(
            order,
            ["blocker", "big urgent", "small", "big 1", "big 2", "big 3"]
        );
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn a_closed_lane_drops_its_queued_and_later_calls() {
        let pool = CallPool::new(1);
        let (done, finished) = mpsc::channel();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let other = pool.lane();
        hold_the_thread(&other, &gate, &done);
        let lane = pool.lane();
        lane.submit(false, reporting(&done, "dropped"));
        lane.submit_at(Instant::now(), false, reporting(&done, "dropped later"));
        lane.close();
        lane.submit(false, reporting(&done, "after close"));
        other.submit(false, reporting(&done, "kept"));
        open(&gate);
        assert_eq!(finished.recv().unwrap(), "blocker");
        assert_eq!(finished.recv().unwrap(), "kept");
        drop(done);
        assert!(finished.recv().is_err(), "the dropped calls never ran");
    }

    #[test]
    fn a_call_for_later_waits_in_the_queue_not_on_a_thread() {
        let pool = CallPool::new(1);
        let (done, finished) = mpsc::channel();
        let lane = pool.lane();
        let due = Instant::now() + Duration::from_millis(30);
        lane.submit_at(due, false, reporting(&done, "later"));
        // The one thread is free for other calls meanwhile.
        lane.submit(false, reporting(&done, "now"));
        assert_eq!(finished.recv().unwrap(), "now");
        assert_eq!(finished.recv().unwrap(), "later");
        assert!(Instant::now() >= due);
    }

    #[test]
    fn threads_start_with_the_work_up_to_the_size() {
        let pool = CallPool::new(3);
        assert_eq!(pool.threads(), 0);
        let (done, finished) = mpsc::channel();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let lane = pool.lane();
        for _ in 0..5 {
            lane.submit(false, gated(&gate, &done, "job"));
        }
        assert_eq!(pool.threads(), 3);
        open(&gate);
        for _ in 0..5 {
            finished.recv().unwrap();
        }
        assert_eq!(pool.threads(), 3);
    }

    #[test]
    fn a_burst_beside_idle_threads_still_starts_threads_up_to_the_size() {
        let pool = CallPool::new(4);
        let (done, finished) = mpsc::channel();
        let lane = pool.lane();
        // One thread, idle again after its call.
        lane.submit(false, reporting(&done, "first"));
        finished.recv().unwrap();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        for _ in 0..4 {
            lane.submit(false, gated(&gate, &done, "job"));
        }
        assert_eq!(
            pool.threads(),
            4,
            "the burst is not left to the idle thread"
        );
        open(&gate);
        for _ in 0..4 {
            finished.recv().unwrap();
        }
    }

    #[test]
    fn idle_threads_end_and_new_work_starts_them_again() {
        let pool = CallPool::ending_idle_threads_after(2, Duration::from_millis(20));
        let (done, finished) = mpsc::channel();
        let lane = pool.lane();
        lane.submit(false, reporting(&done, "first"));
        finished.recv().unwrap();
        // Bounded: the thread ends 20 ms after its call, or the test fails.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.threads() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(pool.threads(), 0, "the idle thread ended");
        lane.submit(false, reporting(&done, "second"));
        assert_eq!(finished.recv().unwrap(), "second");
    }

    #[test]
    fn a_thread_waiting_for_a_later_call_does_not_end() {
        let pool = CallPool::ending_idle_threads_after(1, Duration::from_millis(1));
        let (done, finished) = mpsc::channel();
        let lane = pool.lane();
        let due = Instant::now() + Duration::from_millis(50);
        lane.submit_at(due, false, reporting(&done, "later"));
        assert_eq!(finished.recv().unwrap(), "later");
        assert!(Instant::now() >= due);
    }

    #[test]
    fn a_panicking_call_keeps_its_thread() {
        let pool = CallPool::new(1);
        let (done, finished) = mpsc::channel();
        let lane = pool.lane();
        lane.submit(false, Box::new(|| panic!("boom")));
        lane.submit(false, reporting(&done, "after"));
        assert_eq!(finished.recv().unwrap(), "after");
    }
}
