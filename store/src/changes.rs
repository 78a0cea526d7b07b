//! The change log (变更日志): what each committed write changed in the state a server keeps in
//! memory (an Atlas's counts and the inputs of the derived views, the hazard cases of a grid, or
//! everything, after an import), so that several servers on one database stay consistent.
//!
//! A write records its [`Change`] in its own transaction, right after its audit row, under the
//! audit chain's lock ([`record`]): the log's order is the commit order on every server, and a
//! change's `seq` is its audit row's place. On PostGIS the same transaction announces the change
//! with `NOTIFY` (delivered at commit), which wakes the other servers ([`ChangeLog::listen`]);
//! each reads the changes after the last one it applied ([`ChangeLog::changes_after`]) and
//! applies them in order, the writer its own too. Each change names the one before it (`prev`),
//! so a server that finds the first change it reads does not follow the last one it applied
//! (older changes were pruned, [`KEEP`]) loads everything again instead; and what a server loads
//! is read in one snapshot with the [`Mark`] of the last change it includes
//! ([`ChangeLog::load`]).
//!
//! The data version (`atlas_version`) is kept with each change: a change that moves counts or
//! reloads makes the next one, so every server following the log publishes the same versions.
//!
//! ```
//! use rentgrid_store::{ChangeLog, Store};
//! // Anything that keeps the register keeps its change log.
//! fn change_log(store: &dyn Store) -> &dyn ChangeLog { store }
//! ```

use crate::audit::AuditRow;
use crate::backend::{Backend, Tx};
use crate::sql::Sql;
use crate::value::Row;
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use rentgrid_analysis::evidence::StoredEvidence;
use rentgrid_analysis::view_inputs::InputChange;
use rentgrid_geodata::{AtlasInput, GridId, MonthlyRegistrations, StatsDelta};

/// What one committed write changed in what servers keep in memory.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Buildings' counts and the inputs of the derived views changed (a visit, a field write,
    /// contracts replaced).
    Counts {
        /// The change to each building's counts (none: the counts did not move).
        deltas: Vec<StatsDelta>,
        /// The change to the monthly registrations and the evidence.
        inputs: InputChange,
    },
    /// The hazard cases of a grid changed (no count did).
    Hazards {
        /// The grid.
        grid: GridId,
    },
    /// Anything may have changed (an import): load everything again.
    Reload,
}

impl Change {
    /// The change of a write that made `deltas` and `inputs`, or `None` when it changed nothing
    /// a server keeps.
    pub fn counts(deltas: &[StatsDelta], inputs: InputChange) -> Option<Change> {
        let deltas: Vec<StatsDelta> = deltas.iter().filter(|d| !d.is_empty()).copied().collect();
        (!deltas.is_empty() || !inputs.is_empty()).then_some(Change::Counts { deltas, inputs })
    }

    /// Whether it changes counts (and the inputs of the derived views).
    pub fn is_counts(&self) -> bool {
        matches!(self, Change::Counts { .. })
    }

    /// Whether applying it makes a new data version (counts moved, or everything was loaded
    /// again).
    pub fn moves_version(&self) -> bool {
        match self {
            Change::Counts { deltas, .. } => !deltas.is_empty(),
            Change::Hazards { .. } => false,
            Change::Reload => true,
        }
    }
}

/// A change as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// Its place: its audit row's.
    pub seq: i64,
    /// The place of the change before it (0: none).
    pub prev: i64,
    /// The data version once it is applied.
    pub version: u64,
    /// What changed.
    pub change: Change,
}

/// Where the log stood: the last change recorded (0 and version 0 when none was).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    /// The change's place.
    pub seq: i64,
    /// The data version after it.
    pub version: u64,
}

/// Which parts of the register [`crate::SnapshotReads::load`] reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    /// The Atlas's input (geometry and counts).
    pub atlas: bool,
    /// The inputs of the derived views (monthly registrations and evidence).
    pub inputs: bool,
}

/// The parts of the register a server keeps, read in one snapshot, and the last change they
/// include.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The Atlas's input, when asked for.
    pub atlas: Option<AtlasInput>,
    /// The monthly registrations, when the inputs were asked for.
    pub registrations: Option<Vec<MonthlyRegistrations>>,
    /// The evidence, when the inputs were asked for.
    pub evidence: Option<StoredEvidence>,
    /// The last change the parts include.
    pub mark: Mark,
    /// The store's history up to that change ([`crate::snapshot_reads::Stamp::history`]).
    pub history: String,
}

pub use crate::backend::Wakeups;

