//! Sessions and API tokens: random secrets given to the client once, kept in the store only as
//! their SHA-256 hash, and the lifetime rules of a session (idle and absolute timeouts).

use argon2::password_hash::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use std::fmt::Write;
use time::{Duration, OffsetDateTime};

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after login, however busy.
    pub absolute: Duration,
}

impl Default for Timeouts {
    /// 30 minutes idle, 12 hours in all.
    fn default() -> Self {
        Self { idle: Duration::minutes(30), absolute: Duration::hours(12) }
    }
}

impl Timeouts {
    /// True while a session begun at `created` and last used at `last_seen` is alive at `now`.
    pub fn alive(&self, created: OffsetDateTime, last_seen: OffsetDateTime, now: OffsetDateTime) -> bool {
        now - last_seen < self.idle && now - created < self.absolute
    }
}

/// A new secret: 32 random bytes from the operating system, as 64 hex digits, after `prefix`
/// (e.g. `rgt_` for API tokens, so a leaked one is recognisable).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let mut s = String::with_capacity(prefix.len() + 64);
    s.push_str(prefix);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What the store keeps of a secret: its SHA-256, hex. A stolen table reveals no usable secret.
pub fn secret_hash(secret: &str) -> String {
    let mut s = String::with_capacity(64);
    for b in Sha256::digest(secret.as_bytes()) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn idle_and_absolute_timeouts() {
        let t = Timeouts::default();
        let login = datetime!(2026-12-02 08:00 UTC);
        assert!(t.alive(login, login, login + Duration::minutes(29)));
        assert!(!t.alive(login, login, login + Duration::minutes(30)), "idle");
        let busy = login + Duration::hours(12) - Duration::minutes(1);
        assert!(t.alive(login, busy, busy));
        assert!(!t.alive(login, busy, login + Duration::hours(12)), "absolute, however busy");
    }

    #[test]
    fn secrets_are_random_and_stored_hashed() {
        let a = new_secret("rgt_");
        assert_eq!(a.len(), 68);
        assert!(a.starts_with("rgt_") && a[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_secret("rgt_"));
        // The SHA-256 test vector of "abc" (FIPS 180-2).
        assert_eq!(secret_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
