//! Balanced territory proposals: every grid in exactly one area, every area one piece (checked by
//! a BFS of our own over the Atlas adjacency), loads the sums of their grids' requirements and
//! within the deviation the proposal reports, fewer grids moved in minimal-change mode.

use crate::support::{Cell, demo, lattice};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::staffing::{StaffingRule, grid_requirements};
use rentgrid_analysis::territory::{Mode, TerritoryOptions, TerritoryProposal, propose};
use rentgrid_geodata::{Atlas, Caseworker};
use std::collections::{BTreeSet, VecDeque};

fn cw(id: u32, grids: impl IntoIterator<Item = u32>) -> Caseworker {
    Caseworker {
        id,
        name: format!("综管员{id}"),
        street_code: "330203001000".into(),
        grids: grids.into_iter().collect(),
    }
}

fn connected(atlas: &Atlas, grids: &[u32]) -> bool {
    let set: BTreeSet<u32> = grids.iter().copied().collect();
    let Some(&start) = grids.first() else { return false };
    let mut seen = BTreeSet::from([start]);
    let mut q = VecDeque::from([start]);
    while let Some(g) = q.pop_front() {
        for &h in atlas.neighbours(g) {
            if set.contains(&h) && seen.insert(h) {
                q.push_back(h);
            }
        }
    }
    seen.len() == set.len()
}

/// Everything a proposal promises, checked independently of how it was made.
fn check(atlas: &Atlas, p: &TerritoryProposal, rule: &StaffingRule) {
    let req = grid_requirements(atlas, rule);
    for (s, street) in p.streets.iter().zip(atlas.streets()) {
        assert_eq!(s.street_code, street.street.code);
        let mut all: Vec<u32> = s.areas.iter().flat_map(|a| a.grids.iter().copied()).collect();
        all.sort_unstable();
        assert_eq!(all, street.grids, "street {}: every grid exactly once", s.street_code);
        assert_eq!(s.areas.len(), s.staff);
        // A street in one piece gets areas in one piece each (a street in several pieces may not).
        let street_connected = connected(atlas, &street.grids);
        let mut max_dev: f64 = 0.0;
        for a in &s.areas {
            assert_eq!(a.contiguous, connected(atlas, &a.grids), "street {}: area {:?}", s.street_code, a.grids);
            assert!(a.contiguous || !street_connected, "street {}: area {:?} is not one piece", s.street_code, a.grids);
            let load: f64 = a.grids.iter().map(|&g| req[g as usize]).sum();
            assert!((load - a.load).abs() < 1e-9, "load {} vs grids {load}", a.load);
            assert!((load / s.target - 1.0 - a.deviation).abs() < 1e-9);
            assert!(a.polsby_popper > 0.0 && a.polsby_popper <= 1.0, "{}", a.polsby_popper);
            max_dev = max_dev.max(a.deviation.abs());
        }
        assert!((max_dev - s.proposed.max_deviation).abs() < 1e-12);
        assert_eq!(s.proposed.all_contiguous, s.areas.iter().all(|a| a.contiguous));
        assert_eq!(s.proposed.uncovered, 0);
        assert_eq!(s.within_epsilon, s.proposed.max_deviation <= p.epsilon + 1e-12);
        assert!(s.best_possible_deviation <= s.proposed.max_deviation + 1e-12);
    }
}

/// A 10 × 10 lattice of 100 migrants per grid (0.2 caseworker each at 500:1) and five
/// caseworkers holding columns 0–3, 4–5, 6–7, 8 and 9: a target of 20 grids each.
fn columns() -> (Atlas, Vec<Caseworker>) {
    let atlas = lattice(1, 10, &[Cell { community: 0, dispersed: 100, ..Cell::default() }; 100]);
    let cols = |c: &[u32]| (0..100u32).filter(move |g| c.contains(&(g % 10))).collect::<Vec<u32>>();
    let cws = vec![
        cw(10, cols(&[0, 1, 2, 3])),
        cw(11, cols(&[4, 5])),
        cw(12, cols(&[6, 7])),
        cw(13, cols(&[8])),
        cw(14, cols(&[9])),
    ];
    (atlas, cws)
}

#[test]
fn minimal_change_balances_an_uneven_street_with_few_moves() {
    let (atlas, cws) = columns();
    let rule = StaffingRule::ningbo();
    let minimal = propose(&atlas, &cws, &rule, &TerritoryOptions::default()).unwrap();
    let scratch =
        propose(&atlas, &cws, &rule, &TerritoryOptions { mode: Mode::FromScratch, ..TerritoryOptions::default() })
            .unwrap();
    check(&atlas, &minimal, &rule);
    check(&atlas, &scratch, &rule);
    let (m, s) = (&minimal.streets[0], &scratch.streets[0]);
    // Today: 40, 20, 20, 10, 10 grids of 0.2 → loads 8, 4, 4, 2, 2 against a target of 4.
    assert!((m.target - 4.0).abs() < 1e-9);
    assert!((m.today.max_deviation - 1.0).abs() < 1e-9);
    assert!((m.today.max_load - 8.0).abs() < 1e-9);
    assert!(
        m.within_epsilon && s.within_epsilon,
        "{} {} {:?}",
        m.proposed.max_deviation,
        s.proposed.max_deviation,
        m.areas.iter().map(|a| (a.grids.clone(), a.deviation)).collect::<Vec<_>>()
    );
    // Columns 0–3 must give 20 grids to the two single-column caseworkers: 20 moves at least.
    assert!(m.proposed.grids_changed >= 20);
    assert!(
        m.proposed.grids_changed < s.proposed.grids_changed,
        "{} vs {}",
        m.proposed.grids_changed,
        s.proposed.grids_changed
    );
    eprintln!(
        "changed: minimal {} scratch {}; PP {:.3} {:.3}",
        m.proposed.grids_changed,
        s.proposed.grids_changed,
        m.proposed.mean_polsby_popper,
        s.proposed.mean_polsby_popper
    );
    // In minimal-change mode each area keeps its caseworker, and most of what they held.
    for (a, c) in m.areas.iter().zip(&cws) {
        assert_eq!(a.caseworker_id, Some(c.id));
    }
}

