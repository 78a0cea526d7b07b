//! What a backend gives the SQL written once: a connection pool that runs [`Sql`] and returns
//! [`Row`]s, transactions, and a small dialect: how a bulk write is sent, how a table or a key is
//! locked, how a date column gives its month. The store's statements and rules live in the
//! concern modules; a backend module holds only this.

use crate::sql::{Bulk, Sql};
use crate::value::{Each, Row, Value};
use crate::{Progress, Result, StoreError};
use async_trait::async_trait;

/// An open transaction of a backend.
#[async_trait]
pub trait Conn: Send {
    /// Runs a statement; returns the rows it changed.
    async fn execute(&mut self, q: Sql) -> Result<u64>;
    /// Runs a query; returns its rows.
    async fn fetch(&mut self, q: Sql) -> Result<Vec<Row>>;
    /// Runs a query, handing each row to `each` as it comes (none kept): for results too
    /// large to hold whole. Returns how many rows there were.
    async fn fetch_each(&mut self, q: Sql, each: &mut Each<'_>) -> Result<u64>;
    /// Commits.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// How a backend runs a statement on one of its sqlx connections: the part of a transaction
/// that differs between backends.
#[async_trait]
pub(crate) trait Driver: Send + Sync + 'static {
    /// The sqlx database.
    type Db: sqlx::Database;
    /// Runs a statement on `c`; returns the rows it changed.
    async fn execute(c: &mut <Self::Db as sqlx::Database>::Connection, q: Sql) -> Result<u64>;
    /// Runs a query on `c`; returns its rows.
    async fn fetch(c: &mut <Self::Db as sqlx::Database>::Connection, q: Sql) -> Result<Vec<Row>>;
    /// Runs a query on `c`, handing each row to `each` as it comes; returns how many.
    async fn fetch_each(c: &mut <Self::Db as sqlx::Database>::Connection, q: Sql, each: &mut Each<'_>) -> Result<u64>;
}

/// The [`Driver`] of a sqlx backend `$backend` on database `$db` with connections `$conn`, from
/// its module's `render(Sql) -> (String, Vec<Value>)`, `bound(text, params) -> Result<Query>`,
/// `run(executor, Sql) -> Result<Vec<Row>>` and `run_each(executor, Sql, &mut Each) ->
/// Result<u64>`: the part every sqlx backend writes alike.
macro_rules! sqlx_driver {
    ($backend:ty, $db:ty, $conn:ty) => {
        #[async_trait::async_trait]
        impl $crate::backend::Driver for $backend {
            type Db = $db;

            async fn execute(c: &mut $conn, q: $crate::sql::Sql) -> $crate::Result<u64> {
                let (text, params) = render(q);
                Ok(bound(&text, params)?.execute(c).await?.rows_affected())
            }

            async fn fetch(c: &mut $conn, q: $crate::sql::Sql) -> $crate::Result<Vec<$crate::value::Row>> {
                run(c, q).await
            }

            async fn fetch_each(
                c: &mut $conn,
                q: $crate::sql::Sql,
                each: &mut $crate::value::Each<'_>,
            ) -> $crate::Result<u64> {
                run_each(c, q, each).await
            }
        }
    };
}
pub(crate) use sqlx_driver;

/// A transaction of a sqlx backend.
pub(crate) struct SqlxTx<D: Driver>(pub(crate) sqlx::Transaction<'static, D::Db>);

#[async_trait]
impl<D: Driver> Conn for SqlxTx<D> {
    async fn execute(&mut self, q: Sql) -> Result<u64> {
        D::execute(&mut self.0, q).await
    }

    async fn fetch(&mut self, q: Sql) -> Result<Vec<Row>> {
        D::fetch(&mut self.0, q).await
    }

    async fn fetch_each(&mut self, q: Sql, each: &mut Each<'_>) -> Result<u64> {
        D::fetch_each(&mut self.0, q, each).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        Ok(self.0.commit().await?)
    }
}

/// How busy a store's connection pool is at one instant (read from memory, no query).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open now, in use or idle.
    pub open: u32,
    /// Of those, the idle ones.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

impl PoolUsage {
    /// Connections open and in use (lent to a query or transaction).
    pub fn in_use(self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}

/// The figures of a sqlx pool.
pub(crate) fn usage_of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolUsage {
    PoolUsage {
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

/// A database the store runs on: its connection and its dialect.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// What `/health` calls it: `sqlite` (the GeoPackage file) or `postgis`.
    fn name(&self) -> &'static str;
    /// Where it is (a path, or a URL without password).
    fn location(&self) -> String;
    /// How busy its connection pool is now.
    fn pool_usage(&self) -> PoolUsage;
    /// Closes its connections, waiting for those in use to be given back (a GeoPackage's last
    /// connection folds its write-ahead log into the file).
    async fn close(&self);
    /// Starts a transaction.
    async fn begin(&self) -> Result<Box<dyn Conn>>;
    /// Starts a read-only transaction whose reads all see one snapshot of the database.
    async fn begin_snapshot(&self) -> Result<Box<dyn Conn>>;
    /// Runs a query outside a transaction.
    async fn fetch(&self, q: Sql) -> Result<Vec<Row>>;
    /// One statement writing `rows` (at most [`Self::bulk_rows`] of them) into `b`.
    fn bulk(&self, b: &Bulk<'_>, rows: Vec<Vec<Value>>) -> Sql;
    /// Rows per bulk statement of `columns` columns.
    fn bulk_rows(&self, columns: usize) -> usize;
    /// The statement that keeps other writers off `tables` (comma-separated) until the
    /// transaction ends, if the backend needs one (a GeoPackage has one writer at a time).
    fn lock_tables(&self, tables: &str) -> Option<Sql>;
    /// What follows a `SELECT` to lock its rows until the transaction ends (or nothing).
    fn for_update(&self) -> &'static str;
    /// The `YYYY-MM` text of the date column `col`.
    fn month(&self, col: &str) -> String;
    /// The statement to run after rows with explicit ids went into `table`, so that the ids
    /// the database hands out next come after them (or nothing).
    fn after_explicit_ids(&self, table: &str) -> Option<Sql>;
    /// The statement that refreshes the query planner's statistics after a bulk write, if the
    /// backend plans from them: PostgreSQL has none for rows just loaded until autovacuum comes
    /// by (if it is on), and until then may plan a building's lookup as a scan of every person.
    fn analyze(&self) -> Option<Sql>;
    /// The statement that announces change `seq` to the servers listening, at commit, if the
    /// backend announces (the change log's module says how).
    fn announce(&self, seq: i64) -> Option<Sql>;
    /// The query of where the database is in its write-ahead log, one row with column
    /// `position` (written on a primary, replayed on a standby), if it has one.
    fn wal_position(&self) -> Option<Sql>;
    /// Wake-ups at each announced change, if the backend announces.
    async fn listen(&self) -> Result<Option<Box<dyn Wakeups>>>;
}

/// A transaction with the dialect of its backend at hand.
pub struct Tx<'a> {
    /// The backend.
    pub db: &'a dyn Backend,
    conn: Box<dyn Conn>,
}

impl<'a> Tx<'a> {
    /// Starts a transaction on `db`.
    pub async fn begin(db: &'a dyn Backend) -> Result<Tx<'a>> {
        Ok(Tx { db, conn: db.begin().await? })
    }

    /// Starts a read-only transaction on `db` whose reads all see one snapshot.
    pub async fn snapshot(db: &'a dyn Backend) -> Result<Tx<'a>> {
        Ok(Tx { db, conn: db.begin_snapshot().await? })
    }

    /// Runs a statement; returns the rows it changed.
    pub async fn execute(&mut self, q: Sql) -> Result<u64> {
        self.conn.execute(q).await
    }

    /// Runs a query; returns its rows.
    pub async fn fetch(&mut self, q: Sql) -> Result<Vec<Row>> {
        self.conn.fetch(q).await
    }

    /// Runs a query, handing each row to `each` as it comes (none kept): for results too
    /// large to hold whole. Returns how many rows there were.
    pub async fn fetch_each(&mut self, q: Sql, mut each: impl FnMut(Row) -> Result<()> + Send) -> Result<u64> {
        self.conn.fetch_each(q, &mut each).await
    }

    /// Runs a query expected to return at most one row.
    pub async fn fetch_optional(&mut self, q: Sql) -> Result<Option<Row>> {
        Ok(self.conn.fetch(q).await?.into_iter().next())
    }

    /// Runs a query expected to return one row.
    pub async fn fetch_one(&mut self, q: Sql) -> Result<Row> {
        self.fetch_optional(q).await?.ok_or_else(|| StoreError::Corrupt {
            what: "query",
            id: String::new(),
            reason: "returned no row".into(),
        })
    }

    /// Marks where the transaction stands (a savepoint; one at a time), so that a step that
    /// fails can be undone by [`Self::rollback_to_savepoint`] and the transaction go on.
    pub async fn savepoint(&mut self) -> Result<()> {
        self.execute(Sql::new("SAVEPOINT step")).await.map(drop)
    }

    /// Keeps what was done since [`Self::savepoint`] (it is committed with the transaction).
    pub async fn release_savepoint(&mut self) -> Result<()> {
        self.execute(Sql::new("RELEASE SAVEPOINT step")).await.map(drop)
    }

    /// Undoes what was done since [`Self::savepoint`], a failed statement included, and ends the
    /// savepoint; the transaction goes on.
    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.execute(Sql::new("ROLLBACK TO SAVEPOINT step")).await?;
        self.release_savepoint().await
    }

    /// Keeps other writers off `tables` until the transaction ends, where the backend needs it.
    pub async fn lock_tables(&mut self, tables: &str) -> Result<()> {
        if let Some(q) = self.db.lock_tables(tables) {
            self.execute(q).await?;
        }
        Ok(())
    }

    /// Writes `rows` into `b` in bulk statements, each row's values by `values`, reporting
    /// progress as `label`.
    pub async fn bulk<T: Sync>(
        &mut self,
        b: &Bulk<'_>,
        rows: &[T],
        values: &(dyn Fn(&T) -> Vec<Value> + Sync),
        label: &str,
        progress: Progress<'_>,
    ) -> Result<()> {
        let per = self.db.bulk_rows(b.columns.len()).max(1);
        let total = rows.len() as u64;
        let mut done = 0u64;
        progress(label, 0, total);
        for chunk in rows.chunks(per) {
            let q = self.db.bulk(b, chunk.iter().map(values).collect());
            self.execute(q).await?;
            done += chunk.len() as u64;
            progress(label, done, total);
        }
        Ok(())
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        self.conn.commit().await
    }
}

/// Wake-ups when changes are recorded, by this process or another (the backend's database
/// announces them, where it can: see [`Backend::listen`]).
#[async_trait]
pub trait Wakeups: Send {
    /// Waits for the next announcement: `Ok(Some(seq))` a change was recorded; `Ok(None)` the
    /// connection that listens was lost and is back (announcements may have been missed
    /// meanwhile); an error when it could not be made again (the next call tries again).
    async fn next(&mut self) -> Result<Option<i64>>;
}
