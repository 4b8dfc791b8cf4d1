//! `HttpTransport` and the GTI requests against the mock GTI over real
//! loopback sockets: the requests sent, the answers decoded, and how every
//! kind of failure surfaces.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gti_relay::config::Config;
use gti_relay::gti::model::{
    DetectionEvent, Detections, DhcpRecord, Event, ObjectOrNone, Rule, WireDhcpRecord,
};
use gti_relay::gti::{
    http_agent, DayWindow, DetectionsOf, DhcpLookup, DhcpLookups, Endpoint, EventsOfDetection, Gti,
    GtiError, GtiRequest, HttpTransport, Search, USER_AGENT,
};
use gti_relay::workflow::{self, CallPool};
use serde_json::{json, Value};

use crate::support::mock_gti::{wire_detections, Fault, MockGti, TEST_KEY};

/// The relay's GTI for the default region of a configuration, each request
/// made as the relay makes it: through a call pool, with the executor's
/// retries, within the whole budget of its tries.
struct Client {
    gti: Gti,
    pool: CallPool,
    budget: Duration,
}

impl Client {
    fn new(config: &Config) -> Client {
        // Backoff is shortened so that retry tests do not sleep for real;
        // `Retry-After` still applies in full.
        let transport = HttpTransport::new(config, http_agent(config))
            .with_backoff_base(Duration::from_millis(5));
        Client {
            gti: Gti::new(Arc::new(transport), config.default_urls().clone()),
            pool: CallPool::new(config.gti_max_inflight()),
            // Every try's own time limit, and a second for the last try's
            // answer to reach the waiting thread: the tries, not this
            // deadline, are what the tests watch.
            budget: config.gti_timeout() * (config.gti_retries() + 1) + Duration::from_secs(1),
        }
    }

    fn call<R: GtiRequest>(&self, key: &str, request: R) -> Result<R::Output, GtiError> {
        let deadline = Instant::now() + self.budget;
        workflow::call_once(&self.pool, &self.gti, key, request, deadline)
    }

    fn detections(&self, key: &str, value: &str) -> Result<Detections, GtiError> {
        let value = value.to_owned();
        self.call(key, DetectionsOf { value })
    }

    fn detection_events(&self, key: &str, uuid: &str) -> Result<Vec<DetectionEvent>, GtiError> {
        let detection_uuid = uuid.to_owned();
        self.call(key, EventsOfDetection { detection_uuid })
    }

    fn search_events(
        &self,
        key: &str,
        query: &str,
        window: &DayWindow,
    ) -> Result<Vec<Event>, GtiError> {
        let (query, window) = (query.to_owned(), window.clone());
        self.call(key, Search { query, window })
    }

    fn dhcp_records(&self, key: &str, lookups: &[DhcpLookup]) -> Result<Vec<DhcpRecord>, GtiError> {
        let lookups = lookups.to_vec();
        self.call(key, DhcpLookups { lookups })
    }
}

/// A client for `gti`, with `extra` configuration variables.
fn client(gti: &MockGti, extra: &[(&str, &str)]) -> Client {
    Client::new(&gti.config_with(extra))
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/reference/integration/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// GTI's types from fixture JSON, read from text as the client reads them.
fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_str(&value.to_string()).unwrap_or_else(|error| panic!("{value}: {error}"))
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("not an array: {other}"),
    }
}

fn may_2020() -> DayWindow {
    DayWindow {
        start: "2020-05-04T00:00:00.000Z".into(),
        end: "2020-05-05T00:00:00.000Z".into(),
    }
}

const IP: &str = "207.148.78.106";

#[test]
fn detections_are_fetched_with_indicators_and_rules() {
    let gti = MockGti::start();
    let joined = array(fixture("detections_for_entity"));
    gti.set_detections(IP, wire_detections(&joined));

    let detections = client(&gti, &[]).detections(TEST_KEY, IP).unwrap();

    let expected = &joined[0];
    assert_eq!(detections.detections.len(), 1);
    let detection = &detections.detections[0];
    assert_eq!(detection.uuid, expected["uuid"]);
    assert_eq!(detection.account_uuid, expected["account_uuid"]);
    assert_eq!(
        detection.device_ip.as_deref(),
        expected["device_ip"].as_str()
    );
    assert_eq!(detection.rule_uuid, expected["rule"]["uuid"]);
    assert_eq!(detection.indicators.len(), 3);
    assert_eq!(detection.indicators[2].field, "http:files.sha256");
    assert_eq!(
        json!(detection.indicators[2].values),
        expected["indicators"][2]["values"]
    );
    assert_eq!(
        detections.rules,
        [typed::<ObjectOrNone<Rule>>(&expected["rule"])]
    );

    let calls = gti.calls_to(Endpoint::Detections);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "GET");
    assert_eq!(call.query_values("indicator_value"), [IP]);
    assert_eq!(call.query_values("status"), ["active"]);
    assert_eq!(call.query_values("include"), ["indicators", "rules"]);
    assert_eq!(
        call.header("Authorization"),
        Some(format!("IBToken {TEST_KEY}").as_str())
    );
    assert_eq!(call.header("User-Agent"), Some(USER_AGENT));
    assert_eq!(call.header_count("User-Agent"), 1);
}

