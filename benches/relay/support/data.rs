//! The mock GTI's data: the [`Shape`] of what stands behind each
//! observable, the [`Detail`] of its events, and [`load`], which puts it
//! into the mock GTI and returns the observe payload items.

use gti_relay::demo::gti::MockGti;
use gti_relay::gti::Endpoint;
use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

use super::events::{self, mix, pick, Kind, Seed};

/// The shape of the GTI data behind each observable.
#[derive(Clone, Copy)]
pub struct Shape {
    pub detections: usize,
    pub events_per_detection: usize,
    /// Searched events, spread round-robin over the 7 day windows.
    pub searched: usize,
}

impl Shape {
    pub fn events(self) -> usize {
        self.detections * self.events_per_detection + self.searched
    }

    /// GTI calls per observable: detections, one per detection, one per
    /// window, DHCP.
    pub fn calls(self) -> usize {
        1 + self.detections + DAY_RANGE + 1
    }
}

/// What each event holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Issue 9's events, which the latency, resources and plateau rows keep
    /// so that their figures compare with earlier runs: HTTP detection
    /// events and flow searched events of a dozen fields each, alike but
    /// for their ids, times and internal ends; 4 internal devices.
    Compact,
    /// Events as large and varied as GTI's (issue 19): every event type
    /// the mapper knows, each with GTI's full field set (`events`);
    /// detections and rules with theirs; 6 internal devices.
    Gti,
}

impl Detail {
    fn devices(self) -> usize {
        match self {
            Detail::Compact => 4,
            Detail::Gti => 6,
        }
    }
}

/// The relay's default `GTI_DAY_RANGE`.
pub const DAY_RANGE: usize = 7;

/// Latency rows: 3 detections × 4 events, 2 searched events per window.
pub const LATENCY_SHAPE: Shape = Shape {
    detections: 3,
    events_per_detection: 4,
    searched: 14,
};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

/// Account codes of the [`Detail::Gti`] observables (none of them a GTI
/// test account, which the relay would leave out).
const CUSTOMERS: [&str; 4] = ["acme", "globex", "initech", "hooli"];

/// What [`load`] put into the mock GTI.
pub struct Loaded {
    /// The observe payload items, `{"type": "ip", "value": …}`.
    pub observables: Vec<Value>,
    /// The events (detection and searched) and their size as the mock
    /// sends them (compact JSON), in all.
    pub events: usize,
    pub event_bytes: usize,
}

impl Loaded {
    /// The mean size of an event as GTI sends it, in bytes.
    pub fn mean_event_bytes(&self) -> usize {
        self.event_bytes / self.events.max(1)
    }
}

/// Loads GTI data of `shape` and `detail` for `count` observables
/// `<prefix>.1`, `<prefix>.2`, …: per observable its detections (with
/// their rules and events), its searched events, its entity v1 answers and
/// the DHCP records of its internal devices.
pub fn load(
    gti: &MockGti,
    prefix: &str,
    count: usize,
    shape: Shape,
    detail: Detail,
    now: u64,
) -> Loaded {
    let tag = u64::from(prefix.bytes().map(u32::from).sum::<u32>() % 4096);
    let mut loading = Loading {
        gti,
        shape,
        detail,
        now,
        tag,
        serial: 0,
        events: 0,
        event_bytes: 0,
    };
    let observables = (1..=count)
        .map(|index| {
            let observable = Observable::new(prefix, index, tag, detail);
            loading.detections(&observable);
            loading.searched(&observable);
            load_entity(gti, &observable.value, now);
            loading.dhcp(&observable);
            json!({"type": "ip", "value": observable.value})
        })
        .collect();
    Loaded {
        observables,
        events: loading.events,
        event_bytes: loading.event_bytes,
    }
}

pub fn observe_body(observables: &[Value]) -> String {
    Value::Array(observables.to_vec()).to_string()
}

