//! The one memo behind every view derived from an Atlas snapshot: a value kept for the snapshot
//! it was computed from (by its version), replaced when a newer one is asked for. A visit or an
//! import makes a new snapshot, so nothing derived from an older one is ever answered.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A value computed from one snapshot, kept until a value of another snapshot replaces it.
#[derive(Debug)]
pub struct PerSnapshot<T> {
    slot: Mutex<Option<(u64, Arc<T>)>>,
}

impl<T> Default for PerSnapshot<T> {
    fn default() -> Self {
        Self { slot: Mutex::new(None) }
    }
}

impl<T> PerSnapshot<T> {
    fn slot(&self) -> MutexGuard<'_, Option<(u64, Arc<T>)>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value kept for snapshot `version`, if it is kept and `fresh` accepts it.
    pub fn get(&self, version: u64, fresh: impl FnOnce(&T) -> bool) -> Option<Arc<T>> {
        self.slot().as_ref().filter(|(v, t)| *v == version && fresh(t)).map(|(_, t)| t.clone())
    }

    /// Keeps `value` as the value of snapshot `version`.
    pub fn put(&self, version: u64, value: Arc<T>) {
        *self.slot() = Some((version, value));
    }

    /// The value of snapshot `version`, computed by `make` (under the memo's lock: concurrent
    /// callers wait for the one computation) unless it is kept.
    pub fn get_or_make(&self, version: u64, make: impl FnOnce() -> T) -> Arc<T> {
        let mut slot = self.slot();
        if let Some((v, t)) = slot.as_ref()
            && *v == version
        {
            return t.clone();
        }
        let t = Arc::new(make());
        *slot = Some((version, t.clone()));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_made_once_per_snapshot() {
        let memo = PerSnapshot::<u32>::default();
        let mut made = 0;
        assert_eq!(
            *memo.get_or_make(1, || {
                made += 1;
                10
            }),
            10
        );
        assert_eq!(
            *memo.get_or_make(1, || {
                made += 1;
                11
            }),
            10
        );
        assert_eq!(made, 1);
        assert_eq!(memo.get(2, |_| true), None, "another snapshot's value is not answered");
        assert_eq!(*memo.get_or_make(2, || 20), 20);
        assert_eq!(memo.get(2, |&t| t > 100), None, "a value the caller finds stale is not answered");
        memo.put(3, Arc::new(30));
        assert_eq!(memo.get(3, |_| true).as_deref(), Some(&30));
    }
}
