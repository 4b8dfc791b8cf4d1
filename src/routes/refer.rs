//! `POST /refer/observables`: pivot links into the GTI portal. No token
//! needed; a valid one picks its region's portal (SPEC §7).

use std::time::Instant;

use super::response::Response;
use super::{authenticate, observables, Request};
use crate::app::{refer_links, App};
use crate::error::RelayError;
use crate::region::Region;

pub(super) fn refer(
    app: &App,
    request: &Request,
    deadline: Instant,
) -> Result<Response, RelayError> {
    let observables = observables(request)?;
    let region = region(app, request, deadline);
    Ok(Response::data(refer_links(
        &app.config.urls(region).portal,
        &observables,
    )))
}

/// The token's region when the request carries a valid token; otherwise
/// (none, a refused one, a bad `GTI_REGION` claim) the relay's default, as
/// links need no token.
fn region(app: &App, request: &Request, deadline: Instant) -> Region {
    if request.header("Authorization").is_none() {
        return app.config.region();
    }
    match authenticate(app, request, deadline) {
        Ok(credentials) => credentials.region,
        Err(error) => {
            log::debug!(
                "refer: links of the default region, the token did not pass: {}",
                error.message()
            );
            app.config.region()
        }
    }
}
