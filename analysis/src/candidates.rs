//! Where the register is weak: for every building and every grid an estimate of the rental
//! units and persons the register is missing (未登记), with an uncertainty and the reasons.
//!
//! # Two steps
//!
//! **What the register says, without the utility accounts.** Per residential building a
//! Gamma–Poisson pseudo-observation estimate `m` of its hidden units: a Gamma prior whose mean
//! is the building's expected rentals times its grid's hidden share, updated by Poisson
//! pseudo-observations, each weighted by how noisy it is:
//!
//! - the grid's **hidden share**: the register's unregistered share of known units in the grid
//!   and next door (邻近网格登记率低), smoothed towards the district's. Spot checks (暗查) do
//!   not enter it: they count persons, not units, and a share of persons read as a share of
//!   units made the units grow with the number of checks (a grid checked half as much again
//!   at scale 0.5 had 15% more units); they calibrate the count model below instead;
//! - **few registered units for the size**: dwellings times the kind's rental share, less the
//!   units the register knows;
//! - **past finds**: a visit is a Poisson thinning with the visit's detection rate: `found`
//!   units observe the rate with that exposure, and what the visit found was registered, so
//!   what the building can still hide falls by the same rate (recovering as time passes);
//! - **tips (举报)**: each adds pseudo-units to the shape.
//!
//! **What the utility accounts measure.** The count model of [`crate::hidden_count`]: a
//! building's hidden units are a beta-binomial count over the dwellings the register does not
//! hold as rentals, whose prior share grows with `m` (calibrated per kind of building) and with
//! what the neighbouring buildings' accounts say, and whose utility accounts (水电表) beyond the
//! register and the usual occupancy measure it. The model's parameters are fitted to the
//! district's own readings and spot checks (empirical Bayes), never to a truth. The expected
//! units are the posterior mean, their interval the posterior's 90% interval; the expected
//! persons are the expected units times the kind's tenants per unit (from the register) plus
//! those hidden in known units, `f · K · h` (`K` the building's recorded persons, `h` its
//! grid's hidden share, `f` fitted to the spot checks).
//!
//! # How honest it is
//!
//! Measured on the demo's hidden truth (`bench/calibration.sh`, the tests in
//! `analysis/tests/analysis/unrecorded.rs`, on seeds not used while building it): the top
//! 1,000 buildings' expected units and persons within a few percent of what they hide, their
//! 90% intervals holding the truth for 90–93% of them, precision in the top 1,000 about 0.99.
//! The weights ([`CandidateWeights::default`]) that shape `m` were set on the demo city in an
//! earlier version; the count model recalibrates `m` on each district's own records.

use crate::error::{StatsError, StatsResult};
use crate::hidden_count::{self, CountEvidence, CountModel, GridChecks};
use crate::stats::Z90;
use rentgrid_geodata::{Atlas, BuildingId, BuildingKind, City, GridId, SpotCheck, Tip, Visit};
use serde::{Deserialize, Serialize};
use time::Date;

/// The weights of the evidence behind the pseudo-observation estimate, and the count model's
/// assumptions (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CandidateWeights {
    /// Shape of the Gamma prior of a building's rate: how many pseudo-units the grid prior is worth.
    pub prior_shape: f64,
    /// Hidden share per unregistered share of the register's known units (grid and next door).
    pub unregistered_to_hidden: f64,
    /// Share of the grid signal that comes from the neighbouring grids.
    pub neighbour_share: f64,
    /// Utility accounts a hidden unit brings beyond a dwelling that is not a rental: the count
    /// model's `β`, assumed (the readings cannot tell it from the number of hidden units).
    pub meter_per_hidden: f64,
    /// Weight of the size gap (expected rentals less registered units), divided by (1 + its variance).
    pub gap_weight: f64,
    /// Pseudo-units a tip adds.
    pub tip_units: f64,
    /// Share of a building's hidden units an ordinary visit (走访) finds.
    pub visit_detection: f64,
    /// Share a sweep visit (逐户清查, [`Evidence::sweeps`]) finds.
    pub sweep_detection: f64,
    /// Days over which what a visit cleared fills up again (e-folding time).
    pub recovery_days: f64,
    /// Persons the register misses in known units, per known person and unit of hidden share:
    /// where the fit reads spot checks, where it starts (it is then fitted, `f`); used as it is
    /// where there are none.
    pub hidden_person_factor: f64,
    /// Persons per household, to turn spot-checked households into persons checked.
    pub persons_per_household: f64,
}

