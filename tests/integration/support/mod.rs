//! Helpers of the integration tests only: the in-process relay, mock GTI
//! faults, proxies, TLS fronts, log capture. The mock JWKS and the test
//! tokens, which the benches use too, come from the `testkit` crate.

#![allow(dead_code)]

pub use testkit::{jwks, tokens};

pub mod logs;
pub mod mock_gti;
pub mod process;
pub mod proxy;
pub mod regions;
pub mod relay;
pub mod stack;
pub mod tls;

/// A GTI timestamp `minutes` before now.
pub fn timestamp_minutes_ago(minutes: u64) -> String {
    let now = gti_relay::time::now_millis();
    gti_relay::time::format_timestamp(now.saturating_sub(minutes * 60_000))
}
