//! The demo city and the Atlas over it: determinism, hierarchy integrity, and the Atlas's
//! queries against brute-force scans.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use geo::{BoundingRect, Contains, Distance, Euclidean, Intersects, Point, Rect, Validation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::idcard::IdNumber;
use rentgrid_geodata::{Atlas, AtlasInput, City, StatsDelta};
use std::collections::BTreeSet;
use std::sync::OnceLock;

const SCALE: f64 = 0.15;

fn city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| generate(&DemoOptions { scale: SCALE, ..Default::default() }, &mut |_, _| {}).unwrap())
}

fn atlas() -> &'static Atlas {
    static ATLAS: OnceLock<Atlas> = OnceLock::new();
    ATLAS.get_or_init(|| Atlas::build(AtlasInput::from_city(city())).unwrap())
}

#[test]
fn same_seed_same_city_other_seed_other_city() {
    let opts = DemoOptions { scale: 0.05, seed: 7, ..Default::default() };
    let a = generate(&opts, &mut |_, _| {}).unwrap();
    let b = generate(&opts, &mut |_, _| {}).unwrap();
    assert!(a == b, "two runs with seed 7 differ");
    let c = generate(&DemoOptions { seed: 8, ..opts }, &mut |_, _| {}).unwrap();
    assert!(a.grids != c.grids && a.persons != c.persons, "seeds 7 and 8 gave the same city");
}

#[test]
fn scale_out_of_range_is_an_error_not_a_panic() {
    for scale in [0.0, -1.0, 1000.0, f64::NAN] {
        assert!(generate(&DemoOptions { scale, ..Default::default() }, &mut |_, _| {}).is_err(), "{scale}");
    }
}

#[test]
fn the_hierarchy_is_the_real_one_and_complete() {
    let c = city();
    assert_eq!(c.streets.len(), 17);
    assert_eq!(c.communities.len(), 280, "every real community gets land");
    let community_codes: BTreeSet<&str> = c.communities.iter().map(|x| x.code.as_str()).collect();
    let street_codes: BTreeSet<&str> = c.streets.iter().map(|x| x.code.as_str()).collect();
    assert!(c.communities.iter().all(|x| street_codes.contains(x.street_code.as_str())));
    assert!(c.grids.iter().all(|g| community_codes.contains(g.community_code.as_str())));
    // Every community has at least one grid.
    let with_grids: BTreeSet<&str> = c.grids.iter().map(|g| g.community_code.as_str()).collect();
    assert_eq!(with_grids.len(), 280);
    for (i, g) in c.grids.iter().enumerate() {
        assert_eq!(g.id as usize, i);
        assert!(g.geometry.is_valid(), "grid {} is not a valid polygon", g.code);
    }
    // The grids tile the district: their areas add up to its area.
    let grids: f64 = atlas().grids().iter().map(|g| g.area_km2).sum();
    let district = rentgrid_geodata::atlas::geodesic_area_m2(&c.district.outline) / 1e6;
    assert!(atlas().grids().iter().all(|g| g.area_km2 > 0.0));
    assert!((grids - district).abs() / district < 0.01, "grids {grids} km² vs district {district} km²");
}

#[test]
fn every_building_lies_in_exactly_one_grid_its_own() {
    let c = city();
    let a = atlas();
    assert!(c.buildings.len() > 1000);
    for b in &c.buildings {
        let own = &c.grids[b.grid_id as usize].geometry;
        assert!(own.contains(&b.point), "building {} is outside its grid {}", b.id, b.grid_id);
        let holders: Vec<u32> =
            a.grids().iter().filter(|g| g.grid.geometry.intersects(&b.point)).map(|g| g.grid.id).collect();
        assert_eq!(holders, vec![b.grid_id], "building {} point in grids {holders:?}", b.id);
        assert_eq!(a.grid_at(b.point.x(), b.point.y()), Some(b.grid_id));
    }
}

