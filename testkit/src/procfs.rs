//! Readings of `/proc`: a process's CPU time, memory and threads, the
//! machine's busy time, load average and memory. Linux only; a reading that cannot be
//! taken is 0 (or empty), so a bench prints a figure rather than stops.

use std::process::Command;

/// The cores this process may run on.
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

/// Clock ticks per second (`getconf CLK_TCK`; 100 when it cannot be run).
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

/// The threads `pid` has now (`Threads:` of `/proc/<pid>/status`).
pub fn threads(pid: u32) -> u64 {
    kib_field(&format!("/proc/{pid}/status"), "Threads:")
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

/// A `kB` line of `/proc/meminfo`, e.g. `MemTotal:`.
pub fn proc_meminfo_kib(field: &str) -> u64 {
    kib_field("/proc/meminfo", field)
}

/// The number after `field` (e.g. `VmRSS:`, in kB, or `Threads:`) in a
/// `/proc` file of `name: value` lines; 0 when it cannot be read.
fn kib_field(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}
