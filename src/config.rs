//! Start-up configuration: every environment variable of SPEC §1, parsed and
//! validated once into [`Config`].
//!
//! No other module reads the environment. Tests build a `Config` with
//! [`Config::from_vars`] (or [`Config::default`]) and adjust its public fields.
//!
//! GTI's URLs come per region (SPEC §7): each region starts from the table
//! of `crate::region`; the unprefixed `GTI_*_URL` variables override the
//! default region's (`GTI_REGION`), `GTI_US_*_URL` and `GTI_EU_*_URL` one
//! region's, and naming the same region and API both ways is an error.

use std::fmt;
use std::time::Duration;

use crate::egress::{redact_credentials, Egress, ExtraRoots, NoProxy, ProxyUrl};
use crate::logging::LogFormat;
use crate::region::{self, BaseUrl, PerRegion, PortalUrl, Region, RegionUrls};

/// The relay's validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    host: String,
    port: u16,
    /// The public URL the JWT `aud` must equal; `None` derives it per request
    /// from `X-Forwarded-Proto` and `Host`. Stored without a trailing `/`.
    relay_url: Option<String>,
    /// The region of tokens whose `GTI_REGION` claim names none.
    region: Region,
    /// Each region's GTI bases and portal (`GTI_*_URL`, `GTI_US_*_URL`,
    /// `GTI_EU_*_URL` over the table of SPEC §7); see [`Config::urls`].
    regions: PerRegion<RegionUrls>,
    /// How many one-day windows the event search covers.
    day_range: u32,
    /// One upstream call's time limit (connect + read).
    gti_timeout: Duration,
    /// Extra tries for 429 and 5xx answers.
    gti_retries: u32,
    /// The most GTI calls in flight at once, across all requests.
    gti_max_inflight: usize,
    /// A request's whole time budget.
    request_deadline: Duration,
    /// Where a token's keys are fetched; contains `{jwks_host}`.
    jwks_url_template: String,
    /// Host patterns a token's `jwks_host` must match (`*` = one label or port).
    jwks_allowed_hosts: Vec<String>,
    /// How long fetched keys are reused.
    jwks_cache: Duration,
    /// Larger request bodies are refused unread.
    max_body_bytes: u64,
    /// Request worker threads.
    workers: usize,
    log_level: log::LevelFilter,
    /// How log lines are written.
    log_format: LogFormat,
    /// Proxies (the `*_PROXY` variables, as curl reads them) and extra
    /// trusted roots (`GTI_CA_FILE`) for GTI and JWKS calls. `Debug` shows
    /// no proxy credentials.
    egress: Egress,
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
    ("GTI_REGION", "us"),
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
    ("LOG_FORMAT", "text"),
    // Egress (SPEC §1): as curl, the lower-case name before the upper-case.
    ("https_proxy", ""),
    ("HTTPS_PROXY", ""),
    ("http_proxy", ""),
    ("HTTP_PROXY", ""),
    ("all_proxy", ""),
    ("ALL_PROXY", ""),
    ("no_proxy", ""),
    ("NO_PROXY", ""),
    ("GTI_CA_FILE", ""),
];

/// A `GTI_CA_FILE` larger than this is not a CA bundle (Mozilla's whole
/// set is about 250 KB) and is not read.
const MAX_CA_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One of a region's four URLs, and the variables that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Detections,
    Events,
    Entity,
    /// The entity v1 API (summary, passive DNS, file: SPEC §8.4).
    EntityV1,
    Portal,
}

impl Api {
    const ALL: [Api; 5] = [
        Api::Detections,
        Api::Events,
        Api::Entity,
        Api::EntityV1,
        Api::Portal,
    ];

