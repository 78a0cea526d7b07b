//! 蚕食法 "silkworm nibbling" sweep campaigns: which block first, which next, the phases of each
//! block and a day-by-day schedule per caseworker.
//!
//! A campaign concentrates a team on one block at a time — 排查 investigate, 清理 clear, 整治
//! rectify, 巩固 consolidate — then moves on to a block that touches what is already cleared
//! (以点带面). The order is an *expanding search* (Alpern & Lidbetter, "Mining coal or finding
//! terrorists: the expanding search paradigm", Operations Research 61(2), 2013): from the cleared
//! area, the next extension is the connected chain of up to `chain_len` unvisited blocks with the
//! best ratio of expected finds to effort — not only the best single neighbour, so that a poor
//! block guarding a rich region is crossed when the region is worth it. After each extension the
//! frontier changes and the rest is re-ranked; what a swept block can still hide is recorded as
//! its residual, expected × (1 − detection).
//!
//! Expected finds come from [`crate::candidates`] (expected unregistered units × the sweep's
//! detection rate); effort is the buildings to visit plus [`BLOCK_OVERHEAD`] for reaching a block.
//! A disconnected area is planned one connected part after another: when the cleared part has
//! no unvisited neighbour left, the best remaining block starts the next part
//! ([`BlockStep::starts_part`]).
//!
//! The schedule gives each caseworker a list of buildings per working day; the walking order
//! within a day is left to a route solver, which may reorder [`Assignment::buildings`] freely.

use crate::candidates::Candidates;
use crate::error::StatsError;
use crate::kpi::{Counts, Kpi, Targets};
use geo::{Area as _, Centroid, Contains, Coord, InteriorPoint, LineString, Polygon};
use rentgrid_geodata::{Atlas, BuildingId, BuildingStats, Caseworker, CaseworkerId, GridId, polygon_neighbours};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
use thiserror::Error;
use time::{Date, Duration, Weekday};

// Dates of a plan as `YYYY-MM-DD` in JSON.
time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// Effort of reaching and setting up in a block, in building visits.
pub const BLOCK_OVERHEAD: f64 = 1.0;

/// Why a campaign could not be planned, or a phase not advanced.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SweepError {
    /// The area names a grid that does not exist.
    #[error("unknown grid {0}")]
    UnknownGrid(GridId),
    /// The team names a caseworker that does not exist.
    #[error("unknown caseworker {0}")]
    UnknownCaseworker(CaseworkerId),
    /// The team names a caseworker twice.
    #[error("caseworker {0} is in the team twice")]
    DuplicateCaseworker(CaseworkerId),
    /// Nobody to do the work.
    #[error("the team is empty")]
    EmptyTeam,
    /// Zero buildings per caseworker per day.
    #[error("buildings per caseworker per day must be at least 1")]
    ZeroCapacity,
    /// The area holds no block.
    #[error("the area holds no block")]
    NoBlocks,
    /// A grid of the area has buildings but no blocks to put them in.
    #[error("grid {0} has buildings but no blocks")]
    GridWithoutBlocks(GridId),
    /// The polygon drawn is not a usable area.
    #[error("area polygon: {0}")]
    BadPolygon(&'static str),
    /// The seed block chosen is not in the area.
    #[error("seed block {0} is not in the area")]
    SeedOutsideArea(u32),
    /// The candidates were estimated for another Atlas.
    #[error("candidates hold {got} buildings, the Atlas {expected}")]
    CandidatesMismatch {
        /// Buildings in the Atlas.
        expected: usize,
        /// Buildings in the candidates.
        got: usize,
    },
    /// No working day within 60 days of a date (weekends and holidays cover them all).
    #[error("no working day within 60 days after {0}")]
    NoWorkingDay(Date),
    /// A phase may only advance to the next one.
    #[error(
        "phase cannot go from {} to {}: phases advance 排查 → 清理 → 整治 → 巩固, one at a time",
        from.map_or("未开始 (not started)", Phase::label),
        to.label()
    )]
    PhaseOrder {
        /// The current phase (`None`: not started).
        from: Option<Phase>,
        /// The phase asked for.
        to: Phase,
    },
    /// A parameter is outside its range.
    #[error(transparent)]
    Parameter(#[from] StatsError),
}

/// Results of campaign planning.
pub type SweepResult<T> = Result<T, SweepError>;

