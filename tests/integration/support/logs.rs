//! A process-wide logger that keeps every record (all levels, all crates:
//! the relay's, ureq's, rustls', tiny_http's) so tests can search what the
//! relay would have written to its log.

use std::sync::{Mutex, Once};

use log::{LevelFilter, Log, Metadata, Record};

struct Capture {
    lines: Mutex<Vec<String>>,
}

static CAPTURE: Capture = Capture {
    lines: Mutex::new(Vec::new()),
};

impl Log for Capture {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(line);
    }

    fn flush(&self) {}
}

/// Starts capturing at the most verbose level (once per test binary).
pub fn start() {
    static START: Once = Once::new();
    START.call_once(|| {
        log::set_logger(&CAPTURE).expect("no other logger in the test binary");
        log::set_max_level(LevelFilter::Trace);
    });
}

/// Every line captured so far.
pub fn lines() -> Vec<String> {
    CAPTURE
        .lines
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}