    /// The variable for this API of `region`, or of the default region
    /// when `None` (the unprefixed form).
    fn variable(self, region: Option<Region>) -> &'static str {
        match (self, region) {
            (Api::Detections, None) => "GTI_DETECTIONS_URL",
            (Api::Events, None) => "GTI_EVENTS_URL",
            (Api::Entity, None) => "GTI_ENTITY_URL",
            (Api::EntityV1, None) => "GTI_ENTITY_V1_URL",
            (Api::Portal, None) => "GTI_PORTAL_URL",
            (Api::Detections, Some(Region::Us)) => "GTI_US_DETECTIONS_URL",
            (Api::Events, Some(Region::Us)) => "GTI_US_EVENTS_URL",
            (Api::Entity, Some(Region::Us)) => "GTI_US_ENTITY_URL",
            (Api::EntityV1, Some(Region::Us)) => "GTI_US_ENTITY_V1_URL",
            (Api::Portal, Some(Region::Us)) => "GTI_US_PORTAL_URL",
            (Api::Detections, Some(Region::Eu)) => "GTI_EU_DETECTIONS_URL",
            (Api::Events, Some(Region::Eu)) => "GTI_EU_EVENTS_URL",
            (Api::Entity, Some(Region::Eu)) => "GTI_EU_ENTITY_URL",
            (Api::EntityV1, Some(Region::Eu)) => "GTI_EU_ENTITY_V1_URL",
            (Api::Portal, Some(Region::Eu)) => "GTI_EU_PORTAL_URL",
        }
    }
}

/// The URL variables, unprefixed first, then each region's.
fn url_variables() -> impl Iterator<Item = &'static str> {
    [None, Some(Region::Us), Some(Region::Eu)]
        .into_iter()
        .flat_map(|region| Api::ALL.into_iter().map(move |api| api.variable(region)))
}

/// The relay's variables that are set in the process environment, as
/// pairs for [`Config::from_vars`] (the only place the crate reads its
/// configuration from the environment).
pub fn environment() -> Vec<(String, String)> {
    variable_names()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .map(|value| (name.to_owned(), value))
        })
        .collect()
}