#[test]
fn records_reference_what_exists_and_ids_are_valid() {
    let c = city();
    let nb = c.buildings.len() as u32;
    assert!(c.rental_units.iter().all(|u| u.building_id < nb));
    assert!(c.persons.iter().all(|p| p.building_id < nb));
    assert!(c.persons.iter().all(|p| (p.household_id as usize) < c.households.len()));
    for p in c.persons.iter().step_by(7) {
        IdNumber::parse(&p.id_number).unwrap_or_else(|e| panic!("person {}: {e}", p.id));
    }
    for l in &c.landlords {
        IdNumber::parse(&l.id_number).unwrap();
    }
    // A registered person's flags are consistent; an unregistered one has none.
    assert!(c.persons.iter().all(|p| p.registered || (!p.permit && !p.consistent && p.registered_on.is_none())));
    assert!(c.rental_units.iter().all(|u| u.registered || !u.pledge_signed));
    // Every grid's caseworker is in the grid's street; every grid is contracted exactly once.
    let mut contracted = vec![0; c.grids.len()];
    for w in &c.caseworkers {
        for &g in &w.grids {
            contracted[g as usize] += 1;
            let comm = c.communities.iter().find(|x| x.code == c.grids[g as usize].community_code).unwrap();
            assert_eq!(comm.street_code, w.street_code);
        }
    }
    assert!(contracted.iter().all(|&n| n == 1), "grids contracted other than once");
}

