//! Clustering of dense point layers, tippecanoe-style: points are binned into square cells of
//! the zoom's global pixel grid; a cell holding one point draws that point, a cell holding more
//! draws one cluster at their mean, carrying `point_count` and the sum of each counted property.
//!
//! Cells are aligned to the global grid and divide the tile's extent, so a cell lies wholly in
//! one tile: a cluster is the same in every tile that draws it (its own, and its neighbours'
//! buffers), and the clusters inside a tile count exactly the points inside it.

use crate::mvt::{LayerEncoder, TileGeometry, Value};

/// Feature ids of clusters start here (above any record id), so they never clash with a point's.
pub const CLUSTER_ID_BASE: u64 = 1 << 40;

/// A point to draw or cluster.
#[derive(Debug, Clone)]
pub struct PointFeature {
    /// Record id, the feature id of a lone point.
    pub id: u32,
    /// Position in tile units (not rounded).
    pub x: f64,
    /// Position in tile units (not rounded).
    pub y: f64,
    /// Counts a cluster sums, in the order of the layer's `sum_keys`.
    pub sums: Vec<u64>,
    /// Properties a lone point carries.
    pub properties: Vec<(&'static str, Value)>,
}

/// How a tile draws a point layer.
#[derive(Debug, Clone, Copy)]
pub struct Clustering {
    /// Cell side in tile units (a divisor of the extent), or `None` to draw every point.
    pub cell: Option<u32>,
    /// Tile units across.
    pub extent: i32,
    /// Tile units kept beyond each edge.
    pub buffer: i32,
}

struct Cell {
    n: u64,
    sx: f64,
    sy: f64,
    min_id: u32,
    first: usize,
    sums: Vec<u64>,
}

impl Clustering {
    /// How far beyond the tile (tile units) points must be gathered: one cell, or the buffer.
    pub fn reach(&self) -> i32 {
        self.cell.map_or(0, |c| c as i32).max(self.buffer)
    }

    fn keeps(&self, p: [i32; 2]) -> bool {
        let r = -self.buffer..self.extent + self.buffer;
        r.contains(&p[0]) && r.contains(&p[1])
    }

    /// Draws `points` (which must include every point of the cells that meet the buffered
    /// tile, so gather them from the tile grown by one cell) into `layer`.
    pub fn draw(&self, points: Vec<PointFeature>, sum_keys: &[&'static str], layer: &mut LayerEncoder) {
        let Some(cell) = self.cell.map(f64::from) else {
            for p in points {
                let q = [p.x.floor() as i32, p.y.floor() as i32];
                if self.keeps(q) {
                    layer.add(u64::from(p.id), &TileGeometry::Points(vec![q]), &p.properties);
                }
            }
            return;
        };
        let mut cells: std::collections::BTreeMap<(i64, i64), Cell> = std::collections::BTreeMap::new();
        for (i, p) in points.iter().enumerate() {
            let key = ((p.x / cell).floor() as i64, (p.y / cell).floor() as i64);
            let c = cells.entry(key).or_insert_with(|| Cell {
                n: 0,
                sx: 0.0,
                sy: 0.0,
                min_id: p.id,
                first: i,
                sums: vec![0; sum_keys.len()],
            });
            c.n += 1;
            c.sx += p.x;
            c.sy += p.y;
            c.min_id = c.min_id.min(p.id);
            for (s, v) in c.sums.iter_mut().zip(&p.sums) {
                *s += v;
            }
        }
        for ((cx, cy), c) in cells {
            let (x0, y0) = (cx as f64 * cell, cy as f64 * cell);
            let at = |v: f64, lo: f64| v.floor().clamp(lo, lo + cell - 1.0) as i32;
            if c.n == 1 {
                let p = &points[c.first];
                let q = [at(p.x, x0), at(p.y, y0)];
                if self.keeps(q) {
                    layer.add(u64::from(p.id), &TileGeometry::Points(vec![q]), &p.properties);
                }
                continue;
            }
            let n = c.n as f64;
            let q = [at(c.sx / n, x0), at(c.sy / n, y0)];
            if !self.keeps(q) {
                continue;
            }
            let mut props: Vec<(&str, Value)> = vec![("cluster", Value::Bool(true)), ("point_count", c.n.into())];
            props.extend(sum_keys.iter().zip(c.sums).map(|(&k, s)| (k, Value::Uint(s))));
            layer.add(CLUSTER_ID_BASE + u64::from(c.min_id), &TileGeometry::Points(vec![q]), &props);
        }
    }
}
