//! Per-grid metrics, the values hot-spot maps are drawn from: counts, densities per km²
//! (geodesic areas) and KPI rates with a small-number guard.
//!
//! A rate is `None` when its denominator is below [`RateGuard::min_denominator`]: an empty grid
//! is not a 0% grid, and a grid with 2 persons is not a 50% grid to rank against one with 500.
//! A density is `None` when the grid has no area. Hot-spot statistics need a value at every
//! site: [`complete_cases`] keeps the grids whose value is defined and the weights among them.

use crate::error::{StatsResult, check_len};
use crate::kpi::Counts;
use crate::weights::Weights;
use rentgrid_geodata::Atlas;
use serde::{Deserialize, Serialize};

/// The small-number guard of rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateGuard {
    /// The smallest denominator a rate is computed from (5 by default).
    pub min_denominator: u32,
}

impl Default for RateGuard {
    /// Rates from 5 or more.
    fn default() -> Self {
        Self { min_denominator: 5 }
    }
}

impl RateGuard {
    /// `num / den`, or `None` below the guard (and always at 0).
    pub fn rate(&self, num: u32, den: u32) -> Option<f64> {
        (den > 0 && den >= self.min_denominator).then(|| f64::from(num) / f64::from(den))
    }
}

/// The metrics of one grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GridMetrics {
    /// Grid id.
    pub grid_id: u32,
    /// Geodesic area in km².
    pub area_km2: f64,
    /// Persons recorded.
    pub persons: u32,
    /// Rental units recorded.
    pub rental_units: u32,
    /// Estimate of unregistered persons: recorded by visits and sweeps but not registered
    /// (未登记). Persons no visit has reached are not in it.
    pub unregistered_persons: u32,
    /// Rental units recorded but not registered (未备案).
    pub unregistered_rental_units: u32,
    /// Persons per km².
    pub persons_per_km2: Option<f64>,
    /// Rental units per km².
    pub rental_units_per_km2: Option<f64>,
    /// Unregistered persons per km².
    pub unregistered_per_km2: Option<f64>,
    /// 流动人口登记率, guarded.
    pub reg_rate: Option<f64>,
    /// 登记做证率, guarded.
    pub permit_rate: Option<f64>,
    /// 出租房屋登记率, guarded.
    pub rental_rate: Option<f64>,
    /// 人户一致率, guarded.
    pub consistency_rate: Option<f64>,
    /// 治安责任保证书签订率, guarded.
    pub pledge_rate: Option<f64>,
}

/// Which metric to map.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Persons recorded.
    Persons,
    /// Rental units recorded.
    RentalUnits,
    /// Unregistered persons.
    UnregisteredPersons,
    /// Unregistered rental units.
    UnregisteredRentalUnits,
    /// Persons per km².
    PersonsPerKm2,
    /// Rental units per km².
    RentalUnitsPerKm2,
    /// Unregistered persons per km².
    UnregisteredPerKm2,
    /// Registration rate.
    RegRate,
    /// Permit rate.
    PermitRate,
    /// Rental registration rate.
    RentalRate,
    /// Person-household consistency.
    ConsistencyRate,
    /// Landlord pledge rate.
    PledgeRate,
}

impl Metric {
    /// Every metric, in a fixed order.
    pub const ALL: [Metric; 12] = [
        Metric::Persons,
        Metric::RentalUnits,
        Metric::UnregisteredPersons,
        Metric::UnregisteredRentalUnits,
        Metric::PersonsPerKm2,
        Metric::RentalUnitsPerKm2,
        Metric::UnregisteredPerKm2,
        Metric::RegRate,
        Metric::PermitRate,
        Metric::RentalRate,
        Metric::ConsistencyRate,
        Metric::PledgeRate,
    ];

    /// The snake_case name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Persons => "persons",
            Metric::RentalUnits => "rental_units",
            Metric::UnregisteredPersons => "unregistered_persons",
            Metric::UnregisteredRentalUnits => "unregistered_rental_units",
            Metric::PersonsPerKm2 => "persons_per_km2",
            Metric::RentalUnitsPerKm2 => "rental_units_per_km2",
            Metric::UnregisteredPerKm2 => "unregistered_per_km2",
            Metric::RegRate => "reg_rate",
            Metric::PermitRate => "permit_rate",
            Metric::RentalRate => "rental_rate",
            Metric::ConsistencyRate => "consistency_rate",
            Metric::PledgeRate => "pledge_rate",
        }
    }

    /// True for the guarded KPI rates (values in 0–1).
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            Metric::RegRate | Metric::PermitRate | Metric::RentalRate | Metric::ConsistencyRate | Metric::PledgeRate
        )
    }
}

