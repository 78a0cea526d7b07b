//! The monthly history (月度历史) of per-grid counts, rebuilt from the dated registrations and
//! moves the register holds.
//!
//! The register keeps each record's state now, the day it was registered (登记日期), and for a
//! person the day they moved into their home and each earlier home with the days they moved in
//! and out. The counts of a grid at the end of month `m` are its counts now with everything
//! dated after `m` undone: a person registered in a later month counts as recorded but not yet
//! registered at the end of `m` (and their permit and consistency, which only registered persons
//! have, not yet either); a person who moved in later was not there yet; a person who moved out
//! later was still there, registered as they were when they left. Records with no date count as
//! there before the history starts. Rental units recorded carry no date of their own, so their
//! totals are today's in every month.

use crate::kpi::Counts;
use rentgrid_geodata::{Atlas, BuildingId, BuildingStats, GridId, Month, MonthlyRegistrations};
use std::collections::BTreeMap;
use std::ops::Bound;

/// How many months the history covers by default.
pub const DEFAULT_MONTHS: usize = 12;

/// Per-grid counts at the end of each month.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The months, oldest first.
    pub months: Vec<Month>,
    /// Counts per grid (indexed by grid id) at the end of each month, in the order of `months`.
    pub counts: Vec<Vec<Counts>>,
}

impl History {
    /// The counts at the end of `month`, if the history covers it.
    pub fn at(&self, month: Month) -> Option<&[Counts]> {
        self.months.iter().position(|&m| m == month).map(|i| self.counts[i].as_slice())
    }

    /// The last month covered.
    pub fn last(&self) -> Option<Month> {
        self.months.last().copied()
    }
}

/// What the dated registrations of one month changed in one grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GridMonth {
    /// Registered that month: persons (with permit, consistent), rental units (pledged); its
    /// `persons` counts those who moved in.
    pub registered: BuildingStats,
    /// Those who moved out that month, as they were when they left.
    pub left: BuildingStats,
}

impl GridMonth {
    /// What the registrations of one building and month `r` add.
    fn of(r: &MonthlyRegistrations) -> Self {
        Self {
            registered: BuildingStats {
                persons_registered: r.persons,
                persons_with_permit: r.persons_with_permit,
                persons_consistent: r.persons_consistent,
                rental_units_registered: r.rental_units,
                pledges_signed: r.pledges_signed,
                persons: r.arrived,
                ..BuildingStats::default()
            },
            left: BuildingStats {
                persons: r.left,
                persons_registered: r.left_registered,
                persons_with_permit: r.left_with_permit,
                persons_consistent: r.left_consistent,
                ..BuildingStats::default()
            },
        }
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The dated registrations summed per month and grid: what the history undoes month by month.
/// Kept up to date one building's month at a time ([`MonthlyTotals::add`], [`MonthlyTotals::sub`]),
/// so a history is made without reading every registration again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthlyTotals {
    /// Per month, per grid.
    grids: BTreeMap<Month, BTreeMap<GridId, GridMonth>>,
    /// Per month, how many buildings have registrations dated in it (those the Atlas lacks too).
    buildings: BTreeMap<Month, u32>,
}

impl MonthlyTotals {
    /// The totals of `registrations` (one record per building and month), in the grids
    /// `grid_of` finds the buildings in.
    pub fn of<'a>(
        grid_of: impl Fn(BuildingId) -> Option<GridId>,
        registrations: impl IntoIterator<Item = &'a MonthlyRegistrations>,
    ) -> Self {
        let mut totals = Self::default();
        for r in registrations {
            totals.building_dated(r.month);
            totals.add(grid_of(r.building_id), r);
        }
        totals
    }

    /// Notes that one more building has registrations dated in `month`.
    pub fn building_dated(&mut self, month: Month) {
        *self.buildings.entry(month).or_default() += 1;
    }

    /// Notes that one building no longer has registrations dated in `month`.
    pub fn building_undated(&mut self, month: Month) {
        if let Some(n) = self.buildings.get_mut(&month) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.buildings.remove(&month);
            }
        }
    }

    /// Adds `r`, registrations of a building of `grid` (`None`: one the Atlas lacks, ignored).
    pub fn add(&mut self, grid: Option<GridId>, r: &MonthlyRegistrations) {
        let Some(g) = grid else { return };
        let d = GridMonth::of(r);
        let t = self.grids.entry(r.month).or_default().entry(g).or_default();
        t.registered.add(&d.registered);
        t.left.add(&d.left);
    }

    /// Takes `r` (added before) from the totals of `grid`.
    pub fn sub(&mut self, grid: Option<GridId>, r: &MonthlyRegistrations) {
        let Some(g) = grid else { return };
        let d = GridMonth::of(r);
        let Some(month) = self.grids.get_mut(&r.month) else { return };
        if let Some(t) = month.get_mut(&g) {
            t.registered.sub(&d.registered);
            t.left.sub(&d.left);
            if t.is_empty() {
                month.remove(&g);
            }
        }
        if month.is_empty() {
            self.grids.remove(&r.month);
        }
    }

    /// The latest month with a dated registration.
    pub fn last(&self) -> Option<Month> {
        self.buildings.keys().next_back().copied()
    }
}

