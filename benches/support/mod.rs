//! What the benchmarks share: the relay as a child process, and readings
//! of `/proc` and of latency samples.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the relay may take to answer its first /watchdog.
pub const START_TIME_LIMIT: Duration = Duration::from_secs(10);

/// A relay process, killed when dropped.
pub struct Relay {
    pub child: Child,
    pub address: SocketAddr,
    pub started_in: Duration,
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Relay {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts `binary` on a free loopback port with `envs` (the relay's own
/// variables are cleared first, so the caller's shell cannot leak in) and
/// waits for its first `/watchdog` answer; tries three ports.
pub fn spawn_relay(binary: &str, envs: &[(String, String)]) -> Relay {
    // The per-request log line is part of the relay's work.
    spawn_command(binary, &[], envs, Stdio::null)
}

/// [`spawn_relay`] with command-line `args` (e.g. `demo`), the child's
/// stdout made by `stdout` (`Stdio::piped` to read what it prints through
/// `Relay::child`).
pub fn spawn_command(
    binary: &str,
    args: &[&str],
    envs: &[(String, String)],
    stdout: fn() -> Stdio,
) -> Relay {
    for _ in 0..3 {
        let port = free_port();
        let started = Instant::now();
        let mut command = Command::new(binary);
        for name in gti_relay::config::variable_names() {
            command.env_remove(name);
        }
        let child = command
            .args(args)
            .envs(envs.iter().map(|(name, value)| (name, value)))
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(stdout())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {binary}: {error}"));
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut relay = Relay {
            child,
            address,
            started_in: Duration::ZERO,
        };
        if let Some(elapsed) = first_watchdog(address, started) {
            relay.started_in = elapsed;
            return relay;
        }
        eprintln!("bench: the relay did not answer on port {port}; trying another port");
    }
    panic!("the relay did not start");
}

/// The time from `started` to the first `/watchdog` answer, polling every
/// millisecond; `None` after [`START_TIME_LIMIT`].
pub fn first_watchdog(address: SocketAddr, started: Instant) -> Option<Duration> {
    while started.elapsed() < START_TIME_LIMIT {
        if let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(100)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request =
                "GET /watchdog HTTP/1.1\r\nHost: bench\r\nHealth-Check: 1\r\nConnection: close\r\n\r\n";
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = [0u8; 12];
                if std::io::Read::read_exact(&mut stream, &mut answer).is_ok()
                    && answer.starts_with(b"HTTP/1.1 200")
                {
                    return Some(started.elapsed());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|error| panic!("no free loopback port: {error}"))
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `utime + stime` of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(&pid.to_string(), 2)
}

/// `utime + stime + cutime + cstime` of this process, in clock ticks: its
/// own threads and the children it has waited for (the relays it dropped).
pub fn own_ticks() -> u64 {
    stat_ticks("self", 4)
}

/// The sum of the first `count` CPU-time fields of `/proc/<pid>/stat` from
/// utime on (fields 14, 15, 16, 17: utime, stime, cutime, cstime); the name
/// in field 2 may hold spaces, so count after its closing parenthesis.
fn stat_ticks(pid: &str, count: usize) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // After the name the state is field 3, so utime (14) is the 12th.
    after_name
        .split_whitespace()
        .skip(11)
        .take(count)
        .filter_map(|value| value.parse::<u64>().ok())
        .sum()
}

/// The clock ticks the whole machine spent not idle (the first line of
/// `/proc/stat`: user, nice, system, irq, softirq, steal; not idle and
/// iowait).
pub fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let times: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|value| value.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    times
        .iter()
        .enumerate()
        .filter(|&(index, _)| index != 3 && index != 4 && index < 8)
        .map(|(_, ticks)| ticks)
        .sum()
}

pub fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `kB` line of `/proc/<pid>/status`, e.g. `VmRSS:`.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    kib_field(&format!("/proc/{pid}/status"), field)
}

/// The load averages over 1, 5 and 15 minutes, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn proc_meminfo_kib(field: &str) -> u64 {
    kib_field("/proc/meminfo", field)
}

/// The number after `field` (e.g. `VmRSS:`) in a `/proc` file of `kB` lines;
/// 0 when it cannot be read.
fn kib_field(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}
