//! Safety hazards to closure (整治一块) over HTTP: a caseworker records a hazard at a building
//! (kind from the configured list, severity, an optional photo); a supervisor assigns the case;
//! the caseworker reports it rectified; a supervisor verifies it (closed) or reopens it. Each
//! case has a deadline per kind and severity and is yellow past it, red later (the rules are
//! [`rentgrid_analysis::hazard`]'s). Writes from the phone carry a client id and are applied at
//! most once; every write is audited; everything is within the caller's grids (404 outside).

use super::extract::ApiPath;
use super::field::{client_id, field_day, text_of_at_most};
use super::identity::{Authenticated, RequestSource};
use super::persons::{address, grid_code};
use super::position::{Position, fix_of};
use super::query::ApiQuery;
use super::{ApiJson, IdParam, not_found, parse_id, today};
use crate::access::audit::action;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::hazard_photos::PhotoError;
use crate::identity::Actor;
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::dates::fmt_date;
use crate::store::hazards::{HazardFilter, HazardMove, HazardPhoto, NewHazard, StoredHazard};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rentgrid_analysis::hazard::{HazardKind, Severity, Status, Urgency};
use rentgrid_geodata::Atlas;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};

/// Longest note.
const MAX_NOTE: usize = 500;

/// A severity with its Chinese name.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeverityView {
    /// `minor`, `major` or `severe`.
    code: Severity,
    /// 一般, 较大 or 重大.
    name_zh: &'static str,
}

/// `GET /api/hazard-kinds`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HazardKindList {
    /// The kinds recorded here, with their deadlines.
    kinds: Vec<HazardKind>,
    /// The severities, least serious first.
    severities: Vec<SeverityView>,
}

/// `GET /api/hazard-kinds`: the configured kinds of hazard and their deadlines.
#[utoipa::path(get, path = "/api/hazard-kinds", tag = "Hazards", operation_id = "hazard_kinds",
    summary = "the kinds of hazard recorded (configurable), with their deadlines per severity",
    responses((status = 200, description = "the kinds", body = HazardKindList)))]
pub async fn kinds(State(state): State<AppState>) -> Json<HazardKindList> {
    Json(HazardKindList {
        kinds: state.hazard_kinds().all().to_vec(),
        severities: Severity::ALL.into_iter().map(|s| SeverityView { code: s, name_zh: s.name_zh() }).collect(),
    })
}

/// A hazard case as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct HazardCase {
    /// Its id.
    id: u32,
    /// The building.
    building_id: u32,
    /// Its address.
    address: String,
    /// Its grid's code.
    grid_code: String,
    /// Where the building is (WGS84), for the map.
    lon: f64,
    /// Latitude.
    lat: f64,
    /// The rental unit, if the hazard is in one.
    #[schema(required = true)]
    unit_id: Option<u32>,
    /// The kind's code.
    kind: String,
    /// The kind in Chinese (the code when no longer configured).
    kind_zh: String,
    /// The kind in English.
    kind_en: String,
    /// How serious.
    severity: Severity,
    /// 一般, 较大 or 重大.
    severity_zh: &'static str,
    /// What was seen.
    note: String,
    /// Where the case stands.
    status: Status,
    /// The status in Chinese.
    status_zh: &'static str,
    /// Found on (`YYYY-MM-DD`).
    found_on: String,
    /// By whom (user name).
    found_by: String,
    /// The caseworker it was given to.
    #[schema(required = true)]
    assignee_id: Option<u32>,
    /// The last day to rectify it.
    due_on: String,
    /// The first day it is red when not rectified.
    red_on: String,
    /// The day it was verified (closed).
    #[schema(required = true)]
    closed_on: Option<String>,
    /// `on_time`, `yellow` (past its deadline) or `red` (past it by more than the kind allows).
    urgency: Urgency,
    /// Days past the deadline (0 when not overdue).
    days_overdue: u32,
    /// The case's version: one more on every move.
    version: u32,
}

