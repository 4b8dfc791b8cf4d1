//! The command line: `gti-relay [COMMAND …]`, parsed by hand (a handful of
//! words does not need a framework) into a [`Command`], then run.
//!
//! The commands reuse the relay's own code paths — `observe`, `refer` and
//! `health` call the functions behind the HTTP endpoints — so a lookup from
//! a shell gives exactly what SecureX would get. Output contract: results on
//! stdout, one `gti-relay: …` line per problem on stderr; exit code 0 when
//! all went well, 1 for an upstream or relay failure, 2 for a usage or
//! configuration error. Settings still come from the environment (`Config`);
//! the only variable read here is `GTI_API_KEY`, a command's default key.
//!
//! The GTI API key is a secret: it comes from `--key-file` or `GTI_API_KEY`
//! (`--key` still works, with a warning, since the process list shows it to
//! every user), and no message, debug output or answer ever holds it.

use std::fmt;
use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};

use crate::app::App;
use crate::auth::{Credentials, DEFAULT_ENTITIES_LIMIT, MAX_ENTITIES_LIMIT};
use crate::config::Config;
use crate::observable::{parse_observables, Observable};
use crate::region::{self, Region};

/// Success.
pub const EXIT_OK: u8 = 0;
/// GTI or the relay failed (message on stderr).
pub const EXIT_FAILURE: u8 = 1;
/// Wrong command line or configuration.
pub const EXIT_USAGE: u8 = 2;

pub const USAGE: &str = "\
gti-relay: SecureX / Cisco XDR relay module for Gigamon ThreatINSIGHT

Usage:
  gti-relay                      serve the relay API on HOST:PORT (default 0.0.0.0:9090)
  gti-relay demo                 serve with a simulated GTI and a demo token (HOST:PORT,
                                 default 127.0.0.1:9090); prints ready-to-paste curls
  gti-relay observe [--key-file PATH] [--limit N] [--allow-test-accounts]
                    [--region us|eu] FILE|-
                                 look up observables (a JSON array as SecureX sends it)
                                 and print the CTIM bundle of /observe/observables
  gti-relay refer [--region us|eu] FILE|-
                                 print the pivot links of /refer/observables
  gti-relay deliberate [--key-file PATH] [--allow-test-accounts] [--region us|eu] FILE|-
                                 print the verdicts of /deliberate/observables
  gti-relay respond [--key-file PATH] [--allow-test-accounts] [--region us|eu] FILE|-
                                 print the response actions of /respond/observables
  gti-relay tiles                print the dashboard tile definitions of /tiles
  gti-relay tiles [--key-file PATH] [--allow-test-accounts] [--region us|eu] TILE [PERIOD]
                                 print a tile's data as /tiles/tile-data answers it
                                 (PERIOD: last_24_hours, last_7_days (default), last_30_days)
  gti-relay health [--key-file PATH] [--region us|eu]
                                 check that GTI accepts the API key
  gti-relay healthcheck          GET /watchdog of the relay on localhost:$PORT (containers)
  gti-relay --help | --version

The GTI API key of observe, deliberate, respond, tiles and health comes from --key-file PATH (a file that
holds only the key, such as a mounted Kubernetes secret; surrounding whitespace
is ignored), else from the GTI_API_KEY environment variable. --key KEY still
works but is discouraged: the process list shows the key to every user of the
machine. --key and --key-file exclude each other.

--region us|eu picks the FortiNDR Cloud region of observe, health and refer
(default GTI_REGION), as a token's GTI_REGION claim does for the relay API.

