//! Quartic kernel density: its formula, its integral, ArcGIS's default radius, lon/lat input.

use rentgrid_analysis::density::{
    KernelDensity, MetreBox, WeightedPoint, default_radius_m, density_at, density_raster,
};
use std::f64::consts::PI;

fn pt(x: f64, y: f64, weight: f64) -> WeightedPoint {
    WeightedPoint { x, y, weight }
}

#[test]
fn one_point_gives_the_quartic_kernel() {
    let r = 500.0;
    let d = density_at(&[pt(0.0, 0.0, 2.0)], r, &[[0.0, 0.0], [250.0, 0.0], [0.0, 500.0], [600.0, 0.0]]).unwrap();
    let peak = 3.0 / PI * 2.0 / (r * r) * 1e6;
    assert!((d[0] - peak).abs() < 1e-9 * peak);
    assert!((d[1] - peak * 0.75f64.powi(2)).abs() < 1e-9 * peak);
    assert_eq!((d[2], d[3]), (0.0, 0.0));
}

#[test]
fn the_surface_integrates_to_the_total_weight() {
    let pts = [pt(0.0, 0.0, 1.0), pt(300.0, 100.0, 3.0), pt(-200.0, 400.0, 0.5)];
    let bbox = MetreBox { min_x: -1000.0, min_y: -1000.0, max_x: 1500.0, max_y: 1500.0 };
    let raster = density_raster(&pts, 400.0, bbox, 10.0).unwrap();
    assert_eq!((raster.cols, raster.rows), (250, 250));
    let cell_km2 = (10.0 * 10.0) / 1e6;
    let total: f64 = raster.values.iter().sum::<f64>() * cell_km2;
    assert!((total - 4.5).abs() < 0.01, "{total}");
    // Row 0 is the north edge.
    assert_eq!(raster.centre(0, 0), [-995.0, 1495.0]);
}

#[test]
fn default_radius_is_arcgis_silverman() {
    // Four points at distance 1 from their centre: SD = 1, median distance 1, n = 4:
    // r = 0.9 · min(1, √(1/ln 2)) · 4^(−0.2).
    let pts = [pt(1.0, 0.0, 1.0), pt(-1.0, 0.0, 1.0), pt(0.0, 1.0, 1.0), pt(0.0, -1.0, 1.0)];
    let r = default_radius_m(&pts).unwrap();
    assert!((r - 0.9 * 4f64.powf(-0.2)).abs() < 1e-12, "{r}");
    // Weights count as population: n is their sum.
    let heavy: Vec<_> = pts.iter().map(|p| pt(p.x, p.y, 2.0)).collect();
    assert!((default_radius_m(&heavy).unwrap() - 0.9 * 8f64.powf(-0.2)).abs() < 1e-12);
    // A cluster with one far point: the median distance (~140 m from the pulled centre), not SD
    // (~400 m, which would give ~230 m), sets the radius: ~95 m.
    let mut skewed: Vec<_> = (0..9).map(|i| pt(f64::from(i % 3), f64::from(i / 3), 1.0)).collect();
    skewed.push(pt(1000.0, 1000.0, 1.0));
    let r = default_radius_m(&skewed).unwrap();
    assert!((80.0..110.0).contains(&r), "{r}");
}

#[test]
fn no_default_radius_for_one_location_or_no_weight() {
    assert_eq!(default_radius_m(&[pt(5.0, 5.0, 1.0), pt(5.0, 5.0, 3.0)]), None);
    assert_eq!(default_radius_m(&[]), None);
    assert_eq!(default_radius_m(&[pt(0.0, 0.0, 0.0), pt(1.0, 0.0, 0.0)]), None);
    assert!(KernelDensity::new(&[pt(5.0, 5.0, 1.0)], None).is_err());
    assert!(KernelDensity::new(&[pt(5.0, 5.0, 1.0)], Some(100.0)).is_ok());
    assert!(KernelDensity::new(&[pt(5.0, 5.0, -1.0)], Some(100.0)).is_err());
    assert!(KernelDensity::new(&[pt(f64::NAN, 5.0, 1.0)], Some(100.0)).is_err());
    let kd = KernelDensity::new(&[pt(0.0, 0.0, 1.0)], Some(100.0)).unwrap();
    let too_many = MetreBox { min_x: 0.0, min_y: 0.0, max_x: 1e6, max_y: 1e6 };
    assert!(kd.raster(too_many, 1.0).is_err());
    assert!(kd.raster(too_many, 0.0).is_err());
}

#[test]
fn lon_lat_points_are_measured_in_metres() {
    // Two points 0.01° of longitude apart at 30°N: ~964 m. With a 1 km radius each reaches the
    // other's location, only just.
    let kd = KernelDensity::from_lonlat(&[(121.0, 30.0, 1.0), (121.01, 30.0, 1.0)], Some(1000.0)).unwrap();
    let alone = 3.0 / PI / 1e6 * 1e6;
    let at_first = kd.at_lonlat(121.0, 30.0);
    assert!(at_first > alone && at_first < alone * 1.01, "{at_first}");
    let kd = KernelDensity::from_lonlat(&[(121.0, 30.0, 1.0), (121.01, 30.0, 1.0)], Some(900.0)).unwrap();
    assert!((kd.at_lonlat(121.0, 30.0) - 3.0 / PI / 0.81).abs() < 1e-9);
    assert!(kd.projection().is_some());
}
