//! The server's shared state: the store, the current [`Snapshot`] (the Atlas and the views
//! derived from it alone), the views that also read the kept inputs (each in a [`PerSnapshot`]
//! memo) and the write lock.
//!
//! What is kept in memory changes only by the store's change log ([`crate::store::changes`]):
//! a write commits (recording its change), then its writer catches up with the log, applying
//! every change after the last one applied, its own included; the follower
//! ([`crate::follow`]) does the same when another server writes. So every server on one
//! database applies the same changes in the same order, and none twice.

use crate::access::audit::AuditEvent;
use crate::answers::{KeptAnswers, Lookup};
use crate::assessment_kept::AssessmentKept;
use crate::background::{self, Priority};
use crate::encoded::Encoded;
use crate::error::{AppError, StartupError};
use crate::events::{Change, Events};
use crate::grid_stats::{self, EveryGrid};
use crate::hazard_photos::PhotoDir;
use crate::ingest::Batch;
use crate::limits::{Gate, Limits};
use crate::memo::PerSnapshot;
use crate::observe::metrics::{Metrics, Readings, WritePhase};
use crate::snapshot::Snapshot;
use crate::store::campaigns::{NewCampaign, StoredEvidence};
use crate::store::changes::{self, Loaded, Logged, Parts};
use crate::store::field::{Departure, DepartureOutcome, Edited, Keep, NewResident, PersonEdit, ResidentOutcome};
use crate::store::hazards::{HazardMove, HazardWritten, NewHazard};
use crate::store::{ImportCounts, NewVisit, Store, StoreError, VisitOutcome};
use crate::tile_cache::{self, Snapshots, TileCache};
use arc_swap::ArcSwap;
use bytes::Bytes;
use rentgrid_analysis::candidates::{self, CandidateWeights, Candidates, Evidence};
use rentgrid_analysis::hazard::HazardKinds;
use rentgrid_analysis::history::{self, History};
use rentgrid_analysis::kpi::Targets;
use rentgrid_analysis::sweep::{BlockProgress, Phase};
use rentgrid_analysis::unrecorded::{self, Unrecorded, UnrecordedParams};
use rentgrid_analysis::view_inputs::{InputChange, ViewInputs};
use rentgrid_geodata::{Atlas, BuildingId, BuildingStats, Caseworker, Month, StatsDelta};
use rentgrid_tiles::heat::HeatCount;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Builds the Atlas from what `store` holds.
pub async fn load_atlas(store: &dyn Store) -> Result<Atlas, StartupError> {
    Ok(load_atlas_at(store).await?.0)
}

/// Builds the Atlas from what `store` holds, of the data version of the last change it includes,
/// and that change's place in the log.
pub async fn load_atlas_at(store: &dyn Store) -> Result<(Atlas, i64), StartupError> {
    let loaded = store.load(Parts { atlas: true, inputs: false }).await?;
    let mut atlas = Atlas::build(loaded.atlas.ok_or(StoreError::Empty)?)?;
    atlas.set_version(loaded.mark.version);
    Ok((atlas, loaded.mark.seq))
}

/// Changes read from the log at a time.
const CATCH_UP_BATCH: u32 = 1_000;

/// Most visits committed in one transaction.
const VISITS_PER_COMMIT: usize = 64;

/// A visit waiting for its turn to be committed, and where its outcome goes.
struct WaitingVisit {
    /// The visit and its audit row.
    visit: (NewVisit, AuditEvent),
    outcome: tokio::sync::oneshot::Sender<Result<VisitOutcome, StoreError>>,
}

/// The estimators' view of the evidence `ev` the store keeps, on the day `as_of`.
pub fn evidence(ev: &StoredEvidence, as_of: time::Date) -> Evidence<'_> {
    ev.as_of(as_of)
}

/// Everything handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    snapshot: ArcSwap<Snapshot>,
    /// Serialises writes and the catching up with the change log, and holds the place of the
    /// last change applied to what is kept in memory.
    write: tokio::sync::Mutex<i64>,
    /// Writes waiting for `write`.
    writes_waiting: AtomicUsize,
    /// Visits waiting to be committed, all of them at the next turn of `write` (group commit).
    visits_waiting: Mutex<Vec<WaitingVisit>>,
    /// The place `write` holds, copied whenever it moves (under the lock), so that whether a
    /// change is applied can be asked without waiting for the lock; never ahead of it.
    applied_place: AtomicI64,
    targets: Targets,
    web_dir: Option<PathBuf>,
    /// The inputs of the history and the candidate estimate (monthly registrations, evidence),
    /// read from the store once (`None` until first asked for, and after an import until asked
    /// for again) and changed by each committed write under the write lock.
    inputs: Mutex<Option<ViewInputs>>,
    /// Held while the inputs are read from the store, so that concurrent first requests read
    /// them once.
    reading_inputs: tokio::sync::Mutex<()>,
    /// How many times everything was loaded again (an import, or a log that does not follow
    /// on), changed under the write lock: inputs built from one Atlas's buildings are kept only
    /// if it has not changed since.
    reloads: AtomicU64,
    /// The roster with each caseworker's contracted grids (what a caseworker's scope is derived
    /// from), read from the store once (and after an import) under the write lock and changed
    /// by each committed write's contracts, so that no request reads it from the store.
    roster: Mutex<Option<Arc<Vec<Caseworker>>>>,
    /// The history, with the generation of the inputs it was made from.
    history: PerSnapshot<(u64, Arc<History>)>,
    /// Hot-spot answers, kept across snapshots (see [`crate::answers`]).
    hotspots: KeptAnswers<Arc<Encoded>>,
    /// Heat surfaces by count, kept across snapshots as the hot-spot answers are.
    heat: KeptAnswers<Arc<tile_cache::Heat>>,
    estimate: PerSnapshot<Estimate>,
    /// The newest estimate made, of whichever snapshot, served while the current one is made off
    /// the request path (see [`Limits::estimate_interval`]).
    newest_estimate: Mutex<Option<NewestEstimate>>,
    /// Every grid's stats of today, kept to make the next answer from (see [`crate::grid_stats`]);
    /// held while one is made, so that requests after a write wait for one making.
    every_grid: tokio::sync::Mutex<Option<Arc<EveryGrid>>>,
    /// Whether every grid's stats with a new estimate are being made off the request path.
    every_grid_remaking: AtomicBool,
    /// The month's assessment of every caseworker last answered, in blocks per street.
    assessment: AssessmentKept,
    tiles: TileCache,
    /// Held while an estimate is made, so concurrent first requests (a map's grid tiles) make it once.
    estimating: tokio::sync::Mutex<()>,
    identity: crate::identity::Identity,
    /// What one request may cost, and the places of the expensive ones.
    limits: Limits,
    gate: Gate,
    /// `scheme://host[:port]` users reach the server at, when configured: links are built from
    /// it, and a write's `Origin` must be it.
    public_origin: Option<String>,
    /// Users reach the server over HTTPS: answers carry Strict-Transport-Security.
    https: bool,
    /// The Tianditu (天地图) key, when its basemaps are offered.
    tianditu: Option<crate::tianditu::TiandituKey>,
    /// The request figures `GET /metrics` serves.
    metrics: Metrics,
    /// The kinds of hazard recorded, with their deadlines.
    hazard_kinds: HazardKinds,
    /// Where hazard photos are kept (`None`: photos are not taken).
    photos: Option<PhotoDir>,
    /// The changes announced to open maps (`GET /api/events`).
    events: Events,
    /// The fonts map labels are drawn with, and the glyph ranges made from them.
    glyphs: crate::glyphs::GlyphSource,
}

