//! `POST /respond/observables` (the resolve actions an observable offers)
//! and `POST /respond/trigger` (resolving its detections).

use std::time::Instant;

use serde_json::json;

use super::deliberate::with_errors;
use super::response::Response;
use super::{authenticate, body_bytes, observables, Request};
use crate::actions::parse_trigger;
use crate::app::App;
use crate::error::{envelope, RelayError};

pub(super) fn observables_actions(
    app: &App,
    request: &Request,
    deadline: Instant,
) -> Result<Response, RelayError> {
    let observables = observables(request)?;
    let credentials = authenticate(app, request, deadline)?;
    let offer = app.respond_actions(&credentials, &observables, deadline);
    Ok(with_errors(json!(offer.actions), &offer.errors))
}

pub(super) fn trigger(
    app: &App,
    request: &Request,
    deadline: Instant,
) -> Result<Response, RelayError> {
    // The body is validated before the token, as for /observe.
    let trigger = parse_trigger(body_bytes(request)?)?;
    let credentials = authenticate(app, request, deadline)?;
    Ok(match app.trigger(&credentials, &trigger, deadline) {
        Ok(_) => Response::data(json!({"status": "success"})),
        Err(errors) => Response::ok(envelope(&errors, Some(json!({"status": "failure"})))),
    })
}
