//! Throwaway PostGIS databases for tests and tools: each one is created empty (migrated on
//! request) and dropped when its guard goes, even when the test panics.

use crate::postgis::PostgisStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

/// The server tests use: `RENTGRID_TEST_POSTGRES`, else the local trust-auth default.
pub fn admin_url() -> String {
    std::env::var("RENTGRID_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database created for one test, migrated to this build's schema. Dropping the guard drops
/// the database (forcing off what still uses it).
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    dropped: bool,
}

fn hint(admin_url: &str, e: &dyn std::fmt::Display) -> String {
    format!(
        "PostgreSQL with PostGIS is not usable at {admin_url} ({e}). Run the tests through scripts/test, which \
         installs and starts it, or point RENTGRID_TEST_POSTGRES at a server"
    )
}

impl TestDatabase {
    /// Creates an empty database with a unique name; `migrate` applies the schema.
    pub async fn create(migrate: bool) -> Result<(Self, PostgisStore), String> {
        Self::create_from(None, migrate).await
    }

    /// Creates a database with a unique name as a copy of `template` (`CREATE DATABASE …
    /// TEMPLATE`: a seeded store in the time of a file copy). Nothing may be connected to the
    /// template meanwhile.
    pub async fn copy_of(template: &str) -> Result<(Self, PostgisStore), String> {
        Self::create_from(Some(template), false).await
    }

    /// Keeps the database when the guard goes (a template shared by the tests of one process;
    /// [`drop_stale_templates`] removes it in a later run).
    pub fn keep(mut self) -> String {
        self.dropped = true;
        self.name.clone()
    }

    async fn create_from(template: Option<&str>, migrate: bool) -> Result<(Self, PostgisStore), String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin_url = admin_url();
        let options = PgConnectOptions::from_str(&admin_url).map_err(|e| hint(&admin_url, &e))?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| hint(&admin_url, &e))?;
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let name = format!("rentgrid_test_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let copy = template.map(|t| format!(" TEMPLATE {t}")).unwrap_or_default();
        sqlx::query(&format!("CREATE DATABASE {name}{copy}"))
            .execute(&admin)
            .await
            .map_err(|e| hint(&admin_url, &e))?;
        admin.close().await;
        let url = options.database(&name).to_url_lossy().to_string();
        let guard = Self { name, url, dropped: false };
        let store = PostgisStore::connect(&guard.url).await.map_err(|e| hint(&admin_url, &e))?;
        if migrate {
            store.migrate().await.map_err(|e| hint(&admin_url, &e))?;
        }
        Ok((guard, store))
    }

    /// Drops the database now (closing what still uses it).
    pub async fn drop_database(mut self) {
        drop_now(&self.name).await;
        self.dropped = true;
    }
}

/// Drops the databases [`TestDatabase::keep`] left by test processes that have ended (their
/// process id no longer runs).
pub async fn drop_stale_templates() {
    let Ok(mut c) = PgConnection::connect(&admin_url()).await else { return };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'rentgrid\\_test\\_%'")
            .fetch_all(&mut c)
            .await
            .unwrap_or_default();
    let _ = c.close().await;
    for name in names {
        let pid = name.strip_prefix("rentgrid_test_").and_then(|rest| rest.split('_').next());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            drop_now(&name).await;
        }
    }
}

async fn drop_now(name: &str) {
    if let Ok(mut c) = PgConnection::connect(&admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await;
        let _ = c.close().await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // A destructor cannot await, and may run inside a runtime: drop it from a thread of its own.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(drop_now(&name));
            }
        })
        .join();
    }
}
