//! [`Reply`]: what the mock sends back for one call (status, body,
//! `Retry-After`, how the body is delivered, whether the connection closes
//! after it), and GTI's error bodies. Deciding an answer is the handler's
//! and the data's; writing one out is the server's.

use serde::Serialize;
use serde_json::{json, Value};

/// How an answer's body reaches the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Delivery {
    /// All at once.
    #[default]
    Whole,
    /// The head announces the whole body, half of it is sent, then the
    /// connection is closed: a reset in the middle of a body.
    Truncated,
    /// The head at once, the body after this long.
    SlowBody(std::time::Duration),
}

/// An answer, before it is written out.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: String,
    pub(super) retry_after: Option<String>,
    pub(super) delivery: Delivery,
    /// Close the connection afterwards (the request body was left unread).
    pub(super) close: bool,
}

impl Reply {
    pub(super) fn new(status: u16, body: String) -> Reply {
        Reply {
            status,
            body,
            retry_after: None,
            delivery: Delivery::Whole,
            close: false,
        }
    }

    /// `body` serialised; it is built from the mock's own data, so it
    /// always serialises.
    pub(super) fn json(status: u16, body: &impl Serialize) -> Reply {
        Reply::new(status, serde_json::to_string(body).unwrap_or_default())
    }

    /// `status` with GTI's error body (see [`gti_error_body`]).
    pub(super) fn gti_error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(status, &gti_error_body(code, message))
    }

    pub(super) fn bad_request(message: &str) -> Reply {
        Reply::gti_error(400, "client.bad_request", message)
    }
}

/// GTI's error body: `{"error": {"code": code, "message": message}}`.
pub(super) fn gti_error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}