#[test]
fn the_city_is_interesting_gaps_cluster_and_truth_is_hidden() {
    let c = city();
    let a = atlas();
    let hidden_units: u32 = c.hidden.iter().map(|h| h.units).sum();
    assert!(hidden_units > 0, "nothing hidden for sweeps to find");
    // Registration rate per grid: the weakest decile is far below the strongest.
    let mut rates: Vec<f64> = a
        .grids()
        .iter()
        .filter_map(|g| {
            let (mut n, mut r) = (0u32, 0u32);
            for &b in &g.buildings {
                let s = a.building_stats(b).unwrap();
                n += s.persons;
                r += s.persons_registered;
            }
            (n >= 20).then(|| f64::from(r) / f64::from(n))
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    // Most grids are near the 90% target, a weak tail is far below it: hot spots exist.
    let median = rates[rates.len() / 2];
    let weakest = rates[rates.len() / 50];
    assert!(median > 0.88, "median grid registration rate {median}");
    assert!(weakest < 0.75, "the weakest 2% of grids are at {weakest}: no registration gaps");
    // Utility meters exceed registered rental units where units are hidden.
    let gap = |b: u32| {
        let s = a.building_stats(b).unwrap();
        f64::from(c.buildings[b as usize].utility_accounts) - f64::from(s.rental_units)
    };
    let with_hidden: Vec<u32> = c.hidden.iter().filter(|h| h.units > 0).map(|h| h.building_id).collect();
    let mean_hidden = with_hidden.iter().map(|&b| gap(b)).sum::<f64>() / with_hidden.len() as f64;
    let hidden_set: BTreeSet<u32> = with_hidden.iter().copied().collect();
    let others: Vec<u32> =
        c.buildings.iter().filter(|b| b.kind.is_residential() && !hidden_set.contains(&b.id)).map(|b| b.id).collect();
    let mean_others = others.iter().map(|&b| gap(b)).sum::<f64>() / others.len() as f64;
    assert!(mean_hidden > 0.0 && mean_others.is_finite());
}

#[test]
fn point_in_grid_agrees_with_a_brute_force_scan() {
    let a = atlas();
    let bb = a.bbox();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut inside = 0;
    for _ in 0..5000 {
        let lon = rng.random_range(bb.min().x..bb.max().x);
        let lat = rng.random_range(bb.min().y..bb.max().y);
        let p = Point::new(lon, lat);
        let brute = a.grids().iter().filter(|g| g.grid.geometry.intersects(&p)).map(|g| g.grid.id).min();
        assert_eq!(a.grid_at(lon, lat), brute, "at {lon},{lat}");
        inside += usize::from(brute.is_some());
    }
    // The district fills about half its bounding box: both branches were exercised.
    assert!(inside > 1000 && inside < 4900, "{inside} of 5000 inside");
    // Points on shared vertices resolve to one grid, the lowest id.
    let g = &a.grids()[0];
    let v = g.grid.geometry.0[0].exterior().0[0];
    let brute = a.grids().iter().filter(|x| x.grid.geometry.intersects(&Point(v))).map(|x| x.grid.id).min();
    assert_eq!(a.grid_at(v.x, v.y), brute);
}

#[test]
fn bbox_and_nearest_queries_agree_with_brute_force() {
    let a = atlas();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let bb = a.bbox();
    for _ in 0..200 {
        let x = rng.random_range(bb.min().x..bb.max().x);
        let y = rng.random_range(bb.min().y..bb.max().y);
        let r = Rect::new(geo::coord! { x: x, y: y }, geo::coord! { x: x + 0.01, y: y + 0.008 });
        let brute: Vec<u32> = a
            .buildings()
            .iter()
            .filter(|b| b.footprint.bounding_rect().is_some_and(|fb| fb.intersects(&r)))
            .map(|b| b.id)
            .collect();
        assert_eq!(a.buildings_in(r), brute);
        let near = a.nearest_buildings(x, y, 5);
        let d = |id: u32| {
            let fb = a.building(id).unwrap().footprint.bounding_rect().unwrap();
            let dx = (fb.min().x - x).max(0.0).max(x - fb.max().x);
            let dy = (fb.min().y - y).max(0.0).max(y - fb.max().y);
            dx * dx + dy * dy
        };
        let mut all: Vec<f64> = a.buildings().iter().map(|b| d(b.id)).collect();
        all.sort_by(f64::total_cmp);
        let got: Vec<f64> = near.iter().map(|&id| d(id)).collect();
        assert_eq!(got, all[..5].to_vec());
    }
}

#[test]
fn adjacency_is_symmetric_and_means_a_shared_boundary() {
    let a = atlas();
    let mut pairs = 0;
    for g in a.grids() {
        for &n in &g.neighbours {
            assert_ne!(n, g.grid.id);
            assert!(a.neighbours(n).contains(&g.grid.id), "{} → {n} not symmetric", g.grid.id);
            // Neighbours touch (to within a centimetre: boolean operations round coordinates).
            let other = &a.grid(n).unwrap().grid.geometry;
            let touching = other
                .0
                .iter()
                .flat_map(|p| p.exterior().coords())
                .any(|c| g.grid.geometry.0.iter().any(|q| Euclidean.distance(&Point(*c), q.exterior()) < 1e-7));
            assert!(touching, "grids {} and {n} do not touch", g.grid.id);
            pairs += 1;
        }
    }
    // A planar partition of ~150 grids has a few hundred neighbour pairs (avg degree 4–6).
    let avg = pairs as f64 / a.grids().len() as f64;
    assert!((3.0..8.0).contains(&avg), "average degree {avg}");
    // Grids whose boxes do not even touch are never neighbours.
    for g in a.grids().iter().take(50) {
        let gb = g.grid.geometry.bounding_rect().unwrap();
        for o in a.grids() {
            if !o.grid.geometry.bounding_rect().unwrap().intersects(&gb) {
                assert!(!g.neighbours.contains(&o.grid.id));
            }
        }
    }
}

#[test]
fn applying_a_write_makes_a_new_snapshot_and_leaves_the_old_one() {
    let a = atlas();
    let b = a.buildings()[0].id;
    let before = *a.building_stats(b).unwrap();
    let next = a.with_deltas(&[StatsDelta { building_id: b, persons_registered: 1, visits: 1, ..Default::default() }]);
    assert_eq!(*a.building_stats(b).unwrap(), before);
    assert_eq!(next.building_stats(b).unwrap().persons_registered, before.persons_registered + 1);
    assert_eq!(next.version(), a.version() + 1);
}
