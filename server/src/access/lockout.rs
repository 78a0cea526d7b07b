//! Refusing guessed passwords: after [`Policy::max_failures`] failed logins within the window, an
//! account (and, separately, a source address) is locked for [`Policy::lock_for`]. Pure: the
//! caller passes the time and keeps the [`Lockout`] (in memory or in the store).

use std::collections::HashMap;
use std::hash::Hash;
use time::{Duration, OffsetDateTime};

/// The lockout rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures that lock.
    pub max_failures: u32,
    /// How long a lock lasts, and how long failures are remembered.
    pub lock_for: Duration,
}

impl Default for Policy {
    /// 5 failures lock for 15 minutes.
    fn default() -> Self {
        Self { max_failures: 5, lock_for: Duration::minutes(15) }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    first: OffsetDateTime,
    locked_until: Option<OffsetDateTime>,
}

/// Failed logins per key (an account name, or a source address).
#[derive(Debug, Clone)]
pub struct Lockout<K> {
    policy: Policy,
    entries: HashMap<K, Entry>,
}

impl<K: Eq + Hash + Clone> Lockout<K> {
    /// An empty record under `policy`.
    pub fn new(policy: Policy) -> Self {
        Self { policy, entries: HashMap::new() }
    }

    /// When `key` is locked at `now`, the instant its lock ends.
    pub fn locked_until(&self, key: &K, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.entries.get(key).and_then(|e| e.locked_until).filter(|&until| until > now)
    }

    /// Records a failed login of `key` at `now`; returns the end of the lock it causes, if any.
    pub fn fail(&mut self, key: &K, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let policy = self.policy;
        let e = self.entries.entry(key.clone()).or_insert(Entry { failures: 0, first: now, locked_until: None });
        let expired_lock = e.locked_until.is_some_and(|u| u <= now);
        if expired_lock || now - e.first > policy.lock_for {
            *e = Entry { failures: 0, first: now, locked_until: None };
        }
        e.failures += 1;
        if e.failures >= policy.max_failures {
            e.locked_until = Some(now + policy.lock_for);
        }
        e.locked_until
    }

    /// Forgets the failures of `key` after a successful login.
    pub fn succeed(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops what no longer matters at `now` (old failures, ended locks), so the record stays
    /// small under a spray of guesses.
    pub fn prune(&mut self, now: OffsetDateTime) {
        let window = self.policy.lock_for;
        self.entries.retain(|_, e| e.locked_until.is_some_and(|u| u > now) || now - e.first <= window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let mut l = Lockout::new(Policy::default());
        let t0 = datetime!(2026-12-02 10:00 UTC);
        for i in 0..4 {
            assert_eq!(l.fail(&"zhang", t0 + Duration::seconds(i)), None);
        }
        assert_eq!(l.locked_until(&"zhang", t0), None);
        let until = l.fail(&"zhang", t0 + Duration::seconds(4));
        assert_eq!(until, Some(t0 + Duration::seconds(4) + Duration::minutes(15)));
        assert!(l.locked_until(&"zhang", t0 + Duration::minutes(10)).is_some());
        assert!(l.locked_until(&"li", t0 + Duration::minutes(10)).is_none(), "per key");
        assert!(l.locked_until(&"zhang", t0 + Duration::minutes(16)).is_none(), "the lock ends");
        assert_eq!(l.fail(&"zhang", t0 + Duration::minutes(16)), None, "counting starts again");
    }

    #[test]
    fn old_failures_and_successes_are_forgotten() {
        let mut l = Lockout::new(Policy::default());
        let t0 = datetime!(2026-12-02 10:00 UTC);
        for i in 0..4 {
            l.fail(&1, t0 + Duration::minutes(i));
        }
        assert_eq!(l.fail(&1, t0 + Duration::minutes(20)), None, "the first failures fell out of the window");
        for _ in 0..3 {
            l.fail(&2, t0);
        }
        l.succeed(&2);
        l.fail(&2, t0);
        assert_eq!(l.fail(&2, t0), None);
        l.prune(t0 + Duration::hours(1));
        assert!(l.entries.is_empty());
    }
}
