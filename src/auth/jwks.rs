//! The JWKS cache: each allow-listed host's RSA keys, fetched over HTTP when
//! a token needs them, kept for `JWKS_CACHE_SECS`, refetched for an unknown
//! `kid` at most once per 10 s per host. Fetches are single-flight: while
//! one request fetches a host's keys, the others needing them wait for that
//! fetch and share its outcome (keys or failure), so a burst of requests
//! with a cold cache costs the host one request. Knows nothing of tokens or
//! claims; tells a [`JwksObserver`] what it does, so it knows nothing of
//! metrics either.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::sync::{lock, recover};
use std::time::{Duration, Instant};

use jwt_simple::prelude::RS256PublicKey;
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use serde_json::Value;

use super::error::AuthError;
use crate::egress::Egress;

/// An unknown `kid` refetches a host's keys at most this often, so tokens
/// with made-up key ids cannot turn the relay into a JWKS hammer.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// The most bytes of a JWKS answer that are read; real key sets are tiny.
const MAX_JWKS_BYTES: u64 = 256 * 1024;

/// How much longer than a fetch's own time limit the requests waiting for
/// it wait: the fetching thread still parses the answer and may need a
/// moment to be scheduled on a busy machine, and that must not turn its
/// success into their failure.
const WAIT_GRACE: Duration = Duration::from_secs(1);

/// How long requests wait for a fetch made through an agent without a time
/// limit (never the relay's: `gti::http_agent` always sets one). The
/// fetching request itself waits as long as the agent lets it.
const UNLIMITED_FETCH_WAIT: Duration = Duration::from_secs(60);

/// One host's RSA keys, by key id.
type KeySet = HashMap<String, RS256PublicKey>;

/// What one fetch gave: the keys, or the failure all its waiters share.
type Outcome = Result<Arc<KeySet>, AuthError>;

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
    /// A cache look-up, one per authenticated request: `hit` when fresh
    /// keys for the host were cached (a request that waits for another's
    /// fetch is a miss).
    fn lookup(&self, hit: bool);
    /// A download, counted once however many requests share it: `ok` when
    /// it gave a usable key set.
    fn fetch(&self, ok: bool);
}

/// Counts nothing: for authenticators nobody watches.
struct Unobserved;

impl JwksObserver for Unobserved {
    fn lookup(&self, _: bool) {}
    fn fetch(&self, _: bool) {}
}

/// A fetch of one host's keys in progress. The request that started it
/// lands its outcome here; every request that needs the same keys
/// meanwhile waits for that instead of fetching again.
struct Flight {
    /// When the waiters stop waiting: the fetch's own time limit plus
    /// [`WAIT_GRACE`], so a wait is never longer than a fetch of one's own.
    give_up_at: Instant,
    outcome: Mutex<Option<Outcome>>,
    landed: Condvar,
}

impl Flight {
    fn new(give_up_at: Instant) -> Self {
        Flight {
            give_up_at,
            outcome: Mutex::new(None),
            landed: Condvar::new(),
        }
    }

    fn land(&self, outcome: Outcome) {
        *lock(&self.outcome) = Some(outcome);
        self.landed.notify_all();
    }

    /// The fetch's outcome, once it lands; a failure when it has not landed
    /// by `deadline` (the waiting request's) or by [`Flight::give_up_at`].
    fn wait(&self, host: &str, deadline: Option<Instant>) -> Outcome {
        let until = deadline.map_or(self.give_up_at, |deadline| deadline.min(self.give_up_at));
        let mut outcome = lock(&self.outcome);
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return outcome.clone();
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!("gave up waiting for the JWKS of {host}");
                return Err(AuthError::WrongJwksHost);
            }
            // Spurious wake-ups and the time limit both come back round the loop.
            outcome = recover(self.landed.wait_timeout(outcome, left)).0;
        }
    }
}

/// What the cache holds, behind one mutex.
#[derive(Default)]
struct Hosts {
    /// Fetched keys, kept while fresh or while they rate-limit a refetch.
    cached: HashMap<String, HostEntry>,
    /// The fetch in progress for a host: at most one per host, so at most
    /// one per request thread in all.
    flights: HashMap<String, Arc<Flight>>,
}

/// What a request does to get a host's keys, decided under the lock.
enum Step {
    /// Fresh keys are at hand.
    Use(Arc<KeySet>),
    /// Another request is fetching them: wait for its outcome.
    Wait(Arc<Flight>),
    /// Nobody is: fetch them, and land the outcome for whoever waits.
    Fetch(Arc<Flight>),
}

