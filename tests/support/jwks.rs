//! A mock JWKS server on `127.0.0.1:0`, serving one configurable answer to
//! every request from a background thread and counting the requests.
//!
//! ```ignore
//! let server = MockJwks::start(tokens::jwks(&[(tokens::relay_key(), "kid-1")]));
//! let host = server.host();            // "127.0.0.1:<port>", a token's jwks_host
//! // … authenticate …
//! assert_eq!(server.requests(), 1);
//! server.set_json(new_key_set);        // later requests see the new answer
//! server.set_status(503);
//! ```
//!
//! The server stops when the value is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;

/// The answer every request gets.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: String,
}

/// A running mock JWKS server. Cheap to query from the test thread while
/// the code under test talks to it.
pub struct MockJwks {
    server: Arc<tiny_http::Server>,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl MockJwks {
    /// Starts a server answering `200` with `key_set` as JSON.
    pub fn start(key_set: Value) -> MockJwks {
        MockJwks::start_raw(200, key_set.to_string())
    }

    /// Starts a server answering `status` with `body` verbatim
    /// (`Content-Type: application/json` whatever the body is).
    pub fn start_raw(status: u16, body: impl Into<String>) -> MockJwks {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind mock JWKS"));
        let port = server
            .server_addr()
            .to_ip()
            .expect("mock JWKS listens on IP")
            .port();
        let answer = Arc::new(Mutex::new(Answer {
            status,
            body: body.into(),
        }));
        let requests = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, answer, requests, paths) = (
                server.clone(),
                answer.clone(),
                requests.clone(),
                paths.clone(),
            );
            std::thread::spawn(move || {
                // `incoming_requests` ends when `unblock` is called on drop.
                for request in server.incoming_requests() {
                    paths.lock().unwrap().push(request.url().to_owned());
                    // Counted before answering, so a test that has its answer
                    // also sees the count.
                    requests.fetch_add(1, Ordering::SeqCst);
                    let Answer { status, body } = answer.lock().unwrap().clone();
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                    let response = tiny_http::Response::from_string(body)
                        .with_status_code(status)
                        .with_header(header);
                    let _ = request.respond(response);
                }
            })
        };
        MockJwks {
            server,
            answer,
            requests,
            paths,
            port,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:<port>`: what a token's `jwks_host` claim names.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many requests the server has received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The path (and query) of every request received, in order.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }

    /// Answers later requests with `200` and `key_set`.
    pub fn set_json(&self, key_set: Value) {
        self.set_raw(200, key_set.to_string());
    }

    /// Answers later requests with `status` and the current body.
    pub fn set_status(&self, status: u16) {
        self.answer.lock().unwrap().status = status;
    }

    /// Answers later requests with `status` and `body` verbatim.
    pub fn set_raw(&self, status: u16, body: impl Into<String>) {
        *self.answer.lock().unwrap() = Answer {
            status,
            body: body.into(),
        };
    }
}

impl Drop for MockJwks {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
