//! The vector tile cache: built tiles (MVT bytes, their gzip and ETag) keyed by layer, tile and
//! the caller's scope, bounded in bytes, and dropped exactly where a write changes what a tile
//! draws ([`rentgrid_tiles::tiles_to_invalidate`]). What tiles are built from (the Atlas, its
//! counts, heat surfaces and map geometry) is the [`Snapshot`]'s.
//!
//! Consistency: a tile is built from one Atlas snapshot outside any lock, then inserted only if
//! that snapshot is still the current one, or every snapshot published since changed counts
//! that tile does not draw ([`Publishes`]), checked under the read side of `gate`. A write swaps
//! its snapshot in, records what it touched and drops its tiles under the write side, so an
//! insert either sees the new snapshot and what it touched or happens before the write drops
//! it. A stale tile never stays. (Checking only "still current" kept a district tile that takes
//! half a second to build from ever being kept while caseworkers write several visits a second:
//! each such request built it again.)
//!
//! The grids' tiles also carry each grid's estimated actual rates, from the day's
//! [`Unrecorded`] estimate of the snapshot they are built from: a grids tile is cached only when
//! that estimate was there, and is served from the cache only on the day it was made. A visit
//! refreshes its grid's tiles at once; the other grids keep the estimate they were drawn with
//! (it moves with the district-wide calibration only slightly) until the next day's estimate.

use crate::encoded::gzip;
use crate::observe::metrics::TileCounts;
use crate::scope::{Role, Scope};
use crate::snapshot::Snapshot;
use bytes::Bytes;
use geo::{BoundingRect, Rect};
use quick_cache::Weighter;
use rentgrid_analysis::kpi::Targets;
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::{Atlas, GridId, StatsDelta};
use rentgrid_tiles::heat::{HeatCount, HeatSurface};
use rentgrid_tiles::{
    Layer, MapGeometry, TileId, TileOptions, TileRange, TileSources, build_tile, tiles_to_invalidate,
};
use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The cache's default bound: 256 MiB of tiles (raw plus gzip).
pub const DEFAULT_CAPACITY_BYTES: u64 = 256 << 20;

/// What identifies a cached tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// The tile set.
    pub layer: Layer,
    /// The tile.
    pub tile: TileId,
    /// The caller's scope ([`scope_key`]): 0 for one that sees everything.
    pub scope: u64,
    /// What the `heat` tile set counts ([`HeatCount::index`]); 0 for other layers.
    pub variant: u8,
    /// The data version of the heat surface a `heat` tile is drawn from; 0 for other layers.
    pub surface: u64,
}

/// The heat surface a `heat` tile is drawn from (kept across snapshots, see
/// [`crate::state::AppState::heat_surface`]); [`Heat::none`] for the other layers.
#[derive(Debug, Clone, Default)]
pub struct Heat {
    /// What it counts.
    pub count: HeatCount,
    /// The data version it reflects.
    pub version: u64,
    /// The surface (`None`: nothing to count).
    pub surface: Option<Arc<HeatSurface>>,
}

impl Heat {
    /// No surface: the tile sets other than `heat`.
    pub fn none() -> Self {
        Self::default()
    }
}

/// A built tile as served.
#[derive(Debug, Clone)]
pub struct CachedTile {
    /// The MVT bytes; `None` for an empty tile (204).
    pub body: Option<Bytes>,
    /// The same, gzipped.
    pub gzip: Option<Bytes>,
    /// A weak entity tag (quoted): a hash of the MVT bytes, so equal tiles share a tag across
    /// restarts and gzip or not.
    pub etag: String,
    /// The role and grids it was built for: a cached tile is served only to a scope that sees
    /// exactly these, even if two scopes' keys were ever to collide.
    built_for: Arc<(Role, Option<BTreeSet<GridId>>)>,
    /// The day of the unrecorded estimate a grids tile carries (`None` for other layers).
    estimated_on: Option<time::Date>,
}

