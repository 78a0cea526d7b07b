//! Which database failures are a fault of the surroundings rather than a bug or a bad request:
//! the database is away for now (stopped, restarting, the connection cut, every connection
//! taken), or the disk under it is full. Told apart once, where sqlx's errors enter the store, so
//! that every caller (the API, the command line) can say so plainly.

use crate::StoreError;
use sqlx::error::DatabaseError;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if disk_full(&e) {
            StoreError::DiskFull(e)
        } else if away(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Database(e)
        }
    }
}

impl StoreError {
    /// The same failure told again, for each of several operations it ended together (the
    /// visits of one transaction): of the same kind, so answered alike, with the same message.
    pub fn told_again(&self) -> StoreError {
        let again = |e: &sqlx::Error| sqlx::Error::Protocol(e.to_string());
        match self {
            StoreError::Database(e) => StoreError::Database(again(e)),
            StoreError::Unavailable(e) => StoreError::Unavailable(again(e)),
            StoreError::DiskFull(e) => StoreError::DiskFull(again(e)),
            StoreError::Rejected(m) => StoreError::Rejected(m.clone()),
            StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
            StoreError::ClientIdConflict(c) => StoreError::ClientIdConflict(c.clone()),
            StoreError::NotFound { what, id } => StoreError::NotFound { what, id: id.clone() },
            StoreError::Corrupt { what, id, reason } => {
                StoreError::Corrupt { what, id: id.clone(), reason: reason.clone() }
            }
            StoreError::Schema(m) => StoreError::Schema(m.clone()),
            other => StoreError::Database(sqlx::Error::Protocol(other.to_string())),
        }
    }
}

/// The database cannot be reached or dropped the connection: sqlx gave up waiting for a
/// connection (the server refuses them while it is down), the socket failed, or PostgreSQL ended
/// the session (shutting down, starting up, out of connections, a connection exception).
fn away(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(d) => postgres_code(d.as_ref()).is_some_and(|c| {
            // Class 08: connection exception; 57P01-03: admin or crash shutdown, cannot connect
            // now; 53300: too many connections.
            c.starts_with("08") || ["57P01", "57P02", "57P03", "53300"].contains(&c)
        }),
        _ => false,
    }
}

/// No space is left for the write: SQLite's SQLITE_FULL (its extended codes too), PostgreSQL's
/// `disk_full` (53100), or the operating system's "no space left on device".
fn disk_full(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
        sqlx::Error::Database(d) => {
            postgres_code(d.as_ref()) == Some("53100")
                || sqlite_code(d.as_ref()).is_some_and(|c| c & 0xff == SQLITE_FULL)
        }
        _ => false,
    }
}

/// SQLite's primary result code for "database or disk is full".
const SQLITE_FULL: i32 = 13;

/// The SQLSTATE of a PostgreSQL error.
fn postgres_code(d: &dyn DatabaseError) -> Option<&str> {
    #[cfg(feature = "postgis")]
    if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return Some(pg.code());
    }
    let _ = d;
    None
}

/// The (extended) result code of a SQLite error.
fn sqlite_code(d: &dyn DatabaseError) -> Option<i32> {
    #[cfg(feature = "gpkg")]
    if let Some(lite) = d.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
        return lite.code().and_then(|c| c.parse().ok());
    }
    let _ = d;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_or_cut_connection_is_an_outage_and_a_full_disk_is_told_apart() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(StoreError::from(refused), StoreError::Unavailable(_)));
        assert!(matches!(StoreError::from(sqlx::Error::PoolTimedOut), StoreError::Unavailable(_)));
        let full = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(matches!(StoreError::from(full), StoreError::DiskFull(_)));
        assert!(matches!(StoreError::from(sqlx::Error::RowNotFound), StoreError::Database(_)));
    }

    /// The visits of one failed commit are each told the failure: of its kind (so answered with
    /// the same status) and with its message.
    #[test]
    fn a_failure_told_again_keeps_its_kind_and_message() {
        let cut = StoreError::from(sqlx::Error::PoolTimedOut);
        let again = cut.told_again();
        assert!(matches!(again, StoreError::Unavailable(_)), "{again:?}");
        assert!(again.to_string().contains(&sqlx::Error::PoolTimedOut.to_string()), "{again}");
        let full = StoreError::from(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::StorageFull)));
        assert!(matches!(full.told_again(), StoreError::DiskFull(_)));
        let refused = StoreError::NotFound { what: "building", id: "7".into() };
        assert_eq!(refused.told_again().to_string(), "building 7 does not exist");
        let io = StoreError::Io { path: "x".into(), source: std::io::Error::other("gone") };
        assert!(matches!(io.told_again(), StoreError::Database(_)));
        assert!(io.told_again().to_string().contains("x: gone"));
    }
}
