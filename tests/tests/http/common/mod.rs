//! What the HTTP test files share: a store of either backend seeded with a demo city, direct
//! access to its database, the router over it (acting as a signed-in command center, see
//! [`signed_in`]), and `on_both_stores!` to run a scenario on each. Each test file takes what it
//! needs, so some items go unused in some files.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rentgrid_analysis::kpi::Targets;
use rentgrid_geodata::Atlas;
use rentgrid_geodata::demo::DemoOptions;
use rentgrid_server::access::{Credential, Principal, Role};
use rentgrid_server::state::AppState;
use rentgrid_server::store::Store;
use rentgrid_server::store::gpkg::{self, GpkgStore};
use rentgrid_server::store::postgis::PostgisStore;
use rentgrid_server::store::testing::TestDatabase;
use rentgrid_server::{app, startup};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgis,
}

/// Runs each scenario `async fn name(backend: Backend)` on both stores, as `sqlite::name` and
/// `postgis::name`.
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(crate::common::Backend::Sqlite).await })*
        }
        mod postgis {
            $(#[tokio::test] async fn $name() { super::$name(crate::common::Backend::Postgis).await })*
        }
    };
}

/// Direct access to the store's database, for setting up and checking what the API did. Write
/// SQL both dialects accept: `NOT flag`, ids cast to BIGINT, values formatted in.
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgis(sqlx::PgPool),
}

impl Db {
    /// One integer.
    pub async fn int(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Db::Postgis(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// One row of three integers.
    pub async fn ints3(&self, sql: &str) -> (i64, i64, i64) {
        match self {
            Db::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
            Db::Postgis(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// The integers of the first column.
    pub async fn ints(&self, sql: &str) -> Vec<i64> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
            Db::Postgis(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        }
    }

    /// The texts of the first column.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
            Db::Postgis(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        }
    }

    /// The PostGIS pool, for PostGIS-only checks.
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match self {
            Db::Postgis(p) => Some(p),
            Db::Sqlite(_) => None,
        }
    }

    async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgis(p) => p.close().await,
        }
    }
}

/// A store of one backend, direct access to its database, the router over it and the Atlas that
/// router started from. Each PostGIS fixture has its own throwaway database, dropped by
/// [`Fixture::done`].
pub struct Fixture {
    /// A scratch directory (the SQLite store lives in it).
    pub dir: tempfile::TempDir,
    pg: Option<TestDatabase>,
    pub store: Arc<dyn Store>,
    pub db: Db,
    /// The router acting as a signed-in command center.
    pub router: Router,
    /// The router as it is served: no one signed in.
    pub anonymous: Router,
    atlas: Option<Arc<Atlas>>,
    /// The state the routers serve.
    state: Option<AppState>,
}

/// A signed-in user of `role` with no street, grids or caseworker (give those with struct
/// update syntax).
pub fn principal(role: Role) -> Principal {
    Principal {
        user_id: 1,
        username: format!("test-{role}"),
        role,
        street: None,
        grids: Vec::new(),
        caseworker: None,
        credential: Credential::Token { id: 1 },
    }
}

/// `router` acting as `principal`: a layer, in test code only, that puts it into every request
/// as the authentication layer does for a session or a token. Production has no such path.
pub fn signed_in(router: Router, principal: Principal) -> Router {
    router.layer(axum::Extension(principal))
}

/// `router` acting as the command center, who sees the whole district.
pub fn as_center(router: Router) -> Router {
    signed_in(router, principal(Role::Center))
}

/// The small demo city the HTTP tests run on.
pub fn small() -> DemoOptions {
    DemoOptions { scale: 0.05, ..Default::default() }
}

