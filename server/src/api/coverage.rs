//! 包干法 endpoints: staffing against the ratio rules, coverage areas, territory proposals (made,
//! read, accepted in one audited write), the monthly assessment and its spot checks. Thin: the documents are
//! built by [`crate::coverage`], the numbers by `rentgrid_analysis`.

use super::extract::ApiPath;
use super::geojson::GeoJson;
use super::identity::{Authenticated, RequestSource};
use super::query::ApiQuery;
use super::{ApiJson, ExportQuery, IdParam};
use crate::access::audit::action;
use crate::api::error::Exception;
use crate::background::{self, Priority};
use crate::blocks::around_rows;
use crate::coverage::{self as cov, AssessmentRow, Coverage, PlaceRow, Proposal, ProposalRequest, SpotCheckRow};
use crate::encoded;
use crate::error::{AppError, AppResult};
use crate::export::{self, Format, Lang};
use crate::identity::Actor;
use crate::scope::Scope;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rentgrid_analysis::assessment::{self, ScoreFormula};
use rentgrid_analysis::staffing::StaffingRule;
use rentgrid_analysis::view_inputs::ViewInputs;
use rentgrid_geodata::{Caseworker, Month, SpotCheck};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A body answered with `Cache-Control: no-cache`.
fn no_cache<T: Serialize>(v: T) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], ApiJson(v)).into_response()
}

/// The staffing rule presets.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum RuleName {
    /// Ningbo: 500 migrants per caseworker, at least one per community (the default).
    Ningbo,
    /// Nanjing: 500 residents or 50 rental households, whichever needs more.
    Nanjing,
    /// Wuxi: 1,000 in concentrated and 400 in dispersed housing.
    Wuxi,
    /// Taizhou: 1,000.
    Taizhou,
}

/// The staffing rule of a request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RuleQuery {
    /// The staffing rule (配备比例), default ningbo.
    #[param(value_type = Option<RuleName>)]
    rule: Option<String>,
    /// Yuan a year per caseworker (default 22,000).
    #[param(value_type = Option<f64>, minimum = 0)]
    cost_per_caseworker: Option<String>,
}

/// The request's rule, the Atlas and the contracts as committed now.
async fn rule_and_contracts(
    state: &AppState,
    rule: Option<&str>,
    cost: Option<&str>,
) -> AppResult<(StaffingRule, std::sync::Arc<rentgrid_geodata::Atlas>, std::sync::Arc<Vec<rentgrid_geodata::Caseworker>>)>
{
    let rule = cov::rule_from_query(rule, cost)?;
    Ok((rule, state.atlas(), state.roster().await?))
}

/// Staffing of every place the caller sees whole.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Staffing {
    /// The rule applied.
    rule: StaffingRule,
    /// The district, its streets, communities and grids, in that order.
    rows: Vec<PlaceRow>,
}

/// `GET /api/staffing?rule=&cost_per_caseworker=`: required, assigned, gap and cost of the
/// district, every street, community and grid.
#[utoipa::path(get, path = "/api/staffing", tag = "API", operation_id = "staffing",
    summary = "caseworkers required (fractional and rounded), assigned, gap and yearly cost of the district, every \
               street, community and grid",
    params(RuleQuery),
    responses(
        (status = 200, description = "staffing rows", body = Staffing),
        (status = 400, description = "an unknown rule or a bad cost; the message names the parameter", body = Exception)))]
pub(super) async fn staffing(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<RuleQuery>,
) -> AppResult<Response> {
    let (rule, atlas, caseworkers) =
        rule_and_contracts(&state, q.rule.as_deref(), q.cost_per_caseworker.as_deref()).await?;
    let rows = cov::staffing_rows(&atlas, &caseworkers, &rule, &scope)?;
    Ok(no_cache(Staffing { rule, rows }))
}

