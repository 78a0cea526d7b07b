//! The dated registrations behind the monthly history (月度历史), kept in memory and changed
//! by each committed write instead of read again from the store.
//!
//! Each record of the register adds to the registrations of its building in the months of its
//! dates ([`MonthlyRegistrations`]): a person at their present home in the month they were
//! registered and the month they moved in, a home a person moved out of also in the month they
//! left it, a registered rental unit in the month it was registered. A write reports the records
//! it changed as they were before and after ([`RegistrationChange`]); the [`MonthlyLedger`]
//! takes the first away and adds the second, keeping both the per-building records (what the
//! store would answer) and their sums per month and grid (what the history is made from).

use crate::history::MonthlyTotals;
use rentgrid_geodata::{BuildingId, GridId, Month, MonthlyRegistrations};
use std::collections::BTreeMap;
use time::Date;

/// A person's dates and flags as the monthly registrations count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatedPerson {
    /// The building of the home.
    pub building_id: BuildingId,
    /// Registered (登记) there.
    pub registered: bool,
    /// The day of the registration, if known.
    pub registered_on: Option<Date>,
    /// Holds a residence permit.
    pub permit: bool,
    /// Lives at the registered address (人户一致).
    pub consistent: bool,
    /// The day they moved in, if known.
    pub moved_in_on: Option<Date>,
}

/// A rental unit's registration as the monthly registrations count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatedUnit {
    /// Its building.
    pub building_id: BuildingId,
    /// Registered (备案).
    pub registered: bool,
    /// The day of the registration, if known.
    pub registered_on: Option<Date>,
    /// The landlord signed the safety pledge.
    pub pledge_signed: bool,
}

/// One record of the register with dates the monthly registrations count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DatedRecord {
    /// A person at their present home (a person who left the district has none).
    Home(DatedPerson),
    /// A home a person moved out of on `moved_out_on`, as they were when they left.
    Residence {
        /// The person there.
        person: DatedPerson,
        /// The day they moved out.
        moved_out_on: Date,
    },
    /// A rental unit.
    Unit(DatedUnit),
}

/// The entry of `out` for the month of `day` (made for `building` when missing).
fn at(out: &mut Vec<MonthlyRegistrations>, building: BuildingId, day: Date) -> &mut MonthlyRegistrations {
    let month = Month::of(day);
    let i = match out.iter().position(|r| r.month == month) {
        Some(i) => i,
        None => {
            out.push(MonthlyRegistrations::none(building, month));
            out.len() - 1
        }
    };
    &mut out[i]
}

impl DatedPerson {
    /// Adds what the person counts at this home to `out`.
    fn count(&self, out: &mut Vec<MonthlyRegistrations>) {
        if let (true, Some(day)) = (self.registered, self.registered_on) {
            let r = at(out, self.building_id, day);
            r.persons += 1;
            r.persons_with_permit += u32::from(self.permit);
            r.persons_consistent += u32::from(self.consistent);
        }
        if let Some(day) = self.moved_in_on {
            at(out, self.building_id, day).arrived += 1;
        }
    }
}

impl DatedRecord {
    /// What the record adds to its building's registrations, one entry per month it counts in
    /// (at most three).
    pub fn counts(&self) -> Vec<MonthlyRegistrations> {
        let mut out: Vec<MonthlyRegistrations> = Vec::with_capacity(3);
        match self {
            DatedRecord::Home(p) => p.count(&mut out),
            DatedRecord::Residence { person: p, moved_out_on } => {
                p.count(&mut out);
                let r = at(&mut out, p.building_id, *moved_out_on);
                r.left += 1;
                r.left_registered += u32::from(p.registered);
                r.left_with_permit += u32::from(p.registered && p.permit);
                r.left_consistent += u32::from(p.registered && p.consistent);
            }
            DatedRecord::Unit(u) => {
                if let (true, Some(day)) = (u.registered, u.registered_on) {
                    let r = at(&mut out, u.building_id, day);
                    r.rental_units += 1;
                    r.pledges_signed += u32::from(u.pledge_signed);
                }
            }
        }
        out
    }
}

/// The records one write changed: each as it was before (`removed`) and as it is after
/// (`added`). A record the write made has no before; one it ended (a home left) no after.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RegistrationChange {
    /// The changed records as they were.
    pub removed: Vec<DatedRecord>,
    /// The changed records as they are now.
    pub added: Vec<DatedRecord>,
}

impl RegistrationChange {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }

    /// Notes that a record changed from `before` to `after` (`None`: it did not exist).
    pub fn replace(&mut self, before: Option<DatedRecord>, after: Option<DatedRecord>) {
        if before == after {
            return;
        }
        self.removed.extend(before);
        self.added.extend(after);
    }

    /// Adds the changes of `other` (made after these).
    pub fn extend(&mut self, other: RegistrationChange) {
        self.removed.extend(other.removed);
        self.added.extend(other.added);
    }
}

/// Adds `d` to `r`.
fn add(r: &mut MonthlyRegistrations, d: &MonthlyRegistrations) {
    r.persons += d.persons;
    r.persons_with_permit += d.persons_with_permit;
    r.persons_consistent += d.persons_consistent;
    r.rental_units += d.rental_units;
    r.pledges_signed += d.pledges_signed;
    r.arrived += d.arrived;
    r.left += d.left;
    r.left_registered += d.left_registered;
    r.left_with_permit += d.left_with_permit;
    r.left_consistent += d.left_consistent;
}

