//! Spatial weights: which sites are neighbours, and how much each neighbour counts.
//!
//! A [`Weights`] is a sparse matrix in CSR form (one row per site, its neighbours ascending, no
//! self-link). Constructors: Rook (shared edge) and Queen (shared edge or vertex) contiguity of
//! grid polygons, k-nearest neighbours and distance band on points. Points given as longitude and
//! latitude are projected to metres with a [`LocalProjection`] centred on them, never measured in
//! degrees; the `_planar` constructors take coordinates that already are planar (metres, or the
//! plain units of a textbook example). Weights start binary (1 per neighbour); [`Weights::row_standardised`]
//! divides each row by its neighbour count. [`Weights::describe`] says which weights were used.

use crate::error::{StatsError, StatsResult, check_finite};
use geo::MultiPolygon;
use rentgrid_geodata::Atlas;
use rentgrid_geodata::crs::LocalProjection;
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// How neighbours were found.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightsKind {
    /// Rook contiguity: polygons sharing a piece of boundary of positive length.
    Rook,
    /// Queen contiguity: polygons sharing a boundary piece or only a vertex.
    Queen,
    /// The `k` nearest points of each point (not symmetric in general).
    Knn {
        /// Neighbours per point.
        k: usize,
    },
    /// All points within `threshold` (inclusive) of each other.
    DistanceBand {
        /// The band, in metres (or planar units).
        threshold: f64,
    },
    /// Rook contiguity of a rows × cols square lattice, site id `row * cols + col`.
    Lattice {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// H3 hexagons sharing an edge, at an H3 resolution.
    H3 {
        /// The H3 resolution (0–15).
        resolution: u8,
    },
    /// Neighbour lists given by the caller.
    Custom,
}

/// How the weights of a row are scaled.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Each neighbour weighs 1.
    Binary,
    /// Each row sums to 1 (an island's row stays empty).
    RowStandardised,
}

/// Distances are measured in metres after projection, or in the caller's planar units.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// Longitude/latitude projected to metres with a local projection; or polygon contiguity.
    Metres,
    /// The caller's planar coordinates, taken as they are.
    Planar,
}

/// What a set of weights is: stated beside every result computed with it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsDescription {
    /// How neighbours were found, with its parameters.
    pub kind: WeightsKind,
    /// The units of distance parameters.
    pub units: Units,
    /// Binary or row-standardised.
    pub transform: Transform,
    /// Number of sites.
    pub sites: usize,
    /// Number of (directed) links.
    pub links: usize,
    /// Sites with no neighbour at all.
    pub islands: usize,
    /// Fewest neighbours of a site.
    pub min_neighbours: usize,
    /// Most neighbours of a site.
    pub max_neighbours: usize,
    /// Mean neighbours per site.
    pub mean_neighbours: f64,
    /// Every link `i → j` has its `j → i` with the same weight.
    pub symmetric: bool,
}

impl fmt::Display for WeightsDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.units == Units::Metres { " m" } else { " (planar units)" };
        match self.kind {
            WeightsKind::Rook => write!(f, "rook contiguity (shared edge)")?,
            WeightsKind::Queen => write!(f, "queen contiguity (shared edge or vertex)")?,
            WeightsKind::Knn { k } => write!(f, "{k} nearest neighbours")?,
            WeightsKind::DistanceBand { threshold } => write!(f, "distance band {threshold}{unit}")?,
            WeightsKind::Lattice { rows, cols } => write!(f, "rook contiguity on a {rows}×{cols} lattice")?,
            WeightsKind::H3 { resolution } => write!(f, "H3 hexagons sharing an edge, resolution {resolution}")?,
            WeightsKind::Custom => write!(f, "given neighbour lists")?,
        }
        let transform = match self.transform {
            Transform::Binary => "binary",
            Transform::RowStandardised => "row-standardised",
        };
        write!(
            f,
            ", {transform}; {} sites, {:.2} neighbours on average (min {}, max {}), {} islands",
            self.sites, self.mean_neighbours, self.min_neighbours, self.max_neighbours, self.islands
        )
    }
}

/// Sparse spatial weights in CSR form.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    offsets: Vec<usize>,
    neighbours: Vec<u32>,
    values: Vec<f64>,
    kind: WeightsKind,
    units: Units,
    transform: Transform,
}

/// Distance (degrees) within which two vertices count as one for Queen contiguity: about a
/// centimetre, the tolerance the Atlas uses for shared boundaries.
pub const VERTEX_TOLERANCE_DEG: f64 = 1e-7;

