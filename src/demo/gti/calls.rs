//! The calls the mock received: [`Call`], one request as it arrived, and
//! the bounded log of them, with counts that stay exact however many calls
//! the log still holds.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use crate::gti::Endpoint;

/// One request the mock received, as it received it.
#[derive(Debug, Clone)]
pub struct Call {
    /// `None` for a path that is none of GTI's endpoints.
    pub endpoint: Option<Endpoint>,
    pub method: String,
    pub path: String,
    /// The query string, percent-decoded, in order (`include` appears twice).
    pub query: Vec<(String, String)>,
    /// Every header, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
}

impl Call {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// How many times header `name` was sent.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(field, _)| field.eq_ignore_ascii_case(name))
            .count()
    }

    /// Every value of query parameter `name`, in order.
    pub fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first value of query parameter `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query_values(name).first().copied()
    }
}

/// The calls received: exact counts, and the last `capacity` calls, oldest
/// dropped first.
#[derive(Default)]
pub(super) struct CallLog {
    capacity: usize,
    calls: VecDeque<Call>,
    counts: HashMap<Endpoint, usize>,
    total: usize,
}

impl CallLog {
    /// A log keeping the last `capacity` calls (0: none, only the counts).
    pub(super) fn new(capacity: usize) -> CallLog {
        CallLog {
            capacity,
            ..CallLog::default()
        }
    }

    /// Counts a call to `endpoint` (`None`: no endpoint) and keeps it;
    /// `call` builds it only when the log keeps calls.
    pub(super) fn record(&mut self, endpoint: Option<Endpoint>, call: impl FnOnce() -> Call) {
        self.total += 1;
        if let Some(endpoint) = endpoint {
            *self.counts.entry(endpoint).or_default() += 1;
        }
        if self.capacity == 0 {
            return;
        }
        if self.calls.len() == self.capacity {
            self.calls.pop_front();
        }
        self.calls.push_back(call());
    }

    /// The calls the log still holds, in arrival order.
    pub(super) fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.iter()
    }

    /// How many calls `endpoint` received.
    pub(super) fn count(&self, endpoint: Endpoint) -> usize {
        self.counts.get(&endpoint).copied().unwrap_or(0)
    }

    /// How many calls were received in all (unknown paths included).
    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// Forgets the calls and their counts; the capacity stays.
    pub(super) fn clear(&mut self) {
        self.calls.clear();
        self.counts.clear();
        self.total = 0;
    }
}
