//! A sighting's `targets`: the internal device involved, named by its IP and
//! by what DHCP knew of it.

use serde::Serialize;

use super::EnrichedEvent;
use super::{ObservedTime, TypedValue};
use crate::gti::model::Verbatim;

#[derive(Debug, Serialize)]
pub(super) struct Target<'a> {
    observables: Vec<TypedValue<'a>>,
    observed_time: ObservedTime<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The internal device involved (source first, as the reference looks), with
/// hostname and MAC from the DHCP record of the event's own account: the
/// same IP can belong to different machines in different customer accounts.
pub(super) fn targets<'a>(
    found: &EnrichedEvent<'a>,
    observed_time: ObservedTime<'a>,
) -> Option<Target<'a>> {
    let (device, records) = found.sides().into_iter().find(|(side, _)| {
        side.and_then(|side| side.internal.get())
            .is_some_and(Verbatim::truthy)
    })?;
    let ip = device?.ip()?;

    let mut observables = vec![TypedValue::new("ip", ip)];
    let own = found.event.customer_id.get().and_then(|customer| {
        records
            .iter()
            .find(|record| record.account_code.as_ref() == Some(customer))
    });
    if let Some(record) = own {
        if let Some(hostname) = record.hostname.as_ref().and_then(Verbatim::truthy_str) {
            observables.push(TypedValue::new("hostname", hostname));
        }
        if let Some(mac) = record.mac.as_ref().and_then(Verbatim::truthy_str) {
            observables.push(TypedValue::new("mac_address", mac));
        }
    }

    Some(Target {
        observables,
        observed_time,
        kind: "endpoint",
    })
}
