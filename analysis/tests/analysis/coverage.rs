//! Staffing rules against hand computations, and coverage areas: dissolved, valid, the area of
//! their grids, with loads, gaps and overlaps.

use crate::support::{Cell, demo, lattice};
use geo::Validation;
use rentgrid_analysis::coverage::coverage;
use rentgrid_analysis::staffing::{PlaceLevel, StaffingError, StaffingRow, StaffingRule, grid_requirements, staffing};
use rentgrid_geodata::Caseworker;

fn cw(id: u32, grids: &[u32]) -> Caseworker {
    Caseworker { id, name: format!("综管员{id}"), street_code: "330203001000".into(), grids: grids.to_vec() }
}

fn dispersed(community: usize, persons: u32) -> Cell {
    Cell { community, dispersed: persons, ..Cell::default() }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Checks required (fractional after the floor), rounded, assigned, and the yuan to close the gap.
fn check(row: &StaffingRow, required: f64, rounded: u32, assigned: f64, yuan: f64) {
    assert!(close(row.required, required), "{}: required {} ≠ {required}", row.code, row.required);
    assert_eq!(row.required_rounded, rounded, "{}", row.code);
    assert!(close(row.assigned, assigned), "{}: assigned {} ≠ {assigned}", row.code, row.assigned);
    assert!(close(row.yearly_cost_yuan, yuan), "{}: cost {} ≠ {yuan}", row.code, row.yearly_cost_yuan);
}

#[test]
fn ningbo_500_per_caseworker_and_one_per_community_at_least() {
    // Community 1: one grid of 120 migrants. Community 2: grids of 600 and 450. Community 3: one
    // empty grid. Caseworker 0 holds grid 0; caseworker 1 grids 1 and 2; nobody grid 3.
    let atlas = lattice(3, 4, &[dispersed(0, 120), dispersed(1, 600), dispersed(1, 450), dispersed(2, 0)]);
    let r = staffing(&atlas, &[cw(0, &[0]), cw(1, &[1, 2])], &StaffingRule::ningbo()).unwrap();
    // Grids: 120/500 = 0.24 → 1; 600/500 = 1.2 → 2; 0.9 → 1; nothing → 0. No floor for grids.
    check(&r.grids[0], 0.24, 1, 1.0, 0.0);
    check(&r.grids[1], 1.2, 2, 0.5, 22_000.0 * 2.0);
    check(&r.grids[2], 0.9, 1, 0.5, 22_000.0);
    check(&r.grids[3], 0.0, 0, 0.0, 0.0);
    // Communities under 500 still get one; 1,050 migrants need 2.1 → 3, with one assigned.
    assert!(close(r.communities[0].ratio_required, 0.24));
    check(&r.communities[0], 1.0, 1, 1.0, 0.0);
    check(&r.communities[1], 2.1, 3, 1.0, 44_000.0);
    check(&r.communities[2], 1.0, 1, 0.0, 22_000.0);
    // The street: 1 + 2.1 + 1 = 4.1 → 5, two assigned, three to hire at 22,000 yuan.
    check(&r.streets[0], 4.1, 5, 2.0, 66_000.0);
    assert_eq!(r.streets[0].to_hire, 3);
    assert_eq!(r.district.required_rounded, 5);
    assert_eq!(r.grids[0].level, PlaceLevel::Grid);
    // Exactly the ratio needs exactly that many, not one more.
    let exact = lattice(1, 1, &[dispersed(0, 1000)]);
    assert_eq!(staffing(&exact, &[], &StaffingRule::ningbo()).unwrap().streets[0].required_rounded, 2);
}

#[test]
fn nanjing_500_residents_or_50_rental_households_whichever_needs_more() {
    // Grid 0: 400 residents, 30 rentals → max(0.8, 0.6) = 0.8. Grid 1: 300 residents, 70 rentals
    // → max(0.6, 1.4) = 1.4. Together: 700 and 100 → max(1.4, 2.0) = 2.0, not 0.8 + 1.4.
    let cells = [
        Cell { community: 0, dispersed: 400, rental_units: 30, ..Cell::default() },
        Cell { community: 0, dispersed: 300, rental_units: 70, ..Cell::default() },
    ];
    let atlas = lattice(1, 2, &cells);
    let r = staffing(&atlas, &[cw(0, &[0, 1])], &StaffingRule::nanjing()).unwrap();
    check(&r.grids[0], 0.8, 1, 0.5, 22_000.0);
    check(&r.grids[1], 1.4, 2, 0.5, 44_000.0);
    check(&r.communities[0], 2.0, 2, 1.0, 22_000.0);
    check(&r.streets[0], 2.0, 2, 1.0, 22_000.0);
    assert_eq!(r.streets[0].population.rental_units, 100.0);
}

#[test]
fn wuxi_1000_concentrated_and_400_dispersed_add_up() {
    // Grid 0: 1,500 in a dormitory and 600 dispersed → 1.5 + 1.5 = 3. Grid 1: 200 and 100 →
    // 0.2 + 0.25 = 0.45 → 1. Street 3.45 → 4.
    let cells = [
        Cell { community: 0, dispersed: 600, concentrated: 1500, ..Cell::default() },
        Cell { community: 0, dispersed: 100, concentrated: 200, ..Cell::default() },
    ];
    let atlas = lattice(1, 2, &cells);
    let r = staffing(&atlas, &[cw(0, &[0]), cw(1, &[1])], &StaffingRule::wuxi()).unwrap();
    check(&r.grids[0], 3.0, 3, 1.0, 44_000.0);
    check(&r.grids[1], 0.45, 1, 1.0, 0.0);
    check(&r.streets[0], 3.45, 4, 2.0, 44_000.0);
    assert_eq!(r.streets[0].population.persons_concentrated, 1700.0);
}

#[test]
fn taizhou_1000_per_caseworker_with_a_configured_cost() {
    // 2,500 + 1,000 = 3,500 → 3.5 → 4; three assigned; one to hire at 30,000 yuan.
    let atlas = lattice(1, 3, &[dispersed(0, 2500), dispersed(0, 1000), dispersed(0, 0)]);
    let rule = StaffingRule { cost_per_caseworker_yuan: 30_000.0, ..StaffingRule::taizhou() };
    let r = staffing(&atlas, &[cw(0, &[0]), cw(1, &[0]), cw(2, &[1, 2])], &rule).unwrap();
    check(&r.grids[0], 2.5, 3, 2.0, 30_000.0);
    check(&r.grids[1], 1.0, 1, 0.5, 30_000.0);
    check(&r.streets[0], 3.5, 4, 3.0, 30_000.0);
    // Over-staffed places have a negative gap and cost nothing.
    check(&r.grids[2], 0.0, 0, 0.5, 0.0);
    assert!(close(r.grids[2].gap, -0.5));
}

#[test]
fn rules_are_configuration() {
    let json = r#"{"name":"custom","terms":[{"basis":"rental_units","per_caseworker":40}],"combine":"max"}"#;
    let rule: StaffingRule = serde_json::from_str(json).unwrap();
    assert_eq!(rule.cost_per_caseworker_yuan, 22_000.0);
    assert_eq!(rule.min_per_community, 0);
    let back: StaffingRule = serde_json::from_str(&serde_json::to_string(&StaffingRule::wuxi()).unwrap()).unwrap();
    assert_eq!(back, StaffingRule::wuxi());
    for name in ["ningbo", "nanjing", "wuxi", "taizhou"] {
        assert_eq!(StaffingRule::preset(name).unwrap().name, name);
    }
    assert!(matches!(StaffingRule::preset("suzhou"), Err(StaffingError::Preset(_))));
    let atlas = lattice(1, 1, &[dispersed(0, 10)]);
    let bad = StaffingRule { terms: vec![], ..StaffingRule::ningbo() };
    assert!(matches!(staffing(&atlas, &[], &bad), Err(StaffingError::NoTerms(_))));
    let mut zero = StaffingRule::ningbo();
    zero.terms[0].per_caseworker = 0.0;
    assert!(matches!(staffing(&atlas, &[], &zero), Err(StaffingError::Ratio { .. })));
}

#[test]
fn coverage_reports_loads_gaps_and_overlaps() {
    // 3 × 2 lattice, 250 migrants per grid (0.5 caseworker each at 500:1):
    //   3 4 5
    //   0 1 2
    // Caseworker 0: 0, 1, 3 (an L). Caseworker 1: 1, 2 (grid 1 shared). Caseworker 2: 0 and 5,
    // which do not touch. Grid 4 nobody holds.
    let atlas = lattice(1, 3, &[dispersed(0, 250); 6]);
    let cws = [cw(0, &[0, 1, 3]), cw(1, &[1, 2, 99]), cw(2, &[5, 0])];
    let r = coverage(&atlas, &cws, &StaffingRule::ningbo()).unwrap();
    assert_eq!(r.uncovered, vec![4]);
    let twice: Vec<(u32, Vec<u32>)> = r.covered_twice.iter().map(|s| (s.grid_id, s.caseworkers.clone())).collect();
    assert_eq!(twice, vec![(0, vec![0, 2]), (1, vec![0, 1])]);
    let a = &r.areas;
    // Loads: shared grids split their 0.5 between holders.
    assert!(close(a[0].load, 0.25 + 0.25 + 0.5), "{}", a[0].load);
    assert!(close(a[1].load, 0.25 + 0.5));
    assert!(close(a[2].load, 0.5 + 0.25));
    assert!(r.overloaded.is_empty());
    assert_eq!(a[1].unknown_grids, vec![99]);
    assert_eq!(a[2].grids, vec![0, 5]);
    assert_eq!((a[0].parts, a[1].parts, a[2].parts), (1, 1, 2));
    for area in a {
        assert!(area.valid && area.geometry.is_valid());
        let grids: f64 = area.grids.iter().map(|&g| atlas.grid(g).unwrap().area_km2).sum();
        // Geodesic edges of merged cells bow a little differently from the cells' own edges.
        assert!((area.area_km2 - grids).abs() < 1e-5 * grids, "{} vs {grids}", area.area_km2);
    }
    // The L dissolves into one ring: 6 corners (no vertex left on the internal boundaries).
    assert_eq!(a[0].geometry.0[0].exterior().0.len(), 7, "{:?}", a[0].geometry);
    // Heavier grids overload caseworker 0.
    let heavy = lattice(1, 3, &[dispersed(0, 300); 6]);
    let r = coverage(&heavy, &cws, &StaffingRule::ningbo()).unwrap();
    assert_eq!(r.overloaded, vec![0]);
    assert!(close(r.areas[0].load, 0.3 + 0.3 + 0.6));
}

#[test]
fn demo_coverage_polygons_are_valid_and_their_area_is_their_grids() {
    let (city, atlas) = demo(0.1);
    let r = coverage(&atlas, &city.caseworkers, &StaffingRule::ningbo()).unwrap();
    assert_eq!(r.areas.len(), city.caseworkers.len());
    // The demo contracts every grid to exactly one caseworker.
    assert!(r.uncovered.is_empty() && r.covered_twice.is_empty());
    for a in &r.areas {
        assert!(a.valid, "caseworker {}: invalid union", a.caseworker_id);
        let rel = (a.area_km2 - a.grids_area_km2).abs() / a.grids_area_km2;
        assert!(rel < 1e-6, "caseworker {}: {} km² vs grids {} km²", a.caseworker_id, a.area_km2, a.grids_area_km2);
    }
    // Every grid held once: the loads add up to the district's requirement.
    let loads: f64 = r.areas.iter().map(|a| a.load).sum();
    let required: f64 = grid_requirements(&atlas, &StaffingRule::ningbo()).iter().sum();
    assert!(loads > 1.0 && (loads - required).abs() < 1e-9 * required, "{loads} vs {required}");
    let total: f64 = r.areas.iter().map(|a| a.area_km2).sum();
    let grids: f64 = atlas.grids().iter().map(|g| g.area_km2).sum();
    assert!((total - grids).abs() / grids < 1e-6);
}
