//! Opening a data directory, seeding the demo city into an empty store, building the Atlas.

use crate::access::Role;
use crate::access::demo_users::{DEMO_USERS, caseworker_login};
use crate::access::password;
use crate::atlas_file::{AtlasFile, AtlasFileError};
use crate::background::{self, Priority};
pub use crate::error::StartupError;
use crate::identity::{Actor, Identity, UserError};
pub use crate::state::{AppState, load_atlas, load_atlas_at};
use crate::store::NewUser;
use crate::store::changes::Parts;
use crate::store::gpkg::GpkgStore;
use crate::store::postgis::PostgisStore;
use crate::store::snapshot_reads::Stamp;
use crate::store::{Progress, Store, StoreError};
use rentgrid_analysis::kpi::Targets;
use rentgrid_geodata::demo::{self, DemoOptions};
use rentgrid_geodata::{Atlas, City};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

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

/// Where the Atlas a server starts with came from.
#[derive(Debug)]
pub enum AtlasOrigin {
    /// The Atlas snapshot file.
    SnapshotFile {
        /// Whether the file held the store's state at an earlier change of its log, so the
        /// changes logged since were applied after it was read.
        behind: bool,
        /// The file being written anew with the caught-up Atlas, off the start-up path (when
        /// it was behind and no other server wrote meanwhile).
        writing: Option<tokio::task::JoinHandle<Result<(), AtlasFileError>>>,
    },
    /// The store.
    Store {
        /// Why the snapshot file was not used (`None`: there is none to use).
        refused: Option<AtlasFileError>,
        /// The snapshot file being written anew from what was loaded, off the start-up path.
        writing: Option<tokio::task::JoinHandle<Result<(), AtlasFileError>>>,
    },
}

/// The state for serving `store`, its Atlas read from `file` when that holds the store's state
/// now or at an earlier change of its log (then the changes since are applied before this
/// returns), else loaded from the store; in both latter cases `file` is written anew off the
/// start-up path (see [`crate::atlas_file`]). With where the Atlas came from.
pub async fn state_from(
    store: Arc<dyn Store>,
    targets: Targets,
    web_dir: Option<PathBuf>,
    file: Option<AtlasFile>,
) -> Result<(AppState, AtlasOrigin), StartupError> {
    let (loaded, mut origin) = load_atlas_from(store.as_ref(), file.clone()).await?;
    let state = AppState::new(store, loaded, targets, web_dir);
    if let (AtlasOrigin::SnapshotFile { behind: true, writing }, Some(file)) = (&mut origin, file) {
        let started = Instant::now();
        state.catch_up().await?;
        let (atlas, applied) = state.applied().await;
        tracing::info!(seconds = started.elapsed().as_secs_f64(), change = applied, "caught up with the change log");
        let stamp = state.store().stamp().await?;
        if stamp.mark.seq == applied {
            *writing = Some(write_off_path(file, atlas, stamp));
        }
    }
    Ok((state, origin))
}

/// Writes `atlas`, the store's state at `stamp`, to `file` on the background threads (nobody
/// waits for it: requests are served meanwhile).
fn write_off_path(
    file: AtlasFile,
    atlas: Arc<Atlas>,
    stamp: Stamp,
) -> tokio::task::JoinHandle<Result<(), AtlasFileError>> {
    let path = file.path().display().to_string();
    let write = move || {
        let at = Instant::now();
        let written = file.write(&atlas, &stamp);
        match &written {
            Ok(()) => tracing::info!(
                file = %file.path().display(),
                seconds = at.elapsed().as_secs_f64(),
                "wrote the Atlas snapshot file"
            ),
            Err(e) => tracing::warn!(reason = %e, "the Atlas snapshot file could not be written"),
        }
        written
    };
    tokio::spawn(async move {
        background::run(Priority::Background, write).await.unwrap_or_else(|lost| {
            Err(AtlasFileError::Io { path, source: std::io::Error::other(format!("writing it: {lost}")) })
        })
    })
}