All other settings come from environment variables (GTI_TIMEOUT_SECS, …); see
README.md. Regions and egress:
  GTI_REGION (us)            the region of tokens without a GTI_REGION claim: us, eu
  GTI_DETECTIONS_URL, GTI_EVENTS_URL, GTI_ENTITY_URL, GTI_PORTAL_URL
                             override the default region's URLs
  GTI_US_<API>_URL, GTI_EU_<API>_URL (API = DETECTIONS, EVENTS, ENTITY, PORTAL)
                             override one region's (not both forms for one region
                             and API); an empty events URL switches the search off
                             (the EU region has none by default)
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY
                             egress proxy for GTI and JWKS calls, read as curl does
  GTI_CA_FILE                PEM bundle of extra root certificates (a TLS-
                             intercepting proxy's), trusted beside the built-in ones
Capacity and bounds:
  GTI_MAX_INFLIGHT (256)     GTI calls in flight at once, across all requests,
                             health checks included
  WORKERS (64)               request threads; each holds one request throughout
  REQUEST_DEADLINE_SECS (25) a request's whole time budget, retries included

Exit codes: 0 ok, 1 GTI or relay error, 2 usage or configuration error (a
missing key, an unreadable or empty key file).";

/// Where `observe` and `health` take the GTI API key from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// No option: the `GTI_API_KEY` variable.
    Environment,
    /// `--key-file PATH`: a file holding the key.
    File(String),
    /// `--key KEY`: works, but every user can read it in the process list.
    Argument(String),
}

/// Shows where the key comes from, never the key.
impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Environment => f.write_str("Environment"),
            KeySource::File(path) => f.debug_tuple("File").field(path).finish(),
            KeySource::Argument(_) => f.write_str("Argument(<redacted>)"),
        }
    }
}

/// The warning `--key` earns on stderr.
const KEY_ARGUMENT_WARNING: &str = "warning: --key shows the API key to every user of \
this machine in the process list (ps); use the GTI_API_KEY variable or --key-file PATH instead";

/// A key file holds one key; anything larger is not one, and is not read.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Demo,
    /// `region`: `--region`, else the relay's default (`GTI_REGION`).
    Observe {
        key: KeySource,
        limit: usize,
        allow_test_accounts: bool,
        region: Option<Region>,
        input: String,
    },
    Refer {
        region: Option<Region>,
        input: String,
    },
    Health {
        key: KeySource,
        region: Option<Region>,
    },
    /// `deliberate` and `respond`: a lookup of observables in FILE.
    Lookup {
        kind: Lookup,
        key: KeySource,
        allow_test_accounts: bool,
        region: Option<Region>,
        input: String,
    },
    /// `tiles` (definitions) or `tiles TILE [PERIOD]` (its data).
    Tiles {
        key: KeySource,
        allow_test_accounts: bool,
        region: Option<Region>,
        tile: Option<String>,
        period: Option<String>,
    },
    Healthcheck,
    Help,
    Version,
}

/// Which lookup [`Command::Lookup`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Deliberate,
    Respond,
}

/// The options of `deliberate`, `respond` and `tiles` and their other
/// words, in order.
struct LookupWords {
    key: KeySource,
    allow_test_accounts: bool,
    region: Option<Region>,
    words: Vec<String>,
}

/// Reads `--key-file`, `--key`, `--allow-test-accounts` and `--region`.
fn parse_lookup_words(command: &str, rest: &[String]) -> Result<LookupWords, String> {
    let mut found = LookupWords {
        key: KeySource::Environment,
        allow_test_accounts: false,
        region: None,
        words: Vec::new(),
    };
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        let (name, inline) = split_option(word);
        if key_option(name, inline, &mut words, &mut found.key)?
            || region_option(name, inline, &mut words, &mut found.region)?
        {
            continue;
        }
        match name {
            "--allow-test-accounts" if inline.is_none() => found.allow_test_accounts = true,
            "--allow-test-accounts" => {
                return Err("--allow-test-accounts takes no value".to_owned())
            }
            option if option.starts_with("--") => {
                return Err(format!("unknown option {option:?} for {command}"))
            }
            other => found.words.push(other.to_owned()),
        }
    }
    Ok(found)
}

