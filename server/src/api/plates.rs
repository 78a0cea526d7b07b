//! Door plates (门牌二维码) over HTTP: a building's A4 sheet of plates (printing issues the plates
//! it lacks, audited; a reprint gives the same tokens until one is revoked), what a scanned plate
//! opens (a rental unit's household card, or the building with its units) within the caller's
//! scope, and the revocation of a lost or stolen plate. The tokens live in
//! [`crate::store::plates`]; the sheet is drawn by [`crate::plate_sheet`].

use super::extract::ApiPath;
use super::identity::{Authenticated, RequestSource};
use super::persons::{self, RevealQuery, Unit};
use super::query::ApiQuery;
use super::{ApiJson, IdParam, not_found, parse_id};
use crate::access::audit::action;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::identity::Actor;
use crate::plate_sheet::{self, PlateLabel};
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::dates::fmt_instant;
use crate::store::plates::{DoorPlate, PlateKind};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The URL a plate's QR code holds: the phone view, opening the plate's card. `base` is the
/// server's origin (`--public-url`, else the request's host), or empty for a path.
pub fn plate_url(base: &str, token: &str) -> String {
    format!("{base}/?view=field&plate={token}")
}

/// The query of `GET /api/buildings/{id}/plates`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SheetQuery {
    /// `svg` (default): one A4 page of the sheet; `json`: every plate with its token and URL.
    #[param(pattern = "^(svg|json)$")]
    format: Option<String>,
    /// The page of the SVG sheet, from 1 (15 plates a page; default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    page: Option<String>,
}

/// What a plate is fixed to.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlateTarget {
    /// A building's entrance.
    Building,
    /// A rental unit's door.
    Unit,
}

impl From<PlateKind> for PlateTarget {
    fn from(k: PlateKind) -> Self {
        match k {
            PlateKind::Building => PlateTarget::Building,
            PlateKind::Unit => PlateTarget::Unit,
        }
    }
}

/// One plate of a building's sheet.
#[derive(Debug, Serialize, ToSchema)]
pub struct SheetPlate {
    /// What it is fixed to.
    kind: PlateTarget,
    /// The rental unit (for a unit's plate).
    #[schema(required = true)]
    unit_id: Option<u32>,
    /// The room (`302室`), or `楼栋` for the building's own plate.
    title: String,
    /// The standard address (标准地址).
    address: String,
    /// The unit's household card numbers (一户一卡).
    cards: Vec<String>,
    /// The token its QR code carries.
    token: String,
    /// What its QR code holds: the URL opening its card in the phone view.
    url: String,
    /// Its generation: 1, then one more for each reprint after a revocation.
    generation: u32,
}

/// `GET /api/buildings/{id}/plates?format=json`: the plates of a building's sheet.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlateSheet {
    /// The building.
    building_id: u32,
    /// Its standard address.
    address: String,
    /// Pages of the SVG sheet.
    pages: usize,
    /// Plates this print issued (0 when every plate was issued before).
    issued: u32,
    /// The building's plate, then one per rental unit.
    plates: Vec<SheetPlate>,
}

/// `GET /api/buildings/{id}/plates`: the building's door plates as an A4 sheet (SVG, one page)
/// or as JSON, issuing the plates it lacks.
#[utoipa::path(get, path = "/api/buildings/{id}/plates", tag = "Door plates", operation_id = "building_plates",
    summary = "a building's door plates (门牌二维码): an A4 SVG page of QR codes (the building's and one per rental \
               unit, with the standard address and card numbers), or format=json; issues the plates it lacks (audited)",
    params(IdParam, SheetQuery),
    responses(
        (status = 200, description = "the sheet's page, or the plates as JSON", content(
            (crate::api::openapi::Binary = "image/svg+xml"), (PlateSheet = "application/json"))),
        (status = 400, description = "a bad id, format or page", body = Exception),
        (status = 404, description = "no such building or page, or a building outside the caller's scope", body = Exception)))]