/// `GET /api/coverage?rule=`: caseworkers' contracted areas as GeoJSON, with the uncovered,
/// doubly covered grids and the overloaded caseworkers.
#[utoipa::path(get, path = "/api/coverage", tag = "API", operation_id = "coverage",
    summary = "each caseworker's contracted area (包干), dissolved, with its grids and load; the grids nobody covers, \
               those covered twice and the overloaded caseworkers",
    params(RuleQuery),
    responses(
        (status = 200, description = "GeoJSON areas", body = Coverage, content_type = "application/geo+json"),
        (status = 400, description = "an unknown rule or a bad cost; the message names the parameter", body = Exception)))]
pub(super) async fn coverage(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<RuleQuery>,
) -> AppResult<Response> {
    let (rule, atlas, caseworkers) =
        rule_and_contracts(&state, q.rule.as_deref(), q.cost_per_caseworker.as_deref()).await?;
    let body = tokio::task::spawn_blocking(move || cov::coverage_geojson(&atlas, &caseworkers, &rule, &scope))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(([(header::CACHE_CONTROL, "no-cache")], GeoJson(body)).into_response())
}

/// `POST /api/territory/proposals` {street?, mode?, epsilon?, rule?}: a balanced proposal,
/// stored, with today's and the proposed quality and areas.
#[utoipa::path(post, path = "/api/territory/proposals", tag = "API", operation_id = "propose_territory",
    summary = "a balanced, contiguous proposal of contracted areas for one street or every street (stored): today's \
               and the proposed quality (max load deviation, Polsby-Popper, grids changing hands) and areas as GeoJSON",
    request_body = ProposalRequest,
    responses(
        (status = 201, description = "the stored proposal", body = Proposal),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 403, description = "a street outside what the caller may see", body = Exception),
        (status = 422, description = "a bad mode, epsilon, street or rule", body = Exception)))]
pub(super) async fn propose(
    State(state): State<AppState>,
    scope: Scope,
    ApiJson(req): ApiJson<ProposalRequest>,
) -> AppResult<(StatusCode, Json<Proposal>)> {
    let atlas = state.atlas();
    let caseworkers = state.roster().await?;
    let now = super::now_rfc3339();
    let new = tokio::task::spawn_blocking(move || cov::make_proposal(&atlas, &caseworkers, &req, &scope, &now))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    let id = state.store().save_proposal(&new).await?;
    let stored = crate::store::contracts::StoredProposal { id, proposal: new, accepted_by: None, accepted_at: None };
    Ok((StatusCode::CREATED, Json(cov::proposal_json(&stored, "open")?)))
}

/// True when `scope` sees every grid of the streets with these codes.
fn sees_streets(state: &AppState, scope: &Scope, codes: &[String]) -> bool {
    let atlas = state.atlas();
    codes
        .iter()
        .filter_map(|code| atlas.streets().iter().find(|s| &s.street.code == code))
        .all(|s| scope.sees_all(&s.grids))
}

fn proposal_id(raw: &str) -> AppResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| AppError::BadRequest(format!("proposal id {raw:?} is not a positive whole number")))
}

async fn stored(state: &AppState, id: i64) -> AppResult<crate::store::contracts::StoredProposal> {
    state
        .store()
        .proposal(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("territory proposal {id} does not exist")))
}

/// `GET /api/territory/proposals/{id}`: a stored proposal and whether it is `open`, `stale`
/// (the contracts changed since) or `accepted`.
#[utoipa::path(get, path = "/api/territory/proposals/{id}", tag = "API", operation_id = "territory_proposal",
    summary = "a stored proposal, with its status: open, stale (the contracts changed since) or accepted",
    params(IdParam),
    responses(
        (status = 200, description = "the proposal", body = Proposal),
        (status = 400, description = "an id that is not a positive whole number", body = Exception),
        (status = 403, description = "the proposal covers streets outside what the caller may see", body = Exception),
        (status = 404, description = "no proposal with this id", body = Exception)))]
