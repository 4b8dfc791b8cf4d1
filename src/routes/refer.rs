//! `POST /refer/observables`: pivot links into the GTI portal. No token.

use super::response::Response;
use super::{observables, Request};
use crate::app::{refer_links, App};
use crate::error::RelayError;

pub(super) fn refer(app: &App, request: &Request) -> Result<Response, RelayError> {
    let observables = observables(request)?;
    Ok(Response::data(refer_links(
        &app.config.default_urls().portal,
        &observables,
    )))
}
