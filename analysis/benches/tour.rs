//! Benchmarks of walking routes: the tour solver on the TSPLIB instances (52 to 1,002 stops,
//! default options) and a 1,000-building day on the demo city, distance matrix included.
//!
//! ```sh
//! cargo bench -p rentgrid-analysis --bench tour
//! ```
//!
//! `bench/tour.sh` compares the solver's gaps and times with OR-Tools on the same instances.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rentgrid_analysis::network::{NetworkOptions, WalkingNetwork};
use rentgrid_analysis::route::{RouteOptions, community_station, route_day_on};
use rentgrid_analysis::tour::{SolveOptions, solve};
use rentgrid_analysis::tsplib::Instance;
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};
use std::hint::black_box;
use std::time::Duration;

fn tour(c: &mut Criterion) {
    let mut g = c.benchmark_group("tsplib");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_millis(500));
    for name in ["berlin52", "kroA100", "kroA200", "a280", "pr1002"] {
        let path = format!("{}/tests/data/tsplib/{name}.tsp", env!("CARGO_MANIFEST_DIR"));
        let m = Instance::parse(&std::fs::read_to_string(path).unwrap()).unwrap().matrix().unwrap();
        g.bench_with_input(BenchmarkId::new("solve", name), &m, |b, m| {
            b.iter(|| black_box(solve(m, 0, &SolveOptions::default()).unwrap().length))
        });
    }
    g.finish();

    // The 1,000 buildings nearest to the station of the demo district's busiest community.
    let city = generate(&DemoOptions { scale: 1.0, ..Default::default() }, &mut |_, _| {}).unwrap();
    let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
    let busiest = (0..atlas.communities().len())
        .max_by_key(|&c| {
            atlas.communities()[c].grids.iter().map(|&g| atlas.grid(g).unwrap().buildings.len()).sum::<usize>()
        })
        .unwrap();
    let station = community_station(&atlas, busiest).unwrap();
    let buildings = atlas.nearest_buildings(station.x(), station.y(), 1000);
    let net = WalkingNetwork::from_atlas(&atlas);
    let mut points = vec![station];
    points.extend(buildings.iter().map(|&b| atlas.building(b).unwrap().point));
    let mut g = c.benchmark_group("demo_day_1000");
    g.sample_size(10).measurement_time(Duration::from_secs(10)).warm_up_time(Duration::from_millis(500));
    g.bench_function("network", |b| b.iter(|| black_box(WalkingNetwork::from_atlas(&atlas).junctions())));
    g.bench_function("distance_matrix", |b| {
        b.iter(|| black_box(net.distances(&points, &NetworkOptions::default()).unwrap().estimated_pairs()))
    });
    g.bench_function("route_day", |b| {
        b.iter(|| black_box(route_day_on(&net, &atlas, station, &buildings, &RouteOptions::default()).unwrap().total_m))
    });
    g.finish();
}

criterion_group!(benches, tour);
criterion_main!(benches);