fn case_view(state: &AppState, atlas: &Atlas, h: StoredHazard, today: Date) -> HazardCase {
    let kind = state.hazard_kinds().get(&h.kind);
    let urgency = Urgency::of(h.status, h.deadline, today);
    let days_overdue = if urgency == Urgency::OnTime {
        0
    } else {
        u32::try_from((today - h.deadline.due_on).whole_days()).unwrap_or(0)
    };
    let point = atlas.building(h.building_id).map(|b| b.point);
    HazardCase {
        id: h.id,
        address: address(atlas, h.building_id),
        grid_code: grid_code(atlas, h.grid_id),
        lon: point.map_or(0.0, |p| p.x()),
        lat: point.map_or(0.0, |p| p.y()),
        building_id: h.building_id,
        unit_id: h.unit_id,
        kind_zh: kind.map_or_else(|| h.kind.clone(), |k| k.name_zh.clone()),
        kind_en: kind.map_or_else(|| h.kind.clone(), |k| k.name_en.clone()),
        kind: h.kind,
        severity: h.severity,
        severity_zh: h.severity.name_zh(),
        note: h.note,
        status: h.status,
        status_zh: h.status.name_zh(),
        found_on: fmt_date(h.found_on),
        found_by: h.found_by,
        assignee_id: h.assignee_id,
        due_on: fmt_date(h.deadline.due_on),
        red_on: fmt_date(h.deadline.red_on),
        closed_on: h.closed_on.map(fmt_date),
        urgency,
        days_overdue,
        version: h.version,
    }
}

/// A note of at most [`MAX_NOTE`] characters; `required` refuses an empty one.
fn note(raw: Option<&str>, required: bool) -> AppResult<String> {
    text_of_at_most("note", raw.unwrap_or(""), required, MAX_NOTE)
}

/// `POST /api/buildings/{id}/hazards`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHazardRequest {
    /// Client-generated id of this write (1–64 letters, digits, `- _ . :`): a retry changes nothing.
    client_id: String,
    /// The kind's code (`GET /api/hazard-kinds`).
    kind: String,
    /// `minor` (一般), `major` (较大) or `severe` (重大).
    severity: String,
    /// The rental unit, when the hazard is in one.
    #[serde(default)]
    unit_id: Option<u32>,
    /// What was seen (at most 500 characters).
    #[serde(default)]
    note: Option<String>,
    /// The day it was found, `YYYY-MM-DD` (default today, China time).
    #[serde(default)]
    found_on: Option<String>,
    /// Where the phone was, when its user allows it.
    #[serde(default)]
    position: Option<Position>,
}

/// The answer to a hazard write.
#[derive(Debug, Serialize, ToSchema)]
pub struct HazardWrite {
    /// True for a replay of this client id: nothing changed.
    replayed: bool,
    /// The case now.
    hazard: HazardCase,
}

/// The case `id` if the caller sees its grid (404 otherwise).
async fn case_in_scope(state: &AppState, scope: &Scope, id: u32) -> AppResult<StoredHazard> {
    state.store().hazard(id).await?.filter(|h| scope.sees_grid(h.grid_id)).ok_or_else(|| not_found("hazard", id))
}

async fn answer(
    state: &AppState,
    id: u32,
    replayed: bool,
    created: bool,
) -> AppResult<(StatusCode, Json<HazardWrite>)> {
    let h = state.store().hazard(id).await?.ok_or_else(|| not_found("hazard", id))?;
    let status = if created && !replayed { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(HazardWrite { replayed, hazard: case_view(state, &state.atlas(), h, today()) })))
}

/// `POST /api/buildings/{id}/hazards`: records a hazard found at the building; opens its case.
#[utoipa::path(post, path = "/api/buildings/{id}/hazards", tag = "Hazards", operation_id = "record_hazard",
    summary = "record a hazard found at a building (opens a case with a deadline per kind and severity)",
    params(IdParam),
    request_body = NewHazardRequest,
    responses(
        (status = 201, description = "recorded; the case", body = HazardWrite),
        (status = 200, description = "a replay of this client id: nothing changed", body = HazardWrite),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 404, description = "no such building, or one outside the caller's grids", body = Exception),
        (status = 409, description = "the client id was used for another write", body = Exception),
        (status = 422, description = "a bad field (the message names it)", body = Exception)))]