/// Parses the arguments after the program name; the error is for stderr.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(Command::Serve);
    };
    match first.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "-V" | "--version" => Ok(Command::Version),
        "serve" => no_more(rest, Command::Serve),
        "demo" => no_more(rest, Command::Demo),
        "healthcheck" => no_more(rest, Command::Healthcheck),
        "observe" => parse_observe(rest),
        "refer" => {
            let mut region = None;
            let mut input = None;
            let mut words = rest.iter();
            while let Some(word) = words.next() {
                let (name, inline) = split_option(word);
                if region_option(name, inline, &mut words, &mut region)? {
                    continue;
                }
                match name {
                    option if option.starts_with("--") => {
                        return Err(format!("unknown option {option:?} for refer"))
                    }
                    path if input.is_none() => input = Some(path.to_owned()),
                    extra => return Err(format!("refer takes one FILE, got also {extra:?}")),
                }
            }
            Ok(Command::Refer {
                region,
                input: input.ok_or("refer needs a FILE (or - for stdin)")?,
            })
        }
        "deliberate" | "respond" => {
            let found = parse_lookup_words(first, rest)?;
            let kind = if first == "deliberate" {
                Lookup::Deliberate
            } else {
                Lookup::Respond
            };
            match found.words.as_slice() {
                [input] => Ok(Command::Lookup {
                    kind,
                    input: input.clone(),
                    key: found.key,
                    allow_test_accounts: found.allow_test_accounts,
                    region: found.region,
                }),
                [] => Err(format!("{first} needs a FILE (or - for stdin)")),
                words => Err(format!("{first} takes one FILE, got {words:?}")),
            }
        }
        "tiles" => {
            let found = parse_lookup_words(first, rest)?;
            let (tile, period) = match found.words.as_slice() {
                [] => (None, None),
                [tile] => (Some(tile.clone()), None),
                [tile, period] => (Some(tile.clone()), Some(period.clone())),
                words => {
                    return Err(format!(
                        "tiles takes a TILE and a PERIOD at most, got {words:?}"
                    ))
                }
            };
            Ok(Command::Tiles {
                key: found.key,
                allow_test_accounts: found.allow_test_accounts,
                region: found.region,
                tile,
                period,
            })
        }
        "health" => {
            let mut key = KeySource::Environment;
            let mut region = None;
            let mut words = rest.iter();
            while let Some(word) = words.next() {
                let (name, inline) = split_option(word);
                if !key_option(name, inline, &mut words, &mut key)?
                    && !region_option(name, inline, &mut words, &mut region)?
                {
                    return Err(format!("unknown argument {name:?} for health"));
                }
            }
            Ok(Command::Health { key, region })
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

fn no_more(rest: &[String], command: Command) -> Result<Command, String> {
    match rest.first() {
        None => Ok(command),
        Some(extra) => Err(format!("unexpected argument {extra:?}")),
    }
}

/// `--name=value` as (`--name`, `Some(value)`); any other word as itself
/// with no value. So `--key=…` is understood, and never echoed back in an
/// "unknown argument" message.
fn split_option(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name, Some(value)),
        _ => (word, None),
    }
}

/// An option's value: the `=` part of the word, else the next word.
fn value_of<'a>(
    option: &str,
    inline: Option<&'a str>,
    words: &mut impl Iterator<Item = &'a String>,
) -> Result<&'a str, String> {
    inline
        .or_else(|| words.next().map(String::as_str))
        .ok_or_else(|| format!("{option} needs a value"))
}

/// Reads `--key` or `--key-file` (`name`) into `key`; `false` when `name` is
/// neither. Each may be given once, and not both: which key a command uses
/// must never depend on the order of its options.
fn key_option<'a>(
    name: &str,
    inline: Option<&'a str>,
    words: &mut impl Iterator<Item = &'a String>,
    key: &mut KeySource,
) -> Result<bool, String> {
    if name != "--key" && name != "--key-file" {
        return Ok(false);
    }
    let value = value_of(name, inline, words)?;
    let given = match key {
        KeySource::Environment => None,
        KeySource::File(_) => Some("--key-file"),
        KeySource::Argument(_) => Some("--key"),
    };
    match given {
        Some(given) if given == name => return Err(format!("{name} is given twice")),
        Some(_) => return Err("--key and --key-file exclude each other; give one".to_owned()),
        None => {}
    }
    if value.is_empty() {
        return Err(format!("{name} needs a non-empty value"));
    }
    *key = match name {
        "--key" => KeySource::Argument(value.to_owned()),
        _ => KeySource::File(value.to_owned()),
    };
    Ok(true)
}

