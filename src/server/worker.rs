//! A request worker: takes requests from the listener until told to stop,
//! and answers each inside `catch_unwind`, so a panic answers that one
//! request with the error envelope and the worker goes on serving.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::adapter::{convert, respond};
use crate::app::App;
use crate::error::RelayError;
use crate::routes::{self, Body, Response};

/// How long a worker waits after the listener failed to give it a request.
const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// Serves requests until the stop flag is set. An idle worker sleeps in
/// `recv` (no periodic wake-up); [`super::Stopper::stop`] wakes it.
pub(super) fn serve_until_stopped(http: &tiny_http::Server, stop: &AtomicBool, app: &App) {
    while !stop.load(Ordering::SeqCst) {
        match http.recv() {
            Ok(request) => serve(app, request),
            // Woken to stop.
            Err(_) if stop.load(Ordering::SeqCst) => return,
            Err(error) => {
                warn!("cannot receive a request: {error}");
                std::thread::sleep(RETRY_INTERVAL);
            }
        }
    }
}

fn serve(app: &App, mut incoming: tiny_http::Request) {
    let started = Instant::now();
    let request = convert(&mut incoming, app.config.max_body_bytes());
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
