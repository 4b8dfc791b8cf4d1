//! How a relay binary is started ([`Setup`]): **as built** (the bench's
//! relay, `cargo build --release`, with no allocator variable at all, as a
//! user who starts it directly runs it) or **as shipped** (the `make
//! static` binary with the environment the image's final stage sets, read
//! from the Dockerfile itself: one copy of those values).
//!
//! Every relay the bench starts loses the bench's own allocator variables
//! ([`allocator_variables`]) before its set-up's are applied, so the
//! caller's shell cannot change what a figure means.

use std::path::{Path, PathBuf};

use testkit::dockerfile::final_stage_env;

/// The `make static` target (the Makefile's `TARGET`, the Dockerfile's
/// `--target`).
const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Variables the image sets that are not about the binary's set-up: the
/// bench gives each relay its own address.
const NOT_SETUP: [&str; 2] = ["HOST", "PORT"];

/// A relay binary and the environment it starts with.
#[derive(Clone, Debug)]
pub struct Setup {
    pub binary: String,
    pub envs: Vec<(String, String)>,
}

impl Setup {
    /// `binary` (by default the bench's own, `target/release/gti-relay`)
    /// with no allocator environment.
    pub fn as_built(binary: &str) -> Setup {
        Setup {
            binary: binary.to_owned(),
            envs: Vec::new(),
        }
    }

    /// `binary` (by default [`static_binary`]) with the environment of the
    /// Dockerfile's final stage but `HOST` and `PORT`; `Err(what to print
    /// instead)` when the binary is not there or the Dockerfile cannot be
    /// read.
    pub fn as_shipped(binary: &str) -> Result<Setup, String> {
        if !Path::new(binary).is_file() {
            return Err("not built (make static)".to_owned());
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
        let dockerfile = std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read the Dockerfile: {error}"))?;
        let envs = final_stage_env(&dockerfile)
            .map_err(|error| format!("cannot read the Dockerfile: {error}"))?
            .into_iter()
            .filter(|(name, _)| !NOT_SETUP.contains(&name.as_str()))
            .collect();
        Ok(Setup {
            binary: binary.to_owned(),
            envs,
        })
    }

    /// The binary's path, relative to the repository when it is inside.
    pub fn shown_binary(&self) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let binary = Path::new(&self.binary);
        binary
            .strip_prefix(root)
            .unwrap_or(binary)
            .display()
            .to_string()
    }

    /// The environment as `NAME=value`, comma-separated, or `none`.
    pub fn shown_envs(&self) -> String {
        if self.envs.is_empty() {
            return "none".to_owned();
        }
        let shown: Vec<String> = self
            .envs
            .iter()
            .map(|(name, value)| format!("`{name}={value}`"))
            .collect();
        shown.join(", ")
    }
}

/// Where `make static` leaves its binary: beside `built`'s `release/`
/// folder, under the target triple (so a `CARGO_TARGET_DIR` is followed).
pub fn static_binary(built: &str) -> String {
    let release = Path::new(built).parent().unwrap_or(Path::new("."));
    let target = release.parent().unwrap_or(Path::new("."));
    let path: PathBuf = target.join(STATIC_TARGET).join("release").join("gti-relay");
    path.display().to_string()
}
