//! The writes of imports: a whole city, building footprints, rental units with their landlords,
//! and the ledgers (through [`crate::ledgers`]), each in one transaction, after which the query
//! planner's statistics are refreshed (where the backend plans from them).

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::changes::{self, Change};
use crate::imports::{ImportCounts, Imports, Keyed, Keys, LedgerRows, next_id, stored_keys};
use crate::sql::{Bulk, Sql};
use crate::value::Value;
use crate::{IMPORT_CHUNK, Progress, Result, SqlStore};
use async_trait::async_trait;
use rentgrid_geodata::City;
use rentgrid_geodata::import::buildings::ImportedBuilding;
use rentgrid_geodata::import::units::{ImportedUnit, LandlordRecord};
use std::collections::{HashMap, HashSet};

#[async_trait]
impl<B: Backend> Imports for SqlStore<B> {
    async fn save_city(&self, city: &City, origin: &str, progress: Progress<'_>) -> Result<()> {
        let mut tx = Tx::begin(&self.db).await?;
        crate::seed::save_city(&mut tx, city, origin, progress).await?;
        tx.commit().await?;
        self.refresh_statistics().await;
        Ok(())
    }

    async fn import_units(
        &self,
        units: &[ImportedUnit],
        event: &AuditEvent,
        progress: Progress<'_>,
    ) -> Result<ImportCounts> {
        let mut tx = audit::begin(&self.db).await?;
        let counts = import_units(&mut tx, units, progress).await?;
        self.audited(tx, event, counts).await
    }

    async fn import_buildings(
        &self,
        buildings: &[ImportedBuilding],
        event: &AuditEvent,
        progress: Progress<'_>,
    ) -> Result<ImportCounts> {
        let mut tx = audit::begin(&self.db).await?;
        let counts = import_buildings(&mut tx, buildings, progress).await?;
        self.audited(tx, event, counts).await
    }

    async fn import_ledger(
        &self,
        rows: LedgerRows<'_>,
        event: &AuditEvent,
        progress: Progress<'_>,
    ) -> Result<ImportCounts> {
        let mut tx = audit::begin(&self.db).await?;
        let counts = crate::ledgers::write(&mut tx, rows, progress).await?;
        self.audited(tx, event, counts).await
    }

    async fn keys(&self, of: Keyed) -> Result<Keys> {
        self.db
            .fetch(Sql::new(of.sql()))
            .await?
            .iter()
            .map(|r| Ok((r.text("k")?, (r.u32("id")?, r.u32("parent")?))))
            .collect()
    }
}

impl<B: Backend> SqlStore<B> {
    /// Appends the audit row of an import that wrote `counts` (in `tx`, begun by
    /// [`audit::begin`]), records that servers load everything again, commits, and refreshes the
    /// planner's statistics.
    async fn audited(&self, mut tx: Tx<'_>, event: &AuditEvent, counts: ImportCounts) -> Result<ImportCounts> {
        let mut wrote = format!("{} new, {} updated", counts.inserted, counts.updated);
        if counts.landlords_added > 0 {
            wrote.push_str(&format!(", {} landlords added", counts.landlords_added));
        }
        let row = audit::append(&mut tx, &event.clone().naming(wrote)).await?;
        changes::record(&mut tx, &row, &Change::Reload).await?;
        tx.commit().await?;
        self.refresh_statistics().await;
        Ok(counts)
    }

    /// Refreshes the query planner's statistics after a committed import (where the backend
    /// plans from them). The import stands whatever happens here: a failure is logged.
    async fn refresh_statistics(&self) {
        let Some(q) = self.db.analyze() else { return };
        let started = std::time::Instant::now();
        match self.db.fetch(q).await {
            Ok(_) => tracing::info!(ms = started.elapsed().as_millis() as u64, "planner statistics refreshed"),
            Err(e) => tracing::warn!(error = %e, "the planner's statistics could not be refreshed after an import"),
        }
    }
}

/// The values of a building as the columns of [`BUILDING_COLUMNS`] after `id`/`external_id`.
fn building_values(b: &ImportedBuilding) -> Vec<Value> {
    vec![
        b.grid_id.into(),
        b.kind.as_str().into(),
        (&b.address).into(),
        b.floors.into(),
        b.dwellings.into(),
        b.utility_accounts.into(),
        geo::Geometry::from(b.point).into(),
        geo::Geometry::from(b.footprint.clone()).into(),
    ]
}

const BUILDING_COLUMNS: [&str; 10] = [
    "id",
    "external_id",
    "grid_id",
    "kind",
    "address",
    "floors",
    "dwellings",
    "utility_accounts",
    "point",
    "footprint",
];

