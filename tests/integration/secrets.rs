//! No secret ever reaches the log or an answer: neither the GTI API key nor
//! the caller's token, at any log level, on success or failure.

use gti_relay::gti::Endpoint;
use serde_json::json;

use crate::support::logs;
use crate::support::mock_gti::Fault;
use crate::support::stack::Stack;

#[test]
fn keys_and_tokens_appear_in_no_log_line_and_no_answer() {
    logs::start();
    let key = "SECRET-gti-key-4f1d9c";
    let stack = Stack::start(&[("GTI_RETRIES", "1")]);
    stack.gti.set_key(key);
    stack.gti.add_searched_events(
        "ip = '203.0.113.7'",
        vec![json!({"uuid": "e1", "timestamp": "2999-01-01T00:00:00.000Z", "event_type": "flow"})],
    );
    stack.gti.fault(
        Endpoint::Detections,
        Fault::status(503).matching("203.0.113.8"),
    );
    let token = stack.token_with(|claims| {
        claims.insert("key".into(), json!(key));
    });
    let wrong_key_token = stack.token_with(|claims| {
        claims.insert("key".into(), json!(format!("{key}-revoked")));
    });
    let expired = stack.token_with(|claims| {
        claims.insert("key".into(), json!(key));
        claims.insert("exp".into(), json!(1));
    });

    let mut answers = vec![
        stack.observe(
            &token,
            &json!([{"type": "ip", "value": "203.0.113.7"}, {"type": "ip", "value": "203.0.113.8"}]),
        ),
        stack.relay.post("/health", Some(&token), ""),
        stack.relay.post("/health", Some(&wrong_key_token), ""),
        stack.relay.post("/health", Some(&expired), ""),
        stack.relay.post("/observe/observables", Some(&format!("{token}x")), "[]"),
    ];
    answers.push(stack.relay.post("/health", Some("not.a.token"), ""));
    assert!(answers[1]["data"]["status"] == "ok", "{}", answers[1]);
    assert!(answers[2]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("Authorization failed"));

    let secrets = [
        key,
        token.as_str(),
        wrong_key_token.as_str(),
        expired.as_str(),
    ];
    // The token's signature alone would be enough to replay it.
    let signature = token.rsplit('.').next().unwrap();
    let lines = logs::lines();
    assert!(
        lines.iter().any(|line| line.contains("/health")),
        "the log was captured"
    );
    for line in &lines {
        for secret in secrets.iter().chain([&signature]) {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
    for answer in &answers {
        let text = answer.to_string();
        for secret in secrets.iter().chain([&signature]) {
            assert!(!text.contains(secret), "a secret in an answer: {text}");
        }
    }
}
