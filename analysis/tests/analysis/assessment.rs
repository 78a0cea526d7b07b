//! Monthly assessment on a constructed street: counts by month and caseworker, deductions,
//! scores, ranking with ties, and spot-check rates with their intervals.

use crate::support::{Cell, lattice};
use rentgrid_analysis::assessment::{
    Activity, Assessment, AssessmentInput, Cancellation, ManualCounts, Month, ScoreFormula, SpotRate, assess,
};
use rentgrid_geodata::{Caseworker, ManagementMode, Person, RentalUnit, SpotCheck, Visit};
use std::collections::BTreeMap;
use time::Date;
use time::macros::date;

fn cw(id: u32, grids: &[u32]) -> Caseworker {
    Caseworker { id, name: format!("综管员{id}"), street_code: "330203001000".into(), grids: grids.to_vec() }
}

/// A registered person in the walk-up of `grid` (the lattice gives grid `g` buildings `2g`, `2g+1`).
fn person(id: u32, grid: u32, on: Date) -> Person {
    Person {
        id,
        household_id: 0,
        building_id: 2 * grid,
        name: String::new(),
        id_number: String::new(),
        phone: String::new(),
        registered: true,
        registered_on: Some(on),
        permit: false,
        consistent: true,
        workplace_id: None,
    }
}

fn unit(id: u32, grid: u32, on: Date) -> RentalUnit {
    RentalUnit {
        id,
        building_id: 2 * grid,
        landlord_id: None,
        label: format!("{id}"),
        registered: true,
        registered_on: Some(on),
        pledge_signed: false,
        tenants: 1,
        mode: ManagementMode::SelfManaged,
        concentrated: false,
    }
}

fn visit(id: u32, caseworker: u32, on: Date, pledges: u32) -> Visit {
    Visit {
        id,
        client_id: id.to_string(),
        building_id: 0,
        caseworker_id: Some(caseworker),
        visited_on: on,
        units_registered: 0,
        pledges_signed: pledges,
        units_found: 0,
        persons_found: 0,
        notes: String::new(),
    }
}

fn check(id: u32, caseworker: u32, households: u32, missed: u32, wrong: u32) -> SpotCheck {
    SpotCheck {
        id,
        caseworker_id: caseworker,
        grid_id: 0,
        checked_on: date!(2026 - 09 - 20),
        households_checked: households,
        missed_registration: missed,
        missed_permit: 0,
        wrong_records: wrong,
    }
}

const SEP: Month = Month { year: 2026, month: 9 };
const AUG: Month = Month { year: 2026, month: 8 };

fn row(rows: &[Assessment], id: u32, month: Month) -> &Assessment {
    rows.iter().find(|r| r.caseworker_id == id && r.month == month).unwrap()
}

