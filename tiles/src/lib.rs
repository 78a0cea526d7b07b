//! rentgrid-tiles: Mapbox Vector Tiles of a district, built from an Atlas snapshot. A pure
//! library: no HTTP, no SQL, no async.
//!
//! - [`tile`]: Web Mercator tile maths, and the tiles a change touches.
//! - [`heat`]: the kernel density surface the `heat` tile set draws, on a fixed raster in metres.
//! - [`geometry`]: projection into a tile, clipping to tile plus buffer, simplification,
//!   quantisation and polygon repair.
//! - [`cluster`]: clustering of dense point layers at low zoom.
//! - [`mvt`]: the MVT 2.1 protobuf encoder; [`decode`] a reader for checking tiles.
//! - [`glyphs`]: the glyph ranges (signed distance fields) map labels are drawn with.
//! - [`layer`]: the tile sets ([`Layer`]) and their TileJSON `vector_layers`.
//! - [`map_geometry`]: street and community areas, boundary lines, label points and indexes
//!   derived once; [`label_point`] where a place's name is written.
//! - `layers`: one builder per layer.
//!
//! A server calls [`build_tile`] (`None` is an empty tile: answer 204), describes tile sets with
//! [`Layer::vector_layers`], [`Layer::minzoom`], [`Layer::maxzoom`] and [`bounds`], and after a
//! write drops the cached tiles [`tiles_to_invalidate`] lists.

pub mod cluster;
pub mod decode;
pub mod geometry;
pub mod glyphs;
pub mod heat;
pub mod label_point;
pub mod layer;
mod layers;
pub mod map_geometry;
pub mod mvt;
pub mod tile;

pub use layer::{Field, FieldType, Layer, VectorLayer};
pub use map_geometry::MapGeometry;
pub use tile::{TileId, TileRange};

use geo::Rect;
use rentgrid_analysis::kpi::{Counts, Targets};
use rentgrid_geodata::{Atlas, GridId};

/// Why a tile could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tile id outside the zoom's grid.
    #[error("tile {z}/{x}/{y} does not exist: x and y must be below 2^z and z at most {max}", max = tile::MAX_ZOOM)]
    TileOutOfRange {
        /// Zoom.
        z: u8,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// A layer name that is not one of [`Layer::ALL`].
    #[error("unknown tile layer {0:?}: use grids, buildings, rental_units, workplaces, boundaries, basemap or heat")]
    UnknownLayer(String),
    /// Options that cannot work.
    #[error("tile options: {0}")]
    Options(String),
    /// Grid counts that do not belong to the Atlas.
    #[error("{counts} grid KPI rows for {grids} grids")]
    GridCounts {
        /// Rows given.
        counts: usize,
        /// Grids in the Atlas.
        grids: usize,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How tiles are cut and how big they may get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileOptions {
    /// Units across a tile.
    pub extent: u32,
    /// Units kept beyond each edge.
    pub buffer: u32,
    /// Douglas–Peucker tolerance for lines and rings, in tile units.
    pub tolerance: f64,
    /// Rings smaller than this (square tile units) are dropped: 64 is one pixel of a 512-pixel tile.
    pub min_ring_area: u64,
    /// Side of a cluster cell in tile units: a power of two dividing `extent`.
    pub cluster_cell: u32,
    /// A tile's size limit in bytes.
    pub max_bytes: usize,
    /// A tile's limit in features.
    pub max_features: usize,
}

impl Default for TileOptions {
    /// Extent 4096, buffer 64, tolerance 1 unit, rings from 64 units², cells of 128 units (8
    /// pixels of a 256-pixel tile), at most 500 kB and 50,000 features a tile.
    fn default() -> Self {
        Self {
            extent: 4096,
            buffer: 64,
            tolerance: 1.0,
            min_ring_area: 64,
            cluster_cell: 128,
            max_bytes: 500_000,
            max_features: 50_000,
        }
    }
}

impl TileOptions {
    fn check(&self) -> Result<()> {
        let ok_extent = self.extent.is_power_of_two() && (256..=1 << 16).contains(&self.extent);
        if !ok_extent || self.buffer > self.extent / 2 {
            return Err(Error::Options(format!(
                "extent {} must be a power of two from 256 to 65536 and buffer {} at most half of it",
                self.extent, self.buffer
            )));
        }
        if !self.cluster_cell.is_power_of_two() || self.cluster_cell > self.extent {
            return Err(Error::Options(format!(
                "cluster cell {} must be a power of two dividing the extent",
                self.cluster_cell
            )));
        }
        if self.tolerance.is_nan() || self.tolerance < 0.0 {
            return Err(Error::Options(format!("tolerance {} must not be negative", self.tolerance)));
        }
        Ok(())
    }
}

/// Everything tiles are drawn from.
#[derive(Clone, Copy)]
pub struct TileSources<'a> {
    /// The snapshot.
    pub atlas: &'a Atlas,
    /// Counts per grid, indexed by grid id (`rentgrid_analysis::kpi::grid_counts`).
    pub grid_counts: &'a [Counts],
    /// KPI targets, for each grid's `reg_status`.
    pub targets: &'a Targets,
    /// Geometry derived from the Atlas ([`MapGeometry::derive`]).
    pub map: &'a MapGeometry,
    /// The grids the caller may see (its Scope); `None` sees all. Grids, buildings, rental units
    /// and workplaces outside are left out; boundaries and the base map are drawn for everyone.
    pub visible: Option<&'a (dyn Fn(GridId) -> bool + Sync)>,
    /// The heat surface the `heat` tile set draws ([`heat::HeatSurface::build`]); `None` draws
    /// empty heat tiles.
    pub heat: Option<&'a heat::HeatSurface>,
    /// Draw for a leader: no figure computed from fewer than
    /// [`rentgrid_analysis::disclosure::K`] persons (grid attributes left out, heat cells standing
    /// for fewer persons not drawn).
    pub suppress_small_counts: bool,
    /// The estimate of what the register lacks ([`rentgrid_analysis::unrecorded::estimate`]),
    /// for each grid's estimated actual rates; `None` leaves them out.
    pub unrecorded: Option<&'a rentgrid_analysis::unrecorded::Unrecorded>,
}

impl std::fmt::Debug for TileSources<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileSources")
            .field("grids", &self.atlas.grids().len())
            .field("grid_counts", &self.grid_counts.len())
            .field("scoped", &self.visible.is_some())
            .finish()
    }
}

