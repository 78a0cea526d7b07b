//! The writes of the ledger imports (boundaries, grids, persons, caseworkers, workplaces,
//! visits), written once for both backends: the statements are the same SQL through
//! `QueryBuilder` (which writes each backend's placeholders); only how a date and a geometry are
//! bound differs, and a macro instantiates the functions per backend. Each runs inside the
//! caller's transaction.

use super::{ImportCounts, Result, StoreError};
use rentgrid_geodata::import::boundaries::ImportedBoundaries;
use std::collections::HashSet;

/// Fails when the file's district is not the store's, or when an empty store gets no district.
pub(super) fn check_district(stored: Option<&str>, b: &ImportedBoundaries) -> Result<()> {
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
pub(super) fn split_counts<'a>(keys: impl Iterator<Item = &'a str>, stored: &HashSet<String>) -> ImportCounts {
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

fn int(v: u32) -> i64 {
    i64::from(v)
}

macro_rules! ledger_writes {
    (
        $module:ident, $db:ty, $conn:ty,
        date = $date:expr, geom = $geom:path, lock = $lock:path,
        point_columns = $point_columns:literal, point_set = $point_set:literal
    ) => {
        /// The ledger writes of one backend.
        pub(super) mod $module {
            use super::super::{ImportCounts, Keyed, LedgerRows, PersonRow, Progress, Result, VisitRow};
            use super::{check_district, int, split_counts};
            use rentgrid_geodata::import::boundaries::ImportedBoundaries;
            use rentgrid_geodata::import::caseworkers::ImportedCaseworker;
            use rentgrid_geodata::import::grids::ImportedGrid;
            use rentgrid_geodata::import::workplaces::ImportedWorkplace;
            use sqlx::query_builder::Separated;
            use sqlx::{QueryBuilder, Row};
            use std::collections::{HashMap, HashSet};

            type Db = $db;
            type Conn = $conn;
            const CHUNK: usize = super::super::IMPORT_CHUNK;

            fn geom(b: &mut Separated<'_, '_, Db, &'static str>, g: geo::Geometry<f64>) {
                $geom(b, g)
            }

            fn id_of<R: Row>(r: &R, i: usize) -> Result<i64>
            where
                usize: sqlx::ColumnIndex<R>,
                i64: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
                i32: sqlx::Type<R::Database> + for<'r> sqlx::Decode<'r, R::Database>,
            {
                Ok(r.try_get::<i64, _>(i).or_else(|_| r.try_get::<i32, _>(i).map(i64::from))?)
            }

            /// Runs `head VALUES (…), … tail` over `rows` in chunks.
            async fn values<'a, T: Sync>(
                c: &mut Conn,
                head: &str,
                tail: &str,
                rows: &'a [T],
                label: &str,
                progress: Progress<'_>,
                mut bind: impl FnMut(&mut Separated<'_, 'a, Db, &'static str>, &'a T),
            ) -> Result<()> {
                let total = rows.len() as u64;
                let mut done = 0u64;
                progress(label, 0, total);
                for chunk in rows.chunks(CHUNK) {
                    let mut qb = QueryBuilder::<Db>::new(head);
                    qb.push_values(chunk, |mut b, row| bind(&mut b, row));
                    qb.push(tail);
                    qb.build().execute(&mut *c).await?;
                    done += chunk.len() as u64;
                    progress(label, done, total);
                }
                Ok(())
            }

            async fn strings(c: &mut Conn, sql: &str) -> Result<HashSet<String>> {
                let rows = sqlx::query(sql).fetch_all(&mut *c).await?;
                rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
            }

            async fn next_id(c: &mut Conn, table: &str) -> Result<i64> {
                let sql = format!("SELECT CAST(COALESCE(MAX(id), -1) + 1 AS BIGINT) FROM {table}");
                Ok(sqlx::query_scalar(&sql).fetch_one(&mut *c).await?)
            }

            /// Ledger keys of `of` → id, read inside the transaction.
            async fn key_ids(c: &mut Conn, of: Keyed) -> Result<HashMap<String, i64>> {
                let rows = sqlx::query(of.sql()).fetch_all(&mut *c).await?;
                rows.iter().map(|r| Ok((r.try_get::<String, _>(0)?, id_of(r, 1)?))).collect()
            }

            /// Writes `rows` in one transaction.
            pub async fn import(
                pool: &sqlx::Pool<Db>,
                rows: LedgerRows<'_>,
                progress: Progress<'_>,
            ) -> Result<ImportCounts> {
                let mut tx = pool.begin().await?;
                let counts = write(&mut tx, rows, progress).await?;
                tx.commit().await?;
                Ok(counts)
            }

            /// The ledger keys of a table: key → (id, parent id).
            pub async fn keys(pool: &sqlx::Pool<Db>, of: Keyed) -> Result<crate::Keys> {
                let rows = sqlx::query(of.sql()).fetch_all(pool).await?;
                rows.iter()
                    .map(|r| {
                        let id = |i| id_of(r, i).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
                        Ok((r.try_get::<String, _>(0)?, (id(1)?, id(2)?)))
                    })
                    .collect()
            }

            /// Every row of `sql`, each cell read by `cell`.
            pub async fn ledger(
                pool: &sqlx::Pool<Db>,
                sql: &str,
                cell: fn(&<Db as sqlx::Database>::Row, usize) -> Result<crate::Cell>,
            ) -> Result<Vec<Vec<crate::Cell>>> {
                let rows = sqlx::query(sql).fetch_all(pool).await?;
                rows.iter().map(|r| (0..r.len()).map(|i| cell(r, i)).collect()).collect()
            }

            /// Writes `rows` inside the caller's transaction.
            async fn write(c: &mut Conn, rows: LedgerRows<'_>, progress: Progress<'_>) -> Result<ImportCounts> {
                match rows {
                    LedgerRows::Boundaries(b) => boundaries(c, b, progress).await,
                    LedgerRows::Grids(v) => grids(c, v, progress).await,
                    LedgerRows::Persons(v) => persons(c, v, progress).await,
                    LedgerRows::Caseworkers(v) => caseworkers(c, v, progress).await,
                    LedgerRows::Workplaces(v) => workplaces(c, v, progress).await,
                    LedgerRows::Visits(v) => visits(c, v, progress).await,
                }
            }

            async fn boundaries(c: &mut Conn, b: &ImportedBoundaries, progress: Progress<'_>) -> Result<ImportCounts> {
                $lock(&mut *c, "districts").await?;
                let stored: Option<String> =
                    sqlx::query_scalar("SELECT code FROM districts LIMIT 1").fetch_optional(&mut *c).await?;
                check_district(stored.as_deref(), b)?;
                if let Some(d) = &b.district {
                    let mut qb = QueryBuilder::<Db>::new("INSERT INTO districts (code, name, outline) ");
                    qb.push_values([d], |mut s, d| {
                        s.push_bind(d.code.clone()).push_bind(d.name.clone());
                        geom(&mut s, d.outline.clone().into());
                    });
                    qb.push(" ON CONFLICT (code) DO UPDATE SET name = excluded.name, outline = excluded.outline");
                    qb.build().execute(&mut *c).await?;
                    sqlx::query("INSERT INTO meta (key, value) VALUES ('origin', 'import') ON CONFLICT (key) DO NOTHING")
                        .execute(&mut *c)
                        .await?;
                }
                let known = strings(c, "SELECT code FROM streets").await?;
                let mut counts = split_counts(b.streets.iter().map(|s| s.code.as_str()), &known);
                if b.district.is_some() {
                    if stored.is_some() {
                        counts.updated += 1;
                    } else {
                        counts.inserted += 1;
                    }
                }
                let streets: Vec<(i64, &rentgrid_geodata::Street)> =
                    b.streets.iter().enumerate().map(|(i, s)| (i as i64, s)).collect();
                values(
                    c,
                    "INSERT INTO streets (code, name, kind, seq) ",
                    " ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, seq = excluded.seq",
                    &streets,
                    "streets",
                    progress,
                    |q, (i, s)| {
                        q.push_bind(s.code.clone())
                            .push_bind(s.name.clone())
                            .push_bind(crate::names::street_kind_str(s.kind))
                            .push_bind(*i);
                    },
                )
                .await?;
                let known = strings(c, "SELECT code FROM communities").await?;
                let more = split_counts(b.communities.iter().map(|s| s.code.as_str()), &known);
                counts.inserted += more.inserted;
                counts.updated += more.updated;
                let comms: Vec<(i64, &rentgrid_geodata::Community)> =
                    b.communities.iter().enumerate().map(|(i, s)| (i as i64, s)).collect();
                values(
                    c,
                    "INSERT INTO communities (code, name, street_code, kind, seq) ",
                    " ON CONFLICT (code) DO UPDATE SET name = excluded.name, street_code = excluded.street_code, \
                     kind = excluded.kind, seq = excluded.seq",
                    &comms,
                    "communities",
                    progress,
                    |q, (i, x)| {
                        q.push_bind(x.code.clone())
                            .push_bind(x.name.clone())
                            .push_bind(x.street_code.clone())
                            .push_bind(crate::names::community_kind_str(x.kind))
                            .push_bind(*i);
                    },
                )
                .await?;
                Ok(counts)
            }

            async fn grids(c: &mut Conn, grids: &[ImportedGrid], progress: Progress<'_>) -> Result<ImportCounts> {
                $lock(&mut *c, "grids").await?;
                let rows = sqlx::query("SELECT code, id FROM grids").fetch_all(&mut *c).await?;
                let mut ids: HashMap<String, i64> = HashMap::new();
                for r in &rows {
                    ids.insert(r.try_get(0)?, id_of(r, 1)?);
                }
                let mut next = next_id(c, "grids").await?;
                let (mut inserted, mut updated) = (0, 0);
                let mut new = Vec::new();
                let mut old = Vec::new();
                for g in grids {
                    match ids.get(&g.code) {
                        Some(&id) => {
                            updated += 1;
                            old.push((id, g));
                        }
                        None => {
                            inserted += 1;
                            new.push((next, g));
                            next += 1;
                        }
                    }
                }
                let bind = |q: &mut Separated<'_, '_, Db, &'static str>, (id, g): &(i64, &ImportedGrid)| {
                    q.push_bind(*id).push_bind(g.code.clone()).push_bind(g.name.clone()).push_bind(g.community_code.clone());
                    geom(q, g.geometry.clone().into());
                };
                values(c, "INSERT INTO grids (id, code, name, community_code, geom) ", "", &new, "new grids", progress, bind)
                    .await?;
                values(
                    c,
                    "UPDATE grids SET code = v.column2, name = v.column3, community_code = v.column4, geom = v.column5 FROM (",
                    ") AS v WHERE grids.id = v.column1",
                    &old,
                    "updated grids",
                    progress,
                    bind,
                )
                .await?;
                Ok(ImportCounts { inserted, updated, landlords_added: 0 })
            }

            async fn persons(c: &mut Conn, persons: &[PersonRow], progress: Progress<'_>) -> Result<ImportCounts> {
                $lock(&mut *c, "persons").await?;
                let pairs: Vec<(u32, &str)> = persons
                    .iter()
                    .map(|p| (p.unit_id, p.card_no.as_str()))
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let next = next_id(c, "households").await?;
                let numbered: Vec<(i64, (u32, &str))> =
                    pairs.iter().enumerate().map(|(i, p)| (next + i as i64, *p)).collect();
                values(
                    c,
                    "INSERT INTO households (id, rental_unit_id, card_no) ",
                    " ON CONFLICT (rental_unit_id, card_no) DO NOTHING",
                    &numbered,
                    "households",
                    progress,
                    |q, (id, (unit, card))| {
                        q.push_bind(*id).push_bind(int(*unit)).push_bind(card.to_string());
                    },
                )
                .await?;
                let units: Vec<u32> = pairs.iter().map(|(u, _)| *u).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
                let mut households: HashMap<(i64, String), i64> = HashMap::new();
                for chunk in units.chunks(CHUNK) {
                    let mut qb = QueryBuilder::<Db>::new("SELECT rental_unit_id, card_no, id FROM households WHERE rental_unit_id IN ");
                    qb.push_tuples(chunk, |mut b, u| {
                        b.push_bind(int(*u));
                    });
                    for r in qb.build().fetch_all(&mut *c).await? {
                        households.insert((id_of(&r, 0)?, r.try_get(1)?), id_of(&r, 2)?);
                    }
                }
                let mut known: HashSet<String> = HashSet::new();
                for chunk in persons.chunks(CHUNK) {
                    let mut qb = QueryBuilder::<Db>::new("SELECT id_number FROM persons WHERE id_number IN ");
                    qb.push_tuples(chunk, |mut b, p| {
                        b.push_bind(p.person.id_number.clone());
                    });
                    for r in qb.build().fetch_all(&mut *c).await? {
                        known.insert(r.try_get(0)?);
                    }
                }
                let counts = split_counts(persons.iter().map(|p| p.person.id_number.as_str()), &known);
                let next = next_id(c, "persons").await?;
                let rows: Vec<(i64, i64, &PersonRow)> = persons
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let h = households.get(&(int(p.unit_id), p.card_no.clone())).copied().unwrap_or(-1);
                        (next + i as i64, h, p)
                    })
                    .collect();
                values(
                    c,
                    "INSERT INTO persons (id, household_id, building_id, name, id_number, phone, registered, registered_on, \
                     permit, consistent, workplace_id) ",
                    " ON CONFLICT (id_number) DO UPDATE SET household_id = excluded.household_id, \
                     building_id = excluded.building_id, name = excluded.name, phone = excluded.phone, \
                     registered = excluded.registered, registered_on = excluded.registered_on, permit = excluded.permit, \
                     consistent = excluded.consistent, workplace_id = excluded.workplace_id",
                    &rows,
                    "persons",
                    progress,
                    |q, (id, h, row)| {
                        let p = &row.person;
                        q.push_bind(*id)
                            .push_bind(*h)
                            .push_bind(int(row.building_id))
                            .push_bind(p.name.clone())
                            .push_bind(p.id_number.clone())
                            .push_bind(p.phone.clone())
                            .push_bind(p.registered)
                            .push_bind(p.registered_on.map($date))
                            .push_bind(p.permit)
                            .push_bind(p.consistent)
                            .push_bind(row.workplace_id.map(int));
                    },
                )
                .await?;
                Ok(counts)
            }

            /// Splits `rows` by their key into (stored id, row) and (new id, row).
            async fn assign<'a, T>(
                c: &mut Conn,
                of: Keyed,
                table: &str,
                rows: &'a [T],
                key: impl Fn(&T) -> &str,
            ) -> Result<(Vec<(i64, &'a T)>, Vec<(i64, &'a T)>)> {
                let ids = key_ids(c, of).await?;
                let mut next = next_id(c, table).await?;
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

            async fn caseworkers(
                c: &mut Conn,
                rows: &[ImportedCaseworker],
                progress: Progress<'_>,
            ) -> Result<ImportCounts> {
                $lock(&mut *c, "caseworkers").await?;
                let (old, new) = assign(c, Keyed::Caseworkers, "caseworkers", rows, |r| r.external_id.as_str()).await?;
                let bind = |q: &mut Separated<'_, '_, Db, &'static str>, (id, r): &(i64, &ImportedCaseworker)| {
                    q.push_bind(*id).push_bind(r.external_id.clone()).push_bind(r.name.clone()).push_bind(r.street_code.clone());
                };
                values(c, "INSERT INTO caseworkers (id, external_id, name, street_code) ", "", &new, "caseworkers", progress, bind)
                    .await?;
                values(
                    c,
                    "UPDATE caseworkers SET external_id = v.column2, name = v.column3, street_code = v.column4 FROM (",
                    ") AS v WHERE caseworkers.id = v.column1",
                    &old,
                    "updated caseworkers",
                    progress,
                    bind,
                )
                .await?;
                let all: Vec<(i64, &ImportedCaseworker)> = old.iter().chain(&new).copied().collect();
                for chunk in all.chunks(CHUNK) {
                    let mut qb = QueryBuilder::<Db>::new("DELETE FROM caseworker_grids WHERE caseworker_id IN ");
                    qb.push_tuples(chunk, |mut b, (id, _)| {
                        b.push_bind(*id);
                    });
                    qb.build().execute(&mut *c).await?;
                }
                let contracts: Vec<(i64, i64)> =
                    all.iter().flat_map(|(id, r)| r.grids.iter().map(move |g| (*id, int(*g)))).collect();
                values(c, "INSERT INTO caseworker_grids (caseworker_id, grid_id) ", "", &contracts, "contracts", progress, |q, (w, g)| {
                    q.push_bind(*w).push_bind(*g);
                })
                .await?;
                Ok(ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 })
            }

            async fn workplaces(
                c: &mut Conn,
                rows: &[ImportedWorkplace],
                progress: Progress<'_>,
            ) -> Result<ImportCounts> {
                $lock(&mut *c, "workplaces").await?;
                let (old, new) = assign(c, Keyed::Workplaces, "workplaces", rows, |r| r.external_id.as_str()).await?;
                let bind = |q: &mut Separated<'_, '_, Db, &'static str>, (id, w): &(i64, &ImportedWorkplace)| {
                    q.push_bind(*id)
                        .push_bind(w.external_id.clone())
                        .push_bind(w.name.clone())
                        .push_bind(w.building_id.map(int))
                        .push_bind(int(w.grid_id))
                        .push_bind(int(w.employees))
                        .push_bind(int(w.migrant_workers))
                        .push_bind(w.responsibility_signed)
                        .push_bind(int(w.contracts_signed))
                        .push_bind(int(w.insured));
                    geom(q, w.point.into());
                };
                values(
                    c,
                    &format!(
                        "INSERT INTO workplaces (id, external_id, name, building_id, grid_id, employees, migrant_workers, \
                         responsibility_signed, contracts_signed, insured, {}) ",
                        $point_columns
                    ),
                    "",
                    &new,
                    "workplaces",
                    progress,
                    bind,
                )
                .await?;
                values(
                    c,
                    &format!(
                        "UPDATE workplaces SET external_id = v.column2, name = v.column3, building_id = v.column4, \
                         grid_id = v.column5, employees = v.column6, migrant_workers = v.column7, \
                         responsibility_signed = v.column8, contracts_signed = v.column9, insured = v.column10, {} FROM (",
                        $point_set
                    ),
                    ") AS v WHERE workplaces.id = v.column1",
                    &old,
                    "updated workplaces",
                    progress,
                    bind,
                )
                .await?;
                Ok(ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 })
            }

            async fn visits(c: &mut Conn, rows: &[VisitRow], progress: Progress<'_>) -> Result<ImportCounts> {
                $lock(&mut *c, "visits").await?;
                let mut known: HashSet<String> = HashSet::new();
                for chunk in rows.chunks(CHUNK) {
                    let mut qb = QueryBuilder::<Db>::new("SELECT client_id FROM visits WHERE client_id IN ");
                    qb.push_tuples(chunk, |mut b, v| {
                        b.push_bind(v.visit.client_id.clone());
                    });
                    for r in qb.build().fetch_all(&mut *c).await? {
                        known.insert(r.try_get(0)?);
                    }
                }
                let counts = split_counts(rows.iter().map(|v| v.visit.client_id.as_str()), &known);
                values(
                    c,
                    "INSERT INTO visits (client_id, building_id, caseworker_id, visited_on, units_registered, pledges_signed, \
                     units_found, persons_found, notes) ",
                    " ON CONFLICT (client_id) DO UPDATE SET building_id = excluded.building_id, \
                     caseworker_id = excluded.caseworker_id, visited_on = excluded.visited_on, \
                     units_registered = excluded.units_registered, pledges_signed = excluded.pledges_signed, \
                     units_found = excluded.units_found, persons_found = excluded.persons_found, notes = excluded.notes",
                    rows,
                    "visits",
                    progress,
                    |q, r| {
                        let v = &r.visit;
                        q.push_bind(v.client_id.clone())
                            .push_bind(int(v.building_id))
                            .push_bind(r.caseworker_id.map(int))
                            .push_bind(($date)(v.visited_on))
                            .push_bind(int(v.units_registered))
                            .push_bind(int(v.pledges_signed))
                            .push_bind(int(v.units_found))
                            .push_bind(int(v.persons_found))
                            .push_bind(v.notes.clone());
                    },
                )
                .await?;
                Ok(counts)
            }
        }
    };
}

ledger_writes!(
    sqlite,
    sqlx::Sqlite,
    sqlx::SqliteConnection,
    date = crate::dates::fmt_date,
    geom = crate::sqlite::bind_geometry,
    lock = crate::sqlite::lock_nothing,
    point_columns = "lon, lat",
    point_set = "lon = v.column11, lat = v.column12"
);

ledger_writes!(
    postgres,
    sqlx::Postgres,
    sqlx::PgConnection,
    date = std::convert::identity,
    geom = crate::postgis::bind_geometry,
    lock = crate::postgis::lock_table,
    point_columns = "point",
    point_set = "point = v.column11"
);