/// The change log in the store.
#[async_trait]
pub trait ChangeLog: Send + Sync {
    /// Up to `limit` changes after place `seq`, in order.
    async fn changes_after(&self, seq: i64, limit: u32) -> Result<Vec<Logged>>;
    /// The last change recorded.
    async fn last_change(&self) -> Result<Mark>;
    /// Wake-ups at each change recorded, where the database announces them (PostGIS); `None`
    /// for a GeoPackage (one process serves it: its own writes are all it misses nothing of).
    async fn listen(&self) -> Result<Option<Box<dyn Wakeups>>>;
}

/// Changes kept: older ones are pruned now and then ([`PRUNE_EVERY`]). A server that fell
/// further behind loads everything again.
pub const KEEP: u32 = 100_000;

/// The log is pruned when a change's place crosses a multiple of this.
pub const PRUNE_EVERY: i64 = 1_000;

const COLUMNS: &str = "seq, prev, version, body";

fn corrupt(seq: i64, reason: impl ToString) -> StoreError {
    StoreError::Corrupt { what: "change", id: seq.to_string(), reason: reason.to_string() }
}

fn logged_of(r: &Row) -> Result<Logged> {
    let seq = r.int("seq")?;
    let body = r.text("body")?;
    Ok(Logged {
        seq,
        prev: r.int("prev")?,
        version: u64::try_from(r.int("version")?).map_err(|e| corrupt(seq, e))?,
        change: serde_json::from_str(&body).map_err(|e| corrupt(seq, e))?,
    })
}

fn mark_of(r: Option<&Row>) -> Result<Mark> {
    let Some(r) = r else { return Ok(Mark::default()) };
    let seq = r.int("seq")?;
    Ok(Mark { seq, version: u64::try_from(r.int("version")?).map_err(|e| corrupt(seq, e))? })
}

/// The last change, as `tx` sees it.
pub(crate) async fn last(tx: &mut Tx<'_>) -> Result<Mark> {
    mark_of(tx.fetch_optional(Sql::new("SELECT seq, version FROM changes ORDER BY seq DESC LIMIT 1")).await?.as_ref())
}

/// Change `seq`'s mark, if the log holds it, as `tx` sees it.
pub(crate) async fn mark_at(tx: &mut Tx<'_>, seq: i64) -> Result<Option<Mark>> {
    let row = tx.fetch_optional(Sql::new("SELECT seq, version FROM changes WHERE seq = ").bind(seq)).await?;
    Ok(match row {
        Some(r) => Some(mark_of(Some(&r))?),
        None => None,
    })
}

/// Records `change`, made by the write whose audit row is `row`, in that write's transaction
/// `tx` (begun by [`crate::audit::begin`], so the audit chain's lock orders it), and announces
/// it at commit where the database announces. Prunes the log now and then.
pub async fn record(tx: &mut Tx<'_>, row: &AuditRow, change: &Change) -> Result<()> {
    let seq = row.entry.seq;
    let before = last(tx).await?;
    let version = before.version + u64::from(change.moves_version());
    let body = serde_json::to_string(change).map_err(|e| corrupt(seq, e))?;
    let version_value = i64::try_from(version).map_err(|e| corrupt(seq, e))?;
    tx.execute(Sql::new(format!("INSERT INTO changes ({COLUMNS}) ")).values([vec![
        seq.into(),
        before.seq.into(),
        version_value.into(),
        body.into(),
    ]]))
    .await?;
    if let Some(q) = tx.db.announce(seq) {
        tx.execute(q).await?;
    }
    if seq / PRUNE_EVERY != before.seq / PRUNE_EVERY {
        prune(tx, KEEP).await?;
    }
    Ok(())
}

/// Deletes all but the last `keep` changes (at least one is kept).
pub async fn prune(tx: &mut Tx<'_>, keep: u32) -> Result<u64> {
    let offset = i64::from(keep.max(1)) - 1;
    let Some(oldest) =
        tx.fetch_optional(Sql::new("SELECT seq FROM changes ORDER BY seq DESC LIMIT 1 OFFSET ").bind(offset)).await?
    else {
        return Ok(0);
    };
    tx.execute(Sql::new("DELETE FROM changes WHERE seq < ").bind(oldest.int("seq")?)).await
}

#[async_trait]
impl<B: Backend> ChangeLog for SqlStore<B> {
    async fn changes_after(&self, seq: i64, limit: u32) -> Result<Vec<Logged>> {
        let q = Sql::new(format!("SELECT {COLUMNS} FROM changes WHERE seq > "))
            .bind(seq)
            .push(" ORDER BY seq LIMIT ")
            .bind(i64::from(limit));
        self.db.fetch(q).await?.iter().map(logged_of).collect()
    }

    async fn last_change(&self) -> Result<Mark> {
        let rows = self.db.fetch(Sql::new("SELECT seq, version FROM changes ORDER BY seq DESC LIMIT 1")).await?;
        mark_of(rows.first())
    }

    async fn listen(&self) -> Result<Option<Box<dyn Wakeups>>> {
        self.db.listen().await
    }
}
