//! Web Mercator (EPSG:3857) tile maths: tile ids, their bounds, projection of WGS84 into a tile's
//! integer grid, and the tiles a box touches (for cache invalidation).

use crate::{Error, Result};
use geo::{Rect, coord};
use std::f64::consts::PI;

/// The deepest zoom a tile id may have.
pub const MAX_ZOOM: u8 = 24;
/// The latitude where Web Mercator's square world ends.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// A tile of the XYZ scheme (the one MapLibre and `/tiles/{z}/{x}/{y}` use): `y` grows southward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Zoom level.
    pub z: u8,
    /// Column, `0..2^z`, from the antimeridian eastward.
    pub x: u32,
    /// Row, `0..2^z`, from the north.
    pub y: u32,
}

impl TileId {
    /// A tile id, checked: `z <= MAX_ZOOM`, `x` and `y` below `2^z`.
    pub fn new(z: u8, x: u32, y: u32) -> Result<Self> {
        if z > MAX_ZOOM || u64::from(x) >= 1u64 << z || u64::from(y) >= 1u64 << z {
            return Err(Error::TileOutOfRange { z, x, y });
        }
        Ok(Self { z, x, y })
    }

    /// The tile's bounds in WGS84 longitude/latitude.
    pub fn bounds(&self) -> Rect<f64> {
        self.bounds_with_margin(0.0)
    }

    /// The tile's bounds grown by `margin`, a fraction of the tile's width (0.015625 is 64 of 4096).
    pub fn bounds_with_margin(&self, margin: f64) -> Rect<f64> {
        let n = 2f64.powi(i32::from(self.z));
        let (x0, x1) = (f64::from(self.x) - margin, f64::from(self.x) + 1.0 + margin);
        let (y0, y1) = (f64::from(self.y) - margin, f64::from(self.y) + 1.0 + margin);
        Rect::new(
            coord! { x: unit_x_to_lon(x0 / n), y: unit_y_to_lat(y1 / n) },
            coord! { x: unit_x_to_lon(x1 / n), y: unit_y_to_lat(y0 / n) },
        )
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Longitude → x of the unit square (0 at the antimeridian, 1 back at it).
fn lon_to_unit_x(lon: f64) -> f64 {
    (lon + 180.0) / 360.0
}

/// Latitude → y of the unit square (0 at the north edge, 1 at the south).
fn lat_to_unit_y(lat: f64) -> f64 {
    let phi = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / PI) / 2.0
}

fn unit_x_to_lon(x: f64) -> f64 {
    x * 360.0 - 180.0
}

fn unit_y_to_lat(y: f64) -> f64 {
    (PI * (1.0 - 2.0 * y)).sinh().atan().to_degrees()
}

/// Projects WGS84 into one tile's coordinates: `(0, 0)` at its north-west corner, `extent` at
/// the south-east, y downward, as MVT wants.
#[derive(Debug, Clone, Copy)]
pub struct TileProjection {
    scale: f64,
    x0: f64,
    y0: f64,
}

impl TileProjection {
    /// The projection into `tile` with `extent` units across.
    pub fn new(tile: TileId, extent: u32) -> Self {
        let scale = 2f64.powi(i32::from(tile.z)) * f64::from(extent);
        Self { scale, x0: f64::from(tile.x) * f64::from(extent), y0: f64::from(tile.y) * f64::from(extent) }
    }

    /// `(lon, lat)` in tile units (not rounded).
    pub fn project(&self, lon: f64, lat: f64) -> (f64, f64) {
        (lon_to_unit_x(lon) * self.scale - self.x0, lat_to_unit_y(lat) * self.scale - self.y0)
    }
}

/// A rectangle of tiles at one zoom, inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRange {
    /// Zoom.
    pub z: u8,
    /// Westmost column.
    pub min_x: u32,
    /// Northmost row.
    pub min_y: u32,
    /// Eastmost column.
    pub max_x: u32,
    /// Southmost row.
    pub max_y: u32,
}

impl TileRange {
    /// Whether `tile` is in the range.
    pub fn contains(&self, tile: TileId) -> bool {
        tile.z == self.z && (self.min_x..=self.max_x).contains(&tile.x) && (self.min_y..=self.max_y).contains(&tile.y)
    }

    /// How many tiles the range holds.
    pub fn len(&self) -> u64 {
        u64::from(self.max_x - self.min_x + 1) * u64::from(self.max_y - self.min_y + 1)
    }

    /// Never true: a range holds at least one tile.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The tiles of the range, row by row.
    pub fn tiles(&self) -> impl Iterator<Item = TileId> + '_ {
        (self.min_y..=self.max_y).flat_map(move |y| (self.min_x..=self.max_x).map(move |x| TileId { z: self.z, x, y }))
    }
}

/// The tiles at `z` that `bbox` (WGS84) meets once each tile is grown by `margin` (a fraction of
/// a tile's width): a feature in `bbox` may be drawn in all of them.
pub fn tiles_touching_at(bbox: Rect<f64>, z: u8, margin: f64) -> TileRange {
    let n = 2f64.powi(i32::from(z));
    let last = (n as u32).saturating_sub(1);
    let col = |v: f64| (v * n).floor().clamp(0.0, f64::from(last)) as u32;
    let (min, max) = (bbox.min(), bbox.max());
    let m = margin / n;
    TileRange {
        z,
        min_x: col(lon_to_unit_x(min.x) - m),
        max_x: col(lon_to_unit_x(max.x) + m),
        min_y: col(lat_to_unit_y(max.y) - m),
        max_y: col(lat_to_unit_y(min.y) + m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_round_trips_through_bounds() {
        let t = TileId::new(14, 13_723, 6_739).unwrap();
        let b = t.bounds();
        let p = TileProjection::new(t, 4096);
        let (x0, y0) = p.project(b.min().x, b.max().y);
        let (x1, y1) = p.project(b.max().x, b.min().y);
        assert!(x0.abs() < 1e-6 && y0.abs() < 1e-6, "{x0} {y0}");
        assert!((x1 - 4096.0).abs() < 1e-6 && (y1 - 4096.0).abs() < 1e-6, "{x1} {y1}");
    }

    #[test]
    fn a_point_lies_in_the_tile_that_touches_it() {
        let (lon, lat) = (121.546, 29.858);
        for z in 0..=18 {
            let r = tiles_touching_at(Rect::new(coord! {x: lon, y: lat}, coord! {x: lon, y: lat}), z, 0.0);
            assert_eq!(r.len(), 1);
            let t = r.tiles().next().unwrap();
            let b = t.bounds();
            assert!(b.min().x <= lon && lon <= b.max().x && b.min().y <= lat && lat <= b.max().y, "z{z}");
        }
        // z0 is the whole world; known tile of Ningbo at z10.
        assert_eq!(tiles_touching_at(Rect::new(coord! {x: lon, y: lat}, coord! {x: lon, y: lat}), 10, 0.0).min_x, 857);
    }

    #[test]
    fn out_of_range_ids_are_errors() {
        assert!(TileId::new(2, 4, 0).is_err());
        assert!(TileId::new(25, 0, 0).is_err());
        assert!(TileId::new(0, 0, 0).is_ok());
    }
}
