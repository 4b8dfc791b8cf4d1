//! Injected faults: what a [`Fault`] does to a call (a delay, its own
//! status or body, a truncated or slow body), and the list of faults in the
//! order added, from which each call takes the first that applies. Knows
//! nothing of the endpoints' answers.

use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::reply::{gti_error_body, Delivery, Reply};
use crate::gti::Endpoint;

/// A fault to inject on one endpoint: build with [`Fault::status`],
/// [`Fault::gti_error`] or [`Fault::delay`], refine with the `with_*`/other
/// methods. Faults apply to every matching call unless limited by
/// [`Fault::times`]; the first applicable fault (in the order added) wins.
#[derive(Debug, Clone, Default)]
pub struct Fault {
    status: Option<u16>,
    body: Option<String>,
    retry_after: Option<String>,
    delay: Duration,
    delivery: Delivery,
    times: Option<usize>,
    matching: Option<String>,
}

impl Fault {
    /// Reply `status` with an empty body.
    pub fn status(status: u16) -> Fault {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }

    /// Reply `status` with GTI's error body `{"error":{code, message}}`.
    pub fn gti_error(status: u16, code: &str, message: &str) -> Fault {
        Fault::status(status).with_json(gti_error_body(code, message))
    }

    /// Wait `delay`, then answer normally (or as the rest of the fault says).
    pub fn delay(delay: Duration) -> Fault {
        Fault {
            delay,
            ..Fault::default()
        }
    }

    /// Send `body` as is (e.g. HTML for a non-JSON answer). Without a status
    /// the answer is a 200.
    pub fn with_body(mut self, body: &str) -> Fault {
        self.body = Some(body.to_owned());
        self
    }

    /// Send `body` as JSON (e.g. the wrong shape). Without a status the
    /// answer is a 200.
    pub fn with_json(self, body: Value) -> Fault {
        self.with_body(&body.to_string())
    }

    /// Add a `Retry-After` header with this value (seconds or HTTP-date).
    pub fn with_retry_after(mut self, value: &str) -> Fault {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Send the head and half the body, then close the connection.
    pub fn truncated(mut self) -> Fault {
        self.delivery = Delivery::Truncated;
        self
    }

    /// Send the head at once and the body after `delay` (a slow body, as
    /// opposed to [`Fault::delay`]'s slow head).
    pub fn with_slow_body(mut self, delay: Duration) -> Fault {
        self.delivery = Delivery::SlowBody(delay);
        self
    }

    /// Apply to the first `n` matching calls only, then serve normally
    /// ("fail the first N calls, then succeed").
    pub fn times(mut self, n: usize) -> Fault {
        self.times = Some(n);
        self
    }

    /// Apply only to calls whose decoded query string or JSON body contains
    /// `needle` (e.g. an indicator value or a detection uuid).
    pub fn matching(mut self, needle: &str) -> Fault {
        self.matching = Some(needle.to_owned());
        self
    }

    /// Whether the fault still applies to a call with this path, decoded
    /// query and body.
    fn applies(&self, path: &str, query: &[(String, String)], body: &str) -> bool {
        self.times != Some(0)
            && self.matching.as_deref().is_none_or(|needle| {
                body.contains(needle)
                    || path.contains(needle)
                    || query.iter().any(|(_, value)| value.contains(needle))
            })
    }

    /// Sleeps out the fault's delay, then gives its own answer when it has
    /// a status or a body (`Err`), else how the normal answer is delivered
    /// (`Ok`; a `Retry-After` alone is not sent).
    pub(super) fn apply(self) -> Result<Delivery, Reply> {
        if !self.delay.is_zero() {
            thread::sleep(self.delay);
        }
        if self.status.is_none() && self.body.is_none() {
            return Ok(self.delivery);
        }
        Err(Reply {
            status: self.status.unwrap_or(200),
            body: self.body.unwrap_or_default(),
            retry_after: self.retry_after,
            delivery: self.delivery,
            close: false,
        })
    }
}

/// The faults injected, in the order added, each with the endpoint it is
/// on; each fault's `times` counts down as it applies.
#[derive(Default)]
pub(super) struct Faults(Vec<(Endpoint, Fault)>);

impl Faults {
    pub(super) fn add(&mut self, endpoint: Endpoint, fault: Fault) {
        self.0.push((endpoint, fault));
    }

    /// Consumes one application of the first fault on `endpoint` that
    /// applies to this call.
    pub(super) fn take(
        &mut self,
        endpoint: Endpoint,
        path: &str,
        query: &[(String, String)],
        body: &str,
    ) -> Option<Fault> {
        let (_, fault) = self
            .0
            .iter_mut()
            .find(|(target, fault)| *target == endpoint && fault.applies(path, query, body))?;
        if let Some(left) = fault.times.as_mut() {
            *left -= 1;
        }
        Some(fault.clone())
    }
}