async fn import_buildings(
    tx: &mut Tx<'_>,
    buildings: &[ImportedBuilding],
    progress: Progress<'_>,
) -> Result<ImportCounts> {
    tx.lock_tables("buildings").await?;
    let existing =
        stored_keys(tx, "buildings", "external_id", buildings.iter().map(|b| b.external_id.as_str())).await?;
    let (old, new): (Vec<&ImportedBuilding>, Vec<&ImportedBuilding>) =
        buildings.iter().partition(|b| existing.contains(&b.external_id));
    let next = next_id(tx, "buildings").await?;
    let new: Vec<(i64, &ImportedBuilding)> = new.into_iter().enumerate().map(|(i, b)| (next + i as i64, b)).collect();
    let bulk = Bulk { table: "buildings", columns: &BUILDING_COLUMNS, tail: "" };
    let values = |&(id, b): &(i64, &ImportedBuilding)| {
        let mut row = vec![Value::from(id), (&b.external_id).into()];
        row.extend(building_values(b));
        row
    };
    tx.bulk(&bulk, &new, &values, "new buildings", progress).await?;
    let total = old.len() as u64;
    progress("updated buildings", 0, total);
    let mut done = 0;
    for chunk in old.chunks(IMPORT_CHUNK) {
        let rows = chunk.iter().map(|b| {
            let mut row = vec![Value::from(&b.external_id)];
            row.extend(building_values(b));
            row
        });
        let q = Sql::new(
            "UPDATE buildings SET grid_id = v.column2, kind = v.column3, address = v.column4, floors = v.column5, \
             dwellings = v.column6, utility_accounts = v.column7, point = v.column8, footprint = v.column9 FROM (",
        )
        .values(rows)
        .push(") AS v WHERE buildings.external_id = v.column1");
        tx.execute(q).await?;
        done += chunk.len() as u64;
        progress("updated buildings", done, total);
    }
    Ok(ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 })
}

async fn import_units(tx: &mut Tx<'_>, units: &[ImportedUnit], progress: Progress<'_>) -> Result<ImportCounts> {
    // One import at a time: landlord ids are allocated after the largest.
    tx.lock_tables("landlords, rental_units").await?;
    let numbers: HashSet<&str> = units
        .iter()
        .filter_map(|u| u.unit.landlord.as_ref().map(|l| l.id_number.as_str()).filter(|n| !n.is_empty()))
        .collect();
    let numbers: Vec<&str> = numbers.into_iter().collect();
    let mut known: HashMap<String, i64> = HashMap::new();
    for chunk in numbers.chunks(IMPORT_CHUNK) {
        let q = Sql::new("SELECT id, id_number FROM landlords WHERE id_number IN ").list(chunk.iter().copied());
        for r in tx.fetch(q).await? {
            known.entry(r.text("id_number")?).or_insert(r.int("id")?);
        }
    }
    let next = next_id(tx, "landlords").await?;
    let (landlord_ids, new_landlords) = assign_landlords(units, &mut known, next);
    let bulk = Bulk { table: "landlords", columns: &["id", "name", "id_number", "phone"], tail: "" };
    let values = |(id, l): &(i64, &LandlordRecord)| {
        vec![(*id).into(), (&l.name).into(), (&l.id_number).into(), (&l.phone).into()]
    };
    tx.bulk(&bulk, &new_landlords, &values, "landlords", progress).await?;
    let existing = stored_keys(tx, "rental_units", "external_id", units.iter().map(|u| u.external_id.as_str())).await?;
    let bulk = Bulk {
        table: "rental_units",
        columns: &[
            "external_id",
            "building_id",
            "landlord_id",
            "label",
            "registered",
            "registered_on",
            "pledge_signed",
            "tenants",
            "mode",
            "concentrated",
        ],
        tail: UPSERT_UNIT,
    };
    let rows: Vec<(&ImportedUnit, Option<i64>)> = units.iter().zip(landlord_ids).collect();
    let values = |&(u, landlord): &(&ImportedUnit, Option<i64>)| {
        vec![
            (&u.external_id).into(),
            u.building_id.into(),
            landlord.into(),
            (&u.unit.label).into(),
            u.unit.registered.into(),
            u.unit.registered_on.into(),
            u.unit.pledge_signed.into(),
            u.unit.tenants.into(),
            u.unit.mode.as_str().into(),
            u.unit.concentrated.into(),
        ]
    };
    tx.bulk(&bulk, &rows, &values, "rental units", progress).await?;
    let updated = units.iter().filter(|u| existing.contains(&u.external_id)).count() as u64;
    Ok(ImportCounts { inserted: units.len() as u64 - updated, updated, landlords_added: new_landlords.len() as u64 })
}

/// Landlord ids for imported units: known ID numbers reuse their landlord, the rest get new
/// ids after the largest. Returns the id per unit and the landlords to insert.
fn assign_landlords<'a>(
    units: &'a [ImportedUnit],
    known: &mut HashMap<String, i64>,
    mut next: i64,
) -> (Vec<Option<i64>>, Vec<(i64, &'a LandlordRecord)>) {
    let mut new = Vec::new();
    let ids = units
        .iter()
        .map(|u| {
            let l = u.unit.landlord.as_ref()?;
            if let Some(&id) = known.get(&l.id_number).filter(|_| !l.id_number.is_empty()) {
                return Some(id);
            }
            let id = next;
            next += 1;
            if !l.id_number.is_empty() {
                known.insert(l.id_number.clone(), id);
            }
            new.push((id, l));
            Some(id)
        })
        .collect();
    (ids, new)
}

/// The `ON CONFLICT` clause of an import: the ledger's row replaces the stored unit.
const UPSERT_UNIT: &str = " ON CONFLICT (external_id) DO UPDATE SET building_id = excluded.building_id, \
    landlord_id = excluded.landlord_id, label = excluded.label, registered = excluded.registered, \
    registered_on = excluded.registered_on, pledge_signed = excluded.pledge_signed, tenants = excluded.tenants, \
    mode = excluded.mode, concentrated = excluded.concentrated";
