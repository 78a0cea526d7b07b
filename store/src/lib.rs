//! rentgrid's system of record. The register lives in a GeoPackage file in the data directory
//! (the default: QGIS and GDAL open it as it is) or in PostGIS; each is a Cargo feature (`gpkg`,
//! `postgis`). The SQL and the business rules are written once, over the small [`Backend`] each
//! database gives (its connection, migrations and dialect), and offered through narrow traits by
//! concern: [`Register`] reads, the day's [`Activity`] (the big screen's counts), the [`VisitLog`], the [`FieldWrites`] made at the door
//! (persons registered, moved, left; edits and their conflicts), the [`Hazards`] found there and
//! their cases, [`Imports`], [`Contracts`] and
//! [`Campaigns`], the person-level reads of [`Persons`], the [`DoorPlates`] (门牌二维码), the users
//! and their sessions and tokens ([`Access`]), the hash-chained [`AuditLog`] and the
//! [`ChangeLog`] with its consistent [`SnapshotReads`], and where the database is in its
//! write-ahead log ([`Replication`], for reads from a standby). [`Store`] is all of them. Every write is
//! one transaction; a write that changes
//! what servers keep in memory records its [`Change`](changes::Change) in it, and servers apply
//! it from the log after the commit (the writer too), so several servers on one database agree.
//!
//! ```
//! use rentgrid_store::{Store, VisitLog};
//! // Anything that keeps the register offers the visit log.
//! fn visit_log(store: &dyn Store) -> &dyn VisitLog { store }
//! ```

pub mod access;
pub mod activity;
pub mod audit;
pub mod backend;
pub mod campaigns;
pub mod changes;
pub mod contracts;
pub mod dates;
mod fault;
pub mod field;
#[cfg(feature = "gpkg")]
pub mod gpkg;
pub mod hazards;
mod import_writes;
pub mod imports;
mod ledgers;
pub mod names;
pub mod persons;
pub mod plates;
#[cfg(feature = "postgis")]
pub mod postgis;
mod records;
pub mod register;
pub mod replication;
mod seed;
pub mod snapshot_reads;
pub mod sql;
#[cfg(feature = "postgis")]
pub mod testing;
pub mod value;
pub mod visits;

pub use access::{Access, ApiToken, LockRule, NewUser, Session, User};
pub use activity::Activity;
pub use audit::{AuditEntry, AuditEvent, AuditLog, AuditQuery, AuditRow, ChainError};
pub use backend::{Backend, PoolUsage};
pub use campaigns::Campaigns;
pub use changes::ChangeLog;
pub use contracts::Contracts;
pub use field::FieldWrites;
pub use hazards::Hazards;
pub use imports::{ImportCounts, Imports, Keyed, Keys, LedgerRows, PersonRow, VisitRow};
pub use persons::Persons;
pub use plates::DoorPlates;
pub use register::{Cell, LastVisit, Ledger, Register, StoreInfo};
pub use replication::Replication;
pub use snapshot_reads::SnapshotReads;
pub use visits::{NewUnit, NewVisit, VisitLog, VisitOutcome};

/// The store: every concern, over one backend.
pub trait Store:
    Register
    + Activity
    + VisitLog
    + FieldWrites
    + Hazards
    + Imports
    + Contracts
    + Campaigns
    + Persons
    + DoorPlates
    + Access
    + AuditLog
    + ChangeLog
    + SnapshotReads
    + Replication
    + Send
    + Sync
{
}

impl<
    T: Register
        + Activity
        + VisitLog
        + FieldWrites
        + Hazards
        + Imports
        + Contracts
        + Campaigns
        + Persons
        + DoorPlates
        + Access
        + AuditLog
        + ChangeLog
        + SnapshotReads
        + Replication
        + Send
        + Sync,
> Store for T
{
}

/// The store over backend `B`: the SQL written once, run on `B`.
#[derive(Debug)]
pub struct SqlStore<B: Backend> {
    db: B,
    client_ids: visits::ClientIdLocks,
}

impl<B: Backend> SqlStore<B> {
    /// The store over `db`.
    pub fn new(db: B) -> Self {
        Self { db, client_ids: visits::ClientIdLocks::default() }
    }

    /// The backend (its pool, for tests and tools).
    pub fn backend(&self) -> &B {
        &self.db
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The database does not answer for now (stopped, restarting, the connection cut, every
    /// connection taken): nothing of this operation was kept unless its commit was sent; try
    /// again (the pool reconnects by itself).
    #[error("the database does not answer for now: {0}")]
    Unavailable(sqlx::Error),
    /// The disk under the database is full: the write was rolled back, nothing of it is kept.
    #[error("the disk under the store is full, so nothing was written; free space and try again ({0})")]
    DiskFull(sqlx::Error),
    /// A file of the data directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The store's file cannot be used as it is (empty, cut short, not a GeoPackage).
    #[error("{path}: {reason}")]
    Unusable {
        /// The file.
        path: String,
        /// What is wrong with it, and what to do.
        reason: String,
    },
    /// A migration failed or the schema is not one this build knows.
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row could not be read back.
    #[error("stored {what} {id} is unreadable: {reason}")]
    Corrupt {
        /// Table.
        what: &'static str,
        /// Row key.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The database's schema is missing, older or newer than this build's.
    #[error("{0}")]
    Schema(String),
    /// The store has no district yet.
    #[error("the store holds no district yet")]
    Empty,
    /// Seeding was asked of a store that already holds data.
    #[error("the store already holds a district; use a new data directory (or `rentgrid demo --force`)")]
    NotEmpty,
    /// A visit refers to something that does not exist or does not fit.
    #[error("{0}")]
    Rejected(String),
    /// A referenced record does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// Kind of record.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The write conflicts with what is stored (a proposal accepted already or stale, a
    /// campaign phase out of order).
    #[error("{0}")]
    Conflict(String),
    /// The client id was used before for a different submission.
    #[error("client_id {0:?} was already used for a different visit")]
    ClientIdConflict(String),
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Rows per write statement of an import.
pub const IMPORT_CHUNK: usize = 2_000;

/// Progress of a long store operation: (what, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Send + Sync);
