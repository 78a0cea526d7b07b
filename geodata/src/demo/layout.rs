//! The demo city's layout in a local metric plane: block seeds, Voronoi blocks and roads,
//! and contiguous regions grown over block adjacency.

use geo::{Area, BooleanOps, Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use spade::handles::FixedVertexHandle;
use spade::{DelaunayTriangulation, Point2, Triangulation};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// A block between roads, in metres.
#[derive(Debug, Clone)]
pub struct MetricBlock {
    /// The block's polygon (clipped to the district).
    pub polygon: Polygon<f64>,
    /// Its seed point.
    pub seed: Point<f64>,
    /// Its area in m².
    pub area: f64,
}

/// A road segment between two Voronoi vertices, in metres.
#[derive(Debug, Clone)]
pub struct MetricRoad {
    /// Start junction id.
    pub from: usize,
    /// End junction id.
    pub to: usize,
    /// Start.
    pub a: Coord<f64>,
    /// End.
    pub b: Coord<f64>,
    /// The two blocks it separates.
    pub blocks: (usize, usize),
}

/// The block layout: blocks, their adjacency and the roads between them.
#[derive(Debug)]
pub struct Layout {
    /// Blocks.
    pub blocks: Vec<MetricBlock>,
    /// Edge-adjacent blocks, ascending.
    pub adjacency: Vec<Vec<usize>>,
    /// Roads.
    pub roads: Vec<MetricRoad>,
}

/// Blue-noise seeds inside `outline`, `spacing(x, y)` metres apart (dart throwing on a jittered
/// lattice, checked with a spatial hash).
pub fn seeds(
    outline: &MultiPolygon<f64>,
    spacing: impl Fn(f64, f64) -> f64,
    min_spacing: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<Coord<f64>> {
    let Some(bb) = geo::BoundingRect::bounding_rect(outline) else { return vec![] };
    let step = min_spacing / 2.0;
    let nx = ((bb.width() / step).ceil() as usize).max(1);
    let ny = ((bb.height() / step).ceil() as usize).max(1);
    let mut candidates: Vec<Coord<f64>> = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            let x = bb.min().x + (i as f64 + rng.random::<f64>()) * step;
            let y = bb.min().y + (j as f64 + rng.random::<f64>()) * step;
            candidates.push(Coord { x, y });
        }
    }
    candidates.shuffle(rng);
    let cell = min_spacing * 0.8;
    let mut hash: BTreeMap<(i64, i64), Vec<Coord<f64>>> = BTreeMap::new();
    let mut out = Vec::new();
    for c in candidates {
        let r = 0.8 * spacing(c.x, c.y);
        let reach = (r / cell).ceil() as i64;
        let (ci, cj) = ((c.x / cell).floor() as i64, (c.y / cell).floor() as i64);
        let mut free = true;
        'scan: for di in -reach..=reach {
            for dj in -reach..=reach {
                if let Some(pts) = hash.get(&(ci + di, cj + dj)) {
                    for p in pts {
                        if (p.x - c.x).hypot(p.y - c.y) < r {
                            free = false;
                            break 'scan;
                        }
                    }
                }
            }
        }
        if free && outline.contains(&Point(c)) {
            hash.entry((ci, cj)).or_default().push(c);
            out.push(c);
        }
    }
    // A fixed order, independent of the hash's internals.
    out.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    out
}

