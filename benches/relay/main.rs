//! `make bench`: the relay measured against the physical limit.
//!
//! Per observable the dependent chain is three GTI round trips (detections →
//! the events of every detection at once → DHCP); the day-window searches
//! run beside the chain. With the JWKS cached, the floor of an observe
//! request is therefore about 3 L, L being one GTI round trip, whatever the
//! number of observables — as long as the calls in flight are not capped.
//!
//! The relay runs as a separate release process (so its CPU time and memory
//! can be read from `/proc/<pid>`) on port 0, its address read back from
//! its start-up log line (`testkit::child`), the simulated GTI (`demo::gti::MockGti`,
//! with a per-call latency L) and a mock JWKS in this process, all on
//! loopback. Every loop is bounded in count and in time. Every relay starts
//! without the caller's relay and allocator variables (`GLIBC_TUNABLES`,
//! `MALLOC_*`, …): as built, as a user who runs the binary directly has
//! it, unless a row says it runs as shipped (`support::setup`).
//!
//! One file per section (`latency`, `resources`, `limit1000`, `plateau`,
//! `demo`), what they share in `support/`; this file reads the options and
//! runs the sections asked for.
//!
//! The sections, each selectable with `--only` (all of them by default):
//! `latency` (at every L and cap, issue 10's rows with their targets:
//! observe N = 1, 5, 20, 50 and health; the fairness row, N = 1 beside a
//! running N = 200; throughput at N = 5 with 1, 8 and 32 clients; then on
//! a fresh relay per `WORKERS` value (the default and `--workers`) 32
//! clients again, with the relay's CPU per request, the threads it created
//! per 1,000 GTI calls (`perf stat`, after a warm-up; issue 19), its RSS
//! right after the load, its CPU over 5 s without requests and its RSS
//! after them), `resources` (L = 0: CPU per observe, idle RSS, binary size,
//! start-up), and issue 9's cases at L = 0: `limit1000` (a
//! `CTR_ENTITIES_LIMIT` 1000 token and 1, 5 and 20 observables of ~1,000
//! sightings each, their events as large and varied as GTI's, of every
//! type the mapper knows (issue 19): wall, answer bytes per sighting, CPU
//! per 1,000 sightings, peak and settled RSS and threads created per 1,000
//! GTI calls, each column run as built and as shipped), `plateau` (RSS
//! under 8 clients × 800 observes) and `demo` (the RSS of `gti-relay demo`
//! over 3,000 observes). The latency, resources and plateau rows keep issue
//! 9's compact events, so their figures compare with earlier runs.
//!
//! Options (after `--`, or `make bench BENCH_ARGS='…'`):
//! `--only limit1000,demo` the sections to run; `--latency-ms 20,50` the L
//! values; `--caps 64,256,512` the `GTI_MAX_INFLIGHT` values of the
//! `latency` section (by default the relay's own; `resources`, `limit1000` and
//! `plateau` keep 64, as issue 9's figures were taken); `--workers 16,128`
//! the `WORKERS` values run beside the relay's default for the 32-client
//! row (`--workers 64`, the default, runs none); `--requests 30` samples per
//! latency row; `--throughput-secs 5` the least time per throughput row;
//! `--relay PATH` another relay binary as built (e.g. one built with
//! symbols, for a profiler; the defaults marked are this library's);
//! `--shipped PATH` another binary for `limit1000`'s as-shipped rows (by
//! default the `make static` one, `target/x86_64-unknown-linux-gnu/release/`;
//! "not built (make static)" when it is missing); `--enrichment off` relays
//! without the entity v1 look-ups; `--resources-only` is `--only resources`.

mod demo;
mod latency;
mod limit1000;
mod plateau;
mod resources;
mod support;

use std::time::Duration;

use gti_relay::config::Config;
use gti_relay::demo::gti::MockGti;
use gti_relay::time::now_millis;
use serde_json::json;
use testkit::procfs::{cores, load_average, proc_meminfo_kib};
use testkit::{args, jwks, tokens};

use support::setup::{static_binary, Setup};
use support::{Bench, RELAY_URL};

/// The parts of a run, as `--only` names them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Latency,
    Resources,
    Limit1000,
    Plateau,
    Demo,
}

impl Section {
    const ALL: [Section; 5] = [
        Section::Latency,
        Section::Resources,
        Section::Limit1000,
        Section::Plateau,
        Section::Demo,
    ];

    fn name(self) -> &'static str {
        match self {
            Section::Latency => "latency",
            Section::Resources => "resources",
            Section::Limit1000 => "limit1000",
            Section::Plateau => "plateau",
            Section::Demo => "demo",
        }
    }

    fn named(name: &str) -> Option<Section> {
        Section::ALL
            .into_iter()
            .find(|section| section.name() == name)
    }
}

/// What the command line asks for (see the options above).
struct Options {
    latencies: Vec<u64>,
    caps: Vec<usize>,
    /// `WORKERS` values beside the relay's default for the
    /// [`latency::LOAD_CLIENTS`] row.
    workers: Vec<usize>,
    requests: usize,
    throughput_time: Duration,
    relay: String,
    /// The relay as shipped (`limit1000`): by default the `make static`
    /// binary beside `relay`'s target folder.
    shipped: String,
    /// `--enrichment off`: the relays make no entity v1 look-ups.
    enrichment: bool,
    /// The sections to run (`--only`; all by default).
    sections: Vec<Section>,
}

