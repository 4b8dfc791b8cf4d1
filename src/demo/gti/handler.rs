//! One call, from the request as read to its answer, in this order: the
//! route, the call log, the latency, the key check, the malformed request,
//! the fault the call takes, the endpoint's answer. Threads and sockets are
//! the server's; the answers themselves the data's.

use std::thread;

use serde_json::Value;

use super::calls::Call;
use super::faults::Fault;
use super::reply::{Delivery, Reply};
use super::routes::{self, Refusal};
use super::Shared;
use crate::encoding::{unquote, unquote_plus};
use crate::gti::Endpoint;

/// One request as the server read it, body included.
pub(super) struct Incoming {
    pub(super) method: String,
    /// Path and query string, as sent.
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
    /// `None` when the body could not be read or is over the size limit.
    pub(super) body: Option<Vec<u8>>,
}

/// A request taken apart.
struct Parsed<'a> {
    path: &'a str,
    /// The decoded query string; `None` when malformed.
    query: Option<Vec<(String, String)>>,
    /// `None`: a body that could not be read or is not UTF-8 (answered 400
    /// once the call is recorded).
    raw_body: Option<&'a str>,
    /// The body, when it is JSON.
    body: Option<Value>,
}

impl Parsed<'_> {
    fn of(request: &Incoming) -> Parsed<'_> {
        let (path, raw_query) = request
            .target
            .split_once('?')
            .unwrap_or((request.target.as_str(), ""));
        let raw_body = request
            .body
            .as_deref()
            .and_then(|body| std::str::from_utf8(body).ok());
        Parsed {
            path,
            query: parse_query(raw_query),
            raw_body,
            body: raw_body.and_then(|text| serde_json::from_str::<Value>(text).ok()),
        }
    }
}

/// The answer to `request`, after the configured latency and faults.
pub(super) fn answer(shared: &Shared, request: &Incoming) -> Reply {
    let call = Parsed::of(request);
    let route = routes::route(&request.method, call.path, call.query.as_deref());
    record(shared, request, &call, route.ok());
    let (expected_key, latency) = {
        let data = shared.data();
        (format!("IBToken {}", data.key), data.latency)
    };
    if !latency.is_zero() {
        thread::sleep(latency);
    }
    let endpoint = match route {
        Ok(endpoint) => endpoint,
        Err(refusal) => return refused(refusal, &request.method, call.path),
    };
    let authorized = request.headers.iter().any(|(field, value)| {
        field.eq_ignore_ascii_case("Authorization") && *value == expected_key
    });
    if !authorized {
        return Reply::gti_error(
            401,
            "client.invalid_authentication",
            "Authentication is invalid.",
        );
    }
    let (Some(query), Some(raw_body)) = (call.query.as_deref(), call.raw_body) else {
        let mut answer = Reply::bad_request("Malformed query string or body.");
        answer.close = request.body.is_none();
        return answer;
    };
    let fault = shared.faults().take(endpoint, call.path, query, raw_body);
    let delivery = match fault.map(Fault::apply) {
        None => Delivery::Whole,
        Some(Ok(delivery)) => delivery,
        Some(Err(answer)) => return answer,
    };
    let mut answer = if endpoint == Endpoint::Resolve {
        let uuid = routes::resolved_uuid(call.path).and_then(unquote);
        let uuid = uuid.unwrap_or_default();
        shared.edit_data().resolve(&uuid, call.body.as_ref())
    } else {
        let entity = routes::entity_value(call.path).and_then(|(value, _)| unquote(value));
        shared
            .data()
            .answer(endpoint, query, call.body.as_ref(), entity.as_deref())
    };
    answer.delivery = delivery;
    answer
}

/// Counts the call and logs it, as it arrived.
fn record(shared: &Shared, request: &Incoming, call: &Parsed, endpoint: Option<Endpoint>) {
    shared.log().record(endpoint, || Call {
        endpoint,
        method: request.method.clone(),
        path: call.path.to_owned(),
        query: call.query.clone().unwrap_or_default(),
        headers: request.headers.clone(),
        body: call.body.clone(),
    });
}

/// GTI's answer to a call that has no endpoint.
fn refused(refusal: Refusal, method: &str, path: &str) -> Reply {
    match refusal {
        Refusal::MethodNotAllowed => {
            Reply::gti_error(405, "client.method_not_allowed", "Method not allowed.")
        }
        Refusal::NoRoute => Reply::new(404, format!("mock GTI has no route {method} {path}")),
    }
}

/// `a=1&b=x%20y` → `[("a","1"),("b","x y")]`; `None` when malformed.
fn parse_query(raw: &str) -> Option<Vec<(String, String)>> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((unquote_plus(name)?, unquote_plus(value)?))
        })
        .collect()
}
