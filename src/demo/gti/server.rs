//! The mock's HTTP side, on the vendored tiny_http (the relay's own
//! server): the loopback listener, the elastic pool of handler threads
//! that always keeps one waiting for the next call, reading a request and
//! writing an answer the way its [`Delivery`] says. What to answer is the
//! handler's.
//!
//! tiny_http gives each connection a thread of its own
//! (`vendor/tiny_http/PATCHES.md`, patch 6), so keep-alive connections are
//! served concurrently too; a call sleeping out its latency or fault holds
//! up no other.

use std::io::{Cursor, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use super::handler::{self, Incoming};
use super::reply::{Delivery, Reply};
use super::Shared;

/// Request bodies larger than this are refused (the relay never sends them).
const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// The most connections served at once (each has a tiny_http thread).
const MAX_CONNECTIONS: usize = 1024;

/// The most handler threads, so the most calls answered at once.
const MAX_HANDLERS: usize = 1024;

/// Handler threads kept however idle the mock is.
const MIN_HANDLERS: usize = 4;

/// A handler thread beyond [`MIN_HANDLERS`] leaves after this long idle.
const HANDLER_IDLE_EXIT: Duration = Duration::from_secs(30);

/// A listener on `127.0.0.1:0`, and the address it got.
pub(super) fn listen() -> std::io::Result<(tiny_http::Server, SocketAddr)> {
    let http = tiny_http::Server::new(tiny_http::ServerConfig {
        addr: tiny_http::ConfigListenAddr::from_socket_addrs("127.0.0.1:0")?,
        ssl: None,
        socket_timeout: Some(tiny_http::DEFAULT_SOCKET_TIMEOUT),
        max_connections: MAX_CONNECTIONS,
    })
    .map_err(std::io::Error::other)?;
    let addr = http
        .server_addr()
        .to_ip()
        .ok_or_else(|| std::io::Error::other("the mock GTI is not on an IP socket"))?;
    Ok((http, addr))
}

/// Starts the handler threads kept however idle the mock is. They hold
/// `http` weakly between calls, so that dropping the caller's reference
/// closes the listener.
pub(super) fn start_handlers(
    http: &Arc<tiny_http::Server>,
    shared: &Arc<Shared>,
) -> std::io::Result<()> {
    for _ in 0..MIN_HANDLERS {
        spawn_handler(&Arc::downgrade(http), shared)?;
    }
    Ok(())
}

/// Tells the handler threads to stop.
pub(super) fn stop(http: &tiny_http::Server, shared: &Shared) {
    shared.stopping.store(true, Ordering::SeqCst);
    // Wake every handler waiting for a call, so that it lets go of the
    // server; busy ones see the flag when they are done. Once the last
    // strong reference (the caller's, dropped next) goes, tiny_http closes
    // the listener.
    for _ in 0..shared.handlers.load(Ordering::SeqCst) {
        http.unblock();
    }
}

/// Starts one more handler thread.
fn spawn_handler(http: &Weak<tiny_http::Server>, shared: &Arc<Shared>) -> std::io::Result<()> {
    shared.handlers.fetch_add(1, Ordering::SeqCst);
    let (http, handler_shared) = (Weak::clone(http), Arc::clone(shared));
    thread::Builder::new()
        .name("mock-gti".to_owned())
        .spawn(move || handle_calls(&http, &handler_shared))
        .map(drop)
        .inspect_err(|_| {
            shared.handlers.fetch_sub(1, Ordering::SeqCst);
        })
}

/// Counts a handler thread out when it ends, even by a panic.
struct HandlerAlive<'a>(&'a Shared);

