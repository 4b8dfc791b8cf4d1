//! What the relay's integration tests and benches share, so that neither
//! includes the other's files: `jwks` (a mock JWKS server) and `tokens`
//! (RS256 test tokens from the fixture keys in `tests/fixtures/`). Nothing
//! here depends on the relay's library.

#![forbid(unsafe_code)]

pub mod jwks;
pub mod tokens;
