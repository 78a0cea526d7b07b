//! Walking distances along the street network: a graph of the Atlas's roads, stops (buildings,
//! a community station) snapped onto their nearest road, and the many-to-many distance matrix
//! the tour solver reads.
//!
//! - **Graph.** One node per road junction (`Road::from_node`, `Road::to_node`), one undirected
//!   edge per road weighted by `Road::length_m` (everyone walks both ways).
//! - **Snapping.** An R-tree over the roads' segments finds the segment nearest to a stop (in a
//!   local equirectangular plane, so east–west and north–south metres weigh the same); the stop
//!   joins the road at its projection, `offset_m` along the road from `from_node`, after an
//!   access leg of `access_m` (haversine metres from the stop to that point).
//! - **Distances.** One Dijkstra per stop from its snap point (both ways along its road), stopped
//!   once every junction at the end of another stop's road is settled; two stops on the same road
//!   may also walk straight along it. A distance is the two access legs plus the walk between the
//!   snap points. The matrix is made exactly symmetric (the smaller of the two directions).
//!   On a demo district of a few thousand junctions and up to 1,000 stops this is fast enough
//!   (`analysis/benches/tour.rs`), so no contraction hierarchy is built.
//! - **Unreachable pairs** (a stop with no road near it, or roads in separate pieces) fall back
//!   to the straight-line (haversine) distance × [`NetworkOptions::detour_factor`], and are
//!   flagged in [`StreetDistances::is_estimated`].

use crate::tour::{DistanceMatrix, TourError};
use geo::{Distance, Haversine, Point};
use rayon::prelude::*;
use rentgrid_geodata::Atlas;
use rentgrid_geodata::model::Road;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use thiserror::Error;

/// What can be wrong with the input of a distance matrix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NetworkError {
    /// A stop's coordinates are not finite.
    #[error("stop {index} has coordinates that are not finite numbers")]
    NotFinite {
        /// Which stop.
        index: usize,
    },
    /// The detour factor is not a finite number ≥ 1.
    #[error("the detour factor must be a finite number of at least 1, got {0}")]
    DetourFactor(f64),
    /// The matrix was refused by the tour solver (cannot happen for finite input; kept as the
    /// solver's own error).
    #[error(transparent)]
    Matrix(#[from] TourError),
}

/// Results of the network module.
pub type NetworkResult<T> = Result<T, NetworkError>;

/// Options of the distance matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkOptions {
    /// Straight-line distance × this factor estimates a walk the network cannot route (1.4:
    /// a usual ratio of street to crow-fly distance in a city).
    pub detour_factor: f64,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions { detour_factor: 1.4 }
    }
}

/// Where a stop joins the street network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snap {
    /// Index of the road in the roads the network was built from.
    pub road: usize,
    /// Metres along the road from its `from_node` to the join point.
    pub offset_m: f64,
    /// Metres from the stop to the join point (haversine).
    pub access_m: f64,
    /// The join point (lon/lat).
    pub point: Point<f64>,
}

/// A road as the graph keeps it.
#[derive(Debug, Clone)]
struct Edge {
    from: u32,
    to: u32,
    length_m: f64,
    /// Metres from `from` to each vertex of the road's line, scaled to end at `length_m`.
    along: Vec<f64>,
    /// The road's vertices (lon/lat), from `from` to `to`.
    line: Vec<Point<f64>>,
}

type Segment = GeomWithData<Line<[f64; 2]>, (u32, u32)>;

/// The walking graph of a district's roads with a segment index for snapping.
#[derive(Debug, Clone)]
pub struct WalkingNetwork {
    edges: Vec<Edge>,
    /// Adjacency in compressed rows: node `v`'s edges are `adj[start[v]..start[v + 1]]`.
    start: Vec<u32>,
    adj: Vec<(u32, f64)>,
    /// The edge of each `adj` entry.
    adj_edge: Vec<u32>,
    segments: RTree<Segment>,
    /// Metres per degree of longitude relative to latitude at the district's latitude.
    kx: f64,
}

impl WalkingNetwork {
    /// The network of an Atlas's roads.
    pub fn from_atlas(atlas: &Atlas) -> Self {
        let bbox = atlas.bbox();
        WalkingNetwork::from_roads(atlas.roads(), bbox.center().y)
    }

