//! The system of record. One trait, [`Store`], with an embedded SQLite implementation (the
//! default: a file in the data directory) and, next, PostGIS. Every write is one transaction;
//! the caller applies the returned [`StatsDelta`] to the Atlas only after the commit.

pub mod campaigns;
pub mod codec;
pub mod contracts;
pub mod dates;
mod imports;
mod ledgers;
pub mod names;
pub mod postgis;
pub mod sqlite;
#[cfg(feature = "postgis")]
pub mod testing;
pub mod wkb;

use async_trait::async_trait;
use rentgrid_geodata::import::boundaries::ImportedBoundaries;
use rentgrid_geodata::import::buildings::ImportedBuilding;
use rentgrid_geodata::import::caseworkers::ImportedCaseworker;
use rentgrid_geodata::import::grids::ImportedGrid;
use rentgrid_geodata::import::persons::ImportedPerson;
use rentgrid_geodata::import::units::ImportedUnit;
use rentgrid_geodata::import::visits::ImportedVisit;
use rentgrid_geodata::import::workplaces::ImportedWorkplace;
use rentgrid_geodata::{AtlasInput, Caseworker, City, Month, MonthlyRegistrations, StatsDelta, Visit};
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
    /// The sweep campaign the visit belongs to (left out of the stored request when `None`, so
    /// submissions from before campaigns replay unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u32>,
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
    /// For a campaign visit, its block's phase after it (`None` for a replay).
    pub campaign_block: Option<rentgrid_analysis::sweep::BlockProgress>,
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

/// A ledger the store can write out whole (the CLI's full export).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ledger {
    /// 出租房屋台帐.
    Units,
    /// 流动人口台帐.
    Persons,
    /// 综管员花名册: one row per (caseworker, grid); the exporter joins the grids.
    Caseworkers,
    /// 单位台帐.
    Workplaces,
    /// 走访记录.
    Visits,
}

/// A cell read from the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// Whole number.
    Int(i64),
    /// Real number (exact: the shortest text that reads back the same).
    Num(f64),
    /// NULL.
    Null,
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
    /// Writes the rows of a ledger import in one transaction (see [`LedgerRows`] for how each
    /// kind is keyed).
    async fn import_ledger(&self, rows: LedgerRows<'_>, progress: Progress<'_>) -> Result<ImportCounts>;
    /// The ledger keys of a table, for resolving an import's references.
    async fn keys(&self, of: Keyed) -> Result<Keys>;
    /// A whole ledger, in the columns of [`ledger_sql`], ordered by id.
    async fn ledger(&self, which: Ledger) -> Result<Vec<Vec<Cell>>>;
    /// Registrations with a date, counted per building and month: the monthly history's source.
    async fn monthly_registrations(&self) -> Result<Vec<MonthlyRegistrations>>;
    /// Caseworkers by id, each with their contracted grids (包干网格) ascending.
    async fn caseworkers(&self) -> Result<Vec<Caseworker>>;
    /// What a month's assessment reads: registrations dated in it, its visits and spot checks.
    async fn month_activity(&self, month: Month) -> Result<contracts::MonthActivity>;
    /// Stores a territory proposal; returns its id.
    async fn save_proposal(&self, proposal: &contracts::NewProposal) -> Result<i64>;
    /// A stored territory proposal.
    async fn proposal(&self, id: i64) -> Result<Option<contracts::StoredProposal>>;
    /// Accepts a proposal in one transaction: marks it accepted (once: else [`StoreError::Conflict`]),
    /// checks that the contracts it started from are unchanged (else [`StoreError::Conflict`]),
    /// replaces them with its own and appends the audit row.
    async fn accept_proposal(&self, id: i64, acceptance: &contracts::Acceptance) -> Result<contracts::Accepted>;
    /// The records the candidate estimate reads besides the Atlas, and the roster.
    async fn evidence(&self) -> Result<campaigns::StoredEvidence>;
    /// Stores a planned campaign with its blocks and their buildings in one transaction.
    async fn create_campaign(&self, c: &campaigns::NewCampaign) -> Result<u32>;
    /// Campaigns with their blocks' progress: all, or only the one with id `only`.
    async fn campaigns(&self, only: Option<u32>) -> Result<Vec<campaigns::StoredCampaign>>;
    /// Moves a block of a campaign to `to`, which must be its next phase, atomically.
    async fn advance_block(
        &self,
        campaign: u32,
        block: u32,
        to: rentgrid_analysis::sweep::Phase,
    ) -> Result<rentgrid_analysis::sweep::BlockProgress>;
}

/// The queries of [`Store::monthly_registrations`], the same on both backends but for `month`,
/// the backend's expression of a date column's `YYYY-MM`: persons (building, month, n, permit,
/// consistent), then rental units (building, month, n, pledged).
pub fn monthly_registrations_sql(month: impl Fn(&str) -> String) -> [String; 2] {
    [
        format!(
            "SELECT CAST(building_id AS BIGINT) AS building_id, {m} AS month, CAST(COUNT(*) AS BIGINT) AS n, \
             CAST(SUM(CASE WHEN permit THEN 1 ELSE 0 END) AS BIGINT) AS a, \
             CAST(SUM(CASE WHEN consistent THEN 1 ELSE 0 END) AS BIGINT) AS b \
             FROM persons WHERE registered AND registered_on IS NOT NULL GROUP BY building_id, {m}",
            m = month("registered_on")
        ),
        format!(
            "SELECT CAST(building_id AS BIGINT) AS building_id, {m} AS month, CAST(COUNT(*) AS BIGINT) AS n, \
             CAST(SUM(CASE WHEN pledge_signed THEN 1 ELSE 0 END) AS BIGINT) AS a, CAST(0 AS BIGINT) AS b \
             FROM rental_units WHERE registered AND registered_on IS NOT NULL GROUP BY building_id, {m}",
            m = month("registered_on")
        ),
    ]
}