/// Voronoi blocks of `seeds`, clipped to `outline`, with their adjacency and the roads on
/// their shared edges. Voronoi vertices are triangle circumcentres, so neighbouring blocks share
/// exactly the same vertices.
pub fn voronoi(seeds: &[Coord<f64>], outline: &MultiPolygon<f64>) -> Layout {
    let Some(bb) = geo::BoundingRect::bounding_rect(outline) else {
        return Layout { blocks: vec![], adjacency: vec![], roads: vec![] };
    };
    let margin = bb.width().max(bb.height());
    let mut pts: Vec<Point2<f64>> = seeds.iter().map(|c| Point2::new(c.x, c.y)).collect();
    // A ring of far sentinels bounds every real cell.
    for k in 0..32 {
        let t = k as f64 / 32.0 * std::f64::consts::TAU;
        let (cx, cy) = (bb.center().x, bb.center().y);
        pts.push(Point2::new(cx + 2.0 * margin * t.cos(), cy + 2.0 * margin * t.sin()));
    }
    let n_real = seeds.len();
    let dt: DelaunayTriangulation<Point2<f64>> = match DelaunayTriangulation::bulk_load_stable(pts) {
        Ok(dt) => dt,
        Err(_) => return Layout { blocks: vec![], adjacency: vec![], roads: vec![] },
    };
    // Map vertex handle index → seed index (bulk_load_stable keeps insertion order).
    let seed_of = |h: FixedVertexHandle| -> Option<usize> {
        let i = h.index();
        (i < n_real).then_some(i)
    };

    let mut cells: Vec<Option<Polygon<f64>>> = vec![None; n_real];
    for v in dt.vertices() {
        let Some(si) = seed_of(v.fix()) else { continue };
        let mut ring: Vec<Coord<f64>> = Vec::new();
        let mut bounded = true;
        for e in v.out_edges() {
            match e.face().as_inner() {
                Some(f) => {
                    let c = f.circumcenter();
                    ring.push(Coord { x: c.x, y: c.y });
                }
                None => bounded = false,
            }
        }
        if !bounded || ring.len() < 3 {
            continue;
        }
        ring.push(ring[0]);
        let mut poly = Polygon::new(LineString(ring), vec![]);
        let inside = poly.exterior().coords().all(|c| outline.contains(&Point(*c)));
        if !inside {
            let clipped = poly.intersection(outline);
            // Keep the part holding the seed (or the largest).
            let seed = Point(seeds[si]);
            match clipped
                .0
                .iter()
                .find(|p| p.contains(&seed))
                .or_else(|| clipped.0.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area())))
            {
                Some(p) => poly = p.clone(),
                None => continue,
            }
        }
        if poly.unsigned_area() > 1.0 {
            cells[si] = Some(poly);
        }
    }
    // Renumber surviving cells densely, in seed order.
    let mut block_of = vec![usize::MAX; n_real];
    let mut blocks = Vec::new();
    for (si, cell) in cells.into_iter().enumerate() {
        if let Some(polygon) = cell {
            block_of[si] = blocks.len();
            let area = polygon.unsigned_area();
            blocks.push(MetricBlock { polygon, seed: Point(seeds[si]), area });
        }
    }
    let mut adjacency: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); blocks.len()];
    let mut roads = Vec::new();
    for e in dt.undirected_edges() {
        let [a, b] = e.vertices();
        let (Some(sa), Some(sb)) = (seed_of(a.fix()), seed_of(b.fix())) else { continue };
        let (ba, bb) = (block_of[sa], block_of[sb]);
        if ba == usize::MAX || bb == usize::MAX {
            continue;
        }
        adjacency[ba].insert(bb);
        adjacency[bb].insert(ba);
        let d = e.as_directed();
        let (f1, f2) = (d.face().as_inner(), d.rev().face().as_inner());
        if let (Some(f1), Some(f2)) = (f1, f2) {
            let (c1, c2) = (f1.circumcenter(), f2.circumcenter());
            let (p1, p2) = (Coord { x: c1.x, y: c1.y }, Coord { x: c2.x, y: c2.y });
            if outline.contains(&Point(p1)) && outline.contains(&Point(p2)) && p1 != p2 {
                roads.push(MetricRoad { from: f1.fix().index(), to: f2.fix().index(), a: p1, b: p2, blocks: (ba, bb) });
            }
        }
    }
    Layout { blocks, adjacency: adjacency.into_iter().map(|s| s.into_iter().collect()).collect(), roads }
}

/// A min-heap entry for Dijkstra-like searches: the lowest cost first, ties by the item.
#[derive(Debug, PartialEq)]
pub struct MinCost<T>(pub f64, pub T);

impl<T: Ord> Eq for MinCost<T> {}

impl<T: Ord> PartialOrd for MinCost<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl<T: Ord> Ord for MinCost<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.0.total_cmp(&self.0).then_with(|| o.1.cmp(&self.1))
    }
}

/// Grows `anchors.len()` contiguous regions over `members` (a subset of blocks, all of them
/// assigned in the end): multi-source Dijkstra where region `r` pays `distance / weight[r]`.
pub fn grow_weighted(layout: &Layout, members: &[usize], anchors: &[usize], weights: &[f64]) -> BTreeMap<usize, usize> {
    let allowed: BTreeSet<usize> = members.iter().copied().collect();
    let mut owner: BTreeMap<usize, usize> = BTreeMap::new();
    let mut heap = BinaryHeap::new();
    for (r, &a) in anchors.iter().enumerate() {
        heap.push(MinCost(0.0, (a, r)));
    }
    while let Some(MinCost(d, (b, r))) = heap.pop() {
        if owner.contains_key(&b) {
            continue;
        }
        owner.insert(b, r);
        let sb = layout.blocks[b].seed;
        for &n in &layout.adjacency[b] {
            if allowed.contains(&n) && !owner.contains_key(&n) {
                let sn = layout.blocks[n].seed;
                let step = (sb.x() - sn.x()).hypot(sb.y() - sn.y()) / weights[r];
                heap.push(MinCost(d + step, (n, r)));
            }
        }
    }
    attach_leftovers(layout, members, &mut owner);
    owner
}

