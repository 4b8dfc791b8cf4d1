//! The observe workflow: for each observable, the GTI calls of SPEC §5, run
//! in parallel, and their results merged into enriched events for the mapper.
//!
//! Plan, execute, merge: the decisions (which detections, which events match,
//! which search windows are used, the cut to the limit, the DHCP look-ups)
//! are pure functions tested without threads; [`observe`] only runs the
//! calls concurrently (each call a job of a rayon scope that spawns the
//! calls depending on it) and hands their results to them. The relay runs
//! the calls on its I/O thread pool ([`observe_on`]), whose size bounds the
//! number of GTI calls in flight.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use log::warn;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::gti::{DayWindow, Detection, Detections, DhcpLookup, GtiApi, GtiError};

/// The observable types GTI can be asked about.
pub const SUPPORTED_TYPES: [&str; 5] = ["ip", "domain", "md5", "sha1", "sha256"];

/// GTI's demo and training accounts: their data is dropped unless a token
/// allows it.
pub const TEST_ACCOUNTS: [&str; 4] = [
    "dmo",
    "chg",
    "6bc3d2f1-af77-4236-a9db-17dacd06e4d9",
    "f6f6f836-8bcd-4f5d-bd61-68d303c4f634",
];

/// An observable as SecureX sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Observable {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Observable {
    pub fn is_supported(&self) -> bool {
        SUPPORTED_TYPES.contains(&self.kind.as_str())
    }

    /// The event search's query: `<type> = '<value>'`, as the reference sends it.
    pub fn search_query(&self) -> String {
        format!("{} = '{}'", self.kind, self.value)
    }
}

/// What one request's token and the relay's configuration decide about the
/// workflow. Built per request: requests never share it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Events (and so sightings) per observable.
    pub entities_limit: usize,
    pub allow_test_accounts: bool,
    /// The event search's windows, newest first; empty when the search is off.
    pub windows: Vec<DayWindow>,
}

impl Settings {
    fn allows(&self, account: Option<&str>) -> bool {
        self.allow_test_accounts || account.is_none_or(|account| !TEST_ACCOUNTS.contains(&account))
    }
}

/// Every supported observable's events, in request order, with the GTI
/// calls run on the current rayon pool (the global one outside a pool).
/// Each result is that observable's enriched events or the GTI failure that
/// stopped it.
pub fn observe(
    gti: &dyn GtiApi,
    key: &str,
    settings: &Settings,
    observables: &[Observable],
) -> Vec<Result<Vec<Value>, GtiError>> {
    let fans = fans(gti, key, settings, observables);
    rayon::in_place_scope(|scope| start(scope, &fans));
    fans.into_iter().map(Fan::into_result).collect()
}

/// [`observe`] with the GTI calls run on `pool`, whose size bounds the
/// calls in flight. The calling thread (a request worker) only waits.
pub fn observe_on(
    pool: &rayon::ThreadPool,
    gti: &dyn GtiApi,
    key: &str,
    settings: &Settings,
    observables: &[Observable],
) -> Vec<Result<Vec<Value>, GtiError>> {
    let fans = fans(gti, key, settings, observables);
    pool.in_place_scope(|scope| start(scope, &fans));
    fans.into_iter().map(Fan::into_result).collect()
}

/// One observable's events, enriched for the mapper: the detection chain
/// (detections → each allowed detection's events) runs concurrently with all
/// search windows; then the merge, the cut, and one DHCP bulk look-up.
pub fn events_for_observable(
    gti: &dyn GtiApi,
    key: &str,
    settings: &Settings,
    observable: &Observable,
) -> Result<Vec<Value>, GtiError> {
    observe(gti, key, settings, std::slice::from_ref(observable))
        .pop()
        .unwrap_or_else(|| Ok(Vec::new()))
}

