//! Benchmarks of the hot-spot statistics: spatial weights, Gi\* and Local Moran's I with 999
//! permutations, on the scale-1 demo district (~1,000 grids, Rook weights from its Atlas), a
//! 141 × 142 lattice (20,022 cells) and a 1000 × 1000 lattice (1,000,000 cells), Rook weights.
//! Weights also: Queen of the demo grids, k-nearest and distance band on 20,000 random lon/lat points.
//!
//! ```sh
//! cargo bench -p rentgrid-analysis --bench hotspot
//! RENTGRID_BENCH_SIZES=demo,20k cargo bench -p rentgrid-analysis --bench hotspot   # skip 1M
//! ```
//!
//! `bench/hotspot.py` runs esda on the same inputs and prints the ratios.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/inputs.rs"]
mod inputs;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::hotspot::{GiOptions, gi_star};
use rentgrid_analysis::moran::{MoranOptions, local_moran};
use rentgrid_analysis::weights::Weights;
use std::hint::black_box;
use std::time::Duration;

fn sizes() -> Vec<String> {
    std::env::var("RENTGRID_BENCH_SIZES")
        .unwrap_or_else(|_| "demo,20k,1m".into())
        .split(',')
        .map(String::from)
        .collect()
}

fn hotspot(c: &mut Criterion) {
    let mut inputs = Vec::new();
    let mut weights = c.benchmark_group("weights");
    weights.sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for size in sizes() {
        match size.as_str() {
            "demo" => {
                let (input, atlas) = inputs::demo();
                weights.bench_function("rook/demo", |b| b.iter(|| Weights::rook(black_box(&atlas))));
                weights.bench_function("queen/demo", |b| b.iter(|| Weights::queen(black_box(&atlas))));
                inputs.push(input);
            }
            "20k" => {
                weights.bench_function("lattice_rook/20k", |b| b.iter(|| Weights::lattice(141, 142)));
                let mut rng = ChaCha8Rng::seed_from_u64(5);
                let pts: Vec<(f64, f64)> =
                    (0..20_000).map(|_| (rng.random_range(121.4..121.6), rng.random_range(29.8..29.95))).collect();
                weights.bench_function("knn6/20k", |b| b.iter(|| Weights::knn_lonlat(black_box(&pts), 6).unwrap()));
                weights.bench_function("band300m/20k", |b| {
                    b.iter(|| Weights::distance_band_lonlat(black_box(&pts), 300.0).unwrap())
                });
                let w = Weights::lattice(141, 142);
                weights.bench_function("row_standardise/20k", |b| b.iter(|| w.row_standardised()));
                inputs.push(inputs::lattice("20k", 141, 142));
            }
            "1m" => {
                weights.bench_function("lattice_rook/1m", |b| b.iter(|| Weights::lattice(1000, 1000)));
                inputs.push(inputs::lattice("1m", 1000, 1000));
            }
            other => panic!("unknown size {other}: use demo, 20k, 1m"),
        }
    }
    weights.finish();

    let mut gi = c.benchmark_group("gi_star");
    gi.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    for input in &inputs {
        gi.bench_with_input(BenchmarkId::from_parameter(input.name), input, |b, i| {
            b.iter(|| gi_star(&i.y, &i.w, &GiOptions::default()).unwrap())
        });
    }
    gi.finish();

    let mut moran = c.benchmark_group("local_moran_999");
    moran.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_millis(500));
    for input in &inputs {
        let w = input.w.row_standardised();
        moran.measurement_time(Duration::from_secs(if input.y.len() > 100_000 { 60 } else { 5 }));
        moran.bench_with_input(BenchmarkId::from_parameter(input.name), input, |b, i| {
            b.iter(|| local_moran(&i.y, &w, &MoranOptions::default()).unwrap())
        });
    }
    moran.finish();
}

criterion_group!(benches, hotspot);
criterion_main!(benches);
