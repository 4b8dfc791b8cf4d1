//! `gti-relay demo`: the relay with everything it talks to simulated in
//! process, so a newcomer sees real answers without a GTI account or SecureX.
//!
//! It starts five servers: the simulated GTI ([`gti::MockGti`], in [`gti`];
//! the integration tests and benchmarks use it too) twice, one standing for
//! each region (SPEC §7: the EU one without an event search, as the real EU
//! region), both loaded with the DEMO ONLY sample data of
//! `src/demo/sample-data.json`; a tiny JWKS server publishing the DEMO ONLY
//! key of `src/demo/`, all on loopback ports; the relay itself on
//! `HOST:PORT` (default `127.0.0.1:9090`); and, beside it on the next port,
//! the dashboard preview ([`preview`]): a page drawing the tiles and an
//! observe answer from the relay's own answers (the relay's route table
//! stays the production one). The relay's configuration is
//! forced to trust nothing but that local JWKS and to ask nothing but the
//! simulated GTIs, straight (the proxy variables do not apply), so the demo
//! key can never open a real relay and the demo never reaches the internet. Portal links keep each region's portal, so an
//! EU token's links point at the EU portal. The one GTI setting of the shell
//! it honours is an empty entity v1 URL, which switches a region's
//! enrichment off (SPEC §8.4) and calls nothing.
//!
//! It prints the preview's URL, the relay's and two 24-hour demo tokens as
//! parseable lines (`preview: …`, `relay: …`, `token: …` without a
//! `GTI_REGION` claim, `eu-token: …` with `GTI_REGION` `eu`), a handful of
//! ready-to-paste `curl`s, and a summary of `observables.json` looked up
//! through the relay's HTTP API; then it serves until SIGTERM or SIGINT.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use jwt_simple::prelude::{Claims, RS256KeyPair, RSAKeyPairLike};
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::config::Config;
use crate::error::StartError;
use crate::gti::Endpoint;
use crate::region::Region;
use crate::server::{self, Server};
use crate::time::now_millis;

pub mod gti;
pub mod preview;

use gti::MockGti;
use preview::PreviewServer;

/// DEMO ONLY signing key, public by design (see `src/demo/README.md`). Only
/// the demo's own loopback JWKS publishes its public half.
const DEMO_KEY_PEM: &str = include_str!("DEMO-ONLY-signing-key.pem");

/// The `kid` the demo JWKS publishes the key under.
const DEMO_KID: &str = "gti-relay-demo-only";

/// DEMO ONLY sample GTI data; timestamps are `now-<n><unit>`.
const SAMPLE_DATA: &str = include_str!("sample-data.json");

/// The observables the demo looks up: the repository's sample request.
pub const OBSERVABLES: &str = include_str!("../../observables.json");

/// The sample IP with a high-severity, high-confidence detection: a
/// Malicious verdict, three resolve actions, a trigger to try.
pub const DEMO_VERDICT_IP: &str = "198.51.100.20";

/// Where `gti-relay demo` listens unless `HOST` says otherwise: its token
/// opens it to anyone who can reach it, so loopback (the container sets
/// `HOST=0.0.0.0`).
pub const DEMO_HOST: &str = "127.0.0.1";

/// The egress variables, which the demo sets empty (unset).
const EGRESS_VARIABLES: [&str; 9] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "GTI_CA_FILE",
];

/// Whether `name` sets a GTI API's base URL (`GTI_*_URL` but the portal's).
fn is_api_url(name: &str) -> bool {
    name.starts_with("GTI_") && name.ends_with("_URL") && !name.contains("PORTAL")
}

/// How long the printed demo token stays valid, in hours.
const TOKEN_LIFETIME_HOURS: u64 = 24;

/// A running demo: the relay, the simulated GTIs and the demo JWKS.
pub struct Demo {
    server: Server,
    preview: PreviewServer,
    jwks: JwksServer,
    // One per region, kept alive for as long as the relay serves; dropping
    // them stops them.
    _gti: Vec<MockGti>,
    /// The relay's URL for local clients (`http://127.0.0.1:<port>` when
    /// it listens on every address).
    pub relay_url: String,
    /// The dashboard preview's URL for local clients: the relay's host, the
    /// port after the relay's (any free one when that is taken or the
    /// relay's is ephemeral).
    pub preview_url: String,
    /// A demo token valid for 24 hours, without a `GTI_REGION` claim: a
    /// tenant of the relay's default region (`us` unless `GTI_REGION` says
    /// otherwise).
    pub token: String,
    /// The same, with the claim `GTI_REGION` `eu`: a tenant of the EU region.
    pub eu_token: String,
    log_level: log::LevelFilter,
    log_format: crate::logging::LogFormat,
}