/// The Atlas of what `store` holds and the place of the last change it includes, read from
/// `file` when that holds the store's state now or at an earlier change of its log (the caller
/// then applies the changes logged since: [`AppState::catch_up`]), else from the store (then
/// `file` is written anew off the start-up path).
pub async fn load_atlas_from(
    store: &dyn Store,
    file: Option<AtlasFile>,
) -> Result<((Atlas, i64), AtlasOrigin), StartupError> {
    let started = Instant::now();
    let Some(file) = file else {
        let (atlas, stamp) = load_from_store(store).await?;
        return Ok(((atlas, stamp.mark.seq), AtlasOrigin::Store { refused: None, writing: None }));
    };
    let stamp = store.stamp().await?;
    let refused = match read_usable(store, &file, &stamp).await {
        Ok((atlas, file_stamp, read_s)) => {
            let behind = file_stamp.mark.seq != stamp.mark.seq;
            tracing::info!(
                file = %file.path().display(),
                read_s,
                seconds = started.elapsed().as_secs_f64(),
                rss_mib = resident_mib(),
                file_change = file_stamp.mark.seq,
                store_change = stamp.mark.seq,
                "the Atlas was read from its snapshot file"
            );
            return Ok(((atlas, file_stamp.mark.seq), AtlasOrigin::SnapshotFile { behind, writing: None }));
        }
        Err(AtlasFileError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(file = %file.path().display(), "no Atlas snapshot file yet: loading from the store");
            None
        }
        Err(e) => {
            tracing::warn!(file = %file.path().display(), reason = %e, "the Atlas snapshot file was not used: loading from the store");
            Some(e)
        }
    };
    let (atlas, stamp) = load_from_store(store).await?;
    let seq = stamp.mark.seq;
    let writing = write_off_path(file, Arc::new(atlas.clone()), stamp);
    Ok(((atlas, seq), AtlasOrigin::Store { refused, writing: Some(writing) }))
}

/// The Atlas `file` holds, with the file's stamp and the seconds reading it took, when the file
/// is whole and holds the store's state now (`stamp`) or at an earlier change of its log.
async fn read_usable(
    store: &dyn Store,
    file: &AtlasFile,
    stamp: &Stamp,
) -> Result<(Atlas, Stamp, f64), AtlasFileError> {
    let at = Instant::now();
    let whole = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || file.read_whole())
            .await
            .unwrap_or_else(|e| Err(AtlasFileError::Malformed(e.to_string())))?
    };
    if let Err(now) = whole.check(stamp) {
        let earlier = whole.stamp().mark.seq < stamp.mark.seq;
        let then = if earlier { store.stamp_at(whole.stamp().mark.seq).await.ok().flatten() } else { None };
        if then.as_ref() != Some(whole.stamp()) {
            return Err(now);
        }
    }
    let file_stamp = whole.stamp().clone();
    let mut atlas = tokio::task::spawn_blocking(move || {
        Atlas::build(whole.input()?).map_err(|e| AtlasFileError::Malformed(e.to_string()))
    })
    .await
    .unwrap_or_else(|e| Err(AtlasFileError::Malformed(e.to_string())))?;
    atlas.set_version(file_stamp.mark.version);
    Ok((atlas, file_stamp, at.elapsed().as_secs_f64()))
}

/// The Atlas of what `store` holds, with the stamp of the state it was loaded at; logs how long
/// reading and building took.
async fn load_from_store(store: &dyn Store) -> Result<(Atlas, Stamp), StartupError> {
    let started = Instant::now();
    let loaded = store.load(Parts { atlas: true, inputs: false }).await?;
    let stamp = Stamp { mark: loaded.mark, history: loaded.history };
    let input = loaded.atlas.ok_or(StoreError::Empty)?;
    let (read_s, read_rss) = (started.elapsed().as_secs_f64(), resident_mib());
    let mut atlas = Atlas::build(input)?;
    atlas.set_version(stamp.mark.version);
    tracing::info!(
        read_s,
        read_rss_mib = read_rss,
        seconds = started.elapsed().as_secs_f64(),
        rss_mib = resident_mib(),
        "the Atlas was loaded from the store"
    );
    Ok((atlas, stamp))
}

/// The process's resident memory now, in MiB (Linux; `None` elsewhere), for the start-up log.
fn resident_mib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096 / (1 << 20))
}
