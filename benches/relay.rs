//! `make bench`: the relay measured against the physical limit.
//!
//! Per observable the dependent chain is three GTI round trips (detections →
//! the events of every detection at once → DHCP); the day-window searches
//! run beside the chain. With the JWKS cached, the floor of an observe
//! request is therefore about 3 L, L being one GTI round trip, whatever the
//! number of observables — as long as the calls in flight are not capped.
//!
//! The relay runs as a separate release process (so its CPU time and memory
//! can be read from `/proc/<pid>`), the simulated GTI (`demo::gti::MockGti`,
//! with a per-call latency L) and a mock JWKS in this process, all on
//! loopback. Every loop is bounded in count and in time.
//!
//! Options (after `--`, or `make bench BENCH_ARGS='…'`):
//! `--latency-ms 20,50` the L values; `--caps 64,512` the `GTI_MAX_INFLIGHT`
//! values (the first is the relay's default and also used for the resource
//! figures); `--requests 30` samples per latency row; `--throughput-secs 5`
//! the least time per throughput row; `--relay PATH` another relay binary
//! (e.g. one built with symbols, for a profiler); `--resources-only` only
//! the L = 0 figures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gti_relay::demo::gti::MockGti;
use gti_relay::gti::format_timestamp;
use serde_json::{json, Value};

mod support;
use support::*;

#[allow(dead_code)]
#[path = "../tests/support/jwks.rs"]
mod jwks;
#[allow(dead_code)]
#[path = "../tests/support/tokens.rs"]
mod tokens;

/// The audience the relay is told it serves (`RELAY_URL`), so that one token
/// works whatever port the relay gets.
const RELAY_URL: &str = "http://relay.bench";

/// Observable counts of the latency rows.
const OBSERVABLE_COUNTS: [usize; 4] = [1, 5, 20, 50];

/// Concurrent clients of the throughput rows (observe, N = 5).
const CLIENTS: [usize; 3] = [1, 8, 32];

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

struct Options {
    latencies: Vec<u64>,
    caps: Vec<usize>,
    requests: usize,
    throughput_time: Duration,
    relay: String,
    /// Only the L = 0 resource figures (quick before/after comparisons).
    resources_only: bool,
}

fn options() -> Options {
    let mut options = Options {
        latencies: vec![20, 50],
        caps: vec![64, 512],
        requests: 30,
        throughput_time: Duration::from_secs(5),
        relay: env!("CARGO_BIN_EXE_gti-relay").to_owned(),
        resources_only: false,
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
            "--requests" => options.requests = list(&value()).first().copied().unwrap_or(30),
            "--throughput-secs" => {
                options.throughput_time =
                    Duration::from_secs(list(&value()).first().copied().unwrap_or(5))
            }
            "--relay" => options.relay = value(),
            "--resources-only" => options.resources_only = true,
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
        "bench: {problem}\nusage: relay [--latency-ms 20,50] [--caps 64,512] [--requests 30] [--throughput-secs 5] [--relay PATH] [--resources-only]"
    );
    std::process::exit(2)
}

