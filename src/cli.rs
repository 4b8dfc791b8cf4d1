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

use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};

use crate::app::App;
use crate::auth::Credentials;
use crate::config::Config;
use crate::observable::{parse_observables, Observable};

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
  gti-relay observe [--key KEY] [--limit N] [--allow-test-accounts] FILE|-
                                 look up observables (a JSON array as SecureX sends it)
                                 and print the CTIM bundle of /observe/observables
  gti-relay refer FILE|-         print the pivot links of /refer/observables
  gti-relay health [--key KEY]   check that GTI accepts the API key
  gti-relay healthcheck          GET /watchdog of the relay on localhost:$PORT (containers)
  gti-relay --help | --version

The key defaults to the GTI_API_KEY environment variable. All other settings
come from environment variables (GTI_*_URL, GTI_TIMEOUT_SECS, …); see README.md.
Exit codes: 0 ok, 1 GTI or relay error, 2 usage or configuration error.";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Demo,
    Observe {
        key: Option<String>,
        limit: usize,
        allow_test_accounts: bool,
        input: String,
    },
    Refer {
        input: String,
    },
    Health {
        key: Option<String>,
    },
    Healthcheck,
    Help,
    Version,
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
        "refer" => match rest {
            [input] => Ok(Command::Refer {
                input: input.clone(),
            }),
            [] => Err("refer needs a FILE (or - for stdin)".to_owned()),
            _ => Err(format!("refer takes one FILE, got {rest:?}")),
        },
        "health" => {
            let mut key = None;
            let mut words = rest.iter();
            while let Some(word) = words.next() {
                match word.as_str() {
                    "--key" => key = Some(value_of("--key", words.next())?),
                    other => return Err(format!("unknown argument {other:?} for health")),
                }
            }
            Ok(Command::Health { key })
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

fn value_of(option: &str, value: Option<&String>) -> Result<String, String> {
    value
        .cloned()
        .ok_or_else(|| format!("{option} needs a value"))
}

fn parse_observe(rest: &[String]) -> Result<Command, String> {
    let mut key = None;
    let mut limit = 100;
    let mut allow_test_accounts = false;
    let mut input = None;
    let mut words = rest.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--key" => key = Some(value_of("--key", words.next())?),
            "--limit" => {
                let text = value_of("--limit", words.next())?;
                // The same range a token's CTR_ENTITIES_LIMIT may ask for.
                limit = text
                    .parse::<usize>()
                    .ok()
                    .filter(|limit| (1..=1000).contains(limit))
                    .ok_or_else(|| format!("--limit must be 1 to 1000, not {text:?}"))?;
            }
            "--allow-test-accounts" => allow_test_accounts = true,
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
            input,
        } => with_config(Config::from_env(), |config| {
            let Some(key) = key_or_env(key) else {
                return usage("observe needs --key KEY or the GTI_API_KEY variable");
            };
            let credentials = Credentials {
                key,
                entities_limit: limit,
                allow_test_accounts,
            };
            observe(config, &credentials, &input)
        }),
        Command::Refer { input } => with_config(Config::from_env(), |config| {
            let observables = match read_observables(&input) {
                Ok(observables) => observables,
                Err(problem) => return failure(&problem),
            };
            print_json(&json!({"data": crate::app::refer_links(&config.portal_url, &observables)}));
            EXIT_OK
        }),
        Command::Health { key } => with_config(Config::from_env(), |config| {
            let Some(key) = key_or_env(key) else {
                return usage("health needs --key KEY or the GTI_API_KEY variable");
            };
            let app = App::new(config);
            match app.check_health(&key, app.deadline()) {
                Ok(()) => {
                    print_json(&json!({"data": {"status": "ok"}}));
                    EXIT_OK
                }
                Err(error) => failure(&error.to_string()),
            }
        }),
        Command::Healthcheck => with_config(Config::from_env(), healthcheck),
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

fn key_or_env(key: Option<String>) -> Option<String> {
    key.or_else(|| std::env::var("GTI_API_KEY").ok())
        .filter(|key| !key.is_empty())
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
    println!("\nTry it (the token is valid for 24 hours; it names localhost, 127.0.0.1 and [::1]");
    println!("as the audience: calling through another name or port, such as a container's");
    println!("published port, needs RELAY_URL set to that URL before the demo starts):");
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
                key: Some("k".to_owned()),
                limit: 5,
                allow_test_accounts: true,
                input: "-".to_owned(),
            })
        );
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
            &["demo", "now"],
            &["nonsense"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
