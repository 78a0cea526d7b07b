//! The memo of a view made from a snapshot and more (the history and the estimate also read the
//! kept view inputs): a value kept for the snapshot it was computed from (by its version),
//! replaced when a newer one is made. A visit or an import makes a new snapshot, so nothing
//! derived from an older one is ever answered. Views of the snapshot alone are the
//! [`crate::snapshot::Snapshot`]'s own.

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_answered_for_its_snapshot_only_and_while_fresh() {
        let memo = PerSnapshot::<u32>::default();
        assert_eq!(memo.get(1, |_| true), None, "nothing kept yet");
        memo.put(1, Arc::new(10));
        assert_eq!(memo.get(1, |_| true).as_deref(), Some(&10));
        assert_eq!(memo.get(2, |_| true), None, "another snapshot's value is not answered");
        assert_eq!(memo.get(1, |&t| t > 100), None, "a value the caller finds stale is not answered");
        memo.put(2, Arc::new(20));
        assert_eq!(memo.get(1, |_| true), None, "a newer snapshot's value replaced it");
        assert_eq!(memo.get(2, |_| true).as_deref(), Some(&20));
    }
}
