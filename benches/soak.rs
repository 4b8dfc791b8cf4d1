//! `make soak`: the release relay under a sustained mixed load, to show it
//! neither fails nor leaks.
//!
//! The relay runs as a child process against the simulated GTI (with a
//! per-call latency) and a mock JWKS, both in this process on loopback.
//! `--clients` threads (default 200), each with its own keep-alive
//! connection, send requests for `--secs` seconds (default 60): observes,
//! health checks, refers, and a share of bad requests (a forged token, an
//! invalid body, an unknown path), each checked against the answer it must
//! get. It prints the requests, the failures, p50/p99 latency and the
//! relay's RSS idle and every tenth of the run. Target: no failure, and the
//! RSS flat over the second half of the run (within ± 2 %; the first half is
//! the warm-up: connections, threads and the heap reach their working size).
//! The relay gets none of this process's allocator variables.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use gti_relay::demo::gti::MockGti;
use gti_relay::time::{format_timestamp, now_millis};
use serde_json::{json, Value};
use testkit::child::{self, Banner, Relay};
use testkit::procfs::proc_status_kib;
use testkit::samples::{mb, ms, percentile};

/// How far the RSS may move over the second half of the run, in percent.
const MAX_GROWTH_PERCENT: f64 = 2.0;
use testkit::{args, jwks, tokens};

const RELAY_URL: &str = "http://relay.soak";
const OBSERVABLES: usize = 20;

struct Options {
    secs: u64,
    clients: usize,
    latency_ms: u64,
}

fn options() -> Options {
    parse(lexopt::Parser::from_env()).unwrap_or_else(|problem| usage(&problem))
}

/// The options on `parser`'s command line over their defaults, clamped.
fn parse(mut parser: lexopt::Parser) -> Result<Options, String> {
    use lexopt::Arg::{Long, Short, Value};
    let mut options = Options {
        secs: 60,
        clients: 200,
        latency_ms: 10,
    };
    while let Some(arg) = parser.next().map_err(args::problem)? {
        match arg {
            Long("secs") => {
                options.secs = args::number::<u64>(&mut parser, "--secs")?.clamp(1, 3600)
            }
            Long("clients") => {
                options.clients = args::number::<usize>(&mut parser, "--clients")?.clamp(1, 2000)
            }
            Long("latency-ms") => {
                options.latency_ms = args::number::<u64>(&mut parser, "--latency-ms")?.min(10_000)
            }
            // cargo bench passes --bench to harness = false targets.
            Long("bench") => {}
            Long(_) | Short(_) | Value(_) => return Err("unknown argument".to_owned()),
        }
    }
    Ok(options)
}

fn usage(problem: &str) -> ! {
    eprintln!("soak: {problem}\nusage: soak [--secs 60] [--clients 200] [--latency-ms 10]");
    std::process::exit(2)
}

/// One kind of request and what its answer must be.
#[derive(Clone, Copy)]
enum Kind {
    Observe,
    Health,
    Refer,
    ForgedToken,
    InvalidBody,
    UnknownPath,
}

/// The mix, in tenths: half observes, and one bad request in five.
const MIX: [Kind; 10] = [
    Kind::Observe,
    Kind::Observe,
    Kind::Observe,
    Kind::Observe,
    Kind::Observe,
    Kind::Health,
    Kind::Refer,
    Kind::ForgedToken,
    Kind::InvalidBody,
    Kind::UnknownPath,
];

#[derive(Default)]
struct Totals {
    requests: AtomicUsize,
    failures: AtomicUsize,
    latencies: Mutex<Vec<Duration>>,
    first_failures: Mutex<Vec<String>>,
}

fn main() {
    let options = options();
    let jwks_server = jwks::MockJwks::start(tokens::jwks(&[(tokens::relay_key(), "soak")]));
    let token = tokens::sign(
        tokens::relay_key(),
        Some("soak"),
        &tokens::payload(&jwks_server.host(), RELAY_URL),
    );
    let forged = format!("{}x", &token[..token.len() - 1]);
    let gti = MockGti::start();
    gti.set_latency(Duration::from_millis(options.latency_ms));
    let observables = load(&gti);

    let relay = start_relay(&gti);
    let pid = relay.pid();
    let idle_kib = proc_status_kib(pid, "VmRSS:");
    println!(
        "# gti-relay soak: {} clients for {} s, GTI latency {} ms",
        options.clients, options.secs, options.latency_ms
    );

    let target = Target {
        url: relay.url(""),
        token,
        forged,
        observables,
    };
    let totals = Totals::default();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let rss_kib = thread::scope(|scope| {
        for index in 0..options.clients {
            let (target, totals, stop) = (&target, &totals, &stop);
            scope.spawn(move || client(index, target, totals, stop));
        }
        // RSS every tenth of the run: the working set is reached during the
        // first half; a leak, or caches filling, keep growing through the second.
        let run = Duration::from_secs(options.secs);
        let mut rss_kib = Vec::with_capacity(10);
        for _ in 0..10 {
            thread::sleep(run / 10);
            rss_kib.push(proc_status_kib(pid, "VmRSS:"));
        }
        stop.store(true, Ordering::Relaxed);
        rss_kib
    });
    let memory = Memory {
        idle_kib,
        rss_kib,
        peak_kib: proc_status_kib(pid, "VmHWM:"),
    };
    let verdict = report(&totals, started.elapsed(), &memory, &gti);
    drop(relay);
    if !verdict {
        std::process::exit(1);
    }
}