/// Reads `--region` into `region`; `false` when `name` is another option.
fn region_option<'a>(
    name: &str,
    inline: Option<&'a str>,
    words: &mut impl Iterator<Item = &'a String>,
    region: &mut Option<Region>,
) -> Result<bool, String> {
    if name != "--region" {
        return Ok(false);
    }
    let value = value_of(name, inline, words)?;
    if region.is_some() {
        return Err("--region is given twice".to_owned());
    }
    *region = Some(Region::parse(value).ok_or_else(|| {
        format!(
            "--region must be one of {} (any case), not {value:?}",
            region::ACCEPTED
        )
    })?);
    Ok(true)
}

fn parse_observe(rest: &[String]) -> Result<Command, String> {
    let mut key = KeySource::Environment;
    let mut limit = DEFAULT_ENTITIES_LIMIT;
    let mut allow_test_accounts = false;
    let mut region = None;
    let mut input = None;
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        let (name, inline) = split_option(word);
        if key_option(name, inline, &mut words, &mut key)?
            || region_option(name, inline, &mut words, &mut region)?
        {
            continue;
        }
        match name {
            "--limit" => {
                let text = value_of("--limit", inline, &mut words)?;
                // The same range a token's CTR_ENTITIES_LIMIT may ask for.
                limit = text
                    .parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=MAX_ENTITIES_LIMIT).contains(limit))
                    .ok_or_else(|| {
                        format!("--limit must be 1 to {MAX_ENTITIES_LIMIT}, not {text:?}")
                    })?;
            }
            "--allow-test-accounts" if inline.is_none() => allow_test_accounts = true,
            "--allow-test-accounts" => {
                return Err("--allow-test-accounts takes no value".to_owned())
            }
            option if option.starts_with("--") => {
                return Err(format!("unknown option {option:?} for observe"))
            }
            path if input.is_none() => input = Some(path.to_owned()),
            extra => return Err(format!("observe takes one FILE, got also {extra:?}")),
        }
    }
    Ok(Command::Observe {
        key,
        limit,
        allow_test_accounts,
        region,
        input: input.ok_or("observe needs a FILE (or - for stdin)")?,
    })
}

