//! Benchmark of the search index (analysis::search) on the `--scale 20` demo city (~20,000 grids,
//! ~500,000 buildings; generating it takes about a minute): the time to build the index, and the
//! time of one query of each kind, as p50 and p99 over a set of queries of that kind (printed),
//! and as criterion's estimate over the same set. The target is under 50 ms a query.
//!
//! ```sh
//! cargo bench -p rentgrid-analysis --bench search              # scale 20
//! SEARCH_SCALE=1 cargo bench -p rentgrid-analysis --bench search
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use rentgrid_analysis::search::{Place, PlaceKind, SearchIndex};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, GridId};
use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Initials of the 17 streets of Haishu, and some full spellings.
const PINYIN: [&str; 20] = [
    "nmjd", "jxjd", "xmjd", "yhjd", "gljd", "byjd", "dtjd", "wcjd", "sqjd", "gqz", "hjz", "jsgz", "glz", "dqz", "yjz",
    "zsz", "lgx", "gulou", "shiqi", "longguan",
];

/// Every `n / want`-th item of `items`, at most `want` of them.
fn spread<T: Clone>(items: &[T], want: usize) -> Vec<T> {
    let step = (items.len() / want).max(1);
    items.iter().step_by(step).take(want).cloned().collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn search(c: &mut Criterion) {
    let scale: f64 = std::env::var("SEARCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let started = Instant::now();
    let city = generate(&DemoOptions { scale, ..DemoOptions::default() }, &mut |_, _| {}).expect("demo city");
    let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("atlas");
    println!(
        "scale {scale}: {} streets, {} communities, {} grids, {} buildings, {} caseworkers (generated in {:.1} s)",
        atlas.streets().len(),
        atlas.communities().len(),
        atlas.grids().len(),
        atlas.buildings().len(),
        city.caseworkers.len(),
        started.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let index = SearchIndex::of_atlas(&atlas, &city.caseworkers);
    println!("index of {} places built in {:.0} ms", index.len(), t.elapsed().as_secs_f64() * 1e3);

    let grid_codes: Vec<String> = spread(atlas.grids(), 200).iter().map(|g| g.grid.code.clone()).collect();
    let survey_ids: Vec<String> = spread(atlas.buildings(), 200).iter().map(|b| b.external_id.clone()).collect();
    let addresses: Vec<String> = spread(atlas.buildings(), 200).iter().map(|b| b.address.clone()).collect();
    let with_rooms: Vec<String> = addresses.iter().map(|a| format!("{a}302室")).collect();
    // Two characters from the middle of community names: matched as parts.
    let parts: Vec<String> =
        spread(atlas.communities(), 100).iter().map(|c| c.community.name.chars().skip(1).take(2).collect()).collect();
    let names: Vec<String> = spread(&city.caseworkers, 100).iter().map(|c| c.name.clone()).collect();
    let common: Vec<String> = ["社区", "1", "村", "网格", "3302"].map(String::from).to_vec();
    let kinds: Vec<(&str, Vec<String>)> = vec![
        ("grid_code", grid_codes),
        ("pinyin", PINYIN.map(String::from).to_vec()),
        ("survey_id", survey_ids),
        ("address", addresses),
        ("address_room", with_rooms),
        ("chinese_part", parts),
        ("caseworker_name", names),
        ("common", common),
    ];

    // A caseworker's scope: their contracted grids only (most matches are not visible).
    let me = city.caseworkers.iter().max_by_key(|c| c.grids.len()).expect("a caseworker");
    let mine: BTreeSet<GridId> = me.grids.iter().copied().collect();
    let grid_of_building = |id: u32| atlas.building(id).map(|b| b.grid_id);
    let caseworker_sees = |p: &Place| match p.kind {
        PlaceKind::Grid => mine.contains(&p.id),
        PlaceKind::Building => grid_of_building(p.id).is_some_and(|g| mine.contains(&g)),
        PlaceKind::Caseworker => p.id == me.id,
        PlaceKind::Street | PlaceKind::Community => false,
    };

    println!("{:<28} {:>6} {:>10} {:>10} {:>10}", "query kind", "n", "p50 ms", "p99 ms", "max ms");
    for (kind, queries) in &kinds {
        for (scope, caseworker) in [("center", false), ("caseworker", true)] {
            let mut times = Vec::new();
            for _ in 0..5 {
                for q in queries {
                    let t = Instant::now();
                    let n = if caseworker {
                        index.search(q, 10, caseworker_sees).len()
                    } else {
                        index.search(q, 10, |_| true).len()
                    };
                    if *kind == "address_room" {
                        black_box(index.building_and_rest(q));
                    }
                    times.push(t.elapsed());
                    black_box(n);
                }
            }
            times.sort_unstable();
            println!(
                "{:<28} {:>6} {:>10.3} {:>10.3} {:>10.3}",
                format!("{kind} ({scope})"),
                times.len(),
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                times.last().unwrap().as_secs_f64() * 1e3
            );
        }
    }

    let mut g = c.benchmark_group("search");
    g.sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    for (kind, queries) in &kinds {
        g.bench_function(format!("{kind}/scale{scale}/per_query_set_of_{}", queries.len()), |b| {
            b.iter(|| {
                for q in queries {
                    black_box(index.search(black_box(q), 10, |_| true));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
