//! Passwords kept as Argon2id hashes (PHC strings `$argon2id$v=19$…`, with a random salt each),
//! never as text.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The fewest characters a password may have.
pub const MIN_LENGTH: usize = 10;

/// Why a password was not accepted or could not be hashed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Too short to be kept.
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    /// The hashing library failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The Argon2id hash of `password` (default parameters: 19 MiB, 2 passes, 1 lane), as a PHC
/// string to store.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `password` matches the stored PHC string; false for a wrong password and for a
/// stored value that is not a readable hash (never an error a caller could mistake for success).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash("correct horse battery").unwrap_or_default();
        let b = hash("correct horse battery").unwrap_or_default();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a) && verify("correct horse battery", &b));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
    }
}
