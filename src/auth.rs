//! Authentication of SecureX / XDR requests: the `Authorization: Bearer`
//! JWT, verified with RS256 against keys fetched from the token's
//! `jwks_host` (allow-listed, cached), and the per-request settings carried
//! in its claims.

use std::fmt;

/// Why a request's token was refused (SPEC §3). Each variant's message is
/// exact: callers match on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header.
    MissingHeader,
    /// The scheme is not `Bearer`, or the header is not `Bearer <token>`.
    WrongType,
    /// Not a JWT, or not signed with RS256.
    WrongStructure,
    /// The token has no `jwks_host` claim.
    MissingJwksHost,
    /// `jwks_host` is not allowed, unreachable, or did not answer a JWKS.
    WrongJwksHost,
    /// The token's `kid` is not among the host's keys.
    KidNotFound,
    /// The signature does not verify with the key.
    WrongKey,
    /// `aud` is not the relay's URL.
    WrongAudience,
    /// No `key` claim (or a claim of the wrong type).
    WrongPayload,
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
}

impl AuthError {
    /// The message after `Authorization failed: `.
    pub fn message(&self) -> &'static str {
        match self {
            AuthError::MissingHeader => "Authorization header is missing",
            AuthError::WrongType => "Wrong authorization type",
            AuthError::WrongStructure => "Wrong JWT structure",
            AuthError::MissingJwksHost => {
                "jwks_host is missing in JWT payload. Make sure custom_jwks_host field is present in module_type"
            }
            AuthError::WrongJwksHost => {
                "Wrong jwks_host in JWT payload. Make sure domain follows the visibility.<region>.cisco.com structure"
            }
            AuthError::KidNotFound => "kid from JWT header not found in API response",
            AuthError::WrongKey => {
                "Failed to decode JWT with provided key. Make sure domain in custom_jwks_host corresponds to your SecureX instance region."
            }
            AuthError::WrongAudience => "Wrong configuration-token-audience",
            AuthError::WrongPayload => "Wrong JWT payload structure",
            AuthError::Expired => "The JWT has expired",
            AuthError::NotYetValid => "The JWT is not valid yet",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// What a verified token grants one request. Never logged: `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The GTI API key (`key` claim).
    pub key: String,
    /// Entities per observable (`CTR_ENTITIES_LIMIT`, 1..=1000, default 100).
    pub entities_limit: usize,
    /// Whether test accounts' data is kept (`GTI_ALLOW_TEST_ACCOUNTS`).
    pub allow_test_accounts: bool,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key", &"<redacted>")
            .field("entities_limit", &self.entities_limit)
            .field("allow_test_accounts", &self.allow_test_accounts)
            .finish()
    }
}
