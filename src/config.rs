//! Start-up configuration: every environment variable of SPEC §1, parsed and
//! validated once into [`Config`].
//!
//! No other module reads the environment. Tests build a `Config` with
//! [`Config::from_vars`] (or [`Config::default`]) and adjust its public fields.

use std::fmt;
use std::time::Duration;

/// The relay's validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// The public URL the JWT `aud` must equal; `None` derives it per request
    /// from `X-Forwarded-Proto` and `Host`. Stored without a trailing `/`.
    pub relay_url: Option<String>,
    /// Base of `detections` and `events`, ending in `/`.
    pub detections_url: String,
    /// Base of `query`, ending in `/`; `None` disables the event search.
    pub events_url: Option<String>,
    /// Base of `entity/tracking/bulk/get/ip`, ending in `/`.
    pub entity_url: String,
    /// Base of the links into the GTI portal, without a trailing `/`.
    pub portal_url: String,
    /// How many one-day windows the event search covers.
    pub day_range: u32,
    /// One upstream call's time limit (connect + read).
    pub gti_timeout: Duration,
    /// Extra tries for 429 and 5xx answers.
    pub gti_retries: u32,
    /// The most GTI calls in flight at once, across all requests.
    pub gti_max_inflight: usize,
    /// A request's whole time budget.
    pub request_deadline: Duration,
    /// Where a token's keys are fetched; contains `{jwks_host}`.
    pub jwks_url_template: String,
    /// Host patterns a token's `jwks_host` must match (`*` = one label or port).
    pub jwks_allowed_hosts: Vec<String>,
    /// How long fetched keys are reused.
    pub jwks_cache: Duration,
    /// Larger request bodies are refused unread.
    pub max_body_bytes: u64,
    /// Request worker threads.
    pub workers: usize,
    pub log_level: log::LevelFilter,
}

/// A variable with a value the relay cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    /// What the variable accepts.
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Request workers when `WORKERS` is not set.
const DEFAULT_WORKERS: usize = 64;

/// The variables the relay reads, with their defaults (SPEC §1).
const DEFAULTS: &[(&str, &str)] = &[
    ("PORT", "9090"),
    ("HOST", "0.0.0.0"),
    ("RELAY_URL", ""),
    ("GTI_DETECTIONS_URL", "https://detections.icebrg.io/v1/"),
    ("GTI_EVENTS_URL", "https://events.icebrg.io/v2/"),
    ("GTI_ENTITY_URL", "https://entity.icebrg.io/v2/"),
    ("GTI_PORTAL_URL", "https://portal.icebrg.io"),
    ("GTI_DAY_RANGE", "7"),
    ("GTI_TIMEOUT_SECS", "30"),
    ("GTI_RETRIES", "2"),
    ("GTI_MAX_INFLIGHT", "256"),
    ("REQUEST_DEADLINE_SECS", "25"),
    ("JWKS_URL_TEMPLATE", "https://{jwks_host}/.well-known/jwks"),
    (
        "JWKS_ALLOWED_HOSTS",
        "visibility.amp.cisco.com,visibility.*.amp.cisco.com",
    ),
    ("JWKS_CACHE_SECS", "600"),
    ("MAX_BODY_BYTES", "1048576"),
    ("WORKERS", ""),
    ("LOG_LEVEL", "info"),
];

/// The names of every variable the relay reads.
pub fn variable_names() -> impl Iterator<Item = &'static str> {
    DEFAULTS.iter().map(|(name, _)| *name)
}

impl Default for Config {
    fn default() -> Self {
        match Config::from_vars(std::iter::empty::<(String, String)>()) {
            Ok(config) => config,
            // The defaults are constants checked by a unit test.
            Err(error) => unreachable!("built-in defaults are invalid: {error}"),
        }
    }
}

