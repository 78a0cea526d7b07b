//! The unrecorded estimate, the actual rates and the candidate model against a known truth: a
//! simulated population (lattice grids whose unrecorded share is drawn, spot checks drawn from
//! it, fixed seeds, several sizes) and the demo city's hidden ground truth at seeds and scales
//! chosen before any was run and used for no tuning (each city made once per test binary).

use crate::support::{Cell, lattice};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::actual_rates::ActualRates;
use rentgrid_analysis::candidates::{self, BuildingEstimate, CandidateWeights, Candidates, Evidence};
use rentgrid_analysis::kpi::{Counts, Targets, grid_counts};
use rentgrid_analysis::unrecorded::{Unrecorded, UnrecordedParams, estimate, estimate_with};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, City, GridId, SpotCheck};
use std::sync::OnceLock;

/// A demo city with its estimates and the true unrecorded persons and units per grid.
struct Case {
    seed: u64,
    scale: f64,
    city: City,
    atlas: Atlas,
    estimate: Unrecorded,
    hidden_persons: Vec<u32>,
    hidden_units: Vec<u32>,
    /// The candidate model's estimate of every building beside its true hidden units and persons.
    buildings: Vec<(BuildingEstimate, u32, u32)>,
}

/// The candidate model's estimate of every building beside its true hidden units and persons.
fn with_truth(city: &City, cands: &Candidates) -> Vec<(BuildingEstimate, u32, u32)> {
    let mut truth = vec![(0u32, 0u32); cands.buildings.len()];
    for h in &city.hidden {
        truth[h.building_id as usize] = (h.units, h.persons);
    }
    cands
        .buildings
        .iter()
        .map(|e| (e.clone(), truth[e.building_id as usize].0, truth[e.building_id as usize].1))
        .collect()
}

fn case(seed: u64, scale: f64) -> Case {
    let opts = DemoOptions { seed, scale, ..Default::default() };
    let city: City = generate(&opts, &mut |_, _| {}).unwrap();
    let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
    let ev = Evidence::of_city(&city, opts.as_of);
    let params = UnrecordedParams::default();
    let cands = candidates::estimate(&atlas, &ev, &params.weights).unwrap();
    let estimate = estimate_with(&atlas, &ev, &cands, &params).unwrap();
    let buildings = with_truth(&city, &cands);
    let n = atlas.grids().len();
    let (mut hidden_persons, mut hidden_units) = (vec![0u32; n], vec![0u32; n]);
    for h in &city.hidden {
        let g = atlas.buildings()[h.building_id as usize].grid_id as usize;
        hidden_persons[g] += h.persons;
        hidden_units[g] += h.units;
    }
    Case { seed, scale, city, atlas, estimate, hidden_persons, hidden_units, buildings }
}

/// Cities at the seeds 101–104 at scale 0.5 and 105 at scale 1, chosen before any was run and
/// used for no tuning (the model was built on the seeds 20240601, 7 and 2026), made once per
/// test binary (each about 10 s in a debug build, most of it the city itself).
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| [(101, 0.5), (102, 0.5), (103, 0.5), (104, 0.5), (105, 1.0)].map(|(s, k)| case(s, k)).into())
}

/// The register's counts, the estimated actual rates and the true registration rate of `grids`.
fn place(c: &Case, counts: &[Counts], grids: &[GridId]) -> (Counts, ActualRates, f64, u32) {
    let mut k = Counts::default();
    for &g in grids {
        k.stats.add(&counts[g as usize].stats);
    }
    let hidden: u32 = grids.iter().map(|&g| c.hidden_persons[g as usize]).sum();
    let a = ActualRates::new(&k, &c.estimate.total(grids), &Targets::default());
    let truth = f64::from(k.stats.persons_registered) / f64::from(k.stats.persons + hidden);
    (k, a, truth, hidden)
}

