//! Calibration of the candidate model and the unrecorded estimate against the demo city's hidden
//! ground truth (measurement only; the estimators never read the truth).
//!
//! `cargo run -p rentgrid-analysis --example calibration -- [--seeds 20240601,7] [--scales 1,0.3]`

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use rentgrid_analysis::actual_rates::ActualRates;
use rentgrid_analysis::candidates::{CandidateWeights, Candidates, Evidence, estimate};
use rentgrid_analysis::kpi::{Targets, grid_counts};
use rentgrid_analysis::unrecorded::{self, UnrecordedParams};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, City, GridId};
use std::collections::HashMap;

fn list<T: std::str::FromStr>(args: &[String], flag: &str, default: &str) -> Vec<T> {
    let v = args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map_or(default, |s| s.as_str());
    v.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

/// Per city: the candidate model's top 1,000 and 2,000 (precision, expected vs hidden units
/// and persons, intervals holding the truth), and the unrecorded estimate's report.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seeds: Vec<u64> = list(&args, "--seeds", "20240601");
    let scales: Vec<f64> = list(&args, "--scales", "1");
    let mut districts: Vec<(bool, f64)> = Vec::new();
    // Per k: intervals holding the truth, buildings.
    let mut pooled = [(0usize, 0usize); 2];
    for &scale in &scales {
        for &seed in &seeds {
            let opts = DemoOptions { seed, scale, ..Default::default() };
            let city = generate(&opts, &mut |_, _| {}).expect("demo");
            let atlas = Atlas::build(AtlasInput::from_city(&city)).expect("atlas");
            let ev = Evidence::of_city(&city, opts.as_of);
            // CANDIDATE_WEIGHTS='{"gap_weight": 1.0}' overrides the defaults (a tuning aid).
            let mut w = serde_json::to_value(CandidateWeights::default()).expect("weights");
            if let Ok(o) = std::env::var("CANDIDATE_WEIGHTS") {
                let o: serde_json::Value = serde_json::from_str(&o).expect("CANDIDATE_WEIGHTS is JSON");
                for (k, v) in o.as_object().into_iter().flatten() {
                    w[k] = v.clone();
                }
            }
            let w: CandidateWeights = serde_json::from_value(w).expect("weights");
            let started = std::time::Instant::now();
            let c = estimate(&atlas, &ev, &w).expect("estimate");
            let took = started.elapsed();
            let truth: HashMap<u32, (u32, u32)> =
                city.hidden.iter().map(|h| (h.building_id, (h.units, h.persons))).collect();
            let t = |b: u32| truth.get(&b).copied().unwrap_or((0, 0));
            let mut ranked: Vec<_> = c.buildings.iter().filter(|e| e.expected_units > 0.0).collect();
            ranked
                .sort_by(|a, b| b.expected_units.total_cmp(&a.expected_units).then(a.building_id.cmp(&b.building_id)));
            let (hu, hp): (u32, u32) = city.hidden.iter().fold((0, 0), |a, h| (a.0 + h.units, a.1 + h.persons));
            let residential = atlas.buildings().iter().filter(|b| b.kind.is_residential()).count();
            println!(
                "seed {seed} scale {scale}: {residential} residential buildings; hidden units {hu}, persons {hp}; expected units {:.0}, persons {:.0}; candidate estimate {:.1} s",
                c.buildings.iter().map(|e| e.expected_units).sum::<f64>(),
                c.buildings.iter().map(|e| e.expected_persons).sum::<f64>(),
                took.as_secs_f64()
            );
            let m = &c.model;
            println!(
                "  count model: usual occupancy {:.4}, noise {:.2} + {:.2} × binomial, shape {:.2}; persons in known units f {:.2}; checks' strength {:.0}; neighbours' weight {:.1}",
                m.occupancy,
                m.noise,
                m.occupancy_noise,
                m.noise_shape,
                m.known_factor,
                m.check_strength,
                m.neighbour_weight
            );
            for (i, k) in [1000usize, 2000].into_iter().enumerate() {
                let top = &ranked[..k.min(ranked.len())];
                let exp_u: f64 = top.iter().map(|e| e.expected_units).sum();
                let exp_p: f64 = top.iter().map(|e| e.expected_persons).sum();
                let (tu, tp) = top.iter().fold((0, 0), |a, e| (a.0 + t(e.building_id).0, a.1 + t(e.building_id).1));
                let prec = top.iter().filter(|e| t(e.building_id).0 > 0).count() as f64 / top.len() as f64;
                let covered = top
                    .iter()
                    .filter(|e| {
                        let h = f64::from(t(e.building_id).0);
                        e.units_low <= h && h <= e.units_high
                    })
                    .count();
                pooled[i] = (pooled[i].0 + covered, pooled[i].1 + top.len());
                // Intervals of one whole number (a building almost sure of its count) cannot
                // hold 90%: how many, and how many of them hold the truth.
                let point: Vec<_> = top.iter().filter(|e| e.units_low == e.units_high).collect();
                let point_held = point.iter().filter(|e| f64::from(t(e.building_id).0) == e.units_low).count();
                println!(
                    "  top {k}: precision {prec:.3}; units expected {exp_u:.0} vs hidden {tu} ({:+.1}%); persons expected {exp_p:.0} vs hidden {tp} ({:+.1}%); 90% unit intervals cover {:.1}% ({} of one number, {point_held} of them holding it)",
                    (exp_u / f64::from(tu) - 1.0) * 100.0,
                    (exp_p / f64::from(tp) - 1.0) * 100.0,
                    100.0 * covered as f64 / top.len() as f64,
                    point.len()
                );
            }
            let all: Vec<_> = c
                .buildings
                .iter()
                .filter(|e| atlas.buildings()[e.building_id as usize].kind.is_residential())
                .collect();
            let cover = all
                .iter()
                .filter(|e| {
                    let h = f64::from(t(e.building_id).0);
                    e.units_low <= h && h <= e.units_high
                })
                .count() as f64
                / all.len() as f64;
            println!("  all residential: 90% unit intervals cover {:.1}%", cover * 100.0);
            if std::env::var("BINS").is_ok() {
                // Calibration by decile of the expected units: mean expected and hidden.
                let mut all = all.clone();
                all.sort_by(|a, b| b.expected_units.total_cmp(&a.expected_units));
                for chunk in all.chunks(all.len().div_ceil(25)) {
                    let e: f64 = chunk.iter().map(|e| e.expected_units).sum::<f64>() / chunk.len() as f64;
                    let h: f64 = chunk.iter().map(|e| f64::from(t(e.building_id).0)).sum::<f64>() / chunk.len() as f64;
                    let ep: f64 = chunk.iter().map(|e| e.expected_persons).sum::<f64>() / chunk.len() as f64;
                    let hp: f64 = chunk.iter().map(|e| f64::from(t(e.building_id).1)).sum::<f64>() / chunk.len() as f64;
                    println!("    bin: expected {e:.3} hidden {h:.3}; persons {ep:.3} vs {hp:.3}");
                }
            }
            if std::env::var("CANDIDATES_ONLY").is_err() {
                let params = UnrecordedParams { weights: w, ..UnrecordedParams::default() };
                let (held, z) = unrecorded_report(&city, &atlas, &ev, &c, &params);
                districts.push((held, z));
            }
        }
    }
    for (i, k) in [1000, 2000].into_iter().enumerate() {
        let (covered, n) = pooled[i];
        println!(
            "all cities, top {k}: 90% unit intervals hold the truth for {covered} of {n} ({:.1}%)",
            100.0 * covered as f64 / n.max(1) as f64
        );
    }
    if !districts.is_empty() {
        let n = districts.len() as f64;
        let held = districts.iter().filter(|d| d.0).count();
        let rms = (districts.iter().map(|d| d.1 * d.1).sum::<f64>() / n).sqrt();
        println!(
            "all {} cities: the district's 90% interval holds the true rate in {held}; errors' root mean square {rms:.2} standard errors",
            districts.len()
        );
    }
}

