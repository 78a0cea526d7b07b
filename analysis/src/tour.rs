//! Closed walking tours through a set of stops: a symmetric travelling-salesman solver over a
//! distance matrix, starting and ending at a depot (the community station).
//!
//! # Algorithm
//! 1. **Nearest neighbour** ([`nearest_neighbour`]): from the depot, always walk to the closest
//!    stop not yet visited. It is the baseline every answer is compared with.
//! 2. **Local search** to a local optimum of three move kinds, each searched only over the `k`
//!    nearest stops of a city (neighbour lists) and driven by a queue of "don't-look bits"
//!    (a city is examined again only after one of its tour edges changed):
//!    - *2-opt*: replace edges (a, b), (c, d) by (a, c), (b, d), reversing the path between;
//!    - *Or-opt*: move a segment of 1–3 stops elsewhere, in either orientation;
//!    - *Or-3opt*: the sequential, Lin–Kernighan-style 3-opt move that swaps two adjacent
//!      pieces of the tour of any length without reversing them (`t1 t2…t5 t6…t3 t4` becomes
//!      `t1 t6…t3 t2…t5 t4`), found from t1 through a neighbour t3 of t2 and a neighbour t5 of
//!      t4, each step keeping a positive partial gain.
//!
//!    The tour is an array with a position index; a path reversal reverses the shorter side.
//! 3. **Iterated local search**: a *double-bridge* kick (cut three edges close together in the
//!    tour and reconnect the pieces A C B D, a move local search cannot undo) followed by local
//!    search around the changed edges; the result is kept when it is no longer than before and
//!    undone otherwise. Kicks come from a seeded generator ([`SolveOptions::seed`]), so the same
//!    input and options give the same tour; an optional time limit makes it stop earlier
//!    (and then depend on the machine's speed).
//!
//! # Guarantees
//! - The answer is a permutation of all stops starting with the depot.
//! - It is never longer than the nearest-neighbour tour: the search starts there and keeps only
//!   changes that do not lengthen the tour (checked once more at the end).
//! - It is near-optimal, not optimal: on the TSPLIB instances `analysis/tests/tour.rs` checks
//!   (52 to 1,002 stops) it stays within 1% of the proven optimum up to 280 stops and within
//!   2.5% at 1,002 (with the default budget it found the optimum of berlin52, kroA100, kroA200
//!   and a280, and came within 1% on pr1002, in under 0.6 s on a loaded 2-core machine in a
//!   release build; `bench/tour.sh` compares it with OR-Tools).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use thiserror::Error;

/// What can be wrong with the input of the tour solver.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TourError {
    /// The matrix does not have `n × n` entries.
    #[error("a distance matrix of {n} stops needs {expected} entries, got {got}")]
    MatrixSize {
        /// Number of stops.
        n: usize,
        /// `n × n`.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// A distance is negative, NaN or infinite.
    #[error("the distance from stop {from} to stop {to} is {value}: distances must be finite and not negative")]
    BadDistance {
        /// Row.
        from: usize,
        /// Column.
        to: usize,
        /// The value.
        value: f64,
    },
    /// `d(a, b)` and `d(b, a)` differ.
    #[error("the distance from stop {a} to stop {b} is {ab} but back it is {ba}: the solver needs a symmetric matrix")]
    Asymmetric {
        /// One stop.
        a: usize,
        /// The other.
        b: usize,
        /// `d(a, b)`.
        ab: f64,
        /// `d(b, a)`.
        ba: f64,
    },
    /// The depot is not a stop.
    #[error("depot {depot} is not one of the {n} stops")]
    Depot {
        /// The depot index given.
        depot: usize,
        /// Number of stops.
        n: usize,
    },
    /// No stops at all.
    #[error("a tour needs at least one stop (the depot)")]
    Empty,
}

/// Results of the tour solver.
pub type TourResult<T> = Result<T, TourError>;

/// A symmetric matrix of distances between stops, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct DistanceMatrix {
    n: usize,
    d: Vec<f64>,
}

