//! `Authenticator::authenticate` against a real mock JWKS server: every
//! message of SPEC §3, the allow-list (no request for a refused host), the
//! key cache, its single-flight fetches and rate-limited refetch, request
//! deadlines, and hostile tokens.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gti_relay::auth::{AuthError, Authenticator, Credentials, JwksObserver};
use gti_relay::config::Config;
use serde_json::{json, Map, Value};

use crate::support::jwks::MockJwks;
use crate::support::tokens::{self, now, other_tenant_key, relay_key};

const KID: &str = "relay-kid-1";
const AUD: &str = "http://relay.test";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

fn authenticator_with_cache(cache: Duration) -> Authenticator {
    let config = Config::from_vars([
        (
            "JWKS_URL_TEMPLATE",
            "http://{jwks_host}/.well-known/jwks".to_owned(),
        ),
        ("JWKS_ALLOWED_HOSTS", "127.0.0.1:*".to_owned()),
        ("JWKS_CACHE_SECS", cache.as_secs().to_string()),
    ])
    .unwrap();
    Authenticator::new(&config, agent())
}

fn authenticator() -> Authenticator {
    authenticator_with_cache(Duration::from_secs(600))
}

/// A mock JWKS publishing the relay key under [`KID`].
fn relay_jwks() -> MockJwks {
    MockJwks::start(tokens::jwks(&[(relay_key(), KID)]))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Authenticates `token` as a bearer token for [`AUD`].
fn check(auth: &Authenticator, token: &str) -> Result<gti_relay::auth::Credentials, AuthError> {
    auth.authenticate(Some(&bearer(token)), AUD)
}

/// A valid payload for `server`, changed by `edit`.
fn payload_for(
    server: &MockJwks,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> Map<String, Value> {
    let mut payload = tokens::payload(&server.host(), AUD);
    edit(&mut payload);
    payload
}

fn valid_token(server: &MockJwks) -> String {
    tokens::sign(relay_key(), Some(KID), &payload_for(server, |_| {}))
}

#[test]
fn valid_token_grants_its_claims_and_fetches_the_jwks_once() {
    let server = relay_jwks();
    let auth = authenticator();
    let token = tokens::sign(
        relay_key(),
        Some(KID),
        &payload_for(&server, |p| {
            p.insert("CTR_ENTITIES_LIMIT".into(), json!("250"));
            p.insert("GTI_ALLOW_TEST_ACCOUNTS".into(), json!("false"));
        }),
    );

    let credentials = check(&auth, &token).unwrap();
    assert_eq!(credentials.key, tokens::GTI_KEY);
    assert_eq!(credentials.entities_limit, 250);
    assert!(!credentials.allow_test_accounts);
    // Debug output never shows the key.
    assert!(!format!("{credentials:?}").contains(tokens::GTI_KEY));

    // Second call: served from the cache; trailing '/' ignored, scheme case free.
    let again = auth.authenticate(Some(&format!("bearer {token}")), "http://relay.test/");
    assert_eq!(again, Ok(credentials));
    assert_eq!(server.requests(), 1);
    assert_eq!(server.paths(), ["/.well-known/jwks"]);
}

#[test]
fn header_problems_are_answered_without_a_fetch() {
    let server = relay_jwks();
    let auth = authenticator();
    let token = valid_token(&server);

    assert_eq!(auth.authenticate(None, AUD), Err(AuthError::MissingHeader));
    for header in [
        String::new(),
        "Bearer".to_owned(),
        format!("Basic {token}"),
        format!("Bearer {token} extra"),
        format!("Bearer{token}"),
        "not valid".to_owned(),
    ] {
        assert_eq!(
            auth.authenticate(Some(&header), AUD),
            Err(AuthError::WrongType),
            "{header:.40}"
        );
    }
    for token in [
        "valid_jwt()",
        "a.b",
        "a.b.c.d",
        "...",
        "e30.e30.!!",
        "%%%.e30.e30",
    ] {
        assert_eq!(
            check(&auth, token),
            Err(AuthError::WrongStructure),
            "{token}"
        );
    }
    assert_eq!(server.requests(), 0);
}

#[test]
fn algorithms_other_than_rs256_are_refused_before_any_fetch() {
    let server = relay_jwks();
    let auth = authenticator();
    let payload = payload_for(&server, |_| {});

    let forged = [
        ("alg none", tokens::unsigned(KID, &payload)),
        (
            "HS256 keyed with the public key",
            tokens::sign_hs256_with_public_key(relay_key(), KID, &payload),
        ),
        ("RS384", tokens::sign_rs384(relay_key(), KID, &payload)),
        (
            "PS256 header",
            tokens::with_header(&valid_token(&server), &json!({"alg": "PS256", "kid": KID})),
        ),
        (
            "lower-case rs256",
            tokens::with_header(&valid_token(&server), &json!({"alg": "rs256", "kid": KID})),
        ),
        (
            "no alg",
            tokens::with_header(&valid_token(&server), &json!({"kid": KID})),
        ),
    ];
    for (what, token) in forged {
        assert_eq!(
            check(&auth, &token),
            Err(AuthError::WrongStructure),
            "{what}"
        );
    }
    assert_eq!(server.requests(), 0);
}

#[test]
fn missing_jwks_host_claim() {
    let server = relay_jwks();
    let token = tokens::sign(
        relay_key(),
        Some(KID),
        &payload_for(&server, |p| {
            p.remove("jwks_host");
        }),
    );
    assert_eq!(
        check(&authenticator(), &token),
        Err(AuthError::MissingJwksHost)
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn disallowed_hosts_are_refused_without_any_request() {
    let server = relay_jwks();
    let auth = authenticator();
    let host = server.host();
    let port = server.port();
    let hosts = [
        json!("visibility.amp.cisco.com"),
        json!("visibility.amp.cisco.com.evil.com"),
        json!("evil/visibility.amp.cisco.com"),
        json!("visibility.amp.cisco.com@evil"),
        json!(format!("{host}@evil.com")),
        json!(format!("evil.com@{host}")),
        json!(format!("{host}/path")),
        json!(format!("{host}?x=1")),
        json!(format!("{host}#frag")),
        json!(format!(" {host}")),
        json!(format!("{host}\n")),
        json!(format!("localhost:{port}")),
        json!(format!("127.0.0.1.nip.io:{port}")),
        json!("127.0.0.1"),
        json!(""),
        json!(null),
        json!(5),
        json!([host]),
    ];
    for jwks_host in hosts {
        let token = tokens::sign(
            relay_key(),
            Some(KID),
            &payload_for(&server, |p| {
                p.insert("jwks_host".into(), jwks_host.clone());
            }),
        );
        assert_eq!(
            check(&auth, &token),
            Err(AuthError::WrongJwksHost),
            "{jwks_host}"
        );
    }
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_refused_host_wins_over_later_faults() {
    let server = relay_jwks();
    let payload = payload_for(&server, |p| {
        p.insert("jwks_host".into(), json!("evil.com"));
        p.remove("key");
    });
    // No kid, no key, foreign signature: still the host is reported first.
    let token = tokens::sign(other_tenant_key(), None, &payload);
    assert_eq!(
        check(&authenticator(), &token),
        Err(AuthError::WrongJwksHost)
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn unreachable_host_is_a_wrong_jwks_host() {
    // A port that was just free: bind, read it back, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut payload = tokens::payload(&format!("127.0.0.1:{port}"), AUD);
    payload.insert("x".into(), json!(1));
    let token = tokens::sign(relay_key(), Some(KID), &payload);
    assert_eq!(
        check(&authenticator(), &token),
        Err(AuthError::WrongJwksHost)
    );
}

#[test]
fn answers_that_are_not_a_jwks_are_a_wrong_jwks_host() {
    let server = relay_jwks();
    let auth = authenticator_with_cache(Duration::ZERO);
    let token = valid_token(&server);
    let good = tokens::jwks(&[(relay_key(), KID)]).to_string();
    let answers = [
        (500, good.clone()),
        (404, good.clone()),
        (302, good.clone()),
        (200, "<html>hello</html>".to_owned()),
        (200, String::new()),
        (200, "[]".to_owned()),
        (200, r#"{"keys": {}}"#.to_owned()),
        (200, r#"{"no_keys": []}"#.to_owned()),
    ];
    for (status, body) in answers {
        server.set_raw(status, body.clone());
        assert_eq!(
            check(&auth, &token),
            Err(AuthError::WrongJwksHost),
            "{status} {body:.20}"
        );
    }
    assert_eq!(server.requests(), 8);
    server.set_raw(200, good);
    assert!(check(&auth, &token).is_ok());
}

#[test]
fn unusable_keys_in_the_set_are_skipped() {
    let mut key_set = tokens::jwks(&[(relay_key(), KID)]);
    let keys = key_set["keys"].as_array_mut().unwrap();
    keys.insert(
        0,
        json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}),
    );
    keys.insert(
        0,
        json!({"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}),
    );
    keys.push(json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}));
    let server = MockJwks::start(key_set);
    assert!(check(&authenticator(), &valid_token(&server)).is_ok());
}

#[test]
fn unknown_kid_is_not_found() {
    let server = relay_jwks();
    let token = tokens::sign(
        relay_key(),
        Some("wrong_kid"),
        &payload_for(&server, |_| {}),
    );
    assert_eq!(check(&authenticator(), &token), Err(AuthError::KidNotFound));
    // The first fetch found no such kid; refetching at once would be pointless.
    assert_eq!(server.requests(), 1);
}

#[test]
fn another_tenants_key_is_refused() {
    let server = relay_jwks();
    let auth = authenticator();
    let payload = payload_for(&server, |_| {});

    // Signed with the other tenant's key under its own kid: not published here.
    let own_kid = tokens::sign(other_tenant_key(), Some("other-kid"), &payload);
    assert_eq!(check(&auth, &own_kid), Err(AuthError::KidNotFound));

    // Signed with the other tenant's key but claiming the relay's kid.
    let borrowed_kid = tokens::sign(other_tenant_key(), Some(KID), &payload);
    assert_eq!(check(&auth, &borrowed_kid), Err(AuthError::WrongKey));

    // A JWKS that publishes the other tenant's key under the relay's kid.
    let wrong_set = MockJwks::start(tokens::jwks(&[(other_tenant_key(), KID)]));
    let token = tokens::sign(relay_key(), Some(KID), &payload_for(&wrong_set, |_| {}));
    assert_eq!(check(&auth, &token), Err(AuthError::WrongKey));
}

#[test]
fn tampered_payload_fails_the_signature() {
    let server = relay_jwks();
    let token = valid_token(&server);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload = payload_for(&server, |_| {});
    payload.insert("key".into(), json!("stolen"));
    parts[1] = tokens::forge(&json!({}), &Value::Object(payload), "")
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    assert_eq!(
        check(&authenticator(), &parts.join(".")),
        Err(AuthError::WrongKey)
    );
}

#[test]
fn audience_must_be_the_relay_url() {
    let server = relay_jwks();
    let auth = authenticator();
    for aud in [
        Some(json!("wrong_audience")),
        Some(json!("")),
        Some(json!("http://relay.test/x")),
        None,
    ] {
        let token = tokens::sign(
            relay_key(),
            Some(KID),
            &payload_for(&server, |p| set_claim(p, "aud", &aud)),
        );
        assert_eq!(
            check(&auth, &token),
            Err(AuthError::WrongAudience),
            "{aud:?}"
        );
    }
    // An empty expected audience matches nothing, not even an empty `aud`.
    let empty = tokens::sign(
        relay_key(),
        Some(KID),
        &payload_for(&server, |p| {
            p.insert("aud".into(), json!(""));
        }),
    );
    assert_eq!(
        auth.authenticate(Some(&bearer(&empty)), ""),
        Err(AuthError::WrongAudience)
    );
    // A list of audiences is accepted when the relay is among them.
    let listed = tokens::sign(
        relay_key(),
        Some(KID),
        &payload_for(&server, |p| {
            p.insert(
                "aud".into(),
                json!(["http://elsewhere", "http://relay.test/"]),
            );
        }),
    );
    assert!(check(&auth, &listed).is_ok());
}

#[test]
fn key_claim_is_required_and_a_string() {
    let server = relay_jwks();
    let auth = authenticator();
    for key in [None, Some(json!(5)), Some(json!(null)), Some(json!(["k"]))] {
        let token = tokens::sign(
            relay_key(),
            Some(KID),
            &payload_for(&server, |p| set_claim(p, "key", &key)),
        );
        assert_eq!(
            check(&auth, &token),
            Err(AuthError::WrongPayload),
            "{key:?}"
        );
    }
}

#[test]
fn expiry_and_not_before_have_a_minute_of_leeway() {
    let server = relay_jwks();
    let auth = authenticator();
    let with_times = |exp: Option<u64>, nbf: Option<u64>| {
        tokens::sign(
            relay_key(),
            Some(KID),
            &payload_for(&server, |p| {
                p.remove("exp");
                p.remove("iat");
                if let Some(exp) = exp {
                    p.insert("exp".into(), json!(exp));
                }
                if let Some(nbf) = nbf {
                    p.insert("nbf".into(), json!(nbf));
                }
            }),
        )
    };
    let now = now();
    assert_eq!(
        check(&auth, &with_times(Some(now - 120), None)),
        Err(AuthError::Expired)
    );
    assert!(check(&auth, &with_times(Some(now - 30), None)).is_ok());
    assert_eq!(
        check(&auth, &with_times(None, Some(now + 120))),
        Err(AuthError::NotYetValid)
    );
    assert!(check(&auth, &with_times(None, Some(now + 30))).is_ok());
    // Like the reference's tokens: no exp at all is accepted.
    assert!(check(&auth, &with_times(None, None)).is_ok());
    // Expired is reported before not-yet-valid.
    assert_eq!(
        check(&auth, &with_times(Some(1), Some(now + 3600))),
        Err(AuthError::Expired)
    );
}

#[test]
fn claim_faults_are_reported_in_spec_order() {
    let server = relay_jwks();
    let auth = authenticator();
    // Wrong audience, no key, expired: the audience comes first…
    let token = tokens::sign(
        relay_key(),
        Some(KID),
        &payload_for(&server, |p| {
            p.insert("aud".into(), json!("elsewhere"));
            p.remove("key");
            p.insert("exp".into(), json!(1));
        }),
    );
    assert_eq!(check(&auth, &token), Err(AuthError::WrongAudience));
    // …then the missing key, before the expiry.
    let token = tokens::sign(
        relay_key(),
        Some(KID),
        &payload_for(&server, |p| {
            p.remove("key");
            p.insert("exp".into(), json!(1));
        }),
    );
    assert_eq!(check(&auth, &token), Err(AuthError::WrongPayload));
    // A bad signature is reported before any claim fault.
    let token = tokens::sign(
        other_tenant_key(),
        Some(KID),
        &payload_for(&server, |p| {
            p.insert("aud".into(), json!("elsewhere"));
        }),
    );
    assert_eq!(check(&auth, &token), Err(AuthError::WrongKey));
}

#[test]
fn token_without_kid_is_answered_like_the_reference() {
    // The reference fetches the JWKS, then `get_unverified_header(token)['kid']`
    // raises KeyError, which it maps to "Wrong JWT payload structure".
    let server = relay_jwks();
    let token = tokens::sign(relay_key(), None, &payload_for(&server, |_| {}));
    assert_eq!(
        check(&authenticator(), &token),
        Err(AuthError::WrongPayload)
    );
    assert_eq!(server.requests(), 1);

    // And a host that cannot be reached still answers as a wrong host first.
    server.set_status(500);
    assert_eq!(
        check(&authenticator(), &token),
        Err(AuthError::WrongJwksHost)
    );
}

#[test]
fn absurdly_large_token_is_refused_unread() {
    let server = relay_jwks();
    let payload = payload_for(&server, |p| {
        p.insert("padding".into(), json!("x".repeat(2 * 1024 * 1024)));
    });
    let token = tokens::sign(relay_key(), Some(KID), &payload);
    assert_eq!(
        check(&authenticator(), &token),
        Err(AuthError::WrongStructure)
    );
    let garbage = "a".repeat(4 * 1024 * 1024);
    assert_eq!(
        check(&authenticator(), &garbage),
        Err(AuthError::WrongStructure)
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_new_kid_triggers_exactly_one_refetch_then_is_rate_limited() {
    let server = relay_jwks();
    let auth = authenticator();
    assert!(check(&auth, &valid_token(&server)).is_ok());
    assert_eq!(server.requests(), 1);

    // The key set rotates: a token under the new kid refetches once.
    server.set_json(tokens::jwks(&[
        (relay_key(), KID),
        (other_tenant_key(), "rotated"),
    ]));
    let rotated = tokens::sign(
        other_tenant_key(),
        Some("rotated"),
        &payload_for(&server, |_| {}),
    );
    assert!(check(&auth, &rotated).is_ok());
    assert_eq!(server.requests(), 2);
    // The refreshed set is cached: both kids now cost nothing.
    assert!(check(&auth, &rotated).is_ok());
    assert!(check(&auth, &valid_token(&server)).is_ok());
    assert_eq!(server.requests(), 2);

    // Unknown kids within 10 s of that refetch do not refetch again.
    for kid in ["made-up-1", "made-up-2", "made-up-3"] {
        let token = tokens::sign(relay_key(), Some(kid), &payload_for(&server, |_| {}));
        assert_eq!(check(&auth, &token), Err(AuthError::KidNotFound), "{kid}");
    }
    assert_eq!(server.requests(), 2);
}

#[test]
fn unknown_kid_refetch_is_limited_across_threads() {
    let server = relay_jwks();
    let auth = Arc::new(authenticator());
    assert!(check(&auth, &valid_token(&server)).is_ok());

    let token = tokens::sign(relay_key(), Some("made-up"), &payload_for(&server, |_| {}));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (auth, token) = (Arc::clone(&auth), token.clone());
            std::thread::spawn(move || check(&auth, &token))
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), Err(AuthError::KidNotFound));
    }
    // The first fetch plus one refetch, however many threads asked.
    assert_eq!(server.requests(), 2);
}

#[test]
fn concurrent_requests_share_the_cache() {
    let server = relay_jwks();
    let auth = Arc::new(authenticator());
    let token = valid_token(&server);
    assert!(check(&auth, &token).is_ok());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (auth, token) = (Arc::clone(&auth), token.clone());
            std::thread::spawn(move || check(&auth, &token).map(|credentials| credentials.key))
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().as_deref(), Ok(tokens::GTI_KEY));
    }
    assert_eq!(server.requests(), 1);
}

#[test]
fn without_a_cache_every_request_fetches() {
    let server = relay_jwks();
    let auth = authenticator_with_cache(Duration::ZERO);
    let token = valid_token(&server);
    assert!(check(&auth, &token).is_ok());
    assert!(check(&auth, &token).is_ok());
    assert_eq!(server.requests(), 2);
}

#[test]
fn keys_are_cached_per_host() {
    let first = relay_jwks();
    let second = MockJwks::start(tokens::jwks(&[(other_tenant_key(), KID)]));
    let auth = authenticator();
    assert!(check(&auth, &valid_token(&first)).is_ok());
    // Same kid on another host: that host's key applies, not the cached one.
    let other = tokens::sign(other_tenant_key(), Some(KID), &payload_for(&second, |_| {}));
    assert!(check(&auth, &other).is_ok());
    let relay_on_second = tokens::sign(relay_key(), Some(KID), &payload_for(&second, |_| {}));
    assert_eq!(check(&auth, &relay_on_second), Err(AuthError::WrongKey));
    assert_eq!((first.requests(), second.requests()), (1, 1));
}

/// Sets claim `name` to `value`, or removes it for `None`.
fn set_claim(payload: &mut Map<String, Value>, name: &str, value: &Option<Value>) {
    match value {
        Some(value) => {
            payload.insert(name.into(), value.clone());
        }
        None => {
            payload.remove(name);
        }
    }
}

/// What a [`JwksObserver`] was told, for tests that count look-ups and
/// fetches or need to know that requests have reached the cache.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    hits: usize,
    misses: usize,
    fetched_ok: usize,
    fetch_failed: usize,
}

#[derive(Default)]
struct CountingObserver {
    counts: Mutex<Counts>,
    changed: Condvar,
}

impl CountingObserver {
    fn counts(&self) -> Counts {
        *self.counts.lock().unwrap()
    }

    /// Waits until `lookups` requests have looked in the cache (bounded).
    /// A request looks only after it has decided, under the cache's lock,
    /// to use cached keys, to fetch, or to wait for the fetch under way.
    fn wait_for_lookups(&self, lookups: usize) {
        let (counts, _) = self
            .changed
            .wait_timeout_while(
                self.counts.lock().unwrap(),
                Duration::from_secs(20),
                |counts| counts.hits + counts.misses < lookups,
            )
            .unwrap();
        assert_eq!(counts.hits + counts.misses, lookups, "{counts:?}");
    }

    fn update(&self, change: impl FnOnce(&mut Counts)) {
        change(&mut self.counts.lock().unwrap());
        self.changed.notify_all();
    }
}

impl JwksObserver for CountingObserver {
    fn lookup(&self, hit: bool) {
        self.update(|counts| match hit {
            true => counts.hits += 1,
            false => counts.misses += 1,
        });
    }

    fn fetch(&self, ok: bool) {
        self.update(|counts| match ok {
            true => counts.fetched_ok += 1,
            false => counts.fetch_failed += 1,
        });
    }
}

/// An authenticator shared between threads, reporting to a new observer.
fn observed() -> (Arc<Authenticator>, Arc<CountingObserver>) {
    let observer = Arc::new(CountingObserver::default());
    let auth = authenticator().with_observer(Arc::clone(&observer) as _);
    (Arc::new(auth), observer)
}

/// Authenticates `token` on `count` threads at once.
fn on_threads(
    auth: &Arc<Authenticator>,
    token: &str,
    count: usize,
) -> Vec<JoinHandle<Result<Credentials, AuthError>>> {
    (0..count)
        .map(|_| {
            let (auth, token) = (Arc::clone(auth), token.to_owned());
            std::thread::spawn(move || check(&auth, &token))
        })
        .collect()
}

const BURST: usize = 8;

#[test]
fn a_cold_cache_burst_makes_one_fetch_that_every_request_uses() {
    let server = relay_jwks();
    let (auth, observer) = observed();
    // The one fetch is held until every request of the burst has reached
    // the cache, so none can come late and find the keys already cached.
    server.hold();
    let threads = on_threads(&auth, &valid_token(&server), BURST);
    observer.wait_for_lookups(BURST);
    server.wait_for_requests(1);
    server.release();
    for thread in threads {
        let credentials = thread.join().unwrap();
        assert_eq!(credentials.map(|c| c.key).as_deref(), Ok(tokens::GTI_KEY));
    }
    assert_eq!(server.requests(), 1);
    assert_eq!(
        observer.counts(),
        Counts {
            hits: 0,
            misses: BURST,
            fetched_ok: 1,
            fetch_failed: 0
        }
    );
    // The shared fetch filled the cache.
    assert!(check(&auth, &valid_token(&server)).is_ok());
    assert_eq!(server.requests(), 1);
    assert_eq!(observer.counts().hits, 1);
}

#[test]
fn a_failed_shared_fetch_fails_every_waiter_and_is_not_reused() {
    let server = MockJwks::start_raw(503, r#"{"error": "down"}"#);
    let (auth, observer) = observed();
    server.hold();
    let threads = on_threads(&auth, &valid_token(&server), BURST);
    observer.wait_for_lookups(BURST);
    server.wait_for_requests(1);
    server.release();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), Err(AuthError::WrongJwksHost));
    }
    assert_eq!(server.requests(), 1);
    assert_eq!(
        (observer.counts().fetched_ok, observer.counts().fetch_failed),
        (0, 1)
    );

    // No failure is cached: the next request fetches again, and succeeds.
    server.set_json(tokens::jwks(&[(relay_key(), KID)]));
    assert!(check(&auth, &valid_token(&server)).is_ok());
    assert_eq!(server.requests(), 2);
}

#[test]
fn requests_for_a_new_kid_share_one_refetch() {
    let server = relay_jwks();
    let (auth, observer) = observed();
    assert!(check(&auth, &valid_token(&server)).is_ok());

    // The key set rotates while a burst of tokens under the new kid comes in.
    server.set_json(tokens::jwks(&[
        (relay_key(), KID),
        (other_tenant_key(), "rotated"),
    ]));
    let rotated = tokens::sign(
        other_tenant_key(),
        Some("rotated"),
        &payload_for(&server, |_| {}),
    );
    server.hold();
    let threads = on_threads(&auth, &rotated, BURST);
    observer.wait_for_lookups(1 + BURST);
    server.wait_for_requests(2);
    server.release();
    // One refetch for all: the others wait for it (or use what it fetched)
    // instead of being turned away by the rate limit.
    for thread in threads {
        assert!(thread.join().unwrap().is_ok());
    }
    assert_eq!(server.requests(), 2);
    assert_eq!(observer.counts().fetched_ok, 2);
}

#[test]
fn a_slow_host_holds_up_only_requests_for_its_own_keys() {
    let slow = relay_jwks();
    let fast = relay_jwks();
    let (auth, _) = observed();
    slow.hold();
    let stuck = on_threads(&auth, &valid_token(&slow), 1);
    slow.wait_for_requests(1);

    // Another host's keys are fetched and used while the slow fetch hangs.
    assert!(check(&auth, &valid_token(&fast)).is_ok());
    // A request for the slow host's keys with a deadline waits for the fetch
    // under way only until then, although the fetch itself may take 5 s.
    let started = Instant::now();
    let due = started + Duration::from_millis(300);
    let waited = auth.authenticate_until(Some(&bearer(&valid_token(&slow))), AUD, Some(due));
    assert_eq!(waited, Err(AuthError::WrongJwksHost));
    let elapsed = started.elapsed();
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(4)).contains(&elapsed),
        "{elapsed:?}"
    );

    slow.release();
    assert!(stuck
        .into_iter()
        .all(|thread| thread.join().unwrap().is_ok()));
    assert_eq!((slow.requests(), fast.requests()), (1, 1));
}

#[test]
fn a_deadline_cuts_the_fetch_itself_and_the_failure_is_not_kept() {
    let server = relay_jwks();
    let auth = authenticator();
    server.hold();
    let started = Instant::now();
    let due = started + Duration::from_millis(300);
    let token = bearer(&valid_token(&server));
    assert_eq!(
        auth.authenticate_until(Some(&token), AUD, Some(due)),
        Err(AuthError::WrongJwksHost)
    );
    // Cut by the deadline, not by the agent's 5 s timeout.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert_eq!(server.requests(), 1);

    server.release();
    let later = Some(Instant::now() + Duration::from_secs(10));
    assert!(auth.authenticate_until(Some(&token), AUD, later).is_ok());
    assert_eq!(server.requests(), 2);
    // Past its deadline, a request still uses cached keys: no I/O is needed.
    let past = Some(Instant::now() - Duration::from_millis(1));
    assert!(auth.authenticate_until(Some(&token), AUD, past).is_ok());
    assert_eq!(server.requests(), 2);
}