/// One observable and what stays the same across its events.
struct Observable {
    value: String,
    index: usize,
    /// Its internal devices.
    devices: Vec<String>,
    /// Its account code ([`Detail::Gti`]; the compact events' is `cstmr`).
    customer: &'static str,
}

impl Observable {
    fn new(prefix: &str, index: usize, tag: u64, detail: Detail) -> Observable {
        let devices = (0..detail.devices())
            .map(|k| format!("10.{}.{index}.{}", tag % 200, k + 1))
            .collect();
        let customer = match detail {
            Detail::Compact => "cstmr",
            Detail::Gti => pick(&CUSTOMERS, index as u64),
        };
        Observable {
            value: format!("{prefix}.{index}"),
            index,
            devices,
            customer,
        }
    }

    /// The internal device of the `k`th event.
    fn device(&self, k: usize) -> &str {
        &self.devices[k % self.devices.len()]
    }
}

/// The state of one [`load`]: where the data goes, and the serial that
/// makes every uuid (and every [`Detail::Gti`] event's values) unique.
struct Loading<'a> {
    gti: &'a MockGti,
    shape: Shape,
    detail: Detail,
    now: u64,
    tag: u64,
    serial: u64,
    events: usize,
    event_bytes: usize,
}

impl Loading<'_> {
    fn next_uuid(&mut self) -> String {
        self.serial += 1;
        format!("00000000-0000-4000-8{:03x}-{:012x}", self.tag, self.serial)
    }

    fn counted(&mut self, events: Vec<Value>) -> Vec<Value> {
        self.events += events.len();
        self.event_bytes += events.iter().map(|e| e.to_string().len()).sum::<usize>();
        events
    }

    /// The observable's detections, their rules and their events, each
    /// detection on `dst.ip` = the observable.
    fn detections(&mut self, observable: &Observable) {
        let mut detections = Vec::new();
        let mut rules = Vec::new();
        for d in 0..self.shape.detections {
            let detection_uuid = self.next_uuid();
            let rule_uuid = format!("00000000-0000-4000-9000-{d:012x}");
            let events: Vec<Value> = (0..self.shape.events_per_detection)
                .map(|e| {
                    let at =
                        self.now - HOUR - (d * self.shape.events_per_detection + e) as u64 * 60_000;
                    match self.detail {
                        Detail::Compact => compact_http(self.next_uuid(), observable, d, e, at),
                        Detail::Gti => {
                            let kind = Kind::DETECTED[e % Kind::DETECTED.len()];
                            self.gti_event(kind, observable, e, at)
                        }
                    }
                })
                .collect();
            let sha256s = match self.detail {
                Detail::Compact => vec![json!(format!("{:064x}", d + 1))],
                Detail::Gti => file_hashes(&events),
            };
            let detection = json!({
                "uuid": detection_uuid,
                "account_uuid": "0ed93998-99ff-4723-a5f1-a6cdbd4843e8",
                "device_ip": observable.device(d),
                "rule_uuid": rule_uuid,
                "indicators": [
                    {"field": "dst.ip", "values": [observable.value]},
                    {"field": "http:files.sha256", "values": sha256s},
                ],
            });
            detections.push(match self.detail {
                Detail::Compact => detection,
                Detail::Gti => gti_detection(detection, observable, self.now, events.len()),
            });
            rules.push(rule(&rule_uuid, d, self.detail));
            let events = self.counted(events);
            self.gti.set_detection_events(&detection_uuid, events);
        }
        self.gti.set_detections(
            &observable.value,
            json!({"detections": detections, "rules": rules}),
        );
    }

    /// The events the search for the observable finds, round-robin over
    /// the day windows (and, [`Detail::Gti`], over the event types).
    fn searched(&mut self, observable: &Observable) {
        let searched = (0..self.shape.searched)
            .map(|k| {
                let window = (k % DAY_RANGE) as u64;
                // Half a day inside its window, so a run of a few hours
                // still finds every event where it was put.
                let at = self.now - window * DAY - DAY / 2 - k as u64 * 1000;
                match self.detail {
                    Detail::Compact => compact_flow(self.next_uuid(), observable, k, at),
                    Detail::Gti => {
                        let kind = Kind::ALL[k % Kind::ALL.len()];
                        self.gti_event(kind, observable, k, at)
                    }
                }
            })
            .collect();
        let searched = self.counted(searched);
        self.gti
            .add_searched_events(&format!("ip = '{}'", observable.value), searched);
    }

    /// A [`Detail::Gti`] event of `kind`, the `k`th of its list.
    fn gti_event(&mut self, kind: Kind, observable: &Observable, k: usize, at: u64) -> Value {
        let uuid = self.next_uuid();
        let serial = self.serial;
        let sensor = format!("{}{}", observable.customer, 1 + mix(serial) % 3);
        events::event(
            kind,
            &Seed {
                value: &observable.value,
                device: observable.device(k),
                customer: observable.customer,
                sensor: &sensor,
                uuid,
                at,
                serial,
            },
        )
    }

    /// The DHCP records of the observable's internal devices, one each.
    fn dhcp(&self, observable: &Observable) {
        let index = observable.index;
        for (k, ip) in observable.devices.iter().enumerate() {
            let mac = format!("00:15:5d:00:{index:02x}:{k:02x}");
            let record = match self.detail {
                Detail::Compact => json!({
                    "account_code": "cstmr",
                    "mac": mac,
                    "hostname": format!("Workstation-{index}-{k}"),
                    "ip": ip,
                }),
                Detail::Gti => {
                    let n = mix((index * 16 + k) as u64);
                    let lease = self.now - DAY - n % (30 * DAY);
                    json!({
                        "account_code": observable.customer,
                        "ip": ip,
                        "mac": mac,
                        "hostname": format!("{}-{:03}", pick(&["FinanceWks", "EngLaptop", "HR-PC", "Kiosk"], n), n % 1000),
                        "lease_start": format_timestamp(lease),
                        "lease_end": format_timestamp(lease + 8 * DAY),
                        "sensor_ids": [format!("{}1", observable.customer)],
                    })
                }
            };
            self.gti.set_dhcp_records(ip, vec![record]);
        }
    }
}

