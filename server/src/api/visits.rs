//! `POST /api/visits`: a caseworker's visit to a building, recorded idempotently by its
//! client-generated id, with one audit row in the visit's transaction (`visit_record`: who, from
//! where, the building, the client id and the visit; `replayed` for a retry that changed nothing).

use super::identity::{Authenticated, RequestSource};
use super::position::{Position, fix_of};
use super::{ApiJson, today};
use crate::access::audit::action;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::identity::Actor;
use crate::scope::{Role, Scope};
use crate::state::AppState;
use crate::store::dates::{fmt_date, parse_date};
use crate::store::{NewUnit, NewVisit};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rentgrid_analysis::kpi::{self, Row};
use rentgrid_analysis::sweep::Phase;
use rentgrid_geodata::Visit;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most ids or new units in one visit.
const MAX_ITEMS: usize = 500;
/// Longest notes.
const MAX_NOTES: usize = 2_000;
/// Most tenants recorded for one unit.
const MAX_TENANTS: u32 = 200;

/// The request body.
#[derive(Debug, Deserialize, ToSchema)]
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
    new_units: Vec<NewUnitBody>,
    #[serde(default)]
    campaign_id: Option<u32>,
    /// Where the phone was, when its user allows it: a visit recorded more than 150 m from the
    /// building is accepted and flagged for the supervisor.
    #[serde(default)]
    position: Option<Position>,
}

pub(super) fn validate(r: VisitRequest) -> Result<NewVisit, AppError> {
    let bad = |m: String| Err(AppError::Unprocessable(m));
    super::field::client_id(&r.client_id)?;
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
        new_units: r.new_units.into_iter().map(NewUnit::from).collect(),
        campaign_id: r.campaign_id,
        position: None,
    })
}

/// Records the visit. 201 with the visit and the building's grid KPIs after it; 200 with the
/// A rental unit found during a visit that the register lacked.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnitBody {
    /// Room or flat label, e.g. `3-302` (1 to 40 characters).
    label: String,
    /// Tenants found living there (at most 200).
    tenants: u32,
    /// Registered on the spot.
    #[serde(default)]
    registered: bool,
    /// Landlord signed the safety pledge on the spot (only for a registered unit).
    #[serde(default)]
    pledge_signed: bool,
}

impl From<NewUnitBody> for NewUnit {
    fn from(u: NewUnitBody) -> Self {
        NewUnit { label: u.label, tenants: u.tenants, registered: u.registered, pledge_signed: u.pledge_signed }
    }
}

/// A visit as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitSummary {
    /// Its id.
    id: u32,
    /// The id the client generated.
    client_id: String,
    /// The building visited.
    building_id: u32,
    /// Who visited, if recorded.
    #[schema(required = true)]
    caseworker_id: Option<u32>,
    /// When (YYYY-MM-DD).
    visited_on: String,
    /// Rental units registered during the visit.
    units_registered: u32,
    /// Safety pledges signed during the visit.
    pledges_signed: u32,
    /// Rental units found that the register lacked.
    units_found: u32,
    /// Persons found that the register lacked.
    persons_found: u32,
    /// Free-text notes.
    notes: String,
}

impl From<&Visit> for VisitSummary {
    fn from(v: &Visit) -> Self {
        Self {
            id: v.id,
            client_id: v.client_id.clone(),
            building_id: v.building_id,
            caseworker_id: v.caseworker_id,
            visited_on: fmt_date(v.visited_on),
            units_registered: v.units_registered,
            pledges_signed: v.pledges_signed,
            units_found: v.units_found,
            persons_found: v.persons_found,
            notes: v.notes.clone(),
        }
    }
}

/// A campaign block's phase after a visit or a move.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockPhase {
    /// The campaign.
    #[schema(required = true)]
    pub campaign_id: Option<u32>,
    /// The block.
    pub block_id: u32,
    /// Its phase: investigate, clear, rectify or consolidate (null before 排查).
    #[schema(required = true)]
    pub phase: Option<&'static str>,
    /// The phase in Chinese: 排查, 清理, 整治 or 巩固.
    #[schema(required = true)]
    pub phase_zh: Option<&'static str>,
}

impl BlockPhase {
    /// The phase of `block` of `campaign_id`.
    pub fn new(campaign_id: Option<u32>, block_id: u32, phase: Option<Phase>) -> Self {
        Self {
            campaign_id,
            block_id,
            phase: phase.map(crate::store::campaigns::phase_str),
            phase_zh: phase.map(Phase::name_zh),
        }
    }
}

/// What recording a visit answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitAnswer {
    /// True when this submission had been recorded before: nothing changed.
    replayed: bool,
    /// The visit as stored.
    visit: VisitSummary,
    /// The visited building's grid with its KPIs after the visit.
    #[schema(required = true)]
    grid: Option<Row>,
    /// For a campaign visit, its block's phase after it.
    #[schema(required = true)]
    campaign_block: Option<BlockPhase>,
}

/// `POST /api/visits`: records a visit; 201 when new, 200 for a replay of the same client id.
#[utoipa::path(post, path = "/api/visits", tag = "API", operation_id = "record_visit",
    summary = "record a caseworker's visit (idempotent by client id)",
    request_body = VisitRequest,
    responses(
        (status = 201, description = "the visit was recorded", body = VisitAnswer),
        (status = 200, description = "a replay: this client id was recorded before, nothing changed", body = VisitAnswer),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 403, description = "a building outside the caller's grids, or another caseworker's visit", body = Exception),
        (status = 404, description = "no such building", body = Exception),
        (status = 409, description = "the client id was used for another visit", body = Exception),
        (status = 422, description = "well-formed but not acceptable; the message names the field", body = Exception)))]
pub async fn create(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiJson(req): ApiJson<VisitRequest>,
) -> AppResult<(StatusCode, Json<VisitAnswer>)> {
    let position = req.position;
    let mut visit = validate(req)?;
    let Some(grid) = state.atlas().building(visit.building_id).map(|b| b.grid_id) else {
        return Err(AppError::NotFound(format!("building {} does not exist", visit.building_id)));
    };
    if !scope.sees_grid(grid) {
        return Err(AppError::Forbidden(format!("building {} lies outside your grids", visit.building_id)));
    }
    visit.position = fix_of(position, &state.atlas(), visit.building_id)?;
    if scope.role == Role::Caseworker && visit.caseworker_id.is_some_and(|c| Some(c) != scope.caseworker) {
        return Err(AppError::Forbidden(
            "a caseworker records their own visits only: caseworker_id is not yours".into(),
        ));
    }
    let mut target = format!("POST /api/visits building {} client_id {}", visit.building_id, visit.client_id);
    if let Some(c) = visit.campaign_id {
        target.push_str(&format!(" campaign {c}"));
    }
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::VISIT, target);
    let (outcome, snapshot) = state.record_visit(&visit, &event).await?;
    let atlas = snapshot.atlas();
    let grid_id = atlas.building(outcome.visit.building_id).map(|b| b.grid_id);
    let grid_row = grid_id.and_then(|g| kpi::grid_row(atlas, &snapshot.grid_counts(), g, state.targets()));
    let v = &outcome.visit;
    let status = if outcome.replayed { StatusCode::OK } else { StatusCode::CREATED };
    let answer = VisitAnswer {
        replayed: outcome.replayed,
        visit: VisitSummary::from(v),
        grid: grid_row,
        campaign_block: outcome.campaign_block.map(|p| BlockPhase::new(visit.campaign_id, p.block_id, p.phase)),
    };
    Ok((status, Json(answer)))
}
