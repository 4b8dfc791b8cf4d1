//! `POST /observe/observables`: the sightings, indicators and relationships
//! of GTI's data on each observable.

use std::time::Instant;

use super::response::{Content, Response};
use super::{authenticate, observables, Request};
use crate::app::App;
use crate::error::RelayError;

pub(super) fn observe(
    app: &App,
    request: &Request,
    now: u64,
    deadline: Instant,
) -> Result<Response, RelayError> {
    // The body is validated before the token, as the reference does.
    let observables = observables(request)?;
    let credentials = authenticate(app, request, deadline)?;
    let observation = app.observe(&credentials, &observables, now, deadline);
    Ok(Response {
        status: 200,
        content: Content::Answer(observation.answer),
    })
}
