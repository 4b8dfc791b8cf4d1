//! The relay binary turns glibc's per-thread malloc caches off for itself
//! (`memory::restart_without_thread_caches`): it restarts once, same
//! process, with the setting added to `GLIBC_TUNABLES`, keeping what the
//! operator set, and not at all when the operator set the caches.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use testkit::child::{self, Banner};

/// The marker of a restarted relay (`gti_relay::memory` is private).
const RESTARTED: &str = "GTI_RELAY_RESTARTED_WITHOUT_THREAD_CACHES";

/// `GLIBC_TUNABLES` of a serving relay started with `tunables` (unset when
/// `None`) and the variables `envs`, read from its process once it listens.
fn tunables_of_relay_started_with(tunables: Option<&str>, envs: &[(&str, &str)]) -> Option<String> {
    let mut clear: Vec<&str> = gti_relay::config::variable_names().collect();
    clear.extend(["GLIBC_TUNABLES", RESTARTED]);
    let envs: Vec<(String, String)> = tunables
        .map(|value| ("GLIBC_TUNABLES", value))
        .into_iter()
        .chain(envs.iter().copied())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let command = child::command(env!("CARGO_BIN_EXE_gti-relay"), &[], clear, &envs);
    let relay = child::spawn(command, Banner::Log);
    let environ = std::fs::read(format!("/proc/{}/environ", relay.pid())).unwrap();
    // glibc parses the variable in place at start-up, writing a NUL over
    // each `:`, so its tunables after the first read as entries of their own.
    let mut entries = environ.split(|byte| *byte == 0);
    let first = entries.find_map(|entry| entry.strip_prefix(b"GLIBC_TUNABLES="))?;
    let rest = entries.take_while(|entry| entry.starts_with(b"glibc."));
    let tunables: Vec<String> = std::iter::once(first)
        .chain(rest)
        .map(|tunable| String::from_utf8_lossy(tunable).into_owned())
        .collect();
    Some(tunables.join(":"))
}

#[test]
fn the_relay_serves_without_thread_caches_keeping_the_operators_tunables() {
    assert_eq!(
        tunables_of_relay_started_with(None, &[]).as_deref(),
        Some("glibc.malloc.tcache_count=0")
    );
    assert_eq!(
        tunables_of_relay_started_with(Some("glibc.malloc.arena_max=3"), &[]).as_deref(),
        Some("glibc.malloc.arena_max=3:glibc.malloc.tcache_count=0")
    );
    // The operator's own cache setting wins: no restart, nothing added.
    assert_eq!(
        tunables_of_relay_started_with(Some("glibc.malloc.tcache_count=2"), &[]).as_deref(),
        Some("glibc.malloc.tcache_count=2")
    );
    // A restarted relay never restarts again, whatever glibc did to the
    // variable.
    assert_eq!(
        tunables_of_relay_started_with(None, &[(RESTARTED, "1")]),
        None
    );
}