/// Starts the demo with the relay's variables `vars` (its listen address,
/// logging and limits; `HOST` defaults to [`DEMO_HOST`]); its GTI, JWKS and
/// egress settings are the local simulated ones, and the simulated GTIs
/// answer 404 Not Found on each API of `retired` (the event search, the
/// DHCP look-up): what a tenant sees once FortiNDR Cloud retires them
/// (SPEC §8.2).
pub fn start(vars: Vec<(String, String)>, retired: &[Endpoint]) -> Result<Demo, StartError> {
    let SimulatedGtis {
        gtis,
        key,
        vars: mut local,
    } = start_gtis(retired, &enrichment_off(&vars))?;
    let signer = RS256KeyPair::from_pem(DEMO_KEY_PEM)
        .map_err(|error| StartError::Demo(format!("the demo key does not load: {error}")))?
        .with_key_id(DEMO_KID);
    let jwks = JwksServer::start(&jwks_document(&signer).map_err(StartError::Demo)?)
        .map_err(StartError::Demo)?;
    local.push((
        "JWKS_URL_TEMPLATE".to_owned(),
        "http://{jwks_host}/.well-known/jwks".to_owned(),
    ));
    local.push(("JWKS_ALLOWED_HOSTS".to_owned(), jwks.host()));
    // Everything the demo calls is on loopback: no proxy of the shell's
    // applies, and no extra roots are needed (empty is unset).
    for name in EGRESS_VARIABLES {
        local.push((name.to_owned(), String::new()));
    }
    let config = Config::from_vars(
        [("HOST".to_owned(), DEMO_HOST.to_owned())]
            .into_iter()
            // The shell's GTI API URLs would clash with the simulated ones
            // (portal links keep the regions' portals, or the shell's).
            .chain(vars.into_iter().filter(|(name, _)| !is_api_url(name)))
            .chain(local),
    )?;
    let configured_relay_url = config.relay_url().map(str::to_owned);
    let listen = config.listen_address();
    let (log_level, log_format) = (config.log_level(), config.log_format());
    let server = server::start(Arc::new(App::new(config)), &listen)?;
    let address = server.local_addr();
    let relay_url = local_url(address);
    let audiences = audiences(address, &relay_url, configured_relay_url.as_deref());
    let token = |region| {
        demo_token(&signer, &key, &jwks.host(), audiences.clone(), region).map_err(StartError::Demo)
    };
    let (token, eu_token) = (token(None)?, token(Some(Region::Eu))?);
    let preview = PreviewServer::start(address, &relay_url, &token).map_err(StartError::Demo)?;
    Ok(Demo {
        server,
        preview_url: preview.url(),
        preview,
        jwks,
        _gti: gtis,
        relay_url,
        token,
        eu_token,
        log_level,
        log_format,
    })
}

/// The simulated GTI of each region and what the relay needs to use them.
struct SimulatedGtis {
    gtis: Vec<MockGti>,
    /// The sample data's GTI API key, for the demo tokens.
    key: String,
    /// The variables that point the relay at them.
    vars: Vec<(String, String)>,
}