impl Options {
    fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }
}

fn options() -> Options {
    parse(lexopt::Parser::from_env()).unwrap_or_else(|problem| usage(&problem))
}

/// The options on `parser`'s command line over their defaults.
fn parse(mut parser: lexopt::Parser) -> Result<Options, String> {
    use lexopt::Arg::{Long, Short, Value};
    let mut options = Options {
        latencies: vec![20, 50],
        caps: vec![Config::default().gti_max_inflight()],
        workers: vec![16, 128],
        requests: 30,
        throughput_time: Duration::from_secs(5),
        relay: env!("CARGO_BIN_EXE_gti-relay").to_owned(),
        shipped: String::new(),
        enrichment: true,
        sections: Section::ALL.to_vec(),
    };
    while let Some(arg) = parser.next().map_err(args::problem)? {
        match arg {
            // `cargo bench` passes `--bench` to every bench target.
            Long("bench") => {}
            Long("latency-ms") => options.latencies = args::numbers(&mut parser, "--latency-ms")?,
            Long("caps") => options.caps = args::numbers(&mut parser, "--caps")?,
            Long("workers") => options.workers = args::numbers(&mut parser, "--workers")?,
            Long("requests") => options.requests = args::number(&mut parser, "--requests")?,
            Long("throughput-secs") => {
                let secs = args::number(&mut parser, "--throughput-secs")?;
                options.throughput_time = Duration::from_secs(secs);
            }
            Long("relay") => options.relay = args::text(&mut parser, "--relay")?,
            Long("shipped") => options.shipped = args::text(&mut parser, "--shipped")?,
            Long("enrichment") => {
                options.enrichment = match args::text(&mut parser, "--enrichment")?.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err("--enrichment takes on or off".to_owned()),
                }
            }
            Long("only") => {
                options.sections = args::text(&mut parser, "--only")?
                    .split(',')
                    .map(|name| Section::named(name.trim()))
                    .collect::<Option<_>>()
                    .ok_or("--only takes section names")?
            }
            Long("resources-only") => options.sections = vec![Section::Resources],
            Long(_) | Short(_) | Value(_) => return Err("unknown argument".to_owned()),
        }
    }
    if options.shipped.is_empty() {
        options.shipped = static_binary(&options.relay);
    }
    options.requests = options.requests.clamp(30, 1000);
    if options.latencies.is_empty() || options.caps.is_empty() {
        return Err("--latency-ms and --caps need at least one value".to_owned());
    }
    Ok(options)
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "bench: {problem}\nusage: relay [--only SECTION,…] [--latency-ms 20,50] [--caps 64,256,512] [--workers 16,128] [--requests 30] [--throughput-secs 5] [--relay PATH] [--shipped PATH] [--enrichment on|off] [--resources-only]\nsections: {}",
        Section::ALL.map(Section::name).join(", ")
    );
    std::process::exit(2)
}

fn main() {
    let options = options();
    print_machine();

    let jwks_server = jwks::MockJwks::start(tokens::jwks(&[(tokens::relay_key(), "bench")]));
    // A token whose `CTR_ENTITIES_LIMIT` is `limit`.
    let token = |limit: usize| {
        let mut payload = tokens::payload(&jwks_server.host(), RELAY_URL);
        payload.insert("CTR_ENTITIES_LIMIT".to_owned(), json!(limit));
        tokens::sign(tokens::relay_key(), Some("bench"), &payload)
    };
    let gti = MockGti::start();
    let now = now_millis();
    let latency_observables = latency::load_observables(&gti, now);
    let built = Setup::as_built(&options.relay);
    let bench = Bench {
        setup: &built,
        gti: &gti,
        jwks_host: jwks_server.host(),
        token: token(100),
        enrichment: options.enrichment,
    };

    // Resources first, while the machine is as calm as this run gets.
    let resources = options
        .runs(Section::Resources)
        .then(|| resources::measure(&bench, now));
    if options.runs(Section::Latency) {
        latency::run(&bench, &options, &latency_observables);
    }
    if let Some(resources) = resources {
        println!();
        resources.print();
    }
    if options.runs(Section::Limit1000) {
        println!();
        let bench = bench.with_token(token(limit1000::HEAVY_LIMIT));
        limit1000::run(&bench, &Setup::as_shipped(&options.shipped), now);
    }
    if options.runs(Section::Plateau) {
        println!();
        plateau::run(&bench, &latency_observables);
    }
    if options.runs(Section::Demo) {
        println!();
        demo::run(&bench);
    }
}

fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown", |(_, model)| model.trim());
    let memory = proc_meminfo_kib("MemTotal:");
    println!("# gti-relay benchmark");
    println!();
    println!(
        "machine: {} cores, {model}, {:.1} GiB memory; load average at start: {}",
        cores(),
        memory as f64 / 1024.0 / 1024.0,
        load_average()
    );
}