/// The area of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Area {
    /// These grids, all their blocks.
    Grids {
        /// Grid ids.
        grids: Vec<GridId>,
    },
    /// A polygon drawn on the map: the blocks whose interior point lies inside it.
    Polygon {
        /// Its ring, `[lon, lat]` (WGS84); closed or not.
        ring: Vec<[f64; 2]>,
    },
}

/// What to plan: the area, the team and the rhythm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignInput {
    /// Where.
    pub area: Area,
    /// Which caseworkers (综管员), in the order their lists are filled.
    pub team: Vec<CaseworkerId>,
    /// First day.
    pub start: Date,
    /// Days off besides weekends.
    #[serde(default)]
    pub holidays: Vec<Date>,
    /// Buildings each caseworker visits in a day.
    pub buildings_per_day: u32,
    /// Share of a building's hidden units a sweep finds.
    pub detection: f64,
    /// Weeks from the end of 清理 to the 巩固 re-check.
    pub consolidate_after_weeks: u32,
    /// Working days of 清理 after a block's investigation ends.
    pub clear_days: u32,
    /// Working days of 整治 after clearing.
    pub rectify_days: u32,
    /// Start here instead of at the weakest block (a block id).
    pub seed_block: Option<u32>,
    /// Longest chain of blocks an extension may take (1 is the greedy best neighbour).
    pub chain_len: usize,
}

impl CampaignInput {
    /// A campaign with the usual rhythm: detection 0.8, 巩固 4 weeks after clearing, 1 day of
    /// 清理 and 2 of 整治, chains of up to 3 blocks, no holidays, the weakest block first.
    pub fn new(area: Area, team: Vec<CaseworkerId>, start: Date, buildings_per_day: u32) -> Self {
        Self {
            area,
            team,
            start,
            holidays: vec![],
            buildings_per_day,
            detection: 0.8,
            consolidate_after_weeks: 4,
            clear_days: 1,
            rectify_days: 2,
            seed_block: None,
            chain_len: 3,
        }
    }
}

/// The phases of a block (蚕食法), in the only order they may take.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// 排查: visit every building, household by household.
    Investigate,
    /// 清理: register every rental and person found.
    Clear,
    /// 整治: pledges signed, safety problems rectified.
    Rectify,
    /// 巩固: the re-check, weeks later, that the block stays clean.
    Consolidate,
}

impl Phase {
    /// The four phases in order.
    pub const ALL: [Phase; 4] = [Phase::Investigate, Phase::Clear, Phase::Rectify, Phase::Consolidate];

    /// The phase after this one.
    pub fn next(self) -> Option<Phase> {
        Self::ALL.iter().position(|p| *p == self).and_then(|i| Self::ALL.get(i + 1)).copied()
    }

    /// The name in both languages, e.g. "清理 (clear)".
    pub fn label(self) -> &'static str {
        match self {
            Phase::Investigate => "排查 (investigate)",
            Phase::Clear => "清理 (clear)",
            Phase::Rectify => "整治 (rectify)",
            Phase::Consolidate => "巩固 (consolidate)",
        }
    }

    /// The Chinese name: 排查, 清理, 整治, 巩固.
    pub fn name_zh(self) -> &'static str {
        match self {
            Phase::Investigate => "排查",
            Phase::Clear => "清理",
            Phase::Rectify => "整治",
            Phase::Consolidate => "巩固",
        }
    }
}

/// Where a block stands in its phases: it only advances one phase at a time, in order.
///
/// ```
/// use rentgrid_analysis::sweep::{BlockProgress, Phase};
/// let mut p = BlockProgress::new(7);
/// p.advance(Phase::Investigate).unwrap();
/// assert!(p.advance(Phase::Rectify).is_err()); // 清理 comes first
/// p.advance(Phase::Clear).unwrap();
/// assert_eq!(p.phase, Some(Phase::Clear));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockProgress {
    /// The block.
    pub block_id: u32,
    /// Its phase; `None` before 排查 starts.
    pub phase: Option<Phase>,
}

impl BlockProgress {
    /// A block not started yet.
    pub fn new(block_id: u32) -> Self {
        Self { block_id, phase: None }
    }

