//! What the mock serves ([`Data`]: detections by indicator value, detection
//! events, searchable events, DHCP records, resolutions) and each
//! endpoint's answer from it: detections, the listing by creation date,
//! resolve, detection events, the event search and the DHCP look-up. Takes
//! decoded requests; routing, the key check and faults happen before.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::reply::Reply;
use crate::gti::Endpoint;
use crate::time::parse_timestamp;

/// What the mock serves.
#[derive(Default)]
pub(super) struct Data {
    /// The API key accepted.
    pub(super) key: String,
    /// Whole `GET detections` bodies by indicator value.
    pub(super) detections: HashMap<String, Value>,
    /// Bare events by detection uuid.
    pub(super) detection_events: HashMap<String, Vec<Value>>,
    /// Events by event search query.
    pub(super) searched: HashMap<String, Vec<Value>>,
    /// DHCP records by IP.
    pub(super) dhcp: HashMap<String, Vec<Value>>,
    /// Whole entity v1 answers by endpoint (summary, passive DNS, file) and
    /// entity value; an entity without one is unknown (404).
    pub(super) entities: HashMap<(Endpoint, String), Value>,
    /// Detections resolved through `PUT detections/<uuid>/resolve`, with
    /// their resolution: no longer active, so no listing shows them.
    pub(super) resolved: HashMap<String, String>,
    /// How long every answer waits.
    pub(super) latency: Duration,
}

/// The resolutions GTI accepts.
const RESOLUTIONS: [&str; 3] = [
    "true_positive_mitigated",
    "true_positive_no_action",
    "false_positive",
];

/// The listing's page size when the call gives no `limit`.
const DEFAULT_LIMIT: usize = 100;

impl Data {
    /// The answer of `endpoint` to a call with this decoded query and JSON
    /// body (and, for the entity v1 look-ups, the entity of the path);
    /// [`Endpoint::Resolve`] is [`Data::resolve`]'s, which needs the data
    /// writable.
    pub(super) fn answer(
        &self,
        endpoint: Endpoint,
        query: &[(String, String)],
        body: Option<&Value>,
        entity: Option<&str>,
    ) -> Reply {
        match endpoint {
            Endpoint::EntitySummary | Endpoint::PassiveDns | Endpoint::FileSummary => {
                self.entity(endpoint, entity.unwrap_or_default(), query)
            }
            Endpoint::Detections => self.detections(param(query, "indicator_value")),
            Endpoint::DetectionList => self.list(query),
            Endpoint::Resolve => Reply::bad_request("resolve"),
            Endpoint::DetectionEvents => self.detection_events(param(query, "detection_uuid")),
            Endpoint::EventSearch => self.search(body),
            Endpoint::Dhcp => self.dhcp(body),
        }
    }

    /// An entity v1 look-up: the answer set for the entity, else 404 as
    /// GTI answers for an entity it knows nothing of. Passive DNS keeps its
    /// first `limit` records.
    fn entity(&self, endpoint: Endpoint, value: &str, query: &[(String, String)]) -> Reply {
        let Some(body) = self.entities.get(&(endpoint, value.to_owned())) else {
            return Reply::gti_error(404, "client.not_found", "Entity not found.");
        };
        let limit = param(query, "limit").and_then(|limit| limit.parse::<usize>().ok());
        match (
            endpoint,
            limit,
            body.get("passivedns").and_then(Value::as_array),
        ) {
            (Endpoint::PassiveDns, Some(limit), Some(records)) => {
                let kept: Vec<&Value> = records.iter().take(limit).collect();
                Reply::json(200, &json!({"passivedns": kept}))
            }
            _ => Reply::json(200, body),
        }
    }

    /// `PUT detections/<uuid>/resolve`: marks a known, active detection
    /// resolved.
    pub(super) fn resolve(&mut self, uuid: &str, body: Option<&Value>) -> Reply {
        let resolution = body
            .and_then(|body| body.get("resolution"))
            .and_then(Value::as_str)
            .filter(|resolution| RESOLUTIONS.contains(resolution));
        let Some(resolution) = resolution else {
            return Reply::bad_request("resolution must be one of true_positive_mitigated, true_positive_no_action, false_positive.");
        };
        let known = self.detections.values().any(|body| {
            array(body, "detections")
                .any(|detection| detection.get("uuid").and_then(Value::as_str) == Some(uuid))
        });
        if !known {
            return Reply::gti_error(404, "client.not_found", "Detection not found.");
        }
        self.resolved.insert(uuid.to_owned(), resolution.to_owned());
        Reply::json(
            200,
            &json!({"detection": {"uuid": uuid, "status": "resolved"}}),
        )
    }