/// The last `n` months of history ending with the latest month that has a dated registration
/// (empty when nothing is dated), from `now`, the per-grid counts of today
/// ([`crate::kpi::grid_counts`]). Registrations of buildings the Atlas lacks are ignored.
pub fn monthly_history(atlas: &Atlas, now: &[Counts], registrations: &[MonthlyRegistrations], n: usize) -> History {
    history_of(now, &MonthlyTotals::of(|b| atlas.building(b).map(|b| b.grid_id), registrations), n)
}

/// The last `n` months of history from `now` (as [`monthly_history`]) and the registrations
/// summed per month and grid.
pub fn history_of(now: &[Counts], totals: &MonthlyTotals, n: usize) -> History {
    let Some(last) = totals.last() else {
        return History { months: Vec::new(), counts: Vec::new() };
    };
    let months = last.last_n(n);
    let counts = undone_through(now, totals, &months);
    History { months, counts }
}

/// The counts of one building at the end of each of `months` (oldest first: a [`History`]'s
/// months, so that they line up with its grid's), from `now`, its counts today, and its
/// registrations (one record or more per month, in any order), by the rules of the grids'
/// history: summed over a grid's buildings, the grid's history.
pub fn building_history<'a>(
    now: &BuildingStats,
    registrations: impl IntoIterator<Item = &'a MonthlyRegistrations>,
    months: &[Month],
) -> Vec<BuildingStats> {
    // The building as a grid of its own (grid 0): the same undoing, over its records only.
    let totals = MonthlyTotals::of(|_| Some(0), registrations);
    let now = [Counts { buildings: 1, stats: *now, ..Counts::default() }];
    undone_through(&now, &totals, months).into_iter().map(|c| c.first().map(|c| c.stats).unwrap_or_default()).collect()
}

/// The per-grid counts `now` at the end of each of `months` (oldest first), with everything
/// `totals` holds dated after each month undone.
fn undone_through(now: &[Counts], totals: &MonthlyTotals, months: &[Month]) -> Vec<Vec<Counts>> {
    let mut counts = vec![Vec::new(); months.len()];
    let mut state: Vec<Counts> = now.to_vec();
    // Walk back from today: at the end of month m, undo everything registered after m (and not
    // undone for a later month already).
    let mut undone_from: Bound<Month> = Bound::Unbounded;
    for (slot, &m) in months.iter().enumerate().rev() {
        let after_m = (Bound::Excluded(m), undone_from);
        // Those who moved out after m were still there (added back first, so undoing what
        // they did there never counts below zero).
        for grids in totals.grids.range(after_m).map(|(_, g)| g) {
            for (&g, t) in grids {
                if let Some(c) = state.get_mut(g as usize) {
                    c.stats.add(&t.left);
                }
            }
        }
        for grids in totals.grids.range(after_m).map(|(_, g)| g) {
            for (&g, t) in grids {
                if let Some(c) = state.get_mut(g as usize) {
                    let (s, r) = (&mut c.stats, &t.registered);
                    s.persons_registered = s.persons_registered.saturating_sub(r.persons_registered);
                    s.persons_with_permit = s.persons_with_permit.saturating_sub(r.persons_with_permit);
                    s.persons_consistent = s.persons_consistent.saturating_sub(r.persons_consistent);
                    s.rental_units_registered = s.rental_units_registered.saturating_sub(r.rental_units_registered);
                    s.pledges_signed = s.pledges_signed.saturating_sub(r.pledges_signed);
                    s.persons = s.persons.saturating_sub(r.persons);
                }
            }
        }
        undone_from = Bound::Included(m);
        counts[slot] = state.clone();
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrations::{DatedPerson, DatedRecord, DatedUnit};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use time::{Date, Month as CalendarMonth};

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
                    records.push(DatedRecord::Unit(DatedUnit {
                        building_id,
                        registered,
                        registered_on,
                        pledge_signed,
                    }));
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
                grid_now[(b as u32 % grids) as usize].add_building(s);
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
        let now =
            BuildingStats { persons: 1, persons_registered: 1, persons_with_permit: 1, ..BuildingStats::default() };
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
}
