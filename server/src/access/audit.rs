//! The audit log as a hash chain: each row carries the SHA-256 of the row before it and of its
//! own content, so a row deleted, inserted or edited by hand breaks the chain at that row and
//! [`verify`] names it (`rentgrid audit verify`).

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The hash that stands before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit row's content: who did what, when, from where, why, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The user's name (`None` for an anonymous or failed login's unknown user).
    pub user: Option<String>,
    /// Their role.
    pub role: Option<String>,
    /// The source address.
    pub source: Option<String>,
    /// What was done: `login`, `login_failed`, `logout`, `person_read`, `person_reveal`, `visit`,
    /// `import`, …
    pub action: String,
    /// What it was done to: the route and the ids.
    pub target: String,
    /// The reason given (a reveal's).
    pub reason: Option<String>,
    /// How it ended: `ok`, `denied`, `failed`.
    pub outcome: String,
}

/// The hash of `entry` chained to the hash of the row before it.
pub fn chain_hash(prev: &str, entry: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    // Serialising a struct of strings and integers cannot fail; its field order is fixed.
    h.update(serde_json::to_vec(entry).unwrap_or_default());
    let mut s = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A row's stored hash is not the hash of its content and the row before.
    #[error("audit row {seq} was changed, or a row before it removed: its hash does not match")]
    Mismatch {
        /// The first row that does not match.
        seq: i64,
    },
    /// The sequence has a gap or a repeat.
    #[error("audit row {seq} follows row {after}: rows are missing or out of order")]
    Gap {
        /// The row.
        seq: i64,
        /// The row before it.
        after: i64,
    },
}

/// Checks rows (content and stored hash, in `seq` order from the first) against the chain;
/// returns the number of rows checked.
pub fn verify<'a>(rows: impl IntoIterator<Item = (&'a AuditEntry, &'a str)>) -> Result<u64, ChainError> {
    let mut prev = GENESIS.to_string();
    let mut last = 0;
    let mut n = 0;
    for (entry, stored) in rows {
        if entry.seq != last + 1 {
            return Err(ChainError::Gap { seq: entry.seq, after: last });
        }
        let h = chain_hash(&prev, entry);
        if h != stored {
            return Err(ChainError::Mismatch { seq: entry.seq });
        }
        prev = h;
        last = entry.seq;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, action: &str) -> AuditEntry {
        AuditEntry {
            seq,
            at: "2026-12-02T10:00:00Z".into(),
            user: Some("zhang".into()),
            role: Some("caseworker".into()),
            source: Some("127.0.0.1".into()),
            action: action.into(),
            target: format!("/api/persons/{seq}"),
            reason: None,
            outcome: "ok".into(),
        }
    }

    fn chained(entries: &[AuditEntry]) -> Vec<String> {
        let mut prev = GENESIS.to_string();
        entries
            .iter()
            .map(|e| {
                prev = chain_hash(&prev, e);
                prev.clone()
            })
            .collect()
    }

    #[test]
    fn an_edit_a_deletion_or_a_reorder_is_found() {
        let rows: Vec<AuditEntry> = (1..=5).map(|i| entry(i, "person_read")).collect();
        let hashes = chained(&rows);
        let check = |rows: &[AuditEntry], hashes: &[String]| verify(rows.iter().zip(hashes.iter().map(String::as_str)));
        assert_eq!(check(&rows, &hashes), Ok(5));

        let mut edited = rows.clone();
        edited[2].target = "/api/persons/999".into();
        assert_eq!(check(&edited, &hashes), Err(ChainError::Mismatch { seq: 3 }));

        let (mut r, mut h) = (rows.clone(), hashes.clone());
        r.remove(1);
        h.remove(1);
        assert_eq!(check(&r, &h), Err(ChainError::Gap { seq: 3, after: 1 }));

        // A row removed and the later ones renumbered: the content no longer chains.
        let mut renumbered: Vec<AuditEntry> = rows.iter().filter(|e| e.seq != 2).cloned().collect();
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
        }
        let kept: Vec<String> = hashes.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, h)| h.clone()).collect();
        assert_eq!(check(&renumbered, &kept), Err(ChainError::Mismatch { seq: 2 }));
    }
}
