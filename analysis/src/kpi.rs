//! The KPIs a leader reads, per grid and rolled up to community, street and district, against
//! configurable targets (defaults from the Ningbo and Wuxi policy texts, see `domain.md`).
//!
//! Every rate is a ratio of counts the register holds; a place with a zero denominator has no
//! rate (`None`), never 0%. Roll-ups add counts, then divide, so a street's rate is exactly what
//! its grids' counts give.

use rentgrid_geodata::{Atlas, BuildingStats, GridId};
use serde::{Deserialize, Serialize};

/// Targets for each KPI, as fractions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// 流动人口登记率 migrant registration rate.
    pub reg_rate: f64,
    /// 登记做证率 registered-with-permit rate.
    pub permit_rate: f64,
    /// 出租房屋登记率 rental registration rate.
    pub rental_rate: f64,
    /// 人户一致率 person-household consistency.
    pub consistency_rate: f64,
    /// 治安责任保证书签订率 landlord pledge rate.
    pub pledge_rate: f64,
}

impl Default for Targets {
    /// ≥90% registration and permits, ≥95% rental registration (seeds 000, 003), ≥70%
    /// 人户一致率 (000, 003), ≥95% pledges (002).
    fn default() -> Self {
        Self { reg_rate: 0.90, permit_rate: 0.90, rental_rate: 0.95, consistency_rate: 0.70, pledge_rate: 0.95 }
    }
}

/// How far below its target a rate still counts as near it (5 percentage points).
pub const NEAR_BAND: f64 = 0.05;

/// How a place stands against the registration target.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// At or above the target.
    Meets,
    /// Within 5 points below it.
    Near,
    /// More than 5 points below.
    Below,
    /// Nobody recorded: no rate.
    None,
}

/// Counts summed over a place: its buildings' [`BuildingStats`], how many buildings, its area.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Buildings.
    pub buildings: u32,
    /// Area in km² (geodesic).
    pub area_km2: f64,
    /// Rental units, persons, visits and their registration counts.
    #[serde(flatten)]
    pub stats: BuildingStats,
}

impl Counts {
    pub(crate) fn add_building(&mut self, s: &BuildingStats) {
        self.buildings += 1;
        self.stats.add(s);
    }

    fn add(&mut self, o: &Counts) {
        self.buildings += o.buildings;
        self.area_km2 += o.area_km2;
        self.stats.add(&o.stats);
    }
}

/// The KPIs of one place.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// The counts they come from.
    #[serde(flatten)]
    pub counts: Counts,
    /// 流动人口登记率: registered persons / persons recorded.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reg_rate: Option<f64>,
    /// Lower end of the 95% Wilson interval of `reg_rate`: how sure the measured rate is.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reg_rate_low: Option<f64>,
    /// Upper end of that interval.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reg_rate_high: Option<f64>,
    /// 登记做证率: registered persons with a permit / persons recorded.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub permit_rate: Option<f64>,
    /// 出租房屋登记率: registered rental units / rental units recorded.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_rate: Option<f64>,
    /// 人户一致率: registered persons at their registered address / registered persons.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub consistency_rate: Option<f64>,
    /// 治安责任保证书签订率: registered units with the pledge signed / registered units.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub pledge_rate: Option<f64>,
    /// Persons recorded per km².
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub persons_per_km2: Option<f64>,
    /// Rental units recorded per km².
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rental_units_per_km2: Option<f64>,
    /// Registration rate against its target (null for a leader where the persons behind it are
    /// under 5).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub reg_status: Status,
}

fn ratio(num: u32, den: u32) -> Option<f64> {
    (den > 0).then(|| f64::from(num) / f64::from(den))
}

/// The 95% Wilson score interval for `k` successes in `n` trials.
pub fn wilson(k: u32, n: u32) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n) = (f64::from(k), f64::from(n));
    let z = 1.959_963_984_540_054;
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    // At k = 0 and k = n the bounds are exactly 0 and 1; say so rather than round near them.
    let low = if k == 0.0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if k == n { 1.0 } else { (centre + half).min(1.0) };
    Some((low, high))
}

