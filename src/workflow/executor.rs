//! Runs an observe request's GTI calls concurrently: each call is one job of
//! a rayon scope, and a job never waits for another. When a call completes,
//! its job stores the result and spawns the calls that depended on it (a
//! detection's events after the detections, DHCP after the last of an
//! observable's other calls); the job that completes an observable also
//! maps it, so mapping runs in parallel and as early as it can.
//!
//! Waiting inside a pool thread (`join`, nested `par_iter`) would let that
//! thread pick up unrelated blocking calls meanwhile, or run its own
//! sub-calls one after the other when the pool is busy, and stretch the
//! chain far beyond its three round trips. This way the pool's size is
//! exactly the number of calls in flight.
//!
//! Order: the first calls are injected from outside the pool (all
//! detections first, then all windows) and run first come, first served;
//! calls spawned by a job go to that thread's own deque, which rayon serves
//! before the injected queue. So the chain's calls, the critical path,
//! overtake window calls still waiting for a free thread. Only the order
//! changes, never the calls or the answer.

use std::sync::{Mutex, MutexGuard, PoisonError};

use log::warn;

use super::merge::{match_detection_events, select_events};
use super::{dhcp_lookups, DhcpIndex, Findings, Settings};
use crate::gti::model::{Detection, DetectionEvent, Detections, Event};
use crate::gti::{DhcpLookup, GtiApi, GtiError};
use crate::observable::Observable;

/// What the caller does with one observable's outcome, on the thread that
/// completed it; must be cheap to share across threads.
pub type MapFn<'a, R> = dyn Fn(&Observable, Result<Findings, GtiError>) -> R + Sync + 'a;

/// Every observable's outcome, mapped by `map`, in request order, with the
/// GTI calls run on the current rayon pool (the global one outside a pool).
pub fn observe<R: Send>(
    gti: &dyn GtiApi,
    key: &str,
    settings: &Settings,
    observables: &[Observable],
    map: &MapFn<'_, R>,
) -> Vec<R> {
    let fans = fans(gti, key, settings, observables, map);
    rayon::in_place_scope(|scope| start(scope, &fans));
    fans.into_iter().filter_map(Fan::into_result).collect()
}

/// [`observe`] with the GTI calls run on `pool`, whose size bounds the
/// calls in flight. The calling thread (a request worker) only waits.
pub fn observe_on<R: Send>(
    pool: &rayon::ThreadPool,
    gti: &dyn GtiApi,
    key: &str,
    settings: &Settings,
    observables: &[Observable],
    map: &MapFn<'_, R>,
) -> Vec<R> {
    let fans = fans(gti, key, settings, observables, map);
    pool.in_place_scope(|scope| start(scope, &fans));
    fans.into_iter().filter_map(Fan::into_result).collect()
}

/// One observable's findings: the detection chain (detections → each
/// allowed detection's events) runs concurrently with all search windows;
/// then the merge, the cut, and one DHCP bulk look-up.
pub fn events_for_observable(
    gti: &dyn GtiApi,
    key: &str,
    settings: &Settings,
    observable: &Observable,
) -> Result<Findings, GtiError> {
    observe(
        gti,
        key,
        settings,
        std::slice::from_ref(observable),
        &|_, findings| findings,
    )
    .pop()
    .unwrap_or_else(|| Ok(Findings::default()))
}

/// One observable's calls in flight and their results so far.
struct Fan<'a, R> {
    gti: &'a dyn GtiApi,
    key: &'a str,
    settings: &'a Settings,
    observable: &'a Observable,
    query: String,
    map: &'a MapFn<'a, R>,
    state: Mutex<FanState<R>>,
}

struct FanState<R> {
    detections: Option<Result<Detections, GtiError>>,
    /// The events of each allowed detection, in detection order.
    detection_events: Vec<Option<Vec<DetectionEvent>>>,
    /// Each search window's answer, newest window first.
    windows: Vec<Option<Result<Vec<Event>, GtiError>>>,
    /// Calls before DHCP that have not completed yet.
    pending: usize,
    result: Option<R>,
}

fn fans<'a, R>(
    gti: &'a dyn GtiApi,
    key: &'a str,
    settings: &'a Settings,
    observables: &'a [Observable],
    map: &'a MapFn<'a, R>,
) -> Vec<Fan<'a, R>> {
    observables
        .iter()
        .map(|observable| Fan {
            gti,
            key,
            settings,
            observable,
            query: observable.search_query(),
            map,
            state: Mutex::new(FanState {
                detections: None,
                detection_events: Vec::new(),
                windows: settings.windows.iter().map(|_| None).collect(),
                // The detections call and every window.
                pending: 1 + settings.windows.len(),
                result: None,
            }),
        })
        .collect()
}

