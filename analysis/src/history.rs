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
use rentgrid_geodata::{Atlas, BuildingStats, Month, MonthlyRegistrations};
use std::collections::BTreeMap;

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

/// The last `n` months of history ending with the latest month that has a dated registration
/// (empty when nothing is dated), from `now`, the per-grid counts of today
/// ([`crate::kpi::grid_counts`]). Registrations of buildings the Atlas lacks are ignored.
pub fn monthly_history(atlas: &Atlas, now: &[Counts], registrations: &[MonthlyRegistrations], n: usize) -> History {
    let Some(last) = registrations.iter().map(|r| r.month).max() else {
        return History { months: Vec::new(), counts: Vec::new() };
    };
    let months = last.last_n(n);
    // What each grid registered in each month, for the months after the first month's end.
    let mut by_month: BTreeMap<Month, BTreeMap<u32, Counts>> = BTreeMap::new();
    // Who moved out of each grid in each month, as they were when they left.
    let mut left: BTreeMap<Month, BTreeMap<u32, BuildingStats>> = BTreeMap::new();
    for r in registrations {
        let Some(b) = atlas.building(r.building_id) else { continue };
        let c = by_month.entry(r.month).or_default().entry(b.grid_id).or_default();
        c.stats.persons_registered += r.persons;
        c.stats.persons_with_permit += r.persons_with_permit;
        c.stats.persons_consistent += r.persons_consistent;
        c.stats.rental_units_registered += r.rental_units;
        c.stats.pledges_signed += r.pledges_signed;
        c.stats.persons += r.arrived;
        let gone = left.entry(r.month).or_default().entry(b.grid_id).or_default();
        gone.persons += r.left;
        gone.persons_registered += r.left_registered;
        gone.persons_with_permit += r.left_with_permit;
        gone.persons_consistent += r.left_consistent;
    }
    let mut counts = vec![Vec::new(); months.len()];
    let mut state: Vec<Counts> = now.to_vec();
    // Walk back from today: at the end of month m, undo everything registered after m.
    for (slot, &m) in months.iter().enumerate().rev() {
        // Those who moved out after m were still there (added back first, so undoing what
        // they did there never counts below zero).
        for (_, grids) in left.range(m.next()..) {
            for (&g, gone) in grids {
                if let Some(c) = state.get_mut(g as usize) {
                    c.stats.add(gone);
                }
            }
        }
        for (_, grids) in by_month.range(m.next()..) {
            for (&g, r) in grids {
                if let Some(c) = state.get_mut(g as usize) {
                    let s = &mut c.stats;
                    s.persons_registered = s.persons_registered.saturating_sub(r.stats.persons_registered);
                    s.persons_with_permit = s.persons_with_permit.saturating_sub(r.stats.persons_with_permit);
                    s.persons_consistent = s.persons_consistent.saturating_sub(r.stats.persons_consistent);
                    s.rental_units_registered =
                        s.rental_units_registered.saturating_sub(r.stats.rental_units_registered);
                    s.pledges_signed = s.pledges_signed.saturating_sub(r.stats.pledges_signed);
                    s.persons = s.persons.saturating_sub(r.stats.persons);
                }
            }
        }
        // Undone once: drop what was applied, so earlier months undo only their own later months.
        let keys: Vec<Month> = by_month.range(m.next()..).map(|(k, _)| *k).collect();
        for k in keys {
            by_month.remove(&k);
            left.remove(&k);
        }
        counts[slot] = state.clone();
    }
    History { months, counts }
}
