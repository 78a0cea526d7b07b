//! The inputs of the views derived from the register besides the Atlas, kept in memory: the
//! monthly registrations behind the history and the evidence behind the candidate estimate.
//! They are read from the store once (at start-up and after an import) and then changed by
//! each committed write's [`InputChange`], so a view made after a write reads no store.

use crate::evidence::{ContractChange, StoredEvidence};
use crate::registrations::{MonthlyLedger, RegistrationChange};
use rentgrid_geodata::{BuildingId, GridId, MonthlyRegistrations, Visit};
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

/// The monthly registrations and the evidence, each shared with the views being made from
/// them (a write copies one only while a view still reads it), and a generation counting the
/// changes applied.
#[derive(Debug, Clone, Default)]
pub struct ViewInputs {
    /// The monthly registrations, per building and summed per grid.
    pub registrations: Arc<MonthlyLedger>,
    /// Visits, spot checks, tips and the roster.
    pub evidence: Arc<StoredEvidence>,
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
        Self {
            registrations: Arc::new(MonthlyLedger::new(grid_of, registrations)),
            evidence: Arc::new(evidence),
            generation: 0,
        }
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
                evidence.add_visit(visit.clone(), *sweep);
            }
            if let Some(c) = &change.contracts {
                evidence.apply_contracts(c);
            }
        }
        self.generation += 1;
    }
}
