//! From WGS84 geometry to what a tile draws: projected into the tile, clipped to the tile plus
//! its buffer, simplified so no vertex is finer than the tile's grid, quantised to integers.
//!
//! Polygons are cleaned on the integer grid by the overlay engine geo itself uses (`i_overlay`):
//! intersected with the buffered tile, they come out OGC-valid (closed, simple, holes inside their
//! exterior), without repeated or collinear points, without rings under `min_area`, exteriors with
//! positive area by the MVT formula (clockwise on screen, y down) and holes negative. A footprint
//! that is a convex ring well inside the tile takes a shortcut that gives the same result.

use crate::mvt::TilePoint;
use crate::tile::TileProjection;
use geo::{Coord, LineString, Polygon};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::{ContourDirection, IntOverlayOptions, Overlay};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::core::solver::Solver;
use i_overlay::i_float::int::point::IntPoint;

/// How one tile generalises geometry.
#[derive(Debug, Clone, Copy)]
pub struct Generalise {
    /// The projection into the tile.
    pub projection: TileProjection,
    /// Tile units across.
    pub extent: i32,
    /// Tile units kept beyond each edge.
    pub buffer: i32,
    /// Douglas–Peucker tolerance in tile units.
    pub tolerance: f64,
    /// Smallest ring kept, in square tile units.
    pub min_area: u64,
}

/// A ring in tile units, not rounded.
type FloatRing = Vec<Coord<f64>>;

impl Generalise {
    /// The same with another buffer.
    pub fn with_buffer(&self, buffer: i32) -> Self {
        Self { buffer, ..*self }
    }

    fn lo(&self) -> f64 {
        f64::from(-self.buffer)
    }

    fn hi(&self) -> f64 {
        f64::from(self.extent + self.buffer)
    }

    fn project(&self, c: Coord<f64>) -> Coord<f64> {
        let (x, y) = self.projection.project(c.x, c.y);
        Coord { x, y }
    }

    /// A point in tile units (not rounded), or `None` outside the buffered tile.
    pub fn point_f64(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let (x, y) = self.projection.project(lon, lat);
        (x >= self.lo() && x < self.hi() && y >= self.lo() && y < self.hi()).then_some((x, y))
    }

    /// A point on the integer grid (rounded down, so a point in the tile lands in
    /// `0..extent`), or `None` outside the buffered tile.
    pub fn point(&self, lon: f64, lat: f64) -> Option<TilePoint> {
        self.point_f64(lon, lat).map(|(x, y)| [x.floor() as i32, y.floor() as i32])
    }