/// The district's estimate of the unrecorded persons within ±10% of the truth in every city, and
/// of the rental units too (the units grew with the number of spot checks per grid before:
/// +15% at scale 0.5); its 90% interval honest: the errors in standard errors have a root mean
/// square near 1, and the interval holds the true rate in at least four of the five cities. (A
/// calibrated 90% interval holds it in all five with probability 0.59 only, in at least four
/// with 0.92; asking for all five would ask for an interval wider than its level, or for seeds
/// picked to pass.)
#[test]
fn the_district_interval_holds_the_true_rate_and_the_estimate_is_within_ten_percent() {
    let (mut held, mut z2) = (0, 0.0);
    for c in cases() {
        let counts = grid_counts(&c.atlas);
        let all: Vec<GridId> = c.atlas.grids().iter().map(|g| g.grid.id).collect();
        let (k, a, truth, hidden) = place(c, &counts, &all);
        let (lo, hi) = (a.reg_rate_est_low.unwrap(), a.reg_rate_est_high.unwrap());
        let units: u32 = c.hidden_units.iter().sum();
        let se = c.estimate.total(&all).persons_se;
        let z = (a.persons_unrecorded_est - f64::from(hidden)) / se;
        println!(
            "seed {} scale {}: register {:.3}, estimated {:.3} [{lo:.3}, {hi:.3}], true {truth:.3}; unrecorded persons {:.0} [{:.0}, {:.0}] vs {hidden} ({z:+.2} se); units {:.0} [{:.0}, {:.0}] vs {units}",
            c.seed,
            c.scale,
            a.reg_rate.unwrap(),
            a.reg_rate_est.unwrap(),
            a.persons_unrecorded_est,
            a.persons_unrecorded_low,
            a.persons_unrecorded_high,
            a.rental_units_unrecorded_est,
            a.rental_units_unrecorded_low,
            a.rental_units_unrecorded_high,
        );
        held += usize::from(lo <= truth && truth <= hi);
        z2 += z * z;
        let err = a.persons_unrecorded_est / f64::from(hidden) - 1.0;
        assert!(err.abs() <= 0.10, "seed {} scale {}: off by {:.1}%", c.seed, c.scale, err * 100.0);
        let err = a.rental_units_unrecorded_est / f64::from(units) - 1.0;
        assert!(err.abs() <= 0.10, "seed {} scale {}: units off by {:.1}%", c.seed, c.scale, err * 100.0);
        // The register's own rate is what it always was.
        assert_eq!(a.reg_rate, Some(f64::from(k.stats.persons_registered) / f64::from(k.stats.persons)));
        assert!(a.reg_rate_est.unwrap() < a.reg_rate.unwrap());
    }
    let rms = (z2 / cases().len() as f64).sqrt();
    println!(
        "district intervals hold the true rate in {held} of {}; errors' root mean square {rms:.2} se",
        cases().len()
    );
    assert!(held + 1 >= cases().len(), "{held} of {}", cases().len());
    assert!((0.4..=1.6).contains(&rms), "{rms}");
}

#[test]
fn street_intervals_cover_the_true_rate_between_80_and_98_percent() {
    let (mut covered, mut streets) = (0, 0);
    for c in cases() {
        let counts = grid_counts(&c.atlas);
        let mut here = 0;
        for s in c.atlas.streets() {
            let (k, a, truth, _) = place(c, &counts, &s.grids);
            if k.stats.persons == 0 {
                continue;
            }
            let hit = a.reg_rate_est_low.unwrap() <= truth && truth <= a.reg_rate_est_high.unwrap();
            here += usize::from(hit);
            covered += usize::from(hit);
            streets += 1;
        }
        println!("seed {} scale {}: {here} of {} streets covered", c.seed, c.scale, c.atlas.streets().len());
    }
    let share = covered as f64 / streets as f64;
    println!("streets: {covered} of {streets} covered ({:.1}%)", share * 100.0);
    assert!((0.80..=0.98).contains(&share), "{share}");
}

#[test]
fn grid_intervals_cover_near_their_level() {
    let (mut covered, mut grids) = (0, 0);
    for c in cases() {
        for g in c.atlas.grids() {
            let t = c.estimate.total(&[g.grid.id]);
            let truth = f64::from(c.hidden_persons[g.grid.id as usize]);
            covered += usize::from(t.persons_low <= truth && truth <= t.persons_high);
            grids += 1;
        }
    }
    let share = covered as f64 / grids as f64;
    println!("grids: {covered} of {grids} covered ({:.1}%)", share * 100.0);
    assert!((0.80..=0.98).contains(&share), "{share}");
}

