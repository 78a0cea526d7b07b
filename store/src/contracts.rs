//! 包干 contracts in the store: the caseworkers with their contracted grids, what a month's
//! assessment reads, territory proposals (their streets, grids and contracts stored as JSON
//! documents), and accepting one, the audited replacement of some streets' contracts.

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::changes::{self, Change};
use crate::records::{caseworkers, spot_check_of};
use crate::sql::Sql;
use crate::value::{Row, Value};
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use rentgrid_analysis::assessment::Cancellation;
use rentgrid_analysis::evidence::ContractChange;
use rentgrid_analysis::view_inputs::InputChange;
use rentgrid_geodata::{Caseworker, ManagementMode, Month, Person, RentalUnit, SpotCheck, Visit};
use std::collections::BTreeSet;
use time::Date;

/// What a month's assessment (考核) reads from the store: the registrations dated in the month,
/// its visits and its spot checks. Person and unit records carry only their building and date:
/// no personal field leaves the store for an assessment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthActivity {
    /// Persons registered in the month.
    pub persons: Vec<Person>,
    /// Rental units registered in the month.
    pub rental_units: Vec<RentalUnit>,
    /// Visits of the month.
    pub visits: Vec<Visit>,
    /// Spot checks of the month.
    pub spot_checks: Vec<SpotCheck>,
    /// Registrations cancelled in the month (注销): registered persons who moved out of a home.
    pub cancellations: Vec<Cancellation>,
}

/// A territory proposal to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProposal {
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The staffing rule balanced.
    pub rule: String,
    /// `minimal` or `scratch`.
    pub mode: String,
    /// The tolerance aimed at.
    pub epsilon: f64,
    /// The streets it replans.
    pub streets: Vec<String>,
    /// Their grids.
    pub street_grids: Vec<u32>,
    /// The contracts it starts from ([`contracts_basis`]): accepting needs them unchanged.
    pub basis: String,
    /// The proposed (caseworker, grid) contracts.
    pub assignments: Vec<(u32, u32)>,
    /// The proposal as the API answers it (JSON).
    pub document: String,
}

/// A stored proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProposal {
    /// Its id.
    pub id: i64,
    /// What was stored.
    pub proposal: NewProposal,
    /// Who accepted it, if anyone.
    pub accepted_by: Option<String>,
    /// When (RFC 3339).
    pub accepted_at: Option<String>,
}

/// Who accepts a proposal, when, and the summary kept in the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    /// The person accepting (a name).
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Before/after summary (JSON): the quality figures today and proposed.
    pub summary: String,
}

/// What accepting a proposal wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    /// The audit row.
    pub audit_id: i64,
    /// Contracts removed.
    pub contracts_before: usize,
    /// Contracts written.
    pub contracts_after: usize,
    /// The contracts it replaced, for the roster kept in memory.
    #[serde(skip)]
    pub contracts: ContractChange,
}

/// The contracts a proposal starts from: every (caseworker, grid) row whose caseworker belongs
/// to one of `streets` or whose grid is in `grids`, sorted, as text `caseworker:grid,…`. `rows`
/// are (caseworker, grid, the caseworker's street).
pub fn contracts_basis<'a>(
    rows: impl IntoIterator<Item = (u32, u32, &'a str)>,
    streets: &[String],
    grids: &BTreeSet<u32>,
) -> String {
    let mut kept: Vec<(u32, u32)> = rows
        .into_iter()
        .filter(|(_, g, s)| grids.contains(g) || streets.iter().any(|x| x == s))
        .map(|(c, g, _)| (c, g))
        .collect();
    kept.sort_unstable();
    kept.dedup();
    kept.iter().map(|(c, g)| format!("{c}:{g}")).collect::<Vec<_>>().join(",")
}

/// The basis of `streets` over caseworkers as [`super::Store::caseworkers`] returns them.
pub fn basis_of(caseworkers: &[Caseworker], streets: &[String], grids: &BTreeSet<u32>) -> String {
    contracts_basis(
        caseworkers.iter().flat_map(|c| c.grids.iter().map(move |&g| (c.id, g, c.street_code.as_str()))),
        streets,
        grids,
    )
}

fn corrupt(id: i64, reason: String) -> StoreError {
    StoreError::Corrupt { what: "territory proposal", id: id.to_string(), reason }
}

