//! Balanced territory proposal (包干区划分): within each street, contracted areas that are
//! contiguous, compact and balanced, every caseworker's load as close to the street's average as
//! the staff allow.
//!
//! This is territory design (balance within ±ε of the target, contiguity, compactness), not
//! max-p regionalisation. Two modes:
//! - **from scratch**: a recursive spanning-tree bipartition (a random spanning tree of the grid
//!   adjacency, cut at the edge whose subtree weight is closest to the target share `k₁/k`, best of
//!   several trees) gives a first plan with contiguous areas; then boundary-flip local search;
//! - **minimal change**: today's assignment, repaired (a grid held twice stays with the first
//!   holder, detached pieces and uncovered grids go to a neighbouring area, a caseworker with no
//!   grid gets half of the heaviest area), then only boundary flips, each grid that changes hands
//!   costing a penalty.
//!
//! A flip moves a boundary grid to a neighbouring area when it lowers the objective and leaves
//! the donor contiguous (the grid is not an articulation point of the donor). The objective adds,
//! per area with deviation `d = weight/target − 1`: a steep penalty on `|d|` beyond ε
//! (`100·(x + 10x²)` for an excess `x`), `d²`, and
//! `compactness_weight × (1/PP − 1)`, where PP is Polsby-Popper `4πA/P²` on a local metric
//! projection (1 for a disc); plus `change_penalty` per grid away from today's holder in
//! minimal-change mode (by default 0.02, more than a one-grid gain in `d²` or compactness, so
//! that mode moves grids to bring areas within ±ε and little else).
//!
//! A grid's weight is the fractional caseworkers it needs under the staffing rule (see
//! [`crate::staffing`]); a street with no population balances grid counts instead. When one grid
//! alone is heavier than `(1 + ε)` targets, no plan reaches ±ε: the result says so and gives the
//! bound (`best_possible_deviation`).

use crate::staffing::{StaffingError, StaffingRule, grid_requirements};
use geo::{Area, Euclidean, Length, MapCoords, MultiPolygon};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use rentgrid_geodata::crs::LocalProjection;
use rentgrid_geodata::{Atlas, Caseworker, CaseworkerId, GridId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Where the proposal starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// From today's assignment, as few grids changing hands as balance allows.
    MinimalChange,
    /// A new plan, ignoring today's assignment (then matched to today's caseworkers).
    FromScratch,
}

/// Options of [`propose`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TerritoryOptions {
    /// Where to start.
    pub mode: Mode,
    /// Allowed deviation of an area's weight from the street's target (0.05 = ±5%).
    pub epsilon: f64,
    /// Random seed: the same seed gives the same plan.
    pub seed: u64,
    /// Random spanning trees tried per bipartition.
    pub trees_per_split: usize,
    /// Passes of boundary flips at most.
    pub max_passes: usize,
    /// Weight of compactness (`1/PP − 1` per area) against balance (`d²`).
    pub compactness_weight: f64,
    /// Cost of one grid changing hands (minimal-change mode).
    pub change_penalty: f64,
    /// Caseworkers per street code for from-scratch plans (default: today's team size).
    pub staff: BTreeMap<String, usize>,
    /// The street codes to plan; every street when `None`. A street's plan is the same whether
    /// it is planned alone or with the others.
    pub streets: Option<Vec<String>>,
}

impl Default for TerritoryOptions {
    fn default() -> Self {
        Self {
            mode: Mode::MinimalChange,
            epsilon: 0.05,
            seed: 7,
            trees_per_split: 24,
            max_passes: 40,
            compactness_weight: 0.01,
            change_penalty: 0.02,
            staff: BTreeMap::new(),
            streets: None,
        }
    }
}

/// Why no proposal could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TerritoryError {
    /// The staffing rule is unusable.
    #[error(transparent)]
    Rule(#[from] StaffingError),
    /// A tolerance or weight that is negative or not a number.
    #[error("option {name} = {value} must be a non-negative number")]
    Option {
        /// Which option.
        name: &'static str,
        /// The value given.
        value: f64,
    },
}

/// One proposed (or today's) contracted area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProposedArea {
    /// The caseworker it goes to (`None`: a vacancy, when the plan has more areas than people).
    pub caseworker_id: Option<CaseworkerId>,
    /// Its grids, ascending.
    pub grids: Vec<GridId>,
    /// Fractional caseworkers its grids need under the rule: the load of the one who covers it.
    pub load: f64,
    /// `weight / target − 1`: how far from an even share of the street.
    pub deviation: f64,
    /// Polsby-Popper compactness `4πA/P²` of the dissolved area (0 for an empty area).
    pub polsby_popper: f64,
    /// One piece.
    pub contiguous: bool,
}

/// Quality figures of a plan.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlanQuality {
    /// Largest `|weight / target − 1|` over the areas.
    pub max_deviation: f64,
    /// Largest load against the rule.
    pub max_load: f64,
    /// Mean Polsby-Popper over the non-empty areas.
    pub mean_polsby_popper: f64,
    /// Grids whose caseworker differs from today's first holder (0 for today's plan).
    pub grids_changed: usize,
    /// Grids in no area.
    pub uncovered: usize,
    /// Whether every area is one piece.
    pub all_contiguous: bool,
}