    /// Moves to `to`, which must be the next phase; anything else (skipping, repeating, going
    /// back) is an error and leaves the progress as it was.
    pub fn advance(&mut self, to: Phase) -> SweepResult<()> {
        let next = match self.phase {
            None => Some(Phase::Investigate),
            Some(p) => p.next(),
        };
        if next != Some(to) {
            return Err(SweepError::PhaseOrder { from: self.phase, to });
        }
        self.phase = Some(to);
        Ok(())
    }
}

/// The blocks of an area as a graph: expected finds, effort and Rook adjacency, by position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockGraph {
    /// Expected finds per block.
    pub value: Vec<f64>,
    /// Effort per block (positive).
    pub effort: Vec<f64>,
    /// Neighbours per block, by position.
    pub neighbours: Vec<Vec<usize>>,
}

/// One step of a search order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStep {
    /// The block's position in the graph.
    pub index: usize,
    /// True for the first block and for each block that starts a new connected part.
    pub starts_part: bool,
}

fn ratio_cmp(a: (f64, &[usize]), b: (f64, &[usize])) -> std::cmp::Ordering {
    // Higher ratio first, then the shorter chain, then the lower positions.
    b.0.total_cmp(&a.0).then(a.1.len().cmp(&b.1.len())).then(a.1.cmp(b.1))
}

impl BlockGraph {
    fn check(&self) -> SweepResult<()> {
        let n = self.value.len();
        crate::error::check_len("effort", n, self.effort.len())?;
        crate::error::check_len("neighbours", n, self.neighbours.len())?;
        crate::error::check_finite("value", &self.value)?;
        crate::error::check_finite("effort", &self.effort)?;
        if let Some(i) = self.effort.iter().position(|&e| e <= 0.0) {
            return Err(
                StatsError::Parameter { name: "effort", value: self.effort[i], reason: "must be positive" }.into()
            );
        }
        for (site, nbs) in self.neighbours.iter().enumerate() {
            if let Some(&j) = nbs.iter().find(|&&j| j >= n) {
                return Err(StatsError::NeighbourOutOfRange { site, neighbour: j as u32, n }.into());
            }
        }
        Ok(())
    }

    fn best_single(&self, visited: &[bool]) -> Option<usize> {
        (0..self.value.len())
            .filter(|&i| !visited[i])
            .min_by(|&a, &b| ratio_cmp((self.value[a] / self.effort[a], &[a]), (self.value[b] / self.effort[b], &[b])))
    }

    /// The expanding-search order: `seed` (or the block with the best ratio of value to effort)
    /// first, then repeatedly the chain of at most `chain_len` unvisited blocks, starting next
    /// to the visited ones and each touching the one before, with the best ratio of total value
    /// to total effort. Every block appears exactly once.
    pub fn expanding_order(&self, seed: Option<usize>, chain_len: usize) -> SweepResult<Vec<OrderStep>> {
        self.check()?;
        let n = self.value.len();
        if chain_len == 0 || chain_len > 5 {
            return Err(
                StatsError::Parameter { name: "chain_len", value: chain_len as f64, reason: "must be 1 to 5" }.into()
            );
        }
        if let Some(s) = seed.filter(|&s| s >= n) {
            return Err(SweepError::SeedOutsideArea(s as u32));
        }
        let mut visited = vec![false; n];
        let mut frontier: BTreeSet<usize> = BTreeSet::new();
        let mut order = Vec::with_capacity(n);
        let mut visit = |i: usize, starts_part: bool, visited: &mut Vec<bool>, frontier: &mut BTreeSet<usize>| {
            visited[i] = true;
            frontier.remove(&i);
            frontier.extend(self.neighbours[i].iter().copied().filter(|&j| !visited[j]));
            order.push(OrderStep { index: i, starts_part });
        };
        let Some(first) = seed.or_else(|| self.best_single(&visited)) else { return Ok(vec![]) };
        visit(first, true, &mut visited, &mut frontier);
        let mut path = Vec::with_capacity(chain_len);
        while visited.iter().any(|v| !v) {
            let mut best: Option<(f64, Vec<usize>)> = None;
            for &f in &frontier {
                path.clear();
                path.push(f);
                self.extend_chain(&mut path, self.value[f], self.effort[f], chain_len, &visited, &mut best);
            }
            match best {
                Some((_, chain)) => {
                    for i in chain {
                        visit(i, false, &mut visited, &mut frontier);
                    }
                }
                None => {
                    let Some(next) = self.best_single(&visited) else { break };
                    visit(next, true, &mut visited, &mut frontier);
                }
            }
        }
        Ok(order)
    }

