//! The mock GTI's data: the [`Shape`] of what stands behind each
//! observable, and [`load`], which puts it into the mock GTI and returns the
//! observe payload items.

use gti_relay::demo::gti::MockGti;
use gti_relay::gti::Endpoint;
use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

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

/// The relay's default `GTI_DAY_RANGE`.
pub const DAY_RANGE: usize = 7;

/// Latency rows: 3 detections × 4 events, 2 searched events per window.
pub const LATENCY_SHAPE: Shape = Shape {
    detections: 3,
    events_per_detection: 4,
    searched: 14,
};

/// Loads GTI data for `count` observables `<prefix>.1`, `<prefix>.2`, … and
/// returns them as observe payload items.
///
/// Longer than 60 lines on purpose: the detections, their events, the
/// searched events and the DHCP records of one observable are written out
/// as GTI sends them, side by side, so that the data behind each row can be
/// read in one place.
pub fn load(gti: &MockGti, prefix: &str, count: usize, shape: Shape, now: u64) -> Vec<Value> {
    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 24 * HOUR;
    let mut observables = Vec::with_capacity(count);
    let mut serial = 0u64;
    let mut next_uuid = |tag: u64| {
        serial += 1;
        format!("00000000-0000-4000-8{tag:03x}-{serial:012x}")
    };
    let tag = u64::from(prefix.bytes().map(u32::from).sum::<u32>() % 4096);
    for index in 1..=count {
        let value = format!("{prefix}.{index}");
        let internal = |k: usize| format!("10.{}.{index}.{}", tag % 200, k % 4 + 1);
        let mut detections = Vec::new();
        let mut rules = Vec::new();
        for d in 0..shape.detections {
            let detection_uuid = next_uuid(tag);
            let rule_uuid = format!("00000000-0000-4000-9000-{d:012x}");
            detections.push(json!({
                "uuid": detection_uuid,
                "account_uuid": "0ed93998-99ff-4723-a5f1-a6cdbd4843e8",
                "device_ip": internal(d),
                "rule_uuid": rule_uuid,
                "indicators": [
                    {"field": "dst.ip", "values": [value]},
                    {"field": "http:files.sha256", "values": [format!("{:064x}", d + 1)]},
                ],
            }));
            rules.push(json!({
                "uuid": rule_uuid,
                "name": format!("Benchmark rule {d}"),
                "category": "Attack:Installation",
                "description": "A rule of the benchmark's synthetic data.",
                "severity": "moderate",
                "confidence": "low",
                "created": "2020-05-04T21:39:41.696Z",
            }));
            let events = (0..shape.events_per_detection)
                .map(|e| {
                    let at = now - HOUR - (d * shape.events_per_detection + e) as u64 * 60_000;
                    json!({
                        "event_type": "http",
                        "uuid": next_uuid(tag),
                        "customer_id": "cstmr",
                        "sensor_id": "snsr",
                        "timestamp": format_timestamp(at),
                        "src": {"ip": internal(e), "internal": true, "port": 49152 + e},
                        "dst": {"ip": value, "internal": false, "port": 80},
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
                })
                .collect();
            gti.set_detection_events(&detection_uuid, events);
        }
        gti.set_detections(&value, json!({"detections": detections, "rules": rules}));
        let searched = (0..shape.searched)
            .map(|k| {
                let window = (k % DAY_RANGE) as u64;
                // Half a day inside its window, so a run of a few hours
                // still finds every event where it was put.
                let at = now - window * DAY - DAY / 2 - k as u64 * 1000;
                json!({
                    "event_type": "flow",
                    "uuid": next_uuid(tag),
                    "customer_id": "cstmr",
                    "sensor_id": "snsr",
                    "timestamp": format_timestamp(at),
                    "src": {"ip": internal(k), "internal": true, "port": 50000 + k},
                    "dst": {"ip": value, "internal": false, "port": 443},
                    "proto": "tcp",
                    "duration": 1.5,
                    "src_bytes": 1200,
                    "dst_bytes": 5400,
                })
            })
            .collect();
        gti.add_searched_events(&format!("ip = '{value}'"), searched);
        load_entity(gti, &value, now);
        for k in 0..4 {
            let ip = internal(k);
            gti.set_dhcp_records(
                &ip,
                vec![json!({
                    "account_code": "cstmr",
                    "mac": format!("00:15:5d:00:{index:02x}:{k:02x}"),
                    "hostname": format!("Workstation-{index}-{k}"),
                    "ip": ip,
                })],
            );
        }
        observables.push(json!({"type": "ip", "value": value}));
    }
    observables
}

pub fn observe_body(observables: &[Value]) -> String {
    Value::Array(observables.to_vec()).to_string()
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
