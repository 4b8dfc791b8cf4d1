//! Test tokens: RS256 tokens minted with the fixture key pairs, the JWKS
//! documents that publish them, and hand-forged hostile tokens.
//!
//! Keys come only from `tests/fixtures/*.pem` (PKCS#8, RSA 2048), parsed
//! once per test binary; no test generates RSA keys.
//!
//! Payloads are plain JSON objects, so a test can add, drop or mistype any
//! claim; [`sign`] moves the registered claims (`aud`, `exp`, `nbf`, `iat`)
//! into jwt-simple's typed fields and keeps the rest as custom claims.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jwt_simple::prelude::*;
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Map, Value};

/// The GTI API key the default payload carries.
pub const GTI_KEY: &str = "test-gti-api-key";

const RELAY_KEY_PEM: &str = include_str!("../../tests/fixtures/relay-test-key.pem");
const OTHER_TENANT_KEY_PEM: &str = include_str!("../../tests/fixtures/other-tenant-key.pem");

/// The key pair the relay's JWKS publishes in most tests.
pub fn relay_key() -> &'static RS256KeyPair {
    static KEY: OnceLock<RS256KeyPair> = OnceLock::new();
    KEY.get_or_init(|| RS256KeyPair::from_pem(RELAY_KEY_PEM).expect("relay fixture key"))
}

/// Another tenant's key pair: valid RS256, but not the relay's.
pub fn other_tenant_key() -> &'static RS256KeyPair {
    static KEY: OnceLock<RS256KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        RS256KeyPair::from_pem(OTHER_TENANT_KEY_PEM).expect("other tenant fixture key")
    })
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn base64url(bytes: impl AsRef<[u8]>) -> String {
    Base64UrlSafeNoPadding::encode_to_string(bytes).expect("base64url")
}

/// The public JWK of `key` under `kid`, as SecureX publishes it.
pub fn jwk(key: &RS256KeyPair, kid: &str) -> Value {
    let components = key.public_key().to_components();
    json!({
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": base64url(&components.n),
        "e": base64url(&components.e),
    })
}

/// A JWKS document (`{"keys": [...]}`) publishing each key under its kid.
pub fn jwks(keys: &[(&RS256KeyPair, &str)]) -> Value {
    json!({ "keys": keys.iter().map(|(key, kid)| jwk(key, kid)).collect::<Vec<_>>() })
}

/// A valid payload, like the reference's test token plus an `exp` an hour
/// ahead: `key`, `jwks_host`, `aud`, `CTR_ENTITIES_LIMIT` 100,
/// `GTI_ALLOW_TEST_ACCOUNTS` true.
pub fn payload(jwks_host: &str, aud: &str) -> Map<String, Value> {
    let value = json!({
        "key": GTI_KEY,
        "jwks_host": jwks_host,
        "aud": aud,
        "CTR_ENTITIES_LIMIT": 100,
        "GTI_ALLOW_TEST_ACCOUNTS": true,
        "iat": now(),
        "exp": now() + 3600,
    });
    value.as_object().cloned().expect("object")
}

/// `payload` as jwt-simple claims: `aud` (string or array), `exp`, `nbf`
/// and `iat` (non-negative integers) become typed fields, so they are
/// serialised once; every other claim is kept verbatim.
fn claims(payload: &Map<String, Value>) -> JWTClaims<Map<String, Value>> {
    let mut custom = payload.clone();
    let mut claims = Claims::with_custom_claims(Map::new(), Duration::from_secs(0));
    claims.issued_at = None;
    claims.expires_at = None;
    claims.invalid_before = None;
    let time = |value: Value| {
        Some(UnixTimeStamp::from_secs(value.as_u64().expect(
            "exp/nbf/iat must be a u64 here; forge odd types by hand",
        )))
    };
    if let Some(value) = custom.remove("exp") {
        claims.expires_at = time(value);
    }
    if let Some(value) = custom.remove("nbf") {
        claims.invalid_before = time(value);
    }
    if let Some(value) = custom.remove("iat") {
        claims.issued_at = time(value);
    }
    claims = match custom.remove("aud") {
        Some(Value::String(aud)) => claims.with_audience(aud),
        Some(Value::Array(auds)) => claims.with_audiences(
            auds.iter()
                .map(|aud| aud.as_str().expect("aud strings").to_owned())
                .collect::<HashSet<_>>(),
        ),
        Some(other) => panic!("aud {other} cannot be minted; forge it by hand"),
        None => claims,
    };
    claims.custom = custom;
    claims
}

/// An RS256 token over `payload`, signed with `key`, with `kid` in its
/// header when given.
pub fn sign(key: &RS256KeyPair, kid: Option<&str>, payload: &Map<String, Value>) -> String {
    let key = match kid {
        Some(kid) => key.clone().with_key_id(kid),
        None => key.clone(),
    };
    key.sign(claims(payload)).expect("sign RS256")
}

/// An RS384 token over `payload`, signed with `key`'s private key.
pub fn sign_rs384(key: &RS256KeyPair, kid: &str, payload: &Map<String, Value>) -> String {
    let pem = key.to_pem().expect("private key PEM");
    RS384KeyPair::from_pem(&pem)
        .expect("RS384 key")
        .with_key_id(kid)
        .sign(claims(payload))
        .expect("sign RS384")
}

/// The classic key-confusion forgery: an HS256 token whose HMAC key is the
/// RSA *public* key's PEM, which a verifier that trusts the header's `alg`
/// would accept with the key it fetched.
pub fn sign_hs256_with_public_key(
    key: &RS256KeyPair,
    kid: &str,
    payload: &Map<String, Value>,
) -> String {
    let public_pem = key.public_key().to_pem().expect("public key PEM");
    HS256Key::from_bytes(public_pem.as_bytes())
        .with_key_id(kid)
        .authenticate(claims(payload))
        .expect("sign HS256")
}

/// A token forged by hand: `base64url(header).base64url(payload).signature`,
/// where `header` and `payload` may be any JSON and `signature` is pasted as
/// given (already base64url, or anything at all).
pub fn forge(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        base64url(header.to_string()),
        base64url(payload.to_string())
    )
}

/// An `alg: none` token: no signature at all.
pub fn unsigned(kid: &str, payload: &Map<String, Value>) -> String {
    forge(
        &json!({"alg": "none", "typ": "JWT", "kid": kid}),
        &Value::Object(payload.clone()),
        "",
    )
}

/// `token` with its header replaced by `header` and the signature kept, so
/// it no longer verifies.
pub fn with_header(token: &str, header: &Value) -> String {
    let rest = token.split_once('.').expect("a JWT").1;
    format!("{}.{rest}", base64url(header.to_string()))
}