/// A simulated population: `n` lattice grids of `persons` recorded each, an unrecorded share
/// drawn per grid around a district level, and spot checks drawn from it.
fn simulated(n: usize, seed: u64) -> (Atlas, Vec<SpotCheck>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cells: Vec<Cell> = (0..n)
        .map(|_| Cell { community: 0, dispersed: rng.random_range(150..400), rental_units: 80, ..Cell::default() })
        .collect();
    let atlas = lattice(1, (n as f64).sqrt().ceil() as usize, &cells);
    let counts = grid_counts(&atlas);
    let mut checks = Vec::new();
    let mut hidden = Vec::new();
    for (g, c) in counts.iter().enumerate() {
        let share: f64 = rng.random_range(0.03..0.25);
        let k = f64::from(c.stats.persons);
        let h = (k * share / (1.0 - share)).round() as u32;
        hidden.push(h);
        let p = f64::from(h) / (k + f64::from(h));
        for _ in 0..rng.random_range(0..8) {
            let households = rng.random_range(10..21);
            let missed = (0..households * 2).filter(|_| rng.random_bool(p)).count() as u32;
            checks.push(SpotCheck {
                id: checks.len() as u32,
                caseworker_id: 0,
                grid_id: g as GridId,
                checked_on: DemoOptions::default().as_of,
                households_checked: households,
                missed_registration: missed,
                missed_permit: 0,
                wrong_records: 0,
            });
        }
    }
    (atlas, checks, hidden)
}

/// Twenty populations at each of three sizes: the grids' intervals cover about 90% of the grids,
/// and the totals' intervals about 90% of the populations, with no bias in the totals.
#[test]
fn simulated_populations_are_recovered_at_several_sizes() {
    let (mut hits, mut reps, mut z_sum) = (0, 0, 0.0);
    for n in [64, 256, 900] {
        let (mut grid_hits, mut grids) = (0, 0);
        for seed in 1..=20u64 {
            let (atlas, checks, hidden) = simulated(n, seed * 1000 + n as u64);
            let ev = Evidence {
                visits: &[],
                sweeps: &[],
                spot_checks: &checks,
                tips: &[],
                as_of: DemoOptions::default().as_of,
            };
            let u = estimate(&atlas, &ev, &UnrecordedParams::default()).unwrap();
            grid_hits += (0..n)
                .filter(|&g| {
                    let t = u.total(&[g as GridId]);
                    t.persons_low <= f64::from(hidden[g]) && f64::from(hidden[g]) <= t.persons_high
                })
                .count();
            grids += n;
            let all: Vec<GridId> = (0..n as GridId).collect();
            let t = u.total(&all);
            let truth = f64::from(hidden.iter().sum::<u32>());
            hits += usize::from(t.persons_low <= truth && truth <= t.persons_high);
            z_sum += (t.persons - truth) / t.persons_se;
            reps += 1;
        }
        let share = grid_hits as f64 / grids as f64;
        println!("{n} grids × 20 populations: grid intervals cover {:.1}%", share * 100.0);
        assert!((0.85..=0.96).contains(&share), "{n}: {share}");
    }
    let share = hits as f64 / reps as f64;
    let mean_z = z_sum / reps as f64;
    println!(
        "totals: {hits} of {reps} intervals hold the truth ({:.1}%); mean error {mean_z:.2} standard errors",
        share * 100.0
    );
    assert!((0.80..=0.98).contains(&share), "{share}");
    assert!(mean_z.abs() < 0.5, "{mean_z}");
}

/// The candidate model's top `k` buildings by expected units.
struct TopK {
    /// Share with hidden units.
    precision: f64,
    /// Expected and hidden units.
    units: (f64, u32),
    /// Expected and hidden persons.
    persons: (f64, u32),
    /// How many of them hold their hidden units inside their 90% interval.
    covered: usize,
}

fn top_k(buildings: &[(BuildingEstimate, u32, u32)], k: usize) -> TopK {
    let mut ranked: Vec<&(BuildingEstimate, u32, u32)> =
        buildings.iter().filter(|b| b.0.expected_units > 0.0).collect();
    ranked
        .sort_by(|a, b| b.0.expected_units.total_cmp(&a.0.expected_units).then(a.0.building_id.cmp(&b.0.building_id)));
    let top = &ranked[..k];
    TopK {
        precision: top.iter().filter(|b| b.1 > 0).count() as f64 / k as f64,
        units: (top.iter().map(|b| b.0.expected_units).sum(), top.iter().map(|b| b.1).sum()),
        persons: (top.iter().map(|b| b.0.expected_persons).sum(), top.iter().map(|b| b.2).sum()),
        covered: top.iter().filter(|b| b.0.units_low <= f64::from(b.1) && f64::from(b.1) <= b.0.units_high).count(),
    }
}