pub(super) async fn proposal(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<Response> {
    let id = proposal_id(&raw)?;
    let p = stored(&state, id).await?;
    if !sees_streets(&state, &scope, &p.proposal.streets) {
        return Err(AppError::Forbidden(format!("territory proposal {id} covers streets outside what you may see")));
    }
    let caseworkers = state.roster().await?;
    Ok(no_cache(cov::proposal_json(&p, cov::proposal_status(&p, &caseworkers))?))
}

/// What accepting takes: who accepts.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptRequest {
    /// Who accepts (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    by: String,
}

/// What accepting did.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Accepted {
    /// The proposal.
    proposal_id: i64,
    /// Always `accepted`.
    status: &'static str,
    /// Who accepted it.
    accepted_by: String,
    /// When (RFC 3339).
    accepted_at: String,
    /// The audit row written.
    audit_id: i64,
    /// Contracts of its streets before.
    contracts_before: usize,
    /// Contracts of its streets after.
    contracts_after: usize,
}

/// The longest name `by` may be.
const MAX_BY_CHARS: usize = 100;

/// `POST /api/territory/proposals/{id}/accept` {by}: replaces its streets' contracts in one
/// transaction with an audit row; 409 when already accepted or stale.
#[utoipa::path(post, path = "/api/territory/proposals/{id}/accept", tag = "API", operation_id = "accept_territory",
    summary = "accept a proposal: one transaction replaces its streets' contracts and appends an audit row (who, \
               when, before/after)",
    params(IdParam),
    request_body = AcceptRequest,
    responses(
        (status = 200, description = "what was done", body = Accepted),
        (status = 400, description = "a malformed request", body = Exception),
        (status = 403, description = "the proposal covers streets outside what the caller may see", body = Exception),
        (status = 404, description = "no proposal with this id", body = Exception),
        (status = 409, description = "the proposal was accepted already, or is stale", body = Exception),
        (status = 422, description = "no name in by", body = Exception)))]
pub(super) async fn accept(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiJson(req): ApiJson<AcceptRequest>,
) -> AppResult<Response> {
    let id = proposal_id(&raw)?;
    let by = req.by.trim();
    if by.is_empty() || by.chars().count() > MAX_BY_CHARS {
        return Err(AppError::Unprocessable(format!("by: name who accepts, 1 to {MAX_BY_CHARS} characters")));
    }
    let p = stored(&state, id).await?;
    if !sees_streets(&state, &scope, &p.proposal.streets) {
        return Err(AppError::Forbidden(format!("territory proposal {id} covers streets outside what you may see")));
    }
    let acceptance = crate::store::contracts::Acceptance {
        by: by.to_owned(),
        at: super::now_rfc3339(),
        summary: cov::audit_summary(&p),
    };
    let target =
        format!("POST /api/territory/proposals/{id}/accept streets {} signed {by}", p.proposal.streets.join(","));
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::PROPOSAL_ACCEPT, target);
    let done = state.accept_proposal(id, &acceptance, &event).await?;
    Ok(no_cache(Accepted {
        proposal_id: id,
        status: "accepted",
        accepted_by: acceptance.by,
        accepted_at: acceptance.at,
        audit_id: done.audit_id,
        contracts_before: done.contracts_before,
        contracts_after: done.contracts_after,
    }))
}

/// `GET /api/assessment?month=YYYY-MM&rule=`: each caseworker's month: counts, spot-check
/// rates with 95% intervals, deductions, score and rank within the street.
/// The query of `GET /api/assessment`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AssessmentQuery {
    /// YYYY-MM, required.
    #[param(required = true, pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
    /// The staffing rule loads are measured by (default ningbo).
    #[param(value_type = Option<RuleName>)]
    rule: Option<String>,
    /// Yuan a year per caseworker.
    #[param(value_type = Option<f64>, minimum = 0)]
    cost_per_caseworker: Option<String>,
}

