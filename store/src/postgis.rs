//! The production store: PostgreSQL with PostGIS, through sqlx. Geometry lives in real
//! `geometry(…, 4326)` columns with GiST indexes and travels as WKB, exactly. Bulk writes send
//! whole columns as arrays (`UNNEST`), so a city takes a few statements per table, not a round
//! trip per row.

use super::imports::{UPSERT_UNIT, assign_landlords};
use super::names::{parse_community_kind, street_kind_str};
use super::wkb;
use super::{Cell, Keyed, Keys, Ledger, LedgerRows, ledger_sql};
use super::{IMPORT_CHUNK, ImportCounts, NewVisit, Progress, Result, Store, StoreError, StoreInfo, VisitOutcome};
use async_trait::async_trait;
use geo::{Geometry, MultiPolygon, Point, Polygon};
use rentgrid_geodata::atlas::BuildingStats;
use rentgrid_geodata::import::buildings::ImportedBuilding;
use rentgrid_geodata::import::units::ImportedUnit;
use rentgrid_geodata::{
    AtlasInput, Block, Building, BuildingKind, City, Community, District, Grid, Road, RoadClass, StatsDelta, Street,
    StreetKind, Visit, Workplace,
};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::query_builder::Separated;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use sqlx::{TypeInfo, ValueRef};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use time::Date;

/// The PostGIS migrations, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per bulk statement.
const CHUNK: usize = 20_000;

/// The PostGIS store.
#[derive(Debug, Clone)]
pub struct PostgisStore {
    pool: PgPool,
    location: String,
}

fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Binds a geometry as WKB, made a PostGIS geometry in SRID 4326.
pub(crate) fn bind_geometry(b: &mut Separated<'_, '_, Postgres, &'static str>, g: Geometry<f64>) {
    b.push("ST_GeomFromWKB(").push_bind_unseparated(wkb::encode(&g)).push_unseparated(", 4326)");
}

/// Locks `table` against other writers until the transaction ends (readers go on).
pub(crate) async fn lock_table(c: &mut PgConnection, table: &'static str) -> Result<()> {
    sqlx::query(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")).execute(c).await?;
    Ok(())
}

fn u32_of(row: &PgRow, col: &str) -> Result<u32> {
    let v: i64 = match row.try_get::<i64, _>(col) {
        Ok(v) => v,
        Err(_) => i64::from(row.try_get::<i32, _>(col)?),
    };
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        what: "row",
        id: col.to_string(),
        reason: format!("{v} is out of range"),
    })
}

fn geometry(row: &PgRow, col: &str, what: &'static str, id: &str) -> Result<Geometry<f64>> {
    let bytes: Vec<u8> = row.try_get(col)?;
    wkb::decode(&bytes).map_err(|reason| StoreError::Corrupt { what, id: id.to_string(), reason })
}

fn multipolygon(row: &PgRow, col: &str, what: &'static str, id: &str) -> Result<MultiPolygon<f64>> {
    match geometry(row, col, what, id)? {
        Geometry::MultiPolygon(m) => Ok(m),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        _ => Err(StoreError::Corrupt { what, id: id.to_string(), reason: "expected a polygon".into() }),
    }
}

fn polygon(row: &PgRow, col: &str, what: &'static str, id: &str) -> Result<Polygon<f64>> {
    match geometry(row, col, what, id)? {
        Geometry::Polygon(p) => Ok(p),
        _ => Err(StoreError::Corrupt { what, id: id.to_string(), reason: "expected a Polygon".into() }),
    }
}

fn point(row: &PgRow, col: &str, what: &'static str, id: &str) -> Result<Point<f64>> {
    match geometry(row, col, what, id)? {
        Geometry::Point(p) => Ok(p),
        _ => Err(StoreError::Corrupt { what, id: id.to_string(), reason: "expected a Point".into() }),
    }
}

fn wkb_of(g: impl Into<Geometry<f64>>) -> Vec<u8> {
    wkb::encode(&g.into())
}