/// 包干 contracts: the roster, a month's activity, territory proposals.
#[async_trait]
pub trait Contracts: Send + Sync {
    /// Caseworkers by id, each with their contracted grids (包干网格) ascending.
    async fn caseworkers(&self) -> Result<Vec<Caseworker>>;
    /// The records a month's assessment counts, read from their tables: registrations dated
    /// in it, its visits and spot checks. The server counts them from the inputs it keeps in
    /// memory (`ViewInputs::activity`); this is what those are checked against.
    async fn month_activity(&self, month: Month) -> Result<MonthActivity>;
    /// Stores a territory proposal; returns its id.
    async fn save_proposal(&self, proposal: &NewProposal) -> Result<i64>;
    /// A stored territory proposal.
    async fn proposal(&self, id: i64) -> Result<Option<StoredProposal>>;
    /// Accepts a proposal in one transaction: marks it accepted (once: else
    /// [`StoreError::Conflict`]), checks that the contracts it started from are unchanged (else
    /// [`StoreError::Conflict`]), replaces them with its own and appends the territory audit row
    /// (before/after) and the audit log's row (`event` naming that territory audit row).
    async fn accept_proposal(&self, id: i64, acceptance: &Acceptance, event: &AuditEvent) -> Result<Accepted>;
}

#[async_trait]
impl<B: Backend> Contracts for SqlStore<B> {
    async fn caseworkers(&self) -> Result<Vec<Caseworker>> {
        let mut tx = Tx::snapshot(&self.db).await?;
        let roster = caseworkers(&mut tx).await?;
        tx.commit().await?;
        Ok(roster)
    }

    async fn month_activity(&self, m: Month) -> Result<MonthActivity> {
        month_activity(&self.db, m).await
    }

    async fn save_proposal(&self, p: &NewProposal) -> Result<i64> {
        let q = Sql::new(
            "INSERT INTO territory_proposals (created_at, rule, mode, epsilon, streets, street_grids, basis, \
             assignments, document) ",
        )
        .values([vec![
            (&p.created_at).into(),
            (&p.rule).into(),
            (&p.mode).into(),
            p.epsilon.into(),
            Value::json(&p.streets)?,
            Value::json(&p.street_grids)?,
            (&p.basis).into(),
            Value::json(&p.assignments)?,
            (&p.document).into(),
        ]])
        .push(" RETURNING id");
        let mut tx = Tx::begin(&self.db).await?;
        let id = tx.fetch_one(q).await?.int("id")?;
        tx.commit().await?;
        Ok(id)
    }

    async fn proposal(&self, id: i64) -> Result<Option<StoredProposal>> {
        let rows = self.db.fetch(proposal_query(id)).await?;
        rows.first().map(proposal_of).transpose()
    }

    async fn accept_proposal(&self, id: i64, a: &Acceptance, event: &AuditEvent) -> Result<Accepted> {
        let mut tx = audit::begin(&self.db).await?;
        let accepted = accept(&mut tx, id, a).await;
        match accepted {
            Ok(done) => {
                let event = event.clone().naming(format!("territory_audit {}", done.audit_id));
                let row = audit::append(&mut tx, &event).await?;
                let inputs = InputChange { contracts: Some(done.contracts.clone()), ..InputChange::default() };
                if let Some(change) = Change::counts(&[], inputs) {
                    changes::record(&mut tx, &row, &change).await?;
                }
                tx.commit().await?;
                Ok(done)
            }
            Err(AcceptError::NotOpen) => {
                drop(tx);
                Err(match self.proposal(id).await? {
                    None => StoreError::NotFound { what: "territory proposal", id: id.to_string() },
                    Some(p) => StoreError::Conflict(format!(
                        "territory proposal {id} was already accepted by {} at {}",
                        p.accepted_by.unwrap_or_default(),
                        p.accepted_at.unwrap_or_default()
                    )),
                })
            }
            Err(AcceptError::Store(e)) => Err(e),
        }
    }
}

/// Why accepting stopped.
enum AcceptError {
    /// No open proposal has this id (none at all, or accepted already).
    NotOpen,
    /// Anything else.
    Store(StoreError),
}

impl From<StoreError> for AcceptError {
    fn from(e: StoreError) -> Self {
        AcceptError::Store(e)
    }
}

