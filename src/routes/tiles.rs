//! `POST /tiles` (the dashboard tiles), `/tiles/tile` (one of them) and
//! `/tiles/tile-data` (its data over a period).

use std::time::Instant;

use serde_json::json;

use super::response::Response;
use super::{authenticate, body_bytes, Request};
use crate::app::App;
use crate::error::RelayError;
use crate::tiles::{definitions, parse_request};

/// Takes no body: whatever comes is ignored.
pub(super) fn tiles(
    app: &App,
    request: &Request,
    deadline: Instant,
) -> Result<Response, RelayError> {
    authenticate(app, request, deadline)?;
    Ok(Response::data(json!(definitions())))
}

pub(super) fn tile(
    app: &App,
    request: &Request,
    deadline: Instant,
) -> Result<Response, RelayError> {
    let (tile, _) = parse_request(body_bytes(request)?)?;
    authenticate(app, request, deadline)?;
    Ok(Response::data(json!(tile.definition())))
}

pub(super) fn tile_data(
    app: &App,
    request: &Request,
    now: u64,
    deadline: Instant,
) -> Result<Response, RelayError> {
    let (tile, period) = parse_request(body_bytes(request)?)?;
    let credentials = authenticate(app, request, deadline)?;
    Ok(Response::data(app.tile_data(
        &credentials,
        tile,
        period,
        now,
        deadline,
    )?))
}
