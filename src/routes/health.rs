//! `POST /health` (the GTI key works) and `GET /watchdog` (the relay
//! answers).

use std::time::Instant;

use serde_json::{json, Value};

use super::response::Response;
use super::{authenticate, Request};
use crate::app::App;
use crate::error::RelayError;

pub(super) fn health(
    app: &App,
    request: &Request,
    deadline: Instant,
) -> Result<Response, RelayError> {
    let credentials = authenticate(app, request, deadline)?;
    app.check_health(credentials.region, &credentials.key, deadline)?;
    Ok(Response::data(json!({ "status": "ok" })))
}

/// Echoes the `Health-Check` header.
pub(super) fn watchdog(request: &Request) -> Result<Response, RelayError> {
    let value = request.header("Health-Check").ok_or(RelayError::Watchdog)?;
    Ok(Response::data(Value::String(value.to_owned())))
}
