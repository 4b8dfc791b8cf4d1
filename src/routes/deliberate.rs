//! `POST /deliberate/observables`: a verdict per observable whose active
//! GTI detections include a high- or moderate-severity rule.

use std::time::Instant;

use serde_json::{json, Value};

use super::response::Response;
use super::{authenticate, observables, Request};
use crate::app::App;
use crate::error::{envelope_or_data, RelayError};

pub(super) fn deliberate(
    app: &App,
    request: &Request,
    now: u64,
    deadline: Instant,
) -> Result<Response, RelayError> {
    let observables = observables(request)?;
    let credentials = authenticate(app, request, deadline)?;
    let deliberation = app.deliberate(&credentials, &observables, now, deadline);
    Ok(with_errors(
        verdicts_data(&deliberation.verdicts),
        &deliberation.errors,
    ))
}

/// `{"verdicts":{"count","docs"}}`, or `{}` when there are none.
pub fn verdicts_data(verdicts: &[crate::ctim::Verdict]) -> Value {
    if verdicts.is_empty() {
        return json!({});
    }
    json!({"verdicts": {"count": verdicts.len(), "docs": verdicts}})
}

/// `{"data": data}`, or the error envelope with `data` beside the errors.
pub(super) fn with_errors(data: Value, errors: &[RelayError]) -> Response {
    if errors.is_empty() {
        Response::data(data)
    } else {
        Response::ok(envelope_or_data(errors, data))
    }
}
