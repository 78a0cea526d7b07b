//! The GeoPackage as a file: checked before it is opened (a truncated or foreign file is refused
//! by name, never opened as empty and seeded over), copied while the server runs (`VACUUM
//! INTO`, one consistent snapshot), and put back from such a copy.

use super::{FILE_NAME, Gpkg, MIGRATOR};
use crate::{Result, SqlStore, StoreError};
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::io::Read;
use std::path::Path;

/// The first bytes of every SQLite database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The refusal of a file that cannot be the store, naming it and what to do.
pub(super) fn unusable(path: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Unusable {
        path: path.display().to_string(),
        reason: format!(
            "{why}. It was left as it is; restore the last backup (rentgrid restore --data DIR BACKUP) or move the \
             file away to start afresh"
        ),
    }
}

/// Checks, without opening it, that the file at `path` (if there is one) is a whole SQLite
/// database: not empty, its header intact, and at least as long as its header says. A missing
/// file is fine (a new store is made).
///
/// With a write-ahead log beside it (`…-wal`, not empty), the length is not checked here: a
/// process that ended without closing the store (killed, or while its last connection was
/// folding the log into the file, which writes the header's page first) leaves a file shorter
/// than its header whose missing pages are in the log, and SQLite recovers them on opening.
/// [`settle`] checks the length once the log is folded in.
pub fn check(path: &Path) -> Result<()> {
    check_file(path, !has_log(path))
}

/// Whether a write-ahead log with frames in it lies beside the database at `path`.
fn has_log(path: &Path) -> bool {
    let mut log = path.as_os_str().to_owned();
    log.push("-wal");
    std::fs::metadata(log).is_ok_and(|m| m.len() > 0)
}

/// [`check`], with the length compared to the header's when `whole`.
fn check_file(path: &Path, whole: bool) -> Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(StoreError::Io { path: path.display().to_string(), source }),
    };
    let len = file.metadata().map_err(|source| StoreError::Io { path: path.display().to_string(), source })?.len();
    if len == 0 {
        return Err(unusable(path, "the file is empty (0 bytes): it was cut short or never written"));
    }
    let mut header = [0u8; 100];
    if file.read_exact(&mut header).is_err() || &header[..16] != MAGIC {
        return Err(unusable(path, "the file is not a GeoPackage (no SQLite header)"));
    }
    // Page size at 16 (1 means 65,536), pages at 28, valid when the change counter at 24 equals
    // the number at 92 (https://www.sqlite.org/fileformat2.html#database_header).
    let be16 = |i: usize| u32::from(u16::from_be_bytes([header[i], header[i + 1]]));
    let be32 = |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let page = match be16(16) {
        1 => 65_536,
        p => p,
    };
    let (pages, counter, valid_for) = (be32(28), be32(24), be32(92));
    let needed = u64::from(page) * u64::from(pages);
    if whole && counter == valid_for && len < needed {
        return Err(unusable(
            path,
            format!("the file is {len} bytes where its header says {needed}: it was cut short"),
        ));
    }
    Ok(())
}

/// After opening the store at `path` over a write-ahead log left by a process that did not
/// close it, folds the log into the file (a passive checkpoint: it waits for nobody) and, if
/// the whole log went in, checks the file's length as [`check`] could not. When another process
/// has the store open the log may stay; the file is then left to SQLite.
pub(super) async fn settle(pool: &sqlx::SqlitePool, path: &Path) -> Result<()> {
    if !has_log(path) {
        return Ok(());
    }
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    let (busy, frames, folded): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if busy == 0 && frames == folded {
        check_file(path, true)?;
    }
    Ok(())
}

impl SqlStore<Gpkg> {
    /// Writes a consistent copy of the store to `to` (a new file) while it serves: one
    /// transaction's snapshot, compacted, with its own journal (SQLite's `VACUUM INTO`).
    pub async fn backup_to(&self, to: &Path) -> Result<u64> {
        if to.exists() {
            return Err(StoreError::Io {
                path: to.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the backup file exists already"),
            });
        }
        let target = to.to_str().ok_or_else(|| StoreError::Rejected(format!("{}: not a UTF-8 path", to.display())))?;
        sqlx::query("VACUUM INTO ?").bind(target).execute(self.pool()).await?;
        std::fs::metadata(to).map(|m| m.len()).map_err(|source| StoreError::Io { path: target.into(), source })
    }
}

/// What a backup holds, checked before it is restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// The migrations it has (the schema version).
    pub migrations: i64,
    /// Grids, buildings and visits in it.
    pub grids: i64,
    /// Buildings.
    pub buildings: i64,
    /// Visits.
    pub visits: i64,
}