#[test]
fn random_populations_reach_five_percent_from_scratch() {
    for (seed, cols, rows, k) in [(1u64, 20usize, 20usize, 8u32), (2, 30, 20, 12), (3, 15, 10, 4)] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let cells: Vec<Cell> = (0..cols * rows)
            .map(|_| Cell { community: 0, dispersed: rng.random_range(20..120), ..Cell::default() })
            .collect();
        let atlas = lattice(1, cols, &cells);
        // Today: everything with caseworker 0, the others with nothing.
        let cws: Vec<Caseworker> =
            (0..k).map(|i| cw(i, if i == 0 { (0..(cols * rows) as u32).collect() } else { vec![] })).collect();
        let rule = StaffingRule::ningbo();
        for mode in [Mode::FromScratch, Mode::MinimalChange] {
            let p =
                propose(&atlas, &cws, &rule, &TerritoryOptions { mode, seed, ..TerritoryOptions::default() }).unwrap();
            check(&atlas, &p, &rule);
            let s = &p.streets[0];
            assert!(s.within_epsilon, "seed {seed} {mode:?}: max deviation {}", s.proposed.max_deviation);
            assert!(s.proposed.mean_polsby_popper > 0.3, "{mode:?}: {}", s.proposed.mean_polsby_popper);
        }
    }
}

#[test]
fn one_heavy_grid_makes_five_percent_unreachable_and_the_result_says_so() {
    // 16 grids: one of 2,000 migrants (4 caseworkers' worth), fifteen of 100: total 7.0 for 4
    // caseworkers, a target of 1.75 that the heavy grid alone exceeds by 4/1.75 − 1 ≈ 129%.
    let mut cells = vec![Cell { community: 0, dispersed: 100, ..Cell::default() }; 16];
    cells[5].dispersed = 2000;
    let atlas = lattice(1, 4, &cells);
    let cws: Vec<Caseworker> = (0..4).map(|i| cw(i, (i * 4..i * 4 + 4).collect::<Vec<u32>>())).collect();
    let rule = StaffingRule::ningbo();
    let p = propose(&atlas, &cws, &rule, &TerritoryOptions::default()).unwrap();
    check(&atlas, &p, &rule);
    let s = &p.streets[0];
    assert!((s.best_possible_deviation - (4.0 / 1.75 - 1.0)).abs() < 1e-9, "{}", s.best_possible_deviation);
    assert!(!s.within_epsilon);
    // The heavy grid stands alone: its area is exactly the bound.
    let heavy = s.areas.iter().find(|a| a.grids.contains(&5)).unwrap();
    assert_eq!(heavy.grids, vec![5]);
}

#[test]
fn todays_gaps_and_overlaps_are_repaired() {
    let (atlas, mut cws) = columns();
    // Caseworker 13 also claims column 9; caseworker 14 loses half of it; a piece of column 0
    // given to caseworker 12 is cut off from the rest of their area.
    let col9 = cws[4].grids.clone();
    cws[3].grids.extend(col9);
    cws[4].grids.truncate(5);
    cws[2].grids.push(0);
    let rule = StaffingRule::ningbo();
    let p = propose(&atlas, &cws, &rule, &TerritoryOptions::default()).unwrap();
    check(&atlas, &p, &rule);
    let s = &p.streets[0];
    assert!(!s.today.all_contiguous);
    assert!(s.within_epsilon, "{}", s.proposed.max_deviation);
}

#[test]
fn the_demo_district_is_planned_street_by_street_and_deterministically() {
    let (city, atlas) = demo(0.1);
    let rule = StaffingRule::ningbo();
    for mode in [Mode::MinimalChange, Mode::FromScratch] {
        let opts = TerritoryOptions { mode, ..TerritoryOptions::default() };
        let p = propose(&atlas, &city.caseworkers, &rule, &opts).unwrap();
        check(&atlas, &p, &rule);
        assert_eq!(p, propose(&atlas, &city.caseworkers, &rule, &opts).unwrap(), "same seed, same plan");
        // A street planned alone gets the plan it gets among all the others.
        let (a, b) = (&p.streets[1].street_code, &p.streets[3].street_code);
        let alone = TerritoryOptions { streets: Some(vec![a.clone(), b.clone()]), ..opts.clone() };
        let some = propose(&atlas, &city.caseworkers, &rule, &alone).unwrap();
        assert_eq!(some.streets, vec![p.streets[1].clone(), p.streets[3].clone()], "{mode:?}");
        for s in &p.streets {
            // Better balance than today wherever today is off target, unless a grid forbids it.
            assert!(
                s.proposed.max_deviation <= s.today.max_deviation.max(s.best_possible_deviation) + 1e-9,
                "{mode:?} {}: {} vs today {}",
                s.street_code,
                s.proposed.max_deviation,
                s.today.max_deviation
            );
        }
    }
}

#[test]
fn bad_options_are_errors() {
    let (atlas, cws) = columns();
    let opts = TerritoryOptions { epsilon: f64::NAN, ..TerritoryOptions::default() };
    assert!(propose(&atlas, &cws, &StaffingRule::ningbo(), &opts).is_err());
}
