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

    /// The totals of each grid with registrations dated in `month`, by grid.
    pub fn in_month(&self, month: Month) -> impl Iterator<Item = (GridId, &GridMonth)> {
        self.grids.get(&month).into_iter().flat_map(|grids| grids.iter().map(|(&g, t)| (g, t)))
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