impl DistanceMatrix {
    /// Checks and wraps `n × n` row-major distances: finite, not negative and symmetric
    /// (to a relative 1e-9).
    pub fn new(n: usize, d: Vec<f64>) -> TourResult<Self> {
        let expected = n.checked_mul(n).ok_or(TourError::MatrixSize { n, expected: usize::MAX, got: d.len() })?;
        if d.len() != expected {
            return Err(TourError::MatrixSize { n, expected, got: d.len() });
        }
        for i in 0..n {
            for j in 0..n {
                let v = d[i * n + j];
                if !v.is_finite() || v < 0.0 {
                    return Err(TourError::BadDistance { from: i, to: j, value: v });
                }
                if j > i {
                    let w = d[j * n + i];
                    if (v - w).abs() > 1e-9 * v.max(w).max(1.0) {
                        return Err(TourError::Asymmetric { a: i, b: j, ab: v, ba: w });
                    }
                }
            }
        }
        Ok(DistanceMatrix { n, d })
    }

    /// Builds the matrix from a distance function, called once for each pair `i < j`.
    pub fn from_fn(n: usize, mut f: impl FnMut(usize, usize) -> f64) -> TourResult<Self> {
        let mut d = vec![0.0; n * n];
        for i in 0..n {
            for j in i + 1..n {
                let v = f(i, j);
                d[i * n + j] = v;
                d[j * n + i] = v;
            }
        }
        DistanceMatrix::new(n, d)
    }

    /// Number of stops.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when there are no stops.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The distance between stops `i` and `j` (panics if either is out of range).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.d[i * self.n + j]
    }

    /// Length of the closed tour visiting `order` and returning to its first stop.
    pub fn tour_length(&self, order: &[usize]) -> f64 {
        match (order.first(), order.last()) {
            (Some(&first), Some(&last)) => {
                order.windows(2).map(|w| self.get(w[0], w[1])).sum::<f64>() + self.get(last, first)
            }
            _ => 0.0,
        }
    }

    fn check_depot(&self, depot: usize) -> TourResult<()> {
        if self.n == 0 {
            Err(TourError::Empty)
        } else if depot >= self.n {
            Err(TourError::Depot { depot, n: self.n })
        } else {
            Ok(())
        }
    }
}

/// The nearest-neighbour tour from `depot`: the order of the stops, depot first (ties go to the
/// lower index).
pub fn nearest_neighbour(m: &DistanceMatrix, depot: usize) -> TourResult<Vec<usize>> {
    m.check_depot(depot)?;
    let n = m.len();
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut at = depot;
    visited[at] = true;
    order.push(at);
    for _ in 1..n {
        let mut best = usize::MAX;
        let mut best_d = f64::INFINITY;
        for (j, &seen) in visited.iter().enumerate() {
            if !seen && m.get(at, j) < best_d {
                best = j;
                best_d = m.get(at, j);
            }
        }
        at = best;
        visited[at] = true;
        order.push(at);
    }
    Ok(order)
}

/// How hard the solver works.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveOptions {
    /// Length of each stop's candidate list (its nearest stops) in the local search.
    pub neighbours: usize,
    /// Number of double-bridge kicks of the iterated local search; `None`: 10 per stop,
    /// at least 2,000 and at most 8,000.
    pub kicks: Option<usize>,
    /// Stop kicking after this long even if kicks remain (makes the answer depend on the
    /// machine's speed). `None`: no limit.
    pub time_limit: Option<Duration>,
    /// Seed of the kicks' random generator.
    pub seed: u64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions { neighbours: 10, kicks: None, time_limit: None, seed: 0x7275_6e67_7269_6473 }
    }
}

/// A closed tour through all stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Tour {
    /// The stops in visiting order, starting with the depot (the walk returns to it).
    pub order: Vec<usize>,
    /// Length of the closed tour.
    pub length: f64,
    /// Length of the nearest-neighbour tour from the same depot, the baseline.
    pub nearest_neighbour_length: f64,
    /// Kicks done.
    pub kicks: usize,
}

