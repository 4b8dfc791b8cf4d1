//! What the relay's integration tests and benches share, so that neither
//! includes the other's files.
//!
//! `jwks` (a mock JWKS server) and `tokens` (RS256 test tokens from the
//! fixture keys in `tests/fixtures/`) serve the tests and both benches;
//! `child` (the release relay as a child process on port 0), `procfs`
//! (CPU time, memory and threads read from `/proc`), `dockerfile` (the
//! environment a Dockerfile's final stage sets), `samples` (percentiles and
//! units) and `args` (command-line values through `lexopt`) serve the
//! benches. Nothing here depends on the relay's library:
//! a caller passes in what it needs of it (e.g. which variables to clear).

#![forbid(unsafe_code)]

pub mod args;
pub mod child;
pub mod dockerfile;
pub mod jwks;
pub mod procfs;
pub mod samples;
pub mod tokens;