impl Default for CandidateWeights {
    fn default() -> Self {
        Self {
            prior_shape: 1.0,
            unregistered_to_hidden: 1.0,
            neighbour_share: 0.35,
            meter_per_hidden: 0.85,
            gap_weight: 0.5,
            tip_units: 1.5,
            visit_detection: 0.3,
            sweep_detection: 0.8,
            recovery_days: 180.0,
            hidden_person_factor: 0.7,
            persons_per_household: 2.0,
        }
    }
}

impl CandidateWeights {
    fn check(&self) -> StatsResult<()> {
        let positive = [
            ("prior_shape", self.prior_shape),
            ("meter_per_hidden", self.meter_per_hidden),
            ("recovery_days", self.recovery_days),
            ("persons_per_household", self.persons_per_household),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(StatsError::Parameter { name, value, reason: "must be a positive number" });
            }
        }
        let non_negative = [
            ("unregistered_to_hidden", self.unregistered_to_hidden),
            ("gap_weight", self.gap_weight),
            ("tip_units", self.tip_units),
            ("hidden_person_factor", self.hidden_person_factor),
        ];
        for (name, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(StatsError::Parameter { name, value, reason: "must be zero or more" });
            }
        }
        for (name, value) in [
            ("neighbour_share", self.neighbour_share),
            ("visit_detection", self.visit_detection),
            ("sweep_detection", self.sweep_detection),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(StatsError::Parameter { name, value, reason: "must lie in [0, 1]" });
            }
        }
        Ok(())
    }
}

/// The records besides the Atlas the estimate reads: visits, spot checks, tips, and the day it is made.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// 走访 routine visits, any order.
    pub visits: &'a [Visit],
    /// Visits of a sweep campaign (逐户清查, household by household), which find more.
    pub sweeps: &'a [Visit],
    /// 暗查/反查 spot checks.
    pub spot_checks: &'a [SpotCheck],
    /// 举报 tips.
    pub tips: &'a [Tip],
    /// The day of the estimate: ages of visits and tips count from it; later records are ignored.
    pub as_of: Date,
}

impl<'a> Evidence<'a> {
    /// The evidence a whole city's records hold (its routine visits, spot checks and tips; no
    /// sweeps), as of `as_of`: what the demo's tests and benchmarks estimate from.
    pub fn of_city(city: &'a City, as_of: Date) -> Self {
        Self { visits: &city.visits, sweeps: &[], spot_checks: &city.spot_checks, tips: &city.tips, as_of }
    }
}

/// Why a building or grid is a candidate, as a code with its numbers; [`Reason::text`] words it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// More utility accounts than registered households and the usual occupancy explain.
    MetersExceedHouseholds {
        /// Utility accounts (水电表).
        meters: u32,
        /// Registered rental households.
        households: u32,
        /// Dwellings.
        dwellings: u32,
        /// Accounts the register and the usual occupancy explain.
        expected_meters: f64,
    },
    /// Few or no rental units registered for the building's size.
    FewRegisteredUnits {
        /// Rental units the register knows.
        registered: u32,
        /// Rental units a building of this kind and size usually has.
        expected: f64,
        /// Dwellings.
        dwellings: u32,
    },
    /// Tips name the building.
    Tips {
        /// How many.
        count: u32,
    },
    /// Earlier visits found unregistered units here.
    PastFinds {
        /// Units found.
        units: u32,
        /// Persons found.
        persons: u32,
    },
    /// Visited recently: part of what it hid was found then (lowers the estimate).
    RecentlyVisited {
        /// Days since the last visit.
        days_ago: i64,
    },
    /// Spot checks in the grid found unregistered persons.
    SpotCheckMisses {
        /// Persons found unregistered.
        missed: u32,
        /// Households checked.
        households: u32,
    },
    /// The grid's registered share of its known rental units is low.
    LowGridRate {
        /// Registered / known rental units.
        rate: f64,
    },
    /// The grids next door have low registration rates.
    LowRateNextDoor {
        /// Their registered / known rental units, together.
        rate: f64,
        /// How many neighbouring grids.
        grids: u32,
    },
}