pub async fn sheet(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    headers: HeaderMap,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<SheetQuery>,
) -> AppResult<Response> {
    let id = parse_id("building", &raw)?;
    let json = match q.format.as_deref() {
        None | Some("svg") => false,
        Some("json") => true,
        Some(other) => return Err(AppError::BadRequest(format!("format {other:?}: use svg or json"))),
    };
    let page = match q.page.as_deref() {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|&p| p >= 1)
            .ok_or_else(|| AppError::BadRequest(format!("page {p:?} must be a whole number from 1")))?,
    };
    let atlas = state.atlas();
    if !atlas.building(id).is_some_and(|b| scope.sees_grid(b.grid_id)) {
        return Err(not_found("building", id));
    }
    let now = state.identity().now();
    let event = Actor::User(who, source.ip).event(now, action::PLATE_PRINT, format!("GET /api/buildings/{id}/plates"));
    let printed = state.store().building_plates(id, &fmt_instant(now), &event).await?;
    let base = super::ogc::base_url(&headers);
    let address = plate_sheet::standard_address(&atlas, id, None);
    let building = SheetPlate {
        kind: PlateTarget::Building,
        unit_id: None,
        title: "楼栋".into(),
        address: address.clone(),
        cards: Vec::new(),
        url: plate_url(&base, &printed.building.token),
        token: printed.building.token,
        generation: printed.building.generation,
    };
    let units = printed.units.into_iter().map(|u| SheetPlate {
        kind: PlateTarget::Unit,
        unit_id: Some(u.unit.id),
        title: plate_sheet::room_name(&u.unit.label),
        address: plate_sheet::standard_address(&atlas, id, Some(&u.unit.label)),
        cards: u.unit.card_nos,
        url: plate_url(&base, &u.plate.token),
        token: u.plate.token,
        generation: u.plate.generation,
    });
    let plates: Vec<SheetPlate> = std::iter::once(building).chain(units).collect();
    let pages = plates.len().div_ceil(plate_sheet::PER_PAGE);
    if json {
        let body = PlateSheet { building_id: id, address, pages, issued: printed.issued, plates };
        return Ok(super::no_store(Json(body).into_response()));
    }
    if page > pages {
        return Err(AppError::NotFound(format!("the sheet of building {id} has {pages} pages, not {page}")));
    }
    let labels: Vec<PlateLabel> = plates
        .into_iter()
        .map(|p| PlateLabel { url: p.url, title: p.title, address: p.address, cards: p.cards })
        .collect();
    let day = crate::store::dates::fmt_date(now.to_offset(time::macros::offset!(+8)).date());
    let svg = plate_sheet::page(&address, &day, &labels, page)
        .map_err(|e| AppError::Internal(format!("door plate QR code: {e}")))?;
    let mut res = ([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")], svg).into_response();
    let disposition = format!("inline; filename=\"plates-building-{id}-page-{page}.svg\"");
    for (name, value) in [("x-page-count", pages.to_string()), ("content-disposition", disposition)] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(name, v);
        }
    }
    Ok(super::no_store(res))
}

/// The path parameter of a plate.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TokenParam {
    /// The token a door plate's QR code carries (32 base32 characters).
    #[allow(dead_code)]
    token: String,
}

/// A rental unit of a building, as a building's plate lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlateUnitEntry {
    /// The unit (its card: `GET /api/units/{id}`).
    id: u32,
    /// Its room.
    room: String,
    /// Its household card numbers.
    cards: Vec<String>,
}

/// `GET /api/plates/{token}`: what a door plate opens.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlateOpens {
    /// What the plate is fixed to.
    kind: PlateTarget,
    /// The building.
    building_id: u32,
    /// The standard address (标准地址), with the room for a unit's plate.
    address: String,
    /// A unit's plate: the household card (一户一卡), as `GET /api/units/{id}` answers it.
    #[schema(required = true)]
    unit: Option<Unit>,
    /// A building's plate: its rental units.
    units: Vec<PlateUnitEntry>,
}

/// The plate of `token` that `scope` may open: 404 for a token this district never issued
/// (forged, mistyped), 410 for a revoked one, 403 for one outside the caller's grids.
async fn plate_in_scope(state: &AppState, scope: &Scope, token: &str) -> AppResult<DoorPlate> {
    let plate = state.store().plate(token).await?.ok_or_else(|| {
        AppError::NotFound(
            "no door plate of this district carries this code: it is forged, mistyped or not a rentgrid plate".into(),
        )
    })?;
    if let Some(at) = &plate.revoked_at {
        return Err(AppError::Gone(format!(
            "this door plate was revoked at {at}: it opens nothing; the building's sheet prints its replacement"
        )));
    }
    let grid = state.atlas().building(plate.building_id).map(|b| b.grid_id);
    if !grid.is_some_and(|g| scope.sees_grid(g)) {
        return Err(AppError::Forbidden("this door plate is on a building outside your grids".into()));
    }
    Ok(plate)
}

