//! 蚕食法 sweep campaigns over HTTP: the unregistered candidates, campaigns planned and stored,
//! the day's routes and the phases of the blocks. The work is in [`crate::campaign`].

use super::extract::ApiPath;
use super::geojson::{Feature, GeoJson};
use super::identity::{Authenticated, RequestSource};
use super::query::ApiQuery;
use super::visits::{BlockPhase, VisitSummary};
use super::{ApiJson, IdParam, MAX_BUILDINGS, not_found, parse_bbox, parse_id};
use crate::access::audit::action;
use crate::api::error::Exception;
use crate::campaign::{self, Campaign, CampaignRequest, CandidateProperties, DayRoutes};
use crate::error::{AppError, AppResult};
use crate::identity::Actor;
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::campaigns::{StoredCampaign, phase_str};
use crate::store::dates::parse_date;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rentgrid_analysis::sweep::Phase;
use rentgrid_geodata::BuildingId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Candidates listed when the request names no limit.
const DEFAULT_CANDIDATES: usize = 100;

/// The query of `GET /api/unregistered-candidates`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidatesQuery {
    /// minLon,minLat,maxLon,maxLat (WGS84); the district if left out.
    bbox: Option<String>,
    /// The most candidates returned (1 to 10,000; default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10_000)]
    limit: Option<String>,
}

/// The candidates: buildings ranked by expected hidden units.
#[derive(Debug, Serialize, ToSchema)]
pub struct Candidates {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    kind: super::geojson::FeatureCollectionType,
    /// The day the estimate reflects (YYYY-MM-DD).
    as_of: String,
    /// Candidates in the box and scope.
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    /// Candidates answered.
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    /// The buildings, most expected first.
    features: Vec<Feature<CandidateProperties>>,
}

/// `GET /api/unregistered-candidates?bbox=&limit=`: the buildings most likely to hide
/// unregistered rentals, ranked, with reasons and an interval.
#[utoipa::path(get, path = "/api/unregistered-candidates", tag = "Campaigns", operation_id = "unregistered_candidates",
    summary = "buildings most likely to hide unregistered rentals, ranked by expected hidden units, each with its \
               reasons (code, numbers, zh and en), a 90% interval and its grid, as GeoJSON points",
    params(CandidatesQuery),
    responses(
        (status = 200, description = "candidates", body = Candidates, content_type = "application/geo+json"),
        (status = 400, description = "a malformed request; the message names the parameter", body = Exception)))]
pub async fn candidates(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<CandidatesQuery>,
) -> AppResult<GeoJson<Candidates>> {
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_CANDIDATES,
        Some(s) => s.parse::<usize>().ok().filter(|n| (1..=MAX_BUILDINGS).contains(n)).ok_or_else(|| {
            AppError::BadRequest(format!("limit {s:?} must be a whole number from 1 to {MAX_BUILDINGS}"))
        })?,
    };
    let atlas = state.atlas();
    let estimate = state.estimate(&atlas).await?;
    let ids: Vec<BuildingId> = match bbox {
        Some(b) => atlas.buildings_in(b),
        None => atlas.buildings().iter().map(|b| b.id).collect(),
    }
    .into_iter()
    .filter(|&id| atlas.building(id).is_some_and(|b| scope.sees_grid(b.grid_id)))
    .collect();
    let (matched, top) = estimate.candidates.top(&ids, limit);
    let features: Vec<_> = top.iter().enumerate().map(|(i, e)| campaign::candidate_feature(&atlas, e, i + 1)).collect();
    Ok(GeoJson(Candidates {
        kind: super::geojson::FeatureCollectionType::FeatureCollection,
        as_of: crate::store::dates::fmt_date(estimate.as_of),
        number_matched: matched,
        number_returned: features.len(),
        features,
    }))
}

/// `POST /api/campaigns`: plans a campaign and stores it; 201 with the plan.
#[utoipa::path(post, path = "/api/campaigns", tag = "Campaigns", operation_id = "plan_campaign",
    summary = "plan and store a 蚕食法 sweep campaign: seed block, contiguous nibbling order, phases \
               排查 → 清理 → 整治 → 巩固 per block, a daily schedule per caseworker with expected finds and the KPI \
               the area should reach",
    request_body = CampaignRequest,
    responses(
        (status = 201, description = "the stored campaign and its plan", body = Campaign),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 403, description = "the area reaches grids outside what the caller may plan", body = Exception),
        (status = 422, description = "an empty area, an unknown grid or caseworker, a bad date, too few working days", body = Exception)))]
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiJson(req): ApiJson<CampaignRequest>,
) -> AppResult<(StatusCode, Json<Campaign>)> {
    let checked = req.check(&scope)?;
    let event = Actor::User(who, source.ip).event(
        state.identity().now(),
        action::CAMPAIGN_CREATE,
        "POST /api/campaigns".into(),
    );
    let body = campaign::create(&state, &scope, checked, &event).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// `GET /api/campaigns`: every campaign with its progress.
/// Every campaign the caller sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct Campaigns {
    /// Oldest first, without their plans.
    campaigns: Vec<Campaign>,
}

