//! One builder per tile set. Each gathers what meets the buffered tile from the Atlas, draws it
//! with the tile's [`Generalise`] or [`Clustering`], and returns its MVT layers.

pub mod basemap;
pub mod boundaries;
pub mod buildings;
pub mod grids;
pub mod heat;
pub mod rental_units;
pub mod workplaces;

use crate::cluster::{Clustering, PointFeature};
use crate::geometry::Generalise;
use crate::layer::VectorLayer;
use crate::mvt::{LayerEncoder, Value};
use crate::tile::{TileId, TileProjection};
use crate::{Layer, TileOptions, TileSources};
use geo::Rect;

/// What each tile set holds: its builder module's table.
impl Layer {
    /// The MVT layers its tiles hold, for TileJSON's `vector_layers`.
    pub fn vector_layers(self) -> &'static [VectorLayer] {
        match self {
            Layer::Grids => grids::VECTOR_LAYERS,
            Layer::Buildings => buildings::VECTOR_LAYERS,
            Layer::RentalUnits => rental_units::VECTOR_LAYERS,
            Layer::Workplaces => workplaces::VECTOR_LAYERS,
            Layer::Boundaries => boundaries::VECTOR_LAYERS,
            Layer::Basemap => basemap::VECTOR_LAYERS,
            Layer::Heat => heat::VECTOR_LAYERS,
        }
    }

    /// The lowest zoom it has tiles at (TileJSON `minzoom`); below it a tile is empty.
    pub fn minzoom(self) -> u8 {
        self.vector_layers().iter().map(|l| l.minzoom).min().unwrap_or(0)
    }

    /// The highest zoom it has tiles at (TileJSON `maxzoom`); clients overzoom beyond it.
    pub fn maxzoom(self) -> u8 {
        self.vector_layers().iter().map(|l| l.maxzoom).max().unwrap_or(0)
    }
}

/// One attempt at one tile: what to draw from, which tile, and how coarse (0 is as fine as the
/// options allow; each level doubles cells and tolerance and quadruples the smallest ring).
pub struct Ctx<'a> {
    /// Sources.
    pub src: &'a TileSources<'a>,
    /// The tile.
    pub tile: TileId,
    /// Options.
    pub opts: &'a TileOptions,
    /// Coarsening level.
    pub level: u32,
}

impl Ctx<'_> {
    /// The tile's geometry pipeline at this level.
    pub fn generalise(&self) -> Generalise {
        Generalise {
            projection: TileProjection::new(self.tile, self.opts.extent),
            extent: self.opts.extent as i32,
            buffer: self.opts.buffer as i32,
            tolerance: self.opts.tolerance * f64::from(1u32 << self.level),
            min_area: self.opts.min_ring_area.max(1) << (2 * self.level),
        }
    }

    /// Clustering at this level: cells below zoom `lone_from`, or at any zoom once coarsened.
    pub fn clustering(&self, lone_from: u8) -> Clustering {
        let cell = (self.tile.z < lone_from || self.level > 0)
            .then(|| (self.opts.cluster_cell << self.level).min(self.opts.extent));
        Clustering { cell, extent: self.opts.extent as i32, buffer: self.opts.buffer as i32 }
    }

    /// The tile grown by its buffer, in WGS84.
    pub fn buffered_bounds(&self) -> Rect<f64> {
        self.tile.bounds_with_margin(f64::from(self.opts.buffer) / f64::from(self.opts.extent))
    }

    /// Draws a point layer called `name`: lone points from zoom `lone_from`, clusters below
    /// (summing `sum_keys`). `gather(bbox)` yields the candidates in a WGS84 box as (id, lon,
    /// lat, sums, properties).
    pub fn points<I>(
        &self,
        name: &str,
        lone_from: u8,
        sum_keys: &[&'static str],
        gather: impl FnOnce(Rect<f64>) -> I,
    ) -> LayerEncoder
    where
        I: Iterator<Item = (u32, f64, f64, Vec<u64>, Vec<(&'static str, Value)>)>,
    {
        let clustering = self.clustering(lone_from);
        let reach = clustering.reach();
        let g = self.generalise().with_buffer(reach);
        let bbox = self.tile.bounds_with_margin(f64::from(reach) / f64::from(self.opts.extent));
        let points = gather(bbox)
            .filter_map(|(id, lon, lat, sums, properties)| {
                let (x, y) = g.point_f64(lon, lat)?;
                Some(PointFeature { id, x, y, sums, properties })
            })
            .collect();
        let mut layer = self.layer(name);
        clustering.draw(points, sum_keys, &mut layer);
        layer
    }

    /// Where a label at `p` (WGS84) is drawn in this tile: only in the one tile holding it, as
    /// MapLibre places a symbol from the tile its anchor is in and ignores anchors in the buffer.
    pub fn label_at(&self, p: geo::Point<f64>) -> Option<crate::mvt::TilePoint> {
        let extent = self.opts.extent as i32;
        self.generalise().point(p.x(), p.y()).filter(|q| q.iter().all(|v| (0..extent).contains(v)))
    }

    /// An empty MVT layer.
    pub fn layer(&self, name: &str) -> LayerEncoder {
        LayerEncoder::new(name, self.opts.extent)
    }
}

/// Runs the builder of `layer`.
pub fn build(layer: Layer, ctx: &Ctx) -> Vec<LayerEncoder> {
    match layer {
        Layer::Grids => grids::build(ctx),
        Layer::Buildings => buildings::build(ctx),
        Layer::RentalUnits => rental_units::build(ctx),
        Layer::Workplaces => workplaces::build(ctx),
        Layer::Boundaries => boundaries::build(ctx),
        Layer::Basemap => basemap::build(ctx),
        Layer::Heat => heat::build(ctx),
    }
}

/// A rate rounded to four decimals (0.01 percentage points), so equal rates share a value.
pub fn rate(r: f64) -> f64 {
    (r * 10_000.0).round() / 10_000.0
}
