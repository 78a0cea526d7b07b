//! The embedded backend: one GeoPackage file in the data directory (SQLite through sqlx, WAL
//! journal so readers never wait for the writer). Geometry is GeoPackage binary written and read
//! by geozero; dates are `YYYY-MM-DD` text; a GeoPackage has one writer at a time, so nothing
//! needs locking.

mod file;
mod legacy;

pub use file::{BackupSummary, check, restore};
pub use legacy::LEGACY_FILE_NAME;

use crate::backend::{Backend, Conn, SqlxTx};
use crate::dates::fmt_date;
use crate::sql::{Bulk, Sql};
use crate::value::{Row, Value, each_row, read_rows};
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use geo::{BoundingRect, Geometry};
use geozero::wkb::{FromWkb, WkbDialect};
use geozero::{CoordDimensions, ToWkb};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Executor, Row as _, Sqlite, SqliteConnection, SqlitePool};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The GeoPackage migrations, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/gpkg");

/// The file name of the store inside a data directory.
pub const FILE_NAME: &str = "rentgrid.gpkg";

/// The store over a GeoPackage file.
pub type GpkgStore = SqlStore<Gpkg>;

/// A GeoPackage file, open.
#[derive(Debug, Clone)]
pub struct Gpkg {
    pool: SqlitePool,
    path: PathBuf,
}

