//! Which GTI endpoint a call asks for, from its method and path, as GTI
//! lays them out: `/detections/v1/` (`detections`, `detections/<uuid>/resolve`,
//! `events`), `/events/v2/` (`query`), `/entity/v2/`
//! (`entity/tracking/bulk/get/ip`) and `/entity/v1/` (`entity/<value>/summary`,
//! `…/pdns`, `…/file`). Decides nothing else about an answer.

use crate::gti::Endpoint;

/// Why a call has no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// One of GTI's paths, with a method it does not take (405).
    MethodNotAllowed,
    /// None of GTI's paths (404).
    NoRoute,
}

/// The endpoint `method` and `path` ask for. `query` is the decoded query
/// string (`None` when malformed): a `GET detections` without an
/// `indicator_value` is the listing by creation date.
pub(super) fn route(
    method: &str,
    path: &str,
    query: Option<&[(String, String)]>,
) -> Result<Endpoint, Refusal> {
    let listing =
        query.is_some_and(|query| !query.iter().any(|(name, _)| name == "indicator_value"));
    let resolve = resolved_uuid(path).is_some();
    if let Some((_, endpoint)) = entity_value(path) {
        return match method {
            "GET" => Ok(endpoint),
            _ => Err(Refusal::MethodNotAllowed),
        };
    }
    match (path, method) {
        ("/detections/v1/detections", "GET") if listing => Ok(Endpoint::DetectionList),
        ("/detections/v1/detections", "GET") => Ok(Endpoint::Detections),
        (_, "PUT") if resolve => Ok(Endpoint::Resolve),
        _ if resolve => Err(Refusal::MethodNotAllowed),
        ("/detections/v1/events", "GET") => Ok(Endpoint::DetectionEvents),
        ("/events/v2/query", "POST") => Ok(Endpoint::EventSearch),
        ("/entity/v2/entity/tracking/bulk/get/ip", "POST") => Ok(Endpoint::Dhcp),
        (
            "/detections/v1/detections"
            | "/detections/v1/events"
            | "/events/v2/query"
            | "/entity/v2/entity/tracking/bulk/get/ip",
            _,
        ) => Err(Refusal::MethodNotAllowed),
        _ => Err(Refusal::NoRoute),
    }
}

/// The `<value>` of `/entity/v1/entity/<value>/summary` (`pdns`, `file`),
/// still percent-encoded, and the endpoint the last segment names.
pub(super) fn entity_value(path: &str) -> Option<(&str, Endpoint)> {
    let rest = path.strip_prefix("/entity/v1/entity/")?;
    let (value, what) = rest.rsplit_once('/')?;
    let endpoint = match what {
        "summary" => Endpoint::EntitySummary,
        "pdns" => Endpoint::PassiveDns,
        "file" => Endpoint::FileSummary,
        _ => return None,
    };
    (!value.is_empty() && !value.contains('/')).then_some((value, endpoint))
}

/// The `<uuid>` of `/detections/v1/detections/<uuid>/resolve`, still
/// percent-encoded.
pub(super) fn resolved_uuid(path: &str) -> Option<&str> {
    path.strip_prefix("/detections/v1/detections/")
        .and_then(|rest| rest.strip_suffix("/resolve"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_endpoint_has_its_method_and_path() {
        let none: &[(String, String)] = &[];
        let value = [("indicator_value".to_owned(), "1.2.3.4".to_owned())];
        let cases = [
            (
                "GET",
                "/detections/v1/detections",
                Some(&value[..]),
                Ok(Endpoint::Detections),
            ),
            (
                "GET",
                "/detections/v1/detections",
                Some(none),
                Ok(Endpoint::DetectionList),
            ),
            (
                "GET",
                "/detections/v1/detections",
                None,
                Ok(Endpoint::Detections),
            ),
            (
                "PUT",
                "/detections/v1/detections/a%20b/resolve",
                Some(none),
                Ok(Endpoint::Resolve),
            ),
            (
                "GET",
                "/detections/v1/detections/a/resolve",
                Some(none),
                Err(Refusal::MethodNotAllowed),
            ),
            (
                "GET",
                "/detections/v1/events",
                Some(none),
                Ok(Endpoint::DetectionEvents),
            ),
            (
                "POST",
                "/events/v2/query",
                Some(none),
                Ok(Endpoint::EventSearch),
            ),
            (
                "GET",
                "/events/v2/query",
                Some(none),
                Err(Refusal::MethodNotAllowed),
            ),
            (
                "POST",
                "/entity/v2/entity/tracking/bulk/get/ip",
                Some(none),
                Ok(Endpoint::Dhcp),
            ),
            (
                "GET",
                "/events/v2/nowhere",
                Some(none),
                Err(Refusal::NoRoute),
            ),
            (
                "GET",
                "/entity/v1/entity/8.8.8.8/summary",
                Some(none),
                Ok(Endpoint::EntitySummary),
            ),
            (
                "GET",
                "/entity/v1/entity/a%2Fb.com/pdns",
                Some(none),
                Ok(Endpoint::PassiveDns),
            ),
            (
                "POST",
                "/entity/v1/entity/abc/file",
                Some(none),
                Err(Refusal::MethodNotAllowed),
            ),
            (
                "GET",
                "/entity/v1/entity/abc/other",
                Some(none),
                Err(Refusal::NoRoute),
            ),
        ];
        for (method, path, query, endpoint) in cases {
            assert_eq!(route(method, path, query), endpoint, "{method} {path}");
        }
        assert_eq!(
            resolved_uuid("/detections/v1/detections/a%20b/resolve"),
            Some("a%20b")
        );
        assert_eq!(resolved_uuid("/detections/v1/detections"), None);
    }
}