/// Every host's keys. Shared by every worker thread: the map sits behind a
/// mutex that is never held across a fetch or a wait, so a slow host never
/// holds up requests for another.
pub(super) struct KeyCache {
    http: ureq::Agent,
    /// Which proxy (or none) each fetch goes through.
    egress: Egress,
    /// The agent's own limit on one fetch, `None` when it sets none.
    http_timeout: Option<Duration>,
    url_template: String,
    ttl: Duration,
    hosts: Mutex<Hosts>,
    /// Told about cache look-ups and fetches (the relay's metrics).
    observer: Arc<dyn JwksObserver>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("url_template", &self.url_template)
            .field("ttl", &self.ttl)
            .field("http_timeout", &self.http_timeout)
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache fetching `url_template` (with `{jwks_host}` replaced) through
    /// `http`, whose timeouts apply, and the proxy `egress` names for each
    /// URL; keys are kept for `ttl`.
    pub(super) fn new(
        http: ureq::Agent,
        egress: Egress,
        url_template: String,
        ttl: Duration,
    ) -> Self {
        KeyCache {
            http_timeout: http.config().timeouts().global,
            http,
            egress,
            url_template,
            ttl,
            hosts: Mutex::new(Hosts::default()),
            // Counts nowhere until `with_observer` says where.
            observer: Arc::new(Unobserved),
        }
    }

    /// Tells `observer` about look-ups and fetches from now on.
    pub(super) fn set_observer(&mut self, observer: Arc<dyn JwksObserver>) {
        self.observer = observer;
    }

    /// The key `kid` names among `host`'s keys: cached ones first, else
    /// those of one fetch (joined if under way); an unknown `kid` refetches
    /// once (rate-limited per host). Any fetch or wait ends by `deadline`.
    pub(super) fn key(
        &self,
        host: &str,
        kid: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<RS256PublicKey, AuthError> {
        let step = self.first_step(host, deadline);
        let cached = matches!(step, Step::Use(_));
        self.observer.lookup(cached);
        let keys = self.take(step, host, deadline)?;
        // The reference fetches the keys before it reads the header's `kid`,
        // and a header without one raises `KeyError`, which it answers with
        // the payload-structure message. Same order, same answer.
        let kid = kid.ok_or(AuthError::WrongPayload)?;
        if let Some(key) = keys.get(kid) {
            return Ok(key.clone());
        }
        // Keys fetched for this very request are as new as they come.
        if !cached {
            return Err(AuthError::KidNotFound);
        }
        let Some(step) = self.refetch_step(host, &keys, deadline) else {
            return Err(AuthError::KidNotFound);
        };
        // The keys just proved valid a moment ago: if the refetch fails, the
        // honest answer is still that the kid is not among them.
        let keys = self
            .take(step, host, deadline)
            .map_err(|_| AuthError::KidNotFound)?;
        keys.get(kid).cloned().ok_or(AuthError::KidNotFound)
    }

    fn lock(&self) -> MutexGuard<'_, Hosts> {
        lock(&self.hosts)
    }

    /// Fresh cached keys, else the fetch under way, else a new fetch.
    fn first_step(&self, host: &str, deadline: Option<Instant>) -> Step {
        let mut hosts = self.lock();
        let fresh = hosts
            .cached
            .get(host)
            .filter(|entry| entry.fetched_at.elapsed() < self.ttl);
        if let Some(entry) = fresh {
            return Step::Use(Arc::clone(&entry.keys));
        }
        self.join_or_start(&mut hosts, host, deadline)
    }

    /// The step for keys that lack a token's `kid`: join a fetch under way
    /// (it costs the host nothing more), use keys another request fetched
    /// since `stale` was read, or take `host`'s refetch slot if the last
    /// refetch is old enough; `None` when rate-limited. The slot is taken
    /// under the lock, so concurrent requests with unknown kids cause one
    /// refetch, not one each.
    fn refetch_step(
        &self,
        host: &str,
        stale: &Arc<KeySet>,
        deadline: Option<Instant>,
    ) -> Option<Step> {
        let mut hosts = self.lock();
        if let Some(flight) = hosts.flights.get(host) {
            return Some(Step::Wait(Arc::clone(flight)));
        }
        // Without an entry there is nothing to rate-limit against; the next
        // request fetches anyway, so no refetch is the safe answer.
        let entry = hosts.cached.get_mut(host)?;
        if !Arc::ptr_eq(&entry.keys, stale) {
            return Some(Step::Use(Arc::clone(&entry.keys)));
        }
        let now = Instant::now();
        if entry
            .last_refetch
            .is_some_and(|last| now.duration_since(last) < REFETCH_INTERVAL)
        {
            return None;
        }
        entry.last_refetch = Some(now);
        Some(self.join_or_start(&mut hosts, host, deadline))
    }