/// A language to word reasons in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Reason {
    /// The reason as a sentence, e.g. "12 块水电表，登记 3 户".
    pub fn text(&self, lang: Lang) -> String {
        let pct = |r: f64| format!("{:.0}%", r * 100.0);
        match (self, lang) {
            (Reason::MetersExceedHouseholds { meters, households, expected_meters, .. }, Lang::Zh) => {
                format!("{meters} 块水电表，登记出租 {households} 户（按登记应约 {expected_meters:.0} 块）")
            }
            (Reason::MetersExceedHouseholds { meters, households, expected_meters, .. }, Lang::En) => format!(
                "{meters} utility meters, {households} registered rental households (about {expected_meters:.0} expected)"
            ),
            (Reason::FewRegisteredUnits { registered, expected, dwellings }, Lang::Zh) => {
                format!("{dwellings} 户的楼仅登记 {registered} 套出租房（同类楼约 {expected:.0} 套）")
            }
            (Reason::FewRegisteredUnits { registered, expected, dwellings }, Lang::En) => format!(
                "{registered} registered rental units in {dwellings} dwellings (about {expected:.0} in similar buildings)"
            ),
            (Reason::Tips { count }, Lang::Zh) => format!("群众举报 {count} 次"),
            (Reason::Tips { count }, Lang::En) => format!("{count} tip(s)"),
            (Reason::PastFinds { units, persons }, Lang::Zh) => {
                format!("以往走访发现未登记 {units} 套、{persons} 人")
            }
            (Reason::PastFinds { units, persons }, Lang::En) => {
                format!("earlier visits found {units} unregistered units and {persons} persons")
            }
            (Reason::RecentlyVisited { days_ago }, Lang::Zh) => format!("{days_ago} 天前走访过"),
            (Reason::RecentlyVisited { days_ago }, Lang::En) => format!("visited {days_ago} days ago"),
            (Reason::SpotCheckMisses { missed, households }, Lang::Zh) => {
                format!("暗查 {households} 户发现漏登记 {missed} 人")
            }
            (Reason::SpotCheckMisses { missed, households }, Lang::En) => {
                format!("spot checks of {households} households found {missed} unregistered persons")
            }
            (Reason::LowGridRate { rate }, Lang::Zh) => format!("本网格出租房屋登记率 {}", pct(*rate)),
            (Reason::LowGridRate { rate }, Lang::En) => format!("grid rental registration rate {}", pct(*rate)),
            (Reason::LowRateNextDoor { rate, grids }, Lang::Zh) => {
                format!("相邻 {grids} 个网格登记率 {}", pct(*rate))
            }
            (Reason::LowRateNextDoor { rate, grids }, Lang::En) => {
                format!("{grids} neighbouring grids at {} rental registration", pct(*rate))
            }
        }
    }
}

/// What one building is estimated to hide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildingEstimate {
    /// The building.
    pub building_id: BuildingId,
    /// Its grid.
    pub grid_id: GridId,
    /// Expected unregistered rental units (the posterior mean of the count model,
    /// [`crate::hidden_count`]).
    pub expected_units: f64,
    /// 90% interval of the count of unregistered units, lower end: whole numbers whose posterior
    /// probability is nearest 90% (mid-p points, each end moved by one where that brings it
    /// nearer; [`crate::hidden_count`]), so that about 90% of many buildings' counts fall inside.
    /// A building almost surely hiding nothing has [0, 0].
    pub units_low: f64,
    /// Its upper end.
    pub units_high: f64,
    /// Expected unregistered persons.
    pub expected_persons: f64,
    /// Why, strongest first.
    pub reasons: Vec<Reason>,
}

/// What one grid is estimated to hide: the sum over its buildings, with the grid-level reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridEstimate {
    /// The grid.
    pub grid_id: GridId,
    /// Expected unregistered rental units.
    pub expected_units: f64,
    /// 90% interval of the count (normal approximation), lower end.
    pub units_low: f64,
    /// 90% interval, upper end.
    pub units_high: f64,
    /// Expected unregistered persons.
    pub expected_persons: f64,
    /// Estimated share of actual rental units the register lacks.
    pub hidden_share: f64,
    /// Registered rental units over known plus expected-missing units: the 出租房屋登记率 the
    /// grid likely has in fact (the measured rate only counts what the register knows).
    pub estimated_rental_rate: Option<f64>,
    /// Grid-level reasons.
    pub reasons: Vec<Reason>,
}

