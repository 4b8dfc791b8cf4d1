//! Runs an observe request: the requests [`super::plan`] names go to the
//! [`CallPool`] in the request's own lane, each outcome goes back to the
//! plan, which names the requests that follow; an observable that is
//! complete goes, through a channel, to the request's thread, which maps it
//! on rayon (CPU work, in parallel with the calls still out) and keeps only
//! what the mapping made of it. [`call_all`] runs independent requests of
//! one type the same way (deliberate, respond, tiles, health).
//!
//! Nothing here decides anything the plan decides. What it adds is time:
//! every call gets what is left of the request's deadline as its budget; a
//! retry waits in the pool's queue (holding no call slot) unless its wait
//! would end past the deadline, in which case the call fails as it is; and
//! when the deadline passes, the request answers with the observables that
//! completed, the calls still queued are dropped, and those running end
//! within their budget. This is the relay's one retry loop.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};

use crate::sync::{lock, recover};
use std::time::Instant;

use super::plan::{first_calls, Next, Outcome, Progress, Step};
use super::pool::{CallPool, Lane};
use super::{Findings, Settings};
use crate::gti::{Endpoint, Gti, GtiError, GtiRequest, Try};
use crate::logging;
use crate::observable::Observable;

/// What the caller does with one observable's outcome, on a rayon thread;
/// must be cheap to share across threads.
pub type MapFn<'a, R> = dyn Fn(&Observable, Result<Findings, GtiError>) -> R + Sync + 'a;

/// Every observable's outcome, mapped by `map`, in request order: `None`
/// for an observable that had not completed when `deadline` passed.
pub fn observe<R: Send>(
    pool: &CallPool,
    gti: &Gti,
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
    let request = Arc::new(ObserveRun {
        caller: Caller {
            gti: gti.clone(),
            key: key.to_owned(),
            deadline,
            lane: pool.lane(),
        },
        settings: settings.clone(),
        observables: observables
            .iter()
            .map(|observable| ObservableCalls {
                value: observable.value.clone(),
                progress: Mutex::new(Progress::new(observable, settings)),
            })
            .collect(),
        done,
    });
    let first: Vec<Vec<Step>> = observables
        .iter()
        .map(|observable| first_calls(observable, settings))
        .collect();
    // Every observable's detections first: they head the critical path.
    for urgent in [true, false] {
        for (index, steps) in first.iter().enumerate() {
            for step in steps.iter().filter(|step| step.is_urgent() == urgent) {
                request.submit(index, step.clone(), 0, None);
            }
        }
    }
    let mut results = map_as_completed(&completed, observables, deadline, map);
    // Calls still queued are not needed any more.
    request.caller.lane.close();
    // An observable whose only calls still out are entity v1 look-ups
    // keeps everything else (SPEC §8.1).
    for (index, slot) in results.iter_mut().enumerate() {
        if slot.is_none() {
            let settled = lock(&request.observables[index].progress).settle(deadline_passed);
            *slot = settled.map(|findings| map(&observables[index], Ok(findings)));
        }
    }
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
            // The mapping's log lines are the request's too.
            let context = logging::current();
            scope.spawn(move |_| {
                let _entered = logging::enter(context);
                let mapped = map(observable, findings);
                if let Some(slot) = lock(results).get_mut(index) {
                    *slot = Some(mapped);
                }
            });
        }
    });
    recover(results.into_inner())
}

/// One request through the pool, for callers outside an observe request
/// (the health check): made with the same limiter, retries and deadline.
pub fn call_once<R: GtiRequest>(
    pool: &CallPool,
    gti: &Gti,
    key: &str,
    request: R,
    deadline: Instant,
) -> Result<R::Output, GtiError> {
    call_all(pool, gti, key, vec![request], deadline)
        .pop()
        .flatten()
        .unwrap_or_else(|| Err(deadline_passed(R::ENDPOINT)))
}