    fn extend_chain(
        &self,
        path: &mut Vec<usize>,
        value: f64,
        effort: f64,
        chain_len: usize,
        visited: &[bool],
        best: &mut Option<(f64, Vec<usize>)>,
    ) {
        let ratio = value / effort;
        if best.as_ref().is_none_or(|(r, p)| ratio_cmp((ratio, path), (*r, p)).is_lt()) {
            *best = Some((ratio, path.clone()));
        }
        if path.len() >= chain_len {
            return;
        }
        let Some(&last) = path.last() else { return };
        for &j in &self.neighbours[last] {
            if visited[j] || path.contains(&j) {
                continue;
            }
            path.push(j);
            self.extend_chain(path, value + self.value[j], effort + self.effort[j], chain_len, visited, best);
            path.pop();
        }
    }
}

/// The dates of one phase of a block.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseDates {
    /// The phase.
    pub phase: Phase,
    /// First day.
    #[serde(with = "ymd")]
    pub start: Date,
    /// Last day.
    #[serde(with = "ymd")]
    pub end: Date,
}

/// A block in the nibbling order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockStep {
    /// The block.
    pub block_id: u32,
    /// Its grid.
    pub grid_id: GridId,
    /// True for the seed and for the first block of each further connected part of the area.
    pub starts_part: bool,
    /// Its buildings, most expected first.
    pub buildings: Vec<BuildingId>,
    /// Expected unregistered units before the sweep.
    pub expected_units: f64,
    /// Expected finds (expected units × detection).
    pub expected_finds: f64,
    /// What it can still hide after the sweep: expected units × (1 − detection).
    pub residual_units: f64,
    /// Effort: buildings plus [`BLOCK_OVERHEAD`].
    pub effort: f64,
    /// 排查 → 清理 → 整治 → 巩固 with dates.
    pub phases: Vec<PhaseDates>,
}

/// One caseworker's buildings for one day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// Who.
    pub caseworker_id: CaseworkerId,
    /// Which buildings (in block order; a route solver may reorder them).
    pub buildings: Vec<BuildingId>,
    /// Expected unregistered units found.
    pub expected_finds: f64,
}

/// One working day of the campaign.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayPlan {
    /// The day.
    #[serde(with = "ymd")]
    pub date: Date,
    /// Per caseworker (those with work that day).
    pub assignments: Vec<Assignment>,
    /// Expected unregistered units found that day.
    pub expected_finds: f64,
    /// The area's 出租房屋登记率 after the day, against the estimated actual rental units.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub projected_rental_rate: Option<f64>,
    /// The area's 流动人口登记率 after the day, against the estimated actual persons.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub projected_reg_rate: Option<f64>,
}

/// The KPIs of the area: as the register measures them and against the estimated actual counts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AreaKpi {
    /// Measured KPIs of the area's buildings.
    pub measured: Kpi,
    /// Expected unregistered rental units still there.
    pub expected_missing_units: f64,
    /// Expected unregistered persons still there.
    pub expected_missing_persons: f64,
    /// Registered rental units over known plus expected missing.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub estimated_rental_rate: Option<f64>,
    /// Registered persons over recorded plus expected missing.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub estimated_reg_rate: Option<f64>,
}

/// A campaign plan.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignPlan {
    /// Grids the area touches, ascending.
    pub grids: Vec<GridId>,
    /// Blocks in nibbling order.
    pub blocks: Vec<BlockStep>,
    /// Working days, in order.
    pub days: Vec<DayPlan>,
    /// Expected unregistered units found in all.
    pub expected_finds: f64,
    /// The area's KPIs before the campaign.
    pub kpi_before: AreaKpi,
    /// The KPIs the area should reach when every block is swept.
    pub kpi_after: AreaKpi,
}

/// The area's blocks (positions in `atlas.blocks()`), ascending.
fn area_blocks(atlas: &Atlas, area: &Area) -> SweepResult<Vec<usize>> {
    match area {
        Area::Grids { grids } => {
            let mut set = HashSet::new();
            for &g in grids {
                if atlas.grid(g).is_none() {
                    return Err(SweepError::UnknownGrid(g));
                }
                set.insert(g);
            }
            Ok(atlas.blocks().iter().enumerate().filter(|(_, b)| set.contains(&b.grid_id)).map(|(i, _)| i).collect())
        }
        Area::Polygon { ring } => {
            let polygon = area_polygon(ring)?;
            Ok(atlas
                .blocks()
                .iter()
                .enumerate()
                .filter(|(_, b)| b.geometry.interior_point().is_some_and(|p| polygon.contains(&p)))
                .map(|(i, _)| i)
                .collect())
        }
    }
}

