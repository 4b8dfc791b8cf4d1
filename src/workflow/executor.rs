//! Runs an observe request: the calls [`super::plan`] names go to the
//! [`CallPool`] in the request's own lane, each call's outcome goes back to
//! the plan, which names the calls that follow; an observable that is
//! complete goes, through a channel, to the request's thread, which maps it
//! on rayon (CPU work, in parallel with the calls still out) and keeps only
//! what the mapping made of it.
//!
//! Nothing here decides anything the plan decides. What it adds is time:
//! every call gets what is left of the request's deadline as its budget; a
//! retry waits in the pool's queue (holding no call slot) unless its wait
//! would end past the deadline, in which case the call fails as it is; and
//! when the deadline passes, the request answers with the observables that
//! completed, the calls still queued are dropped, and those running end
//! within their budget.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::plan::{first_calls, Next, Outcome, Progress, Step};
use super::pool::{CallPool, Lane};
use super::{Findings, Settings};
use crate::gti::{Answer, Call, GtiApi, GtiError, Try};
use crate::observable::Observable;

/// What the caller does with one observable's outcome, on a rayon thread;
/// must be cheap to share across threads.
pub type MapFn<'a, R> = dyn Fn(&Observable, Result<Findings, GtiError>) -> R + Sync + 'a;

/// Every observable's outcome, mapped by `map`, in request order: `None`
/// for an observable that had not completed when `deadline` passed.
pub fn observe<R: Send>(
    pool: &CallPool,
    gti: &Arc<dyn GtiApi>,
    key: &str,
    settings: &Settings,
    observables: &[Observable],
    deadline: Instant,
    map: &MapFn<'_, R>,
) -> Vec<Option<R>> {
    if observables.is_empty() {
        return Vec::new();
    }
    let (done, completed) = mpsc::channel();
    let request = Arc::new(Request {
        caller: Caller {
            gti: Arc::clone(gti),
            key: key.to_owned(),
            deadline,
            lane: pool.lane(),
        },
        settings: settings.clone(),
        observables: observables
            .iter()
            .map(|observable| ObservableCalls {
                value: observable.value.clone(),
                query: observable.search_query(),
                progress: Mutex::new(Progress::new(settings)),
            })
            .collect(),
        done,
    });
    // Every observable's detections first: they head the critical path.
    let first = first_calls(settings);
    for step in first.iter().filter(|step| step.is_urgent()) {
        for index in 0..observables.len() {
            request.submit(index, step.clone(), 0, None);
        }
    }
    for step in first.iter().filter(|step| !step.is_urgent()) {
        for index in 0..observables.len() {
            request.submit(index, step.clone(), 0, None);
        }
    }
    let results = map_as_completed(&completed, observables, deadline, map);
    // Calls still queued are not needed any more.
    request.caller.lane.close();
    results
}

