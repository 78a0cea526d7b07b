//! The server's shared state: the store, the current [`Snapshot`] (the Atlas and the views
//! derived from it alone), the views that also read the kept inputs (each in a [`PerSnapshot`]
//! memo) and the write lock.

use crate::access::audit::AuditEvent;
use crate::answers::{KeptAnswers, Lookup};
use crate::error::{AppError, StartupError};
use crate::events::{Change, Events};
use crate::hazard_photos::PhotoDir;
use crate::ingest::Batch;
use crate::limits::{Gate, Limits};
use crate::memo::PerSnapshot;
use crate::observe::metrics::{Metrics, Readings};
use crate::snapshot::Snapshot;
use crate::store::campaigns::{NewCampaign, StoredEvidence};
use crate::store::field::{Departure, DepartureOutcome, Edited, Keep, NewResident, PersonEdit, ResidentOutcome};
use crate::store::hazards::{HazardMove, HazardWritten, NewHazard};
use crate::store::{ImportCounts, NewVisit, Store, StoreError, VisitOutcome};
use crate::tile_cache::{self, Snapshots, TileCache};
use arc_swap::ArcSwap;
use rentgrid_analysis::candidates::{self, CandidateWeights, Candidates, Evidence};
use rentgrid_analysis::hazard::HazardKinds;
use rentgrid_analysis::history::{self, History};
use rentgrid_analysis::kpi::Targets;
use rentgrid_analysis::sweep::{BlockProgress, Phase};
use rentgrid_analysis::unrecorded::{self, Unrecorded, UnrecordedParams};
use rentgrid_analysis::view_inputs::{InputChange, ViewInputs};
use rentgrid_geodata::{Atlas, Caseworker, StatsDelta};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Builds the Atlas from what `store` holds.
pub async fn load_atlas(store: &dyn Store) -> Result<Atlas, StartupError> {
    let input = store.load_atlas_input().await?;
    Ok(Atlas::build(input)?)
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
    /// Serialises writes: commit to the store, then swap in the updated Atlas.
    write: tokio::sync::Mutex<()>,
    /// Writes waiting for `write`.
    writes_waiting: AtomicUsize,
    targets: Targets,
    web_dir: Option<PathBuf>,
    /// The inputs of the history and the candidate estimate (monthly registrations, evidence),
    /// read from the store once (`None` until first asked for, and after an import until asked
    /// for again) and changed by each committed write under the write lock.
    inputs: Mutex<Option<ViewInputs>>,
    /// The history, with the generation of the inputs it was made from.
    history: PerSnapshot<(u64, Arc<History>)>,
    /// Hot-spot answers, kept across snapshots (see [`crate::answers`]).
    hotspots: KeptAnswers,
    estimate: PerSnapshot<Estimate>,
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
    /// The request figures `GET /metrics` serves.
    metrics: Metrics,
    /// The kinds of hazard recorded, with their deadlines.
    hazard_kinds: HazardKinds,
    /// Where hazard photos are kept (`None`: photos are not taken).
    photos: Option<PhotoDir>,
    /// The changes announced to open maps (`GET /api/events`).
    events: Events,
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// State over `store` and its loaded `atlas`.
    pub fn new(store: Arc<dyn Store>, atlas: Atlas, targets: Targets, web_dir: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                snapshot: ArcSwap::from_pointee(Snapshot::new(atlas)),
                write: tokio::sync::Mutex::new(()),
                writes_waiting: AtomicUsize::new(0),
                targets,
                web_dir,
                inputs: Mutex::new(None),
                history: PerSnapshot::default(),
                hotspots: KeptAnswers::default(),
                estimate: PerSnapshot::default(),
                tiles: TileCache::new(tile_cache::DEFAULT_CAPACITY_BYTES),
                estimating: tokio::sync::Mutex::new(()),
                identity: crate::identity::Identity::default(),
                limits: Limits::default(),
                gate: Gate::new(&Limits::default()),
                public_origin: None,
                https: false,
                metrics: Metrics::default(),
                hazard_kinds: HazardKinds::default(),
                photos: None,
                events: Events::default(),
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

    /// The same state with the configured hazard kinds and photo directory. Call it before the
    /// state is cloned; later it changes nothing.
    pub fn with_hazards(mut self, kinds: HazardKinds, photos: Option<PhotoDir>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.hazard_kinds = kinds;
            inner.photos = photos;
        }
        self
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

    /// The write lock, counted in [`Readings::writes_waiting`] while awaited.
    async fn write_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        /// Uncounts the waiter when it gets its turn or gives up (its request was cancelled).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.inner.writes_waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.inner.writes_waiting);
        self.inner.write.lock().await
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

    /// The inputs of the history and the candidate estimate as they stand now: read from the
    /// store the first time (under the write lock, so that no write is missed), then kept up to
    /// date by the writes.
    pub async fn view_inputs(&self) -> Result<ViewInputs, StoreError> {
        if let Some(inputs) = lock(&self.inner.inputs).clone() {
            return Ok(inputs);
        }
        let _guard = self.write_turn().await;
        if let Some(inputs) = lock(&self.inner.inputs).clone() {
            return Ok(inputs);
        }
        let inputs = self.read_view_inputs().await?;
        *lock(&self.inner.inputs) = Some(inputs.clone());
        Ok(inputs)
    }

    /// Reads the inputs of the history and the estimate from the store (the caller holds the
    /// write lock).
    async fn read_view_inputs(&self) -> Result<ViewInputs, StoreError> {
        self.read_view_inputs_for(&self.atlas()).await
    }

    /// Reads the inputs from the store, summing registrations in the grids of `atlas`.
    async fn read_view_inputs_for(&self, atlas: &Atlas) -> Result<ViewInputs, StoreError> {
        let registrations = self.inner.store.monthly_registrations().await?;
        let evidence = self.inner.store.evidence().await?;
        Ok(ViewInputs::new(|b| atlas.building(b).map(|b| b.grid_id), registrations, evidence))
    }

    /// The monthly history of per-grid counts behind `snapshot`, made once per snapshot from the
    /// monthly registrations kept in memory (summed per month and grid as the writes come, so
    /// making it reads no registration again).
    pub async fn history(&self, snapshot: &Snapshot) -> Result<Arc<History>, StoreError> {
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

    /// What is kept of the hot-spot answer to `key` now: the current one, or an older one and
    /// whether the caller is to start the run for the current snapshot (at most one at a time
    /// per key, and once per [`Limits::analysis_interval`]).
    pub fn hotspots_lookup(&self, key: &str) -> Lookup {
        self.inner.hotspots.lookup(key, self.atlas().version(), self.inner.limits.analysis_interval)
    }

    /// The hot-spot answers kept for the current snapshot.
    pub fn hotspots_kept(&self) -> Vec<Arc<String>> {
        self.inner.hotspots.of_version(self.atlas().version())
    }

    /// Keeps the hot-spot answer to `key` of snapshot `version`, whose run started at `started`
    /// (an older one than kept is dropped), and ends the run for `key`.
    pub fn hotspots_store(&self, version: u64, key: String, body: Arc<String>, started: Instant) {
        self.inner.hotspots.keep(key, version, body, started);
    }

    /// Ends the hot-spot run for `key` without an answer.
    pub fn hotspots_gave_up(&self, key: &str) {
        self.inner.hotspots.gave_up(key);
    }

    /// Whether a hot-spot run is going on off the request path.
    pub fn hotspots_refreshing(&self) -> bool {
        self.inner.hotspots.refreshing()
    }

    /// The candidate estimate for `atlas` and today, computed once per snapshot and day from
    /// the visits, spot checks and tips kept in memory: a visit makes a new snapshot, so what it
    /// found lowers its building's estimate at once.
    pub async fn estimate(&self, atlas: &Arc<Atlas>) -> Result<Arc<Estimate>, AppError> {
        let as_of = rentgrid_geodata::clock::today();
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
        let estimate = tokio::task::spawn_blocking(move || {
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
        self.inner.estimate.put(atlas.version(), estimate.clone());
        Ok(estimate)
    }

    /// The unrecorded estimate of `atlas` for today if it has been made (see [`Self::estimate`]).
    pub fn unrecorded_now(&self, atlas: &Atlas) -> Option<Arc<Unrecorded>> {
        let today = rentgrid_geodata::clock::today();
        self.inner.estimate.get(atlas.version(), |e| e.as_of == today).map(|e| e.unrecorded.clone())
    }

    /// Stores a planned campaign (serialised with the other writes) with its audit row `event`.
    pub async fn create_campaign(&self, c: &NewCampaign, event: &AuditEvent) -> Result<u32, StoreError> {
        let _guard = self.write_turn().await;
        self.inner.store.create_campaign(c, event).await
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
        self.inner.store.advance_block(campaign, block, to, today, event).await
    }

    /// Records a visit with its audit row `event`: commits both to the store, then publishes an
    /// Atlas with its effect. Readers see the old snapshot or the new one, never half of the write.
    pub async fn record_visit(
        &self,
        visit: &NewVisit,
        event: &AuditEvent,
    ) -> Result<(VisitOutcome, Arc<Snapshot>), StoreError> {
        let _guard = self.write_turn().await;
        let outcome = self.inner.store.record_visit(visit, event).await?;
        if outcome.replayed {
            return Ok((outcome, self.snapshot()));
        }
        let change = InputChange {
            registrations: outcome.registrations.clone(),
            visits: vec![(outcome.visit.clone(), visit.campaign_id.is_some())],
            contracts: None,
        };
        self.publish_deltas(&[outcome.delta], &change);
        Ok((outcome, self.snapshot()))
    }

    /// Registers a person in a rental unit (a move or a return for a known ID number), with its
    /// audit row `event`, then publishes the Atlas with the change to both homes' counts.
    pub async fn add_resident(&self, r: &NewResident, event: &AuditEvent) -> Result<ResidentOutcome, StoreError> {
        let _guard = self.write_turn().await;
        let outcome = self.inner.store.add_resident(r, event).await?;
        self.publish_deltas(&outcome.deltas, &InputChange::of(&outcome.registrations));
        Ok(outcome)
    }

    /// Records that a person left the district, then publishes the Atlas without them.
    pub async fn depart(&self, d: &Departure, event: &AuditEvent) -> Result<DepartureOutcome, StoreError> {
        let _guard = self.write_turn().await;
        let outcome = self.inner.store.depart(d, event).await?;
        self.publish_deltas(&outcome.deltas, &InputChange::of(&outcome.registrations));
        Ok(outcome)
    }

    /// Edits a person (or stores the edit as a conflict), then publishes any change to counts.
    pub async fn edit_person(&self, e: &PersonEdit, event: &AuditEvent) -> Result<Edited, StoreError> {
        let _guard = self.write_turn().await;
        let edited = self.inner.store.edit_person(e, event).await?;
        self.publish_deltas(&edited.deltas, &InputChange::of(&edited.registrations));
        Ok(edited)
    }

    /// Resolves a conflict between edits, then publishes any change to counts.
    pub async fn resolve_conflict(&self, id: u32, keep: Keep, event: &AuditEvent) -> Result<Edited, StoreError> {
        let _guard = self.write_turn().await;
        let edited = self.inner.store.resolve_conflict(id, keep, event).await?;
        self.publish_deltas(&edited.deltas, &InputChange::of(&edited.registrations));
        Ok(edited)
    }

    /// Records a hazard found at the door, with its audit row (serialised with the other
    /// writes; counts do not change).
    pub async fn record_hazard(&self, h: &NewHazard, event: &AuditEvent) -> Result<HazardWritten, StoreError> {
        let _guard = self.write_turn().await;
        let written = self.inner.store.record_hazard(h, event).await?;
        if let (false, Some(b)) = (written.replayed, self.atlas().building(h.building_id)) {
            self.announce_hazards(b.grid_id);
        }
        Ok(written)
    }

    /// Moves a hazard case of `grid`, with its audit row.
    pub async fn move_hazard(
        &self,
        m: &HazardMove,
        grid: rentgrid_geodata::GridId,
        event: &AuditEvent,
    ) -> Result<HazardWritten, StoreError> {
        let _guard = self.write_turn().await;
        let written = self.inner.store.move_hazard(m, event).await?;
        if !written.replayed {
            self.announce_hazards(grid);
        }
        Ok(written)
    }

    /// Tells open maps that the hazard cases of `grid` changed.
    fn announce_hazards(&self, grid: rentgrid_geodata::GridId) {
        self.inner.events.publish(Change::Hazards { version: self.atlas().version(), grid });
    }

    /// Applies `change` to the inputs of the derived views kept in memory (when they have been
    /// read). The caller holds the write lock and has committed the write.
    fn apply_inputs(&self, change: &InputChange) {
        if change.is_empty() {
            return;
        }
        let atlas = self.atlas();
        if let Some(inputs) = lock(&self.inner.inputs).as_mut() {
            inputs.apply(|b| atlas.building(b).map(|b| b.grid_id), change);
        }
    }

    /// Applies `change` to the inputs of the derived views, then publishes an Atlas with
    /// `deltas` applied (nothing when they change nothing) and announces the change to open
    /// maps. The caller holds the write lock and has committed the write. The inputs change
    /// first, so a request that sees the new snapshot sees the inputs of its write too.
    fn publish_deltas(&self, deltas: &[StatsDelta], change: &InputChange) {
        self.apply_inputs(change);
        if deltas.iter().all(StatsDelta::is_empty) {
            return;
        }
        let next = Arc::new(self.snapshot().with_deltas(deltas));
        let touches = self.inner.tiles.publish_deltas(next.atlas(), deltas, || self.publish(next.clone()));
        self.inner.events.publish(Change::Deltas { version: next.version(), touches: touches.into() });
    }

    /// Accepts a territory proposal: one transaction replacing its streets' contracts, with the
    /// territory audit row and the audit log's row `event`. Contracts are read from the store on
    /// each request, so the answers change at once.
    pub async fn accept_proposal(
        &self,
        id: i64,
        acceptance: &crate::store::contracts::Acceptance,
        event: &AuditEvent,
    ) -> Result<crate::store::contracts::Accepted, StoreError> {
        let _guard = self.write_turn().await;
        let accepted = self.inner.store.accept_proposal(id, acceptance, event).await?;
        self.apply_inputs(&InputChange { contracts: Some(accepted.contracts.clone()), ..InputChange::default() });
        Ok(accepted)
    }

    /// Writes a checked import with its audit row `event` (one transaction), then rebuilds the
    /// Atlas from the store and publishes it. Readers keep the old snapshot until the new one is
    /// complete.
    pub async fn import(&self, batch: &Batch, event: &AuditEvent) -> Result<ImportCounts, StartupError> {
        let _guard = self.write_turn().await;
        let counts = crate::ingest::write(self.inner.store.as_ref(), batch, event, &|_, _, _| {}).await?;
        self.reload_atlas().await?;
        Ok(counts)
    }

    /// Rebuilds the Atlas from the store and swaps it in (the caller holds the write lock).
    async fn reload_atlas(&self) -> Result<(), StartupError> {
        let mut next = load_atlas(self.inner.store.as_ref()).await?;
        let version = self.atlas().version() + 1;
        next.set_version(version);
        let inputs_kept = lock(&self.inner.inputs).is_some();
        let inputs = if inputs_kept { Some(self.read_view_inputs_for(&next).await?) } else { None };
        self.inner.tiles.publish_reload(|| {
            *lock(&self.inner.inputs) = inputs;
            self.publish(Arc::new(Snapshot::new(next)))
        });
        self.inner.events.publish(Change::Reload { version });
        Ok(())
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