/// Spawns the first calls of every observable: all detections calls first
/// (they head the critical path), then all windows.
fn start<'a, R: Send>(scope: &rayon::Scope<'a>, fans: &'a [Fan<'a, R>]) {
    for fan in fans {
        scope.spawn(move |scope| fan.detections(scope));
    }
    for fan in fans {
        for index in 0..fan.settings.windows.len() {
            scope.spawn(move |scope| fan.window(scope, index));
        }
    }
}

impl<'a, R: Send> Fan<'a, R> {
    fn lock(&self) -> MutexGuard<'_, FanState<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Active detections, then the events of every allowed one in parallel.
    fn detections(&'a self, scope: &rayon::Scope<'a>) {
        let result = self.gti.detections(self.key, &self.observable.value);
        let allowed: Vec<String> = match &result {
            Ok(detections) => self
                .allowed(detections)
                .into_iter()
                .map(|detection| detection.uuid.clone())
                .collect(),
            Err(_) => Vec::new(),
        };
        let count = allowed.len();
        // The events calls are pending before this call counts as done, so
        // the merge cannot start until they are back too.
        self.complete_call(scope, |state| {
            state.detections = Some(result);
            state.detection_events = (0..count).map(|_| None).collect();
            state.pending += count;
        });
        for (index, uuid) in allowed.into_iter().enumerate() {
            scope.spawn(move |scope| self.detection_events(scope, index, &uuid));
        }
    }

