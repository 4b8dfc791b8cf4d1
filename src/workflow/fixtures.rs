//! Test data shared by the workflow's unit tests.

use serde_json::{json, Value};

use super::{FoundEvent, Settings};
use crate::gti::model::Detection;

/// `limit` events per observable and `windows` day windows ending on
/// 2026-11-30T01:12:18.123Z.
pub fn settings(limit: usize, windows: usize) -> Settings {
    Settings {
        entities_limit: limit,
        allow_test_accounts: false,
        windows: crate::gti::day_windows(1_796_001_138_123, windows as u32),
        enrich: false,
    }
}

/// GTI's types from JSON, read from text as the client reads them.
pub fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_str(&value.to_string()).unwrap()
}

/// A flow event of the account `acme`.
pub fn event_json(uuid: &str, timestamp: &str) -> Value {
    json!({"uuid": uuid, "timestamp": timestamp, "customer_id": "acme", "event_type": "flow"})
}

/// A detection with one indicator.
pub fn detection(
    uuid: &str,
    account: &str,
    rule: &str,
    device: &str,
    field: &str,
    values: &[&str],
) -> Detection {
    typed(&detection_json(uuid, account, rule, device, field, values))
}

/// [`detection`] as GTI's JSON.
pub fn detection_json(
    uuid: &str,
    account: &str,
    rule: &str,
    device: &str,
    field: &str,
    values: &[&str],
) -> Value {
    json!({
        "uuid": uuid, "account_uuid": account, "rule_uuid": rule, "device_ip": device,
        "indicators": [{"field": field, "values": values}],
    })
}

/// The uuids of `events`, in order.
pub fn uuids(events: &[FoundEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|found| found.event.uuid())
        .collect()
}