pub async fn record(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiJson(req): ApiJson<NewHazardRequest>,
) -> AppResult<(StatusCode, Json<HazardWrite>)> {
    let building_id = parse_id("building", &raw)?;
    let atlas = state.atlas();
    if !atlas.building(building_id).is_some_and(|b| scope.sees_grid(b.grid_id)) {
        return Err(not_found("building", building_id));
    }
    let kind = state.hazard_kinds().get(req.kind.trim()).ok_or_else(|| {
        let codes: Vec<&str> = state.hazard_kinds().all().iter().map(|k| k.code.as_str()).collect();
        AppError::Unprocessable(format!("kind: {:?} is not one of {}", req.kind, codes.join(", ")))
    })?;
    let severity = Severity::parse(&req.severity).ok_or_else(|| {
        AppError::Unprocessable(format!(
            "severity: {:?} is not minor (一般), major (较大) or severe (重大)",
            req.severity
        ))
    })?;
    let found_on = field_day("found_on", req.found_on.as_deref())?;
    let hazard = NewHazard {
        client_id: client_id(&req.client_id)?,
        building_id,
        unit_id: req.unit_id,
        kind: kind.code.clone(),
        severity,
        note: note(req.note.as_deref(), false)?,
        found_on,
        deadline: kind.deadline(severity, found_on),
        position: fix_of(req.position, &atlas, building_id)?,
    };
    let target = format!("POST /api/buildings/{building_id}/hazards client_id {}", hazard.client_id);
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::HAZARD_RECORD, target);
    let written = state.record_hazard(&hazard, &event).await?;
    answer(&state, written.hazard_id, written.replayed, true).await
}

/// `GET /api/hazards?open=&building=&assignee=&urgency=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HazardQuery {
    /// Only open cases (not verified; default true).
    #[serde(default)]
    open: Option<bool>,
    /// Only the cases of this building.
    #[serde(default)]
    building: Option<u32>,
    /// Only the cases given to this caseworker.
    #[serde(default)]
    assignee: Option<u32>,
    /// Only the cases this late: `yellow` or `red`.
    #[serde(default)]
    #[param(pattern = "^(on_time|yellow|red)$")]
    urgency: Option<String>,
}

/// How many cases are how late.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct HazardCounts {
    /// Open cases (not verified).
    open: usize,
    /// Of them, past their deadline and not yet red.
    yellow: usize,
    /// Of them, red.
    red: usize,
}

/// `GET /api/hazards`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HazardList {
    /// Today (China time), the day lateness is counted to.
    as_of: String,
    /// How many cases of the listed ones are how late.
    counts: HazardCounts,
    /// The cases, the most recently found first (at most 5,000).
    hazards: Vec<HazardCase>,
}

/// `GET /api/hazards`: the hazard cases in the caller's grids.
#[utoipa::path(get, path = "/api/hazards", tag = "Hazards", operation_id = "hazards",
    summary = "hazard cases in the caller's grids, with their deadline and how late they are (yellow, red)",
    params(HazardQuery),
    responses(
        (status = 200, description = "the cases", body = HazardList),
        (status = 400, description = "a bad query", body = Exception)))]
pub async fn list(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<HazardQuery>,
) -> AppResult<Json<HazardList>> {
    let urgency = match q.urgency.as_deref() {
        None => None,
        Some("on_time") => Some(Urgency::OnTime),
        Some("yellow") => Some(Urgency::Yellow),
        Some("red") => Some(Urgency::Red),
        Some(other) => return Err(AppError::BadRequest(format!("urgency: {other:?} is not on_time, yellow or red"))),
    };
    let within = scope.grids.as_ref().map(|g| g.iter().copied().collect::<Vec<_>>());
    let filter = HazardFilter {
        within: within.as_deref(),
        open_only: q.open.unwrap_or(true),
        building: q.building,
        assignee: q.assignee,
    };
    let atlas = state.atlas();
    let today = today();
    let hazards: Vec<HazardCase> = state
        .store()
        .hazards(filter)
        .await?
        .into_iter()
        .map(|h| case_view(&state, &atlas, h, today))
        .filter(|c| urgency.is_none_or(|u| c.urgency == u))
        .collect();
    let open = hazards.iter().filter(|c| c.status.is_open());
    let counts = HazardCounts {
        open: open.clone().count(),
        yellow: open.clone().filter(|c| c.urgency == Urgency::Yellow).count(),
        red: open.filter(|c| c.urgency == Urgency::Red).count(),
    };
    Ok(Json(HazardList { as_of: fmt_date(today), counts, hazards }))
}

