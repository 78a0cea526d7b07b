//! Imports: a whole city into an empty store, and ledgers, footprints and rental units into a
//! stored one, each in one transaction, keyed by their ledger ids so that importing the same file
//! again updates instead of duplicating. An import's audit row (who, the file's kind, what it
//! wrote) is appended in its transaction.

use crate::audit::AuditEvent;
use crate::backend::Tx;
use crate::sql::Sql;
use crate::{IMPORT_CHUNK, Progress, Result};
use async_trait::async_trait;
use rentgrid_geodata::City;
use rentgrid_geodata::import::boundaries::ImportedBoundaries;
use rentgrid_geodata::import::buildings::ImportedBuilding;
use rentgrid_geodata::import::caseworkers::ImportedCaseworker;
use rentgrid_geodata::import::grids::ImportedGrid;
use rentgrid_geodata::import::persons::ImportedPerson;
use rentgrid_geodata::import::units::ImportedUnit;
use rentgrid_geodata::import::visits::ImportedVisit;
use rentgrid_geodata::import::workplaces::ImportedWorkplace;
use std::collections::HashSet;

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

/// A person of the person ledger, placed in a stored rental unit: what the store writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    /// The person as the ledger gives them; their normalised ID number is the key.
    pub person: ImportedPerson,
    /// The rental unit.
    pub unit_id: u32,
    /// Its building.
    pub building_id: u32,
    /// Household card number within the unit (the unit's 编号 when the ledger gives none).
    pub card_no: String,
    /// Employer.
    pub workplace_id: Option<u32>,
}

/// Checked records of a ledger import, for [`Store::import_ledger`].
#[derive(Debug, Clone, Copy)]
pub enum LedgerRows<'a> {
    /// District, streets, communities: each code already stored is updated, others added; fails
    /// if the store's district has another code.
    Boundaries(&'a ImportedBoundaries),
    /// Grids: a code already stored is updated, others are added after the largest id.
    Grids(&'a [ImportedGrid]),
    /// Persons, creating their households: an ID number already stored is updated.
    Persons(&'a [PersonRow]),
    /// Caseworkers, replacing their contracted grids: a 工号 already stored is updated.
    Caseworkers(&'a [ImportedCaseworker]),
    /// Workplaces: a 单位编号 already stored is updated.
    Workplaces(&'a [ImportedWorkplace]),
    /// Visits: a 走访编号 (client id) already stored is updated.
    Visits(&'a [VisitRow]),
}

/// A visit of the visit log with its caseworker resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRow {
    /// The visit as the ledger gives it.
    pub visit: ImportedVisit,
    /// Its caseworker.
    pub caseworker_id: Option<u32>,
}

/// Tables whose ledger keys an import resolves: key → (id, parent id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyed {
    /// Rental units by 编号 → (unit id, building id).
    RentalUnits,
    /// Workplaces by 单位编号 → (id, 0).
    Workplaces,
    /// Caseworkers by 工号 → (id, 0).
    Caseworkers,
}

impl Keyed {
    /// The query, the same on both backends: rows of (key, id, parent).
    pub fn sql(self) -> &'static str {
        match self {
            Keyed::RentalUnits => {
                "SELECT COALESCE(external_id, CAST(id AS TEXT)) AS k, id, building_id AS parent FROM rental_units"
            }
            Keyed::Workplaces => "SELECT COALESCE(external_id, CAST(id AS TEXT)) AS k, id, 0 AS parent FROM workplaces",
            Keyed::Caseworkers => {
                "SELECT COALESCE(external_id, CAST(id AS TEXT)) AS k, id, 0 AS parent FROM caseworkers"
            }
        }
    }
}

/// Ledger keys of one table: key → (id, parent id).
pub type Keys = std::collections::HashMap<String, (u32, u32)>;

/// Writes of whole files.
#[async_trait]
pub trait Imports: Send + Sync {
    /// Saves a whole city in one transaction (the store must be empty). `origin` is kept as
    /// metadata.
    async fn save_city(&self, city: &City, origin: &str, progress: Progress<'_>) -> Result<()>;
    /// Writes imported rental units in one transaction: a unit whose external id is already
    /// stored is updated, others are added; landlords are matched by ID number. Either every
    /// unit is written or, on any failure (or the process being killed), none. Each import
    /// appends `event`, naming what it wrote, to the audit log in its transaction.
    async fn import_units(
        &self,
        units: &[ImportedUnit],
        event: &AuditEvent,
        progress: Progress<'_>,
    ) -> Result<ImportCounts>;
    /// Writes imported building footprints in one transaction: a building whose external id is
    /// stored is updated, others are added after the largest id.
    async fn import_buildings(
        &self,
        buildings: &[ImportedBuilding],
        event: &AuditEvent,
        progress: Progress<'_>,
    ) -> Result<ImportCounts>;
    /// Writes the rows of a ledger import in one transaction (see [`LedgerRows`] for how each
    /// kind is keyed).
    async fn import_ledger(
        &self,
        rows: LedgerRows<'_>,
        event: &AuditEvent,
        progress: Progress<'_>,
    ) -> Result<ImportCounts>;
    /// The ledger keys of a table, for resolving an import's references.
    async fn keys(&self, of: Keyed) -> Result<Keys>;
}

/// The stored values among `keys` of `column` in `table`, read in chunks.
pub(crate) async fn stored_keys<'a>(
    tx: &mut Tx<'_>,
    table: &str,
    column: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Result<HashSet<String>> {
    let keys: Vec<&str> = keys.collect();
    let mut found = HashSet::new();
    for chunk in keys.chunks(IMPORT_CHUNK) {
        let q = Sql::new(format!("SELECT {column} AS k FROM {table} WHERE {column} IN ")).list(chunk.iter().copied());
        for r in tx.fetch(q).await? {
            found.insert(r.text("k")?);
        }
    }
    Ok(found)
}

/// The next id after the largest of `table`.
pub(crate) async fn next_id(tx: &mut Tx<'_>, table: &str) -> Result<i64> {
    tx.fetch_one(Sql::new(format!("SELECT COALESCE(MAX(id), -1) + 1 AS n FROM {table}"))).await?.int("n")
}
