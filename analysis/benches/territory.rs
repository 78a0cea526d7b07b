//! Benchmarks of the balanced territory proposal on the scale-1 demo district (~1,000 grids):
//! measuring grid shapes, and proposals in minimal-change and from-scratch modes. The
//! `--scale 20` city (~20,000 grids) is timed by `bench/territory.sh`, which also prints the
//! quality figures.
//!
//! ```sh
//! cargo bench -p rentgrid-analysis --bench territory
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use rentgrid_analysis::staffing::{StaffingRule, grid_requirements};
use rentgrid_analysis::territory::{GridShapes, Mode, TerritoryOptions, propose_with};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};
use std::hint::black_box;
use std::time::Duration;

fn territory(c: &mut Criterion) {
    let city = generate(&DemoOptions::default(), &mut |_, _| {}).expect("demo city");
    let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("atlas");
    let rule = StaffingRule::ningbo();
    let shapes = GridShapes::measure(&atlas);
    let required = grid_requirements(&atlas, &rule);
    let mut g = c.benchmark_group("territory");
    g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    g.bench_function("grid_shapes/demo", |b| b.iter(|| GridShapes::measure(black_box(&atlas))));
    for (name, mode) in [("minimal_change/demo", Mode::MinimalChange), ("from_scratch/demo", Mode::FromScratch)] {
        let opts = TerritoryOptions { mode, ..TerritoryOptions::default() };
        g.bench_function(name, |b| {
            b.iter(|| propose_with(black_box(&atlas), &shapes, &required, &city.caseworkers, "ningbo", &opts).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, territory);
criterion_main!(benches);
