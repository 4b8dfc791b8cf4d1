//! What a token's payload says, read after its signature held: the
//! `jwks_host` claim, the checks of `aud`, `key`, `exp` and `nbf` in SPEC §3
//! order, and the per-request settings ([`Credentials`]). Pure; the clock is
//! passed in.

use std::fmt;

use serde_json::{Map, Value};

use super::error::AuthError;
use crate::region::Region;

/// What a verified token grants one request. Never logged: `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The GTI API key (`key` claim).
    pub key: String,
    /// Entities per observable (`CTR_ENTITIES_LIMIT`, 1..=1000, default 100).
    pub entities_limit: usize,
    /// Whether test accounts' data is kept (`GTI_ALLOW_TEST_ACCOUNTS`).
    pub allow_test_accounts: bool,
    /// Where every GTI call and portal link of the request goes
    /// (`GTI_REGION`, else the relay's default region).
    pub region: Region,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key", &"<redacted>")
            .field("entities_limit", &self.entities_limit)
            .field("allow_test_accounts", &self.allow_test_accounts)
            .field("region", &self.region)
            .finish()
    }
}

/// The clock skew tolerated on `exp` and `nbf` (SPEC §3).
pub(super) const LEEWAY_SECS: f64 = 60.0;

/// `CTR_ENTITIES_LIMIT` when the claim is absent or unusable, and its cap.
pub(crate) const DEFAULT_ENTITIES_LIMIT: usize = 100;
pub(crate) const MAX_ENTITIES_LIMIT: usize = 1000;

/// The `jwks_host` claim. A claim that is there but not a string cannot name
/// an allowed host, so it is a wrong host rather than a missing one (the
/// reference pastes it into a URL that then fails to resolve).
pub(super) fn jwks_host(payload: &Map<String, Value>) -> Result<&str, AuthError> {
    match payload.get("jwks_host") {
        None => Err(AuthError::MissingJwksHost),
        Some(Value::String(host)) => Ok(host),
        Some(_) => Err(AuthError::WrongJwksHost),
    }
}

/// The claim checks that follow a good signature, in SPEC order: `aud`,
/// `key`, `exp`, `nbf` (`now` in seconds since the epoch); then the
/// per-request settings, the region last (`default_region` for tokens that
/// name none).
pub(super) fn check_claims(
    payload: &Map<String, Value>,
    audience: &str,
    now: f64,
    default_region: Region,
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
        region: parse_region(payload.get("GTI_REGION"), default_region)?,
    })
}

/// The `GTI_REGION` claim: a region's name in any case picks it; missing,
/// null or empty gives `default`; anything else (other words, numbers,
/// booleans, lists) is refused, never guessed. A token can only choose
/// among the relay's regions: no URL or host is ever taken from it.
pub fn parse_region(claim: Option<&Value>, default: Region) -> Result<Region, AuthError> {
    match claim {
        None | Some(Value::Null) => Ok(default),
        Some(Value::String(name)) if name.is_empty() => Ok(default),
        Some(Value::String(name)) => Region::parse(name).ok_or(AuthError::InvalidRegion),
        Some(_) => Err(AuthError::InvalidRegion),
    }
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
    use serde_json::json;

    fn payload(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
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
    fn region_is_picked_among_the_relays_or_refused() {
        for default in Region::ALL {
            for claim in [None, Some(json!(null)), Some(json!(""))] {
                assert_eq!(parse_region(claim.as_ref(), default), Ok(default));
            }
            for (claim, region) in [
                (json!("us"), Region::Us),
                (json!("US"), Region::Us),
                (json!("eu"), Region::Eu),
                (json!("Eu"), Region::Eu),
            ] {
                assert_eq!(parse_region(Some(&claim), default), Ok(region), "{claim}");
            }
            for claim in [
                json!("apjc"),
                json!(" eu"),
                json!("https://detections.evil.example/v1/"),
                json!("detections.eu.fortindr.forticloud.com"),
                json!(1),
                json!(true),
                json!(["eu"]),
                json!({"region": "eu"}),
            ] {
                assert_eq!(
                    parse_region(Some(&claim), default),
                    Err(AuthError::InvalidRegion),
                    "{claim}"
                );
            }
        }
    }

    #[test]
    fn the_region_is_checked_after_the_other_claims() {
        let now = 1_700_000_000.0;
        let aud = "https://relay";
        let check = |value: Value| check_claims(&payload(value), aud, now, Region::Eu);
        assert_eq!(
            check(json!({"aud": aud, "key": "k"})).map(|c| c.region),
            Ok(Region::Eu)
        );
        assert_eq!(
            check(json!({"aud": aud, "key": "k", "GTI_REGION": "US"})).map(|c| c.region),
            Ok(Region::Us)
        );
        assert_eq!(
            check(json!({"aud": aud, "key": "k", "GTI_REGION": 5})),
            Err(AuthError::InvalidRegion)
        );
        assert_eq!(
            check(json!({"aud": aud, "key": "k", "exp": 0, "GTI_REGION": 5})),
            Err(AuthError::Expired)
        );
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
        let check = |value: Value| check_claims(&payload(value), aud, now, Region::Us);

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
}
