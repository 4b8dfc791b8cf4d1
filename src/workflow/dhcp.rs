//! DHCP enrichment: which internal IPs to look up (one bulk call per
//! observable), and the records GTI returns, indexed by IP for the mapper.
//! Pure; the call itself is the executor's.

use std::collections::{HashMap, HashSet};

use crate::gti::model::{DhcpRecord, Event, Side, Verbatim};
use crate::gti::DhcpLookup;

/// One DHCP look-up per internal src/dst IP, at the time of its newest
/// event (events are already newest first), in order of first appearance.
pub fn dhcp_lookups<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<DhcpLookup> {
    let mut seen = HashSet::new();
    let mut lookups = Vec::new();
    for event in events {
        for ip in event.sides().into_iter().filter_map(internal_ip) {
            if seen.insert(ip) {
                lookups.push(DhcpLookup {
                    ip: ip.to_owned(),
                    event_time: event.timestamp().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    lookups
}

/// The DHCP records of one observable's internal IPs, in GTI's order per IP.
#[derive(Debug, Default)]
pub struct DhcpIndex(HashMap<String, Vec<DhcpRecord>>);

impl DhcpIndex {
    pub fn new(records: Vec<DhcpRecord>) -> DhcpIndex {
        let mut by_ip: HashMap<String, Vec<DhcpRecord>> = HashMap::new();
        for record in records {
            by_ip.entry(record.ip.clone()).or_default().push(record);
        }
        DhcpIndex(by_ip)
    }

    /// The records of an end of an event: none unless it is internal.
    pub fn of(&self, side: Option<&Side>) -> &[DhcpRecord] {
        internal_ip(side)
            .and_then(|ip| self.0.get(ip))
            .map_or(&[], Vec::as_slice)
    }
}

/// The IP of an end GTI marks internal (`"internal": true`; the reference
/// compares with `True`, so other truthy values do not count here).
fn internal_ip(side: Option<&Side>) -> Option<&str> {
    let side = side?;
    (side.internal.get().and_then(Verbatim::as_bool) == Some(true))
        .then(|| side.ip())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn dhcp_is_looked_up_once_per_internal_ip_at_its_newest_event() {
        let events = [
            event(
                r#"{"timestamp": "t2", "src": {"ip": "10.0.0.1", "internal": true}, "dst": {"ip": "8.8.8.8", "internal": false}}"#,
            ),
            event(
                r#"{"timestamp": "t1", "src": {"ip": "10.0.0.2", "internal": true}, "dst": {"ip": "10.0.0.1", "internal": true}}"#,
            ),
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
        let record = |hostname: &str| DhcpRecord {
            ip: "10.0.0.1".into(),
            account_code: None,
            hostname: Some(Verbatim::Text(hostname.into())),
            mac: None,
        };
        let records = vec![record("a"), record("b")];
        let index = DhcpIndex::new(records.clone());
        assert_eq!(index.of(events[0].src.get()), records);
        assert_eq!(index.of(events[1].dst.get()), records);
        assert!(index.of(events[0].dst.get()).is_empty());
        assert!(index.of(events[1].src.get()).is_empty());
    }
}
