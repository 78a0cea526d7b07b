//! Prints a summary of a generated demo city: `cargo run --example demo_summary -- SCALE SEED`.
use rentgrid_geodata::demo::{DemoOptions, generate};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let scale = args.next().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(rentgrid_geodata::demo::DEFAULT_SEED);
    let t = Instant::now();
    let city = match generate(&DemoOptions { scale, seed, ..Default::default() }, &mut |_, _| {}) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let hidden_units: u32 = city.hidden.iter().map(|h| h.units).sum();
    let hidden_persons: u32 = city.hidden.iter().map(|h| h.persons).sum();
    println!(
        "scale {scale} seed {seed}: {:.1}s\n  blocks {} grids {} buildings {} rental units {} persons {} landlords {}\n  workplaces {} caseworkers {} visits {} spot checks {} tips {} roads {}\n  hidden: {hidden_units} units, {hidden_persons} persons",
        t.elapsed().as_secs_f64(),
        city.blocks.len(),
        city.grids.len(),
        city.buildings.len(),
        city.rental_units.len(),
        city.persons.len(),
        city.landlords.len(),
        city.workplaces.len(),
        city.caseworkers.len(),
        city.visits.len(),
        city.spot_checks.len(),
        city.tips.len(),
        city.roads.len(),
    );
    let mut by_kind = std::collections::BTreeMap::new();
    for b in &city.buildings {
        *by_kind.entry(b.kind.as_str()).or_insert(0) += 1;
    }
    println!("  buildings by kind: {by_kind:?}");
    for s in &city.streets {
        let comms: Vec<_> = city.communities.iter().filter(|c| c.street_code == s.code).collect();
        let grids = city.grids.iter().filter(|g| comms.iter().any(|c| c.code == g.community_code)).count();
        let cws = city.caseworkers.iter().filter(|c| c.street_code == s.code).count();
        println!("  {} {}: {} communities, {} grids, {} caseworkers", s.code, s.name, comms.len(), grids, cws);
    }
}
