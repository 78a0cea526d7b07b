//! The production backend: PostgreSQL with PostGIS, through sqlx. Geometry lives in real
//! `geometry(…, 4326)` columns with GiST indexes, sent as EWKB and read through geozero's sqlx
//! support. Bulk writes send whole columns as arrays (`UNNEST`), so a city takes a few
//! statements per table; writers lock the tables they allocate ids in, and a visit's client id
//! takes an advisory lock, so several servers can share the database.

use crate::backend::{Backend, Conn, SqlxTx};
use crate::changes::Wakeups;
use crate::sql::{Bulk, Sql};
use crate::value::{Row, Value, each_row, read_rows};
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use geo::Geometry;
use geozero::wkb::Decode as WkbDecode;
use geozero::{CoordDimensions, ToWkb};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgListener, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{Executor, PgConnection, PgPool, Postgres, Row as _};
use std::str::FromStr;
use time::Date;

/// The PostGIS migrations, compiled in.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per bulk statement.
const CHUNK: usize = 20_000;

/// How long a request waits for a connection before the database counts as away: while
/// PostgreSQL is down the pool keeps trying to connect, and the request is answered (503) at
/// the end of this wait instead of at its own timeout. The pool checks a connection before
/// lending it, so one cut by a restart is replaced by a new one without restarting rentgrid.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The store over a PostGIS database.
pub type PostgisStore = SqlStore<Postgis>;

/// A PostGIS database, connected.
#[derive(Debug, Clone)]
pub struct Postgis {
    pool: PgPool,
    location: String,
}

impl SqlStore<Postgis> {
    /// Connects to `url` (postgres://…). Does not touch the schema: see [`Self::migrate`] and
    /// [`Self::check_schema`]. The connections are named `rentgrid <process id>` in
    /// `pg_stat_activity` unless the URL names them (`?application_name=…`), so that each
    /// server's can be told apart.
    pub async fn connect(url: &str) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(url)?;
        if options.get_application_name().is_none() {
            options = options.application_name(&format!("rentgrid {}", std::process::id()));
        }
        let location = format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        Ok(SqlStore::new(Postgis { pool, location }))
    }

    /// Applies pending migrations (creates the PostGIS extension if it is missing).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.db.pool).await?;
        Ok(())
    }

    /// Fails unless the database holds exactly the schema this build knows, saying what to do.
    pub async fn check_schema(&self) -> Result<()> {
        let (pool, at) = (&self.db.pool, &self.db.location);
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(pool).await?;
        let run = format!("run `rentgrid migrate --database-url {at}` first");
        if !has_table {
            return Err(StoreError::Schema(format!("{at} has no rentgrid schema: {run}")));
        }
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(pool)
                .await?;
        let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        if let Some(v) = applied.iter().find(|v| !known.contains(v)) {
            return Err(StoreError::Schema(format!(
                "{at} has schema migration {v}, which this rentgrid does not know: upgrade rentgrid"
            )));
        }
        if let Some(v) = known.iter().find(|v| !applied.contains(v)) {
            return Err(StoreError::Schema(format!("{at} lacks schema migration {v}: {run}")));
        }
        Ok(())
    }

    /// Empties every table of the register, its users and its audit log (for `rentgrid demo
    /// --force`), in one transaction.
    pub async fn clear(&self) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "TRUNCATE meta, districts, streets, communities, grids, blocks, roads, buildings, landlords, rental_units, \
             households, workplaces, persons, caseworkers, caseworker_grids, visits, spot_checks, tips, demo_hidden, \
             territory_proposals, territory_audit, campaigns, campaign_blocks, campaign_buildings, users, sessions, \
             api_tokens, audit_log, changes RESTART IDENTITY CASCADE",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = 0, hash = $1 WHERE id = 1")
            .bind(crate::audit::GENESIS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }
}

/// A geometry as EWKB in EPSG:4326.
fn ewkb(g: &Geometry<f64>) -> Result<Vec<u8>> {
    g.to_ewkb(CoordDimensions::xy(), Some(4326)).map_err(|e| StoreError::Corrupt {
        what: "geometry",
        id: String::new(),
        reason: e.to_string(),
    })
}

