//! Kernel density (核密度) of weighted points, in units per km², with the quartic kernel and
//! default radius of ArcGIS's Kernel Density tool.
//!
//! Density at a location `q` (Silverman 1986, p. 76, eq. 4.5, as ArcGIS documents it):
//!
//! ```text
//! D(q) = 1/r² Σ_{i : d_i < r} (3/π) w_i (1 − (d_i/r)²)²      (per m², × 10⁶ for per km²)
//! ```
//!
//! with `d_i` the distance in metres from point `i` to `q`, `w_i` its weight (population) and
//! `r` the search radius. The kernel integrates to `w_i`, so the density integrates to the total
//! weight. The default radius is the spatial variant of Silverman's rule of thumb that ArcGIS
//! uses:
//!
//! ```text
//! r = 0.9 · min(SD, √(1/ln 2) · D_m) · n^(−0.2)
//! ```
//!
//! where `SD` is the (weighted) standard distance from the weighted mean centre,
//! `SD = √(Σ w_i d_i² / Σ w_i)`, `D_m` the weighted median of the distances to that centre (the
//! smallest distance at which the cumulative weight reaches half), and `n` the sum of the weights
//! (the number of points when all weigh 1).
//!
//! Coordinates: [`KernelDensity::new`] takes planar metres; [`KernelDensity::from_lonlat`] projects
//! longitude/latitude with a [`LocalProjection`] centred on the points, never raw degrees.

use crate::error::{StatsError, StatsResult, check_finite};
use rentgrid_geodata::crs::LocalProjection;
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde::Serialize;

/// A point in planar metres with a weight (1 for a plain count).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WeightedPoint {
    /// Metres east.
    pub x: f64,
    /// Metres north.
    pub y: f64,
    /// Weight (population), ≥ 0.
    pub weight: f64,
}

/// An axis-aligned box in planar metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetreBox {
    /// West edge.
    pub min_x: f64,
    /// South edge.
    pub min_y: f64,
    /// East edge.
    pub max_x: f64,
    /// North edge.
    pub max_y: f64,
}

/// Densities on a regular grid of square cells, evaluated at cell centres.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Raster {
    /// West edge of the first column, metres.
    pub min_x: f64,
    /// North edge of the first row, metres.
    pub max_y: f64,
    /// Cell side, metres.
    pub cell_m: f64,
    /// Columns.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// Density per km², row-major, row 0 the northernmost.
    pub values: Vec<f64>,
}

impl Raster {
    /// The centre of cell (`row`, `col`) in metres.
    pub fn centre(&self, row: usize, col: usize) -> [f64; 2] {
        [self.min_x + (col as f64 + 0.5) * self.cell_m, self.max_y - (row as f64 + 0.5) * self.cell_m]
    }
}

/// The most cells a raster may have (a 5,000 × 5,000 grid).
pub const MAX_RASTER_CELLS: usize = 25_000_000;

/// A kernel density surface: points indexed for evaluation anywhere.
#[derive(Debug, Clone)]
pub struct KernelDensity {
    tree: RTree<GeomWithData<[f64; 2], f64>>,
    radius_m: f64,
    projection: Option<LocalProjection>,
}

/// ArcGIS's default search radius for `points` (module doc), or `None` when it is not defined:
/// no positive total weight, or all the weight at one location.
pub fn default_radius_m(points: &[WeightedPoint]) -> Option<f64> {
    let total: f64 = points.iter().map(|p| p.weight).sum();
    if !(total > 0.0 && total.is_finite()) {
        return None;
    }
    let cx = points.iter().map(|p| p.weight * p.x).sum::<f64>() / total;
    let cy = points.iter().map(|p| p.weight * p.y).sum::<f64>() / total;
    let mut dist: Vec<(f64, f64)> = points.iter().map(|p| ((p.x - cx).hypot(p.y - cy), p.weight)).collect();
    let sd = (dist.iter().map(|(d, w)| w * d * d).sum::<f64>() / total).sqrt();
    dist.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut acc = 0.0;
    let mut median = 0.0;
    for (d, w) in &dist {
        acc += w;
        if acc >= total / 2.0 {
            median = *d;
            break;
        }
    }
    let r = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * median) * total.powf(-0.2);
    (r > 0.0 && r.is_finite()).then_some(r)
}

