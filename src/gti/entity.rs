//! The entity API's DHCP bulk look-up (`entity/tracking/bulk/get/ip`):
//! which device held an internal IP when an event was seen. GTI's 2022 API,
//! no longer called by Fortinet's current clients, so supplementary
//! (SPEC §8).

use serde::{Deserialize, Serialize};

use super::model::{null_as_default, ObjectOrNone, WireDhcpRecord};
use super::request::{json, Decode, DecodeError, GtiRequest, HttpCall, Method};
use super::{DhcpLookup, DhcpRecord, Endpoint};
use crate::region::RegionUrls;

/// The DHCP records of internal IPs, each at its event's time, in one call.
/// GTI refuses an empty look-up ("No entities specified."), so none is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpLookups {
    pub lookups: Vec<DhcpLookup>,
}

impl GtiRequest for DhcpLookups {
    type Output = Vec<DhcpRecord>;
    const ENDPOINT: Endpoint = Endpoint::Dhcp;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        if self.lookups.is_empty() {
            return None;
        }
        #[derive(Serialize)]
        struct Lookup<'a> {
            ip: &'a str,
            event_time: &'a str,
        }
        #[derive(Serialize)]
        struct Bulk<'a> {
            entities: Vec<Lookup<'a>>,
        }
        let body = Bulk {
            entities: self
                .lookups
                .iter()
                .map(|lookup| Lookup {
                    ip: &lookup.ip,
                    event_time: &lookup.event_time,
                })
                .collect(),
        };
        let url = format!("{}entity/tracking/bulk/get/ip", urls.entity);
        Some(HttpCall::with_json(
            Self::ENDPOINT,
            Method::Post,
            url,
            &body,
        ))
    }
}

/// `{"entity_tracking_bulk_response":{"dhcp":[…]}}`.
#[derive(Deserialize)]
struct DhcpAnswer {
    entity_tracking_bulk_response: DhcpBulk,
}

#[derive(Deserialize)]
struct DhcpBulk {
    #[serde(deserialize_with = "null_as_default")]
    dhcp: Vec<ObjectOrNone<WireDhcpRecord>>,
}

impl Decode for Vec<DhcpRecord> {
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let answer: DhcpAnswer = json(body)?;
        // The workflow groups records by `ip`; one without it is unusable.
        answer
            .entity_tracking_bulk_response
            .dhcp
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                record
                    .0
                    .and_then(WireDhcpRecord::checked)
                    .ok_or_else(|| DecodeError(format!("DHCP record {index} has no string `ip`")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;
    use serde_json::{json, Value};

    #[test]
    fn the_look_up_posts_every_ip_with_its_event_time() {
        let lookups = DhcpLookups {
            lookups: vec![DhcpLookup {
                ip: "10.0.0.1".into(),
                event_time: "t".into(),
            }],
        };
        let call = lookups.http(&Region::Us.default_urls()).unwrap();
        assert_eq!(call.method, Method::Post);
        assert_eq!(
            call.url,
            "https://entity.icebrg.io/v2/entity/tracking/bulk/get/ip"
        );
        let body: Value = serde_json::from_str(call.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"entities": [{"ip": "10.0.0.1", "event_time": "t"}]})
        );
    }

    #[test]
    fn a_record_without_an_ip_is_refused() {
        let body =
            br#"{"entity_tracking_bulk_response":{"dhcp":[{"ip":"10.0.0.1"},{"hostname":"h"}]}}"#;
        assert_eq!(
            Vec::<DhcpRecord>::decode(body),
            Err(DecodeError("DHCP record 1 has no string `ip`".into()))
        );
    }
}