fn main() {
    let options = options();
    let binary = options.relay.as_str();
    print_machine();

    let jwks_server = jwks::MockJwks::start(tokens::jwks(&[(tokens::relay_key(), "bench")]));
    let token = tokens::sign(
        tokens::relay_key(),
        Some("bench"),
        &tokens::payload(&jwks_server.host(), RELAY_URL),
    );
    let gti = MockGti::start();
    let now = now_millis();
    let latency_observables = load(&gti, "198.51.100", 50, LATENCY_SHAPE, now);
    let cpu_observables = load(&gti, "203.0.113", CPU_OBSERVABLES, CPU_SHAPE, now);
    let bench = Bench {
        binary,
        gti: &gti,
        jwks_host: jwks_server.host(),
        token,
    };

    // Resources first, while the machine is as calm as this run gets.
    let resources = bench.resources(&cpu_observables);

    let latencies = if options.resources_only {
        &[][..]
    } else {
        &options.latencies[..]
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
        for (index, &cap) in options.caps.iter().enumerate() {
            let relay = bench.start_relay(cap);
            println!();
            println!(
                "GTI_MAX_INFLIGHT = {cap}{}, WORKERS = {} (default)",
                if index == 0 { " (default)" } else { "" },
                4 * cores()
            );
            println!();
            println!("| measure | median | p99 | median / L | p99 / L | GTI calls / request | max GTI calls in flight | cap floor | target |");
            println!("|---|---|---|---|---|---|---|---|---|");
            let mut base_latency = None;
            for &count in &OBSERVABLE_COUNTS {
                let body = observe_body(&latency_observables[..count]);
                let expected = count * LATENCY_SHAPE.events();
                let row = bench.latency_row(&relay, &body, Some(expected), options.requests);
                let target = match count {
                    ..=20 => Some(3.3),
                    _ => Some(4.0),
                };
                let calls = count * LATENCY_SHAPE.calls();
                let floor = cap_floor(count, LATENCY_SHAPE, cap);
                print_latency(
                    &format!("observe N = {count}"),
                    &row,
                    latency,
                    Some((calls, floor)),
                    target.filter(|_| latency == 50),
                );
                if count == 5 {
                    base_latency = Some(row.median);
                }
            }
            let health = bench.latency_row(&relay, "", None, options.requests);
            print_latency("health", &health, latency, None, Some(1.2));

            println!();
            println!("| throughput, observe N = 5 | requests / s | linear from 1 client | errors | requests |");
            println!("|---|---|---|---|---|");
            let body = observe_body(&latency_observables[..5]);
            let mut single = None;
            for &clients in &CLIENTS {
                let (rate, errors, done) = bench.throughput(
                    &relay,
                    &body,
                    5 * LATENCY_SHAPE.events(),
                    clients,
                    options.throughput_time,
                );
                let single_rate = *single.get_or_insert(rate);
                // Linear growth stops at WORKERS: each worker holds one request.
                let linear = single_rate * clients.min(4 * cores()) as f64;
                println!(
                    "| {clients} client{} | {rate:.1} | {linear:.1} | {errors} | {done} |",
                    if clients == 1 { "" } else { "s" }
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
        }
    }
    println!();
    resources.print();
}

/// Everything a measurement needs.
struct Bench<'a> {
    binary: &'a str,
    gti: &'a MockGti,
    jwks_host: String,
    token: String,
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
    fn start_relay(&self, cap: usize) -> Relay {
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
        spawn_relay(self.binary, &envs)
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
        let path = if body.is_empty() {
            "/health"
        } else {
            "/observe/observables"
        };
        let mut answer = agent
            .post(&relay.url(path))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|error| error.to_string())?;
        let text = answer
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|error| error.to_string())?;
        let json: Value = serde_json::from_str(&text).map_err(|error| error.to_string())?;
        if let Some(errors) = json.get("errors") {
            return Err(errors.to_string());
        }
        Ok(json["data"]["sightings"]["count"].as_u64().unwrap_or(0) as usize)
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

    /// `clients` threads posting `body` for at least `least` and at least
    /// 30 requests in all (bounded by [`ROW_TIME_LIMIT`]): requests per
    /// second, errors, requests.
    fn throughput(
        &self,
        relay: &Relay,
        body: &str,
        expected: usize,
        clients: usize,
        least: Duration,
    ) -> (f64, usize, usize) {
        let done = AtomicUsize::new(0);
        let errors = AtomicUsize::new(0);
        // Warm-up: one request per client, all at once.
        std::thread::scope(|scope| {
            for _ in 0..clients {
                scope.spawn(|| {
                    let agent = self.agent();
                    self.check(self.post(&agent, relay, body), Some(expected));
                });
            }
        });
        let started = Instant::now();
        let done_ref = &done;
        let errors_ref = &errors;
        std::thread::scope(|scope| {
            for _ in 0..clients {
                scope.spawn(move || {
                    let agent = self.agent();
                    loop {
                        let elapsed = started.elapsed();
                        let enough = elapsed >= least && done_ref.load(Ordering::SeqCst) >= 30;
                        if enough || elapsed >= ROW_TIME_LIMIT {
                            break;
                        }
                        let answer = self.post(&agent, relay, body);
                        if !self.check(answer, Some(expected)) {
                            errors_ref.fetch_add(1, Ordering::SeqCst);
                        }
                        done_ref.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        let elapsed = started.elapsed().as_secs_f64();
        let done = done.load(Ordering::SeqCst);
        self.gti.reset_calls();
        (done as f64 / elapsed, errors.load(Ordering::SeqCst), done)
    }

    /// The size of one answer to `body`, in bytes.
    fn answer_bytes(&self, agent: &ureq::Agent, relay: &Relay, body: &str) -> usize {
        agent
            .post(&relay.url("/observe/observables"))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send(body.as_bytes())
            .ok()
            .and_then(|mut answer| {
                answer
                    .body_mut()
                    .with_config()
                    .limit(256 << 20)
                    .read_to_vec()
                    .ok()
            })
            .map_or(0, |bytes| bytes.len())
    }

    /// L = 0: CPU per observe, memory, binary size, start-up time.
    fn resources(&self, cpu_observables: &[Value]) -> Resources {
        self.gti.set_latency(Duration::ZERO);
        let mut starts = Vec::new();
        for _ in 0..STARTS {
            let relay = self.start_relay(64);
            starts.push(relay.started_in);
        }
        starts.sort();

        let relay = self.start_relay(64);
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
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let start = percentile(&self.starts, 50);
        println!(
            "## Resources (L = 0, GTI_MAX_INFLIGHT = 64, JWKS on {})",
            self.jwks_host
        );
        println!();
        println!("| measure | value | target |");
        println!("|---|---|---|");
        println!(
            "| relay CPU per observe, N = {CPU_OBSERVABLES} × {} events (utime + stime over {} requests; wall median {:.2} ms; answer {:.2} MB) | {:.2} ms | ≤ 2 ms: {} |",
            CPU_SHAPE.events(),
            self.cpu_requests,
            ms(self.cpu_wall_median),
            self.answer_bytes as f64 / 1e6,
            self.cpu_ms,
            verdict(self.cpu_ms <= 2.0)
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
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("# gti-relay benchmark");
    println!();
    println!(
        "machine: {} cores, {model}, {:.1} GiB memory; load average at start: {}",
        cores(),
        memory as f64 / 1024.0 / 1024.0,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