impl Drop for HandlerAlive<'_> {
    fn drop(&mut self) {
        self.0.handlers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A handler thread: takes calls until the mock is dropped, or until it has
/// been idle a while with another handler waiting.
fn handle_calls(http: &Weak<tiny_http::Server>, shared: &Arc<Shared>) {
    let _alive = HandlerAlive(shared);
    loop {
        let Some(server) = http.upgrade() else { return };
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        shared.idle.fetch_add(1, Ordering::SeqCst);
        let next = server.recv_timeout(HANDLER_IDLE_EXIT);
        drop(server);
        let still_idle = shared.idle.fetch_sub(1, Ordering::SeqCst) - 1;
        match next {
            Ok(Some(request)) => {
                // Someone must wait for the next call while this one is
                // answered (it may sleep out a latency or a fault).
                if still_idle == 0 && shared.handlers.load(Ordering::SeqCst) < MAX_HANDLERS {
                    // Without a thread the next calls wait their turn.
                    let _ = spawn_handler(http, shared);
                }
                handle(shared, request);
            }
            // Stopping, or idle: leave if another handler is waiting.
            Ok(None) | Err(_) => {
                if shared.stopping.load(Ordering::SeqCst)
                    || (still_idle > 0 && shared.handlers.load(Ordering::SeqCst) > MIN_HANDLERS)
                {
                    return;
                }
            }
        }
    }
}

/// Counts a call in flight while it is answered.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn start(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle(shared: &Shared, mut request: tiny_http::Request) {
    let incoming = read(&mut request);
    let answer = {
        let _in_flight = InFlight::start(shared);
        handler::answer(shared, &incoming)
    };
    // The client may have given up (timeout tests); that is not our error.
    let _ = send(request, answer);
}

/// The request with its body read, unless that fails or the body is over
/// [`MAX_REQUEST_BYTES`].
fn read(request: &mut tiny_http::Request) -> Incoming {
    let headers = request
        .headers()
        .iter()
        .map(|header| (header.field.to_string(), header.value.to_string()))
        .collect();
    let body = match request.body_length() {
        Some(length) if length as u64 > MAX_REQUEST_BYTES => None,
        _ => {
            let mut body = Vec::new();
            match request
                .as_reader()
                .take(MAX_REQUEST_BYTES + 1)
                .read_to_end(&mut body)
            {
                Ok(read) if read as u64 <= MAX_REQUEST_BYTES => Some(body),
                _ => None,
            }
        }
    };
    Incoming {
        method: request.method().as_str().to_owned(),
        target: request.url().to_owned(),
        headers,
        body,
    }
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name, value).ok()
}

fn send(request: tiny_http::Request, answer: Reply) -> std::io::Result<()> {
    let status = tiny_http::StatusCode(answer.status);
    let mut headers: Vec<tiny_http::Header> = [
        header("Content-Type", "application/json"),
        answer
            .retry_after
            .as_deref()
            .and_then(|value| header("Retry-After", value)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let length = answer.body.len();
    let mut body = answer.body.into_bytes();
    match answer.delivery {
        Delivery::Whole | Delivery::Truncated => {
            if answer.close || answer.delivery == Delivery::Truncated {
                headers.extend(header("Connection", "close"));
            }
            if answer.delivery == Delivery::Truncated {
                // The head still announces the whole body; the close that
                // follows the response cuts it.
                body.truncate(length / 2);
            }
            let response =
                tiny_http::Response::new(status, headers, Cursor::new(body), Some(length), None)
                    // Content-Length, as GTI sends, however long the body.
                    .with_chunked_threshold(usize::MAX);
            request.respond(response)
        }
        Delivery::SlowBody(delay) => send_slowly(request, status, &headers, &body, delay),
    }
}

/// Writes the head at once and `body` after `delay`.
fn send_slowly(
    request: tiny_http::Request,
    status: tiny_http::StatusCode,
    headers: &[tiny_http::Header],
    body: &[u8],
    delay: Duration,
) -> std::io::Result<()> {
    // tiny_http buffers a head until the body follows, so this one is
    // written here.
    let mut writer = request.into_writer();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n",
        status.0,
        status.default_reason_phrase(),
        body.len()
    );
    for header in headers {
        head.push_str(&format!("{header}\r\n"));
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.flush()?;
    thread::sleep(delay);
    writer.write_all(body)?;
    writer.flush()
}
