//! gti-relay: a SecureX / Cisco XDR Threat Response relay module for
//! Gigamon ThreatINSIGHT.
//!
//! A request flows `server` (tiny_http, worker pool) → `routes` (plain
//! handlers) → `auth` (JWT + JWKS) → `workflow` (parallel GTI calls through
//! `gti`) → `ctim` (pure mapping) → back out as JSON. `config` is read once
//! at start-up; `errors` renders every failure a caller can see.

#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod ctim;
pub mod errors;
pub mod gti;
pub mod workflow;