/// The proposal for one street, today's plan beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreetPlan {
    /// Street code.
    pub street_code: String,
    /// Street name.
    pub name: String,
    /// Areas planned (caseworkers available).
    pub staff: usize,
    /// Grids in the street.
    pub grids: usize,
    /// Fractional caseworkers the street needs under the rule.
    pub required: f64,
    /// An even share: `required / staff` (grid count per area when nobody lives there).
    pub target: f64,
    /// A lower bound on the max deviation any plan can reach (heaviest grid against the target).
    pub best_possible_deviation: f64,
    /// Whether the proposal has every area within ±ε.
    pub within_epsilon: bool,
    /// Today's assignment.
    pub today: PlanQuality,
    /// The proposal.
    pub proposed: PlanQuality,
    /// Today's areas, one per caseworker of the street.
    pub today_areas: Vec<ProposedArea>,
    /// The proposed areas.
    pub areas: Vec<ProposedArea>,
}

/// Proposals for every street of a district.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerritoryProposal {
    /// The mode used.
    pub mode: Mode,
    /// The tolerance aimed at.
    pub epsilon: f64,
    /// The rule whose requirements are balanced.
    pub rule: String,
    /// One plan per street, in the Atlas's order.
    pub streets: Vec<StreetPlan>,
}

impl TerritoryProposal {
    /// The proposed caseworker of every grid (indexed by grid id; `None` when no area holds it).
    pub fn owners(&self, grids: usize) -> Vec<Option<CaseworkerId>> {
        let mut out = vec![None; grids];
        for a in self.streets.iter().flat_map(|s| &s.areas) {
            for &g in &a.grids {
                if let Some(o) = out.get_mut(g as usize) {
                    *o = a.caseworker_id;
                }
            }
        }
        out
    }
}

/// The metric facts of every grid: area, perimeter and boundary shared with each neighbour.
#[derive(Debug, Clone)]
pub struct GridShapes {
    area_m2: Vec<f64>,
    perimeter_m: Vec<f64>,
    adj: Vec<Vec<(GridId, f64)>>,
}

impl GridShapes {
    /// Measures the Atlas's grids on a local projection centred on the district.
    pub fn measure(atlas: &Atlas) -> Self {
        let c = atlas.bbox().center();
        let proj = LocalProjection::new(c.x, c.y);
        let to_m = |mp: &MultiPolygon<f64>| {
            mp.map_coords(|p| {
                let (x, y) = proj.forward(p.x, p.y);
                geo::Coord { x, y }
            })
        };
        let mut area_m2 = Vec::with_capacity(atlas.grids().len());
        let mut perimeter_m = Vec::with_capacity(atlas.grids().len());
        for g in atlas.grids() {
            let m = to_m(&g.grid.geometry);
            area_m2.push(m.unsigned_area());
            let rings = m.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()));
            perimeter_m.push(rings.map(|r| Euclidean.length(r)).sum());
        }
        let mut shared: HashMap<(GridId, GridId), f64> = HashMap::new();
        for e in atlas.shared_edges() {
            let (x0, y0) = proj.forward(e.line.start.x, e.line.start.y);
            let (x1, y1) = proj.forward(e.line.end.x, e.line.end.y);
            *shared.entry((e.a, e.b)).or_default() += (x1 - x0).hypot(y1 - y0);
        }
        let adj = atlas
            .grids()
            .iter()
            .map(|g| {
                let id = g.grid.id;
                g.neighbours.iter().map(|&h| (h, shared.get(&(id.min(h), id.max(h))).copied().unwrap_or(0.0))).collect()
            })
            .collect();
        Self { area_m2, perimeter_m, adj }
    }

    /// A grid's area in m² on the local projection (0 for an unknown id).
    pub fn area_m2(&self, grid: GridId) -> f64 {
        self.area_m2.get(grid as usize).copied().unwrap_or(0.0)
    }

    /// A grid's perimeter in m on the local projection, holes included (0 for an unknown id).
    pub fn perimeter_m(&self, grid: GridId) -> f64 {
        self.perimeter_m.get(grid as usize).copied().unwrap_or(0.0)
    }

    /// A grid's neighbours with the boundary length in m each shares with it.
    pub fn neighbours(&self, grid: GridId) -> &[(GridId, f64)] {
        self.adj.get(grid as usize).map_or(&[], Vec::as_slice)
    }
}

/// One street's grids as a weighted graph with local indexes.
struct Graph {
    ids: Vec<GridId>,
    w: Vec<f64>,
    area: Vec<f64>,
    perim: Vec<f64>,
    adj: Vec<Vec<(usize, f64)>>,
}