impl Kpi {
    /// Derives the rates from counts.
    pub fn from_counts(counts: Counts, targets: &Targets) -> Self {
        let s = &counts.stats;
        let reg_rate = ratio(s.persons_registered, s.persons);
        let interval = wilson(s.persons_registered, s.persons);
        let density = |n: u32| (counts.area_km2 > 0.0).then(|| f64::from(n) / counts.area_km2);
        let reg_status = match reg_rate {
            None => Status::None,
            Some(r) if r >= targets.reg_rate => Status::Meets,
            Some(r) if r >= targets.reg_rate - NEAR_BAND => Status::Near,
            Some(_) => Status::Below,
        };
        Self {
            counts,
            reg_rate,
            reg_rate_low: interval.map(|i| i.0),
            reg_rate_high: interval.map(|i| i.1),
            permit_rate: ratio(s.persons_with_permit, s.persons),
            rental_rate: ratio(s.rental_units_registered, s.rental_units),
            consistency_rate: ratio(s.persons_consistent, s.persons_registered),
            pledge_rate: ratio(s.pledges_signed, s.rental_units_registered),
            persons_per_km2: density(s.persons),
            rental_units_per_km2: density(s.rental_units),
            reg_status,
        }
    }
}

/// Counts per grid, indexed by grid id.
pub fn grid_counts(atlas: &Atlas) -> Vec<Counts> {
    atlas
        .grids()
        .iter()
        .map(|g| {
            let mut c = Counts { area_km2: g.area_km2, ..Counts::default() };
            for &b in &g.buildings {
                if let Some(s) = atlas.building_stats(b) {
                    c.add_building(s);
                }
            }
            c
        })
        .collect()
}

/// A level of the place hierarchy.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 区 the whole district.
    District,
    /// 街道/镇.
    Street,
    /// 社区/村.
    Community,
    /// 网格.
    Grid,
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "district" => Ok(Level::District),
            "street" => Ok(Level::Street),
            "community" => Ok(Level::Community),
            "grid" => Ok(Level::Grid),
            _ => Err(format!("unknown level {s:?}: use district, street, community or grid")),
        }
    }
}

/// One place's KPIs with its name and parent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The place's code (grid code, community or street code, district code).
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its parent's code (none for the district).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub parent_code: Option<String>,
    /// Grid id, for grid rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_id: Option<u32>,
    /// Its KPIs.
    #[serde(flatten)]
    pub kpi: Kpi,
}

/// The KPI row of one grid, or `None` for an unknown id.
pub fn grid_row(atlas: &Atlas, grid_counts: &[Counts], id: u32, targets: &Targets) -> Option<Row> {
    let g = atlas.grid(id)?;
    let c = grid_counts.get(id as usize)?;
    Some(Row {
        code: g.grid.code.clone(),
        name: g.grid.name.clone(),
        parent_code: Some(g.grid.community_code.clone()),
        grid_id: Some(g.grid.id),
        kpi: Kpi::from_counts(*c, targets),
    })
}

/// The counts of `grids` summed (a grid outside `grid_counts` counts nothing).
pub fn sum_of(grid_counts: &[Counts], grids: &[GridId]) -> Counts {
    let mut sum = Counts::default();
    for &g in grids {
        if let Some(gc) = grid_counts.get(g as usize) {
            sum.add(gc);
        }
    }
    sum
}

