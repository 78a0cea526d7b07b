//! Benchmarks of the Atlas, the in-memory R-tree snapshot of a district, on the demo city.
//!
//! For each scale of the demo city (海曙区, default seed) it measures:
//!
//! - `atlas_build/scale/<s>`: `Atlas::build(AtlasInput::from_city(&city))` — bulk-loaded R-trees,
//!   the street/community/grid hierarchy, geodesic grid areas and label points, and Rook
//!   adjacency. The input is cloned for every iteration outside the timed region, and the built
//!   Atlas is dropped outside it too.
//! - `grid_at/scale/<s>`: `atlas.grid_at(lon, lat)` over 10,000 fixed random points (ChaCha8,
//!   fixed seed) inside the district's bounding box, so some fall outside the district and find
//!   no grid; criterion reports the throughput in lookups (elements) per second.
//!
//! Each city is generated once per process, before its measurements; its size (grids,
//! buildings, rental units), the hit rate of the lookup points and the process's peak resident
//! memory (`VmHWM`) after building the Atlas are printed to stderr.
//!
//! Run it (release build; scale 20 takes a minute or two to generate and a few GB of memory):
//!
//! ```sh
//! cargo bench -p rentgrid-geodata --bench atlas
//! RENTGRID_BENCH_SCALES=1 cargo bench -p rentgrid-geodata --bench atlas   # quick: scale 1 only
//! ```
//!
//! `RENTGRID_BENCH_SCALES` is a comma-separated list of scales (default `1,20`).

#![allow(clippy::expect_used)]

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Scales measured unless `RENTGRID_BENCH_SCALES` says otherwise.
const DEFAULT_SCALES: &str = "1,20";
/// How many lookup points per iteration of `grid_at`.
const LOOKUPS: usize = 10_000;
/// Seed of the lookup points.
const POINTS_SEED: u64 = 0x5EED_A71A5;

/// The scales to measure, as written (for benchmark ids) and parsed.
fn scales() -> Vec<(String, f64)> {
    let spec = std::env::var("RENTGRID_BENCH_SCALES").unwrap_or_else(|_| DEFAULT_SCALES.to_owned());
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| (s.to_owned(), s.parse::<f64>().expect("RENTGRID_BENCH_SCALES: comma-separated numbers")))
        .collect()
}

/// The process's peak resident set size (`VmHWM`), as `/proc/self/status` gives it.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned())))
        .map(|v| match v.strip_suffix(" kB").and_then(|kb| kb.trim().parse::<f64>().ok()) {
            Some(kb) => format!("{:.2} GiB ({v})", kb / 1024.0 / 1024.0),
            None => v,
        })
        .unwrap_or_else(|| "unavailable".to_owned())
}

fn atlas(c: &mut Criterion) {
    for (label, scale) in scales() {
        let t = Instant::now();
        let city = generate(&DemoOptions { scale, ..Default::default() }, &mut |_stage, _fraction| {})
            .expect("demo city generates");
        let generated = t.elapsed();
        let input = AtlasInput::from_city(&city);
        let t = Instant::now();
        let atlas = Atlas::build(input.clone()).expect("Atlas builds from the demo city");
        let first_build = t.elapsed();
        eprintln!(
            "[atlas bench] scale {label}: {} grids, {} buildings, {} rental units; generated in {:.1?}, \
             first Atlas build {:.2?}; peak RSS after building the Atlas: {}",
            city.grids.len(),
            city.buildings.len(),
            city.rental_units.len(),
            generated,
            first_build,
            peak_rss(),
        );
        // The benchmarks need only the input and one Atlas.
        drop(city);

        // Build: few, slow iterations. About 12 builds' worth of measurement gives 1–2 builds
        // per sample at 10 samples, without criterion asking for more time.
        let mut group = c.benchmark_group("atlas_build");
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(first_build.mul_f64(12.0).max(Duration::from_secs(5)));
        group.bench_with_input(BenchmarkId::new("scale", &label), &input, |b, input| {
            b.iter_batched(
                || input.clone(),
                |input| Atlas::build(input).expect("Atlas builds from the demo city"),
                BatchSize::LargeInput,
            );
        });
        group.finish();
        drop(input);

        // Point-in-grid lookups over fixed random points in the district's bounding box.
        let bbox = atlas.bbox();
        let mut rng = ChaCha8Rng::seed_from_u64(POINTS_SEED);
        let points: Vec<(f64, f64)> = (0..LOOKUPS)
            .map(|_| (rng.random_range(bbox.min().x..bbox.max().x), rng.random_range(bbox.min().y..bbox.max().y)))
            .collect();
        let hits = points.iter().filter(|&&(lon, lat)| atlas.grid_at(lon, lat).is_some()).count();
        eprintln!(
            "[atlas bench] scale {label}: {hits} of {LOOKUPS} lookup points ({:.1}%) fall in a grid",
            100.0 * hits as f64 / LOOKUPS as f64
        );
        let mut group = c.benchmark_group("grid_at");
        group.throughput(Throughput::Elements(LOOKUPS as u64));
        group.bench_with_input(BenchmarkId::new("scale", &label), &points, |b, points| {
            b.iter(|| {
                points
                    .iter()
                    .map(|&(lon, lat)| atlas.grid_at(black_box(lon), black_box(lat)).map_or(0u64, u64::from))
                    .sum::<u64>()
            });
        });
        group.finish();
        eprintln!("[atlas bench] scale {label}: peak RSS after its benchmarks: {}", peak_rss());
    }
}

criterion_group!(benches, atlas);
criterion_main!(benches);