/// Runs the command line `args` (without the program name) and returns the
/// process exit code.
pub fn run(args: &[String]) -> u8 {
    let command = match parse(args) {
        Ok(command) => command,
        Err(problem) => {
            eprintln!("gti-relay: {problem}\n\n{USAGE}");
            return EXIT_USAGE;
        }
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            EXIT_OK
        }
        Command::Version => {
            println!("gti-relay {}", env!("CARGO_PKG_VERSION"));
            EXIT_OK
        }
        Command::Serve => with_config(Config::from_env(), serve),
        Command::Demo => with_config(
            // The demo's token opens it to anyone who can reach it: loopback
            // unless HOST says otherwise (the container sets 0.0.0.0).
            Config::from_env_with_defaults(&[("HOST", "127.0.0.1")]),
            demo,
        ),
        Command::Observe {
            key,
            limit,
            allow_test_accounts,
            region,
            input,
        } => with_config(Config::from_env(), |config| {
            let key = match resolve_key(&key, "observe") {
                Ok(key) => key,
                Err(problem) => return usage(&problem),
            };
            let credentials = Credentials {
                key,
                entities_limit: limit,
                allow_test_accounts,
                region: region.unwrap_or(config.region),
            };
            observe(config, &credentials, &input)
        }),
        Command::Refer { region, input } => with_config(Config::from_env(), |config| {
            let observables = match read_observables(&input) {
                Ok(observables) => observables,
                Err(problem) => return failure(&problem),
            };
            let portal = &config.urls(region.unwrap_or(config.region)).portal;
            print_json(&json!({"data": crate::app::refer_links(portal, &observables)}));
            EXIT_OK
        }),
        Command::Health { key, region } => with_config(Config::from_env(), |config| {
            let key = match resolve_key(&key, "health") {
                Ok(key) => key,
                Err(problem) => return usage(&problem),
            };
            let region = region.unwrap_or(config.region);
            let app = App::new(config);
            match app.check_health(region, &key, app.deadline()) {
                Ok(()) => {
                    print_json(&json!({"data": {"status": "ok"}}));
                    EXIT_OK
                }
                Err(error) => failure(&error.to_string()),
            }
        }),
        Command::Lookup {
            kind,
            key,
            allow_test_accounts,
            region,
            input,
        } => with_config(Config::from_env(), |config| {
            let command = match kind {
                Lookup::Deliberate => "deliberate",
                Lookup::Respond => "respond",
            };
            let key = match resolve_key(&key, command) {
                Ok(key) => key,
                Err(problem) => return usage(&problem),
            };
            let credentials = Credentials {
                key,
                entities_limit: DEFAULT_ENTITIES_LIMIT,
                allow_test_accounts,
                region: region.unwrap_or(config.region),
            };
            lookup(config, kind, &credentials, &input)
        }),
        Command::Tiles {
            key,
            allow_test_accounts,
            region,
            tile,
            period,
        } => with_config(Config::from_env(), |config| {
            let Some(tile) = tile else {
                print_json(&json!({"data": crate::tiles::definitions()}));
                return EXIT_OK;
            };
            let body = json!({"tile_id": tile, "period": period});
            let (tile, period) = match crate::tiles::parse_request(body.to_string().as_bytes()) {
                Ok(asked) => asked,
                Err(error) => return usage(&error.message()),
            };
            let key = match resolve_key(&key, "tiles") {
                Ok(key) => key,
                Err(problem) => return usage(&problem),
            };
            let credentials = Credentials {
                key,
                entities_limit: DEFAULT_ENTITIES_LIMIT,
                allow_test_accounts,
                region: region.unwrap_or(config.region),
            };
            let app = App::new(config);
            match app.tile_data(&credentials, tile, period, app.deadline()) {
                Ok(data) => {
                    print_json(&json!({ "data": data }));
                    EXIT_OK
                }
                Err(error) => failure(&error.to_string()),
            }
        }),
        Command::Healthcheck => with_config(Config::from_env(), healthcheck),
    }
}

/// `deliberate` and `respond`: the endpoint's JSON on stdout (data kept
/// beside errors, as the endpoint answers), each error on stderr too.
fn lookup(config: Config, kind: Lookup, credentials: &Credentials, input: &str) -> u8 {
    let observables = match read_observables(input) {
        Ok(observables) => observables,
        Err(problem) => return failure(&problem),
    };
    let app = App::new(config);
    let deadline = app.deadline();
    let (data, errors) = match kind {
        Lookup::Deliberate => {
            let deliberation = app.deliberate(credentials, &observables, deadline);
            (
                crate::routes::verdicts_data(&deliberation.verdicts),
                deliberation.errors,
            )
        }
        Lookup::Respond => {
            let offer = app.respond_actions(credentials, &observables, deadline);
            (json!(offer.actions), offer.errors)
        }
    };
    print_json(&crate::error::envelope_or_data(&errors, data));
    for error in &errors {
        eprintln!("gti-relay: {error}");
    }
    if errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}

fn with_config(
    config: Result<Config, impl std::fmt::Display>,
    then: impl FnOnce(Config) -> u8,
) -> u8 {
    match config {
        Ok(config) => then(config),
        Err(error) => usage(&error.to_string()),
    }
}

fn usage(problem: &str) -> u8 {
    eprintln!("gti-relay: {problem}");
    EXIT_USAGE
}

fn failure(problem: &str) -> u8 {
    eprintln!("gti-relay: {problem}");
    EXIT_FAILURE
}