/// The month's assessment of every caseworker the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssessmentAnswer {
    /// The month (YYYY-MM).
    month: String,
    /// How scores are made.
    formula: ScoreFormula,
    /// One row per caseworker, by street then rank.
    rows: Vec<AssessmentRow>,
}

#[utoipa::path(get, path = "/api/assessment", tag = "API", operation_id = "assessment",
    summary = "the month's assessment (考核) of every caseworker: counts, spot-check rates with 95% intervals, \
               deductions, score and rank within the street",
    params(AssessmentQuery),
    responses(
        (status = 200, description = "the assessment", body = AssessmentAnswer),
        (status = 400, description = "a missing or malformed month, or an unknown rule", body = Exception)))]
pub(super) async fn assessment(
    State(state): State<AppState>,
    scope: Scope,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AssessmentQuery>,
) -> AppResult<Response> {
    let (month, rows) =
        assessment_rows(&state, &scope, q.month.as_deref(), q.rule.as_deref(), q.cost_per_caseworker.as_deref())
            .await?;
    let month = month.to_string();
    // Every caseworker (the command center's table): made from the answer kept, where only the
    // streets whose rows changed are written and deflated again.
    if scope.grids.is_none() && scope.caseworker.is_none() {
        let envelope = AssessmentAnswer { month: month.clone(), formula: ScoreFormula::default(), rows: Vec::new() };
        if let Some((head, tail)) = around_rows(&envelope).map_err(|e| AppError::Internal(e.to_string()))? {
            let kept = state.assessment_kept().answer(rows, head, tail).await?;
            return Ok(encoded::respond_with(&headers, "application/json", || kept.gzip(), || kept.json()));
        }
    }
    Ok(no_cache(AssessmentAnswer { month, formula: ScoreFormula::default(), rows }))
}

/// The month a table is of: `month=YYYY-MM`, required.
fn required_month(month: Option<&str>) -> AppResult<Month> {
    let raw = month.ok_or_else(|| AppError::BadRequest("month is required: month=YYYY-MM".into()))?;
    raw.parse().map_err(AppError::BadRequest)
}

/// The month (required) and the assessment rows.
pub(super) async fn assessment_rows(
    state: &AppState,
    scope: &Scope,
    month: Option<&str>,
    rule: Option<&str>,
    cost: Option<&str>,
) -> AppResult<(Month, Vec<AssessmentRow>)> {
    let rule = cov::rule_from_query(rule, cost)?;
    let (month, caseworkers, inputs) = roster_and_inputs(state, month).await?;
    let activity = inputs.activity(assessment::Month { year: month.year, month: month.month });
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    // The current month is judged on today's estimate too; a past month has none.
    let current = month == Month::of(rentgrid_geodata::clock::today());
    let estimate = if current { Some(state.estimate(&atlas).await?) } else { None };
    let grid_counts = snapshot.grid_counts();
    let (targets, scope) = (*state.targets(), scope.clone());
    // CPU-bound (tens of milliseconds for a city's thousands of caseworkers): off the runtime.
    let rows = background::run(Priority::Request, move || {
        let area = estimate.as_ref().map(|e| cov::AreaEstimate {
            grid_counts: &grid_counts,
            unrecorded: &e.unrecorded,
            targets: &targets,
        });
        cov::assessment_rows(&atlas, &caseworkers, &activity, month, &rule, &scope, area)
    })
    .await
    .map_err(|e| AppError::Internal(format!("the assessment: {e}")))??;
    Ok((month, rows))
}

/// The query of `GET /api/spot-checks`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SpotChecksQuery {
    /// YYYY-MM, required.
    #[param(required = true, pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
}

/// The month's spot checks of every caseworker the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SpotChecksAnswer {
    /// The month (YYYY-MM).
    month: String,
    /// One row per spot check, by street, then day.
    rows: Vec<SpotCheckRow>,
}