    /// Lines clipped to the buffered tile (a line leaving and re-entering becomes several),
    /// simplified and quantised; lines that shrink to a point are dropped.
    pub fn lines<'a>(&self, lines: impl IntoIterator<Item = &'a LineString<f64>>) -> Vec<Vec<TilePoint>> {
        let mut out = Vec::new();
        for line in lines {
            let pts: Vec<Coord<f64>> = line.0.iter().map(|&c| self.project(c)).collect();
            for run in clip_polyline(&pts, self.lo(), self.hi()) {
                let q = quantise(&simplify(&run, self.tolerance), false);
                if q.len() >= 2 {
                    out.push(q);
                }
            }
        }
        out
    }

    /// Polygons clipped to the buffered tile, simplified, quantised and made valid; each is its
    /// exterior followed by its holes, open rings.
    pub fn polygons<'a>(&self, polygons: impl IntoIterator<Item = &'a Polygon<f64>>) -> Vec<Vec<Vec<TilePoint>>> {
        let (lo, hi) = (self.lo(), self.hi());
        // Far-reaching rings are first cut (Sutherland–Hodgman) to a box one tile wider on each
        // side, so integer coordinates stay small; the exact clip to the buffered tile follows.
        let (far_lo, far_hi) = (lo - f64::from(self.extent), hi + f64::from(self.extent));
        let mut rings: Vec<Vec<TilePoint>> = Vec::new();
        let mut all_inside = true;
        for p in polygons {
            let ext: FloatRing = p.exterior().0.iter().map(|&c| self.project(c)).collect();
            let Some((min, max)) = extent_of(&ext) else { continue };
            if max.x < lo || max.y < lo || min.x > hi || min.y > hi {
                continue;
            }
            let far = min.x < far_lo || min.y < far_lo || max.x > far_hi || max.y > far_hi;
            let inside = min.x >= lo && min.y >= lo && max.x <= hi && max.y <= hi;
            let holes = p.interiors().iter().map(|r| r.0.iter().map(|&c| self.project(c)).collect::<FloatRing>());
            for (i, ring) in std::iter::once(ext).chain(holes).enumerate() {
                let ring = if far { clip_ring(&ring, far_lo, far_hi) } else { ring };
                let q = quantise(&simplify(&ring, self.tolerance), true);
                if q.len() < 3 {
                    if i == 0 {
                        break;
                    }
                    continue;
                }
                all_inside &= inside;
                rings.push(q);
            }
        }
        if rings.is_empty() {
            return Vec::new();
        }
        if rings.len() == 1 {
            // One exterior: simple and inside as it is, or simple once cut to the tile, it needs
            // no overlay (which would give the same ring, perhaps from another starting point).
            let ring = if !all_inside {
                self.clip_simple(&rings[0])
            } else if is_strictly_convex(&rings[0]) || is_simple(&rings[0]) {
                rings.pop()
            } else {
                None
            };
            if let Some(mut r) = ring {
                let a = twice_area(&r);
                if a.unsigned_abs() < 2 * self.min_area.max(1) {
                    return Vec::new();
                }
                if a < 0 {
                    r.reverse();
                }
                return vec![vec![r]];
            }
        }
        self.clean(&rings)
    }

    /// A ring cut (Sutherland–Hodgman) to the box the overlay cuts to, if the cut ring is simple.
    /// A ring that leaves the box and comes back along the same side comes out with edges
    /// doubled along that side, which is not simple: those go to the overlay.
    fn clip_simple(&self, ring: &[TilePoint]) -> Option<Vec<TilePoint>> {
        if ring.len() > BRUTE_FORCE_POINTS {
            return None;
        }
        let (lo, hi) = (f64::from(1 - self.buffer), f64::from(self.extent + self.buffer - 1));
        let pts: Vec<Coord<f64>> = ring.iter().map(|p| Coord { x: f64::from(p[0]), y: f64::from(p[1]) }).collect();
        let q = quantise(&clip_ring(&pts, lo, hi), true);
        is_simple(&q).then_some(q)
    }

    /// Intersects rings (even-odd) with the buffered tile on the integer grid.
    fn clean(&self, rings: &[Vec<TilePoint>]) -> Vec<Vec<Vec<TilePoint>>> {
        let subject: Vec<Vec<IntPoint>> =
            rings.iter().map(|r| r.iter().map(|p| IntPoint::new(p[0], p[1])).collect()).collect();
        // The overlay may round a crossing one unit outward: cut one unit inside the buffer
        // (`clip_simple` cuts to the same box).
        let (lo, hi) = (1 - self.buffer, self.extent + self.buffer - 1);
        let clip =
            vec![vec![IntPoint::new(lo, lo), IntPoint::new(hi, lo), IntPoint::new(hi, hi), IntPoint::new(lo, hi)]];
        let options = IntOverlayOptions {
            preserve_input_collinear: false,
            output_direction: ContourDirection::CounterClockwise,
            preserve_output_collinear: false,
            min_output_area: self.min_area.max(1),
            ogc: true,
        };
        let shapes = Overlay::with_contours_custom(&subject, &clip, options, Solver::default())
            .overlay(OverlayRule::Intersect, FillRule::EvenOdd);
        // Wind each ring as MVT wants whatever the engine chose (its OGC mode may return a hole
        // that touches its exterior wound like an exterior).
        shapes
            .into_iter()
            .map(|shape| {
                shape
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let mut r: Vec<TilePoint> = c.into_iter().map(|p| [p.x, p.y]).collect();
                        if (twice_area(&r) > 0) != (i == 0) {
                            r.reverse();
                        }
                        r
                    })
                    .collect()
            })
            .collect()
    }
}

