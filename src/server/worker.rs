//! A request worker: takes requests from the listener until told to stop,
//! and answers each inside `catch_unwind`, so a panic answers that one
//! request with the error envelope and the worker goes on serving. Each
//! request gets a request id (the caller's `X-Request-Id` when well formed),
//! set as the context of its log lines and sent back in the answer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, info, warn};

use super::adapter::{convert, respond};
use crate::app::App;
use crate::error::RelayError;
use crate::logging::{self, RequestContext};
use crate::memory::Releaser;
use crate::route::Route;
use crate::routes::{self, Body, Request, Response};

/// How long a worker waits after the listener failed to give it a request.
const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// Serves requests until the stop flag is set, telling `releaser` when each
/// ends. An idle worker sleeps in `recv` (no periodic wake-up);
/// [`super::Stopper::stop`] wakes it.
pub(super) fn serve_until_stopped(
    http: &tiny_http::Server,
    stop: &AtomicBool,
    app: &App,
    releaser: &Releaser,
) {
    while !stop.load(Ordering::SeqCst) {
        match http.recv() {
            Ok(request) => {
                serve(app, request);
                releaser.request_ended();
            }
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
    let route = Route::find(&request.path);
    // Every line logged for this request, here or on the call pool's
    // threads, carries its id.
    let context = RequestContext::new(
        logging::request_id(request.header(logging::REQUEST_ID_HEADER)),
        route.map_or("unknown", Route::name),
    );
    let _entered = logging::enter(Some(Arc::clone(&context)));
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
    app.metrics.record_request(route, status, started.elapsed());
    // A body left unread cannot be skipped cheaply: close the connection.
    let close = matches!(request.body, Body::TooLarge { .. } | Body::Unreadable);
    if let Err(error) = respond(incoming, response, close, context.id()) {
        warn!(
            "{} {}: cannot send the answer: {error}",
            request.method, request.path
        );
    }
    log_answer(&request, status, started, &context);
}

/// The request's last line: what was asked, the status, how long it took
/// and how many GTI calls it made.
fn log_answer(request: &Request, status: u16, started: Instant, context: &RequestContext) {
    // To a tenth of a millisecond, as the message shows it.
    let duration_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    info!(
        status = status,
        duration_ms = duration_ms,
        gti_calls = context.gti_calls();
        "{} {} {status} {duration_ms:.1}ms",
        request.method,
        request.path,
    );
}