/// A move in a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HazardEventView {
    /// Where the case went.
    status: Status,
    /// In Chinese.
    status_zh: &'static str,
    /// The day.
    on: String,
    /// When it was recorded (RFC 3339 UTC).
    at: String,
    /// By whom.
    username: String,
    /// The caseworker it was given to.
    #[schema(required = true)]
    caseworker_id: Option<u32>,
    /// The severity this move set: the one found, or a reopening's new one (null: unchanged).
    #[schema(required = true)]
    severity: Option<Severity>,
    /// The note.
    note: String,
}

/// A photo of a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoView {
    /// Its id.
    id: u32,
    /// Where to fetch it.
    href: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    content_type: String,
    /// Its size.
    bytes: u64,
    /// The case's status when it was taken.
    status: Status,
    /// Who took it.
    username: String,
    /// When (RFC 3339 UTC).
    created_at: String,
}

impl From<HazardPhoto> for PhotoView {
    fn from(p: HazardPhoto) -> Self {
        PhotoView {
            href: format!("/api/hazards/{}/photos/{}", p.hazard_id, p.id),
            id: p.id,
            content_type: p.content_type,
            bytes: p.bytes,
            status: p.status,
            username: p.username,
            created_at: p.created_at,
        }
    }
}

/// `GET /api/hazards/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HazardDetail {
    /// The case.
    hazard: HazardCase,
    /// Its moves, the first first.
    events: Vec<HazardEventView>,
    /// Its photos.
    photos: Vec<PhotoView>,
}

/// `GET /api/hazards/{id}`: a case with its history and photos.
#[utoipa::path(get, path = "/api/hazards/{id}", tag = "Hazards", operation_id = "hazard",
    summary = "a hazard case with every move and its photos",
    params(IdParam),
    responses(
        (status = 200, description = "the case", body = HazardDetail),
        (status = 400, description = "a bad id", body = Exception),
        (status = 404, description = "no such case, or one outside the caller's grids", body = Exception)))]
pub async fn one(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<Json<HazardDetail>> {
    let id = parse_id("hazard", &raw)?;
    let h = case_in_scope(&state, &scope, id).await?;
    let events = state.store().hazard_events(id).await?;
    let photos = state.store().hazard_photos(id).await?;
    Ok(Json(HazardDetail {
        hazard: case_view(&state, &state.atlas(), h, today()),
        events: events
            .into_iter()
            .map(|e| HazardEventView {
                status: e.status,
                status_zh: e.status.name_zh(),
                on: fmt_date(e.on),
                at: e.at,
                username: e.username,
                caseworker_id: e.caseworker_id,
                severity: e.severity,
                note: e.note,
            })
            .collect(),
        photos: photos.into_iter().map(PhotoView::from).collect(),
    }))
}

/// A move of a case: `POST /api/hazards/{id}/assign|rectified|verify|reopen`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// Client-generated id of this write: a retry changes nothing.
    client_id: String,
    /// The caseworker to give the case to (assign only; one whose grids hold the building).
    #[serde(default)]
    caseworker_id: Option<u32>,
    /// What was done, or why it is sent back (required to reopen; at most 500 characters).
    #[serde(default)]
    note: Option<String>,
    /// Reopen only: the severity the supervisor judges the case to have now, the same or worse
    /// (`minor` 一般, `major` 较大, `severe` 重大; default: as it was). The new deadline counts
    /// from it.
    #[serde(default)]
    severity: Option<String>,
    /// The day, `YYYY-MM-DD` (default today, China time).
    #[serde(default)]
    on: Option<String>,
    /// Where the phone was, when its user allows it.
    #[serde(default)]
    position: Option<Position>,
}