impl CachedTile {
    /// True when this tile was built for what `scope` sees and, for a grids tile, with today's
    /// estimate.
    fn is_for(&self, scope: &Scope) -> bool {
        self.built_for.0 == scope.role
            && self.built_for.1 == scope.grids
            && self.estimated_on.is_none_or(|d| d == rentgrid_geodata::clock::today())
    }
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<TileKey, CachedTile> for ByBytes {
    fn weight(&self, _key: &TileKey, t: &CachedTile) -> u64 {
        // Key, tag and bookkeeping cost about as much as a small tile.
        let len = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len) as u64;
        128 + len(&t.body) + len(&t.gzip)
    }
}

/// Where tiles are built from: the current snapshot and what is derived from it. The server's
/// state is one; the cache holds none of it.
pub trait Snapshots {
    /// The current snapshot.
    fn snapshot(&self) -> Arc<Snapshot>;
    /// The KPI targets the grids are coloured by.
    fn targets(&self) -> &Targets;
    /// Today's estimate of what the register of `atlas` lacks, if it has been made.
    fn unrecorded(&self, atlas: &Atlas) -> Option<Arc<Unrecorded>>;
}

/// Built tiles. Lives in the server's state.
pub struct TileCache {
    entries: Option<quick_cache::sync::Cache<TileKey, CachedTile, ByBytes>>,
    gate: RwLock<()>,
    /// What the latest publishes touched, changed under the write side of `gate`.
    publishes: Mutex<Publishes>,
    /// Tiles served from the cache, and tiles built because it lacked them.
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache").field("tiles", &self.entries.as_ref().map(|c| c.len())).finish()
    }
}

