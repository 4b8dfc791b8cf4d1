//! The `gti-relay` binary: read the configuration, start logging, serve.

use std::process::ExitCode;

use gti_relay::config::Config;

const USAGE: &str = "\
gti-relay: SecureX / Cisco XDR relay module for Gigamon ThreatINSIGHT

Usage: gti-relay [--help | --version]

Serves the relay API on HOST:PORT (default 0.0.0.0:9090). All settings come
from environment variables; see README.md for the list.";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("gti-relay {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("gti-relay: unknown argument {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("gti-relay: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = simple_logger::SimpleLogger::new()
        .with_level(config.log_level)
        .with_utc_timestamps()
        .init()
    {
        eprintln!("gti-relay: cannot start logging: {error}");
        return ExitCode::FAILURE;
    }
    match gti_relay::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log::error!("{error}");
            eprintln!("gti-relay: {error}");
            ExitCode::FAILURE
        }
    }
}
