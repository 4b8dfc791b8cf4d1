//! The endpoints as plain functions: our own small [`Request`] in, a JSON
//! [`Response`] out (plain text for `/metrics`). No sockets here; `server`
//! does the HTTP.

use std::time::Instant;

use log::warn;
use serde_json::{json, Value};

use crate::app::{refer_links, App};
use crate::auth::{self, Credentials};
use crate::ctim::Answer;
use crate::errors::{envelope, RelayError};
use crate::observable::{parse_observables, Observable};
use crate::route::Route;

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
    // The request's whole time budget starts now.
    let deadline = app.deadline();
    let answer = match route {
        Route::Health => health(app, request, deadline),
        Route::Observe => observe(app, request, deadline),
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

fn health(app: &App, request: &Request, deadline: Instant) -> Result<Response, RelayError> {
    let credentials = authenticate(app, request)?;
    app.check_health(&credentials.key, deadline)?;
    Ok(Response::data(json!({ "status": "ok" })))
}

fn observe(app: &App, request: &Request, deadline: Instant) -> Result<Response, RelayError> {
    let observables = observables(request)?;
    let credentials = authenticate(app, request)?;
    Ok(Response {
        status: 200,
        content: Content::Answer(app.observe(&credentials, &observables, deadline).answer),
    })
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