/// The key `source` names, for `command`: an option given wins over
/// `GTI_API_KEY`. `--key` is warned about on stderr. The error, a
/// configuration problem for stderr, never holds the key.
fn resolve_key(source: &KeySource, command: &str) -> Result<String, String> {
    match source {
        KeySource::Argument(key) => {
            eprintln!("gti-relay: {KEY_ARGUMENT_WARNING}");
            Ok(key.clone())
        }
        KeySource::File(path) => read_key_file(path),
        KeySource::Environment => match std::env::var("GTI_API_KEY") {
            Ok(key) if !key.is_empty() => Ok(key),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err("the GTI_API_KEY variable is not valid UTF-8".to_owned())
            }
            _ => Err(format!(
                "{command} needs an API key: --key-file PATH or the GTI_API_KEY variable"
            )),
        },
    }
}

/// The key in the file at `path` (at most [`MAX_KEY_FILE_BYTES`] are read).
fn read_key_file(path: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|error| format!("cannot read the key file {path}: {error}"))?;
    key_in_file(&bytes).map_err(|problem| format!("the key file {path} {problem}"))
}

/// A key file's key: its text without surrounding whitespace (the newline
/// that `echo`, editors and secrets made from such files end with). A file
/// of whitespace only, or of more than one line, holds no usable key.
fn key_in_file(bytes: &[u8]) -> Result<String, &'static str> {
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err("is larger than 64 KiB, so it is not an API key");
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text")?;
    let key = text.trim();
    if key.is_empty() {
        return Err("is empty");
    }
    if key.contains(['\n', '\r']) {
        return Err("holds more than one line; it must hold only the key");
    }
    Ok(key.to_owned())
}

fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        // A `Value` always serialises; this only keeps the code panic-free.
        Err(error) => eprintln!("gti-relay: cannot print the answer: {error}"),
    }
}

fn start_logging(config: &Config) -> Result<(), u8> {
    simple_logger::SimpleLogger::new()
        .with_level(config.log_level)
        .with_utc_timestamps()
        .init()
        .map_err(|error| failure(&format!("cannot start logging: {error}")))
}

fn serve(config: Config) -> u8 {
    if let Err(code) = start_logging(&config) {
        return code;
    }
    match crate::run(config) {
        Ok(()) => EXIT_OK,
        Err(error) => {
            log::error!("{error}");
            failure(&error)
        }
    }
}

fn demo(config: Config) -> u8 {
    let logging = config.clone();
    let demo = match crate::demo::start(config) {
        Ok(demo) => demo,
        Err(error) => return failure(&error),
    };
    if let Err(error) = demo.stop_on_signals() {
        return failure(&format!("cannot handle signals: {error}"));
    }
    println!(
        "gti-relay {} DEMO MODE: simulated GTI data, demo-only signing key; not for production.",
        env!("CARGO_PKG_VERSION")
    );
    println!("relay: {}", demo.relay_url);
    println!("token: {}", demo.token);
    println!("eu-token: {}", demo.eu_token);
    println!("\nTry it (the tokens are valid for 24 hours; `token` is a tenant of the default");
    println!("region, `eu-token` one of the EU region (claim GTI_REGION \"eu\"), whose links");
    println!("point at the EU portal. Both name localhost, 127.0.0.1 and [::1] as the audience:");
    println!("calling through another name or port, such as a container's published port,");
    println!("needs RELAY_URL set to that URL before the demo starts):");
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
    println!("\nServing until Ctrl-C. Request log:");
    // Started only now so that the banner and summary read cleanly.
    if let Err(code) = start_logging(&logging) {
        return code;
    }
    demo.join();
    EXIT_OK
}

fn read_observables(input: &str) -> Result<Vec<Observable>, String> {
    let mut bytes = Vec::new();
    let read = if input == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::File::open(input).and_then(|mut file| file.read_to_end(&mut bytes).map(drop))
    };
    read.map_err(|error| format!("cannot read {input}: {error}"))?;
    parse_observables(&bytes).map_err(|error| error.to_string())
}

