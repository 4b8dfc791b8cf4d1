//! What the relay says about itself: `POST /version` and `GET /metrics`.

use serde_json::json;

use super::response::{Content, Response};
use crate::app::App;

pub(super) fn version() -> Response {
    Response::ok(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

/// No authentication: scrapers rarely carry tokens, and the numbers hold no
/// keys or observables. Keep it off the public listener.
pub(super) fn metrics(app: &App) -> Response {
    Response {
        status: 200,
        content: Content::Text(app.metrics.render()),
    }
}