/// Issue 9's detection event: an HTTP download from the observable.
fn compact_http(uuid: String, observable: &Observable, d: usize, e: usize, at: u64) -> Value {
    json!({
        "event_type": "http",
        "uuid": uuid,
        "customer_id": "cstmr",
        "sensor_id": "snsr",
        "timestamp": format_timestamp(at),
        "src": {"ip": observable.device(e), "internal": true, "port": 49152 + e},
        "dst": {"ip": observable.value, "internal": false, "port": 80},
        "method": "GET",
        "host": {"domain": "mystery.example"},
        "uri": {"uri": "/download.php"},
        "user_agent": "FileReceiver",
        "status_code": 200,
        "status_msg": "OK",
        "files": [{
            "md5": format!("{:032x}", e),
            "sha1": format!("{:040x}", e),
            "sha256": format!("{:064x}", d + 1),
        }],
    })
}

/// Issue 9's searched event: a flow to the observable.
fn compact_flow(uuid: String, observable: &Observable, k: usize, at: u64) -> Value {
    json!({
        "event_type": "flow",
        "uuid": uuid,
        "customer_id": "cstmr",
        "sensor_id": "snsr",
        "timestamp": format_timestamp(at),
        "src": {"ip": observable.device(k), "internal": true, "port": 50000 + k},
        "dst": {"ip": observable.value, "internal": false, "port": 443},
        "proto": "tcp",
        "duration": 1.5,
        "src_bytes": 1200,
        "dst_bytes": 5400,
    })
}

