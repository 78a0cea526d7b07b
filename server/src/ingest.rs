//! One import pipeline for the CLI (`rentgrid import`) and the API (`POST /api/imports/{kind}`):
//! read the file, check every row against the Atlas and, where a row names a stored record (a
//! person's rental unit, a visit's caseworker), against the store's ledger keys; then write the
//! good rows in one transaction.
//!
//! A new district arrives in this order: `boundaries` (the district outline, streets and
//! communities), `grids`, `buildings`, `workplaces`, `units`, `persons`, `caseworkers`, `visits`.

use crate::store::audit::AuditEvent;
use crate::store::{ImportCounts, Keyed, Keys, LedgerRows, PersonRow, Progress, Store, StoreError, VisitRow};
use rentgrid_geodata::Atlas;
use rentgrid_geodata::crs::Crs;
use rentgrid_geodata::import::boundaries::{self, ImportedBoundaries};
use rentgrid_geodata::import::buildings::{self, ImportedBuilding};
use rentgrid_geodata::import::caseworkers::{self, ImportedCaseworker};
use rentgrid_geodata::import::grids::{self, ImportedGrid};
use rentgrid_geodata::import::table::{self, Encoding, Table};
use rentgrid_geodata::import::units::{self, ImportedUnit};
use rentgrid_geodata::import::workplaces::{self, ImportedWorkplace};
use rentgrid_geodata::import::{Column, Mapping, RowError, persons, visits};
use std::collections::BTreeSet;
use time::Date;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The district, its streets and communities (GeoJSON).
    Boundaries,
    /// Grids (GeoJSON).
    Grids,
    /// Building footprints (GeoJSON).
    Buildings,
    /// 出租房屋台帐 (CSV, XLSX).
    Units,
    /// 流动人口台帐 (CSV, XLSX).
    Persons,
    /// 综管员花名册 (CSV, XLSX).
    Caseworkers,
    /// 单位台帐 (CSV, XLSX).
    Workplaces,
    /// 走访记录 (CSV, XLSX).
    Visits,
}

impl Kind {
    /// Every kind, in the order a new district is imported.
    pub const ALL: [Kind; 8] = [
        Kind::Boundaries,
        Kind::Grids,
        Kind::Buildings,
        Kind::Workplaces,
        Kind::Units,
        Kind::Persons,
        Kind::Caseworkers,
        Kind::Visits,
    ];

    /// The name used on the command line and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Boundaries => "boundaries",
            Kind::Grids => "grids",
            Kind::Buildings => "buildings",
            Kind::Units => "units",
            Kind::Persons => "persons",
            Kind::Caseworkers => "caseworkers",
            Kind::Workplaces => "workplaces",
            Kind::Visits => "visits",
        }
    }

    /// What its records are called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Boundaries => "boundaries",
            Kind::Grids => "grids",
            Kind::Buildings => "buildings",
            Kind::Units => "rental units",
            Kind::Persons => "persons",
            Kind::Caseworkers => "caseworkers",
            Kind::Workplaces => "workplaces",
            Kind::Visits => "visits",
        }
    }

    /// True for GeoJSON files (problems are numbered by feature), false for ledgers (by row).
    pub fn is_geojson(self) -> bool {
        matches!(self, Kind::Boundaries | Kind::Grids | Kind::Buildings)
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown import {s:?}: use {}", names.join(", "))
        })
    }
}

/// How to read a file.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Text encoding of a CSV ledger (detected when `None`).
    pub encoding: Option<Encoding>,
    /// Coordinate system of coordinates and geometries.
    pub crs: Crs,
    /// Today: dates after it are refused.
    pub today: Date,
}

/// Checked records ready to write.
#[derive(Debug, Clone)]
pub enum Batch {
    /// District, streets, communities.
    Boundaries(ImportedBoundaries),
    /// Grids.
    Grids(Vec<ImportedGrid>),
    /// Buildings.
    Buildings(Vec<ImportedBuilding>),
    /// Rental units.
    Units(Vec<ImportedUnit>),
    /// Persons placed in stored units.
    Persons(Vec<PersonRow>),
    /// Caseworkers.
    Caseworkers(Vec<ImportedCaseworker>),
    /// Workplaces.
    Workplaces(Vec<ImportedWorkplace>),
    /// Visits with their caseworkers.
    Visits(Vec<VisitRow>),
}

