//! Coordinate reference systems met in Chinese data and their conversion to WGS84.
//!
//! - WGS84 (EPSG:4326): what rentgrid stores and serves (GeoJSON, RFC 7946).
//! - CGCS2000: China's official datum; within centimetres of WGS84, taken as equal.
//! - GCJ-02 ("Mars coordinates"): the obfuscated system of AMap (高德) and Tencent map pickers.
//! - BD-09: Baidu's system, a further rotation of GCJ-02.
//!
//! The GCJ-02 forward transform is the published algorithm; its inverse has no closed form and
//! is found by fixed-point iteration to well under a millimetre.

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A coordinate system an input may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Crs {
    /// WGS84 longitude/latitude (EPSG:4326).
    Wgs84,
    /// CGCS2000 longitude/latitude, treated as WGS84.
    Cgcs2000,
    /// GCJ-02, as used by AMap and Tencent.
    #[serde(rename = "GCJ-02")]
    Gcj02,
    /// BD-09, as used by Baidu.
    #[serde(rename = "BD-09")]
    Bd09,
}

impl Crs {
    /// Converts `(lon, lat)` in this system to WGS84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 | Crs::Cgcs2000 => (lon, lat),
            Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
            Crs::Bd09 => {
                let (glon, glat) = bd09_to_gcj02(lon, lat);
                gcj02_to_wgs84(glon, glat)
            }
        }
    }
}

impl std::str::FromStr for Crs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().replace(['-', '_'], "").as_str() {
            "WGS84" | "EPSG4326" => Ok(Crs::Wgs84),
            "CGCS2000" | "EPSG4490" => Ok(Crs::Cgcs2000),
            "GCJ02" => Ok(Crs::Gcj02),
            "BD09" | "BD09LL" => Ok(Crs::Bd09),
            _ => Err(format!("unknown coordinate system {s:?}: use WGS84, CGCS2000, GCJ-02 or BD-09")),
        }
    }
}

const A: f64 = 6_378_245.0;
const EE: f64 = 0.006_693_421_622_965_943;

/// False outside mainland China's rough box, where GCJ-02 equals WGS84 by definition.
fn in_china(lon: f64, lat: f64) -> bool {
    (72.004..=137.8347).contains(&lon) && (0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS84 → GCJ-02 (the published forward transform).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !in_china(lon, lat) {
        return (lon, lat);
    }
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - EE * radlat.sin() * radlat.sin();
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let dlon = (dlon * 180.0) / (A / sqrt_magic * radlat.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS84 by fixed-point iteration on the forward transform (converges to ~1e-12°).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..30 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (dlon, dlat) = (glon - lon, glat - lat);
        wlon -= dlon;
        wlat -= dlat;
        if dlon.abs() < 1e-12 && dlat.abs() < 1e-12 {
            break;
        }
    }
    (wlon, wlat)
}

const X_PI: f64 = PI * 3000.0 / 180.0;

/// True for a longitude/latitude pair (finite, within ±180° and ±90°): BD-09 is defined on the
/// globe only, and its conversions leave anything else as it is (beyond about 1e306 its
/// arithmetic overflows to NaN).
fn on_globe(lon: f64, lat: f64) -> bool {
    (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

/// BD-09 → GCJ-02.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !on_globe(lon, lat) {
        return (lon, lat);
    }
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    (z * theta.cos(), z * theta.sin())
}

/// GCJ-02 → BD-09.
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    if !on_globe(lon, lat) {
        return (lon, lat);
    }
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// An equirectangular projection to metres around a reference point, for local metric work
/// (a district spans tens of kilometres: the scale error stays under 0.1%).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalProjection {
    lon0: f64,
    lat0: f64,
    mx: f64,
    my: f64,
}

impl LocalProjection {
    /// A projection centred on `(lon0, lat0)`.
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let phi = lat0.to_radians();
        // Metres per degree on the WGS84 ellipsoid at this latitude.
        let my = 111_132.954 - 559.822 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos();
        let mx = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos();
        Self { lon0, lat0, mx, my }
    }

    /// Longitude/latitude → metres east and north of the centre.
    pub fn forward(&self, lon: f64, lat: f64) -> (f64, f64) {
        ((lon - self.lon0) * self.mx, (lat - self.lat0) * self.my)
    }

    /// Metres east and north of the centre → longitude/latitude.
    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        (self.lon0 + x / self.mx, self.lat0 + y / self.my)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in metres between two nearby lon/lat points.
    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let p = LocalProjection::new(a.0, a.1);
        let (x, y) = p.forward(b.0, b.1);
        x.hypot(y)
    }

    #[test]
    fn gcj02_offset_in_ningbo_is_a_few_hundred_metres() {
        let wgs = (121.55, 29.87);
        let gcj = wgs84_to_gcj02(wgs.0, wgs.1);
        let d = metres(wgs, gcj);
        assert!((300.0..700.0).contains(&d), "offset {d} m");
    }

    #[test]
    fn gcj02_inverse_is_exact_to_a_hundredth_of_a_millimetre() {
        let mut worst: f64 = 0.0;
        for i in 0..50 {
            for j in 0..50 {
                let wgs = (73.0 + i as f64 * 1.28, 18.0 + j as f64 * 0.7);
                let back = gcj02_to_wgs84(wgs84_to_gcj02(wgs.0, wgs.1).0, wgs84_to_gcj02(wgs.0, wgs.1).1);
                worst = worst.max(metres(wgs, back));
            }
        }
        assert!(worst < 1e-5, "worst round trip error {worst} m");
    }

    #[test]
    fn bd09_round_trips() {
        let gcj = (121.5534, 29.8712);
        let bd = gcj02_to_bd09(gcj.0, gcj.1);
        assert!(metres(gcj, bd) > 100.0);
        let back = bd09_to_gcj02(bd.0, bd.1);
        assert!(metres(gcj, back) < 0.5, "{}", metres(gcj, back));
    }

    #[test]
    fn outside_china_gcj02_is_wgs84() {
        assert_eq!(wgs84_to_gcj02(2.35, 48.85), (2.35, 48.85));
    }

    #[test]
    fn names_parse() {
        assert_eq!("gcj-02".parse::<Crs>().unwrap(), Crs::Gcj02);
        assert_eq!("BD09".parse::<Crs>().unwrap(), Crs::Bd09);
        assert!("UTM".parse::<Crs>().is_err());
    }

    #[test]
    fn local_projection_round_trips() {
        let p = LocalProjection::new(121.4, 29.85);
        let (x, y) = p.forward(121.55, 29.9);
        let (lon, lat) = p.inverse(x, y);
        assert!((lon - 121.55).abs() < 1e-12 && (lat - 29.9).abs() < 1e-12);
        assert!((x - 14_500.0).abs() < 100.0, "{x}");
    }
}