#[test]
fn values_with_reserved_characters_arrive_intact() {
    let gti = MockGti::start();
    let value = "evil.com/a b&status=closed#x+é";
    client(&gti, &[]).detections(TEST_KEY, value).unwrap();
    let call = &gti.calls_to(Endpoint::Detections)[0];
    assert_eq!(call.query_values("indicator_value"), [value]);
    assert_eq!(call.query_values("status"), ["active"]);
}

#[test]
fn detection_events_are_unwrapped_from_their_envelopes() {
    let gti = MockGti::start();
    let events = array(fixture("events_for_detection"));
    let uuid = "9bd7362e-e3aa-4af8-af45-db760f5cfee2";
    gti.set_detection_events(uuid, events.clone());

    let fetched = client(&gti, &[]).detection_events(TEST_KEY, uuid).unwrap();

    let expected: Vec<DetectionEvent> = events
        .iter()
        .map(|event| DetectionEvent::from_json(&event.to_string()).unwrap())
        .collect();
    assert_eq!(fetched, expected);
    let call = &gti.calls_to(Endpoint::DetectionEvents)[0];
    assert_eq!(call.method, "GET");
    assert_eq!(call.query_values("detection_uuid"), [uuid]);
    assert_eq!(
        call.header("Authorization"),
        Some(format!("IBToken {TEST_KEY}").as_str())
    );
}

#[test]
fn the_event_search_posts_its_query_and_window() {
    let gti = MockGti::start();
    let events = array(fixture("events"));
    let query = format!("ip = '{IP}'");
    gti.add_searched_events(&query, events.clone());
    let gti_client = client(&gti, &[]);

    let found = gti_client
        .search_events(TEST_KEY, &query, &may_2020())
        .unwrap();
    let day_before = DayWindow {
        start: "2020-05-03T00:00:00.000Z".into(),
        end: "2020-05-04T00:00:00.000Z".into(),
    };
    let nothing = gti_client
        .search_events(TEST_KEY, &query, &day_before)
        .unwrap();

    assert_eq!(found, events.iter().map(typed).collect::<Vec<Event>>());
    assert_eq!(nothing, Vec::<Event>::new());
    let call = &gti.calls_to(Endpoint::EventSearch)[0];
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.body,
        Some(json!({
            "query": query,
            "start_date": "2020-05-04T00:00:00.000Z",
            "end_date": "2020-05-05T00:00:00.000Z",
        }))
    );
    assert_eq!(call.header("Content-Type"), Some("application/json"));
    assert_eq!(call.header("User-Agent"), Some(USER_AGENT));
}

#[test]
fn without_an_events_url_the_search_finds_nothing_without_calling() {
    let gti = MockGti::start();
    let found = client(&gti, &[("GTI_EVENTS_URL", "")])
        .search_events(TEST_KEY, "ip = '1.1.1.1'", &may_2020())
        .unwrap();
    assert!(found.is_empty());
    assert_eq!(gti.total_calls(), 0);
}

#[test]
fn dhcp_records_come_in_one_bulk_call() {
    let gti = MockGti::start();
    let by_ip = fixture("dhcp_records_by_ip");
    for ip in ["10.1.70.2", "10.1.70.100"] {
        gti.set_dhcp_records(ip, array(by_ip[ip].clone()));
    }
    let lookups = [
        DhcpLookup {
            ip: "10.1.70.2".into(),
            event_time: "2020-05-04T21:41:29.961Z".into(),
        },
        DhcpLookup {
            ip: "10.1.70.100".into(),
            event_time: "2020-05-04T21:42:01.961Z".into(),
        },
    ];

    let records = client(&gti, &[]).dhcp_records(TEST_KEY, &lookups).unwrap();

    assert_eq!(
        records,
        [&by_ip["10.1.70.2"][0], &by_ip["10.1.70.100"][0]].map(|record| typed::<WireDhcpRecord>(
            record
        )
        .checked()
        .unwrap())
    );
    let call = &gti.calls_to(Endpoint::Dhcp)[0];
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.body,
        Some(json!({"entities": [
            {"ip": "10.1.70.2", "event_time": "2020-05-04T21:41:29.961Z"},
            {"ip": "10.1.70.100", "event_time": "2020-05-04T21:42:01.961Z"},
        ]}))
    );
}

