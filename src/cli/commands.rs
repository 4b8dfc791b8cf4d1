//! Running the one-shot commands, and the output contract every command
//! keeps: results on stdout, one `gti-relay: …` line per problem on stderr,
//! exit code 0, 1 (GTI or the relay failed) or 2 (usage or configuration).
//!
//! The lookups call the very functions behind the HTTP endpoints, so a
//! lookup from a shell answers exactly what SecureX would get. A command
//! says why it stopped with a [`Stop`]; only [`run`] turns that into stderr
//! and an exit code. No logger here: the log goes to stdout, which carries
//! the JSON.

use std::io::Read;

use serde_json::{json, Value};

use super::args::{Access, Command, Lookup};
use super::key::{KeyError, KeySource};
use super::stop::Stop;
use super::{serve, usage, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use crate::app::{App, Observation};
use crate::auth::{Credentials, DEFAULT_ENTITIES_LIMIT};
use crate::config::Config;
use crate::error::RelayError;
use crate::observable::{parse_observables, Observable};
use crate::region::Region;
use crate::time::now_millis;

/// Runs `command`, and returns the process exit code.
pub(super) fn run(command: Command) -> u8 {
    let stop = match dispatch(command) {
        Ok(()) => return EXIT_OK,
        Err(stop) => stop,
    };
    match stop {
        Stop::Usage(problem) => {
            eprintln!("gti-relay: {problem}");
            EXIT_USAGE
        }
        Stop::Failure(problem) => {
            eprintln!("gti-relay: {problem}");
            EXIT_FAILURE
        }
        Stop::Reported => EXIT_FAILURE,
    }
}

fn dispatch(command: Command) -> Result<(), Stop> {
    match command {
        Command::Help => println!("{}", usage::text()),
        Command::Version => println!("gti-relay {}", env!("CARGO_PKG_VERSION")),
        Command::Serve => serve::serve()?,
        Command::Demo { retired } => serve::demo(&retired)?,
        Command::Healthcheck => serve::healthcheck()?,
        Command::Observe {
            access,
            limit,
            input,
        } => observe(&access, limit, &input)?,
        Command::Refer { region, input } => refer(region, &input)?,
        Command::Health { key, region } => health(&key, region)?,
        Command::Lookup {
            kind,
            access,
            input,
        } => lookup(kind, &access, &input)?,
        Command::Tiles {
            access,
            tile,
            period,
        } => tiles(&access, tile, period)?,
    }
    Ok(())
}

/// The key `source` names for `command`; `--key` is warned about first.
fn api_key(command: &'static str, source: &KeySource) -> Result<String, KeyError> {
    if let Some(warning) = source.warning() {
        eprintln!("gti-relay: {warning}");
    }
    source.resolve(command)
}

/// What a lookup by `command` sends GTI as.
fn credentials(
    command: &'static str,
    access: &Access,
    entities_limit: usize,
    config: &Config,
) -> Result<Credentials, Stop> {
    Ok(Credentials {
        key: api_key(command, &access.key)?,
        entities_limit,
        allow_test_accounts: access.allow_test_accounts,
        region: access.region.unwrap_or(config.region()),
    })
}

/// The observables in FILE `input`, `-` being stdin.
fn read_observables(input: &str) -> Result<Vec<Observable>, Stop> {
    let mut bytes = Vec::new();
    let read = if input == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::File::open(input).and_then(|mut file| file.read_to_end(&mut bytes).map(drop))
    };
    read.map_err(|error| Stop::Failure(format!("cannot read {input}: {error}")))?;
    parse_observables(&bytes).map_err(|error| Stop::Failure(RelayError::from(error).to_string()))
}

/// A result for people: pretty JSON on stdout.
fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // A `Value` always serialises; this only keeps the code panic-free.
        Err(error) => eprintln!("gti-relay: cannot print the answer: {error}"),
    }
}