/// The sha256 of every file of `events`, once each: a detection's
/// `http:files.sha256` indicator values.
fn file_hashes(events: &[Value]) -> Vec<Value> {
    let mut hashes: Vec<Value> = Vec::new();
    for event in events {
        let files = event.get("files").and_then(Value::as_array);
        for hash in files
            .into_iter()
            .flatten()
            .filter_map(|file| file.get("sha256"))
        {
            if !hashes.contains(hash) {
                hashes.push(hash.clone());
            }
        }
    }
    hashes
}

/// `detection` with the rest of the fields GTI sends with one.
fn gti_detection(mut detection: Value, observable: &Observable, now: u64, events: usize) -> Value {
    let seen = |back: u64| format_timestamp(now - back);
    let more = json!({
        "sensor_id": format!("{}1", observable.customer),
        "status": "active",
        "muted": false,
        "muted_rule": false,
        "muted_device_uuid": null,
        "resolution": null,
        "resolution_comment": null,
        "resolution_timestamp": null,
        "resolution_user_uuid": null,
        "first_seen": seen(3 * DAY),
        "last_seen": seen(HOUR),
        "created": seen(3 * DAY - HOUR),
        "updated": seen(HOUR),
        "event_count": events,
    });
    if let (Value::Object(fields), Value::Object(more)) = (&mut detection, more) {
        fields.extend(more);
    }
    detection
}

/// The rule of the `d`th detection.
fn rule(uuid: &str, d: usize, detail: Detail) -> Value {
    let mut rule = json!({
        "uuid": uuid,
        "name": format!("Benchmark rule {d}"),
        "category": "Attack:Installation",
        "description": "A rule of the benchmark's synthetic data.",
        "severity": "moderate",
        "confidence": "low",
        "created": "2020-05-04T21:39:41.696Z",
    });
    if detail == Detail::Gti {
        let more = json!({
            "description": "This logic is intended to detect executable files downloaded over HTTP from hosts with no reputation, which droppers and loaders use to install their payload.",
            "account_uuid": "0ed93998-99ff-4723-a5f1-a6cdbd4843e8",
            "shared_account_uuids": null,
            "query_signature": "http:files.mime_type = 'application/x-dosexec' AND dst.internal = false AND NOT dst.asn.asn_org IN ('MICROSOFT-CORP-MSN-AS-BLOCK', 'AKAMAI-AS')",
            "auto_resolution_minutes": 10080,
            "enabled": true,
            "specificity": "any",
            "primary_attack_id": "T1105",
            "secondary_attack_id": "T1204.002",
            "device_ip_fields": ["src.ip"],
            "indicator_fields": ["dst.ip", "http:files.sha256"],
            "updated": "2024-02-11T09:12:03.221Z",
            "created_user_uuid": "9a1c3b9e-7d7e-4a0b-9f0e-6c1f3d2b8a71",
            "updated_user_uuid": "9a1c3b9e-7d7e-4a0b-9f0e-6c1f3d2b8a71",
        });
        if let (Value::Object(fields), Value::Object(more)) = (&mut rule, more) {
            fields.extend(more);
        }
    }
    rule
}

/// The entity v1 answers of `value` (SPEC §8.4): a summary and a few
/// passive DNS records, as GTI gives them for a busy IP.
fn load_entity(gti: &MockGti, value: &str, now: u64) {
    let seen = |days: u64| format_timestamp(now - days * gti_relay::time::DAY_MILLIS);
    gti.set_entity(
        Endpoint::EntitySummary,
        value,
        json!({"summary": {"entity": value, "first_seen": seen(30), "last_seen": seen(0),
            "prevalence_count_internal": 12, "tags": [{"text": "bench"}]}}),
    );
    let records: Vec<Value> = (0..5)
        .map(|k| {
            json!({"resolved": format!("host{k}.bench.example"), "record_type": "A",
                "first_seen": seen(20 + k), "last_seen": seen(k), "source": "icebrg_dns",
                "sensor_id": "snsr", "account_uuid": "cstmr"})
        })
        .collect();
    gti.set_entity(Endpoint::PassiveDns, value, json!({"passivedns": records}));
}