#[test]
fn no_lookups_means_no_call() {
    let gti = MockGti::start();
    assert!(client(&gti, &[])
        .dhcp_records(TEST_KEY, &[])
        .unwrap()
        .is_empty());
    assert_eq!(gti.total_calls(), 0);
}

#[test]
fn a_rejected_key_is_an_authorization_failure_and_not_retried() {
    let gti = MockGti::start();
    let error = client(&gti, &[]).detections("wrong-key", IP).unwrap_err();
    assert_eq!(
        error,
        GtiError::Api {
            status: 401,
            code: "client.invalid_authentication".into(),
            message: "Authentication is invalid.".into(),
        }
    );
    assert_eq!(
        error.message(),
        "Authorization failed: Authentication is invalid."
    );
    assert_eq!(gti.count(Endpoint::Detections), 1);
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_unsent() {
    let gti = MockGti::start();
    let error = client(&gti, &[])
        .detections("key\r\nX-Injected: 1", IP)
        .unwrap_err();
    assert_eq!(error, GtiError::InvalidKey);
    assert_eq!(gti.total_calls(), 0);
}

#[test]
fn server_errors_are_retried_then_passed_on() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::Detections,
        Fault::gti_error(500, "server.internal_error", "Boom."),
    );
    let error = client(&gti, &[("GTI_RETRIES", "2")])
        .detections(TEST_KEY, IP)
        .unwrap_err();
    assert_eq!(
        error,
        GtiError::Api {
            status: 500,
            code: "server.internal_error".into(),
            message: "Boom.".into(),
        }
    );
    assert_eq!(gti.count(Endpoint::Detections), 3);
}

#[test]
fn a_bodiless_503_is_unavailable_after_the_retries() {
    let gti = MockGti::start();
    gti.fault(Endpoint::EventSearch, Fault::status(503));
    let error = client(&gti, &[("GTI_RETRIES", "1")])
        .search_events(TEST_KEY, "ip = '1.1.1.1'", &may_2020())
        .unwrap_err();
    assert_eq!(
        error,
        GtiError::Unavailable {
            endpoint: Endpoint::EventSearch,
            detail: "it answered HTTP 503".into(),
        }
    );
    assert_eq!(
        error.message(),
        "GTI event search API is unavailable: it answered HTTP 503."
    );
    assert_eq!(gti.count(Endpoint::EventSearch), 2);
}

#[test]
fn a_transient_failure_heals_on_retry() {
    let gti = MockGti::start();
    gti.fault(Endpoint::DetectionEvents, Fault::status(502).times(2));
    let events = client(&gti, &[("GTI_RETRIES", "2")])
        .detection_events(TEST_KEY, "d")
        .unwrap();
    assert!(events.is_empty());
    assert_eq!(gti.count(Endpoint::DetectionEvents), 3);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::Detections,
        Fault::status(429).with_retry_after("1").times(1),
    );
    let started = Instant::now();
    let result = client(&gti, &[]).detections(TEST_KEY, IP);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(gti.count(Endpoint::Detections), 2);
    // The 5 ms backoff would have retried at once; the server asked for 1 s.
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn persistent_429_without_a_body_is_too_many_requests() {
    let gti = MockGti::start();
    gti.fault(Endpoint::Dhcp, Fault::status(429));
    let lookups = [DhcpLookup {
        ip: "10.0.0.1".into(),
        event_time: "2020-05-04T21:41:29.961Z".into(),
    }];
    let error = client(&gti, &[("GTI_RETRIES", "1")])
        .dhcp_records(TEST_KEY, &lookups)
        .unwrap_err();
    assert_eq!(
        error,
        GtiError::TooManyRequests {
            endpoint: Endpoint::Dhcp
        }
    );
    assert_eq!(gti.count(Endpoint::Dhcp), 2);
}

#[test]
fn a_retry_after_beyond_the_budget_ends_the_retries() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::Detections,
        Fault::status(429).with_retry_after("3600"),
    );
    let error = client(&gti, &[("GTI_RETRIES", "3")])
        .detections(TEST_KEY, IP)
        .unwrap_err();
    assert_eq!(
        error,
        GtiError::TooManyRequests {
            endpoint: Endpoint::Detections
        }
    );
    assert_eq!(gti.count(Endpoint::Detections), 1);
}

