//! 包干法 endpoints: staffing against the ratio rules, coverage areas, territory proposals (made,
//! read, accepted in one audited write) and the monthly assessment. Thin: the documents are
//! built by [`crate::coverage`], the numbers by `rentgrid_analysis`.

use super::{ApiJson, json_status};
use crate::coverage::{self as cov, ProposalRequest};
use crate::error::{ApiError, ApiResult};
use crate::export::{self, Format, Lang};
use crate::scope::Scope;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rentgrid_geodata::Month;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Refuses query parameters an endpoint does not take, naming those it does.
fn no_cache(v: Value) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(v)).into_response()
}

/// The request's rule (after checking its parameters are among `known`), the Atlas and the
/// contracts as stored now.
async fn rule_and_contracts(
    state: &AppState,
    q: &HashMap<String, String>,
    known: &[&str],
) -> ApiResult<(
    rentgrid_analysis::staffing::StaffingRule,
    std::sync::Arc<rentgrid_geodata::Atlas>,
    Vec<rentgrid_geodata::Caseworker>,
)> {
    super::reject_unknown(q, known)?;
    let rule = cov::rule_from_query(q)?;
    Ok((rule, state.atlas(), state.store().caseworkers().await?))
}

/// `GET /api/staffing?rule=&cost_per_caseworker=`: required, assigned, gap and cost of the
/// district, every street, community and grid.
pub(super) async fn staffing(
    State(state): State<AppState>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (rule, atlas, caseworkers) = rule_and_contracts(&state, &q, &["rule", "cost_per_caseworker"]).await?;
    let rows = cov::staffing_rows(&atlas, &caseworkers, &rule, &scope)?;
    Ok(no_cache(json!({ "rule": rule, "rows": rows })))
}

/// `GET /api/coverage?rule=`: caseworkers' contracted areas as GeoJSON, with the uncovered,
/// doubly covered grids and the overloaded caseworkers.
pub(super) async fn coverage(
    State(state): State<AppState>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (rule, atlas, caseworkers) = rule_and_contracts(&state, &q, &["rule", "cost_per_caseworker"]).await?;
    let body = tokio::task::spawn_blocking(move || cov::coverage_geojson(&atlas, &caseworkers, &rule, &scope))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(([(header::CONTENT_TYPE, "application/geo+json"), (header::CACHE_CONTROL, "no-cache")], body.to_string())
        .into_response())
}

/// `POST /api/territory/proposals` {street?, mode?, epsilon?, rule?}: a balanced proposal,
/// stored, with today's and the proposed quality and areas.
pub(super) async fn propose(
    State(state): State<AppState>,
    scope: Scope,
    ApiJson(req): ApiJson<ProposalRequest>,
) -> ApiResult<Response> {
    let atlas = state.atlas();
    let caseworkers = state.store().caseworkers().await?;
    let now = super::now_rfc3339();
    let new = tokio::task::spawn_blocking(move || cov::make_proposal(&atlas, &caseworkers, &req, &scope, &now))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let id = state.store().save_proposal(&new).await?;
    let stored = crate::store::contracts::StoredProposal { id, proposal: new, accepted_by: None, accepted_at: None };
    Ok(json_status(StatusCode::CREATED, cov::proposal_json(&stored, "open")?))
}

fn proposal_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("proposal id {raw:?} is not a positive whole number")))
}

async fn stored(state: &AppState, id: i64) -> ApiResult<crate::store::contracts::StoredProposal> {
    state
        .store()
        .proposal(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("territory proposal {id} does not exist")))
}

/// `GET /api/territory/proposals/{id}`: a stored proposal and whether it is `open`, `stale`
/// (the contracts changed since) or `accepted`.
pub(super) async fn proposal(
    State(state): State<AppState>,
    _scope: Scope,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let p = stored(&state, proposal_id(&raw)?).await?;
    let caseworkers = state.store().caseworkers().await?;
    Ok(no_cache(cov::proposal_json(&p, cov::proposal_status(&p, &caseworkers))?))
}

/// What accepting takes: who accepts.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptRequest {
    by: String,
}

/// The longest name `by` may be.
const MAX_BY_CHARS: usize = 100;