    /// Waits for `host`'s fetch under way, or registers a new one that the
    /// caller then makes.
    fn join_or_start(&self, hosts: &mut Hosts, host: &str, deadline: Option<Instant>) -> Step {
        if let Some(flight) = hosts.flights.get(host) {
            return Step::Wait(Arc::clone(flight));
        }
        let limit = self.fetch_limit(deadline).unwrap_or(UNLIMITED_FETCH_WAIT);
        let flight = Arc::new(Flight::new(Instant::now() + limit + WAIT_GRACE));
        hosts.flights.insert(host.to_owned(), Arc::clone(&flight));
        Step::Fetch(flight)
    }

    /// The time limit of a fetch started now for a request due by
    /// `deadline`: the agent's own, cut to what is left of the request's
    /// time; `None` when neither sets one.
    fn fetch_limit(&self, deadline: Option<Instant>) -> Option<Duration> {
        let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        match (self.http_timeout, left) {
            (Some(own), Some(left)) => Some(own.min(left)),
            (own, left) => own.or(left),
        }
    }

    fn take(&self, step: Step, host: &str, deadline: Option<Instant>) -> Outcome {
        match step {
            Step::Use(keys) => Ok(keys),
            Step::Wait(flight) => flight.wait(host, deadline),
            Step::Fetch(flight) => self.fetch(host, flight, deadline),
        }
    }

    /// Fetches `host`'s keys for `flight`, caches them and lands the
    /// outcome for its waiters. No lock is held during the request.
    fn fetch(&self, host: &str, flight: Arc<Flight>, deadline: Option<Instant>) -> Outcome {
        let landing = Landing {
            cache: self,
            host,
            flight: Some(flight),
        };
        // Only a request's deadline changes the agent's limit, so requests
        // without one fetch exactly as the agent is configured.
        let limit = deadline.and(self.fetch_limit(deadline));
        if limit.is_some_and(|limit| limit.is_zero()) {
            log::warn!("no time left to fetch the JWKS of {host}");
            return landing.land(Err(AuthError::WrongJwksHost));
        }
        let url = self.url_template.replace("{jwks_host}", host);
        log::debug!("fetching JWKS from {host}");
        let downloaded = download_key_set(&self.http, self.egress.proxy_for(&url), &url, limit);
        self.observer.fetch(downloaded.is_ok());
        let outcome = downloaded.map(Arc::new).map_err(|reason| {
            log::warn!("JWKS of {host} unusable: {reason}");
            AuthError::WrongJwksHost
        });
        landing.land(outcome)
    }

    /// Ends `flight`: caches good keys, takes the flight off the table (so
    /// a failure is never reused by a later request), then wakes its
    /// waiters. The cache comes first, so a request arriving in between
    /// finds the keys rather than fetching them again.
    fn finish(&self, host: &str, flight: &Arc<Flight>, outcome: &Outcome) {
        let mut hosts = self.lock();
        if hosts
            .flights
            .get(host)
            .is_some_and(|current| Arc::ptr_eq(current, flight))
        {
            hosts.flights.remove(host);
        }
        if let Ok(keys) = outcome {
            self.store(&mut hosts, host, keys);
        }
    }

    fn store(&self, hosts: &mut Hosts, host: &str, keys: &Arc<KeySet>) {
        let now = Instant::now();
        let last_refetch = hosts.cached.get(host).and_then(|entry| entry.last_refetch);
        // Drop what nobody can use any more, so hosts seen once do not pile up.
        hosts.cached.retain(|_, entry| {
            now.duration_since(entry.fetched_at) < self.ttl
                || entry
                    .last_refetch
                    .is_some_and(|last| now.duration_since(last) < REFETCH_INTERVAL)
        });
        hosts.cached.insert(
            host.to_owned(),
            HostEntry {
                keys: Arc::clone(keys),
                fetched_at: now,
                last_refetch,
            },
        );
    }
}

