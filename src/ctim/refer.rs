//! The pivot links of `/refer/observables`.

use serde_json::{json, Value};

use super::url::{search_url, trim_portal};

/// The `/refer/observables` item for a supported observable type (`ip`,
/// `domain`, `md5`, `sha1`, `sha256`), `None` for any other. As the
/// reference builds it, except that the value is form-encoded inside the
/// search link (SPEC §2); the id keeps the raw value.
pub fn refer_link(portal_url: &str, observable_type: &str, value: &str) -> Option<Value> {
    let label = match observable_type {
        "ip" => "IP",
        "domain" => "domain",
        "md5" => "MD5",
        "sha1" => "SHA1",
        "sha256" => "SHA256",
        _ => return None,
    };
    Some(json!({
        "id": format!("ref-gti-search-{observable_type}-{value}"),
        "title": format!("Search for this {label}"),
        "description": format!("Lookup this {label} on Gigamon ThreatINSIGHT"),
        "url": search_url(trim_portal(portal_url), value),
        "categories": ["Search", "Gigamon ThreatINSIGHT"],
    }))
}