/// Coverage of the unrecorded estimate's 90% intervals per grid, street and district.
/// Returns whether the district's 90% interval holds the true registration rate, and the
/// district's error in unrecorded persons in standard errors.
fn unrecorded_report(
    city: &City,
    atlas: &Atlas,
    ev: &Evidence,
    full: &Candidates,
    params: &UnrecordedParams,
) -> (bool, f64) {
    let u = unrecorded::estimate_with(atlas, ev, full, params).expect("unrecorded");
    let n = atlas.grids().len();
    let (mut hp, mut hu) = (vec![0u32; n], vec![0u32; n]);
    for h in &city.hidden {
        let g = atlas.buildings()[h.building_id as usize].grid_id as usize;
        hp[g] += h.persons;
        hu[g] += h.units;
    }
    let counts = grid_counts(atlas);
    let c = &u.calibration;
    println!(
        "  calibration: factor {:.3} ± {:.3}, strength {:.0}, model error τ² {:.3}, overdispersion φ {:.2}, {} grids sampled, {} households, {} missed",
        c.factor, c.factor_se, c.strength, c.model_rel_var, c.overdispersion, c.grids_sampled, c.households, c.missed
    );
    let (mut eu, mut tu_, mut ec, mut tc) = (0.0, 0u32, 0.0, 0u32);
    for g in &u.grids {
        if g.sample.checks == 0 {
            eu += g.persons;
            tu_ += hp[g.grid_id as usize];
        } else {
            ec += g.persons;
            tc += hp[g.grid_id as usize];
        }
    }
    println!("  unchecked grids: persons {eu:.0} vs {tu_}; checked grids {ec:.0} vs {tc}");
    if std::env::var("DIAG").is_ok() {
        // Standardised errors per grid: checked and unchecked, and their sums.
        let (mut zc, mut nc, mut vc, mut ev_, mut zu, mut nu, mut vu, mut eu2) = (0.0, 0, 0.0, 0.0, 0.0, 0, 0.0, 0.0);
        for g in &u.grids {
            let e = g.persons - f64::from(hp[g.grid_id as usize]);
            let z2 = e * e / g.persons_var.max(1e-9);
            if g.sample.checks == 0 {
                if std::env::var("DIAG").as_deref() == Ok("3") {
                    println!(
                        "    unchecked grid {}: K {} est {:.1} sd {:.1} model {:.1} truth {}",
                        g.grid_id,
                        counts[g.grid_id as usize].stats.persons,
                        g.persons,
                        g.persons_var.sqrt(),
                        g.persons_model,
                        hp[g.grid_id as usize]
                    );
                }
                zu += z2;
                nu += 1;
                vu += g.persons_var;
                eu2 += e;
            } else {
                zc += z2;
                nc += 1;
                vc += g.persons_var;
                ev_ += e;
            }
        }
        // The checks against the truth: Σ (M − n p) over grids, standardised, with p the true share.
        let (mut dev, mut var, mut direct_err, mut direct_var) = (0.0, 0.0, 0.0, 0.0);
        let kk: Vec<f64> = counts.iter().map(|c| f64::from(c.stats.persons)).collect();
        for g in u.grids.iter().filter(|g| g.sample.checks > 0) {
            let i = g.grid_id as usize;
            let (k, h) = (kk[i], f64::from(hp[i]));
            let p = h / (k + h).max(1.0);
            let n = f64::from(g.sample.households) * 2.0;
            let m = f64::from(g.sample.missed);
            dev += m - n * p;
            if std::env::var("DIAG").as_deref() == Ok("2")
                && ((m - n * p) / (n * p * (1.0 - p)).sqrt().max(0.5)).abs() > 3.0
            {
                println!(
                    "    grid {i}: K {k} H {h} p {p:.3}; n {n} M {m} (expected {:.1}); checks {}",
                    n * p,
                    g.sample.checks
                );
            }
            var += n * p * (1.0 - p);
            direct_err += k * m / (n - m + 1.0) - h;
            direct_var += k * k * p / (n * (1.0 - p).powi(3));
        }
        println!(
            "  diag: checks vs truth: Σ(M − np) = {dev:.0}, sd {:.0}; Σ direct − truth = {direct_err:.0}, sd {:.0}",
            var.sqrt(),
            direct_var.sqrt()
        );
        println!(
            "  diag: checked {nc}: mean z² {:.2}, error sum {ev_:.0} sd {:.0}; unchecked {nu}: mean z² {:.2}, error sum {eu2:.0} sd {:.0}",
            zc / nc.max(1) as f64,
            vc.sqrt(),
            zu / nu.max(1) as f64,
            vu.sqrt()
        );
    }
    let report = |label: &str, places: Vec<Vec<GridId>>| {
        let (mut cp, mut cu, mut cr, mut m) = (0, 0, 0, 0);
        let (mut est_p, mut true_p, mut est_u, mut true_u) = (0.0, 0u32, 0.0, 0u32);
        for grids in &places {
            let t = u.total(grids);
            let tp: u32 = grids.iter().map(|&g| hp[g as usize]).sum();
            let tu: u32 = grids.iter().map(|&g| hu[g as usize]).sum();
            let mut k = rentgrid_analysis::kpi::Counts::default();
            for &g in grids {
                k.stats.add(&counts[g as usize].stats);
            }
            if k.stats.persons == 0 {
                continue;
            }
            m += 1;
            cp += usize::from(t.persons_low <= f64::from(tp) && f64::from(tp) <= t.persons_high);
            cu += usize::from(t.units_low <= f64::from(tu) && f64::from(tu) <= t.units_high);
            let a = ActualRates::new(&k, &t, &Targets::default());
            let truth = f64::from(k.stats.persons_registered) / f64::from(k.stats.persons + tp);
            let (lo, hi) = (a.reg_rate_est_low.unwrap_or(0.0), a.reg_rate_est_high.unwrap_or(1.0));
            cr += usize::from(lo <= truth && truth <= hi);
            est_p += t.persons;
            true_p += tp;
            est_u += t.units;
            true_u += tu;
            if places.len() == 1 {
                println!(
                    "  district: register rate {:.3}, estimated {:.3} [{:.3}, {:.3}], true {truth:.3}; persons {:.0} [{:.0}, {:.0}] vs {tp} (bias {:+.1}%); units {:.0} [{:.0}, {:.0}] vs {tu} (bias {:+.1}%)",
                    a.reg_rate.unwrap_or(0.0),
                    a.reg_rate_est.unwrap_or(0.0),
                    lo,
                    hi,
                    t.persons,
                    t.persons_low,
                    t.persons_high,
                    (t.persons / f64::from(tp) - 1.0) * 100.0,
                    t.units,
                    t.units_low,
                    t.units_high,
                    (t.units / f64::from(tu) - 1.0) * 100.0,
                );
            }
        }
        let pc = |x: usize| 100.0 * x as f64 / m.max(1) as f64;
        println!(
            "  {label} ({m}): 90% coverage persons {:.1}%, reg rate {:.1}%, units {:.1}%; persons {est_p:.0} vs {true_p}, units {est_u:.0} vs {true_u}",
            pc(cp),
            pc(cr),
            pc(cu)
        );
    };
    report("grids", atlas.grids().iter().map(|g| vec![g.grid.id]).collect());
    report("communities", atlas.communities().iter().map(|c| c.grids.clone()).collect());
    report("streets", atlas.streets().iter().map(|s| s.grids.clone()).collect());
    let all: Vec<GridId> = atlas.grids().iter().map(|g| g.grid.id).collect();
    report("district", vec![all.clone()]);
    let t = u.total(&all);
    let mut k = rentgrid_analysis::kpi::Counts::default();
    for c in &counts {
        k.stats.add(&c.stats);
    }
    let hidden: u32 = hp.iter().sum();
    let a = ActualRates::new(&k, &t, &Targets::default());
    let truth = f64::from(k.stats.persons_registered) / f64::from(k.stats.persons + hidden);
    let held = a.reg_rate_est_low.is_some_and(|l| l <= truth) && a.reg_rate_est_high.is_some_and(|h| truth <= h);
    let z = (t.persons - f64::from(hidden)) / t.persons_se;
    println!("  district error {z:+.2} standard errors");
    (held, z)
}
