//! Authentication as a SecureX client meets it: tokens over HTTP, the
//! audience derived from the request, and hostile `jwks_host`s refused
//! before any request leaves the relay.

use gti_relay::config::Config;
use serde_json::{json, Value};

use crate::support::jwks::MockJwks;
use crate::support::relay::TestRelay;
use crate::support::tokens::{self, relay_key};

const KID: &str = "relay-kid";

fn config() -> Config {
    config_with(&[])
}

/// The tests' configuration with `extra` variables (which win).
fn config_with(extra: &[(&str, &str)]) -> Config {
    let vars = [
        ("WORKERS", "2"),
        ("JWKS_ALLOWED_HOSTS", "127.0.0.1:*"),
        ("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks"),
    ];
    Config::from_vars(vars.iter().chain(extra).copied()).unwrap()
}

fn auth_error(message: &str) -> Value {
    json!({"errors": [{
        "code": "authorization error",
        "message": format!("Authorization failed: {message}"),
        "type": "fatal",
    }]})
}

fn token(jwks: &MockJwks, aud: &str) -> String {
    tokens::sign(relay_key(), Some(KID), &tokens::payload(&jwks.host(), aud))
}

#[test]
fn a_valid_token_opens_observe() {
    let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), KID)]));
    let relay = TestRelay::start(config());
    let token = token(&jwks, &relay.url());

    assert_eq!(
        relay.post("/observe/observables", Some(&token), "[]"),
        json!({"data": {}})
    );
    // Unsupported observables are skipped without a GTI call.
    assert_eq!(
        relay.post(
            "/observe/observables",
            Some(&token),
            r#"[{"type": "email", "value": "a@b.c"}]"#
        ),
        json!({"data": {}})
    );
    assert_eq!(
        jwks.requests(),
        1,
        "the second request uses the cached keys"
    );
}

#[test]
fn the_audience_comes_from_the_forwarded_request_or_relay_url() {
    let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), KID)]));
    let relay = TestRelay::start(config());
    let token = token(&jwks, "https://relay.example.com/");
    let bearer = format!("Bearer {token}");
    let call = |headers: &[(&str, &str)]| {
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        relay.call("POST", "/observe/observables", &all, b"[]").1
    };

    assert_eq!(
        call(&[
            ("Host", "relay.example.com"),
            ("X-Forwarded-Proto", "https")
        ]),
        json!({"data": {}})
    );
    assert_eq!(
        call(&[("Host", "relay.example.com")]),
        auth_error("Wrong configuration-token-audience")
    );
    assert_eq!(call(&[]), auth_error("Wrong configuration-token-audience"));

    let configured = config_with(&[("RELAY_URL", "https://relay.example.com")]);
    let relay = TestRelay::start(configured);
    let (_, answer) = relay.call(
        "POST",
        "/observe/observables",
        &[("Authorization", &bearer)],
        b"[]",
    );
    assert_eq!(answer, json!({"data": {}}));
}

#[test]
fn header_and_token_faults_get_their_messages() {
    let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), KID)]));
    let relay = TestRelay::start(config());
    let observe = |authorization: &str| {
        relay
            .call("POST", "/health", &[("Authorization", authorization)], b"")
            .1
    };
    assert_eq!(observe("Basic abc"), auth_error("Wrong authorization type"));
    assert_eq!(
        observe("Bearer a b"),
        auth_error("Wrong authorization type")
    );
    assert_eq!(
        observe("Bearer not-a-jwt"),
        auth_error("Wrong JWT structure")
    );

    let mut expired = tokens::payload(&jwks.host(), &relay.url());
    expired.insert("exp".into(), json!(tokens::now() - 120));
    let expired = tokens::sign(relay_key(), Some(KID), &expired);
    assert_eq!(
        observe(&format!("Bearer {expired}")),
        auth_error("The JWT has expired")
    );
}

#[test]
fn a_hostile_jwks_host_is_refused_before_any_request() {
    let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), KID)]));
    let strict = config_with(&[("JWKS_ALLOWED_HOSTS", "visibility.amp.cisco.com")]);
    let relay = TestRelay::start(strict);
    let message = "Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure";
    for host in [
        jwks.host(),
        format!("visibility.amp.cisco.com@{}", jwks.host()),
        format!("{}/visibility.amp.cisco.com", jwks.host()),
        "visibility.amp.cisco.com.evil.com".to_owned(),
    ] {
        let token = tokens::sign(
            relay_key(),
            Some(KID),
            &tokens::payload(&host, &relay.url()),
        );
        assert_eq!(
            relay.post("/observe/observables", Some(&token), "[]"),
            auth_error(message),
            "{host}"
        );
    }
    assert_eq!(jwks.requests(), 0);
}
