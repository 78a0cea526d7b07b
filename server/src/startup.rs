//! Opening a data directory, seeding the demo city into an empty store, building the Atlas.

use crate::access::Role;
use crate::access::demo_users::{DEMO_USERS, caseworker_login};
use crate::access::password;
pub use crate::error::StartupError;
use crate::identity::{Actor, Identity, UserError};
pub use crate::state::{AppState, load_atlas, load_atlas_at};
use crate::store::NewUser;
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

/// Adds the demo city's users: one per role ([`DEMO_USERS`]) and one per caseworker
/// ([`caseworker_login`]), each with its documented password. The supervisor answers for the
/// city's first street, the `caseworker` user is that street's first caseworker. Returns how
/// many were added.
pub async fn seed_demo_users(store: &dyn Store, city: &City, identity: &Identity) -> Result<usize, StartupError> {
    let street = city.streets.first().map(|s| s.code.clone());
    let first_cw = city.caseworkers.iter().find(|c| Some(&c.street_code) == street.as_ref()).map(|c| c.id);
    let mut users: Vec<(NewUser, String)> = DEMO_USERS
        .iter()
        .map(|u| {
            let user = NewUser {
                username: u.username.into(),
                role: u.role.as_str().into(),
                street: (u.role == Role::Supervisor).then(|| street.clone()).flatten(),
                grids: Vec::new(),
                caseworker: (u.role == Role::Caseworker).then_some(first_cw).flatten(),
                password_hash: String::new(),
            };
            (user, u.password.to_owned())
        })
        .collect();
    for c in &city.caseworkers {
        let (username, password) = caseworker_login(c.id);
        let user = NewUser {
            username,
            role: Role::Caseworker.as_str().into(),
            street: None,
            grids: Vec::new(),
            caseworker: Some(c.id),
            password_hash: String::new(),
        };
        users.push((user, password));
    }
    // Argon2id is slow by design: hash on every core, off the async threads.
    let users = tokio::task::spawn_blocking(move || {
        use rayon::prelude::*;
        users
            .into_par_iter()
            .map(|(u, p)| password::hash(&p).map(|h| NewUser { password_hash: h, ..u }))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| UserError::Invalid(e.to_string()))?
    .map_err(|e| UserError::Invalid(e.to_string()))?;
    let now = identity.now();
    for u in &users {
        let event = Actor::Cli.event(now, "user_add", format!("user {} role {} (demo)", u.username, u.role));
        store.add_user(u, now, &event).await?;
    }
    Ok(users.len())
}

/// The name of the administrator a new store gets.
pub const FIRST_ADMIN: &str = "admin";

/// Gives a store without the first administrator ([`FIRST_ADMIN`], role `sysadmin`) that user,
/// with a random password; returns the password (to be shown once), or `None` when the user
/// exists already.
pub async fn ensure_first_admin(store: &dyn Store, identity: &Identity) -> Result<Option<String>, StartupError> {
    if store.user_named(FIRST_ADMIN).await?.is_some() {
        return Ok(None);
    }
    let secret = crate::access::session::new_secret("");
    let password: String = secret.chars().take(24).collect();
    let request = crate::identity::NewUserRequest {
        username: FIRST_ADMIN.into(),
        role: Role::Sysadmin,
        street: None,
        grids: Vec::new(),
        caseworker: None,
        password: password.clone(),
    };
    identity.add_user(store, request, &Actor::Cli).await?;
    Ok(Some(password))
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
    let loaded = load_atlas_at(store.as_ref()).await?;
    Ok(AppState::new(store, loaded, targets, web_dir))
}