// How the calls run. Each GTI call is one job of a rayon scope, and a job
// never waits for another: when a call completes, its job stores the result
// and spawns the calls that depended on it (a detection's events after the
// detections, DHCP after the last of an observable's other calls). Waiting
// inside a pool thread (`join`, nested `par_iter`) would let that thread
// pick up unrelated blocking calls meanwhile, or run its own sub-calls one
// after the other when the pool is busy, and stretch the chain far beyond
// its three round trips. This way the pool's size is exactly the number of
// calls in flight.
//
// Order: the first calls are injected from outside the pool (all detections
// first, then all windows) and run first come, first served; calls spawned
// by a job go to that thread's own deque, which rayon serves before the
// injected queue. So the chain's calls, the critical path, overtake window
// calls still waiting for a free thread. Only the order changes, never the
// calls or the answer.

/// One observable's calls in flight and their results so far.
struct Fan<'a> {
    gti: &'a dyn GtiApi,
    key: &'a str,
    settings: &'a Settings,
    observable: &'a Observable,
    query: String,
    state: Mutex<FanState>,
}

#[derive(Default)]
struct FanState {
    detections: Option<Result<Detections, GtiError>>,
    /// The events of each allowed detection, in detection order.
    detection_events: Vec<Option<Vec<Value>>>,
    /// Each search window's answer, newest window first.
    windows: Vec<Option<Result<Vec<Value>, GtiError>>>,
    /// Calls before DHCP that have not completed yet.
    pending: usize,
    result: Option<Result<Vec<Value>, GtiError>>,
}

fn fans<'a>(
    gti: &'a dyn GtiApi,
    key: &'a str,
    settings: &'a Settings,
    observables: &'a [Observable],
) -> Vec<Fan<'a>> {
    observables
        .iter()
        .map(|observable| Fan {
            gti,
            key,
            settings,
            observable,
            query: observable.search_query(),
            state: Mutex::new(FanState {
                windows: settings.windows.iter().map(|_| None).collect(),
                // The detections call and every window.
                pending: 1 + settings.windows.len(),
                ..FanState::default()
            }),
        })
        .collect()
}

/// Spawns the first calls of every observable: all detections calls first
/// (they head the critical path), then all windows.
fn start<'a>(scope: &rayon::Scope<'a>, fans: &'a [Fan<'a>]) {
    for fan in fans {
        scope.spawn(move |scope| fan.detections(scope));
    }
    for fan in fans {
        for index in 0..fan.settings.windows.len() {
            scope.spawn(move |scope| fan.window(scope, index));
        }
    }
}

impl<'a> Fan<'a> {
    fn lock(&self) -> MutexGuard<'_, FanState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Active detections, then the events of every allowed one in parallel.
    fn detections(&'a self, scope: &rayon::Scope<'a>) {
        let result = self.gti.detections(self.key, &self.observable.value);
        let allowed: Vec<String> = match &result {
            Ok(detections) => detections
                .detections
                .iter()
                .filter(|detection| self.settings.allows(Some(&detection.account_uuid)))
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
    fn complete_call(&'a self, scope: &rayon::Scope<'a>, record: impl FnOnce(&mut FanState)) {
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
                let allowed: Vec<&Detection> = detections
                    .detections
                    .iter()
                    .filter(|detection| self.settings.allows(Some(&detection.account_uuid)))
                    .collect();
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
                let lookups = dhcp_lookups(&events);
                if lookups.is_empty() {
                    self.finish(Ok(events));
                } else {
                    scope.spawn(move |_| self.dhcp(events, &lookups));
                }
            }
            Err(error) => self.finish(Err(error)),
        }
    }

    fn dhcp(&self, mut events: Vec<Value>, lookups: &[DhcpLookup]) {
        let result = self.gti.dhcp_records(self.key, lookups).map(|records| {
            attach_dhcp(&mut events, &records);
            events
        });
        self.finish(result);
    }

    /// The observable's answer: its events, each told which observable it
    /// was found for, or the failure.
    fn finish(&self, result: Result<Vec<Value>, GtiError>) {
        let result = result.map(|mut events| {
            let observable = json!({"type": self.observable.kind, "value": self.observable.value});
            for event in &mut events {
                if let Some(event) = event.as_object_mut() {
                    event.insert("observable".to_owned(), observable.clone());
                }
            }
            events
        });
        self.lock().result = Some(result);
    }

