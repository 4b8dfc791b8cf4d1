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
//!
//! server.hold();                       // requests are counted, not answered…
//! server.wait_for_requests(1);         // …e.g. until the test has seen one arrive
//! server.release();                    // now they are answered
//! ```
//!
//! The server stops when the value is dropped (which also releases a hold).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The answer every request gets.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: String,
}

/// The longest a test waits for the mock to see requests, and the longest
/// a held request stays unanswered.
const WAIT: Duration = Duration::from_secs(20);

/// How many requests arrived, and whether answers are held back; the
/// condvar signals every change to either.
#[derive(Default)]
struct Traffic {
    state: Mutex<TrafficState>,
    changed: Condvar,
}

#[derive(Default)]
struct TrafficState {
    requests: usize,
    held: bool,
}

impl Traffic {
    fn update(&self, change: impl FnOnce(&mut TrafficState)) {
        change(&mut self.state.lock().unwrap());
        self.changed.notify_all();
    }

    /// Waits (at most [`WAIT`]) until `done` holds; whether it does.
    fn wait_until(&self, done: impl Fn(&TrafficState) -> bool) -> bool {
        let (state, _) = self
            .changed
            .wait_timeout_while(self.state.lock().unwrap(), WAIT, |state| !done(state))
            .unwrap();
        done(&state)
    }
}

/// A running mock JWKS server. Cheap to query from the test thread while
/// the code under test talks to it.
pub struct MockJwks {
    server: Arc<tiny_http::Server>,
    answer: Arc<Mutex<Answer>>,
    traffic: Arc<Traffic>,
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
        let traffic = Arc::new(Traffic::default());
        let paths = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, answer, traffic, paths) = (
                server.clone(),
                answer.clone(),
                traffic.clone(),
                paths.clone(),
            );
            std::thread::spawn(move || {
                // `incoming_requests` ends when `unblock` is called on drop.
                for request in server.incoming_requests() {
                    paths.lock().unwrap().push(request.url().to_owned());
                    // Counted before answering, so a test that has its answer
                    // also sees the count.
                    traffic.update(|state| state.requests += 1);
                    // A hold outlives no test: drop releases it, and so does
                    // the bound.
                    traffic.wait_until(|state| !state.held);
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
            traffic,
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
        self.traffic.state.lock().unwrap().requests
    }

    /// Waits until the server has received `count` requests in all, failing
    /// the test if that takes longer than 20 s.
    pub fn wait_for_requests(&self, count: usize) {
        let started = Instant::now();
        assert!(
            self.traffic.wait_until(|state| state.requests >= count),
            "the mock JWKS saw {} of {count} requests in {:?}",
            self.requests(),
            started.elapsed()
        );
    }

    /// Later requests are counted but not answered until [`MockJwks::release`]
    /// (at most 20 s): a fetch the code under test is stuck in.
    pub fn hold(&self) {
        self.traffic.update(|state| state.held = true);
    }

    /// Answers the held requests, and later ones at once.
    pub fn release(&self) {
        self.traffic.update(|state| state.held = false);
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
        self.release();
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