/// The regions whose enrichment `vars` switch off (SPEC §8.4), which the
/// demo honours as the relay does (an empty URL calls nothing): an empty
/// `GTI_<REGION>_ENTITY_V1_URL`, or an empty `GTI_ENTITY_V1_URL` for the
/// default region (`GTI_REGION`, `us` unless it names another).
fn enrichment_off(vars: &[(String, String)]) -> Vec<Region> {
    let get = |wanted: &str| {
        vars.iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    let default = get("GTI_REGION")
        .and_then(Region::parse)
        .unwrap_or(Region::Us);
    Region::ALL
        .into_iter()
        .filter(|region| {
            let own = format!("GTI_{}_ENTITY_V1_URL", region.variable_word());
            get(&own) == Some("") || (*region == default && get("GTI_ENTITY_V1_URL") == Some(""))
        })
        .collect()
}

/// Starts a simulated GTI per region, loaded with the sample data (the
/// APIs of `retired` answering 404); the regions of `no_enrichment` get an
/// empty entity v1 URL (no enrichment calls).
fn start_gtis(retired: &[Endpoint], no_enrichment: &[Region]) -> Result<SimulatedGtis, StartError> {
    let now = now_millis();
    let (mut gtis, mut key, mut vars) = (Vec::new(), String::new(), Vec::new());
    for region in Region::ALL {
        // Nobody reads the demo's call log: keeping none keeps the demo's
        // memory flat however long it serves.
        let gti = MockGti::try_start_with_call_log(0).map_err(|error| {
            StartError::Demo(format!("cannot start the simulated GTI: {error}"))
        })?;
        key = load_sample_data(&gti, now).map_err(StartError::Demo)?;
        for endpoint in retired {
            gti.fault(
                *endpoint,
                gti::Fault::gti_error(404, "client.not_found", "Not found."),
            );
        }
        let urls = gti.base_urls();
        let name = |api: &str| format!("GTI_{}_{api}_URL", region.name().to_uppercase());
        vars.push((name("DETECTIONS"), urls.detections));
        // As the real regions: the event search where the table has one.
        let events = region.default_urls().events.map(|_| urls.events);
        vars.push((name("EVENTS"), events.unwrap_or_default()));
        vars.push((name("ENTITY"), urls.entity));
        let entity_v1 = (!no_enrichment.contains(&region)).then_some(urls.entity_v1);
        vars.push((name("ENTITY_V1"), entity_v1.unwrap_or_default()));
        gtis.push(gti);
    }
    Ok(SimulatedGtis { gtis, key, vars })
}

impl Demo {
    /// The log level the demo's configuration asks for.
    pub fn log_level(&self) -> log::LevelFilter {
        self.log_level
    }

    /// The log format the demo's configuration asks for.
    pub fn log_format(&self) -> crate::logging::LogFormat {
        self.log_format
    }

    /// Stops on SIGTERM/SIGINT from now on.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        self.server.stop_on_signals()
    }

    /// Serves until the relay is stopped, then stops the demo's servers.
    pub fn join(self) {
        self.server.join();
        drop(self.preview);
        drop(self.jwks);
    }

    /// The banner's ready-to-paste commands: the tokens into `$TOKEN` and
    /// `$EU_TOKEN` once, then a handful of `curl`s (an observe, the sample
    /// IP's verdict and resolve actions, a tile, an EU tenant's observe);
    /// README.md's Quick start has one for every endpoint. None changes
    /// the sample data, so the dashboard preview shows what the curls do.
    pub fn curl_commands(&self) -> Vec<String> {
        let url = &self.relay_url;
        let auth = "-H \"Authorization: Bearer $TOKEN\"";
        let eu_auth = "-H \"Authorization: Bearer $EU_TOKEN\"";
        let json = "-H 'Content-Type: application/json'";
        let ip = format!("'[{{\"type\":\"ip\",\"value\":\"{DEMO_VERDICT_IP}\"}}]'");
        let dns = "'[{\"type\":\"ip\",\"value\":\"8.8.8.8\"}]'";
        let tile = format!(
            "'{{\"tile_id\":\"{}\",\"period\":\"{}\"}}'",
            crate::tiles::Tile::Summary.id(),
            crate::tiles::DEFAULT_PERIOD.id()
        );
        let post = |auth: &str, path: &str, body: &str| {
            format!("curl -s -X POST {auth} {json} -d {body} {url}{path}")
        };
        vec![
            format!("export TOKEN='{}'", self.token),
            format!("export EU_TOKEN='{}'", self.eu_token),
            post(auth, "/observe/observables", dns),
            post(auth, "/deliberate/observables", &ip),
            post(auth, "/respond/observables", &ip),
            post(auth, "/tiles/tile-data", &tile),
            post(eu_auth, "/observe/observables", dns),
        ]
    }

    /// Looks up [`OBSERVABLES`] through the relay's HTTP API, as SecureX
    /// would, and describes the answer per observable; then the EU
    /// tenant's answer in one line.
    pub fn summary(&self) -> Result<String, String> {
        let body = self.observe(&self.token)?;
        let observables: Vec<Value> = serde_json::from_str(OBSERVABLES)
            .map_err(|error| format!("observables.json is not JSON: {error}"))?;
        let mut text = summarise(&observables, &body);
        let eu = self.observe(&self.eu_token)?;
        text.push_str(&summarise_region(Region::Eu, &eu));
        Ok(text)
    }

    /// `/observe/observables` of [`OBSERVABLES`] with `token`.
    fn observe(&self, token: &str) -> Result<Value, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            // The relay on this machine: never through a proxy from the
            // environment.
            .proxy(None)
            .build()
            .new_agent();
        let mut response = agent
            .post(&format!("{}/observe/observables", self.relay_url))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(OBSERVABLES)
            .map_err(|error| format!("the demo relay did not answer: {error}"))?;
        let bytes = response
            .body_mut()
            .read_to_vec()
            .map_err(|error| format!("the demo relay's answer is unreadable: {error}"))?;
        serde_json::from_slice(&bytes)
            .map_err(|error| format!("the demo relay's answer is not JSON: {error}"))
    }
}

/// The counts the summary shows for one observable.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ObservableSummary {
    pub sightings: usize,
    /// The enrichment sightings (SPEC §8.4) as the summary names them
    /// (`entity summary`, `passive DNS`, `file summary`), in answer order.
    pub enrichment: Vec<&'static str>,
    /// Event types, upper-case as the sightings describe them, in order seen.
    pub event_types: Vec<String>,
    pub indicators: usize,
    pub relationships: usize,
    /// The title of the rule with the most sightings of this observable.
    pub top_rule: Option<String>,
}

