//! The monthly history on the demo city: rebuilt from the registration dates the city holds, it
//! ends at today's counts, never loses a registration going forward, and shows the trends the
//! demo gives its communities (some register most of their year's people late, some early); each
//! grid's history is the sum of its buildings' (the drill-down's building trend).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::history::{MonthlyTotals, building_history, history_of, monthly_history};
use rentgrid_analysis::kpi::{Counts, grid_counts};
use rentgrid_analysis::registrations::{DatedPerson, DatedRecord, DatedUnit};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, BuildingId, BuildingStats, City, Month, MonthlyRegistrations};
use std::collections::BTreeMap;
use time::{Date, Month as CalendarMonth};

/// What a store's `monthly_registrations` returns, computed from the city's records.
fn registrations(city: &City) -> Vec<MonthlyRegistrations> {
    let mut out: BTreeMap<(u32, Month), MonthlyRegistrations> = BTreeMap::new();
    let mut slot = |building_id: u32, month: Month| {
        *out.entry((building_id, month)).or_insert(MonthlyRegistrations::none(building_id, month))
    };
    let mut rows: Vec<MonthlyRegistrations> = Vec::new();
    for p in city.persons.iter().filter(|p| p.registered) {
        let Some(d) = p.registered_on else { continue };
        let mut r = slot(p.building_id, Month::of(d));
        r.persons = 1;
        r.persons_with_permit = u32::from(p.permit);
        r.persons_consistent = u32::from(p.consistent);
        rows.push(r);
    }
    for u in city.rental_units.iter().filter(|u| u.registered) {
        let Some(d) = u.registered_on else { continue };
        let mut r = slot(u.building_id, Month::of(d));
        r.rental_units = 1;
        r.pledges_signed = u32::from(u.pledge_signed);
        rows.push(r);
    }
    rows
}

#[test]
fn twelve_months_end_today_only_add_registrations_and_carry_trends() {
    let city = generate(&DemoOptions { scale: 0.1, ..Default::default() }, &mut |_, _| {}).unwrap();
    let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
    let now = grid_counts(&atlas);
    let h = monthly_history(&atlas, &now, &registrations(&city), 12);
    assert_eq!(h.months.len(), 12);
    assert_eq!(h.last(), Some(Month::of(DemoOptions::default().as_of)));
    assert_eq!(h.counts.last().unwrap(), &now, "the last month is today's register");
    for pair in h.counts.windows(2) {
        for (a, b) in pair[0].iter().zip(&pair[1]) {
            assert_eq!(a.stats.persons, b.stats.persons, "persons recorded carry no date");
            assert!(a.stats.persons_registered <= b.stats.persons_registered);
            assert!(a.stats.rental_units_registered <= b.stats.rental_units_registered);
            assert!(a.stats.persons_with_permit <= a.stats.persons_registered);
        }
    }
    // The district registered people during the year.
    let total = |c: &[rentgrid_analysis::kpi::Counts]| c.iter().map(|c| c.stats.persons_registered).sum::<u32>();
    let (first, last) = (total(&h.counts[0]), total(&h.counts[11]));
    assert!(last > first, "{first} → {last}");
    // Communities that ran a sweep (every third from the second, as the generator documents)
    // registered a larger share of their year's people in its last quarter than those that
    // stalled (every third from the third).
    let mut late_share: BTreeMap<usize, (u32, u32)> = BTreeMap::new();
    for g in atlas.grids() {
        let id = g.grid.id as usize;
        let year = h.counts[11][id].stats.persons_registered - h.counts[0][id].stats.persons_registered;
        let late = h.counts[11][id].stats.persons_registered - h.counts[8][id].stats.persons_registered;
        let e = late_share.entry(g.community % 3).or_default();
        (e.0, e.1) = (e.0 + late, e.1 + year);
    }
    let share = |k: usize| late_share.get(&k).map_or(0.0, |&(l, y)| f64::from(l) / f64::from(y.max(1)));
    let (steady, improving, stalling) = (share(0), share(1), share(2));
    assert!(improving > steady + 0.1 && steady > stalling + 0.03, "late shares {improving} {steady} {stalling}");
}

#[test]
fn each_grids_history_is_the_sum_of_its_buildings_histories() {
    let city = generate(&DemoOptions { scale: 0.05, ..Default::default() }, &mut |_, _| {}).unwrap();
    let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
    let now = grid_counts(&atlas);
    let rows = registrations(&city);
    let h = monthly_history(&atlas, &now, &rows, 12);
    for g in atlas.grids() {
        let mut summed = vec![BuildingStats::default(); h.months.len()];
        for &b in &g.buildings {
            let today = atlas.building_stats(b).copied().unwrap_or_default();
            let history = building_history(&today, rows.iter().filter(|r| r.building_id == b), &h.months);
            summed.iter_mut().zip(&history).for_each(|(s, c)| s.add(c));
        }
        let grid: Vec<BuildingStats> = h.counts.iter().map(|c| c[g.grid.id as usize].stats).collect();
        assert_eq!(summed, grid, "grid {}", g.grid.code);
    }
}