/// The most neighbour pairs a distance band links (about 60 MB of weights): a band wide enough
/// to link every site of a city to every other is refused before it takes the memory.
pub const MAX_LINKS: usize = 5_000_000;

impl Weights {
    /// Binary weights from one neighbour list per site. Self-links and repeats are dropped; ids
    /// must be below the number of lists.
    pub fn from_neighbours(lists: &[Vec<u32>]) -> StatsResult<Self> {
        Self::from_lists(lists, WeightsKind::Custom, Units::Metres)
    }

    pub(crate) fn from_lists(lists: &[Vec<u32>], kind: WeightsKind, units: Units) -> StatsResult<Self> {
        let n = lists.len();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut neighbours = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        for (site, list) in lists.iter().enumerate() {
            let start = neighbours.len();
            for &j in list {
                if j as usize >= n {
                    return Err(StatsError::NeighbourOutOfRange { site, neighbour: j, n });
                }
                if j as usize != site {
                    neighbours.push(j);
                }
            }
            neighbours[start..].sort_unstable();
            let mut row: Vec<u32> = neighbours.split_off(start);
            row.dedup();
            neighbours.extend(row);
            offsets.push(neighbours.len());
        }
        let values = vec![1.0; neighbours.len()];
        Ok(Self { offsets, neighbours, values, kind, units, transform: Transform::Binary })
    }

    /// Rook contiguity of the Atlas's grids (shared boundary of positive length), indexed by grid id.
    pub fn rook(atlas: &Atlas) -> Self {
        let lists: Vec<Vec<u32>> = atlas.grids().iter().map(|g| g.neighbours.clone()).collect();
        // The Atlas's lists are in range by construction; an empty result is the only fallback.
        Self::from_lists(&lists, WeightsKind::Rook, Units::Metres).unwrap_or_else(|_| Self::empty(WeightsKind::Rook))
    }

    /// Queen contiguity of the Atlas's grids: Rook neighbours plus grids that touch at a vertex
    /// (vertices within [`VERTEX_TOLERANCE_DEG`] count as one).
    pub fn queen(atlas: &Atlas) -> Self {
        let polygons: Vec<&MultiPolygon<f64>> = atlas.grids().iter().map(|g| &g.grid.geometry).collect();
        let mut lists = vertex_touching(&polygons, VERTEX_TOLERANCE_DEG);
        for (list, g) in lists.iter_mut().zip(atlas.grids()) {
            list.extend_from_slice(&g.neighbours);
        }
        Self::from_lists(&lists, WeightsKind::Queen, Units::Metres).unwrap_or_else(|_| Self::empty(WeightsKind::Queen))
    }

    /// Queen contiguity of arbitrary polygons, as PySAL's `Queen` finds it: polygons sharing at
    /// least one vertex (vertices within `tolerance`, in the polygons' units, count as one). A
    /// T-junction, where a vertex of one lies inside an edge of the other, is not seen: for the
    /// Atlas's grids use [`Weights::queen`], which adds the Atlas's Rook neighbours.
    pub fn queen_polygons(polygons: &[MultiPolygon<f64>], tolerance: f64) -> StatsResult<Self> {
        if !(tolerance > 0.0 && tolerance.is_finite()) {
            return Err(StatsError::Parameter { name: "tolerance", value: tolerance, reason: "must be positive" });
        }
        let refs: Vec<&MultiPolygon<f64>> = polygons.iter().collect();
        Self::from_lists(&vertex_touching(&refs, tolerance), WeightsKind::Queen, Units::Planar)
    }

    /// Rook contiguity of a `rows` × `cols` square lattice, site id `row * cols + col` (as
    /// PySAL's `lat2W`); for tests and benchmarks.
    pub fn lattice(rows: usize, cols: usize) -> Self {
        let n = rows * cols;
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut neighbours = Vec::with_capacity(4 * n);
        for r in 0..rows {
            for c in 0..cols {
                let id = r * cols + c;
                if r > 0 {
                    neighbours.push((id - cols) as u32);
                }
                if c > 0 {
                    neighbours.push((id - 1) as u32);
                }
                if c + 1 < cols {
                    neighbours.push((id + 1) as u32);
                }
                if r + 1 < rows {
                    neighbours.push((id + cols) as u32);
                }
                offsets.push(neighbours.len());
            }
        }
        let values = vec![1.0; neighbours.len()];
        let kind = WeightsKind::Lattice { rows, cols };
        Self { offsets, neighbours, values, kind, units: Units::Planar, transform: Transform::Binary }
    }