/// Groups an `/observe` answer by observable: sightings name their
/// observable; relationships tie a sighting to its rule's indicator.
pub fn per_observable(body: &Value) -> HashMap<(String, String), ObservableSummary> {
    let docs = |kind: &str| -> Vec<Value> {
        body.pointer(&format!("/data/{kind}/docs"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let titles: HashMap<String, String> = docs("indicators")
        .iter()
        .filter_map(|indicator| {
            Some((
                indicator.get("id")?.as_str()?.to_owned(),
                indicator.get("title")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    let mut out: HashMap<(String, String), ObservableSummary> = HashMap::new();
    let owner = count_sightings(&docs("sightings"), &mut out);
    let rule_hits = count_relationships(&docs("relationships"), &owner, &mut out);
    for (key, hits) in rule_hits {
        if let Some(entry) = out.get_mut(&key) {
            entry.indicators = hits.len();
            // Most hits first; ties broken by indicator id, so it is stable.
            let top = hits
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(id, _)| titles.get(id).cloned().unwrap_or_else(|| id.clone()));
            entry.top_rule = top;
        }
    }
    out
}

/// Counts each observable's sightings and event types into `out`; the
/// observable of each sighting id.
fn count_sightings(
    sightings: &[Value],
    out: &mut HashMap<(String, String), ObservableSummary>,
) -> HashMap<String, (String, String)> {
    let mut owner: HashMap<String, (String, String)> = HashMap::new();
    for sighting in sightings {
        let observable = sighting.pointer("/observables/0");
        let field = |name: &str| {
            observable
                .and_then(|o| o.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let key = (field("type"), field("value"));
        let entry = out.entry(key.clone()).or_default();
        entry.sightings += 1;
        let event_type = sighting
            .get("description")
            .and_then(Value::as_str)
            .and_then(|text| text.lines().next())
            .and_then(|line| line.strip_prefix("- Event: `"))
            .map(|rest| rest.trim_end_matches('`').to_owned());
        if let Some(name) = enrichment_name(sighting) {
            if !entry.enrichment.contains(&name) {
                entry.enrichment.push(name);
            }
        }
        if let Some(event_type) = event_type {
            if !entry.event_types.contains(&event_type) {
                entry.event_types.push(event_type);
            }
        }
        if let Some(id) = sighting.get("id").and_then(Value::as_str) {
            owner.insert(id.to_owned(), key);
        }
    }
    owner
}

/// The title prefixes of the enrichment sightings (SPEC §8.4), each with
/// the name the summary gives it.
const ENRICHMENT_TITLES: [(&str, &str); 3] = [
    ("Entity summary", "entity summary"),
    ("Passive DNS", "passive DNS"),
    ("File summary", "file summary"),
];

/// The summary's name for an enrichment sighting, by its title; `None` for
/// an event sighting.
fn enrichment_name(sighting: &Value) -> Option<&'static str> {
    let title = sighting.get("title")?.as_str()?;
    ENRICHMENT_TITLES
        .iter()
        .find(|(prefix, _)| title.starts_with(prefix))
        .map(|(_, name)| *name)
}

/// Counts each observable's relationships into `out`; per observable, how
/// many of its sightings each indicator (rule) has.
fn count_relationships(
    relationships: &[Value],
    owner: &HashMap<String, (String, String)>,
    out: &mut HashMap<(String, String), ObservableSummary>,
) -> HashMap<(String, String), BTreeMap<String, usize>> {
    let mut rule_hits: HashMap<(String, String), BTreeMap<String, usize>> = HashMap::new();
    for relationship in relationships {
        let (Some(source), Some(target)) = (
            relationship.get("source_ref").and_then(Value::as_str),
            relationship.get("target_ref").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some(key) = owner.get(source) else {
            continue;
        };
        if let Some(entry) = out.get_mut(key) {
            entry.relationships += 1;
        }
        *rule_hits
            .entry(key.clone())
            .or_default()
            .entry(target.to_owned())
            .or_default() += 1;
    }
    rule_hits
}

/// The human summary of an `/observe` answer for `observables`.
pub fn summarise(observables: &[Value], body: &Value) -> String {
    let groups = per_observable(body);
    let mut text: String = observables
        .iter()
        .map(|observable| observable_line(observable, &groups))
        .collect();
    let total = |kind: &str| {
        body.pointer(&format!("/data/{kind}/count"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    text.push_str(&format!(
        "  total: {} sightings, {} indicators (one per rule, shared across observables), {} relationships\n",
        total("sightings"),
        total("indicators"),
        total("relationships"),
    ));
    let passive_dns = groups
        .values()
        .any(|group| group.enrichment.contains(&"passive DNS"));
    text.push_str(&format!(
        "  (the sample data also holds events{} of GTI test accounts; they are hidden because \
         the demo token does not set GTI_ALLOW_TEST_ACCOUNTS)\n",
        if passive_dns {
            " and passive DNS records"
        } else {
            ""
        }
    ));
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        for error in errors {
            let kind = match error.get("type").and_then(Value::as_str) {
                Some("warning") => "warning",
                _ => "error",
            };
            text.push_str(&format!(
                "  {kind}: {}: {}\n",
                error.get("code").and_then(Value::as_str).unwrap_or(""),
                error.get("message").and_then(Value::as_str).unwrap_or("")
            ));
        }
    }
    text
}

/// The summary's line for one observable of the request.
fn observable_line(
    observable: &Value,
    groups: &HashMap<(String, String), ObservableSummary>,
) -> String {
    let kind = observable.get("type").and_then(Value::as_str).unwrap_or("");
    let value = observable
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or("");
    let empty = ObservableSummary::default();
    let found = groups
        .get(&(kind.to_owned(), value.to_owned()))
        .unwrap_or(&empty);
    // Hashes are long; the first characters identify them well enough.
    let shown = if value.chars().count() > 20 {
        format!("{}…", value.chars().take(19).collect::<String>())
    } else {
        value.to_owned()
    };
    // The enrichment first, as the answer orders its sightings.
    let kinds: Vec<String> = found
        .enrichment
        .iter()
        .map(|name| (*name).to_owned())
        .chain(found.event_types.iter().map(|kind| kind.to_lowercase()))
        .collect();
    let types = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    format!(
        "  {kind:<7} {shown:<22} {} sightings{types}, {} indicators, {} relationships; top rule: {}\n",
        found.sightings,
        found.indicators,
        found.relationships,
        found.top_rule.as_deref().unwrap_or("none"),
    )
}

/// One line on a region's answer to the same lookup: how many sightings,
/// and the portal its links point at.
pub fn summarise_region(region: Region, body: &Value) -> String {
    let count = body
        .pointer("/data/sightings/count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let link = body
        .pointer("/data/sightings/docs/0/source_uri")
        .and_then(Value::as_str)
        .unwrap_or("none");
    // The portal is the link up to its path.
    let portal = link
        .find("://")
        .and_then(|scheme| {
            link[scheme + 3..]
                .find('/')
                .map(|path| &link[..scheme + 3 + path])
        })
        .unwrap_or(link);
    format!(
        "  {} tenant (eu-token): {count} sightings (its region's simulated GTI, no event search \
         there: detection events only); links point at {portal}\n",
        region.name().to_uppercase()
    )
}

/// Loads the DEMO ONLY sample data into the simulated GTI, timestamps resolved
/// against `now` (milliseconds since the epoch); returns the GTI key it accepts.
fn load_sample_data(gti: &MockGti, now: u64) -> Result<String, String> {
    let mut data: Value = serde_json::from_str(SAMPLE_DATA)
        .map_err(|error| format!("the demo's sample data is not JSON: {error}"))?;
    resolve_times(&mut data, now);
    let key = data
        .get("gti_api_key")
        .and_then(Value::as_str)
        .unwrap_or(gti::TEST_KEY)
        .to_owned();
    gti.set_key(&key);
    load_detections(gti, &data);
    for (query, events) in object(&data, "searches") {
        gti.add_searched_events(&query, events.as_array().cloned().unwrap_or_default());
    }
    for (ip, records) in object(&data, "dhcp") {
        gti.set_dhcp_records(&ip, records.as_array().cloned().unwrap_or_default());
    }
    load_entities(gti, &data);
    Ok(key)
}

/// The sample detections, each with its events, served by every indicator
/// value they name (as GTI finds a detection), with the rules they cite.
fn load_detections(gti: &MockGti, data: &Value) {
    let rules: Vec<Value> = array(data, "rules");
    let mut by_value: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for mut detection in array(data, "detections") {
        let events = detection
            .as_object_mut()
            .and_then(|object| object.remove("events"))
            .and_then(|events| events.as_array().cloned())
            .unwrap_or_default();
        if let Some(uuid) = detection.get("uuid").and_then(Value::as_str) {
            gti.set_detection_events(uuid, events);
        }
        let values: HashSet<String> = detection
            .get("indicators")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|indicator| indicator.get("values").and_then(Value::as_array))
            .flatten()
            .filter_map(|value| value.as_str().map(str::to_owned))
            .collect();
        for value in values {
            by_value.entry(value).or_default().push(detection.clone());
        }
    }
    for (value, detections) in by_value {
        let wanted: HashSet<&str> = detections
            .iter()
            .filter_map(|detection| detection.get("rule_uuid").and_then(Value::as_str))
            .collect();
        let rules: Vec<&Value> = rules
            .iter()
            .filter(|rule| {
                rule.get("uuid")
                    .and_then(Value::as_str)
                    .is_some_and(|uuid| wanted.contains(uuid))
            })
            .collect();
        gti.set_detections(&value, json!({"detections": detections, "rules": rules}));
    }
}

/// The sample entity v1 answers (SPEC §8.4), stored bare and served in the
/// shapes GTI sends: `entity_summaries` and `passive_dns` by IP or domain,
/// each of `file_summaries` under every hash it gives (its `entity` that
/// hash).
fn load_entities(gti: &MockGti, data: &Value) {
    for (value, summary) in object(data, "entity_summaries") {
        gti.set_entity(
            Endpoint::EntitySummary,
            &value,
            json!({ "summary": summary }),
        );
    }
    for (value, records) in object(data, "passive_dns") {
        gti.set_entity(
            Endpoint::PassiveDns,
            &value,
            json!({ "passivedns": records }),
        );
    }
    for file in array(data, "file_summaries") {
        for kind in ["md5", "sha1", "sha256"] {
            let Some(hash) = file.get(kind).and_then(Value::as_str) else {
                continue;
            };
            let mut answer = file.clone();
            answer["entity"] = json!(hash);
            gti.set_entity(Endpoint::FileSummary, hash, json!({ "file": answer }));
        }
    }
}

fn array(data: &Value, name: &str) -> Vec<Value> {
    data.get(name)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn object(data: &Value, name: &str) -> Map<String, Value> {
    data.get(name)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Replaces every string `now-<n><m|h|d>` in `data` by that moment as GTI
/// writes timestamps, so the sample events fall into the search windows.
fn resolve_times(data: &mut Value, now: u64) {
    match data {
        Value::String(text) => {
            if let Some(millis) = relative_millis(text) {
                *text = crate::time::format_timestamp(now.saturating_sub(millis));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| resolve_times(item, now)),
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|value| resolve_times(value, now)),
        _ => {}
    }
}

/// `now-90m` → 90 minutes in milliseconds; `None` for any other text.
fn relative_millis(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("now-")?;
    let unit = match rest.chars().last()? {
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let count: u64 = rest[..rest.len() - 1].parse().ok()?;
    count.checked_mul(unit)
}

/// The demo JWKS document: the demo key's public half under [`DEMO_KID`].
fn jwks_document(signer: &RS256KeyPair) -> Result<String, String> {
    let components = signer.public_key().to_components();
    let encode = |bytes: &[u8]| {
        Base64UrlSafeNoPadding::encode_to_string(bytes)
            .map_err(|error| format!("cannot encode the demo key: {error}"))
    };
    Ok(json!({"keys": [{
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": DEMO_KID,
        "n": encode(&components.n)?,
        "e": encode(&components.e)?,
    }]})
    .to_string())
}

/// The URL local clients reach the relay at: loopback when it listens on
/// every address.
fn local_url(address: SocketAddr) -> String {
    let host = match address {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => "127.0.0.1".to_owned(),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => "[::1]".to_owned(),
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
    };
    format!("http://{host}:{}", address.port())
}

/// Every URL a local client may name the relay by: the token's `aud` is
/// checked against the request's `Host`, which depends on how it was typed
/// (`localhost`, `127.0.0.1`, a published container port…).
fn audiences(address: SocketAddr, local: &str, configured: Option<&str>) -> Vec<String> {
    let port = address.port();
    let mut all = vec![
        local.to_owned(),
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
    ];
    all.extend(configured.map(str::to_owned));
    let mut seen = HashSet::new();
    all.retain(|url| seen.insert(url.clone()));
    all
}

/// A DEMO ONLY token as SecureX would send it: the simulated GTI's key,
/// the local JWKS host, 100 entities, test accounts not allowed, and the
/// `GTI_REGION` claim when `region` names one.
fn demo_token(
    signer: &RS256KeyPair,
    key: &str,
    jwks_host: &str,
    audiences: Vec<String>,
    region: Option<Region>,
) -> Result<String, String> {
    let mut custom = Map::new();
    custom.insert("key".to_owned(), json!(key));
    custom.insert("jwks_host".to_owned(), json!(jwks_host));
    custom.insert("CTR_ENTITIES_LIMIT".to_owned(), json!(100));
    custom.insert("GTI_ALLOW_TEST_ACCOUNTS".to_owned(), json!(false));
    if let Some(region) = region {
        custom.insert("GTI_REGION".to_owned(), json!(region.name()));
    }
    let claims = Claims::with_custom_claims(
        custom,
        jwt_simple::prelude::Duration::from_hours(TOKEN_LIFETIME_HOURS),
    )
    .with_audiences(audiences.into_iter().collect::<HashSet<_>>());
    signer
        .sign(claims)
        .map_err(|error| format!("cannot sign the demo token: {error}"))
}

/// The demo's JWKS endpoint: one loopback tiny_http server answering every
/// request with the demo key set.
struct JwksServer {
    http: Arc<tiny_http::Server>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl JwksServer {
    fn start(document: &str) -> Result<JwksServer, String> {
        let http = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|error| format!("cannot start the demo JWKS server: {error}"))?;
        let port = http
            .server_addr()
            .to_ip()
            .map(|address| address.port())
            .ok_or("the demo JWKS server is not on an IP socket")?;
        let http = Arc::new(http);
        let serving = Arc::clone(&http);
        let document = document.to_owned();
        let thread = std::thread::Builder::new()
            .name("demo-jwks".to_owned())
            .spawn(move || {
                // Ends when `unblock` is called on drop.
                for request in serving.incoming_requests() {
                    let mut answer = tiny_http::Response::from_string(document.clone());
                    if let Ok(header) =
                        tiny_http::Header::from_bytes("Content-Type", "application/json")
                    {
                        answer = answer.with_header(header);
                    }
                    let _ = request.respond(answer);
                }
            })
            .map_err(|error| format!("cannot start the demo JWKS server: {error}"))?;
        Ok(JwksServer {
            http,
            port,
            thread: Some(thread),
        })
    }

    /// `127.0.0.1:<port>`: the `jwks_host` of demo tokens.
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_resolve_and_other_text_stays() {
        assert_eq!(relative_millis("now-90m"), Some(90 * 60_000));
        assert_eq!(relative_millis("now-2d"), Some(2 * 86_400_000));
        assert_eq!(relative_millis("now"), None);
        assert_eq!(relative_millis("now-xh"), None);
        let mut data = json!({"a": ["now-1h", "text"], "b": {"c": "now-1d"}});
        resolve_times(&mut data, 2 * 86_400_000);
        assert_eq!(
            data,
            json!({"a": ["1970-01-02T23:00:00.000Z", "text"], "b": {"c": "1970-01-02T00:00:00.000Z"}})
        );
    }

    #[test]
    fn the_sample_data_has_no_unresolved_times() {
        let mut data: Value = serde_json::from_str(SAMPLE_DATA).unwrap();
        resolve_times(&mut data, now_millis());
        assert!(!data.to_string().contains("\"now-"));
    }

    /// The status and JSON body of the entity v1 look-up `what` (`summary`,
    /// `pdns`, `file`) of `value` at a simulated GTI accepting `key`.
    fn entity_call(gti: &MockGti, key: &str, value: &str, what: &str) -> (u16, Value) {
        let url = format!("{}entity/{value}/{what}", gti.base_urls().entity_v1);
        let mut answer = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .new_agent()
            .get(&url)
            .header("Authorization", &format!("IBToken {key}"))
            .call()
            .unwrap();
        let status = answer.status().as_u16();
        let bytes = answer.body_mut().read_to_vec().unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// The same, which must have answered 200.
    fn entity_answer(gti: &MockGti, key: &str, value: &str, what: &str) -> Value {
        let (status, body) = entity_call(gti, key, value, what);
        assert_eq!(status, 200, "{what} of {value}: {body}");
        body
    }

    #[test]
    fn the_sample_data_enriches_every_observable() {
        let gti = MockGti::try_start_with_call_log(0).unwrap();
        let key = load_sample_data(&gti, now_millis()).unwrap();
        let observables: Vec<Value> = serde_json::from_str(OBSERVABLES).unwrap();
        for observable in &observables {
            let value = observable["value"].as_str().unwrap();
            if observable["type"] == "ip" || observable["type"] == "domain" {
                let summary = &entity_answer(&gti, &key, value, "summary")["summary"];
                assert!(summary["first_seen"].is_string(), "{summary}");
                assert!(summary["last_seen"].is_string(), "{summary}");
                assert!(!summary["prevalence_count_internal"].is_null(), "{summary}");
                assert!(summary["tags"][0]["text"].is_string(), "{summary}");
                let pdns = entity_answer(&gti, &key, value, "pdns");
                let records = pdns["passivedns"].as_array().unwrap();
                for kind in ["A", "AAAA", "CNAME"] {
                    assert!(
                        records.iter().any(|record| record["record_type"]
                            .as_str()
                            .is_some_and(|found| found.eq_ignore_ascii_case(kind))),
                        "no {kind} record of {value}: {pdns}"
                    );
                }
                assert!(
                    records.iter().any(|record| record["account_uuid"] == "dmo"),
                    "no test-account record of {value}: {pdns}"
                );
            } else {
                let file = &entity_answer(&gti, &key, value, "file")["file"];
                assert_eq!(file["entity"], json!(value));
                assert_eq!(file[observable["type"].as_str().unwrap()], json!(value));
                for field in ["md5", "sha1", "sha256", "first_seen"] {
                    assert!(file[field].is_string(), "{field}: {file}");
                }
                assert!(file["bytes"].is_u64(), "{file}");
                assert!(file["mime_type"][0].is_string(), "{file}");
                assert!(file["names"][0].is_string(), "{file}");
                for fact in [
                    "compile_time",
                    "imphash",
                    "machine",
                    "subsystem",
                    "sections",
                ] {
                    assert!(!file["pe"][fact].is_null(), "{fact}: {file}");
                }
            }
        }
        // Entities the sample data does not hold stay unknown (404).
        assert_eq!(entity_call(&gti, &key, "192.0.2.1", "summary").0, 404);
    }

    #[test]
    fn summary_groups_by_observable() {
        let body = json!({"data": {
            "sightings": {"count": 2, "docs": [
                {"id": "s1", "description": "- Event: `DNS`\n- Rule: `R`", "observables": [{"type": "ip", "value": "1.2.3.4"}]},
                {"id": "s2", "description": "- Event: `FLOW`", "observables": [{"type": "ip", "value": "1.2.3.4"}]}
            ]},
            "indicators": {"count": 1, "docs": [{"id": "i1", "title": "Rule one"}]},
            "relationships": {"count": 1, "docs": [{"source_ref": "s1", "target_ref": "i1"}]}
        }});
        let groups = per_observable(&body);
        let ip = &groups[&("ip".to_owned(), "1.2.3.4".to_owned())];
        assert_eq!(ip.sightings, 2);
        assert_eq!(ip.event_types, vec!["DNS", "FLOW"]);
        assert_eq!((ip.indicators, ip.relationships), (1, 1));
        assert_eq!(ip.top_rule.as_deref(), Some("Rule one"));
        let text = summarise(&[json!({"type": "ip", "value": "1.2.3.4"})], &body);
        assert!(text.contains("2 sightings (dns, flow)"), "{text}");
        // Without enrichment sightings the summary says nothing of them.
        assert!(ip.enrichment.is_empty());
        assert!(
            !text.contains("summary,") && !text.contains("passive DNS"),
            "{text}"
        );
    }

    #[test]
    fn summary_names_the_enrichment_sightings_first() {
        let ip = json!([{"type": "ip", "value": "1.2.3.4"}]);
        let sighting = |id: &str, title: Option<&str>, description: &str| {
            let mut sighting = json!({"id": id, "description": description, "observables": ip});
            if let Some(title) = title {
                sighting["title"] = json!(title);
            }
            sighting
        };
        let body = json!({"data": {"sightings": {"count": 4, "docs": [
            sighting("e1", Some("Entity summary of 1.2.3.4"), "- First seen: x"),
            sighting("e2", Some("Passive DNS of 1.2.3.4"), "3 records"),
            sighting("s1", None, "- Event: `DNS`"),
            sighting("s2", None, "- Event: `FLOW`"),
        ]}}});
        let groups = per_observable(&body);
        let found = &groups[&("ip".to_owned(), "1.2.3.4".to_owned())];
        assert_eq!(found.enrichment, vec!["entity summary", "passive DNS"]);
        assert_eq!(found.event_types, vec!["DNS", "FLOW"]);
        let text = summarise(ip.as_array().unwrap(), &body);
        assert!(
            text.contains("4 sightings (entity summary, passive DNS, dns, flow)"),
            "{text}"
        );
        assert!(
            text.contains("events and passive DNS records of GTI test accounts"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_entity_v1_url_switches_the_demo_enrichment_off() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect()
        };
        assert_eq!(enrichment_off(&vars(&[])), vec![]);
        let off = [("GTI_ENTITY_V1_URL", "")];
        assert_eq!(enrichment_off(&vars(&off)), vec![Region::Us]);
        let eu_default = [("GTI_REGION", "EU"), ("GTI_ENTITY_V1_URL", "")];
        assert_eq!(enrichment_off(&vars(&eu_default)), vec![Region::Eu]);
        let both = [("GTI_ENTITY_V1_URL", ""), ("GTI_EU_ENTITY_V1_URL", "")];
        assert_eq!(enrichment_off(&vars(&both)), vec![Region::Us, Region::Eu]);
        // A URL is the simulated GTI's anyway: only empty switches off.
        let url = [("GTI_US_ENTITY_V1_URL", "https://entity.example/v1/")];
        assert_eq!(enrichment_off(&vars(&url)), vec![]);
    }

    #[test]
    fn audiences_cover_the_usual_names() {
        let address: SocketAddr = "0.0.0.0:9090".parse().unwrap();
        let local = local_url(address);
        assert_eq!(local, "http://127.0.0.1:9090");
        let all = audiences(address, &local, None);
        assert!(all.contains(&"http://localhost:9090".to_owned()));
        let unique: HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "{all:?}");
    }
}