impl Fixture {
    /// An empty store of `backend`, with no router yet.
    pub async fn empty(backend: Backend) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (store, db, pg): (Arc<dyn Store>, Db, Option<TestDatabase>) = match backend {
            Backend::Sqlite => {
                let s = GpkgStore::open(dir.path()).await.unwrap();
                let db = Db::Sqlite(s.pool().clone());
                (Arc::new(s), db, None)
            }
            Backend::Postgis => {
                let (tdb, s) = TestDatabase::create(true).await.unwrap_or_else(|e| panic!("{e}"));
                let db = Db::Postgis(s.pool().clone());
                (Arc::new(s), db, Some(tdb))
            }
        };
        Fixture { dir, pg, store, db, router: Router::new(), anonymous: Router::new(), atlas: None, state: None }
    }

    /// A store of `backend` seeded with the demo city of `opts`, and the router over it. The
    /// [`small`] city is seeded once per backend and process and copied for each test (a file
    /// copy, or `CREATE DATABASE … TEMPLATE`), so tests that write do not see each other.
    pub async fn seeded_with(backend: Backend, opts: &DemoOptions) -> Fixture {
        let mut f = if *opts == small() {
            Fixture::copy_of_small(backend).await
        } else {
            let f = Fixture::empty(backend).await;
            startup::seed_demo(f.store.as_ref(), opts, &mut |_, _| {}, &|_, _, _| {}).await.unwrap();
            f
        };
        let state = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap();
        f.atlas = Some(state.atlas());
        f.state = Some(state.clone());
        f.anonymous = app(state);
        f.router = as_center(f.anonymous.clone());
        f
    }

    /// A fresh copy of the [`small`] demo city's store, seeded once per process.
    async fn copy_of_small(backend: Backend) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let template = template::sqlite();
                for suffix in ["", "-wal", "-shm"] {
                    let file = format!("{}{suffix}", gpkg::FILE_NAME);
                    if template.join(&file).exists() {
                        std::fs::copy(template.join(&file), dir.path().join(&file)).unwrap();
                    }
                }
                let s = GpkgStore::open(dir.path()).await.unwrap();
                let db = Db::Sqlite(s.pool().clone());
                Fixture {
                    dir,
                    pg: None,
                    store: Arc::new(s),
                    db,
                    router: Router::new(),
                    anonymous: Router::new(),
                    atlas: None,
                    state: None,
                }
            }
            Backend::Postgis => {
                let (tdb, s) = TestDatabase::copy_of(template::postgis()).await.unwrap_or_else(|e| panic!("{e}"));
                let db = Db::Postgis(s.pool().clone());
                Fixture {
                    dir,
                    pg: Some(tdb),
                    store: Arc::new(s),
                    db,
                    router: Router::new(),
                    anonymous: Router::new(),
                    atlas: None,
                    state: None,
                }
            }
        }
    }

    /// A store of `backend` seeded with the [`small`] demo city.
    pub async fn seeded(backend: Backend) -> Fixture {
        Fixture::seeded_with(backend, &small()).await
    }

    /// A second store on the same database, as a second server opens it: its own connections
    /// and its own in-process locks.
    pub async fn another_store(&self) -> Arc<dyn Store> {
        match &self.pg {
            Some(pg) => Arc::new(PostgisStore::connect(&pg.url).await.unwrap()),
            None => Arc::new(GpkgStore::open(self.dir.path()).await.unwrap()),
        }
    }

    /// The state the seeded routers serve.
    pub fn state(&self) -> &AppState {
        self.state.as_ref().expect("a seeded fixture")
    }

    /// The Atlas the seeded router started from.
    pub fn atlas(&self) -> &Atlas {
        self.atlas.as_deref().expect("a seeded fixture")
    }

    /// A router over a fresh start from the store, as after a restart (as the command center).
    pub async fn router_now(&self) -> Router {
        as_center(app(startup::state_for(self.store.clone(), Targets::default(), None).await.unwrap()))
    }

    /// Closes the pools and drops the PostGIS database.
    pub async fn done(self) {
        let Fixture { pg, db, store, router, anonymous, atlas, state, .. } = self;
        drop((store, router, anonymous, atlas, state));
        db.close().await;
        if let Some(pg) = pg {
            pg.drop_database().await;
        }
    }
}

/// Sends a request through the router: the status and the body as JSON (or as a string).
pub async fn send(router: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

/// GET `uri`.
pub async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// GET `uri` accepting gzip, as a browser asks: the JSON answer (gunzipped when it came gzipped)
/// and whether it came gzipped.
pub async fn get_gzip(router: &Router, uri: &str) -> (StatusCode, Value, bool) {
    let req = Request::get(uri).header(header::ACCEPT_ENCODING, "gzip").body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let gzipped = res.headers().get(header::CONTENT_ENCODING).is_some_and(|v| v == "gzip");
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    let plain = if gzipped {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain).unwrap();
        plain
    } else {
        bytes
    };
    (
        status,
        serde_json::from_slice(&plain).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&plain).into())),
        gzipped,
    )
}

/// POST `body` as JSON to `uri`.
pub async fn post_json(router: &Router, uri: &str, body: &str) -> (StatusCode, Value) {
    let req =
        Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
    send(router, req).await
}

/// The XYZ tile at zoom `z` holding `(lon, lat)`.
pub fn tile_at(lon: f64, lat: f64, z: u8) -> (u8, u32, u32) {
    let n = 2f64.powi(i32::from(z));
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let phi = lat.to_radians();
    let y = ((1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (z, x, y)
}

/// The [`small`] demo city seeded once per backend and process, from a thread with a runtime
/// of its own (a test's runtime ends with the test; the seeded store must outlive it).
mod template {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    fn seed_on_own_runtime<T: Send + 'static, F: std::future::Future<Output = T>>(
        job: impl FnOnce() -> F + Send + 'static,
    ) -> T {
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(job())
        })
        .join()
        .unwrap()
    }

    /// The directory of the seeded GeoPackage (under the target's scratch directory; those of
    /// ended test processes are removed).
    pub fn sqlite() -> &'static Path {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        DIR.get_or_init(|| {
            let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("http-fixture");
            if let Ok(entries) = std::fs::read_dir(&root) {
                for e in entries.flatten() {
                    let pid = e.file_name().to_string_lossy().into_owned();
                    if !Path::new(&format!("/proc/{pid}")).exists() {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
            let dir = root.join(std::process::id().to_string());
            std::fs::create_dir_all(&dir).unwrap();
            let at = dir.clone();
            seed_on_own_runtime(move || async move {
                let store = GpkgStore::open(&at).await.unwrap();
                startup::seed_demo(&store, &small(), &mut |_, _| {}, &|_, _, _| {}).await.unwrap();
                store.pool().close().await;
            });
            dir
        })
    }

    /// The name of the seeded PostGIS template database (dropped by a later run once this
    /// process has ended).
    pub fn postgis() -> &'static str {
        static NAME: OnceLock<String> = OnceLock::new();
        NAME.get_or_init(|| {
            seed_on_own_runtime(|| async {
                rentgrid_server::store::testing::drop_stale_templates().await;
                let (tdb, store) = TestDatabase::create(true).await.unwrap_or_else(|e| panic!("{e}"));
                startup::seed_demo(&store, &small(), &mut |_, _| {}, &|_, _, _| {}).await.unwrap();
                store.pool().close().await;
                tdb.keep()
            })
        })
    }
}