/// Estimates for a whole district, indexed by building id and grid id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidates {
    /// One per building (non-residential buildings estimate zero), `buildings[i].building_id == i`.
    pub buildings: Vec<BuildingEstimate>,
    /// One per grid, `grids[i].grid_id == i`.
    pub grids: Vec<GridEstimate>,
    /// The count model fitted to the district's meter readings.
    pub model: CountModel,
}

impl Candidates {
    /// The buildings among `ids` worth a look (expected units above 0.05), most expected first
    /// (ties by id), every one of them sorted: the whole ranking whose first few
    /// [`Candidates::top`] selects (what `GET /api/unregistered-candidates?bbox=` lists).
    pub fn ranked(&self, ids: &[BuildingId]) -> Vec<&BuildingEstimate> {
        let mut out = self.worth_a_look(ids);
        out.sort_by(|a, b| most_expected_first(a, b));
        out
    }

    /// The first `limit` of [`Candidates::ranked`] and how many that ranks, without sorting
    /// them all: the `limit` first are selected in linear time, then only they are sorted (a
    /// city ranks a few hundred thousand buildings to list a hundred).
    pub fn top(&self, ids: &[BuildingId], limit: usize) -> (usize, Vec<&BuildingEstimate>) {
        let mut out = self.worth_a_look(ids);
        let matched = out.len();
        if limit < out.len() {
            out.select_nth_unstable_by(limit, |a, b| most_expected_first(a, b));
            out.truncate(limit);
        }
        out.sort_by(|a, b| most_expected_first(a, b));
        (matched, out)
    }

    /// The buildings among `ids` with expected units above 0.05, in no order.
    fn worth_a_look(&self, ids: &[BuildingId]) -> Vec<&BuildingEstimate> {
        ids.iter().filter_map(|&id| self.buildings.get(id as usize)).filter(|e| e.expected_units > 0.05).collect()
    }
}