/// The element type of an array parameter, by the kind of its values.
fn array_type(v: Option<&Value>) -> &'static str {
    match v {
        Some(Value::Bool(_)) => "bool",
        Some(Value::Int(_)) => "int8",
        Some(Value::Real(_)) => "float8",
        Some(Value::Date(_)) => "date",
        Some(Value::Geom(_)) => "bytea",
        Some(Value::Json(_)) => "jsonb",
        _ => "text",
    }
}

/// The placeholder of parameter `n`: a geometry is made one from its EWKB, an array is typed.
fn placeholder(n: usize, v: &Value) -> String {
    match v {
        Value::Geom(_) => format!("ST_GeomFromEWKB(${n})"),
        Value::Array(vs) => format!("${n}::{}[]", array_type(vs.first())),
        _ => format!("${n}"),
    }
}

/// Collects the values of an array parameter of one kind.
fn column<T>(vs: Vec<Value>, mut of: impl FnMut(Value) -> Result<Option<T>>) -> Result<Vec<Option<T>>> {
    vs.into_iter().map(&mut of).collect()
}

fn kind_error(v: &Value) -> StoreError {
    StoreError::Schema(format!("a bulk column mixes kinds of values: {v:?}"))
}

/// `text` with `params` bound.
fn bound(text: &str, params: Vec<Value>) -> Result<Query<'_, Postgres, PgArguments>> {
    let mut q = sqlx::query(text);
    for p in params {
        q = match p {
            Value::Bool(v) => q.bind(v),
            Value::Int(v) => q.bind(v),
            Value::Real(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Date(v) => q.bind(v),
            Value::Json(v) => q.bind(v.map(Json)),
            Value::Geom(v) => q.bind(v.map(|g| ewkb(&g)).transpose()?),
            Value::Array(vs) => match vs.first() {
                Some(Value::Bool(_)) => {
                    q.bind(column(vs, |v| if let Value::Bool(b) = v { Ok(b) } else { Err(kind_error(&v)) })?)
                }
                Some(Value::Int(_)) => {
                    q.bind(column(vs, |v| if let Value::Int(i) = v { Ok(i) } else { Err(kind_error(&v)) })?)
                }
                Some(Value::Real(_)) => {
                    q.bind(column(vs, |v| if let Value::Real(x) = v { Ok(x) } else { Err(kind_error(&v)) })?)
                }
                Some(Value::Date(_)) => {
                    q.bind(column::<Date>(vs, |v| if let Value::Date(d) = v { Ok(d) } else { Err(kind_error(&v)) })?)
                }
                Some(Value::Geom(_)) => q.bind(column(vs, |v| match v {
                    Value::Geom(g) => g.map(|g| ewkb(&g)).transpose(),
                    v => Err(kind_error(&v)),
                })?),
                Some(Value::Json(_)) => {
                    q.bind(column(vs, |v| if let Value::Json(j) = v { Ok(j.map(Json)) } else { Err(kind_error(&v)) })?)
                }
                _ => q.bind(column(vs, |v| if let Value::Text(s) = v { Ok(s) } else { Err(kind_error(&v)) })?),
            },
        };
    }
    Ok(q)
}

/// The statement's text with `$n` placeholders, and its parameters in order.
fn render(q: Sql) -> (String, Vec<Value>) {
    q.render(placeholder)
}

/// Runs `q` on `e`, returning its rows.
async fn run<'c>(e: impl Executor<'c, Database = Postgres>, q: Sql) -> Result<Vec<Row>> {
    let (text, params) = render(q);
    read_rows(bound(&text, params)?.fetch_all(e).await?, decode)
}

/// Runs `q` on `e`, handing each row to `each` as it comes; returns how many.
async fn run_each<'c>(
    e: impl Executor<'c, Database = Postgres>,
    q: Sql,
    each: &mut crate::value::Each<'_>,
) -> Result<u64> {
    let (text, params) = render(q);
    each_row(bound(&text, params)?.fetch(e), decode, each).await
}

