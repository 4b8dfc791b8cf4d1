//! The long-running commands — `serve` and `demo` — and `healthcheck`, the
//! container's probe of a running relay. These log (the lookups cannot:
//! their stdout carries JSON), and only once the banner is out.

use std::time::Duration;

use serde_json::{json, Value};

use super::stop::Stop;
use crate::config::Config;
use crate::gti::Endpoint;
use crate::logging::LogFormat;

fn start_logging(format: LogFormat, level: log::LevelFilter) -> Result<(), Stop> {
    crate::logging::init(format, level)
        .map_err(|error| Stop::Failure(format!("cannot start logging: {error}")))
}

/// Serves the relay API until SIGTERM or SIGINT.
pub(super) fn serve() -> Result<(), Stop> {
    let restart = crate::memory::restart_without_thread_caches();
    let config = Config::from_env()?;
    start_logging(config.log_format(), config.log_level())?;
    warn_if_not_restarted(restart);
    // Before the first worker or call thread starts.
    crate::memory::configure();
    crate::run(config).map_err(|error| {
        log::error!("{error}");
        Stop::from(error)
    })
}

/// Serves the relay against the simulated GTI, after a banner with tokens,
/// ready-to-paste curls and a sample lookup; the APIs of `retired` answer
/// 404 there.
pub(super) fn demo(retired: &[Endpoint]) -> Result<(), Stop> {
    let restart = crate::memory::restart_without_thread_caches();
    // Before the simulated GTI's threads and the relay's start.
    crate::memory::configure();
    let demo = crate::demo::start(crate::config::environment(), retired)?;
    demo.stop_on_signals()
        .map_err(|error| Stop::Failure(format!("cannot handle signals: {error}")))?;
    print_banner(&demo);
    println!("\nServing until Ctrl-C. Request log:");
    // Started only now so that the banner and summary read cleanly.
    start_logging(demo.log_format(), demo.log_level())?;
    warn_if_not_restarted(restart);
    demo.join();
    Ok(())
}

/// Logs why the relay could not restart without malloc's thread caches:
/// it serves all the same, its memory growing a little more under load.
fn warn_if_not_restarted(restart: Option<std::io::Error>) {
    if let Some(error) = restart {
        log::warn!(
            "cannot restart without malloc's per-thread caches ({error}); serving with them"
        );
    }
}

fn print_banner(demo: &crate::demo::Demo) {
    println!(
        "gti-relay {} DEMO MODE: simulated GTI data, demo-only signing key; not for production.",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "preview: {}  (open it in a browser: the dashboard tiles and a lookup)",
        demo.preview_url
    );
    println!("relay: {}", demo.relay_url);
    println!("token: {}", demo.token);
    println!("eu-token: {}", demo.eu_token);
    println!("\nTry it (tokens valid for 24 hours; eu-token is a tenant of the EU region; a curl");
    println!("for every endpoint, and what the tokens accept, in README.md's Quick start):");
    for command in demo.curl_commands() {
        println!("  {command}");
    }
    println!(
        "\nobservables.json looked up through {}/observe/observables:",
        demo.relay_url
    );
    match demo.summary() {
        Ok(summary) => print!("{summary}"),
        Err(error) => eprintln!("gti-relay: the sample lookup failed: {error}"),
    }
}

/// The container's health probe: `GET /watchdog` on the local relay with a
/// `Health-Check` header, which must come back echoed.
pub(super) fn healthcheck() -> Result<(), Stop> {
    let config = Config::from_env()?;
    let host = match config.host() {
        "0.0.0.0" | "::" => "127.0.0.1".to_owned(),
        host if host.contains(':') => format!("[{host}]"),
        host => host.to_owned(),
    };
    let url = format!("http://{host}:{}/watchdog", config.port());
    let probe = "healthcheck";
    match watchdog(&url, probe) {
        Ok(body) if body == json!({ "data": probe }) => {
            println!("ok: {url}");
            Ok(())
        }
        Ok(body) => Err(Stop::Failure(format!("unhealthy: {url} answered {body}"))),
        Err(error) => Err(Stop::Failure(format!("unhealthy: {url}: {error}"))),
    }
}

/// The JSON `url` answers to a GET with the `Health-Check: probe` header.
fn watchdog(url: &str, probe: &str) -> Result<Value, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        // The relay on this machine: never through a proxy from the
        // environment.
        .proxy(None)
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .header("Health-Check", probe)
        .call()
        .map_err(|error| error.to_string())?;
    let bytes = response
        .body_mut()
        .read_to_vec()
        .map_err(|error| error.to_string())?;
    serde_json::from_slice::<Value>(&bytes).map_err(|error| error.to_string())
}
