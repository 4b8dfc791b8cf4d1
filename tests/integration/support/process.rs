//! The `gti-relay` binary as a child process, with every wait bounded.
//!
//! ```ignore
//! let out = Bin::new(&["observe", "-"]).env("GTI_API_KEY", "k").stdin("[]").run();
//! assert_eq!(out.code, 0, "{}", out.stderr);
//! ```

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest any test waits for the binary.
pub const WAIT: Duration = Duration::from_secs(60);

/// What a finished run printed and returned.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A command line for the binary under test. The variables a test could
/// inherit from the developer's shell (`GTI_API_KEY`, `PORT`, …) are removed.
pub struct Bin {
    command: Command,
    stdin: Vec<u8>,
}

impl Bin {
    pub fn new(args: &[&str]) -> Bin {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gti-relay"));
        command.args(args);
        for name in gti_relay::config::variable_names().chain(["GTI_API_KEY"]) {
            command.env_remove(name);
        }
        Bin {
            command,
            stdin: Vec::new(),
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Bin {
        self.command.env(name, value);
        self
    }

    pub fn envs(mut self, vars: &[(String, String)]) -> Bin {
        for (name, value) in vars {
            self.command.env(name, value);
        }
        self
    }

    pub fn stdin(mut self, text: &str) -> Bin {
        self.stdin = text.as_bytes().to_vec();
        self
    }

    /// Starts the binary with piped stdio; the caller reads and waits.
    pub fn spawn(mut self) -> KillOnDrop {
        let child = self
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gti-relay");
        KillOnDrop(Some(child))
    }

    /// Runs the binary to completion (at most [`WAIT`]).
    pub fn run(mut self) -> Output {
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gti-relay");
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = std::mem::take(&mut self.stdin);
        // Written from a thread so a child that does not read cannot block us.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        // Drained from threads, so a chatty child cannot fill a pipe and stall.
        let stdout = read_all(child.stdout.take().expect("stdout is piped"));
        let stderr = read_all(child.stderr.take().expect("stderr is piped"));
        let mut guard = KillOnDrop(Some(child));
        let code = guard.wait_bounded(WAIT);
        let _ = writer.join();
        Output {
            code,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        }
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A child process that is killed if the test ends (or panics) before it.
pub struct KillOnDrop(pub Option<Child>);

impl KillOnDrop {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child present")
    }

    /// Waits for the exit code, failing the test after `limit`.
    ///
    /// Output pipes are not drained here: callers read them from threads.
    pub fn wait_bounded(&mut self, limit: Duration) -> i32 {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child().try_wait().expect("poll the child") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                started.elapsed() < limit,
                "gti-relay did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM, as a container runtime does to stop a container.
    pub fn terminate(&mut self) {
        let pid = self.child().id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