/// A near-optimal closed tour through all stops of `m`, starting and ending at `depot`.
pub fn solve(m: &DistanceMatrix, depot: usize, opts: &SolveOptions) -> TourResult<Tour> {
    let nn = nearest_neighbour(m, depot)?;
    let nn_len = m.tour_length(&nn);
    let n = m.len();
    if n <= 3 {
        return Ok(Tour { order: nn, length: nn_len, nearest_neighbour_length: nn_len, kicks: 0 });
    }
    let started = Instant::now();
    let mut s = Search::new(m, &nn, opts.neighbours.clamp(1, n - 1));
    for c in 0..n as u32 {
        s.push(c);
    }
    s.local_search();
    let kicks = opts.kicks.unwrap_or((10 * n).clamp(2_000, 8_000));
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut done = 0;
    if n >= 5 {
        while done < kicks {
            if done % 32 == 0 && opts.time_limit.is_some_and(|t| started.elapsed() >= t) {
                break;
            }
            s.kick_and_search(&mut rng);
            done += 1;
        }
    }
    let p = s.pos[depot] as usize;
    let order: Vec<usize> = (0..n).map(|i| s.tour[(p + i) % n] as usize).collect();
    let length = m.tour_length(&order);
    if length > nn_len {
        return Ok(Tour { order: nn, length: nn_len, nearest_neighbour_length: nn_len, kicks: done });
    }
    Ok(Tour { order, length, nearest_neighbour_length: nn_len, kicks: done })
}

/// Improvements smaller than this are not moves (rounding noise).
const EPS: f64 = 1e-7;

/// The local-search state: the tour as an array with a position index.
struct Search<'a> {
    m: &'a DistanceMatrix,
    n: usize,
    tour: Vec<u32>,
    pos: Vec<u32>,
    k: usize,
    neigh: Vec<u32>,
    queue: VecDeque<u32>,
    queued: Vec<bool>,
    /// Reversals done since the last kick, as (start position, length), to undo a failed kick.
    log: Vec<(u32, u32)>,
    length: f64,
}

impl<'a> Search<'a> {
    fn new(m: &'a DistanceMatrix, order: &[usize], k: usize) -> Self {
        let n = m.len();
        let tour: Vec<u32> = order.iter().map(|&c| c as u32).collect();
        let mut pos = vec![0u32; n];
        for (i, &c) in tour.iter().enumerate() {
            pos[c as usize] = i as u32;
        }
        let mut neigh = Vec::with_capacity(n * k);
        let mut row: Vec<(f64, u32)> = Vec::with_capacity(n);
        for i in 0..n {
            row.clear();
            row.extend((0..n).filter(|&j| j != i).map(|j| (m.get(i, j), j as u32)));
            row.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            row[..k].sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            neigh.extend(row[..k].iter().map(|&(_, j)| j));
        }
        let length = m.tour_length(order);
        Search { m, n, tour, pos, k, neigh, queue: VecDeque::new(), queued: vec![false; n], log: Vec::new(), length }
    }

    #[inline]
    fn d(&self, a: u32, b: u32) -> f64 {
        self.m.get(a as usize, b as usize)
    }

    #[inline]
    fn next(&self, c: u32) -> u32 {
        let p = self.pos[c as usize] as usize + 1;
        self.tour[if p == self.n { 0 } else { p }]
    }

    #[inline]
    fn prev(&self, c: u32) -> u32 {
        let p = self.pos[c as usize] as usize;
        self.tour[if p == 0 { self.n - 1 } else { p - 1 }]
    }

    fn push(&mut self, c: u32) {
        if !self.queued[c as usize] {
            self.queued[c as usize] = true;
            self.queue.push_back(c);
        }
    }

    /// Reverses `len` tour positions from `start` (wrapping around).
    fn reverse_positions(&mut self, start: usize, len: usize) {
        let n = self.n;
        let (mut a, mut b) = (start, (start + len + n - 1) % n);
        for _ in 0..len / 2 {
            self.tour.swap(a, b);
            self.pos[self.tour[a] as usize] = a as u32;
            self.pos[self.tour[b] as usize] = b as u32;
            a = if a + 1 == n { 0 } else { a + 1 };
            b = if b == 0 { n - 1 } else { b - 1 };
        }
    }

    /// Reverses the path from `x` forward to `y`, or the rest of the tour if that is shorter
    /// (the same cycle, walked the other way).
    fn reverse_path(&mut self, x: u32, y: u32) {
        let n = self.n;
        let (i, j) = (self.pos[x as usize] as usize, self.pos[y as usize] as usize);
        let len = (j + n - i) % n + 1;
        let (start, len) = if 2 * len > n { ((j + 1) % n, n - len) } else { (i, len) };
        if len >= 2 {
            self.log.push((start as u32, len as u32));
            self.reverse_positions(start, len);
        }
    }

