//! The JWKS cache: each allow-listed host's RSA keys, fetched over HTTP when
//! a token needs them, kept for `JWKS_CACHE_SECS`, refetched for an unknown
//! `kid` at most once per 10 s per host. Knows nothing of tokens or claims;
//! tells a [`JwksObserver`] what it does, so it knows nothing of metrics
//! either.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jwt_simple::prelude::RS256PublicKey;
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::Value;

use super::error::AuthError;

/// An unknown `kid` refetches a host's keys at most this often, so tokens
/// with made-up key ids cannot turn the relay into a JWKS hammer.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// The most bytes of a JWKS answer that are read; real key sets are tiny.
const MAX_JWKS_BYTES: u64 = 256 * 1024;

/// One host's RSA keys, by key id.
type KeySet = HashMap<String, RS256PublicKey>;

/// What the cache knows about one JWKS host.
struct HostEntry {
    keys: Arc<KeySet>,
    fetched_at: Instant,
    /// When an unknown `kid` last triggered a refetch (rate limit).
    last_refetch: Option<Instant>,
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

/// Every host's keys. Shared by every worker thread: the map sits behind a
/// mutex that is never held across a fetch.
pub(super) struct KeyCache {
    http: ureq::Agent,
    url_template: String,
    ttl: Duration,
    hosts: Mutex<HashMap<String, HostEntry>>,
    /// Told about cache look-ups and fetches (the relay's metrics).
    observer: Arc<dyn JwksObserver>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("url_template", &self.url_template)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache fetching `url_template` (with `{jwks_host}` replaced) through
    /// `http`, whose timeouts apply, and keeping keys for `ttl`.
    pub(super) fn new(http: ureq::Agent, url_template: String, ttl: Duration) -> Self {
        KeyCache {
            http,
            url_template,
            ttl,
            hosts: Mutex::new(HashMap::new()),
            // Counts nowhere until `with_observer` says where.
            observer: Arc::new(Unobserved),
        }
    }

    /// Tells `observer` about look-ups and fetches from now on.
    pub(super) fn set_observer(&mut self, observer: Arc<dyn JwksObserver>) {
        self.observer = observer;
    }

    /// The key `kid` names among `host`'s keys: cached ones first, then one
    /// fetch; an unknown `kid` refetches once (rate-limited per host).
    pub(super) fn key(&self, host: &str, kid: Option<&str>) -> Result<RS256PublicKey, AuthError> {
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
        self.hosts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached_keys(&self, host: &str) -> Option<Arc<KeySet>> {
        let cache = self.lock_cache();
        cache
            .get(host)
            .filter(|entry| entry.fetched_at.elapsed() < self.ttl)
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
            now.duration_since(entry.fetched_at) < self.ttl
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