/// Most expected units first, ties by building id: a total order, so the first few selected
/// are those a full sort puts first.
fn most_expected_first(a: &BuildingEstimate, b: &BuildingEstimate) -> std::cmp::Ordering {
    b.expected_units.total_cmp(&a.expected_units).then(a.building_id.cmp(&b.building_id))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn kind_index(k: BuildingKind) -> usize {
    BuildingKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

/// What the district's register says about each building kind: rental share of dwellings,
/// tenants per unit, and the usual occupancy (utility accounts per dwelling) of the dwellings
/// that are not registered rentals.
#[derive(Debug, Clone, Copy, Default)]
struct KindNorm {
    rental_share: f64,
    tenants_per_unit: f64,
    occupancy: f64,
}

fn kind_norms(atlas: &Atlas) -> [KindNorm; 6] {
    let mut units = [0u64; 6];
    let mut dwellings = [0u64; 6];
    let mut persons = [0u64; 6];
    let mut occ: [Vec<f64>; 6] = Default::default();
    for b in atlas.buildings() {
        let Some(s) = atlas.building_stats(b.id) else { continue };
        let k = kind_index(b.kind);
        units[k] += u64::from(s.rental_units);
        dwellings[k] += u64::from(b.dwellings);
        persons[k] += u64::from(s.persons);
        if b.dwellings > s.rental_units {
            let other = f64::from(b.dwellings - s.rental_units);
            occ[k].push((f64::from(b.utility_accounts) - f64::from(s.rental_units)) / other);
        }
    }
    std::array::from_fn(|k| KindNorm {
        rental_share: if dwellings[k] > 0 { units[k] as f64 / dwellings[k] as f64 } else { 0.0 },
        tenants_per_unit: if units[k] > 0 { persons[k] as f64 / units[k] as f64 } else { 2.0 },
        occupancy: median(std::mem::take(&mut occ[k])).unwrap_or(0.85).clamp(0.0, 1.0),
    })
}

/// A residential building's evidence for the count model with its reasons (weight, reason);
/// `None` for a building that is not residential or has no dwellings.
type BuildingInput = Option<(CountEvidence, Vec<(f64, Reason)>)>;

/// Sets each metered building's [`CountEvidence::neighbours`]: the accounts beyond the register
/// and the usual occupancy (the district's median, [`pooled_occupancy`]) of the other metered
/// residential buildings of its grid, per dwelling of theirs.
fn neighbour_readings(atlas: &Atlas, inputs: &mut [BuildingInput]) {
    let o = pooled_occupancy(atlas);
    let n = atlas.grids().len();
    let (mut excess, mut dwellings) = (vec![0.0; n], vec![0.0; n]);
    let own = |b: &rentgrid_geodata::Building, e: &CountEvidence| {
        e.beyond_known.map(|y| (y - o * f64::from(e.other), f64::from(b.dwellings)))
    };
    for (b, input) in atlas.buildings().iter().zip(inputs.iter()) {
        if let Some((y, dw)) = input.as_ref().and_then(|(e, _)| own(b, e)) {
            excess[b.grid_id as usize] += y;
            dwellings[b.grid_id as usize] += dw;
        }
    }
    for (b, input) in atlas.buildings().iter().zip(inputs.iter_mut()) {
        let Some((e, _)) = input.as_mut() else { continue };
        let g = b.grid_id as usize;
        let (y, dw) = own(b, e).unwrap_or((0.0, 0.0));
        let rest = dwellings[g] - dw;
        e.neighbours = if rest > 0.0 { (excess[g] - y) / rest } else { 0.0 };
    }
}

/// The usual occupancy of a dwelling the register does not hold as a rental, over all
/// residential buildings: the median of `(accounts − rental units) / other dwellings`. Pooled
/// over kinds, because in kinds that are mostly rentals (dormitories, village houses) the
/// dwellings the register lacks are mostly hidden rentals, whose accounts would pass for the
/// usual occupancy.
fn pooled_occupancy(atlas: &Atlas) -> f64 {
    let ratios: Vec<f64> = atlas
        .buildings()
        .iter()
        .filter(|b| b.kind.is_residential())
        .filter_map(|b| {
            let s = atlas.building_stats(b.id)?;
            (b.dwellings > s.rental_units).then(|| {
                (f64::from(b.utility_accounts) - f64::from(s.rental_units)) / f64::from(b.dwellings - s.rental_units)
            })
        })
        .collect();
    median(ratios).unwrap_or(0.85).clamp(0.0, 1.0)
}

/// The grid-level part: hidden share and its reasons.
struct GridSignal {
    hidden_share: f64,
    reasons: Vec<Reason>,
}

fn grid_signals(atlas: &Atlas, ev: &Evidence, w: &CandidateWeights) -> Vec<GridSignal> {
    let n = atlas.grids().len();
    let mut known = vec![0u32; n];
    let mut registered = vec![0u32; n];
    for g in atlas.grids() {
        for &b in &g.buildings {
            if let Some(s) = atlas.building_stats(b) {
                known[g.grid.id as usize] += s.rental_units;
                registered[g.grid.id as usize] += s.rental_units_registered;
            }
        }
    }
    let (tk, tr) =
        (known.iter().map(|&k| f64::from(k)).sum::<f64>(), registered.iter().map(|&r| f64::from(r)).sum::<f64>());
    let district_unreg = if tk > 0.0 { 1.0 - tr / tk } else { 0.0 };
    // Unregistered share smoothed towards the district's with 10 pseudo-units.
    let unreg = |k: u32, r: u32| (f64::from(k - r.min(k)) + 10.0 * district_unreg) / (f64::from(k) + 10.0);
    let mut missed = vec![0u32; n];
    let mut checked = vec![0u32; n];
    for sc in ev.spot_checks.iter().filter(|s| s.checked_on <= ev.as_of) {
        let i = sc.grid_id as usize;
        if i < n {
            missed[i] += sc.missed_registration;
            checked[i] += sc.households_checked;
        }
    }
    (0..n)
        .map(|i| {
            let own = unreg(known[i], registered[i]);
            let nbs = atlas.neighbours(i as GridId);
            let (nk, nr) =
                nbs.iter().fold((0u32, 0u32), |(k, r), &j| (k + known[j as usize], r + registered[j as usize]));
            let next_door = if nbs.is_empty() { own } else { unreg(nk, nr) };
            let signal = (1.0 - w.neighbour_share) * own + w.neighbour_share * next_door;
            let hidden_share = (w.unregistered_to_hidden * signal).clamp(0.002, 0.95);
            let mut reasons = Vec::new();
            if missed[i] > 0 {
                reasons.push(Reason::SpotCheckMisses { missed: missed[i], households: checked[i] });
            }
            if known[i] > 0 && own > district_unreg {
                reasons.push(Reason::LowGridRate { rate: f64::from(registered[i]) / f64::from(known[i]) });
            }
            if nk > 0 && next_door > district_unreg {
                reasons.push(Reason::LowRateNextDoor { rate: f64::from(nr) / f64::from(nk), grids: nbs.len() as u32 });
            }
            GridSignal { hidden_share: hidden_share.clamp(0.0, 0.95), reasons }
        })
        .collect()
}

/// Estimates what the register is missing, per building and per grid: the count model fitted
/// to this district's readings and spot checks ([`hidden_count::fit`]), then every building's
/// posterior. Never reads ground truth.
pub fn estimate(atlas: &Atlas, ev: &Evidence, w: &CandidateWeights) -> StatsResult<Candidates> {
    w.check()?;
    let prepared = Prepared::new(atlas, ev, w);
    let evidence: Vec<CountEvidence> = prepared.inputs.iter().flatten().map(|(e, _)| *e).collect();
    let checks = grid_checks(atlas, ev, &prepared.grids, w);
    let start = CountModel::unfitted(w.meter_per_hidden, pooled_occupancy(atlas), w.hidden_person_factor);
    let model = hidden_count::fit(&evidence, &checks, start);
    Ok(prepared.apply(atlas, model))
}

/// The estimate for the evidence `ev` with a count model fitted already (to other evidence of
/// the same district, as [`crate::unrecorded`] does for its prior without the sweeps).
pub fn estimate_with_model(
    atlas: &Atlas,
    ev: &Evidence,
    w: &CandidateWeights,
    model: CountModel,
) -> StatsResult<Candidates> {
    w.check()?;
    Ok(Prepared::new(atlas, ev, w).apply(atlas, model))
}

/// Each residential building's evidence for the count model, with its reasons, and the grids'
/// signals.
struct Prepared {
    norms: [KindNorm; 6],
    grids: Vec<GridSignal>,
    inputs: Vec<BuildingInput>,
}

impl Prepared {
    fn new(atlas: &Atlas, ev: &Evidence, w: &CandidateWeights) -> Self {
        let norms = kind_norms(atlas);
        let grids = grid_signals(atlas, ev, w);
        let nb = atlas.buildings().len();
        let mut found_units = vec![0u32; nb];
        let mut found_persons = vec![0u32; nb];
        let mut cleared = vec![1.0f64; nb];
        let mut exposure = vec![0.0f64; nb];
        let mut last_visit: Vec<Option<Date>> = vec![None; nb];
        let routine = ev.visits.iter().map(|v| (v, w.visit_detection));
        let sweeps = ev.sweeps.iter().map(|v| (v, w.sweep_detection));
        for (v, detection) in routine.chain(sweeps).filter(|(v, _)| v.visited_on <= ev.as_of) {
            let i = v.building_id as usize;
            if i >= nb {
                continue;
            }
            found_units[i] += v.units_found;
            found_persons[i] += v.persons_found;
            exposure[i] += detection;
            let age = (ev.as_of - v.visited_on).whole_days() as f64;
            cleared[i] *= 1.0 - detection * (-age / w.recovery_days).exp();
            last_visit[i] = last_visit[i].max(Some(v.visited_on));
        }
        let mut tips = vec![0u32; nb];
        for t in ev.tips.iter().filter(|t| t.received_on <= ev.as_of) {
            if let Some(c) = tips.get_mut(t.building_id as usize) {
                *c += 1;
            }
        }
        let mut inputs = Vec::with_capacity(nb);
        for b in atlas.buildings() {
            let i = b.id as usize;
            let s = atlas.building_stats(b.id).copied().unwrap_or_default();
            let norm = norms[kind_index(b.kind)];
            let h = grids.get(b.grid_id as usize).map_or(0.0, |g| g.hidden_share);
            if !b.kind.is_residential() || b.dwellings == 0 {
                inputs.push(None);
                continue;
            }
            let dw = f64::from(b.dwellings);
            // The register before the visits' finds were added to it: the size speaks of
            // everything the building hid, found since or not.
            let known = f64::from(s.rental_units.saturating_sub(found_units[i]));
            let expected_rentals = dw * norm.rental_share;
            // Prior: the grid's hidden share of the rentals a building like this has.
            let m0 = (expected_rentals.max(known) * h / (1.0 - h)).max(0.01);
            let mut shape = w.prior_shape;
            let mut rate = w.prior_shape / m0;
            let mut reasons: Vec<(f64, Reason)> = Vec::new();
            // Utility accounts beyond the register as it is now and the usual occupancy: what the
            // count model reads as a measurement of what the building hides now.
            let known_now = f64::from(s.rental_units);
            let other = (dw - known_now).max(0.0);
            let expected_meters = known_now + norm.occupancy * other;
            let excess = (f64::from(b.utility_accounts) - expected_meters).max(0.0);
            if excess >= 1.0 {
                let occupancy_var = other * norm.occupancy * (1.0 - norm.occupancy);
                reasons.push((
                    excess / (1.0 + occupancy_var + 0.67),
                    Reason::MetersExceedHouseholds {
                        meters: b.utility_accounts,
                        households: s.rental_units,
                        dwellings: b.dwellings,
                        expected_meters: (expected_meters * 10.0).round() / 10.0,
                    },
                ));
            }
            // Few registered units for the size.
            let gap = (expected_rentals - known).max(0.0);
            let share = norm.rental_share.clamp(0.0, 1.0);
            let wg = w.gap_weight / (1.0 + dw * share * (1.0 - share));
            shape += wg * gap;
            rate += wg;
            if gap >= 1.0 && known < 0.5 * expected_rentals {
                reasons.push((
                    wg * gap,
                    Reason::FewRegisteredUnits {
                        registered: s.rental_units,
                        expected: (expected_rentals * 10.0).round() / 10.0,
                        dwellings: b.dwellings,
                    },
                ));
            }
            if tips[i] > 0 {
                shape += w.tip_units * f64::from(tips[i]);
                reasons.push((w.tip_units * f64::from(tips[i]), Reason::Tips { count: tips[i] }));
            }
            shape += f64::from(found_units[i]);
            rate += exposure[i];
            if found_units[i] > 0 {
                reasons.push((
                    f64::from(found_units[i]),
                    Reason::PastFinds { units: found_units[i], persons: found_persons[i] },
                ));
            }
            let keep = cleared[i];
            if let Some(d) = last_visit[i].filter(|_| keep < 0.95) {
                reasons.push((0.0, Reason::RecentlyVisited { days_ago: (ev.as_of - d).whole_days() }));
            }
            reasons.sort_by(|a, b| b.0.total_cmp(&a.0));
            let evidence = CountEvidence {
                pseudo_mean: keep * shape / rate,
                kind: kind_index(b.kind),
                other: b.dwellings.saturating_sub(s.rental_units),
                beyond_known: (b.utility_accounts > 0).then(|| f64::from(b.utility_accounts) - known_now),
                grid: b.grid_id,
                tenants: norm.tenants_per_unit,
                neighbours: 0.0,
            };
            inputs.push(Some((evidence, reasons)));
        }
        neighbour_readings(atlas, &mut inputs);
        Self { norms, grids, inputs }
    }

    /// Every building's posterior under `model`, summed per grid.
    fn apply(self, atlas: &Atlas, model: CountModel) -> Candidates {
        let Self { norms, grids, inputs } = self;
        let mut buildings = Vec::with_capacity(inputs.len());
        let mut grid_sum = vec![(0.0f64, 0.0f64, 0.0f64); atlas.grids().len()];
        for (b, input) in atlas.buildings().iter().zip(inputs) {
            let Some((e, reasons)) = input else {
                buildings.push(BuildingEstimate {
                    building_id: b.id,
                    grid_id: b.grid_id,
                    expected_units: 0.0,
                    units_low: 0.0,
                    units_high: 0.0,
                    expected_persons: 0.0,
                    reasons: vec![],
                });
                continue;
            };
            let s = atlas.building_stats(b.id).copied().unwrap_or_default();
            let norm = norms[kind_index(b.kind)];
            let h = grids.get(b.grid_id as usize).map_or(0.0, |g| g.hidden_share);
            let post = model.posterior(&e);
            let expected_units = post.mean;
            let expected_persons =
                expected_units * norm.tenants_per_unit + f64::from(s.persons) * h * model.known_factor;
            let sum = &mut grid_sum[b.grid_id as usize];
            sum.0 += expected_units;
            sum.1 += post.var;
            sum.2 += expected_persons;
            buildings.push(BuildingEstimate {
                building_id: b.id,
                grid_id: b.grid_id,
                expected_units,
                units_low: post.low,
                units_high: post.high,
                expected_persons,
                reasons: reasons.into_iter().map(|r| r.1).collect(),
            });
        }
        let grids = grids
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                let (mean, var, persons) = grid_sum[i];
                let (known, registered) = atlas.grid(i as GridId).map_or((0, 0), |e| {
                    e.buildings
                        .iter()
                        .filter_map(|&b| atlas.building_stats(b))
                        .fold((0u32, 0u32), |(k, r), s| (k + s.rental_units, r + s.rental_units_registered))
                });
                let actual = f64::from(known) + mean;
                GridEstimate {
                    grid_id: i as GridId,
                    expected_units: mean,
                    units_low: (mean - Z90 * var.sqrt()).max(0.0),
                    units_high: mean + Z90 * var.sqrt(),
                    expected_persons: persons,
                    hidden_share: g.hidden_share,
                    estimated_rental_rate: (actual > 0.0).then(|| f64::from(registered) / actual),
                    reasons: g.reasons,
                }
            })
            .collect();
        Candidates { buildings, grids, model }
    }
}

