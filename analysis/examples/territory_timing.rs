//! Times a territory proposal on a demo city and prints its quality, today against proposed.
//! `bench/territory.sh` runs it on the demo district and on the `--scale 20` city.
//!
//! ```sh
//! cargo run --release -p rentgrid-analysis --example territory_timing -- --scale 20
//! ```
//!
//! With `--dump DIR` it instead plans one street from scratch (`--street CODE`, default the biggest
//! street whose grids are one piece; `--merge` first folds every community into the first street, so the
//! whole city is one region) into `--areas K` areas (default one per ~200 grids) and writes the
//! graph and its own result to `DIR/territory-graph-*.json` for `bench/territory_gerrychain.py`:
//! nodes (grid id, weight = fractional caseworkers under the Ningbo rule, area m², perimeter m on
//! the local projection of the Polsby-Popper figures), edges (shared boundary m), k, and this
//! plan (time, max deviation, mean Polsby-Popper, contiguity, the area of every node).

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use geo::Centroid;
use rentgrid_analysis::staffing::{StaffingRule, grid_requirements};
use rentgrid_analysis::territory::{GridShapes, Mode, PlanQuality, TerritoryOptions, propose_with};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, GridId};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
}

fn text_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn main() {
    let scale = arg("--scale", 1.0);
    let merge = std::env::args().any(|a| a == "--merge");
    let t = Instant::now();
    let city = generate(&DemoOptions { scale, ..Default::default() }, &mut |_, _| {}).expect("demo city");
    let mut input = AtlasInput::from_city(&city);
    if merge {
        let first = input.streets[0].code.clone();
        for c in &mut input.communities {
            c.street_code.clone_from(&first);
        }
    }
    let atlas = Atlas::build(input).expect("atlas");
    println!(
        "city: scale {scale}, {} grids, {} streets, {} caseworkers (generated and indexed in {:.1} s)",
        atlas.grids().len(),
        atlas.streets().len(),
        city.caseworkers.len(),
        t.elapsed().as_secs_f64()
    );
    let rule = StaffingRule::ningbo();
    let t = Instant::now();
    let shapes = GridShapes::measure(&atlas);
    let required = grid_requirements(&atlas, &rule);
    println!("grid shapes and requirements: {:.3} s", t.elapsed().as_secs_f64());
    if let Some(dir) = text_arg("--dump") {
        dump(&dir, &atlas, &city.caseworkers, &shapes, &required, &rule.name, scale, merge);
        return;
    }
    // Today's teams (a few grids per caseworker in the demo), then coarse areas of about 200
    // grids each, the shape of GerryChain's 50 districts on 10k cells.
    let coarse: BTreeMap<String, usize> =
        atlas.streets().iter().map(|s| (s.street.code.clone(), (s.grids.len() / 200).max(1))).collect();
    let runs = [
        (
            "minimal change, today's staff",
            TerritoryOptions { mode: Mode::MinimalChange, ..TerritoryOptions::default() },
        ),
        ("from scratch, today's staff", TerritoryOptions { mode: Mode::FromScratch, ..TerritoryOptions::default() }),
        (
            "from scratch, one area per ~200 grids",
            TerritoryOptions { mode: Mode::FromScratch, staff: coarse, ..TerritoryOptions::default() },
        ),
    ];
    for (label, opts) in runs {
        let mode = label;
        let t = Instant::now();
        let p = propose_with(&atlas, &shapes, &required, &city.caseworkers, &rule.name, &opts).expect("proposal");
        let secs = t.elapsed().as_secs_f64();
        let streets: Vec<_> = p.streets.iter().filter(|s| s.staff > 0).collect();
        let reachable: Vec<_> = streets.iter().filter(|s| s.best_possible_deviation <= opts.epsilon).collect();
        let within = reachable.iter().filter(|s| s.within_epsilon).count();
        let worst =
            |f: &dyn Fn(&PlanQuality) -> f64, list: &[&&rentgrid_analysis::territory::StreetPlan], today: bool| {
                list.iter().map(|s| f(if today { &s.today } else { &s.proposed })).fold(0.0, f64::max)
            };
        let mean_pp = |today: bool| {
            let areas: Vec<f64> = streets
                .iter()
                .flat_map(|s| if today { &s.today_areas } else { &s.areas })
                .filter(|a| !a.grids.is_empty())
                .map(|a| a.polsby_popper)
                .collect();
            areas.iter().sum::<f64>() / areas.len().max(1) as f64
        };
        let changed: usize = streets.iter().map(|s| s.proposed.grids_changed).sum();
        let contiguous = |today: bool| {
            streets.iter().filter(|s| if today { s.today.all_contiguous } else { s.proposed.all_contiguous }).count()
        };
        println!("{mode}: {secs:.3} s, {} areas", streets.iter().map(|s| s.staff).sum::<usize>());
        println!(
            "  streets with staff {}, of which ±{:.0}% reachable {} (a single grid forbids it in {}); within ±ε: {within}",
            streets.len(),
            opts.epsilon * 100.0,
            reachable.len(),
            streets.len() - reachable.len()
        );
        let md = |q: &PlanQuality| q.max_deviation;
        println!(
            "  max load deviation over reachable streets: today {:.3}, proposed {:.3}",
            worst(&md, &reachable, true),
            worst(&md, &reachable, false)
        );
        println!("  mean Polsby-Popper: today {:.3}, proposed {:.3}", mean_pp(true), mean_pp(false));
        println!("  streets all contiguous: today {}, proposed {}", contiguous(true), contiguous(false));
        println!("  grids changing hands: {changed} of {}", atlas.grids().len());
    }
}

