//! The answer the handlers give: a status and a JSON document, the
//! pre-serialised `/observe` answer, or text (`/metrics`).

use serde_json::Value;

use crate::ctim::Answer;
use crate::error::{envelope, RelayError};

/// An answer: its status and what it carries.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content: Content,
}

/// What an answer carries.
#[derive(Debug)]
pub enum Content {
    /// A small JSON document.
    Json(Value),
    /// The `/observe` answer, already serialised piece by piece.
    Answer(Answer),
    /// Plain text, as [`crate::metrics::CONTENT_TYPE`]: only `/metrics`.
    Text(String),
}

impl Response {
    /// HTTP 200 with `body`.
    pub fn ok(body: Value) -> Response {
        Response {
            status: 200,
            content: Content::Json(body),
        }
    }

    /// HTTP 200 with `{"data": data}`.
    pub fn data(data: Value) -> Response {
        // Moved in: `json!({"data": data})` would copy the whole answer.
        let mut body = serde_json::Map::new();
        body.insert("data".to_owned(), data);
        Response::ok(Value::Object(body))
    }

    /// The error envelope, with the error's status.
    pub fn error(error: RelayError) -> Response {
        Response {
            status: error.status(),
            content: Content::Json(envelope(&[error], None)),
        }
    }

    /// The JSON document, when the answer is one.
    #[cfg(test)]
    pub fn json(&self) -> Option<&Value> {
        match &self.content {
            Content::Json(json) => Some(json),
            Content::Answer(_) | Content::Text(_) => None,
        }
    }
}
