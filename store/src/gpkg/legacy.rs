//! Converting the SQLite file of an older rentgrid (`rentgrid.sqlite`: geometry as GeoJSON text,
//! points as two columns, a proposal's lists as comma-separated text) into the GeoPackage, once,
//! on the first start that finds it. The old file is left as it was.

use super::{connect, encode};
use crate::{Result, StoreError};
use geo::Geometry;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};
use std::path::Path;

/// The migrations of the older SQLite file, to bring one to their last schema before copying.
static LEGACY_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The file name of the older store inside a data directory.
pub const LEGACY_FILE_NAME: &str = "rentgrid.sqlite";

/// Tables copied column for column.
const PLAIN: [(&str, &str); 18] = [
    ("meta", "key, value"),
    ("streets", "code, name, kind, seq"),
    ("communities", "code, name, street_code, kind, seq"),
    ("landlords", "id, name, id_number, phone"),
    (
        "rental_units",
        "id, building_id, landlord_id, label, registered, registered_on, pledge_signed, tenants, mode, concentrated, \
         external_id",
    ),
    ("households", "id, rental_unit_id, card_no"),
    (
        "persons",
        "id, household_id, building_id, name, id_number, phone, registered, registered_on, permit, consistent, \
         workplace_id",
    ),
    ("caseworkers", "id, name, street_code, external_id"),
    ("caseworker_grids", "caseworker_id, grid_id"),
    (
        "visits",
        "id, client_id, building_id, caseworker_id, visited_on, units_registered, pledges_signed, units_found, \
         persons_found, notes, request, campaign_id",
    ),
    (
        "spot_checks",
        "id, caseworker_id, grid_id, checked_on, households_checked, missed_registration, missed_permit, wrong_records",
    ),
    ("tips", "id, building_id, received_on, text"),
    ("demo_hidden", "building_id, units, persons"),
    ("campaigns", "id, created_on, area, team, start_on, working_days, buildings_per_day, recheck_weeks, plan"),
    ("campaign_blocks", "campaign_id, block_id, seq, grid_id, phase"),
    ("campaign_buildings", "campaign_id, building_id, block_id"),
    (
        "territory_proposals",
        "id, created_at, rule, mode, epsilon, streets, street_grids, basis, assignments, document, accepted_by, \
         accepted_at",
    ),
    (
        "territory_audit",
        "id, proposal_id, accepted_by, accepted_at, streets, contracts_before, contracts_after, summary",
    ),
];

/// A geometry column of the GeoPackage and where the old file held it: a GeoJSON text column,
/// or `lon,lat` for a point.
type GeometryFrom = (&'static str, &'static str);

/// Tables with geometry: (table, key, columns copied, geometry columns).
const SPATIAL: [(&str, &str, &str, &[GeometryFrom]); 6] = [
    ("districts", "code", "code, name", &[("outline", "outline")]),
    ("grids", "id", "id, code, name, community_code", &[("geom", "geom")]),
    ("blocks", "id", "id, grid_id", &[("geom", "geom")]),
    ("roads", "id", "id, from_node, to_node, class, length_m", &[("geom", "geom")]),
    (
        "buildings",
        "id",
        "id, grid_id, kind, address, floors, dwellings, utility_accounts, external_id",
        &[("point", "lon,lat"), ("footprint", "footprint")],
    ),
    (
        "workplaces",
        "id",
        "id, name, building_id, grid_id, employees, migrant_workers, responsibility_signed, contracts_signed, \
         insured, external_id",
        &[("point", "lon,lat")],
    ),
];

/// An I/O error on `path`.
fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

fn corrupt(what: &'static str, id: String, reason: impl ToString) -> StoreError {
    StoreError::Corrupt { what, id, reason: reason.to_string() }
}

