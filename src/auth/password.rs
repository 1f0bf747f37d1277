//! Password hashing: argon2id at OWASP's parameters, on the blocking pool,
//! with at most one hash per core at a time so a burst of logins cannot
//! exhaust memory (each hash takes 19 MiB).

use std::sync::OnceLock;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::AppError;

pub const MIN_LENGTH: usize = 10;
/// Stored for accounts that have no password yet (imported from the
/// roster): no password ever matches it.
pub const NO_PASSWORD: &str = "!";
pub const MAX_LENGTH: usize = 128;

fn argon2() -> Argon2<'static> {
    // m = 19 MiB, t = 2, p = 1 (OWASP's first recommendation for argon2id).
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// A hash of a password nobody has, verified when the email is unknown so
/// that an unknown email and a wrong password take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        argon2()
            .hash_password(b"karvan-dummy-password", &SaltString::generate(&mut OsRng))
            .expect("hashing into memory")
            .to_string()
    })
}

/// What is wrong with a new password, if anything.
pub fn policy_violation(password: &str, email: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        Some(format!("must be at least {MIN_LENGTH} characters long"))
    } else if length > MAX_LENGTH {
        Some(format!("must be at most {MAX_LENGTH} characters long"))
    } else if password.trim().eq_ignore_ascii_case(email.trim()) {
        Some("must not be your email address".into())
    } else {
        None
    }
}

pub async fn hash(password: SecretString) -> Result<String, AppError> {
    let _slot = hashing_slots().acquire().await.map_err(AppError::internal)?;
    actix_web::web::block(move || {
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &SaltString::generate(&mut OsRng))
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await?
}

/// Whether `password` matches `stored`; with no stored hash (unknown email),
/// a dummy is checked so the answer takes as long, and is false.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, AppError> {
    let _slot = hashing_slots().acquire().await.map_err(AppError::internal)?;
    actix_web::web::block(move || {
        // An account without a password (an invited member) is like an
        // unknown one: the dummy is verified, and the answer is no.
        let stored = stored.filter(|h| h.starts_with("$argon2"));
        let known = stored.is_some();
        let hash_text = stored.unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PasswordHash::new(&hash_text)
            .map_err(|e| AppError::internal(anyhow::anyhow!("a stored password hash does not parse: {e}")))?;
        let matches = argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let hash = hash(SecretString::from("correct horse battery")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify(SecretString::from("correct horse battery"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify(SecretString::from("wrong horse battery"), Some(hash))
            .await
            .unwrap());
        assert!(!verify(SecretString::from("karvan-dummy-password"), None).await.unwrap());
    }

    #[test]
    fn the_policy_is_api_md_s() {
        assert!(policy_violation("short", "a@b.org").is_some());
        assert!(policy_violation(&"x".repeat(129), "a@b.org").is_some());
        assert!(policy_violation("Aysel@Example.org", "aysel@example.org").is_some());
        assert!(policy_violation("ten chars!", "a@b.org").is_none());
        assert!(
            policy_violation("şəkərbura1", "a@b.org").is_none(),
            "counted in characters"
        );
    }
}