/// `GET /api/spot-checks?month=YYYY-MM`: the month's spot checks (暗查/反查), within the same
/// scope as the assessment that scores them.
#[utoipa::path(get, path = "/api/spot-checks", tag = "API", operation_id = "spot_checks",
    summary = "the month's spot checks (抽查) of every caseworker the caller may see: the grid re-visited, the \
               households checked and the missed registrations, missed permits and wrong records found",
    params(SpotChecksQuery),
    responses(
        (status = 200, description = "the spot checks", body = SpotChecksAnswer),
        (status = 400, description = "a missing or malformed month", body = Exception)))]
pub(super) async fn spot_checks(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<SpotChecksQuery>,
) -> AppResult<Response> {
    let (month, rows) = spot_check_rows(&state, &scope, q.month.as_deref()).await?;
    Ok(no_cache(SpotChecksAnswer { month: month.to_string(), rows }))
}

/// The month (required) and its spot-check rows.
async fn spot_check_rows(
    state: &AppState,
    scope: &Scope,
    month: Option<&str>,
) -> AppResult<(Month, Vec<SpotCheckRow>)> {
    let (month, caseworkers, inputs) = roster_and_inputs(state, month).await?;
    let checks: Vec<&SpotCheck> =
        inputs.evidence.spot_checks.iter().filter(|s| Month::of(s.checked_on) == month).collect();
    Ok((month, cov::spot_check_rows(&state.atlas(), &caseworkers, &checks, scope)))
}

/// The month (required), the roster and the inputs of the derived views (both as kept in
/// memory, [`AppState::roster`], [`AppState::view_inputs`]): what the assessment and the spot
/// checks are made from, with no read of the store after the first.
async fn roster_and_inputs(
    state: &AppState,
    month: Option<&str>,
) -> AppResult<(Month, std::sync::Arc<Vec<Caseworker>>, ViewInputs)> {
    let month = required_month(month)?;
    let caseworkers = state.roster().await?;
    let inputs = state.view_inputs().await?;
    Ok((month, caseworkers, inputs))
}

/// The 包干 tables exported at `/api/exports/{table}.{csv|xlsx}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// Staffing against the rule (`?rule=&cost_per_caseworker=`).
    Staffing,
    /// The month's assessment (`?month=YYYY-MM&rule=`).
    Assessment,
    /// The month's spot checks (`?month=YYYY-MM`).
    SpotChecks,
}

impl Table {
    /// The table a file stem names.
    pub(super) fn named(stem: &str) -> Option<Self> {
        match stem {
            "staffing" => Some(Table::Staffing),
            "assessment" => Some(Table::Assessment),
            "spot_checks" => Some(Table::SpotChecks),
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
    q: &ExportQuery,
) -> AppResult<Vec<u8>> {
    if format == Format::GeoJson {
        return Err(AppError::NotFound(
            "staffing, assessment and spot_checks are tables: export them as .csv or .xlsx".into(),
        ));
    }
    let atlas = state.atlas();
    let book = match table {
        Table::Staffing => {
            let (rule, _, caseworkers) =
                rule_and_contracts(state, q.rule.as_deref(), q.cost_per_caseworker.as_deref()).await?;
            let rows = cov::staffing_rows(&atlas, &caseworkers, &rule, scope)?;
            cov::staffing_book(&atlas, &rows, &rule.name, lang, scope.aggregates_only())
        }
        Table::Assessment => {
            let (_, rows) =
                assessment_rows(state, scope, q.month.as_deref(), q.rule.as_deref(), q.cost_per_caseworker.as_deref())
                    .await?;
            cov::assessment_book(&atlas, &rows, lang)
        }
        Table::SpotChecks => {
            let (_, rows) = spot_check_rows(state, scope, q.month.as_deref()).await?;
            cov::spot_check_book(&atlas, &rows)
        }
    };
    tokio::task::spawn_blocking(move || export::write_book(&book, format, lang))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))
}