    /// The `k` nearest neighbours of each point given as (longitude, latitude), in metres.
    pub fn knn_lonlat(points: &[(f64, f64)], k: usize) -> StatsResult<Self> {
        let (_, projected) = project(points)?;
        Self::knn_inner(&projected, k, Units::Metres)
    }

    /// The `k` nearest neighbours of each point in planar coordinates. Ties at the k-th
    /// distance are broken by the R-tree's order.
    pub fn knn_planar(points: &[[f64; 2]], k: usize) -> StatsResult<Self> {
        Self::knn_inner(points, k, Units::Planar)
    }

    fn knn_inner(points: &[[f64; 2]], k: usize, units: Units) -> StatsResult<Self> {
        check_points(points)?;
        if k == 0 || k >= points.len() {
            return Err(StatsError::Parameter { name: "k", value: k as f64, reason: "must be in 1..number of points" });
        }
        let tree = point_tree(points);
        let lists: Vec<Vec<u32>> = points
            .iter()
            .enumerate()
            .map(|(i, p)| tree.nearest_neighbor_iter(*p).map(|q| q.data).filter(|&j| j as usize != i).take(k).collect())
            .collect();
        Self::from_lists(&lists, WeightsKind::Knn { k }, units)
    }

    /// All points within `threshold_m` metres (inclusive) of each point given as (longitude, latitude).
    pub fn distance_band_lonlat(points: &[(f64, f64)], threshold_m: f64) -> StatsResult<Self> {
        let (_, projected) = project(points)?;
        Self::band_inner(&projected, threshold_m, Units::Metres)
    }

    /// All points within `threshold` (inclusive) of each point in planar coordinates, as
    /// PySAL's `DistanceBand(points, threshold)` with its default binary weights.
    pub fn distance_band_planar(points: &[[f64; 2]], threshold: f64) -> StatsResult<Self> {
        Self::band_inner(points, threshold, Units::Planar)
    }

    fn band_inner(points: &[[f64; 2]], threshold: f64, units: Units) -> StatsResult<Self> {
        check_points(points)?;
        if !(threshold > 0.0 && threshold.is_finite()) {
            return Err(StatsError::Parameter { name: "threshold", value: threshold, reason: "must be positive" });
        }
        let tree = point_tree(points);
        let mut links = 0usize;
        let mut lists: Vec<Vec<u32>> = Vec::with_capacity(points.len());
        for p in points {
            let list: Vec<u32> = tree
                .locate_within_distance(*p, threshold * threshold)
                .map(|q| q.data)
                .take(MAX_LINKS.saturating_sub(links).saturating_add(1))
                .collect();
            links += list.len();
            if links > MAX_LINKS {
                return Err(StatsError::TooMuchWork { what: "neighbour pairs", needed: links, max: MAX_LINKS });
            }
            lists.push(list);
        }
        Self::from_lists(&lists, WeightsKind::DistanceBand { threshold }, units)
    }

    fn empty(kind: WeightsKind) -> Self {
        Self {
            offsets: vec![0],
            neighbours: vec![],
            values: vec![],
            kind,
            units: Units::Metres,
            transform: Transform::Binary,
        }
    }

    /// The same neighbours, each row scaled to sum to 1 (islands keep an empty row).
    pub fn row_standardised(&self) -> Self {
        let mut out = self.binary();
        for i in 0..out.n() {
            let (a, b) = (out.offsets[i], out.offsets[i + 1]);
            let k = (b - a) as f64;
            for v in &mut out.values[a..b] {
                *v = 1.0 / k;
            }
        }
        out.transform = Transform::RowStandardised;
        out
    }

    /// The same neighbours, each weighing 1.
    pub fn binary(&self) -> Self {
        let mut out = self.clone();
        out.values.iter_mut().for_each(|v| *v = 1.0);
        out.transform = Transform::Binary;
        out
    }