/// A started fetch's promise: its flight lands exactly once and leaves the
/// table, whatever happens to the fetching request. Should the fetch ever
/// panic, its waiters get a failure at once and the next request fetches
/// anew, instead of all of them waiting on a flight that never lands.
struct Landing<'a> {
    cache: &'a KeyCache,
    host: &'a str,
    flight: Option<Arc<Flight>>,
}

impl Landing<'_> {
    fn land(mut self, outcome: Outcome) -> Outcome {
        if let Some(flight) = self.flight.take() {
            self.cache.finish(self.host, &flight, &outcome);
            flight.land(outcome.clone());
        }
        outcome
    }
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            let failed = Err(AuthError::WrongJwksHost);
            self.cache.finish(self.host, &flight, &failed);
            flight.land(failed);
        }
    }
}

/// GETs a JWKS through `proxy` (or straight) and builds its RSA keys;
/// `limit`, when given, replaces the agent's time limit for this one
/// request. The error is for the log only.
fn download_key_set(
    http: &ureq::Agent,
    proxy: Option<&ureq::Proxy>,
    url: &str,
    limit: Option<Duration>,
) -> Result<KeySet, String> {
    // Always set: the agent's own proxy setting (ureq reads the environment
    // by default) must not decide where a fetch goes.
    let request = http.get(url).config().proxy(proxy.cloned());
    let request = match limit {
        Some(limit) => request.timeout_global(Some(limit)),
        None => request,
    }
    .build();
    let mut response = request.call().map_err(|error| error.to_string())?;
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

    fn cache_with(agent_timeout: Option<Duration>) -> KeyCache {
        let agent = ureq::Agent::config_builder()
            .timeout_global(agent_timeout)
            .build()
            .new_agent();
        // Nothing here reaches the network: no fetch is ever made.
        KeyCache::new(
            agent,
            Egress::default(),
            "http://{jwks_host}/".to_owned(),
            Duration::from_secs(600),
        )
    }

    #[test]
    fn a_fetch_that_never_lands_still_releases_its_waiters() {
        let cache = cache_with(Some(Duration::from_secs(5)));
        let Step::Fetch(flight) = cache.first_step("h", None) else {
            panic!("the first request fetches");
        };
        let Step::Wait(joined) = cache.first_step("h", None) else {
            panic!("the second request waits for that fetch");
        };
        assert!(Arc::ptr_eq(&flight, &joined));
        // The fetching request goes away (a panic would do this) without
        // landing anything.
        drop(Landing {
            cache: &cache,
            host: "h",
            flight: Some(flight),
        });
        assert_eq!(joined.wait("h", None).err(), Some(AuthError::WrongJwksHost));
        assert!(
            matches!(cache.first_step("h", None), Step::Fetch(_)),
            "the failure is not reused: the next request fetches anew"
        );
    }

    #[test]
    fn a_wait_ends_at_the_fetchs_limit_or_the_waiters_deadline() {
        let short = Duration::from_millis(50);
        let flight = Flight::new(Instant::now() + short);
        let started = Instant::now();
        assert_eq!(flight.wait("h", None).err(), Some(AuthError::WrongJwksHost));
        assert!(started.elapsed() >= short);

        let flight = Flight::new(Instant::now() + Duration::from_secs(600));
        let started = Instant::now();
        let due = Some(started + short);
        assert_eq!(flight.wait("h", due).err(), Some(AuthError::WrongJwksHost));
        let elapsed = started.elapsed();
        assert!(
            (short..Duration::from_secs(60)).contains(&elapsed),
            "{elapsed:?}"
        );

        // Landed: every waiter gets the outcome, however late it asks.
        flight.land(Ok(Arc::new(KeySet::new())));
        assert!(flight.wait("h", due).is_ok());
    }

    #[test]
    fn a_fetch_is_limited_by_the_agent_and_the_deadline() {
        let five = Duration::from_secs(5);
        let cache = cache_with(Some(five));
        assert_eq!(cache.fetch_limit(None), Some(five));
        let soon = cache
            .fetch_limit(Some(Instant::now() + Duration::from_secs(1)))
            .unwrap();
        assert!(soon <= Duration::from_secs(1), "{soon:?}");
        let later = Some(Instant::now() + Duration::from_secs(60));
        assert_eq!(cache.fetch_limit(later), Some(five));
        let past = Some(Instant::now() - Duration::from_millis(1));
        assert_eq!(cache.fetch_limit(past), Some(Duration::ZERO));

        let unlimited = cache_with(None);
        assert_eq!(unlimited.fetch_limit(None), None);
        assert!(unlimited.fetch_limit(later).is_some());
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
