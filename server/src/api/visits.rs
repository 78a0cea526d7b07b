//! `POST /api/visits`: a caseworker's visit to a building, recorded idempotently by its
//! client-generated id.

use super::{ApiJson, json_status, today};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::dates::{fmt_date, parse_date};
use crate::store::{NewUnit, NewVisit};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rentgrid_analysis::kpi;
use serde::Deserialize;
use serde_json::json;

/// Most ids or new units in one visit.
const MAX_ITEMS: usize = 500;
/// Longest notes.
const MAX_NOTES: usize = 2_000;
/// Most tenants recorded for one unit.
const MAX_TENANTS: u32 = 200;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitRequest {
    client_id: String,
    building_id: u32,
    #[serde(default)]
    caseworker_id: Option<u32>,
    #[serde(default)]
    visited_on: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    register_units: Vec<u32>,
    #[serde(default)]
    pledge_units: Vec<u32>,
    #[serde(default)]
    register_persons: Vec<u32>,
    #[serde(default)]
    new_units: Vec<NewUnit>,
    #[serde(default)]
    campaign_id: Option<u32>,
}

fn validate(r: VisitRequest) -> Result<NewVisit, ApiError> {
    let bad = |m: String| Err(ApiError::Unprocessable(m));
    let id_ok = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    if r.client_id.is_empty() || r.client_id.len() > 64 || !r.client_id.chars().all(id_ok) {
        return bad("client_id must be 1 to 64 characters of letters, digits and - _ . : (a UUID works)".into());
    }
    let visited_on = match &r.visited_on {
        None => today(),
        Some(s) => match parse_date(s) {
            Some(d) => d,
            None => return bad(format!("visited_on {s:?} is not a date as YYYY-MM-DD")),
        },
    };
    if visited_on > today() + time::Duration::days(1) {
        return bad(format!("visited_on {} is in the future", fmt_date(visited_on)));
    }
    if visited_on.year() < 2000 {
        return bad(format!("visited_on {} is before 2000", fmt_date(visited_on)));
    }
    let notes = r.notes.unwrap_or_default();
    if notes.chars().count() > MAX_NOTES {
        return bad(format!("notes are limited to {MAX_NOTES} characters"));
    }
    for (name, list) in [
        ("register_units", &r.register_units),
        ("pledge_units", &r.pledge_units),
        ("register_persons", &r.register_persons),
    ] {
        if list.len() > MAX_ITEMS {
            return bad(format!("{name} has {} entries; at most {MAX_ITEMS} per visit", list.len()));
        }
    }
    if r.new_units.len() > MAX_ITEMS {
        return bad(format!("new_units has {} entries; at most {MAX_ITEMS} per visit", r.new_units.len()));
    }
    for (i, u) in r.new_units.iter().enumerate() {
        if u.label.trim().is_empty() || u.label.chars().count() > 40 {
            return bad(format!("new_units[{i}].label must be 1 to 40 characters"));
        }
        if u.tenants > MAX_TENANTS {
            return bad(format!("new_units[{i}].tenants {} is more than {MAX_TENANTS}", u.tenants));
        }
        if u.pledge_signed && !u.registered {
            return bad(format!("new_units[{i}]: a pledge is signed for a registered unit; set registered too"));
        }
    }
    let dedup = |mut v: Vec<u32>| {
        v.sort_unstable();
        v.dedup();
        v
    };
    Ok(NewVisit {
        client_id: r.client_id,
        building_id: r.building_id,
        caseworker_id: r.caseworker_id,
        visited_on,
        notes,
        register_units: dedup(r.register_units),
        pledge_units: dedup(r.pledge_units),
        register_persons: dedup(r.register_persons),
        new_units: r.new_units,
        campaign_id: r.campaign_id,
    })
}

/// Records the visit. 201 with the visit and the building's grid KPIs after it; 200 with the
/// same for a replay of an earlier submission; 409 when the client id was used for another.
pub async fn create(State(state): State<AppState>, ApiJson(req): ApiJson<VisitRequest>) -> ApiResult<Response> {
    let visit = validate(req)?;
    if state.atlas().building(visit.building_id).is_none() {
        return Err(ApiError::NotFound(format!("building {} does not exist", visit.building_id)));
    }
    let (outcome, atlas) = state.record_visit(&visit).await?;
    let grid_id = atlas.building(outcome.visit.building_id).map(|b| b.grid_id);
    let grid_row = grid_id.and_then(|g| kpi::grid_row(&atlas, &state.grid_counts(&atlas), g, state.targets()));
    let v = &outcome.visit;
    let status = if outcome.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok(json_status(
        status,
        json!({
            "replayed": outcome.replayed,
            "visit": {
                "id": v.id,
                "client_id": v.client_id,
                "building_id": v.building_id,
                "caseworker_id": v.caseworker_id,
                "visited_on": fmt_date(v.visited_on),
                "units_registered": v.units_registered,
                "pledges_signed": v.pledges_signed,
                "units_found": v.units_found,
                "persons_found": v.persons_found,
                "notes": v.notes,
            },
            "grid": grid_row,
            "campaign_block": outcome.campaign_block.map(|p| json!({
                "campaign_id": visit.campaign_id,
                "block_id": p.block_id,
                "phase": p.phase.map(crate::store::campaigns::phase_str),
                "phase_zh": p.phase.map(rentgrid_analysis::sweep::Phase::name_zh),
            })),
        }),
    ))
}
