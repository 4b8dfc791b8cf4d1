//! Authentication of SecureX / XDR requests: the `Authorization: Bearer`
//! JWT, verified with RS256 against keys fetched from the token's
//! `jwks_host` (allow-listed, cached), and the per-request settings carried
//! in its claims.
//!
//! [`Authenticator::authenticate`] runs the steps of SPEC §3 in order and
//! answers the first failure as an [`AuthError`]. The only I/O is the JWKS
//! fetch, made only for allow-listed hosts and never while the key cache is
//! locked. Tokens, keys and claims other than the host are never logged;
//! nothing from a request or the network can make this module panic.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jwt_simple::prelude::{
    NoCustomClaims, RS256PublicKey, RSAPublicKeyLike, Token, VerificationOptions,
};
use jwt_simple::reexports::coarsetime;
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use jwt_simple::JWTError;
use serde_json::{Map, Value};

use crate::config::Config;

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

/// Tokens longer than this are refused before anything else is looked at:
/// SecureX tokens are a few kilobytes, and a huge header must not cost a
/// JSON parse or a JWKS fetch.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The clock skew tolerated on `exp` and `nbf` (SPEC §3).
const LEEWAY_SECS: f64 = 60.0;

/// An unknown `kid` refetches a host's keys at most this often, so tokens
/// with made-up key ids cannot turn the relay into a JWKS hammer.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// The most bytes of a JWKS answer that are read; real key sets are tiny.
const MAX_JWKS_BYTES: u64 = 256 * 1024;

/// `CTR_ENTITIES_LIMIT` when the claim is absent or unusable, and its cap.
const DEFAULT_ENTITIES_LIMIT: usize = 100;
const MAX_ENTITIES_LIMIT: usize = 1000;

/// One host's RSA keys, by key id.
type KeySet = HashMap<String, RS256PublicKey>;

/// What the cache knows about one JWKS host.
struct HostEntry {
    keys: Arc<KeySet>,
    fetched_at: Instant,
    /// When an unknown `kid` last triggered a refetch (rate limit).
    last_refetch: Option<Instant>,
}

/// Verifies request tokens. One instance is shared by every worker thread:
/// the key cache sits behind a mutex that is never held across a fetch.
pub struct Authenticator {
    http: ureq::Agent,
    url_template: String,
    allowed_hosts: Vec<String>,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, HostEntry>>,
    /// Told about cache look-ups and fetches (the relay's metrics).
    observer: Arc<dyn JwksObserver>,
}

/// Told about the JWKS cache: whoever counts (the relay's metrics)
/// implements it, so this module knows nothing of metrics.
pub trait JwksObserver: Send + Sync {
    /// A cache look-up: `hit` when fresh keys for the host were cached.
    fn lookup(&self, hit: bool);
    /// A download: `ok` when it gave a usable key set.
    fn fetch(&self, ok: bool);
}

/// Counts nothing: for authenticators nobody watches.
struct Unobserved;

impl JwksObserver for Unobserved {
    fn lookup(&self, _: bool) {}
    fn fetch(&self, _: bool) {}
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("url_template", &self.url_template)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds an authenticator from the JWKS settings of `config`; `http` is
    /// the agent keys are fetched with (its timeouts apply).
    pub fn new(config: &Config, http: ureq::Agent) -> Self {
        Authenticator {
            http,
            url_template: config.jwks_url_template.clone(),
            allowed_hosts: config
                .jwks_allowed_hosts
                .iter()
                .map(|pattern| pattern.to_ascii_lowercase())
                .collect(),
            cache_ttl: config.jwks_cache,
            cache: Mutex::new(HashMap::new()),
            // Counts nowhere until `with_observer` says where.
            observer: Arc::new(Unobserved),
        }
    }