    /// The network of `roads` around latitude `lat0` (degrees). Roads whose `length_m` is not a
    /// finite number ≥ 0 use the haversine length of their line instead.
    pub fn from_roads(roads: &[Road], lat0: f64) -> Self {
        let kx = if lat0.is_finite() { lat0.to_radians().cos().max(1e-6) } else { 1.0 };
        let mut ids: HashMap<u32, u32> = HashMap::new();
        let mut node = |id: u32| {
            let next = ids.len() as u32;
            *ids.entry(id).or_insert(next)
        };
        let mut edges = Vec::with_capacity(roads.len());
        let mut segments = Vec::new();
        for (r, road) in roads.iter().enumerate() {
            let pts = &road.line.0;
            let mut along = Vec::with_capacity(pts.len());
            let mut acc = 0.0;
            for (i, c) in pts.iter().enumerate() {
                if i > 0 {
                    acc += Haversine.distance(Point::from(pts[i - 1]), Point::from(*c));
                }
                along.push(acc);
            }
            let length_m = if road.length_m.is_finite() && road.length_m >= 0.0 { road.length_m } else { acc };
            if acc > 0.0 {
                along.iter_mut().for_each(|a| *a *= length_m / acc);
            }
            for (s, w) in pts.windows(2).enumerate() {
                let (a, b) = ([w[0].x * kx, w[0].y], [w[1].x * kx, w[1].y]);
                if a.iter().chain(&b).all(|v| v.is_finite()) {
                    segments.push(GeomWithData::new(Line::new(a, b), (r as u32, s as u32)));
                }
            }
            let line = pts.iter().map(|c| Point::from(*c)).collect();
            edges.push(Edge { from: node(road.from_node), to: node(road.to_node), length_m, along, line });
        }
        let nodes = ids.len();
        let mut degree = vec![0u32; nodes + 1];
        for e in &edges {
            degree[e.from as usize + 1] += 1;
            degree[e.to as usize + 1] += 1;
        }
        for v in 0..nodes {
            degree[v + 1] += degree[v];
        }
        let start = degree;
        let mut fill = start.clone();
        let mut adj = vec![(0u32, 0.0); start[nodes] as usize];
        let mut adj_edge = vec![0u32; start[nodes] as usize];
        for (k, e) in edges.iter().enumerate() {
            for (a, b) in [(e.from, e.to), (e.to, e.from)] {
                adj[fill[a as usize] as usize] = (b, e.length_m);
                adj_edge[fill[a as usize] as usize] = k as u32;
                fill[a as usize] += 1;
            }
        }
        WalkingNetwork { edges, start, adj, adj_edge, segments: RTree::bulk_load(segments), kx }
    }

    /// Number of junctions.
    pub fn junctions(&self) -> usize {
        self.start.len() - 1
    }