    /// The weights among the sites where `keep` is true (for example the grids whose rate is
    /// defined), with the kept sites' old ids in their new order. Links to dropped sites go;
    /// the transform is applied again to the remaining links.
    pub fn subset(&self, keep: &[bool]) -> StatsResult<(Self, Vec<u32>)> {
        crate::error::check_len("keep", self.n(), keep.len())?;
        let old_ids: Vec<u32> = (0..self.n() as u32).filter(|&i| keep[i as usize]).collect();
        let mut new_id = vec![u32::MAX; self.n()];
        for (new, &old) in old_ids.iter().enumerate() {
            new_id[old as usize] = new as u32;
        }
        let lists: Vec<Vec<u32>> = old_ids
            .iter()
            .map(|&i| {
                self.neighbours(i as usize).iter().map(|&j| new_id[j as usize]).filter(|&j| j != u32::MAX).collect()
            })
            .collect();
        let sub = Self::from_lists(&lists, self.kind, self.units)?;
        let sub = if self.transform == Transform::RowStandardised { sub.row_standardised() } else { sub };
        Ok((sub, old_ids))
    }

    /// Number of neighbour pairs (each direction counted).
    pub fn links(&self) -> usize {
        self.neighbours.len()
    }

    /// Number of sites.
    pub fn n(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The neighbours of site `i`, ascending (empty for an unknown site).
    pub fn neighbours(&self, i: usize) -> &[u32] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.neighbours[a..b],
            _ => &[],
        }
    }

    /// The weights of site `i`'s neighbours, in the order of [`Weights::neighbours`].
    pub fn weights(&self, i: usize) -> &[f64] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.values[a..b],
            _ => &[],
        }
    }

    /// Number of neighbours of site `i`.
    pub fn cardinality(&self, i: usize) -> usize {
        self.neighbours(i).len()
    }

    /// The CSR arrays: row offsets (n + 1), column ids and values.
    pub fn csr(&self) -> (&[usize], &[u32], &[f64]) {
        (&self.offsets, &self.neighbours, &self.values)
    }

    /// The current transform.
    pub fn transform(&self) -> Transform {
        self.transform
    }

    /// Sites with no neighbour.
    pub fn islands(&self) -> usize {
        (0..self.n()).filter(|&i| self.offsets[i] == self.offsets[i + 1]).count()
    }

    /// The spatial lag `Σ_j w_ij x_j` of every site; `x` has one value per site.
    pub fn lag(&self, x: &[f64]) -> StatsResult<Vec<f64>> {
        crate::error::check_len("values", self.n(), x.len())?;
        Ok((0..self.n())
            .map(|i| self.neighbours(i).iter().zip(self.weights(i)).map(|(&j, w)| w * x[j as usize]).sum())
            .collect())
    }

    /// Every link `i → j` has its `j → i` with the same weight.
    pub fn is_symmetric(&self) -> bool {
        (0..self.n()).all(|i| {
            self.neighbours(i).iter().zip(self.weights(i)).all(|(&j, &w)| {
                let back = self.neighbours(j as usize);
                match back.binary_search(&(i as u32)) {
                    Ok(pos) => self.weights(j as usize)[pos] == w,
                    Err(_) => false,
                }
            })
        })
    }

    /// Which weights these are: kind, parameters, transform, islands and neighbour counts.
    pub fn describe(&self) -> WeightsDescription {
        let n = self.n();
        let cards = (0..n).map(|i| self.cardinality(i));
        WeightsDescription {
            kind: self.kind,
            units: self.units,
            transform: self.transform,
            sites: n,
            links: self.neighbours.len(),
            islands: self.islands(),
            min_neighbours: cards.clone().min().unwrap_or(0),
            max_neighbours: cards.max().unwrap_or(0),
            mean_neighbours: if n == 0 { 0.0 } else { self.neighbours.len() as f64 / n as f64 },
            symmetric: self.is_symmetric(),
        }
    }
}

fn check_points(points: &[[f64; 2]]) -> StatsResult<()> {
    let flat: Vec<f64> = points.iter().flatten().copied().collect();
    check_finite("coordinate", &flat)
}

