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
//! loopback. Every loop is bounded in count and in time.
//!
//! The sections, each selectable with `--only` (all of them by default):
//! `latency` (at every L and cap, issue 10's rows with their targets:
//! observe N = 1, 5, 20, 50 and health; the fairness row, N = 1 beside a
//! running N = 200; throughput at N = 5 with 1, 8 and 32 clients; then on
//! a fresh relay per `WORKERS` value (the default and `--workers`) 32
//! clients again, with the relay's CPU per request, its RSS right after the
//! load, its CPU over 5 s without requests and its RSS after them),
//! `resources` (L = 0: CPU per observe, idle RSS, binary size, start-up),
//! and issue 9's cases at L = 0: `limit1000` (a `CTR_ENTITIES_LIMIT` 1000
//! token and 1, 5 and 20 observables of ~1,000 sightings each: wall, CPU
//! per 1,000 sightings, peak and settled RSS), `plateau` (RSS under 8
//! clients × 800 observes) and `demo` (the RSS of `gti-relay demo` over
//! 3,000 observes).
//!
//! Options (after `--`, or `make bench BENCH_ARGS='…'`):
//! `--only limit1000,demo` the sections to run; `--latency-ms 20,50` the L
//! values; `--caps 64,256,512` the `GTI_MAX_INFLIGHT` values of the
//! `latency` section (by default the relay's own; `resources`, `limit1000` and
//! `plateau` keep 64, as issue 9's figures were taken); `--workers 16,128`
//! the `WORKERS` values run beside the relay's default for the 32-client
//! row (`--workers 64`, the default, runs none); `--requests 30` samples per
//! latency row; `--throughput-secs 5` the least time per throughput row;
//! `--relay PATH` another relay binary (e.g. one built with symbols, for a
//! profiler; the defaults marked are this library's); `--resources-only` is
//! `--only resources`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gti_relay::config::Config;
use gti_relay::demo::gti::MockGti;
use gti_relay::time::{format_timestamp, now_millis};
use serde::Deserialize;
use serde_json::{json, Value};
use testkit::child::{self, Banner, Relay};
use testkit::procfs::*;
use testkit::samples::{mb, ms, percentile};
use testkit::{jwks, tokens};

/// The audience the relay is told it serves (`RELAY_URL`), so that one token
/// works whatever port the relay gets.
const RELAY_URL: &str = "http://relay.bench";

/// Observable counts of the latency rows.
const OBSERVABLE_COUNTS: [usize; 4] = [1, 5, 20, 50];

/// The fairness row: a request of this many observables (of the latency
/// rows' shape) runs while a request of one is timed beside it, in each of
/// [`FAIRNESS_ROUNDS`] rounds; the one must answer within
/// [`FAIRNESS_TARGET`] L (issue 10).
const FAIRNESS_BIG: usize = 200;
const FAIRNESS_ROUNDS: usize = 5;
const FAIRNESS_TARGET: f64 = 5.0;

/// Concurrent clients of the throughput rows (observe, N = 5).
const CLIENTS: [usize; 3] = [1, 8, LOAD_CLIENTS];

/// The throughput row after which the relay's CPU per request, RSS and
/// idle CPU are read (issue 10), and the row run for the other `--workers`;
/// its targets; how long the relay is left without requests after it.
const LOAD_CLIENTS: usize = 32;
const LOAD_RATE_TARGET: f64 = 60.0;
const LOAD_CPU_TARGET_MS: f64 = 3.0;
const IDLE_TIME: Duration = Duration::from_secs(5);
const IDLE_CPU_TARGET_PERCENT: f64 = 1.0;
const IDLE_RSS_TARGET_MIB: f64 = 16.0;

/// Requests run before each row is measured (connections, caches).
const WARM_UP: usize = 3;

/// No row may take longer than this, whatever happens.
const ROW_TIME_LIMIT: Duration = Duration::from_secs(90);

/// Requests of the CPU row, and its time limit.
const CPU_REQUESTS: usize = 400;

/// Starts measured for the start-up row.
const STARTS: usize = 5;

/// The shape of the GTI data behind each observable.
#[derive(Clone, Copy)]
struct Shape {
    detections: usize,
    events_per_detection: usize,
    /// Searched events, spread round-robin over the 7 day windows.
    searched: usize,
}

impl Shape {
    fn events(self) -> usize {
        self.detections * self.events_per_detection + self.searched
    }

    /// GTI calls per observable: detections, one per detection, one per
    /// window, DHCP.
    fn calls(self) -> usize {
        1 + self.detections + DAY_RANGE + 1
    }
}

/// The relay's default `GTI_DAY_RANGE`.
const DAY_RANGE: usize = 7;

/// Latency rows: 3 detections × 4 events, 2 searched events per window.
const LATENCY_SHAPE: Shape = Shape {
    detections: 3,
    events_per_detection: 4,
    searched: 14,
};

/// The CPU row: 100 events per observable (the default limit), 5 observables.
const CPU_SHAPE: Shape = Shape {
    detections: 5,
    events_per_detection: 10,
    searched: 50,
};
const CPU_OBSERVABLES: usize = 5;

/// The `limit1000` section: a token with `CTR_ENTITIES_LIMIT` 1000, and per
/// observable 1 detection × 12 events and 160 searched events in each of the
/// 7 day windows, so the limit cuts each observable to 1,000 sightings.
const HEAVY_LIMIT: usize = 1000;
const HEAVY_SHAPE: Shape = Shape {
    detections: 1,
    events_per_detection: 12,
    searched: 160 * DAY_RANGE,
};
/// Observable counts of the `limit1000` section; each runs on a fresh relay
/// `HEAVY_OBSERVABLES / count` times, so its CPU figure is taken over the
/// same 20,000 sightings (many clock ticks) whatever the count.
const HEAVY_COUNTS: [usize; 3] = [1, 5, 20];
const HEAVY_OBSERVABLES: usize = 20;
/// How long after its last answer the `limit1000` relay's RSS is read.
const SETTLE_TIME: Duration = Duration::from_secs(2);