    /// Tells `observer` about JWKS cache look-ups and fetches (the app's
    /// metrics).
    pub fn with_observer(mut self, observer: Arc<dyn JwksObserver>) -> Self {
        self.observer = observer;
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
        let header = authorization.ok_or(AuthError::MissingHeader)?;
        let token = bearer_token(header)?;
        let unverified = UnverifiedToken::parse(token)?;
        let host = jwks_host(&unverified.payload)?;
        if !host_allowed(&self.allowed_hosts, host) {
            log::warn!("refused a token whose jwks_host {host:?} is not allowed");
            return Err(AuthError::WrongJwksHost);
        }
        let key = self.key_for(host, unverified.kid.as_deref())?;
        verify_signature(&key, token)?;
        // The signature holds, so the payload decoded above is authentic.
        check_claims(&unverified.payload, audience, unix_now())
    }

    /// The key `kid` names among `host`'s keys: cached ones first, then one
    /// fetch; an unknown `kid` refetches once (rate-limited per host).
    fn key_for(&self, host: &str, kid: Option<&str>) -> Result<RS256PublicKey, AuthError> {
        let cached = self.cached_keys(host);
        self.observer.lookup(cached.is_some());
        let (keys, just_fetched) = match cached {
            Some(keys) => (keys, false),
            None => (self.fetch_keys(host)?, true),
        };
        // The reference fetches the keys before it reads the header's `kid`,
        // and a header without one raises `KeyError`, which it answers with
        // the payload-structure message. Same order, same answer.
        let kid = kid.ok_or(AuthError::WrongPayload)?;
        if let Some(key) = keys.get(kid) {
            return Ok(key.clone());
        }
        if just_fetched || !self.claim_refetch(host) {
            return Err(AuthError::KidNotFound);
        }
        // The keys just proved valid a moment ago: if the refetch fails, the
        // honest answer is still that the kid is not among them.
        let keys = self.fetch_keys(host).map_err(|_| AuthError::KidNotFound)?;
        keys.get(kid).cloned().ok_or(AuthError::KidNotFound)
    }

    fn lock_cache(&self) -> MutexGuard<'_, HashMap<String, HostEntry>> {
        // Nothing that runs under the lock can panic half-way through an
        // update, so a poisoned map is still consistent and usable.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached_keys(&self, host: &str) -> Option<Arc<KeySet>> {
        let cache = self.lock_cache();
        cache
            .get(host)
            .filter(|entry| entry.fetched_at.elapsed() < self.cache_ttl)
            .map(|entry| Arc::clone(&entry.keys))
    }

    /// Takes `host`'s refetch slot if the last refetch is old enough. The
    /// slot is taken before the fetch, under the lock, so concurrent
    /// requests with unknown kids cause one refetch, not one each.
    fn claim_refetch(&self, host: &str) -> bool {
        let mut cache = self.lock_cache();
        // Without an entry there is nothing to rate-limit against; the next
        // request fetches anyway, so no refetch is the safe answer.
        let Some(entry) = cache.get_mut(host) else {
            return false;
        };
        let now = Instant::now();
        match entry.last_refetch {
            Some(last) if now.duration_since(last) < REFETCH_INTERVAL => false,
            _ => {
                entry.last_refetch = Some(now);
                true
            }
        }
    }

    /// Fetches `host`'s key set and caches it. The lock is not held during
    /// the request, so a slow host never blocks requests for other hosts.
    fn fetch_keys(&self, host: &str) -> Result<Arc<KeySet>, AuthError> {
        let url = self.url_template.replace("{jwks_host}", host);
        log::debug!("fetching JWKS from {host}");
        let downloaded = download_key_set(&self.http, &url);
        self.observer.fetch(downloaded.is_ok());
        let keys = Arc::new(downloaded.map_err(|reason| {
            log::warn!("JWKS of {host} unusable: {reason}");
            AuthError::WrongJwksHost
        })?);

        let now = Instant::now();
        let mut cache = self.lock_cache();
        let last_refetch = cache.get(host).and_then(|entry| entry.last_refetch);
        // Drop what nobody can use any more, so hosts seen once do not pile up.
        cache.retain(|_, entry| {
            now.duration_since(entry.fetched_at) < self.cache_ttl
                || entry
                    .last_refetch
                    .is_some_and(|last| now.duration_since(last) < REFETCH_INTERVAL)
        });
        cache.insert(
            host.to_owned(),
            HostEntry {
                keys: Arc::clone(&keys),
                fetched_at: now,
                last_refetch,
            },
        );
        Ok(keys)
    }
}

