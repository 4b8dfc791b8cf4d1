//! The endpoints as plain functions: our own small [`Request`] in, a
//! [`Response`] out, one file per endpoint family. No sockets here:
//! `server` does the HTTP, and these are tested with [`Request::fake`].

use std::time::Instant;

use log::warn;

use crate::app::App;
use crate::auth::{self, Credentials};
use crate::error::RelayError;
use crate::observable::{parse_observables, Observable, PayloadError};
use crate::route::Route;
use crate::time::now_millis;

mod about;
mod deliberate;
mod health;
mod observe;
mod refer;
mod request;
mod respond;
mod response;
mod tiles;

pub use deliberate::verdicts_data;
pub use request::{Body, Request};
pub use response::{Content, Response};

/// Answers one request.
pub fn handle(app: &App, request: &Request) -> Response {
    let Some(route) = Route::find(&request.path) else {
        return Response::error(RelayError::NotFound);
    };
    if !request.method.eq_ignore_ascii_case(route.method()) {
        return Response::error(RelayError::MethodNotAllowed);
    }
    // The request's whole time budget starts now, and the wall clock is
    // read once: every use-case of the request is asked at this time.
    let deadline = app.deadline();
    let now = now_millis();
    let answer = match route {
        Route::Health => health::health(app, request, deadline),
        Route::Observe => observe::observe(app, request, now, deadline),
        Route::Refer => refer::refer(app, request, deadline),
        Route::Version => Ok(about::version()),
        Route::Watchdog => health::watchdog(request),
        Route::Metrics => Ok(about::metrics(app)),
        Route::Deliberate => deliberate::deliberate(app, request, now, deadline),
        Route::RespondObservables => respond::observables_actions(app, request, deadline),
        Route::RespondTrigger => respond::trigger(app, request, deadline),
        Route::Tiles => tiles::tiles(app, request, deadline),
        Route::Tile => tiles::tile(app, request, deadline),
        Route::TileData => tiles::tile_data(app, request, now, deadline),
    };
    answer.unwrap_or_else(|error| {
        warn!("{} failed: {error}", route.name());
        Response::error(error)
    })
}

/// The observables of an `/observe`-style body.
fn observables(request: &Request) -> Result<Vec<Observable>, RelayError> {
    Ok(parse_observables(body_bytes(request)?)?)
}

/// The body, or the invalid-payload error saying why there is none.
fn body_bytes(request: &Request) -> Result<&[u8], RelayError> {
    match &request.body {
        Body::Bytes(bytes) => Ok(bytes),
        Body::TooLarge { limit } => Err(RelayError::InvalidPayload(PayloadError::schema(format!(
            "Request body is larger than {limit} bytes."
        )))),
        Body::Unreadable => Err(RelayError::InvalidPayload(PayloadError::schema(
            "Request body could not be read.",
        ))),
    }
}

/// Checks the request's token against the relay's audience; a JWKS fetch
/// it needs (or waits for) ends by the request's deadline.
fn authenticate(
    app: &App,
    request: &Request,
    deadline: Instant,
) -> Result<Credentials, RelayError> {
    let audience = auth::audience_from_request(
        app.config.relay_url(),
        request.header("X-Forwarded-Proto"),
        request.header("Host"),
    );
    let credentials =
        app.auth
            .authenticate_until(request.header("Authorization"), &audience, Some(deadline))?;
    // The request's log lines name its region from now on.
    crate::logging::set_region(credentials.region.name());
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::{json, Value};

    fn app() -> App {
        App::new(Config::default())
    }

    fn answer(request: Request) -> (u16, Value) {
        let response = handle(&app(), &request);
        let json = response.json().cloned().unwrap_or_default();
        (response.status, json)
    }

    #[test]
    fn unknown_paths_and_wrong_methods_have_their_statuses() {
        let (status, body) = answer(Request::fake("POST", "/nope", &[], ""));
        assert_eq!(
            (status, &body["errors"][0]["code"]),
            (404, &json!("not found"))
        );
        let (status, body) = answer(Request::fake("GET", "/observe/observables", &[], ""));
        assert_eq!(
            (status, &body["errors"][0]["code"]),
            (405, &json!("method not allowed"))
        );
    }

    #[test]
    fn version_and_watchdog_answer_without_a_token() {
        let (status, body) = answer(Request::fake("POST", "/version/", &[], ""));
        assert_eq!(
            (status, body),
            (200, json!({"version": env!("CARGO_PKG_VERSION")}))
        );
        let (_, body) = answer(Request::fake(
            "GET",
            "/watchdog",
            &[("health-check", "hi")],
            "",
        ));
        assert_eq!(body, json!({"data": "hi"}));
        let (status, body) = answer(Request::fake("GET", "/watchdog", &[], ""));
        assert_eq!(
            (status, &body["errors"][0]["code"]),
            (200, &json!("health check failed"))
        );
    }

    #[test]
    fn the_body_is_checked_before_the_token() {
        for path in ["/observe/observables", "/refer/observables"] {
            let (status, body) = answer(Request::fake("POST", path, &[], "{}"));
            assert_eq!(status, 200);
            assert_eq!(
                body["errors"][0]["code"], "invalid payload received",
                "{path}"
            );
        }
        let (_, body) = answer(Request::fake("POST", "/observe/observables", &[], "[]"));
        assert_eq!(body["errors"][0]["code"], "authorization error");
    }

    #[test]
    fn refer_needs_no_token() {
        let body = r#"[{"type": "ip", "value": "1.2.3.4"}, {"type": "url", "value": "x"}]"#;
        let (_, body) = answer(Request::fake("POST", "/refer/observables", &[], body));
        assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            body["data"][0]["url"],
            "https://portal.icebrg.io/search?query=1.2.3.4"
        );
    }
}