/// How many connected pieces `grids` form over shared boundaries.
fn pieces(shapes: &GridShapes, grids: &[GridId]) -> usize {
    let mut left: std::collections::HashSet<GridId> = grids.iter().copied().collect();
    let mut count = 0;
    while let Some(&start) = left.iter().next() {
        left.remove(&start);
        count += 1;
        let mut stack = vec![start];
        while let Some(g) = stack.pop() {
            for &(h, _) in shapes.neighbours(g) {
                if left.remove(&h) {
                    stack.push(h);
                }
            }
        }
    }
    count
}

/// Plans one street from scratch and writes its graph and the plan for GerryChain.
#[allow(clippy::too_many_arguments)]
fn dump(
    dir: &str,
    atlas: &Atlas,
    caseworkers: &[rentgrid_geodata::Caseworker],
    shapes: &GridShapes,
    required: &[f64],
    rule: &str,
    scale: f64,
    merged: bool,
) {
    let street = match text_arg("--street") {
        Some(code) => atlas.streets().iter().find(|s| s.street.code == code).expect("no street with that code"),
        // GerryChain's tree partitions need a graph in one piece: the biggest street that is
        // (the script ties islands to the main piece otherwise, e.g. for a merged city).
        None => {
            atlas.streets().iter().max_by_key(|s| (pieces(shapes, &s.grids) == 1, s.grids.len())).expect("a street")
        }
    };
    let n_pieces = pieces(shapes, &street.grids);
    if n_pieces > 1 {
        println!("this street's grids form {n_pieces} pieces; GerryChain needs one");
    }
    let code = street.street.code.clone();
    let k = arg("--areas", (street.grids.len() / 200).max(1) as f64) as usize;
    let staff =
        atlas.streets().iter().map(|s| (s.street.code.clone(), if s.street.code == code { k } else { 0 })).collect();
    let opts = TerritoryOptions { mode: Mode::FromScratch, staff, ..TerritoryOptions::default() };
    let t = Instant::now();
    let p = propose_with(atlas, shapes, required, caseworkers, rule, &opts).expect("proposal");
    let secs = t.elapsed().as_secs_f64();
    let plan = p.streets.iter().find(|s| s.street_code == code).expect("the street's plan");
    let index: HashMap<GridId, usize> = street.grids.iter().enumerate().map(|(i, &g)| (g, i)).collect();
    let mut assignment = vec![usize::MAX; street.grids.len()];
    for (a, area) in plan.areas.iter().enumerate() {
        for g in &area.grids {
            assignment[index[g]] = a;
        }
    }
    // As territory.rs: a street with nobody living in it balances grid counts.
    let unit = street.grids.iter().map(|&g| required[g as usize]).sum::<f64>() <= 0.0;
    // Centroids (m, on the same kind of local projection) let the script tie islands to their
    // nearest grid for GerryChain, which needs a connected graph.
    let c = atlas.bbox().center();
    let proj = rentgrid_geodata::crs::LocalProjection::new(c.x, c.y);
    let nodes: Vec<_> = street
        .grids
        .iter()
        .map(|&g| {
            let p =
                atlas.grids()[g as usize].grid.geometry.centroid().map_or((0.0, 0.0), |p| proj.forward(p.x(), p.y()));
            serde_json::json!({
                "x": p.0,
                "y": p.1,
                "id": g,
                "weight": if unit { 1.0 } else { required[g as usize] },
                "area": shapes.area_m2(g),
                "perimeter": shapes.perimeter_m(g),
            })
        })
        .collect();
    let edges: Vec<_> = street
        .grids
        .iter()
        .flat_map(|&g| shapes.neighbours(g).iter().map(move |&(h, len)| (g, h, len)))
        .filter(|&(g, h, _)| g < h && index.contains_key(&h))
        .map(|(g, h, len)| serde_json::json!({ "a": index[&g], "b": index[&h], "length": len }))
        .collect();
    let doc = serde_json::json!({
        "scale": scale,
        "street_code": code,
        "street_name": if merged { "whole city (all streets merged)".to_owned() } else { street.street.name.clone() },
        "merged": merged,
        "rule": rule,
        "k": k,
        "epsilon": opts.epsilon,
        "best_possible_deviation": plan.best_possible_deviation,
        "nodes": nodes,
        "edges": edges,
        "ours": {
            "seconds": secs,
            "areas": plan.areas.len(),
            "max_deviation": plan.proposed.max_deviation,
            "mean_polsby_popper": plan.proposed.mean_polsby_popper,
            "all_contiguous": plan.proposed.all_contiguous,
            "assignment": assignment,
        },
    });
    std::fs::create_dir_all(dir).expect("dump directory");
    let label = if merged { "merged".to_owned() } else { code };
    let path = std::path::Path::new(dir).join(format!("territory-graph-scale{scale}-{label}-k{k}.json"));
    std::fs::write(&path, serde_json::to_vec(&doc).expect("json")).expect("write the dump");
    println!(
        "street {} ({} grids, {} edges), {k} areas from scratch: {secs:.3} s, max deviation {:.4}, mean PP {:.4}, contiguous {}",
        doc["street_name"].as_str().unwrap_or(""),
        street.grids.len(),
        doc["edges"].as_array().map_or(0, Vec::len),
        plan.proposed.max_deviation,
        plan.proposed.mean_polsby_popper,
        plan.proposed.all_contiguous
    );
    println!("dump: {}", path.display());
}