fn extent_of(pts: &[Coord<f64>]) -> Option<(Coord<f64>, Coord<f64>)> {
    let first = *pts.first()?;
    Some(pts.iter().fold((first, first), |(lo, hi), c| {
        (Coord { x: lo.x.min(c.x), y: lo.y.min(c.y) }, Coord { x: hi.x.max(c.x), y: hi.y.max(c.y) })
    }))
}

/// Douglas–Peucker as geo's `Simplify` does it for a `LineString`: the same point-to-segment
/// distances and the same pick among equally far points (the last), so the same points are kept
/// (but where two distances from a ring's closing point differ by less than their rounding);
/// in one pass over a stack of spans instead of recursion that allocates at every level.
fn simplify(pts: &[Coord<f64>], epsilon: f64) -> Vec<Coord<f64>> {
    let n = pts.len();
    if epsilon <= 0.0 || n <= 2 {
        return pts.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let mut spans = vec![(0, n - 1)];
    while let Some((a, b)) = spans.pop() {
        let span = Span::new(pts[a], pts[b]);
        let (mut farthest, mut distance) = (a, 0.0f64);
        if span.start == span.end {
            // A closed ring's first span: distances to a point, compared squared (the same
            // order), with one square root for the farthest.
            let mut squared = 0.0f64;
            for (i, &p) in pts.iter().enumerate().take(b).skip(a + 1) {
                let d = (span.start.x - p.x).powi(2) + (span.start.y - p.y).powi(2);
                if d >= squared {
                    (farthest, squared) = (i, d);
                }
            }
            distance = span.distance(pts[farthest]);
        } else {
            for (i, &p) in pts.iter().enumerate().take(b).skip(a + 1) {
                let d = span.distance(p);
                if d >= distance {
                    (farthest, distance) = (i, d);
                }
            }
        }
        if distance > epsilon {
            keep[farthest] = true;
            spans.extend([(a, farthest), (farthest, b)].into_iter().filter(|(a, b)| b - a >= 2));
        }
    }
    pts.iter().zip(keep).filter_map(|(&p, k)| k.then_some(p)).collect()
}

/// A segment, with what measuring distances to it needs computed once.
struct Span {
    start: Coord<f64>,
    end: Coord<f64>,
    dx: f64,
    dy: f64,
    d_squared: f64,
    length: f64,
}

impl Span {
    fn new(start: Coord<f64>, end: Coord<f64>) -> Self {
        let (dx, dy) = (end.x - start.x, end.y - start.y);
        Self { start, end, dx, dy, d_squared: dx * dx + dy * dy, length: dx.hypot(dy) }
    }

    /// The distance from `p` to the segment, computed as geo computes it (the same operations
    /// in the same order, so the same bits).
    fn distance(&self, p: Coord<f64>) -> f64 {
        let Self { start, end, dx, dy, d_squared, length } = *self;
        if start == end {
            return (start.x - p.x).hypot(start.y - p.y);
        }
        let r = ((p.x - start.x) * dx + (p.y - start.y) * dy) / d_squared;
        if r <= 0.0 {
            return (start.x - p.x).hypot(start.y - p.y);
        }
        if r >= 1.0 {
            return (end.x - p.x).hypot(end.y - p.y);
        }
        let s = ((start.y - p.y) * dx - (start.x - p.x) * dy) / d_squared;
        s.abs() * length
    }
}

/// Rounds to the integer grid and drops repeated points (and, for a ring, the closing point).
fn quantise(pts: &[Coord<f64>], ring: bool) -> Vec<TilePoint> {
    let mut out: Vec<TilePoint> = Vec::with_capacity(pts.len());
    for c in pts {
        let p = [c.x.round() as i32, c.y.round() as i32];
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    if ring {
        while out.len() > 1 && out.first() == out.last() {
            out.pop();
        }
    }
    out
}

/// Twice the ring's signed area by the MVT formula (positive: clockwise on screen, y down).
pub fn twice_area(ring: &[TilePoint]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum()
}

/// True when every turn of the (open) ring goes the same way and none is straight: such a ring
/// is simple.
fn is_strictly_convex(ring: &[TilePoint]) -> bool {
    let n = ring.len();
    if n < 3 {
        return false;
    }
    let mut sign = 0i64;
    let mut turning = 0.0f64;
    for i in 0..n {
        let (a, b, c) = (ring[i], ring[(i + 1) % n], ring[(i + 2) % n]);
        let (ux, uy) = (i64::from(b[0] - a[0]), i64::from(b[1] - a[1]));
        let (vx, vy) = (i64::from(c[0] - b[0]), i64::from(c[1] - b[1]));
        let cross = ux * vy - uy * vx;
        if cross == 0 || (sign != 0 && cross.signum() != sign) {
            return false;
        }
        sign = cross.signum();
        turning += (cross as f64).atan2((ux * vx + uy * vy) as f64);
    }
    // A star turns the same way at every corner but winds more than once.
    (turning.abs() - std::f64::consts::TAU).abs() < 1e-6
}

/// Rings up to this many points are checked for simplicity by brute force (cheaper than the
/// overlay); longer ones go through the overlay.
const BRUTE_FORCE_POINTS: usize = 48;

/// True when the (open) ring has no repeated point, no spike and no two non-adjacent edges that
/// meet: a simple ring, valid as a polygon of its own.
fn is_simple(ring: &[TilePoint]) -> bool {
    let n = ring.len();
    if !(3..=BRUTE_FORCE_POINTS).contains(&n) {
        return false;
    }
    let orient = |a: TilePoint, b: TilePoint, c: TilePoint| {
        (i64::from(b[0] - a[0]) * i64::from(c[1] - a[1]) - i64::from(b[1] - a[1]) * i64::from(c[0] - a[0])).signum()
    };
    let on = |a: TilePoint, b: TilePoint, p: TilePoint| {
        p[0] >= a[0].min(b[0]) && p[0] <= a[0].max(b[0]) && p[1] >= a[1].min(b[1]) && p[1] <= a[1].max(b[1])
    };
    let meet = |a: TilePoint, b: TilePoint, c: TilePoint, d: TilePoint| {
        let (o1, o2, o3, o4) = (orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b));
        (o1 * o2 < 0 && o3 * o4 < 0)
            || (o1 == 0 && on(a, b, c))
            || (o2 == 0 && on(a, b, d))
            || (o3 == 0 && on(c, d, a))
            || (o4 == 0 && on(c, d, b))
    };
    for i in 0..n {
        let (a, b, c) = (ring[i], ring[(i + 1) % n], ring[(i + 2) % n]);
        // A spike: the next edge runs back along this one.
        if orient(a, b, c) == 0
            && i64::from(b[0] - a[0]) * i64::from(c[0] - b[0]) + i64::from(b[1] - a[1]) * i64::from(c[1] - b[1]) <= 0
        {
            return false;
        }
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue;
            }
            if meet(a, b, ring[j], ring[(j + 1) % n]) {
                return false;
            }
        }
    }
    true
}