    fn into_result(self) -> Result<Vec<Value>, GtiError> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        // Always set once the scope has ended: a job that panics makes the
        // scope panic instead of returning.
        state.result.unwrap_or_else(|| Ok(Vec::new()))
    }
}

/// Keeps each allowed detection's events in which one of the detection's
/// indicator fields of a supported type holds `value`, attaches the
/// detection (with its rule and summary) to them, and orders them newest
/// first, ties by uuid.
pub fn match_detection_events(
    detections: &Detections,
    allowed: &[&Detection],
    events_per_detection: Vec<Vec<Value>>,
    value: &str,
) -> Vec<Value> {
    let rules: HashMap<&str, &Value> = detections
        .rules
        .iter()
        .filter_map(|rule| Some((rule.get("uuid")?.as_str()?, rule)))
        .collect();

    // The summary counts every allowed detection of a rule and account, even
    // those whose events could not be fetched, as the reference does.
    let mut devices: HashMap<(&str, &str), HashSet<Option<&str>>> = HashMap::new();
    let mut indicator_values: HashMap<(&str, &str), HashSet<String>> = HashMap::new();
    for detection in allowed {
        let group = (
            detection.rule_uuid.as_str(),
            detection.account_uuid.as_str(),
        );
        devices
            .entry(group)
            .or_default()
            .insert(detection.device_ip.as_deref());
        let values = indicator_values.entry(group).or_default();
        for indicator in &detection.indicators {
            if indicator_path(&indicator.field).is_some() {
                values.extend(indicator.values.iter().map(value_key));
            }
        }
    }

    let wanted = Value::String(value.to_owned());
    let mut matched = Vec::new();
    for (detection, events) in allowed.iter().zip(events_per_detection) {
        let Some(rule) = rules.get(detection.rule_uuid.as_str()) else {
            warn!(
                "detection {} skipped: its rule {} is not in GTI's answer",
                detection.uuid, detection.rule_uuid
            );
            continue;
        };
        let group = (
            detection.rule_uuid.as_str(),
            detection.account_uuid.as_str(),
        );
        let detection_json = json!({
            "uuid": detection.uuid,
            "account_uuid": detection.account_uuid,
            "device_ip": detection.device_ip,
            "indicators": detection
                .indicators
                .iter()
                .map(|indicator| json!({"field": indicator.field, "values": indicator.values}))
                .collect::<Vec<_>>(),
            "rule": rule,
            "summary": {
                "impacted_devices": devices.get(&group).map_or(0, HashSet::len),
                "indicator_values": indicator_values.get(&group).map_or(0, HashSet::len),
            },
        });
        let paths: Vec<Vec<&str>> = detection
            .indicators
            .iter()
            .filter_map(|indicator| indicator_path(&indicator.field))
            .collect();
        for mut event in events {
            let hit = {
                let mut found = Vec::new();
                for path in &paths {
                    values_at(&event, path, &mut found);
                }
                found.contains(&&wanted)
            };
            if let (true, Some(object)) = (hit, event.as_object_mut()) {
                object.insert("detection".to_owned(), detection_json.clone());
                matched.push(event);
            }
        }
    }
    // A stable sort: the same event under two detections keeps detection order.
    matched.sort_by(|a, b| {
        timestamp(b)
            .cmp(&timestamp(a))
            .then_with(|| uuid(a).cmp(&uuid(b)))
    });
    matched
}

/// The path of an indicator field whose last part is a supported type:
/// `dst.ip` → `[dst, ip]`, `http:files.sha256` → `[files, sha256]`.
fn indicator_path(field: &str) -> Option<Vec<&str>> {
    let path: Vec<&str> = field.rsplit(':').next()?.split('.').collect();
    path.last()
        .filter(|kind| SUPPORTED_TYPES.contains(kind))
        .map(|_| path.clone())
}

