//! Integration tests over real loopback sockets: the relay and mock GTI and
//! JWKS servers all run in this process on ephemeral ports.

mod auth;
mod cli;
mod demo;
mod egress;
mod endpoints;
mod enrichment;
mod faults;
mod gti_client;
mod http_hardening;
mod log_lines;
mod memory;
mod metrics;
mod observe;
mod properties;
mod regions;
mod relay_auth;
mod resilience;
mod secrets;
mod shutdown;
mod support;
mod xdr;