impl Graph {
    fn new(ids: Vec<GridId>, weights: &[f64], shapes: &GridShapes) -> Self {
        let local: HashMap<GridId, usize> = ids.iter().enumerate().map(|(i, &g)| (g, i)).collect();
        let at = |g: GridId, v: &[f64]| v.get(g as usize).copied().unwrap_or(0.0);
        let mut w: Vec<f64> = ids.iter().map(|&g| at(g, weights)).collect();
        if w.iter().sum::<f64>() <= 0.0 {
            w = vec![1.0; ids.len()];
        }
        let adj = ids
            .iter()
            .map(|&g| {
                shapes
                    .adj
                    .get(g as usize)
                    .map(|n| n.iter().filter_map(|&(h, len)| local.get(&h).map(|&j| (j, len))).collect())
                    .unwrap_or_default()
            })
            .collect();
        Self {
            area: ids.iter().map(|&g| at(g, &shapes.area_m2)).collect(),
            perim: ids.iter().map(|&g| at(g, &shapes.perimeter_m)).collect(),
            ids,
            w,
            adj,
        }
    }

    fn n(&self) -> usize {
        self.ids.len()
    }

    /// Connected components of the nodes with `keep(v)`, each ascending.
    fn components(&self, nodes: &[usize], inside: &[bool]) -> Vec<Vec<usize>> {
        let mut seen = vec![false; self.n()];
        let mut out = Vec::new();
        for &s in nodes {
            if seen[s] {
                continue;
            }
            seen[s] = true;
            let mut comp = vec![s];
            let mut q = VecDeque::from([s]);
            while let Some(v) = q.pop_front() {
                for &(u, _) in &self.adj[v] {
                    if inside[u] && !seen[u] {
                        seen[u] = true;
                        comp.push(u);
                        q.push_back(u);
                    }
                }
            }
            comp.sort_unstable();
            out.push(comp);
        }
        out
    }
}

/// A plan under local search: the area of every node and each area's sums.
struct Plan<'g> {
    g: &'g Graph,
    of: Vec<usize>,
    weight: Vec<f64>,
    area: Vec<f64>,
    perim: Vec<f64>,
    size: Vec<usize>,
    target: f64,
    eps: f64,
    alpha: f64,
    mu: f64,
    today: Vec<Option<usize>>,
}

/// Weight of the part of a deviation beyond ε: far above everything else, so balance comes first.
const OVER_EPS_PENALTY: f64 = 100.0;

impl<'g> Plan<'g> {
    fn new(g: &'g Graph, of: Vec<usize>, k: usize, target: f64, opts: &TerritoryOptions) -> Self {
        let mut p = Plan {
            g,
            of,
            weight: vec![0.0; k],
            area: vec![0.0; k],
            perim: vec![0.0; k],
            size: vec![0; k],
            target,
            eps: opts.epsilon,
            alpha: opts.compactness_weight,
            mu: 0.0,
            today: vec![None; g.n()],
        };
        for v in 0..g.n() {
            let a = p.of[v];
            p.weight[a] += g.w[v];
            p.area[a] += g.area[v];
            p.perim[a] += g.perim[v] - g.adj[v].iter().filter(|(u, _)| p.of[*u] == a).map(|(_, l)| l).sum::<f64>();
            p.size[a] += 1;
        }
        p
    }

    fn area_cost(&self, weight: f64, area: f64, perim: f64) -> f64 {
        let d = weight / self.target - 1.0;
        let over = (d.abs() - self.eps).max(0.0);
        let inv_pp = if area > 0.0 { perim * perim / (4.0 * std::f64::consts::PI * area) - 1.0 } else { 0.0 };
        OVER_EPS_PENALTY * (over + 10.0 * over * over) + d * d + self.alpha * inv_pp
    }

    fn shared_with(&self, v: usize, a: usize) -> f64 {
        self.g.adj[v].iter().filter(|(u, _)| self.of[*u] == a).map(|(_, l)| l).sum()
    }

    /// Change of the objective if `v` moves from its area to `b`, with the new sums of both.
    fn delta(&self, v: usize, b: usize) -> (f64, [f64; 3], [f64; 3]) {
        let g = self.g;
        let a = self.of[v];
        let na = [
            self.weight[a] - g.w[v],
            self.area[a] - g.area[v],
            self.perim[a] - g.perim[v] + 2.0 * self.shared_with(v, a),
        ];
        let nb = [
            self.weight[b] + g.w[v],
            self.area[b] + g.area[v],
            self.perim[b] + g.perim[v] - 2.0 * self.shared_with(v, b),
        ];
        let before = self.area_cost(self.weight[a], self.area[a], self.perim[a])
            + self.area_cost(self.weight[b], self.area[b], self.perim[b]);
        let after = self.area_cost(na[0], na[1], na[2]) + self.area_cost(nb[0], nb[1], nb[2]);
        let change = match self.today[v] {
            Some(t) => self.mu * (f64::from(u8::from(b != t)) - f64::from(u8::from(a != t))),
            None => 0.0,
        };
        (after - before + change, na, nb)
    }

    /// Whether the area of `v` stays one piece without `v`.
    fn stays_connected_without(&self, v: usize) -> bool {
        let a = self.of[v];
        let inner: Vec<usize> = self.g.adj[v].iter().map(|&(u, _)| u).filter(|&u| self.of[u] == a).collect();
        if inner.len() <= 1 {
            return true;
        }
        let mut seen = vec![false; self.g.n()];
        seen[v] = true;
        seen[inner[0]] = true;
        let mut q = VecDeque::from([inner[0]]);
        let mut reached = 1;
        while let Some(x) = q.pop_front() {
            for &(u, _) in &self.g.adj[x] {
                if !seen[u] && self.of[u] == a {
                    seen[u] = true;
                    reached += 1;
                    q.push_back(u);
                }
            }
        }
        reached == self.size[a] - 1
    }

