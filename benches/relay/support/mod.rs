//! What every section shares: the [`Bench`] (the relay's set-up, the mock
//! GTI, the bench's token) with which a section starts relays and sends
//! them requests, and the checks of their answers; `data` loads the mock
//! GTI (with `events`, GTI's events as GTI sends them), `load` runs clients
//! against a relay and reads the CPU meanwhile, `setup` says how a relay
//! binary is started (as built, as shipped), `threads` counts the threads a
//! relay creates.

pub mod data;
pub mod events;
pub mod load;
pub mod setup;
pub mod threads;

use std::time::Duration;

use gti_relay::demo::gti::MockGti;
use serde::Deserialize;
use serde_json::Value;
use testkit::child::{self, Banner, Relay};

use setup::Setup;
use testkit::child::allocator_variables;

/// The audience the relay is told it serves (`RELAY_URL`), so that one token
/// works whatever port the relay gets.
pub const RELAY_URL: &str = "http://relay.bench";

/// No row may take longer than this, whatever happens.
pub const ROW_TIME_LIMIT: Duration = Duration::from_secs(90);

/// Everything a measurement needs.
#[derive(Clone)]
pub struct Bench<'a> {
    /// The relay binary and its environment.
    pub setup: &'a Setup,
    pub gti: &'a MockGti,
    pub jwks_host: String,
    pub token: String,
    /// Whether the relays make the entity v1 look-ups (`--enrichment`).
    pub enrichment: bool,
}

impl Bench<'_> {
    /// The same bench with another token.
    pub fn with_token(&self, token: String) -> Self {
        Bench {
            token,
            ..self.clone()
        }
    }

    /// The same bench with relays of another set-up.
    pub fn with_setup<'b>(&'b self, setup: &'b Setup) -> Bench<'b> {
        let bench: Bench<'b> = self.clone();
        Bench { setup, ..bench }
    }

    /// A relay with `GTI_MAX_INFLIGHT` = `cap` and `WORKERS` = `workers`
    /// (the relay's default when `None`).
    pub fn start_relay(&self, cap: usize, workers: Option<usize>) -> Relay {
        let mut envs = self.gti.vars();
        envs.extend(
            [
                ("RELAY_URL", RELAY_URL.to_owned()),
                (
                    "JWKS_URL_TEMPLATE",
                    "http://{jwks_host}/.well-known/jwks".to_owned(),
                ),
                ("JWKS_ALLOWED_HOSTS", "127.0.0.1:*".to_owned()),
                ("GTI_MAX_INFLIGHT", cap.to_string()),
            ]
            .map(|(name, value)| (name.to_owned(), value)),
        );
        if let Some(workers) = workers {
            envs.push(("WORKERS".to_owned(), workers.to_string()));
        }
        if !self.enrichment {
            envs.push(("GTI_ENTITY_V1_URL".to_owned(), String::new()));
        }
        self.spawn(&[], &envs, Banner::Log)
    }

    /// The set-up's relay binary with `args`, its set-up's environment and
    /// `envs` (none of the caller's relay or allocator variables), on port
    /// 0.
    pub fn spawn(&self, args: &[&str], envs: &[(String, String)], banner: Banner) -> Relay {
        let clear: Vec<String> = gti_relay::config::variable_names()
            .map(str::to_owned)
            .chain(allocator_variables())
            .collect();
        let clear = clear.iter().map(String::as_str);
        let envs: Vec<(String, String)> = self.setup.envs.iter().chain(envs).cloned().collect();
        child::spawn(
            child::command(&self.setup.binary, args, clear, &envs),
            banner,
        )
    }

    pub fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .new_agent()
    }

    /// One POST: `/observe/observables` with `body`, or `/health` when the
    /// body is empty. `Ok(sightings)` or `Err(what went wrong)`.
    pub fn post(&self, agent: &ureq::Agent, relay: &Relay, body: &str) -> Result<usize, String> {
        sightings(&self.fetch(agent, relay, body)?)
    }

    /// [`Bench::post`]'s request: the answer's bytes, read to the last.
    pub fn fetch(&self, agent: &ureq::Agent, relay: &Relay, body: &str) -> Result<Vec<u8>, String> {
        let path = if body.is_empty() {
            "/health"
        } else {
            "/observe/observables"
        };
        agent
            .post(&relay.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|error| error.to_string())?
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .map_err(|error| error.to_string())
    }

    pub fn check(&self, answer: Result<usize, String>, expected: Option<usize>) -> bool {
        match (answer, expected) {
            (Ok(count), Some(expected)) if count != expected => {
                eprintln!("bench: {count} sightings, expected {expected}");
                false
            }
            (Ok(_), _) => true,
            (Err(error), _) => {
                eprintln!("bench: {}", error.chars().take(300).collect::<String>());
                false
            }
        }
    }
}

/// The parts of an answer the bench reads; serde skips the rest.
#[derive(Deserialize)]
struct Answer {
    data: Option<AnswerData>,
    errors: Option<Value>,
}

#[derive(Deserialize)]
struct AnswerData {
    sightings: Option<Sightings>,
}

#[derive(Deserialize)]
struct Sightings {
    docs: Vec<Doc>,
}

/// A sighting: only the enrichment sightings (SPEC §8.4) have a title.
#[derive(Deserialize)]
struct Doc {
    title: Option<serde::de::IgnoredAny>,
}

/// `Ok(event sightings)` of an answer (0 when it has none, as `/health`'s;
/// the entity v1 enrichment sightings, outside the limit, not counted), or
/// `Err(what went wrong)`.
pub fn sightings(bytes: &[u8]) -> Result<usize, String> {
    let answer: Answer = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    if let Some(errors) = answer.errors {
        return Err(errors.to_string());
    }
    Ok(answer
        .data
        .and_then(|data| data.sightings)
        .map_or(0, |sightings| {
            sightings
                .docs
                .iter()
                .filter(|doc| doc.title.is_none())
                .count()
        }))
}

/// How a figure fares against its target.
pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}
