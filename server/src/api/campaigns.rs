//! 蚕食法 sweep campaigns over HTTP: the unregistered candidates, campaigns planned and stored,
//! the day's routes and the phases of the blocks. The work is in [`crate::campaign`].

use super::{ApiJson, IdPath, MAX_BUILDINGS, not_found, parse_bbox, parse_id};
use crate::campaign::{self, CampaignRequest};
use crate::error::{ApiError, ApiResult};
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::campaigns::{StoredCampaign, phase_str};
use crate::store::dates::parse_date;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rentgrid_analysis::sweep::Phase;
use rentgrid_geodata::BuildingId;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Candidates listed when the request names no limit.
const DEFAULT_CANDIDATES: usize = 100;

/// `GET /api/unregistered-candidates?bbox=&limit=`: the buildings most likely to hide
/// unregistered rentals, ranked, with reasons and an interval.
pub async fn candidates(
    State(state): State<AppState>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    super::reject_unknown(&q, &["bbox", "limit"])?;
    let bbox = q.get("bbox").map(|s| parse_bbox(s)).transpose()?;
    let limit = match q.get("limit") {
        None => DEFAULT_CANDIDATES,
        Some(s) => s.parse::<usize>().ok().filter(|n| (1..=MAX_BUILDINGS).contains(n)).ok_or_else(|| {
            ApiError::BadRequest(format!("limit {s:?} must be a whole number from 1 to {MAX_BUILDINGS}"))
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
    let ranked = estimate.candidates.ranked(&ids);
    let features: Vec<Value> =
        ranked.iter().take(limit).enumerate().map(|(i, e)| campaign::candidate_feature(&atlas, e, i + 1)).collect();
    Ok(super::features::geojson_response(json!({
        "type": "FeatureCollection",
        "as_of": crate::store::dates::fmt_date(estimate.as_of),
        "numberMatched": ranked.len(),
        "numberReturned": features.len(),
        "features": features,
    })))
}

/// `POST /api/campaigns`: plans a campaign and stores it; 201 with the plan.
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    ApiJson(req): ApiJson<CampaignRequest>,
) -> ApiResult<Response> {
    let checked = req.check(&scope)?;
    let body = campaign::create(&state, &scope, checked).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn visible(scope: &Scope, c: &StoredCampaign) -> bool {
    c.blocks.iter().any(|b| scope.sees_grid(b.grid_id))
}

/// `GET /api/campaigns`: every campaign with its progress.
pub async fn list(State(state): State<AppState>, scope: Scope) -> ApiResult<Json<Value>> {
    let atlas = state.atlas();
    let all = state.store().campaigns(None).await?;
    let campaigns: Vec<Value> =
        all.iter().filter(|c| visible(&scope, c)).map(|c| campaign::campaign_json(&atlas, c, false)).collect();
    Ok(Json(json!({ "campaigns": campaigns })))
}

async fn stored(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<StoredCampaign> {
    let id = parse_id("campaign", raw)?;
    let found = state.store().campaigns(Some(id)).await?.into_iter().next();
    found.filter(|c| visible(scope, c)).ok_or_else(|| not_found("campaign", id))
}

/// `GET /api/campaigns/{id}`: the plan, the blocks with their phase, and the progress.
pub async fn one(State(state): State<AppState>, scope: Scope, Path(raw): IdPath) -> ApiResult<Json<Value>> {
    let c = stored(&state, &scope, &raw).await?;
    Ok(Json(campaign::campaign_json(&state.atlas(), &c, true)))
}

/// `GET /api/campaigns/{id}/routes?date=YYYY-MM-DD`: each caseworker's walk that day.
pub async fn routes(
    State(state): State<AppState>,
    scope: Scope,
    Path(raw): IdPath,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let raw_date = q.get("date").ok_or_else(|| ApiError::BadRequest("date is required, as YYYY-MM-DD".into()))?;
    let date = parse_date(raw_date)
        .ok_or_else(|| ApiError::BadRequest(format!("date {raw_date:?} is not a date as YYYY-MM-DD")))?;
    let c = stored(&state, &scope, &raw).await?;
    let atlas = state.atlas();
    let body = tokio::task::spawn_blocking(move || campaign::routes_json(&atlas, &c, date))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(super::features::geojson_response(body))
}

/// The body of a phase change.
#[derive(Debug, Deserialize)]
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
pub async fn phase(
    State(state): State<AppState>,
    scope: Scope,
    Path((raw, raw_block)): Path<(String, String)>,
    ApiJson(req): ApiJson<PhaseRequest>,
) -> ApiResult<Json<Value>> {
    let to = parse_phase(&req.phase).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "phase {:?} is not one of 排查, 清理, 整治, 巩固 (investigate, clear, rectify, consolidate)",
            req.phase
        ))
    })?;
    let block = parse_id("block", &raw_block)?;
    let c = stored(&state, &scope, &raw).await?;
    // A caller who sees some of a campaign's blocks moves only those.
    if c.blocks.iter().any(|b| b.block_id == block && !scope.sees_grid(b.grid_id)) {
        return Err(ApiError::NotFound(format!("block {block} of campaign {} is outside your grids", c.id)));
    }
    let p = state.advance_block(c.id, block, to).await?;
    Ok(Json(json!({
        "campaign_id": c.id,
        "block_id": p.block_id,
        "phase": p.phase.map(phase_str),
        "phase_zh": p.phase.map(Phase::name_zh),
    })))
}
