//! A whole test deployment in one value: the mock GTI, a mock JWKS
//! publishing the relay's fixture key, and the relay configured for both.

use gti_relay::config::Config;
use serde_json::{json, Map, Value};

use super::jwks::MockJwks;
use super::mock_gti::MockGti;
use super::relay::TestRelay;
use super::tokens::{self, relay_key};

/// The kid under which the mock JWKS publishes the relay's key.
pub const KID: &str = "stack-kid";

pub struct Stack {
    pub gti: MockGti,
    pub jwks: MockJwks,
    pub relay: TestRelay,
}

impl Stack {
    /// A relay with GTI and JWKS pointing at the mocks, plus `extra`
    /// variables (which win).
    pub fn start(extra: &[(&str, &str)]) -> Stack {
        Stack::with_gti(MockGti::start(), extra)
    }

    /// [`Stack::start`] around a mock GTI the caller started (to put
    /// something in front of it first: a TLS front, a proxy).
    pub fn with_gti(gti: MockGti, extra: &[(&str, &str)]) -> Stack {
        let jwks = MockJwks::start(tokens::jwks(&[(relay_key(), KID)]));
        let mut vars = vec![
            ("WORKERS", "4"),
            ("GTI_MAX_INFLIGHT", "16"),
            ("JWKS_ALLOWED_HOSTS", "127.0.0.1:*"),
            ("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks"),
        ];
        vars.extend_from_slice(extra);
        let config: Config = gti.config_with(&vars);
        let relay = TestRelay::start(config);
        Stack { gti, jwks, relay }
    }

    /// The default claims: the mock GTI's key, limit 100, test accounts allowed.
    pub fn claims(&self) -> Map<String, Value> {
        tokens::payload(&self.jwks.host(), &self.relay.url())
    }

    /// A token with the default claims changed by `edit`.
    pub fn token_with(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut claims = self.claims();
        edit(&mut claims);
        tokens::sign(relay_key(), Some(KID), &claims)
    }

    pub fn token(&self) -> String {
        self.token_with(|_| {})
    }

    /// `POST /observe/observables` with `observables` (a JSON array).
    pub fn observe(&self, token: &str, observables: &Value) -> Value {
        self.relay.post(
            "/observe/observables",
            Some(token),
            &observables.to_string(),
        )
    }
}

/// The observe body for these IP addresses, in order.
pub fn ip_observables(values: &[&str]) -> Value {
    values
        .iter()
        .map(|value| json!({"type": "ip", "value": value}))
        .collect()
}
