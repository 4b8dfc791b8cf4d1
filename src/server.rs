//! The HTTP edge: a tiny_http listener, a fixed pool of `WORKERS` threads,
//! and the conversion between tiny_http's types and [`routes`]' own.
//!
//! Each request is handled inside `catch_unwind`, so a panic answers that one
//! request with the error envelope and the worker goes on serving.

use std::io::{Cursor, Read};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{error, info, warn};

use crate::app::App;
use crate::error::RelayError;
use crate::metrics;
use crate::routes::{self, Body, Content, Request, Response};

/// The longest a worker spends reading one request body.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// How often an idle worker looks at the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A running relay: its listener and worker threads.
pub struct Server {
    http: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    address: SocketAddr,
}

/// Binds `HOST:PORT` and starts the workers.
pub fn start(app: Arc<App>) -> Result<Server, String> {
    let listen = app.config.listen_address();
    let http = tiny_http::Server::http(&listen)
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let address = http
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("cannot listen on {listen}: not an IP socket"))?;
    let http = Arc::new(http);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::with_capacity(app.config.workers);
    for index in 0..app.config.workers {
        let (http, stop, app) = (Arc::clone(&http), Arc::clone(&stop), Arc::clone(&app));
        let worker = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || serve_until_stopped(&http, &stop, &app))
            .map_err(|error| format!("cannot start worker threads: {error}"))?;
        workers.push(worker);
    }
    Ok(Server {
        http,
        stop,
        workers,
        address,
    })
}

impl Server {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops taking requests, lets the workers finish the ones they hold,
    /// and waits for them.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.join();
    }

    /// Waits until the workers stop (after [`Server::shutdown`] from elsewhere
    /// or never, for a server that runs until the process ends).
    pub fn join(self) {
        for worker in self.workers {
            if worker.join().is_err() {
                error!("a worker thread ended with a panic");
            }
        }
        drop(self.http);
    }

    /// Stops the server gracefully on SIGTERM or SIGINT: no new requests are
    /// taken, the ones in progress finish. A second signal ends the process
    /// at once, for an operator who does not want to wait.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        for signal in [SIGTERM, SIGINT] {
            flag::register_conditional_shutdown(signal, 1, Arc::clone(&self.stop))?;
            flag::register(signal, Arc::clone(&self.stop))?;
        }
        Ok(())
    }

    /// A handle that can stop the server from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.stop))
    }
}

/// Stops a [`Server`] from another thread (e.g. a signal handler).
#[derive(Clone)]
pub struct Stopper(Arc<AtomicBool>);

impl Stopper {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn serve_until_stopped(http: &tiny_http::Server, stop: &AtomicBool, app: &App) {
    while !stop.load(Ordering::SeqCst) {
        match http.recv_timeout(POLL_INTERVAL) {
            Ok(Some(request)) => serve(app, request),
            Ok(None) => {}
            Err(error) => {
                warn!("cannot receive a request: {error}");
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

fn serve(app: &App, mut incoming: tiny_http::Request) {
    let started = Instant::now();
    let request = convert(&mut incoming, app.config.max_body_bytes);
    let response =
        catch_unwind(AssertUnwindSafe(|| routes::handle(app, &request))).unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            error!("{} {} panicked: {reason}", request.method, request.path);
            Response::error(RelayError::Internal)
        });
    let status = response.status;
    // Counted before the answer leaves, so a client that has its answer
    // also sees it in the next scrape; the client's reading speed is not
    // the relay's latency anyway.
    app.metrics.record_request(
        crate::route::Route::find(&request.path),
        status,
        started.elapsed(),
    );
    // A body left unread cannot be skipped cheaply: close the connection.
    let close = matches!(request.body, Body::TooLarge { .. } | Body::Unreadable);
    if let Err(error) = respond(incoming, response, close) {
        warn!(
            "{} {}: cannot send the answer: {error}",
            request.method, request.path
        );
    }
    info!(
        "{} {} {status} {:.1}ms",
        request.method,
        request.path,
        started.elapsed().as_secs_f64() * 1000.0
    );
}

/// Our request from tiny_http's, reading at most `limit` bytes of body.
fn convert(incoming: &mut tiny_http::Request, limit: u64) -> Request {
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

fn respond(incoming: tiny_http::Request, response: Response, close: bool) -> std::io::Result<()> {
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