fn area_polygon(ring: &[[f64; 2]]) -> SweepResult<Polygon<f64>> {
    if ring.iter().flatten().any(|v| !v.is_finite()) {
        return Err(SweepError::BadPolygon("a coordinate is not a finite number"));
    }
    let coords: Vec<Coord<f64>> = ring.iter().map(|p| Coord { x: p[0], y: p[1] }).collect();
    let polygon = Polygon::new(LineString::new(coords), vec![]);
    if polygon.exterior().0.len() < 4 {
        return Err(SweepError::BadPolygon("needs at least three distinct corners"));
    }
    if polygon.unsigned_area() <= 0.0 {
        return Err(SweepError::BadPolygon("encloses no area"));
    }
    Ok(polygon)
}

/// The block (position in `atlas.blocks()`) of every building of `grids`: the grid's block
/// that contains the building's point, else the grid's block with the nearest centroid.
fn buildings_by_block(atlas: &Atlas, grids: &BTreeSet<GridId>) -> SweepResult<HashMap<usize, Vec<BuildingId>>> {
    let mut blocks_of: HashMap<GridId, Vec<usize>> = HashMap::new();
    for (i, b) in atlas.blocks().iter().enumerate() {
        if grids.contains(&b.grid_id) {
            blocks_of.entry(b.grid_id).or_default().push(i);
        }
    }
    let mut out: HashMap<usize, Vec<BuildingId>> = HashMap::new();
    for &g in grids {
        let Some(entry) = atlas.grid(g) else { return Err(SweepError::UnknownGrid(g)) };
        if entry.buildings.is_empty() {
            continue;
        }
        let Some(candidates) = blocks_of.get(&g) else { return Err(SweepError::GridWithoutBlocks(g)) };
        for &bid in &entry.buildings {
            let Some(b) = atlas.building(bid) else { continue };
            let blocks = atlas.blocks();
            let holder = candidates.iter().copied().find(|&i| blocks[i].geometry.contains(&b.point)).or_else(|| {
                candidates.iter().copied().min_by(|&x, &y| {
                    let d = |i: usize| {
                        blocks[i]
                            .geometry
                            .centroid()
                            .map_or(f64::INFINITY, |c| (c.x() - b.point.x()).hypot(c.y() - b.point.y()))
                    };
                    d(x).total_cmp(&d(y))
                })
            });
            if let Some(i) = holder {
                out.entry(i).or_default().push(bid);
            }
        }
    }
    Ok(out)
}

/// Working days from `from` on (weekdays that are not holidays).
struct WorkingDays<'a> {
    next: Date,
    holidays: &'a HashSet<Date>,
}

impl WorkingDays<'_> {
    fn is_working(&self, d: Date) -> bool {
        !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.holidays.contains(&d)
    }

    /// The first working day on or after `from`.
    fn on_or_after(&self, from: Date) -> SweepResult<Date> {
        let mut d = from;
        for _ in 0..60 {
            if self.is_working(d) {
                return Ok(d);
            }
            d = d.next_day().ok_or(SweepError::NoWorkingDay(from))?;
        }
        Err(SweepError::NoWorkingDay(from))
    }

    /// The next working day, advancing the cursor past it.
    fn take(&mut self) -> SweepResult<Date> {
        let d = self.on_or_after(self.next)?;
        self.next = d.next_day().ok_or(SweepError::NoWorkingDay(d))?;
        Ok(d)
    }

    /// The last of `n ≥ 1` working days starting after `after`, and the first.
    fn span_after(&self, after: Date, n: u32) -> SweepResult<(Date, Date)> {
        let first = self.on_or_after(after.next_day().ok_or(SweepError::NoWorkingDay(after))?)?;
        let mut last = first;
        for _ in 1..n.max(1) {
            last = self.on_or_after(last.next_day().ok_or(SweepError::NoWorkingDay(last))?)?;
        }
        Ok((first, last))
    }
}