/// Projects (longitude, latitude) to metres around the centre of their bounding box; also
/// returns the projection.
pub(crate) fn project(points: &[(f64, f64)]) -> StatsResult<(LocalProjection, Vec<[f64; 2]>)> {
    let flat: Vec<f64> = points.iter().flat_map(|p| [p.0, p.1]).collect();
    check_finite("coordinate", &flat)?;
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in points {
        x0 = x0.min(p.0);
        x1 = x1.max(p.0);
        y0 = y0.min(p.1);
        y1 = y1.max(p.1);
    }
    let proj = if points.is_empty() {
        LocalProjection::new(0.0, 0.0)
    } else {
        LocalProjection::new((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    };
    Ok((proj, points.iter().map(|p| proj.forward(p.0, p.1).into()).collect()))
}

fn point_tree(points: &[[f64; 2]]) -> RTree<GeomWithData<[f64; 2], u32>> {
    RTree::bulk_load(points.iter().enumerate().map(|(i, p)| GeomWithData::new(*p, i as u32)).collect())
}

/// For each polygon, the other polygons having a vertex within about `tol` of one of its vertices:
/// vertices are hashed by their coordinates quantised to `tol`, and each cell is compared with
/// its eight neighbouring cells, so two vertices closer than `tol` always meet.
fn vertex_touching(polygons: &[&MultiPolygon<f64>], tol: f64) -> Vec<Vec<u32>> {
    let mut cells: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
    for (id, mp) in polygons.iter().enumerate() {
        for poly in &mp.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for c in &ring.0 {
                    let key = ((c.x / tol).round() as i64, (c.y / tol).round() as i64);
                    let ids = cells.entry(key).or_default();
                    if ids.last() != Some(&(id as u32)) {
                        ids.push(id as u32);
                    }
                }
            }
        }
    }
    let mut lists = vec![Vec::new(); polygons.len()];
    for (&(kx, ky), ids) in &cells {
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(others) = cells.get(&(kx + dx, ky + dy)) else { continue };
                for &a in ids {
                    for &b in others {
                        if a != b {
                            lists[a as usize].push(b);
                        }
                    }
                }
            }
        }
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        let ring = LineString::from(vec![(x, y), (x + 1.0, y), (x + 1.0, y + 1.0), (x, y + 1.0), (x, y)]);
        MultiPolygon(vec![Polygon::new(ring, vec![])])
    }

    #[test]
    fn queen_sees_corners_rook_lattice_does_not() {
        let polys: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |c| square(c as f64, r as f64))).collect();
        let queen = Weights::queen_polygons(&polys, 1e-9).unwrap();
        assert_eq!(queen.neighbours(4).len(), 8);
        assert_eq!(queen.neighbours(0), &[1, 3, 4]);
        let rook = Weights::lattice(3, 3);
        assert_eq!(rook.neighbours(4), &[1, 3, 5, 7]);
        assert_eq!(rook.neighbours(0), &[1, 3]);
        assert!(queen.is_symmetric() && rook.is_symmetric());
    }

    #[test]
    fn row_standardised_rows_sum_to_one_and_islands_stay_empty() {
        let w = Weights::from_neighbours(&[vec![1, 2], vec![0], vec![0, 0, 2], vec![]]).unwrap();
        assert_eq!(w.neighbours(2), &[0], "self-link and repeat dropped");
        let r = w.row_standardised();
        assert_eq!(r.weights(0), &[0.5, 0.5]);
        assert_eq!(r.weights(3), &[] as &[f64]);
        let d = r.describe();
        assert_eq!((d.islands, d.links, d.transform), (1, 4, Transform::RowStandardised));
        assert!(!d.symmetric, "0→2 weighs 0.5, 2→0 weighs 1");
        assert!(w.is_symmetric());
        assert!(d.to_string().contains("1 islands"), "{d}");
    }

    #[test]
    fn out_of_range_neighbour_is_an_error() {
        assert!(matches!(Weights::from_neighbours(&[vec![5]]), Err(StatsError::NeighbourOutOfRange { .. })));
    }

    #[test]
    fn knn_and_band_in_metres_not_degrees() {
        // Three points on a parallel at 30°N, 0.01° apart: ~964 m; and one 0.01° north: ~1109 m.
        let pts = [(121.0, 30.0), (121.01, 30.0), (121.02, 30.0), (121.0, 30.01)];
        let band = Weights::distance_band_lonlat(&pts, 1000.0).unwrap();
        assert_eq!(band.neighbours(0), &[1]);
        assert_eq!(band.neighbours(3), &[] as &[u32]);
        let band = Weights::distance_band_lonlat(&pts, 1200.0).unwrap();
        assert_eq!(band.neighbours(0), &[1, 3]);
        let knn = Weights::knn_lonlat(&pts, 1).unwrap();
        assert_eq!(knn.neighbours(3), &[0]);
        assert!(Weights::knn_lonlat(&pts, 4).is_err());
    }

    #[test]
    fn subset_renumbers_and_drops_links() {
        let w = Weights::lattice(1, 4).row_standardised();
        let (s, ids) = w.subset(&[true, false, true, true]).unwrap();
        assert_eq!(ids, vec![0, 2, 3]);
        assert_eq!(s.neighbours(0), &[] as &[u32]);
        assert_eq!(s.neighbours(1), &[2]);
        assert_eq!(s.weights(1), &[1.0]);
    }
}