impl PostgisStore {
    /// Connects to `url` (postgres://…). Does not touch the schema: see [`Self::migrate`] and
    /// [`Self::check_schema`].
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let location = format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        let pool = PgPoolOptions::new().max_connections(8).connect_with(options).await?;
        Ok(Self { pool, location })
    }

    /// Applies pending migrations (creates the PostGIS extension if it is missing).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Fails unless the database holds exactly the schema this build knows, saying what to do.
    pub async fn check_schema(&self) -> Result<()> {
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&self.pool).await?;
        let run = format!("run `rentgrid migrate --database-url {}` first", self.location);
        if !has_table {
            return Err(StoreError::Schema(format!("{} has no rentgrid schema: {run}", self.location)));
        }
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.pool)
                .await?;
        let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        if let Some(v) = applied.iter().find(|v| !known.contains(v)) {
            return Err(StoreError::Schema(format!(
                "{} has schema migration {v}, which this rentgrid does not know: upgrade rentgrid",
                self.location
            )));
        }
        if let Some(v) = known.iter().find(|v| !applied.contains(v)) {
            return Err(StoreError::Schema(format!("{} lacks schema migration {v}: {run}", self.location)));
        }
        Ok(())
    }

    /// Empties every table of the register (for `rentgrid demo --force`), in one statement.
    pub async fn clear(&self) -> Result<()> {
        sqlx::query(
            "TRUNCATE meta, districts, streets, communities, grids, blocks, roads, buildings, landlords, rental_units, \
             households, workplaces, persons, caseworkers, caseworker_grids, visits, spot_checks, tips, demo_hidden, \
             territory_proposals, territory_audit, \
             campaigns, campaign_blocks, campaign_buildings \
             RESTART IDENTITY CASCADE",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Runs `f` over `rows` in chunks, reporting progress.
async fn chunked<T, F>(conn: &mut PgConnection, rows: &[T], label: &str, progress: Progress<'_>, mut f: F) -> Result<()>
where
    F: for<'c> FnMut(&'c [T]) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>,
{
    let total = rows.len() as u64;
    progress(label, 0, total);
    let mut done = 0u64;
    for chunk in rows.chunks(CHUNK) {
        f(chunk).execute(&mut *conn).await?;
        done += chunk.len() as u64;
        progress(label, done, total);
    }
    Ok(())
}

#[async_trait]
impl Store for PostgisStore {
    async fn info(&self) -> Result<StoreInfo> {
        let origin: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'origin'").fetch_optional(&self.pool).await?;
        Ok(StoreInfo { backend: "postgis", location: self.location.clone(), origin })
    }

    async fn is_empty(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM districts").fetch_one(&self.pool).await?;
        Ok(n == 0)
    }

    async fn save_city(&self, city: &City, origin: &str, progress: Progress<'_>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // One writer at a time, and a second seed sees the first one's district.
        sqlx::query("LOCK TABLE districts IN EXCLUSIVE MODE").execute(&mut *tx).await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM districts").fetch_one(&mut *tx).await?;
        if n > 0 {
            return Err(StoreError::NotEmpty);
        }
        let c = &mut *tx;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('origin', $1)").bind(origin).execute(&mut *c).await?;
        sqlx::query("INSERT INTO districts (code, name, outline) VALUES ($1, $2, ST_GeomFromWKB($3, 4326))")
            .bind(&city.district.code)
            .bind(&city.district.name)
            .bind(wkb_of(city.district.outline.clone()))
            .execute(&mut *c)
            .await?;
        let streets: Vec<(usize, &Street)> = city.streets.iter().enumerate().collect();
        chunked(c, &streets, "streets", progress, |rows| {
            sqlx::query("INSERT INTO streets (code, name, kind, seq) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[])")
                .bind(rows.iter().map(|(_, s)| s.code.clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|(_, s)| s.name.clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|(_, s)| street_kind_str(s.kind).to_string()).collect::<Vec<_>>())
                .bind(rows.iter().map(|(i, _)| *i as i32).collect::<Vec<_>>())
        })
        .await?;
        let comms: Vec<(usize, &Community)> = city.communities.iter().enumerate().collect();
        chunked(c, &comms, "communities", progress, |rows| {
            sqlx::query(
                "INSERT INTO communities (code, name, street_code, kind, seq) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[])",
            )
            .bind(rows.iter().map(|(_, x)| x.code.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, x)| x.name.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, x)| x.street_code.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, x)| super::names::community_kind_str(x.kind).to_string()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(i, _)| *i as i32).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.grids, "grids", progress, |rows| {
            sqlx::query(
                "INSERT INTO grids (id, code, name, community_code, geom) \
                 SELECT id, code, name, cc, ST_GeomFromWKB(g, 4326) \
                 FROM UNNEST($1::int4[], $2::text[], $3::text[], $4::text[], $5::bytea[]) AS t(id, code, name, cc, g)",
            )
            .bind(rows.iter().map(|g| int(g.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|g| g.code.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|g| g.name.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|g| g.community_code.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|g| wkb_of(g.geometry.clone())).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.blocks, "blocks", progress, |rows| {
            sqlx::query(
                "INSERT INTO blocks (id, grid_id, geom) SELECT id, grid_id, ST_GeomFromWKB(g, 4326) \
                 FROM UNNEST($1::int4[], $2::int4[], $3::bytea[]) AS t(id, grid_id, g)",
            )
            .bind(rows.iter().map(|b| int(b.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| int(b.grid_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| wkb_of(b.geometry.clone())).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.roads, "roads", progress, |rows| {
            sqlx::query(
                "INSERT INTO roads (id, from_node, to_node, class, length_m, geom) \
                 SELECT id, f, t, c, l, ST_GeomFromWKB(g, 4326) \
                 FROM UNNEST($1::int4[], $2::int4[], $3::int4[], $4::text[], $5::float8[], $6::bytea[]) AS x(id, f, t, c, l, g)",
            )
            .bind(rows.iter().map(|r| int(r.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| int(r.from_node)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| int(r.to_node)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.class.as_str().to_string()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.length_m).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| wkb_of(r.line.clone())).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.buildings, "buildings", progress, |rows| {
            sqlx::query(
                "INSERT INTO buildings (id, grid_id, kind, address, floors, dwellings, utility_accounts, point, footprint, external_id) \
                 SELECT id, g, k, a, f, d, u, ST_GeomFromWKB(p, 4326), ST_GeomFromWKB(fp, 4326), e \
                 FROM UNNEST($1::int4[], $2::int4[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::int4[], $8::bytea[], $9::bytea[], $10::text[]) \
                 AS t(id, g, k, a, f, d, u, p, fp, e)",
            )
            .bind(rows.iter().map(|b| int(b.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| int(b.grid_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| b.kind.as_str().to_string()).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| b.address.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| i32::from(b.floors)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| int(b.dwellings)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| int(b.utility_accounts)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| wkb_of(b.point)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| wkb_of(b.footprint.clone())).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| b.external_id.clone()).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.landlords, "landlords", progress, |rows| {
            sqlx::query("INSERT INTO landlords (id, name, id_number, phone) SELECT * FROM UNNEST($1::int4[], $2::text[], $3::text[], $4::text[])")
                .bind(rows.iter().map(|l| int(l.id)).collect::<Vec<_>>())
                .bind(rows.iter().map(|l| l.name.clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|l| l.id_number.clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|l| l.phone.clone()).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.rental_units, "rental units", progress, |rows| {
            sqlx::query(
                "INSERT INTO rental_units (id, building_id, landlord_id, label, registered, registered_on, pledge_signed, tenants, mode, concentrated, external_id) \
                 SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::int4[], $4::text[], $5::bool[], $6::date[], $7::bool[], $8::int4[], $9::text[], $10::bool[], $11::text[])",
            )
            .bind(rows.iter().map(|u| int(u.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| int(u.building_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| u.landlord_id.map(int)).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| u.label.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| u.registered).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| u.registered_on).collect::<Vec<Option<Date>>>())
            .bind(rows.iter().map(|u| u.pledge_signed).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| int(u.tenants)).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| u.mode.as_str().to_string()).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| u.concentrated).collect::<Vec<_>>())
            .bind(rows.iter().map(|u| u.id.to_string()).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.households, "households", progress, |rows| {
            sqlx::query("INSERT INTO households (id, rental_unit_id, card_no) SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::text[])")
                .bind(rows.iter().map(|h| int(h.id)).collect::<Vec<_>>())
                .bind(rows.iter().map(|h| int(h.rental_unit_id)).collect::<Vec<_>>())
                .bind(rows.iter().map(|h| h.card_no.clone()).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.workplaces, "workplaces", progress, |rows| {
            sqlx::query(
                "INSERT INTO workplaces (id, name, building_id, grid_id, point, employees, migrant_workers, responsibility_signed, contracts_signed, insured) \
                 SELECT id, n, b, g, ST_GeomFromWKB(p, 4326), e, m, r, c, i \
                 FROM UNNEST($1::int4[], $2::text[], $3::int4[], $4::int4[], $5::bytea[], $6::int4[], $7::int4[], $8::bool[], $9::int4[], $10::int4[]) \
                 AS t(id, n, b, g, p, e, m, r, c, i)",
            )
            .bind(rows.iter().map(|w| int(w.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| w.name.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| w.building_id.map(int)).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| int(w.grid_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| wkb_of(w.point)).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| int(w.employees)).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| int(w.migrant_workers)).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| w.responsibility_signed).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| int(w.contracts_signed)).collect::<Vec<_>>())
            .bind(rows.iter().map(|w| int(w.insured)).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.persons, "persons", progress, |rows| {
            sqlx::query(
                "INSERT INTO persons (id, household_id, building_id, name, id_number, phone, registered, registered_on, permit, consistent, workplace_id) \
                 SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::date[], $9::bool[], $10::bool[], $11::int4[])",
            )
            .bind(rows.iter().map(|p| int(p.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| int(p.household_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| int(p.building_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| p.id_number.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| p.phone.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| p.registered).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| p.registered_on).collect::<Vec<Option<Date>>>())
            .bind(rows.iter().map(|p| p.permit).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| p.consistent).collect::<Vec<_>>())
            .bind(rows.iter().map(|p| p.workplace_id.map(int)).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.caseworkers, "caseworkers", progress, |rows| {
            sqlx::query("INSERT INTO caseworkers (id, name, street_code) SELECT * FROM UNNEST($1::int4[], $2::text[], $3::text[])")
                .bind(rows.iter().map(|w| int(w.id)).collect::<Vec<_>>())
                .bind(rows.iter().map(|w| w.name.clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|w| w.street_code.clone()).collect::<Vec<_>>())
        })
        .await?;
        let contracts: Vec<(u32, u32)> =
            city.caseworkers.iter().flat_map(|w| w.grids.iter().map(move |&g| (w.id, g))).collect();
        chunked(c, &contracts, "contracts", progress, |rows| {
            sqlx::query(
                "INSERT INTO caseworker_grids (caseworker_id, grid_id) SELECT * FROM UNNEST($1::int4[], $2::int4[])",
            )
            .bind(rows.iter().map(|(w, _)| int(*w)).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, g)| int(*g)).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.visits, "visits", progress, |rows| {
            sqlx::query(
                "INSERT INTO visits (id, client_id, building_id, caseworker_id, visited_on, units_registered, pledges_signed, units_found, persons_found, notes) \
                 SELECT * FROM UNNEST($1::int4[], $2::text[], $3::int4[], $4::int4[], $5::date[], $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::text[])",
            )
            .bind(rows.iter().map(|v| int(v.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| v.client_id.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| int(v.building_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| v.caseworker_id.map(int)).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| v.visited_on).collect::<Vec<Date>>())
            .bind(rows.iter().map(|v| int(v.units_registered)).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| int(v.pledges_signed)).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| int(v.units_found)).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| int(v.persons_found)).collect::<Vec<_>>())
            .bind(rows.iter().map(|v| v.notes.clone()).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.spot_checks, "spot checks", progress, |rows| {
            sqlx::query(
                "INSERT INTO spot_checks (id, caseworker_id, grid_id, checked_on, households_checked, missed_registration, missed_permit, wrong_records) \
                 SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::int4[], $4::date[], $5::int4[], $6::int4[], $7::int4[], $8::int4[])",
            )
            .bind(rows.iter().map(|s| int(s.id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|s| int(s.caseworker_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|s| int(s.grid_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|s| s.checked_on).collect::<Vec<Date>>())
            .bind(rows.iter().map(|s| int(s.households_checked)).collect::<Vec<_>>())
            .bind(rows.iter().map(|s| int(s.missed_registration)).collect::<Vec<_>>())
            .bind(rows.iter().map(|s| int(s.missed_permit)).collect::<Vec<_>>())
            .bind(rows.iter().map(|s| int(s.wrong_records)).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.tips, "tips", progress, |rows| {
            sqlx::query("INSERT INTO tips (id, building_id, received_on, text) SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::date[], $4::text[])")
                .bind(rows.iter().map(|t| int(t.id)).collect::<Vec<_>>())
                .bind(rows.iter().map(|t| int(t.building_id)).collect::<Vec<_>>())
                .bind(rows.iter().map(|t| t.received_on).collect::<Vec<Date>>())
                .bind(rows.iter().map(|t| t.text.clone()).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &city.hidden, "ground truth", progress, |rows| {
            sqlx::query("INSERT INTO demo_hidden (building_id, units, persons) SELECT * FROM UNNEST($1::int4[], $2::int4[], $3::int4[])")
                .bind(rows.iter().map(|h| int(h.building_id)).collect::<Vec<_>>())
                .bind(rows.iter().map(|h| int(h.units)).collect::<Vec<_>>())
                .bind(rows.iter().map(|h| int(h.persons)).collect::<Vec<_>>())
        })
        .await?;
        // Explicit ids were inserted: move the sequences past them.
        for table in ["rental_units", "visits"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut *c)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn load_atlas_input(&self) -> Result<AtlasInput> {
        let p = &self.pool;
        let Some(d) = sqlx::query("SELECT code, name, ST_AsBinary(outline) AS outline FROM districts LIMIT 1")
            .fetch_optional(p)
            .await?
        else {
            return Err(StoreError::Empty);
        };
        let code: String = d.try_get("code")?;
        let district =
            District { outline: multipolygon(&d, "outline", "district", &code)?, name: d.try_get("name")?, code };
        let streets = sqlx::query("SELECT code, name FROM streets ORDER BY seq")
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
        let grids =
            sqlx::query("SELECT id, code, name, community_code, ST_AsBinary(geom) AS geom FROM grids ORDER BY id")
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    let code: String = r.try_get("code")?;
                    Ok(Grid {
                        id: u32_of(r, "id")?,
                        geometry: multipolygon(r, "geom", "grid", &code)?,
                        name: r.try_get("name")?,
                        community_code: r.try_get("community_code")?,
                        code,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let blocks = sqlx::query("SELECT id, grid_id, ST_AsBinary(geom) AS geom FROM blocks ORDER BY id")
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                let id = u32_of(r, "id")?;
                Ok(Block {
                    id,
                    grid_id: u32_of(r, "grid_id")?,
                    geometry: polygon(r, "geom", "block", &id.to_string())?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let roads = sqlx::query(
            "SELECT id, from_node, to_node, class, length_m, ST_AsBinary(geom) AS geom FROM roads ORDER BY id",
        )
        .fetch_all(p)
        .await?
        .iter()
        .map(|r| {
            let id = u32_of(r, "id")?;
            let class: String = r.try_get("class")?;
            let line = match geometry(r, "geom", "road", &id.to_string())? {
                Geometry::LineString(l) => l,
                _ => {
                    return Err(StoreError::Corrupt {
                        what: "road",
                        id: id.to_string(),
                        reason: "expected a LineString".into(),
                    });
                }
            };
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
                line,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let buildings = sqlx::query(
            "SELECT id, COALESCE(external_id, CAST(id AS TEXT)) AS external_id, grid_id, kind, address, floors, dwellings, \
             utility_accounts, ST_AsBinary(point) AS point, ST_AsBinary(footprint) AS footprint FROM buildings ORDER BY id",
        )
        .fetch_all(p)
        .await?
        .iter()
        .map(|r| {
            let id = u32_of(r, "id")?;
            let sid = id.to_string();
            let kind: String = r.try_get("kind")?;
            Ok(Building {
                id,
                external_id: r.try_get("external_id")?,
                grid_id: u32_of(r, "grid_id")?,
                kind: BuildingKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                    what: "building",
                    id: sid.clone(),
                    reason: format!("kind {kind:?}"),
                })?,
                address: r.try_get("address")?,
                floors: u16::try_from(u32_of(r, "floors")?).unwrap_or(u16::MAX),
                dwellings: u32_of(r, "dwellings")?,
                utility_accounts: u32_of(r, "utility_accounts")?,
                point: point(r, "point", "building", &sid)?,
                footprint: polygon(r, "footprint", "building", &sid)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let mut stats = vec![BuildingStats::default(); buildings.len()];
        let slot = |id: u32, len: usize| -> Result<usize> {
            let i = id as usize;
            if i < len {
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
            "SELECT building_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE registered) AS reg, \
             COUNT(*) FILTER (WHERE registered AND pledge_signed) AS pledged FROM rental_units GROUP BY building_id",
        )
        .fetch_all(p)
        .await?
        {
            let i = slot(u32_of(&r, "building_id")?, stats.len())?;
            stats[i].rental_units = u32_of(&r, "n")?;
            stats[i].rental_units_registered = u32_of(&r, "reg")?;
            stats[i].pledges_signed = u32_of(&r, "pledged")?;
        }
        for r in sqlx::query(
            "SELECT building_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE registered) AS reg, \
             COUNT(*) FILTER (WHERE registered AND permit) AS permit, \
             COUNT(*) FILTER (WHERE registered AND consistent) AS consistent FROM persons GROUP BY building_id",
        )
        .fetch_all(p)
        .await?
        {
            let i = slot(u32_of(&r, "building_id")?, stats.len())?;
            stats[i].persons = u32_of(&r, "n")?;
            stats[i].persons_registered = u32_of(&r, "reg")?;
            stats[i].persons_with_permit = u32_of(&r, "permit")?;
            stats[i].persons_consistent = u32_of(&r, "consistent")?;
        }
        for r in sqlx::query("SELECT building_id, COUNT(*) AS n FROM visits GROUP BY building_id").fetch_all(p).await? {
            let i = slot(u32_of(&r, "building_id")?, stats.len())?;
            stats[i].visits = u32_of(&r, "n")?;
        }
        let workplaces = sqlx::query(
            "SELECT id, name, building_id, grid_id, ST_AsBinary(point) AS point, employees, migrant_workers, \
             responsibility_signed, contracts_signed, insured FROM workplaces ORDER BY id",
        )
        .fetch_all(p)
        .await?
        .iter()
        .map(|r| {
            let id = u32_of(r, "id")?;
            Ok(Workplace {
                id,
                name: r.try_get("name")?,
                building_id: r.try_get::<Option<i32>, _>("building_id")?.map(|b| b as u32),
                grid_id: u32_of(r, "grid_id")?,
                point: point(r, "point", "workplace", &id.to_string())?,
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
        // Concurrent submissions of one client id: the second waits for the first, then replays.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&v.client_id).execute(&mut *tx).await?;
        if let Some(row) =
            sqlx::query("SELECT * FROM visits WHERE client_id = $1").bind(&v.client_id).fetch_optional(&mut *tx).await?
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
        let b = int(v.building_id);
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT id FROM buildings WHERE id = $1").bind(b).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StoreError::NotFound { what: "building", id: v.building_id.to_string() });
        }
        if let Some(cw) = v.caseworker_id {
            let found: Option<i32> = sqlx::query_scalar("SELECT id FROM caseworkers WHERE id = $1")
                .bind(int(cw))
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(StoreError::Rejected(format!("caseworker {cw} does not exist")));
            }
        }
        let ids = |xs: &[u32]| xs.iter().map(|&x| int(x)).collect::<Vec<i32>>();
        for (table, what, list) in [
            ("rental_units", "rental unit", &v.register_units),
            ("rental_units", "rental unit", &v.pledge_units),
            ("persons", "person", &v.register_persons),
        ] {
            if list.is_empty() {
                continue;
            }
            let found: Vec<i32> =
                sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE building_id = $1 AND id = ANY($2)"))
                    .bind(b)
                    .bind(ids(list))
                    .fetch_all(&mut *tx)
                    .await?;
            if let Some(missing) = list.iter().find(|id| !found.contains(&int(**id))) {
                return Err(StoreError::Rejected(format!("{what} {missing} is not in building {}", v.building_id)));
            }
        }
        let campaign_block = match v.campaign_id {
            Some(c) => Some((c, super::campaigns::postgres::block_of(&mut tx, c, v.building_id).await?)),
            None => None,
        };
        let mut delta = StatsDelta { building_id: v.building_id, visits: 1, ..StatsDelta::default() };
        let registered = sqlx::query(
            "UPDATE rental_units SET registered = TRUE, registered_on = $1 WHERE NOT registered AND id = ANY($2)",
        )
        .bind(v.visited_on)
        .bind(ids(&v.register_units))
        .execute(&mut *tx)
        .await?;
        delta.rental_units_registered += registered.rows_affected() as u32;
        if !v.pledge_units.is_empty() {
            let unregistered: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM rental_units WHERE NOT registered AND id = ANY($1)")
                    .bind(ids(&v.pledge_units))
                    .fetch_one(&mut *tx)
                    .await?;
            if unregistered > 0 {
                return Err(StoreError::Rejected(
                    "a safety pledge can only be recorded for a registered rental unit: register it in the same visit"
                        .into(),
                ));
            }
        }
        let pledged =
            sqlx::query("UPDATE rental_units SET pledge_signed = TRUE WHERE NOT pledge_signed AND id = ANY($1)")
                .bind(ids(&v.pledge_units))
                .execute(&mut *tx)
                .await?;
        delta.pledges_signed += pledged.rows_affected() as u32;
        // A person registered at the door is registered where they were found: 人户一致.
        let persons = sqlx::query(
            "UPDATE persons SET registered = TRUE, consistent = TRUE, registered_on = $1 WHERE NOT registered AND id = ANY($2)",
        )
        .bind(v.visited_on)
        .bind(ids(&v.register_persons))
        .execute(&mut *tx)
        .await?;
        let newly = persons.rows_affected() as u32;
        delta.persons_registered += newly;
        delta.persons_consistent += newly;
        let mut persons_found = 0;
        for u in &v.new_units {
            sqlx::query(
                "INSERT INTO rental_units (building_id, landlord_id, label, registered, registered_on, pledge_signed, tenants, mode, concentrated) \
                 VALUES ($1, NULL, $2, $3, $4, $5, $6, 'self_managed', FALSE)",
            )
            .bind(b)
            .bind(&u.label)
            .bind(u.registered)
            .bind(u.registered.then_some(v.visited_on))
            .bind(u.registered && u.pledge_signed)
            .bind(int(u.tenants))
            .execute(&mut *tx)
            .await?;
            delta.rental_units += 1;
            delta.rental_units_registered += u32::from(u.registered);
            delta.pledges_signed += u32::from(u.registered && u.pledge_signed);
            persons_found += u.tenants;
        }
        let id: i32 = sqlx::query_scalar(
            "INSERT INTO visits (client_id, building_id, caseworker_id, visited_on, units_registered, pledges_signed, units_found, persons_found, notes, request, campaign_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&v.client_id)
        .bind(b)
        .bind(v.caseworker_id.map(int))
        .bind(v.visited_on)
        .bind(int(delta.rental_units_registered))
        .bind(int(delta.pledges_signed))
        .bind(v.new_units.len() as i32)
        .bind(int(persons_found))
        .bind(&v.notes)
        .bind(&request)
        .bind(v.campaign_id.map(int))
        .fetch_one(&mut *tx)
        .await?;
        let campaign_block = match campaign_block {
            Some((c, block)) => Some(super::campaigns::postgres::after_visit(&mut tx, c, block).await?),
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
        sqlx::query("LOCK TABLE buildings IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        let c = &mut *tx;
        let ids: Vec<String> = buildings.iter().map(|b| b.external_id.clone()).collect();
        let existing: HashSet<String> =
            sqlx::query_scalar("SELECT external_id FROM buildings WHERE external_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut *c)
                .await?
                .into_iter()
                .collect();
        let (old, new): (Vec<&ImportedBuilding>, Vec<&ImportedBuilding>) =
            buildings.iter().partition(|b| existing.contains(&b.external_id));
        let next: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), -1)::int8 + 1 FROM buildings").fetch_one(&mut *c).await?;
        let new: Vec<(i64, &ImportedBuilding)> =
            new.into_iter().enumerate().map(|(i, b)| (next + i as i64, b)).collect();
        chunked(c, &new, "new buildings", progress, |rows| {
            sqlx::query(
                "INSERT INTO buildings (id, external_id, grid_id, kind, address, floors, dwellings, utility_accounts, point, footprint) \
                 SELECT id, e, g, k, a, f, d, u, ST_GeomFromWKB(p, 4326), ST_GeomFromWKB(fp, 4326) \
                 FROM UNNEST($1::int4[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::int4[], $7::int4[], $8::int4[], $9::bytea[], $10::bytea[]) \
                 AS t(id, e, g, k, a, f, d, u, p, fp)",
            )
            .bind(rows.iter().map(|(id, _)| *id as i32).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| b.external_id.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| int(b.grid_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| b.kind.as_str().to_string()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| b.address.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| i32::from(b.floors)).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| int(b.dwellings)).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| int(b.utility_accounts)).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| wkb_of(b.point)).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, b)| wkb_of(b.footprint.clone())).collect::<Vec<_>>())
        })
        .await?;
        chunked(c, &old, "updated buildings", progress, |rows| {
            sqlx::query(
                "UPDATE buildings SET grid_id = v.g, kind = v.k, address = v.a, floors = v.f, dwellings = v.d, \
                 utility_accounts = v.u, point = ST_GeomFromWKB(v.p, 4326), footprint = ST_GeomFromWKB(v.fp, 4326) \
                 FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::int4[], $6::int4[], $7::int4[], $8::bytea[], $9::bytea[]) \
                 AS v(e, g, k, a, f, d, u, p, fp) WHERE buildings.external_id = v.e",
            )
            .bind(rows.iter().map(|b| b.external_id.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| int(b.grid_id)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| b.kind.as_str().to_string()).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| b.address.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| i32::from(b.floors)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| int(b.dwellings)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| int(b.utility_accounts)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| wkb_of(b.point)).collect::<Vec<_>>())
            .bind(rows.iter().map(|b| wkb_of(b.footprint.clone())).collect::<Vec<_>>())
        })
        .await?;
        tx.commit().await?;
        Ok(ImportCounts { inserted: new.len() as u64, updated: old.len() as u64, landlords_added: 0 })
    }

    async fn import_units(&self, units: &[ImportedUnit], progress: Progress<'_>) -> Result<ImportCounts> {
        let mut tx = self.pool.begin().await?;
        // One import at a time: landlord ids are allocated after the largest.
        sqlx::query("LOCK TABLE landlords, rental_units IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        let c = &mut *tx;
        let numbers: Vec<String> = units
            .iter()
            .filter_map(|u| u.unit.landlord.as_ref().map(|l| l.id_number.clone()).filter(|n| !n.is_empty()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut known: HashMap<String, i64> = HashMap::new();
        for row in sqlx::query("SELECT id, id_number FROM landlords WHERE id_number = ANY($1)")
            .bind(&numbers)
            .fetch_all(&mut *c)
            .await?
        {
            known.entry(row.try_get("id_number")?).or_insert(i64::from(row.try_get::<i32, _>("id")?));
        }
        let next: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(id), -1)::int8 + 1 FROM landlords").fetch_one(&mut *c).await?;
        let (landlord_ids, new_landlords) = assign_landlords(units, &mut known, next);
        chunked(c, &new_landlords, "landlords", progress, |rows| {
            sqlx::query("INSERT INTO landlords (id, name, id_number, phone) SELECT * FROM UNNEST($1::int4[], $2::text[], $3::text[], $4::text[])")
                .bind(rows.iter().map(|(id, _)| *id as i32).collect::<Vec<_>>())
                .bind(rows.iter().map(|(_, l)| l.name.clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|(_, l)| l.id_number.clone()).collect::<Vec<_>>())
                .bind(rows.iter().map(|(_, l)| l.phone.clone()).collect::<Vec<_>>())
        })
        .await?;
        let ids: Vec<String> = units.iter().map(|u| u.external_id.clone()).collect();
        let existing: HashSet<String> =
            sqlx::query_scalar("SELECT external_id FROM rental_units WHERE external_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&mut *c)
                .await?
                .into_iter()
                .collect();
        let rows: Vec<(&ImportedUnit, Option<i64>)> = units.iter().zip(landlord_ids).collect();
        let total = rows.len() as u64;
        let mut done = 0u64;
        progress("rental units", 0, total);
        for chunk in rows.chunks(IMPORT_CHUNK) {
            sqlx::query(&format!(
                "INSERT INTO rental_units (external_id, building_id, landlord_id, label, registered, registered_on, pledge_signed, tenants, mode, concentrated) \
                 SELECT * FROM UNNEST($1::text[], $2::int4[], $3::int4[], $4::text[], $5::bool[], $6::date[], $7::bool[], $8::int4[], $9::text[], $10::bool[]){UPSERT_UNIT}"
            ))
            .bind(chunk.iter().map(|(u, _)| u.external_id.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(u, _)| int(u.building_id)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, l)| l.map(|l| l as i32)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(u, _)| u.unit.label.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(u, _)| u.unit.registered).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(u, _)| u.unit.registered_on).collect::<Vec<Option<Date>>>())
            .bind(chunk.iter().map(|(u, _)| u.unit.pledge_signed).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(u, _)| int(u.unit.tenants)).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(u, _)| u.unit.mode.as_str().to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(u, _)| u.unit.concentrated).collect::<Vec<_>>())
            .execute(&mut *c)
            .await?;
            done += chunk.len() as u64;
            progress("rental units", done, total);
        }
        tx.commit().await?;
        let updated = units.iter().filter(|u| existing.contains(&u.external_id)).count() as u64;
        Ok(ImportCounts {
            inserted: units.len() as u64 - updated,
            updated,
            landlords_added: new_landlords.len() as u64,
        })
    }

    async fn import_ledger(&self, rows: LedgerRows<'_>, progress: Progress<'_>) -> Result<ImportCounts> {
        super::ledgers::postgres::import(&self.pool, rows, progress).await
    }

    async fn keys(&self, of: Keyed) -> Result<Keys> {
        super::ledgers::postgres::keys(&self.pool, of).await
    }

    async fn ledger(&self, which: Ledger) -> Result<Vec<Vec<Cell>>> {
        super::ledgers::postgres::ledger(&self.pool, &ledger_sql(which, ("ST_X(w.point)", "ST_Y(w.point)")), cell).await
    }

    async fn evidence(&self) -> Result<super::campaigns::StoredEvidence> {
        super::campaigns::postgres::evidence(&self.pool, visit_from_row).await
    }

    async fn create_campaign(&self, c: &super::campaigns::NewCampaign) -> Result<u32> {
        super::campaigns::postgres::create(&self.pool, c).await
    }

    async fn campaigns(&self, only: Option<u32>) -> Result<Vec<super::campaigns::StoredCampaign>> {
        super::campaigns::postgres::read(&self.pool, only).await
    }

    async fn advance_block(
        &self,
        campaign: u32,
        block: u32,
        to: rentgrid_analysis::sweep::Phase,
    ) -> Result<rentgrid_analysis::sweep::BlockProgress> {
        super::campaigns::postgres::advance(&self.pool, campaign, block, to).await
    }

    async fn monthly_registrations(&self) -> Result<Vec<rentgrid_geodata::MonthlyRegistrations>> {
        let [persons, units] = super::monthly_registrations_sql(|c| format!("to_char({c}, 'YYYY-MM')"));
        let persons = sqlx::query_as(&persons).fetch_all(&self.pool).await?;
        let units = sqlx::query_as(&units).fetch_all(&self.pool).await?;
        super::merge_monthly_registrations(persons, units)
    }

    async fn caseworkers(&self) -> Result<Vec<rentgrid_geodata::Caseworker>> {
        super::contracts::postgres::caseworkers(&self.pool).await
    }

    async fn month_activity(&self, month: rentgrid_geodata::Month) -> Result<super::contracts::MonthActivity> {
        super::contracts::postgres::month_activity(&self.pool, month).await
    }

    async fn save_proposal(&self, proposal: &super::contracts::NewProposal) -> Result<i64> {
        super::contracts::postgres::save_proposal(&self.pool, proposal).await
    }

    async fn proposal(&self, id: i64) -> Result<Option<super::contracts::StoredProposal>> {
        super::contracts::postgres::proposal(&self.pool, id).await
    }

    async fn accept_proposal(
        &self,
        id: i64,
        acceptance: &super::contracts::Acceptance,
    ) -> Result<super::contracts::Accepted> {
        super::contracts::postgres::accept(&self.pool, id, acceptance).await
    }
}

fn visit_from_row(row: &PgRow) -> Result<Visit> {
    Ok(Visit {
        id: u32_of(row, "id")?,
        client_id: row.try_get("client_id")?,
        building_id: u32_of(row, "building_id")?,
        caseworker_id: row.try_get::<Option<i32>, _>("caseworker_id")?.map(|c| c as u32),
        visited_on: row.try_get("visited_on")?,
        units_registered: u32_of(row, "units_registered")?,
        pledges_signed: u32_of(row, "pledges_signed")?,
        units_found: u32_of(row, "units_found")?,
        persons_found: u32_of(row, "persons_found")?,
        notes: row.try_get("notes")?,
    })
}

/// A cell of any type, as PostgreSQL returns it.
fn cell(r: &PgRow, i: usize) -> Result<Cell> {
    let raw = r.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let ty = raw.type_info().name().to_string();
    Ok(match ty.as_str() {
        "INT2" => Cell::Int(r.try_get::<i16, _>(i)?.into()),
        "INT4" => Cell::Int(r.try_get::<i32, _>(i)?.into()),
        "INT8" => Cell::Int(r.try_get(i)?),
        "FLOAT4" => Cell::Num(r.try_get::<f32, _>(i)?.into()),
        "FLOAT8" => Cell::Num(r.try_get(i)?),
        "BOOL" => Cell::Int(r.try_get::<bool, _>(i)?.into()),
        "DATE" => Cell::Text(super::dates::fmt_date(r.try_get(i)?)),
        _ => Cell::Text(r.try_get(i)?),
    })
}
