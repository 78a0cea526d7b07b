//! The answers of the heavy analyses (hot spots), kept per request across snapshots so that a
//! write never makes a request wait for a new run: a request finds the answer of the current
//! snapshot, or the newest answer kept (it says which data version it reflects) while one run
//! for the current snapshot goes on off the request path, started at most once per interval
//! while writes arrive. Only a request nothing was ever kept for runs the analysis itself, so no
//! request waits for more than one run. Nothing here knows HTTP or the analyses.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The most answers kept (requests differ by parameters and scope); past it, all are dropped.
pub const CAPACITY: usize = 64;

/// An answer kept for a request.
#[derive(Debug)]
struct Kept<V> {
    /// The data version it reflects.
    version: u64,
    body: V,
    /// When the last run for this request started (the kept answer's, or the one going on).
    started: Instant,
    /// Whether a run is going on off the request path.
    refreshing: bool,
}

/// What is kept for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<V> {
    /// The answer of the current data version.
    Current(V),
    /// An older answer, of data version `version`; `refresh` says the caller is to start the
    /// run for the current version (no other run for this request is going on and the last one
    /// started at least an interval ago).
    Older {
        /// The data version it reflects.
        version: u64,
        /// The answer.
        body: V,
        /// Whether to start a run now.
        refresh: bool,
    },
    /// Nothing: the request runs the analysis.
    Missing,
}

/// The kept answers (`V`, e.g. the body as served), by request key.
#[derive(Debug)]
pub struct KeptAnswers<V> {
    entries: Mutex<HashMap<String, Kept<V>>>,
}

impl<V> Default for KeptAnswers<V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> KeptAnswers<V> {
    fn entries(&self) -> MutexGuard<'_, HashMap<String, Kept<V>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is kept for `key` when the data is at `current`; an [`Lookup::Older`] with `refresh`
    /// marks the run as started (end it with [`Self::keep`] or [`Self::gave_up`]).
    pub fn lookup(&self, key: &str, current: u64, interval: Duration) -> Lookup<V> {
        let mut entries = self.entries();
        let Some(kept) = entries.get_mut(key) else { return Lookup::Missing };
        if kept.version >= current {
            return Lookup::Current(kept.body.clone());
        }
        let refresh = !kept.refreshing && kept.started.elapsed() >= interval;
        if refresh {
            kept.refreshing = true;
            kept.started = Instant::now();
        }
        Lookup::Older { version: kept.version, body: kept.body.clone(), refresh }
    }

    /// Keeps `body`, the answer to `key` at data version `version`, unless a newer one is kept;
    /// ends the run going on for `key`, if any. `started` is when its run started.
    pub fn keep(&self, key: String, version: u64, body: V, started: Instant) {
        let mut entries = self.entries();
        if let Some(kept) = entries.get_mut(&key) {
            kept.refreshing = false;
            if kept.version <= version {
                kept.version = version;
                kept.body = body;
            }
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, Kept { version, body, started, refreshing: false });
    }

    /// Ends the run for `key` without an answer (it failed, or found no place to run): the next
    /// request after the interval starts another.
    pub fn gave_up(&self, key: &str) {
        if let Some(kept) = self.entries().get_mut(key) {
            kept.refreshing = false;
        }
    }

    /// The answers kept of data version `version`.
    pub fn of_version(&self, version: u64) -> Vec<V> {
        self.entries().values().filter(|k| k.version == version).map(|k| k.body.clone()).collect()
    }

    /// Whether a run is going on off the request path for any request.
    pub fn refreshing(&self) -> bool {
        self.entries().values().any(|k| k.refreshing)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::Arc;

    fn body(s: &str) -> Arc<String> {
        Arc::new(s.to_owned())
    }

    #[test]
    fn an_older_answer_is_served_while_one_run_per_interval_makes_the_current_one() {
        let kept = KeptAnswers::default();
        assert_eq!(kept.lookup("gi", 1, Duration::ZERO), Lookup::Missing);
        kept.keep("gi".into(), 1, body("v1"), Instant::now());
        assert_eq!(kept.lookup("gi", 1, Duration::ZERO), Lookup::Current(body("v1")));
        // A write: the old answer is served and one run starts; the next request does not start
        // another while it goes on.
        assert_eq!(kept.lookup("gi", 2, Duration::ZERO), Lookup::Older { version: 1, body: body("v1"), refresh: true });
        assert_eq!(
            kept.lookup("gi", 3, Duration::ZERO),
            Lookup::Older { version: 1, body: body("v1"), refresh: false }
        );
        assert!(kept.refreshing());
        kept.keep("gi".into(), 2, body("v2"), Instant::now());
        assert!(!kept.refreshing());
        assert_eq!(kept.lookup("gi", 2, Duration::ZERO), Lookup::Current(body("v2")));
        // A run that ends after a newer one does not replace it.
        kept.keep("gi".into(), 1, body("late v1"), Instant::now());
        assert_eq!(kept.lookup("gi", 2, Duration::ZERO), Lookup::Current(body("v2")));
        assert_eq!(kept.of_version(2), vec![body("v2")]);
    }

    #[test]
    fn within_the_interval_no_run_starts_and_a_failed_run_frees_the_next() {
        let kept = KeptAnswers::default();
        kept.keep("gi".into(), 1, body("v1"), Instant::now());
        let hour = Duration::from_secs(3600);
        assert_eq!(kept.lookup("gi", 2, hour), Lookup::Older { version: 1, body: body("v1"), refresh: false });
        assert_eq!(kept.lookup("gi", 2, Duration::ZERO), Lookup::Older { version: 1, body: body("v1"), refresh: true });
        kept.gave_up("gi");
        assert!(!kept.refreshing());
        assert_eq!(kept.lookup("gi", 2, Duration::ZERO), Lookup::Older { version: 1, body: body("v1"), refresh: true });
    }

    #[test]
    fn past_the_capacity_the_answers_are_dropped() {
        let kept = KeptAnswers::default();
        for i in 0..CAPACITY {
            kept.keep(format!("k{i}"), 1, body("x"), Instant::now());
        }
        assert_eq!(kept.of_version(1).len(), CAPACITY);
        kept.keep("one more".into(), 1, body("y"), Instant::now());
        assert_eq!(kept.of_version(1), vec![body("y")]);
    }
}