/// The `plateau` section: clients × observes each of the throughput rows'
/// N = 5 body, and how often the relay's RSS is sampled meanwhile.
const PLATEAU_CLIENTS: usize = 8;
const PLATEAU_REQUESTS: usize = 800;
const PLATEAU_OBSERVABLES: usize = 5;
const PLATEAU_TIME_LIMIT: Duration = Duration::from_secs(900);
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The `demo` section: observes of `observables.json` sent to `gti-relay
/// demo`, and after which of them its RSS is read first.
const DEMO_REQUESTS: usize = 3000;
const DEMO_FIRST_READING: usize = 500;
const DEMO_TIME_LIMIT: Duration = Duration::from_secs(900);
const DEMO_OBSERVABLES: &str = include_str!("../observables.json");

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

    fn named(name: &str) -> Section {
        Section::ALL
            .into_iter()
            .find(|section| section.name() == name)
            .unwrap_or_else(|| usage(&format!("no section {name}")))
    }
}

struct Options {
    latencies: Vec<u64>,
    caps: Vec<usize>,
    /// `WORKERS` values beside the relay's default for the
    /// [`LOAD_CLIENTS`] row.
    workers: Vec<usize>,
    requests: usize,
    throughput_time: Duration,
    relay: String,
    /// The sections to run (`--only`; all by default).
    sections: Vec<Section>,
}

impl Options {
    fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }
}

fn options() -> Options {
    let mut options = Options {
        latencies: vec![20, 50],
        caps: vec![Config::default().gti_max_inflight],
        workers: vec![16, 128],
        requests: 30,
        throughput_time: Duration::from_secs(5),
        relay: env!("CARGO_BIN_EXE_gti-relay").to_owned(),
        sections: Section::ALL.to_vec(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match name {
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            "--latency-ms" => options.latencies = list(&value()),
            "--caps" => options.caps = list(&value()),
            "--workers" => options.workers = list(&value()),
            "--requests" => options.requests = list(&value()).first().copied().unwrap_or(30),
            "--throughput-secs" => {
                options.throughput_time =
                    Duration::from_secs(list(&value()).first().copied().unwrap_or(5))
            }
            "--relay" => options.relay = value(),
            "--only" => {
                options.sections = value()
                    .split(',')
                    .map(str::trim)
                    .map(Section::named)
                    .collect()
            }
            "--resources-only" => options.sections = vec![Section::Resources],
            other => usage(&format!("unknown option {other}")),
        }
    }
    options.requests = options.requests.clamp(30, 1000);
    if options.latencies.is_empty() || options.caps.is_empty() {
        usage("--latency-ms and --caps need at least one value");
    }
    options
}

fn list<T: std::str::FromStr>(text: &str) -> Vec<T> {
    text.split(',')
        .map(|item| {
            item.trim()
                .parse()
                .unwrap_or_else(|_| usage(&format!("not a number: {item}")))
        })
        .collect()
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "bench: {problem}\nusage: relay [--only SECTION,…] [--latency-ms 20,50] [--caps 64,256,512] [--workers 16,128] [--requests 30] [--throughput-secs 5] [--relay PATH] [--resources-only]\nsections: {}",
        Section::ALL.map(Section::name).join(", ")
    );
    std::process::exit(2)
}

fn main() {
    let options = options();
    let binary = options.relay.as_str();
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
    // The first observable is the fairness row's small request, the next
    // FAIRNESS_BIG its big one.
    let latency_observables = load(&gti, "198.51.100", FAIRNESS_BIG + 1, LATENCY_SHAPE, now);
    let cpu_observables = load(&gti, "203.0.113", CPU_OBSERVABLES, CPU_SHAPE, now);
    let bench = Bench {
        binary,
        gti: &gti,
        jwks_host: jwks_server.host(),
        token: token(100),
    };

    // Resources first, while the machine is as calm as this run gets.
    let resources = options
        .runs(Section::Resources)
        .then(|| bench.resources(&cpu_observables));

    let latencies = if options.runs(Section::Latency) {
        &options.latencies[..]
    } else {
        &[][..]
    };
    for &latency in latencies {
        gti.set_latency(Duration::from_millis(latency));
        println!();
        println!(
            "## L = {latency} ms (mock GTI latency per call); observe: {} detections × {} events + {} searched events over {DAY_RANGE} windows per observable, {} GTI calls per observable",
            LATENCY_SHAPE.detections,
            LATENCY_SHAPE.events_per_detection,
            LATENCY_SHAPE.searched,
            LATENCY_SHAPE.calls()
        );
        for &cap in &options.caps {
            bench.latency_section(&options, latency, cap, &latency_observables);
        }
    }
    if let Some(resources) = resources {
        println!();
        resources.print();
    }
    if options.runs(Section::Limit1000) {
        let heavy = load(&gti, "192.0.2", HEAVY_OBSERVABLES, HEAVY_SHAPE, now);
        let heavy_bench = bench.with_token(token(HEAVY_LIMIT));
        println!();
        print_heavy(&heavy_bench.limit1000(&heavy));
    }
    if options.runs(Section::Plateau) {
        println!();
        bench
            .plateau(&latency_observables[..PLATEAU_OBSERVABLES])
            .print();
    }
    if options.runs(Section::Demo) {
        println!();
        bench.demo().print();
    }
}

/// Everything a measurement needs.
#[derive(Clone)]
struct Bench<'a> {
    binary: &'a str,
    gti: &'a MockGti,
    jwks_host: String,
    token: String,
}

/// A reading of the machine's CPU, to tell what processes other than the
/// bench and its relays took from it on (the machine is shared; its load
/// average counts the bench's own threads too). Interrupt time the kernel
/// charges to no process (some of loopback's softirq) counts as others'.
struct CpuReading {
    busy: u64,
    ours: u64,
    at: Instant,
}

impl CpuReading {
    /// `relay`: one that runs now and at the next reading; relays started
    /// and dropped in between count as the bench's (waited-for) children.
    fn now(relay: Option<&Relay>) -> CpuReading {
        CpuReading {
            busy: machine_busy_ticks(),
            ours: own_ticks() + relay.map_or(0, |relay| cpu_ticks(relay.pid())),
            at: Instant::now(),
        }
    }

    /// Other processes' CPU since this reading, in per cent of the machine
    /// (all its cores).
    fn others_percent(&self, relay: Option<&Relay>) -> f64 {
        let now = CpuReading::now(relay);
        let ours = now.ours.saturating_sub(self.ours);
        let others = now.busy.saturating_sub(self.busy).saturating_sub(ours);
        let seconds = now.at.duration_since(self.at).as_secs_f64().max(1e-3);
        others as f64 / clock_ticks_per_second() / seconds / cores() as f64 * 100.0
    }
}

/// When each client of [`Bench::clients`] stops.
#[derive(Clone, Copy)]
enum Until {
    /// After at least this long and at least 30 requests in all, or after
    /// [`ROW_TIME_LIMIT`].
    Least(Duration),
    /// After this many requests of its own, or after the time given.
    Each(usize, Duration),
}