impl Config {
    /// Reads the relay's variables from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(variable_names().filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| (name.to_owned(), value))
        }))
    }

    /// [`Config::from_env`] with other defaults for some variables (the
    /// demo listens on loopback unless `HOST` says otherwise).
    pub fn from_env_with_defaults(defaults: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = variable_names().filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| (name.to_owned(), value))
        });
        // Later pairs win, so the environment overrides these defaults.
        Config::from_vars(
            defaults
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .chain(env),
        )
    }

    /// Builds the configuration from `(name, value)` pairs; names the relay
    /// does not know are ignored, missing ones take their default.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut raw: Vec<(&'static str, String)> = DEFAULTS
            .iter()
            .map(|(name, default)| (*name, (*default).to_owned()))
            .collect();
        for (name, value) in vars {
            if let Some(slot) = raw.iter_mut().find(|(known, _)| *known == name.as_ref()) {
                slot.1 = value.as_ref().trim().to_owned();
            }
        }
        let get = |name: &str| -> &str {
            raw.iter()
                .find(|(known, _)| *known == name)
                .map(|(_, value)| value.as_str())
                .unwrap_or_default()
        };

        Ok(Config {
            host: parse_host(get("HOST"))?,
            port: parse_number("PORT", get("PORT"), 0, u16::MAX as u64)? as u16,
            relay_url: match get("RELAY_URL") {
                "" => None,
                url => Some(
                    parse_url("RELAY_URL", url)?
                        .trim_end_matches('/')
                        .to_owned(),
                ),
            },
            detections_url: parse_base_url("GTI_DETECTIONS_URL", get("GTI_DETECTIONS_URL"))?,
            events_url: match get("GTI_EVENTS_URL") {
                "" => None,
                url => Some(parse_base_url("GTI_EVENTS_URL", url)?),
            },
            entity_url: parse_base_url("GTI_ENTITY_URL", get("GTI_ENTITY_URL"))?,
            portal_url: parse_url("GTI_PORTAL_URL", get("GTI_PORTAL_URL"))?
                .trim_end_matches('/')
                .to_owned(),
            day_range: parse_number("GTI_DAY_RANGE", get("GTI_DAY_RANGE"), 1, 365)? as u32,
            gti_timeout: Duration::from_secs(parse_number(
                "GTI_TIMEOUT_SECS",
                get("GTI_TIMEOUT_SECS"),
                1,
                3600,
            )?),
            gti_retries: parse_number("GTI_RETRIES", get("GTI_RETRIES"), 0, 10)? as u32,
            gti_max_inflight: parse_number("GTI_MAX_INFLIGHT", get("GTI_MAX_INFLIGHT"), 1, 4096)?
                as usize,
            request_deadline: Duration::from_secs(parse_number(
                "REQUEST_DEADLINE_SECS",
                get("REQUEST_DEADLINE_SECS"),
                1,
                3600,
            )?),
            jwks_url_template: parse_jwks_template(get("JWKS_URL_TEMPLATE"))?,
            jwks_allowed_hosts: parse_host_patterns(get("JWKS_ALLOWED_HOSTS"))?,
            jwks_cache: Duration::from_secs(parse_number(
                "JWKS_CACHE_SECS",
                get("JWKS_CACHE_SECS"),
                0,
                86_400,
            )?),
            max_body_bytes: parse_number("MAX_BODY_BYTES", get("MAX_BODY_BYTES"), 1, 1 << 30)?,
            workers: match get("WORKERS") {
                // A worker mostly waits for GTI (≥ 3 round trips per
                // observe), so the count bounds concurrent requests, not
                // CPU; BENCHMARKS.md has the measurement behind it.
                "" => DEFAULT_WORKERS,
                value => parse_number("WORKERS", value, 1, 4096)? as usize,
            },
            log_level: parse_log_level(get("LOG_LEVEL"))?,
        })
    }

    /// The address to listen on, as `host:port` (IPv6 hosts bracketed).
    pub fn listen_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        variable,
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

fn parse_number(
    variable: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            invalid(
                variable,
                value,
                &format!("a whole number from {min} to {max}"),
            )
        })
}

fn parse_host(value: &str) -> Result<String, ConfigError> {
    let bare = value.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        Ok(bare.to_owned())
    } else {
        Err(invalid(
            "HOST",
            value,
            "an IP address such as 0.0.0.0, 127.0.0.1 or ::",
        ))
    }
}

fn parse_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !value.contains(char::is_whitespace) =>
        {
            Ok(value.to_owned())
        }
        _ => Err(invalid(
            variable,
            value,
            "an http:// or https:// URL with a host",
        )),
    }
}

/// A base URL that relative paths are joined to; it always ends in `/` so
/// that joining never drops its last segment.
fn parse_base_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = parse_url(variable, value)?;
    Ok(if url.ends_with('/') { url } else { url + "/" })
}

fn parse_jwks_template(value: &str) -> Result<String, ConfigError> {
    let expected = "an http:// or https:// URL containing {jwks_host}";
    let url = parse_url("JWKS_URL_TEMPLATE", value)
        .map_err(|_| invalid("JWKS_URL_TEMPLATE", value, expected))?;
    if url.contains("{jwks_host}") {
        Ok(url)
    } else {
        Err(invalid("JWKS_URL_TEMPLATE", value, expected))
    }
}

fn parse_host_patterns(value: &str) -> Result<Vec<String>, ConfigError> {
    let expected = "comma-separated host names, where * stands for one DNS label or one port (visibility.*.amp.cisco.com, 127.0.0.1:*)";
    let patterns: Vec<String> = value
        .split(',')
        .map(|pattern| pattern.trim().to_ascii_lowercase())
        .filter(|pattern| !pattern.is_empty())
        .collect();
    let valid = |pattern: &String| {
        pattern
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':'))
    };
    if patterns.is_empty() || !patterns.iter().all(valid) {
        return Err(invalid("JWKS_ALLOWED_HOSTS", value, expected));
    }
    Ok(patterns)
}