/// Per grid, the spot checks (暗查) the count model's fit reads: those before the grid's first
/// sweep visit, applied to the register as it was then (today's persons less those the sweeps
/// found), as [`crate::unrecorded`] reads them.
fn grid_checks(atlas: &Atlas, ev: &Evidence, signals: &[GridSignal], w: &CandidateWeights) -> Vec<GridChecks> {
    let n = atlas.grids().len();
    let mut out = vec![GridChecks::default(); n];
    let mut first_sweep: Vec<Option<Date>> = vec![None; n];
    let mut swept = vec![0.0; n];
    for v in ev.sweeps.iter().filter(|v| v.visited_on <= ev.as_of) {
        let Some(b) = atlas.building(v.building_id) else { continue };
        let i = b.grid_id as usize;
        if i < n {
            swept[i] += f64::from(v.persons_found);
            first_sweep[i] = Some(first_sweep[i].map_or(v.visited_on, |d| d.min(v.visited_on)));
        }
    }
    for sc in ev.spot_checks.iter().filter(|s| s.checked_on <= ev.as_of) {
        let i = sc.grid_id as usize;
        if i >= n || first_sweep[i].is_some_and(|d| sc.checked_on >= d) {
            continue;
        }
        let checked = f64::from(sc.households_checked) * w.persons_per_household;
        out[i].checked += checked;
        out[i].missed += f64::from(sc.missed_registration).min(checked);
    }
    for (i, g) in atlas.grids().iter().enumerate() {
        let persons: f64 =
            g.buildings.iter().filter_map(|&b| atlas.building_stats(b)).map(|s| f64::from(s.persons)).sum();
        let recorded = (persons - swept[i]).max(0.0);
        out[i].recorded = recorded;
        out[i].known_signal = recorded * signals.get(i).map_or(0.0, |s| s.hidden_share);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::gamma_quantile;

    #[test]
    fn wilson_hilferty_brackets_the_mean() {
        for (shape, rate) in [(1.0, 1.0), (3.5, 0.7), (40.0, 8.0)] {
            let (lo, hi) = (gamma_quantile(shape, rate, -Z90), gamma_quantile(shape, rate, Z90));
            assert!(lo < shape / rate && shape / rate < hi, "{shape} {rate}: {lo} {hi}");
        }
        // Gamma(40, 8): mean 5, sd 0.79; its exact 5% and 95% points are 3.7745 and 6.3675.
        assert!((gamma_quantile(40.0, 8.0, -Z90) - 3.7745).abs() < 0.005);
        assert!((gamma_quantile(40.0, 8.0, Z90) - 6.3675).abs() < 0.005);
    }

    #[test]
    fn reasons_read_in_both_languages() {
        let r = Reason::MetersExceedHouseholds { meters: 12, households: 3, dwellings: 12, expected_meters: 5.0 };
        assert!(r.text(Lang::Zh).starts_with("12 块水电表，登记出租 3 户"));
        assert!(r.text(Lang::En).starts_with("12 utility meters, 3 registered"));
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["code"], "meters_exceed_households");
        assert_eq!(json["meters"], 12);
    }
}