/// No logger here: simple_logger writes to stdout, which carries the JSON;
/// what matters reaches stderr as the answer's errors.
fn observe(config: Config, credentials: &Credentials, input: &str) -> u8 {
    let observables = match read_observables(input) {
        Ok(observables) => observables,
        Err(problem) => return failure(&problem),
    };
    let app = App::new(config);
    let observation = app.observe(credentials, &observables, app.deadline());
    // A printed document, read once more to be pretty: the CLI's answers are
    // for people, and its one-shot process frees everything at exit.
    let body: Value = match serde_json::from_slice(&observation.answer.to_vec()) {
        Ok(body) => body,
        Err(error) => return failure(&format!("cannot print the answer: {error}")),
    };
    // Partial data is printed as /observe answers it; errors go to stderr.
    if body.get("data").is_some() {
        print_json(&body);
    }
    let errors = body.get("errors").and_then(Value::as_array);
    for error in errors.into_iter().flatten() {
        eprintln!(
            "gti-relay: {}: {}",
            error.get("code").and_then(Value::as_str).unwrap_or(""),
            error.get("message").and_then(Value::as_str).unwrap_or("")
        );
    }
    if errors.is_some_and(|errors| !errors.is_empty()) {
        EXIT_FAILURE
    } else {
        EXIT_OK
    }
}

