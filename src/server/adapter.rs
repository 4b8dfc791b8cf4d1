//! The conversion between tiny_http's request and answer and the
//! handlers' own [`Request`] and [`Response`]: the only place that reads a
//! body off a socket or writes an answer onto one.

use std::io::{Cursor, Read};
use std::time::{Duration, Instant};

use crate::logging;
use crate::metrics;
use crate::routes::{Body, Content, Request, Response};

/// The longest a worker spends reading one request body.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// Our request from tiny_http's, reading at most `limit` bytes of body.
pub(super) fn convert(incoming: &mut tiny_http::Request, limit: u64) -> Request {
    let url = incoming.url();
    let path = url.split(['?', '#']).next().unwrap_or_default().to_owned();
    let headers = incoming
        .headers()
        .iter()
        .map(|header| (header.field.to_string(), header.value.to_string()))
        .collect();
    let body = match incoming.body_length() {
        Some(length) if length as u64 > limit => Body::TooLarge { limit },
        _ => read_body(incoming.as_reader(), limit, Instant::now() + BODY_DEADLINE),
    };
    Request {
        method: incoming.method().as_str().to_owned(),
        path,
        headers,
        body,
    }
}

/// Reads a body without ever holding more than `limit + 1` bytes, and gives
/// up at `deadline`: the socket's timeout bounds each read, not their sum, so
/// without it a client trickling a byte now and then would hold a worker for
/// as long as it liked.
fn read_body(reader: &mut dyn Read, limit: u64, deadline: Instant) -> Body {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if Instant::now() > deadline {
            return Body::Unreadable;
        }
        match reader.read(&mut chunk) {
            Ok(0) => return Body::Bytes(bytes),
            Ok(read) => {
                bytes.extend_from_slice(&chunk[..read]);
                if bytes.len() as u64 > limit {
                    return Body::TooLarge { limit };
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Body::Unreadable,
        }
    }
}

/// Writes `response`, with `request_id` in its `X-Request-Id` header.
pub(super) fn respond(
    incoming: tiny_http::Request,
    response: Response,
    close: bool,
    request_id: &str,
) -> std::io::Result<()> {
    let (body, length, content_type): (Box<dyn Read + Send>, usize, _) = match response.content {
        Content::Text(text) => {
            let length = text.len();
            (
                Box::new(Cursor::new(text.into_bytes())),
                length,
                metrics::CONTENT_TYPE,
            )
        }
        Content::Json(json) => {
            // A `Value` always serialises.
            let bytes = serde_json::to_vec(&json).unwrap_or_default();
            let length = bytes.len();
            (Box::new(Cursor::new(bytes)), length, "application/json")
        }
        // Written piece by piece as the socket takes it: never joined.
        Content::Answer(answer) => {
            let length = answer.len();
            (Box::new(answer), length, "application/json")
        }
    };
    let mut answer = tiny_http::Response::new(
        tiny_http::StatusCode(response.status),
        vec![header("Content-Type", content_type)],
        body,
        Some(length),
        None,
    );
    if close {
        answer = answer.with_header(header("Connection", "close"));
    }
    // Always valid: the id is the caller's only when made of safe
    // characters (`logging::is_valid_request_id`), else ours.
    if let Ok(id) = tiny_http::Header::from_bytes(logging::REQUEST_ID_HEADER, request_id) {
        answer = answer.with_header(id);
    }
    incoming.respond(answer)
}

fn header(name: &'static str, value: &'static str) -> tiny_http::Header {
    tiny_http::Header {
        field: name
            .parse()
            .unwrap_or_else(|_| unreachable!("{name} is a valid header name")),
        value: value
            .parse()
            .unwrap_or_else(|_| unreachable!("{value} is ASCII")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_up_to_the_limit() {
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(
            read_body(&mut &b"[]"[..], 2, later),
            Body::Bytes(b"[]".to_vec())
        );
        assert_eq!(
            read_body(&mut &b"[ ]"[..], 2, later),
            Body::TooLarge { limit: 2 }
        );
    }

    /// A reader that hands out one byte per call, like a trickling client.
    struct Trickle(usize);

    impl Read for Trickle {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 || buffer.is_empty() {
                return Ok(0);
            }
            self.0 -= 1;
            buffer[0] = b' ';
            Ok(1)
        }
    }

    #[test]
    fn a_trickling_body_is_given_up_at_the_deadline() {
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(read_body(&mut Trickle(1000), 4096, past), Body::Unreadable);
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(
            read_body(&mut Trickle(3), 4096, later),
            Body::Bytes(b"   ".to_vec())
        );
    }
}
