//! [`AuthError`]: why a request's token was refused, one variant per step
//! of SPEC §3, each with its exact public message. Only the messages live
//! here; `errors` renders them for callers.

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
    /// The `GTI_REGION` claim is there but names no region the relay
    /// serves (SPEC §7): not an authorization failure but a module
    /// configured wrongly, so it is answered with its own code.
    InvalidRegion,
}

impl AuthError {
    /// The message after `Authorization failed: ` (for
    /// [`AuthError::InvalidRegion`], the whole message).
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
            AuthError::InvalidRegion => {
                "Invalid GTI_REGION in JWT payload: expected us or eu. Make sure custom_GTI_REGION in the module is us, eu or empty"
            }
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}