impl TileCache {
    /// A cache holding up to `capacity_bytes` of tiles; 0 caches nothing (every request builds
    /// its tile: for measuring cold tiles).
    pub fn new(capacity_bytes: u64) -> Self {
        let entries = (capacity_bytes > 0).then(|| {
            quick_cache::sync::Cache::with_weighter((capacity_bytes / 8192) as usize, capacity_bytes, ByBytes)
        });
        Self {
            entries,
            gate: RwLock::new(()),
            publishes: Mutex::new(Publishes::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Runs `job` (a tile build) on a building thread.
    pub fn spawn_build(&self, job: impl FnOnce() + Send + 'static) {
        match builders() {
            Some(pool) => pool.spawn(job),
            None => drop(tokio::task::spawn_blocking(job)),
        }
    }

    /// The key of `tile` of `layer` as `scope` sees it (for `heat`, drawn from `heat`).
    fn key(layer: Layer, tile: TileId, scope: &Scope, heat: &Heat) -> TileKey {
        let (variant, surface) = if layer == Layer::Heat { (heat.count.index(), heat.version) } else { (0, 0) };
        TileKey { layer, tile, scope: scope_key(scope), variant, surface }
    }

    /// The cached tile, if there is one: cheap, callable on the async runtime.
    /// A hit is counted; a miss is not (the tile is then asked of [`Self::get_or_build`]).
    pub fn cached(&self, layer: Layer, tile: TileId, scope: &Scope, heat: &Heat) -> Option<CachedTile> {
        let hit =
            self.entries.as_ref().and_then(|c| c.get(&Self::key(layer, tile, scope, heat))).filter(|t| t.is_for(scope));
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Tiles served from the cache and built for want of it since the start, and tiles held now.
    pub fn counts(&self) -> TileCounts {
        TileCounts {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            held: self.len() as u64,
        }
    }

    /// Tiles held now.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |c| c.len())
    }

    /// True when no tile is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `swap` (which publishes a snapshot changed by `deltas`) and drops the tiles those
    /// changes touch ([`touched`]). A heat tile is kept: it is drawn from a surface of a stated
    /// data version, part of its key, which stays what it is ([`Self::heat_surface_kept`] drops
    /// the tiles of older surfaces). `atlas` is the new snapshot, made from the snapshot of
    /// version `from`. Returns what was touched.
    pub(crate) fn publish_deltas(
        &self,
        from: u64,
        atlas: &Atlas,
        deltas: &[StatsDelta],
        swap: impl FnOnce(),
    ) -> Vec<Touch> {
        let touches = touched(atlas, deltas);
        let _write = self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        swap();
        lock(&self.publishes).record(from, atlas.version(), Some(touches.clone()));
        if let Some(entries) = &self.entries {
            entries.retain(|k, _| !touches.iter().any(|t| t.layer == k.layer && t.range.contains(k.tile)));
        }
        touches
    }

    /// A heat surface of `count` of data version `version` is kept: the heat tiles drawn from
    /// older surfaces of that count are dropped.
    pub fn heat_surface_kept(&self, count: HeatCount, version: u64) {
        if let Some(entries) = &self.entries {
            entries.retain(|k, _| k.layer != Layer::Heat || k.variant != count.index() || k.surface >= version);
        }
    }

    /// Runs `swap` (which publishes a snapshot rebuilt from the store) and drops every tile.
    pub(crate) fn publish_reload(&self, swap: impl FnOnce()) {
        let _write = self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        swap();
        lock(&self.publishes).reloaded();
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// The tile `tile` of `layer` as `scope` sees it (for `heat`, drawn from `heat`): from the
    /// cache, or built from `ready` (see [`Ready::of`]) and cached if that is still the current
    /// snapshot or no publish since touched the tile (a heat tile: always, its key names its
    /// surface). Blocking (CPU-bound): call it off the async runtime.
    #[allow(clippy::too_many_arguments)]
    pub fn get_or_build(
        &self,
        state: &impl Snapshots,
        ready: &Ready,
        layer: Layer,
        tile: TileId,
        scope: &Scope,
        heat: &Heat,
    ) -> Result<CachedTile, rentgrid_tiles::Error> {
        let key = Self::key(layer, tile, scope, heat);
        if let Some(hit) = self.entries.as_ref().and_then(|c| c.get(&key)).filter(|t| t.is_for(scope)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let Ready { snapshot, map } = ready;
        let atlas = snapshot.atlas();
        let counts = snapshot.grid_counts();
        let surface = if layer == Layer::Heat { heat.surface.as_deref() } else { None };
        let unrecorded = if layer == Layer::Grids { state.unrecorded(atlas) } else { None };
        let sees = |g| scope.sees_grid(g);
        let src = TileSources {
            atlas,
            grid_counts: &counts,
            targets: state.targets(),
            map,
            visible: if scope.grids.is_none() { None } else { Some(&sees) },
            heat: surface,
            suppress_small_counts: scope.aggregates_only(),
            unrecorded: unrecorded.as_deref(),
        };
        let bytes = build_tile(&src, layer, tile, &TileOptions::default())?;
        let built = CachedTile {
            etag: etag(bytes.as_deref().unwrap_or_default()),
            gzip: bytes.as_deref().map(gzip),
            body: bytes.map(Bytes::from),
            built_for: Arc::new((scope.role, scope.grids.clone())),
            estimated_on: unrecorded.as_ref().map(|u| u.as_of),
        };
        // A grids tile drawn without the estimate is served but not kept: the next one has it.
        let complete = layer != Layer::Grids || unrecorded.is_some();
        if let Some(entries) = self.entries.as_ref().filter(|_| complete) {
            let _read = self.gate.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let current = state.snapshot().version();
            if layer == Layer::Heat
                || current == snapshot.version()
                || lock(&self.publishes).untouched(snapshot.version(), current, &key)
            {
                entries.insert(key, built.clone());
            }
        }
        Ok(built)
    }
}

/// The publishes of the latest snapshots and what each touched, oldest first: a tile built
/// from a snapshot that is no longer current is still the current one's when no publish since
/// touched it.
#[derive(Debug, Default)]
struct Publishes {
    /// (version published from, version published, what it touched or `None` for everything).
    log: VecDeque<(u64, u64, Option<Vec<Touch>>)>,
}

impl Publishes {
    /// The most publishes remembered: a tile whose build spans more is not kept.
    const CAPACITY: usize = 512;

    /// Records the publish of version `to`, made from version `from`, which touched `touches`
    /// (`None`: everything).
    fn record(&mut self, from: u64, to: u64, touches: Option<Vec<Touch>>) {
        if self.log.len() == Self::CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back((from, to, touches));
    }

    /// A snapshot rebuilt from the store: every tile built before it is stale.
    fn reloaded(&mut self) {
        self.log.clear();
    }

    /// Whether the publishes from version `built` up to version `current` are all remembered
    /// and none touched `key` (counted as touching a heat tile: every publish, as a count changed
    /// anywhere moves the density within a kernel radius of it).
    fn untouched(&self, built: u64, current: u64, key: &TileKey) -> bool {
        let Some(first) = self.log.iter().position(|(from, _, _)| *from == built) else { return false };
        let mut at = built;
        for (from, to, touches) in self.log.iter().skip(first) {
            if *from != at {
                return false;
            }
            let Some(touches) = touches else { return false };
            if key.layer == Layer::Heat || touches.iter().any(|t| t.layer == key.layer && t.range.contains(key.tile)) {
                return false;
            }
            at = *to;
            if at == current {
                return true;
            }
        }
        false
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A snapshot with its map geometry, ready for building tiles: a build is given the geometry and
/// never derives it (see [`Snapshot::map_geometry`]).
#[derive(Clone)]
pub struct Ready {
    /// The snapshot.
    pub snapshot: Arc<Snapshot>,
    /// Its map geometry.
    pub map: Arc<MapGeometry>,
}

impl Ready {
    /// The current snapshot of `state` with its map geometry, derived first if need be.
    pub async fn of(state: &impl Snapshots) -> Result<Ready, rentgrid_tiles::Error> {
        let snapshot = state.snapshot();
        let map = snapshot.map_geometry().await.map_err(rentgrid_tiles::Error::Options)?;
        Ok(Ready { snapshot, map })
    }
}

/// A range of tiles a change touched, and the grid whose change touched it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    /// The grid of the building whose counts changed.
    pub grid: GridId,
    /// The tile set.
    pub layer: Layer,
    /// The tiles, at one zoom.
    pub range: TileRange,
}

/// The tiles `deltas` touch in `atlas` (the snapshot they made): for each building, its
/// footprint's box in `buildings` and `rental_units` and its grid's box in `grids` (the grid's
/// KPIs colour all of it). Boundaries, base map and workplaces do not change with building
/// counts; the heat surface changes everywhere (see [`TileCache::publish_deltas`]).
pub fn touched(atlas: &Atlas, deltas: &[StatsDelta]) -> Vec<Touch> {
    let opts = TileOptions::default();
    let mut touches = Vec::new();
    for d in deltas.iter().filter(|d| !d.is_empty()) {
        let Some(b) = atlas.building(d.building_id) else { continue };
        let grid = b.grid_id;
        let footprint = b.footprint.bounding_rect().unwrap_or_else(|| Rect::new(b.point.0, b.point.0));
        for layer in [Layer::Buildings, Layer::RentalUnits] {
            touches.extend(tiles_to_invalidate(layer, footprint, &opts).into_iter().map(|range| Touch {
                grid,
                layer,
                range,
            }));
        }
        if let Some(grid_box) = atlas.grid(grid).and_then(|g| g.grid.geometry.bounding_rect()) {
            let layer = Layer::Grids;
            touches.extend(tiles_to_invalidate(layer, grid_box, &opts).into_iter().map(|range| Touch {
                grid,
                layer,
                range,
            }));
        }
    }
    touches.sort_by_key(|t| (t.grid, t.layer, t.range.z, t.range.min_x, t.range.min_y, t.range.max_x, t.range.max_y));
    touches.dedup();
    touches
}

/// The threads that build tiles, one per core, shared by the process: a burst of requests queues
/// instead of time-slicing a dozen builds over two cores, and each thread's allocator stays warm.
/// `None` if they could not be started: builds then go to tokio's blocking pool.
fn builders() -> Option<&'static rayon::ThreadPool> {
    static BUILDERS: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    BUILDERS.get_or_init(|| crate::background::threads("tiles", 0)).as_ref()
}

/// The cache key of a scope: 0 for one that sees the whole district unsuppressed, else a hash
/// of its role and grids (a leader's district is not the command center's).
pub fn scope_key(scope: &Scope) -> u64 {
    if scope.grids.is_none() && !scope.aggregates_only() {
        return 0;
    }
    let mut h = DefaultHasher::new();
    (scope.role as u8, &scope.grids).hash(&mut h);
    h.finish() | 1
}

/// A weak ETag of tile bytes: a 64-bit hash with a fixed seed, the same for the same bytes in
/// every run of this build.
fn etag(bytes: &[u8]) -> String {
    use std::hash::BuildHasher;
    let h = foldhash::fast::FixedState::with_seed(0x7e_6e_57_a6).hash_one(bytes);
    format!("W/\"{h:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_that_see_everything_share_tiles_and_others_do_not() {
        assert_eq!(scope_key(&Scope::everything()), 0);
        let a = Scope::of_grids(Role::Caseworker, [1, 2]);
        let b = Scope::of_grids(Role::Caseworker, [1, 3]);
        assert_ne!(scope_key(&a), 0);
        assert_ne!(scope_key(&a), scope_key(&b));
        let leader = Scope { role: Role::Leader, ..Scope::everything() };
        assert_ne!(scope_key(&leader), 0, "a leader's tiles are not the command center's");
    }

    #[test]
    fn a_tile_built_before_publishes_that_did_not_touch_it_is_current() {
        let key = |layer, x| TileKey { layer, tile: TileId { z: 14, x, y: 7 }, scope: 0, variant: 0, surface: 0 };
        let range = |x| TileRange { z: 14, min_x: x, min_y: 7, max_x: x, max_y: 7 };
        let touch = |layer, x| Touch { grid: 1, layer, range: range(x) };
        let mut log = Publishes::default();
        log.record(1, 2, Some(vec![touch(Layer::Grids, 10)]));
        log.record(2, 5, Some(vec![touch(Layer::Buildings, 11)]));
        // Tile x=12 was touched by neither publish: built from 1, 2 or 5, it is version 5's.
        for built in [1, 2] {
            assert!(log.untouched(built, 5, &key(Layer::Grids, 12)));
        }
        // Touched since it was built: stale.
        assert!(!log.untouched(1, 5, &key(Layer::Grids, 10)));
        assert!(!log.untouched(1, 5, &key(Layer::Buildings, 11)));
        assert!(log.untouched(2, 5, &key(Layer::Grids, 10)), "the grids publish came before its build");
        // Another layer's tile at the touched place is not touched.
        assert!(log.untouched(1, 5, &key(Layer::RentalUnits, 10)));
        // Heat changes with every publish; a chain with a gap or past a reload proves nothing.
        assert!(!log.untouched(1, 5, &key(Layer::Heat, 12)));
        assert!(!log.untouched(3, 5, &key(Layer::Grids, 12)));
        assert!(!log.untouched(1, 6, &key(Layer::Grids, 12)));
        log.record(5, 6, None);
        assert!(!log.untouched(1, 6, &key(Layer::Grids, 12)));
        log.reloaded();
        assert!(!log.untouched(1, 5, &key(Layer::Grids, 12)));
        // Only the latest publishes are remembered.
        for v in 10..10 + Publishes::CAPACITY as u64 + 1 {
            log.record(v, v + 1, Some(Vec::new()));
        }
        assert!(!log.untouched(10, 11, &key(Layer::Grids, 12)));
        assert!(log.untouched(11, 10 + Publishes::CAPACITY as u64 + 1, &key(Layer::Grids, 12)));
    }

    #[test]
    fn equal_bytes_have_equal_tags() {
        assert_eq!(etag(b"abc"), etag(b"abc"));
        assert_ne!(etag(b"abc"), etag(b"abd"));
        assert!(etag(b"").starts_with("W/\""));
    }
}
