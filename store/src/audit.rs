//! The audit log (留痕) as a hash chain: each row carries the SHA-256 of the row before it and of its
//! own content, so a row deleted, inserted or edited by hand breaks the chain at that row and
//! [`verify`] names it (`rentgrid audit verify`). [`AuditLog`] appends rows in the store: the
//! chain's head (last row and hash) is one locked row, so appends are serialised on every backend,
//! and a write appends its row in its own transaction ([`begin`], then [`append`]).

use crate::backend::{Backend, Tx};
use crate::dates::fmt_instant;
use crate::sql::Sql;
use crate::value::Row;
use crate::{Result, SqlStore};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::fmt::Write;
use time::OffsetDateTime;

/// The hash that stands before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit row's content: its place in the log and the event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    /// Who did what, when, from where, why, and how it ended.
    #[serde(flatten)]
    pub event: AuditEvent,
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
    /// The log ends before (or after) the row its head names: rows were removed from its end.
    #[error("the audit log ends at row {last} but its head is row {head}: rows at the end were removed or edited")]
    Truncated {
        /// The last row found.
        last: i64,
        /// The row the head names.
        head: i64,
    },
}

/// Checks rows (content and stored hash, in `seq` order from the first) against the chain;
/// returns the number of rows checked.
pub fn verify<'a>(rows: impl IntoIterator<Item = (&'a AuditEntry, &'a str)>) -> std::result::Result<u64, ChainError> {
    let mut v = Verifier::default();
    for (entry, stored) in rows {
        v.push(entry, stored)?;
    }
    Ok(v.rows)
}

/// The chain checked so far, row by row (a long log is read a page at a time).
#[derive(Debug, Clone)]
pub struct Verifier {
    prev: String,
    last: i64,
    rows: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self { prev: GENESIS.to_string(), last: 0, rows: 0 }
    }
}

impl Verifier {
    /// Checks the next row: its place, and its stored hash against its content and the row before.
    pub fn push(&mut self, entry: &AuditEntry, stored: &str) -> std::result::Result<(), ChainError> {
        if entry.seq != self.last + 1 {
            return Err(ChainError::Gap { seq: entry.seq, after: self.last });
        }
        let h = chain_hash(&self.prev, entry);
        if h != stored {
            return Err(ChainError::Mismatch { seq: entry.seq });
        }
        self.prev = h;
        self.last = entry.seq;
        self.rows += 1;
        Ok(())
    }

    /// Checks that the log ends where its head says (no row removed from the end); returns the
    /// number of rows checked.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> std::result::Result<u64, ChainError> {
        if head_seq != self.last || head_hash != self.prev {
            return Err(ChainError::Truncated { last: self.last, head: head_seq });
        }
        Ok(self.rows)
    }
}