/// The candidate model in every city: its ranking sharp (precision in the top 1,000 at least
/// 0.95), its expected units and persons within 6% of the truth in sum over the top 1,000 and
/// 2,000 buildings, and its 90% intervals holding the truth for 88–92% of those buildings
/// (pooled over the cities; 86–94% in each).
#[test]
fn the_candidate_model_is_calibrated_in_its_top_k() {
    for k in [1000, 2000] {
        let (mut covered, mut n) = (0, 0);
        for c in cases() {
            let t = top_k(&c.buildings, k);
            let (cover, units, persons) = (
                t.covered as f64 / k as f64,
                t.units.0 / f64::from(t.units.1) - 1.0,
                t.persons.0 / f64::from(t.persons.1) - 1.0,
            );
            println!(
                "seed {} scale {}, top {k}: precision {:.3}; units {:.0} vs {} ({:+.1}%); persons {:.0} vs {} ({:+.1}%); 90% intervals cover {:.1}%",
                c.seed,
                c.scale,
                t.precision,
                t.units.0,
                t.units.1,
                units * 100.0,
                t.persons.0,
                t.persons.1,
                persons * 100.0,
                cover * 100.0
            );
            assert!(units.abs() <= 0.06 && persons.abs() <= 0.06, "seed {} top {k}: {units} {persons}", c.seed);
            assert!((0.86..=0.94).contains(&cover), "seed {} top {k}: {cover}", c.seed);
            if k == 1000 {
                assert!(t.precision >= 0.95, "seed {}: {}", c.seed, t.precision);
            }
            (covered, n) = (covered + t.covered, n + k);
        }
        let cover = covered as f64 / n as f64;
        println!("top {k}: {covered} of {n} intervals hold the truth ({:.1}%)", cover * 100.0);
        assert!((0.88..=0.92).contains(&cover), "top {k}: {cover}");
    }
}

/// The default demo city at scale 1, the reference: precision in the top 1,000 at least
/// 0.95 (0.955 when the issue was written).
#[test]
fn the_default_city_ranks_as_sharply_as_before() {
    let opts = DemoOptions::default();
    let city: City = generate(&opts, &mut |_, _| {}).unwrap();
    let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
    let ev = Evidence::of_city(&city, opts.as_of);
    let cands = candidates::estimate(&atlas, &ev, &CandidateWeights::default()).unwrap();
    let t = top_k(&with_truth(&city, &cands), 1000);
    println!(
        "default city, top 1000: precision {:.3}; units {:.0} vs {}; {} covered",
        t.precision, t.units.0, t.units.1, t.covered
    );
    assert!(t.precision >= 0.95, "{}", t.precision);
}

/// The cause of the rental units' old bias: the candidate model read the spot checks' share of
/// persons missed as a share of units hidden, so that the more households a grid's checks saw
/// (half as many again per grid at scale 0.5), the more units it expected. Checks only
/// calibrate the model now: the same checks made twice over (twice the households, the same
/// misses per household) leave the district's unrecorded units where they were, within 2%, and
/// every grid's hidden share exactly.
#[test]
fn more_spot_checks_of_the_same_grids_leave_the_units_where_they_were() {
    let c = &cases()[0];
    let as_of = DemoOptions::default().as_of;
    let ev = Evidence::of_city(&c.city, as_of);
    let twice: Vec<SpotCheck> =
        c.city.spot_checks.iter().flat_map(|s| [s.clone(), SpotCheck { id: s.id + 1_000_000, ..s.clone() }]).collect();
    let doubled = Evidence { spot_checks: &twice, ..ev };
    let w = CandidateWeights::default();
    let (once, again) =
        (candidates::estimate(&c.atlas, &ev, &w).unwrap(), candidates::estimate(&c.atlas, &doubled, &w).unwrap());
    let units = |x: &Candidates| x.grids.iter().map(|g| g.expected_units).sum::<f64>();
    let change = units(&again) / units(&once) - 1.0;
    println!(
        "district units {:.0} with the checks, {:.0} with each made twice ({:+.2}%)",
        units(&once),
        units(&again),
        change * 100.0
    );
    assert!(change.abs() < 0.02, "{change}");
    assert!(once.grids.iter().zip(&again.grids).all(|(a, b)| a.hidden_share == b.hidden_share));
}