/// GETs a JWKS and builds its RSA keys. The error is for the log only.
fn download_key_set(http: &ureq::Agent, url: &str) -> Result<KeySet, String> {
    let mut response = http.get(url).call().map_err(|error| error.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP status {status}"));
    }
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_JWKS_BYTES)
        .read_to_vec()
        .map_err(|error| format!("unreadable body: {error}"))?;
    let body: Value =
        serde_json::from_slice(&bytes).map_err(|error| format!("not JSON: {error}"))?;
    parse_key_set(&body).ok_or_else(|| "not a JWKS ({\"keys\": [...]})".to_owned())
}

/// The RSA keys of a JWKS document, by `kid`; `None` when the document is
/// not `{"keys": [...]}`. Keys that are not RSA, have no string `kid`, or
/// do not parse are skipped: one odd key must not lock out the others.
fn parse_key_set(body: &Value) -> Option<KeySet> {
    let entries = body.get("keys")?.as_array()?;
    let keys = entries
        .iter()
        .filter_map(|jwk| {
            if jwk.get("kty")?.as_str()? != "RSA" {
                return None;
            }
            let kid = jwk.get("kid")?.as_str()?;
            let n = decode_base64url(jwk.get("n")?.as_str()?)?;
            let e = decode_base64url(jwk.get("e")?.as_str()?)?;
            let key = RS256PublicKey::from_components(&n, &e).ok()?;
            Some((kid.to_owned(), key))
        })
        .collect();
    Some(keys)
}

fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    // Some issuers pad their JWK numbers although RFC 7518 says not to.
    Base64UrlSafeNoPadding::decode_to_vec(text, Some(b"=")).ok()
}

/// The token of an `Authorization: Bearer <token>` header. Like the
/// reference (`header.split()`, `scheme.lower() == 'bearer'`): any
/// whitespace separates, the scheme's case is free, and there must be
/// exactly two parts.
fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let mut parts = header.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Ok(token),
        _ => Err(AuthError::WrongType),
    }
}

/// A token's header and payload, decoded but not yet trusted.
struct UnverifiedToken {
    kid: Option<String>,
    payload: Map<String, Value>,
}

impl UnverifiedToken {
    /// Checks everything about the token's form that can be checked without
    /// a key, so that later steps only fail for their own reason: three
    /// base64url parts, a JSON header that jwt-simple accepts with
    /// `alg: RS256`, and a payload that is a JSON object.
    fn parse(token: &str) -> Result<Self, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::WrongStructure);
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [_, payload_b64, signature_b64] = parts[..] else {
            return Err(AuthError::WrongStructure);
        };
        let metadata = Token::decode_metadata(token).map_err(|_| AuthError::WrongStructure)?;
        // The algorithm is pinned: `none`, HS256 keyed with the public key
        // and every other algorithm are refused here, whatever the keys say.
        if metadata.algorithm() != "RS256" {
            return Err(AuthError::WrongStructure);
        }
        // jwt-simple refuses these header fields before it looks at the
        // signature; refusing them here keeps that failure in its SPEC step.
        if metadata.critical().is_some_and(|crit| !crit.is_empty()) {
            return Err(AuthError::WrongStructure);
        }
        if let Some(typ) = metadata.signature_type() {
            let typ = typ.to_ascii_uppercase();
            if typ != "JWT" && !typ.ends_with("+JWT") {
                return Err(AuthError::WrongStructure);
            }
        }
        Base64UrlSafeNoPadding::decode_to_vec(signature_b64, None)
            .map_err(|_| AuthError::WrongStructure)?;
        let payload = Base64UrlSafeNoPadding::decode_to_vec(payload_b64, None)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
            .ok_or(AuthError::WrongStructure)?;
        Ok(UnverifiedToken {
            kid: metadata.key_id().map(str::to_owned),
            payload,
        })
    }
}