impl KernelDensity {
    /// A surface over planar points; `radius_m` `None` takes [`default_radius_m`].
    pub fn new(points: &[WeightedPoint], radius_m: Option<f64>) -> StatsResult<Self> {
        let flat: Vec<f64> = points.iter().flat_map(|p| [p.x, p.y, p.weight]).collect();
        check_finite("point coordinate or weight", &flat)?;
        if let Some(bad) = points.iter().position(|p| p.weight < 0.0) {
            return Err(StatsError::Parameter { name: "weight", value: points[bad].weight, reason: "must be ≥ 0" });
        }
        let radius_m = match radius_m {
            Some(r) if r > 0.0 && r.is_finite() => r,
            Some(r) => return Err(StatsError::Parameter { name: "radius_m", value: r, reason: "must be positive" }),
            None => default_radius_m(points).ok_or(StatsError::Parameter {
                name: "radius_m",
                value: 0.0,
                reason: "no default: the points have no weight or all lie at one location; give a radius",
            })?,
        };
        let items = points.iter().filter(|p| p.weight > 0.0).map(|p| GeomWithData::new([p.x, p.y], p.weight)).collect();
        Ok(Self { tree: RTree::bulk_load(items), radius_m, projection: None })
    }

    /// A surface over (longitude, latitude, weight) points, projected to metres around their centre.
    pub fn from_lonlat(points: &[(f64, f64, f64)], radius_m: Option<f64>) -> StatsResult<Self> {
        let lonlat: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
        let (projection, projected) = crate::weights::project(&lonlat)?;
        let planar: Vec<WeightedPoint> =
            projected.iter().zip(points).map(|(xy, p)| WeightedPoint { x: xy[0], y: xy[1], weight: p.2 }).collect();
        let mut kd = Self::new(&planar, radius_m)?;
        kd.projection = Some(projection);
        Ok(kd)
    }

    /// The search radius in metres.
    pub fn radius_m(&self) -> f64 {
        self.radius_m
    }

    /// The projection from longitude/latitude to this surface's metres (for `from_lonlat` surfaces).
    pub fn projection(&self) -> Option<LocalProjection> {
        self.projection
    }

    /// Density per km² at planar `(x, y)` metres.
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let r2 = self.radius_m * self.radius_m;
        let sum: f64 = self
            .tree
            .locate_within_distance([x, y], r2)
            .map(|p| {
                let d2 = (p.geom()[0] - x).powi(2) + (p.geom()[1] - y).powi(2);
                let u = 1.0 - d2 / r2;
                if u > 0.0 { p.data * u * u } else { 0.0 }
            })
            .sum();
        3.0 / std::f64::consts::PI * sum / r2 * 1e6
    }

    /// Density per km² at a longitude/latitude (planar metres when the surface was built from planar points).
    pub fn at_lonlat(&self, lon: f64, lat: f64) -> f64 {
        match self.projection {
            Some(p) => {
                let (x, y) = p.forward(lon, lat);
                self.at(x, y)
            }
            None => self.at(lon, lat),
        }
    }

    /// Densities per km² at the centres of square cells of `cell_m` metres covering `bbox`.
    pub fn raster(&self, bbox: MetreBox, cell_m: f64) -> StatsResult<Raster> {
        check_finite("bbox", &[bbox.min_x, bbox.min_y, bbox.max_x, bbox.max_y])?;
        if !(cell_m > 0.0 && cell_m.is_finite()) {
            return Err(StatsError::Parameter { name: "cell_m", value: cell_m, reason: "must be positive" });
        }
        let cols = ((bbox.max_x - bbox.min_x) / cell_m).ceil().max(0.0);
        let rows = ((bbox.max_y - bbox.min_y) / cell_m).ceil().max(0.0);
        if cols * rows > MAX_RASTER_CELLS as f64 {
            return Err(StatsError::Parameter { name: "cell_m", value: cell_m, reason: "too many cells for the bbox" });
        }
        let (cols, rows) = (cols as usize, rows as usize);
        let mut raster = Raster { min_x: bbox.min_x, max_y: bbox.max_y, cell_m, cols, rows, values: Vec::new() };
        raster.values = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| {
                let [x, y] = raster.centre(r, c);
                self.at(x, y)
            })
            .collect();
        Ok(raster)
    }
}

/// Density per km² at each query point (planar metres) of `points` with radius `radius_m`.
pub fn density_at(points: &[WeightedPoint], radius_m: f64, query: &[[f64; 2]]) -> StatsResult<Vec<f64>> {
    let kd = KernelDensity::new(points, Some(radius_m))?;
    Ok(query.iter().map(|q| kd.at(q[0], q[1])).collect())
}

/// Density per km² of `points` on square cells of `cell_m` metres over `bbox` (planar metres).
pub fn density_raster(points: &[WeightedPoint], radius_m: f64, bbox: MetreBox, cell_m: f64) -> StatsResult<Raster> {
    KernelDensity::new(points, Some(radius_m))?.raster(bbox, cell_m)
}