/// The first day of `m` and of the month after it.
fn month_days(m: Month) -> Result<(Date, Date)> {
    let first = |y: i32, mo: u8| {
        time::Month::try_from(mo)
            .ok()
            .and_then(|mo| Date::from_calendar_date(y, mo, 1).ok())
            .ok_or_else(|| StoreError::Rejected(format!("{:04}-{:02} is not a month", m.year, m.month)))
    };
    let (y, mo) = (m.year, m.month);
    let next = if mo >= 12 { first(y + 1, 1)? } else { first(y, mo + 1)? };
    Ok((first(y, mo)?, next))
}

/// The month's registrations, visits and spot checks: only their buildings and dates leave the
/// store (no personal field).
async fn month_activity(db: &dyn Backend, m: Month) -> Result<MonthActivity> {
    let (from, to) = month_days(m)?;
    let within = |q: Sql, col: &str| q.push(format!(" {col} >= ")).bind(from).push(format!(" AND {col} < ")).bind(to);
    let registered = |table: &str| {
        within(
            Sql::new(format!(
                "SELECT building_id, registered_on FROM {table} WHERE registered AND registered_on IS NOT NULL AND"
            )),
            "registered_on",
        )
    };
    // A person's registrations at every home: the present one (unless they left the district)
    // and each one they moved out of.
    let persons = db
        .fetch(registered(
            "(SELECT building_id, registered, registered_on FROM persons WHERE left_on IS NULL \
             UNION ALL SELECT building_id, registered, registered_on FROM residences) r",
        ))
        .await?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Ok(Person {
                id: i as u32,
                household_id: 0,
                building_id: r.u32("building_id")?,
                name: String::new(),
                id_number: String::new(),
                phone: String::new(),
                registered: true,
                registered_on: Some(r.date("registered_on")?),
                permit: false,
                consistent: false,
                workplace_id: None,
            })
        })
        .collect::<Result<_>>()?;
    let rental_units = db
        .fetch(registered("rental_units"))
        .await?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Ok(RentalUnit {
                id: i as u32,
                building_id: r.u32("building_id")?,
                landlord_id: None,
                label: String::new(),
                registered: true,
                registered_on: Some(r.date("registered_on")?),
                pledge_signed: false,
                tenants: 0,
                mode: ManagementMode::SelfManaged,
                concentrated: false,
            })
        })
        .collect::<Result<_>>()?;
    let q = within(
        Sql::new("SELECT id, building_id, caseworker_id, visited_on, pledges_signed FROM visits WHERE"),
        "visited_on",
    )
    .push(" ORDER BY id");
    let visits = db
        .fetch(q)
        .await?
        .iter()
        .map(|r| {
            Ok(Visit {
                id: r.u32("id")?,
                client_id: String::new(),
                building_id: r.u32("building_id")?,
                caseworker_id: r.opt_u32("caseworker_id")?,
                visited_on: r.date("visited_on")?,
                units_registered: 0,
                pledges_signed: r.u32("pledges_signed")?,
                units_found: 0,
                persons_found: 0,
                notes: String::new(),
            })
        })
        .collect::<Result<_>>()?;
    let q = within(
        Sql::new(
            "SELECT id, caseworker_id, grid_id, checked_on, households_checked, missed_registration, missed_permit, \
             wrong_records FROM spot_checks WHERE",
        ),
        "checked_on",
    )
    .push(" ORDER BY id");
    let spot_checks = db.fetch(q).await?.iter().map(spot_check_of).collect::<Result<_>>()?;
    let q = within(Sql::new("SELECT building_id, moved_out_on FROM residences WHERE registered AND"), "moved_out_on");
    let cancellations = db
        .fetch(q)
        .await?
        .iter()
        .map(|r| Ok(Cancellation { building_id: r.u32("building_id")?, on: r.date("moved_out_on")? }))
        .collect::<Result<_>>()?;
    Ok(MonthActivity { persons, rental_units, visits, spot_checks, cancellations })
}

fn proposal_query(id: i64) -> Sql {
    Sql::new(
        "SELECT id, created_at, rule, mode, epsilon, streets, street_grids, basis, assignments, document, accepted_by, \
         accepted_at FROM territory_proposals WHERE id = ",
    )
    .bind(id)
}

