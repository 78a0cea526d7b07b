//! The monthly history on the demo city: rebuilt from the registration dates the city holds, it
//! ends at today's counts, never loses a registration going forward, and shows the trends the
//! demo gives its communities (some register most of their year's people late, some early); each
//! grid's history is the sum of its buildings' (the drill-down's building trend).

use rentgrid_analysis::history::{building_history, monthly_history};
use rentgrid_analysis::kpi::grid_counts;
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput, BuildingStats, City, Month, MonthlyRegistrations};
use std::collections::BTreeMap;

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