/// The `jwks_host` claim. A claim that is there but not a string cannot name
/// an allowed host, so it is a wrong host rather than a missing one (the
/// reference pastes it into a URL that then fails to resolve).
fn jwks_host(payload: &Map<String, Value>) -> Result<&str, AuthError> {
    match payload.get("jwks_host") {
        None => Err(AuthError::MissingJwksHost),
        Some(Value::String(host)) => Ok(host),
        Some(_) => Err(AuthError::WrongJwksHost),
    }
}

/// Whether `host` (a `jwks_host` claim, optionally with `:port`) matches one
/// of `patterns`. Comparison ignores ASCII case; `*` in a pattern stands for
/// exactly one DNS label or one port number. Anything that is not a plain
/// `name[:port]` — userinfo, paths, queries, fragments, whitespace, empty
/// labels — never matches, so the host cannot steer the JWKS URL elsewhere.
pub fn host_allowed(patterns: &[String], host: &str) -> bool {
    let Some((name, port)) = split_host(host) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    patterns.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        let (pattern_name, pattern_port) = match pattern.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (pattern.as_str(), None),
        };
        let ports_match = match (pattern_port, port) {
            (None, None) => true,
            (Some("*"), Some(_)) => true,
            (Some(expected), Some(port)) => expected == port,
            _ => false,
        };
        ports_match && labels_match(pattern_name, &name)
    })
}

/// Splits `name[:port]`, refusing any character a host name or port cannot
/// hold and ports that are not a number from 0 to 65535.
fn split_host(host: &str) -> Option<(&str, Option<&str>)> {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    // `parse::<u16>` alone would take `+80`.
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
    });
    (name_ok && port_ok).then_some((name, port))
}