impl Batch {
    /// Records in it.
    pub fn len(&self) -> usize {
        match self {
            Batch::Boundaries(b) => usize::from(b.district.is_some()) + b.streets.len() + b.communities.len(),
            Batch::Grids(v) => v.len(),
            Batch::Buildings(v) => v.len(),
            Batch::Units(v) => v.len(),
            Batch::Persons(v) => v.len(),
            Batch::Caseworkers(v) => v.len(),
            Batch::Workplaces(v) => v.len(),
            Batch::Visits(v) => v.len(),
        }
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The outcome of checking a file.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The good records.
    pub batch: Batch,
    /// Every problem, sorted by row (or feature).
    pub errors: Vec<RowError>,
    /// Rows (features) with at least one problem.
    pub bad: usize,
    /// Rows (features) read.
    pub total: usize,
    /// Headers that match no column.
    pub ignored_columns: Vec<String>,
    /// The encoding a ledger was read in.
    pub encoding: Option<Encoding>,
}

/// Why a file could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file cannot be read as this kind (not a workbook, no FeatureCollection, missing
    /// columns…).
    #[error("{0}")]
    File(String),
    /// The store has no district yet and the file is not the boundaries.
    #[error(
        "the store holds no district yet: import its boundaries first (rentgrid import boundaries FILE.geojson), \
         then grids and buildings"
    )]
    NoDistrict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn file_err(e: impl std::fmt::Display) -> IngestError {
    IngestError::File(e.to_string())
}

/// The header a file gives the column `name` of `columns`, or `name`.
fn header_of(columns: &[Column], name: &str, headers: &[String]) -> String {
    columns
        .iter()
        .find(|c| c.name == name)
        .map(|c| Mapping::new(std::slice::from_ref(c), headers).header(0, name))
        .unwrap_or_else(|| name.to_string())
}

fn count_bad(errors: &mut [RowError]) -> usize {
    errors.sort_by_key(|e| e.row);
    errors.iter().map(|e| e.row).collect::<BTreeSet<_>>().len()
}

/// Reads and checks `bytes` as `kind`. `atlas` is the store's current Atlas (`None` when the
/// store is empty: then only boundaries can be imported).
pub async fn check(
    kind: Kind,
    bytes: &[u8],
    opts: &Options,
    store: &dyn Store,
    atlas: Option<&Atlas>,
) -> Result<Checked, IngestError> {
    let need = || atlas.ok_or(IngestError::NoDistrict);
    let geo = |batch: Batch, mut errors: Vec<RowError>| {
        let bad = count_bad(&mut errors);
        let total = batch.len() + bad;
        Checked { batch, errors, bad, total, ignored_columns: vec![], encoding: None }
    };
    match kind {
        Kind::Boundaries => {
            let (b, errors) = boundaries::parse(bytes, opts.crs, atlas).map_err(file_err)?;
            return Ok(geo(Batch::Boundaries(b), errors));
        }
        Kind::Grids => {
            let (g, errors) = grids::parse(bytes, opts.crs, need()?).map_err(file_err)?;
            return Ok(geo(Batch::Grids(g), errors));
        }
        Kind::Buildings => {
            let (b, errors) = buildings::parse(bytes, opts.crs, need()?).map_err(file_err)?;
            return Ok(geo(Batch::Buildings(b), errors));
        }
        _ => {}
    }
    let atlas = need()?;
    let table = table::read_ledger(bytes, opts.encoding).map_err(file_err)?;
    let (batch, mut errors, ignored_columns) = match kind {
        Kind::Units => {
            let parsed = units::parse(&table, opts.crs, opts.today).map_err(file_err)?;
            let (good, more) = units::resolve(parsed.records, atlas, &table.headers);
            (Batch::Units(good), [parsed.errors, more].concat(), parsed.ignored_columns)
        }
        Kind::Persons => {
            let parsed = persons::parse(&table, opts.today).map_err(file_err)?;
            let (good, more) = place_persons(parsed.records, store, &table).await?;
            (Batch::Persons(good), [parsed.errors, more].concat(), parsed.ignored_columns)
        }
        Kind::Caseworkers => {
            let parsed = caseworkers::parse(&table, atlas).map_err(file_err)?;
            (Batch::Caseworkers(parsed.records), parsed.errors, parsed.ignored_columns)
        }
        Kind::Workplaces => {
            let parsed = workplaces::parse(&table, opts.crs, atlas).map_err(file_err)?;
            (Batch::Workplaces(parsed.records), parsed.errors, parsed.ignored_columns)
        }
        Kind::Visits => {
            let parsed = visits::parse(&table, opts.today, atlas).map_err(file_err)?;
            let (good, more) = link_caseworkers(parsed.records, store, &table).await?;
            (Batch::Visits(good), [parsed.errors, more].concat(), parsed.ignored_columns)
        }
        Kind::Boundaries | Kind::Grids | Kind::Buildings => unreachable_geojson(kind)?,
    };
    let bad = count_bad(&mut errors);
    Ok(Checked { batch, errors, bad, total: table.rows.len(), ignored_columns, encoding: Some(table.encoding) })
}