/// The actions of the writes and of the log's own reads, as the log names them (logins, logouts,
/// token and user changes and person reads name theirs where they are written).
pub mod action {
    /// A visit recorded (`POST /api/visits`).
    pub const VISIT: &str = "visit_record";
    /// A file imported (`POST /api/imports/{kind}`, `rentgrid import`).
    pub const IMPORT: &str = "import";
    /// A territory proposal accepted.
    pub const PROPOSAL_ACCEPT: &str = "proposal_accept";
    /// A sweep campaign planned and stored.
    pub const CAMPAIGN_CREATE: &str = "campaign_create";
    /// A campaign block moved to its next phase.
    pub const CAMPAIGN_PHASE: &str = "campaign_phase";
    /// A building's door plates printed, the missing ones issued (`GET /api/buildings/{id}/plates`).
    pub const PLATE_PRINT: &str = "plate_print";
    /// A door plate revoked (`POST /api/plates/{token}/revoke`).
    pub const PLATE_REVOKE: &str = "plate_revoke";
    /// The audit log read (`GET /api/audit`).
    pub const AUDIT_READ: &str = "audit_read";
    /// The audit log exported (`GET /api/audit?format=csv|xlsx`).
    pub const AUDIT_EXPORT: &str = "audit_export";
    /// Person records read, masked (`GET /api/persons`, `/api/persons/{id}`, `/api/units/{id}`).
    pub const PERSON_READ: &str = "person_read";
    /// Person records read in full, with a reason.
    pub const PERSON_REVEAL: &str = "person_reveal";
    /// Person records exported as a file, masked (`GET /api/persons?format=csv|xlsx`).
    pub const PERSON_EXPORT: &str = "person_export";
    /// Person records exported in full, with a reason.
    pub const PERSON_REVEAL_EXPORT: &str = "person_reveal_export";
    /// A person registered at the door, moved or come back (`POST /api/units/{id}/persons`).
    pub const PERSON_REGISTER: &str = "person_register";
    /// A person recorded as having left the district (`POST /api/persons/{id}/departure`).
    pub const PERSON_DEPART: &str = "person_depart";
    /// A person's fields edited, or the edit kept as a conflict (`PATCH /api/persons/{id}`).
    pub const PERSON_EDIT: &str = "person_edit";
    /// A conflict between edits resolved (`POST /api/conflicts/{id}/resolve`).
    pub const CONFLICT_RESOLVE: &str = "conflict_resolve";
    /// A hazard recorded at a building (`POST /api/buildings/{id}/hazards`).
    pub const HAZARD_RECORD: &str = "hazard_record";
    /// A hazard case assigned, reported rectified, verified or reopened.
    pub const HAZARD_MOVE: &str = "hazard_move";
    /// A photo added to a hazard case.
    pub const HAZARD_PHOTO: &str = "hazard_photo";
    /// A photo of a hazard case looked at (`GET /api/hazards/{id}/photos/{photo}`): a photo of
    /// someone's home, read as a person record is.
    pub const HAZARD_PHOTO_READ: &str = "hazard_photo_read";
    /// The conflicts between edits of persons read (`GET /api/conflicts`): person values,
    /// masked as person reads are.
    pub const CONFLICT_READ: &str = "conflict_read";
}

/// Something to write into the audit log: an [`AuditEntry`] before the log gives it its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEvent {
    /// When, RFC 3339 UTC (whole seconds).
    pub at: String,
    /// The user's name (`None` when unknown).
    pub user: Option<String>,
    /// Their role.
    pub role: Option<String>,
    /// The source address (or `cli`).
    pub source: Option<String>,
    /// What was done (`login`, `login_failed`, `logout`, `token_create`, `user_add`, …).
    pub action: String,
    /// What it was done to: the route and the ids.
    pub target: String,
    /// The reason given.
    pub reason: Option<String>,
    /// How it ended: `ok`, `denied`, `failed`.
    pub outcome: String,
}

impl AuditEvent {
    /// `action` on `target` at `at`, ending as `outcome`, by nobody known yet.
    pub fn new(at: OffsetDateTime, action: &str, target: impl Into<String>, outcome: &str) -> Self {
        Self {
            at: fmt_instant(at),
            user: None,
            role: None,
            source: None,
            action: action.into(),
            target: target.into(),
            reason: None,
            outcome: outcome.into(),
        }
    }

    /// The same event done by `user` in `role`.
    pub fn by(mut self, user: &str, role: &str) -> Self {
        self.user = Some(user.into());
        self.role = Some(role.into());
        self
    }

    /// The same event from `source` (an address, or `cli`).
    pub fn from_source(mut self, source: Option<String>) -> Self {
        self.source = source;
        self
    }

    /// The same event with a reason.
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The same event with `more` (the ids a write made: `visit 12`, `campaign 3`) added to its
    /// target.
    pub fn naming(mut self, more: impl std::fmt::Display) -> Self {
        self.target = format!("{} {more}", self.target);
        self
    }