/// A day of 2026 (months 1 to 12).
fn day(month: u8, d: u8) -> Date {
    Date::from_calendar_date(2026, CalendarMonth::try_from(month).unwrap(), d).unwrap()
}

/// A random day of 2026 from `from` (a month) on, or none (undated) one time in six.
fn some_day(rng: &mut ChaCha8Rng, from: u8) -> Option<Date> {
    (rng.random_range(0..6) > 0).then(|| day(rng.random_range(from..=12), rng.random_range(1..=28)))
}

/// A random register of `buildings` buildings: the records with their dates
/// (persons at home, homes left, rental units) and each building's counts today as the
/// register holds them (persons at home; permits and consistency of registered ones only).
fn register(seed: u64, buildings: u32) -> (Vec<DatedRecord>, Vec<BuildingStats>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut now = vec![BuildingStats::default(); buildings as usize];
    let mut records = Vec::new();
    for _ in 0..buildings * 12 {
        let building_id = rng.random_range(0..buildings);
        let moved_in_on = some_day(&mut rng, 1);
        let from = moved_in_on.map_or(1, |d| d.month() as u8);
        let registered = rng.random_bool(0.7);
        let person = DatedPerson {
            building_id,
            registered,
            registered_on: if registered { some_day(&mut rng, from) } else { None },
            permit: registered && rng.random_bool(0.6),
            consistent: registered && rng.random_bool(0.8),
            moved_in_on,
        };
        let s = &mut now[building_id as usize];
        match rng.random_range(0..4) {
            0 => {
                // Moved out on or after their last date here.
                let last = person.registered_on.or(moved_in_on).map_or(1, |d| d.month() as u8);
                let moved_out_on = day(rng.random_range(last..=12), 28);
                records.push(DatedRecord::Residence { person, moved_out_on });
            }
            1 => {
                let registered = rng.random_bool(0.6);
                let pledge_signed = registered && rng.random_bool(0.5);
                let registered_on = if registered { some_day(&mut rng, 1) } else { None };
                records.push(DatedRecord::Unit(DatedUnit { building_id, registered, registered_on, pledge_signed }));
                s.rental_units += 1;
                s.rental_units_registered += u32::from(registered);
                s.pledges_signed += u32::from(pledge_signed);
            }
            _ => {
                records.push(DatedRecord::Home(person));
                s.persons += 1;
                s.persons_registered += u32::from(registered);
                s.persons_with_permit += u32::from(person.permit);
                s.persons_consistent += u32::from(person.consistent);
            }
        }
    }
    (records, now)
}

#[test]
fn a_grids_history_is_the_sum_of_its_buildings_histories() {
    for (seed, buildings, grids) in [(1, 3, 1), (7, 20, 4), (42, 60, 7)] {
        let grid_of = |b: BuildingId| Some(b % grids);
        let (records, now) = register(seed, buildings);
        let rows: Vec<MonthlyRegistrations> = records.iter().flat_map(DatedRecord::counts).collect();
        let mut grid_now = vec![Counts::default(); grids as usize];
        for (b, s) in now.iter().enumerate() {
            let c = &mut grid_now[(b as u32 % grids) as usize];
            c.buildings += 1;
            c.stats.add(s);
        }
        let h = history_of(&grid_now, &MonthlyTotals::of(grid_of, &rows), 12);
        assert_eq!(h.months.len(), 12, "seed {seed}");
        let mut summed = vec![vec![BuildingStats::default(); grids as usize]; h.months.len()];
        for (b, s) in now.iter().enumerate() {
            let b = b as BuildingId;
            let history = building_history(s, rows.iter().filter(|r| r.building_id == b), &h.months);
            assert_eq!(history.last(), Some(s), "seed {seed}: building {b}'s last month is today's");
            for (month, counts) in summed.iter_mut().zip(&history) {
                month[(b % grids) as usize].add(counts);
            }
        }
        for (i, month) in summed.iter().enumerate() {
            let grid: Vec<BuildingStats> = h.counts[i].iter().map(|c| c.stats).collect();
            assert_eq!(month, &grid, "seed {seed}, {}", h.months[i]);
        }
    }
}

#[test]
fn a_building_counts_a_person_registered_from_the_month_of_the_registration() {
    let person = DatedPerson {
        building_id: 5,
        registered: true,
        registered_on: Some(day(3, 15)),
        permit: true,
        consistent: false,
        moved_in_on: Some(day(1, 2)),
    };
    let rows = DatedRecord::Home(person).counts();
    let now = BuildingStats { persons: 1, persons_registered: 1, persons_with_permit: 1, ..BuildingStats::default() };
    let months = Month { year: 2026, month: 4 }.last_n(5);
    let h = building_history(&now, &rows, &months);
    let at = |i: usize| (h[i].persons, h[i].persons_registered, h[i].persons_with_permit);
    assert_eq!(at(0), (0, 0, 0), "2025-12: not moved in yet");
    assert_eq!(at(1), (1, 0, 0), "2026-01: moved in, not registered");
    assert_eq!(at(2), (1, 0, 0), "2026-02");
    assert_eq!(at(3), (1, 1, 1), "2026-03: registered");
    assert_eq!(h[4], now);
    assert!(building_history(&now, &rows, &[]).is_empty());
}
