//! Opening a data directory, seeding the demo city into an empty store, building the Atlas.

pub use crate::error::StartupError;
pub use crate::state::{AppState, load_atlas};
use crate::store::gpkg::GpkgStore;
use crate::store::postgis::PostgisStore;
use crate::store::{Progress, Store};
use rentgrid_analysis::kpi::Targets;
use rentgrid_geodata::City;
use rentgrid_geodata::demo::{self, DemoOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Generation progress: (stage, fraction done).
pub type GenProgress<'a> = &'a mut dyn FnMut(&str, f64);

/// Generates the demo city and saves it into `store`, returning it.
pub async fn seed_demo(
    store: &dyn Store,
    opts: &DemoOptions,
    gen_progress: GenProgress<'_>,
    save_progress: Progress<'_>,
) -> Result<City, StartupError> {
    let city = demo::generate(opts, gen_progress)?;
    let origin = format!("demo seed={} scale={} as_of={}", opts.seed, opts.scale, opts.as_of);
    store.save_city(&city, &origin, save_progress).await?;
    Ok(city)
}

/// Where the register lives: a PostGIS database when a URL is given, else the embedded SQLite
/// store in a data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The SQLite file in this data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL/PostGIS database URL.
    Postgis(String),
}

/// Opens the store. SQLite migrates itself (it is embedded: nobody else shares its schema);
/// PostGIS must already be at this build's schema, unless `migrate` is set, in which case
/// pending migrations are applied first.
pub async fn open_store(at: &StoreLocation, migrate: bool) -> Result<Arc<dyn Store>, StartupError> {
    match at {
        StoreLocation::Sqlite(dir) => open_sqlite(dir).await,
        StoreLocation::Postgis(url) => {
            let store = PostgisStore::connect(url).await?;
            if migrate {
                store.migrate().await?;
            }
            store.check_schema().await?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens the SQLite store in `data_dir`.
pub async fn open_sqlite(data_dir: &Path) -> Result<Arc<dyn Store>, StartupError> {
    Ok(Arc::new(GpkgStore::open(data_dir).await?))
}

/// The state for serving `store`.
pub async fn state_for(
    store: Arc<dyn Store>,
    targets: Targets,
    web_dir: Option<PathBuf>,
) -> Result<AppState, StartupError> {
    let atlas = load_atlas(store.as_ref()).await?;
    Ok(AppState::new(store, atlas, targets, web_dir))
}
