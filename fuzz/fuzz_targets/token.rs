//! Token parsing: any `Authorization` value is refused with an `AuthError`,
//! never a panic. The allow-list admits only `127.0.0.1:1`, where nothing
//! listens, so no input can make the authenticator reach the network beyond
//! a refused loopback connection.
//!
//! The agent has no timeout on purpose: with one, ureq resolves each host on
//! a detached thread, whose exit races LeakSanitizer's per-input check and
//! shows up as a 32-byte "leak" in `__cxa_thread_atexit_impl` (seen after
//! 1.2M runs; not reproducible, not ours). A refused loopback connection
//! needs no timeout.

#![no_main]

use std::sync::OnceLock;

use gti_relay::auth::Authenticator;
use gti_relay::config::Config;
use gti_relay_fuzz::{base64url, object, value, STRINGS};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn authenticator() -> &'static Authenticator {
    static AUTH: OnceLock<Authenticator> = OnceLock::new();
    AUTH.get_or_init(|| {
        let config = Config::from_vars([
            ("JWKS_URL_TEMPLATE", "http://{jwks_host}/.well-known/jwks"),
            ("JWKS_ALLOWED_HOSTS", "127.0.0.1:1"),
        ])
        .unwrap_or_default();
        Authenticator::new(&config, ureq::Agent::new_with_defaults())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    let header = match mode % 4 {
        // The header as it comes.
        0 => String::from_utf8_lossy(rest).into_owned(),
        // `Bearer` and a raw token.
        1 => format!("Bearer {}", String::from_utf8_lossy(rest)),
        // Three base64url parts of arbitrary bytes.
        2 => {
            let parts: [Vec<u8>; 3] = u.arbitrary().unwrap_or_default();
            format!(
                "Bearer {}.{}.{}",
                base64url(&parts[0]),
                base64url(&parts[1]),
                base64url(&parts[2])
            )
        }
        // JSON header and payload with the fields the checks read.
        _ => {
            let mut header = object(&mut u, 2).unwrap_or_default();
            if u.ratio(3u8, 4).unwrap_or(true) {
                let alg = u.choose(STRINGS).copied().unwrap_or("RS256");
                let alg = if u.ratio(1u8, 2).unwrap_or(true) {
                    "RS256"
                } else {
                    alg
                };
                header.insert("alg".to_owned(), Value::from(alg));
            }
            let mut payload = value(&mut u, 2).unwrap_or(Value::Null);
            if let (Some(map), true) = (payload.as_object_mut(), u.ratio(3u8, 4).unwrap_or(true)) {
                let host = u.choose(STRINGS).copied().unwrap_or("127.0.0.1:1");
                map.insert("jwks_host".to_owned(), Value::from(host));
            }
            let signature: Vec<u8> = u.arbitrary().unwrap_or_default();
            format!(
                "Bearer {}.{}.{}",
                base64url(Value::Object(header).to_string().as_bytes()),
                base64url(payload.to_string().as_bytes()),
                base64url(&signature)
            )
        }
    };
    // No key can be fetched, so no token can be accepted.
    let result = authenticator().authenticate(Some(&header), "http://relay.test");
    assert!(result.is_err(), "accepted {header:?}");
});
