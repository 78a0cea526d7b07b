//! The writes of the ledger imports (boundaries, grids, persons, caseworkers, workplaces,
//! visits), inside the caller's transaction.

use crate::backend::Tx;
use crate::imports::{ImportCounts, Keyed, LedgerRows, PersonRow, VisitRow, next_id, stored_keys};
use crate::names::{community_kind_str, street_kind_str};
use crate::sql::{Bulk, Sql};
use crate::value::Value;
use crate::{IMPORT_CHUNK, Progress, Result, StoreError};
use rentgrid_geodata::import::boundaries::ImportedBoundaries;
use rentgrid_geodata::import::caseworkers::ImportedCaseworker;
use rentgrid_geodata::import::grids::ImportedGrid;
use rentgrid_geodata::import::workplaces::ImportedWorkplace;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Writes `rows` inside the caller's transaction.
pub(crate) async fn write(tx: &mut Tx<'_>, rows: LedgerRows<'_>, progress: Progress<'_>) -> Result<ImportCounts> {
    match rows {
        LedgerRows::Boundaries(b) => boundaries(tx, b, progress).await,
        LedgerRows::Grids(v) => grids(tx, v, progress).await,
        LedgerRows::Persons(v) => persons(tx, v, progress).await,
        LedgerRows::Caseworkers(v) => caseworkers(tx, v, progress).await,
        LedgerRows::Workplaces(v) => workplaces(tx, v, progress).await,
        LedgerRows::Visits(v) => visits(tx, v, progress).await,
    }
}