/// The release relay on port 0, against `gti` and the bench's mock JWKS.
fn start_relay(gti: &MockGti) -> Relay {
    let mut envs = gti.vars();
    envs.extend(
        [
            ("RELAY_URL", RELAY_URL.to_owned()),
            (
                "JWKS_URL_TEMPLATE",
                "http://{jwks_host}/.well-known/jwks".to_owned(),
            ),
            ("JWKS_ALLOWED_HOSTS", "127.0.0.1:*".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    let binary = env!("CARGO_BIN_EXE_gti-relay");
    let mut clear = child::allocator_variables();
    clear.extend(gti_relay::config::variable_names().map(str::to_owned));
    let command = child::command(binary, &[], clear.iter().map(String::as_str), &envs);
    child::spawn(command, Banner::Log)
}

/// What every client sends to: the relay's URL, the token and its forged
/// twin, the observables.
struct Target {
    url: String,
    token: String,
    forged: String,
    observables: Vec<Value>,
}

/// Client `index`: the requests of [`MIX`] in turn, from its own place in
/// it, on its own keep-alive connection, until `stop`; counted in `totals`.
fn client(index: usize, target: &Target, totals: &Totals, stop: &AtomicBool) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let observables = &target.observables;
    let mut latencies = Vec::new();
    let mut round = index;
    while !stop.load(Ordering::Relaxed) {
        let kind = MIX[round % MIX.len()];
        let pair = [
            observables[round % OBSERVABLES].clone(),
            observables[(round + 1) % OBSERVABLES].clone(),
        ];
        round += 1;
        let sent = Instant::now();
        let outcome = request(&agent, target, kind, &pair);
        latencies.push(sent.elapsed());
        totals.requests.fetch_add(1, Ordering::Relaxed);
        if let Err(problem) = outcome {
            totals.failures.fetch_add(1, Ordering::Relaxed);
            let mut first = totals.first_failures.lock().unwrap();
            if first.len() < 5 {
                first.push(problem);
            }
        }
    }
    totals.latencies.lock().unwrap().extend(latencies);
}

/// The relay's RSS readings over the run.
struct Memory {
    idle_kib: u64,
    /// Every tenth of the run.
    rss_kib: Vec<u64>,
    peak_kib: u64,
}

/// Prints the table and the verdict; whether the targets were met.
fn report(totals: &Totals, elapsed: Duration, memory: &Memory, gti: &MockGti) -> bool {
    let (half_kib, end_kib) = (memory.rss_kib[4], memory.rss_kib[9]);
    let requests = totals.requests.load(Ordering::Relaxed);
    let failures = totals.failures.load(Ordering::Relaxed);
    let mut latencies = totals.latencies.lock().unwrap().clone();
    latencies.sort();
    let growth = (end_kib as f64 / half_kib.max(1) as f64 - 1.0) * 100.0;
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| requests | {requests} ({:.0}/s) |",
        requests as f64 / elapsed.as_secs_f64()
    );
    println!("| failed requests | {failures} |");
    println!(
        "| latency p50 / p99 | {:.1} ms / {:.1} ms |",
        ms(percentile(&latencies, 50)),
        ms(percentile(&latencies, 99))
    );
    println!("| relay RSS idle | {:.1} MB |", mb(memory.idle_kib));
    let series: Vec<String> = memory
        .rss_kib
        .iter()
        .map(|kib| format!("{:.1}", mb(*kib)))
        .collect();
    println!(
        "| relay RSS every tenth of the run | {} MB |",
        series.join(" · ")
    );
    println!(
        "| relay RSS at half time / end / peak | {:.1} MB / {:.1} MB / {:.1} MB |",
        mb(half_kib),
        mb(end_kib),
        mb(memory.peak_kib)
    );
    println!("| RSS growth over the second half | {growth:+.1} % |");
    println!(
        "| GTI calls / most in flight | {} / {} |",
        gti.total_calls(),
        gti.max_in_flight()
    );
    for problem in totals.first_failures.lock().unwrap().iter() {
        println!("failure: {problem}");
    }
    let verdict = failures == 0 && growth.abs() <= MAX_GROWTH_PERCENT;
    println!();
    println!(
        "soak: {} (target: 0 failed requests, RSS flat over the second half: within ± {MAX_GROWTH_PERCENT} %)",
        if verdict { "ok" } else { "MISSED" }
    );
    verdict
}

/// Sends one request of `kind` and checks its answer.
///
/// Longer than 60 lines on purpose: one arm per kind of request, each with
/// the answer it must get, reads best as one `match`.
fn request(
    agent: &ureq::Agent,
    target: &Target,
    kind: Kind,
    pair: &[Value; 2],
) -> Result<(), String> {
    let (url, token, forged) = (&target.url, &target.token, &target.forged);
    let post = |path: &str, bearer: Option<&str>, body: String| -> Result<(u16, Value), String> {
        let mut request = agent.post(format!("{url}{path}"));
        if let Some(bearer) = bearer {
            request = request.header("Authorization", format!("Bearer {bearer}"));
        }
        let mut response = request
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|error| format!("{path}: {error}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|error| format!("{path}: {error}"))?;
        let json = serde_json::from_slice(&bytes).map_err(|error| format!("{path}: {error}"))?;
        Ok((status, json))
    };
    let pair = Value::Array(pair.to_vec()).to_string();
    let (status, answer, fine) = match kind {
        Kind::Observe => {
            let (status, answer) = post("/observe/observables", Some(token), pair)?;
            let fine = answer["data"]["sightings"]["count"].as_u64().unwrap_or(0) > 0
                && answer.get("errors").is_none();
            (status, answer, fine)
        }
        Kind::Health => {
            let (status, answer) = post("/health", Some(token), String::new())?;
            let fine = answer == json!({"data": {"status": "ok"}});
            (status, answer, fine)
        }
        Kind::Refer => {
            let (status, answer) = post("/refer/observables", None, pair)?;
            let fine = answer["data"]
                .as_array()
                .is_some_and(|links| links.len() == 2);
            (status, answer, fine)
        }
        Kind::ForgedToken => {
            let (status, answer) = post("/observe/observables", Some(forged), pair)?;
            let fine = answer["errors"][0]["code"] == "authorization error";
            (status, answer, fine)
        }
        Kind::InvalidBody => {
            let (status, answer) = post(
                "/observe/observables",
                Some(token),
                "[{\"type\": 1}]".to_owned(),
            )?;
            let fine = answer["errors"][0]["code"] == "invalid payload received";
            (status, answer, fine)
        }
        Kind::UnknownPath => {
            let (status, answer) = post("/nowhere", None, String::new())?;
            return if status == 404 && answer["errors"][0]["code"] == "not found" {
                Ok(())
            } else {
                Err(format!("/nowhere: {status} {answer}"))
            };
        }
    };
    if status == 200 && fine {
        Ok(())
    } else {
        let text = answer.to_string();
        Err(format!("{status} {}", &text[..text.len().min(300)]))
    }
}

/// Twenty IPs, each with one detection (two events) and a searched event a
/// day for the last week, DHCP for their internal peers.
fn load(gti: &MockGti) -> Vec<Value> {
    let now = now_millis();
    let hour = 3_600_000;
    (0..OBSERVABLES)
        .map(|index| {
            let value = format!("198.51.100.{index}");
            let internal = format!("10.9.0.{index}");
            let event = |uuid: String, at: u64| {
                json!({
                    "event_type": "flow", "uuid": uuid, "customer_id": "cstmr", "sensor_id": "snsr",
                    "timestamp": format_timestamp(at), "proto": "tcp", "service": "https",
                    "flow_state": "SF", "total_pkts": 12,
                    "src": {"ip": internal, "internal": true},
                    "dst": {"ip": value, "internal": false},
                })
            };
            let detection = format!("00000000-0000-4000-8000-{index:012x}");
            gti.set_detections(
                &value,
                json!({
                    "detections": [{
                        "uuid": detection, "account_uuid": "acct", "device_ip": internal,
                        "rule_uuid": "rule-soak", "indicators": [{"field": "dst.ip", "values": [value]}],
                    }],
                    "rules": [{
                        "uuid": "rule-soak", "name": "Soak rule", "category": "Attack:C2",
                        "description": "A rule of the soak's data.", "severity": "high",
                        "confidence": "moderate", "created": "2021-01-01T00:00:00.000Z",
                    }],
                }),
            );
            gti.set_detection_events(
                &detection,
                (0..2).map(|n| event(format!("{detection}-d{n}"), now - hour - n * 60_000)).collect(),
            );
            gti.add_searched_events(
                &format!("ip = '{value}'"),
                (0..7).map(|day| event(format!("{detection}-s{day}"), now - day * 24 * hour - 2 * hour)).collect(),
            );
            gti.set_dhcp_records(
                &internal,
                vec![json!({"ip": internal, "account_code": "cstmr", "hostname": format!("host-{index}"), "mac": "00:00:5e:00:53:01"})],
            );
            json!({"type": "ip", "value": value})
        })
        .collect()
}