    fn apply(&mut self, v: usize, b: usize, na: [f64; 3], nb: [f64; 3]) {
        let a = self.of[v];
        [self.weight[a], self.area[a], self.perim[a]] = na;
        [self.weight[b], self.area[b], self.perim[b]] = nb;
        self.size[a] -= 1;
        self.size[b] += 1;
        self.of[v] = b;
    }

    /// The whole objective.
    fn total(&self) -> f64 {
        let areas: f64 =
            (0..self.weight.len()).map(|a| self.area_cost(self.weight[a], self.area[a], self.perim[a])).sum();
        let changes = self.today.iter().zip(&self.of).filter(|(t, a)| t.is_some_and(|t| t != **a)).count();
        areas + self.mu * changes as f64
    }

    fn deviation(&self, a: usize) -> f64 {
        self.weight[a] / self.target - 1.0
    }

    /// Ejection chains: flips stall on plateaus when an area over ε does not border one under
    /// target (every single move just passes the excess on). For the worst area outside ±ε,
    /// find the nearest area of the opposite sign through the area adjacency and move one
    /// boundary grid along each step of that path; keep the chain if the objective improves.
    fn rebalance(&mut self, rounds: usize) -> bool {
        let k = self.weight.len();
        let mut stuck = vec![false; k];
        let mut improved = false;
        for _ in 0..rounds {
            let Some(worst) = (0..k)
                .filter(|&a| !stuck[a] && self.deviation(a).abs() > self.eps)
                .max_by(|&x, &y| self.deviation(x).abs().total_cmp(&self.deviation(y).abs()))
            else {
                break;
            };
            let over = self.deviation(worst) > 0.0;
            let excess = (self.weight[worst] - self.target).abs();
            // Boundary grids between each pair of areas, and whether one can flow across.
            let mut border: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
            for v in 0..self.g.n() {
                for &(u, _) in &self.g.adj[v] {
                    let (a, b) = (self.of[v], self.of[u]);
                    if a != b {
                        let list = border.entry((a, b)).or_default();
                        if list.last() != Some(&v) {
                            list.push(v);
                        }
                    }
                }
            }
            let can_flow = |x: usize, y: usize| {
                self.size[x] > 1
                    && border.get(&(x, y)).is_some_and(|vs| vs.iter().any(|&v| self.stays_connected_without(v)))
            };
            let mut nb: Vec<Vec<usize>> = vec![Vec::new(); k];
            for &(a, b) in border.keys() {
                nb[a].push(b);
            }
            nb.iter_mut().for_each(|l| l.sort_unstable());
            let mut prev = vec![usize::MAX; k];
            prev[worst] = worst;
            let mut q = VecDeque::from([worst]);
            let mut end = None;
            while let Some(a) = q.pop_front() {
                if a != worst && (self.deviation(a) < 0.0) == over {
                    end = Some(a);
                    break;
                }
                for &b in &nb[a] {
                    let flows = if over { can_flow(a, b) } else { can_flow(b, a) };
                    if prev[b] == usize::MAX && flows {
                        prev[b] = a;
                        q.push_back(b);
                    }
                }
            }
            let Some(end) = end else {
                stuck[worst] = true;
                continue;
            };
            let mut path = vec![end];
            while let Some(&last) = path.last()
                && last != worst
            {
                path.push(prev[last]);
            }
            // `path` runs end → worst; grids flow from the heavy side to the light side.
            if over {
                path.reverse();
            }
            let before = self.total();
            let saved =
                (self.of.clone(), self.weight.clone(), self.area.clone(), self.perim.clone(), self.size.clone());
            let mut ok = true;
            for step in path.windows(2) {
                let (x, y) = (step[0], step[1]);
                let pick = (0..self.g.n())
                    .filter(|&v| {
                        self.of[v] == x && self.size[x] > 1 && self.g.adj[v].iter().any(|&(u, _)| self.of[u] == y)
                    })
                    .filter(|&v| self.stays_connected_without(v))
                    .min_by(|&a, &b| (self.g.w[a] - excess).abs().total_cmp(&(self.g.w[b] - excess).abs()));
                let Some(v) = pick else {
                    ok = false;
                    break;
                };
                let (_, na, nb) = self.delta(v, y);
                self.apply(v, y, na, nb);
            }
            if ok && self.total() < before - 1e-12 {
                improved = true;
                stuck.iter_mut().for_each(|s| *s = false);
            } else {
                (self.of, self.weight, self.area, self.perim, self.size) = saved;
                stuck[worst] = true;
            }
        }
        improved
    }

    /// Flips, then (when ±ε is reachable at all) ejection chains and flips again while the
    /// chains help.
    fn improve(&mut self, passes: usize, chains: bool, rng: &mut ChaCha8Rng) {
        self.flip(passes, rng);
        for _ in 0..if chains { 4 } else { 0 } {
            if !self.rebalance(2 * self.weight.len()) {
                break;
            }
            self.flip(passes, rng);
        }
    }

