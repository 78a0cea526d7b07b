//! The records the candidate estimate reads besides the Atlas (visits, sweep visits, spot
//! checks, tips and the roster), kept in memory and changed by each committed write instead of
//! read again from the store.

use crate::candidates::Evidence;
use rentgrid_geodata::{Caseworker, CaseworkerId, GridId, SpotCheck, Tip, Visit};
use std::collections::BTreeSet;
use time::Date;

/// What the candidate estimate reads besides the Atlas, as the store holds it: each list in
/// the order of its ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredEvidence {
    /// Routine visits (no campaign).
    pub visits: Vec<Visit>,
    /// Visits of a sweep campaign.
    pub sweeps: Vec<Visit>,
    /// Spot checks.
    pub spot_checks: Vec<SpotCheck>,
    /// Tips.
    pub tips: Vec<Tip>,
    /// The roster, with contracted grids.
    pub caseworkers: Vec<Caseworker>,
}

/// Contracts (包干) replaced by an accepted territory proposal: every contract of the
/// caseworkers of `streets` and of the grids `grids` ends, and `assignments` begin.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContractChange {
    /// The street teams whose contracts end.
    pub streets: Vec<String>,
    /// The grids whose contracts end.
    pub grids: Vec<GridId>,
    /// The new contracts: caseworker and grid.
    pub assignments: Vec<(CaseworkerId, GridId)>,
}

impl StoredEvidence {
    /// The estimators' view of these records on the day `as_of`.
    pub fn as_of(&self, as_of: Date) -> Evidence<'_> {
        Evidence { visits: &self.visits, sweeps: &self.sweeps, spot_checks: &self.spot_checks, tips: &self.tips, as_of }
    }

    /// Adds a recorded visit: a sweep visit when `sweep` (it names a campaign), else a routine
    /// one. A visit already kept (by id) is not added again: `false`.
    pub fn add_visit(&mut self, visit: Visit, sweep: bool) -> bool {
        let list = if sweep { &mut self.sweeps } else { &mut self.visits };
        // New visits have the highest id: the search ends at once.
        match list.binary_search_by_key(&visit.id, |v| v.id) {
            Err(i) => {
                list.insert(i, visit);
                true
            }
            Ok(_) => false,
        }
    }

    /// Replaces contracts as `change` says, keeping each caseworker's grids ascending.
    pub fn apply_contracts(&mut self, change: &ContractChange) {
        change.apply_to(&mut self.caseworkers);
    }
}

impl ContractChange {
    /// Replaces the contracts of `caseworkers` as this says, keeping each one's grids ascending.
    pub fn apply_to(&self, caseworkers: &mut [Caseworker]) {
        let streets: BTreeSet<&str> = self.streets.iter().map(String::as_str).collect();
        let grids: BTreeSet<GridId> = self.grids.iter().copied().collect();
        for c in caseworkers.iter_mut() {
            if streets.contains(c.street_code.as_str()) {
                c.grids.clear();
            }
            c.grids.retain(|g| !grids.contains(g));
        }
        for &(caseworker, grid) in &self.assignments {
            if let Some(c) = caseworkers.iter_mut().find(|c| c.id == caseworker) {
                c.grids.push(grid);
            }
        }
        for c in caseworkers.iter_mut() {
            c.grids.sort_unstable();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caseworker(id: u32, street: &str, grids: Vec<GridId>) -> Caseworker {
        Caseworker { id, name: format!("c{id}"), street_code: street.into(), grids }
    }

    #[test]
    fn accepted_contracts_replace_those_of_their_streets_and_grids() {
        let mut ev = StoredEvidence {
            caseworkers: vec![
                caseworker(0, "A", vec![1, 2]),
                caseworker(1, "B", vec![3, 4]),
                caseworker(2, "C", vec![9]),
            ],
            ..StoredEvidence::default()
        };
        ev.apply_contracts(&ContractChange {
            streets: vec!["A".into()],
            grids: vec![1, 2, 3],
            assignments: vec![(0, 3), (1, 1)],
        });
        let grids: Vec<Vec<GridId>> = ev.caseworkers.iter().map(|c| c.grids.clone()).collect();
        assert_eq!(grids, [vec![3], vec![1, 4], vec![9]]);
    }
}