    /// The detections resolved so far (`uuid`, resolution), sorted by uuid.
    pub(super) fn resolutions(&self) -> Vec<(String, String)> {
        let mut resolved: Vec<(String, String)> = self
            .resolved
            .iter()
            .map(|(uuid, resolution)| (uuid.clone(), resolution.clone()))
            .collect();
        resolved.sort();
        resolved
    }

    /// `GET detections?indicator_value=…`: the body set for the value, less
    /// the detections resolved since; none for an unknown value.
    fn detections(&self, value: Option<&str>) -> Reply {
        let Some(value) = value else {
            return Reply::bad_request("indicator_value is required.");
        };
        match self.detections.get(value) {
            Some(detections) if self.resolved.is_empty() => Reply::json(200, detections),
            Some(detections) => Reply::json(200, &self.still_active(detections)),
            None => Reply::json(200, &json!({"detections": [], "rules": []})),
        }
    }

    /// A `GET detections` body without the detections resolved since.
    fn still_active(&self, body: &Value) -> Value {
        let mut body = body.clone();
        if let Some(detections) = body.get_mut("detections").and_then(Value::as_array_mut) {
            detections.retain(|detection| {
                detection
                    .get("uuid")
                    .and_then(Value::as_str)
                    .is_none_or(|uuid| !self.resolved.contains_key(uuid))
            });
        }
        body
    }

    /// `GET events?detection_uuid=…`: the detection's events, each wrapped
    /// in `{"event": …}` as GTI does.
    fn detection_events(&self, uuid: Option<&str>) -> Reply {
        let Some(uuid) = uuid else {
            return Reply::bad_request("detection_uuid is required.");
        };
        let events = self
            .detection_events
            .get(uuid)
            .into_iter()
            .flatten()
            .map(|event| Wrapped { event })
            .collect();
        Reply::json(200, &Events { events })
    }

    /// The listing by creation date: every detection the mock knows (once
    /// per uuid), active ones whose `created` lies in `[start, end]`,
    /// newest `first_seen` first, one page of `limit` from `offset`, with
    /// their rules.
    fn list(&self, query: &[(String, String)]) -> Reply {
        let page = match Page::asked(query) {
            Ok(page) => page,
            Err(refusal) => return refusal,
        };
        let (listed, rules) = self.listable(page.start, page.end);
        let shown: Vec<&Value> = listed
            .iter()
            .skip(page.offset)
            .take(page.limit)
            .copied()
            .collect();
        let wanted: HashSet<String> = shown
            .iter()
            .filter_map(|detection| text(detection, "rule_uuid"))
            .collect();
        let mut shown_rules: Vec<&Value> = wanted
            .iter()
            .filter_map(|uuid| rules.get(uuid).copied())
            .collect();
        shown_rules.sort_by_key(|rule| text(rule, "uuid"));
        Reply::json(
            200,
            &json!({"detections": shown, "rules": shown_rules, "total_count": listed.len()}),
        )
    }

    /// Every active detection created in `[start, end]`, once per uuid,
    /// newest `first_seen` first (one without last), and every rule by uuid.
    fn listable(&self, start: u64, end: u64) -> (Vec<&Value>, HashMap<String, &Value>) {
        let mut seen = HashSet::new();
        let mut rules: HashMap<String, &Value> = HashMap::new();
        let mut listed: Vec<(Option<u64>, &Value)> = Vec::new();
        // Sorted keys: the listing does not depend on the map's order.
        let mut bodies: Vec<(&String, &Value)> = self.detections.iter().collect();
        bodies.sort_by(|a, b| a.0.cmp(b.0));
        for (_, body) in bodies {
            for rule in array(body, "rules") {
                if let Some(uuid) = text(rule, "uuid") {
                    rules.entry(uuid).or_insert(rule);
                }
            }
            for detection in array(body, "detections") {
                let Some(uuid) = text(detection, "uuid") else {
                    continue;
                };
                let created = text(detection, "created").and_then(|at| parse_timestamp(&at));
                let in_window = created.is_some_and(|at| start <= at && at <= end);
                if in_window && !self.resolved.contains_key(&uuid) && seen.insert(uuid) {
                    let first_seen =
                        text(detection, "first_seen").and_then(|at| parse_timestamp(&at));
                    listed.push((first_seen, detection));
                }
            }
        }
        listed.sort_by_key(|(first_seen, _)| Reverse(*first_seen));
        let listed = listed.into_iter().map(|(_, detection)| detection).collect();
        (listed, rules)
    }