/// Fails when the file's district is not the store's, or when an empty store gets no district.
fn check_district(stored: Option<&str>, b: &ImportedBoundaries) -> Result<()> {
    match (stored, &b.district) {
        (Some(code), Some(d)) if d.code != code => Err(StoreError::Rejected(format!(
            "the store holds district {code}; this file describes district {} ({}): use a store of its own",
            d.code, d.name
        ))),
        (None, None) => Err(StoreError::Rejected(
            "the store holds no district yet: the file must include the district itself (level = district) with its \
             outline"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// Counts what is new and what is updated among `keys`, given the stored keys.
fn split_counts<'a>(keys: impl Iterator<Item = &'a str>, stored: &HashSet<String>) -> ImportCounts {
    let (mut inserted, mut updated) = (0, 0);
    for k in keys {
        if stored.contains(k) {
            updated += 1;
        } else {
            inserted += 1;
        }
    }
    ImportCounts { inserted, updated, landlords_added: 0 }
}

/// Every value of the one column of `q`.
async fn strings(tx: &mut Tx<'_>, q: &str) -> Result<HashSet<String>> {
    tx.fetch(Sql::new(q)).await?.iter().map(|r| r.text("k")).collect()
}

/// Runs `UPDATE … FROM (VALUES …) AS v …` over `rows` in chunks: `head` ends with `FROM (`,
/// `tail` starts with `) AS v`.
async fn update_from_values(
    tx: &mut Tx<'_>,
    head: &str,
    tail: &str,
    rows: Vec<Vec<Value>>,
    label: &str,
    progress: Progress<'_>,
) -> Result<()> {
    let total = rows.len() as u64;
    let mut done = 0;
    progress(label, 0, total);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(IMPORT_CHUNK).collect();
        let n = chunk.len() as u64;
        tx.execute(Sql::new(head).values(chunk).push(tail)).await?;
        done += n;
        progress(label, done, total);
    }
    Ok(())
}

async fn boundaries(tx: &mut Tx<'_>, b: &ImportedBoundaries, progress: Progress<'_>) -> Result<ImportCounts> {
    tx.lock_tables("districts").await?;
    let stored = tx.fetch_optional(Sql::new("SELECT code FROM districts LIMIT 1")).await?;
    let stored = stored.map(|r| r.text("code")).transpose()?;
    check_district(stored.as_deref(), b)?;
    if let Some(d) = &b.district {
        let q = Sql::new("INSERT INTO districts (code, name, outline) ")
            .values([vec![(&d.code).into(), (&d.name).into(), geo::Geometry::from(d.outline.clone()).into()]])
            .push(" ON CONFLICT (code) DO UPDATE SET name = excluded.name, outline = excluded.outline");
        tx.execute(q).await?;
        tx.execute(Sql::new("INSERT INTO meta (key, value) VALUES ('origin', 'import') ON CONFLICT (key) DO NOTHING"))
            .await?;
    }
    let known = strings(tx, "SELECT code AS k FROM streets").await?;
    let mut counts = split_counts(b.streets.iter().map(|s| s.code.as_str()), &known);
    if b.district.is_some() {
        if stored.is_some() {
            counts.updated += 1;
        } else {
            counts.inserted += 1;
        }
    }
    let bulk = Bulk {
        table: "streets",
        columns: &["code", "name", "kind", "seq"],
        tail: " ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, seq = excluded.seq",
    };
    let rows: Vec<(usize, &rentgrid_geodata::Street)> = b.streets.iter().enumerate().collect();
    let values = |&(i, s): &(usize, &rentgrid_geodata::Street)| {
        vec![(&s.code).into(), (&s.name).into(), street_kind_str(s.kind).into(), (i as i64).into()]
    };
    tx.bulk(&bulk, &rows, &values, "streets", progress).await?;
    let known = strings(tx, "SELECT code AS k FROM communities").await?;
    let more = split_counts(b.communities.iter().map(|s| s.code.as_str()), &known);
    counts.inserted += more.inserted;
    counts.updated += more.updated;
    let bulk = Bulk {
        table: "communities",
        columns: &["code", "name", "street_code", "kind", "seq"],
        tail: " ON CONFLICT (code) DO UPDATE SET name = excluded.name, street_code = excluded.street_code, \
               kind = excluded.kind, seq = excluded.seq",
    };
    let rows: Vec<(usize, &rentgrid_geodata::Community)> = b.communities.iter().enumerate().collect();
    let values = |&(i, x): &(usize, &rentgrid_geodata::Community)| {
        vec![
            (&x.code).into(),
            (&x.name).into(),
            (&x.street_code).into(),
            community_kind_str(x.kind).into(),
            (i as i64).into(),
        ]
    };
    tx.bulk(&bulk, &rows, &values, "communities", progress).await?;
    Ok(counts)
}

async fn grids(tx: &mut Tx<'_>, grids: &[ImportedGrid], progress: Progress<'_>) -> Result<ImportCounts> {
    tx.lock_tables("grids").await?;
    let mut ids: HashMap<String, i64> = HashMap::new();
    for r in tx.fetch(Sql::new("SELECT code, id FROM grids")).await? {
        ids.insert(r.text("code")?, r.int("id")?);
    }
    let mut next = next_id(tx, "grids").await?;
    let (mut new, mut old) = (Vec::new(), Vec::new());
    for g in grids {
        let id = match ids.get(&g.code) {
            Some(&id) => id,
            None => {
                next += 1;
                next - 1
            }
        };
        let row = vec![
            id.into(),
            (&g.code).into(),
            (&g.name).into(),
            (&g.community_code).into(),
            geo::Geometry::from(g.geometry.clone()).into(),
        ];
        if ids.contains_key(&g.code) { old.push(row) } else { new.push(row) }
    }
    let counts = ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 };
    let bulk = Bulk { table: "grids", columns: &["id", "code", "name", "community_code", "geom"], tail: "" };
    tx.bulk(&bulk, &new, &Vec::clone, "new grids", progress).await?;
    update_from_values(
        tx,
        "UPDATE grids SET code = v.column2, name = v.column3, community_code = v.column4, geom = v.column5 FROM (",
        ") AS v WHERE grids.id = v.column1",
        old,
        "updated grids",
        progress,
    )
    .await?;
    Ok(counts)
}

async fn persons(tx: &mut Tx<'_>, persons: &[PersonRow], progress: Progress<'_>) -> Result<ImportCounts> {
    tx.lock_tables("persons").await?;
    let pairs: Vec<(u32, &str)> =
        persons.iter().map(|p| (p.unit_id, p.card_no.as_str())).collect::<BTreeSet<_>>().into_iter().collect();
    let next = next_id(tx, "households").await?;
    let bulk = Bulk {
        table: "households",
        columns: &["id", "rental_unit_id", "card_no"],
        tail: " ON CONFLICT (rental_unit_id, card_no) DO NOTHING",
    };
    let rows: Vec<(usize, (u32, &str))> = pairs.iter().copied().enumerate().collect();
    let values = |&(i, (unit, card)): &(usize, (u32, &str))| vec![(next + i as i64).into(), unit.into(), card.into()];
    tx.bulk(&bulk, &rows, &values, "households", progress).await?;
    let units: Vec<u32> = pairs.iter().map(|(u, _)| *u).collect::<BTreeSet<_>>().into_iter().collect();
    let mut households: HashMap<(i64, String), i64> = HashMap::new();
    for chunk in units.chunks(IMPORT_CHUNK) {
        let q = Sql::new("SELECT rental_unit_id, card_no, id FROM households WHERE rental_unit_id IN ")
            .list(chunk.iter().copied());
        for r in tx.fetch(q).await? {
            households.insert((r.int("rental_unit_id")?, r.text("card_no")?), r.int("id")?);
        }
    }
    let known = stored_keys(tx, "persons", "id_number", persons.iter().map(|p| p.person.id_number.as_str())).await?;
    let counts = split_counts(persons.iter().map(|p| p.person.id_number.as_str()), &known);
    let next = next_id(tx, "persons").await?;
    let bulk = Bulk {
        table: "persons",
        columns: &[
            "id",
            "household_id",
            "building_id",
            "name",
            "id_number",
            "phone",
            "registered",
            "registered_on",
            "permit",
            "consistent",
            "workplace_id",
        ],
        tail: " ON CONFLICT (id_number) DO UPDATE SET household_id = excluded.household_id, \
               building_id = excluded.building_id, name = excluded.name, phone = excluded.phone, \
               registered = excluded.registered, registered_on = excluded.registered_on, permit = excluded.permit, \
               consistent = excluded.consistent, workplace_id = excluded.workplace_id",
    };
    let rows: Vec<(usize, &PersonRow)> = persons.iter().enumerate().collect();
    let values = |&(i, row): &(usize, &PersonRow)| {
        let p = &row.person;
        let household = households.get(&(i64::from(row.unit_id), row.card_no.clone())).copied().unwrap_or(-1);
        vec![
            (next + i as i64).into(),
            household.into(),
            row.building_id.into(),
            (&p.name).into(),
            (&p.id_number).into(),
            (&p.phone).into(),
            p.registered.into(),
            p.registered_on.into(),
            p.permit.into(),
            p.consistent.into(),
            row.workplace_id.into(),
        ]
    };
    tx.bulk(&bulk, &rows, &values, "persons", progress).await?;
    Ok(counts)
}

/// Splits `rows` by their key into (stored id, row) and (new id, row).
async fn assign<'a, T>(
    tx: &mut Tx<'_>,
    of: Keyed,
    table: &str,
    rows: &'a [T],
    key: impl Fn(&T) -> &str,
) -> Result<(Vec<(i64, &'a T)>, Vec<(i64, &'a T)>)> {
    let mut ids: HashMap<String, i64> = HashMap::new();
    for r in tx.fetch(Sql::new(of.sql())).await? {
        ids.insert(r.text("k")?, r.int("id")?);
    }
    let mut next = next_id(tx, table).await?;
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for r in rows {
        match ids.get(key(r)) {
            Some(&id) => old.push((id, r)),
            None => {
                new.push((next, r));
                next += 1;
            }
        }
    }
    Ok((old, new))
}

