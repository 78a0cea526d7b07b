//! Staffing rules (配备比例): how many caseworkers (综管员) a grid, community and street needs
//! under a city's ratio rule, how many it has, the gap and the yearly cost of closing it.
//!
//! The rule is configuration ([`StaffingRule`], serde), with presets for the four cities of the
//! policy texts (see `domain.md`, "Staffing rules"):
//! - [`StaffingRule::ningbo`]: 500 migrants per caseworker, communities under 500 still get one (000, 004);
//! - [`StaffingRule::nanjing`]: 500 actual temporary residents **or** 50 rental households,
//!   whichever needs more (001);
//! - [`StaffingRule::wuxi`]: 1,000 migrants in concentrated housing and 400 in dispersed (002);
//! - [`StaffingRule::taizhou`]: 1,000 per caseworker (003).
//!
//! What the rules count, in the model's terms:
//! - migrants (流动人口), actual temporary residents (实有暂住人口), residents: the person records
//!   the register holds ([`BuildingStats::persons`]; every person record is a migrant's);
//! - rental households (房屋出租户): the rental units the register knows ([`BuildingStats::rental_units`]);
//! - concentrated housing (集中居住): persons in [`BuildingKind::Dormitory`] buildings (dormitories,
//!   民工公寓; the demo marks exactly those units `concentrated`); dispersed: persons in any other building.
//!
//! Rounding: a place's fractional requirement is rounded **up** (配齐: a place is staffed when it
//! has at least what the ratio asks), after a 1e-9 tolerance so that 1,000 migrants at 500:1 need
//! exactly 2. The community floor ("at least one per community") applies to communities; a street's
//! (and the district's) requirement is the sum of its communities' floored fractional requirements,
//! rounded up once. Grids have no floor.
//!
//! Assigned caseworkers: a caseworker contracted to `n` grids counts `1/n` in each of them, and a
//! place has the sum over its grids (so a caseworker whose grids all lie in one community counts
//! exactly 1 there).

use rentgrid_geodata::{Atlas, BuildingKind, BuildingStats, Caseworker};
use serde::{Deserialize, Serialize};

/// Default yearly cost of one caseworker: 22,000 yuan (seed 000).
pub const DEFAULT_COST_PER_CASEWORKER_YUAN: f64 = 22_000.0;

/// Tolerance before rounding a requirement up.
const ROUND_TOLERANCE: f64 = 1e-9;

/// What a ratio term counts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Person records (migrants, 实有暂住人口).
    Persons,
    /// Persons in concentrated housing (集中居住: dormitory buildings).
    PersonsConcentrated,
    /// Persons in dispersed housing (every other building).
    PersonsDispersed,
    /// Rental units (房屋出租户) known to the register.
    RentalUnits,
}

/// One ratio: a caseworker per `per_caseworker` of `basis`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioTerm {
    /// What is counted.
    pub basis: Basis,
    /// How many of it one caseworker answers for.
    pub per_caseworker: f64,
}

/// How the terms of a rule combine.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Whichever term needs more (Nanjing's "or").
    Max,
    /// The terms add up (Wuxi: concentrated and dispersed are separate populations).
    Sum,
}

/// A city's staffing rule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffingRule {
    /// Name shown with results, e.g. `ningbo`.
    pub name: String,
    /// The ratios.
    pub terms: Vec<RatioTerm>,
    /// How the ratios combine.
    pub combine: Combine,
    /// Caseworkers every community gets at least (1 in Ningbo, 0 elsewhere).
    #[serde(default)]
    pub min_per_community: u32,
    /// Yearly cost of one caseworker, yuan.
    #[serde(default = "default_cost")]
    pub cost_per_caseworker_yuan: f64,
}

fn default_cost() -> f64 {
    DEFAULT_COST_PER_CASEWORKER_YUAN
}

/// Why a rule cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    /// A rule with no ratio.
    #[error("staffing rule {0:?} has no ratio term")]
    NoTerms(String),
    /// A ratio that is not a positive number.
    #[error("staffing rule {rule:?}: {per} per caseworker is not a positive number")]
    Ratio {
        /// The rule.
        rule: String,
        /// The value given.
        per: f64,
    },
    /// A cost that is negative or not a number.
    #[error("staffing rule {rule:?}: cost {cost} is not a non-negative number")]
    Cost {
        /// The rule.
        rule: String,
        /// The value given.
        cost: f64,
    },
    /// An unknown preset name.
    #[error("unknown staffing preset {0:?}: use ningbo, nanjing, wuxi or taizhou")]
    Preset(String),
}

impl StaffingRule {
    fn single(name: &str, basis: Basis, per: f64, min_per_community: u32) -> Self {
        Self {
            name: name.to_owned(),
            terms: vec![RatioTerm { basis, per_caseworker: per }],
            combine: Combine::Max,
            min_per_community,
            cost_per_caseworker_yuan: DEFAULT_COST_PER_CASEWORKER_YUAN,
        }
    }

