//! Where a database is in its write-ahead log (WAL, 预写日志), so that a server reading from a
//! streaming-replication standby can tell whether the standby already holds a write: the primary
//! answers the position it has written, a standby the position it has replayed. A write made at
//! position X is visible on a standby once it answers a position ≥ X.
//!
//! ```
//! use rentgrid_store::{Replication, Store};
//! // Anything that keeps the register says where it is in its log, if it has one.
//! fn replication(store: &dyn Store) -> &dyn Replication { store }
//! ```

use crate::backend::Backend;
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;

/// A position in the write-ahead log (a PostgreSQL `pg_lsn`, as a byte offset).
pub type WalPosition = u64;

/// Where the database is in its write-ahead log.
#[async_trait]
pub trait Replication: Send + Sync {
    /// The position written (on a primary) or replayed (on a standby); `None` when the backend
    /// has no log that standbys replay (a GeoPackage).
    async fn wal_position(&self) -> Result<Option<WalPosition>>;
}

#[async_trait]
impl<B: Backend> Replication for SqlStore<B> {
    async fn wal_position(&self) -> Result<Option<WalPosition>> {
        let Some(q) = self.db.wal_position() else { return Ok(None) };
        let Some(row) = self.db.fetch(q).await?.into_iter().next() else { return Ok(None) };
        // NULL: a standby that has replayed nothing yet.
        row.opt_int("position")?
            .map(|p| {
                u64::try_from(p).map_err(|_| StoreError::Corrupt {
                    what: "wal position",
                    id: p.to_string(),
                    reason: "negative".into(),
                })
            })
            .transpose()
    }
}