fn observe(access: &Access, limit: usize, input: &str) -> Result<(), Stop> {
    let config = Config::from_env()?;
    let credentials = credentials("observe", access, limit, &config)?;
    let observables = read_observables(input)?;
    let app = App::new(config);
    let observation = app.observe(&credentials, &observables, now_millis(), app.deadline());
    print_observation(&observation)
}

/// What `observe` prints: the bundle as /observe answers it (partial data
/// included) on stdout, each of its errors on stderr.
fn print_observation(observation: &Observation) -> Result<(), Stop> {
    // A printed document, read once more to be pretty: the CLI's answers are
    // for people, and its one-shot process frees everything at exit.
    let body: Value = serde_json::from_slice(&observation.answer.to_vec())
        .map_err(|error| Stop::Failure(format!("cannot print the answer: {error}")))?;
    if body.get("data").is_some() {
        print_json(&body);
    }
    for error in &observation.errors {
        let kind = if error.is_warning() { "warning: " } else { "" };
        eprintln!("gti-relay: {kind}{}: {}", error.code(), error.message());
    }
    // Warnings alone (an API that is not available) leave a whole answer.
    if observation.errors.iter().all(RelayError::is_warning) {
        Ok(())
    } else {
        Err(Stop::Reported)
    }
}

fn refer(region: Option<Region>, input: &str) -> Result<(), Stop> {
    let config = Config::from_env()?;
    let observables = read_observables(input)?;
    let portal = &config.urls(region.unwrap_or(config.region())).portal;
    print_json(&json!({"data": crate::app::refer_links(portal, &observables)}));
    Ok(())
}

fn health(key: &KeySource, region: Option<Region>) -> Result<(), Stop> {
    let config = Config::from_env()?;
    let key = api_key("health", key)?;
    let region = region.unwrap_or(config.region());
    let app = App::new(config);
    app.check_health(region, &key, app.deadline())
        .map_err(|error| Stop::Failure(error.to_string()))?;
    print_json(&json!({"data": {"status": "ok"}}));
    Ok(())
}

/// `deliberate` and `respond`: the endpoint's JSON on stdout (data kept
/// beside errors, as the endpoint answers), each error on stderr too.
fn lookup(kind: Lookup, access: &Access, input: &str) -> Result<(), Stop> {
    let config = Config::from_env()?;
    let credentials = credentials(kind.command(), access, DEFAULT_ENTITIES_LIMIT, &config)?;
    let observables = read_observables(input)?;
    let app = App::new(config);
    let (now, deadline) = (now_millis(), app.deadline());
    let (data, errors) = match kind {
        Lookup::Deliberate => {
            let deliberation = app.deliberate(&credentials, &observables, now, deadline);
            (
                crate::routes::verdicts_data(&deliberation.verdicts),
                deliberation.errors,
            )
        }
        Lookup::Respond => {
            let offer = app.respond_actions(&credentials, &observables, deadline);
            (json!(offer.actions), offer.errors)
        }
    };
    print_json(&crate::error::envelope_or_data(&errors, data));
    for error in &errors {
        eprintln!("gti-relay: {error}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Stop::Reported)
    }
}

/// `tiles`: the definitions; `tiles TILE [PERIOD]`: that tile's data.
fn tiles(access: &Access, tile: Option<String>, period: Option<String>) -> Result<(), Stop> {
    let config = Config::from_env()?;
    let Some(tile) = tile else {
        print_json(&json!({"data": crate::tiles::definitions()}));
        return Ok(());
    };
    // Checked as /tiles/tile-data checks it, so the messages are the same.
    let body = json!({"tile_id": tile, "period": period});
    let (tile, period) = crate::tiles::parse_request(body.to_string().as_bytes())
        .map_err(|error| Stop::Usage(RelayError::from(error).message()))?;
    let credentials = credentials("tiles", access, DEFAULT_ENTITIES_LIMIT, &config)?;
    let app = App::new(config);
    let data = app
        .tile_data(&credentials, tile, period, now_millis(), app.deadline())
        .map_err(|error| Stop::Failure(error.to_string()))?;
    print_json(&json!({ "data": data }));
    Ok(())
}
