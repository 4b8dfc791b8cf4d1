//! GTI misbehaving in every way SPEC §4 names, through the relay over real
//! sockets: each fault gives its exact error, the observables that did not
//! meet it keep their data, and the relay gives up within its retry budget
//! (counted in upstream calls, never in wall time).

use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gti_relay::gti::Endpoint;
use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

use crate::support::mock_gti::Fault;
use crate::support::stack::{ip_observables, Stack};
use crate::support::tls::SelfSignedServer;

const GOOD: &str = "203.0.113.1";
const BAD: &str = "203.0.113.2";

fn recent() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    format_timestamp(now - 60_000)
}

/// Serves one searched event per observable; only BAD's event has an
/// internal IP, so only BAD needs the DHCP look-up.
fn serve_events(stack: &Stack) {
    for (value, internal) in [(GOOD, false), (BAD, true)] {
        stack.gti.add_searched_events(
            &format!("ip = '{value}'"),
            vec![json!({
                "uuid": format!("event-{value}"), "timestamp": recent(), "event_type": "flow",
                "customer_id": "acme", "sensor_id": "s1",
                "src": {"ip": "10.0.0.5", "internal": internal},
                "dst": {"ip": value, "internal": false},
            })],
        );
    }
}

/// Observes GOOD then BAD; asserts GOOD's data survived and returns the
/// errors.
fn observe_both(stack: &Stack) -> Value {
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "ip", "value": GOOD}, {"type": "ip", "value": BAD}]),
    );
    let sightings = &answer["data"]["sightings"];
    assert_eq!(sightings["count"], 1, "{answer}");
    assert_eq!(
        sightings["docs"][0]["external_ids"][0],
        format!("event-{GOOD}")
    );
    answer["errors"].clone()
}

fn error(code: &str, message: &str) -> Value {
    json!([{"code": code, "message": message, "type": "fatal"}])
}

/// Runs BAD's detections call into `fault`, with `vars`.
fn detections_fault(vars: &[(&str, &str)], fault: Fault) -> (Stack, Value) {
    let stack = Stack::start(vars);
    serve_events(&stack);
    stack.gti.fault(Endpoint::Detections, fault.matching(BAD));
    let errors = observe_both(&stack);
    (stack, errors)
}

fn bad_detection_calls(stack: &Stack) -> usize {
    stack
        .gti
        .calls_to(Endpoint::Detections)
        .iter()
        .filter(|call| call.query_value("indicator_value") == Some(BAD))
        .count()
}

#[test]
fn a_non_json_answer_is_an_invalid_upstream_response() {
    let (stack, errors) = detections_fault(&[], Fault::status(200).with_body("<html>oops</html>"));
    assert_eq!(errors[0]["code"], "invalid upstream response");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("GTI detections API answered with an unexpected body: not JSON"),
        "{message}"
    );
    assert_eq!(bad_detection_calls(&stack), 1, "a bad body is not retried");
}

#[test]
fn json_of_the_wrong_shape_is_an_invalid_upstream_response() {
    let (stack, errors) = detections_fault(
        &[],
        Fault::status(200).with_json(json!({"detections": "none"})),
    );
    assert_eq!(errors[0]["code"], "invalid upstream response");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("GTI detections API answered with an unexpected body: "),
        "{message}"
    );
    assert!(message.contains("invalid type"), "{message}");
    assert_eq!(bad_detection_calls(&stack), 1);
}

#[test]
fn too_many_requests_are_retried_then_reported() {
    let (stack, errors) = detections_fault(
        &[("GTI_RETRIES", "2")],
        Fault::status(429).with_retry_after("0"),
    );
    assert_eq!(
        errors,
        error(
            "too many requests",
            "GTI detections API kept answering 429 Too Many Requests; retries ran out."
        )
    );
    assert_eq!(bad_detection_calls(&stack), 3);
}

#[test]
fn a_rate_limit_that_lifts_is_invisible() {
    let stack = Stack::start(&[("GTI_RETRIES", "2")]);
    serve_events(&stack);
    stack.gti.fault(
        Endpoint::Detections,
        Fault::status(429)
            .with_retry_after("1")
            .times(1)
            .matching(BAD),
    );
    let answer = stack.observe(&stack.token(), &json!([{"type": "ip", "value": BAD}]));
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(answer["data"]["sightings"]["count"], 1);
    assert_eq!(bad_detection_calls(&stack), 2);
}

#[test]
fn server_errors_are_retried_then_reported_as_unavailable() {
    for status in [500, 502, 503] {
        let (stack, errors) = detections_fault(&[("GTI_RETRIES", "2")], Fault::status(status));
        assert_eq!(errors[0]["code"], "service unavailable", "{status}");
        let message = errors[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("GTI detections API is unavailable: "),
            "{message}"
        );
        assert!(message.contains(&status.to_string()), "{message}");
        assert_eq!(bad_detection_calls(&stack), 3, "{status}");
    }
}

#[test]
fn slow_headers_and_slow_bodies_time_out() {
    for fault in [
        Fault::delay(Duration::from_secs(4)),
        Fault::delay(Duration::ZERO).with_slow_body(Duration::from_secs(4)),
    ] {
        let (stack, errors) =
            detections_fault(&[("GTI_TIMEOUT_SECS", "1"), ("GTI_RETRIES", "1")], fault);
        assert_eq!(errors[0]["code"], "service unavailable");
        let message = errors[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("GTI detections API is unavailable: timed out"),
            "{message}"
        );
        assert!(bad_detection_calls(&stack) <= 2);
    }
}