impl TileSources<'_> {
    /// Whether the caller may see `grid`.
    pub(crate) fn sees(&self, grid: GridId) -> bool {
        self.visible.is_none_or(|f| f(grid))
    }
}

/// How many times a tile over its limits is rebuilt coarser (larger cells, stronger
/// simplification, larger smallest ring) before features are cut.
const MAX_COARSENING: u32 = 6;

/// Builds the tile `tile` of `layer`: the MVT bytes, or `None` when it draws nothing (outside the
/// layer's zooms or the district, or empty). A tile never holds more than `opts.max_features`
/// features nor (within a few bytes) `opts.max_bytes`: an overfull one is rebuilt coarser.
pub fn build_tile(src: &TileSources, layer: Layer, tile: TileId, opts: &TileOptions) -> Result<Option<Vec<u8>>> {
    opts.check()?;
    if src.grid_counts.len() != src.atlas.grids().len() {
        return Err(Error::GridCounts { counts: src.grid_counts.len(), grids: src.atlas.grids().len() });
    }
    if tile.z < layer.minzoom() || tile.z > layer.maxzoom() {
        return Ok(None);
    }
    let mut built = Vec::new();
    for level in 0..=MAX_COARSENING {
        let ctx = layers::Ctx { src, tile, opts, level };
        built = layers::build(layer, &ctx);
        let features: usize = built.iter().map(mvt::LayerEncoder::len).sum();
        let bytes: usize = built.iter().map(mvt::LayerEncoder::approx_bytes).sum();
        if features <= opts.max_features && bytes <= opts.max_bytes {
            break;
        }
    }
    // Still over: keep each layer's share of the limits (the first features, which builders
    // emit in a stable order).
    let features: usize = built.iter().map(mvt::LayerEncoder::len).sum();
    let bytes: usize = built.iter().map(mvt::LayerEncoder::approx_bytes).sum();
    if features > opts.max_features || bytes > opts.max_bytes {
        let keep = (opts.max_features as f64 / features as f64).min(opts.max_bytes as f64 / bytes as f64 * 0.95);
        for l in &mut built {
            l.truncate((l.len() as f64 * keep).floor() as usize);
        }
    }
    if built.iter().all(mvt::LayerEncoder::is_empty) {
        return Ok(None);
    }
    Ok(Some(mvt::encode_tile(built)))
}

/// The district's bounding box as TileJSON `bounds`: `[west, south, east, north]`.
pub fn bounds(atlas: &Atlas) -> [f64; 4] {
    let b = atlas.bbox();
    [b.min().x, b.min().y, b.max().x, b.max().y]
}

/// The tiles of `layer` that may draw something inside `bbox` (WGS84), one range per zoom of the
/// layer: after a write changes the buildings, grids or workplaces in `bbox`, drop these from a
/// tile cache. Pass a grid's bounding box when its KPIs change (they colour the whole grid), a
/// building's footprint box when its counts change (for `buildings`, `rental_units`, and its
/// grid's box for `grids`).
pub fn tiles_to_invalidate(layer: Layer, bbox: Rect<f64>, opts: &TileOptions) -> Vec<TileRange> {
    // A change reaches as far as the buffer, or for clustered points as far as a cluster cell
    // (at most a tile).
    let margin = if layer.clusters() { 1.0 } else { f64::from(opts.buffer) / f64::from(opts.extent.max(1)) };
    (layer.minzoom()..=layer.maxzoom()).map(|z| tile::tiles_touching_at(bbox, z, margin)).collect()
}