/// Independent requests, all at once through the pool (each with the same
/// limiter, retries and deadline as an observe request's): their results
/// in the order of `requests`, `None` for one not done when `deadline`
/// passed.
pub fn call_all<R: GtiRequest>(
    pool: &CallPool,
    gti: &Gti,
    key: &str,
    requests: Vec<R>,
    deadline: Instant,
) -> Vec<Option<Result<R::Output, GtiError>>> {
    let mut results: Vec<Option<Result<R::Output, GtiError>>> =
        requests.iter().map(|_| None).collect();
    if requests.is_empty() {
        return results;
    }
    let (done, answered) = mpsc::channel();
    let caller = Arc::new(Caller {
        gti: gti.clone(),
        key: key.to_owned(),
        deadline,
        lane: pool.lane(),
    });
    for (index, request) in requests.into_iter().enumerate() {
        Arc::new(SingleCall {
            caller: Arc::clone(&caller),
            index,
            request,
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

/// The error of a call that could not be made, or retried, before the
/// request's deadline.
fn deadline_passed(endpoint: Endpoint) -> GtiError {
    GtiError::Unavailable {
        endpoint,
        detail: "the request's deadline passed first".to_owned(),
    }
}

/// What every call of a request needs.
struct Caller {
    gti: Gti,
    key: String,
    deadline: Instant,
    lane: Lane,
}

impl Caller {
    /// One try of `request`, within what is left of the deadline: the
    /// answer, or when to try again.
    fn attempt<R: GtiRequest>(
        &self,
        request: &R,
        attempt: u32,
    ) -> Result<Result<R::Output, GtiError>, Instant> {
        let now = Instant::now();
        let left = self.deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Ok(Err(deadline_passed(R::ENDPOINT)));
        }
        match self.gti.try_request(&self.key, request, attempt, left) {
            Try::Done(result) => Ok(result),
            Try::Retry { error, after } => {
                // A wait that would end past the deadline is not waited for.
                match Instant::now().checked_add(after) {
                    Some(due) if due < self.deadline => {
                        log::debug!(
                            "GTI {} API: retrying in {} ms",
                            R::ENDPOINT.name(),
                            after.as_millis()
                        );
                        Err(due)
                    }
                    _ => Ok(Err(error)),
                }
            }
        }
    }

    /// One try of `step`'s request, its answer as the step's outcome.
    fn attempt_step(&self, step: &Step, attempt: u32) -> Result<Outcome, Instant> {
        Ok(match step {
            Step::Detections(request) => Outcome::Detections(self.attempt(request, attempt)?),
            Step::DetectionEvents { index, request } => Outcome::DetectionEvents {
                index: *index,
                result: self.attempt(request, attempt)?,
            },
            Step::Window { index, request } => Outcome::Window {
                index: *index,
                result: self.attempt(request, attempt)?,
            },
            Step::Dhcp(request) => Outcome::Dhcp(self.attempt(request, attempt)?),
            Step::EntitySummary(request) => Outcome::EntitySummary(self.attempt(request, attempt)?),
            Step::PassiveDns(request) => Outcome::PassiveDns(self.attempt(request, attempt)?),
            Step::File(request) => Outcome::File(self.attempt(request, attempt)?),
        })
    }
}

/// An observe request's calls in flight and their results so far.
struct ObserveRun {
    caller: Caller,
    settings: Settings,
    observables: Vec<ObservableCalls>,
    done: Sender<(usize, Result<Findings, GtiError>)>,
}

struct ObservableCalls {
    value: String,
    progress: Mutex<Progress>,
}

impl ObserveRun {
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
        let outcome = match self.caller.attempt_step(&step, attempt) {
            Ok(outcome) => outcome,
            Err(due) => return self.submit(index, step, attempt + 1, Some(due)),
        };
        // A call cut short by the deadline leaves its observable unfinished:
        // the request reports the deadline, not the symptom of the cut.
        if outcome.is_err() && Instant::now() >= self.caller.deadline {
            return;
        }
        let next = lock(&observable.progress).on_done(outcome, &observable.value, &self.settings);
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

/// A single request and where its answer goes (with its index).
struct SingleCall<R: GtiRequest> {
    caller: Arc<Caller>,
    index: usize,
    request: R,
    done: Mutex<Option<Sender<Indexed<R::Output>>>>,
}

/// A result with the index of its request.
type Indexed<T> = (usize, Result<T, GtiError>);

impl<R: GtiRequest> SingleCall<R> {
    fn submit(self: Arc<Self>, attempt: u32, due: Option<Instant>) {
        let lane_job = Arc::clone(&self);
        let job = Box::new(move || lane_job.run(attempt));
        match due {
            None => self.caller.lane.submit(true, job),
            Some(due) => self.caller.lane.submit_at(due, true, job),
        }
    }

    fn run(self: Arc<Self>, attempt: u32) {
        match self.caller.attempt(&self.request, attempt) {
            Ok(result) => {
                if let Some(done) = lock(&self.done).take() {
                    drop(done.send((self.index, result)));
                }
            }
            Err(due) => self.submit(attempt + 1, Some(due)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctim::{reference, Context, Fragment};
    use crate::gti::model::Verbatim;
    use crate::gti::{DecodeError, HttpCall, Transport};
    use crate::workflow::Summary;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Ids `transient:<type>-0`, `-1`, … in the order they are asked for.
    fn counter() -> impl Fn(&str) -> String + Sync {
        let next = AtomicUsize::new(0);
        move |kind: &str| format!("transient:{kind}-{}", next.fetch_add(1, Ordering::SeqCst))
    }
    use crate::workflow::fixtures::{detection_json, event_json, settings, uuids};
    use serde_json::{json, Value};
    use std::sync::Mutex;

    fn event(uuid: &str, timestamp: &str) -> Value {
        event_json(uuid, timestamp)
    }

    /// The value of parameter `name` in `url` (the tests' values need no
    /// decoding).
    fn param<'a>(url: &'a str, name: &str) -> &'a str {
        url.split(['?', '&'])
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_default()
    }

    /// `value` as the bytes GTI would send.
    fn bytes(value: &Value) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    /// An in-memory GTI that answers from fixed JSON and records its calls.
    #[derive(Default)]
    struct FakeGti {
        /// `{"detections": […], "rules": […]}`; `None` fails the call.
        detections: Option<Value>,
        events: Vec<Value>,
        searched: Vec<Value>,
        dhcp: Vec<Value>,
        calls: Mutex<Vec<String>>,
    }

    impl FakeGti {
        fn record(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }

        /// The answer to `call`, as GTI's bytes.
        fn answer(&self, call: &HttpCall) -> Result<Vec<u8>, GtiError> {
            let body: Value = call
                .body
                .as_deref()
                .map_or(Value::Null, |body| serde_json::from_str(body).unwrap());
            match call.endpoint {
                Endpoint::Detections => {
                    self.record(format!(
                        "detections {}",
                        param(&call.url, "indicator_value")
                    ));
                    self.detections
                        .as_ref()
                        .map(bytes)
                        .ok_or(GtiError::InvalidKey)
                }
                Endpoint::DetectionEvents => {
                    let uuid = param(&call.url, "detection_uuid");
                    self.record(format!("events {uuid}"));
                    if uuid == "broken" {
                        return Err(GtiError::InvalidKey);
                    }
                    let wrapped: Vec<Value> = self
                        .events
                        .iter()
                        .map(|event| json!({"event": event}))
                        .collect();
                    Ok(bytes(&json!({"events": wrapped})))
                }
                Endpoint::EventSearch => {
                    let end = body["end_date"].as_str().unwrap();
                    self.record(format!("search {} {end}", body["query"].as_str().unwrap()));
                    let events = if end.starts_with("2026-11-30") {
                        self.searched.clone()
                    } else {
                        Vec::new()
                    };
                    Ok(bytes(&json!({"events": events})))
                }
                Endpoint::Dhcp => {
                    let asked = body["entities"].as_array().map_or(0, Vec::len);
                    self.record(format!("dhcp {asked}"));
                    Ok(bytes(
                        &json!({"entity_tracking_bulk_response": {"dhcp": self.dhcp}}),
                    ))
                }
                other => panic!("observe never calls {other:?}"),
            }
        }
    }

    impl Transport for FakeGti {
        fn try_send(
            &self,
            _key: &str,
            call: &HttpCall,
            _attempt: u32,
            _budget: Duration,
            read: &mut dyn FnMut(&[u8]) -> Result<(), DecodeError>,
        ) -> Try<()> {
            Try::Done(
                self.answer(call)
                    .and_then(|body| read(&body).map_err(|error| error.at(call.endpoint))),
            )
        }
    }

    /// The region's GTI over `transport`.
    fn gti(transport: Arc<impl Transport + 'static>) -> Gti {
        Gti::new(transport, crate::region::Region::Us.default_urls())
    }

    /// One observable's findings, its calls made on a pool of its own.
    fn events_for_observable(
        gti: &Gti,
        key: &str,
        settings: &Settings,
        observable: &Observable,
    ) -> Result<Findings, GtiError> {
        let pool = CallPool::new(16);
        let deadline = Instant::now() + Duration::from_secs(3600);
        observe(
            &pool,
            gti,
            key,
            settings,
            std::slice::from_ref(observable),
            deadline,
            &|_, findings| findings,
        )
        .pop()
        .flatten()
        .unwrap()
    }

    #[test]
    fn one_observable_makes_every_call_once_and_gets_enriched_events() {
        let detection = |uuid, account| {
            detection_json(uuid, account, "rule-1", "10.0.0.1", "dst.ip", &["1.2.3.4"])
        };
        let gti = FakeGti {
            detections: Some(json!({
                "detections": [
                    detection("det-1", "acme"),
                    detection("broken", "acme"),
                    detection("det-demo", "dmo"),
                ],
                "rules": [{"uuid": "rule-1"}],
            })),
            events: vec![
                json!({"uuid": "e1", "timestamp": "2026-11-29T10:00:00.000Z",
                "src": {"ip": "10.0.0.1", "internal": true}, "dst": {"ip": "1.2.3.4", "internal": false}}),
            ],
            searched: vec![event("s1", "2026-11-29T09:00:00.000Z")],
            dhcp: vec![json!({"ip": "10.0.0.1", "hostname": "host"})],
            calls: Mutex::default(),
        };
        let observable = Observable {
            kind: crate::observable::ObservableType::Ip,
            value: "1.2.3.4".into(),
        };
        let gti = Arc::new(gti);
        let events = events_for_observable(
            &self::gti(Arc::clone(&gti)),
            "key",
            &settings(100, 3),
            &observable,
        )
        .unwrap();

        assert_eq!(uuids(&events.events), ["e1", "s1"]);
        let enriched: Vec<_> = events.enriched(&observable).collect();
        assert_eq!(
            enriched[0].dhcp[0][0].hostname,
            Some(Verbatim::Text("host".into()))
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
        let (mut detections, mut rules) = (Vec::new(), Vec::new());
        for mut detection in fixture("integration/detections_for_entity.json")
            .as_array()
            .unwrap()
            .clone()
        {
            let rule = detection.as_object_mut().unwrap().remove("rule").unwrap();
            detection["rule_uuid"] = rule["uuid"].clone();
            detections.push(detection);
            rules.push(rule);
        }
        let detections = json!({"detections": detections, "rules": rules});
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
        let events = events_for_observable(
            &self::gti(Arc::clone(&gti)),
            "Chop Suey!",
            &settings(100, 7),
            &observable,
        )
        .unwrap();

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

    impl Transport for TimedGti {
        fn try_send(
            &self,
            _key: &str,
            call: &HttpCall,
            attempt: u32,
            budget: Duration,
            read: &mut dyn FnMut(&[u8]) -> Result<(), DecodeError>,
        ) -> Try<()> {
            let endpoint = call.endpoint;
            let value = param(&call.url, "indicator_value");
            let (label, delay) = match endpoint {
                Endpoint::Detections if value == self.slow => {
                    (format!("detections {value}"), self.slow_delay)
                }
                Endpoint::Detections => (format!("detections {value}"), self.delay),
                other => (format!("{other:?}"), self.delay),
            };
            self.tries
                .lock()
                .unwrap()
                .push(format!("{label} #{attempt}"));
            std::thread::sleep(delay.min(budget));
            if delay > budget {
                return Try::Done(Err(GtiError::Unavailable {
                    endpoint,
                    detail: "timed out".into(),
                }));
            }
            match (self.retry_after, attempt) {
                (Some(after), 0) => Try::Retry {
                    error: GtiError::TooManyRequests { endpoint },
                    after,
                },
                // An empty answer of the endpoint's shape.
                _ => {
                    let empty = match endpoint {
                        Endpoint::Dhcp => json!({"entity_tracking_bulk_response": {"dhcp": []}}),
                        Endpoint::EventSearch | Endpoint::DetectionEvents => json!({"events": []}),
                        _ => json!({"detections": [], "rules": []}),
                    };
                    Try::Done(read(&bytes(&empty)).map_err(|error| error.at(endpoint)))
                }
            }
        }
    }

    /// Observes `values` (IPs) with `windows` day windows on a pool of
    /// `threads`, giving up `within` from now.
    fn observe_ips<R: Send>(
        gti: Arc<impl Transport + 'static>,
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
            &self::gti(gti),
            "key",
            &settings(100, windows),
            &observables,
            deadline,
            map,
        )
    }

    fn ip(value: &str) -> Observable {
        Observable {
            kind: crate::observable::ObservableType::Ip,
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