#[test]
fn a_404_without_a_gti_body_is_an_invalid_response() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::Detections,
        Fault::status(404).with_body("<html>Not Found</html>"),
    );
    let error = client(&gti, &[]).detections(TEST_KEY, IP).unwrap_err();
    assert_eq!(
        error,
        GtiError::UnexpectedStatus {
            endpoint: Endpoint::Detections,
            status: 404,
        }
    );
    // Rendered as it always was: an invalid upstream response.
    assert_eq!(error.code(), "invalid upstream response");
    assert_eq!(
        error.message(),
        "GTI detections API answered with an unexpected body: HTTP 404 without a GTI error body."
    );
    assert_eq!(gti.count(Endpoint::Detections), 1);
}

#[test]
fn a_4xx_with_a_gti_body_is_passed_on() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::Detections,
        Fault::gti_error(403, "client.forbidden", "Account is disabled."),
    );
    let error = client(&gti, &[]).detections(TEST_KEY, IP).unwrap_err();
    assert_eq!(
        error.message(),
        "Authorization failed: Account is disabled."
    );
    assert_eq!(gti.count(Endpoint::Detections), 1);
}

#[test]
fn a_2xx_body_that_is_not_json_is_an_invalid_response() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::EventSearch,
        Fault::status(200).with_body("<html>maintenance</html>"),
    );
    let error = client(&gti, &[])
        .search_events(TEST_KEY, "ip = '1.1.1.1'", &may_2020())
        .unwrap_err();
    match &error {
        GtiError::InvalidResponse { endpoint, detail } => {
            assert_eq!(*endpoint, Endpoint::EventSearch);
            assert!(detail.starts_with("not JSON"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(error
        .message()
        .starts_with("GTI event search API answered with an unexpected body: not JSON"));
    assert_eq!(gti.count(Endpoint::EventSearch), 1);
}

#[test]
fn a_2xx_body_of_the_wrong_shape_names_what_is_missing() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::EventSearch,
        Fault::status(200).with_json(json!({"results": []})),
    );
    gti.fault(
        Endpoint::Dhcp,
        Fault::status(200)
            .with_json(json!({"entity_tracking_bulk_response": {"dhcp": [{"mac": "x"}]}})),
    );
    gti.fault(
        Endpoint::Detections,
        Fault::status(200).with_json(json!({"detections": "none"})),
    );
    let gti_client = client(&gti, &[]);

    let search = gti_client
        .search_events(TEST_KEY, "q", &may_2020())
        .unwrap_err();
    let lookups = [DhcpLookup {
        ip: "10.0.0.1".into(),
        event_time: "t".into(),
    }];
    let dhcp = gti_client.dhcp_records(TEST_KEY, &lookups).unwrap_err();
    let detections = gti_client.detections(TEST_KEY, IP).unwrap_err();

    let detail = |error: &GtiError| match error {
        GtiError::InvalidResponse { detail, .. } => detail.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        detail(&search).starts_with("missing field `events`"),
        "{search:?}"
    );
    assert_eq!(detail(&dhcp), "DHCP record 0 has no string `ip`");
    assert!(
        detail(&detections).starts_with("invalid type: string \"none\""),
        "{detections:?}"
    );
}

#[test]
fn a_refused_connection_is_unavailable() {
    // Bind, read the port back, close: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1/");
    let config = gti_relay::config::Config::from_vars([
        ("GTI_DETECTIONS_URL", url.as_str()),
        ("GTI_RETRIES", "1"),
    ])
    .unwrap();
    let gti_client = Client::new(&config);
    let error = gti_client.detections(TEST_KEY, IP).unwrap_err();
    assert_eq!(
        error,
        GtiError::Unavailable {
            endpoint: Endpoint::Detections,
            detail: "connection refused".into(),
        }
    );
}

#[test]
fn a_slow_gti_times_out_as_unavailable() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::DetectionEvents,
        Fault::delay(Duration::from_secs(4)),
    );
    let error = client(&gti, &[("GTI_TIMEOUT_SECS", "1"), ("GTI_RETRIES", "1")])
        .detection_events(TEST_KEY, "d")
        .unwrap_err();
    match &error {
        GtiError::Unavailable { endpoint, detail } => {
            assert_eq!(*endpoint, Endpoint::DetectionEvents);
            assert!(detail.starts_with("timed out after "), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // Both tries fit in the 2 s budget (1 s × (1 retry + 1)).
    assert_eq!(gti.count(Endpoint::DetectionEvents), 2);
}

#[test]
fn faults_can_target_one_request() {
    let gti = MockGti::start();
    gti.fault(
        Endpoint::DetectionEvents,
        Fault::gti_error(400, "client.bad", "No.").matching("bad-uuid"),
    );
    let gti_client = client(&gti, &[]);
    assert!(gti_client.detection_events(TEST_KEY, "good-uuid").is_ok());
    assert!(matches!(
        gti_client.detection_events(TEST_KEY, "bad-uuid"),
        Err(GtiError::Api { status: 400, .. })
    ));
}

#[test]
fn concurrent_calls_are_served_concurrently() {
    let gti = MockGti::start();
    gti.set_latency(Duration::from_millis(300));
    let gti_client = client(&gti, &[]);
    std::thread::scope(|scope| {
        for n in 0..6 {
            let gti_client = &gti_client;
            scope.spawn(move || {
                gti_client
                    .detections(TEST_KEY, &format!("10.0.0.{n}"))
                    .unwrap()
            });
        }
    });
    assert_eq!(gti.count(Endpoint::Detections), 6);
    assert!(gti.max_in_flight() > 1, "{}", gti.max_in_flight());
}

/// A burst of calls as the relay's fan-out makes them, each on a connection
/// of the agent's keep-alive pool: all are answered at once, on new
/// connections and again on the same ones once idle (a connection that
/// pins a thread must not make the others wait). The latency is far longer
/// than starting the calls and the mock's handler threads takes.
#[test]
fn a_burst_of_keep_alive_calls_is_answered_at_once() {
    const BURST: usize = 128;
    let gti = MockGti::start();
    gti.set_latency(Duration::from_secs(2));
    let gti_client = client(&gti, &[("GTI_MAX_INFLIGHT", "128")]);
    for round in 0..2 {
        gti.reset_calls();
        std::thread::scope(|scope| {
            for n in 0..BURST {
                let gti_client = &gti_client;
                scope.spawn(move || {
                    gti_client
                        .detections(TEST_KEY, &format!("10.0.{round}.{n}"))
                        .unwrap()
                });
            }
        });
        assert_eq!(gti.count(Endpoint::Detections), BURST, "round {round}");
        assert_eq!(gti.max_in_flight(), BURST, "round {round}");
    }
}

#[test]
fn the_mock_answers_malformed_requests_with_400_and_unknown_paths_with_404() {
    let gti = MockGti::start();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let urls = gti.base_urls();
    let auth = format!("IBToken {TEST_KEY}");
    let status = |response: Result<ureq::http::Response<ureq::Body>, ureq::Error>| {
        response.unwrap().status().as_u16()
    };

    let no_value = agent
        .get(format!("{}detections", urls.detections))
        .header("Authorization", &auth)
        .call();
    assert_eq!(status(no_value), 400);
    let bad_escape = agent
        .get(format!("{}detections?indicator_value=%zz", urls.detections))
        .header("Authorization", &auth)
        .call();
    assert_eq!(status(bad_escape), 400);
    let not_json = agent
        .post(format!("{}query", urls.events))
        .header("Authorization", &auth)
        .send("{not json");
    assert_eq!(status(not_json), 400);
    let no_entities = agent
        .post(format!("{}entity/tracking/bulk/get/ip", urls.entity))
        .header("Authorization", &auth)
        .send(r#"{"entities":[]}"#);
    assert_eq!(status(no_entities), 400);
    let wrong_method = agent
        .get(format!("{}query", urls.events))
        .header("Authorization", &auth)
        .call();
    assert_eq!(status(wrong_method), 405);
    let unknown = agent.get(format!("{}nowhere", urls.events)).call();
    assert_eq!(status(unknown), 404);
    assert_eq!(gti.total_calls(), 6);
}

#[test]
fn a_tls_failure_other_than_the_certificate_is_unavailable() {
    // TLS spoken to a plain-HTTP port: the handshake fails, but not over a
    // certificate, so this is an unreachable GTI rather than Certificate.
    let gti = MockGti::start();
    let url = format!("https://{}/detections/v1/", gti.addr());
    let gti_client = client(
        &gti,
        &[("GTI_DETECTIONS_URL", url.as_str()), ("GTI_RETRIES", "0")],
    );
    match gti_client.detections(TEST_KEY, IP).unwrap_err() {
        GtiError::Unavailable { endpoint, detail } => {
            assert_eq!(endpoint, Endpoint::Detections);
            assert!(detail.starts_with("connection failed: "), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}
