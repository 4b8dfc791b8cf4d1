//! Egress from a corporate network (SPEC §1): GTI and JWKS calls through a
//! CONNECT proxy chosen as curl chooses it (`NO_PROXY` bypassing it, proxy
//! credentials sent but never logged), and GTI behind a TLS-intercepting
//! proxy, trusted only with `GTI_CA_FILE`.

use gti_relay::config::Config;
use jwt_simple::reexports::ct_codecs::{Base64, Encoder};
use serde_json::{json, Value};

use crate::support::logs;
use crate::support::mock_gti::MockGti;
use crate::support::proxy::ConnectProxy;
use crate::support::stack::Stack;
use crate::support::tls::{test_ca_file, TlsFront};

const VALUE: &str = "203.0.113.7";

/// A mock GTI with one searchable event for [`VALUE`].
fn gti() -> MockGti {
    let gti = MockGti::start();
    gti.add_searched_events(
        &format!("ip = '{VALUE}'"),
        vec![
            json!({"uuid": "through-egress", "timestamp": crate::support::timestamp_minutes_ago(5),
                    "event_type": "flow", "customer_id": "acme"}),
        ],
    );
    gti
}

fn observe(stack: &Stack) -> Value {
    stack.observe(&stack.token(), &json!([{"type": "ip", "value": VALUE}]))
}

fn assert_found(answer: &Value) {
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        answer["data"]["sightings"]["docs"][0]["external_ids"][0], "through-egress",
        "{answer}"
    );
}

/// `GTI_*_URL` pointing at `front` (https), to pass to [`Stack::with_gti`].
fn https_urls(front: &TlsFront) -> [(&'static str, String); 4] {
    [
        ("GTI_DETECTIONS_URL", front.url("/detections/v1/")),
        ("GTI_EVENTS_URL", front.url("/events/v2/")),
        ("GTI_ENTITY_URL", front.url("/entity/v2/")),
        ("GTI_ENTITY_V1_URL", front.url("/entity/v1/")),
    ]
}

fn vars<'a>(
    owned: &'a [(&'static str, String)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    owned
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .chain(more.iter().copied())
        .collect()
}

#[test]
fn gti_and_jwks_calls_go_through_the_proxy() {
    let proxy = ConnectProxy::start();
    let gti = gti();
    let gti_port = gti.addr().port();
    let stack = Stack::with_gti(gti, &[("HTTP_PROXY", &proxy.url())]);
    assert_found(&observe(&stack));
    assert!(proxy.connects_to(gti_port) >= 1, "{:?}", proxy.requests());
    assert_eq!(
        proxy.connects_to(stack.jwks.port()),
        1,
        "{:?}",
        proxy.requests()
    );
    assert!(stack.gti.total_calls() >= 2);
    for request in proxy.requests() {
        assert!(request.connect_target().is_some(), "{request:?}");
        assert_eq!(request.authorization, None);
    }
}

#[test]
fn no_proxy_hosts_are_reached_directly() {
    let proxy = ConnectProxy::start();
    for no_proxy in ["127.0.0.1", "127.0.0.0/8", "*"] {
        let stack = Stack::with_gti(
            gti(),
            &[("http_proxy", &proxy.url()), ("NO_PROXY", no_proxy)],
        );
        assert_found(&observe(&stack));
    }
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());

    // As in curl, a name matches names only: localhost is not 127.0.0.1.
    let stack = Stack::with_gti(
        gti(),
        &[("ALL_PROXY", &proxy.url()), ("NO_PROXY", "localhost")],
    );
    assert_found(&observe(&stack));
    assert!(!proxy.requests().is_empty());
}

#[test]
fn proxy_credentials_are_sent_to_the_proxy_and_never_logged() {
    logs::start();
    let secret = "pr0xy-S3CRET-9e1";
    let proxy = ConnectProxy::start();
    let url = proxy.url_with_credentials("relay", secret);
    let stack = Stack::with_gti(gti(), &[("HTTP_PROXY", &url), ("LOG_LEVEL", "trace")]);
    assert_found(&observe(&stack));
    let expected = format!(
        "Basic {}",
        Base64::encode_to_string(format!("relay:{secret}")).unwrap()
    );
    let requests = proxy.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(request.authorization.as_deref(), Some(expected.as_str()));
    }
    let config = Config::from_vars([("HTTP_PROXY", url.as_str())]).unwrap();
    assert!(!format!("{config:?}").contains(secret));
    let leaks: Vec<String> = logs::lines()
        .into_iter()
        .filter(|line| line.contains(secret) || line.contains(&expected))
        .collect();
    assert!(leaks.is_empty(), "{leaks:#?}");
}

#[test]
fn tls_interception_verifies_only_with_gti_ca_file() {
    let gti = gti();
    let front = TlsFront::start(gti.addr());
    let urls = https_urls(&front);
    let stack = Stack::with_gti(gti, &vars(&urls, &[]));
    let answer = observe(&stack);
    assert_eq!(
        answer["errors"][0]["code"], "ssl certificate verification failed",
        "{answer}"
    );
    assert!(front.connections() >= 1);
    assert_eq!(
        stack.gti.total_calls(),
        0,
        "no request passed the handshake"
    );
    drop(stack);

    let gti = self::gti();
    let front = TlsFront::start(gti.addr());
    let urls = https_urls(&front);
    let ca = test_ca_file();
    let stack = Stack::with_gti(gti, &vars(&urls, &[("GTI_CA_FILE", &ca)]));
    assert_found(&observe(&stack));
    assert!(stack.gti.total_calls() >= 2);
    // The built-in roots still stand beside the extra one.
    assert_eq!(
        stack.relay.post("/health", Some(&stack.token()), ""),
        json!({"data": {"status": "ok"}})
    );
}

#[test]
fn https_gti_goes_through_https_proxy_and_jwks_over_http_does_not() {
    let proxy = ConnectProxy::start();
    let gti = gti();
    let front = TlsFront::start(gti.addr());
    let urls = https_urls(&front);
    let (ca, proxy_url) = (test_ca_file(), proxy.url());
    let stack = Stack::with_gti(
        gti,
        &vars(&urls, &[("GTI_CA_FILE", &ca), ("HTTPS_PROXY", &proxy_url)]),
    );
    assert_found(&observe(&stack));
    assert!(
        proxy.connects_to(front.address.port()) >= 1,
        "{:?}",
        proxy.requests()
    );
    assert_eq!(
        proxy.connects_to(stack.jwks.port()),
        0,
        "HTTPS_PROXY is for https:// only"
    );
}

#[test]
fn an_unreachable_proxy_is_a_gti_failure_not_a_way_around_it() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let gti = gti();
    let front = TlsFront::start(gti.addr());
    let urls = https_urls(&front);
    let (ca, proxy_url) = (test_ca_file(), format!("http://{closed}"));
    let stack = Stack::with_gti(
        gti,
        &vars(
            &urls,
            &[
                ("GTI_CA_FILE", &ca),
                ("HTTPS_PROXY", &proxy_url),
                ("GTI_RETRIES", "0"),
            ],
        ),
    );
    let answer = observe(&stack);
    assert_eq!(
        answer["errors"][0]["code"], "service unavailable",
        "{answer}"
    );
    assert_eq!(front.connections(), 0);
    assert_eq!(stack.gti.total_calls(), 0);
}
