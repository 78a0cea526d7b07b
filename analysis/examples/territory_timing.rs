//! Times a territory proposal on a demo city and prints its quality, today against proposed.
//! `bench/territory.sh` runs it on the demo district and on the `--scale 20` city.
//!
//! ```sh
//! cargo run --release -p rentgrid-analysis --example territory_timing -- --scale 20
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use rentgrid_analysis::staffing::{StaffingRule, grid_requirements};
use rentgrid_analysis::territory::{GridShapes, Mode, PlanQuality, TerritoryOptions, propose_with};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};
use std::time::Instant;

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
}

fn main() {
    let scale = arg("--scale", 1.0);
    let t = Instant::now();
    let city = generate(&DemoOptions { scale, ..Default::default() }, &mut |_, _| {}).expect("demo city");
    let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("atlas");
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
    // Today's teams (a few grids per caseworker in the demo), then coarse areas of about 200
    // grids each, the shape of GerryChain's 50 districts on 10k cells.
    let coarse: std::collections::BTreeMap<String, usize> =
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