    /// The 2-opt move replacing tour edges (a, b) and (c, d) by (a, c) and (b, d); the two edges
    /// must run the same way (`b` after `a` and `d` after `c`, or both before).
    fn move2(&mut self, a: u32, b: u32, c: u32, d: u32) {
        if self.next(a) == b {
            debug_assert_eq!(self.next(c), d);
            self.reverse_path(b, c);
        } else {
            debug_assert_eq!(self.prev(a), b);
            debug_assert_eq!(self.prev(c), d);
            self.reverse_path(c, b);
        }
    }

    /// Moves the segment `s1..s2` (forward) between `c` and `d = next(c)`, as `c s2..s1 d` when
    /// `reversed`, else as `c s1..s2 d`.
    fn move_segment(&mut self, s1: u32, s2: u32, c: u32, d: u32, reversed: bool) {
        let (p, nx) = (self.prev(s1), self.next(s2));
        if d == p {
            self.move2(c, p, s2, nx);
        } else if c == nx {
            self.move2(p, s1, nx, d);
        } else {
            self.move2(p, s1, c, d);
            self.move2(p, c, nx, s2);
        }
        if !reversed && s1 != s2 {
            self.move2(c, s2, s1, d);
        }
    }

    fn local_search(&mut self) {
        while let Some(a) = self.queue.pop_front() {
            self.queued[a as usize] = false;
            if self.two_opt(a) || self.or_opt(a) || self.or_3opt(a) {
                self.push(a);
            }
        }
    }

    fn two_opt(&mut self, a: u32) -> bool {
        for forward in [true, false] {
            let b = if forward { self.next(a) } else { self.prev(a) };
            let dab = self.d(a, b);
            for idx in 0..self.k {
                let c = self.neigh[a as usize * self.k + idx];
                let dac = self.d(a, c);
                if dac >= dab - EPS {
                    break;
                }
                let d = if forward { self.next(c) } else { self.prev(c) };
                if c == b || d == a {
                    continue;
                }
                let delta = dac + self.d(b, d) - dab - self.d(c, d);
                if delta < -EPS {
                    self.move2(a, b, c, d);
                    self.length += delta;
                    for x in [a, b, c, d] {
                        self.push(x);
                    }
                    return true;
                }
            }
        }
        false
    }

    /// Tour positions from `s1` forward to `x`.
    #[inline]
    fn offset(&self, s1: u32, x: u32) -> usize {
        (self.pos[x as usize] as usize + self.n - self.pos[s1 as usize] as usize) % self.n
    }

    fn or_opt(&mut self, a: u32) -> bool {
        let n = self.n;
        for len in 1..=3usize {
            if len + 3 > n {
                break;
            }
            for a_first in [true, false] {
                if len == 1 && !a_first {
                    continue;
                }
                let (s1, s2) = if a_first {
                    let p = (self.pos[a as usize] as usize + len - 1) % n;
                    (a, self.tour[p])
                } else {
                    let p = (self.pos[a as usize] as usize + n - (len - 1)) % n;
                    (self.tour[p], a)
                };
                let (p, nx) = (self.prev(s1), self.next(s2));
                let gain = self.d(p, s1) + self.d(s2, nx) - self.d(p, nx);
                if gain <= EPS {
                    continue;
                }
                for e in [s1, s2] {
                    for idx in 0..self.k {
                        let c = self.neigh[e as usize * self.k + idx];
                        if self.d(e, c) >= gain - EPS {
                            break;
                        }
                        if self.offset(s1, c) < len {
                            continue;
                        }
                        for (c0, d0) in [(c, self.next(c)), (self.prev(c), c)] {
                            if self.offset(s1, c0) < len || self.offset(s1, d0) < len {
                                continue;
                            }
                            let fwd = self.d(c0, s1) + self.d(s2, d0);
                            let rev = self.d(c0, s2) + self.d(s1, d0);
                            let delta = fwd.min(rev) - self.d(c0, d0) - gain;
                            if delta < -EPS {
                                self.move_segment(s1, s2, c0, d0, rev < fwd);
                                self.length += delta;
                                for x in [s1, s2, p, nx, c0, d0] {
                                    self.push(x);
                                }
                                return true;
                            }
                        }
                    }
                    if s1 == s2 {
                        break;
                    }
                }
            }
        }
        false
    }