impl Until {
    fn reached(self, elapsed: Duration, done: usize, mine: usize) -> bool {
        match self {
            Until::Least(least) => (elapsed >= least && done >= 30) || elapsed >= ROW_TIME_LIMIT,
            Until::Each(requests, limit) => mine >= requests || elapsed >= limit,
        }
    }
}

/// What [`Bench::clients`] did.
struct Load {
    done: usize,
    errors: usize,
    elapsed: Duration,
    /// The relay's utime + stime over the load, in clock ticks.
    relay_ticks: u64,
    /// What other processes took over the load (see [`CpuReading`]).
    others_percent: f64,
}

impl Load {
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }

    /// The relay's CPU time per request, in ms.
    fn cpu_ms_per_request(&self) -> f64 {
        self.relay_ticks as f64 * 1000.0 / clock_ticks_per_second() / self.done.max(1) as f64
    }
}

/// Latency samples of one row, sorted.
struct Row {
    median: Duration,
    p99: Duration,
    calls: usize,
    max_in_flight: usize,
    errors: usize,
}

impl Bench<'_> {
    /// The same bench with another token.
    fn with_token(&self, token: String) -> Self {
        Bench {
            token,
            ..self.clone()
        }
    }

    /// A relay with `GTI_MAX_INFLIGHT` = `cap` and `WORKERS` = `workers`
    /// (the relay's default when `None`).
    fn start_relay(&self, cap: usize, workers: Option<usize>) -> Relay {
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
        self.spawn(&[], &envs, Banner::Log)
    }

    /// The bench's relay binary with `args` and `envs` (none of the
    /// caller's relay variables), on port 0.
    fn spawn(&self, args: &[&str], envs: &[(String, String)], banner: Banner) -> Relay {
        let clear = gti_relay::config::variable_names();
        child::spawn(child::command(self.binary, args, clear, envs), banner)
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .new_agent()
    }

    /// One POST: `/observe/observables` with `body`, or `/health` when the
    /// body is empty. `Ok(sightings)` or `Err(what went wrong)`.
    fn post(&self, agent: &ureq::Agent, relay: &Relay, body: &str) -> Result<usize, String> {
        sightings(&self.fetch(agent, relay, body)?)
    }

    /// [`Bench::post`]'s request: the answer's bytes, read to the last.
    fn fetch(&self, agent: &ureq::Agent, relay: &Relay, body: &str) -> Result<Vec<u8>, String> {
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

    fn check(&self, answer: Result<usize, String>, expected: Option<usize>) -> bool {
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

    /// One cap at one L: the latency rows, then the throughput rows.
    fn latency_section(&self, options: &Options, latency: u64, cap: usize, observables: &[Value]) {
        let defaults = Config::default();
        let reading = CpuReading::now(None);
        let relay = self.start_relay(cap, None);
        println!();
        println!(
            "GTI_MAX_INFLIGHT = {cap}{}, WORKERS = {} (default); load average at the start: {}",
            if cap == defaults.gti_max_inflight {
                " (default)"
            } else {
                ""
            },
            defaults.workers,
            load_average()
        );
        println!();
        println!("| measure | median | p99 | median / L | p99 / L | GTI calls / request | max GTI calls in flight | cap floor | target |");
        println!("|---|---|---|---|---|---|---|---|---|");
        let mut base_latency = None;
        for &count in &OBSERVABLE_COUNTS {
            let body = observe_body(&observables[..count]);
            let expected = count * LATENCY_SHAPE.events();
            let row = self.latency_row(&relay, &body, Some(expected), options.requests);
            let calls = count * LATENCY_SHAPE.calls();
            let floor = cap_floor(count, LATENCY_SHAPE, cap);
            print_latency(
                &format!("observe N = {count}"),
                &row,
                latency,
                Some((calls, floor)),
                Some(latency_target(count)),
            );
            if count == 5 {
                base_latency = Some(row.median);
            }
        }
        let health = self.latency_row(&relay, "", None, options.requests);
        print_latency("health", &health, latency, None, Some(1.2));

        println!();
        self.fairness(
            &relay,
            cap,
            &observables[1..=FAIRNESS_BIG],
            &observables[..1],
        )
        .print(latency);

        println!();
        println!(
            "| throughput, observe N = 5 | requests / s | linear from 1 client | errors | requests | other processes' CPU |"
        );
        println!("|---|---|---|---|---|---|");
        let body = observe_body(&observables[..5]);
        let expected = 5 * LATENCY_SHAPE.events();
        let mut single = None;
        for &clients in &CLIENTS {
            let load = self.throughput(&relay, &body, expected, clients, options.throughput_time);
            let rate = load.rate();
            let single_rate = *single.get_or_insert(rate);
            // Linear growth stops at WORKERS: each worker holds one request.
            let linear = single_rate * clients.min(defaults.workers) as f64;
            println!(
                "| {clients} client{} | {rate:.1} | {linear:.1} | {} | {} | {:.1} % |",
                if clients == 1 { "" } else { "s" },
                load.errors,
                load.done,
                load.others_percent
            );
        }
        if let Some(base) = base_latency {
            println!();
            println!(
                "(1 client at N = 5 is bounded by 1 / median = {:.1} requests / s)",
                1.0 / base.as_secs_f64()
            );
        }
        drop(relay);
        // A fresh relay per WORKERS value, so that what the rows above left
        // (the N = 200 answers among them) is not in its RSS.
        let others = options.workers.iter().filter(|&&w| w != defaults.workers);
        let under_load: Vec<UnderLoad> = std::iter::once(&defaults.workers)
            .chain(others)
            .map(|&workers| {
                let relay = self.start_relay(cap, Some(workers));
                let load = self.throughput(
                    &relay,
                    &body,
                    expected,
                    LOAD_CLIENTS,
                    options.throughput_time,
                );
                self.after_load(&relay, workers, load)
            })
            .collect();
        println!();
        UnderLoad::print(&under_load, defaults.workers);
        println!();
        println!(
            "(other processes took {:.1} % of the machine's CPU over this cap's {:.0} s)",
            reading.others_percent(None),
            reading.at.elapsed().as_secs_f64()
        );
    }

    fn latency_row(
        &self,
        relay: &Relay,
        body: &str,
        expected: Option<usize>,
        requests: usize,
    ) -> Row {
        let agent = self.agent();
        for _ in 0..WARM_UP {
            self.check(self.post(&agent, relay, body), expected);
        }
        // One request alone tells the calls per request.
        self.gti.reset_calls();
        let _ = self.post(&agent, relay, body);
        let calls = self.gti.total_calls();
        self.gti.reset_calls();

        let started = Instant::now();
        let mut samples = Vec::with_capacity(requests);
        let mut errors = 0;
        for _ in 0..requests {
            if started.elapsed() > ROW_TIME_LIMIT {
                eprintln!("bench: row stopped after {ROW_TIME_LIMIT:?}");
                break;
            }
            let begun = Instant::now();
            let answer = self.post(&agent, relay, body);
            samples.push(begun.elapsed());
            if !self.check(answer, expected) {
                errors += 1;
            }
        }
        let max_in_flight = self.gti.max_in_flight();
        self.gti.reset_calls();
        samples.sort();
        Row {
            median: percentile(&samples, 50),
            p99: percentile(&samples, 99),
            calls,
            max_in_flight,
            errors,
        }
    }

    /// Per round of [`FAIRNESS_ROUNDS`]: `big` is posted, and once the mock
    /// GTI has received as many calls as the cap lets the relay make at
    /// once (the call pool is full of the big request's calls; a counter,
    /// not a sleep), `small` is posted beside it on its own connection and
    /// timed. One warm-up of each first.
    fn fairness(&self, relay: &Relay, cap: usize, big: &[Value], small: &[Value]) -> Fairness {
        let (big_body, small_body) = (observe_body(big), observe_body(small));
        let big_expected = Some(big.len() * LATENCY_SHAPE.events());
        let small_expected = Some(small.len() * LATENCY_SHAPE.events());
        let (big_agent, small_agent) = (self.agent(), self.agent());
        self.check(self.post(&big_agent, relay, &big_body), big_expected);
        self.check(self.post(&small_agent, relay, &small_body), small_expected);
        let full = cap.min(big.len() * LATENCY_SHAPE.calls());
        let mut row = Fairness {
            big_observables: big.len(),
            small_observables: small.len(),
            ..Fairness::default()
        };
        for _ in 0..FAIRNESS_ROUNDS {
            self.gti.reset_calls();
            std::thread::scope(|scope| {
                let running = scope.spawn(|| {
                    let begun = Instant::now();
                    let answer = self.post(&big_agent, relay, &big_body);
                    (begun.elapsed(), self.check(answer, big_expected))
                });
                let waiting = Instant::now();
                while self.gti.total_calls() < full
                    && !running.is_finished()
                    && waiting.elapsed() < ROW_TIME_LIMIT
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let begun = Instant::now();
                let answer = self.post(&small_agent, relay, &small_body);
                row.small.push(begun.elapsed());
                row.beside += usize::from(!running.is_finished());
                row.errors += usize::from(!self.check(answer, small_expected));
                let (wall, ok) = running.join().expect("the big request's thread panicked");
                row.big.push(wall);
                row.errors += usize::from(!ok);
            });
            row.max_in_flight = row.max_in_flight.max(self.gti.max_in_flight());
        }
        self.gti.reset_calls();
        row.small.sort();
        row.big.sort();
        row
    }

    /// `clients` threads posting `body` for at least `least` and at least
    /// 30 requests in all (bounded by [`ROW_TIME_LIMIT`]), after one
    /// warm-up request each.
    fn throughput(
        &self,
        relay: &Relay,
        body: &str,
        expected: usize,
        clients: usize,
        least: Duration,
    ) -> Load {
        self.clients(
            relay,
            body,
            expected,
            clients,
            Until::Each(1, ROW_TIME_LIMIT),
        );
        self.clients(relay, body, expected, clients, Until::Least(least))
    }

    /// The relay after `load` (of `workers` request workers): its RSS, then
    /// its CPU over [`IDLE_TIME`] without requests, then its RSS again.
    fn after_load(&self, relay: &Relay, workers: usize, load: Load) -> UnderLoad {
        let pid = relay.pid();
        let rss_after_kib = proc_status_kib(pid, "VmRSS:");
        let before = cpu_ticks(pid);
        std::thread::sleep(IDLE_TIME);
        UnderLoad {
            workers,
            load,
            rss_after_kib,
            idle_ticks: cpu_ticks(pid).saturating_sub(before),
            rss_idle_kib: proc_status_kib(pid, "VmRSS:"),
        }
    }

    /// `clients` threads, each with its own connection, posting `body` and
    /// checking every answer, all at once, until `until` says so.
    fn clients(
        &self,
        relay: &Relay,
        body: &str,
        expected: usize,
        clients: usize,
        until: Until,
    ) -> Load {
        let done = AtomicUsize::new(0);
        let errors = AtomicUsize::new(0);
        let ticks = cpu_ticks(relay.pid());
        let reading = CpuReading::now(Some(relay));
        let started = Instant::now();
        let (done_ref, errors_ref) = (&done, &errors);
        std::thread::scope(|scope| {
            for _ in 0..clients {
                scope.spawn(move || {
                    let agent = self.agent();
                    let mut mine = 0;
                    while !until.reached(started.elapsed(), done_ref.load(Ordering::SeqCst), mine) {
                        let answer = self.post(&agent, relay, body);
                        if !self.check(answer, Some(expected)) {
                            errors_ref.fetch_add(1, Ordering::SeqCst);
                        }
                        done_ref.fetch_add(1, Ordering::SeqCst);
                        mine += 1;
                    }
                });
            }
        });
        self.gti.reset_calls();
        Load {
            done: done.load(Ordering::SeqCst),
            errors: errors.load(Ordering::SeqCst),
            elapsed: started.elapsed(),
            relay_ticks: cpu_ticks(relay.pid()).saturating_sub(ticks),
            others_percent: reading.others_percent(Some(relay)),
        }
    }

    /// The size of one answer to `body`, in bytes.
    fn answer_bytes(&self, agent: &ureq::Agent, relay: &Relay, body: &str) -> usize {
        self.fetch(agent, relay, body)
            .map_or(0, |bytes| bytes.len())
    }

    /// L = 0: CPU per observe, memory, binary size, start-up time.
    fn resources(&self, cpu_observables: &[Value]) -> Resources {
        self.gti.set_latency(Duration::ZERO);
        let mut starts = Vec::new();
        for _ in 0..STARTS {
            let relay = self.start_relay(64, None);
            starts.push(relay.started_in);
        }
        starts.sort();

        let relay = self.start_relay(64, None);
        let idle_rss = proc_status_kib(relay.pid(), "VmRSS:");
        let body = observe_body(cpu_observables);
        let expected = CPU_OBSERVABLES * CPU_SHAPE.events().min(100);
        let agent = self.agent();
        // Warm-up fetches the JWKS and fills the connection pools.
        for _ in 0..10 {
            self.check(self.post(&agent, &relay, &body), Some(expected));
        }
        let before = cpu_ticks(relay.pid());
        let started = Instant::now();
        let mut done = 0;
        let mut wall = Vec::new();
        while done < CPU_REQUESTS && started.elapsed() < ROW_TIME_LIMIT {
            let begun = Instant::now();
            self.check(self.post(&agent, &relay, &body), Some(expected));
            wall.push(begun.elapsed());
            done += 1;
        }
        let after = cpu_ticks(relay.pid());
        wall.sort();
        let ticks = after.saturating_sub(before) as f64;
        let cpu_ms = ticks * 1000.0 / clock_ticks_per_second() / done.max(1) as f64;
        let peak_rss = proc_status_kib(relay.pid(), "VmHWM:");
        let after_rss = proc_status_kib(relay.pid(), "VmRSS:");
        self.gti.reset_calls();
        Resources {
            starts,
            idle_rss,
            peak_rss,
            after_rss,
            cpu_ms,
            cpu_requests: done,
            cpu_wall_median: percentile(&wall, 50),
            answer_bytes: self.answer_bytes(&agent, &relay, &body),
            binary_bytes: std::fs::metadata(self.binary).map_or(0, |meta| meta.len()),
            jwks_host: self.jwks_host.clone(),
        }
    }

    /// L = 0, the bench's token asking for [`HEAVY_LIMIT`] entities: per
    /// count of [`HEAVY_COUNTS`], a fresh relay, one `/health` (it fetches
    /// the JWKS without touching the data path), then `HEAVY_OBSERVABLES /
    /// count` observes of `count` of `observables` in a row.
    fn limit1000(&self, observables: &[Value]) -> Vec<Heavy> {
        self.gti.set_latency(Duration::ZERO);
        let per_observable = HEAVY_SHAPE.events().min(HEAVY_LIMIT);
        let rows = HEAVY_COUNTS.map(|count| {
            let load_average = load_average();
            let relay = self.start_relay(64, None);
            let agent = self.agent();
            self.check(self.post(&agent, &relay, ""), None);
            let body = observe_body(&observables[..count]);
            let expected = count * per_observable;
            let requests = HEAVY_OBSERVABLES / count;
            let mut row = Heavy {
                observables: count,
                load_average,
                ..Heavy::default()
            };
            let before = cpu_ticks(relay.pid());
            let started = Instant::now();
            while row.wall.len() < requests && started.elapsed() < ROW_TIME_LIMIT {
                let begun = Instant::now();
                let answer = self.fetch(&agent, &relay, &body);
                row.wall.push(begun.elapsed());
                row.answer_bytes = answer.as_ref().map_or(0, Vec::len);
                let answer = answer.and_then(|bytes| sightings(&bytes));
                row.sightings = *answer.as_ref().unwrap_or(&0);
                row.all_sightings += row.sightings;
                if !self.check(answer, Some(expected)) {
                    row.errors += 1;
                }
            }
            let ticks = cpu_ticks(relay.pid()).saturating_sub(before) as f64;
            row.cpu_ms = ticks * 1000.0
                / clock_ticks_per_second()
                / (row.all_sightings.max(1) as f64 / 1000.0);
            row.peak_kib = proc_status_kib(relay.pid(), "VmHWM:");
            std::thread::sleep(SETTLE_TIME);
            row.settled_kib = proc_status_kib(relay.pid(), "VmRSS:");
            row.wall.sort();
            self.gti.reset_calls();
            row
        });
        rows.into()
    }

    /// L = 0: [`PLATEAU_CLIENTS`] clients × [`PLATEAU_REQUESTS`] observes
    /// each of `observables` (of [`LATENCY_SHAPE`]) against a fresh relay,
    /// its RSS sampled every [`RSS_SAMPLE_EVERY`] meanwhile.
    fn plateau(&self, observables: &[Value]) -> Plateau {
        self.gti.set_latency(Duration::ZERO);
        let load_average = load_average();
        let relay = self.start_relay(64, None);
        let pid = relay.pid();
        let idle_kib = proc_status_kib(pid, "VmRSS:");
        let body = observe_body(observables);
        let expected = observables.len() * LATENCY_SHAPE.events();
        let stop = AtomicBool::new(false);
        let max_kib = AtomicU64::new(idle_kib);
        let (load, end_kib) = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    max_kib.fetch_max(proc_status_kib(pid, "VmRSS:"), Ordering::SeqCst);
                    std::thread::sleep(RSS_SAMPLE_EVERY);
                }
            });
            let until = Until::Each(PLATEAU_REQUESTS, PLATEAU_TIME_LIMIT);
            let load = self.clients(&relay, &body, expected, PLATEAU_CLIENTS, until);
            let end_kib = proc_status_kib(pid, "VmRSS:");
            stop.store(true, Ordering::SeqCst);
            (load, end_kib)
        });
        Plateau {
            load,
            idle_kib,
            end_kib,
            max_kib: max_kib.load(Ordering::SeqCst).max(end_kib),
            peak_kib: proc_status_kib(pid, "VmHWM:"),
            load_average,
        }
    }

    /// `gti-relay demo` (its own simulated GTI and JWKS, its own token):
    /// [`DEMO_REQUESTS`] observes of `observables.json` in a row, its RSS
    /// read after the first [`DEMO_FIRST_READING`] and after the last.
    fn demo(&self) -> DemoRss {
        let load_average = load_average();
        let relay = self.spawn(&["demo"], &[], Banner::Demo);
        let token = relay.token.clone().expect("the demo prints its token");
        let demo = self.with_token(token);
        let pid = relay.pid();
        let agent = self.agent();
        let mut row = DemoRss {
            started_kib: proc_status_kib(pid, "VmRSS:"),
            load_average,
            ..DemoRss::default()
        };
        let mut expected = None;
        let started = Instant::now();
        while row.done < DEMO_REQUESTS && started.elapsed() < DEMO_TIME_LIMIT {
            let answer = demo.post(&agent, &relay, DEMO_OBSERVABLES);
            // Every answer must have the first one's sightings.
            let first = *expected.get_or_insert(*answer.as_ref().unwrap_or(&0));
            if !demo.check(answer, Some(first)) {
                row.errors += 1;
            }
            row.done += 1;
            if row.done == DEMO_FIRST_READING {
                row.first_kib = proc_status_kib(pid, "VmRSS:");
            }
        }
        row.elapsed = started.elapsed();
        row.last_kib = proc_status_kib(pid, "VmRSS:");
        row.sightings = expected.unwrap_or(0);
        row
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
    sightings: Option<Count>,
}