/// Splits `members` into `n` contiguous regions of about equal `weight`: seeds by farthest-point
/// sampling, then the lightest region repeatedly takes its nearest free neighbouring block.
pub fn grow_balanced(
    layout: &Layout,
    members: &[usize],
    n: usize,
    weight: &dyn Fn(usize) -> f64,
) -> BTreeMap<usize, usize> {
    let mut owner: BTreeMap<usize, usize> = BTreeMap::new();
    if members.is_empty() || n == 0 {
        return owner;
    }
    let n = n.min(members.len());
    let pos = |b: usize| layout.blocks[b].seed;
    let dist = |a: usize, b: usize| (pos(a).x() - pos(b).x()).hypot(pos(a).y() - pos(b).y());
    // Farthest-point sampling from the member farthest from the centroid.
    let cx = members.iter().map(|&b| pos(b).x()).sum::<f64>() / members.len() as f64;
    let cy = members.iter().map(|&b| pos(b).y()).sum::<f64>() / members.len() as f64;
    let first = members
        .iter()
        .copied()
        .max_by(|&a, &b| {
            let da = (pos(a).x() - cx).hypot(pos(a).y() - cy);
            let db = (pos(b).x() - cx).hypot(pos(b).y() - cy);
            da.total_cmp(&db).then(b.cmp(&a))
        })
        .unwrap_or(members[0]);
    let mut seeds = vec![first];
    let mut nearest: Vec<f64> = members.iter().map(|&m| dist(m, first)).collect();
    while seeds.len() < n {
        let (k, _) =
            nearest.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).unwrap_or((0, &0.0));
        let s = members[k];
        seeds.push(s);
        for (i, &m) in members.iter().enumerate() {
            nearest[i] = nearest[i].min(dist(m, s));
        }
    }
    let allowed: BTreeSet<usize> = members.iter().copied().collect();
    let mut load = vec![0.0; n];
    let mut regions: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (r, &s) in seeds.iter().enumerate() {
        owner.insert(s, r);
        load[r] += weight(s);
        regions[r].push(s);
    }
    let mut stuck = vec![false; n];
    // The lightest region that can still grow takes its nearest free neighbouring block.
    while let Some(r) = (0..n).filter(|&r| !stuck[r]).min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b))) {
        let seed = seeds[r];
        let best = regions[r]
            .iter()
            .flat_map(|&b| layout.adjacency[b].iter().copied())
            .filter(|nb| allowed.contains(nb) && !owner.contains_key(nb))
            .min_by(|&a, &b| dist(a, seed).total_cmp(&dist(b, seed)).then(a.cmp(&b)));
        match best {
            Some(b) => {
                owner.insert(b, r);
                load[r] += weight(b);
                regions[r].push(b);
            }
            None => stuck[r] = true,
        }
    }
    attach_leftovers(layout, members, &mut owner);
    owner
}

/// Gives every member without a region the region of its nearest owned block (for pieces the
/// growth could not reach, such as an exclave).
fn attach_leftovers(layout: &Layout, members: &[usize], owner: &mut BTreeMap<usize, usize>) {
    let owned: Vec<usize> = owner.keys().copied().collect();
    if owned.is_empty() {
        return;
    }
    for &m in members {
        if owner.contains_key(&m) {
            continue;
        }
        let sm = layout.blocks[m].seed;
        let near = owned
            .iter()
            .copied()
            .min_by(|&a, &b| {
                let (sa, sb) = (layout.blocks[a].seed, layout.blocks[b].seed);
                (sa.x() - sm.x()).hypot(sa.y() - sm.y()).total_cmp(&(sb.x() - sm.x()).hypot(sb.y() - sm.y()))
            })
            .unwrap_or(owned[0]);
        let r = owner[&near];
        owner.insert(m, r);
    }
}

/// Picks a uniformly random index weighted by `w`.
pub fn weighted_index(w: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut t = rng.random::<f64>() * total;
    for (i, x) in w.iter().enumerate() {
        if t < *x {
            return i;
        }
        t -= x;
    }
    w.len() - 1
}