/// KPIs of every place at `level`, in the Atlas's order (grids by id, others by code order of
/// the reference data), computed from `grid_counts`.
pub fn rollup(atlas: &Atlas, grid_counts: &[Counts], level: Level, targets: &Targets) -> Vec<Row> {
    match level {
        Level::Grid => atlas.grids().iter().filter_map(|g| grid_row(atlas, grid_counts, g.grid.id, targets)).collect(),
        Level::Community => atlas
            .communities()
            .iter()
            .map(|c| {
                let sum = sum_of(grid_counts, &c.grids);
                Row {
                    code: c.community.code.clone(),
                    name: c.community.name.clone(),
                    parent_code: Some(c.community.street_code.clone()),
                    grid_id: None,
                    kpi: Kpi::from_counts(sum, targets),
                }
            })
            .collect(),
        Level::Street => atlas
            .streets()
            .iter()
            .map(|s| {
                let sum = sum_of(grid_counts, &s.grids);
                Row {
                    code: s.street.code.clone(),
                    name: s.street.name.clone(),
                    parent_code: Some(atlas.district().code.clone()),
                    grid_id: None,
                    kpi: Kpi::from_counts(sum, targets),
                }
            })
            .collect(),
        Level::District => {
            let mut sum = Counts::default();
            for c in grid_counts {
                sum.add(c);
            }
            vec![Row {
                code: atlas.district().code.clone(),
                name: atlas.district().name.clone(),
                parent_code: None,
                grid_id: None,
                kpi: Kpi::from_counts(sum, targets),
            }]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(persons: u32, registered: u32) -> Counts {
        let stats = BuildingStats { persons, persons_registered: registered, ..BuildingStats::default() };
        Counts { area_km2: 2.0, stats, ..Counts::default() }
    }

    #[test]
    fn rates_are_ratios_of_counts() {
        let stats = BuildingStats {
            rental_units: 40,
            rental_units_registered: 38,
            pledges_signed: 19,
            persons: 100,
            persons_registered: 91,
            persons_with_permit: 80,
            persons_consistent: 70,
            visits: 0,
        };
        let c = Counts { buildings: 3, area_km2: 0.5, stats };
        let k = Kpi::from_counts(c, &Targets::default());
        assert_eq!(k.reg_rate, Some(0.91));
        assert_eq!(k.permit_rate, Some(0.8));
        assert_eq!(k.rental_rate, Some(0.95));
        assert_eq!(k.consistency_rate, Some(70.0 / 91.0));
        assert_eq!(k.pledge_rate, Some(0.5));
        assert_eq!(k.persons_per_km2, Some(200.0));
        assert_eq!(k.reg_status, Status::Meets);
    }

    #[test]
    fn status_thresholds_follow_the_target() {
        let t = Targets::default();
        assert_eq!(Kpi::from_counts(counts(100, 90), &t).reg_status, Status::Meets);
        assert_eq!(Kpi::from_counts(counts(100, 89), &t).reg_status, Status::Near);
        assert_eq!(Kpi::from_counts(counts(100, 85), &t).reg_status, Status::Near);
        assert_eq!(Kpi::from_counts(counts(100, 84), &t).reg_status, Status::Below);
        let strict = Targets { reg_rate: 0.95, ..t };
        assert_eq!(Kpi::from_counts(counts(100, 92), &strict).reg_status, Status::Near);
    }

    #[test]
    fn an_empty_place_has_no_rate_not_zero() {
        let k = Kpi::from_counts(Counts::default(), &Targets::default());
        assert_eq!(k.reg_rate, None);
        assert_eq!(k.reg_rate_low, None);
        assert_eq!(k.persons_per_km2, None);
        assert_eq!(k.reg_status, Status::None);
    }

    #[test]
    fn wilson_interval_matches_a_hand_computation() {
        // k = 81, n = 100: (0.722212, 0.874852), as statsmodels proportion_confint(method="wilson") gives.
        let (lo, hi) = wilson(81, 100).unwrap();
        assert!((lo - 0.722_212).abs() < 1e-5, "{lo}");
        assert!((hi - 0.874_852).abs() < 1e-5, "{hi}");
        assert_eq!(wilson(37, 37).unwrap().1, 1.0);
        let (lo, hi) = wilson(0, 10).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.25 && hi < 0.35);
        // More evidence, narrower interval.
        let (a, b) = wilson(900, 1000).unwrap();
        let (c, d) = wilson(9, 10).unwrap();
        assert!(b - a < d - c);
    }

    #[test]
    fn rollup_adds_counts_before_dividing() {
        let mut a = counts(10, 10);
        a.add(&counts(90, 45));
        let k = Kpi::from_counts(a, &Targets::default());
        assert_eq!(k.reg_rate, Some(0.55));
        assert_eq!(k.counts.area_km2, 4.0);
    }
}
