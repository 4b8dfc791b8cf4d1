//! gti-relay: a SecureX / Cisco XDR Threat Response relay module for
//! Gigamon ThreatINSIGHT.
//!
//! A request flows `server` (tiny_http, worker pool) → `routes` (plain
//! handlers) → `auth` (JWT + JWKS) → `workflow` (parallel GTI calls through
//! `gti`) → `ctim` (pure mapping) → back out as JSON. `config` is read once
//! at start-up; `errors` renders every failure a caller can see; `metrics`
//! counts what happens for `GET /metrics`. `cli` parses the command line
//! (serve, demo, one-shot lookups); `demo` runs the relay against the
//! in-process simulated GTI of `demo::gti`, which the integration tests and
//! benchmarks use too.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod ctim;
pub mod demo;
pub mod errors;
pub mod gti;
pub mod metrics;
pub mod payload;
pub mod routes;
pub mod server;
pub mod workflow;

/// Runs the relay until SIGTERM or SIGINT: builds the shared state, serves
/// on `HOST:PORT`, and returns once the requests in progress are answered.
pub fn run(config: config::Config) -> Result<(), String> {
    let app =
        app::App::new(config).map_err(|error| format!("cannot start the I/O pool: {error}"))?;
    let server = server::start(std::sync::Arc::new(app))?;
    server
        .stop_on_signals()
        .map_err(|error| format!("cannot handle signals: {error}"))?;
    log::info!(
        "gti-relay {} listening on {}",
        env!("CARGO_PKG_VERSION"),
        server.local_addr()
    );
    server.join();
    log::info!("stopped");
    Ok(())
}
