//! The heat surface (核密度热力图) drawn by the `heat` tile set: the quartic kernel density of
//! what is counted at each building, in units per km², computed once per Atlas snapshot on a
//! fixed raster in metres, so a place has the same density at every zoom.
//!
//! The density is [`rentgrid_analysis::density::KernelDensity`] over the buildings' points, each
//! weighted by its count, with ArcGIS's default radius (the spatial Silverman rule) unless one is
//! given. It is evaluated at the centres of square cells of [`FINE_CELL_M`] metres in a local
//! projection centred on the district; each coarser level merges 2 × 2 cells into one holding
//! their mean, so a coarse cell carries the average density over its area and the total it
//! stands for (density × area) is the same at every level. Zoom [`FINE_ZOOM`] and above draw the
//! finest level, each zoom below one level coarser, down to [`LEVELS`] levels.

use rentgrid_analysis::StatsResult;
use rentgrid_analysis::density::KernelDensity;
use rentgrid_geodata::Atlas;
use rentgrid_geodata::crs::LocalProjection;
use std::str::FromStr;

/// Side of the finest cells, metres.
pub const FINE_CELL_M: f64 = 100.0;
/// The zoom from which the finest cells are drawn.
pub const FINE_ZOOM: u8 = 14;
/// Levels of the pyramid: the finest and five coarser ones (cells of 100 m to 3.2 km).
pub const LEVELS: usize = 6;
/// The most cells of the finest level; a larger district gets larger cells.
const MAX_FINE_CELLS: f64 = 4_000_000.0;

/// What the heat surface counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HeatCount {
    /// Persons recorded.
    #[default]
    Persons,
    /// Rental units recorded.
    RentalUnits,
    /// Persons recorded and not registered (未登记): the unregistered estimate.
    Unregistered,
}

impl HeatCount {
    /// Every count, in a fixed order.
    pub const ALL: [HeatCount; 3] = [HeatCount::Persons, HeatCount::RentalUnits, HeatCount::Unregistered];

    /// The name in URLs (`?count=`).
    pub fn as_str(self) -> &'static str {
        match self {
            HeatCount::Persons => "persons",
            HeatCount::RentalUnits => "rental_units",
            HeatCount::Unregistered => "unregistered",
        }
    }

    /// A small number per count, for cache keys.
    pub fn index(self) -> u8 {
        self as u8
    }
}

impl FromStr for HeatCount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HeatCount::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("count={s:?}: use persons, rental_units or unregistered"))
    }
}

/// One level of the pyramid: cells of `cell_m` metres, row 0 the southernmost.
#[derive(Debug, Clone, PartialEq)]
struct Level {
    cell_m: f64,
    cols: usize,
    rows: usize,
    values: Vec<f64>,
}

/// The density raster of one count over one Atlas snapshot, at every level.
#[derive(Debug, Clone)]
pub struct HeatSurface {
    count: HeatCount,
    radius_m: f64,
    projection: LocalProjection,
    /// South-west corner of every level, metres.
    origin: [f64; 2],
    levels: Vec<Level>,
    total: f64,
}

/// A drawn cell: its corners (WGS84, counter-clockwise from the south-west) and density per km².
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatCell {
    /// Level-and-cell number, unique within the surface.
    pub id: u64,
    /// Corners: south-west, south-east, north-east, north-west, as (lon, lat).
    pub corners: [(f64, f64); 4],
    /// Mean density over the cell, per km².
    pub density: f64,
    /// The cell's side, metres.
    pub cell_m: f64,
}