    /// The sequential 3-opt "segment insertion" move (or-3opt) of any segment length. Walking
    /// one way round the tour, `t1 t2 … t5 t6 … t3 t4`: remove (t1, t2), add (t2, t3) for a
    /// neighbour t3 of t2, remove (t3, t4), add (t4, t5) for a neighbour t5 of t4 on the path
    /// t2 … t3, remove (t5, t6) and close with (t6, t1): the tour `t1 t6 … t3 t2 … t5 t4`, in
    /// which the two pieces swap places without being reversed. Each step must keep a positive
    /// partial gain (the Lin–Kernighan criterion).
    fn or_3opt(&mut self, t1: u32) -> bool {
        for forward in [true, false] {
            let t2 = self.step(t1, forward);
            let d12 = self.d(t1, t2);
            for i3 in 0..self.k {
                let t3 = self.neigh[t2 as usize * self.k + i3];
                let g1 = d12 - self.d(t2, t3);
                if g1 <= EPS {
                    break;
                }
                let t4 = self.step(t3, forward);
                if t3 == t1 || t4 == t1 {
                    continue;
                }
                let d34 = self.d(t3, t4);
                for i5 in 0..self.k {
                    let t5 = self.neigh[t4 as usize * self.k + i5];
                    let g2 = g1 + d34 - self.d(t4, t5);
                    if g2 <= EPS {
                        break;
                    }
                    if t5 == t3 || !self.between_dir(t2, t5, t3, forward) {
                        continue;
                    }
                    let t6 = self.step(t5, forward);
                    let delta = -(g2 + self.d(t5, t6) - self.d(t6, t1));
                    if delta < -EPS {
                        // t1 t2..t5 t6..t3 t4 → t1 t3..t6 t5..t2 t4 → t1 t6..t3 t5..t2 t4
                        // → t1 t6..t3 t2..t5 t4.
                        self.move2(t1, t2, t3, t4);
                        if t6 != t3 {
                            self.move2(t1, t3, t6, t5);
                        }
                        if t5 != t2 {
                            self.move2(t3, t5, t2, t4);
                        }
                        self.length += delta;
                        for x in [t1, t2, t3, t4, t5, t6] {
                            self.push(x);
                        }
                        return true;
                    }
                }
            }
        }
        false
    }

    /// The next stop walking forward, or the previous one walking backward.
    #[inline]
    fn step(&self, c: u32, forward: bool) -> u32 {
        if forward { self.next(c) } else { self.prev(c) }
    }

    /// Is `b` on the path from `a` to `c` walking forward (or backward)?
    #[inline]
    fn between_dir(&self, a: u32, b: u32, c: u32, forward: bool) -> bool {
        let (a, c) = if forward { (a, c) } else { (c, a) };
        let n = self.n;
        let (pa, pb, pc) =
            (self.pos[a as usize] as usize, self.pos[b as usize] as usize, self.pos[c as usize] as usize);
        (pb + n - pa) % n <= (pc + n - pa) % n
    }

    /// A double-bridge kick on three tour edges close together, then local search around it;
    /// undone if the tour got longer.
    fn kick_and_search(&mut self, rng: &mut ChaCha8Rng) {
        let n = self.n;
        let before = self.length;
        self.log.clear();
        let max_seg = (n / 4).clamp(1, 50);
        let start = rng.random_range(0..n);
        let lb = rng.random_range(1..=max_seg);
        let lc = rng.random_range(1..=max_seg);
        let at = |i: usize| self.tour[(start + i) % n];
        // A ends at `start - 1`, B = start .. start+lb-1, C = start+lb .. start+lb+lc-1, D after.
        let a_end = at(n - 1);
        let (b1, b2) = (at(0), at(lb - 1));
        let (c1, c2) = (at(lb), at(lb + lc - 1));
        let d1 = at(lb + lc);
        if lb + lc + 2 > n {
            return;
        }
        let delta =
            self.d(a_end, c1) + self.d(c2, b1) + self.d(b2, d1) - self.d(a_end, b1) - self.d(b2, c1) - self.d(c2, d1);
        for (s, len) in [(start, lb + lc), (start, lc), ((start + lc) % n, lb)] {
            if len >= 2 {
                self.log.push((s as u32, len as u32));
                self.reverse_positions(s, len);
            }
        }
        self.length += delta;
        for x in [a_end, b1, b2, c1, c2, d1] {
            self.push(x);
        }
        self.local_search();
        if self.length > before + EPS {
            while let Some((s, len)) = self.log.pop() {
                self.reverse_positions(s as usize, len as usize);
            }
            self.length = before;
        }
    }
}