/// The names of every variable the relay reads.
pub fn variable_names() -> impl Iterator<Item = &'static str> {
    DEFAULTS
        .iter()
        .map(|(name, _)| *name)
        .chain(url_variables())
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
        Config::from_vars(environment())
    }

    /// Builds the configuration from `(name, value)` pairs; names the relay
    /// does not know are ignored, missing ones take their default.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let given = Given::new(vars);
        let set = |name: &str| given.set(name);
        let get = |name: &str| given.get(name);
        let region = parse_region(get("GTI_REGION"))?;
        let mut regions = PerRegion::new(Region::default_urls);
        for each in Region::ALL {
            *regions.get_mut(each) = region_urls(each, each == region, &set)?;
        }
        let seconds = |name: &'static str, min, max| {
            parse_number(name, get(name), min, max).map(Duration::from_secs)
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
            region,
            regions,
            day_range: parse_number("GTI_DAY_RANGE", get("GTI_DAY_RANGE"), 1, 365)? as u32,
            gti_timeout: seconds("GTI_TIMEOUT_SECS", 1, 3600)?,
            gti_retries: parse_number("GTI_RETRIES", get("GTI_RETRIES"), 0, 10)? as u32,
            gti_max_inflight: parse_number("GTI_MAX_INFLIGHT", get("GTI_MAX_INFLIGHT"), 1, 4096)?
                as usize,
            request_deadline: seconds("REQUEST_DEADLINE_SECS", 1, 3600)?,
            jwks_url_template: parse_jwks_template(get("JWKS_URL_TEMPLATE"))?,
            jwks_allowed_hosts: parse_host_patterns(get("JWKS_ALLOWED_HOSTS"))?,
            jwks_cache: seconds("JWKS_CACHE_SECS", 0, 86_400)?,
            max_body_bytes: parse_number("MAX_BODY_BYTES", get("MAX_BODY_BYTES"), 1, 1 << 30)?,
            workers: match get("WORKERS") {
                // A worker mostly waits for GTI (≥ 3 round trips per
                // observe), so the count bounds concurrent requests, not
                // CPU; BENCHMARKS.md has the measurement behind it.
                "" => DEFAULT_WORKERS,
                value => parse_number("WORKERS", value, 1, 4096)? as usize,
            },
            log_level: parse_log_level(get("LOG_LEVEL"))?,
            log_format: LogFormat::parse(get("LOG_FORMAT"))
                .ok_or_else(|| invalid("LOG_FORMAT", get("LOG_FORMAT"), "text or json"))?,
            egress: parse_egress(&set)?,
        })
    }

    /// Where `region`'s GTI APIs and portal are.
    pub fn urls(&self, region: Region) -> &RegionUrls {
        self.regions.get(region)
    }

    /// The default region's URLs: those of tokens that name no region.
    pub fn default_urls(&self) -> &RegionUrls {
        self.urls(self.region)
    }

    /// The address to listen on, as `host:port` (IPv6 hosts bracketed).
    pub fn listen_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The public URL the JWT `aud` must equal, without a trailing `/`;
    /// `None`: derived per request from `X-Forwarded-Proto` and `Host`.
    pub fn relay_url(&self) -> Option<&str> {
        self.relay_url.as_deref()
    }

    /// The region of tokens whose `GTI_REGION` claim names none.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Each region with its URLs.
    pub fn regions(&self) -> impl Iterator<Item = (Region, &RegionUrls)> {
        self.regions.iter()
    }

    /// How many one-day windows the event search covers.
    pub fn day_range(&self) -> u32 {
        self.day_range
    }

    /// One upstream try's time limit (connect + read).
    pub fn gti_timeout(&self) -> Duration {
        self.gti_timeout
    }

    /// Extra tries for 429, 5xx and connection failures.
    pub fn gti_retries(&self) -> u32 {
        self.gti_retries
    }

    /// The most GTI calls in flight at once, across all requests.
    pub fn gti_max_inflight(&self) -> usize {
        self.gti_max_inflight
    }

    /// A request's whole time budget.
    pub fn request_deadline(&self) -> Duration {
        self.request_deadline
    }

    /// Where a token's keys are fetched; contains `{jwks_host}`.
    pub fn jwks_url_template(&self) -> &str {
        &self.jwks_url_template
    }

    /// Host patterns a token's `jwks_host` must match.
    pub fn jwks_allowed_hosts(&self) -> &[String] {
        &self.jwks_allowed_hosts
    }

    /// How long fetched keys are reused.
    pub fn jwks_cache(&self) -> Duration {
        self.jwks_cache
    }

    /// Larger request bodies are refused unread.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// Request worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn log_level(&self) -> log::LevelFilter {
        self.log_level
    }

    /// How log lines are written (`LOG_FORMAT`).
    pub fn log_format(&self) -> LogFormat {
        self.log_format
    }

    /// Proxies and extra trusted roots for GTI and JWKS calls.
    pub fn egress(&self) -> &Egress {
        &self.egress
    }
}

