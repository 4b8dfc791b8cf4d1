//! One relay serving two regions: a mock GTI standing for each (`us`,
//! `eu`), each accepting only its own tenant's API key, a mock JWKS, and
//! the relay configured with `GTI_US_*_URL` and `GTI_EU_*_URL` pointing at
//! them. The EU mock's event search is not configured (as in SPEC §7's
//! table) unless `GTI_EU_EVENTS_URL` is passed in `extra`.

use gti_relay::config::Config;
use serde_json::{json, Map, Value};

use super::jwks::MockJwks;
use super::mock_gti::{wire_detections, MockGti};
use super::relay::TestRelay;
use super::stack::KID;
use super::tokens::{self, relay_key};

/// The API key of the US tenant; the US mock accepts only it.
pub const US_KEY: &str = "us-tenant-key";
/// The API key of the EU tenant; the EU mock accepts only it.
pub const EU_KEY: &str = "eu-tenant-key";

pub struct TwoRegions {
    pub us: MockGti,
    pub eu: MockGti,
    pub jwks: MockJwks,
    pub relay: TestRelay,
}

impl TwoRegions {
    /// The relay with both regions on mocks, plus `extra` variables.
    pub fn start(extra: &[(&str, &str)]) -> TwoRegions {
        TwoRegions::launch(extra, false)
    }

    /// [`TwoRegions::start`] with `GTI_EU_EVENTS_URL` pointing at the EU
    /// mock: the EU event search on.
    pub fn with_eu_search(extra: &[(&str, &str)]) -> TwoRegions {
        TwoRegions::launch(extra, true)
    }

    fn launch(extra: &[(&str, &str)], eu_search: bool) -> TwoRegions {
        let us = MockGti::start();
        let eu = MockGti::start();
        us.set_key(US_KEY);
        eu.set_key(EU_KEY);
        let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), KID)]));
        let (us_urls, eu_urls) = (us.base_urls(), eu.base_urls());
        let mut vars: Vec<(&str, &str)> = vec![
            ("WORKERS", "8"),
            ("GTI_MAX_INFLIGHT", "32"),
            ("JWKS_ALLOWED_HOSTS", "127.0.0.1:*"),
            ("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks"),
            ("GTI_US_DETECTIONS_URL", &us_urls.detections),
            ("GTI_US_EVENTS_URL", &us_urls.events),
            ("GTI_US_ENTITY_URL", &us_urls.entity),
            ("GTI_US_ENTITY_V1_URL", &us_urls.entity_v1),
            ("GTI_EU_DETECTIONS_URL", &eu_urls.detections),
            ("GTI_EU_ENTITY_URL", &eu_urls.entity),
            ("GTI_EU_ENTITY_V1_URL", &eu_urls.entity_v1),
        ];
        if eu_search {
            vars.push(("GTI_EU_EVENTS_URL", &eu_urls.events));
        }
        vars.extend_from_slice(extra);
        let config = Config::from_vars(vars).expect("the two-region configuration");
        let relay = TestRelay::start(config);
        TwoRegions {
            us,
            eu,
            jwks,
            relay,
        }
    }

    /// A token of the tenant of `region` (`"us"`, `"eu"`: its key), with
    /// the `GTI_REGION` claim set to `claim` (`None`: no claim at all).
    pub fn token(&self, key: &str, claim: Option<Value>) -> String {
        self.token_with(|claims| {
            claims.insert("key".into(), json!(key));
            if let Some(claim) = claim {
                claims.insert("GTI_REGION".into(), claim);
            }
        })
    }

    pub fn token_with(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut claims = tokens::payload(&self.jwks.host(), &self.relay.url());
        edit(&mut claims);
        tokens::sign(relay_key(), Some(KID), &claims)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        self.relay.post(path, token, &body.to_string())
    }

    /// The GTI calls of both mocks, US first.
    pub fn total_calls(&self) -> (usize, usize) {
        (self.us.total_calls(), self.eu.total_calls())
    }
}

/// Loads `gti` with a detection of `value` whose rule and events are named
/// after `tag` (`det-<tag>`, `rule-<tag>`, `<tag>-detected`), and a searched
/// event `<tag>-searched`: an answer shows which mock its data came from.
pub fn load_tagged(gti: &MockGti, tag: &str, value: &str) {
    let detection = format!("det-{tag}");
    let event = |uuid: String, minutes: u64| {
        json!({
            "uuid": uuid, "timestamp": super::timestamp_minutes_ago(minutes),
            "event_type": "flow", "customer_id": "acme", "sensor_id": "sensor1",
            "proto": "tcp", "src": {"ip": "10.0.0.5", "internal": true},
            "dst": {"ip": value, "internal": false},
        })
    };
    gti.set_detections(
        value,
        wire_detections(&[json!({
            "uuid": detection, "account_uuid": "acme", "device_ip": "10.0.0.5",
            "indicators": [{"field": "dst.ip", "values": [value]}],
            "rule": {
                "uuid": format!("rule-{tag}"), "name": format!("Rule of {tag}"),
                "category": "Attack:Command and Control", "description": "Beaconing",
                "severity": "high", "confidence": "moderate",
                "created": "2021-01-01T00:00:00.000Z",
            },
        })]),
    );
    gti.set_detection_events(&detection, vec![event(format!("{tag}-detected"), 5)]);
    gti.add_searched_events(
        &format!("ip = '{value}'"),
        vec![event(format!("{tag}-searched"), 7)],
    );
}

/// The event uuids of an `/observe` answer's sightings, in order.
pub fn sighting_uuids(answer: &Value) -> Vec<String> {
    answer["data"]["sightings"]["docs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|doc| doc["external_ids"][0].as_str().map(str::to_owned))
        .collect()
}

/// Every link in `answer`: the values of its `url` and `source_uri` keys.
pub fn links(answer: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_links(answer, &mut found);
    found
}

fn collect_links(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                match (name.as_str(), field) {
                    ("url" | "source_uri", Value::String(link)) => found.push(link.clone()),
                    _ => collect_links(field, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_links(item, found)),
        _ => {}
    }
}