/// `GET /api/plates/{token}`: what a scanned door plate opens within the caller's scope.
#[utoipa::path(get, path = "/api/plates/{token}", tag = "Door plates", operation_id = "plate",
    summary = "what a door plate's QR code opens: a rental unit's household card (masked unless revealed with a \
               reason, audited as GET /api/units/{id}) or the building with its units",
    params(TokenParam, RevealQuery),
    responses(
        (status = 200, description = "what the plate opens", body = PlateOpens),
        (status = 400, description = "a reveal without a reason", body = Exception),
        (status = 403, description = "a plate on a building outside the caller's grids", body = Exception),
        (status = 404, description = "a token this district never issued: forged or mistyped", body = Exception),
        (status = 410, description = "a revoked plate", body = Exception)))]
pub async fn open(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    who: Authenticated,
    ApiPath(token): ApiPath<String>,
    ApiQuery(q): ApiQuery<RevealQuery>,
) -> AppResult<Json<PlateOpens>> {
    let plate = plate_in_scope(&state, &scope, &token).await?;
    let atlas = state.atlas();
    let building_id = plate.building_id;
    match plate.kind {
        PlateKind::Unit => {
            let Json(unit) =
                persons::unit(State(state.clone()), scope, source, who, ApiPath(plate.target.to_string()), ApiQuery(q))
                    .await?;
            let address = plate_sheet::standard_address(&atlas, building_id, Some(&unit.label));
            Ok(Json(PlateOpens { kind: PlateTarget::Unit, building_id, address, unit: Some(unit), units: Vec::new() }))
        }
        PlateKind::Building => {
            let units = state
                .store()
                .building_units(building_id)
                .await?
                .into_iter()
                .map(|u| PlateUnitEntry { id: u.id, room: plate_sheet::room_name(&u.label), cards: u.card_nos })
                .collect();
            let address = plate_sheet::standard_address(&atlas, building_id, None);
            Ok(Json(PlateOpens { kind: PlateTarget::Building, building_id, address, unit: None, units }))
        }
    }
}

/// The body of a revocation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why (lost, stolen, damaged): written to the audit log; 2 to 200 characters.
    reason: String,
}

/// A plate revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedPlate {
    /// What it was fixed to.
    kind: PlateTarget,
    /// The building.
    building_id: u32,
    /// The rental unit (for a unit's plate).
    #[schema(required = true)]
    unit_id: Option<u32>,
    /// Its generation.
    generation: u32,
    /// When it was revoked (RFC 3339).
    revoked_at: String,
}

/// `POST /api/plates/{token}/revoke`: a lost or stolen plate opens nothing from now on; the
/// building's next print issues its replacement.
#[utoipa::path(post, path = "/api/plates/{token}/revoke", tag = "Door plates", operation_id = "revoke_plate",
    summary = "revoke a lost or stolen door plate (audited); the building's next print issues a new one",
    params(TokenParam),
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "the plate, revoked", body = RevokedPlate),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 403, description = "a plate on a building outside the caller's grids", body = Exception),
        (status = 404, description = "a token this district never issued", body = Exception),
        (status = 410, description = "a plate revoked already", body = Exception),
        (status = 422, description = "a reason missing or too long", body = Exception)))]
pub async fn revoke(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(token): ApiPath<String>,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> AppResult<Json<RevokedPlate>> {
    let reason = req.reason.trim();
    if !(2..=200).contains(&reason.chars().count()) {
        return Err(AppError::Unprocessable("reason: say in 2 to 200 characters why the plate is revoked".into()));
    }
    plate_in_scope(&state, &scope, &token).await?;
    let now = state.identity().now();
    let event = Actor::User(who, source.ip)
        .event(now, action::PLATE_REVOKE, format!("POST /api/plates/{}…/revoke", &token[..6]))
        .because(reason);
    let done = state.store().revoke_plate(&token, &fmt_instant(now), &event).await?;
    Ok(Json(RevokedPlate {
        kind: done.kind.into(),
        building_id: done.building_id,
        unit_id: (done.kind == PlateKind::Unit).then_some(done.target),
        generation: done.generation,
        revoked_at: done.revoked_at.unwrap_or_default(),
    }))
}
