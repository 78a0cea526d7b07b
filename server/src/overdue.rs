//! Overdue visits (issue 16): the buildings with rental units that no one has visited for too
//! long — 30 days for concentrated housing (集中居住: group rentals, dormitories), 90 for the rest,
//! both configurable — each with the caseworkers whose grids hold it, the longest overdue first
//! (never visited before all). No HTTP or SQL here: the API reads the store and the contracts and
//! calls [`overdue`].

use crate::store::LastVisit;
use geo::Point;
use rentgrid_geodata::{Atlas, Caseworker, CaseworkerId, GridId};
use std::collections::BTreeMap;
use time::Date;

/// How long a building may go without a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Days, for a building with concentrated housing.
    pub concentrated_days: u32,
    /// Days, for any other building with rental units.
    pub days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { concentrated_days: 30, days: 90 }
    }
}

/// A building overdue for a visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Overdue {
    /// The building.
    pub building_id: u32,
    /// Its grid.
    pub grid_id: GridId,
    /// Its point (WGS84), where a map shows it.
    pub point: Point<f64>,
    /// The caseworkers whose grids hold it.
    pub caseworkers: Vec<CaseworkerId>,
    /// Its rental units.
    pub rental_units: u32,
    /// True when it holds concentrated housing (the shorter limit applies).
    pub concentrated: bool,
    /// Its last visit, if any.
    pub last_visit: Option<Date>,
    /// Days since then (`None`: never visited).
    pub days_since: Option<u32>,
    /// The limit that applies, days.
    pub limit_days: u32,
}

/// The buildings of `visits` in grids `sees` admits that are overdue on `today` under `limits`,
/// never-visited first, then the longest since their last visit, then by id.
pub fn overdue(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    visits: &[LastVisit],
    today: Date,
    limits: Limits,
    sees: impl Fn(GridId) -> bool,
) -> Vec<Overdue> {
    let mut holders: BTreeMap<GridId, Vec<CaseworkerId>> = BTreeMap::new();
    for c in caseworkers {
        for &g in &c.grids {
            holders.entry(g).or_default().push(c.id);
        }
    }
    let mut out: Vec<Overdue> = visits
        .iter()
        .filter(|v| v.rental_units > 0)
        .filter_map(|v| {
            let building = atlas.building(v.building_id)?;
            let grid_id = building.grid_id;
            if !sees(grid_id) {
                return None;
            }
            let concentrated = v.concentrated > 0;
            let limit_days = if concentrated { limits.concentrated_days } else { limits.days };
            let days_since = v.last.map(|d| u32::try_from((today - d).whole_days()).unwrap_or(0));
            if days_since.is_some_and(|n| n <= limit_days) {
                return None;
            }
            Some(Overdue {
                building_id: v.building_id,
                grid_id,
                point: building.point,
                caseworkers: holders.get(&grid_id).cloned().unwrap_or_default(),
                rental_units: v.rental_units,
                concentrated,
                last_visit: v.last,
                days_since,
                limit_days,
            })
        })
        .collect();
    out.sort_by_key(|o| (o.days_since.is_some(), std::cmp::Reverse(o.days_since), o.building_id));
    out
}
