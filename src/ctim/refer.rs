//! The pivot links of `/refer/observables`.

use serde_json::{json, Value};

use super::url::{search_url, trim_portal};
use crate::observable::ObservableType;

/// The `/refer/observables` item for an observable, as the reference builds
/// it, except that the value is form-encoded inside the search link
/// (SPEC §2); the id keeps the raw value.
pub fn refer_link(portal_url: &str, observable_type: ObservableType, value: &str) -> Value {
    let label = match observable_type {
        ObservableType::Ip => "IP",
        ObservableType::Domain => "domain",
        ObservableType::Md5 => "MD5",
        ObservableType::Sha1 => "SHA1",
        ObservableType::Sha256 => "SHA256",
    };
    json!({
        "id": format!("ref-gti-search-{observable_type}-{value}"),
        "title": format!("Search for this {label}"),
        "description": format!("Lookup this {label} on Gigamon ThreatINSIGHT"),
        "url": search_url(trim_portal(portal_url), value),
        "categories": ["Search", "Gigamon ThreatINSIGHT"],
    })
}