impl HeatSurface {
    /// The surface of `count` over `atlas`'s buildings; `radius_m` `None` takes the default
    /// radius. `None` when nothing is counted (an empty surface).
    pub fn build(atlas: &Atlas, count: HeatCount, radius_m: Option<f64>) -> StatsResult<Option<Self>> {
        let points: Vec<(f64, f64, f64)> = atlas
            .buildings()
            .iter()
            .filter_map(|b| {
                let s = atlas.building_stats(b.id)?;
                let w = match count {
                    HeatCount::Persons => s.persons,
                    HeatCount::RentalUnits => s.rental_units,
                    HeatCount::Unregistered => s.persons.saturating_sub(s.persons_registered),
                };
                (w > 0).then(|| (b.point.x(), b.point.y(), f64::from(w)))
            })
            .collect();
        let total: f64 = points.iter().map(|p| p.2).sum();
        if points.is_empty() {
            return Ok(None);
        }
        let kd = KernelDensity::from_lonlat(&points, radius_m)?;
        let Some(projection) = kd.projection() else { return Ok(None) };
        let r = kd.radius_m();
        // The district's box grown by the radius, aligned to the coarsest cell so levels nest.
        let bb = atlas.bbox();
        let corners =
            [(bb.min().x, bb.min().y), (bb.max().x, bb.min().y), (bb.max().x, bb.max().y), (bb.min().x, bb.max().y)];
        let xy: Vec<(f64, f64)> = corners.iter().map(|&(lon, lat)| projection.forward(lon, lat)).collect();
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in xy {
            (x0, y0, x1, y1) = (x0.min(x - r), y0.min(y - r), x1.max(x + r), y1.max(y + r));
        }
        let mut fine = FINE_CELL_M;
        while ((x1 - x0) / fine) * ((y1 - y0) / fine) > MAX_FINE_CELLS {
            fine *= 2.0;
        }
        let coarse = fine * f64::from(1u32 << (LEVELS - 1));
        let (ox, oy) = ((x0 / coarse).floor() * coarse, (y0 / coarse).floor() * coarse);
        let cols = (((x1 - ox) / coarse).ceil() as usize).max(1) << (LEVELS - 1);
        let rows = (((y1 - oy) / coarse).ceil() as usize).max(1) << (LEVELS - 1);
        let values: Vec<f64> = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| kd.at(ox + (c as f64 + 0.5) * fine, oy + (r as f64 + 0.5) * fine))
            .collect();
        let mut levels = vec![Level { cell_m: fine, cols, rows, values }];
        for _ in 1..LEVELS {
            let Some(prev) = levels.last() else { break };
            let (cols, rows) = (prev.cols / 2, prev.rows / 2);
            let at = |r: usize, c: usize| prev.values[r * prev.cols + c];
            let values = (0..rows)
                .flat_map(|r| (0..cols).map(move |c| (r, c)))
                .map(|(r, c)| {
                    (at(2 * r, 2 * c) + at(2 * r, 2 * c + 1) + at(2 * r + 1, 2 * c) + at(2 * r + 1, 2 * c + 1)) / 4.0
                })
                .collect();
            let next = Level { cell_m: prev.cell_m * 2.0, cols, rows, values };
            levels.push(next);
        }
        Ok(Some(Self { count, radius_m: r, projection, origin: [ox, oy], levels, total }))
    }

    /// What it counts.
    pub fn count(&self) -> HeatCount {
        self.count
    }

    /// True when it counts persons (all persons or the unregistered), not rental units.
    pub fn counts_persons(&self) -> bool {
        self.count != HeatCount::RentalUnits
    }

    /// The kernel's radius, metres.
    pub fn radius_m(&self) -> f64 {
        self.radius_m
    }

    /// The total weight counted (persons, units…).
    pub fn total(&self) -> f64 {
        self.total
    }

    /// The level drawn at zoom `z`: 0 (finest) from [`FINE_ZOOM`] up.
    pub fn level_for_zoom(z: u8) -> usize {
        usize::from(FINE_ZOOM.saturating_sub(z)).min(LEVELS - 1)
    }

    /// The side of the cells drawn at zoom `z`, metres.
    pub fn cell_m_at_zoom(&self, z: u8) -> f64 {
        self.levels[Self::level_for_zoom(z)].cell_m
    }

    /// The density per km² at a longitude/latitude as drawn at zoom `z` (0 outside the raster).
    pub fn density_at(&self, lon: f64, lat: f64, z: u8) -> f64 {
        let level = &self.levels[Self::level_for_zoom(z)];
        let (x, y) = self.projection.forward(lon, lat);
        let c = ((x - self.origin[0]) / level.cell_m).floor();
        let r = ((y - self.origin[1]) / level.cell_m).floor();
        if c < 0.0 || r < 0.0 || c >= level.cols as f64 || r >= level.rows as f64 {
            return 0.0;
        }
        level.values[r as usize * level.cols + c as usize]
    }

    /// The cells with a positive density drawn at zoom `z` that meet the WGS84 box
    /// (`west, south, east, north`).
    pub fn cells_in(&self, z: u8, bbox: [f64; 4]) -> Vec<HeatCell> {
        let li = Self::level_for_zoom(z);
        let level = &self.levels[li];
        let [w, s, e, n] = bbox;
        let xy: Vec<(f64, f64)> =
            [(w, s), (e, s), (e, n), (w, n)].iter().map(|&(lon, lat)| self.projection.forward(lon, lat)).collect();
        let x0 = xy.iter().map(|p| p.0).fold(f64::MAX, f64::min);
        let x1 = xy.iter().map(|p| p.0).fold(f64::MIN, f64::max);
        let y0 = xy.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        let y1 = xy.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        let range = |lo: f64, hi: f64, origin: f64, n: usize| {
            let a = ((lo - origin) / level.cell_m).floor().max(0.0) as usize;
            let b = (((hi - origin) / level.cell_m).ceil().max(0.0) as usize).min(n);
            a..b
        };
        let mut out = Vec::new();
        for r in range(y0, y1, self.origin[1], level.rows) {
            for c in range(x0, x1, self.origin[0], level.cols) {
                let density = level.values[r * level.cols + c];
                if density <= 1e-9 {
                    continue;
                }
                let (cx0, cy0) = (self.origin[0] + c as f64 * level.cell_m, self.origin[1] + r as f64 * level.cell_m);
                let (cx1, cy1) = (cx0 + level.cell_m, cy0 + level.cell_m);
                let corners = [
                    self.projection.inverse(cx0, cy0),
                    self.projection.inverse(cx1, cy0),
                    self.projection.inverse(cx1, cy1),
                    self.projection.inverse(cx0, cy1),
                ];
                let id = ((li as u64) << 48) | ((r as u64) << 24) | c as u64;
                out.push(HeatCell { id, corners, density, cell_m: level.cell_m });
            }
        }
        out
    }
}
