//! 包干 contracts in the store, written once for both backends (as [`super::ledgers`]): the
//! caseworkers with their contracted grids, what a month's assessment reads, territory
//! proposals, and accepting one, the audited replacement of some streets' contracts.
//!
//! The statements are the same SQL through `QueryBuilder`; only how a date column is read (its
//! `YYYY-MM` and `YYYY-MM-DD` text) and how a table is locked differ, and a macro instantiates
//! the functions per backend.

use super::{Result, StoreError};
use rentgrid_geodata::{Caseworker, ManagementMode, Month, Person, RentalUnit, SpotCheck, Visit};
use std::collections::{BTreeMap, BTreeSet};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    /// The audit row.
    pub audit_id: i64,
    /// Contracts removed.
    pub contracts_before: usize,
    /// Contracts written.
    pub contracts_after: usize,
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

fn encode_pairs(pairs: &[(u32, u32)]) -> String {
    pairs.iter().map(|(c, g)| format!("{c}:{g}")).collect::<Vec<_>>().join(",")
}

fn decode_pairs(s: &str, id: i64) -> Result<Vec<(u32, u32)>> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once(':')
                .and_then(|(c, g)| Some((c.parse().ok()?, g.parse().ok()?)))
                .ok_or_else(|| corrupt(id, format!("contract {p:?}")))
        })
        .collect()
}

fn corrupt(id: i64, reason: String) -> StoreError {
    StoreError::Corrupt { what: "territory proposal", id: id.to_string(), reason }
}

fn u32_of(v: i64, what: &'static str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt { what, id: v.to_string(), reason: "out of range".into() })
}

fn date_of(s: &str, what: &'static str) -> Result<Date> {
    crate::dates::parse_date(s).ok_or_else(|| StoreError::Corrupt {
        what,
        id: s.to_string(),
        reason: "not a YYYY-MM-DD date".into(),
    })
}

/// Builds caseworkers from (id, name, street) rows and (caseworker, grid) rows.
fn caseworkers_of(people: Vec<(i64, String, String)>, grids: Vec<(i64, i64)>) -> Result<Vec<Caseworker>> {
    let mut by_id: BTreeMap<u32, Caseworker> = BTreeMap::new();
    for (id, name, street_code) in people {
        let id = u32_of(id, "caseworker")?;
        by_id.insert(id, Caseworker { id, name, street_code, grids: Vec::new() });
    }
    for (c, g) in grids {
        if let Some(cw) = by_id.get_mut(&u32_of(c, "caseworker")?) {
            cw.grids.push(u32_of(g, "contracted grid")?);
        }
    }
    Ok(by_id
        .into_values()
        .map(|mut c| {
            c.grids.sort_unstable();
            c
        })
        .collect())
}

/// A spot check as [`month_sql`] reads it: id, caseworker, grid, day, households checked, missed
/// registrations, missed permits, wrong records.
type CheckRow = (i64, i64, i64, String, i64, i64, i64, i64);

/// Rows of the month's activity as the queries of [`month_sql`] read them.
struct MonthRows {
    persons: Vec<(i64, String)>,
    units: Vec<(i64, String)>,
    visits: Vec<(i64, i64, Option<i64>, String, i64)>,
    checks: Vec<CheckRow>,
}

