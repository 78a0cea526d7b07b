//! The system of record. One trait, [`Store`], with an embedded SQLite implementation (the
//! default: a file in the data directory) and, next, PostGIS. Every write is one transaction;
//! the caller applies the returned [`StatsDelta`] to the Atlas only after the commit.

pub mod codec;
pub mod postgis;
pub mod sqlite;
pub mod wkb;

use async_trait::async_trait;
use rentgrid_geodata::import::buildings::ImportedBuilding;
use rentgrid_geodata::import::units::ImportedUnit;
use rentgrid_geodata::{AtlasInput, City, StatsDelta, Visit};
use time::Date;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
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
    /// The client id was used before for a different submission.
    #[error("client_id {0:?} was already used for a different visit")]
    ClientIdConflict(String),
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A rental unit found during a visit that the register lacked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    /// Room or flat label, e.g. `3-302`.
    pub label: String,
    /// Tenants found living there.
    pub tenants: u32,
    /// Registered on the spot.
    #[serde(default)]
    pub registered: bool,
    /// Landlord signed the safety pledge on the spot (only for a registered unit).
    #[serde(default)]
    pub pledge_signed: bool,
}

/// A validated visit to record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NewVisit {
    /// Client-generated id: a retry with the same id and content changes nothing.
    pub client_id: String,
    /// Building visited.
    pub building_id: u32,
    /// Caseworker, if recorded.
    pub caseworker_id: Option<u32>,
    /// Day of the visit.
    pub visited_on: Date,
    /// Notes.
    pub notes: String,
    /// Known units of this building registered during the visit.
    pub register_units: Vec<u32>,
    /// Registered units of this building whose landlord signed the pledge.
    pub pledge_units: Vec<u32>,
    /// Known persons of this building registered during the visit.
    pub register_persons: Vec<u32>,
    /// Units found that the register lacked.
    pub new_units: Vec<NewUnit>,
}

/// What recording a visit did.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitOutcome {
    /// The visit as stored.
    pub visit: Visit,
    /// True when this submission had been recorded before: nothing changed.
    pub replayed: bool,
    /// The change to the building's counts (all zero for a replay).
    pub delta: StatsDelta,
}

/// Facts about the data a store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreInfo {
    /// "sqlite" or "postgis".
    pub backend: &'static str,
    /// Where it is (a path, or a URL without password).
    pub location: String,
    /// How the data was made, e.g. `demo seed=20240601 scale=1`.
    pub origin: Option<String>,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    /// Units new to the store.
    pub inserted: u64,
    /// Units already there (same external id), now updated.
    pub updated: u64,
    /// Landlords added (those already known by ID number are reused).
    pub landlords_added: u64,
}

/// Rows per write statement of an import.
pub const IMPORT_CHUNK: usize = 2_000;

/// Progress of a long store operation: (what, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Send + Sync);

/// The system of record.
#[async_trait]
pub trait Store: Send + Sync {
    /// Where and what this store is.
    async fn info(&self) -> Result<StoreInfo>;
    /// True when no district has been saved yet.
    async fn is_empty(&self) -> Result<bool>;
    /// Saves a whole city in one transaction (the store must be empty). `origin` is kept as
    /// metadata.
    async fn save_city(&self, city: &City, origin: &str, progress: Progress<'_>) -> Result<()>;
    /// Reads what the Atlas is built from.
    async fn load_atlas_input(&self) -> Result<AtlasInput>;
    /// Records a visit and its effects in one transaction.
    async fn record_visit(&self, visit: &NewVisit) -> Result<VisitOutcome>;
    /// Writes imported rental units in one transaction: a unit whose external id is already
    /// stored is updated, others are added; landlords are matched by ID number. Either every
    /// unit is written or, on any failure (or the process being killed), none.
    async fn import_units(&self, units: &[ImportedUnit], progress: Progress<'_>) -> Result<ImportCounts>;
    /// Writes imported building footprints in one transaction: a building whose external id is
    /// stored is updated, others are added after the largest id.
    async fn import_buildings(&self, buildings: &[ImportedBuilding], progress: Progress<'_>) -> Result<ImportCounts>;
}