/// The area's KPIs with `found` of the expected missing units and persons registered: the
/// measured rates from the counts, the estimated ones against the counts the area really has.
fn area_kpi(stats: &BuildingStats, buildings: u32, missing: (f64, f64), found: (f64, f64)) -> AreaKpi {
    let mut counts = *stats;
    counts.rental_units += found.0.round() as u32;
    counts.rental_units_registered += found.0.round() as u32;
    counts.persons += found.1.round() as u32;
    counts.persons_registered += found.1.round() as u32;
    let measured = Kpi::from_counts(Counts { buildings, area_km2: 0.0, stats: counts }, &Targets::default());
    AreaKpi {
        measured,
        expected_missing_units: missing.0 - found.0,
        expected_missing_persons: missing.1 - found.1,
        estimated_rental_rate: estimated_rate(stats.rental_units_registered, stats.rental_units, missing.0, found.0),
        estimated_reg_rate: estimated_rate(stats.persons_registered, stats.persons, missing.1, found.1),
    }
}

/// (registered + found) / (known + missing), the rate against the estimated actual count.
fn estimated_rate(registered: u32, known: u32, missing: f64, found: f64) -> Option<f64> {
    let den = f64::from(known) + missing;
    (den > 0.0).then(|| ((f64::from(registered) + found) / den).min(1.0))
}

fn check_input(caseworkers: &[Caseworker], input: &CampaignInput) -> SweepResult<()> {
    if input.team.is_empty() {
        return Err(SweepError::EmptyTeam);
    }
    let mut seen = HashSet::new();
    for &c in &input.team {
        if !caseworkers.iter().any(|w| w.id == c) {
            return Err(SweepError::UnknownCaseworker(c));
        }
        if !seen.insert(c) {
            return Err(SweepError::DuplicateCaseworker(c));
        }
    }
    if input.buildings_per_day == 0 {
        return Err(SweepError::ZeroCapacity);
    }
    if !(input.detection > 0.0 && input.detection <= 1.0) {
        return Err(
            StatsError::Parameter { name: "detection", value: input.detection, reason: "must lie in (0, 1]" }.into()
        );
    }
    Ok(())
}

