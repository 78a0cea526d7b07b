//! The heat surface (核密度热力图) drawn by the `heat` tile set: the quartic kernel density of
//! what is counted at each building, in units per km², computed once per Atlas snapshot on a
//! fixed raster in metres, so a place has the same density at every zoom.
//!
//! The density is [`rentgrid_analysis::density::KernelDensity`] over the buildings' points, each
//! weighted by its count, with ArcGIS's default radius (the spatial Silverman rule) unless one is
//! given. It is evaluated at the centres of square cells of [`FINE_CELL_M`] metres in a local
//! projection centred on the district; each coarser level merges 2 × 2 cells into one holding
//! their mean. A tile is drawn from the level whose cells are about 1/80 of its width (the
//! finest from zoom [`FINE_ZOOM`] − 2 up), as bands between the densities of
//! [`BAND_THRESHOLDS`] traced by marching squares with linear interpolation ([`HeatBand`]), so
//! the bands' edges are smooth lines through the samples rather than the cells' squares.

use contour::ContourBuilder;
use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::float::single::SingleFloatOverlay;
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

/// The density thresholds (per km²) between the bands drawn, low to high: a band runs from one
/// threshold to the next, the last band has no top, and below the first nothing is drawn.
pub const BAND_THRESHOLDS: [f64; 5] = [100.0, 1_000.0, 3_000.0, 10_000.0, 30_000.0];

/// How many levels finer than a tile's cells its bands are traced on: each tile's bands follow
/// a raster of about 80 × 80 samples, so their edges look smooth at the zoom they are drawn at.
const BAND_DETAIL: u8 = 2;

/// One band of the surface (等值带): where the density lies between two thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatBand {
    /// Its position in [`BAND_THRESHOLDS`].
    pub index: usize,
    /// The lowest density in it, per km².
    pub lo: f64,
    /// The density it stays below, per km² (`None` for the top band).
    pub hi: Option<f64>,
    /// Where, WGS84: outer rings then holes of each part, as i_overlay's shapes.
    pub shapes: Vec<Vec<Vec<[f64; 2]>>>,
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

    /// The raster the bands at zoom `z` are traced on.
    fn band_level(z: u8) -> usize {
        Self::level_for_zoom(z.saturating_add(BAND_DETAIL))
    }

    /// The samples the bands at zoom `z` are traced through, meeting the WGS84 box (`west, south,
    /// east, north`): each cell's centre (lon, lat) and its density per km² (at the finest level,
    /// the kernel density at that point; coarser, the mean of the finer cells it covers).
    pub fn samples_in(&self, z: u8, bbox: [f64; 4]) -> Vec<(f64, f64, f64)> {
        let level = &self.levels[Self::band_level(z)];
        let (cols, rows) = self.window(level, bbox, 0);
        let mut out = Vec::with_capacity(cols.len() * rows.len());
        for r in rows {
            for c in cols.clone() {
                let (x, y) = self.centre(level, r, c);
                let (lon, lat) = self.projection.inverse(x, y);
                out.push((lon, lat, level.values[r * level.cols + c]));
            }
        }
        out
    }

    /// The bands drawn at zoom `z` near the WGS84 box (`west, south, east, north`), cut to
    /// `clip` (rings, even-odd: the district's outline) and traced by marching squares with
    /// linear interpolation through the cell centres (the `contour` crate, a port of
    /// d3-contour). A sample standing for fewer than `smallest_count` (density × cell area) is
    /// taken as 0, so no band shows it. The bands reach past the box: cut them to the tile.
    pub fn bands_in(&self, z: u8, bbox: [f64; 4], smallest_count: f64, clip: &[Vec<[f64; 2]>]) -> Vec<HeatBand> {
        let level = &self.levels[Self::band_level(z)];
        // Two samples beyond the box, so every ring the box sees is traced as in the whole raster.
        let (cols, rows) = self.window(level, bbox, 2);
        let (w, h) = (cols.len(), rows.len());
        if w < 2 || h < 2 {
            return Vec::new();
        }
        let cell_km2 = (level.cell_m / 1000.0).powi(2);
        let values: Vec<f64> = rows
            .clone()
            .flat_map(|r| cols.clone().map(move |c| (r, c)))
            .map(|(r, c)| level.values[r * level.cols + c])
            .map(|v| if v * cell_km2 < smallest_count { 0.0 } else { v })
            .collect();
        // Sample (i, j) sits at (i + 0.5, j + 0.5) in the builder's units.
        let builder = ContourBuilder::new(w, h, true)
            .x_origin(self.origin[0] + cols.start as f64 * level.cell_m)
            .y_origin(self.origin[1] + rows.start as f64 * level.cell_m)
            .x_step(level.cell_m)
            .y_step(level.cell_m);
        let Ok(lines) = builder.lines(&values, &BAND_THRESHOLDS) else { return Vec::new() };
        // The rings of each threshold, in WGS84: even-odd, they bound where the density is at
        // least that threshold (rings of one threshold never cross, nor those of two).
        let rings: Vec<Vec<Vec<[f64; 2]>>> = lines
            .iter()
            .map(|line| {
                line.geometry()
                    .0
                    .iter()
                    .filter(|ring| ring.0.len() >= 4)
                    .map(|ring| {
                        ring.0
                            .iter()
                            .map(|p| {
                                let (lon, lat) = self.projection.inverse(p.x, p.y);
                                [lon, lat]
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        for (index, lo) in BAND_THRESHOLDS.iter().enumerate() {
            // The band is what lies within its threshold's rings and not within the next's.
            let mut subject = rings[index].clone();
            if let Some(upper) = rings.get(index + 1) {
                subject.extend(upper.iter().cloned());
            }
            if subject.is_empty() {
                continue;
            }
            let shapes = subject.overlay(&clip, OverlayRule::Intersect, FillRule::EvenOdd);
            if shapes.is_empty() {
                continue;
            }
            out.push(HeatBand { index, lo: *lo, hi: BAND_THRESHOLDS.get(index + 1).copied(), shapes });
        }
        out
    }

    /// The columns and rows of `level` whose cell centres lie in the WGS84 box grown by `margin`
    /// cells.
    fn window(&self, level: &Level, bbox: [f64; 4], margin: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let [w, s, e, n] = bbox;
        let xy: Vec<(f64, f64)> =
            [(w, s), (e, s), (e, n), (w, n)].iter().map(|&(lon, lat)| self.projection.forward(lon, lat)).collect();
        let x0 = xy.iter().map(|p| p.0).fold(f64::MAX, f64::min);
        let x1 = xy.iter().map(|p| p.0).fold(f64::MIN, f64::max);
        let y0 = xy.iter().map(|p| p.1).fold(f64::MAX, f64::min);
        let y1 = xy.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        let range = |lo: f64, hi: f64, origin: f64, n: usize| {
            let a = ((lo - origin) / level.cell_m - 0.5).ceil().max(0.0) as usize;
            let b = (((hi - origin) / level.cell_m - 0.5).floor() + 1.0).max(0.0) as usize;
            a.saturating_sub(margin).min(n)..(b + margin).min(n)
        };
        (range(x0, x1, self.origin[0], level.cols), range(y0, y1, self.origin[1], level.rows))
    }

    /// The centre of a cell of `level`, metres.
    fn centre(&self, level: &Level, r: usize, c: usize) -> (f64, f64) {
        (self.origin[0] + (c as f64 + 0.5) * level.cell_m, self.origin[1] + (r as f64 + 0.5) * level.cell_m)
    }
}