async fn caseworkers(tx: &mut Tx<'_>, rows: &[ImportedCaseworker], progress: Progress<'_>) -> Result<ImportCounts> {
    tx.lock_tables("caseworkers").await?;
    let (old, new) = assign(tx, Keyed::Caseworkers, "caseworkers", rows, |r| r.external_id.as_str()).await?;
    let values = |(id, r): &(i64, &ImportedCaseworker)| -> Vec<Value> {
        vec![(*id).into(), (&r.external_id).into(), (&r.name).into(), (&r.street_code).into()]
    };
    let bulk = Bulk { table: "caseworkers", columns: &["id", "external_id", "name", "street_code"], tail: "" };
    tx.bulk(&bulk, &new, &values, "caseworkers", progress).await?;
    update_from_values(
        tx,
        "UPDATE caseworkers SET external_id = v.column2, name = v.column3, street_code = v.column4 FROM (",
        ") AS v WHERE caseworkers.id = v.column1",
        old.iter().map(values).collect(),
        "updated caseworkers",
        progress,
    )
    .await?;
    let all: Vec<(i64, &ImportedCaseworker)> = old.iter().chain(&new).copied().collect();
    for chunk in all.chunks(IMPORT_CHUNK) {
        let q = Sql::new("DELETE FROM caseworker_grids WHERE caseworker_id IN ").list(chunk.iter().map(|(id, _)| *id));
        tx.execute(q).await?;
    }
    let contracts: Vec<(i64, u32)> = all.iter().flat_map(|(id, r)| r.grids.iter().map(move |g| (*id, *g))).collect();
    let bulk = Bulk { table: "caseworker_grids", columns: &["caseworker_id", "grid_id"], tail: "" };
    tx.bulk(&bulk, &contracts, &|&(w, g)| vec![w.into(), g.into()], "contracts", progress).await?;
    Ok(ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 })
}