fn unreachable_geojson(kind: Kind) -> Result<(Batch, Vec<RowError>, Vec<String>), IngestError> {
    Err(IngestError::File(format!("{} are read from GeoJSON", kind.noun())))
}

/// Places persons in stored rental units (by 出租房屋编号) and links their workplaces.
async fn place_persons(
    records: Vec<persons::ImportedPerson>,
    store: &dyn Store,
    table: &Table,
) -> Result<(Vec<PersonRow>, Vec<RowError>), IngestError> {
    let units = store.keys(Keyed::RentalUnits).await?;
    let workplaces: Keys =
        if records.iter().any(|p| p.workplace.is_some()) { store.keys(Keyed::Workplaces).await? } else { Keys::new() };
    let mut good = Vec::with_capacity(records.len());
    let mut errors = Vec::new();
    for p in records {
        let Some(&(unit_id, building_id)) = units.get(&p.unit) else {
            errors.push(RowError {
                row: p.row,
                column: Some(header_of(persons::COLUMNS, "unit", &table.headers)),
                reason: format!("rental unit {:?} is not in the register: import the rental-unit ledger first", p.unit),
            });
            continue;
        };
        let workplace_id = match &p.workplace {
            None => None,
            Some(w) => match workplaces.get(w) {
                Some(&(id, _)) => Some(id),
                None => {
                    errors.push(RowError {
                        row: p.row,
                        column: Some(header_of(persons::COLUMNS, "workplace", &table.headers)),
                        reason: format!("workplace {w:?} is not in the register: import the workplace ledger first"),
                    });
                    continue;
                }
            },
        };
        let card_no = if p.household.is_empty() { p.unit.clone() } else { p.household.clone() };
        good.push(PersonRow { person: p, unit_id, building_id, card_no, workplace_id });
    }
    Ok((good, errors))
}

/// Links visits to stored caseworkers (by 工号).
async fn link_caseworkers(
    records: Vec<visits::ImportedVisit>,
    store: &dyn Store,
    table: &Table,
) -> Result<(Vec<VisitRow>, Vec<RowError>), IngestError> {
    let caseworkers: Keys = if records.iter().any(|v| v.caseworker.is_some()) {
        store.keys(Keyed::Caseworkers).await?
    } else {
        Keys::new()
    };
    let mut good = Vec::with_capacity(records.len());
    let mut errors = Vec::new();
    for v in records {
        let caseworker_id = match &v.caseworker {
            None => None,
            Some(c) => match caseworkers.get(c) {
                Some(&(id, _)) => Some(id),
                None => {
                    errors.push(RowError {
                        row: v.row,
                        column: Some(header_of(visits::COLUMNS, "caseworker", &table.headers)),
                        reason: format!("caseworker {c:?} is not in the register: import the caseworker roster first"),
                    });
                    continue;
                }
            },
        };
        good.push(VisitRow { visit: v, caseworker_id });
    }
    Ok((good, errors))
}

/// Writes a checked batch in one transaction with its audit row: `event` (who imports, from
/// where, which kind) naming what was written.
pub async fn write(
    store: &dyn Store,
    batch: &Batch,
    event: &AuditEvent,
    progress: Progress<'_>,
) -> Result<ImportCounts, StoreError> {
    let rows = match batch {
        Batch::Buildings(v) => return store.import_buildings(v, event, progress).await,
        Batch::Units(v) => return store.import_units(v, event, progress).await,
        Batch::Boundaries(b) => LedgerRows::Boundaries(b),
        Batch::Grids(v) => LedgerRows::Grids(v),
        Batch::Persons(v) => LedgerRows::Persons(v),
        Batch::Caseworkers(v) => LedgerRows::Caseworkers(v),
        Batch::Workplaces(v) => LedgerRows::Workplaces(v),
        Batch::Visits(v) => LedgerRows::Visits(v),
    };
    store.import_ledger(rows, event, progress).await
}