/// `POST /api/territory/proposals/{id}/accept` {by}: replaces its streets' contracts in one
/// transaction with an audit row; 409 when already accepted or stale.
pub(super) async fn accept(
    State(state): State<AppState>,
    scope: Scope,
    Path(raw): Path<String>,
    ApiJson(req): ApiJson<AcceptRequest>,
) -> ApiResult<Response> {
    let id = proposal_id(&raw)?;
    let by = req.by.trim();
    if by.is_empty() || by.chars().count() > MAX_BY_CHARS {
        return Err(ApiError::Unprocessable(format!("by: name who accepts, 1 to {MAX_BY_CHARS} characters")));
    }
    let p = stored(&state, id).await?;
    let atlas = state.atlas();
    let outside = p
        .proposal
        .streets
        .iter()
        .filter_map(|code| atlas.streets().iter().find(|s| &s.street.code == code))
        .any(|s| s.grids.iter().any(|&g| !scope.sees_grid(g)));
    if outside {
        return Err(ApiError::Forbidden(format!("territory proposal {id} covers streets outside what you may see")));
    }
    let acceptance = crate::store::contracts::Acceptance {
        by: by.to_owned(),
        at: super::now_rfc3339(),
        summary: cov::audit_summary(&p),
    };
    let done = state.accept_proposal(id, &acceptance).await?;
    Ok(no_cache(json!({
        "proposal_id": id,
        "status": "accepted",
        "accepted_by": acceptance.by,
        "accepted_at": acceptance.at,
        "audit_id": done.audit_id,
        "contracts_before": done.contracts_before,
        "contracts_after": done.contracts_after,
    })))
}

/// `GET /api/assessment?month=YYYY-MM&rule=`: each caseworker's month: counts, spot-check
/// rates with 95% intervals, deductions, score and rank within the street.
pub(super) async fn assessment(
    State(state): State<AppState>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    super::reject_unknown(&q, &["month", "rule", "cost_per_caseworker"])?;
    let (month, rows) = assessment_rows(&state, &scope, &q).await?;
    Ok(no_cache(json!({
        "month": month.to_string(),
        "formula": rentgrid_analysis::assessment::ScoreFormula::default(),
        "rows": rows,
    })))
}

/// The month of `q` (required) and the assessment rows.
pub(super) async fn assessment_rows(
    state: &AppState,
    scope: &Scope,
    q: &HashMap<String, String>,
) -> ApiResult<(Month, Vec<cov::AssessmentRow>)> {
    let raw = q.get("month").ok_or_else(|| ApiError::BadRequest("month is required: month=YYYY-MM".into()))?;
    let month: Month = raw.parse().map_err(ApiError::BadRequest)?;
    let rule = cov::rule_from_query(q)?;
    let atlas = state.atlas();
    let caseworkers = state.store().caseworkers().await?;
    let activity = state.store().month_activity(month).await?;
    let rows = cov::assessment_rows(&atlas, &caseworkers, &activity, month, &rule, scope)?;
    Ok((month, rows))
}

/// The 包干 tables exported at `/api/exports/{table}.{csv|xlsx}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// Staffing against the rule (`?rule=&cost_per_caseworker=`).
    Staffing,
    /// The month's assessment (`?month=YYYY-MM&rule=`).
    Assessment,
}

impl Table {
    /// The table a file stem names.
    pub(super) fn named(stem: &str) -> Option<Self> {
        match stem {
            "staffing" => Some(Table::Staffing),
            "assessment" => Some(Table::Assessment),
            _ => None,
        }
    }
}

/// A staffing or assessment table as CSV or XLSX.
pub(super) async fn export(
    state: &AppState,
    scope: &Scope,
    table: Table,
    format: Format,
    lang: Lang,
    q: &HashMap<String, String>,
) -> ApiResult<Vec<u8>> {
    if format == Format::GeoJson {
        return Err(ApiError::NotFound("staffing and assessment are tables: export them as .csv or .xlsx".into()));
    }
    let atlas = state.atlas();
    let book = match table {
        Table::Staffing => {
            let (rule, _, caseworkers) = rule_and_contracts(state, q, &["rule", "cost_per_caseworker", "lang"]).await?;
            let rows = cov::staffing_rows(&atlas, &caseworkers, &rule, scope)?;
            cov::staffing_book(&atlas, &rows, &rule.name, lang)
        }
        Table::Assessment => {
            super::reject_unknown(q, &["month", "rule", "cost_per_caseworker", "lang"])?;
            let (_, rows) = assessment_rows(state, scope, q).await?;
            cov::assessment_book(&atlas, &rows, lang)
        }
    };
    tokio::task::spawn_blocking(move || export::write_book(&book, format, lang))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}
