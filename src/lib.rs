//! gti-relay: a SecureX / Cisco XDR Threat Response relay module for
//! Gigamon ThreatINSIGHT.
//!
//! A request flows `server` (tiny_http, worker pool) → `routes` (plain
//! handlers, one per `route::Route`) → `auth` (JWT + JWKS) → `workflow`
//! (parallel GTI calls through `gti`, typed by `gti::model`) → `ctim` (pure
//! mapping, serialised once per observable) → back out as JSON bytes.
//! `config` is read once at start-up, over `region` (the US and EU hosts a
//! token's `GTI_REGION` picks from) and `egress` (which proxy each URL goes
//! through, extra trusted roots); `observable` parses what SecureX asks
//! about; `level` is the one severity/confidence vocabulary the mapping,
//! the verdict and the tiles share; `error` renders every failure a caller
//! can see; `metrics` counts what happens for `GET /metrics`, told by the
//! observer traits of `gti` and `auth`; `time` is the one clock and every timestamp format;
//! `encoding` the one percent-encoder; `memory` sets the allocator up and
//! hands freed memory back after requests; `logging` writes text or JSON log
//! lines, each line of a request with its request id. `cli` parses the command line
//! (serve, demo, one-shot lookups); `demo` runs the relay against the
//! in-process simulated GTI of `demo::gti`, which the integration tests and
//! benchmarks use too.

// `memory` alone may use `unsafe` (two libc calls into the allocator).
#![deny(unsafe_code)]

// First: its macro is in scope only in the modules declared after it.
#[macro_use]
mod closed_set;

pub(crate) mod actions;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod ctim;
pub mod demo;
pub(crate) mod egress;
pub(crate) mod encoding;
pub mod error;
pub mod gti;
pub(crate) mod level;
pub mod logging;
#[allow(unsafe_code)]
pub(crate) mod memory;
pub(crate) mod metrics;
pub mod observable;
pub(crate) mod region;
pub(crate) mod route;
pub(crate) mod routes;
pub mod server;
mod sync;
pub(crate) mod tiles;
pub mod time;
pub mod workflow;

/// Runs the relay until SIGTERM or SIGINT: builds the shared state, serves
/// on `HOST:PORT`, and returns once the requests in progress are answered.
pub fn run(config: config::Config) -> Result<(), error::StartError> {
    log::info!("egress: {}", config.egress());
    for (region, urls) in config.regions() {
        log::info!(
            "region {region}{}: GTI at {}, event search {}, portal {}",
            if region == config.region() {
                " (default)"
            } else {
                ""
            },
            urls.detections,
            if urls.events.is_some() { "on" } else { "off" },
            urls.portal
        );
    }
    let listen = config.listen_address();
    let app = app::App::new(config);
    let server = server::start(std::sync::Arc::new(app), &listen)?;
    server
        .stop_on_signals()
        .map_err(|error| error::StartError::Thread {
            what: "the signal handler",
            error,
        })?;
    log::info!(
        "gti-relay {} listening on {}",
        env!("CARGO_PKG_VERSION"),
        server.local_addr()
    );
    server.join();
    log::info!("stopped");
    Ok(())
}
