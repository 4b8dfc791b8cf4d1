//! The pivot links of `/refer/observables` and `gti-relay refer`: no GTI
//! call, no token needed; the caller picks the portal (its region's).

use serde_json::Value;

use crate::ctim;
use crate::observable::Observable;

/// The pivot links of `/refer/observables` and `gti-relay refer`: one per
/// supported observable, in request order.
pub fn refer_links(portal_url: &str, observables: &[Observable]) -> Value {
    Value::Array(
        observables
            .iter()
            .map(|observable| ctim::refer_link(portal_url, observable.kind, &observable.value))
            .collect(),
    )
}