/// Converts `DIR/rentgrid.sqlite` into `gpkg` when the one exists and the other does not.
pub(super) async fn convert_if_present(data_dir: &Path, gpkg: &Path) -> Result<()> {
    let old = data_dir.join(LEGACY_FILE_NAME);
    if gpkg.exists() || !old.exists() {
        return Ok(());
    }
    tracing::warn!(
        "{} is the store of an older rentgrid: converting it into the GeoPackage {} (the old file is kept)",
        old.display(),
        gpkg.display()
    );
    let partial = gpkg.with_extension("gpkg-converting");
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(io(&partial))?;
    }
    let mut legacy = SqliteConnectOptions::new().filename(&old).connect().await?;
    LEGACY_MIGRATOR.run(&mut legacy).await?;
    legacy.close().await?;
    connect(&partial).await?.close().await;
    let mut c = SqliteConnectOptions::new().filename(&partial).foreign_keys(false).connect().await?;
    sqlx::query("ATTACH DATABASE ?1 AS legacy").bind(old.display().to_string()).execute(&mut c).await?;
    let mut tx = c.begin().await?;
    for (table, cols) in PLAIN {
        sqlx::query(&format!("INSERT INTO main.{table} ({cols}) SELECT {cols} FROM legacy.{table}"))
            .execute(&mut *tx)
            .await?;
    }
    for (table, key, cols, geoms) in SPATIAL {
        let targets: Vec<&str> = geoms.iter().map(|(to, _)| *to).collect();
        let blanks = vec!["X''"; geoms.len()].join(", ");
        sqlx::query(&format!(
            "INSERT INTO main.{table} ({cols}, {}) SELECT {cols}, {blanks} FROM legacy.{table}",
            targets.join(", ")
        ))
        .execute(&mut *tx)
        .await?;
        let sources: Vec<&str> = geoms.iter().map(|(_, from)| *from).collect();
        let rows = sqlx::query(&format!("SELECT CAST({key} AS TEXT) AS k, {} FROM legacy.{table}", sources.join(", ")))
            .fetch_all(&mut *tx)
            .await?;
        let set: Vec<String> = targets.iter().enumerate().map(|(i, t)| format!("{t} = ?{}", i + 2)).collect();
        let update = format!("UPDATE main.{table} SET {} WHERE CAST({key} AS TEXT) = ?1", set.join(", "));
        for r in rows {
            let id: String = r.try_get("k")?;
            let mut q = sqlx::query(&update).bind(id.clone());
            for (_, from) in geoms {
                let g = match from.split_once(',') {
                    Some((x, y)) => Geometry::Point(geo::Point::new(r.try_get(x)?, r.try_get(y)?)),
                    None => {
                        let text: String = r.try_get(*from)?;
                        let g: geojson::Geometry = text.parse().map_err(|e| corrupt("geometry", id.clone(), e))?;
                        Geometry::try_from(g).map_err(|e| corrupt("geometry", id.clone(), e))?
                    }
                };
                q = q.bind(encode(&g)?);
            }
            q.execute(&mut *tx).await?;
        }
    }
    let proposals = sqlx::query("SELECT id, streets, street_grids, assignments FROM legacy.territory_proposals")
        .fetch_all(&mut *tx)
        .await?;
    for r in proposals {
        let id: i64 = r.try_get("id")?;
        let list = |col: &str| -> Result<Vec<String>> {
            let text: String = r.try_get(col)?;
            Ok(text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        };
        let grids: Vec<u32> = list("street_grids")?
            .iter()
            .map(|g| g.parse().map_err(|e| corrupt("territory proposal", id.to_string(), e)))
            .collect::<Result<_>>()?;
        let pairs: Vec<(u32, u32)> = list("assignments")?
            .iter()
            .map(|p| {
                p.split_once(':')
                    .and_then(|(c, g)| Some((c.parse().ok()?, g.parse().ok()?)))
                    .ok_or_else(|| corrupt("territory proposal", id.to_string(), format!("contract {p:?}")))
            })
            .collect::<Result<_>>()?;
        let json = |v: serde_json::Value| v.to_string();
        sqlx::query(
            "UPDATE main.territory_proposals SET streets = ?2, street_grids = ?3, assignments = ?4 WHERE id = ?1",
        )
        .bind(id)
        .bind(json(serde_json::json!(list("streets")?)))
        .bind(json(serde_json::json!(grids)))
        .bind(json(serde_json::json!(pairs)))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    sqlx::query("DETACH DATABASE legacy").execute(&mut c).await?;
    c.close().await?;
    std::fs::rename(&partial, gpkg).map_err(io(gpkg))?;
    tracing::warn!("converted {} into {}", old.display(), gpkg.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{LEGACY_FILE_NAME, PLAIN, SPATIAL};
    use crate::gpkg::{FILE_NAME, GpkgStore};
    use crate::sql::Sql;
    use crate::{Backend, Campaigns, Contracts, Ledger, Register};
    use geo::Geometry;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection, Executor, Sqlite};
    use std::io::Read;

    /// `rentgrid.sqlite` as rentgrid wrote it before the GeoPackage: the demo city (seed
    /// 20240601, scale 0.01) trimmed to a few rows of each table, with a sweep campaign, one of
    /// its visits and a territory proposal made through the API; its SQL text, gzipped.
    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/rentgrid-sqlite-v6.sql.gz");

    async fn count<'c>(e: impl Executor<'c, Database = Sqlite>, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(e).await.unwrap()
    }

    fn from_geojson(text: &str) -> Geometry<f64> {
        Geometry::try_from(text.parse::<geojson::Geometry>().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn an_older_sqlite_store_is_converted_on_first_start_with_nothing_lost() {
        let dir = tempfile::tempdir().unwrap();
        let mut sql = String::new();
        flate2::read::GzDecoder::new(FIXTURE).read_to_string(&mut sql).unwrap();
        let old = dir.path().join(LEGACY_FILE_NAME);
        let options = SqliteConnectOptions::new().filename(&old).create_if_missing(true).foreign_keys(false);
        let mut c = options.connect().await.unwrap();
        sqlx::raw_sql(&sql).execute(&mut c).await.unwrap();
        let tables: Vec<&str> = PLAIN.iter().map(|(t, _)| *t).chain(SPATIAL.iter().map(|(t, ..)| *t)).collect();
        let mut before = Vec::new();
        for t in &tables {
            before.push(count(&mut c, t).await);
        }
        let grids: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, geom FROM grids ORDER BY id").fetch_all(&mut c).await.unwrap();
        let points: Vec<(i64, f64, f64)> =
            sqlx::query_as("SELECT id, lon, lat FROM buildings ORDER BY id").fetch_all(&mut c).await.unwrap();
        let (streets, street_grids, assignments): (String, String, String) =
            sqlx::query_as("SELECT streets, street_grids, assignments FROM territory_proposals WHERE id = 1")
                .fetch_one(&mut c)
                .await
                .unwrap();
        c.close().await.unwrap();
        assert_eq!(before[tables.iter().position(|t| *t == "campaigns").unwrap()], 1);

        let store = GpkgStore::open(dir.path()).await.unwrap();
        assert!(dir.path().join(FILE_NAME).exists(), "the GeoPackage is written");
        assert!(old.exists(), "the old file is kept");
        for (t, n) in tables.iter().zip(&before) {
            assert_eq!(count(store.pool(), t).await, *n, "rows of {t}");
        }
        let rows = store.backend().fetch(Sql::new("SELECT id, geom FROM grids ORDER BY id")).await.unwrap();
        assert_eq!(rows.len(), grids.len());
        for (r, (id, text)) in rows.iter().zip(&grids) {
            assert_eq!(r.int("id").unwrap(), *id);
            assert_eq!(r.geom("geom").unwrap(), from_geojson(text), "grid {id}");
        }
        let rows = store.backend().fetch(Sql::new("SELECT id, point FROM buildings ORDER BY id")).await.unwrap();
        assert_eq!(rows.len(), points.len());
        for (r, (id, x, y)) in rows.iter().zip(&points) {
            assert_eq!(r.geom("point").unwrap(), Geometry::Point(geo::Point::new(*x, *y)), "building {id}");
        }
        // The documents read back typed.
        let campaigns = store.campaigns(None).await.unwrap();
        assert_eq!(campaigns.len(), 1);
        assert_eq!(campaigns[0].record.team.len(), 2);
        assert_eq!(campaigns[0].record.plan.blocks.len(), campaigns[0].blocks.len());
        let p = store.proposal(1).await.unwrap().expect("the proposal");
        assert_eq!(p.proposal.streets.join(","), streets);
        assert_eq!(p.proposal.street_grids.iter().map(u32::to_string).collect::<Vec<_>>().join(","), street_grids);
        let pairs: Vec<String> = p.proposal.assignments.iter().map(|(c, g)| format!("{c}:{g}")).collect();
        assert_eq!(pairs.join(","), assignments);
        assert!(!p.proposal.assignments.is_empty());
        // The register reads as before: every unit of the ledger, every visit.
        let units = store.ledger(Ledger::Units).await.unwrap();
        assert_eq!(units.len() as i64, before[tables.iter().position(|t| *t == "rental_units").unwrap()]);
        let visits = store.ledger(Ledger::Visits).await.unwrap();
        assert_eq!(visits.len() as i64, before[tables.iter().position(|t| *t == "visits").unwrap()]);
        store.pool().close().await;
        // A second start finds the GeoPackage and converts nothing again.
        let again = GpkgStore::open(dir.path()).await.unwrap();
        assert_eq!(count(again.pool(), "buildings").await, points.len() as i64);
    }
}
