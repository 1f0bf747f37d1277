//! Access tokens (JWT, HS256 pinned, short-lived) and the opaque random
//! tokens used for refresh and mailed links (stored only as hashes).

use base64::Engine as _;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::AppError;

pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
const ISSUER: &str = "karvan";
const AUDIENCE: &str = "karvan-api";
const ACCESS_TYPE: &str = "access";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub iat: i64,
    /// `iat` to the millisecond, so a token issued just after a password
    /// reset is told from one issued just before it (see `extract.rs`).
    #[serde(default)]
    pub iat_ms: i64,
    pub exp: i64,
    pub typ: String,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn new(secret: &SecretString) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
        }
    }

    pub fn issue_access(&self, member_id: Uuid) -> Result<String, AppError> {
        let issued = Utc::now();
        let now = issued.timestamp();
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: member_id,
            iat: now,
            iat_ms: issued.timestamp_millis(),
            exp: now + ACCESS_TOKEN_SECONDS,
            typ: ACCESS_TYPE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(AppError::internal)
    }

    /// Every part checked: the algorithm is pinned to HS256 (`none` and
    /// others are refused), signature, issuer, audience, expiry, type.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, AppError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation).map_err(|e| {
            AppError::unauthorized()
                .with_detail("The access token is not valid.")
                .with_cause(e)
        })?;
        if data.claims.typ != ACCESS_TYPE {
            return Err(AppError::unauthorized().with_detail("The access token is not valid."));
        }
        Ok(data.claims)
    }
}

/// A new random token (256 bits, URL-safe) and the hash that is stored.
pub fn new_opaque_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// What [`new_opaque_token`] writes: 32 bytes in unpadded URL-safe base64,
/// whose last character holds only 4 bits of them.
const OPAQUE_TOKEN: &str = "[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]";

/// Whether `text` could be a token of [`new_opaque_token`].
pub fn is_opaque_token(text: &str) -> bool {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    text.len() == 43 && engine.decode(text).is_ok_and(|bytes| bytes.len() == 32)
}

/// The schema of a token from a mail or a sign-in, as the API takes it:
/// spaces around it are trimmed off (one pasted from a mail may have them).
pub fn opaque_token_schema() -> utoipa::openapi::Object {
    let space = format!("[{}]*", crate::openapi::SPACE);
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(format!("^{space}{OPAQUE_TOKEN}{space}$")))
        .build()
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&SecretString::from("0123456789abcdef0123456789abcdef-test"))
    }

    fn forge(header: &str, claims: serde_json::Value, signature: &str) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{signature}",
            engine.encode(header),
            engine.encode(claims.to_string())
        )
    }

    fn claims(exp_offset: i64, aud: &str) -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({"iss": ISSUER, "aud": aud, "sub": Uuid::new_v4(), "iat": now, "exp": now + exp_offset, "typ": "access"})
    }

    #[test]
    fn the_document_describes_opaque_tokens_as_they_are_made_and_read() {
        let schema = serde_json::to_value(opaque_token_schema()).unwrap();
        let pattern = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        for _ in 0..200 {
            let token = new_opaque_token().0;
            assert!(is_opaque_token(&token) && pattern.is_match(&token), "{token}");
            // A last character that holds bits no 32 bytes make.
            let odd = format!("{}B", &token[..42]);
            assert!(!is_opaque_token(&odd) && !pattern.is_match(&odd), "{odd}");
            assert!(pattern.is_match(&format!(" {token}\n")));
            assert!(!is_opaque_token(&token[1..]) && !pattern.is_match(&token[1..]));
        }
    }

    #[test]
    fn an_issued_token_verifies() {
        let id = Uuid::new_v4();
        let token = keys().issue_access(id).unwrap();
        assert_eq!(keys().verify_access(&token).unwrap().sub, id);
    }

    #[test]
    fn forged_expired_and_foreign_tokens_are_refused() {
        let k = keys();
        let sign = |claims: &serde_json::Value, secret: &str| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        let secret = "0123456789abcdef0123456789abcdef-test";
        let cases = [
            (
                "alg none",
                forge(r#"{"alg":"none","typ":"JWT"}"#, claims(600, AUDIENCE), ""),
            ),
            ("expired", sign(&claims(-600, AUDIENCE), secret)),
            ("wrong audience", sign(&claims(600, "someone-else"), secret)),
            (
                "wrong signature",
                sign(&claims(600, AUDIENCE), "another-secret-0123456789abcdef0123"),
            ),
            (
                "another algorithm",
                jsonwebtoken::encode(
                    &Header::new(Algorithm::HS512),
                    &claims(600, AUDIENCE),
                    &EncodingKey::from_secret(secret.as_bytes()),
                )
                .unwrap(),
            ),
            ("not a token", "garbage".to_string()),
        ];
        for (what, token) in cases {
            let err = k.verify_access(&token).unwrap_err();
            assert_eq!(err.status(), 401, "{what}");
        }
        let mut refresh_typed = claims(600, AUDIENCE);
        refresh_typed["typ"] = "refresh".into();
        assert_eq!(
            k.verify_access(&sign(&refresh_typed, secret)).unwrap_err().status(),
            401
        );
    }

    #[test]
    fn opaque_tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_opaque_token();
        let (b, _) = new_opaque_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a), hash_a);
        assert_ne!(hash_a, a.as_bytes());
    }
}