/// A value by its column's type.
fn decode(r: &PgRow, i: usize, ty: &str) -> Result<Value> {
    Ok(match ty {
        "INT2" => Value::Int(Some(r.try_get::<i16, _>(i)?.into())),
        "INT4" => Value::Int(Some(r.try_get::<i32, _>(i)?.into())),
        "INT8" => Value::Int(Some(r.try_get(i)?)),
        "FLOAT4" => Value::Real(Some(r.try_get::<f32, _>(i)?.into())),
        "FLOAT8" => Value::Real(Some(r.try_get(i)?)),
        "BOOL" => Value::Bool(Some(r.try_get(i)?)),
        "DATE" => Value::Date(Some(r.try_get(i)?)),
        "JSON" | "JSONB" => Value::Json(Some(r.try_get::<Json<serde_json::Value>, _>(i)?.0)),
        "geometry" => Value::Geom(r.try_get::<WkbDecode<Geometry<f64>>, _>(i)?.geometry.map(Box::new)),
        _ => Value::Text(Some(r.try_get(i)?)),
    })
}

crate::backend::sqlx_driver!(Postgis, Postgres, PgConnection);

#[async_trait]
impl Backend for Postgis {
    fn name(&self) -> &'static str {
        "postgis"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn pool_usage(&self) -> crate::backend::PoolUsage {
        crate::backend::usage_of(&self.pool)
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(&self) -> Result<Box<dyn Conn>> {
        Ok(Box::new(SqlxTx::<Postgis>(self.pool.begin().await?)))
    }

    async fn begin_snapshot(&self) -> Result<Box<dyn Conn>> {
        let tx = self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
        Ok(Box::new(SqlxTx::<Postgis>(tx)))
    }

    async fn fetch(&self, q: Sql) -> Result<Vec<Row>> {
        run(&self.pool, q).await
    }

    fn bulk(&self, b: &Bulk<'_>, rows: Vec<Vec<Value>>) -> Sql {
        let mut columns: Vec<Vec<Value>> = b.columns.iter().map(|_| Vec::with_capacity(rows.len())).collect();
        for row in rows {
            for (c, v) in columns.iter_mut().zip(row) {
                c.push(v);
            }
        }
        let select: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| match c.first() {
                Some(Value::Geom(_)) => format!("ST_GeomFromEWKB(c{i})"),
                _ => format!("c{i}"),
            })
            .collect();
        let names: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
        let mut q = Sql::new(format!(
            "INSERT INTO {} ({}) SELECT {} FROM UNNEST(",
            b.table,
            b.columns.join(", "),
            select.join(", ")
        ));
        for (i, c) in columns.into_iter().enumerate() {
            if i > 0 {
                q = q.push(", ");
            }
            q = q.bind(Value::Array(c));
        }
        q.push(format!(") AS t({}){}", names.join(", "), b.tail))
    }

    fn bulk_rows(&self, _columns: usize) -> usize {
        CHUNK
    }

    fn lock_tables(&self, tables: &str) -> Option<Sql> {
        Some(Sql::new(format!("LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")))
    }

    fn for_update(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn month(&self, col: &str) -> String {
        format!("to_char({col}, 'YYYY-MM')")
    }

    fn after_explicit_ids(&self, table: &str) -> Option<Sql> {
        Some(Sql::new(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )))
    }

    fn analyze(&self) -> Option<Sql> {
        // PostgreSQL's advice after loading data ("Populating a Database": run ANALYZE afterwards).
        Some(Sql::new("ANALYZE"))
    }

    fn announce(&self, seq: i64) -> Option<Sql> {
        Some(Sql::new(format!("SELECT pg_notify('{CHANNEL}', ")).bind(seq.to_string()).push(")"))
    }

    fn wal_position(&self) -> Option<Sql> {
        Some(Sql::new(
            "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END \
             - '0/0'::pg_lsn)::bigint AS position",
        ))
    }

    async fn listen(&self) -> Result<Option<Box<dyn Wakeups>>> {
        // A pool of its own, so that the listening connection never takes one of the queries'.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with((*self.pool.connect_options()).clone());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(Listening(listener))))
    }
}

/// The channel changes are announced on.
const CHANNEL: &str = "rentgrid_changes";

/// Listening on [`CHANNEL`]: sqlx's listener connects again by itself after a lost connection.
struct Listening(PgListener);

#[async_trait]
impl Wakeups for Listening {
    async fn next(&mut self) -> Result<Option<i64>> {
        // A payload that is not a place (not one of ours) is taken as news of anything.
        Ok(self.0.try_recv().await?.map(|n| n.payload().parse().unwrap_or(i64::MAX)))
    }
}