/// Liang–Barsky: the parts of a polyline inside the square `[lo, hi]²`.
fn clip_polyline(pts: &[Coord<f64>], lo: f64, hi: f64) -> Vec<Vec<Coord<f64>>> {
    let mut runs: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut current: Vec<Coord<f64>> = Vec::new();
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        match clip_segment(a, b, lo, hi) {
            Some((p, q, cut_end)) => {
                if current.last() != Some(&p) {
                    if current.len() >= 2 {
                        runs.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(p);
                }
                current.push(q);
                if cut_end {
                    runs.push(std::mem::take(&mut current));
                }
            }
            None => {
                if current.len() >= 2 {
                    runs.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        runs.push(current);
    }
    runs
}

/// The part of segment `a→b` inside `[lo, hi]²`, and whether its end was cut.
fn clip_segment(a: Coord<f64>, b: Coord<f64>, lo: f64, hi: f64) -> Option<(Coord<f64>, Coord<f64>, bool)> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.x - lo), (dx, hi - a.x), (-dy, a.y - lo), (dy, hi - a.y)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| Coord { x: a.x + t * dx, y: a.y + t * dy };
    Some((if t0 > 0.0 { at(t0) } else { a }, if t1 < 1.0 { at(t1) } else { b }, t1 < 1.0))
}

/// Sutherland–Hodgman: a ring cut to the square `[lo, hi]²` (may leave edges along the square's
/// sides, which the exact clip removes).
fn clip_ring(ring: &[Coord<f64>], lo: f64, hi: f64) -> Vec<Coord<f64>> {
    let mut pts: Vec<Coord<f64>> = ring.to_vec();
    type Side = (fn(Coord<f64>, f64) -> bool, bool, f64);
    let sides: [Side; 4] = [
        (|c, v| c.x >= v, true, lo),
        (|c, v| c.x <= v, true, hi),
        (|c, v| c.y >= v, false, lo),
        (|c, v| c.y <= v, false, hi),
    ];
    for (inside, vertical, v) in sides {
        let Some(&last) = pts.last() else { break };
        let mut out = Vec::with_capacity(pts.len() + 4);
        let mut prev = last;
        for &cur in &pts {
            let cross = |a: Coord<f64>, b: Coord<f64>| {
                // From the same end whichever way the edge runs, so two rings sharing an edge
                // are cut at the same point.
                let (a, b) = if (a.x, a.y) <= (b.x, b.y) { (a, b) } else { (b, a) };
                if vertical {
                    let t = (v - a.x) / (b.x - a.x);
                    Coord { x: v, y: a.y + t * (b.y - a.y) }
                } else {
                    let t = (v - a.y) / (b.y - a.y);
                    Coord { x: a.x + t * (b.x - a.x), y: v }
                }
            };
            match (inside(prev, v), inside(cur, v)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cross(prev, cur)),
                (false, true) => {
                    out.push(cross(prev, cur));
                    out.push(cur);
                }
                (false, false) => {}
            }
            prev = cur;
        }
        pts = out;
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::TileId;

    /// Tile 0/0/0 at extent 4096, buffer 64, no simplification.
    fn whole_world() -> Generalise {
        Generalise {
            projection: TileProjection::new(TileId::new(0, 0, 0).unwrap(), 4096),
            extent: 4096,
            buffer: 64,
            tolerance: 0.0,
            min_area: 1,
        }
    }

    #[test]
    fn a_long_line_is_cut_at_the_buffer() {
        let runs = clip_polyline(&[Coord { x: -500.0, y: 10.0 }, Coord { x: 5000.0, y: 10.0 }], -64.0, 4160.0);
        assert_eq!(runs, vec![vec![Coord { x: -64.0, y: 10.0 }, Coord { x: 4160.0, y: 10.0 }]]);
        // Out and back in: two runs.
        let zig = [Coord { x: 10.0, y: 10.0 }, Coord { x: 10.0, y: -500.0 }, Coord { x: 20.0, y: 10.0 }];
        assert_eq!(clip_polyline(&zig, -64.0, 4160.0).len(), 2);
    }

    #[test]
    fn simplify_keeps_the_points_geo_keeps() {
        use geo::Simplify;
        // Lines and closed rings with many near-ties: jittered circles and zigzags, with a
        // small linear congruential generator so the cases are fixed.
        let mut state = 0x2545_f491_u64;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..400 {
            let n = 3 + case % 60;
            let mut pts: Vec<Coord<f64>> = (0..n)
                .map(|i| {
                    let a = i as f64 / n as f64 * std::f64::consts::TAU;
                    let r = 100.0 + 20.0 * next() + if i % 2 == 0 { 5.0 } else { -5.0 };
                    Coord { x: (r * a.cos() * 4.0).round() / 4.0, y: (r * a.sin() * 4.0).round() / 4.0 }
                })
                .collect();
            if case % 2 == 0 {
                pts.push(pts[0]);
            }
            for epsilon in [0.0, 0.5, 1.0, 3.0, 12.0] {
                let ours = simplify(&pts, epsilon);
                let geo = LineString(pts.clone()).simplify(epsilon).0;
                assert_eq!(ours, geo, "case {case}, epsilon {epsilon}");
            }
        }
    }

    #[test]
    fn sutherland_hodgman_keeps_the_inside() {
        let sq = [
            Coord { x: -10.0, y: -10.0 },
            Coord { x: 10.0, y: -10.0 },
            Coord { x: 10.0, y: 10.0 },
            Coord { x: -10.0, y: 10.0 },
        ];
        let c = clip_ring(&sq, 0.0, 100.0);
        let q = quantise(&c, true);
        assert_eq!(twice_area(&q).abs(), 200);
    }

    #[test]
    fn convexity_is_strict() {
        assert!(is_strictly_convex(&[[0, 0], [10, 0], [10, 10], [0, 10]]));
        assert!(!is_strictly_convex(&[[0, 0], [10, 0], [5, 0], [0, 10]]));
        assert!(!is_strictly_convex(&[[0, 0], [10, 0], [1, 1], [0, 10]]));
        assert!(is_simple(&[[0, 0], [10, 0], [1, 1], [0, 10]]));
        assert!(!is_simple(&[[0, 0], [10, 10], [10, 0], [0, 10]]), "bow tie");
        assert!(!is_simple(&[[0, 0], [10, 0], [5, 0], [0, 10]]), "spike");
        assert!(!is_simple(&[[0, 0], [10, 0], [10, 10], [5, 0], [0, 10]]), "touches itself");
    }

    #[test]
    fn a_simple_cut_matches_the_overlay_and_a_split_one_goes_to_it() {
        let g = whole_world();
        // Across the right edge, across a corner, across the top edge with a notch inside, and
        // a C open to the right whose arms both leave through the right edge.
        let simple = [
            vec![[3000, 1000], [5000, 1200], [4900, 2000], [3100, 1900]],
            vec![[3900, 3900], [4600, 4000], [4500, 4700], [3800, 4500]],
            vec![[1000, -500], [2000, -500], [2000, 300], [1500, 100], [1000, 300]],
            vec![
                [3000, 1000],
                [5000, 1000],
                [5000, 1400],
                [3500, 1400],
                [3500, 1600],
                [5000, 1600],
                [5000, 2000],
                [3000, 2000],
            ],
        ];
        for ring in simple {
            let fast = g.clip_simple(&ring).expect("one simple piece");
            let overlay = g.clean(std::slice::from_ref(&ring));
            assert_eq!(overlay.len(), 1, "{ring:?}");
            let slow = &overlay[0][0];
            assert_eq!(fast.len(), slow.len(), "{fast:?} vs {slow:?}");
            let near = |p: &TilePoint, q: &TilePoint| (p[0] - q[0]).abs() <= 1 && (p[1] - q[1]).abs() <= 1;
            assert!(fast.iter().all(|p| slow.iter().any(|q| near(p, q))), "{fast:?} vs {slow:?}");
        }
        // A C open to the left whose back lies beyond the right edge: in the tile, two pieces,
        // which the cut joins along the edge (not simple), so they go to the overlay.
        let split = vec![
            [4000, 1000],
            [5000, 1000],
            [5000, 2000],
            [4000, 2000],
            [4000, 1600],
            [4500, 1600],
            [4500, 1400],
            [4000, 1400],
        ];
        assert!(g.clip_simple(&split).is_none());
        assert_eq!(g.clean(std::slice::from_ref(&split)).len(), 2);
    }

    #[test]
    fn a_bow_tie_comes_out_valid_and_wound_as_mvt_wants() {
        let g = whole_world();
        let ring = vec![[0, 0], [100, 100], [100, 0], [0, 100]];
        let out = g.clean(&[ring]);
        assert_eq!(out.len(), 2);
        for p in &out {
            assert!(twice_area(&p[0]) > 0, "{p:?}");
        }
    }
}
