//! A campaign run against the demo city's hidden ground truth ([`HiddenOccupancy`]): each planned
//! visit finds each of the building's hidden units (and hidden persons) with the detection
//! probability (seeded), registers what it found, and records a [`Visit`]. The result carries the
//! visits and the [`StatsDelta`]s to apply to the Atlas, so the candidates can be re-estimated
//! with the new evidence, and the area's rates day by day: measured, and against the truth.
//!
//! This is the demo's evaluation of a plan; the estimator never reads the ground truth.

use crate::error::{StatsError, StatsResult};
use crate::kpi::{Counts, Kpi, Targets};
use crate::sweep::CampaignPlan;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_geodata::{Atlas, BuildingId, BuildingStats, HiddenOccupancy, StatsDelta, Visit};
use serde::Serialize;
use std::collections::HashMap;

/// The area after one simulated day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SimulatedDay {
    /// The day.
    pub date: time::Date,
    /// Buildings visited that day.
    pub visits: u32,
    /// Hidden rental units found that day.
    pub units_found: u32,
    /// Hidden persons found that day.
    pub persons_found: u32,
    /// 出租房屋登记率 as the register measures it after the day.
    pub measured_rental_rate: Option<f64>,
    /// Registered rental units over the true number (known plus still hidden) after the day.
    pub true_rental_rate: Option<f64>,
    /// 流动人口登记率 over the true number of persons after the day.
    pub true_reg_rate: Option<f64>,
}

/// What a simulated campaign found and changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    /// The visits, one per planned building visit, ids from `first_visit_id`.
    pub visits: Vec<Visit>,
    /// Changes to the buildings' counts (apply with [`Atlas::with_deltas`]).
    #[serde(skip)]
    pub deltas: Vec<StatsDelta>,
    /// Day by day.
    pub days: Vec<SimulatedDay>,
    /// The area's true rental registration rate before the campaign.
    pub true_rental_rate_before: Option<f64>,
    /// Hidden units of the area before.
    pub hidden_units_before: u32,
    /// Hidden units of the area left after.
    pub hidden_units_after: u32,
    /// The ground truth after the campaign (what was found is no longer hidden).
    #[serde(skip)]
    pub hidden_after: Vec<HiddenOccupancy>,
}

fn true_rate(registered: u32, known: u32, hidden: u32) -> Option<f64> {
    let den = known + hidden;
    (den > 0).then(|| f64::from(registered) / f64::from(den))
}

/// Runs `plan` against the ground truth `hidden` with detection probability `detection`.
pub fn simulate(
    atlas: &Atlas,
    plan: &CampaignPlan,
    hidden: &[HiddenOccupancy],
    detection: f64,
    seed: u64,
    first_visit_id: u32,
) -> StatsResult<Simulation> {
    if !(0.0..=1.0).contains(&detection) {
        return Err(StatsError::Parameter { name: "detection", value: detection, reason: "must lie in [0, 1]" });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut truth: HashMap<BuildingId, HiddenOccupancy> = hidden.iter().map(|h| (h.building_id, *h)).collect();
    let area: Vec<BuildingId> = plan.blocks.iter().flat_map(|b| b.buildings.iter().copied()).collect();
    let mut stats = BuildingStats::default();
    for &b in &area {
        if let Some(s) = atlas.building_stats(b) {
            stats.add(s);
        }
    }
    let hidden_in = |t: &HashMap<BuildingId, HiddenOccupancy>| -> (u32, u32) {
        area.iter().filter_map(|b| t.get(b)).fold((0, 0), |(u, p), h| (u + h.units, p + h.persons))
    };
    let (hidden_units_before, _) = hidden_in(&truth);
    let true_rental_rate_before = true_rate(stats.rental_units_registered, stats.rental_units, hidden_units_before);
    let mut visits = Vec::new();
    let mut deltas = Vec::new();
    let mut days = Vec::new();
    for day in &plan.days {
        let (mut units_found, mut persons_found, mut n) = (0, 0, 0);
        for a in &day.assignments {
            for &b in &a.buildings {
                let h = truth.entry(b).or_insert(HiddenOccupancy { building_id: b, units: 0, persons: 0 });
                let fu = (0..h.units).filter(|_| rng.random_bool(detection)).count() as u32;
                let fp = (0..h.persons).filter(|_| rng.random_bool(detection)).count() as u32;
                h.units -= fu;
                h.persons -= fp;
                let delta = StatsDelta {
                    building_id: b,
                    rental_units: fu,
                    rental_units_registered: fu,
                    persons: fp,
                    persons_registered: fp,
                    visits: 1,
                    ..StatsDelta::default()
                };
                stats.add(&delta.as_stats());
                deltas.push(delta);
                let id = first_visit_id + visits.len() as u32;
                visits.push(Visit {
                    id,
                    client_id: format!("sweep-sim-{id}"),
                    building_id: b,
                    caseworker_id: Some(a.caseworker_id),
                    visited_on: day.date,
                    units_registered: fu,
                    pledges_signed: 0,
                    units_found: fu,
                    persons_found: fp,
                    notes: String::new(),
                });
                units_found += fu;
                persons_found += fp;
                n += 1;
            }
        }
        let (hu, hp) = hidden_in(&truth);
        let kpi = Kpi::from_counts(Counts { buildings: area.len() as u32, area_km2: 0.0, stats }, &Targets::default());
        days.push(SimulatedDay {
            date: day.date,
            visits: n,
            units_found,
            persons_found,
            measured_rental_rate: kpi.rental_rate,
            true_rental_rate: true_rate(stats.rental_units_registered, stats.rental_units, hu),
            true_reg_rate: true_rate(stats.persons_registered, stats.persons, hp),
        });
    }
    let (hidden_units_after, _) = hidden_in(&truth);
    let mut hidden_after: Vec<HiddenOccupancy> = truth.into_values().filter(|h| h.units > 0 || h.persons > 0).collect();
    hidden_after.sort_by_key(|h| h.building_id);
    Ok(Simulation {
        visits,
        deltas,
        days,
        true_rental_rate_before,
        hidden_units_before,
        hidden_units_after,
        hidden_after,
    })
}