/// Collects every value found at `path` in `value`, descending into lists
/// on the way, as the reference's `_values` does.
fn values_at<'a>(value: &'a Value, path: &[&str], found: &mut Vec<&'a Value>) {
    let Some((first, rest)) = path.split_first() else {
        found.push(value);
        return;
    };
    match value.get(*first) {
        Some(Value::Array(items)) => {
            for item in items {
                values_at(item, rest, found);
            }
        }
        Some(next) => values_at(next, rest, found),
        None => {}
    }
}

/// Detection events first, then searched events window by window (newest
/// first, GTI's order within a window) until the limit is reached, skipping
/// uuids already taken and test accounts; cut to the limit; newest first.
///
/// A window's failure counts only if the reference would have asked for that
/// window, i.e. if the windows before it did not reach the limit.
pub fn select_events(
    mut events: Vec<Value>,
    windows: Vec<Result<Vec<Value>, GtiError>>,
    settings: &Settings,
) -> Result<Vec<Value>, GtiError> {
    let limit = settings.entities_limit;
    let search_limit = limit.saturating_sub(events.len());
    let mut taken: HashSet<String> = events
        .iter()
        .filter_map(|e| uuid(e).map(str::to_owned))
        .collect();
    let mut searched = 0;
    for window in windows {
        if searched >= search_limit {
            break;
        }
        for event in window? {
            let account = event.get("customer_id").and_then(Value::as_str);
            if !settings.allows(account) {
                continue;
            }
            if let Some(id) = uuid(&event) {
                if !taken.insert(id.to_owned()) {
                    continue;
                }
            }
            searched += 1;
            events.push(event);
        }
    }
    events.truncate(limit);
    events.sort_by(|a, b| timestamp(b).cmp(&timestamp(a)));
    Ok(events)
}

/// One DHCP look-up per internal src/dst IP, at the time of its newest
/// event (events are already newest first), in order of first appearance.
pub fn dhcp_lookups(events: &[Value]) -> Vec<DhcpLookup> {
    let mut seen = HashSet::new();
    let mut lookups = Vec::new();
    for event in events {
        for ip in internal_ips(event) {
            if seen.insert(ip) {
                lookups.push(DhcpLookup {
                    ip: ip.to_owned(),
                    event_time: timestamp(event).unwrap_or_default().to_owned(),
                });
            }
        }
    }
    lookups
}

/// Attaches each internal IP's DHCP records (in GTI's order) as `dhcp`.
pub fn attach_dhcp(events: &mut [Value], records: &[Value]) {
    let mut by_ip: HashMap<&str, Vec<&Value>> = HashMap::new();
    for record in records {
        if let Some(ip) = record.get("ip").and_then(Value::as_str) {
            by_ip.entry(ip).or_default().push(record);
        }
    }
    for event in events.iter_mut() {
        for side in ["src", "dst"] {
            let Some(endpoint) = event.get_mut(side).and_then(Value::as_object_mut) else {
                continue;
            };
            if !is_internal(endpoint) {
                continue;
            }
            let found = endpoint
                .get("ip")
                .and_then(Value::as_str)
                .and_then(|ip| by_ip.get(ip));
            if let Some(found) = found {
                let records = found.iter().map(|record| (*record).clone()).collect();
                endpoint.insert("dhcp".to_owned(), Value::Array(records));
            }
        }
    }
}

fn internal_ips(event: &Value) -> impl Iterator<Item = &str> {
    ["src", "dst"].into_iter().filter_map(move |side| {
        let endpoint = event.get(side)?.as_object()?;
        is_internal(endpoint)
            .then(|| endpoint.get("ip")?.as_str())
            .flatten()
    })
}