    /// Ningbo (seeds 000, 004): 500 migrants per caseworker, at least one per community.
    pub fn ningbo() -> Self {
        Self::single("ningbo", Basis::Persons, 500.0, 1)
    }

    /// Nanjing (seed 001): 500 residents or 50 rental households, whichever needs more.
    pub fn nanjing() -> Self {
        Self {
            terms: vec![
                RatioTerm { basis: Basis::Persons, per_caseworker: 500.0 },
                RatioTerm { basis: Basis::RentalUnits, per_caseworker: 50.0 },
            ],
            ..Self::single("nanjing", Basis::Persons, 500.0, 0)
        }
    }

    /// Wuxi (seed 002): 1,000 in concentrated housing and 400 in dispersed per caseworker.
    pub fn wuxi() -> Self {
        Self {
            terms: vec![
                RatioTerm { basis: Basis::PersonsConcentrated, per_caseworker: 1000.0 },
                RatioTerm { basis: Basis::PersonsDispersed, per_caseworker: 400.0 },
            ],
            combine: Combine::Sum,
            ..Self::single("wuxi", Basis::Persons, 1000.0, 0)
        }
    }

    /// Taizhou (seed 003): 1,000 per caseworker.
    pub fn taizhou() -> Self {
        Self::single("taizhou", Basis::Persons, 1000.0, 0)
    }

    /// A preset by name (`ningbo`, `nanjing`, `wuxi`, `taizhou`).
    pub fn preset(name: &str) -> Result<Self, StaffingError> {
        match name {
            "ningbo" => Ok(Self::ningbo()),
            "nanjing" => Ok(Self::nanjing()),
            "wuxi" => Ok(Self::wuxi()),
            "taizhou" => Ok(Self::taizhou()),
            _ => Err(StaffingError::Preset(name.to_owned())),
        }
    }

    /// Checks the rule: at least one term, positive ratios, a non-negative cost.
    pub fn validate(&self) -> Result<(), StaffingError> {
        if self.terms.is_empty() {
            return Err(StaffingError::NoTerms(self.name.clone()));
        }
        if let Some(t) = self.terms.iter().find(|t| !(t.per_caseworker.is_finite() && t.per_caseworker > 0.0)) {
            return Err(StaffingError::Ratio { rule: self.name.clone(), per: t.per_caseworker });
        }
        if !(self.cost_per_caseworker_yuan.is_finite() && self.cost_per_caseworker_yuan >= 0.0) {
            return Err(StaffingError::Cost { rule: self.name.clone(), cost: self.cost_per_caseworker_yuan });
        }
        Ok(())
    }

    /// The fractional caseworkers a population needs under the ratios (no floor, no rounding).
    pub fn ratio_requirement(&self, p: &Population) -> f64 {
        let parts = self.terms.iter().map(|t| p.get(t.basis) / t.per_caseworker);
        match self.combine {
            Combine::Max => parts.fold(0.0, f64::max),
            Combine::Sum => parts.sum(),
        }
    }
}

/// What the ratio terms count in one place.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Person records.
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub persons: f64,
    /// Of which in concentrated housing (dormitory buildings).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub persons_concentrated: f64,
    /// Rental units known to the register.
    pub rental_units: f64,
}

impl Population {
    /// The count a basis reads.
    pub fn get(&self, basis: Basis) -> f64 {
        match basis {
            Basis::Persons => self.persons,
            Basis::PersonsConcentrated => self.persons_concentrated,
            Basis::PersonsDispersed => self.persons - self.persons_concentrated,
            Basis::RentalUnits => self.rental_units,
        }
    }

    fn add(&mut self, o: &Population) {
        self.persons += o.persons;
        self.persons_concentrated += o.persons_concentrated;
        self.rental_units += o.rental_units;
    }

    fn add_building(&mut self, kind: BuildingKind, s: &BuildingStats) {
        self.persons += f64::from(s.persons);
        if kind == BuildingKind::Dormitory {
            self.persons_concentrated += f64::from(s.persons);
        }
        self.rental_units += f64::from(s.rental_units);
    }
}

/// The population of every grid, indexed by grid id.
pub fn grid_populations(atlas: &Atlas) -> Vec<Population> {
    atlas
        .grids()
        .iter()
        .map(|g| {
            let mut p = Population::default();
            for &b in &g.buildings {
                if let (Some(bd), Some(s)) = (atlas.building(b), atlas.building_stats(b)) {
                    p.add_building(bd.kind, s);
                }
            }
            p
        })
        .collect()
}

/// Fractional caseworkers each grid needs under `rule` (no floor), indexed by grid id.
pub fn grid_requirements(atlas: &Atlas, rule: &StaffingRule) -> Vec<f64> {
    grid_populations(atlas).iter().map(|p| rule.ratio_requirement(p)).collect()
}

/// A level of the hierarchy a staffing row describes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceLevel {
    /// 网格.
    Grid,
    /// 社区/村.
    Community,
    /// 街道/镇.
    Street,
    /// 区.
    District,
}