    /// The same event ending as `outcome` (`replayed` for a write answered from what was stored).
    pub fn ending(mut self, outcome: &str) -> Self {
        self.outcome = outcome.into();
        self
    }

    /// The entry this event is at place `seq`.
    pub fn at_seq(&self, seq: i64) -> AuditEntry {
        AuditEntry { seq, event: self.clone() }
    }
}

/// A stored audit row: its content and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// The content.
    pub entry: AuditEntry,
    /// The hash of the row before (or [`GENESIS`]).
    pub prev_hash: String,
    /// Its own chain hash.
    pub hash: String,
}

/// Which rows of the audit log to read: those after place `after`, in order, at most `limit`,
/// narrowed by time (`since` inclusive, `until` exclusive, both as [`fmt_instant`] writes them),
/// user and action. The filters run in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Rows after this place (0: from the first).
    pub after: i64,
    /// At most this many rows.
    pub limit: u32,
    /// Rows at or after this instant.
    pub since: Option<String>,
    /// Rows before this instant.
    pub until: Option<String>,
    /// Rows of this user only.
    pub user: Option<String>,
    /// Rows of this action only.
    pub action: Option<String>,
}

impl AuditQuery {
    /// Up to `limit` rows after place `after`, unfiltered.
    pub fn page(after: i64, limit: u32) -> Self {
        Self { after, limit, since: None, until: None, user: None, action: None }
    }

    /// The `SELECT` of the rows this query asks for.
    fn sql(&self) -> Sql {
        let mut q = Sql::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ")).bind(self.after);
        let filters =
            [("at >= ", &self.since), ("at < ", &self.until), ("username = ", &self.user), ("action = ", &self.action)];
        for (cond, value) in filters {
            if let Some(v) = value {
                q = q.push(" AND ").push(cond).bind(v);
            }
        }
        q.push(" ORDER BY seq LIMIT ").bind(i64::from(self.limit))
    }
}

/// The audit log in the store: appended to, read and checked.
///
/// ```
/// use rentgrid_store::{AuditLog, Store};
/// // Anything that keeps the register keeps its audit log.
/// fn audit_log(store: &dyn Store) -> &dyn AuditLog { store }
/// ```
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one row on its own (for what writes nothing else, e.g. a failed login of an
    /// unknown user); returns it as stored.
    async fn append_audit(&self, event: &AuditEvent) -> Result<AuditRow>;
    /// Up to `limit` rows after place `after`, in order.
    async fn audit_rows(&self, after: i64, limit: u32) -> Result<Vec<AuditRow>> {
        self.audit_query(&AuditQuery::page(after, limit)).await
    }
    /// The rows `query` asks for, in order.
    async fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditRow>>;
    /// Checks the whole chain: the number of rows, or where it is broken.
    async fn verify_audit(&self) -> Result<std::result::Result<u64, ChainError>>;
    /// The rows ever appended: the place of the chain's head (one short query).
    async fn audit_length(&self) -> Result<i64>;
}

/// Rows read per page by [`AuditLog::verify_audit`].
const VERIFY_PAGE: u32 = 10_000;

const AUDIT_COLUMNS: &str = "seq, at, username, role, source, action, target, reason, outcome, prev_hash, hash";

