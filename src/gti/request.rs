//! What a GTI request is: one type per endpoint implementing
//! [`GtiRequest`], which says which API it calls, how it becomes an HTTP
//! call for a region's URLs, and what its answer decodes into. The
//! transport moves the bytes; [`super::Gti`] joins the two, so a request's
//! answer has its own type and a mismatch cannot compile.
//!
//! The request types live beside their API: `detections` (look-up, events
//! of a detection, the listing, resolve), `events` (the search), `entity`
//! (the DHCP look-up).

use serde::Serialize;

use super::{Endpoint, GtiError};
use crate::region::RegionUrls;

/// One GTI endpoint's request.
pub trait GtiRequest: Send + Sync + 'static {
    /// What a 2xx answer decodes into; its default is the empty answer.
    type Output: Decode + Default + Send + 'static;
    /// The endpoint: its name in messages, logs and metrics.
    const ENDPOINT: Endpoint;
    /// The HTTP call for a region's `urls`; `None` when there is nothing to
    /// ask (no event search in the region, no IP to look up), and the
    /// answer is the empty one GTI would give.
    fn http(&self, urls: &RegionUrls) -> Option<HttpCall>;
}

/// A 2xx answer's body read into its typed form.
pub trait Decode: Sized {
    /// The answer, or what in the body did not fit.
    fn decode(body: &[u8]) -> Result<Self, DecodeError>;
}

/// Why a 2xx body is not the answer GTI documents; becomes an
/// `invalid upstream response` naming the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl DecodeError {
    /// The failure of a call to `endpoint` whose 2xx body did not decode.
    pub fn at(self, endpoint: Endpoint) -> GtiError {
        GtiError::InvalidResponse {
            endpoint,
            detail: self.0,
        }
    }
}

impl From<serde_json::Error> for DecodeError {
    fn from(error: serde_json::Error) -> Self {
        DecodeError(match error.classify() {
            // Valid JSON of the wrong shape: serde says which field.
            serde_json::error::Category::Data => error.to_string(),
            _ => format!("not JSON ({error})"),
        })
    }
}

/// The HTTP method of a call.
/// `body` read as JSON into `T`, for the [`Decode`] impls.
///
/// The body is checked to be UTF-8 once, up front, and parsed as text:
/// parsed as bytes, serde_json checks every string again as it reads it,
/// the borrowed raw ones ([`super::model::Verbatim`]) twice, which cost a
/// tenth of a call thread's time on large event pages (BENCHMARKS.md,
/// issue 19). A body that is not UTF-8 is parsed as bytes, as before, so
/// it fails (or not) exactly as it did.
pub fn json<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    Ok(match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text)?,
        Err(_) => serde_json::from_slice(body)?,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

/// One HTTP call to GTI, kept whole so that a retry can send it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    pub endpoint: Endpoint,
    pub method: Method,
    /// Full URL, query string included.
    pub url: String,
    /// The JSON body of a POST or PUT.
    pub body: Option<String>,
}

impl HttpCall {
    pub fn get(endpoint: Endpoint, url: String) -> HttpCall {
        HttpCall {
            endpoint,
            method: Method::Get,
            url,
            body: None,
        }
    }

    /// A call with `body` as JSON.
    pub fn with_json(
        endpoint: Endpoint,
        method: Method,
        url: String,
        body: &impl Serialize,
    ) -> HttpCall {
        HttpCall {
            endpoint,
            method,
            url,
            // Structs of strings always serialise; the empty fallback is
            // never sent.
            body: Some(serde_json::to_string(body).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Answer<'a> {
        name: &'a str,
    }

    #[test]
    fn json_reads_text_and_falls_back_to_bytes_as_serde_json_would() {
        let answer: Answer = json(br#"{"name":"gti","other":[1,{"x":null}]}"#).unwrap();
        assert_eq!(answer, Answer { name: "gti" });
        // Not UTF-8 in a field nobody reads: serde_json reading bytes
        // skips it, and so does `json`.
        let body = b"{\"name\":\"gti\",\"other\":\"\xff\"}";
        assert_eq!(
            json::<Answer>(body),
            serde_json::from_slice::<Answer>(body).map_err(DecodeError::from)
        );
        // ... and where it is read, both fail alike.
        let body = b"{\"name\":\"\xff\"}";
        assert!(serde_json::from_slice::<Answer>(body).is_err());
        assert_eq!(
            json::<Answer>(body),
            serde_json::from_slice::<Answer>(body).map_err(DecodeError::from)
        );
        assert_eq!(
            json::<Answer>(b"[]").unwrap_err(),
            serde_json::from_slice::<Answer>(b"[]").unwrap_err().into()
        );
    }
}
