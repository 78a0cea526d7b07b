//! Solves the TSPLIB instances of `analysis/tests/data/tsplib/` and prints one JSON object per
//! line: the instance, its proven optimum, our tour length, the gap to the optimum, the
//! nearest-neighbour length and the solve time in seconds (best of `REPS`, default 3).
//! `bench/tour.py` runs OR-Tools on the same instances and prints both side by side.
//!
//! `cargo run --release -p rentgrid-analysis --example tsplib [-- NAME…]` (`KICKS=…` overrides the
//! default number of kicks, to see the quality/time trade-off).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use rentgrid_analysis::tour::{SolveOptions, solve};
use rentgrid_analysis::tsplib::Instance;
use std::time::Instant;

/// The instances and their proven optima (TSPLIB95).
const INSTANCES: &[(&str, f64)] =
    &[("berlin52", 7542.0), ("kroA100", 21282.0), ("kroA200", 29368.0), ("a280", 2579.0), ("pr1002", 259045.0)];

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let reps: usize = std::env::var("REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let kicks: Option<usize> = std::env::var("KICKS").ok().and_then(|k| k.parse().ok());
    let opts = SolveOptions { kicks, ..SolveOptions::default() };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tsplib");
    for &(name, optimum) in INSTANCES {
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        let text = std::fs::read_to_string(format!("{dir}/{name}.tsp")).unwrap();
        let inst = Instance::parse(&text).unwrap();
        let m = inst.matrix().unwrap();
        let mut best = f64::MAX;
        let mut tour = None;
        for _ in 0..reps {
            let t = Instant::now();
            let r = solve(&m, 0, &opts).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            tour = Some(r);
        }
        let tour = tour.unwrap();
        println!(
            "{{\"instance\":\"{name}\",\"n\":{},\"optimum\":{optimum},\"length\":{},\"gap_pct\":{:.3},\"nearest_neighbour\":{},\"kicks\":{},\"seconds\":{:.4}}}",
            inst.len(),
            tour.length,
            (tour.length / optimum - 1.0) * 100.0,
            tour.nearest_neighbour_length,
            tour.kicks,
            best
        );
    }
}