/// The unregistered-candidate estimate of one snapshot on one day, the unrecorded persons and
/// units it implies, and the roster campaign plans check their team against.
#[derive(Debug)]
pub struct Estimate {
    /// The day the estimate is made for (today in China).
    pub as_of: time::Date,
    /// Expected unregistered units per building and grid.
    pub candidates: Candidates,
    /// The persons and rental units the register lacks, per grid, for the rates over the actual
    /// counts (from the same evidence).
    pub unrecorded: Arc<Unrecorded>,
    /// The caseworkers.
    pub caseworkers: Vec<Caseworker>,
    /// The generation of the inputs it was made from ([`ViewInputs::generation`]).
    generation: u64,
}

/// The newest estimate made, with the Atlas it was made from and its refreshing.
#[derive(Debug)]
struct NewestEstimate {
    atlas: Arc<Atlas>,
    estimate: Arc<Estimate>,
    /// When the last estimate for a newer snapshot was started off the request path.
    started: Instant,
    /// Whether one is being made off the request path now.
    refreshing: bool,
    /// How long the last estimate took to make.
    took: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// State over `store` and the `atlas` loaded from it, which includes the changes of the log
    /// up to place `applied` ([`load_atlas_at`]).
    pub fn new(
        store: Arc<dyn Store>,
        (atlas, applied): (Atlas, i64),
        targets: Targets,
        web_dir: Option<PathBuf>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                snapshot: ArcSwap::from_pointee(Snapshot::new(atlas)),
                write: tokio::sync::Mutex::new(applied),
                writes_waiting: AtomicUsize::new(0),
                visits_waiting: Mutex::new(Vec::new()),
                applied_place: AtomicI64::new(applied),
                targets,
                web_dir,
                inputs: Mutex::new(None),
                reading_inputs: tokio::sync::Mutex::new(()),
                reloads: AtomicU64::new(0),
                roster: Mutex::new(None),
                history: PerSnapshot::default(),
                hotspots: KeptAnswers::default(),
                heat: KeptAnswers::default(),
                estimate: PerSnapshot::default(),
                newest_estimate: Mutex::new(None),
                every_grid: tokio::sync::Mutex::new(None),
                every_grid_remaking: AtomicBool::new(false),
                assessment: AssessmentKept::default(),
                tiles: TileCache::new(tile_cache::DEFAULT_CAPACITY_BYTES),
                estimating: tokio::sync::Mutex::new(()),
                identity: crate::identity::Identity::default(),
                limits: Limits::default(),
                gate: Gate::new(&Limits::default()),
                public_origin: None,
                https: false,
                tianditu: None,
                metrics: Metrics::default(),
                hazard_kinds: HazardKinds::default(),
                photos: None,
                events: Events::default(),
                glyphs: crate::glyphs::GlyphSource::new(
                    crate::glyphs::default_font_files(),
                    crate::glyphs::DEFAULT_CAPACITY_BYTES,
                ),
            }),
        }
    }

    /// The same state with a tile cache of `bytes` (0: no cache, every tile is built). Call it
    /// before the state is cloned; later it changes nothing.
    pub fn with_tile_cache(mut self, bytes: u64) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.tiles = TileCache::new(bytes);
        }
        self
    }

    /// The same state with `identity` (its session timeouts, lockout rule and clock). Call it
    /// before the state is cloned; later it changes nothing.
    pub fn with_identity(mut self, identity: crate::identity::Identity) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.identity = identity;
        }
        self
    }

    /// The same state with `limits`. Call it before the state is cloned; later it changes nothing.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.gate = Gate::new(&limits);
            inner.limits = limits;
        }
        self
    }

    /// The same state with the origin users reach the server at (`https://rentgrid.example.cn`,
    /// no path). Call it before the state is cloned; later it changes nothing.
    pub fn with_public_origin(mut self, origin: Option<String>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.public_origin = origin;
        }
        self
    }

    /// The same state for a server users reach over HTTPS. Call it before the state is cloned;
    /// later it changes nothing.
    pub fn with_https(mut self, https: bool) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.https = https;
        }
        self
    }

    /// The same state offering Tianditu's basemaps with `key` (`None`: the offline basemap only).
    /// Call it before the state is cloned; later it changes nothing.
    pub fn with_tianditu(mut self, key: Option<crate::tianditu::TiandituKey>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.tianditu = key;
        }
        self
    }

    /// The Tianditu key, when its basemaps are offered.
    pub fn tianditu(&self) -> Option<&crate::tianditu::TiandituKey> {
        self.inner.tianditu.as_ref()
    }

    /// The same state with the configured hazard kinds and photo directory. Call it before the
    /// state is cloned; later it changes nothing.
    pub fn with_hazards(mut self, kinds: HazardKinds, photos: Option<PhotoDir>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.hazard_kinds = kinds;
            inner.photos = photos;
        }
        self
    }

    /// The same state drawing labels with the font files `files` (OpenType or TrueType, single
    /// or collections) instead of Debian's Noto Sans CJK. Call it before the state is cloned;
    /// later it changes nothing.
    pub fn with_fonts(mut self, files: Vec<PathBuf>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.glyphs = crate::glyphs::GlyphSource::new(files, crate::glyphs::DEFAULT_CAPACITY_BYTES);
        }
        self
    }

    /// The fonts map labels are drawn with.
    pub fn glyphs(&self) -> &crate::glyphs::GlyphSource {
        &self.inner.glyphs
    }

    /// The kinds of hazard recorded.
    pub fn hazard_kinds(&self) -> &HazardKinds {
        &self.inner.hazard_kinds
    }

    /// Where hazard photos are kept, if they are.
    pub fn photos(&self) -> Option<&PhotoDir> {
        self.inner.photos.as_ref()
    }

    /// Whether users reach the server over HTTPS.
    pub fn https(&self) -> bool {
        self.inner.https
    }

    /// What one request may cost.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The places of the expensive requests.
    pub fn gate(&self) -> &Gate {
        &self.inner.gate
    }

    /// The configured origin users reach the server at, if any.
    pub fn public_origin(&self) -> Option<&str> {
        self.inner.public_origin.as_deref()
    }

    /// Logins, sessions and tokens.
    pub fn identity(&self) -> &crate::identity::Identity {
        &self.inner.identity
    }

    /// Built vector tiles and the map geometry they are drawn with.
    pub fn tiles(&self) -> &TileCache {
        &self.inner.tiles
    }

    /// The current snapshot with its derived views. Readers keep the snapshot they took for the
    /// whole request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    /// The current snapshot's Atlas.
    pub fn atlas(&self) -> Arc<Atlas> {
        self.inner.snapshot.load().atlas().clone()
    }

    /// Makes `next` the current snapshot.
    fn publish(&self, next: Arc<Snapshot>) {
        self.inner.snapshot.store(next);
    }

    /// What `GET /metrics` reports of this state now (the audit log's length is the caller's
    /// to read from the store).
    pub fn readings(&self, audit_rows: Option<i64>) -> Readings {
        let snapshot = self.snapshot();
        Readings {
            atlas_version: snapshot.version(),
            atlas_built: snapshot.made(),
            tiles: self.inner.tiles.counts(),
            pool: self.inner.store.pool_usage(),
            audit_rows,
            writes_waiting: self.inner.writes_waiting.load(Ordering::Relaxed),
        }
    }

    /// The request figures `GET /metrics` serves.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The changes announced to open maps, each after its write is committed and published.
    pub fn events(&self) -> &Events {
        &self.inner.events
    }

    /// The write lock, counted in [`Readings::writes_waiting`] while awaited; it holds the place
    /// of the last change applied.
    async fn write_turn(&self) -> tokio::sync::MutexGuard<'_, i64> {
        /// Uncounts the waiter when it gets its turn or gives up (its request was cancelled).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.inner.writes_waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.inner.writes_waiting);
        let asked = Instant::now();
        let turn = self.inner.write.lock().await;
        self.metrics().observe_write(WritePhase::Wait, asked.elapsed());
        turn
    }

    /// Runs the store's part of a write (its transaction, commit included), timed.
    async fn stored<T>(&self, write: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let done = write.await;
        self.metrics().observe_write(WritePhase::Store, started.elapsed());
        done
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// KPI targets.
    pub fn targets(&self) -> &Targets {
        &self.inner.targets
    }

    /// Where the built web map is, if served.
    pub fn web_dir(&self) -> Option<&PathBuf> {
        self.inner.web_dir.as_ref()
    }

    /// The roster as committed, each caseworker with their contracted grids ascending: read
    /// from the store the first time (under the write lock, a few milliseconds), then kept up to
    /// date by the change log.
    pub async fn roster(&self) -> Result<Arc<Vec<Caseworker>>, AppError> {
        if let Some(roster) = lock(&self.inner.roster).clone() {
            return Ok(roster);
        }
        let _applied = self.write_turn().await;
        if let Some(roster) = lock(&self.inner.roster).clone() {
            return Ok(roster);
        }
        let roster = Arc::new(self.inner.store.caseworkers().await?);
        *lock(&self.inner.roster) = Some(roster.clone());
        Ok(roster)
    }

    /// The inputs of the history and the candidate estimate as they stand now: read from the
    /// store the first time, then kept up to date by the change log. The read (tens of seconds
    /// for a city-sized register) holds no write lock, so writes go on meanwhile; then, under
    /// the write lock, the Atlas catches up to the read and the changes committed during it are
    /// applied to what was read. One read at a time: concurrent callers wait for it.
    pub async fn view_inputs(&self) -> Result<ViewInputs, AppError> {
        if let Some(inputs) = lock(&self.inner.inputs).clone() {
            return Ok(inputs);
        }
        let _one = self.inner.reading_inputs.lock().await;
        loop {
            if let Some(inputs) = lock(&self.inner.inputs).clone() {
                return Ok(inputs);
            }
            let started = Instant::now();
            let loaded = self.inner.store.load(Parts { atlas: false, inputs: true }).await?;
            let read_ms = started.elapsed().as_millis() as u64;
            let Some(inputs) = self.keep_view_inputs(loaded).await? else {
                tracing::info!("a reload came during the read of the inputs: reading them again");
                continue;
            };
            tracing::info!(
                read_ms,
                ms = started.elapsed().as_millis() as u64,
                "the inputs of the derived views are read"
            );
            return Ok(inputs);
        }
    }

    /// Keeps `loaded`, the inputs of the derived views read from the store at some change of
    /// its log, as the inputs now. First, under the write lock, the Atlas catches up to that
    /// change if it is behind. Then, with no lock held, the ledger is built from what was read
    /// with that Atlas's buildings (only a reload moves a building, and one in between is seen
    /// below). Last, under the write lock again, the changes applied since the read are applied
    /// to it. `None` (nothing kept) when that cannot be done change by change: a reload came in
    /// between, or `loaded` holds no inputs. Inputs kept already are not replaced.
    pub async fn keep_view_inputs(&self, loaded: Loaded) -> Result<Option<ViewInputs>, AppError> {
        let (Some(registrations), Some(evidence)) = (loaded.registrations, loaded.evidence) else {
            return Ok(None);
        };
        let (atlas, reloads) = {
            let mut applied = self.write_turn().await;
            if let Some(inputs) = lock(&self.inner.inputs).clone() {
                return Ok(Some(inputs));
            }
            // With no inputs kept, applying a change to the Atlas leaves them alone.
            if self.catch_up_until(&mut applied, loaded.mark.seq).await? {
                return Ok(None);
            }
            (self.atlas(), self.inner.reloads.load(Ordering::Relaxed))
        };
        let grid_of = |b: BuildingId| atlas.building(b).map(|b| b.grid_id);
        let built = Instant::now();
        let mut inputs = ViewInputs::new(grid_of, registrations, evidence);
        let built_ms = built.elapsed().as_millis() as u64;

        let applied = self.write_turn().await;
        if let Some(inputs) = lock(&self.inner.inputs).clone() {
            return Ok(Some(inputs));
        }
        if self.inner.reloads.load(Ordering::Relaxed) != reloads {
            return Ok(None);
        }
        let locked = Instant::now();
        let Some(since) = self.input_changes(loaded.mark.seq, *applied).await? else {
            return Ok(None);
        };
        for change in &since {
            inputs.apply(grid_of, change);
        }
        *lock(&self.inner.inputs) = Some(inputs.clone());
        tracing::info!(
            built_ms,
            changes = since.len(),
            locked_ms = locked.elapsed().as_millis() as u64,
            "kept the inputs read, with the changes committed during the read"
        );
        Ok(Some(inputs))
    }

    /// Reads the inputs of the derived views unless kept ([`Self::view_inputs`]), for a server
    /// that starts: its leaders' first view then need not wait for them. A failure is logged
    /// (the first request that needs them tries again).
    pub async fn read_view_inputs(self) {
        if let Err(e) = self.view_inputs().await {
            tracing::warn!(error = %e, "the inputs of the derived views could not be read; the first view to need them reads them");
        }
    }

    /// The changes to the inputs of the derived views logged after place `from` up to place
    /// `to`, in order; `None` when they cannot be applied one by one (a reload among them, or
    /// the log no longer holds them all). The caller holds the write lock.
    async fn input_changes(&self, mut from: i64, to: i64) -> Result<Option<Vec<InputChange>>, AppError> {
        let mut out = Vec::new();
        while from < to {
            let batch = self.inner.store.changes_after(from, CATCH_UP_BATCH).await?;
            let Some(first) = batch.first() else { return Ok(None) };
            if first.prev != from {
                return Ok(None);
            }
            if first.seq > to {
                break;
            }
            for c in batch.into_iter().take_while(|c| c.seq <= to) {
                match c.change {
                    changes::Change::Counts { inputs, .. } => out.push(inputs),
                    changes::Change::Hazards { .. } => {}
                    changes::Change::Reload => return Ok(None),
                }
                from = c.seq;
            }
        }
        Ok(Some(out))
    }

    /// The monthly history of per-grid counts behind `snapshot`, made once per snapshot from the
    /// monthly registrations kept in memory (summed per month and grid as the writes come, so
    /// making it reads no registration again).
    pub async fn history(&self, snapshot: &Snapshot) -> Result<Arc<History>, AppError> {
        let inputs = self.view_inputs().await?;
        let generation = inputs.generation;
        if let Some(h) = self.inner.history.get(snapshot.version(), |(g, _)| *g == generation) {
            return Ok(h.1.clone());
        }
        let now = snapshot.grid_counts();
        let h = Arc::new(history::history_of(&now, inputs.registrations.totals(), history::DEFAULT_MONTHS));
        self.inner.history.put(snapshot.version(), Arc::new((generation, h.clone())));
        Ok(h)
    }

    /// The counts of `building` at the end of each month of the history behind `snapshot` (the
    /// months of its grid's trend), derived when asked from its monthly registrations kept in
    /// memory (a few records: nothing read from the store, nothing kept).
    pub async fn building_history(
        &self,
        snapshot: &Snapshot,
        building: BuildingId,
    ) -> Result<(Vec<Month>, Vec<BuildingStats>), AppError> {
        let inputs = self.view_inputs().await?;
        let months = self.history(snapshot).await?.months.clone();
        let now = snapshot.atlas().building_stats(building).copied().unwrap_or_default();
        let counts = history::building_history(&now, inputs.registrations.of_building(building), &months);
        Ok((months, counts))
    }

    /// What is kept of the hot-spot answer to `key` now: the current one, or an older one and
    /// whether the caller is to start the run for the current snapshot (at most one at a time
    /// per key, and once per [`Limits::analysis_interval`]).
    pub fn hotspots_lookup(&self, key: &str) -> Lookup<Arc<Encoded>> {
        self.inner.hotspots.lookup(key, self.atlas().version(), self.inner.limits.analysis_interval)
    }

    /// The hot-spot answers kept for the current snapshot.
    pub fn hotspots_kept(&self) -> Vec<Arc<Encoded>> {
        self.inner.hotspots.of_version(self.atlas().version())
    }

    /// Keeps the hot-spot answer to `key` of snapshot `version`, whose run started at `started`
    /// (an older one than kept is dropped), and ends the run for `key`.
    pub fn hotspots_store(&self, version: u64, key: String, body: Arc<Encoded>, started: Instant) {
        self.inner.hotspots.keep(key, version, body, started);
    }

    /// Ends the hot-spot run for `key` without an answer.
    pub fn hotspots_gave_up(&self, key: &str) {
        self.inner.hotspots.gave_up(key);
    }

    /// The heat surface of `count` for the heat tiles: the current snapshot's, else the newest
    /// kept (it says which data version it reflects) while one build for the current snapshot
    /// goes on off the request path, at most once per [`Limits::analysis_interval`] as writes
    /// arrive. A heat surface is a kernel density over the whole district (about half a second at
    /// scale 20), so rebuilding it for every write would make each heat tile wait for one. Only
    /// the first request for a count waits for its build.
    pub async fn heat_surface(&self, count: HeatCount) -> Result<Arc<tile_cache::Heat>, AppError> {
        let key = count.index().to_string();
        let snapshot = self.snapshot();
        match self.inner.heat.lookup(&key, snapshot.version(), self.inner.limits.analysis_interval) {
            Lookup::Current(heat) => Ok(heat),
            Lookup::Older { body, refresh, .. } => {
                if refresh {
                    let state = self.clone();
                    tokio::spawn(async move {
                        let snapshot = state.snapshot();
                        if state.build_heat_surface(snapshot, count, key.clone(), Priority::Background).await.is_err() {
                            state.inner.heat.gave_up(&key);
                        }
                    });
                }
                Ok(body)
            }
            Lookup::Missing => self.build_heat_surface(snapshot, count, key, Priority::Request).await,
        }
    }

    /// Builds the heat surface of `count` over `snapshot` at `priority`, keeps it under `key` and
    /// drops the heat tiles of older surfaces.
    async fn build_heat_surface(
        &self,
        snapshot: Arc<Snapshot>,
        count: HeatCount,
        key: String,
        priority: Priority,
    ) -> Result<Arc<tile_cache::Heat>, AppError> {
        let started = Instant::now();
        let version = snapshot.version();
        let surface = background::run(priority, move || snapshot.heat_surface(count))
            .await
            .map_err(|e| AppError::Internal(format!("heat surface: {e}")))?
            .map_err(|e| AppError::Internal(format!("heat surface: {e}")))?;
        let heat = Arc::new(tile_cache::Heat { count, version, surface });
        self.inner.heat.keep(key, version, heat.clone(), started);
        self.inner.tiles.heat_surface_kept(count, version);
        Ok(heat)
    }

    /// Whether a heat surface is being built off the request path.
    pub fn heat_refreshing(&self) -> bool {
        self.inner.heat.refreshing()
    }

    /// Whether a hot-spot run is going on off the request path.
    pub fn hotspots_refreshing(&self) -> bool {
        self.inner.hotspots.refreshing()
    }

    /// The candidate estimate for `atlas` and today, computed once per snapshot and day from
    /// the visits, spot checks and tips kept in memory. With [`Limits::estimate_interval`] zero a
    /// request waits for the estimate of its own snapshot, so what a visit found lowers its
    /// building's estimate at once; otherwise a request after a write gets the newest estimate
    /// made for the same places today (an import or a new day makes one anew) while one estimate
    /// of the current snapshot is made off the request path, at most once per interval (and
    /// spaced by its own making, [`Limits::estimate_share`]): no request waits for more than the
    /// first estimate of the day.
    pub async fn estimate(&self, atlas: &Arc<Atlas>) -> Result<Arc<Estimate>, AppError> {
        let as_of = rentgrid_geodata::clock::today();
        let interval = self.inner.limits.estimate_interval;
        if !interval.is_zero()
            && let Some(newest) = self.newest_estimate(atlas, as_of, interval)
        {
            return Ok(newest);
        }
        self.estimate_of(atlas, as_of, Priority::Request).await
    }

    /// The newest estimate made for `atlas`'s places on `as_of`, when one is; starts the estimate
    /// of the current snapshot off the request path when it is older and no estimate has started
    /// for `interval`.
    fn newest_estimate(&self, atlas: &Arc<Atlas>, as_of: time::Date, interval: Duration) -> Option<Arc<Estimate>> {
        let mut slot = lock(&self.inner.newest_estimate);
        let newest = slot.as_mut().filter(|n| n.estimate.as_of == as_of && n.atlas.same_places(atlas))?;
        let current = self.atlas();
        let due = interval.max(newest.took * self.inner.limits.estimate_share);
        if newest.atlas.version() < current.version() && !newest.refreshing && newest.started.elapsed() >= due {
            newest.refreshing = true;
            newest.started = Instant::now();
            let state = self.clone();
            tokio::spawn(async move {
                if let Err(e) = state.estimate_of(&current, as_of, Priority::Background).await {
                    tracing::warn!(error = %e, "the estimate of the current data could not be made; the newest one is served");
                }
                if let Some(n) = lock(&state.inner.newest_estimate).as_mut() {
                    n.refreshing = false;
                }
            });
        }
        Some(newest.estimate.clone())
    }

    /// Every grid's stats of today for `snapshot` with the estimate `unrecorded`, around the rows
    /// `head` and `tail`: the answer kept when it is theirs, else one made from it (only the
    /// blocks of grids whose rows changed are written again) and kept. `None` when the snapshot's
    /// counts give no row for some grid (the caller writes the answer whole).
    ///
    /// While writes arrive ([`Limits::estimate_interval`] not zero) a new estimate moves nearly
    /// every grid's estimated rates, and writing every block again takes about half a second at
    /// scale 20: that is done off the request path, and meanwhile the answer keeps the estimate
    /// of the answer kept (with this snapshot's counts), as every view keeps the newest estimate
    /// made while the next one is.
    pub async fn every_grid_stats(
        &self,
        snapshot: &Snapshot,
        unrecorded: Arc<Unrecorded>,
        head: Bytes,
        tail: Bytes,
    ) -> Result<Option<Arc<EveryGrid>>, AppError> {
        let mut kept = self.inner.every_grid.lock().await;
        if let Some(k) = kept.as_ref().filter(|k| k.answers(snapshot.atlas(), Some(&unrecorded))) {
            return Ok(Some(k.clone()));
        }
        let later = kept.as_ref().and_then(|k| k.inputs().unrecorded.clone()).filter(|older| {
            !self.inner.limits.estimate_interval.is_zero()
                && kept.as_ref().is_some_and(|k| k.inputs().atlas.same_places(snapshot.atlas()))
                && !Arc::ptr_eq(older, &unrecorded)
        });
        let inputs = grid_stats::Inputs {
            atlas: snapshot.atlas().clone(),
            counts: snapshot.grid_counts(),
            unrecorded: Some(later.clone().unwrap_or_else(|| unrecorded.clone())),
            targets: self.inner.targets,
            head,
            tail,
        };
        if later.is_some() && !self.inner.every_grid_remaking.swap(true, Ordering::AcqRel) {
            let (state, inputs) = (self.clone(), grid_stats::Inputs { unrecorded: Some(unrecorded), ..inputs.clone() });
            tokio::spawn(async move {
                if let Err(e) = state.every_grid_with_new_estimate(inputs).await {
                    tracing::warn!(error = %e, "every grid's stats with the new estimate could not be made");
                }
                state.inner.every_grid_remaking.store(false, Ordering::Release);
            });
        }
        let made = self.make_every_grid(kept.clone(), inputs, Priority::Request).await?;
        if let Some(made) = &made
            && kept.as_ref().is_none_or(|k| k.version() <= made.version())
        {
            *kept = Some(made.clone());
        }
        Ok(made)
    }

    /// The month's assessment of every caseworker last answered (made from it, the next one
    /// writes again only the streets whose rows changed).
    pub fn assessment_kept(&self) -> &AssessmentKept {
        &self.inner.assessment
    }

    /// Whether every grid's stats with a new estimate are being made off the request path.
    pub fn every_grid_refreshing(&self) -> bool {
        self.inner.every_grid_remaking.load(Ordering::Acquire)
    }

    /// Every grid's stats of `inputs` (a new estimate) made off the request path from the answer
    /// kept, then brought to the answer kept by then (writes went on meanwhile: only their blocks
    /// are written again) and kept.
    async fn every_grid_with_new_estimate(&self, inputs: grid_stats::Inputs) -> Result<(), AppError> {
        let from = self.inner.every_grid.lock().await.clone();
        let Some(made) = self.make_every_grid(from, inputs, Priority::Background).await? else { return Ok(()) };
        let mut kept = self.inner.every_grid.lock().await;
        // Writes went on meanwhile: the new estimate's answer is brought to the counts of the
        // answer kept by then (its own grids' blocks written again); after an import (other
        // places) it is dropped, and the next request makes one anew.
        let made = match kept.as_ref().filter(|k| k.version() > made.version()) {
            None => made,
            Some(k) if !k.inputs().atlas.same_places(&made.inputs().atlas) => return Ok(()),
            Some(k) => {
                let now = grid_stats::Inputs {
                    atlas: k.inputs().atlas.clone(),
                    counts: k.inputs().counts.clone(),
                    ..made.inputs().clone()
                };
                match self.make_every_grid(Some(made), now, Priority::Request).await? {
                    Some(m) => m,
                    None => return Ok(()),
                }
            }
        };
        *kept = Some(made);
        Ok(())
    }

    /// Every grid's stats of `inputs` made from `from` at `priority`.
    async fn make_every_grid(
        &self,
        from: Option<Arc<EveryGrid>>,
        inputs: grid_stats::Inputs,
        priority: Priority,
    ) -> Result<Option<Arc<EveryGrid>>, AppError> {
        let started = Instant::now();
        let made = background::run(priority, move || EveryGrid::make(from.as_deref(), inputs))
            .await
            .map_err(|e| AppError::Internal(format!("every grid's stats: {e}")))?
            .map_err(|e| AppError::Internal(format!("every grid's stats: {e}")))?
            .map(Arc::new);
        if let Some(m) = &made {
            tracing::debug!(
                version = m.version(),
                written = m.written(),
                ms = started.elapsed().as_millis() as u64,
                "every grid's stats made"
            );
        }
        Ok(made)
    }

    /// Whether an estimate is being made off the request path.
    pub fn estimate_refreshing(&self) -> bool {
        lock(&self.inner.newest_estimate).as_ref().is_some_and(|n| n.refreshing)
    }

    /// The estimate of `atlas` itself on `as_of`, made now unless it is kept.
    async fn estimate_of(
        &self,
        atlas: &Arc<Atlas>,
        as_of: time::Date,
        priority: Priority,
    ) -> Result<Arc<Estimate>, AppError> {
        let memo = |generation: u64| {
            self.inner.estimate.get(atlas.version(), |e| e.as_of == as_of && e.generation == generation)
        };
        if let Some(e) = memo(self.view_inputs().await?.generation) {
            return Ok(e);
        }
        let _one = self.inner.estimating.lock().await;
        let inputs = self.view_inputs().await?;
        if let Some(e) = memo(inputs.generation) {
            return Ok(e);
        }
        let (ev, generation) = (inputs.evidence, inputs.generation);
        let snapshot = atlas.clone();
        let started = Instant::now();
        let estimate = background::run(priority, move || {
            let evidence = ev.as_of(as_of);
            let candidates = candidates::estimate(&snapshot, &evidence, &CandidateWeights::default())?;
            let params = UnrecordedParams { weights: CandidateWeights::default(), ..UnrecordedParams::default() };
            let unrecorded = unrecorded::estimate_with(&snapshot, &evidence, &candidates, &params)?;
            Ok::<_, rentgrid_analysis::StatsError>(Estimate {
                as_of,
                candidates,
                unrecorded: Arc::new(unrecorded),
                caseworkers: ev.caseworkers.clone(),
                generation,
            })
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
        let estimate = Arc::new(estimate);
        tracing::info!(
            version = atlas.version(),
            ms = started.elapsed().as_millis() as u64,
            "the unrecorded estimate is made"
        );
        self.inner.estimate.put(atlas.version(), estimate.clone());
        let took = started.elapsed();
        let mut newest = lock(&self.inner.newest_estimate);
        match newest.as_mut() {
            Some(n)
                if n.atlas.same_places(atlas) && n.estimate.as_of == as_of && n.atlas.version() > atlas.version() =>
            {
                n.took = took
            }
            Some(n) => {
                n.atlas = atlas.clone();
                n.estimate = estimate.clone();
                n.took = took;
            }
            None => {
                *newest = Some(NewestEstimate {
                    atlas: atlas.clone(),
                    estimate: estimate.clone(),
                    started: Instant::now(),
                    refreshing: false,
                    took,
                })
            }
        }
        Ok(estimate)
    }

    /// The unrecorded estimate of `atlas` for today if it has been made (see [`Self::estimate`]).
    pub fn unrecorded_now(&self, atlas: &Atlas) -> Option<Arc<Unrecorded>> {
        let today = rentgrid_geodata::clock::today();
        let own = self.inner.estimate.get(atlas.version(), |e| e.as_of == today).map(|e| e.unrecorded.clone());
        if own.is_some() || self.inner.limits.estimate_interval.is_zero() {
            return own;
        }
        let newest = lock(&self.inner.newest_estimate);
        newest
            .as_ref()
            .filter(|n| n.estimate.as_of == today && n.atlas.same_places(atlas))
            .map(|n| n.estimate.unrecorded.clone())
    }

    /// Stores a planned campaign (serialised with the other writes) with its audit row `event`.
    pub async fn create_campaign(&self, c: &NewCampaign, event: &AuditEvent) -> Result<u32, StoreError> {
        let _guard = self.write_turn().await;
        self.stored(self.inner.store.create_campaign(c, event)).await
    }

    /// Moves a campaign's block to its next phase (serialised with the other writes) with its
    /// audit row `event`; not to 巩固 while hazard cases in it are red on `today`.
    pub async fn advance_block(
        &self,
        campaign: u32,
        block: u32,
        to: Phase,
        today: time::Date,
        event: &AuditEvent,
    ) -> Result<BlockProgress, StoreError> {
        let _guard = self.write_turn().await;
        self.stored(self.inner.store.advance_block(campaign, block, to, today, event)).await
    }

    /// Records a visit with its audit row `event`: commits both to the store, then publishes an
    /// Atlas with its effect, and answers once both are done. Readers see the old snapshot or the
    /// new one, never half of the write.
    ///
    /// Visits are committed together (group commit): a visit waits in a queue, and whoever has
    /// the next turn of the write lock commits every visit waiting (up to [`VISITS_PER_COMMIT`])
    /// in one transaction, each in a savepoint of its own (a refused visit leaves the others), and
    /// applies them in one catching up with the log. The turn is taken by a task of its own, so a
    /// request given up (its client gone) does not undo the visits of others committed with it;
    /// such a visit may still be recorded, and its retry (the same client id) is answered from it.
    pub async fn record_visit(
        &self,
        visit: &NewVisit,
        event: &AuditEvent,
    ) -> Result<(VisitOutcome, Arc<Snapshot>), StoreError> {
        let (sent, outcome) = tokio::sync::oneshot::channel();
        lock(&self.inner.visits_waiting).push(WaitingVisit { visit: (visit.clone(), event.clone()), outcome: sent });
        tokio::spawn(self.clone().commit_waiting_visits());
        let outcome = outcome.await.map_err(|_| StoreError::Corrupt {
            what: "visit",
            id: visit.client_id.clone(),
            reason: "its commit ended without an answer".into(),
        })??;
        Ok((outcome, self.snapshot()))
    }

    /// At the next turn of the write lock, commits the visits waiting then (if another turn has
    /// not committed them already) and applies them; tells each visit's request its outcome.
    async fn commit_waiting_visits(self) {
        let mut applied = self.write_turn().await;
        let (visits, senders): (Vec<_>, Vec<_>) = {
            let mut queue = lock(&self.inner.visits_waiting);
            let n = queue.len().min(VISITS_PER_COMMIT);
            queue.drain(..n).map(|w| (w.visit, w.outcome)).unzip()
        };
        if visits.is_empty() {
            return;
        }
        let outcomes = self.stored(self.inner.store.record_visits(&visits)).await;
        if outcomes.as_ref().is_ok_and(|o| o.iter().any(Result::is_ok))
            && let Err(e) = self.apply_logged(&mut applied).await
        {
            tracing::warn!(error = %e, "visits were stored but the change log could not be read; they are applied later");
        }
        drop(applied);
        match outcomes {
            Ok(outcomes) => {
                self.metrics().observe_visits_committed_together(visits.len());
                for (sender, outcome) in senders.into_iter().zip(outcomes) {
                    // A request given up has no one to tell.
                    let _ = sender.send(outcome);
                }
            }
            Err(e) => {
                for sender in senders {
                    let _ = sender.send(Err(e.told_again()));
                }
            }
        }
    }

    /// Registers a person in a rental unit (a move or a return for a known ID number), with its
    /// audit row `event`, then publishes the Atlas with the change to both homes' counts.
    pub async fn add_resident(&self, r: &NewResident, event: &AuditEvent) -> Result<ResidentOutcome, StoreError> {
        self.committed(self.inner.store.add_resident(r, event)).await
    }

    /// Records that a person left the district, then publishes the Atlas without them.
    pub async fn depart(&self, d: &Departure, event: &AuditEvent) -> Result<DepartureOutcome, StoreError> {
        self.committed(self.inner.store.depart(d, event)).await
    }

    /// Edits a person (or stores the edit as a conflict), then publishes any change to counts.
    pub async fn edit_person(&self, e: &PersonEdit, event: &AuditEvent) -> Result<Edited, StoreError> {
        self.committed(self.inner.store.edit_person(e, event)).await
    }

    /// Resolves a conflict between edits, then publishes any change to counts.
    pub async fn resolve_conflict(&self, id: u32, keep: Keep, event: &AuditEvent) -> Result<Edited, StoreError> {
        self.committed(self.inner.store.resolve_conflict(id, keep, event)).await
    }

    /// Records a hazard found at the door, with its audit row (serialised with the other
    /// writes; counts do not change), then tells open maps of its grid.
    pub async fn record_hazard(&self, h: &NewHazard, event: &AuditEvent) -> Result<HazardWritten, StoreError> {
        self.committed(self.inner.store.record_hazard(h, event)).await
    }

    /// Moves a hazard case, with its audit row, then tells open maps of its grid.
    pub async fn move_hazard(&self, m: &HazardMove, event: &AuditEvent) -> Result<HazardWritten, StoreError> {
        self.committed(self.inner.store.move_hazard(m, event)).await
    }

    /// Accepts a territory proposal: one transaction replacing its streets' contracts, with the
    /// territory audit row and the audit log's row `event`. The roster kept in memory is moved by
    /// the logged change before this returns, so the answers change at once.
    pub async fn accept_proposal(
        &self,
        id: i64,
        acceptance: &crate::store::contracts::Acceptance,
        event: &AuditEvent,
    ) -> Result<crate::store::contracts::Accepted, StoreError> {
        self.committed(self.inner.store.accept_proposal(id, acceptance, event)).await
    }

    /// Writes a checked import with its audit row `event` (one transaction), then rebuilds the
    /// Atlas from the store and publishes it. Readers keep the old snapshot until the new one is
    /// complete.
    pub async fn import(&self, batch: &Batch, event: &AuditEvent) -> Result<ImportCounts, StartupError> {
        Ok(self.committed(crate::ingest::write(self.inner.store.as_ref(), batch, event, &|_, _, _| {})).await?)
    }

    /// Brings what is kept in memory up to the store's change log: applies, in order, every
    /// change recorded after the last one applied, by this server or another (see the module).
    pub async fn catch_up(&self) -> Result<(), StartupError> {
        let mut applied = self.write_turn().await;
        self.apply_logged(&mut applied).await
    }

    /// Catches up as [`Self::catch_up`] does on hearing that change `seq` was recorded, unless
    /// it was applied while this waited for the write lock (this server's own write, announced
    /// at its commit before it was applied): then the log is not read.
    pub async fn catch_up_to(&self, seq: i64) -> Result<(), StartupError> {
        let mut applied = self.write_turn().await;
        if *applied >= seq {
            return Ok(());
        }
        self.apply_logged(&mut applied).await
    }

    /// Applies every change of the log after place `*applied` (the caller holds the write lock),
    /// timed as a write's apply phase.
    async fn apply_logged(&self, applied: &mut i64) -> Result<(), StartupError> {
        let started = Instant::now();
        let caught_up = self.catch_up_until(applied, i64::MAX).await.map(drop);
        self.metrics().observe_write(WritePhase::Apply, started.elapsed());
        caught_up
    }

    /// Whether change `seq` of the log is applied to what is kept in memory already (as this
    /// server's own writes are when their announcement arrives). Does not wait for the write lock.
    pub fn has_applied(&self, seq: i64) -> bool {
        self.inner.applied_place.load(Ordering::Acquire) >= seq
    }

    /// The Atlas now and the place of the last change of the log it includes (after the write
    /// being applied, if any).
    pub async fn applied(&self) -> (Arc<Atlas>, i64) {
        let applied = self.write_turn().await;
        (self.atlas(), *applied)
    }

    /// Runs the store write `write` (which records its change in the log) under the write lock,
    /// then catches up with the log, its change included. The write stands whatever happens
    /// after its commit: when the log cannot be read, that is logged, and the next catching up
    /// (the follower's, at the latest) applies it.
    async fn committed<T, E>(&self, write: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let mut applied = self.write_turn().await;
        let done = self.stored(write).await?;
        if let Err(e) = self.apply_logged(&mut applied).await {
            tracing::warn!(error = %e, "a write was stored but the change log could not be read; it is applied later");
        }
        Ok(done)
    }

    /// Applies the changes of the log after place `*applied` up to place `until`, in order, and
    /// moves `*applied` along (the caller holds the write lock). When the log does not follow on
    /// from `*applied` (the changes after it were pruned) or a change asks for it (an import),
    /// loads everything again instead, up to whatever was committed last, and says so.
    async fn catch_up_until(&self, applied: &mut i64, until: i64) -> Result<bool, StartupError> {
        while *applied < until {
            let batch = self.inner.store.changes_after(*applied, CATCH_UP_BATCH).await?;
            let last_batch = batch.len() < CATCH_UP_BATCH as usize;
            let batch: Vec<Logged> = batch.into_iter().take_while(|c| c.seq <= until).collect();
            let Some(first) = batch.first() else { break };
            if first.prev != *applied || batch.iter().any(|c| c.change == changes::Change::Reload) {
                self.reload(applied).await?;
                return Ok(true);
            }
            // Count changes one after the other (the visits of one commit, or a follower's
            // backlog) are applied together: one snapshot published for the run.
            for run in batch.chunk_by(|a, b| a.change.is_counts() && b.change.is_counts()) {
                self.apply(run);
                if let Some(last) = run.last() {
                    self.applied_up_to(applied, last.seq);
                }
            }
            if last_batch {
                break;
            }
        }
        Ok(false)
    }

    /// Applies logged changes (none a reload), in order, to what is kept in memory: the count
    /// changes among them move the inputs one by one, then publish one snapshot, of the last
    /// one's data version, with all their deltas (a reader sees the snapshot before them or after
    /// them all, as it would had it asked a moment later).
    fn apply(&self, run: &[Logged]) {
        let mut deltas = Vec::new();
        let mut version = None;
        for logged in run {
            match &logged.change {
                changes::Change::Counts { deltas: moved, inputs } => {
                    self.apply_inputs(inputs);
                    deltas.extend_from_slice(moved);
                    version = Some(logged.version);
                }
                changes::Change::Hazards { grid } => self.announce_hazards(*grid),
                changes::Change::Reload => {}
            }
        }
        if let Some(version) = version {
            self.publish_counts(&deltas, version);
        }
    }

    /// Tells open maps that the hazard cases of `grid` changed.
    fn announce_hazards(&self, grid: rentgrid_geodata::GridId) {
        self.inner.events.publish(Change::Hazards { version: self.atlas().version(), grid });
    }

    /// Applies `change` to the inputs of the derived views kept in memory (when they have been
    /// read). The caller holds the write lock.
    fn apply_inputs(&self, change: &InputChange) {
        if change.is_empty() {
            return;
        }
        let atlas = self.atlas();
        if let Some(inputs) = lock(&self.inner.inputs).as_mut() {
            inputs.apply(|b| atlas.building(b).map(|b| b.grid_id), change);
        }
        if let (Some(contracts), Some(roster)) = (&change.contracts, lock(&self.inner.roster).as_mut()) {
            contracts.apply_to(Arc::<Vec<Caseworker>>::make_mut(roster));
        }
    }

    /// Publishes an Atlas of data version `version` with `deltas` applied (nothing when they
    /// change nothing) and announces the change to open maps. The caller holds the write lock
    /// and has applied the changes' inputs first, so a request that sees the new snapshot sees
    /// the inputs of its write too.
    fn publish_counts(&self, deltas: &[StatsDelta], version: u64) {
        if deltas.iter().all(StatsDelta::is_empty) {
            return;
        }
        let current = self.snapshot();
        let next = Arc::new(current.with_deltas(deltas, version));
        let touches =
            self.inner.tiles.publish_deltas(current.version(), next.atlas(), deltas, || self.publish(next.clone()));
        self.inner.events.publish(Change::Deltas { version: next.version(), touches: touches.into() });
    }

    /// Loads the Atlas (and the inputs, when kept) again from the store, in one snapshot, and
    /// swaps them in; `*applied` becomes the last change they include (the caller holds the write
    /// lock). Readers keep the old snapshot until the new one is complete.
    async fn reload(&self, applied: &mut i64) -> Result<(), StartupError> {
        let kept = lock(&self.inner.inputs).as_ref().map(|i| i.generation);
        let loaded = self.inner.store.load(Parts { atlas: true, inputs: kept.is_some() }).await?;
        let mut next = Atlas::build(loaded.atlas.ok_or(StoreError::Empty)?)?;
        next.set_version(loaded.mark.version);
        let inputs = match (kept, loaded.registrations, loaded.evidence) {
            (Some(generation), Some(registrations), Some(evidence)) => {
                let mut inputs = ViewInputs::new(|b| next.building(b).map(|b| b.grid_id), registrations, evidence);
                // Views made from the inputs before are stale, even at the same data version.
                inputs.generation = generation + 1;
                Some(inputs)
            }
            _ => None,
        };
        let version = next.version();
        self.inner.tiles.publish_reload(|| {
            *lock(&self.inner.inputs) = inputs;
            // An import may change the roster: read it again when next asked for.
            *lock(&self.inner.roster) = None;
            self.publish(Arc::new(Snapshot::new(next)))
        });
        self.inner.reloads.fetch_add(1, Ordering::Relaxed);
        self.inner.events.publish(Change::Reload { version });
        self.applied_up_to(applied, loaded.mark.seq);
        Ok(())
    }

    /// Moves the write lock's place `*applied` (the caller holds the lock) to `seq`, and the copy
    /// of it that [`Self::has_applied`] reads without the lock.
    fn applied_up_to(&self, applied: &mut i64, seq: i64) {
        *applied = seq;
        self.inner.applied_place.store(seq, Ordering::Release);
    }
}

impl Snapshots for AppState {
    fn snapshot(&self) -> Arc<Snapshot> {
        AppState::snapshot(self)
    }

    fn targets(&self) -> &Targets {
        AppState::targets(self)
    }

    fn unrecorded(&self, atlas: &Atlas) -> Option<Arc<Unrecorded>> {
        self.unrecorded_now(atlas)
    }
}
