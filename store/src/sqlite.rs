//! The embedded store: one SQLite file in the data directory, through sqlx. WAL journal, so
//! readers are never blocked by the writer.

use super::codec::{line, multipolygon, polygon, to_geojson};
use super::dates::{fmt_date, parse_date};
use super::imports::{UPSERT_UNIT, assign_landlords};
use super::names::{community_kind_str, parse_community_kind, street_kind_str};
use super::{Cell, Keyed, Keys, Ledger, LedgerRows, ledger_sql};
use super::{IMPORT_CHUNK, ImportCounts, NewVisit, Progress, Result, Store, StoreError, StoreInfo, VisitOutcome};
use async_trait::async_trait;
use rentgrid_geodata::atlas::BuildingStats;
use rentgrid_geodata::import::buildings::ImportedBuilding;
use rentgrid_geodata::import::units::ImportedUnit;
use rentgrid_geodata::{
    AtlasInput, Block, Building, BuildingKind, City, Community, District, Grid, Road, RoadClass, StatsDelta, Street,
    StreetKind, Visit, Workplace,
};
use sqlx::migrate::Migrator;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use sqlx::{TypeInfo, ValueRef};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The SQLite migrations, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The file name of the store inside a data directory.
pub const FILE_NAME: &str = "rentgrid.sqlite";

/// The embedded SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("cannot create data directory {}: {e}", data_dir.display()).into(),
            ))
        })?;
        let path = data_dir.join(FILE_NAME);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, path })
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Binds a geometry as SQLite stores it: a point as two columns (lon, lat), others as GeoJSON.
pub(crate) fn bind_geometry(b: &mut Separated<'_, '_, Sqlite, &'static str>, g: geo::Geometry<f64>) {
    match g {
        geo::Geometry::Point(p) => {
            b.push_bind(p.x()).push_bind(p.y());
        }
        g => {
            b.push_bind(to_geojson(g));
        }
    }
}

/// SQLite has one writer at a time: nothing to lock.
pub(crate) async fn lock_nothing(_c: &mut SqliteConnection, _table: &'static str) -> Result<()> {
    Ok(())
}

fn u32_of(row: &sqlx::sqlite::SqliteRow, col: &str) -> Result<u32> {
    let v: i64 = row.try_get(col)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        what: "row",
        id: col.to_string(),
        reason: format!("{v} is out of range"),
    })
}

/// Inserts `rows` in multi-row statements of at most ~30,000 bound values each.
async fn insert<'a, T: Sync>(
    conn: &mut SqliteConnection,
    head: &str,
    ncols: usize,
    rows: &'a [T],
    label: &str,
    progress: Progress<'_>,
    bind: impl FnMut(&mut Separated<'_, 'a, Sqlite, &'static str>, &'a T),
) -> Result<()> {
    insert_then(conn, head, "", (30_000 / ncols.max(1)).max(1), rows, label, progress, bind).await
}