    /// Where `p` (lon/lat) joins the network: the nearest point of the nearest road segment.
    /// `None` when there are no roads or `p` is not finite.
    pub fn snap(&self, p: Point<f64>) -> Option<Snap> {
        if !p.x().is_finite() || !p.y().is_finite() {
            return None;
        }
        let q = [p.x() * self.kx, p.y()];
        let seg = self.segments.nearest_neighbor(q)?;
        let (road, s) = (seg.data.0 as usize, seg.data.1 as usize);
        let line = seg.geom();
        let near = line.nearest_point(&q);
        let (dx, dy) = (line.to[0] - line.from[0], line.to[1] - line.from[1]);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((near[0] - line.from[0]) * dx + (near[1] - line.from[1]) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let e = &self.edges[road];
        let offset_m = e.along[s] + t * (e.along[s + 1] - e.along[s]);
        let point = Point::new(near[0] / self.kx, near[1]);
        Some(Snap { road, offset_m, access_m: Haversine.distance(p, point), point })
    }

    /// The walk from `a` to `b` along the streets, as lon/lat points for drawing: `a`, where it
    /// joins the network, the vertices of the roads walked, where `b` joins, `b`. Its length is
    /// the one [`Self::distances`] gives the pair. The straight line when an end has no road near
    /// it or the roads do not connect the two.
    pub fn path(&self, a: Point<f64>, b: Point<f64>) -> Vec<Point<f64>> {
        let (Some(sa), Some(sb)) = (self.snap(a), self.snap(b)) else { return vec![a, b] };
        let (ea, eb) = (&self.edges[sa.road], &self.edges[sb.road]);
        let n = self.junctions();
        let mut dist = vec![f64::INFINITY; n];
        let mut prev: Vec<Option<(u32, usize)>> = vec![None; n];
        let mut heap = BinaryHeap::new();
        for (v, d0) in [(ea.from, sa.offset_m), (ea.to, ea.length_m - sa.offset_m)] {
            if d0 < dist[v as usize] {
                dist[v as usize] = d0;
                heap.push(Entry(d0, v));
            }
        }
        // Settled once popped: stop when both ends of `b`'s road are.
        let mut unsettled = if eb.from == eb.to { 1 } else { 2 };
        while let Some(Entry(d, v)) = heap.pop() {
            if d > dist[v as usize] {
                continue;
            }
            if v == eb.from || v == eb.to {
                unsettled -= 1;
                if unsettled == 0 {
                    break;
                }
            }
            let (lo, hi) = (self.start[v as usize] as usize, self.start[v as usize + 1] as usize);
            for k in lo..hi {
                let (w, len) = self.adj[k];
                if d + len < dist[w as usize] {
                    dist[w as usize] = d + len;
                    prev[w as usize] = Some((v, self.adj_edge[k] as usize));
                    heap.push(Entry(d + len, w));
                }
            }
        }
        let via_from = dist[eb.from as usize] + sb.offset_m;
        let via_to = dist[eb.to as usize] + eb.length_m - sb.offset_m;
        let mut out = vec![a, sa.point];
        if sa.road == sb.road && (sb.offset_m - sa.offset_m).abs() <= via_from.min(via_to) {
            out.extend(self.vertices_between(sa.road, sa.offset_m, sb.offset_m));
        } else if via_from.is_finite() || via_to.is_finite() {
            let (end, end_offset) = if via_from <= via_to { (eb.from, 0.0) } else { (eb.to, eb.length_m) };
            // The junctions back to where the walk left `a`'s road, then forwards.
            let mut chain = vec![];
            let mut v = end;
            while let Some((u, e)) = prev[v as usize] {
                chain.push((u, v, e));
                v = u;
            }
            let first_offset = if v == ea.from { 0.0 } else { ea.length_m };
            out.extend(self.vertices_between(sa.road, sa.offset_m, first_offset));
            for &(u, w, e) in chain.iter().rev() {
                let edge = &self.edges[e];
                if edge.from == u && edge.to == w {
                    out.extend(edge.line.iter().copied());
                } else {
                    out.extend(edge.line.iter().rev().copied());
                }
            }
            out.extend(self.vertices_between(sb.road, end_offset, sb.offset_m));
        } else {
            return vec![a, b];
        }
        out.push(sb.point);
        out.push(b);
        out.dedup();
        out
    }

    /// The vertices of `road` met walking from `from_m` to `to_m` metres along it (both ends
    /// included when they are vertices).
    fn vertices_between(&self, road: usize, from_m: f64, to_m: f64) -> Vec<Point<f64>> {
        let e = &self.edges[road];
        let (lo, hi) = (from_m.min(to_m), from_m.max(to_m));
        let mut v: Vec<Point<f64>> =
            e.along.iter().zip(&e.line).filter(|(m, _)| **m >= lo && **m <= hi).map(|(_, p)| *p).collect();
        if from_m > to_m {
            v.reverse();
        }
        v
    }

    /// Walking distances in metres between all `stops` (lon/lat), with the pairs that had to be
    /// estimated flagged.
    pub fn distances(&self, stops: &[Point<f64>], opts: &NetworkOptions) -> NetworkResult<StreetDistances> {
        if !opts.detour_factor.is_finite() || opts.detour_factor < 1.0 {
            return Err(NetworkError::DetourFactor(opts.detour_factor));
        }
        if let Some(index) = stops.iter().position(|p| !p.x().is_finite() || !p.y().is_finite()) {
            return Err(NetworkError::NotFinite { index });
        }
        let n = stops.len();
        let snaps: Vec<Option<Snap>> = stops.iter().map(|&p| self.snap(p)).collect();
        let mut is_target = vec![false; self.junctions()];
        for s in snaps.iter().flatten() {
            let e = &self.edges[s.road];
            is_target[e.from as usize] = true;
            is_target[e.to as usize] = true;
        }
        let targets = is_target.iter().filter(|&&t| t).count();
        let rows: Vec<Vec<f64>> = (0..n)
            .into_par_iter()
            .map_init(
                || Dijkstra::new(self.junctions()),
                |dj, i| {
                    let Some(si) = snaps[i] else { return vec![f64::INFINITY; n] };
                    let e = &self.edges[si.road];
                    dj.run(self, &[(e.from, si.offset_m), (e.to, e.length_m - si.offset_m)], &is_target, targets);
                    (0..n)
                        .map(|j| match snaps[j] {
                            _ if i == j => 0.0,
                            None => f64::INFINITY,
                            Some(sj) => {
                                let f = &self.edges[sj.road];
                                let mut walk =
                                    (dj.dist(f.from) + sj.offset_m).min(dj.dist(f.to) + f.length_m - sj.offset_m);
                                if sj.road == si.road {
                                    walk = walk.min((sj.offset_m - si.offset_m).abs());
                                }
                                si.access_m + walk + sj.access_m
                            }
                        })
                        .collect()
                },
            )
            .collect();
        let mut d = vec![0.0; n * n];
        let mut estimated = vec![false; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let mut v = rows[i][j].min(rows[j][i]);
                if !v.is_finite() {
                    v = Haversine.distance(stops[i], stops[j]) * opts.detour_factor;
                    estimated[i * n + j] = true;
                    estimated[j * n + i] = true;
                }
                d[i * n + j] = v;
                d[j * n + i] = v;
            }
        }
        Ok(StreetDistances { matrix: DistanceMatrix::new(n, d)?, estimated, snaps })
    }
}