/// The variables given to [`Config::from_vars`], each once (the last value
/// wins), trimmed; names the relay does not read are left out.
struct Given(Vec<(&'static str, String)>);

impl Given {
    fn new<I, K, V>(vars: I) -> Given
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut given: Vec<(&'static str, String)> = Vec::new();
        for (name, value) in vars {
            let Some(known) = variable_names().find(|known| *known == name.as_ref()) else {
                continue;
            };
            let value = value.as_ref().trim().to_owned();
            match given.iter_mut().find(|(name, _)| *name == known) {
                Some(slot) => slot.1 = value,
                None => given.push((known, value)),
            }
        }
        Given(given)
    }

    /// The value of `name` when it was given at all (even empty).
    fn set(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `name`, else its default.
    fn get(&self, name: &str) -> &str {
        self.set(name)
            .or_else(|| {
                DEFAULTS
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map(|(_, default)| *default)
            })
            .unwrap_or_default()
    }
}

fn invalid(variable: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        variable,
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

fn parse_region(value: &str) -> Result<Region, ConfigError> {
    Region::parse(value).ok_or_else(|| {
        invalid(
            "GTI_REGION",
            value,
            &format!("one of {} (any case)", region::ACCEPTED),
        )
    })
}

/// `region`'s URLs: the table's, overridden by `GTI_<REGION>_*_URL`, or for
/// the default region by the unprefixed `GTI_*_URL` (not both). `set` gives
/// a variable's value when it was set at all (even empty).
fn region_urls<'a>(
    region: Region,
    is_default: bool,
    set: &impl Fn(&str) -> Option<&'a str>,
) -> Result<RegionUrls, ConfigError> {
    let mut urls = region.default_urls();
    for api in Api::ALL {
        let own = api.variable(Some(region));
        let plain = api.variable(None);
        let plain_value = if is_default { set(plain) } else { None };
        let (variable, value) = match (set(own), plain_value) {
            (Some(value), Some(_)) => {
                return Err(invalid(
                    own,
                    value,
                    &format!(
                        "{own} or {plain} (which sets the default region's, GTI_REGION={region}), not both"
                    ),
                ))
            }
            (Some(value), None) => (own, value),
            (None, Some(value)) => (plain, value),
            (None, None) => continue,
        };
        let base = || BaseUrl::parse(value).map_err(|expected| invalid(variable, value, expected));
        match api {
            Api::Detections => urls.detections = base()?,
            Api::Events => {
                urls.events = match value {
                    // Empty: no event search in this region or account.
                    "" => None,
                    _ => Some(base()?),
                }
            }
            Api::Entity => urls.entity = base()?,
            Api::EntityV1 => {
                urls.entity_v1 = match value {
                    // Empty: no enrichment calls (SPEC §8.4).
                    "" => None,
                    _ => Some(base()?),
                }
            }
            Api::Portal => {
                urls.portal = PortalUrl::parse(value)
                    .map_err(|expected| invalid(variable, value, expected))?
            }
        }
    }
    Ok(urls)
}

/// The proxies, read as curl reads them: for `https://` URLs `https_proxy`
/// then `HTTPS_PROXY`, for `http://` URLs `http_proxy` then `HTTP_PROXY`
/// (curl reads only the lower-case one, against CGI's `HTTP_PROXY` header
/// variable; the relay is no CGI program and SPEC §1 names it), either way
/// `all_proxy` then `ALL_PROXY` when neither is set; `no_proxy` then
/// `NO_PROXY`. An empty value counts as unset. Then `GTI_CA_FILE`, read and
/// checked now so that a bad one stops start-up.
fn parse_egress<'a>(set: &impl Fn(&str) -> Option<&'a str>) -> Result<Egress, ConfigError> {
    let first = |names: [&'static str; 2]| {
        names.into_iter().find_map(|name| {
            set(name)
                .filter(|value| !value.is_empty())
                .map(|value| (name, value))
        })
    };
    let proxy = |names: [&'static str; 2]| -> Result<Option<ProxyUrl>, ConfigError> {
        match first(names) {
            None => Ok(None),
            Some((name, value)) => ProxyUrl::parse(value)
                .map(Some)
                // The value is shown without the credentials it may hold.
                .map_err(|expected| invalid(name, &redact_credentials(value), expected)),
        }
    };
    let all = proxy(["all_proxy", "ALL_PROXY"])?;
    let https_proxy = proxy(["https_proxy", "HTTPS_PROXY"])?.or_else(|| all.clone());
    let http_proxy = proxy(["http_proxy", "HTTP_PROXY"])?.or(all);
    let no_proxy = first(["no_proxy", "NO_PROXY"])
        .map(|(_, value)| NoProxy::parse(value))
        .unwrap_or_default();
    let extra_roots = match set("GTI_CA_FILE") {
        None | Some("") => None,
        Some(path) => Some(load_roots(path)?),
    };
    Ok(Egress {
        https_proxy,
        http_proxy,
        no_proxy,
        extra_roots,
    })
}

/// The certificates of the PEM bundle at `path` (`GTI_CA_FILE`).
fn load_roots(path: &str) -> Result<ExtraRoots, ConfigError> {
    use std::io::Read;
    let problem = |detail: String| invalid("GTI_CA_FILE", path, &detail);
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CA_FILE_BYTES + 1).read_to_end(&mut pem))
        .map_err(|error| problem(format!("a readable PEM file of CA certificates ({error})")))?;
    if pem.is_empty() {
        return Err(problem(
            "a PEM file of CA certificates, not an empty file".to_owned(),
        ));
    }
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(problem(format!(
            "a PEM file of CA certificates of at most {MAX_CA_FILE_BYTES} bytes"
        )));
    }
    ExtraRoots::from_pem(path, &pem).map_err(problem)
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

