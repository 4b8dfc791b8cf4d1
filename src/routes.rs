//! The endpoints as plain functions: our own small [`Request`] in, a JSON
//! [`Response`] out (plain text for `/metrics`). No sockets here; `server`
//! does the HTTP.

use log::warn;
use serde_json::{json, Value};

use crate::app::App;
use crate::auth::{self, Credentials};
use crate::ctim::{self, Answer, Fragment};
use crate::errors::{envelope, RelayError};
use crate::gti::{self, GtiError};
use crate::observable::{parse_observables, Observable};
use crate::route::Route;
use crate::time::now_millis;
use crate::workflow::{self, Settings};

/// The observable the health check asks GTI about.
const HEALTH_CHECK_IP: &str = "8.8.8.8";

/// An HTTP request, reduced to what the handlers use.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A request body, read by the server up to `MAX_BODY_BYTES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Bytes(Vec<u8>),
    /// Longer than the limit; left unread.
    TooLarge {
        limit: u64,
    },
    /// The client stopped sending or the connection broke mid-body.
    Unreadable,
}

impl Request {
    /// The first header of that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// An answer: its status and what it carries.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content: Content,
}

/// What an answer carries.
#[derive(Debug)]
pub enum Content {
    /// A small JSON document.
    Json(Value),
    /// The `/observe` answer, already serialised piece by piece.
    Answer(Answer),
    /// Plain text, as [`crate::metrics::CONTENT_TYPE`]: only `/metrics`.
    Text(String),
}

impl Response {
    fn ok(body: Value) -> Response {
        Response {
            status: 200,
            content: Content::Json(body),
        }
    }

    fn data(data: Value) -> Response {
        // Moved in: `json!({"data": data})` would copy the whole answer.
        let mut body = serde_json::Map::new();
        body.insert("data".to_owned(), data);
        Response::ok(Value::Object(body))
    }

    /// Relay-level failures are HTTP 200 with the error envelope, as SecureX
    /// expects; only routing failures use their own statuses.
    pub fn error(error: RelayError) -> Response {
        let status = match error {
            RelayError::NotFound => 404,
            RelayError::MethodNotAllowed => 405,
            _ => 200,
        };
        Response {
            status,
            content: Content::Json(envelope(&[error], None)),
        }
    }
}

/// Answers one request.
pub fn handle(app: &App, request: &Request) -> Response {
    let Some(route) = Route::find(&request.path) else {
        return Response::error(RelayError::NotFound);
    };
    if !request.method.eq_ignore_ascii_case(route.method()) {
        return Response::error(RelayError::MethodNotAllowed);
    }
    let answer = match route {
        Route::Health => health(app, request),
        Route::Observe => observe(app, request),
        Route::Refer => refer(app, request),
        Route::Version => Ok(Response::ok(
            json!({ "version": env!("CARGO_PKG_VERSION") }),
        )),
        Route::Watchdog => watchdog(request),
        // No authentication: scrapers rarely carry tokens, and the numbers
        // hold no keys or observables. Keep it off the public listener.
        Route::Metrics => Ok(Response {
            status: 200,
            content: Content::Text(app.metrics.render()),
        }),
    };
    answer.unwrap_or_else(|error| {
        warn!("{} failed: {error}", route.name());
        Response::error(error)
    })
}

fn watchdog(request: &Request) -> Result<Response, RelayError> {
    let value = request.header("Health-Check").ok_or(RelayError::Watchdog)?;
    Ok(Response::data(Value::String(value.to_owned())))
}

fn refer(app: &App, request: &Request) -> Result<Response, RelayError> {
    let observables = observables(request)?;
    Ok(Response::data(refer_links(
        &app.config.portal_url,
        &observables,
    )))
}

/// The pivot links of `/refer/observables` and `gti-relay refer`: one per
/// supported observable, in request order.
pub fn refer_links(portal_url: &str, observables: &[Observable]) -> Value {
    Value::Array(
        observables
            .iter()
            .filter_map(|observable| {
                ctim::refer_link(portal_url, &observable.kind, &observable.value)
            })
            .collect(),
    )
}

fn health(app: &App, request: &Request) -> Result<Response, RelayError> {
    let credentials = authenticate(app, request)?;
    check_health(app, &credentials.key)?;
    Ok(Response::data(json!({ "status": "ok" })))
}