/// Plans a campaign over `input.area` with `input.team`, from the candidates' estimates.
/// `caseworkers` is the district's roster (to check the team).
pub fn plan_campaign(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    candidates: &Candidates,
    input: &CampaignInput,
) -> SweepResult<CampaignPlan> {
    check_input(caseworkers, input)?;
    if candidates.buildings.len() != atlas.buildings().len() {
        return Err(SweepError::CandidatesMismatch {
            expected: atlas.buildings().len(),
            got: candidates.buildings.len(),
        });
    }
    let blocks = area_blocks(atlas, &input.area)?;
    if blocks.is_empty() {
        return Err(SweepError::NoBlocks);
    }
    let mut grids: BTreeSet<GridId> = blocks.iter().map(|&i| atlas.blocks()[i].grid_id).collect();
    if let Area::Grids { grids: g } = &input.area {
        grids.extend(g.iter().copied());
    }
    let mut by_block = buildings_by_block(atlas, &grids)?;
    let expected = |b: BuildingId| candidates.buildings.get(b as usize).map_or(0.0, |e| e.expected_units);
    let persons = |b: BuildingId| candidates.buildings.get(b as usize).map_or(0.0, |e| e.expected_persons);
    let members: Vec<Vec<BuildingId>> = blocks
        .iter()
        .map(|i| {
            let mut bs = by_block.remove(i).unwrap_or_default();
            bs.sort_by(|&a, &b| expected(b).total_cmp(&expected(a)).then(a.cmp(&b)));
            bs
        })
        .collect();
    let units: Vec<f64> = members.iter().map(|bs| bs.iter().map(|&b| expected(b)).sum()).collect();
    let d = input.detection;
    let polys: Vec<&Polygon<f64>> = blocks.iter().map(|&i| &atlas.blocks()[i].geometry).collect();
    let graph = BlockGraph {
        value: units.iter().map(|u| u * d).collect(),
        effort: members.iter().map(|bs| bs.len() as f64 + BLOCK_OVERHEAD).collect(),
        neighbours: polygon_neighbours(&polys)
            .into_iter()
            .map(|v| v.into_iter().map(|j| j as usize).collect())
            .collect(),
    };
    let seed = match input.seed_block {
        None => None,
        Some(id) => {
            Some(blocks.iter().position(|&i| atlas.blocks()[i].id == id).ok_or(SweepError::SeedOutsideArea(id))?)
        }
    };
    let order = graph.expanding_order(seed, input.chain_len)?;

    // The area's counts before.
    let mut stats = BuildingStats::default();
    let mut n_buildings = 0u32;
    let (mut missing_units, mut missing_persons) = (0.0, 0.0);
    for bs in &members {
        for &b in bs {
            if let Some(s) = atlas.building_stats(b) {
                stats.add(s);
            }
            n_buildings += 1;
            missing_units += expected(b);
            missing_persons += persons(b);
        }
    }
    let missing = (missing_units, missing_persons);
    let kpi_before = area_kpi(&stats, n_buildings, missing, (0.0, 0.0));

    // The day-by-day schedule: the whole team on one block at a time, in order.
    let holidays: HashSet<Date> = input.holidays.iter().copied().collect();
    let mut days_iter = WorkingDays { next: input.start, holidays: &holidays };
    let queue: Vec<(usize, BuildingId)> =
        order.iter().enumerate().flat_map(|(k, s)| members[s.index].iter().map(move |&b| (k, b))).collect();
    let mut visit_day: Vec<(Option<Date>, Option<Date>)> = vec![(None, None); order.len()];
    let mut days = Vec::new();
    let (mut found_units, mut found_persons) = (0.0, 0.0);
    let mut q = queue.iter().peekable();
    let per_day = input.buildings_per_day as usize;
    while q.peek().is_some() {
        let date = days_iter.take()?;
        let mut assignments = Vec::new();
        for &cw in &input.team {
            let mut mine = Vec::new();
            let mut finds = 0.0;
            while mine.len() < per_day {
                let Some(&(k, b)) = q.next() else { break };
                mine.push(b);
                finds += expected(b) * d;
                found_persons += persons(b) * d;
                let span = &mut visit_day[k];
                span.0 = span.0.or(Some(date));
                span.1 = Some(date);
            }
            if mine.is_empty() {
                break;
            }
            found_units += finds;
            assignments.push(Assignment { caseworker_id: cw, buildings: mine, expected_finds: finds });
        }
        days.push(DayPlan {
            date,
            expected_finds: assignments.iter().map(|a| a.expected_finds).sum(),
            assignments,
            projected_rental_rate: estimated_rate(
                stats.rental_units_registered,
                stats.rental_units,
                missing_units,
                found_units,
            ),
            projected_reg_rate: estimated_rate(stats.persons_registered, stats.persons, missing_persons, found_persons),
        });
    }

    // Phases per block: a block without buildings is investigated with the block before it.
    let mut steps = Vec::with_capacity(order.len());
    let mut previous_end = days_iter.on_or_after(input.start)?;
    for (k, s) in order.iter().enumerate() {
        let (start, end) = match visit_day[k] {
            (Some(a), Some(b)) => (a, b),
            _ => (previous_end, previous_end),
        };
        previous_end = end;
        let (clear_start, clear_end) = days_iter.span_after(end, input.clear_days)?;
        let (rectify_start, rectify_end) = days_iter.span_after(clear_end, input.rectify_days)?;
        let recheck = days_iter.on_or_after(clear_end + Duration::weeks(i64::from(input.consolidate_after_weeks)))?;
        let block = &atlas.blocks()[blocks[s.index]];
        steps.push(BlockStep {
            block_id: block.id,
            grid_id: block.grid_id,
            starts_part: s.starts_part,
            buildings: members[s.index].clone(),
            expected_units: units[s.index],
            expected_finds: units[s.index] * d,
            residual_units: units[s.index] * (1.0 - d),
            effort: graph.effort[s.index],
            phases: vec![
                PhaseDates { phase: Phase::Investigate, start, end },
                PhaseDates { phase: Phase::Clear, start: clear_start, end: clear_end },
                PhaseDates { phase: Phase::Rectify, start: rectify_start, end: rectify_end },
                PhaseDates { phase: Phase::Consolidate, start: recheck, end: recheck },
            ],
        });
    }
    let kpi_after = area_kpi(&stats, n_buildings, missing, (found_units, found_persons));
    Ok(CampaignPlan {
        grids: grids.into_iter().collect(),
        blocks: steps,
        days,
        expected_finds: found_units,
        kpi_before,
        kpi_after,
    })
}
