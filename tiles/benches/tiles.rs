//! Benchmarks of tile building on the demo city.
//!
//! For each scale of the demo city (海曙区, default seed) and each zoom from 10 to 16 it measures
//! `tiles/scale/<s>/z<z>`: building every layer's tile ([`Layer::ALL`]) for a fixed sample of
//! tiles at that zoom: the tile over the old city centre (the densest) and tiles over buildings
//! picked at random (ChaCha8, fixed seed). Criterion reports throughput in tiles (one layer's
//! tile each) per second.
//!
//! Before measuring, one untimed pass over the same tiles prints to stderr, per zoom, the
//! largest tile in bytes and in features and which layer and tile it was; and the time the
//! derived map geometry (`MapGeometry::derive`) took.
//!
//! Run it (release build):
//!
//! ```sh
//! cargo bench -p rentgrid-tiles --bench tiles
//! RENTGRID_BENCH_SCALES=0.3 cargo bench -p rentgrid-tiles --bench tiles   # quick
//! ```
//!
//! `RENTGRID_BENCH_SCALES` is a comma-separated list of scales (default `1`).

#![allow(clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::kpi::{Targets, grid_counts};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};
use rentgrid_tiles::tile::tiles_touching_at;
use rentgrid_tiles::{Layer, MapGeometry, TileId, TileOptions, TileSources, build_tile};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Scales measured unless `RENTGRID_BENCH_SCALES` says otherwise.
const DEFAULT_SCALES: &str = "1";
/// Random building tiles per zoom, besides the centre's.
const RANDOM_TILES: usize = 7;
/// Seed of the random tiles.
const TILES_SEED: u64 = 0x711E5;
/// The old city centre (月湖).
const CORE: (f64, f64) = (121.541, 29.870);

/// The scales to measure, as written (for benchmark ids) and parsed.
fn scales() -> Vec<(String, f64)> {
    let spec = std::env::var("RENTGRID_BENCH_SCALES").unwrap_or_else(|_| DEFAULT_SCALES.to_owned());
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| (s.to_owned(), s.parse::<f64>().expect("RENTGRID_BENCH_SCALES: comma-separated numbers")))
        .collect()
}

fn tile_at(lon: f64, lat: f64, z: u8) -> TileId {
    let p = geo::Rect::new(geo::coord! { x: lon, y: lat }, geo::coord! { x: lon, y: lat });
    tiles_touching_at(p, z, 0.0).tiles().next().expect("a point lies in one tile")
}

fn tiles(c: &mut Criterion) {
    let opts = TileOptions::default();
    let targets = Targets::default();
    for (label, scale) in scales() {
        let city = generate(&DemoOptions { scale, ..Default::default() }, &mut |_, _| {}).expect("demo city generates");
        let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("Atlas builds");
        drop(city);
        let counts = grid_counts(&atlas);
        let t = Instant::now();
        let map = MapGeometry::derive(&atlas);
        eprintln!(
            "[tiles bench] scale {label}: {} grids, {} buildings; MapGeometry::derive {:.2?}",
            atlas.grids().len(),
            atlas.buildings().len(),
            t.elapsed()
        );
        let src = TileSources {
            atlas: &atlas,
            grid_counts: &counts,
            targets: &targets,
            map: &map,
            visible: None,
            heat: None,
            suppress_small_counts: false,
            unrecorded: None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(TILES_SEED);
        let n = atlas.buildings().len() as u32;
        let mut group = c.benchmark_group(format!("tiles/scale/{label}"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
        for z in 10u8..=16 {
            let mut sample = vec![tile_at(CORE.0, CORE.1, z)];
            for _ in 0..RANDOM_TILES {
                let b = atlas.building(rng.random_range(0..n)).expect("building");
                sample.push(tile_at(b.point.x(), b.point.y(), z));
            }
            let (mut bytes, mut features) = ((0usize, String::new()), (0usize, String::new()));
            let t = Instant::now();
            for &tile in &sample {
                for layer in Layer::ALL {
                    let Some(b) = build_tile(&src, layer, tile, &opts).expect("tile builds") else { continue };
                    if b.len() > bytes.0 {
                        bytes = (b.len(), format!("{layer} {tile}"));
                    }
                    let f = count_features(&b);
                    if f > features.0 {
                        features = (f, format!("{layer} {tile}"));
                    }
                }
            }
            eprintln!(
                "[tiles bench] scale {label} z{z}: {} tiles × {} layers in {:.2?}; largest {} B ({}), most features {} ({})",
                sample.len(),
                Layer::ALL.len(),
                t.elapsed(),
                bytes.0,
                bytes.1,
                features.0,
                features.1
            );
            group.throughput(Throughput::Elements((sample.len() * Layer::ALL.len()) as u64));
            group.bench_with_input(BenchmarkId::new("z", z), &sample, |b, sample| {
                b.iter(|| {
                    let mut total = 0usize;
                    for &tile in sample {
                        for layer in Layer::ALL {
                            let t = build_tile(&src, layer, black_box(tile), &opts).expect("tile builds");
                            total += t.map_or(0, |t| t.len());
                        }
                    }
                    total
                });
            });
        }
        group.finish();
    }
}

/// Features in an encoded tile: the count of `features` fields (2) in each `layers` field (3).
fn count_features(tile: &[u8]) -> usize {
    fn varint(b: &[u8], i: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        while let Some(&byte) = b.get(*i) {
            *i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
            shift += 7;
        }
        v
    }
    fn fields(b: &[u8], mut each: impl FnMut(u64, &[u8])) {
        let mut i = 0;
        while i < b.len() {
            let key = varint(b, &mut i);
            match key & 7 {
                0 => {
                    varint(b, &mut i);
                }
                1 => i += 8,
                5 => i += 4,
                _ => {
                    let n = varint(b, &mut i) as usize;
                    each(key >> 3, &b[i..(i + n).min(b.len())]);
                    i += n;
                }
            }
        }
    }
    let mut n = 0;
    fields(tile, |f, layer| {
        if f == 3 {
            fields(layer, |f, _| n += usize::from(f == 2));
        }
    });
    n
}

criterion_group!(benches, tiles);
criterion_main!(benches);