/// Moves case `raw` to `to`, checking what that move needs.
async fn move_case(
    state: AppState,
    scope: Scope,
    source: RequestSource,
    who: crate::access::Principal,
    raw: String,
    req: MoveRequest,
    to: Status,
) -> AppResult<(StatusCode, Json<HazardWrite>)> {
    let id = parse_id("hazard", &raw)?;
    let h = case_in_scope(&state, &scope, id).await?;
    let on = field_day("on", req.on.as_deref())?;
    let assignee_id = match (to, req.caseworker_id) {
        (Status::Assigned, None) => return Err(AppError::Unprocessable("caseworker_id: whom to assign it to".into())),
        (Status::Assigned, Some(c)) => {
            let roster = state.roster().await?;
            if !roster.iter().any(|cw| cw.id == c && cw.grids.contains(&h.grid_id)) {
                return Err(AppError::Unprocessable(format!(
                    "caseworker_id: caseworker {c} does not work the grid of building {}",
                    h.building_id
                )));
            }
            Some(c)
        }
        (_, Some(_)) => return Err(AppError::Unprocessable("caseworker_id: only an assignment names one".into())),
        (_, None) => None,
    };
    // The severity a reopening judges the case to have; the store checks it against the case as
    // it stands in the move's transaction (the same or worse), after a replay is answered.
    let severity = match (to, req.severity.as_deref()) {
        (_, None) => None,
        (Status::Reopened, Some(raw)) => Some(Severity::parse(raw).ok_or_else(|| {
            AppError::Unprocessable(format!("severity: {raw:?} is not minor (一般), major (较大) or severe (重大)"))
        })?),
        (_, Some(_)) => return Err(AppError::Unprocessable("severity: only a reopening changes it".into())),
    };
    let deadline = match (to, state.hazard_kinds().get(&h.kind)) {
        (Status::Reopened, Some(kind)) => Some(kind.deadline(severity.unwrap_or(h.severity), on)),
        _ => None,
    };
    let m = HazardMove {
        client_id: client_id(&req.client_id)?,
        hazard_id: id,
        to,
        assignee_id,
        note: note(req.note.as_deref(), to == Status::Reopened)?,
        on,
        severity,
        deadline,
        position: fix_of(req.position, &state.atlas(), h.building_id)?,
    };
    let target = format!("POST /api/hazards/{id}/{} client_id {}", to.as_str(), m.client_id);
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::HAZARD_MOVE, target);
    let written = state.move_hazard(&m, &event).await?;
    answer(&state, id, written.replayed, false).await
}

macro_rules! hazard_move {
    ($name:ident, $path:literal, $op:literal, $to:expr, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = "Hazards", operation_id = $op, summary = $summary,
            params(IdParam),
            request_body = MoveRequest,
            responses(
                (status = 200, description = "moved (or a replay of this client id); the case now", body = HazardWrite),
                (status = 400, description = "a malformed body", body = Exception),
                (status = 404, description = "no such case, or one outside the caller's grids", body = Exception),
                (status = 409, description = "the case cannot move so from where it stands, or the client id was used for another write", body = Exception),
                (status = 422, description = "a bad field (the message names it)", body = Exception)))]
        pub async fn $name(
            State(state): State<AppState>,
            scope: Scope,
            source: RequestSource,
            Authenticated(who): Authenticated,
            ApiPath(raw): ApiPath<String>,
            ApiJson(req): ApiJson<MoveRequest>,
        ) -> AppResult<(StatusCode, Json<HazardWrite>)> {
            move_case(state, scope, source, who, raw, req, $to).await
        }
    };
}

hazard_move!(
    assign,
    "/api/hazards/{id}/assign",
    "assign_hazard",
    Status::Assigned,
    "give a case to a caseworker of its grid to rectify (交办; again to reassign)"
);
hazard_move!(
    rectified,
    "/api/hazards/{id}/rectified",
    "hazard_rectified",
    Status::Rectified,
    "report a case rectified (已整改), on the spot or later"
);
hazard_move!(
    verify,
    "/api/hazards/{id}/verify",
    "verify_hazard",
    Status::Verified,
    "verify a rectified case: it is closed (验收)"
);
hazard_move!(
    reopen,
    "/api/hazards/{id}/reopen",
    "reopen_hazard",
    Status::Reopened,
    "reopen a case whose rectification did not hold (a note says why; the severity may be judged worse; a new deadline from the day at that severity)"
);

/// `POST /api/hazards/{id}/photos`: the answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoAdded {
    /// The photo.
    photo: PhotoView,
}

