//! Where the phone was when a field write was made (issue 16: "where the caseworker is"): the
//! position and accuracy the browser's geolocation gave, when its user allowed it. The distance
//! to the building's entrance is measured on the ellipsoid's great circle (haversine); a write
//! made farther than [`FAR_M`] away is accepted and flagged for the supervisor, never refused.

use crate::error::{AppError, AppResult};
pub use crate::store::field::FAR_M;
use crate::store::field::Fix;
use geo::{Distance, Haversine, Point};
use rentgrid_geodata::Atlas;
use serde::Deserialize;
use utoipa::ToSchema;

/// The most an accuracy may claim, metres (a fix worse than this says nothing of the building).
const MAX_ACCURACY_M: f64 = 10_000.0;

/// Where the phone was (WGS84), as the browser's geolocation gives it.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Longitude, degrees.
    lon: f64,
    /// Latitude, degrees.
    lat: f64,
    /// Accuracy (the radius of 95% confidence the browser reports), metres.
    accuracy_m: f64,
}

impl Position {
    /// The fix of a write about `building`: checked, with its distance to the entrance.
    pub fn fix(self, atlas: &Atlas, building: u32) -> AppResult<Fix> {
        let bad = |m: &str| Err(AppError::Unprocessable(format!("position: {m}")));
        if !(self.lon.is_finite() && (-180.0..=180.0).contains(&self.lon)) {
            return bad("lon must be a longitude from -180 to 180");
        }
        if !(self.lat.is_finite() && (-90.0..=90.0).contains(&self.lat)) {
            return bad("lat must be a latitude from -90 to 90");
        }
        if !(self.accuracy_m.is_finite() && (0.0..=MAX_ACCURACY_M).contains(&self.accuracy_m)) {
            return bad("accuracy_m must be from 0 to 10000 metres");
        }
        let entrance = atlas
            .building(building)
            .map(|b| b.point)
            .ok_or_else(|| AppError::NotFound(format!("building {building} does not exist")))?;
        let distance_m = Haversine.distance(Point::new(self.lon, self.lat), entrance);
        Ok(Fix { lon: self.lon, lat: self.lat, accuracy_m: self.accuracy_m, distance_m })
    }
}

/// The fix of an optional position.
pub fn fix_of(p: Option<Position>, atlas: &Atlas, building: u32) -> AppResult<Option<Fix>> {
    p.map(|p| p.fix(atlas, building)).transpose()
}
