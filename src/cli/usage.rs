//! The `--help` text. The defaults it shows are read from where they are
//! decided — [`Config::default`], the demo's host, the tiles' periods — so
//! the help cannot drift from what the relay does.

use crate::config::Config;
use crate::demo::DEMO_HOST;
use crate::tiles::{DEFAULT_PERIOD, PERIODS};

/// The usage text, for `--help` and after a usage error.
pub(super) fn text() -> String {
    let config = Config::default();
    let demo = format!("{DEMO_HOST}:{}", config.port());
    format!(
        "{}{}{}",
        commands(&config.listen_address(), &demo),
        KEYS_AND_REGIONS,
        variables(&config)
    )
}

/// The command synopsis; `serve` and `demo` are the default listen addresses.
fn commands(serve: &str, demo: &str) -> String {
    format!(
        "\
gti-relay: SecureX / Cisco XDR relay module for Gigamon ThreatINSIGHT

Usage:
  gti-relay                      serve the relay API on HOST:PORT (default {serve})
  gti-relay demo [--retire search,dhcp]
                                 serve with a simulated GTI and a demo token (HOST:PORT,
                                 default {demo}); prints the dashboard preview's URL and a few curls;
                                 --retire: its event search and/or DHCP look-up answer 404
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
                                 (PERIOD: {periods})
  gti-relay health [--key-file PATH] [--region us|eu]
                                 check that GTI accepts the API key
  gti-relay healthcheck          GET /watchdog of the relay on localhost:$PORT (containers)
  gti-relay --help | --version

",
        periods = periods()
    )
}

/// `last_24_hours, last_7_days (default), last_30_days`.
fn periods() -> String {
    PERIODS
        .iter()
        .map(|period| {
            if *period == DEFAULT_PERIOD {
                format!("{} (default)", period.id())
            } else {
                period.id().to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const KEYS_AND_REGIONS: &str = "\
The GTI API key of observe, deliberate, respond, tiles and health comes from --key-file PATH (a file that
holds only the key, such as a mounted Kubernetes secret; surrounding whitespace
is ignored), else from the GTI_API_KEY environment variable. --key KEY still
works but is discouraged: the process list shows the key to every user of the
machine. --key and --key-file exclude each other.

--region us|eu picks the FortiNDR Cloud region of observe, health and refer
(default GTI_REGION), as a token's GTI_REGION claim does for the relay API.

";

/// The variables worth knowing from the command line, with their defaults.
fn variables(config: &Config) -> String {
    let with_default = |name: &str, default: &dyn std::fmt::Display| {
        format!("  {:<26} ", format!("{name} ({default})"))
    };
    format!(
        "\
All other settings come from environment variables (GTI_TIMEOUT_SECS, …); see
README.md. Regions and egress:
{region}the region of tokens without a GTI_REGION claim: us, eu
  GTI_DETECTIONS_URL, GTI_EVENTS_URL, GTI_ENTITY_URL, GTI_ENTITY_V1_URL,
  GTI_PORTAL_URL             override the default region's URLs
  GTI_US_<API>_URL, GTI_EU_<API>_URL
                             (API = DETECTIONS, EVENTS, ENTITY, ENTITY_V1, PORTAL)
                             override one region's (not both forms for one region
                             and API); an empty events URL switches the search off
                             (the EU region has none by default), an empty entity
                             v1 URL the enrichment (entity summary, passive DNS,
                             file summary)
  HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY
                             egress proxy for GTI and JWKS calls, read as curl does
  GTI_CA_FILE                PEM bundle of extra root certificates (a TLS-
                             intercepting proxy's), trusted beside the built-in ones
Capacity and bounds:
{inflight}GTI calls in flight at once, across all requests,
                             health checks included
{workers}request threads; each holds one request throughout
{deadline}a request's whole time budget, retries included

Exit codes: 0 ok, 1 GTI or relay error, 2 usage or configuration error (a
missing key, an unreadable or empty key file).",
        region = with_default("GTI_REGION", &config.region()),
        inflight = with_default("GTI_MAX_INFLIGHT", &config.gti_max_inflight()),
        workers = with_default("WORKERS", &config.workers()),
        deadline = with_default(
            "REQUEST_DEADLINE_SECS",
            &config.request_deadline().as_secs()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_shown_are_the_configurations() {
        let config = Config::default();
        let text = text();
        for shown in [
            format!("(default {})", config.listen_address()),
            format!(
                "(HOST:PORT,\n{:33}default {DEMO_HOST}:{}",
                "",
                config.port()
            ),
            format!("GTI_REGION ({})            the region", config.region()),
            format!(
                "GTI_MAX_INFLIGHT ({})     GTI calls",
                config.gti_max_inflight()
            ),
            format!(
                "WORKERS ({})               request threads",
                config.workers()
            ),
            format!(
                "REQUEST_DEADLINE_SECS ({}) a request's",
                config.request_deadline().as_secs()
            ),
            format!("{} (default)", DEFAULT_PERIOD.id()),
        ] {
            assert!(text.contains(&shown), "{shown:?} not in:\n{text}");
        }
    }
}