/// [`insert`] with `tail` after the values (an `ON CONFLICT` clause) and `per` rows a statement.
#[allow(clippy::too_many_arguments)]
async fn insert_then<'a, T: Sync>(
    conn: &mut SqliteConnection,
    head: &str,
    tail: &str,
    per: usize,
    rows: &'a [T],
    label: &str,
    progress: Progress<'_>,
    mut bind: impl FnMut(&mut Separated<'_, 'a, Sqlite, &'static str>, &'a T),
) -> Result<()> {
    let total = rows.len() as u64;
    let mut done = 0u64;
    progress(label, 0, total);
    for chunk in rows.chunks(per) {
        let mut qb = QueryBuilder::<Sqlite>::new(head);
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.push(tail);
        qb.build().execute(&mut *conn).await?;
        done += chunk.len() as u64;
        progress(label, done, total);
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn info(&self) -> Result<StoreInfo> {
        let origin: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'origin'").fetch_optional(&self.pool).await?;
        Ok(StoreInfo { backend: "sqlite", location: self.path.display().to_string(), origin })
    }

    async fn is_empty(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM districts").fetch_one(&self.pool).await?;
        Ok(n == 0)
    }

    async fn save_city(&self, city: &City, origin: &str, progress: Progress<'_>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM districts").fetch_one(&mut *tx).await?;
        if n > 0 {
            return Err(StoreError::NotEmpty);
        }
        let c = &mut *tx;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('origin', ?)").bind(origin).execute(&mut *c).await?;
        sqlx::query("INSERT INTO districts (code, name, outline) VALUES (?, ?, ?)")
            .bind(&city.district.code)
            .bind(&city.district.name)
            .bind(to_geojson(city.district.outline.clone()))
            .execute(&mut *c)
            .await?;
        let streets: Vec<(usize, &Street)> = city.streets.iter().enumerate().collect();
        insert(c, "INSERT INTO streets (code, name, kind, seq) ", 4, &streets, "streets", progress, |b, (i, s)| {
            b.push_bind(&s.code).push_bind(&s.name).push_bind(street_kind_str(s.kind)).push_bind(*i as i64);
        })
        .await?;
        let comms: Vec<(usize, &Community)> = city.communities.iter().enumerate().collect();
        insert(
            c,
            "INSERT INTO communities (code, name, street_code, kind, seq) ",
            5,
            &comms,
            "communities",
            progress,
            |b, (i, x)| {
                b.push_bind(&x.code)
                    .push_bind(&x.name)
                    .push_bind(&x.street_code)
                    .push_bind(community_kind_str(x.kind))
                    .push_bind(*i as i64);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO grids (id, code, name, community_code, geom) ",
            5,
            &city.grids,
            "grids",
            progress,
            |b, g| {
                b.push_bind(g.id)
                    .push_bind(&g.code)
                    .push_bind(&g.name)
                    .push_bind(&g.community_code)
                    .push_bind(to_geojson(g.geometry.clone()));
            },
        )
        .await?;
        insert(c, "INSERT INTO blocks (id, grid_id, geom) ", 3, &city.blocks, "blocks", progress, |b, x| {
            b.push_bind(x.id).push_bind(x.grid_id).push_bind(to_geojson(x.geometry.clone()));
        })
        .await?;
        insert(
            c,
            "INSERT INTO roads (id, from_node, to_node, class, length_m, geom) ",
            6,
            &city.roads,
            "roads",
            progress,
            |b, r| {
                b.push_bind(r.id)
                    .push_bind(r.from_node)
                    .push_bind(r.to_node)
                    .push_bind(r.class.as_str())
                    .push_bind(r.length_m)
                    .push_bind(to_geojson(r.line.clone()));
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO buildings (id, external_id, grid_id, kind, address, floors, dwellings, utility_accounts, lon, lat, footprint) ",
            11,
            &city.buildings,
            "buildings",
            progress,
            |b, x| {
                b.push_bind(x.id)
                    .push_bind(&x.external_id)
                    .push_bind(x.grid_id)
                    .push_bind(x.kind.as_str())
                    .push_bind(&x.address)
                    .push_bind(u32::from(x.floors))
                    .push_bind(x.dwellings)
                    .push_bind(x.utility_accounts)
                    .push_bind(x.point.x())
                    .push_bind(x.point.y())
                    .push_bind(to_geojson(x.footprint.clone()));
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO landlords (id, name, id_number, phone) ",
            4,
            &city.landlords,
            "landlords",
            progress,
            |b, l| {
                b.push_bind(l.id).push_bind(&l.name).push_bind(&l.id_number).push_bind(&l.phone);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO rental_units (id, external_id, building_id, landlord_id, label, registered, registered_on, pledge_signed, tenants, mode, concentrated) ",
            11,
            &city.rental_units,
            "rental units",
            progress,
            |b, u| {
                b.push_bind(u.id)
                    .push_bind(u.id.to_string())
                    .push_bind(u.building_id)
                    .push_bind(u.landlord_id)
                    .push_bind(&u.label)
                    .push_bind(u.registered)
                    .push_bind(u.registered_on.map(fmt_date))
                    .push_bind(u.pledge_signed)
                    .push_bind(u.tenants)
                    .push_bind(u.mode.as_str())
                    .push_bind(u.concentrated);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO households (id, rental_unit_id, card_no) ",
            3,
            &city.households,
            "households",
            progress,
            |b, h| {
                b.push_bind(h.id).push_bind(h.rental_unit_id).push_bind(&h.card_no);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO workplaces (id, name, building_id, grid_id, lon, lat, employees, migrant_workers, responsibility_signed, contracts_signed, insured) ",
            11,
            &city.workplaces,
            "workplaces",
            progress,
            |b, w| {
                b.push_bind(w.id)
                    .push_bind(&w.name)
                    .push_bind(w.building_id)
                    .push_bind(w.grid_id)
                    .push_bind(w.point.x())
                    .push_bind(w.point.y())
                    .push_bind(w.employees)
                    .push_bind(w.migrant_workers)
                    .push_bind(w.responsibility_signed)
                    .push_bind(w.contracts_signed)
                    .push_bind(w.insured);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO persons (id, household_id, building_id, name, id_number, phone, registered, registered_on, permit, consistent, workplace_id) ",
            11,
            &city.persons,
            "persons",
            progress,
            |b, p| {
                b.push_bind(p.id)
                    .push_bind(p.household_id)
                    .push_bind(p.building_id)
                    .push_bind(&p.name)
                    .push_bind(&p.id_number)
                    .push_bind(&p.phone)
                    .push_bind(p.registered)
                    .push_bind(p.registered_on.map(fmt_date))
                    .push_bind(p.permit)
                    .push_bind(p.consistent)
                    .push_bind(p.workplace_id);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO caseworkers (id, name, street_code) ",
            3,
            &city.caseworkers,
            "caseworkers",
            progress,
            |b, w| {
                b.push_bind(w.id).push_bind(&w.name).push_bind(&w.street_code);
            },
        )
        .await?;
        let contracts: Vec<(u32, u32)> =
            city.caseworkers.iter().flat_map(|w| w.grids.iter().map(move |&g| (w.id, g))).collect();
        insert(
            c,
            "INSERT INTO caseworker_grids (caseworker_id, grid_id) ",
            2,
            &contracts,
            "contracts",
            progress,
            |b, (w, g)| {
                b.push_bind(*w).push_bind(*g);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO visits (id, client_id, building_id, caseworker_id, visited_on, units_registered, pledges_signed, units_found, persons_found, notes) ",
            10,
            &city.visits,
            "visits",
            progress,
            |b, v| {
                b.push_bind(v.id)
                    .push_bind(&v.client_id)
                    .push_bind(v.building_id)
                    .push_bind(v.caseworker_id)
                    .push_bind(fmt_date(v.visited_on))
                    .push_bind(v.units_registered)
                    .push_bind(v.pledges_signed)
                    .push_bind(v.units_found)
                    .push_bind(v.persons_found)
                    .push_bind(&v.notes);
            },
        )
        .await?;
        insert(
            c,
            "INSERT INTO spot_checks (id, caseworker_id, grid_id, checked_on, households_checked, missed_registration, missed_permit, wrong_records) ",
            8,
            &city.spot_checks,
            "spot checks",
            progress,
            |b, s| {
                b.push_bind(s.id)
                    .push_bind(s.caseworker_id)
                    .push_bind(s.grid_id)
                    .push_bind(fmt_date(s.checked_on))
                    .push_bind(s.households_checked)
                    .push_bind(s.missed_registration)
                    .push_bind(s.missed_permit)
                    .push_bind(s.wrong_records);
            },
        )
        .await?;
        insert(c, "INSERT INTO tips (id, building_id, received_on, text) ", 4, &city.tips, "tips", progress, |b, t| {
            b.push_bind(t.id).push_bind(t.building_id).push_bind(fmt_date(t.received_on)).push_bind(&t.text);
        })
        .await?;
        insert(
            c,
            "INSERT INTO demo_hidden (building_id, units, persons) ",
            3,
            &city.hidden,
            "ground truth",
            progress,
            |b, h| {
                b.push_bind(h.building_id).push_bind(h.units).push_bind(h.persons);
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn load_atlas_input(&self) -> Result<AtlasInput> {
        let p = &self.pool;
        let Some(d) = sqlx::query("SELECT code, name, outline FROM districts LIMIT 1").fetch_optional(p).await? else {
            return Err(StoreError::Empty);
        };
        let code: String = d.try_get("code")?;
        let district = District {
            outline: multipolygon("district", &code, d.try_get("outline")?)?,
            name: d.try_get("name")?,
            code,
        };
        let streets = sqlx::query("SELECT code, name, kind FROM streets ORDER BY seq")
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                Ok(Street { code: r.try_get("code")?, kind: StreetKind::from_name(&name), name })
            })
            .collect::<Result<Vec<_>>>()?;
        let communities = sqlx::query("SELECT code, name, street_code, kind FROM communities ORDER BY seq")
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let code: String = r.try_get("code")?;
                let kind: String = r.try_get("kind")?;
                let kind = parse_community_kind(&kind).ok_or_else(|| StoreError::Corrupt {
                    what: "community",
                    id: code.clone(),
                    reason: format!("kind {kind:?}"),
                })?;
                Ok(Community { name: r.try_get("name")?, street_code: r.try_get("street_code")?, kind, code })
            })
            .collect::<Result<Vec<_>>>()?;
        let grids = sqlx::query("SELECT id, code, name, community_code, geom FROM grids ORDER BY id")
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let code: String = r.try_get("code")?;
                Ok(Grid {
                    id: u32_of(r, "id")?,
                    geometry: multipolygon("grid", &code, r.try_get("geom")?)?,
                    name: r.try_get("name")?,
                    community_code: r.try_get("community_code")?,
                    code,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let blocks = sqlx::query("SELECT id, grid_id, geom FROM blocks ORDER BY id")
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let id = u32_of(r, "id")?;
                Ok(Block {
                    id,
                    grid_id: u32_of(r, "grid_id")?,
                    geometry: polygon("block", &id.to_string(), r.try_get("geom")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let roads = sqlx::query("SELECT id, from_node, to_node, class, length_m, geom FROM roads ORDER BY id")
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let id = u32_of(r, "id")?;
                let class: String = r.try_get("class")?;
                Ok(Road {
                    id,
                    from_node: u32_of(r, "from_node")?,
                    to_node: u32_of(r, "to_node")?,
                    class: RoadClass::parse(&class).ok_or_else(|| StoreError::Corrupt {
                        what: "road",
                        id: id.to_string(),
                        reason: format!("class {class:?}"),
                    })?,
                    length_m: r.try_get("length_m")?,
                    line: line("road", &id.to_string(), r.try_get("geom")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let buildings = sqlx::query(
            "SELECT id, COALESCE(external_id, CAST(id AS TEXT)) AS external_id, grid_id, kind, address, floors, dwellings, \
             utility_accounts, lon, lat, footprint FROM buildings ORDER BY id",
        )
        .fetch_all(p)
        .await?
        .iter()
        .map(|r| {
            let id = u32_of(r, "id")?;
            let kind: String = r.try_get("kind")?;
            Ok(Building {
                id,
                external_id: r.try_get("external_id")?,
                grid_id: u32_of(r, "grid_id")?,
                kind: BuildingKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                    what: "building",
                    id: id.to_string(),
                    reason: format!("kind {kind:?}"),
                })?,
                address: r.try_get("address")?,
                floors: u16::try_from(u32_of(r, "floors")?).unwrap_or(u16::MAX),
                dwellings: u32_of(r, "dwellings")?,
                utility_accounts: u32_of(r, "utility_accounts")?,
                point: geo::Point::new(r.try_get("lon")?, r.try_get("lat")?),
                footprint: polygon("building", &id.to_string(), r.try_get("footprint")?)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let mut stats = vec![BuildingStats::default(); buildings.len()];
        let slot = |stats: &mut Vec<BuildingStats>, id: u32| -> Result<usize> {
            let i = id as usize;
            if i < stats.len() {
                Ok(i)
            } else {
                Err(StoreError::Corrupt {
                    what: "row",
                    id: id.to_string(),
                    reason: "refers to a missing building".into(),
                })
            }
        };
        for r in sqlx::query(
            "SELECT building_id, COUNT(*) AS n, SUM(registered) AS reg, SUM(registered AND pledge_signed) AS pledged \
             FROM rental_units GROUP BY building_id",
        )
        .fetch_all(p)
        .await?
        {
            let i = slot(&mut stats, u32_of(&r, "building_id")?)?;
            stats[i].rental_units = u32_of(&r, "n")?;
            stats[i].rental_units_registered = u32_of(&r, "reg")?;
            stats[i].pledges_signed = u32_of(&r, "pledged")?;
        }
        for r in sqlx::query(
            "SELECT building_id, COUNT(*) AS n, SUM(registered) AS reg, SUM(registered AND permit) AS permit, \
             SUM(registered AND consistent) AS consistent FROM persons GROUP BY building_id",
        )
        .fetch_all(p)
        .await?
        {
            let i = slot(&mut stats, u32_of(&r, "building_id")?)?;
            stats[i].persons = u32_of(&r, "n")?;
            stats[i].persons_registered = u32_of(&r, "reg")?;
            stats[i].persons_with_permit = u32_of(&r, "permit")?;
            stats[i].persons_consistent = u32_of(&r, "consistent")?;
        }
        for r in sqlx::query("SELECT building_id, COUNT(*) AS n FROM visits GROUP BY building_id").fetch_all(p).await? {
            let i = slot(&mut stats, u32_of(&r, "building_id")?)?;
            stats[i].visits = u32_of(&r, "n")?;
        }
        let workplaces = sqlx::query(
            "SELECT id, name, building_id, grid_id, lon, lat, employees, migrant_workers, responsibility_signed, \
             contracts_signed, insured FROM workplaces ORDER BY id",
        )
        .fetch_all(p)
        .await?
        .iter()
        .map(|r| {
            Ok(Workplace {
                id: u32_of(r, "id")?,
                name: r.try_get("name")?,
                building_id: r.try_get::<Option<i64>, _>("building_id")?.map(|b| b as u32),
                grid_id: u32_of(r, "grid_id")?,
                point: geo::Point::new(r.try_get("lon")?, r.try_get("lat")?),
                employees: u32_of(r, "employees")?,
                migrant_workers: u32_of(r, "migrant_workers")?,
                responsibility_signed: r.try_get("responsibility_signed")?,
                contracts_signed: u32_of(r, "contracts_signed")?,
                insured: u32_of(r, "insured")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(AtlasInput {
            district,
            streets,
            communities,
            grids,
            blocks,
            roads,
            buildings,
            building_stats: stats,
            workplaces,
        })
    }

    async fn record_visit(&self, v: &NewVisit) -> Result<VisitOutcome> {
        let request = serde_json::to_string(v).unwrap_or_default();
        let mut tx = self.pool.begin().await?;
        if let Some(row) =
            sqlx::query("SELECT * FROM visits WHERE client_id = ?").bind(&v.client_id).fetch_optional(&mut *tx).await?
        {
            let stored: Option<String> = row.try_get("request")?;
            if stored.as_deref() != Some(request.as_str()) {
                return Err(StoreError::ClientIdConflict(v.client_id.clone()));
            }
            let visit = visit_from_row(&row)?;
            return Ok(VisitOutcome {
                delta: StatsDelta { building_id: visit.building_id, ..StatsDelta::default() },
                visit,
                replayed: true,
                campaign_block: None,
            });
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM buildings WHERE id = ?")
            .bind(v.building_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound { what: "building", id: v.building_id.to_string() });
        }
        if let Some(cw) = v.caseworker_id {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT id FROM caseworkers WHERE id = ?").bind(cw).fetch_optional(&mut *tx).await?;
            if found.is_none() {
                return Err(StoreError::Rejected(format!("caseworker {cw} does not exist")));
            }
        }
        let day = fmt_date(v.visited_on);
        let campaign_block = match v.campaign_id {
            Some(c) => Some((c, super::campaigns::sqlite::block_of(&mut tx, c, v.building_id).await?)),
            None => None,
        };
        let mut delta = StatsDelta { building_id: v.building_id, visits: 1, ..StatsDelta::default() };

        check_members(&mut tx, "rental_units", "rental unit", v.building_id, &v.register_units).await?;
        check_members(&mut tx, "rental_units", "rental unit", v.building_id, &v.pledge_units).await?;
        check_members(&mut tx, "persons", "person", v.building_id, &v.register_persons).await?;

        delta.rental_units_registered += update_in(
            &mut tx,
            "UPDATE rental_units SET registered = 1, registered_on = ",
            Some(&day),
            "registered = 0",
            &v.register_units,
        )
        .await?;
        if !v.pledge_units.is_empty() {
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM rental_units WHERE registered = 0 AND id IN ");
            qb.push_tuples(&v.pledge_units, |mut b, id| {
                b.push_bind(*id);
            });
            let unregistered: i64 = qb.build_query_scalar().fetch_one(&mut *tx).await?;
            if unregistered > 0 {
                return Err(StoreError::Rejected(
                    "a safety pledge can only be recorded for a registered rental unit: register it in the same visit"
                        .into(),
                ));
            }
        }
        delta.pledges_signed +=
            update_in(&mut tx, "UPDATE rental_units SET pledge_signed = 1", None, "pledge_signed = 0", &v.pledge_units)
                .await?;
        // A person registered at the door is registered at the address where they were found,
        // so they count as 人户一致 (living at their registered address).
        let newly = update_in(
            &mut tx,
            "UPDATE persons SET consistent = 1, registered = 1, registered_on = ",
            Some(&day),
            "registered = 0",
            &v.register_persons,
        )
        .await?;
        delta.persons_registered += newly;
        delta.persons_consistent += newly;

        let mut persons_found = 0;
        for u in &v.new_units {
            sqlx::query(
                "INSERT INTO rental_units (building_id, landlord_id, label, registered, registered_on, pledge_signed, tenants, mode, concentrated) \
                 VALUES (?, NULL, ?, ?, ?, ?, ?, 'self_managed', 0)",
            )
            .bind(v.building_id)
            .bind(&u.label)
            .bind(u.registered)
            .bind(u.registered.then(|| day.clone()))
            .bind(u.registered && u.pledge_signed)
            .bind(u.tenants)
            .execute(&mut *tx)
            .await?;
            delta.rental_units += 1;
            delta.rental_units_registered += u32::from(u.registered);
            delta.pledges_signed += u32::from(u.registered && u.pledge_signed);
            persons_found += u.tenants;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO visits (client_id, building_id, caseworker_id, visited_on, units_registered, pledges_signed, units_found, persons_found, notes, request, campaign_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&v.client_id)
        .bind(v.building_id)
        .bind(v.caseworker_id)
        .bind(&day)
        .bind(delta.rental_units_registered)
        .bind(delta.pledges_signed)
        .bind(v.new_units.len() as u32)
        .bind(persons_found)
        .bind(&v.notes)
        .bind(&request)
        .bind(v.campaign_id)
        .fetch_one(&mut *tx)
        .await?;
        let campaign_block = match campaign_block {
            Some((c, block)) => Some(super::campaigns::sqlite::after_visit(&mut tx, c, block).await?),
            None => None,
        };
        tx.commit().await?;
        let visit = Visit {
            id: id as u32,
            client_id: v.client_id.clone(),
            building_id: v.building_id,
            caseworker_id: v.caseworker_id,
            visited_on: v.visited_on,
            units_registered: delta.rental_units_registered,
            pledges_signed: delta.pledges_signed,
            units_found: v.new_units.len() as u32,
            persons_found,
            notes: v.notes.clone(),
        };
        Ok(VisitOutcome { visit, replayed: false, delta, campaign_block })
    }

    async fn import_buildings(&self, buildings: &[ImportedBuilding], progress: Progress<'_>) -> Result<ImportCounts> {
        let mut tx = self.pool.begin().await?;
        let c = &mut *tx;
        let mut existing: HashSet<String> = HashSet::new();
        for chunk in buildings.chunks(IMPORT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT external_id FROM buildings WHERE external_id IN ");
            qb.push_tuples(chunk, |mut b, x| {
                b.push_bind(&x.external_id);
            });
            for row in qb.build().fetch_all(&mut *c).await? {
                existing.insert(row.try_get("external_id")?);
            }
        }
        let (old, new): (Vec<&ImportedBuilding>, Vec<&ImportedBuilding>) =
            buildings.iter().partition(|b| existing.contains(&b.external_id));
        let next: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), -1) + 1 FROM buildings").fetch_one(&mut *c).await?;
        let new: Vec<(i64, &ImportedBuilding)> =
            new.into_iter().enumerate().map(|(i, b)| (next + i as i64, b)).collect();
        insert_then(
            c,
            "INSERT INTO buildings (id, external_id, grid_id, kind, address, floors, dwellings, utility_accounts, lon, lat, footprint) ",
            "",
            IMPORT_CHUNK,
            &new,
            "new buildings",
            progress,
            |q, (id, b)| {
                q.push_bind(*id)
                    .push_bind(&b.external_id)
                    .push_bind(b.grid_id)
                    .push_bind(b.kind.as_str())
                    .push_bind(&b.address)
                    .push_bind(u32::from(b.floors))
                    .push_bind(b.dwellings)
                    .push_bind(b.utility_accounts)
                    .push_bind(b.point.x())
                    .push_bind(b.point.y())
                    .push_bind(to_geojson(b.footprint.clone()));
            },
        )
        .await?;
        insert_then(
            c,
            "UPDATE buildings SET grid_id = v.column2, kind = v.column3, address = v.column4, floors = v.column5, \
             dwellings = v.column6, utility_accounts = v.column7, lon = v.column8, lat = v.column9, footprint = v.column10 \
             FROM (",
            ") AS v WHERE buildings.external_id = v.column1",
            IMPORT_CHUNK,
            &old,
            "updated buildings",
            progress,
            |q, b| {
                q.push_bind(&b.external_id)
                    .push_bind(b.grid_id)
                    .push_bind(b.kind.as_str())
                    .push_bind(&b.address)
                    .push_bind(u32::from(b.floors))
                    .push_bind(b.dwellings)
                    .push_bind(b.utility_accounts)
                    .push_bind(b.point.x())
                    .push_bind(b.point.y())
                    .push_bind(to_geojson(b.footprint.clone()));
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 })
    }

    async fn import_units(&self, units: &[ImportedUnit], progress: Progress<'_>) -> Result<ImportCounts> {
        let mut tx = self.pool.begin().await?;
        let c = &mut *tx;
        let numbers: Vec<&str> = units
            .iter()
            .filter_map(|u| u.unit.landlord.as_ref().map(|l| l.id_number.as_str()).filter(|n| !n.is_empty()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut known: HashMap<String, i64> = HashMap::new();
        for chunk in numbers.chunks(IMPORT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT id, id_number FROM landlords WHERE id_number IN ");
            qb.push_tuples(chunk, |mut b, n| {
                b.push_bind(*n);
            });
            for row in qb.build().fetch_all(&mut *c).await? {
                known.entry(row.try_get("id_number")?).or_insert(row.try_get("id")?);
            }
        }
        let next: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), -1) + 1 FROM landlords").fetch_one(&mut *c).await?;
        let (landlord_ids, new_landlords) = assign_landlords(units, &mut known, next);
        insert(
            c,
            "INSERT INTO landlords (id, name, id_number, phone) ",
            4,
            &new_landlords,
            "landlords",
            progress,
            |b, (id, l)| {
                b.push_bind(*id).push_bind(&l.name).push_bind(&l.id_number).push_bind(&l.phone);
            },
        )
        .await?;
        let mut existing: HashSet<String> = HashSet::new();
        for chunk in units.chunks(IMPORT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT external_id FROM rental_units WHERE external_id IN ");
            qb.push_tuples(chunk, |mut b, u| {
                b.push_bind(&u.external_id);
            });
            for row in qb.build().fetch_all(&mut *c).await? {
                existing.insert(row.try_get("external_id")?);
            }
        }
        let rows: Vec<(&ImportedUnit, Option<i64>)> = units.iter().zip(landlord_ids).collect();
        insert_then(
            c,
            "INSERT INTO rental_units (external_id, building_id, landlord_id, label, registered, registered_on, pledge_signed, tenants, mode, concentrated) ",
            UPSERT_UNIT,
            IMPORT_CHUNK,
            &rows,
            "rental units",
            progress,
            |b, (u, landlord)| {
                b.push_bind(&u.external_id)
                    .push_bind(u.building_id)
                    .push_bind(*landlord)
                    .push_bind(&u.unit.label)
                    .push_bind(u.unit.registered)
                    .push_bind(u.unit.registered_on.map(fmt_date))
                    .push_bind(u.unit.pledge_signed)
                    .push_bind(u.unit.tenants)
                    .push_bind(u.unit.mode.as_str())
                    .push_bind(u.unit.concentrated);
            },
        )
        .await?;
        tx.commit().await?;
        let updated = units.iter().filter(|u| existing.contains(&u.external_id)).count() as u64;
        Ok(ImportCounts {
            inserted: units.len() as u64 - updated,
            updated,
            landlords_added: new_landlords.len() as u64,
        })
    }

    async fn import_ledger(&self, rows: LedgerRows<'_>, progress: Progress<'_>) -> Result<ImportCounts> {
        super::ledgers::sqlite::import(&self.pool, rows, progress).await
    }

    async fn keys(&self, of: Keyed) -> Result<Keys> {
        super::ledgers::sqlite::keys(&self.pool, of).await
    }

    async fn ledger(&self, which: Ledger) -> Result<Vec<Vec<Cell>>> {
        super::ledgers::sqlite::ledger(&self.pool, &ledger_sql(which, ("w.lon", "w.lat")), cell).await
    }

    async fn evidence(&self) -> Result<super::campaigns::StoredEvidence> {
        super::campaigns::sqlite::evidence(&self.pool, visit_from_row).await
    }

    async fn create_campaign(&self, c: &super::campaigns::NewCampaign) -> Result<u32> {
        super::campaigns::sqlite::create(&self.pool, c).await
    }

    async fn campaigns(&self, only: Option<u32>) -> Result<Vec<super::campaigns::StoredCampaign>> {
        super::campaigns::sqlite::read(&self.pool, only).await
    }

    async fn advance_block(
        &self,
        campaign: u32,
        block: u32,
        to: rentgrid_analysis::sweep::Phase,
    ) -> Result<rentgrid_analysis::sweep::BlockProgress> {
        super::campaigns::sqlite::advance(&self.pool, campaign, block, to).await
    }

    async fn monthly_registrations(&self) -> Result<Vec<rentgrid_geodata::MonthlyRegistrations>> {
        let [persons, units] = super::monthly_registrations_sql(|c| format!("substr({c}, 1, 7)"));
        let persons = sqlx::query_as(&persons).fetch_all(&self.pool).await?;
        let units = sqlx::query_as(&units).fetch_all(&self.pool).await?;
        super::merge_monthly_registrations(persons, units)
    }

    async fn caseworkers(&self) -> Result<Vec<rentgrid_geodata::Caseworker>> {
        super::contracts::sqlite::caseworkers(&self.pool).await
    }

    async fn month_activity(&self, month: rentgrid_geodata::Month) -> Result<super::contracts::MonthActivity> {
        super::contracts::sqlite::month_activity(&self.pool, month).await
    }

    async fn save_proposal(&self, proposal: &super::contracts::NewProposal) -> Result<i64> {
        super::contracts::sqlite::save_proposal(&self.pool, proposal).await
    }

    async fn proposal(&self, id: i64) -> Result<Option<super::contracts::StoredProposal>> {
        super::contracts::sqlite::proposal(&self.pool, id).await
    }

    async fn accept_proposal(
        &self,
        id: i64,
        acceptance: &super::contracts::Acceptance,
    ) -> Result<super::contracts::Accepted> {
        super::contracts::sqlite::accept(&self.pool, id, acceptance).await
    }
}

fn visit_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Visit> {
    let day: String = row.try_get("visited_on")?;
    let id = u32_of(row, "id")?;
    Ok(Visit {
        id,
        client_id: row.try_get("client_id")?,
        building_id: u32_of(row, "building_id")?,
        caseworker_id: row.try_get::<Option<i64>, _>("caseworker_id")?.map(|c| c as u32),
        visited_on: parse_date(&day).ok_or_else(|| StoreError::Corrupt {
            what: "visit",
            id: id.to_string(),
            reason: format!("date {day:?}"),
        })?,
        units_registered: u32_of(row, "units_registered")?,
        pledges_signed: u32_of(row, "pledges_signed")?,
        units_found: u32_of(row, "units_found")?,
        persons_found: u32_of(row, "persons_found")?,
        notes: row.try_get("notes")?,
    })
}

/// Fails unless every id in `ids` is a row of `table` in `building`.
async fn check_members(
    tx: &mut SqliteConnection,
    table: &'static str,
    what: &'static str,
    building: u32,
    ids: &[u32],
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT id FROM {table} WHERE building_id = "));
    qb.push_bind(building).push(" AND id IN ");
    qb.push_tuples(ids, |mut b, id| {
        b.push_bind(*id);
    });
    let found: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
    if let Some(missing) = ids.iter().find(|id| !found.contains(&i64::from(**id))) {
        return Err(StoreError::Rejected(format!("{what} {missing} is not in building {building}")));
    }
    Ok(())
}

/// Runs `update [value] WHERE cond AND id IN (ids…)` and returns how many rows changed.
async fn update_in(
    tx: &mut SqliteConnection,
    update: &str,
    value: Option<&str>,
    cond: &str,
    ids: &[u32],
) -> Result<u32> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut qb = QueryBuilder::<Sqlite>::new(update);
    if let Some(v) = value {
        qb.push_bind(v.to_string());
    }
    qb.push(" WHERE ").push(cond).push(" AND id IN ");
    qb.push_tuples(ids, |mut b, id| {
        b.push_bind(*id);
    });
    let done = qb.build().execute(&mut *tx).await?;
    Ok(done.rows_affected() as u32)
}

/// A cell of any type, as SQLite holds it.
fn cell(r: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Cell> {
    let raw = r.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let ty = raw.type_info().name().to_string();
    Ok(match ty.as_str() {
        "INTEGER" | "BOOLEAN" => Cell::Int(r.try_get(i)?),
        "REAL" => Cell::Num(r.try_get(i)?),
        _ => Cell::Text(r.try_get(i)?),
    })
}
