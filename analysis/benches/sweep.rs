//! Benchmarks of 蚕食法 campaigns on the scale-1 demo district (~1,000 grids): the candidates
//! (expected unregistered units per building and grid) for the whole district, and a campaign
//! plan over 50 contiguous grids around the weakest grid (blocks, adjacency, expanding search
//! with chains of 1 and 3 blocks, the daily schedule of a team of 5).
//!
//! ```sh
//! cargo bench -p rentgrid-analysis --bench sweep
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use rentgrid_analysis::candidates::{CandidateWeights, Evidence, estimate};
use rentgrid_analysis::sweep::{Area, CampaignInput, plan_campaign};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, GridId};
use std::collections::{BTreeSet, VecDeque};
use std::hint::black_box;
use std::time::Duration;

/// `n` grids reached breadth-first from `start` over Rook adjacency.
fn contiguous_grids(atlas: &Atlas, start: GridId, n: usize) -> Vec<GridId> {
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    let mut out = Vec::new();
    while let Some(g) = queue.pop_front() {
        out.push(g);
        if out.len() == n {
            break;
        }
        for &nb in atlas.neighbours(g) {
            if seen.insert(nb) {
                queue.push_back(nb);
            }
        }
    }
    out
}

fn sweep(c: &mut Criterion) {
    let opts = DemoOptions::default();
    let city = generate(&opts, &mut |_, _| {}).expect("demo city");
    let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("atlas");
    let ev = Evidence::of_city(&city, opts.as_of);
    let w = CandidateWeights::default();
    let candidates = estimate(&atlas, &ev, &w).unwrap();
    let weakest = candidates.grids.iter().max_by(|a, b| a.expected_units.total_cmp(&b.expected_units)).unwrap().grid_id;
    let grids = contiguous_grids(&atlas, weakest, 50);
    let team: Vec<u32> = city.caseworkers.iter().take(5).map(|c| c.id).collect();
    let mut input =
        CampaignInput::new(Area::Grids { grids: grids.clone() }, team, time::macros::date!(2026 - 11 - 02), 20);
    let plan = plan_campaign(&atlas, &city.caseworkers, &candidates, &input).unwrap();
    println!(
        "district: {} buildings, {} grids; campaign: {} grids, {} blocks, {} buildings, {} days, expected finds {:.0}",
        atlas.buildings().len(),
        atlas.grids().len(),
        plan.grids.len(),
        plan.blocks.len(),
        plan.blocks.iter().map(|b| b.buildings.len()).sum::<usize>(),
        plan.days.len(),
        plan.expected_finds
    );

    let mut group = c.benchmark_group("sweep");
    group.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    group.bench_function("candidates/district", |b| b.iter(|| estimate(black_box(&atlas), &ev, &w).unwrap()));
    for chain in [1, 3] {
        input.chain_len = chain;
        group.bench_function(format!("plan/50_grids/chain{chain}"), |b| {
            b.iter(|| plan_campaign(black_box(&atlas), &city.caseworkers, &candidates, &input).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);