fn parse_log_level(value: &str) -> Result<log::LevelFilter, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "error" => Ok(log::LevelFilter::Error),
        "warn" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        "trace" => Ok(log::LevelFilter::Trace),
        _ => Err(invalid(
            "LOG_LEVEL",
            value,
            "one of error, warn, info, debug, trace",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &str, value: &str) -> Result<Config, ConfigError> {
        Config::from_vars([(name, value)])
    }

    #[test]
    fn defaults_match_the_spec() {
        let config = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(config.port, 9090);
        assert_eq!(config.host, "0.0.0.0");
        assert_eq!(config.relay_url, None);
        assert_eq!(config.detections_url, "https://detections.icebrg.io/v1/");
        assert_eq!(
            config.events_url.as_deref(),
            Some("https://events.icebrg.io/v2/")
        );
        assert_eq!(config.entity_url, "https://entity.icebrg.io/v2/");
        assert_eq!(config.portal_url, "https://portal.icebrg.io");
        assert_eq!(config.day_range, 7);
        assert_eq!(config.gti_timeout, Duration::from_secs(30));
        assert_eq!(config.gti_retries, 2);
        assert_eq!(config.gti_max_inflight, 256);
        assert_eq!(config.request_deadline, Duration::from_secs(25));
        assert_eq!(
            config.jwks_url_template,
            "https://{jwks_host}/.well-known/jwks"
        );
        assert_eq!(
            config.jwks_allowed_hosts,
            ["visibility.amp.cisco.com", "visibility.*.amp.cisco.com"]
        );
        assert_eq!(config.jwks_cache, Duration::from_secs(600));
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert!(config.workers >= 4 && config.workers % 4 == 0);
        assert_eq!(config.log_level, log::LevelFilter::Info);
        assert_eq!(config, Config::default());
    }

    #[test]
    fn values_are_read_and_normalised() {
        let config = Config::from_vars([
            ("PORT", "8080"),
            ("HOST", "::1"),
            ("RELAY_URL", "https://relay.example.com/"),
            ("GTI_DETECTIONS_URL", "http://127.0.0.1:5000/v1"),
            ("GTI_EVENTS_URL", ""),
            ("GTI_PORTAL_URL", "https://portal.example.com/"),
            ("WORKERS", "3"),
            ("LOG_LEVEL", "DEBUG"),
            (
                "JWKS_ALLOWED_HOSTS",
                " 127.0.0.1:* , Visibility.amp.cisco.com ",
            ),
            ("UNRELATED", "ignored"),
        ])
        .unwrap();
        assert_eq!(config.listen_address(), "[::1]:8080");
        assert_eq!(
            config.relay_url.as_deref(),
            Some("https://relay.example.com")
        );
        assert_eq!(config.detections_url, "http://127.0.0.1:5000/v1/");
        assert_eq!(config.events_url, None);
        assert_eq!(config.portal_url, "https://portal.example.com");
        assert_eq!(config.workers, 3);
        assert_eq!(config.log_level, log::LevelFilter::Debug);
        assert_eq!(
            config.jwks_allowed_hosts,
            ["127.0.0.1:*", "visibility.amp.cisco.com"]
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_the_accepted_form() {
        let cases = [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("HOST", "example.com"),
            ("RELAY_URL", "relay.example.com"),
            ("GTI_DETECTIONS_URL", "ftp://x/"),
            ("GTI_ENTITY_URL", ""),
            ("GTI_PORTAL_URL", "https://"),
            ("GTI_DAY_RANGE", "0"),
            ("GTI_TIMEOUT_SECS", "-1"),
            ("GTI_RETRIES", "11"),
            ("GTI_MAX_INFLIGHT", "0"),
            (
                "JWKS_URL_TEMPLATE",
                "https://visibility.amp.cisco.com/.well-known/jwks",
            ),
            ("JWKS_ALLOWED_HOSTS", ""),
            ("JWKS_ALLOWED_HOSTS", "evil.com/path"),
            ("JWKS_CACHE_SECS", "1.5"),
            ("MAX_BODY_BYTES", "0"),
            ("WORKERS", "many"),
            ("LOG_LEVEL", "verbose"),
        ];
        for (name, value) in cases {
            let error = with(name, value).expect_err(name);
            assert_eq!(error.variable, name);
            let line = error.to_string();
            assert!(line.starts_with(&format!("invalid {name}=")), "{line}");
            assert!(line.contains("expected "), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }
}
