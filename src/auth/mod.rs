//! Authentication of SecureX / XDR requests: the `Authorization: Bearer`
//! JWT, verified with RS256 against keys fetched from the token's
//! `jwks_host` (allow-listed, cached), and the per-request settings carried
//! in its claims.
//!
//! [`Authenticator::authenticate`] runs the steps of SPEC §3 in order and
//! answers the first failure as an [`AuthError`]. The steps live in one file
//! each: `token` (header, JWT form, RS256 pinning, signature), `hosts` (the
//! allow-list), `jwks` (the key cache, the only I/O), `claims` (what the
//! payload grants). The JWKS fetch is made only for allow-listed hosts and
//! never while the key cache is locked. Tokens, keys and claims other than
//! the host are never logged; nothing from a request or the network can make
//! this module panic.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::region::Region;

mod claims;
mod error;
mod hosts;
mod jwks;
mod token;

pub use claims::{
    audience_from_request, parse_allow_test_accounts, parse_entities_limit, parse_region,
    Credentials,
};
pub(crate) use claims::{DEFAULT_ENTITIES_LIMIT, MAX_ENTITIES_LIMIT};
pub use error::AuthError;
pub use hosts::host_allowed;
pub use jwks::JwksObserver;
pub use token::MAX_TOKEN_BYTES;

use claims::{check_claims, jwks_host};
use jwks::KeyCache;
use token::{bearer_token, verify_signature, UnverifiedToken};

/// Verifies request tokens. One instance is shared by every worker thread.
pub struct Authenticator {
    allowed_hosts: Vec<String>,
    keys: KeyCache,
    /// The region of tokens that name none (`GTI_REGION`).
    default_region: Region,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("keys", &self.keys)
            .field("default_region", &self.default_region)
            .finish()
    }
}

impl Authenticator {
    /// Builds an authenticator from the JWKS settings of `config`; `http` is
    /// the agent keys are fetched with (its timeouts and roots apply; the
    /// proxy is `config.egress()`'s choice for each URL).
    pub fn new(config: &Config, http: ureq::Agent) -> Self {
        Authenticator {
            allowed_hosts: config
                .jwks_allowed_hosts()
                .iter()
                .map(|pattern| pattern.to_ascii_lowercase())
                .collect(),
            keys: KeyCache::new(
                http,
                config.egress().clone(),
                config.jwks_url_template().to_owned(),
                config.jwks_cache(),
            ),
            default_region: config.region(),
        }
    }

    /// Tells `observer` about JWKS cache look-ups and fetches (the app's
    /// metrics).
    pub fn with_observer(mut self, observer: Arc<dyn JwksObserver>) -> Self {
        self.keys.set_observer(observer);
        self
    }

    /// Checks a request's `Authorization` header (`None` when absent) and
    /// returns what its token grants. `audience` is the relay URL the token's
    /// `aud` must equal; a trailing `/` is ignored on both sides.
    ///
    /// The steps run in the order of SPEC §3, so a token with several faults
    /// gets the message of the first one; no network call happens before the
    /// token's `jwks_host` has passed the allow-list.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        audience: &str,
    ) -> Result<Credentials, AuthError> {
        self.authenticate_until(authorization, audience, None)
    }

    /// [`Authenticator::authenticate`] for a request due by `deadline`: a
    /// JWKS fetch it makes, or another request's fetch it waits for, is cut
    /// off then and answered like an unreachable host
    /// ([`AuthError::WrongJwksHost`]). With `None` a fetch takes at most the
    /// agent's own time limit, and a wait for another request's fetch at
    /// most that fetch's limit (plus a second of grace).
    ///
    /// Requests that need the same host's keys while one of them fetches
    /// share that one fetch and its outcome, failures included; a slow host
    /// holds up only the requests that need its keys. A fetch cut short by
    /// its requester's deadline fails for the requests waiting on it too.
    pub fn authenticate_until(
        &self,
        authorization: Option<&str>,
        audience: &str,
        deadline: Option<Instant>,
    ) -> Result<Credentials, AuthError> {
        let header = authorization.ok_or(AuthError::MissingHeader)?;
        let token = bearer_token(header)?;
        let unverified = UnverifiedToken::parse(token)?;
        let host = jwks_host(&unverified.payload)?;
        if !host_allowed(&self.allowed_hosts, host) {
            log::warn!("refused a token whose jwks_host {host:?} is not allowed");
            return Err(AuthError::WrongJwksHost);
        }
        let key = self.keys.key(host, unverified.kid.as_deref(), deadline)?;
        verify_signature(&key, token)?;
        // The signature holds, so the payload decoded above is authentic.
        check_claims(
            &unverified.payload,
            audience,
            unix_now(),
            self.default_region,
        )
    }
}

/// Seconds since the epoch, for `exp` and `nbf`; `claims` is handed it so
/// that it stays free of the clock.
fn unix_now() -> f64 {
    crate::time::since_epoch().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticator_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Authenticator>();
    }
}