fn row_of(r: &Row) -> Result<AuditRow> {
    Ok(AuditRow {
        entry: AuditEntry {
            seq: r.int("seq")?,
            event: AuditEvent {
                at: r.text("at")?,
                user: r.opt_text("username")?,
                role: r.opt_text("role")?,
                source: r.opt_text("source")?,
                action: r.text("action")?,
                target: r.text("target")?,
                reason: r.opt_text("reason")?,
                outcome: r.text("outcome")?,
            },
        },
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}

/// Starts a transaction that will append to the audit log, taking the log's lock first: the
/// chain's head row is written before anything is read (a GeoPackage transaction that read
/// first could not become the writer later; on PostGIS the row lock makes a second appender wait).
pub async fn begin(db: &dyn Backend) -> Result<Tx<'_>> {
    let mut tx = Tx::begin(db).await?;
    tx.execute(Sql::new("UPDATE audit_head SET seq = seq WHERE id = 1")).await?;
    Ok(tx)
}

/// Appends `event` in `tx` (begun by [`begin`]): reads the head, chains the row to it, moves the
/// head. Returns the row as stored.
pub async fn append(tx: &mut Tx<'_>, event: &AuditEvent) -> Result<AuditRow> {
    let head = tx.fetch_one(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1")).await?;
    let (seq, prev_hash) = (head.int("seq")? + 1, head.text("hash")?);
    let entry = event.at_seq(seq);
    let hash = chain_hash(&prev_hash, &entry);
    let e = event;
    tx.execute(Sql::new(format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) ")).values([vec![
        seq.into(),
        (&e.at).into(),
        e.user.clone().into(),
        e.role.clone().into(),
        e.source.clone().into(),
        (&e.action).into(),
        (&e.target).into(),
        e.reason.clone().into(),
        (&e.outcome).into(),
        (&prev_hash).into(),
        (&hash).into(),
    ]]))
    .await?;
    tx.execute(Sql::new("UPDATE audit_head SET seq = ").bind(seq).push(", hash = ").bind(&hash).push(" WHERE id = 1"))
        .await?;
    Ok(AuditRow { entry, prev_hash, hash })
}

#[async_trait]
impl<B: Backend> AuditLog for SqlStore<B> {
    async fn append_audit(&self, event: &AuditEvent) -> Result<AuditRow> {
        let mut tx = begin(&self.db).await?;
        let row = append(&mut tx, event).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn audit_query(&self, query: &AuditQuery) -> Result<Vec<AuditRow>> {
        self.db.fetch(query.sql()).await?.iter().map(row_of).collect()
    }

    async fn audit_length(&self) -> Result<i64> {
        let rows = self.db.fetch(Sql::new("SELECT seq FROM audit_head WHERE id = 1")).await?;
        rows.first().map_or(Ok(0), |r| r.int("seq"))
    }

    async fn verify_audit(&self) -> Result<std::result::Result<u64, ChainError>> {
        // The head first: rows appended while the log is read come after it and are left out.
        let mut tx = Tx::begin(&self.db).await?;
        let head = tx.fetch_one(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1")).await?;
        let (head_seq, head_hash) = (head.int("seq")?, head.text("hash")?);
        let mut v = Verifier::default();
        let mut after = 0;
        loop {
            let page = tx
                .fetch(
                    Sql::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > "))
                        .bind(after)
                        .push(" AND seq <= ")
                        .bind(head_seq)
                        .push(" ORDER BY seq LIMIT ")
                        .bind(i64::from(VERIFY_PAGE)),
                )
                .await?;
            for r in &page {
                let row = row_of(r)?;
                if let Err(e) = v.push(&row.entry, &row.hash) {
                    return Ok(Err(e));
                }
                after = row.entry.seq;
            }
            if page.len() < VERIFY_PAGE as usize {
                break;
            }
        }
        Ok(v.finish(head_seq, &head_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, action: &str) -> AuditEntry {
        let at = time::macros::datetime!(2026-12-02 10:00 UTC);
        AuditEvent::new(at, action, format!("/api/persons/{seq}"), "ok")
            .by("zhang", "caseworker")
            .from_source(Some("127.0.0.1".into()))
            .at_seq(seq)
    }

    #[test]
    fn an_entry_hashes_as_one_flat_json_object() {
        let e = entry(1, "person_read");
        let json = serde_json::to_string(&e).unwrap_or_default();
        assert!(json.starts_with(r#"{"seq":1,"at":"2026-12-02T10:00:00Z","user":"zhang""#), "{json}");
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
        edited[2].event.target = "/api/persons/999".into();
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