#[utoipa::path(get, path = "/api/campaigns", tag = "Campaigns", operation_id = "campaigns",
    summary = "every sweep campaign with its progress",
    responses((status = 200, description = "campaigns", body = Campaigns)))]
pub async fn list(State(state): State<AppState>, scope: Scope) -> AppResult<Json<Campaigns>> {
    let atlas = state.atlas();
    let all = crate::standby::reads(&state).await.campaigns(None).await?;
    let campaigns = all
        .iter()
        .filter_map(|c| campaign::within_scope(&atlas, c, &scope))
        .map(|c| campaign::campaign_json(&atlas, &c, false))
        .collect();
    Ok(Json(Campaigns { campaigns }))
}

async fn stored(state: &AppState, scope: &Scope, raw: &str) -> AppResult<StoredCampaign> {
    let id = parse_id("campaign", raw)?;
    let found = state.store().campaigns(Some(id)).await?.into_iter().next();
    // A caller who sees part of a campaign gets that part: its blocks, buildings and stops.
    found.and_then(|c| campaign::within_scope(&state.atlas(), &c, scope)).ok_or_else(|| not_found("campaign", id))
}

/// `GET /api/campaigns/{id}`: the plan, the blocks with their phase, and the progress.
#[utoipa::path(get, path = "/api/campaigns/{id}", tag = "Campaigns", operation_id = "campaign",
    summary = "a campaign: its plan, its blocks as GeoJSON numbered in order with their phase, its progress",
    params(IdParam),
    responses(
        (status = 200, description = "the campaign", body = Campaign),
        (status = 400, description = "an id that is not a whole number", body = Exception),
        (status = 404, description = "no such campaign", body = Exception)))]
pub async fn one(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<Json<Campaign>> {
    let c = stored(&state, &scope, &raw).await?;
    Ok(Json(campaign::campaign_json(&state.atlas(), &c, true)))
}

/// The `date` a query requires, as YYYY-MM-DD (400 when missing or malformed).
fn required_date(raw: Option<&str>) -> AppResult<time::Date> {
    let raw = raw.ok_or_else(|| AppError::BadRequest("date is required, as YYYY-MM-DD".into()))?;
    parse_date(raw).ok_or_else(|| AppError::BadRequest(format!("date {raw:?} is not a date as YYYY-MM-DD")))
}

/// `GET /api/campaigns/{id}/routes?date=YYYY-MM-DD`: each caseworker's walk that day.
/// The query of `GET /api/campaigns/{id}/routes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoutesQuery {
    /// The day, YYYY-MM-DD.
    #[param(required = true, format = Date)]
    date: Option<String>,
}

#[utoipa::path(get, path = "/api/campaigns/{id}/routes", tag = "Campaigns", operation_id = "campaign_routes",
    summary = "each caseworker's walk on a day from the community station: a LineString through the stops in order, \
               the station and the numbered stops as points, street metres and the nearest-neighbour baseline",
    params(IdParam, RoutesQuery),
    responses(
        (status = 200, description = "the routes", body = DayRoutes, content_type = "application/geo+json"),
        (status = 400, description = "a missing or malformed date", body = Exception),
        (status = 404, description = "no such campaign", body = Exception)))]
pub async fn routes(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<RoutesQuery>,
) -> AppResult<GeoJson<DayRoutes>> {
    let date = required_date(q.date.as_deref())?;
    let c = stored(&state, &scope, &raw).await?;
    let snapshot = state.snapshot();
    let body = tokio::task::spawn_blocking(move || campaign::routes_json(&snapshot, &c, date))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(GeoJson(body))
}

/// The query of `GET /api/campaigns/{id}/visits`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitsQuery {
    /// The day the visits were recorded for, YYYY-MM-DD.
    #[param(required = true, format = Date)]
    date: Option<String>,
    /// Only this caseworker's visits.
    #[param(value_type = Option<u32>)]
    caseworker: Option<String>,
}

