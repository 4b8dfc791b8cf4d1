//! Helpers shared by the integration tests: mock servers and token minting.

#![allow(dead_code)]

pub mod jwks;
pub mod logs;
pub mod mock_gti;
pub mod process;
pub mod relay;
pub mod stack;
pub mod tls;
pub mod tokens;
