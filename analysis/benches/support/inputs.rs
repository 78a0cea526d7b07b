//! The inputs of the hot-spot benchmarks, shared by `benches/hotspot.rs` and
//! `examples/hotspot_timing.rs` (which `bench/hotspot.py` runs beside esda).

// Each includer uses part of it; a missing demo city is a broken checkout, not input.
#![allow(dead_code, clippy::expect_used)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::kpi::grid_counts;
use rentgrid_analysis::metrics::{Metric, RateGuard, grid_metrics};
use rentgrid_analysis::weights::Weights;
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};

/// One benchmark input: values and Rook weights.
pub struct Input {
    /// Short name: `demo`, `20k`, `1m`.
    pub name: &'static str,
    /// Values, one per site.
    pub y: Vec<f64>,
    /// Binary Rook weights.
    pub w: Weights,
    /// `(rows, cols)` for a lattice (site id `row * cols + col`), `None` for the demo's grids.
    pub lattice: Option<(usize, usize)>,
}

/// The scale-1 demo district (~1,000 grids) with Rook weights from its Atlas; values: persons per km².
pub fn demo() -> (Input, Atlas) {
    let city = generate(&DemoOptions::default(), &mut |_, _| {}).expect("demo city");
    let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("atlas");
    let metrics = grid_metrics(&atlas, &grid_counts(&atlas), &RateGuard::default());
    let y = metrics.iter().map(|m| m.value(Metric::PersonsPerKm2).unwrap_or(0.0)).collect();
    (Input { name: "demo", y, w: Weights::rook(&atlas), lattice: None }, atlas)
}

/// A rows × cols square lattice with Rook weights; values: a smooth field plus noise (seed fixed).
pub fn lattice(name: &'static str, rows: usize, cols: usize) -> Input {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let y = (0..rows * cols)
        .map(|i| {
            let (r, c) = ((i / cols) as f64, (i % cols) as f64);
            10.0 + 3.0 * (r / 25.0).sin() * (c / 17.0).cos() + rng.random_range(0.0..2.0)
        })
        .collect();
    Input { name, y, w: Weights::lattice(rows, cols), lattice: Some((rows, cols)) }
}