/// Takes `d` from `r` (never below zero).
fn sub(r: &mut MonthlyRegistrations, d: &MonthlyRegistrations) {
    r.persons = r.persons.saturating_sub(d.persons);
    r.persons_with_permit = r.persons_with_permit.saturating_sub(d.persons_with_permit);
    r.persons_consistent = r.persons_consistent.saturating_sub(d.persons_consistent);
    r.rental_units = r.rental_units.saturating_sub(d.rental_units);
    r.pledges_signed = r.pledges_signed.saturating_sub(d.pledges_signed);
    r.arrived = r.arrived.saturating_sub(d.arrived);
    r.left = r.left.saturating_sub(d.left);
    r.left_registered = r.left_registered.saturating_sub(d.left_registered);
    r.left_with_permit = r.left_with_permit.saturating_sub(d.left_with_permit);
    r.left_consistent = r.left_consistent.saturating_sub(d.left_consistent);
}

/// A record counts nothing: no registration, arrival or departure.
fn is_empty(r: &MonthlyRegistrations) -> bool {
    *r == MonthlyRegistrations::none(r.building_id, r.month)
}

/// The monthly registrations of every building, and their sums per month and grid, kept up to
/// date from each write's [`RegistrationChange`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthlyLedger {
    rows: BTreeMap<(BuildingId, Month), MonthlyRegistrations>,
    totals: MonthlyTotals,
}

impl MonthlyLedger {
    /// The ledger of `rows` (as the store reads them: one per building and month), summed in
    /// the grids `grid_of` finds the buildings in.
    pub fn new(grid_of: impl Fn(BuildingId) -> Option<GridId>, rows: Vec<MonthlyRegistrations>) -> Self {
        let totals = MonthlyTotals::of(grid_of, &rows);
        Self { rows: rows.into_iter().map(|r| ((r.building_id, r.month), r)).collect(), totals }
    }

    /// Applies `change`: the records it removed are taken away, then the ones it added added
    /// (buildings are found in the grids `grid_of` answers; a write never moves a building).
    pub fn apply(&mut self, grid_of: impl Fn(BuildingId) -> Option<GridId>, change: &RegistrationChange) {
        for r in change.removed.iter().flat_map(DatedRecord::counts) {
            self.take(grid_of(r.building_id), &r);
        }
        for r in change.added.iter().flat_map(DatedRecord::counts) {
            self.put(grid_of(r.building_id), &r);
        }
    }

    fn put(&mut self, grid: Option<GridId>, d: &MonthlyRegistrations) {
        let key = (d.building_id, d.month);
        let totals = &mut self.totals;
        let row = self.rows.entry(key).or_insert_with(|| {
            totals.building_dated(d.month);
            MonthlyRegistrations::none(d.building_id, d.month)
        });
        add(row, d);
        totals.add(grid, d);
    }

    fn take(&mut self, grid: Option<GridId>, d: &MonthlyRegistrations) {
        let key = (d.building_id, d.month);
        let Some(row) = self.rows.get_mut(&key) else { return };
        sub(row, d);
        if is_empty(row) {
            self.rows.remove(&key);
            self.totals.building_undated(d.month);
        }
        self.totals.sub(grid, d);
    }

    /// The registrations per building and month, ordered by building then month (as the store
    /// reads them).
    pub fn rows(&self) -> impl Iterator<Item = &MonthlyRegistrations> {
        self.rows.values()
    }

    /// The registrations of one building, by month (for [`crate::history::building_history`]).
    pub fn of_building(&self, building: BuildingId) -> impl Iterator<Item = &MonthlyRegistrations> {
        let first = Month { year: i32::MIN, month: 0 };
        let last = Month { year: i32::MAX, month: u8::MAX };
        self.rows.range((building, first)..=(building, last)).map(|(_, r)| r)
    }

    /// The registrations summed per month and grid, for [`crate::history::history_of`].
    pub fn totals(&self) -> &MonthlyTotals {
        &self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn person(registered_on: Option<Date>, permit: bool) -> DatedPerson {
        DatedPerson {
            building_id: 0,
            registered: registered_on.is_some(),
            registered_on,
            permit,
            consistent: true,
            moved_in_on: Some(date!(2026 - 01 - 10)),
        }
    }

    #[test]
    fn a_residence_counts_in_the_months_of_its_dates() {
        let r = DatedRecord::Residence {
            person: person(Some(date!(2026 - 01 - 20)), true),
            moved_out_on: date!(2026 - 03 - 01),
        };
        let counts = r.counts();
        assert_eq!(counts.len(), 2);
        assert_eq!((counts[0].persons, counts[0].persons_with_permit, counts[0].arrived), (1, 1, 1));
        assert_eq!((counts[1].left, counts[1].left_registered, counts[1].left_with_permit), (1, 1, 1));
    }

    #[test]
    fn a_change_and_its_reverse_leave_nothing() {
        let grid_of = |_| Some(0);
        let mut ledger = MonthlyLedger::default();
        let before = DatedRecord::Home(person(None, false));
        let after = DatedRecord::Home(person(Some(date!(2026 - 02 - 02)), true));
        let mut change = RegistrationChange::default();
        change.replace(None, Some(before));
        ledger.apply(grid_of, &change);
        assert_eq!(ledger.rows().count(), 1);
        let mut change = RegistrationChange::default();
        change.replace(Some(before), Some(after));
        ledger.apply(grid_of, &change);
        assert_eq!(ledger.rows().map(|r| r.persons).sum::<u32>(), 1);
        assert_eq!(ledger.of_building(0).collect::<Vec<_>>(), ledger.rows().collect::<Vec<_>>());
        assert_eq!(ledger.of_building(1).count(), 0);
        let mut change = RegistrationChange::default();
        change.replace(Some(after), None);
        ledger.apply(grid_of, &change);
        assert_eq!(ledger, MonthlyLedger::default());
    }
}