/// Merges the rows of [`monthly_registrations_sql`] — (building, `YYYY-MM`, n, a, b) of persons,
/// then of rental units — into one record per building and month.
pub fn merge_monthly_registrations(
    persons: Vec<(i64, String, i64, i64, i64)>,
    units: Vec<(i64, String, i64, i64, i64)>,
) -> Result<Vec<MonthlyRegistrations>> {
    use std::collections::BTreeMap;
    let mut out: BTreeMap<(u32, rentgrid_geodata::Month), MonthlyRegistrations> = BTreeMap::new();
    let num = |v: i64, what: &str| {
        u32::try_from(v).map_err(|_| StoreError::Corrupt {
            what: "registration count",
            id: what.to_string(),
            reason: format!("{v} is out of range"),
        })
    };
    for (is_person, rows) in [(true, persons), (false, units)] {
        for (building, month, n, a, b) in rows {
            let building_id = num(building, "building_id")?;
            let month: rentgrid_geodata::Month = month.parse().map_err(|reason| StoreError::Corrupt {
                what: "registration date",
                id: building.to_string(),
                reason,
            })?;
            let r = out.entry((building_id, month)).or_insert(MonthlyRegistrations::none(building_id, month));
            if is_person {
                r.persons += num(n, "persons")?;
                r.persons_with_permit += num(a, "permit")?;
                r.persons_consistent += num(b, "consistent")?;
            } else {
                r.rental_units += num(n, "rental_units")?;
                r.pledges_signed += num(a, "pledges")?;
            }
        }
    }
    Ok(out.into_values().collect())
}

/// The query that reads a ledger in the columns its importer reads. `xy` gives the workplace
/// longitude and latitude expressions of the backend.
pub fn ledger_sql(which: Ledger, xy: (&str, &str)) -> String {
    match which {
        Ledger::Units => "SELECT COALESCE(u.external_id, CAST(u.id AS TEXT)), COALESCE(b.external_id, CAST(b.id AS TEXT)), \
             u.label, l.name, l.id_number, l.phone, CASE WHEN u.registered THEN '是' ELSE '否' END, \
             CASE WHEN u.registered THEN u.registered_on END, \
             CASE WHEN u.registered AND u.pledge_signed THEN '是' ELSE '否' END, u.tenants, u.mode, \
             CASE WHEN u.concentrated THEN '是' ELSE '否' END \
             FROM rental_units u JOIN buildings b ON b.id = u.building_id \
             LEFT JOIN landlords l ON l.id = u.landlord_id ORDER BY u.id"
            .into(),
        Ledger::Persons => "SELECT COALESCE(u.external_id, CAST(u.id AS TEXT)), h.card_no, p.name, p.id_number, p.phone, \
             CASE WHEN p.registered THEN '是' ELSE '否' END, CASE WHEN p.registered THEN p.registered_on END, \
             CASE WHEN p.registered AND p.permit THEN '是' ELSE '否' END, \
             CASE WHEN p.registered AND p.consistent THEN '是' ELSE '否' END, \
             COALESCE(w.external_id, CAST(w.id AS TEXT)) \
             FROM persons p JOIN households h ON h.id = p.household_id \
             JOIN rental_units u ON u.id = h.rental_unit_id LEFT JOIN workplaces w ON w.id = p.workplace_id ORDER BY p.id"
            .into(),
        Ledger::Caseworkers => "SELECT COALESCE(c.external_id, CAST(c.id AS TEXT)), c.name, c.street_code, g.code \
             FROM caseworkers c LEFT JOIN caseworker_grids cg ON cg.caseworker_id = c.id \
             LEFT JOIN grids g ON g.id = cg.grid_id ORDER BY c.id, g.id"
            .into(),
        Ledger::Workplaces => format!(
            "SELECT COALESCE(w.external_id, CAST(w.id AS TEXT)), w.name, b.external_id, {}, {}, w.employees, \
             w.migrant_workers, CASE WHEN w.responsibility_signed THEN '是' ELSE '否' END, w.contracts_signed, w.insured \
             FROM workplaces w LEFT JOIN buildings b ON b.id = w.building_id ORDER BY w.id",
            xy.0, xy.1
        ),
        Ledger::Visits => "SELECT v.client_id, COALESCE(b.external_id, CAST(b.id AS TEXT)), \
             COALESCE(c.external_id, CAST(c.id AS TEXT)), v.visited_on, v.units_registered, v.pledges_signed, \
             v.units_found, v.persons_found, v.notes \
             FROM visits v JOIN buildings b ON b.id = v.building_id LEFT JOIN caseworkers c ON c.id = v.caseworker_id \
             ORDER BY v.id"
            .into(),
    }
}
