//! The relay binary as a child process on `127.0.0.1:0`: started, its bound
//! address read back from what it prints on stdout (no free-port race), its
//! first `/watchdog` answer awaited, killed when dropped. Every wait is
//! bounded by [`START_TIME_LIMIT`].
//!
//! ```ignore
//! let envs = [("GTI_MAX_INFLIGHT".to_owned(), "64".to_owned())];
//! let command = child::command(binary, &[], gti_relay::config::variable_names(), &envs);
//! let relay = child::spawn(command, Banner::Log);
//! agent.post(&relay.url("/health"));
//! ```

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the relay may take to say where it listens and to answer its
/// first `/watchdog`.
pub const START_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Stdout lines read at most before the relay must have said where it
/// listens (the demo's banner is a few dozen).
const BANNER_LINES: usize = 200;

/// What the child prints on stdout once it serves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Banner {
    /// `gti-relay` (serve): its start-up log line `… listening on ADDRESS`.
    Log,
    /// `gti-relay demo`: `relay: http://ADDRESS`, then `token: TOKEN`.
    Demo,
}

/// A relay process, killed when dropped.
pub struct Relay {
    child: Child,
    pub address: SocketAddr,
    /// From the spawn to the first `/watchdog` answer.
    pub started_in: Duration,
    /// The demo's `token: …` ([`Banner::Demo`] only).
    pub token: Option<String>,
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

/// `binary` with `args`, the variables `clear` removed (the relay's own, so
/// that the caller's shell cannot leak in), then `envs` set.
pub fn command<'a>(
    binary: &str,
    args: &[&str],
    clear: impl IntoIterator<Item = &'a str>,
    envs: &[(String, String)],
) -> Command {
    let mut command = Command::new(binary);
    for name in clear {
        command.env_remove(name);
    }
    command
        .args(args)
        .envs(envs.iter().map(|(name, value)| (name, value)));
    command
}

/// Starts `command` with `HOST=127.0.0.1` and `PORT=0`, reads the address it
/// bound from its stdout (as `banner` says it prints it) and waits for its
/// first `/watchdog` answer. Its stdout is drained from a thread afterwards
/// (the request log), so it never blocks on a full pipe; its stderr is
/// inherited. Panics when the relay does not start within
/// [`START_TIME_LIMIT`].
pub fn spawn(mut command: Command, banner: Banner) -> Relay {
    let started = Instant::now();
    let mut child = command
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start the relay: {error}"));
    let stdout = child.stdout.take().expect("the relay's stdout is piped");
    let announced = read_banner(stdout, banner).recv_timeout(START_TIME_LIMIT);
    let mut relay = Relay {
        child,
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        started_in: Duration::ZERO,
        token: None,
    };
    let Ok((address, token)) = announced else {
        panic!("the relay did not say where it listens within {START_TIME_LIMIT:?}");
    };
    relay.address = address;
    relay.token = token;
    relay.started_in = first_watchdog(address, started)
        .unwrap_or_else(|| panic!("the relay did not answer /watchdog on {address}"));
    relay
}

/// Reads `stdout` on a thread until `banner`'s lines have been seen, sends
/// the address (and the demo's token) once, then drains the rest. The
/// sender is dropped unsent when the relay exits first or prints more than
/// [`BANNER_LINES`] lines without them.
fn read_banner(
    stdout: ChildStdout,
    banner: Banner,
) -> mpsc::Receiver<(SocketAddr, Option<String>)> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        let mut address = None;
        for _ in 0..BANNER_LINES {
            line.clear();
            if lines.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            let found = match banner {
                Banner::Log => line
                    .split("listening on ")
                    .nth(1)
                    .and_then(parse)
                    .map(|address| (address, None)),
                Banner::Demo => {
                    if let Some(rest) = line.strip_prefix("relay: http://") {
                        address = parse(rest.trim_end_matches('/'));
                    }
                    let token = line.strip_prefix("token: ");
                    address.zip(token.map(str::to_owned).map(Some))
                }
            };
            if let Some(found) = found {
                let _ = sender.send(found);
                break;
            }
        }
        let _ = std::io::copy(&mut lines, &mut std::io::sink());
    });
    receiver
}

fn parse(address: &str) -> Option<SocketAddr> {
    address.trim().parse().ok()
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
                if stream.read_exact(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.1 200") {
                    return Some(started.elapsed());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// The variables of this process's environment that would change a relay's
/// allocator: glibc's (`GLIBC_TUNABLES`, `MALLOC_*`), jemalloc's
/// (`MALLOC_CONF`, `_RJEM_MALLOC_CONF`), mimalloc's (`MIMALLOC_*`) and a
/// preloaded one (`LD_PRELOAD`): a bench clears them, so that a figure
/// never depends on the shell it was taken from.
pub fn allocator_variables() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            name == "GLIBC_TUNABLES"
                || name == "LD_PRELOAD"
                || name.starts_with("MALLOC_")
                || name.starts_with("_RJEM_")
                || name.starts_with("MIMALLOC_")
        })
        .collect()
}