/// Maps each observable as it completes, until all have or `deadline`
/// passes; the mapping runs on rayon while the calls go on.
fn map_as_completed<R: Send>(
    completed: &Receiver<(usize, Result<Findings, GtiError>)>,
    observables: &[Observable],
    deadline: Instant,
    map: &MapFn<'_, R>,
) -> Vec<Option<R>> {
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..observables.len()).map(|_| None).collect());
    rayon::in_place_scope(|scope| {
        for _ in 0..observables.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let (index, findings) = match completed.recv_timeout(left) {
                Ok(next) => next,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            };
            let (results, observable) = (&results, &observables[index]);
            scope.spawn(move |_| {
                let mapped = map(observable, findings);
                if let Some(slot) = lock(results).get_mut(index) {
                    *slot = Some(mapped);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// One GTI call through the pool, for callers outside an observe request
/// (the health check): made with the same limiter, retries and deadline.
pub fn call_once(
    pool: &CallPool,
    gti: &Arc<dyn GtiApi>,
    key: &str,
    call: OwnedCall,
    deadline: Instant,
) -> Result<Answer, GtiError> {
    let endpoint = call.endpoint();
    call_all(pool, gti, key, vec![call], deadline)
        .pop()
        .flatten()
        .unwrap_or_else(|| Err(deadline_passed(endpoint)))
}

/// Independent GTI calls, all at once through the pool (each with the same
/// limiter, retries and deadline as an observe request's): their results in
/// the order of `calls`, `None` for a call not done when `deadline` passed.
pub fn call_all(
    pool: &CallPool,
    gti: &Arc<dyn GtiApi>,
    key: &str,
    calls: Vec<OwnedCall>,
    deadline: Instant,
) -> Vec<Option<Result<Answer, GtiError>>> {
    let mut results: Vec<Option<Result<Answer, GtiError>>> = calls.iter().map(|_| None).collect();
    if calls.is_empty() {
        return results;
    }
    let (done, answered) = mpsc::channel();
    let caller = Arc::new(Caller {
        gti: Arc::clone(gti),
        key: key.to_owned(),
        deadline,
        lane: pool.lane(),
    });
    for (index, call) in calls.into_iter().enumerate() {
        Arc::new(Once {
            caller: Arc::clone(&caller),
            index,
            call,
            done: Mutex::new(Some(done.clone())),
        })
        .submit(0, None);
    }
    drop(done);
    let mut pending = results.len();
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match answered.recv_timeout(left) {
            Ok((index, result)) => {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
                pending -= 1;
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    // Calls still queued are not needed any more.
    caller.lane.close();
    results
}

/// A call that owns what it is about, for [`call_once`] and [`call_all`].
#[derive(Debug, Clone)]
pub enum OwnedCall {
    Detections {
        value: String,
    },
    Search {
        query: String,
        window: crate::gti::DayWindow,
    },
    DetectionList {
        window: crate::gti::DayWindow,
        offset: usize,
    },
    Resolve {
        detection_uuid: String,
        resolution: String,
    },
}

impl OwnedCall {
    fn call(&self) -> Call<'_> {
        match self {
            OwnedCall::Detections { value } => Call::Detections { value },
            OwnedCall::Search { query, window } => Call::Search { query, window },
            OwnedCall::DetectionList { window, offset } => Call::DetectionList {
                window,
                offset: *offset,
            },
            OwnedCall::Resolve {
                detection_uuid,
                resolution,
            } => Call::Resolve {
                detection_uuid,
                resolution,
            },
        }
    }

    fn endpoint(&self) -> crate::gti::Endpoint {
        self.call().endpoint()
    }
}

/// The error of a call that could not be made, or retried, before the
/// request's deadline.
fn deadline_passed(endpoint: crate::gti::Endpoint) -> GtiError {
    GtiError::Unavailable {
        endpoint,
        detail: "the request's deadline passed first".to_owned(),
    }
}

/// What every call of a request needs.
struct Caller {
    gti: Arc<dyn GtiApi>,
    key: String,
    deadline: Instant,
    lane: Lane,
}

impl Caller {
    /// One try of `call`, within what is left of the deadline: the answer,
    /// or when to try again.
    fn attempt(&self, call: &Call<'_>, attempt: u32) -> Result<Result<Answer, GtiError>, Instant> {
        let now = Instant::now();
        let left = self.deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Ok(Err(deadline_passed(call.endpoint())));
        }
        match self.gti.try_call(&self.key, call, attempt, left) {
            Try::Done(result) => Ok(result),
            Try::Retry { error, after } => {
                // A wait that would end past the deadline is not waited for.
                match Instant::now().checked_add(after) {
                    Some(due) if due < self.deadline => {
                        log::debug!(
                            "GTI {} API: retrying in {} ms",
                            call.endpoint().name(),
                            after.as_millis()
                        );
                        Err(due)
                    }
                    _ => Ok(Err(error)),
                }
            }
        }
    }
}

/// An observe request's calls in flight and their results so far.
struct Request {
    caller: Caller,
    settings: Settings,
    observables: Vec<ObservableCalls>,
    done: Sender<(usize, Result<Findings, GtiError>)>,
}

struct ObservableCalls {
    value: String,
    query: String,
    progress: Mutex<Progress>,
}

impl Request {
    /// Queues try `attempt` of `step` for observable `index`, at `due` or now.
    fn submit(self: &Arc<Self>, index: usize, step: Step, attempt: u32, due: Option<Instant>) {
        let urgent = step.is_urgent();
        let request = Arc::clone(self);
        let job = Box::new(move || request.run(index, step, attempt));
        match due {
            None => self.caller.lane.submit(urgent, job),
            Some(due) => self.caller.lane.submit_at(due, urgent, job),
        }
    }

    fn run(self: &Arc<Self>, index: usize, step: Step, attempt: u32) {
        let Some(observable) = self.observables.get(index) else {
            return;
        };
        let call = match &step {
            Step::Detections => Call::Detections {
                value: &observable.value,
            },
            Step::DetectionEvents { uuid, .. } => Call::DetectionEvents {
                detection_uuid: uuid,
            },
            Step::Window { index } => match self.settings.windows.get(*index) {
                Some(window) => Call::Search {
                    query: &observable.query,
                    window,
                },
                None => return,
            },
            Step::Dhcp { lookups } => Call::Dhcp { lookups },
        };
        let result = match self.caller.attempt(&call, attempt) {
            Ok(result) => result,
            Err(due) => return self.submit(index, step, attempt + 1, Some(due)),
        };
        // A call cut short by the deadline leaves its observable unfinished:
        // the request reports the deadline, not the symptom of the cut.
        if result.is_err() && Instant::now() >= self.caller.deadline {
            return;
        }
        let outcome = outcome(&step, result);
        let next =
            lock(&observable.progress).on_done(&step, outcome, &observable.value, &self.settings);
        match next {
            Next::Calls(steps) => {
                for step in steps {
                    self.submit(index, step, 0, None);
                }
            }
            // The request may have answered already (deadline): then
            // nobody listens, and that is fine.
            Next::Done(findings) => drop(self.done.send((index, findings))),
        }
    }
}

/// A call's answer as the outcome of its step.
fn outcome(step: &Step, result: Result<Answer, GtiError>) -> Outcome {
    let endpoint = match step {
        Step::Detections => crate::gti::Endpoint::Detections,
        Step::DetectionEvents { .. } => crate::gti::Endpoint::DetectionEvents,
        Step::Window { .. } => crate::gti::Endpoint::EventSearch,
        Step::Dhcp { .. } => crate::gti::Endpoint::Dhcp,
    };
    let wrong = |answer: &Answer| crate::gti::wrong_answer(endpoint, answer);
    match step {
        Step::Detections => Outcome::Detections(result.and_then(|answer| match answer {
            Answer::Detections(detections) => Ok(detections),
            other => Err(wrong(&other)),
        })),
        Step::DetectionEvents { .. } => {
            Outcome::DetectionEvents(result.and_then(|answer| match answer {
                Answer::DetectionEvents(events) => Ok(events),
                other => Err(wrong(&other)),
            }))
        }
        Step::Window { .. } => Outcome::Window(result.and_then(|answer| match answer {
            Answer::Events(events) => Ok(events),
            other => Err(wrong(&other)),
        })),
        Step::Dhcp { .. } => Outcome::Dhcp(result.and_then(|answer| match answer {
            Answer::Dhcp(records) => Ok(records),
            other => Err(wrong(&other)),
        })),
    }
}

/// A single call and where its answer goes (with its index).
struct Once {
    caller: Arc<Caller>,
    index: usize,
    call: OwnedCall,
    done: Mutex<Option<Sender<Numbered>>>,
}

/// A call's result with the call's index.
type Numbered = (usize, Result<Answer, GtiError>);

impl Once {
    fn submit(self: Arc<Self>, attempt: u32, due: Option<Instant>) {
        let lane_job = Arc::clone(&self);
        let job = Box::new(move || lane_job.run(attempt));
        match due {
            None => self.caller.lane.submit(true, job),
            Some(due) => self.caller.lane.submit_at(due, true, job),
        }
    }

    fn run(self: Arc<Self>, attempt: u32) {
        match self.caller.attempt(&self.call.call(), attempt) {
            Ok(result) => {
                if let Some(done) = lock(&self.done).take() {
                    drop(done.send((self.index, result)));
                }
            }
            Err(due) => self.submit(attempt + 1, Some(due)),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long a request may take at most when its deadline is not known:
/// for [`events_for_observable`], used by tests and tools.
const NO_DEADLINE: Duration = Duration::from_secs(3600);

/// One observable's findings, its calls made on a pool of its own.
pub fn events_for_observable(
    gti: &Arc<dyn GtiApi>,
    key: &str,
    settings: &Settings,
    observable: &Observable,
) -> Result<Findings, GtiError> {
    let pool = CallPool::new(16);
    observe(
        &pool,
        gti,
        key,
        settings,
        std::slice::from_ref(observable),
        Instant::now() + NO_DEADLINE,
        &|_, findings| findings,
    )
    .pop()
    .flatten()
    .unwrap_or_else(|| Ok(Findings::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctim::{reference, Context, Fragment};
    use crate::gti::model::{DetectionEvent, Detections, Loose, Obj, Rule, WireDhcpRecord};
    use crate::workflow::Summary;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Ids `transient:<type>-0`, `-1`, … in the order they are asked for.
    fn counter() -> impl Fn(&str) -> String + Sync {
        let next = AtomicUsize::new(0);
        move |kind: &str| format!("transient:{kind}-{}", next.fetch_add(1, Ordering::SeqCst))
    }
    use crate::workflow::fixtures::{detection, event_json, settings, typed, uuids};
    use serde_json::{json, Value};
    use std::sync::Mutex;

    fn event(uuid: &str, timestamp: &str) -> Value {
        event_json(uuid, timestamp)
    }

    /// An in-memory GTI that answers from fixed data and records its calls.
    #[derive(Default)]
    struct FakeGti {
        detections: Option<Detections>,
        events: Vec<Value>,
        searched: Vec<Value>,
        dhcp: Vec<Value>,
        calls: Mutex<Vec<String>>,
    }

    impl FakeGti {
        fn record(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }
    }

    impl GtiApi for FakeGti {
        fn try_call(&self, _key: &str, call: &Call<'_>, _attempt: u32, _budget: Duration) -> Try {
            Try::Done(match *call {
                Call::Detections { value } => {
                    self.record(format!("detections {value}"));
                    self.detections
                        .clone()
                        .ok_or(GtiError::InvalidKey)
                        .map(Answer::Detections)
                }
                Call::DetectionEvents { detection_uuid } => {
                    self.record(format!("events {detection_uuid}"));
                    if detection_uuid == "broken" {
                        return Try::Done(Err(GtiError::InvalidKey));
                    }
                    Ok(Answer::DetectionEvents(
                        self.events
                            .iter()
                            .map(|event| DetectionEvent::from_json(&event.to_string()).unwrap())
                            .collect(),
                    ))
                }
                Call::Search { query, window } => {
                    self.record(format!("search {query} {}", window.end));
                    Ok(Answer::Events(if window.end.starts_with("2026-11-30") {
                        self.searched.iter().map(typed).collect()
                    } else {
                        Vec::new()
                    }))
                }
                Call::Dhcp { lookups } => {
                    self.record(format!("dhcp {}", lookups.len()));
                    Ok(Answer::Dhcp(
                        self.dhcp
                            .iter()
                            .filter_map(|record| typed::<WireDhcpRecord>(record).checked())
                            .collect(),
                    ))
                }
                Call::DetectionList { offset, .. } => {
                    self.record(format!("list {offset}"));
                    Ok(Answer::DetectionList(Detections::default()))
                }
                Call::Resolve { detection_uuid, .. } => {
                    self.record(format!("resolve {detection_uuid}"));
                    Ok(Answer::Resolved)
                }
            })
        }

        fn call_budget(&self) -> Duration {
            Duration::from_secs(10)
        }
    }

    #[test]
    fn one_observable_makes_every_call_once_and_gets_enriched_events() {
        let gti = FakeGti {
            detections: Some(Detections {
                detections: vec![
                    detection(
                        "det-1",
                        "acme",
                        "rule-1",
                        "10.0.0.1",
                        "dst.ip",
                        &["1.2.3.4"],
                    ),
                    detection(
                        "broken",
                        "acme",
                        "rule-1",
                        "10.0.0.1",
                        "dst.ip",
                        &["1.2.3.4"],
                    ),
                    detection(
                        "det-demo",
                        "dmo",
                        "rule-1",
                        "10.0.0.1",
                        "dst.ip",
                        &["1.2.3.4"],
                    ),
                ],
                rules: vec![typed(&json!({"uuid": "rule-1"}))],
            }),
            events: vec![
                json!({"uuid": "e1", "timestamp": "2026-11-29T10:00:00.000Z",
                "src": {"ip": "10.0.0.1", "internal": true}, "dst": {"ip": "1.2.3.4", "internal": false}}),
            ],
            searched: vec![event("s1", "2026-11-29T09:00:00.000Z")],
            dhcp: vec![json!({"ip": "10.0.0.1", "hostname": "host"})],
            calls: Mutex::default(),
        };
        let observable = Observable {
            kind: "ip".into(),
            value: "1.2.3.4".into(),
        };
        let gti = Arc::new(gti);
        let shared: Arc<dyn GtiApi> = gti.clone();
        let events = events_for_observable(&shared, "key", &settings(100, 3), &observable).unwrap();

        assert_eq!(uuids(&events.events), ["e1", "s1"]);
        let enriched: Vec<_> = events.enriched(&observable).collect();
        assert_eq!(
            enriched[0].dhcp[0][0].hostname,
            Some(Loose::Text("host".into()))
        );
        assert_eq!(
            enriched[0].detection.and_then(|d| d.summary),
            Some(Summary {
                impacted_devices: 1,
                indicator_values: 1
            })
        );
        assert_eq!(enriched[1].observable, Some(&observable));
        let mut calls = gti.calls.lock().unwrap().clone();
        calls.sort();
        assert_eq!(
            calls,
            [
                "detections 1.2.3.4",
                "dhcp 1",
                "events broken",
                "events det-1",
                "search ip = '1.2.3.4' 2026-11-28T01:12:18.123Z",
                "search ip = '1.2.3.4' 2026-11-29T01:12:18.123Z",
                "search ip = '1.2.3.4' 2026-11-30T01:12:18.123Z",
            ]
        );
    }

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/reference/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    /// The reference's own workflow test: the same GTI answers give the
    /// reference's enriched events. They are no longer JSON with context
    /// spliced in, so they are compared through the mapper: the same events
    /// in the same order, and everything the mapper reads of them (event,
    /// detection, rule, summary, DHCP, observable) gives the same CTIM.
    #[test]
    fn the_reference_fixtures_give_the_reference_events() {
        // The reference fixture holds detections with their rule already
        // joined in; GTI sends `rule_uuid` and a separate `rules` list.
        let mut detections = Detections::default();
        for mut detection in fixture("integration/detections_for_entity.json")
            .as_array()
            .unwrap()
            .clone()
        {
            let rule = detection.as_object_mut().unwrap().remove("rule").unwrap();
            detection["rule_uuid"] = rule["uuid"].clone();
            detections.detections.push(typed(&detection));
            detections.rules.push(typed::<Obj<Rule>>(&rule));
        }
        let dhcp = fixture("integration/dhcp_records_by_ip.json")
            .as_object()
            .unwrap()
            .values()
            .flat_map(|records| records.as_array().unwrap().clone())
            .collect();
        let gti = FakeGti {
            detections: Some(detections),
            events: fixture("integration/events_for_detection.json")
                .as_array()
                .unwrap()
                .clone(),
            searched: fixture("integration/events.json")
                .as_array()
                .unwrap()
                .clone(),
            dhcp,
            calls: Mutex::default(),
        };
        let observable: Observable = serde_json::from_value(fixture("observable.json")).unwrap();

        let gti = Arc::new(gti);
        let shared: Arc<dyn GtiApi> = gti.clone();
        let events =
            events_for_observable(&shared, "Chop Suey!", &settings(100, 7), &observable).unwrap();

        let expected = fixture("workflow/events_for_observable.json");
        let expected_uuids: Vec<&str> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["uuid"].as_str().unwrap())
            .collect();
        assert_eq!(uuids(&events.events), expected_uuids);
        let mapped = |fragment: Fragment| {
            let bytes = crate::ctim::Answer::new(vec![fragment], &[]).to_vec();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        };
        let ids = counter();
        let ctx = Context {
            portal_url: "https://portal.icebrg.io",
            new_id: &ids,
        };
        let ours = mapped(Fragment::map(&ctx, events.enriched(&observable)));
        let ids = counter();
        let ctx = Context {
            portal_url: "https://portal.icebrg.io",
            new_id: &ids,
        };
        let mut theirs = reference::Bundle::new();
        theirs.add_events(&ctx, expected.as_array().unwrap());
        assert_eq!(ours["data"], theirs.into_json());
        assert_eq!(gti.calls.lock().unwrap().len(), 1 + 1 + 7 + 1);
    }

    #[test]
    fn a_detections_failure_fails_the_observable() {
        let results = observe_ips(
            Arc::new(FakeGti::default()),
            2,
            1,
            &["1.2.3.4"],
            Duration::from_secs(60),
            &|_, found| found.map(|findings| findings.events.len()),
        );
        assert_eq!(results, [Some(Err(GtiError::InvalidKey))]);
    }

    /// A GTI that answers every call after `delay`, except the detections
    /// of `slow`, which take `slow_delay`; 429s once when `throttle` is set.
    struct TimedGti {
        delay: Duration,
        slow: &'static str,
        slow_delay: Duration,
        retry_after: Option<Duration>,
        tries: Mutex<Vec<String>>,
    }

    impl GtiApi for TimedGti {
        fn try_call(&self, _key: &str, call: &Call<'_>, attempt: u32, budget: Duration) -> Try {
            let (label, delay) = match *call {
                Call::Detections { value } if value == self.slow => {
                    (format!("detections {value}"), self.slow_delay)
                }
                Call::Detections { value } => (format!("detections {value}"), self.delay),
                other => (format!("{:?}", other.endpoint()), self.delay),
            };
            self.tries
                .lock()
                .unwrap()
                .push(format!("{label} #{attempt}"));
            std::thread::sleep(delay.min(budget));
            if delay > budget {
                return Try::Done(Err(GtiError::Unavailable {
                    endpoint: call.endpoint(),
                    detail: "timed out".into(),
                }));
            }
            match (self.retry_after, attempt) {
                (Some(after), 0) => Try::Retry {
                    error: GtiError::TooManyRequests {
                        endpoint: call.endpoint(),
                    },
                    after,
                },
                _ => Try::Done(Ok(match call {
                    Call::Detections { .. } => Answer::Detections(Detections::default()),
                    Call::DetectionEvents { .. } => Answer::DetectionEvents(Vec::new()),
                    Call::Search { .. } => Answer::Events(Vec::new()),
                    Call::Dhcp { .. } => Answer::Dhcp(Vec::new()),
                    Call::DetectionList { .. } => Answer::DetectionList(Detections::default()),
                    Call::Resolve { .. } => Answer::Resolved,
                })),
            }
        }

        fn call_budget(&self) -> Duration {
            Duration::from_secs(10)
        }
    }

    /// Observes `values` (IPs) with `windows` day windows on a pool of
    /// `threads`, giving up `within` from now.
    fn observe_ips<R: Send>(
        gti: Arc<dyn GtiApi>,
        threads: usize,
        windows: usize,
        values: &[&str],
        within: Duration,
        map: &MapFn<'_, R>,
    ) -> Vec<Option<R>> {
        let observables: Vec<Observable> = values.iter().map(|value| ip(value)).collect();
        let deadline = Instant::now() + within;
        let pool = CallPool::new(threads);
        observe(
            &pool,
            &gti,
            "key",
            &settings(100, windows),
            &observables,
            deadline,
            map,
        )
    }

    fn ip(value: &str) -> Observable {
        Observable {
            kind: "ip".into(),
            value: value.into(),
        }
    }

    #[test]
    fn past_the_deadline_the_answer_holds_what_completed() {
        let gti = Arc::new(TimedGti {
            delay: Duration::ZERO,
            slow: "2.2.2.2",
            slow_delay: Duration::from_secs(30),
            retry_after: None,
            tries: Mutex::default(),
        });
        let results = observe_ips(
            gti,
            4,
            1,
            &["1.1.1.1", "2.2.2.2"],
            Duration::from_millis(300),
            &|_, found| found.is_ok(),
        );
        // The slow call was given only what was left of the deadline.
        assert_eq!(results, [Some(true), None]);
    }

    #[test]
    fn a_retry_waits_in_the_queue_and_not_past_the_deadline() {
        let retried = Arc::new(TimedGti {
            delay: Duration::ZERO,
            slow: "",
            slow_delay: Duration::ZERO,
            retry_after: Some(Duration::from_millis(20)),
            tries: Mutex::default(),
        });
        let results = observe_ips(
            retried.clone(),
            1,
            1,
            &["1.1.1.1"],
            Duration::from_secs(60),
            &|_, found| found.is_ok(),
        );
        assert_eq!(results, [Some(true)]);
        let mut tries = retried.tries.lock().unwrap().clone();
        tries.sort();
        assert_eq!(
            tries,
            [
                "EventSearch #0",
                "EventSearch #1",
                "detections 1.1.1.1 #0",
                "detections 1.1.1.1 #1"
            ]
        );

        // A Retry-After longer than what is left is not waited for.
        let hopeless = Arc::new(TimedGti {
            retry_after: Some(Duration::from_secs(3600)),
            tries: Mutex::default(),
            ..*retried
        });
        let results = observe_ips(
            hopeless.clone(),
            1,
            0,
            &["1.1.1.1"],
            Duration::from_secs(60),
            &|_, found| found.map(drop),
        );
        assert_eq!(
            results,
            [Some(Err(GtiError::TooManyRequests {
                endpoint: crate::gti::Endpoint::Detections
            }))]
        );
        assert_eq!(hopeless.tries.lock().unwrap().len(), 1);
    }
}
