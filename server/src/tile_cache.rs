//! The vector tile cache: built tiles (MVT bytes, their gzip and ETag) keyed by layer, tile and
//! the caller's scope, bounded in bytes, and dropped exactly where a write changes what a tile
//! draws ([`rentgrid_tiles::tiles_to_invalidate`]). What tiles are built from (the Atlas, its
//! counts, heat surfaces and map geometry) is the [`Snapshot`]'s.
//!
//! Consistency: a tile is built from one Atlas snapshot outside any lock, then inserted only if
//! that snapshot is still the current one, checked under the read side of `gate`. A write swaps
//! its snapshot in and drops its tiles under the write side, so an insert either sees the new
//! snapshot (and is skipped) or happens before the write drops it. A stale tile never stays.
//!
//! The grids' tiles also carry each grid's estimated actual rates, from the day's
//! [`Unrecorded`] estimate of the snapshot they are built from: a grids tile is cached only when
//! that estimate was there, and is served from the cache only on the day it was made. A visit
//! refreshes its grid's tiles at once; the other grids keep the estimate they were drawn with
//! (it moves with the district-wide calibration only slightly) until the next day's estimate.

use crate::observe::metrics::TileCounts;
use crate::scope::{Role, Scope};
use crate::snapshot::Snapshot;
use bytes::Bytes;
use geo::{BoundingRect, Rect};
use quick_cache::Weighter;
use rentgrid_analysis::kpi::Targets;
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::{Atlas, GridId, StatsDelta};
use rentgrid_tiles::heat::HeatCount;
use rentgrid_tiles::{
    Layer, MapGeometry, TileId, TileOptions, TileRange, TileSources, build_tile, tiles_to_invalidate,
};
use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

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
        Self { entries, gate: RwLock::new(()), hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// Runs `job` (a tile build) on a building thread.
    pub fn spawn_build(&self, job: impl FnOnce() + Send + 'static) {
        match builders() {
            Some(pool) => pool.spawn(job),
            None => drop(tokio::task::spawn_blocking(job)),
        }
    }

    /// The key of `tile` of `layer` as `scope` sees it (for `heat`, the surface of `count`).
    fn key(layer: Layer, tile: TileId, scope: &Scope, count: HeatCount) -> TileKey {
        let variant = if layer == Layer::Heat { count.index() } else { 0 };
        TileKey { layer, tile, scope: scope_key(scope), variant }
    }

    /// The cached tile, if there is one: cheap, callable on the async runtime.
    /// A hit is counted; a miss is not (the tile is then asked of [`Self::get_or_build`]).
    pub fn cached(&self, layer: Layer, tile: TileId, scope: &Scope, count: HeatCount) -> Option<CachedTile> {
        let hit = self
            .entries
            .as_ref()
            .and_then(|c| c.get(&Self::key(layer, tile, scope, count)))
            .filter(|t| t.is_for(scope));
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
    /// changes touch ([`touched`]; every heat tile, as a count changed anywhere moves the density
    /// within a kernel radius of it and the surface is rebuilt from the new snapshot). `atlas` is
    /// the new snapshot. Returns what was touched.
    pub(crate) fn publish_deltas(&self, atlas: &Atlas, deltas: &[StatsDelta], swap: impl FnOnce()) -> Vec<Touch> {
        let touches = touched(atlas, deltas);
        let _write = self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        swap();
        if let Some(entries) = &self.entries {
            entries.retain(|k, _| {
                k.layer != Layer::Heat && !touches.iter().any(|t| t.layer == k.layer && t.range.contains(k.tile))
            });
        }
        touches
    }

    /// Runs `swap` (which publishes a snapshot rebuilt from the store) and drops every tile.
    pub(crate) fn publish_reload(&self, swap: impl FnOnce()) {
        let _write = self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        swap();
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }

    /// The tile `tile` of `layer` as `scope` sees it (for `heat`, the surface of `count`): from the
    /// cache, or built from `ready` (see [`Ready::of`]) and cached if that is still the current
    /// snapshot. Blocking (CPU-bound): call it off the async runtime.
    #[allow(clippy::too_many_arguments)]
    pub fn get_or_build(
        &self,
        state: &impl Snapshots,
        ready: &Ready,
        layer: Layer,
        tile: TileId,
        scope: &Scope,
        count: HeatCount,
    ) -> Result<CachedTile, rentgrid_tiles::Error> {
        let key = Self::key(layer, tile, scope, count);
        if let Some(hit) = self.entries.as_ref().and_then(|c| c.get(&key)).filter(|t| t.is_for(scope)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let Ready { snapshot, map } = ready;
        let atlas = snapshot.atlas();
        let counts = snapshot.grid_counts();
        let heat = if layer == Layer::Heat { snapshot.heat_surface(count)? } else { None };
        let unrecorded = if layer == Layer::Grids { state.unrecorded(atlas) } else { None };
        let sees = |g| scope.sees_grid(g);
        let src = TileSources {
            atlas,
            grid_counts: &counts,
            targets: state.targets(),
            map,
            visible: if scope.grids.is_none() { None } else { Some(&sees) },
            heat: heat.as_deref(),
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
            if state.snapshot().version() == snapshot.version() {
                entries.insert(key, built.clone());
            }
        }
        Ok(built)
    }
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
    BUILDERS
        .get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
                .thread_name(|i| format!("tiles-{i}"))
                .panic_handler(|_| tracing::error!("a tile build panicked"))
                .build()
                .map_err(|e| tracing::warn!("no tile build threads ({e}): building on the blocking pool"))
                .ok()
        })
        .as_ref()
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

/// Level 2 of zlib-rs (its "fast" strategy): on the scale-20 city's grid tiles about 2% larger
/// than level 6 in 35% less time; level 1 ("quick", static Huffman codes only) is faster still but
/// 16% larger, which phones on mobile data pay for.
const GZIP_LEVEL: u32 = 2;

thread_local! {
    /// A deflate stream per building thread, reset for each tile: setting one up allocates and
    /// clears some 256 KiB of tables, which costs more than compressing a small tile.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::new(GZIP_LEVEL), false));
}

/// `bytes` as a gzip member (RFC 1952): header, raw deflate, CRC-32 and length.
fn gzip(bytes: &[u8]) -> Bytes {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut out = Vec::with_capacity(HEADER.len() + bytes.len() / 2 + 64);
    out.extend_from_slice(&HEADER);
    let deflated = DEFLATE.with_borrow_mut(|d| {
        d.reset();
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let read = d.total_in() as usize;
            match d.compress_vec(&bytes[read..], &mut out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    });
    if !deflated {
        // Not seen: deflate into a growing vector does not fail. A fresh encoder, to be sure.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
        let _ = enc.write_all(bytes);
        return Bytes::from(enc.finish().unwrap_or_default());
    }
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    Bytes::from(out)
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
    fn gzip_round_trips_with_one_stream_reused() {
        use std::io::Read;
        let big: Vec<u8> = (0..300_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for bytes in [&b""[..], b"a", &big, b"abcabcabc", &big[..70_000]] {
            let gz = gzip(bytes);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, bytes);
            assert_eq!(gzip(bytes), gz, "the same bytes every time");
        }
    }

    #[test]
    fn equal_bytes_have_equal_tags() {
        assert_eq!(etag(b"abc"), etag(b"abc"));
        assert_ne!(etag(b"abc"), etag(b"abd"));
        assert!(etag(b"").starts_with("W/\""));
    }
}
