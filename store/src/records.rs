//! Records several concerns read back the same way: visits, spot checks and the roster.

use crate::Result;
use crate::backend::Tx;
use crate::sql::Sql;
use crate::value::Row;
use rentgrid_analysis::registrations::{DatedPerson, DatedRecord, DatedUnit};
use rentgrid_geodata::{Caseworker, SpotCheck, Visit};
use std::collections::BTreeMap;

/// The columns [`visit_of`] reads.
pub(crate) const VISIT_COLUMNS: &str = "id, client_id, building_id, caseworker_id, visited_on, units_registered, pledges_signed, units_found, \
     persons_found, notes";

/// A stored visit.
pub(crate) fn visit_of(r: &Row) -> Result<Visit> {
    Ok(Visit {
        id: r.u32("id")?,
        client_id: r.text("client_id")?,
        building_id: r.u32("building_id")?,
        caseworker_id: r.opt_u32("caseworker_id")?,
        visited_on: r.date("visited_on")?,
        units_registered: r.u32("units_registered")?,
        pledges_signed: r.u32("pledges_signed")?,
        units_found: r.u32("units_found")?,
        persons_found: r.u32("persons_found")?,
        notes: r.text("notes")?,
    })
}

/// A stored spot check.
pub(crate) fn spot_check_of(r: &Row) -> Result<SpotCheck> {
    Ok(SpotCheck {
        id: r.u32("id")?,
        caseworker_id: r.u32("caseworker_id")?,
        grid_id: r.u32("grid_id")?,
        checked_on: r.date("checked_on")?,
        households_checked: r.u32("households_checked")?,
        missed_registration: r.u32("missed_registration")?,
        missed_permit: r.u32("missed_permit")?,
        wrong_records: r.u32("wrong_records")?,
    })
}

/// Caseworkers by id, each with its contracted grids ascending.
pub(crate) async fn caseworkers(tx: &mut Tx<'_>) -> Result<Vec<Caseworker>> {
    let mut by_id: BTreeMap<u32, Caseworker> = BTreeMap::new();
    for r in tx.fetch(Sql::new("SELECT id, name, street_code FROM caseworkers ORDER BY id")).await? {
        let id = r.u32("id")?;
        by_id.insert(
            id,
            Caseworker { id, name: r.text("name")?, street_code: r.text("street_code")?, grids: Vec::new() },
        );
    }
    for r in tx.fetch(Sql::new("SELECT caseworker_id, grid_id FROM caseworker_grids")).await? {
        if let Some(cw) = by_id.get_mut(&r.u32("caseworker_id")?) {
            cw.grids.push(r.u32("grid_id")?);
        }
    }
    Ok(by_id
        .into_values()
        .map(|mut c| {
            c.grids.sort_unstable();
            c
        })
        .collect())
}

/// The dated records of rental units `ids` as they stand in `tx` (by id).
pub(crate) async fn dated_units(tx: &mut Tx<'_>, ids: &[u32]) -> Result<BTreeMap<u32, DatedRecord>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let q = Sql::new("SELECT id, building_id, registered, registered_on, pledge_signed FROM rental_units WHERE id IN ")
        .list(ids.iter().copied());
    let mut out = BTreeMap::new();
    for r in tx.fetch(q).await? {
        let unit = DatedUnit {
            building_id: r.u32("building_id")?,
            registered: r.bool("registered")?,
            registered_on: r.opt_date("registered_on")?,
            pledge_signed: r.bool("pledge_signed")?,
        };
        out.insert(r.u32("id")?, DatedRecord::Unit(unit));
    }
    Ok(out)
}

/// The dated records of the present homes of persons `ids` as they stand in `tx` (by id; a
/// person who left the district has none).
pub(crate) async fn dated_homes(tx: &mut Tx<'_>, ids: &[u32]) -> Result<BTreeMap<u32, DatedRecord>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let q = Sql::new(
        "SELECT id, building_id, registered, registered_on, permit, consistent, moved_in_on FROM persons \
         WHERE left_on IS NULL AND id IN ",
    )
    .list(ids.iter().copied());
    let mut out = BTreeMap::new();
    for r in tx.fetch(q).await? {
        let person = DatedPerson {
            building_id: r.u32("building_id")?,
            registered: r.bool("registered")?,
            registered_on: r.opt_date("registered_on")?,
            permit: r.bool("permit")?,
            consistent: r.bool("consistent")?,
            moved_in_on: r.opt_date("moved_in_on")?,
        };
        out.insert(r.u32("id")?, DatedRecord::Home(person));
    }
    Ok(out)
}

/// The change between the records `before` and `after` of the same ids.
pub(crate) fn changed(
    before: BTreeMap<u32, DatedRecord>,
    mut after: BTreeMap<u32, DatedRecord>,
) -> rentgrid_analysis::registrations::RegistrationChange {
    let mut change = rentgrid_analysis::registrations::RegistrationChange::default();
    for (id, b) in before {
        change.replace(Some(b), after.remove(&id));
    }
    for a in after.into_values() {
        change.replace(None, Some(a));
    }
    change
}