impl Gpkg {
    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Opens (creating if needed) the GeoPackage at `path` and applies pending migrations.
pub(crate) async fn connect(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a write acknowledged is on disk (in WAL mode NORMAL may lose the last ones at a
        // power loss).
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

impl SqlStore<Gpkg> {
    /// Opens (creating if needed) the store in `data_dir` and applies pending migrations. A data
    /// directory holding only the SQLite file of an older rentgrid is converted first.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::Io { path: data_dir.display().to_string(), source })?;
        let path = data_dir.join(FILE_NAME);
        legacy::convert_if_present(data_dir, &path).await?;
        // A file that is there but not whole is refused by name, never opened as a new store.
        check(&path)?;
        let pool = connect(&path).await.map_err(|e| match e {
            StoreError::Database(e) => file::unusable(&path, format!("it does not open: {e}")),
            e => e,
        })?;
        file::settle(&pool, &path).await?;
        Ok(SqlStore::new(Gpkg { pool, path }))
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &SqlitePool {
        &self.db.pool
    }
}

/// A geometry as GeoPackage binary in EPSG:4326, with its envelope (none for a point).
pub fn encode(g: &Geometry<f64>) -> Result<Vec<u8>> {
    let envelope = match g {
        Geometry::Point(_) => Vec::new(),
        g => g.bounding_rect().map(|r| vec![r.min().x, r.max().x, r.min().y, r.max().y]).unwrap_or_default(),
    };
    g.to_gpkg_wkb(CoordDimensions::xy(), Some(4326), envelope).map_err(|e| StoreError::Corrupt {
        what: "geometry",
        id: String::new(),
        reason: e.to_string(),
    })
}

/// A parameter as SQLite takes it.
enum Arg {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

fn arg(v: Value) -> Result<Arg> {
    Ok(match v {
        Value::Bool(b) => Arg::Int(b.map(i64::from)),
        Value::Int(i) => Arg::Int(i),
        Value::Real(x) => Arg::Real(x),
        Value::Text(s) => Arg::Text(s),
        Value::Date(d) => Arg::Text(d.map(fmt_date)),
        Value::Json(j) => Arg::Text(j.map(|j| j.to_string())),
        Value::Geom(g) => Arg::Blob(g.map(|g| encode(&g)).transpose()?),
        Value::Array(_) => {
            return Err(StoreError::Schema("a GeoPackage statement cannot bind an array".into()));
        }
    })
}

/// The statement's text with `?` placeholders (SQLite looks each numbered `?NNN` up in a list,
/// which is slow in a bulk write of thousands), and its parameters in order.
fn render(q: Sql) -> (String, Vec<Value>) {
    q.render(|_, _| "?".to_owned())
}

/// `text` with `params` bound.
fn bound(text: &str, params: Vec<Value>) -> Result<Query<'_, Sqlite, SqliteArguments<'_>>> {
    let mut query = sqlx::query(text);
    for p in params {
        query = match arg(p)? {
            Arg::Int(v) => query.bind(v),
            Arg::Real(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::Blob(v) => query.bind(v),
        };
    }
    Ok(query)
}

/// Runs `q` on `e`, returning its rows.
async fn run<'c>(e: impl Executor<'c, Database = Sqlite>, q: Sql) -> Result<Vec<Row>> {
    let (text, params) = render(q);
    read_rows(bound(&text, params)?.fetch_all(e).await?, decode)
}

/// Runs `q` on `e`, handing each row to `each` as it comes; returns how many.
async fn run_each<'c>(
    e: impl Executor<'c, Database = Sqlite>,
    q: Sql,
    each: &mut crate::value::Each<'_>,
) -> Result<u64> {
    let (text, params) = render(q);
    each_row(bound(&text, params)?.fetch(e), decode, each).await
}

crate::backend::sqlx_driver!(Gpkg, Sqlite, SqliteConnection);

#[async_trait]
impl Backend for Gpkg {
    async fn begin(&self) -> Result<Box<dyn Conn>> {
        Ok(Box::new(SqlxTx::<Gpkg>(self.pool.begin().await?)))
    }

    async fn begin_snapshot(&self) -> Result<Box<dyn Conn>> {
        // A deferred transaction that only reads sees the file as it was at its first read.
        self.begin().await
    }

    async fn fetch(&self, q: Sql) -> Result<Vec<Row>> {
        run(&self.pool, q).await
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn pool_usage(&self) -> crate::backend::PoolUsage {
        crate::backend::usage_of(&self.pool)
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    fn bulk(&self, b: &Bulk<'_>, rows: Vec<Vec<Value>>) -> Sql {
        Sql::new(format!("INSERT INTO {} ({}) ", b.table, b.columns.join(", "))).values(rows).push(b.tail)
    }

    fn bulk_rows(&self, columns: usize) -> usize {
        30_000 / columns.max(1)
    }

    fn lock_tables(&self, _tables: &str) -> Option<Sql> {
        None
    }

    fn for_update(&self) -> &'static str {
        ""
    }

    fn month(&self, col: &str) -> String {
        format!("substr({col}, 1, 7)")
    }

    fn after_explicit_ids(&self, _table: &str) -> Option<Sql> {
        None
    }

    fn analyze(&self) -> Option<Sql> {
        // Without statistics SQLite takes an index as selective, which is what these lookups want.
        None
    }

    fn announce(&self, _seq: i64) -> Option<Sql> {
        None
    }

    fn wal_position(&self) -> Option<Sql> {
        None
    }

    async fn listen(&self) -> Result<Option<Box<dyn crate::changes::Wakeups>>> {
        Ok(None)
    }
}

/// A value by its storage class: a blob is a GeoPackage geometry.
fn decode(r: &SqliteRow, i: usize, ty: &str) -> Result<Value> {
    Ok(match ty {
        "INTEGER" | "BIGINT" | "INT" | "BOOLEAN" => Value::Int(Some(r.try_get_unchecked(i)?)),
        "REAL" | "NUMERIC" => Value::Real(Some(r.try_get_unchecked(i)?)),
        "BLOB" => {
            let blob: Vec<u8> = r.try_get_unchecked(i)?;
            let g = Geometry::from_wkb(&mut blob.as_slice(), WkbDialect::Geopackage)
                .map_err(|e| StoreError::Corrupt { what: "geometry", id: i.to_string(), reason: e.to_string() })?;
            Value::Geom(Some(Box::new(g)))
        }
        _ => Value::Text(Some(r.try_get_unchecked(i)?)),
    })
}