/// The health check behind `POST /health` and `gti-relay health`: one GTI
/// call that proves `key` works.
pub fn check_health(app: &App, key: &str) -> Result<(), GtiError> {
    let probe = Observable {
        kind: "ip".to_owned(),
        value: HEALTH_CHECK_IP.to_owned(),
    };
    // One call proves the key: the event search over the last day, or the
    // detections API where the event search is switched off.
    match app.config.events_url {
        Some(_) => gti::day_windows(now_millis(), 1)
            .first()
            .map_or(Ok(()), |window| {
                app.gti
                    .search_events(key, &probe.search_query(), window)
                    .map(drop)
            }),
        None => app.gti.detections(key, &probe.value).map(drop),
    }
}

fn observe(app: &App, request: &Request) -> Result<Response, RelayError> {
    let observables = observables(request)?;
    let credentials = authenticate(app, request)?;
    Ok(Response {
        status: 200,
        content: Content::Answer(observe_body(app, &credentials, &observables).answer),
    })
}

/// An `/observe` answer and the errors in it.
#[derive(Debug)]
pub struct Observation {
    /// `{"data": …}`, or the error envelope with the data collected so far.
    pub answer: Answer,
    /// One per distinct failure; empty when every observable succeeded.
    pub errors: Vec<RelayError>,
}

/// The `/observe/observables` answer for observables already validated and
/// credentials already verified. `gti-relay observe` prints the same body.
/// Unsupported observable types are skipped.
///
/// Each observable is mapped to CTIM on the thread that completes its GTI
/// calls, in parallel with the others; only the serialised entities are
/// kept, so a request holds at most the answer plus what is in flight.
pub fn observe_body(
    app: &App,
    credentials: &Credentials,
    observables: &[Observable],
) -> Observation {
    let observables: Vec<Observable> = observables
        .iter()
        .filter(|observable| observable.is_supported())
        .cloned()
        .collect();

    let settings = Settings {
        entities_limit: credentials.entities_limit,
        allow_test_accounts: credentials.allow_test_accounts,
        windows: match app.config.events_url {
            Some(_) => gti::day_windows(now_millis(), app.config.day_range),
            None => Vec::new(),
        },
    };
    let context = ctim::Context {
        portal_url: &app.config.portal_url,
        new_id: &ctim::random_id,
    };
    let map = |observable: &Observable, findings: Result<workflow::Findings, GtiError>| {
        findings.map(|findings| Fragment::map(&context, findings.enriched(observable)))
    };
    let results = workflow::observe_on(
        &app.io_pool,
        app.gti.as_ref(),
        &credentials.key,
        &settings,
        &observables,
        &map,
    );

    let mut fragments = Vec::with_capacity(results.len());
    let mut errors: Vec<RelayError> = Vec::new();
    for (observable, result) in observables.iter().zip(results) {
        match result {
            Ok(fragment) => fragments.push(fragment),
            Err(error) => {
                warn!("observe {} failed: {}", observable.kind, error.message());
                let error = RelayError::Gti(error);
                if !errors.contains(&error) {
                    errors.push(error);
                }
            }
        }
    }
    // Nothing collected is dropped: the data of every observable that
    // succeeded stands beside the errors.
    let errors_json = (!errors.is_empty()).then(|| {
        let list: Vec<Value> = errors.iter().map(RelayError::to_json).collect();
        serde_json::to_vec(&list).unwrap_or_default()
    });
    Observation {
        answer: Answer::new(fragments, errors_json),
        errors,
    }
}

fn observables(request: &Request) -> Result<Vec<Observable>, RelayError> {
    match &request.body {
        Body::Bytes(bytes) => parse_observables(bytes),
        Body::TooLarge { limit } => Err(RelayError::InvalidPayload(format!(
            r#"{{"_schema": ["Request body is larger than {limit} bytes."]}}"#
        ))),
        Body::Unreadable => Err(RelayError::InvalidPayload(
            r#"{"_schema": ["Request body could not be read."]}"#.to_owned(),
        )),
    }
}

fn authenticate(app: &App, request: &Request) -> Result<Credentials, RelayError> {
    let audience = auth::audience_from_request(
        app.config.relay_url.as_deref(),
        request.header("X-Forwarded-Proto"),
        request.header("Host"),
    );
    Ok(app
        .auth
        .authenticate(request.header("Authorization"), &audience)?)
}