/// Python truthiness of `internal`, which GTI sends as a boolean.
fn is_internal(endpoint: &Map<String, Value>) -> bool {
    endpoint
        .get("internal")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn timestamp(event: &Value) -> Option<&str> {
    event.get("timestamp").and_then(Value::as_str)
}

fn uuid(event: &Value) -> Option<&str> {
    event.get("uuid").and_then(Value::as_str)
}

/// A hashable identity for an indicator value of any JSON type.
fn value_key(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn settings(limit: usize, windows: usize) -> Settings {
        Settings {
            entities_limit: limit,
            allow_test_accounts: false,
            windows: crate::gti::day_windows(1_796_001_138_123, windows as u32),
        }
    }

    fn event(uuid: &str, timestamp: &str) -> Value {
        json!({"uuid": uuid, "timestamp": timestamp, "customer_id": "acme", "event_type": "flow"})
    }

    fn uuids(events: &[Value]) -> Vec<&str> {
        events.iter().filter_map(uuid).collect()
    }

    fn detection(
        uuid: &str,
        account: &str,
        rule: &str,
        device: &str,
        field: &str,
        values: &[&str],
    ) -> Detection {
        serde_json::from_value(json!({
            "uuid": uuid, "account_uuid": account, "rule_uuid": rule, "device_ip": device,
            "indicators": [{"field": field, "values": values}],
        }))
        .unwrap()
    }

    #[test]
    fn detection_events_come_first_then_windows_newest_first_until_the_limit() {
        let detected = vec![event("d1", "2026-11-29T10:00:00.000Z")];
        let windows = vec![
            Ok(vec![
                event("s1", "2026-11-29T09:00:00.000Z"),
                event("d1", "2026-11-29T10:00:00.000Z"),
            ]),
            Ok(vec![
                event("s2", "2026-11-28T09:00:00.000Z"),
                event("s3", "2026-11-28T08:00:00.000Z"),
            ]),
            // Never reached: the limit is met by the first two windows.
            Err(GtiError::InvalidKey),
        ];
        let events = select_events(detected, windows, &settings(3, 3)).unwrap();
        assert_eq!(uuids(&events), ["d1", "s1", "s2"]);
    }

    #[test]
    fn a_failed_window_counts_when_it_would_have_been_asked() {
        let windows = vec![
            Ok(vec![event("s1", "2026-11-29T09:00:00.000Z")]),
            Err(GtiError::InvalidKey),
        ];
        let error = select_events(Vec::new(), windows, &settings(5, 2)).unwrap_err();
        assert_eq!(error, GtiError::InvalidKey);
    }

    #[test]
    fn the_cut_is_sorted_newest_first_and_test_accounts_are_dropped() {
        let mut demo = event("demo", "2026-11-29T11:00:00.000Z");
        demo["customer_id"] = json!("dmo");
        let windows = vec![Ok(vec![
            event("old", "2026-11-20T00:00:00.000Z"),
            demo.clone(),
            event("new", "2026-11-29T12:00:00.000Z"),
        ])];
        let events = select_events(Vec::new(), windows.clone(), &settings(10, 1)).unwrap();
        assert_eq!(uuids(&events), ["new", "old"]);

        let allowed = Settings {
            allow_test_accounts: true,
            ..settings(10, 1)
        };
        let events = select_events(Vec::new(), windows, &allowed).unwrap();
        assert_eq!(uuids(&events), ["new", "demo", "old"]);
    }

    #[test]
    fn events_match_through_indicator_paths_and_carry_the_detection_summary() {
        let detections = Detections {
            detections: vec![
                detection(
                    "det-1",
                    "acme",
                    "rule-1",
                    "10.0.0.1",
                    "http:files.sha256",
                    &["abc", "def"],
                ),
                detection("det-2", "acme", "rule-1", "10.0.0.2", "dst.ip", &["abc"]),
                detection(
                    "det-3",
                    "acme",
                    "rule-1",
                    "10.0.0.2",
                    "src.mac",
                    &["ignored"],
                ),
            ],
            rules: vec![json!({"uuid": "rule-1", "name": "Rule one"})],
        };
        let allowed: Vec<&Detection> = detections.detections.iter().collect();
        let hit = json!({"uuid": "e2", "timestamp": "2026-01-01T00:00:00.000Z", "files": [{"sha256": "x"}, {"sha256": "abc"}]});
        let miss = json!({"uuid": "e3", "timestamp": "2026-01-02T00:00:00.000Z", "files": [{"sha256": "x"}]});
        let tie = json!({"uuid": "e1", "timestamp": "2026-01-01T00:00:00.000Z", "files": [{"sha256": "abc"}]});
        let matched = match_detection_events(
            &detections,
            &allowed,
            vec![
                vec![hit, miss, tie],
                vec![
                    json!({"uuid": "e4", "timestamp": "2026-01-03T00:00:00.000Z", "dst": {"ip": "abc"}}),
                ],
                vec![],
            ],
            "abc",
        );
        assert_eq!(uuids(&matched), ["e4", "e1", "e2"]);
        assert_eq!(matched[0]["detection"]["rule"]["name"], "Rule one");
        assert_eq!(
            matched[0]["detection"]["summary"],
            json!({"impacted_devices": 2, "indicator_values": 2})
        );
        assert_eq!(matched[0]["detection"]["account_uuid"], "acme");
    }

    #[test]
    fn dhcp_is_looked_up_once_per_internal_ip_at_its_newest_event() {
        let mut events = vec![
            json!({"timestamp": "t2", "src": {"ip": "10.0.0.1", "internal": true}, "dst": {"ip": "8.8.8.8", "internal": false}}),
            json!({"timestamp": "t1", "src": {"ip": "10.0.0.2", "internal": true}, "dst": {"ip": "10.0.0.1", "internal": true}}),
        ];
        let lookups = dhcp_lookups(&events);
        assert_eq!(
            lookups,
            [
                DhcpLookup {
                    ip: "10.0.0.1".into(),
                    event_time: "t2".into()
                },
                DhcpLookup {
                    ip: "10.0.0.2".into(),
                    event_time: "t1".into()
                },
            ]
        );
        let records = [
            json!({"ip": "10.0.0.1", "hostname": "a"}),
            json!({"ip": "10.0.0.1", "hostname": "b"}),
        ];
        attach_dhcp(&mut events, &records);
        assert_eq!(events[0]["src"]["dhcp"], json!(records));
        assert_eq!(events[1]["dst"]["dhcp"], json!(records));
        assert!(events[0]["dst"].get("dhcp").is_none());
        assert!(events[1]["src"].get("dhcp").is_none());
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
        fn detection_events(&self, _key: &str, uuid: &str) -> Result<Vec<Value>, GtiError> {
            self.record(format!("events {uuid}"));
            if uuid == "broken" {
                return Err(GtiError::InvalidKey);
            }
            Ok(self.events.clone())
        }
        fn search_events(
            &self,
            _key: &str,
            query: &str,
            window: &DayWindow,
        ) -> Result<Vec<Value>, GtiError> {
            self.record(format!("search {query} {}", window.end));
            Ok(if window.end.starts_with("2026-11-30") {
                self.searched.clone()
            } else {
                Vec::new()
            })
        }
        fn dhcp_records(&self, _key: &str, lookups: &[DhcpLookup]) -> Result<Vec<Value>, GtiError> {
            self.record(format!("dhcp {}", lookups.len()));
            Ok(self.dhcp.clone())
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
                rules: vec![json!({"uuid": "rule-1"})],
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
        assert_eq!(events[0]["src"]["dhcp"][0]["hostname"], "host");
        assert_eq!(events[0]["detection"]["summary"]["impacted_devices"], 1);
        assert_eq!(
            events[1]["observable"],
            json!({"type": "ip", "value": "1.2.3.4"})
        );
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

    /// The reference's own workflow test: the same GTI answers give the same
    /// enriched events, field for field.
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
            detections
                .detections
                .push(serde_json::from_value(detection).unwrap());
            detections.rules.push(rule);
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

        assert_eq!(
            Value::Array(events),
            fixture("workflow/events_for_observable.json")
        );
        assert_eq!(gti.calls.lock().unwrap().len(), 1 + 1 + 7 + 1);
    }

    #[test]
    fn a_detections_failure_fails_the_observable() {
        let gti = FakeGti::default();
        let observable = Observable {
            kind: "domain".into(),
            value: "example.com".into(),
        };
        let results = observe(&gti, "key", &settings(100, 1), &[observable]);
        assert_eq!(results, [Err(GtiError::InvalidKey)]);
    }
}
