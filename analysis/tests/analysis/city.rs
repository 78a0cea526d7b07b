//! The statistics on the demo city: Atlas weights, grid metrics, hot spots on grids and on H3
//! hexagons, and kernel density of persons; every answer defined.

use rentgrid_analysis::density::KernelDensity;
use rentgrid_analysis::hexgrid::aggregate;
use rentgrid_analysis::hotspot::{GiOptions, gi_star};
use rentgrid_analysis::kpi::grid_counts;
use rentgrid_analysis::metrics::{Metric, RateGuard, complete_cases, grid_metrics};
use rentgrid_analysis::moran::{MoranOptions, local_moran};
use rentgrid_analysis::weights::{Weights, WeightsKind};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};

fn atlas() -> Atlas {
    let city = generate(&DemoOptions { scale: 0.1, ..Default::default() }, &mut |_, _| {}).unwrap();
    Atlas::build(AtlasInput::from_city(&city)).unwrap()
}

#[test]
fn the_demo_city_end_to_end() {
    let atlas = atlas();
    let rook = Weights::rook(&atlas);
    let queen = Weights::queen(&atlas);
    assert!(rook.is_symmetric() && queen.is_symmetric());
    for i in 0..rook.n() {
        let q = queen.neighbours(i);
        assert!(rook.neighbours(i).iter().all(|j| q.contains(j)), "queen ⊇ rook at {i}");
    }
    // Grids drawn along streets rarely meet at a corner only: Queen adds few links, if any.
    assert!(queen.describe().links >= rook.describe().links);
    assert_eq!(queen.describe().kind, WeightsKind::Queen);

    let metrics = grid_metrics(&atlas, &grid_counts(&atlas), &RateGuard::default());
    assert_eq!(metrics.len(), atlas.grids().len());
    let rates: Vec<Option<f64>> = metrics.iter().map(|m| m.value(Metric::RegRate)).collect();
    let (y, w, ids) = complete_cases(&rates, &rook).unwrap();
    assert_eq!(y.len(), ids.len());
    let g = gi_star(&y, &w, &GiOptions::default()).unwrap();
    assert!(g.z.iter().chain(&g.p).chain(&g.q).all(|v| v.is_finite()));
    let m = local_moran(&y, &w.row_standardised(), &MoranOptions::default()).unwrap();
    assert!(m.i.iter().chain(&m.p_sim).all(|v| v.is_finite()));

    // Persons per building, on H3 hexagons and as a kernel density.
    let points: Vec<(f64, f64, f64)> = atlas
        .buildings()
        .iter()
        .filter_map(|b| atlas.building_stats(b.id).map(|s| (b.point.x(), b.point.y(), f64::from(s.persons))))
        .collect();
    let hex = aggregate(&points, 8, 1).unwrap();
    let total: f64 = hex.values().iter().sum();
    assert!((total - points.iter().map(|p| p.2).sum::<f64>()).abs() < 1e-6);
    let hw = hex.weights().unwrap();
    let g = gi_star(&hex.values(), &hw, &GiOptions::default()).unwrap();
    assert!(g.bin.contains(&3), "persons cluster somewhere");
    let kd = KernelDensity::from_lonlat(&points, None).unwrap();
    assert!(kd.radius_m() > 50.0 && kd.radius_m() < 5000.0, "{}", kd.radius_m());
    let (x, y) = (points[0].0, points[0].1);
    assert!(kd.at_lonlat(x, y) > 0.0);
}
