//! The inputs of the views derived from the register besides the Atlas, kept in memory: the
//! monthly registrations behind the history, the evidence behind the candidate estimate, and
//! the caseworkers' visits and spot checks summed per month behind the assessment.
//! They are read from the store once (at start-up and after an import) and then changed by
//! each committed write's [`InputChange`], so a view made after a write reads no store.

use crate::assessment::{self, Activity, GridRegistrations, Work};
use crate::evidence::{ContractChange, StoredEvidence};
use crate::registrations::{MonthlyLedger, RegistrationChange};
use rentgrid_geodata::{BuildingId, CaseworkerId, GridId, MonthlyRegistrations, Visit};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one committed write changed in the inputs of the derived views.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputChange {
    /// The dated records it changed.
    pub registrations: RegistrationChange,
    /// The visits it recorded, each with whether it is a sweep visit.
    pub visits: Vec<(Visit, bool)>,
    /// The contracts it replaced.
    pub contracts: Option<ContractChange>,
}

impl InputChange {
    /// A change of dated records only (what a field write makes).
    pub fn of(registrations: &RegistrationChange) -> Self {
        Self { registrations: registrations.clone(), ..Self::default() }
    }

    /// It changes nothing.
    pub fn is_empty(&self) -> bool {
        self.registrations.is_empty() && self.visits.is_empty() && self.contracts.is_none()
    }
}

/// The monthly registrations, the evidence and the caseworkers' work per month, each shared
/// with the views being made from them (a write copies one only while a view still reads it),
/// and a generation counting the changes applied.
#[derive(Debug, Clone, Default)]
pub struct ViewInputs {
    /// The monthly registrations, per building and summed per grid.
    pub registrations: Arc<MonthlyLedger>,
    /// Visits, spot checks, tips and the roster.
    pub evidence: Arc<StoredEvidence>,
    /// The visits and spot checks of the evidence summed per month and caseworker.
    pub work: Arc<BTreeMap<(assessment::Month, CaseworkerId), Work>>,
    /// Changes applied since these inputs were read from the store: a view made from one
    /// generation is stale in the next.
    pub generation: u64,
}

impl ViewInputs {
    /// The inputs as read from the store: `registrations` summed in the grids `grid_of` finds
    /// the buildings in, and `evidence`.
    pub fn new(
        grid_of: impl Fn(BuildingId) -> Option<GridId>,
        registrations: Vec<MonthlyRegistrations>,
        evidence: StoredEvidence,
    ) -> Self {
        let mut work = Activity::default();
        for v in evidence.visits.iter().chain(&evidence.sweeps) {
            work.add_visit(v);
        }
        for s in &evidence.spot_checks {
            work.add_spot_check(s);
        }
        Self {
            registrations: Arc::new(MonthlyLedger::new(grid_of, registrations)),
            evidence: Arc::new(evidence),
            work: Arc::new(work.work),
            generation: 0,
        }
    }

    /// What the assessment of `month` counts: the registrations of the month summed per grid
    /// (from the ledger's totals) and the caseworkers' visits and spot checks.
    pub fn activity(&self, month: assessment::Month) -> Activity {
        let mut a = Activity::default();
        for (g, t) in self.registrations.totals().in_month(month.into()) {
            let r = GridRegistrations {
                persons: t.registered.persons_registered,
                rental_units: t.registered.rental_units_registered,
                cancellations: t.left.persons_registered,
            };
            if r != GridRegistrations::default() {
                a.add_registrations(month, g, &r);
            }
        }
        let last = CaseworkerId::MAX;
        for (&(m, c), w) in self.work.range((month, CaseworkerId::MIN)..=(month, last)) {
            a.add_work(m, c, w);
        }
        a
    }

    /// Applies a committed write's `change` (nothing when it is empty).
    pub fn apply(&mut self, grid_of: impl Fn(BuildingId) -> Option<GridId>, change: &InputChange) {
        if change.is_empty() {
            return;
        }
        if !change.registrations.is_empty() {
            Arc::make_mut(&mut self.registrations).apply(grid_of, &change.registrations);
        }
        if !change.visits.is_empty() || change.contracts.is_some() {
            let evidence = Arc::make_mut(&mut self.evidence);
            for (visit, sweep) in &change.visits {
                if evidence.add_visit(visit.clone(), *sweep)
                    && let Some(c) = visit.caseworker_id
                {
                    let key = (assessment::Month::of(visit.visited_on), c);
                    Arc::make_mut(&mut self.work).entry(key).or_default().add(&Work::of_visit(visit));
                }
            }
            if let Some(c) = &change.contracts {
                evidence.apply_contracts(c);
            }
        }
        self.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrations::{DatedPerson, DatedRecord};
    use rentgrid_geodata::SpotCheck;
    use time::macros::date;

    fn visit(id: u32, caseworker: Option<CaseworkerId>, pledges: u32) -> Visit {
        Visit {
            id,
            client_id: id.to_string(),
            building_id: 3,
            caseworker_id: caseworker,
            visited_on: date!(2026 - 11 - 05),
            units_registered: 0,
            pledges_signed: pledges,
            units_found: 0,
            persons_found: 0,
            notes: String::new(),
        }
    }

    #[test]
    fn the_months_activity_follows_each_write_and_counts_a_visit_once() {
        let nov = assessment::Month { year: 2026, month: 11 };
        let check = SpotCheck {
            id: 0,
            caseworker_id: 7,
            grid_id: 1,
            checked_on: date!(2026 - 11 - 20),
            households_checked: 10,
            missed_registration: 2,
            missed_permit: 1,
            wrong_records: 0,
        };
        let evidence =
            StoredEvidence { visits: vec![visit(1, Some(7), 2)], spot_checks: vec![check], ..Default::default() };
        // Building 3 is in grid 1; building 9 in none the Atlas knows.
        let grid_of = |b: BuildingId| (b == 3).then_some(1);
        let mut inputs = ViewInputs::new(grid_of, Vec::new(), evidence);
        let person = |building_id| DatedPerson {
            building_id,
            registered: true,
            registered_on: Some(date!(2026 - 11 - 05)),
            permit: false,
            consistent: true,
            moved_in_on: None,
        };
        let mut registrations = RegistrationChange::default();
        registrations.replace(None, Some(DatedRecord::Home(person(3))));
        registrations.replace(None, Some(DatedRecord::Home(person(9))));
        let change = InputChange {
            registrations,
            visits: vec![(visit(2, Some(7), 1), false), (visit(3, None, 4), true)],
            contracts: None,
        };
        inputs.apply(grid_of, &change);
        // The same visits again (a change read twice while catching up) count nothing more.
        inputs.apply(grid_of, &InputChange { visits: change.visits.clone(), ..InputChange::default() });

        let a = inputs.activity(nov);
        assert_eq!(a.work.len(), 1, "a visit with no caseworker counts for nobody");
        let work = a.work[&(nov, 7)];
        assert_eq!((work.inspections, work.pledges, work.checks, work.households), (2, 3, 1, 10));
        assert_eq!(a.grids.len(), 1, "the person in a building outside the Atlas counts nowhere");
        assert_eq!(a.grids[&(nov, 1)], GridRegistrations { persons: 1, ..GridRegistrations::default() });
        assert_eq!(inputs.activity(assessment::Month { year: 2026, month: 10 }), Activity::default());
    }
}