/// The container's health probe: `GET /watchdog` on the local relay with a
/// `Health-Check` header, which must come back echoed.
fn healthcheck(config: Config) -> u8 {
    let host = match config.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1".to_owned(),
        host if host.contains(':') => format!("[{host}]"),
        host => host.to_owned(),
    };
    let url = format!("http://{host}:{}/watchdog", config.port);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        // The relay on this machine: never through a proxy from the
        // environment.
        .proxy(None)
        .build()
        .new_agent();
    let probe = "healthcheck";
    let answer = agent
        .get(&url)
        .header("Health-Check", probe)
        .call()
        .map_err(|error| error.to_string())
        .and_then(|mut response| {
            let bytes = response
                .body_mut()
                .read_to_vec()
                .map_err(|error| error.to_string())?;
            serde_json::from_slice::<Value>(&bytes).map_err(|error| error.to_string())
        });
    match answer {
        Ok(body) if body == json!({ "data": probe }) => {
            println!("ok: {url}");
            EXIT_OK
        }
        Ok(body) => failure(&format!("unhealthy: {url} answered {body}")),
        Err(error) => failure(&format!("unhealthy: {url}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn no_argument_serves() {
        assert_eq!(parse(&[]), Ok(Command::Serve));
    }

    #[test]
    fn observe_takes_options_in_any_order() {
        assert_eq!(
            parse(&args(&[
                "observe",
                "-",
                "--limit",
                "5",
                "--key",
                "k",
                "--allow-test-accounts"
            ])),
            Ok(Command::Observe {
                key: KeySource::Argument("k".to_owned()),
                limit: 5,
                allow_test_accounts: true,
                region: None,
                input: "-".to_owned(),
            })
        );
    }

    #[test]
    fn the_key_comes_from_one_option_or_the_environment() {
        let health = |words: &[&str]| {
            let mut all = vec!["health"];
            all.extend_from_slice(words);
            parse(&args(&all))
        };
        assert_eq!(
            health(&[]),
            Ok(Command::Health {
                key: KeySource::Environment,
                region: None,
            })
        );
        for words in [&["--key-file", "/run/key"][..], &["--key-file=/run/key"]] {
            assert_eq!(
                health(words),
                Ok(Command::Health {
                    key: KeySource::File("/run/key".to_owned()),
                    region: None,
                }),
                "{words:?}"
            );
        }
        assert_eq!(
            health(&["--key=a=b"]),
            Ok(Command::Health {
                key: KeySource::Argument("a=b".to_owned()),
                region: None,
            })
        );
        let Ok(Command::Observe { key, .. }) = parse(&args(&["observe", "--key-file", "f", "-"]))
        else {
            panic!("observe takes --key-file");
        };
        assert_eq!(key, KeySource::File("f".to_owned()));

        for words in [
            &["--key", "SECRET", "--key-file", "f"][..],
            &["--key-file", "f", "--key", "SECRET"],
            &["--key-file=f", "--key=SECRET"],
            &["--key", "SECRET", "--key", "SECRET"],
            &["--key-file", "f", "--key-file", "g"],
            &["--key", ""],
            &["--key-file="],
            &["--key-file"],
        ] {
            let problem = health(words).expect_err("a usage error");
            assert!(!problem.contains("SECRET"), "{problem}");
        }
        let problem = health(&["--key", "k", "--key-file", "f"]).unwrap_err();
        assert!(problem.contains("exclude each other"), "{problem}");
    }

    #[test]
    fn an_unknown_option_with_a_value_is_not_echoed_whole() {
        let problem = parse(&args(&["health", "--kee=SECRET"])).unwrap_err();
        assert!(problem.contains("--kee"), "{problem}");
        assert!(!problem.contains("SECRET"), "{problem}");
    }

    #[test]
    fn debug_output_never_shows_a_key() {
        let command = Command::Health {
            key: KeySource::Argument("SECRET".to_owned()),
            region: None,
        };
        assert!(!format!("{command:?}").contains("SECRET"));
        assert!(format!("{command:?}").contains("Argument"));
    }

    #[test]
    fn a_key_file_holds_one_key_and_surrounding_whitespace() {
        assert_eq!(key_in_file(b"abc\n"), Ok("abc".to_owned()));
        assert_eq!(key_in_file(b"  abc \r\n\n"), Ok("abc".to_owned()));
        assert_eq!(key_in_file(b"abc"), Ok("abc".to_owned()));
        assert_eq!(key_in_file(b""), Err("is empty"));
        assert_eq!(key_in_file(b" \n\t\n"), Err("is empty"));
        assert!(key_in_file(b"abc\ndef\n").is_err());
        assert!(key_in_file(b"ab\xffc").is_err());
        let huge = vec![b'k'; MAX_KEY_FILE_BYTES as usize + 1];
        assert!(key_in_file(&huge).is_err());
    }

    #[test]
    fn region_picks_one_of_the_relays_regions() {
        assert_eq!(
            parse(&args(&["refer", "--region", "EU", "-"])),
            Ok(Command::Refer {
                region: Some(Region::Eu),
                input: "-".to_owned()
            })
        );
        assert_eq!(
            parse(&args(&["refer", "f"])),
            Ok(Command::Refer {
                region: None,
                input: "f".to_owned()
            })
        );
        assert_eq!(
            parse(&args(&["health", "--region=us", "--key-file", "k"])),
            Ok(Command::Health {
                key: KeySource::File("k".to_owned()),
                region: Some(Region::Us),
            })
        );
        let Ok(Command::Observe { region, input, .. }) =
            parse(&args(&["observe", "-", "--region", "eu"]))
        else {
            panic!("observe takes --region");
        };
        assert_eq!((region, input.as_str()), (Some(Region::Eu), "-"));
        for bad in [
            &["refer", "--region", "apjc", "-"][..],
            &["refer", "--region", "-"],
            &["refer", "--region", "us", "--region", "eu", "-"],
            &["health", "--region"],
            &["observe", "--region=", "-"],
            &["refer", "--limit", "5", "-"],
            &["refer", "a", "b"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
        let problem = parse(&args(&["refer", "--region", "apjc", "-"])).unwrap_err();
        assert!(problem.contains("us, eu"), "{problem}");
    }

    #[test]
    fn usage_errors_are_caught() {
        for bad in [
            &["observe"][..],
            &["observe", "a", "b"],
            &["observe", "--limit", "0", "a"],
            &["observe", "--limit", "x", "a"],
            &["observe", "--key"],
            &["observe", "--frobnicate", "a"],
            &["refer"],
            &["health", "extra"],
            &["health", "--key"],
            &["observe", "--allow-test-accounts=yes", "-"],
            &["demo", "now"],
            &["nonsense"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
