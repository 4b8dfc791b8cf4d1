//! A bearer token's form: the `Authorization: Bearer` header, the JWT's
//! three parts decoded but not yet trusted, the algorithm pinned to RS256,
//! and the signature verified with jwt-simple. Claims are read in `claims`;
//! keys come from `jwks`.

use jwt_simple::prelude::{
    NoCustomClaims, RS256PublicKey, RSAPublicKeyLike, Token, VerificationOptions,
};
use jwt_simple::reexports::coarsetime;
use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder};
use jwt_simple::JWTError;
use serde_json::{Map, Value};

use super::claims::LEEWAY_SECS;
use super::error::AuthError;

/// Tokens longer than this are refused before anything else is looked at:
/// SecureX tokens are a few kilobytes, and a huge header must not cost a
/// JSON parse or a JWKS fetch.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The token of an `Authorization: Bearer <token>` header. Like the
/// reference (`header.split()`, `scheme.lower() == 'bearer'`): any
/// whitespace separates, the scheme's case is free, and there must be
/// exactly two parts.
pub(super) fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let mut parts = header.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Ok(token),
        _ => Err(AuthError::WrongType),
    }
}

/// A token's header and payload, decoded but not yet trusted.
pub(super) struct UnverifiedToken {
    pub(super) kid: Option<String>,
    pub(super) payload: Map<String, Value>,
}

impl UnverifiedToken {
    /// Checks everything about the token's form that can be checked without
    /// a key, so that later steps only fail for their own reason: three
    /// base64url parts, a JSON header that jwt-simple accepts with
    /// `alg: RS256`, and a payload that is a JSON object.
    pub(super) fn parse(token: &str) -> Result<Self, AuthError> {
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

/// Verifies the RS256 signature with jwt-simple. Only the signature verdict
/// is taken from it: the claims are checked afterwards, in the SPEC's order.
pub(super) fn verify_signature(key: &RS256PublicKey, token: &str) -> Result<(), AuthError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_simple::reexports::ct_codecs::Encoder;
    use serde_json::json;

    fn encode(value: &Value) -> String {
        Base64UrlSafeNoPadding::encode_to_string(value.to_string()).unwrap()
    }

    /// A token with the given header and payload and a dummy signature.
    fn unsigned(header: Value, payload: Value) -> String {
        format!("{}.{}.c2ln", encode(&header), encode(&payload))
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
}
