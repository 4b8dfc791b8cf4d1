//! The request the handlers see: method, path, headers and the body the
//! server read (or why it did not), independent of tiny_http.

/// An HTTP request, reduced to what the handlers use.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A request body, read by the server up to `MAX_BODY_BYTES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Bytes(Vec<u8>),
    /// Longer than the limit; left unread.
    TooLarge {
        limit: u64,
    },
    /// The client stopped sending or the connection broke mid-body.
    Unreadable,
}

impl Request {
    /// A request as a test builds it, without a socket.
    #[cfg(test)]
    pub fn fake(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: Body::Bytes(body.as_bytes().to_vec()),
        }
    }

    /// The first header of that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}