fn month_activity_of(rows: MonthRows) -> Result<MonthActivity> {
    let persons = rows
        .persons
        .into_iter()
        .enumerate()
        .map(|(i, (b, day))| {
            Ok(Person {
                id: i as u32,
                household_id: 0,
                building_id: u32_of(b, "person's building")?,
                name: String::new(),
                id_number: String::new(),
                phone: String::new(),
                registered: true,
                registered_on: Some(date_of(&day, "person's registration date")?),
                permit: false,
                consistent: false,
                workplace_id: None,
            })
        })
        .collect::<Result<_>>()?;
    let rental_units = rows
        .units
        .into_iter()
        .enumerate()
        .map(|(i, (b, day))| {
            Ok(RentalUnit {
                id: i as u32,
                building_id: u32_of(b, "rental unit's building")?,
                landlord_id: None,
                label: String::new(),
                registered: true,
                registered_on: Some(date_of(&day, "rental unit's registration date")?),
                pledge_signed: false,
                tenants: 0,
                mode: ManagementMode::SelfManaged,
                concentrated: false,
            })
        })
        .collect::<Result<_>>()?;
    let visits = rows
        .visits
        .into_iter()
        .map(|(id, b, cw, day, pledges)| {
            Ok(Visit {
                id: u32_of(id, "visit")?,
                client_id: String::new(),
                building_id: u32_of(b, "visit's building")?,
                caseworker_id: cw.map(|c| u32_of(c, "visit's caseworker")).transpose()?,
                visited_on: date_of(&day, "visit date")?,
                units_registered: 0,
                pledges_signed: u32_of(pledges, "pledges signed")?,
                units_found: 0,
                persons_found: 0,
                notes: String::new(),
            })
        })
        .collect::<Result<_>>()?;
    let spot_checks = rows
        .checks
        .into_iter()
        .map(|(id, cw, g, day, h, mr, mp, w)| {
            Ok(SpotCheck {
                id: u32_of(id, "spot check")?,
                caseworker_id: u32_of(cw, "spot check's caseworker")?,
                grid_id: u32_of(g, "spot check's grid")?,
                checked_on: date_of(&day, "spot check date")?,
                households_checked: u32_of(h, "households checked")?,
                missed_registration: u32_of(mr, "missed registrations")?,
                missed_permit: u32_of(mp, "missed permits")?,
                wrong_records: u32_of(w, "wrong records")?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(MonthActivity { persons, rental_units, visits, spot_checks })
}

/// The four queries of a month's activity: persons and rental units registered in it, its
/// visits and spot checks. `month` and `day` give the backend's `YYYY-MM` and `YYYY-MM-DD`
/// text of a date column.
fn month_sql(m: Month, month: fn(&str) -> String, day: fn(&str) -> String) -> [String; 4] {
    let lit = format!("'{:04}-{:02}'", m.year, m.month);
    let registered = |table: &str| {
        format!(
            "SELECT CAST(building_id AS BIGINT), {d} FROM {table} \
             WHERE registered AND registered_on IS NOT NULL AND {m} = {lit}",
            d = day("registered_on"),
            m = month("registered_on")
        )
    };
    [
        registered("persons"),
        registered("rental_units"),
        format!(
            "SELECT CAST(id AS BIGINT), CAST(building_id AS BIGINT), CAST(caseworker_id AS BIGINT), {d}, \
             CAST(pledges_signed AS BIGINT) FROM visits WHERE {m} = {lit} ORDER BY id",
            d = day("visited_on"),
            m = month("visited_on")
        ),
        format!(
            "SELECT CAST(id AS BIGINT), CAST(caseworker_id AS BIGINT), CAST(grid_id AS BIGINT), {d}, \
             CAST(households_checked AS BIGINT), CAST(missed_registration AS BIGINT), \
             CAST(missed_permit AS BIGINT), CAST(wrong_records AS BIGINT) FROM spot_checks WHERE {m} = {lit} ORDER BY id",
            d = day("checked_on"),
            m = month("checked_on")
        ),
    ]
}

const PROPOSAL_COLUMNS: &str = "CAST(id AS BIGINT), created_at, rule, mode, epsilon, streets, street_grids, basis, \
                                assignments, document, accepted_by, accepted_at";

type ProposalRow =
    (i64, String, String, String, f64, String, String, String, String, String, Option<String>, Option<String>);

fn proposal_of(r: ProposalRow) -> Result<StoredProposal> {
    let (id, created_at, rule, mode, epsilon, streets, street_grids, basis, assignments, document, by, at) = r;
    let street_grids = street_grids
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| corrupt(id, format!("grid {s:?}"))))
        .collect::<Result<_>>()?;
    Ok(StoredProposal {
        id,
        proposal: NewProposal {
            created_at,
            rule,
            mode,
            epsilon,
            streets: streets.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            street_grids,
            basis,
            assignments: decode_pairs(&assignments, id)?,
            document,
        },
        accepted_by: by,
        accepted_at: at,
    })
}

macro_rules! contract_store {
    ($module:ident, $db:ty, lock = $lock:path, month = $month:expr, day = $day:expr) => {
        /// The contract reads and writes of one backend.
        pub(super) mod $module {
            use super::super::{Result, StoreError};
            use super::{
                Acceptance, Accepted, MonthActivity, MonthRows, NewProposal, PROPOSAL_COLUMNS, ProposalRow,
                StoredProposal, contracts_basis, encode_pairs, month_activity_of, month_sql, proposal_of,
            };
            use rentgrid_geodata::{Caseworker, Month};
            use sqlx::QueryBuilder;
            use std::collections::BTreeSet;

            type Db = $db;

            /// Caseworkers by id, each with its contracted grids ascending.
            pub async fn caseworkers(pool: &sqlx::Pool<Db>) -> Result<Vec<Caseworker>> {
                let people =
                    sqlx::query_as("SELECT CAST(id AS BIGINT), name, street_code FROM caseworkers ORDER BY id")
                        .fetch_all(pool)
                        .await?;
                let grids = sqlx::query_as(
                    "SELECT CAST(caseworker_id AS BIGINT), CAST(grid_id AS BIGINT) FROM caseworker_grids",
                )
                .fetch_all(pool)
                .await?;
                super::caseworkers_of(people, grids)
            }

            /// The month's registrations, visits and spot checks.
            pub async fn month_activity(pool: &sqlx::Pool<Db>, m: Month) -> Result<MonthActivity> {
                let [p, u, v, s] = month_sql(m, $month, $day);
                month_activity_of(MonthRows {
                    persons: sqlx::query_as(&p).fetch_all(pool).await?,
                    units: sqlx::query_as(&u).fetch_all(pool).await?,
                    visits: sqlx::query_as(&v).fetch_all(pool).await?,
                    checks: sqlx::query_as(&s).fetch_all(pool).await?,
                })
            }

            /// Stores a proposal; returns its id.
            pub async fn save_proposal(pool: &sqlx::Pool<Db>, p: &NewProposal) -> Result<i64> {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO territory_proposals (created_at, rule, mode, epsilon, streets, street_grids, basis, \
                     assignments, document) ",
                );
                let grids: Vec<String> = p.street_grids.iter().map(u32::to_string).collect();
                qb.push_values([p], |mut b, p| {
                    b.push_bind(p.created_at.clone())
                        .push_bind(p.rule.clone())
                        .push_bind(p.mode.clone())
                        .push_bind(p.epsilon)
                        .push_bind(p.streets.join(","))
                        .push_bind(grids.join(","))
                        .push_bind(p.basis.clone())
                        .push_bind(encode_pairs(&p.assignments))
                        .push_bind(p.document.clone());
                });
                qb.push(" RETURNING CAST(id AS BIGINT)");
                Ok(qb.build_query_scalar::<i64>().fetch_one(pool).await?)
            }

            /// A stored proposal, if there is one with this id.
            pub async fn proposal(pool: &sqlx::Pool<Db>, id: i64) -> Result<Option<StoredProposal>> {
                let mut qb =
                    QueryBuilder::<Db>::new(format!("SELECT {PROPOSAL_COLUMNS} FROM territory_proposals WHERE id = "));
                qb.push_bind(id);
                let row: Option<ProposalRow> = qb.build_query_as().fetch_optional(pool).await?;
                row.map(proposal_of).transpose()
            }

            /// Accepts proposal `id` in one transaction: marks it accepted (once), checks that the
            /// contracts it started from are unchanged, replaces them with its own and appends
            /// the audit row.
            pub async fn accept(pool: &sqlx::Pool<Db>, id: i64, a: &Acceptance) -> Result<Accepted> {
                let mut tx = pool.begin().await?;
                $lock(&mut tx, "caseworker_grids").await?;
                let mut qb = QueryBuilder::<Db>::new("UPDATE territory_proposals SET accepted_by = ");
                qb.push_bind(a.by.clone()).push(", accepted_at = ").push_bind(a.at.clone());
                qb.push(" WHERE accepted_at IS NULL AND id = ").push_bind(id);
                if qb.build().execute(&mut *tx).await?.rows_affected() == 0 {
                    drop(tx);
                    return Err(match proposal(pool, id).await? {
                        None => StoreError::NotFound { what: "territory proposal", id: id.to_string() },
                        Some(p) => StoreError::Conflict(format!(
                            "territory proposal {id} was already accepted by {} at {}",
                            p.accepted_by.unwrap_or_default(),
                            p.accepted_at.unwrap_or_default()
                        )),
                    });
                }
                let mut qb =
                    QueryBuilder::<Db>::new(format!("SELECT {PROPOSAL_COLUMNS} FROM territory_proposals WHERE id = "));
                qb.push_bind(id);
                let p: StoredProposal = proposal_of(qb.build_query_as::<ProposalRow>().fetch_one(&mut *tx).await?)?;
                let rows: Vec<(i64, i64, String)> = sqlx::query_as(
                    "SELECT CAST(cg.caseworker_id AS BIGINT), CAST(cg.grid_id AS BIGINT), c.street_code \
                     FROM caseworker_grids cg JOIN caseworkers c ON c.id = cg.caseworker_id",
                )
                .fetch_all(&mut *tx)
                .await?;
                let grids: BTreeSet<u32> = p.proposal.street_grids.iter().copied().collect();
                let now = contracts_basis(
                    rows.iter().map(|(c, g, s)| (*c as u32, *g as u32, s.as_str())),
                    &p.proposal.streets,
                    &grids,
                );
                if now != p.proposal.basis {
                    return Err(StoreError::Conflict(format!(
                        "territory proposal {id} is stale: the contracts of its streets changed after it was made; \
                         make a new proposal"
                    )));
                }
                let before = now.split(',').filter(|s| !s.is_empty()).count();
                let streets: Vec<String> = p.proposal.streets.clone();
                for chunk in streets.chunks(500) {
                    let mut qb = QueryBuilder::<Db>::new(
                        "DELETE FROM caseworker_grids WHERE caseworker_id IN \
                         (SELECT id FROM caseworkers WHERE street_code IN ",
                    );
                    qb.push_tuples(chunk, |mut b, s| {
                        b.push_bind(s.clone());
                    });
                    qb.push(")");
                    qb.build().execute(&mut *tx).await?;
                }
                let grid_list: Vec<i64> = grids.iter().map(|&g| i64::from(g)).collect();
                for chunk in grid_list.chunks(1000) {
                    let mut qb = QueryBuilder::<Db>::new("DELETE FROM caseworker_grids WHERE grid_id IN ");
                    qb.push_tuples(chunk, |mut b, g| {
                        b.push_bind(*g);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                for chunk in p.proposal.assignments.chunks(1000) {
                    let mut qb = QueryBuilder::<Db>::new("INSERT INTO caseworker_grids (caseworker_id, grid_id) ");
                    qb.push_values(chunk, |mut b, (c, g)| {
                        b.push_bind(i64::from(*c)).push_bind(i64::from(*g));
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO territory_audit (proposal_id, accepted_by, accepted_at, streets, contracts_before, \
                     contracts_after, summary) ",
                );
                qb.push_values([()], |mut b, ()| {
                    b.push_bind(id)
                        .push_bind(a.by.clone())
                        .push_bind(a.at.clone())
                        .push_bind(streets.join(","))
                        .push_bind(now.clone())
                        .push_bind(encode_pairs(&p.proposal.assignments))
                        .push_bind(a.summary.clone());
                });
                qb.push(" RETURNING CAST(id AS BIGINT)");
                let audit_id: i64 = qb.build_query_scalar().fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(Accepted { audit_id, contracts_before: before, contracts_after: p.proposal.assignments.len() })
            }
        }
    };
}

contract_store!(
    sqlite,
    sqlx::Sqlite,
    lock = crate::sqlite::lock_nothing,
    month = |c| format!("substr({c}, 1, 7)"),
    day = |c| format!("substr({c}, 1, 10)")
);

contract_store!(
    postgres,
    sqlx::Postgres,
    lock = crate::postgis::lock_table,
    month = |c| format!("to_char({c}, 'YYYY-MM')"),
    day = |c| format!("to_char({c}, 'YYYY-MM-DD')")
);
