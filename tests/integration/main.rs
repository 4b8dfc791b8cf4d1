//! Integration tests over real loopback sockets: the relay and mock GTI and
//! JWKS servers all run in this process on ephemeral ports.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod endpoints;
mod gti_client;
mod http_hardening;
mod properties;
mod relay_auth;