async fn workplaces(tx: &mut Tx<'_>, rows: &[ImportedWorkplace], progress: Progress<'_>) -> Result<ImportCounts> {
    tx.lock_tables("workplaces").await?;
    let (old, new) = assign(tx, Keyed::Workplaces, "workplaces", rows, |r| r.external_id.as_str()).await?;
    let values = |(id, w): &(i64, &ImportedWorkplace)| -> Vec<Value> {
        vec![
            (*id).into(),
            (&w.external_id).into(),
            (&w.name).into(),
            w.building_id.into(),
            w.grid_id.into(),
            w.employees.into(),
            w.migrant_workers.into(),
            w.responsibility_signed.into(),
            w.contracts_signed.into(),
            w.insured.into(),
            geo::Geometry::from(w.point).into(),
        ]
    };
    let bulk = Bulk {
        table: "workplaces",
        columns: &[
            "id",
            "external_id",
            "name",
            "building_id",
            "grid_id",
            "employees",
            "migrant_workers",
            "responsibility_signed",
            "contracts_signed",
            "insured",
            "point",
        ],
        tail: "",
    };
    tx.bulk(&bulk, &new, &values, "workplaces", progress).await?;
    update_from_values(
        tx,
        "UPDATE workplaces SET external_id = v.column2, name = v.column3, building_id = v.column4, \
         grid_id = v.column5, employees = v.column6, migrant_workers = v.column7, \
         responsibility_signed = v.column8, contracts_signed = v.column9, insured = v.column10, \
         point = v.column11 FROM (",
        ") AS v WHERE workplaces.id = v.column1",
        old.iter().map(values).collect(),
        "updated workplaces",
        progress,
    )
    .await?;
    Ok(ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 })
}

async fn visits(tx: &mut Tx<'_>, rows: &[VisitRow], progress: Progress<'_>) -> Result<ImportCounts> {
    tx.lock_tables("visits").await?;
    let known = stored_keys(tx, "visits", "client_id", rows.iter().map(|v| v.visit.client_id.as_str())).await?;
    let counts = split_counts(rows.iter().map(|v| v.visit.client_id.as_str()), &known);
    let bulk = Bulk {
        table: "visits",
        columns: &[
            "client_id",
            "building_id",
            "caseworker_id",
            "visited_on",
            "units_registered",
            "pledges_signed",
            "units_found",
            "persons_found",
            "notes",
        ],
        tail: " ON CONFLICT (client_id) DO UPDATE SET building_id = excluded.building_id, \
               caseworker_id = excluded.caseworker_id, visited_on = excluded.visited_on, \
               units_registered = excluded.units_registered, pledges_signed = excluded.pledges_signed, \
               units_found = excluded.units_found, persons_found = excluded.persons_found, notes = excluded.notes",
    };
    let values = |r: &VisitRow| {
        let v = &r.visit;
        vec![
            (&v.client_id).into(),
            v.building_id.into(),
            r.caseworker_id.into(),
            v.visited_on.into(),
            v.units_registered.into(),
            v.pledges_signed.into(),
            v.units_found.into(),
            v.persons_found.into(),
            (&v.notes).into(),
        ]
    };
    tx.bulk(&bulk, rows, &values, "visits", progress).await?;
    Ok(counts)
}