/// A distance matrix between stops along the street network.
#[derive(Debug, Clone, PartialEq)]
pub struct StreetDistances {
    /// Metres between each pair of stops.
    pub matrix: DistanceMatrix,
    estimated: Vec<bool>,
    /// Where each stop joins the network (`None`: no road to join).
    pub snaps: Vec<Option<Snap>>,
}

impl StreetDistances {
    /// True when the distance between stops `i` and `j` is a straight-line estimate because the
    /// network does not connect them.
    pub fn is_estimated(&self, i: usize, j: usize) -> bool {
        self.estimated[i * self.matrix.len() + j]
    }

    /// Number of estimated pairs `i < j`.
    pub fn estimated_pairs(&self) -> usize {
        self.estimated.iter().filter(|&&e| e).count() / 2
    }
}

/// A min-heap entry.
#[derive(Debug, PartialEq)]
struct Entry(f64, u32);

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then_with(|| other.1.cmp(&self.1))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Dijkstra's buffers, reused from one source to the next (only touched nodes are reset).
struct Dijkstra {
    dist: Vec<f64>,
    settled: Vec<bool>,
    touched: Vec<u32>,
    heap: BinaryHeap<Entry>,
}

impl Dijkstra {
    fn new(nodes: usize) -> Self {
        Dijkstra {
            dist: vec![f64::INFINITY; nodes],
            settled: vec![false; nodes],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    fn dist(&self, v: u32) -> f64 {
        self.dist[v as usize]
    }

    /// Shortest distances from the `sources` (node, initial distance), until all `targets`
    /// marked in `is_target` are settled or nothing is left to reach.
    fn run(&mut self, net: &WalkingNetwork, sources: &[(u32, f64)], is_target: &[bool], mut targets: usize) {
        for v in self.touched.drain(..) {
            self.dist[v as usize] = f64::INFINITY;
            self.settled[v as usize] = false;
        }
        self.heap.clear();
        for &(v, d0) in sources {
            if d0 < self.dist[v as usize] {
                self.dist[v as usize] = d0;
                self.touched.push(v);
                self.heap.push(Entry(d0, v));
            }
        }
        while let Some(Entry(d, v)) = self.heap.pop() {
            let vi = v as usize;
            if self.settled[vi] {
                continue;
            }
            self.settled[vi] = true;
            if is_target[vi] {
                targets -= 1;
                if targets == 0 {
                    break;
                }
            }
            let (a, b) = (net.start[vi] as usize, net.start[vi + 1] as usize);
            for &(w, len) in &net.adj[a..b] {
                let nd = d + len;
                let wi = w as usize;
                if nd < self.dist[wi] {
                    if self.dist[wi].is_infinite() {
                        self.touched.push(w);
                    }
                    self.dist[wi] = nd;
                    self.heap.push(Entry(nd, w));
                }
            }
        }
    }
}