#[derive(Deserialize)]
struct Count {
    count: usize,
}

/// `Ok(sightings)` of an answer (0 when it has none, as `/health`'s), or
/// `Err(what went wrong)`.
fn sightings(bytes: &[u8]) -> Result<usize, String> {
    let answer: Answer = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    if let Some(errors) = answer.errors {
        return Err(errors.to_string());
    }
    Ok(answer
        .data
        .and_then(|data| data.sightings)
        .map_or(0, |sightings| sightings.count))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// The change from `from` to `to`, in per cent of `from`.
fn percent(from: u64, to: u64) -> f64 {
    (to as f64 / from.max(1) as f64 - 1.0) * 100.0
}

/// One column of the `limit1000` section.
#[derive(Default)]
struct Heavy {
    observables: usize,
    load_average: String,
    /// Per observe, to the last byte of the answer; sorted.
    wall: Vec<Duration>,
    errors: usize,
    /// Of the last answer.
    sightings: usize,
    answer_bytes: usize,
    all_sightings: usize,
    /// Relay CPU (utime + stime) per 1,000 sightings, over every observe.
    cpu_ms: f64,
    peak_kib: u64,
    /// [`SETTLE_TIME`] after the last answer.
    settled_kib: u64,
}

fn print_heavy(rows: &[Heavy]) {
    let cells =
        |cell: &dyn Fn(&Heavy) -> String| rows.iter().map(cell).collect::<Vec<_>>().join(" | ");
    let largest = rows.last();
    let at_largest = |ok: &dyn Fn(&Heavy) -> bool| verdict(largest.is_some_and(ok));
    let each = |ok: &dyn Fn(&Heavy) -> bool| verdict(rows.iter().all(ok));
    let n = largest.map_or(0, |row| row.observables);
    println!(
        "## Limit 1000 (L = 0, CTR_ENTITIES_LIMIT = {HEAVY_LIMIT}, GTI_MAX_INFLIGHT = 64): per observable {} detection × {} events + {} searched events over {DAY_RANGE} windows; a fresh relay per column, one /health, then {HEAVY_OBSERVABLES} / N observes in a row",
        HEAVY_SHAPE.detections,
        HEAVY_SHAPE.events_per_detection,
        HEAVY_SHAPE.searched,
    );
    println!();
    println!(
        "| measure | {} | target |",
        cells(&|row| format!("N = {}", row.observables))
    );
    println!("|---|{}---|", "---|".repeat(rows.len()));
    println!(
        "| sightings / answer size | {} | {HEAVY_LIMIT} per observable |",
        cells(&|row| format!(
            "{} / {:.1} MB",
            row.sightings,
            row.answer_bytes as f64 / 1e6
        ))
    );
    println!(
        "| observes (errors) | {} | |",
        cells(&|row| format!("{} ({})", row.wall.len(), row.errors))
    );
    println!(
        "| wall to the last byte, median | {} | N = {n} ≤ 0.3 s: {} |",
        cells(&|row| format!("{:.0} ms", ms(percentile(&row.wall, 50)))),
        at_largest(&|row| percentile(&row.wall, 50) <= Duration::from_millis(300))
    );
    println!(
        "| relay CPU per 1,000 sightings (utime + stime over every observe) | {} | ≤ 8 ms: {} |",
        cells(&|row| format!("{:.1} ms", row.cpu_ms)),
        each(&|row| row.cpu_ms <= 8.0)
    );
    println!(
        "| peak RSS (VmHWM) | {} | N = {n} ≤ 96 MiB: {} |",
        cells(&|row| format!("{:.1} MiB", mb(row.peak_kib))),
        at_largest(&|row| mb(row.peak_kib) <= 96.0)
    );
    println!(
        "| RSS {} s after the last answer | {} | ≤ 32 MiB: {} |",
        SETTLE_TIME.as_secs(),
        cells(&|row| format!("{:.1} MiB", mb(row.settled_kib))),
        each(&|row| mb(row.settled_kib) <= 32.0)
    );
    println!(
        "| load average at the start | {} | |",
        cells(&|row| row.load_average.clone())
    );
}

/// The relay under and after the [`LOAD_CLIENTS`] row (see
/// [`Bench::after_load`]).
struct UnderLoad {
    workers: usize,
    load: Load,
    rss_after_kib: u64,
    /// The relay's utime + stime over [`IDLE_TIME`] after the load.
    idle_ticks: u64,
    rss_idle_kib: u64,
}

impl UnderLoad {
    fn print(rows: &[UnderLoad], default_workers: usize) {
        let idle_secs = IDLE_TIME.as_secs();
        println!(
            "| {LOAD_CLIENTS} clients, observe N = 5 | requests / s | relay CPU / request (utime + stime) | RSS right after the load | relay CPU over the {idle_secs} s after it | RSS after those {idle_secs} s | errors | requests | other processes' CPU under the load |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for row in rows {
            let rate = row.load.rate();
            let cpu = row.load.cpu_ms_per_request();
            let idle_percent =
                row.idle_ticks as f64 / clock_ticks_per_second() / IDLE_TIME.as_secs_f64() * 100.0;
            let idle_mib = mb(row.rss_idle_kib);
            println!(
                "| WORKERS = {}{} | {rate:.1} (≥ {LOAD_RATE_TARGET}: {}) | {cpu:.2} ms (≤ {LOAD_CPU_TARGET_MS} ms: {}) | {:.1} MiB | {} ticks = {idle_percent:.1} % of a core (< {IDLE_CPU_TARGET_PERCENT} %: {}) | {idle_mib:.1} MiB (≤ {IDLE_RSS_TARGET_MIB} MiB: {}) | {} | {} | {:.1} % |",
                row.workers,
                if row.workers == default_workers {
                    " (default)"
                } else {
                    ""
                },
                verdict(rate >= LOAD_RATE_TARGET),
                verdict(cpu <= LOAD_CPU_TARGET_MS),
                mb(row.rss_after_kib),
                row.idle_ticks,
                verdict(idle_percent < IDLE_CPU_TARGET_PERCENT),
                verdict(idle_mib <= IDLE_RSS_TARGET_MIB),
                row.load.errors,
                row.load.done,
                row.load.others_percent
            );
        }
    }
}

/// The fairness row's figures (see [`Bench::fairness`]); latencies sorted.
#[derive(Default)]
struct Fairness {
    big_observables: usize,
    small_observables: usize,
    small: Vec<Duration>,
    big: Vec<Duration>,
    /// Rounds in which the small request answered before the big one.
    beside: usize,
    errors: usize,
    max_in_flight: usize,
}

impl Fairness {
    fn print(&self, latency_ms: u64) {
        let l = latency_ms as f64;
        let (small, big) = (self.small_observables, self.big_observables);
        let median = ms(percentile(&self.small, 50));
        let worst = ms(self.small.last().copied().unwrap_or_default());
        let big_median = ms(percentile(&self.big, 50));
        println!(
            "| fairness | N = {small} median | N = {small} max | median / L | max / L | N = {big} median (/ L) | N = {small} answered first | errors | max GTI calls in flight | target |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| observe N = {small} beside a running N = {big} ({} rounds) | {median:.1} ms | {worst:.1} ms | {:.2} | {:.2} | {big_median:.0} ms ({:.1} L) | {} of {} | {} | {} | ≤ {FAIRNESS_TARGET} L each: {} |",
            self.small.len(),
            median / l,
            worst / l,
            big_median / l,
            self.beside,
            self.small.len(),
            self.errors,
            self.max_in_flight,
            verdict(worst / l <= FAIRNESS_TARGET)
        );
    }
}

/// The `plateau` section's figures.
struct Plateau {
    load: Load,
    idle_kib: u64,
    end_kib: u64,
    max_kib: u64,
    peak_kib: u64,
    load_average: String,
}

impl Plateau {
    fn print(&self) {
        println!(
            "## Mixed-load RSS plateau (L = 0, GTI_MAX_INFLIGHT = 64, a fresh relay): {PLATEAU_CLIENTS} clients × {PLATEAU_REQUESTS} observes of N = {PLATEAU_OBSERVABLES} ({} events each); load average at the start: {}",
            LATENCY_SHAPE.events(),
            self.load_average
        );
        println!();
        println!("| measure | value | target |");
        println!("|---|---|---|");
        println!(
            "| observes (errors; requests / s over {:.1} s) | {} ({}; {:.1}) | {} |",
            self.load.elapsed.as_secs_f64(),
            self.load.done,
            self.load.errors,
            self.load.rate(),
            PLATEAU_CLIENTS * PLATEAU_REQUESTS
        );
        println!(
            "| RSS idle (after start-up) | {:.1} MiB | |",
            mb(self.idle_kib)
        );
        println!(
            "| RSS at the end of the load | {:.1} MiB | ≤ 32 MiB: {} |",
            mb(self.end_kib),
            verdict(mb(self.end_kib) <= 32.0)
        );
        println!(
            "| RSS max sampled every {} ms / peak (VmHWM) | {:.1} MiB / {:.1} MiB | |",
            RSS_SAMPLE_EVERY.as_millis(),
            mb(self.max_kib),
            mb(self.peak_kib)
        );
    }
}

/// The `demo` section's figures.
#[derive(Default)]
struct DemoRss {
    done: usize,
    errors: usize,
    sightings: usize,
    elapsed: Duration,
    started_kib: u64,
    /// After [`DEMO_FIRST_READING`] observes.
    first_kib: u64,
    last_kib: u64,
    load_average: String,
}

impl DemoRss {
    fn print(&self) {
        let change = percent(self.first_kib, self.last_kib);
        println!(
            "## Demo RSS (`gti-relay demo`, release build: its own simulated GTI, JWKS and token): {DEMO_REQUESTS} observes of observables.json in a row; load average at the start: {}",
            self.load_average
        );
        println!();
        println!("| measure | value | target |");
        println!("|---|---|---|");
        println!(
            "| observes (errors; sightings per answer; requests / s) | {} ({}; {}; {:.1}) | {DEMO_REQUESTS} |",
            self.done,
            self.errors,
            self.sightings,
            self.done as f64 / self.elapsed.as_secs_f64()
        );
        println!("| RSS after start-up | {:.1} MiB | |", mb(self.started_kib));
        println!(
            "| RSS after observe {DEMO_FIRST_READING} | {:.1} MiB | |",
            mb(self.first_kib)
        );
        println!(
            "| RSS after observe {} | {:.1} MiB | |",
            self.done,
            mb(self.last_kib)
        );
        println!(
            "| change from observe {DEMO_FIRST_READING} to {} | {change:+.1} % | within ±10 %: {} |",
            self.done,
            verdict(change.abs() <= 10.0)
        );
    }
}

struct Resources {
    starts: Vec<Duration>,
    idle_rss: u64,
    peak_rss: u64,
    after_rss: u64,
    cpu_ms: f64,
    cpu_requests: usize,
    cpu_wall_median: Duration,
    answer_bytes: usize,
    binary_bytes: u64,
    jwks_host: String,
}

impl Resources {
    fn print(&self) {
        let start = percentile(&self.starts, 50);
        println!(
            "## Resources (L = 0, GTI_MAX_INFLIGHT = 64, JWKS on {})",
            self.jwks_host
        );
        println!();
        println!("| measure | value | target |");
        println!("|---|---|---|");
        println!(
            "| relay CPU per observe, N = {CPU_OBSERVABLES} × {} events (utime + stime over {} requests; wall median {:.2} ms; answer {:.2} MB) | {:.2} ms | ≤ 4 ms: {} |",
            CPU_SHAPE.events(),
            self.cpu_requests,
            ms(self.cpu_wall_median),
            self.answer_bytes as f64 / 1e6,
            self.cpu_ms,
            verdict(self.cpu_ms <= 4.0)
        );
        println!(
            "| RSS idle (VmRSS after start-up) | {:.1} MB | ≤ 8 MB: {} |",
            mb(self.idle_rss),
            verdict(mb(self.idle_rss) <= 8.0)
        );
        println!(
            "| RSS peak (VmHWM after the CPU row) / RSS after it | {:.1} MB / {:.1} MB | |",
            mb(self.peak_rss),
            mb(self.after_rss)
        );
        println!(
            "| binary size (release, stripped) | {:.2} MB | |",
            self.binary_bytes as f64 / 1e6
        );
        println!(
            "| process start → first /watchdog answer (median of {}; min {:.1}, max {:.1}) | {:.1} ms | ≤ 50 ms: {} |",
            self.starts.len(),
            ms(self.starts.first().copied().unwrap_or_default()),
            ms(self.starts.last().copied().unwrap_or_default()),
            ms(start),
            verdict(ms(start) <= 50.0)
        );
    }
}

fn print_latency(
    name: &str,
    row: &Row,
    latency_ms: u64,
    calls: Option<(usize, f64)>,
    target: Option<f64>,
) {
    let l = latency_ms as f64;
    let median = ms(row.median) / l;
    let p99 = ms(row.p99) / l;
    let (calls, floor) = match calls {
        Some((planned, floor)) => (
            format!("{} (plan {planned})", row.calls),
            format!("{floor:.1} L"),
        ),
        None => (row.calls.to_string(), "1.0 L".to_owned()),
    };
    let target = match target {
        Some(target) => format!(
            "≤ {target} L: {}",
            if median <= target { "met" } else { "MISSED" }
        ),
        None => String::new(),
    };
    let errors = if row.errors > 0 {
        format!(" ({} errors)", row.errors)
    } else {
        String::new()
    };
    println!(
        "| {name}{errors} | {:.1} ms | {:.1} ms | {median:.2} | {p99:.2} | {calls} | {} | {floor} | {target} |",
        ms(row.median),
        ms(row.p99),
        row.max_in_flight,
    );
}

/// Issue 10's target for observe N = `count`, in L.
fn latency_target(count: usize) -> f64 {
    if count <= 20 {
        3.3
    } else {
        4.0
    }
}

/// The least time the cap allows, in L: every call but the DHCP ones must
/// be done before an observable's DHCP call, so with `cap` calls in flight
/// at most, the pre-DHCP calls take at least ⌈calls / cap⌉ round trips
/// (and at least the two of the chain), then one for DHCP.
fn cap_floor(observables: usize, shape: Shape, cap: usize) -> f64 {
    let before_dhcp = observables * (shape.calls() - 1);
    let waves = before_dhcp.div_ceil(cap).max(2);
    (waves + observables.div_ceil(cap).max(1)) as f64
}

/// Loads GTI data for `count` observables `<prefix>.1`, `<prefix>.2`, … and
/// returns them as observe payload items.
fn load(gti: &MockGti, prefix: &str, count: usize, shape: Shape, now: u64) -> Vec<Value> {
    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 24 * HOUR;
    let mut observables = Vec::with_capacity(count);
    let mut serial = 0u64;
    let mut next_uuid = |tag: u64| {
        serial += 1;
        format!("00000000-0000-4000-8{tag:03x}-{serial:012x}")
    };
    let tag = u64::from(prefix.bytes().map(u32::from).sum::<u32>() % 4096);
    for index in 1..=count {
        let value = format!("{prefix}.{index}");
        let internal = |k: usize| format!("10.{}.{index}.{}", tag % 200, k % 4 + 1);
        let mut detections = Vec::new();
        let mut rules = Vec::new();
        for d in 0..shape.detections {
            let detection_uuid = next_uuid(tag);
            let rule_uuid = format!("00000000-0000-4000-9000-{d:012x}");
            detections.push(json!({
                "uuid": detection_uuid,
                "account_uuid": "0ed93998-99ff-4723-a5f1-a6cdbd4843e8",
                "device_ip": internal(d),
                "rule_uuid": rule_uuid,
                "indicators": [
                    {"field": "dst.ip", "values": [value]},
                    {"field": "http:files.sha256", "values": [format!("{:064x}", d + 1)]},
                ],
            }));
            rules.push(json!({
                "uuid": rule_uuid,
                "name": format!("Benchmark rule {d}"),
                "category": "Attack:Installation",
                "description": "A rule of the benchmark's synthetic data.",
                "severity": "moderate",
                "confidence": "low",
                "created": "2020-05-04T21:39:41.696Z",
            }));
            let events = (0..shape.events_per_detection)
                .map(|e| {
                    let at = now - HOUR - (d * shape.events_per_detection + e) as u64 * 60_000;
                    json!({
                        "event_type": "http",
                        "uuid": next_uuid(tag),
                        "customer_id": "cstmr",
                        "sensor_id": "snsr",
                        "timestamp": format_timestamp(at),
                        "src": {"ip": internal(e), "internal": true, "port": 49152 + e},
                        "dst": {"ip": value, "internal": false, "port": 80},
                        "method": "GET",
                        "host": {"domain": "mystery.example"},
                        "uri": {"uri": "/download.php"},
                        "user_agent": "FileReceiver",
                        "status_code": 200,
                        "status_msg": "OK",
                        "files": [{
                            "md5": format!("{:032x}", e),
                            "sha1": format!("{:040x}", e),
                            "sha256": format!("{:064x}", d + 1),
                        }],
                    })
                })
                .collect();
            gti.set_detection_events(&detection_uuid, events);
        }
        gti.set_detections(&value, json!({"detections": detections, "rules": rules}));
        let searched = (0..shape.searched)
            .map(|k| {
                let window = (k % DAY_RANGE) as u64;
                // Half a day inside its window, so a run of a few hours
                // still finds every event where it was put.
                let at = now - window * DAY - DAY / 2 - k as u64 * 1000;
                json!({
                    "event_type": "flow",
                    "uuid": next_uuid(tag),
                    "customer_id": "cstmr",
                    "sensor_id": "snsr",
                    "timestamp": format_timestamp(at),
                    "src": {"ip": internal(k), "internal": true, "port": 50000 + k},
                    "dst": {"ip": value, "internal": false, "port": 443},
                    "proto": "tcp",
                    "duration": 1.5,
                    "src_bytes": 1200,
                    "dst_bytes": 5400,
                })
            })
            .collect();
        gti.add_searched_events(&format!("ip = '{value}'"), searched);
        for k in 0..4 {
            let ip = internal(k);
            gti.set_dhcp_records(
                &ip,
                vec![json!({
                    "account_code": "cstmr",
                    "mac": format!("00:15:5d:00:{index:02x}:{k:02x}"),
                    "hostname": format!("Workstation-{index}-{k}"),
                    "ip": ip,
                })],
            );
        }
        observables.push(json!({"type": "ip", "value": value}));
    }
    observables
}

fn observe_body(observables: &[Value]) -> String {
    Value::Array(observables.to_vec()).to_string()
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