    /// Boundary flips until no flip improves or `passes` run out.
    fn flip(&mut self, passes: usize, rng: &mut ChaCha8Rng) {
        let mut order: Vec<usize> = (0..self.g.n()).collect();
        for _ in 0..passes {
            order.shuffle(rng);
            let mut moved = false;
            for &v in &order {
                let a = self.of[v];
                if self.size[a] <= 1 {
                    continue;
                }
                let mut best: Option<(f64, usize, [f64; 3], [f64; 3])> = None;
                for &(u, _) in &self.g.adj[v] {
                    let b = self.of[u];
                    if b == a || best.as_ref().is_some_and(|x| x.1 == b) {
                        continue;
                    }
                    let (d, na, nb) = self.delta(v, b);
                    if d < -1e-12 && best.as_ref().is_none_or(|x| d < x.0) {
                        best = Some((d, b, na, nb));
                    }
                }
                if let Some((_, b, na, nb)) = best
                    && self.stays_connected_without(v)
                {
                    self.apply(v, b, na, nb);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }
}

/// Splits a connected node set into `k` contiguous parts of near-equal weight by recursive
/// spanning-tree bipartition.
fn split(g: &Graph, nodes: Vec<usize>, k: usize, tries: usize, rng: &mut ChaCha8Rng, out: &mut Vec<Vec<usize>>) {
    if k <= 1 || nodes.len() <= 1 {
        out.push(nodes);
        return;
    }
    let k1 = k / 2;
    let total: f64 = nodes.iter().map(|&v| g.w[v]).sum();
    let want = total * k1 as f64 / k as f64;
    let unit = (total / k as f64).max(f64::MIN_POSITIVE);
    let mut pos = vec![usize::MAX; g.n()];
    for (i, &v) in nodes.iter().enumerate() {
        pos[v] = i;
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for (i, &v) in nodes.iter().enumerate() {
        for &(u, _) in &g.adj[v] {
            if pos[u] != usize::MAX && pos[u] > i {
                edges.push((i, pos[u]));
            }
        }
    }
    let m = nodes.len();
    // The best cut: (error, the nodes on the side that gets k1 areas).
    let mut best: Option<(f64, Vec<usize>)> = None;
    for _ in 0..tries.max(1) {
        let mut keyed: Vec<(u64, (usize, usize))> = edges.iter().map(|&e| (rng.random::<u64>(), e)).collect();
        keyed.sort_unstable_by_key(|x| x.0);
        let mut uf: Vec<usize> = (0..m).collect();
        fn find(uf: &mut [usize], mut x: usize) -> usize {
            while uf[x] != x {
                uf[x] = uf[uf[x]];
                x = uf[x];
            }
            x
        }
        let mut tree: Vec<Vec<usize>> = vec![Vec::new(); m];
        for (_, (a, b)) in keyed {
            let (ra, rb) = (find(&mut uf, a), find(&mut uf, b));
            if ra != rb {
                uf[ra] = rb;
                tree[a].push(b);
                tree[b].push(a);
            }
        }
        // Preorder from node 0: a subtree is a contiguous run of the order.
        let mut order = Vec::with_capacity(m);
        let mut parent = vec![usize::MAX; m];
        let mut stack = vec![0usize];
        parent[0] = 0;
        while let Some(x) = stack.pop() {
            order.push(x);
            for &y in &tree[x] {
                if parent[y] == usize::MAX {
                    parent[y] = x;
                    stack.push(y);
                }
            }
        }
        if order.len() < m {
            // Not connected: the caller splits components first; keep what the tree reaches.
            continue;
        }
        let mut sub_w = vec![0.0; m];
        let mut sub_n = vec![1usize; m];
        for &x in order.iter().rev() {
            sub_w[x] += g.w[nodes[x]];
            if x != 0 {
                let p = parent[x];
                sub_w[p] += sub_w[x];
                sub_n[p] += sub_n[x];
            }
        }
        let mut cut: Option<(f64, usize, bool)> = None;
        for x in 1..m {
            // Subtree side takes k1 areas, or the complement does.
            for (side_w, side_n, subtree_is_k1) in [(sub_w[x], sub_n[x], true), (total - sub_w[x], m - sub_n[x], false)]
            {
                if side_n < k1 || m - side_n < k - k1 {
                    continue;
                }
                let err = (side_w - want).abs() / unit;
                if cut.is_none_or(|c| err < c.0) {
                    cut = Some((err, x, subtree_is_k1));
                }
            }
        }
        let Some((err, x, subtree_is_k1)) = cut else { continue };
        if best.as_ref().is_none_or(|b| err < b.0) {
            let mut in_sub = vec![false; m];
            let mut st = vec![x];
            while let Some(y) = st.pop() {
                in_sub[y] = true;
                st.extend(tree[y].iter().copied().filter(|&z| z != parent[y]));
            }
            let side = (0..m).filter(|&i| in_sub[i] == subtree_is_k1).map(|i| nodes[i]).collect();
            best = Some((err, side));
            if err < 0.01 {
                break;
            }
        }
    }
    let Some((_, side)) = best else {
        out.push(nodes);
        return;
    };
    let mut mark = vec![false; g.n()];
    for &v in &side {
        mark[v] = true;
    }
    let other: Vec<usize> = nodes.iter().copied().filter(|&v| !mark[v]).collect();
    split(g, side, k1, tries, rng, out);
    split(g, other, k - k1, tries, rng, out);
}

/// Areas from scratch: each connected component gets areas in proportion to its weight. A piece
/// lighter than half an area's target (an island of a few grids) gets none of its own: it joins
/// the lightest area, which is then not one piece but keeps the loads balanced.
fn from_scratch(g: &Graph, k: usize, tries: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let all: Vec<usize> = (0..g.n()).collect();
    let weight = |c: &[usize]| c.iter().map(|&v| g.w[v]).sum::<f64>();
    let mut comps = g.components(&all, &vec![true; g.n()]);
    comps.sort_by(|a, b| weight(b).total_cmp(&weight(a)).then(b.len().cmp(&a.len())));
    let total: f64 = g.w.iter().sum();
    let target = total / k.max(1) as f64;
    let share: Vec<f64> = comps.iter().map(|c| weight(c) / total.max(f64::MIN_POSITIVE) * k as f64).collect();
    // One area for the heaviest piece and each piece of at least half a target, while areas
    // last; the rest by largest remainder of weight.
    let own = |i: usize| i == 0 || weight(&comps[i]) >= 0.5 * target;
    let mut give: Vec<usize> = vec![0; comps.len()];
    let mut left = k;
    for i in (0..comps.len()).filter(|&i| own(i)) {
        if left == 0 {
            break;
        }
        give[i] = 1;
        left -= 1;
    }
    while left > 0 {
        let Some(i) = (0..comps.len())
            .filter(|&i| give[i] > 0 && give[i] < comps[i].len())
            .max_by(|&a, &b| (share[a] - give[a] as f64).total_cmp(&(share[b] - give[b] as f64)))
        else {
            break;
        };
        give[i] += 1;
        left -= 1;
    }
    let mut out = Vec::new();
    let mut orphans = Vec::new();
    for (c, n) in comps.into_iter().zip(give) {
        if n == 0 {
            orphans.push(c);
        } else {
            split(g, c, n, tries, rng, &mut out);
        }
    }
    // Islands without an area of their own, heaviest first, each to the lightest area.
    for island in orphans {
        if let Some(lightest) = out.iter_mut().min_by(|a, b| weight(a).total_cmp(&weight(b))) {
            lightest.extend(island);
        }
    }
    out
}

/// Repairs today's plan: first holders, the main piece of each area, uncovered grids to a
/// neighbouring area, an empty area given half of the heaviest.
fn repair(g: &Graph, today: &[Option<usize>], k: usize, tries: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n = g.n();
    let mut of: Vec<Option<usize>> = today.to_vec();
    for a in 0..k {
        let nodes: Vec<usize> = (0..n).filter(|&v| of[v] == Some(a)).collect();
        let inside: Vec<bool> = (0..n).map(|v| of[v] == Some(a)).collect();
        let comps = g.components(&nodes, &inside);
        let weight = |c: &Vec<usize>| c.iter().map(|&v| g.w[v]).sum::<f64>() + c.len() as f64 * 1e-9;
        if let Some(main) = comps.iter().enumerate().max_by(|x, y| weight(x.1).total_cmp(&weight(y.1))).map(|x| x.0) {
            for (i, c) in comps.iter().enumerate() {
                if i != main {
                    for &v in c {
                        of[v] = None;
                    }
                }
            }
        }
    }
    // Caseworkers with no grid: a free grid if there is one, else half of the heaviest area.
    for a in 0..k {
        if of.contains(&Some(a)) {
            continue;
        }
        if let Some(v) = (0..n).filter(|&v| of[v].is_none()).max_by(|&x, &y| g.w[x].total_cmp(&g.w[y])) {
            of[v] = Some(a);
            continue;
        }
        let (weights, sizes) = area_sums(g, &of, k);
        let Some(heavy) = (0..k).filter(|&b| sizes[b] >= 2).max_by(|&x, &y| weights[x].total_cmp(&weights[y])) else {
            continue;
        };
        let nodes: Vec<usize> = (0..n).filter(|&v| of[v] == Some(heavy)).collect();
        let mut halves = Vec::new();
        split(g, nodes, 2, tries, rng, &mut halves);
        if let Some(half) = halves.get(1) {
            for &v in half {
                of[v] = Some(a);
            }
        }
    }
    // Free grids join the lightest neighbouring area, growing outwards.
    loop {
        let mut weights = area_sums(g, &of, k).0;
        let mut changed = false;
        for v in 0..n {
            if of[v].is_some() {
                continue;
            }
            let best = g.adj[v].iter().filter_map(|&(u, _)| of[u]).min_by(|&x, &y| weights[x].total_cmp(&weights[y]));
            if let Some(b) = best {
                of[v] = Some(b);
                weights[b] += g.w[v];
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Pieces no area touches (a detached part of the street) go to the lightest area.
    let lightest = {
        let weights = area_sums(g, &of, k).0;
        (0..k).min_by(|&x, &y| weights[x].total_cmp(&weights[y])).unwrap_or(0)
    };
    of.into_iter().map(|o| o.unwrap_or(lightest)).collect()
}

/// Weight and grid count of each of `k` areas.
fn area_sums(g: &Graph, of: &[Option<usize>], k: usize) -> (Vec<f64>, Vec<usize>) {
    let mut weights = vec![0.0; k];
    let mut sizes = vec![0usize; k];
    for (v, a) in of.iter().enumerate() {
        if let Some(b) = *a {
            weights[b] += g.w[v];
            sizes[b] += 1;
        }
    }
    (weights, sizes)
}

fn polsby_popper(area: f64, perim: f64) -> f64 {
    if area > 0.0 && perim > 0.0 { 4.0 * std::f64::consts::PI * area / (perim * perim) } else { 0.0 }
}

/// Describes the areas of a plan (`of[v]` = area of node v, `None` = uncovered).
fn describe(
    g: &Graph,
    of: &[Vec<usize>],
    owners: &[Option<CaseworkerId>],
    target: f64,
    unit_weights: bool,
    req: &[f64],
) -> Vec<ProposedArea> {
    owners
        .iter()
        .enumerate()
        .map(|(a, &caseworker_id)| {
            let nodes: Vec<usize> = (0..g.n()).filter(|&v| of[v].contains(&a)).collect();
            let mut inside = vec![false; g.n()];
            for &v in &nodes {
                inside[v] = true;
            }
            // Shared grids count a share of their weight in each area that holds them.
            let share = |v: usize, x: &[f64]| x[v] / of[v].len() as f64;
            let weight: f64 = nodes.iter().map(|&v| share(v, &g.w)).sum();
            let load: f64 = nodes.iter().map(|&v| share(v, req)).sum();
            let area: f64 = nodes.iter().map(|&v| g.area[v]).sum();
            let perim: f64 = nodes
                .iter()
                .map(|&v| g.perim[v] - g.adj[v].iter().filter(|(u, _)| inside[*u]).map(|(_, l)| l).sum::<f64>())
                .sum();
            let mut grids: Vec<GridId> = nodes.iter().map(|&v| g.ids[v]).collect();
            grids.sort_unstable();
            ProposedArea {
                caseworker_id,
                grids,
                load: if unit_weights { 0.0 } else { load },
                deviation: if target > 0.0 { weight / target - 1.0 } else { 0.0 },
                polsby_popper: polsby_popper(area, perim),
                contiguous: g.components(&nodes, &inside).len() <= 1,
            }
        })
        .collect()
}

fn quality(areas: &[ProposedArea], uncovered: usize, grids_changed: usize) -> PlanQuality {
    let nonempty: Vec<&ProposedArea> = areas.iter().filter(|a| !a.grids.is_empty()).collect();
    PlanQuality {
        max_deviation: areas.iter().map(|a| a.deviation.abs()).fold(0.0, f64::max),
        max_load: areas.iter().map(|a| a.load).fold(0.0, f64::max),
        mean_polsby_popper: if nonempty.is_empty() {
            0.0
        } else {
            nonempty.iter().map(|a| a.polsby_popper).sum::<f64>() / nonempty.len() as f64
        },
        grids_changed,
        uncovered,
        all_contiguous: areas.iter().all(|a| a.contiguous),
    }
}

/// Proposes balanced contracted areas for every street under `rule`.
pub fn propose(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    rule: &StaffingRule,
    opts: &TerritoryOptions,
) -> Result<TerritoryProposal, TerritoryError> {
    rule.validate()?;
    propose_with(atlas, &GridShapes::measure(atlas), &grid_requirements(atlas, rule), caseworkers, &rule.name, opts)
}

/// [`propose`] with grid shapes and weights already at hand (they depend on the Atlas only,
/// so callers proposing several times measure once).
pub fn propose_with(
    atlas: &Atlas,
    shapes: &GridShapes,
    required: &[f64],
    caseworkers: &[Caseworker],
    rule_name: &str,
    opts: &TerritoryOptions,
) -> Result<TerritoryProposal, TerritoryError> {
    for (name, value) in [
        ("epsilon", opts.epsilon),
        ("compactness_weight", opts.compactness_weight),
        ("change_penalty", opts.change_penalty),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(TerritoryError::Option { name, value });
        }
    }
    // Streets are planned independently, in parallel; each has its own random stream drawn from
    // the seed and its position, so the plan does not depend on the threads.
    let streets = atlas
        .streets()
        .par_iter()
        .enumerate()
        .filter(|(_, s)| opts.streets.as_ref().is_none_or(|only| only.contains(&s.street.code)))
        .map(|(i, s)| {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            rng.set_stream(i as u64);
            let team: Vec<&Caseworker> = caseworkers.iter().filter(|c| c.street_code == s.street.code).collect();
            plan_street(shapes, required, s, &team, opts, &mut rng)
        })
        .collect();
    Ok(TerritoryProposal { mode: opts.mode, epsilon: opts.epsilon, rule: rule_name.to_owned(), streets })
}

fn plan_street(
    shapes: &GridShapes,
    required: &[f64],
    street: &rentgrid_geodata::atlas::StreetEntry,
    team: &[&Caseworker],
    opts: &TerritoryOptions,
    rng: &mut ChaCha8Rng,
) -> StreetPlan {
    let g = Graph::new(street.grids.clone(), required, shapes);
    let n = g.n();
    let req: Vec<f64> = g.ids.iter().map(|&id| required.get(id as usize).copied().unwrap_or(0.0)).collect();
    let unit_weights = req.iter().sum::<f64>() <= 0.0;
    let local: HashMap<GridId, usize> = g.ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    // Today: every holder of each grid, and the first one.
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, cw) in team.iter().enumerate() {
        for gid in &cw.grids {
            if let Some(&v) = local.get(gid)
                && !holders[v].contains(&a)
            {
                holders[v].push(a);
            }
        }
    }
    let first: Vec<Option<usize>> = holders.iter().map(|h| h.first().copied()).collect();
    let today_owners: Vec<Option<CaseworkerId>> = team.iter().map(|c| Some(c.id)).collect();
    let k = match opts.mode {
        Mode::FromScratch => opts.staff.get(&street.street.code).copied().unwrap_or(team.len()),
        Mode::MinimalChange => team.len(),
    };
    let total: f64 = g.w.iter().sum();
    let target = if k > 0 { total / k as f64 } else { 0.0 };
    let today_target = if team.is_empty() { 0.0 } else { total / team.len() as f64 };
    let today_areas = describe(&g, &holders, &today_owners, today_target, unit_weights, &req);
    let today = quality(&today_areas, holders.iter().filter(|h| h.is_empty()).count(), 0);
    let heaviest = g.w.iter().copied().fold(0.0, f64::max);
    let best_possible_deviation = if k == 0 {
        0.0
    } else if k > n {
        1.0
    } else {
        (heaviest / target - 1.0).max(0.0)
    };
    let mut plan_street = StreetPlan {
        street_code: street.street.code.clone(),
        name: street.street.name.clone(),
        staff: k,
        grids: n,
        required: req.iter().sum(),
        target,
        best_possible_deviation,
        within_epsilon: false,
        today,
        proposed: today,
        today_areas,
        areas: Vec::new(),
    };
    if k == 0 || n == 0 {
        plan_street.proposed = quality(&[], n, 0);
        return plan_street;
    }
    let (of, owners): (Vec<usize>, Vec<Option<CaseworkerId>>) = match opts.mode {
        Mode::MinimalChange => (repair(&g, &first, k, opts.trees_per_split, rng), today_owners),
        Mode::FromScratch => {
            let parts = from_scratch(&g, k, opts.trees_per_split, rng);
            let mut of = vec![0usize; n];
            for (a, p) in parts.iter().enumerate() {
                for &v in p {
                    of[v] = a;
                }
            }
            let owners = match_owners(&of, parts.len().max(k), &first, team);
            (of, owners)
        }
    };
    let k_areas = owners.len();
    let mut plan = Plan::new(&g, of, k_areas, target, opts);
    if opts.mode == Mode::MinimalChange {
        plan.mu = opts.change_penalty;
        plan.today = first.clone();
    }
    plan.improve(opts.max_passes, best_possible_deviation <= opts.epsilon, rng);
    let holders: Vec<Vec<usize>> = plan.of.iter().map(|&a| vec![a]).collect();
    let areas = describe(&g, &holders, &owners, target, unit_weights, &req);
    let changed = (0..n).filter(|&v| first[v].map(|t| team[t].id) != owners[plan.of[v]]).count();
    plan_street.proposed = quality(&areas, 0, changed);
    plan_street.within_epsilon = plan_street.proposed.max_deviation <= opts.epsilon + 1e-12;
    plan_street.areas = areas;
    plan_street
}

/// Gives each new area to a caseworker of today's team, greedily by the grids they share; areas
/// beyond the team are vacancies.
fn match_owners(of: &[usize], k: usize, first: &[Option<usize>], team: &[&Caseworker]) -> Vec<Option<CaseworkerId>> {
    let mut overlap: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (v, &a) in of.iter().enumerate() {
        if let Some(t) = first[v] {
            *overlap.entry((a, t)).or_default() += 1;
        }
    }
    let mut pairs: Vec<((usize, usize), usize)> = overlap.into_iter().collect();
    pairs.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let mut owner: Vec<Option<usize>> = vec![None; k];
    let mut taken = vec![false; team.len()];
    for ((a, t), _) in pairs {
        if owner[a].is_none() && !taken[t] {
            owner[a] = Some(t);
            taken[t] = true;
        }
    }
    // Areas sharing nothing with anyone take the caseworkers left, in order.
    let mut free = (0..team.len()).filter(|&t| !taken[t]);
    for o in owner.iter_mut() {
        if o.is_none() {
            *o = free.next();
        }
    }
    owner.into_iter().map(|o| o.map(|t| team[t].id)).collect()
}
