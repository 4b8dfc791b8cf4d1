//! The relay under test, started in-process on `127.0.0.1:0`, and a plain
//! HTTP/1.1 client to talk to it over a real socket.
//!
//! The client speaks raw HTTP on purpose: tests must be able to send what a
//! well-behaved client library would refuse to (odd headers, bad bodies,
//! lying `Content-Length`s).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use gti_relay::app::App;
use gti_relay::config::Config;
use gti_relay::server::{self, Server};
use serde_json::Value;

/// A running relay; stopped when dropped.
pub struct TestRelay {
    server: Option<Server>,
    pub address: SocketAddr,
}

impl TestRelay {
    /// Starts the production relay (real GTI client, real authenticator)
    /// with `config`, on an ephemeral loopback port.
    pub fn start(config: Config) -> TestRelay {
        let app = App::new(config);
        let server = server::start(Arc::new(app), "127.0.0.1:0").expect("the relay starts");
        let address = server.local_addr();
        TestRelay {
            server: Some(server),
            address,
        }
    }

    /// The base URL a JWT's `aud` must name when `RELAY_URL` is unset.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Sends a request and returns the status and the JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Value) {
        let answer = raw_request(self.address, method, path, headers, body);
        let json = serde_json::from_slice(&answer.body).unwrap_or_else(|error| {
            panic!(
                "answer to {method} {path} is not JSON ({error}): {:?}",
                String::from_utf8_lossy(&answer.body)
            )
        });
        (answer.status, json)
    }

    /// `POST path` with a bearer token (if any) and a body.
    pub fn post(&self, path: &str, token: Option<&str>, body: &str) -> Value {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(authorization) = &authorization {
            headers.push(("Authorization", authorization));
        }
        let (status, json) = self.call("POST", path, &headers, body.as_bytes());
        assert_eq!(status, 200, "POST {path}: {json}");
        json
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

/// A raw HTTP answer.
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One request on a fresh connection (`Connection: close`); reads the whole
/// answer. `Host` and `Content-Length` are filled in unless `headers` names
/// them.
pub fn raw_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawAnswer {
    let mut stream = TcpStream::connect(address).expect("connect to the relay");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set a read timeout");
    let named = |wanted: &str| {
        headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(wanted))
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !named("content-length") && !named("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !named("host") {
        head.push_str(&format!("Host: {address}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send the head");
    stream.write_all(body).expect("send the body");
    read_answer(&mut stream)
}

/// Reads an HTTP/1.1 answer delimited by `Content-Length` or by EOF.
pub fn read_answer(stream: &mut TcpStream) -> RawAnswer {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        let read = stream.read(&mut buffer).expect("read the answer's head");
        assert!(
            read > 0,
            "connection closed before the answer's head: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok());
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked")
    });
    let mut body = bytes[head_end + 4..].to_vec();
    match length {
        Some(length) if !chunked => {
            while body.len() < length {
                let read = stream.read(&mut buffer).expect("read the answer's body");
                assert!(read > 0, "connection closed inside the answer's body");
                body.extend_from_slice(&buffer[..read]);
            }
            body.truncate(length);
        }
        _ => {
            stream
                .read_to_end(&mut body)
                .expect("read the answer's body");
            if chunked {
                body = dechunk(&body);
            }
        }
    }
    RawAnswer {
        status,
        headers,
        body,
    }
}

/// The payload of a complete chunked body (the connection was closed after it).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hexadecimal chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}