/// An http(s) URL with a host (`RELAY_URL`), as the portal's is checked.
fn parse_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    PortalUrl::parse(value)
        .map(|_| value.to_owned())
        .map_err(|expected| invalid(variable, value, expected))
}

fn parse_jwks_template(value: &str) -> Result<String, ConfigError> {
    let expected = "an http:// or https:// URL containing {jwks_host}";
    // Checked as the URL it becomes once a host fills the placeholder.
    let filled = value.replace("{jwks_host}", "jwks.example");
    if value.contains("{jwks_host}") && PortalUrl::parse(&filled).is_ok() {
        Ok(value.to_owned())
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
        assert_eq!(
            config.default_urls().detections,
            "https://detections.icebrg.io/v1/"
        );
        assert_eq!(
            config.default_urls().events.as_deref(),
            Some("https://events.icebrg.io/v2/")
        );
        assert_eq!(config.default_urls().entity, "https://entity.icebrg.io/v2/");
        assert_eq!(config.default_urls().portal, "https://portal.icebrg.io");
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
        assert_eq!(config.log_format, LogFormat::Text);
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
            ("LOG_FORMAT", "JSON"),
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
        assert_eq!(
            config.default_urls().detections,
            "http://127.0.0.1:5000/v1/"
        );
        assert_eq!(config.default_urls().events, None);
        assert_eq!(config.default_urls().portal, "https://portal.example.com");
        assert_eq!(config.workers, 3);
        assert_eq!(config.log_level, log::LevelFilter::Debug);
        assert_eq!(config.log_format, LogFormat::Json);
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
            ("LOG_FORMAT", "logfmt"),
            ("GTI_REGION", "usa"),
            ("GTI_REGION", ""),
            ("GTI_US_DETECTIONS_URL", "detections.icebrg.io"),
            ("GTI_EU_ENTITY_URL", ""),
            ("GTI_EU_PORTAL_URL", "portal"),
            ("GTI_EU_EVENTS_URL", "ftp://events/"),
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

    #[test]
    fn each_region_starts_from_the_table() {
        let config = Config::default();
        assert_eq!(config.region, Region::Us);
        for region in Region::ALL {
            assert_eq!(*config.urls(region), region.default_urls());
        }
        let eu = Config::from_vars([("GTI_REGION", "EU")]).unwrap();
        assert_eq!(eu.region, Region::Eu);
        assert_eq!(eu.default_urls().events, None);
        assert_eq!(
            eu.default_urls().portal,
            "https://portal-eu.fortindr.forticloud.com"
        );
    }

    #[test]
    fn unprefixed_urls_override_the_default_region_only() {
        let vars = [
            ("GTI_DETECTIONS_URL", "http://127.0.0.1:1/d"),
            ("GTI_EVENTS_URL", ""),
            ("GTI_ENTITY_URL", "http://127.0.0.1:1/e/"),
            ("GTI_ENTITY_V1_URL", ""),
            ("GTI_PORTAL_URL", "https://portal.example/"),
        ];
        let us = Config::from_vars(vars).unwrap();
        let overridden = RegionUrls {
            detections: BaseUrl::parse("http://127.0.0.1:1/d/").unwrap(),
            events: None,
            entity: BaseUrl::parse("http://127.0.0.1:1/e/").unwrap(),
            entity_v1: None,
            portal: PortalUrl::parse("https://portal.example").unwrap(),
        };
        assert_eq!(*us.urls(Region::Us), overridden);
        assert_eq!(*us.urls(Region::Eu), Region::Eu.default_urls());

        let mut eu_vars = vars.to_vec();
        eu_vars.push(("GTI_REGION", "eu"));
        let eu = Config::from_vars(eu_vars).unwrap();
        assert_eq!(*eu.urls(Region::Eu), overridden);
        assert_eq!(*eu.urls(Region::Us), Region::Us.default_urls());
    }

    #[test]
    fn prefixed_urls_override_their_region_whatever_the_default() {
        for default in ["us", "eu"] {
            let config = Config::from_vars([
                ("GTI_REGION", default),
                ("GTI_US_EVENTS_URL", ""),
                ("GTI_US_PORTAL_URL", "https://us.portal.example"),
                ("GTI_EU_DETECTIONS_URL", "http://127.0.0.1:2/v1"),
                ("GTI_EU_EVENTS_URL", "http://127.0.0.1:2/events/v2/"),
            ])
            .unwrap();
            let us = config.urls(Region::Us);
            assert_eq!(us.events, None, "{default}");
            assert_eq!(us.portal, "https://us.portal.example");
            assert_eq!(us.detections, Region::Us.default_urls().detections);
            let eu = config.urls(Region::Eu);
            assert_eq!(eu.detections, "http://127.0.0.1:2/v1/");
            assert_eq!(eu.events.as_deref(), Some("http://127.0.0.1:2/events/v2/"));
            assert_eq!(eu.entity, Region::Eu.default_urls().entity);
        }
        // The unprefixed form for the default region beside the other
        // region's prefixed form is no conflict.
        let config = Config::from_vars([
            ("GTI_PORTAL_URL", "https://default.example"),
            ("GTI_EU_PORTAL_URL", "https://eu.example"),
        ])
        .unwrap();
        assert_eq!(config.urls(Region::Us).portal, "https://default.example");
        assert_eq!(config.urls(Region::Eu).portal, "https://eu.example");
    }

    #[test]
    fn both_forms_for_one_region_and_api_are_refused_naming_both() {
        let cases = [
            (None, "GTI_DETECTIONS_URL", "GTI_US_DETECTIONS_URL"),
            (Some("us"), "GTI_EVENTS_URL", "GTI_US_EVENTS_URL"),
            (Some("eu"), "GTI_ENTITY_URL", "GTI_EU_ENTITY_URL"),
            (Some("EU"), "GTI_PORTAL_URL", "GTI_EU_PORTAL_URL"),
            // An empty value is set too.
            (Some("eu"), "GTI_EVENTS_URL", "GTI_EU_EVENTS_URL"),
        ];
        for (region, plain, own) in cases {
            let mut vars = vec![(plain, "https://a.example/"), (own, "")];
            vars.extend(region.map(|region| ("GTI_REGION", region)));
            let error = Config::from_vars(vars).expect_err(own);
            assert_eq!(error.variable, own);
            let line = error.to_string();
            assert!(line.contains(plain) && line.contains(own), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn every_url_variable_is_read_from_the_environment() {
        let names: Vec<&str> = variable_names().collect();
        for name in [
            "GTI_REGION",
            "GTI_DETECTIONS_URL",
            "GTI_PORTAL_URL",
            "GTI_US_DETECTIONS_URL",
            "GTI_US_EVENTS_URL",
            "GTI_US_ENTITY_URL",
            "GTI_US_ENTITY_V1_URL",
            "GTI_US_PORTAL_URL",
            "GTI_EU_DETECTIONS_URL",
            "GTI_EU_EVENTS_URL",
            "GTI_EU_ENTITY_URL",
            "GTI_EU_ENTITY_V1_URL",
            "GTI_ENTITY_V1_URL",
            "GTI_EU_PORTAL_URL",
        ] {
            assert!(names.contains(&name), "{name}");
        }
        let unique: std::collections::HashSet<&&str> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }

    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn proxy_host(proxy: &Option<ProxyUrl>) -> Option<String> {
        proxy.as_ref().map(|proxy| proxy.proxy().host().to_owned())
    }

    #[test]
    fn proxies_are_read_as_curl_reads_them() {
        let none = Config::default().egress;
        assert_eq!(none, Egress::default());

        let config = Config::from_vars([
            ("HTTPS_PROXY", "http://upper:3128"),
            ("https_proxy", "http://lower:3128"),
            ("ALL_PROXY", "http://all:3128"),
            ("NO_PROXY", "internal.example"),
        ])
        .unwrap();
        let egress = &config.egress;
        assert_eq!(proxy_host(&egress.https_proxy).as_deref(), Some("lower"));
        assert_eq!(proxy_host(&egress.http_proxy).as_deref(), Some("all"));
        assert!(egress.no_proxy.matches("api.internal.example"));

        let config = Config::from_vars([
            ("http_proxy", ""),
            ("HTTP_PROXY", "plain:8080"),
            ("all_proxy", "http://all:1"),
            ("no_proxy", "a.example"),
            ("NO_PROXY", "b.example"),
        ])
        .unwrap();
        let egress = &config.egress;
        assert_eq!(proxy_host(&egress.http_proxy).as_deref(), Some("plain"));
        assert_eq!(proxy_host(&egress.https_proxy).as_deref(), Some("all"));
        assert!(egress.no_proxy.matches("a.example"));
        assert!(!egress.no_proxy.matches("b.example"));
    }

    #[test]
    fn proxy_credentials_are_never_shown() {
        let config =
            Config::from_vars([("HTTPS_PROXY", "http://relay:pr0xy-s3cret@proxy:3128")]).unwrap();
        assert!(!format!("{config:?}").contains("pr0xy-s3cret"));
        assert!(format!("{config:?}").contains("http://***@proxy:3128"));
        let error = with("ALL_PROXY", "socks5://relay:pr0xy-s3cret@proxy:1080").unwrap_err();
        assert_eq!(error.variable, "ALL_PROXY");
        assert!(!error.to_string().contains("pr0xy-s3cret"), "{error}");
        assert!(!format!("{error:?}").contains("pr0xy-s3cret"), "{error:?}");
        assert!(error.to_string().contains("socks"), "{error}");
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let config = with("GTI_CA_FILE", &fixture("test-ca-cert.pem")).unwrap();
        let roots = config.egress.extra_roots.expect("roots");
        assert_eq!(roots.len(), 1);
        assert_eq!(with("GTI_CA_FILE", "").unwrap().egress.extra_roots, None);

        let empty =
            std::env::temp_dir().join(format!("gti-relay-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, b"").unwrap();
        let empty = empty.to_string_lossy().into_owned();
        for path in [
            "/nonexistent/ca.pem",
            empty.as_str(),
            &fixture("test-ca-server-key.pem"),
            &fixture("README.md"),
            "/",
        ] {
            let error = with("GTI_CA_FILE", path).expect_err(path);
            assert_eq!(error.variable, "GTI_CA_FILE");
            let line = error.to_string();
            assert!(line.starts_with("invalid GTI_CA_FILE="), "{line}");
            assert!(!line.contains('\n'), "{line}");
        }
        let _ = std::fs::remove_file(&empty);
    }
}