impl std::str::FromStr for Metric {
    type Err = String;

    /// Parses [`Metric::as_str`]; the error lists the choices.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
            format!("unknown metric {s:?}: use one of {}", names.join(", "))
        })
    }
}

impl GridMetrics {
    /// Metrics from a grid's counts.
    pub fn from_counts(grid_id: u32, c: &Counts, guard: &RateGuard) -> Self {
        let s = &c.stats;
        let density = |n: u32| (c.area_km2 > 0.0).then(|| f64::from(n) / c.area_km2);
        let unregistered_persons = s.persons.saturating_sub(s.persons_registered);
        Self {
            grid_id,
            area_km2: c.area_km2,
            persons: s.persons,
            rental_units: s.rental_units,
            unregistered_persons,
            unregistered_rental_units: s.rental_units.saturating_sub(s.rental_units_registered),
            persons_per_km2: density(s.persons),
            rental_units_per_km2: density(s.rental_units),
            unregistered_per_km2: density(unregistered_persons),
            reg_rate: guard.rate(s.persons_registered, s.persons),
            permit_rate: guard.rate(s.persons_with_permit, s.persons),
            rental_rate: guard.rate(s.rental_units_registered, s.rental_units),
            consistency_rate: guard.rate(s.persons_consistent, s.persons_registered),
            pledge_rate: guard.rate(s.pledges_signed, s.rental_units_registered),
        }
    }

    /// The value of one metric (`None` where undefined).
    pub fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Persons => Some(f64::from(self.persons)),
            Metric::RentalUnits => Some(f64::from(self.rental_units)),
            Metric::UnregisteredPersons => Some(f64::from(self.unregistered_persons)),
            Metric::UnregisteredRentalUnits => Some(f64::from(self.unregistered_rental_units)),
            Metric::PersonsPerKm2 => self.persons_per_km2,
            Metric::RentalUnitsPerKm2 => self.rental_units_per_km2,
            Metric::UnregisteredPerKm2 => self.unregistered_per_km2,
            Metric::RegRate => self.reg_rate,
            Metric::PermitRate => self.permit_rate,
            Metric::RentalRate => self.rental_rate,
            Metric::ConsistencyRate => self.consistency_rate,
            Metric::PledgeRate => self.pledge_rate,
        }
    }
}

/// Metrics of every grid of the Atlas, by grid id, from its [`crate::kpi::grid_counts`].
pub fn grid_metrics(atlas: &Atlas, grid_counts: &[Counts], guard: &RateGuard) -> Vec<GridMetrics> {
    atlas
        .grids()
        .iter()
        .filter_map(|g| grid_counts.get(g.grid.id as usize).map(|c| GridMetrics::from_counts(g.grid.id, c, guard)))
        .collect()
}

/// The defined values, the weights among their sites (transform kept) and the sites' ids in `w`.
pub fn complete_cases(values: &[Option<f64>], w: &Weights) -> StatsResult<(Vec<f64>, Weights, Vec<u32>)> {
    check_len("values", w.n(), values.len())?;
    let keep: Vec<bool> = values.iter().map(Option::is_some).collect();
    let (sub, ids) = w.subset(&keep)?;
    Ok((values.iter().flatten().copied().collect(), sub, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rentgrid_geodata::BuildingStats;

    #[test]
    fn small_and_empty_grids_have_no_rate() {
        let guard = RateGuard::default();
        let empty = GridMetrics::from_counts(0, &Counts { area_km2: 1.0, ..Counts::default() }, &guard);
        assert_eq!((empty.reg_rate, empty.persons_per_km2), (None, Some(0.0)));
        let stats = BuildingStats { persons: 4, persons_registered: 2, ..BuildingStats::default() };
        let few = GridMetrics::from_counts(1, &Counts { area_km2: 0.5, stats, buildings: 1 }, &guard);
        assert_eq!(few.reg_rate, None);
        assert_eq!(few.unregistered_persons, 2);
        assert_eq!(few.value(Metric::UnregisteredPerKm2), Some(4.0));
        assert_eq!(RateGuard { min_denominator: 1 }.rate(2, 4), Some(0.5));
        let no_area = GridMetrics::from_counts(2, &Counts::default(), &guard);
        assert_eq!(no_area.persons_per_km2, None);
    }

    #[test]
    fn complete_cases_drops_undefined_sites() {
        let w = Weights::lattice(1, 3);
        let (y, sub, ids) = complete_cases(&[Some(1.0), None, Some(3.0)], &w).unwrap();
        assert_eq!((y, ids, sub.islands()), (vec![1.0, 3.0], vec![0, 2], 2));
    }
}