#[test]
fn a_month_is_counted_scored_and_ranked() {
    let atlas = lattice(1, 4, &[Cell::default(); 4]);
    // Caseworker 0: grid 0; 1: grid 1; 2: grids 2 and 3.
    let cws = [cw(0, &[0]), cw(1, &[1]), cw(2, &[2, 3])];
    let sep = date!(2026 - 09 - 10);
    let mut persons: Vec<Person> = (0..5).map(|i| person(i, 0, sep)).collect();
    persons.extend((5..8).map(|i| person(i, 1, sep)));
    persons.push(person(8, 0, date!(2026 - 08 - 31)));
    let mut unregistered = person(9, 1, sep);
    unregistered.registered = false;
    persons.push(unregistered);
    let units = [unit(0, 0, sep), unit(1, 2, sep), unit(2, 3, date!(2026 - 09 - 30))];
    let mut visits: Vec<Visit> = (0..4).map(|i| visit(i, 0, sep, 1)).collect();
    visits.extend((4..14).map(|i| visit(i, 1, sep, 0)));
    visits.extend((14..16).map(|i| visit(i, 2, sep, 0)));
    let checks = [check(0, 0, 20, 2, 1), check(1, 1, 10, 0, 0)];
    let manual = BTreeMap::from([((2, SEP), ManualCounts { cancellations: 3, permits: 4, ..ManualCounts::default() })]);
    // Two registered persons moved out of grid 3 (caseworker 2's) in September, one in August.
    let moved_out = |grid: u32, on: Date| Cancellation { building_id: 2 * grid, on };
    let cancellations = [moved_out(3, sep), moved_out(3, date!(2026 - 09 - 30)), moved_out(3, date!(2026 - 08 - 01))];
    let activity = Activity::of_records(&atlas, &persons, &units, &cancellations, &visits, &checks);
    let input = AssessmentInput { caseworkers: &cws, activity: &activity, manual: &manual };
    let rows = assess(&input, &[AUG, SEP], &ScoreFormula::default());
    assert_eq!(rows.len(), 6);
    let (a, b, c) = (row(&rows, 0, SEP), row(&rows, 1, SEP), row(&rows, 2, SEP));
    assert_eq!((a.registrations, a.rental_registrations, a.pledges, a.inspections), (5, 1, 4, 4));
    assert_eq!((b.registrations, b.rental_registrations, b.pledges, b.inspections), (3, 0, 0, 10));
    assert_eq!((c.registrations, c.rental_registrations, c.pledges, c.inspections), (0, 2, 0, 2));
    assert_eq!(c.manual.permits, 4);
    // Cancellations: the 2 recorded in September and the 3 given.
    assert_eq!((a.cancellations, b.cancellations, c.cancellations), (0, 0, 5));
    assert_eq!(row(&rows, 2, AUG).cancellations, 1);
    // 60 + 5 + 1 + 4 + 4 × 0.5 − (2 × 2 + 1) = 67; 60 + 3 + 10 × 0.5 = 68; 60 + 2 + 1 + 5 + 4 = 72.
    assert_eq!(a.deductions, 5.0);
    assert_eq!((a.score, b.score, c.score), (67.0, 68.0, 72.0));
    assert_eq!((a.rank_in_street, b.rank_in_street, c.rank_in_street), (3, 2, 1));
    assert_eq!(a.street_size, 3);
    // August: caseworker 0 registered one person and caseworker 2 cancelled one registration
    // (a point each): they share first place, caseworker 1 is third.
    let ranks: Vec<usize> = (0..3).map(|i| row(&rows, i, AUG).rank_in_street).collect();
    assert_eq!(ranks, vec![1, 3, 1]);
    assert_eq!(row(&rows, 1, AUG).missed_registration.rate, None, "no spot check, no rate");

    // Spot-check rates: 2 missed in 20 households, Wilson 95% (0.027866, 0.301034) as
    // statsmodels' proportion_confint(2, 20, method="wilson") gives.
    let r = a.missed_registration;
    assert_eq!(r.rate, Some(0.1));
    assert!((r.low.unwrap() - 0.027_866).abs() < 1e-5 && (r.high.unwrap() - 0.301_034).abs() < 1e-5, "{r:?}");
    assert_eq!(b.missed_registration.rate, Some(0.0));
    assert_eq!(b.missed_registration.low, Some(0.0));

    // The formula is configuration: double points for registrations put caseworker 0 first.
    let f: ScoreFormula = serde_json::from_str(r#"{"registration": 3.0}"#).unwrap();
    assert_eq!(f.base, 60.0);
    let rows = assess(&input, &[SEP], &f);
    assert_eq!(row(&rows, 0, SEP).score, 77.0);
    assert_eq!(row(&rows, 0, SEP).rank_in_street, 1);
}

#[test]
fn more_misses_than_households_use_a_rate_interval() {
    // 8 persons missed in 5 households: 1.6 per household, Poisson score interval
    // (k + z²/2 ± z·√(k + z²/4)) / n.
    let r = SpotRate::new(8, 5);
    let z: f64 = 1.959_963_984_540_054;
    let half = z * (8.0 + z * z / 4.0).sqrt();
    assert_eq!(r.rate, Some(1.6));
    assert!((r.low.unwrap() - (8.0 + z * z / 2.0 - half) / 5.0).abs() < 1e-12);
    assert!(r.low.unwrap() < 1.6 && r.high.unwrap() > 1.6);
    assert_eq!(SpotRate::new(0, 0).rate, None);
}