fn photo_error(e: PhotoError) -> AppError {
    match e {
        PhotoError::TooLarge(m) => AppError::PayloadTooLarge(m),
        PhotoError::NotAnImage => AppError::UnsupportedMediaType(e.to_string()),
        PhotoError::Refused(m) => AppError::Unprocessable(m),
        PhotoError::Io { .. } => AppError::Internal(e.to_string()),
    }
}

/// `POST /api/hazards/{id}/photos`: a photo of the case (JPEG, PNG or WebP as the body).
#[utoipa::path(post, path = "/api/hazards/{id}/photos", tag = "Hazards", operation_id = "add_hazard_photo",
    summary = "add a photo to a case (the body is a JPEG, PNG or WebP image; the same photo twice is one)",
    params(IdParam),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the image (JPEG, PNG or WebP)"),
    responses(
        (status = 201, description = "kept", body = PhotoAdded),
        (status = 404, description = "no such case, or one outside the caller's grids", body = Exception),
        (status = 413, description = "larger than the configured limit", body = Exception),
        (status = 415, description = "not a JPEG, PNG or WebP image", body = Exception),
        (status = 503, description = "this server keeps no photos", body = Exception)))]
pub async fn add_photo(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<(StatusCode, Json<PhotoAdded>)> {
    let id = parse_id("hazard", &raw)?;
    case_in_scope(&state, &scope, id).await?;
    let photos = state.photos().ok_or_else(|| AppError::Unavailable("this server keeps no photos".into()))?;
    let body = body.map_err(|e| {
        AppError::PayloadTooLarge(format!(
            "the photo could not be read whole ({e}); at most {} KiB",
            photos.max_bytes() / 1024
        ))
    })?;
    let saved = photos.save(id, &body).await.map_err(photo_error)?;
    let username = who.username.clone();
    let target = format!("POST /api/hazards/{id}/photos");
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::HAZARD_PHOTO, target);
    let photo = HazardPhoto {
        id: 0,
        hazard_id: id,
        sha256: saved.sha256,
        content_type: saved.content_type.into(),
        bytes: saved.bytes,
        status: Status::Found,
        username,
        created_at: crate::store::dates::fmt_instant(time::OffsetDateTime::now_utc()),
    };
    let stored = state.store().add_hazard_photo(&photo, &event).await?;
    Ok((StatusCode::CREATED, Json(PhotoAdded { photo: stored.into() })))
}

/// The path of one photo.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PhotoPath {
    /// The case.
    #[allow(dead_code)]
    id: u32,
    /// The photo.
    #[allow(dead_code)]
    photo: u32,
}

/// `GET /api/hazards/{id}/photos/{photo}`: the image.
#[utoipa::path(get, path = "/api/hazards/{id}/photos/{photo}", tag = "Hazards", operation_id = "hazard_photo",
    summary = "a photo of a case (the image)",
    params(PhotoPath),
    responses(
        (status = 200, description = "the image", content_type = "image/jpeg", body = Vec<u8>),
        (status = 404, description = "no such case or photo, or one outside the caller's grids", body = Exception),
        (status = 503, description = "this server keeps no photos", body = Exception)))]
pub async fn photo(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath((raw, raw_photo)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    let id = parse_id("hazard", &raw)?;
    let photo_id = parse_id("photo", &raw_photo)?;
    case_in_scope(&state, &scope, id).await?;
    let photos = state.photos().ok_or_else(|| AppError::Unavailable("this server keeps no photos".into()))?;
    let p = state
        .store()
        .hazard_photos(id)
        .await?
        .into_iter()
        .find(|p| p.id == photo_id)
        .ok_or_else(|| not_found("photo", photo_id))?;
    let bytes = photos.read(id, &p.sha256).await.map_err(|e| AppError::Internal(e.to_string()))?;
    // A photo of someone's home: audited as a person read is, before it leaves.
    let target = format!("GET /api/hazards/{id}/photos/{photo_id}");
    super::persons::audit_read(&state, who, source, action::HAZARD_PHOTO_READ, target, None).await?;
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&p.content_type).unwrap_or(HeaderValue::from_static("image/jpeg")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400, immutable"));
    Ok(res)
}