/// Staffing of one place. For a leader, the figures computed from a population of fewer than 5
/// persons are null (small-count suppression).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffingRow {
    /// Which level.
    pub level: PlaceLevel,
    /// Grid code, community code, street code or district code.
    pub code: String,
    /// Name.
    pub name: String,
    /// What the ratios count there.
    pub population: Population,
    /// Fractional caseworkers the ratios ask for, before any floor.
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub ratio_required: f64,
    /// Fractional requirement after the community floor (summed over communities for streets).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub required: f64,
    /// `required` rounded up: the whole caseworkers the place needs.
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub required_rounded: u32,
    /// Caseworkers contracted there (fractional for grids and places a caseworker shares).
    pub assigned: f64,
    /// `required_rounded − assigned`: positive when short, negative when over.
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub gap: f64,
    /// Caseworkers to hire to close a positive gap (the gap rounded up; 0 when not short).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub to_hire: u32,
    /// Yearly cost of hiring them, yuan.
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub yearly_cost_yuan: f64,
}

/// Staffing of every grid, community, street and the district.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffingReport {
    /// The rule applied.
    pub rule: StaffingRule,
    /// One row per grid, by id.
    pub grids: Vec<StaffingRow>,
    /// One row per community, in the Atlas's order.
    pub communities: Vec<StaffingRow>,
    /// One row per street, in the Atlas's order.
    pub streets: Vec<StaffingRow>,
    /// The district's row.
    pub district: StaffingRow,
}

fn round_up(x: f64) -> u32 {
    (x - ROUND_TOLERANCE).ceil().max(0.0) as u32
}

/// Caseworkers assigned per grid: a caseworker with `n` grids counts `1/n` in each. Grid ids the
/// Atlas does not know are skipped.
pub fn assigned_per_grid(atlas: &Atlas, caseworkers: &[Caseworker]) -> Vec<f64> {
    let mut out = vec![0.0; atlas.grids().len()];
    for cw in caseworkers {
        let known: Vec<usize> = cw.grids.iter().map(|&g| g as usize).filter(|&g| g < out.len()).collect();
        for &g in &known {
            out[g] += 1.0 / known.len() as f64;
        }
    }
    out
}

/// Required, assigned, gap and cost for every place under `rule`.
pub fn staffing(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    rule: &StaffingRule,
) -> Result<StaffingReport, StaffingError> {
    rule.validate()?;
    let pops = grid_populations(atlas);
    let assigned = assigned_per_grid(atlas, caseworkers);
    let row = |level, code: &str, name: &str, population: Population, required: f64, assigned: f64| {
        let ratio_required = rule.ratio_requirement(&population);
        let required_rounded = round_up(required);
        let gap = f64::from(required_rounded) - assigned;
        let to_hire = round_up(gap);
        StaffingRow {
            level,
            code: code.to_owned(),
            name: name.to_owned(),
            population,
            ratio_required,
            required,
            required_rounded,
            assigned,
            gap,
            to_hire,
            yearly_cost_yuan: f64::from(to_hire) * rule.cost_per_caseworker_yuan,
        }
    };
    let sum_grids = |grids: &[u32]| {
        let mut p = Population::default();
        let mut a = 0.0;
        for &g in grids {
            p.add(&pops[g as usize]);
            a += assigned[g as usize];
        }
        (p, a)
    };
    let grids = atlas
        .grids()
        .iter()
        .map(|g| {
            let p = pops[g.grid.id as usize];
            row(
                PlaceLevel::Grid,
                &g.grid.code,
                &g.grid.name,
                p,
                rule.ratio_requirement(&p),
                assigned[g.grid.id as usize],
            )
        })
        .collect();
    let community_required: Vec<f64> = atlas
        .communities()
        .iter()
        .map(|c| rule.ratio_requirement(&sum_grids(&c.grids).0).max(f64::from(rule.min_per_community)))
        .collect();
    let communities = atlas
        .communities()
        .iter()
        .zip(&community_required)
        .map(|(c, &req)| {
            let (p, a) = sum_grids(&c.grids);
            row(PlaceLevel::Community, &c.community.code, &c.community.name, p, req, a)
        })
        .collect();
    let streets = atlas
        .streets()
        .iter()
        .map(|s| {
            let (p, a) = sum_grids(&s.grids);
            let req = s.communities.iter().map(|&c| community_required[c]).sum();
            row(PlaceLevel::Street, &s.street.code, &s.street.name, p, req, a)
        })
        .collect();
    let all: Vec<u32> = atlas.grids().iter().map(|g| g.grid.id).collect();
    let (p, a) = sum_grids(&all);
    let d = atlas.district();
    let district = row(PlaceLevel::District, &d.code, &d.name, p, community_required.iter().sum(), a);
    Ok(StaffingReport { rule: rule.clone(), grids, communities, streets, district })
}
