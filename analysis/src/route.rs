//! A caseworker's day on foot: the order to visit a set of buildings, starting and ending at the
//! community station, walking along the streets ([`network`](crate::network)) in a near-optimal
//! order ([`tour`](crate::tour)). This is what a 蚕食法 sweep plan calls for each caseworker and day.
//!
//! The data model has no community station (工作站) yet: [`community_station`] stands in with a
//! point inside the community, the label point of its most central grid.

use crate::network::{NetworkError, NetworkOptions, WalkingNetwork};
use crate::tour::{SolveOptions, TourError, solve};
use geo::Point;
use rentgrid_geodata::Atlas;
use rentgrid_geodata::model::BuildingId;
use std::collections::HashSet;
use thiserror::Error;

/// What can be wrong with a day's route request.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RouteError {
    /// A building id the Atlas does not hold.
    #[error("building {0} is not in the atlas")]
    UnknownBuilding(BuildingId),
    /// A building listed twice: each is visited once.
    #[error("building {0} is listed twice")]
    DuplicateBuilding(BuildingId),
    /// The station or a building has no usable coordinates.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The tour solver refused the distances.
    #[error(transparent)]
    Tour(#[from] TourError),
}

/// Options of a day's route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteOptions {
    /// Distances.
    pub network: NetworkOptions,
    /// Tour search.
    pub solve: SolveOptions,
}

/// The walk of one caseworker on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Where the walk starts and ends.
    pub station: Point<f64>,
    /// The buildings in visiting order, each once.
    pub stops: Vec<BuildingId>,
    /// Metres of each leg: station → first building, …, last building → station
    /// (`stops.len() + 1` legs; none for an empty day).
    pub legs_m: Vec<f64>,
    /// Metres walked in all.
    pub total_m: f64,
    /// Metres of the nearest-neighbour walk from the station, the baseline (never shorter).
    pub nearest_neighbour_total_m: f64,
    /// Legs whose length is a straight-line estimate because the streets do not connect the
    /// two ends.
    pub estimated_legs: usize,
}

/// A stand-in for a community's station: the label point of the community's grid whose label
/// point is nearest to the mean of its grids' label points. `None` for an unknown index or a
/// community without grids.
pub fn community_station(atlas: &Atlas, community: usize) -> Option<Point<f64>> {
    let entry = atlas.communities().get(community)?;
    let points: Vec<Point<f64>> = entry.grids.iter().filter_map(|&g| atlas.grid(g)).map(|g| g.label_point).collect();
    if points.is_empty() {
        return None;
    }
    let k = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.x() / k, y + p.y() / k));
    points.into_iter().min_by(|a, b| {
        let da = (a.x() - mx).hypot(a.y() - my);
        let db = (b.x() - mx).hypot(b.y() - my);
        da.total_cmp(&db)
    })
}

/// The day's route through `buildings` from and back to `station`, on the Atlas's streets with
/// default options. Builds the walking network each call: a planner routing many days should
/// build one [`WalkingNetwork`] and call [`route_day_on`].
pub fn route_day(atlas: &Atlas, station: Point<f64>, buildings: &[BuildingId]) -> Result<Route, RouteError> {
    route_day_on(&WalkingNetwork::from_atlas(atlas), atlas, station, buildings, &RouteOptions::default())
}

/// The day's route through `buildings` from and back to `station` on a prepared network.
pub fn route_day_on(
    net: &WalkingNetwork,
    atlas: &Atlas,
    station: Point<f64>,
    buildings: &[BuildingId],
    opts: &RouteOptions,
) -> Result<Route, RouteError> {
    let mut seen = HashSet::with_capacity(buildings.len());
    let mut points = Vec::with_capacity(buildings.len() + 1);
    points.push(station);
    for &id in buildings {
        if !seen.insert(id) {
            return Err(RouteError::DuplicateBuilding(id));
        }
        points.push(atlas.building(id).ok_or(RouteError::UnknownBuilding(id))?.point);
    }
    let distances = net.distances(&points, &opts.network)?;
    if buildings.is_empty() {
        return Ok(Route {
            station,
            stops: vec![],
            legs_m: vec![],
            total_m: 0.0,
            nearest_neighbour_total_m: 0.0,
            estimated_legs: 0,
        });
    }
    let tour = solve(&distances.matrix, 0, &opts.solve)?;
    let mut order = tour.order.clone();
    order.push(0);
    let legs_m: Vec<f64> = order.windows(2).map(|w| distances.matrix.get(w[0], w[1])).collect();
    let estimated_legs = order.windows(2).filter(|w| distances.is_estimated(w[0], w[1])).count();
    Ok(Route {
        station,
        stops: tour.order[1..].iter().map(|&i| buildings[i - 1]).collect(),
        total_m: legs_m.iter().sum(),
        legs_m,
        nearest_neighbour_total_m: tour.nearest_neighbour_length,
        estimated_legs,
    })
}