    fn allowed<'d>(&self, detections: &'d Detections) -> Vec<&'d Detection> {
        detections
            .detections
            .iter()
            .filter(|detection| self.settings.allows(Some(&detection.account_uuid)))
            .collect()
    }

    fn detection_events(&'a self, scope: &rayon::Scope<'a>, index: usize, uuid: &str) {
        // As in the reference, one detection's failure only loses its events.
        let events = self
            .gti
            .detection_events(self.key, uuid)
            .unwrap_or_else(|error| {
                warn!("events of detection {uuid} skipped: {}", error.message());
                Vec::new()
            });
        self.complete_call(scope, |state| {
            if let Some(slot) = state.detection_events.get_mut(index) {
                *slot = Some(events);
            }
        });
    }

    /// One day window of the event search.
    fn window(&'a self, scope: &rayon::Scope<'a>, index: usize) {
        let result = self
            .gti
            .search_events(self.key, &self.query, &self.settings.windows[index]);
        self.complete_call(scope, |state| {
            if let Some(slot) = state.windows.get_mut(index) {
                *slot = Some(result);
            }
        });
    }

    /// Records one call's result; the last call before DHCP starts the merge.
    fn complete_call(&'a self, scope: &rayon::Scope<'a>, record: impl FnOnce(&mut FanState<R>)) {
        let done = {
            let mut state = self.lock();
            record(&mut state);
            state.pending -= 1;
            state.pending == 0
        };
        if done {
            self.merge(scope);
        }
    }

    /// Every call before DHCP has completed: merge, cut, then the DHCP
    /// look-up of the events kept.
    fn merge(&'a self, scope: &rayon::Scope<'a>) {
        let (detections, detection_events, windows) = {
            let mut state = self.lock();
            (
                state.detections.take(),
                std::mem::take(&mut state.detection_events),
                std::mem::take(&mut state.windows),
            )
        };
        // Every slot is filled before `pending` reaches zero; the defaults
        // are never used.
        let selected = detections
            .unwrap_or_else(|| Ok(Detections::default()))
            .and_then(|detections| {
                let allowed = self.allowed(&detections);
                let fetched = detection_events
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect();
                let detected =
                    match_detection_events(&detections, &allowed, fetched, &self.observable.value);
                let searched = windows
                    .into_iter()
                    .map(|window| window.unwrap_or_else(|| Ok(Vec::new())))
                    .collect();
                select_events(detected, searched, self.settings)
            });
        match selected {
            Ok(events) => {
                let lookups = dhcp_lookups(events.iter().map(|found| &found.event));
                let findings = Findings {
                    events,
                    dhcp: DhcpIndex::default(),
                };
                if lookups.is_empty() {
                    self.finish(Ok(findings));
                } else {
                    scope.spawn(move |_| self.dhcp(findings, &lookups));
                }
            }
            Err(error) => self.finish(Err(error)),
        }
    }

    fn dhcp(&self, mut findings: Findings, lookups: &[DhcpLookup]) {
        let result = self.gti.dhcp_records(self.key, lookups).map(|records| {
            findings.dhcp = DhcpIndex::new(records);
            findings
        });
        self.finish(result);
    }

    /// The observable is complete: map it here, on this thread, and keep
    /// only what the mapping made of it.
    fn finish(&self, result: Result<Findings, GtiError>) {
        let mapped = (self.map)(self.observable, result);
        self.lock().result = Some(mapped);
    }

    /// Always set once the scope has ended: a job that panics makes the
    /// scope panic instead of returning.
    fn into_result(self) -> Option<R> {
        self.state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctim::{reference, Answer, Context, Fragment};
    use crate::gti::model::{Loose, Obj, Rule, WireDhcpRecord};
    use crate::gti::{DayWindow, DhcpRecord};
    use crate::workflow::Summary;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Ids `transient:<type>-0`, `-1`, … in the order they are asked for.
    fn counter() -> impl Fn(&str) -> String + Sync {
        let next = AtomicUsize::new(0);
        move |kind: &str| format!("transient:{kind}-{}", next.fetch_add(1, Ordering::SeqCst))
    }
    use serde_json::{json, Value};
    use std::sync::Mutex;

    fn settings(limit: usize, windows: usize) -> Settings {
        Settings {
            entities_limit: limit,
            allow_test_accounts: false,
            windows: crate::gti::day_windows(1_796_001_138_123, windows as u32),
        }
    }

    fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
        serde_json::from_str(&value.to_string()).unwrap()
    }

    fn event(uuid: &str, timestamp: &str) -> Value {
        json!({"uuid": uuid, "timestamp": timestamp, "customer_id": "acme", "event_type": "flow"})
    }

    fn uuids(findings: &Findings) -> Vec<&str> {
        findings
            .events
            .iter()
            .filter_map(|found| found.event.uuid())
            .collect()
    }

    fn detection(
        uuid: &str,
        account: &str,
        rule: &str,
        device: &str,
        field: &str,
        values: &[&str],
    ) -> Detection {
        typed(&json!({
            "uuid": uuid, "account_uuid": account, "rule_uuid": rule, "device_ip": device,
            "indicators": [{"field": field, "values": values}],
        }))
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
        fn detections(&self, _key: &str, value: &str) -> Result<Detections, GtiError> {
            self.record(format!("detections {value}"));
            self.detections.clone().ok_or(GtiError::InvalidKey)
        }
        fn detection_events(
            &self,
            _key: &str,
            uuid: &str,
        ) -> Result<Vec<DetectionEvent>, GtiError> {
            self.record(format!("events {uuid}"));
            if uuid == "broken" {
                return Err(GtiError::InvalidKey);
            }
            Ok(self
                .events
                .iter()
                .map(|event| DetectionEvent::from_json(&event.to_string()).unwrap())
                .collect())
        }
        fn search_events(
            &self,
            _key: &str,
            query: &str,
            window: &DayWindow,
        ) -> Result<Vec<Event>, GtiError> {
            self.record(format!("search {query} {}", window.end));
            Ok(if window.end.starts_with("2026-11-30") {
                self.searched.iter().map(typed).collect()
            } else {
                Vec::new()
            })
        }
        fn dhcp_records(
            &self,
            _key: &str,
            lookups: &[DhcpLookup],
        ) -> Result<Vec<DhcpRecord>, GtiError> {
            self.record(format!("dhcp {}", lookups.len()));
            Ok(self
                .dhcp
                .iter()
                .filter_map(|record| typed::<WireDhcpRecord>(record).checked())
                .collect())
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
        let events = events_for_observable(&gti, "key", &settings(100, 3), &observable).unwrap();

        assert_eq!(uuids(&events), ["e1", "s1"]);
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

        let events =
            events_for_observable(&gti, "Chop Suey!", &settings(100, 7), &observable).unwrap();

        let expected = fixture("workflow/events_for_observable.json");
        let expected_uuids: Vec<&str> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["uuid"].as_str().unwrap())
            .collect();
        assert_eq!(uuids(&events), expected_uuids);
        let mapped = |fragment: Fragment| {
            let bytes = Answer::new(vec![fragment], None).to_vec();
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
        let gti = FakeGti::default();
        let observable = Observable {
            kind: "domain".into(),
            value: "example.com".into(),
        };
        let results = observe(
            &gti,
            "key",
            &settings(100, 1),
            &[observable],
            &|_, found| found.map(|findings| findings.events.len()),
        );
        assert_eq!(results, [Err(GtiError::InvalidKey)]);
    }
}