fn labels_match(pattern: &str, name: &str) -> bool {
    let mut pattern_labels = pattern.split('.');
    let mut name_labels = name.split('.');
    loop {
        match (pattern_labels.next(), name_labels.next()) {
            (None, None) => return true,
            (Some(expected), Some(label)) => {
                // An empty label (`a..b`, trailing dot) never matches.
                if label.is_empty() || (expected != "*" && expected != label) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Verifies the RS256 signature with jwt-simple. Only the signature verdict
/// is taken from it: the claims are checked afterwards, in the SPEC's order.
fn verify_signature(key: &RS256PublicKey, token: &str) -> Result<(), AuthError> {
    let options = VerificationOptions {
        time_tolerance: Some(coarsetime::Duration::from_secs(LEEWAY_SECS as u64)),
        max_token_length: Some(MAX_TOKEN_BYTES),
        ..VerificationOptions::default()
    };
    match key.verify_token::<NoCustomClaims>(token, Some(options)) {
        Ok(_) => Ok(()),
        Err(error) => match error.downcast_ref::<JWTError>() {
            // jwt-simple validates times only after the signature held; the
            // relay checks them itself below, after `aud` and `key`.
            Some(JWTError::TokenHasExpired | JWTError::TokenNotValidYet | JWTError::ClockDrift) => {
                Ok(())
            }
            Some(JWTError::InvalidSignature) => Err(AuthError::WrongKey),
            // Standard claims of the wrong type (`"exp": "soon"`) fail to
            // deserialise; PyJWT calls that a decode error too.
            _ if error.is::<serde_json::Error>() => Err(AuthError::WrongStructure),
            _ => Err(AuthError::WrongKey),
        },
    }
}

/// The claim checks that follow a good signature, in SPEC order: `aud`,
/// `key`, `exp`, `nbf` (`now` in seconds since the epoch); then the
/// per-request settings.
fn check_claims(
    payload: &Map<String, Value>,
    audience: &str,
    now: f64,
) -> Result<Credentials, AuthError> {
    if !audience_matches(payload.get("aud"), audience) {
        return Err(AuthError::WrongAudience);
    }
    let Some(Value::String(key)) = payload.get("key") else {
        return Err(AuthError::WrongPayload);
    };
    // Like PyJWT: expired once `exp` is at or before now minus the leeway.
    if let Some(exp) = payload.get("exp") {
        let exp = exp.as_f64().ok_or(AuthError::WrongStructure)?;
        if exp <= now - LEEWAY_SECS {
            return Err(AuthError::Expired);
        }
    }
    if let Some(nbf) = payload.get("nbf") {
        let nbf = nbf.as_f64().ok_or(AuthError::WrongStructure)?;
        if nbf > now + LEEWAY_SECS {
            return Err(AuthError::NotYetValid);
        }
    }
    Ok(Credentials {
        key: key.clone(),
        entities_limit: parse_entities_limit(payload.get("CTR_ENTITIES_LIMIT")),
        allow_test_accounts: parse_allow_test_accounts(payload.get("GTI_ALLOW_TEST_ACCOUNTS")),
    })
}

/// Whether the `aud` claim (a string, or an array of which one must match,
/// as PyJWT accepts) equals `audience`, ignoring trailing `/`s.
fn audience_matches(claim: Option<&Value>, audience: &str) -> bool {
    let expected = audience.trim_end_matches('/');
    if expected.is_empty() {
        return false;
    }
    let matches = |value: &Value| {
        value
            .as_str()
            .is_some_and(|aud| aud.trim_end_matches('/') == expected)
    };
    match claim {
        Some(Value::Array(values)) => values.iter().any(matches),
        Some(value) => matches(value),
        None => false,
    }
}

fn unix_now() -> f64 {
    crate::time::since_epoch().as_secs_f64()
}

/// The `CTR_ENTITIES_LIMIT` claim: a number (fractions truncated) or a
/// string of digits, used when at least 1 and capped at 1000; anything else
/// (missing, null, booleans, other strings) gives the default of 100.
pub fn parse_entities_limit(claim: Option<&serde_json::Value>) -> usize {
    let requested = match claim {
        Some(Value::Number(number)) => number.as_f64().map(f64::trunc),
        Some(Value::String(text))
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            // Digits beyond what f64 holds exactly only matter above the cap.
            text.parse::<f64>().ok()
        }
        _ => None,
    };
    match requested {
        Some(limit) if limit >= 1.0 => {
            if limit >= MAX_ENTITIES_LIMIT as f64 {
                MAX_ENTITIES_LIMIT
            } else {
                limit as usize
            }
        }
        _ => DEFAULT_ENTITIES_LIMIT,
    }
}

/// The `GTI_ALLOW_TEST_ACCOUNTS` claim: `true` or `"true"` allow test
/// accounts; anything else does not (the reference treats the string
/// `"false"` as true, which SPEC §3 corrects).
pub fn parse_allow_test_accounts(claim: Option<&serde_json::Value>) -> bool {
    match claim {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text == "true",
        _ => false,
    }
}

/// The URL a token's `aud` must equal (SPEC §1, `RELAY_URL`): the
/// configured one, else the request's `X-Forwarded-Proto` (first entry, or
/// `http`) + `://` + its `Host` header.
pub fn audience_from_request(
    relay_url: Option<&str>,
    forwarded_proto: Option<&str>,
    host: Option<&str>,
) -> String {
    if let Some(url) = relay_url.filter(|url| !url.is_empty()) {
        return url.to_owned();
    }
    // Proxy chains append to the header (`https, http`); the first entry is
    // what the client used.
    let scheme = forwarded_proto
        .and_then(|value| value.split(',').next())
        .map(str::trim)
        .filter(|scheme| !scheme.is_empty())
        .unwrap_or("http");
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.unwrap_or("").trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_simple::reexports::ct_codecs::Encoder;
    use serde_json::json;

    fn patterns(list: &[&str]) -> Vec<String> {
        list.iter().map(|pattern| pattern.to_string()).collect()
    }

    fn encode(value: &Value) -> String {
        Base64UrlSafeNoPadding::encode_to_string(value.to_string()).unwrap()
    }

    /// A token with the given header and payload and a dummy signature.
    fn unsigned(header: Value, payload: Value) -> String {
        format!("{}.{}.c2ln", encode(&header), encode(&payload))
    }

    fn payload(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn authenticator_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Authenticator>();
    }

    #[test]
    fn default_patterns_allow_cisco_regions_only() {
        let allowed = patterns(&["visibility.amp.cisco.com", "visibility.*.amp.cisco.com"]);
        for host in [
            "visibility.amp.cisco.com",
            "VISIBILITY.Amp.Cisco.COM",
            "visibility.eu.amp.cisco.com",
            "visibility.apjc.amp.cisco.com",
        ] {
            assert!(host_allowed(&allowed, host), "{host} should be allowed");
        }
        for host in [
            "",
            "visibility.amp.cisco.com.evil.com",
            "evil/visibility.amp.cisco.com",
            "visibility.amp.cisco.com@evil",
            "user@visibility.amp.cisco.com",
            "evil.com#visibility.amp.cisco.com",
            "evil.com?visibility.amp.cisco.com",
            "visibility.amp.cisco.com/.well-known/jwks?",
            "visibility.amp.cisco.com#",
            " visibility.amp.cisco.com",
            "visibility.amp.cisco.com\n",
            "visibility.amp .cisco.com",
            "visibility.amp.cisco.com.",
            "visibility..amp.cisco.com",
            "visibility.a.b.amp.cisco.com",
            "evilvisibility.amp.cisco.com",
            "visibility.amp.cisco.com:443",
            "visibility.*.amp.cisco.com",
            "amp.cisco.com",
        ] {
            assert!(!host_allowed(&allowed, host), "{host:?} should be refused");
        }
    }

    #[test]
    fn star_matches_one_port_number() {
        let allowed = patterns(&["127.0.0.1:*", "localhost:8443"]);
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1:0",
            "127.0.0.1:65535",
            "LOCALHOST:8443",
        ] {
            assert!(host_allowed(&allowed, host), "{host} should be allowed");
        }
        for host in [
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.1:abc",
            "127.0.0.1:65536",
            "127.0.0.1:+80",
            "127.0.0.1:80:80",
            "127.0.0.1:80@evil",
            "127.0.0.1:80/evil",
            "127.0.0.2:80",
            "localhost",
            "localhost:8444",
        ] {
            assert!(!host_allowed(&allowed, host), "{host:?} should be refused");
        }
    }

    #[test]
    fn bearer_header_is_parsed_like_the_reference() {
        for header in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "Bearer   abc",
            "\tBearer abc \r\n",
        ] {
            assert_eq!(bearer_token(header), Ok("abc"), "{header:?}");
        }
        for header in [
            "",
            " ",
            "Bearer",
            "Bearer a b",
            "Basic abc",
            "Bearerabc",
            "not abc",
        ] {
            assert_eq!(
                bearer_token(header),
                Err(AuthError::WrongType),
                "{header:?}"
            );
        }
    }

    #[test]
    fn entities_limit_follows_the_spec() {
        let cases = [
            (Some(json!(50)), 50),
            (Some(json!(1)), 1),
            (Some(json!(1000)), 1000),
            (Some(json!(3.7)), 3),
            (Some(json!("250")), 250),
            (Some(json!("0012")), 12),
            (Some(json!(5000)), 1000),
            (Some(json!("5000")), 1000),
            (Some(json!(1e30)), 1000),
            (Some(json!("99999999999999999999999999")), 1000),
            (Some(json!(0)), 100),
            (Some(json!(0.5)), 100),
            (Some(json!(-5)), 100),
            (Some(json!("0")), 100),
            (Some(json!("-3")), 100),
            (Some(json!("1.5")), 100),
            (Some(json!(" 12")), 100),
            (Some(json!("12a")), 100),
            (Some(json!("")), 100),
            (Some(json!(true)), 100),
            (Some(json!(false)), 100),
            (Some(json!(null)), 100),
            (Some(json!([5])), 100),
            (Some(json!({"n": 5})), 100),
            (None, 100),
        ];
        for (claim, expected) in cases {
            assert_eq!(parse_entities_limit(claim.as_ref()), expected, "{claim:?}");
        }
    }

    #[test]
    fn test_accounts_are_allowed_only_by_true() {
        assert!(parse_allow_test_accounts(Some(&json!(true))));
        assert!(parse_allow_test_accounts(Some(&json!("true"))));
        for claim in [
            json!(false),
            json!("false"),
            json!(null),
            json!("True"),
            json!(1),
            json!("yes"),
        ] {
            assert!(!parse_allow_test_accounts(Some(&claim)), "{claim}");
        }
        assert!(!parse_allow_test_accounts(None));
    }

    #[test]
    fn audience_is_the_configured_url_or_derived_from_the_request() {
        let configured = Some("https://relay.example.com");
        assert_eq!(
            audience_from_request(configured, Some("http"), Some("other:1")),
            "https://relay.example.com"
        );
        assert_eq!(
            audience_from_request(None, None, Some("localhost:9090")),
            "http://localhost:9090"
        );
        assert_eq!(
            audience_from_request(None, Some("HTTPS"), Some("relay.example.com")),
            "https://relay.example.com"
        );
        assert_eq!(
            audience_from_request(None, Some("https, http"), Some("relay.example.com")),
            "https://relay.example.com"
        );
        assert_eq!(
            audience_from_request(None, Some(" "), Some("r")),
            "http://r"
        );
        assert_eq!(audience_from_request(Some(""), None, Some("r")), "http://r");
    }

    #[test]
    fn audience_ignores_trailing_slashes_and_accepts_a_list() {
        let relay = "https://relay.example.com";
        assert!(audience_matches(
            Some(&json!("https://relay.example.com/")),
            relay
        ));
        assert!(audience_matches(
            Some(&json!("https://relay.example.com")),
            "https://relay.example.com/"
        ));
        assert!(audience_matches(Some(&json!(["other", relay])), relay));
        for claim in [
            json!("https://relay.example.com/x"),
            json!(""),
            json!(["other"]),
            json!(5),
            json!(null),
        ] {
            assert!(!audience_matches(Some(&claim), relay), "{claim}");
        }
        assert!(!audience_matches(None, relay));
        assert!(!audience_matches(Some(&json!("")), ""));
        assert!(!audience_matches(Some(&json!("/")), "/"));
    }

    #[test]
    fn structure_is_checked_before_anything_else() {
        let good_header = json!({"alg": "RS256", "typ": "JWT", "kid": "k"});
        let good_payload = json!({"jwks_host": "h"});
        let parsed =
            UnverifiedToken::parse(&unsigned(good_header.clone(), good_payload.clone())).unwrap();
        assert_eq!(parsed.kid.as_deref(), Some("k"));
        assert_eq!(parsed.payload["jwks_host"], "h");

        let refused = [
            "valid_jwt()".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            unsigned(json!({"alg": "none"}), good_payload.clone()),
            unsigned(json!({"alg": "HS256"}), good_payload.clone()),
            unsigned(json!({"alg": "RS384"}), good_payload.clone()),
            unsigned(json!({"alg": "PS256"}), good_payload.clone()),
            unsigned(json!({"alg": "rs256"}), good_payload.clone()),
            unsigned(json!({"typ": "JWT"}), good_payload.clone()),
            unsigned(json!({"alg": "RS256", "kid": 5}), good_payload.clone()),
            unsigned(
                json!({"alg": "RS256", "crit": ["exp"]}),
                good_payload.clone(),
            ),
            unsigned(json!({"alg": "RS256", "typ": "JWE"}), good_payload.clone()),
            unsigned(good_header.clone(), json!(["not", "an", "object"])),
            format!("{}.!!!.c2ln", encode(&good_header)),
            format!("{}.{}.!!!", encode(&good_header), encode(&good_payload)),
            format!(
                "{}.{}.c2ln",
                encode(&good_header),
                "x".repeat(MAX_TOKEN_BYTES)
            ),
        ];
        for token in refused {
            assert_eq!(
                UnverifiedToken::parse(&token).err(),
                Some(AuthError::WrongStructure),
                "{token:.80}"
            );
        }
    }

    #[test]
    fn jwks_host_must_be_present_and_a_string() {
        assert_eq!(jwks_host(&payload(json!({"jwks_host": "h"}))), Ok("h"));
        assert_eq!(
            jwks_host(&payload(json!({}))),
            Err(AuthError::MissingJwksHost)
        );
        assert_eq!(
            jwks_host(&payload(json!({"jwks_host": null}))),
            Err(AuthError::WrongJwksHost)
        );
        assert_eq!(
            jwks_host(&payload(json!({"jwks_host": 5}))),
            Err(AuthError::WrongJwksHost)
        );
    }

    #[test]
    fn claims_are_checked_in_spec_order_with_leeway() {
        let now = 1_700_000_000.0;
        let aud = "https://relay";
        let check = |value: Value| check_claims(&payload(value), aud, now);

        let credentials = check(json!({
            "aud": aud, "key": "k", "exp": now + 10.0, "nbf": now,
            "CTR_ENTITIES_LIMIT": "7", "GTI_ALLOW_TEST_ACCOUNTS": true
        }))
        .unwrap();
        assert_eq!(credentials.key, "k");
        assert_eq!(credentials.entities_limit, 7);
        assert!(credentials.allow_test_accounts);

        // Every fault at once: the audience is reported first, then the key.
        assert_eq!(
            check(json!({"aud": "x", "exp": 0})),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(check(json!({"exp": 0})), Err(AuthError::WrongAudience));
        assert_eq!(
            check(json!({"aud": aud, "exp": 0})),
            Err(AuthError::WrongPayload)
        );
        assert_eq!(
            check(json!({"aud": aud, "key": 5})),
            Err(AuthError::WrongPayload)
        );
        assert_eq!(
            check(json!({"aud": aud, "key": "k", "exp": 0, "nbf": now + 1e6})),
            Err(AuthError::Expired)
        );
        // 60 s of leeway either way.
        assert!(check(json!({"aud": aud, "key": "k", "exp": now - 59.0})).is_ok());
        assert_eq!(
            check(json!({"aud": aud, "key": "k", "exp": now - 60.0})),
            Err(AuthError::Expired)
        );
        assert!(check(json!({"aud": aud, "key": "k", "nbf": now + 60.0})).is_ok());
        assert_eq!(
            check(json!({"aud": aud, "key": "k", "nbf": now + 61.0})),
            Err(AuthError::NotYetValid)
        );
        assert_eq!(
            check(json!({"aud": aud, "key": "k", "exp": "later"})),
            Err(AuthError::WrongStructure)
        );
    }

    #[test]
    fn key_sets_keep_usable_rsa_keys_only() {
        assert!(parse_key_set(&json!([])).is_none());
        assert!(parse_key_set(&json!({"keys": {}})).is_none());
        assert!(parse_key_set(&json!({"other": []})).is_none());
        let keys = parse_key_set(&json!({"keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "short", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"},
            "not an object"
        ]}))
        .unwrap();
        assert!(keys.is_empty());
    }
}