    /// `POST query`: the events added for the query whose `timestamp` lies
    /// in `[start_date, end_date)`, in the order added.
    fn search(&self, body: Option<&Value>) -> Reply {
        let field = |name: &str| body.and_then(|body| body.get(name)).and_then(Value::as_str);
        let (Some(query), Some(start), Some(end)) =
            (field("query"), field("start_date"), field("end_date"))
        else {
            return Reply::bad_request("query, start_date and end_date are required.");
        };
        let (Some(start), Some(end)) = (parse_timestamp(start), parse_timestamp(end)) else {
            return Reply::bad_request("start_date and end_date must be ISO 8601 timestamps.");
        };
        let events: Vec<&Value> = self
            .searched
            .get(query)
            .into_iter()
            .flatten()
            .filter(|event| {
                event
                    .get("timestamp")
                    .and_then(Value::as_str)
                    .and_then(parse_timestamp)
                    .is_some_and(|at| start <= at && at < end)
            })
            .collect();
        Reply::json(200, &Events { events })
    }

    /// `POST entity/tracking/bulk/get/ip`: the DHCP records of each IP
    /// asked for (once per IP, in the order asked).
    fn dhcp(&self, body: Option<&Value>) -> Reply {
        let entities = body
            .and_then(|body| body.get("entities"))
            .and_then(Value::as_array)
            .filter(|entities| !entities.is_empty());
        let Some(entities) = entities else {
            return Reply::bad_request("No entities specified.");
        };
        let mut ips: Vec<&str> = Vec::new();
        for entity in entities {
            match (
                entity.get("ip").and_then(Value::as_str),
                entity.get("event_time").and_then(Value::as_str),
            ) {
                (Some(ip), Some(_)) if !ips.contains(&ip) => ips.push(ip),
                (Some(_), Some(_)) => {}
                _ => return Reply::bad_request("Each entity needs an ip and an event_time."),
            }
        }
        let dhcp = ips
            .iter()
            .flat_map(|ip| self.dhcp.get(*ip).into_iter().flatten())
            .collect();
        Reply::json(
            200,
            &DhcpAnswer {
                entity_tracking_bulk_response: DhcpRecords { dhcp },
            },
        )
    }
}

/// The page of the listing a call asks for.
struct Page {
    /// `created_or_shared_start_date`, in milliseconds.
    start: u64,
    /// `created_or_shared_end_date`, in milliseconds.
    end: u64,
    limit: usize,
    offset: usize,
}

impl Page {
    /// The page `query` asks for, or the 400 GTI gives a malformed one.
    fn asked(query: &[(String, String)]) -> Result<Page, Reply> {
        let timestamp = |name: &str| param(query, name).and_then(parse_timestamp);
        let window = (
            timestamp("created_or_shared_start_date"),
            timestamp("created_or_shared_end_date"),
        );
        let (Some(start), Some(end)) = window else {
            return Err(Reply::bad_request(
                "created_or_shared_start_date and created_or_shared_end_date must be ISO 8601 timestamps.",
            ));
        };
        let number = |name: &str, default: usize| match param(query, name) {
            None => Some(default),
            Some(text) => text.parse::<usize>().ok(),
        };
        let (Some(limit), Some(offset)) = (number("limit", DEFAULT_LIMIT), number("offset", 0))
        else {
            return Err(Reply::bad_request("limit and offset must be numbers."));
        };
        Ok(Page {
            start,
            end,
            limit,
            offset,
        })
    }
}

/// The first value of query parameter `name`.
fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

/// The string field `name` of `value`.
fn text(value: &Value, name: &str) -> Option<String> {
    value.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// The items of the array field `name` of `value` (none when it is not an
/// array).
fn array<'a>(value: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

// The answers' shapes, borrowing the mock's data: serialised straight from
// it, without a copy into a `Value`.

/// `{"events": [...]}`.
#[derive(Serialize)]
struct Events<T> {
    events: Vec<T>,
}

/// `{"event": {...}}`: how GTI wraps each event of a detection.
#[derive(Serialize)]
struct Wrapped<'a> {
    event: &'a Value,
}

/// `{"entity_tracking_bulk_response": {"dhcp": [...]}}`.
#[derive(Serialize)]
struct DhcpAnswer<'a> {
    entity_tracking_bulk_response: DhcpRecords<'a>,
}

#[derive(Serialize)]
struct DhcpRecords<'a> {
    dhcp: Vec<&'a Value>,
}

/// GTI's wire form of `GET detections` from the reference fixtures' shape
/// (`detections_for_entity.json`: each detection with its `rule` inlined):
/// rules move to a `rules` list (once per uuid), detections keep `rule_uuid`.
pub fn wire_detections(detections: &[Value]) -> Value {
    let mut wire = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    for detection in detections {
        let mut detection = detection.clone();
        if let Some(object) = detection.as_object_mut() {
            if let Some(rule) = object.remove("rule") {
                if let Some(uuid) = rule.get("uuid").cloned() {
                    object.insert("rule_uuid".to_owned(), uuid);
                }
                if !rules
                    .iter()
                    .any(|known| known.get("uuid") == rule.get("uuid"))
                {
                    rules.push(rule);
                }
            }
        }
        wire.push(detection);
    }
    json!({"detections": wire, "rules": rules})
}
