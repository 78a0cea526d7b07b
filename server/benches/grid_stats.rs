//! Every grid's stats right after a visit (`GET /api/stats?level=grid` of today, as the command
//! center asks it): the answer made from the one kept (`grid_stats::EveryGrid`: one block of
//! grids written and deflated again, the rest joined as kept; after a hundred visits over the
//! city, as between two requests under a city's load, the blocks they touched) against the same answer written
//! whole and gzipped, as the handler made it before, in the same run on the same city. Both give
//! the same bytes (checked here, and by the module's tests). Also the answer made after a new
//! estimate, whose rates move in every grid (what is made off the request path). Prints the
//! answer's sizes.
//!
//! ```sh
//! cargo bench -p rentgrid-server --bench grid_stats             # scale 20 (generating: ~1 min)
//! STATS_SCALE=1 cargo bench -p rentgrid-server --bench grid_stats
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rentgrid_analysis::actual_rates::grid_rows;
use rentgrid_analysis::candidates::Evidence;
use rentgrid_analysis::kpi::{Targets, grid_counts};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, StatsDelta};
use rentgrid_server::encoded::gzip;
use rentgrid_server::grid_stats::{EveryGrid, Inputs};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// The inputs after `n` visits, each registering one person, in the buildings `i`, `i + 7919`,
/// … of `atlas` (spread over the city).
fn after_visits(atlas: &Atlas, i: usize, n: usize, like: &Inputs) -> Inputs {
    let deltas: Vec<StatsDelta> = (0..n)
        .map(|k| {
            let b = &atlas.buildings()[(i + k * 7919) % atlas.buildings().len()];
            StatsDelta { building_id: b.id, persons: 1, persons_registered: 1, visits: 1, ..StatsDelta::default() }
        })
        .collect();
    let next = atlas.with_deltas(&deltas);
    Inputs { counts: Arc::new(grid_counts(&next)), atlas: Arc::new(next), ..like.clone() }
}

/// The answer of `inputs` made from `kept`, gzipped or plain as a request asks.
fn from_kept(kept: &EveryGrid, inputs: Inputs, gzipped: bool) -> Bytes {
    let made = EveryGrid::make(Some(kept), inputs).unwrap().unwrap();
    if gzipped { made.gzip() } else { made.json() }
}

/// The answer written whole: every row, then gzipped.
fn whole(i: &Inputs) -> (Vec<u8>, Bytes) {
    let ids = i.atlas.grids().iter().map(|g| g.grid.id);
    let rows = grid_rows(&i.atlas, &i.counts, i.unrecorded.as_deref(), &i.targets, ids);
    let rows = serde_json::to_vec(&rows).unwrap();
    let json = [&i.head[..], &rows[1..rows.len() - 1], &i.tail[..]].concat();
    let gz = gzip(&json);
    (json, gz)
}

fn every_grid(c: &mut Criterion) {
    let scale: f64 = std::env::var("STATS_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let started = Instant::now();
    let city = generate(&DemoOptions { scale, ..DemoOptions::default() }, &mut |_, _| {}).expect("demo city");
    let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("atlas");
    let as_of = time::macros::date!(2026 - 06 - 30);
    let none = Evidence { visits: &[], sweeps: &[], spot_checks: &[], tips: &[], as_of };
    let unrecorded = rentgrid_analysis::unrecorded::estimate(&atlas, &none, &Default::default()).expect("estimate");
    println!(
        "scale {scale}: {} grids, {} buildings (generated and estimated in {:.1} s)",
        atlas.grids().len(),
        atlas.buildings().len(),
        started.elapsed().as_secs_f64()
    );
    let first = Inputs {
        counts: Arc::new(grid_counts(&atlas)),
        atlas: Arc::new(atlas.clone()),
        unrecorded: Some(Arc::new(unrecorded)),
        targets: Targets::default(),
        head: Bytes::from_static(br#"{"level":"grid","month":null,"rows":["#),
        tail: Bytes::from_static(b"]}"),
    };
    let kept = EveryGrid::make(None, first.clone()).unwrap().unwrap();
    let (json, gz) = whole(&first);
    assert_eq!(kept.json(), json, "the same answer");
    println!("the answer: {:.1} MB of JSON, {:.1} MB gzipped", json.len() as f64 / 1e6, gz.len() as f64 / 1e6);
    println!("kept answer's gzip: {:.1} MB", kept.gzip().len() as f64 / 1e6);

    let mut g = c.benchmark_group("every_grid_stats_after_a_visit");
    g.sample_size(10);
    // Each sample after a visit to another building.
    let next = std::cell::Cell::new(0usize);
    let visit = || {
        next.set(next.get() + 7919);
        after_visits(&atlas, next.get(), 1, &first)
    };
    // A city's load between two requests of the command center: some hundred visits (50 a
    // second for two seconds) in as many grids.
    let hundred = || {
        next.set(next.get() + 104_729);
        after_visits(&atlas, next.get(), 100, &first)
    };
    g.bench_function("made_from_the_kept_answer_gzip", |b| {
        b.iter_batched(visit, |inputs| black_box(from_kept(&kept, inputs, true)), BatchSize::LargeInput);
    });
    g.bench_function("made_from_the_kept_answer_plain", |b| {
        b.iter_batched(visit, |inputs| black_box(from_kept(&kept, inputs, false)), BatchSize::LargeInput);
    });
    g.bench_function("made_from_the_kept_answer_after_100_visits_gzip", |b| {
        b.iter_batched(hundred, |inputs| black_box(from_kept(&kept, inputs, true)), BatchSize::LargeInput);
    });
    // A new estimate (made off the request path every `--estimate-interval` while writes
    // arrive) moves nearly every grid's rates: every block is written again, off the request path.
    let moved = {
        let mut u = (**first.unrecorded.as_ref().unwrap()).clone();
        u.grids.iter_mut().for_each(|g| g.persons *= 1.01);
        Arc::new(u)
    };
    let estimated = || Inputs { unrecorded: Some(moved.clone()), ..first.clone() };
    g.bench_function("made_from_the_kept_answer_after_a_new_estimate_gzip", |b| {
        b.iter_batched(estimated, |inputs| black_box(from_kept(&kept, inputs, true)), BatchSize::LargeInput);
    });
    g.bench_function("written_whole_and_gzipped", |b| {
        b.iter_batched(visit, |inputs| black_box(whole(&inputs)), BatchSize::LargeInput);
    });
    g.finish();
}

criterion_group!(benches, every_grid);
criterion_main!(benches);
