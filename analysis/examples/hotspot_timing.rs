//! Times weights, Gi* and Local Moran (999 permutations) on the benchmark inputs and writes the
//! inputs for `bench/hotspot.py`, which runs esda on the same data and prints the ratios.
//!
//! `cargo run --release -p rentgrid-analysis --example hotspot_timing -- OUT_DIR [demo,20k,1m]`
//! writes `OUT_DIR/<name>.y` (little-endian f64 values) and `OUT_DIR/<name>.json` (the lattice's
//! rows and cols, or the neighbour lists), and prints one JSON object of timings in seconds.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

#[path = "../benches/support/inputs.rs"]
mod inputs;

use rentgrid_analysis::hotspot::{GiOptions, gi_star};
use rentgrid_analysis::moran::{MoranOptions, local_moran};
use rentgrid_analysis::weights::Weights;
use std::hint::black_box;
use std::time::Instant;

/// The fastest of `reps` runs, in seconds.
fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().expect("usage: hotspot_timing OUT_DIR [demo,20k,1m]"));
    let which = args.next().unwrap_or_else(|| "demo,20k,1m".into());
    std::fs::create_dir_all(&out).unwrap();
    let mut report = serde_json::Map::new();
    for name in which.split(',') {
        let (input, weights_s) = match name {
            "demo" => {
                let (input, atlas) = inputs::demo();
                let s = best(5, || Weights::rook(&atlas));
                (input, s)
            }
            "20k" => (inputs::lattice("20k", 141, 142), best(5, || Weights::lattice(141, 142))),
            "1m" => (inputs::lattice("1m", 1000, 1000), best(3, || Weights::lattice(1000, 1000))),
            other => panic!("unknown input {other}"),
        };
        let reps = if input.y.len() > 100_000 { 2 } else { 5 };
        let row = input.w.row_standardised();
        let gi_s = best(reps, || gi_star(&input.y, &input.w, &GiOptions::default()).unwrap());
        let moran_s = best(reps, || local_moran(&input.y, &row, &MoranOptions::default()).unwrap());
        let bytes: Vec<u8> = input.y.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(out.join(format!("{name}.y")), bytes).unwrap();
        let meta = match input.lattice {
            Some((rows, cols)) => serde_json::json!({"rows": rows, "cols": cols}),
            None => {
                let lists: Vec<&[u32]> = (0..input.w.n()).map(|i| input.w.neighbours(i)).collect();
                serde_json::json!({ "neighbours": lists })
            }
        };
        std::fs::write(out.join(format!("{name}.json")), meta.to_string()).unwrap();
        report.insert(
            input.name.into(),
            serde_json::json!({"n": input.y.len(), "weights_s": weights_s, "gi_star_s": gi_s, "local_moran_999_s": moran_s}),
        );
        eprintln!(
            "{name}: n = {}, weights {weights_s:.4} s, Gi* {gi_s:.4} s, Local Moran 999 {moran_s:.3} s",
            input.y.len()
        );
    }
    println!("{}", serde_json::Value::Object(report));
}
