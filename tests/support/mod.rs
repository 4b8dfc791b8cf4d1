//! Helpers shared by the integration tests: mock servers and token minting.

#![allow(dead_code)]

pub mod jwks;
pub mod logs;
pub mod mock_gti;
pub mod process;
pub mod proxy;
pub mod regions;
pub mod relay;
pub mod stack;
pub mod tls;
pub mod tokens;

/// A GTI timestamp `minutes` before now.
pub fn timestamp_minutes_ago(minutes: u64) -> String {
    let now = gti_relay::time::now_millis();
    gti_relay::time::format_timestamp(now.saturating_sub(minutes * 60_000))
}