/// Puts the backup `from` back as the store of `data_dir`, replacing what is there: the backup
/// is checked whole first (`PRAGMA integrity_check`, a schema this build knows), copied beside
/// the store, synced, then renamed over it, so a failure at any point leaves the old store as
/// it was. Stop the server first.
pub async fn restore(from: &Path, data_dir: &Path) -> Result<BackupSummary> {
    check(from)?;
    if !from.is_file() {
        return Err(unusable(from, "there is no such backup file"));
    }
    let summary = inspect(from).await?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| StoreError::Io { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let target = data_dir.join(FILE_NAME);
    let partial = data_dir.join(format!("{FILE_NAME}.restoring"));
    std::fs::copy(from, &partial).map_err(io(&partial))?;
    std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
    // The old store's journal belongs to the old file.
    for suffix in ["-wal", "-shm"] {
        let journal = data_dir.join(format!("{FILE_NAME}{suffix}"));
        match std::fs::remove_file(&journal) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&journal)(e)),
            _ => {}
        }
    }
    std::fs::rename(&partial, &target).map_err(io(&target))?;
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(summary)
}

/// Opens `path` read-only and checks it is a whole store of a schema this build knows.
async fn inspect(path: &Path) -> Result<BackupSummary> {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| unusable(path, format!("it does not open: {e}")))?;
    let summary = async {
        let ok: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await?;
        if ok != "ok" {
            return Err(unusable(path, format!("its integrity check fails: {ok}")));
        }
        let known = MIGRATOR.iter().count() as i64;
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM _sqlx_migrations WHERE success), (SELECT count(*) FROM grids), \
             (SELECT count(*) FROM buildings), (SELECT count(*) FROM visits)",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| unusable(path, format!("it is not a rentgrid store: {e}")))?;
        let migrations: i64 = row.try_get(0)?;
        if migrations > known {
            return Err(unusable(path, format!("it was written by a newer rentgrid (schema {migrations} > {known})")));
        }
        Ok(BackupSummary { migrations, grids: row.try_get(1)?, buildings: row.try_get(2)?, visits: row.try_get(3)? })
    }
    .await;
    pool.close().await;
    summary
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{check, has_log};
    use crate::gpkg::{FILE_NAME, GpkgStore};

    /// The header's page count of the database file at `path`, and the pages the file holds.
    fn pages(path: &std::path::Path) -> (u64, u64) {
        let bytes = std::fs::read(path).unwrap();
        let page = u64::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        (u64::from(u32::from_be_bytes(bytes[28..32].try_into().unwrap())), bytes.len() as u64 / page)
    }

    /// A process that ended while its last connection folded the write-ahead log into the file
    /// (a checkpoint writes the header's page first) leaves a file shorter than its header says,
    /// with the missing pages in the log: the store opens, loses nothing, and is whole after.
    #[tokio::test]
    async fn a_store_left_in_the_middle_of_a_checkpoint_opens_from_its_log() {
        // Enough rows that the file must grow past the free pages the migrations leave.
        const ROWS: i64 = 200;
        let running = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(running.path()).await.unwrap();
        let mut c = store.pool().acquire().await.unwrap();
        sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(&mut *c).await.unwrap();
        sqlx::query("CREATE TABLE filler (x BLOB)").execute(&mut *c).await.unwrap();
        for _ in 0..ROWS {
            sqlx::query("INSERT INTO filler VALUES (randomblob(3000))").execute(&mut *c).await.unwrap();
        }
        // The files as a process killed now leaves them.
        let left = tempfile::tempdir().unwrap();
        for f in [FILE_NAME.to_owned(), format!("{FILE_NAME}-wal")] {
            std::fs::copy(running.path().join(&f), left.path().join(&f)).unwrap();
        }
        drop(c);
        store.pool().close().await;
        // The checkpoint it was in had written the newest header page from the log, no more.
        let (file, log) = (left.path().join(FILE_NAME), left.path().join(format!("{FILE_NAME}-wal")));
        let wal = std::fs::read(&log).unwrap();
        let page = u32::from_be_bytes(wal[8..12].try_into().unwrap()) as usize;
        let newest_header = wal[32..]
            .chunks_exact(24 + page)
            .rfind(|frame| u32::from_be_bytes(frame[..4].try_into().unwrap()) == 1)
            .map(|frame| frame[24..].to_vec())
            .expect("the log holds the header page");
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[..page].copy_from_slice(&newest_header);
        std::fs::write(&file, &bytes).unwrap();
        let (said, held) = pages(&file);
        assert!(said > held + 10, "the file is cut short as the test needs: {said} pages said, {held} held");
        assert!(has_log(&file) && check(&file).is_ok(), "not refused before opening");

        let opened = GpkgStore::open(left.path()).await.unwrap();
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler").fetch_one(opened.pool()).await.unwrap();
        assert_eq!(rows, ROWS, "every committed row is there");
        let (said, held) = pages(&file);
        assert_eq!(said, held, "the log was folded into the file");
        opened.pool().close().await;
        assert!(check(&file).is_ok());
    }
}