#[test]
fn past_the_request_deadline_the_answer_keeps_what_came_back() {
    // GTI's own timeout (30 s) would wait; the request's 1 s deadline cuts
    // the call instead, and GOOD's data is kept beside the error.
    let (stack, errors) = detections_fault(
        &[("REQUEST_DEADLINE_SECS", "1")],
        Fault::delay(Duration::from_secs(6)),
    );
    assert_eq!(
        errors,
        error(
            "service unavailable",
            "GTI did not answer everything within the request's 1 s deadline \
             (REQUEST_DEADLINE_SECS); the answer holds what came back in time."
        )
    );
    assert_eq!(bad_detection_calls(&stack), 1);
}

#[test]
fn a_retry_after_longer_than_the_deadline_is_not_waited_for() {
    let (stack, errors) = detections_fault(
        &[("REQUEST_DEADLINE_SECS", "5"), ("GTI_RETRIES", "2")],
        Fault::status(429).with_retry_after("60"),
    );
    assert_eq!(
        errors,
        error(
            "too many requests",
            "GTI detections API kept answering 429 Too Many Requests; retries ran out."
        )
    );
    assert_eq!(bad_detection_calls(&stack), 1);
}

#[test]
fn a_connection_reset_inside_a_body_is_unavailable() {
    let (stack, errors) = detections_fault(
        &[("GTI_RETRIES", "1")],
        Fault::gti_error(200, "x", "a body long enough to be cut in half").truncated(),
    );
    assert_eq!(
        errors,
        error(
            "service unavailable",
            "GTI detections API is unavailable: connection closed before the answer was complete."
        )
    );
    assert!(bad_detection_calls(&stack) <= 2);
}

/// Runs the two observables with the DHCP look-up (needed by BAD only)
/// pointed at `entity_url`. A failed DHCP look-up costs only what DHCP adds
/// (SPEC §8.1): BAD keeps its sighting, so both observables' data stand
/// beside the error.
fn entity_url_fault(entity_url: &str) -> Value {
    let stack = Stack::start(&[
        ("GTI_ENTITY_URL", entity_url),
        ("GTI_RETRIES", "1"),
        ("GTI_TIMEOUT_SECS", "5"),
    ]);
    serve_events(&stack);
    let answer = stack.observe(
        &stack.token(),
        &json!([{"type": "ip", "value": GOOD}, {"type": "ip", "value": BAD}]),
    );
    let external_ids: Vec<&Value> = answer["data"]["sightings"]["docs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|doc| &doc["external_ids"][0])
        .collect();
    assert_eq!(
        external_ids,
        [
            &json!(format!("event-{GOOD}")),
            &json!(format!("event-{BAD}"))
        ],
        "{answer}"
    );
    answer["errors"].clone()
}

#[test]
fn a_refused_connection_is_unavailable() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let errors = entity_url_fault(&format!("http://{closed}/entity/v2/"));
    assert_eq!(
        errors,
        error(
            "service unavailable",
            "GTI DHCP look-up API is unavailable: connection refused."
        )
    );
}

#[test]
fn a_host_that_does_not_resolve_is_unavailable() {
    let errors = entity_url_fault("http://gti-relay-test.invalid/entity/v2/");
    assert_eq!(errors[0]["code"], "service unavailable");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("GTI DHCP look-up API is unavailable: "),
        "{message}"
    );
}

#[test]
fn a_self_signed_certificate_is_refused() {
    let server = SelfSignedServer::start();
    let errors = entity_url_fault(&server.url("/entity/v2/"));
    assert_eq!(
        errors,
        error(
            "ssl certificate verification failed",
            "Unable to verify SSL certificate: Invalid peer certificate: UnknownIssuer."
        )
    );
    assert_eq!(
        server.connections(),
        1,
        "a certificate failure is not retried"
    );
}

#[test]
fn distinct_failures_are_reported_once_each() {
    let stack = Stack::start(&[("GTI_RETRIES", "0")]);
    let values = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
    stack.gti.fault(
        Endpoint::Detections,
        Fault::gti_error(500, "a.b", "First.").matching(values[0]),
    );
    stack.gti.fault(
        Endpoint::Detections,
        Fault::gti_error(500, "a.b", "First.").matching(values[1]),
    );
    stack.gti.fault(
        Endpoint::Detections,
        Fault::gti_error(500, "c.d", "Second.").matching(values[2]),
    );

    let answer = stack.observe(&stack.token(), &ip_observables(&values));
    assert_eq!(
        answer,
        json!({"errors": [
            {"code": "a : b", "message": "First.", "type": "fatal"},
            {"code": "c : d", "message": "Second.", "type": "fatal"},
        ]})
    );
}

#[test]
fn the_in_flight_cap_holds_across_a_large_request() {
    let stack = Stack::start(&[("GTI_MAX_INFLIGHT", "4")]);
    stack.gti.set_latency(Duration::from_millis(20));
    let values: Vec<String> = (0..10).map(|n| format!("192.0.2.{n}")).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let answer = stack.observe(&stack.token(), &ip_observables(&values));
    assert_eq!(answer, json!({"data": {}}));
    // Per IP: the detections, 7 day windows, and the entity summary and
    // passive DNS look-ups (SPEC §8.4), all under the same cap.
    assert_eq!(stack.gti.total_calls(), 10 * (1 + 7 + 2));
    assert!(
        stack.gti.max_in_flight() <= 4,
        "{}",
        stack.gti.max_in_flight()
    );
    assert!(stack.gti.max_in_flight() >= 2, "calls do run in parallel");
}