fn proposal_of(r: &Row) -> Result<StoredProposal> {
    let id = r.int("id")?;
    Ok(StoredProposal {
        id,
        proposal: NewProposal {
            created_at: r.text("created_at")?,
            rule: r.text("rule")?,
            mode: r.text("mode")?,
            epsilon: r.real("epsilon")?,
            streets: r.json("streets").map_err(|e| corrupt(id, e.to_string()))?,
            street_grids: r.json("street_grids").map_err(|e| corrupt(id, e.to_string()))?,
            basis: r.text("basis")?,
            assignments: r.json("assignments").map_err(|e| corrupt(id, e.to_string()))?,
            document: r.text("document")?,
        },
        accepted_by: r.opt_text("accepted_by")?,
        accepted_at: r.opt_text("accepted_at")?,
    })
}

/// Accepts proposal `id` inside the caller's transaction (module docs of [`Contracts`]).
async fn accept(tx: &mut Tx<'_>, id: i64, a: &Acceptance) -> std::result::Result<Accepted, AcceptError> {
    tx.lock_tables("caseworker_grids").await?;
    let q = Sql::new("UPDATE territory_proposals SET accepted_by = ")
        .bind(&a.by)
        .push(", accepted_at = ")
        .bind(&a.at)
        .push(" WHERE accepted_at IS NULL AND id = ")
        .bind(id);
    if tx.execute(q).await? == 0 {
        return Err(AcceptError::NotOpen);
    }
    let p = proposal_of(&tx.fetch_one(proposal_query(id)).await?)?;
    let rows = tx
        .fetch(Sql::new(
            "SELECT cg.caseworker_id, cg.grid_id, c.street_code \
             FROM caseworker_grids cg JOIN caseworkers c ON c.id = cg.caseworker_id",
        ))
        .await?;
    let rows: Vec<(u32, u32, String)> = rows
        .iter()
        .map(|r| Ok((r.u32("caseworker_id")?, r.u32("grid_id")?, r.text("street_code")?)))
        .collect::<Result<_>>()?;
    let grids: BTreeSet<u32> = p.proposal.street_grids.iter().copied().collect();
    let now = contracts_basis(rows.iter().map(|(c, g, s)| (*c, *g, s.as_str())), &p.proposal.streets, &grids);
    if now != p.proposal.basis {
        return Err(StoreError::Conflict(format!(
            "territory proposal {id} is stale: the contracts of its streets changed after it was made; make a new \
             proposal"
        ))
        .into());
    }
    let before = now.split(',').filter(|s| !s.is_empty()).count();
    let streets = &p.proposal.streets;
    for chunk in streets.chunks(500) {
        let q = Sql::new(
            "DELETE FROM caseworker_grids WHERE caseworker_id IN (SELECT id FROM caseworkers WHERE street_code IN ",
        )
        .list(chunk.iter())
        .push(")");
        tx.execute(q).await?;
    }
    let grid_list: Vec<u32> = grids.iter().copied().collect();
    for chunk in grid_list.chunks(1000) {
        tx.execute(Sql::new("DELETE FROM caseworker_grids WHERE grid_id IN ").list(chunk.iter().copied())).await?;
    }
    for chunk in p.proposal.assignments.chunks(1000) {
        let rows = chunk.iter().map(|(c, g)| vec![(*c).into(), (*g).into()]);
        tx.execute(Sql::new("INSERT INTO caseworker_grids (caseworker_id, grid_id) ").values(rows)).await?;
    }
    let q = Sql::new(
        "INSERT INTO territory_audit (proposal_id, accepted_by, accepted_at, streets, contracts_before, \
         contracts_after, summary) ",
    )
    .values([vec![
        id.into(),
        (&a.by).into(),
        (&a.at).into(),
        streets.join(",").into(),
        now.clone().into(),
        pairs_text(&p.proposal.assignments).into(),
        (&a.summary).into(),
    ]])
    .push(" RETURNING id");
    let audit_id = tx.fetch_one(q).await?.int("id")?;
    let contracts_after = p.proposal.assignments.len();
    let contracts = ContractChange { streets: streets.clone(), grids: grid_list, assignments: p.proposal.assignments };
    Ok(Accepted { audit_id, contracts_before: before, contracts_after, contracts })
}

/// Contracts as the audit log writes them: `caseworker:grid,…`.
fn pairs_text(pairs: &[(u32, u32)]) -> String {
    pairs.iter().map(|(c, g)| format!("{c}:{g}")).collect::<Vec<_>>().join(",")
}