/// The visits of a campaign on one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignVisits {
    /// The campaign.
    campaign_id: u32,
    /// The day (YYYY-MM-DD).
    date: String,
    /// The visits in the caller's grids, in the order they were recorded.
    visits: Vec<VisitSummary>,
}

/// `GET /api/campaigns/{id}/visits?date=&caseworker=`: the visits of a campaign recorded for a
/// day, within the caller's grids; the phone view reads which of the day's stops are done.
#[utoipa::path(get, path = "/api/campaigns/{id}/visits", tag = "Campaigns", operation_id = "campaign_visits",
    summary = "the visits of a campaign recorded for a day (optionally one caseworker's), within the caller's grids",
    params(IdParam, VisitsQuery),
    responses(
        (status = 200, description = "the visits", body = CampaignVisits),
        (status = 400, description = "a missing or malformed date, or a bad caseworker id", body = Exception),
        (status = 404, description = "no such campaign, or none in the caller's grids", body = Exception)))]
pub async fn visits(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<VisitsQuery>,
) -> AppResult<Json<CampaignVisits>> {
    let date = required_date(q.date.as_deref())?;
    let bad_caseworker =
        |s: &str| AppError::BadRequest(format!("caseworker {s:?} is not a caseworker id (a whole number)"));
    let caseworker = q.caseworker.as_deref().map(|s| s.parse::<u32>().map_err(|_| bad_caseworker(s))).transpose()?;
    let c = stored(&state, &scope, &raw).await?;
    let atlas = state.atlas();
    let visits = state
        .store()
        .campaign_visits(c.id, date, caseworker)
        .await?
        .iter()
        .filter(|v| atlas.building(v.building_id).is_some_and(|b| scope.sees_grid(b.grid_id)))
        .map(VisitSummary::from)
        .collect();
    Ok(Json(CampaignVisits { campaign_id: c.id, date: crate::store::dates::fmt_date(date), visits }))
}

/// The body of a phase change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseRequest {
    phase: String,
}

/// A phase by its Chinese name, its code or an English word for it.
fn parse_phase(s: &str) -> Option<Phase> {
    let s = s.trim();
    Phase::ALL.into_iter().find(|p| {
        let words: &[&str] = match p {
            Phase::Investigate => &["investigation"],
            Phase::Clear => &["cleanup", "clearing", "clear-up"],
            Phase::Rectify => &["rectification"],
            Phase::Consolidate => &["consolidation", "recheck"],
        };
        s == p.name_zh() || s.eq_ignore_ascii_case(phase_str(*p)) || words.iter().any(|w| s.eq_ignore_ascii_case(w))
    })
}

/// `POST /api/campaigns/{id}/blocks/{block}/phase` `{"phase": "清理"}`: moves the block to the
/// next phase; 409 for any other.
#[utoipa::path(post, path = "/api/campaigns/{id}/blocks/{block}/phase", tag = "Campaigns", operation_id = "advance_block_phase",
    summary = "move a block to its next phase (排查/清理/整治/巩固 or investigate/clear/rectify/consolidate)",
    params(("id" = u32, Path, description = "the campaign"), ("block" = u32, Path, description = "the block")),
    request_body = PhaseRequest,
    responses(
        (status = 200, description = "the block's phase", body = BlockPhase),
        (status = 400, description = "a malformed request", body = Exception),
        (status = 404, description = "no such campaign or block", body = Exception),
        (status = 409, description = "not the next phase in order, or 巩固 while red hazard cases are open in the block", body = Exception),
        (status = 422, description = "not a phase", body = Exception)))]
pub async fn phase(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath((raw, raw_block)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<PhaseRequest>,
) -> AppResult<Json<BlockPhase>> {
    let to = parse_phase(&req.phase).ok_or_else(|| {
        AppError::Unprocessable(format!(
            "phase {:?} is not one of 排查, 清理, 整治, 巩固 (investigate, clear, rectify, consolidate)",
            req.phase
        ))
    })?;
    let block = parse_id("block", &raw_block)?;
    let c = stored(&state, &scope, &raw).await?;
    // A caller who sees some of a campaign's blocks moves only those (`stored` cut the others away).
    if !c.blocks.iter().any(|b| b.block_id == block) {
        return Err(AppError::NotFound(format!("campaign {} has no block {block} in your grids", c.id)));
    }
    let target = format!("POST /api/campaigns/{}/blocks/{block}/phase", c.id);
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::CAMPAIGN_PHASE, target);
    let p = state.advance_block(c.id, block, to, super::today(), &event).await?;
    Ok(Json(BlockPhase::new(Some(c.id), p.block_id, p.phase)))
}
