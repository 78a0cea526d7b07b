//! Person records (流动人口) and household cards (一户一卡) for the roles that work with them,
//! within their scope: names, ID numbers and phones masked unless revealed with a reason.

use super::extract::ApiPath;
use super::identity::{Authenticated, RequestSource};
use super::query::ApiQuery;
use super::{IdParam, not_found, parse_id};
use crate::access::Principal;
use crate::access::audit::action;
use crate::access::mask::{Disclosure, RevealError};
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::export::{Book, Cell, Lang, Sheet};
use crate::identity::Actor;
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::persons::{Household, Landlord, PersonQuery, PersonRecord, UnitCard};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use rentgrid_geodata::Atlas;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The most persons one list answers.
pub const MAX_PERSONS: u32 = 500;
/// The most persons one export (`format=csv|xlsx`) holds; page with `offset` for more.
pub const MAX_PERSONS_EXPORT: u32 = 100_000;

/// A person as an answer shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    /// Row id.
    pub id: u32,
    /// Name (`张*` unless revealed).
    pub name: String,
    /// ID number (`330203********1234` unless revealed).
    pub id_number: String,
    /// Phone (`138****5678` unless revealed).
    pub phone: String,
    /// Registered (登记) as living here.
    pub registered: bool,
    /// When registered (`YYYY-MM-DD`).
    pub registered_on: Option<String>,
    /// Holds a residence permit (居住证).
    pub permit: bool,
    /// Record and person match (人证相符).
    pub consistent: bool,
    /// The building they live in.
    pub building_id: u32,
    /// Its address.
    pub address: String,
    /// The grid's code.
    pub grid_code: String,
    /// Their household's rental unit.
    pub unit_id: u32,
    /// The unit's label.
    pub unit_label: String,
    /// Their household's card number (一户一卡).
    pub card_no: String,
    /// Where they work, if known.
    pub workplace: Option<String>,
    /// Where they come from (户籍地), if recorded.
    pub origin: Option<String>,
    /// When they moved into their home (`YYYY-MM-DD`; null: before the records began).
    pub moved_in_on: Option<String>,
    /// When they left the district (流出); null while they live here.
    pub left_on: Option<String>,
    /// The record's version: an edit (`PATCH /api/persons/{id}`) names the version it saw.
    pub version: u32,
}

/// `GET /api/persons`: a page of persons.
#[derive(Debug, Serialize, ToSchema)]
pub struct Persons {
    /// How many persons match in all.
    pub number_matched: u64,
    /// How many this page holds.
    pub number_returned: usize,
    /// True when names, ID numbers and phones are masked.
    pub masked: bool,
    /// The persons, by id.
    pub persons: Vec<Person>,
}

/// A landlord as a card shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct LandlordCard {
    /// Name (masked unless revealed).
    pub name: String,
    /// ID number (masked unless revealed).
    pub id_number: String,
    /// Phone (masked unless revealed).
    pub phone: String,
}

/// A household with its persons.
#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdCard {
    /// Card number (一户一卡).
    pub card_no: String,
    /// Its persons.
    pub persons: Vec<Person>,
}

/// The last visit to a unit's building.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastVisit {
    /// The day (`YYYY-MM-DD`).
    pub date: String,
    /// Who visited.
    pub caseworker_id: Option<u32>,
    /// Rental units found unregistered.
    pub units_found: u32,
    /// Persons found unregistered.
    pub persons_found: u32,
    /// Units registered on the spot.
    pub units_registered: u32,
    /// Pledges signed on the spot.
    pub pledges_signed: u32,
}

/// `GET /api/units/{id}`: the household card of a rental unit (一户一卡).
#[derive(Debug, Serialize, ToSchema)]
pub struct Unit {
    /// Row id.
    pub id: u32,
    /// Label (room number).
    pub label: String,
    /// The building.
    pub building_id: u32,
    /// Its address.
    pub address: String,
    /// The grid's code.
    pub grid_code: String,
    /// Registered as a rental.
    pub registered: bool,
    /// When (`YYYY-MM-DD`).
    pub registered_on: Option<String>,
    /// Safety pledge signed (治安责任保证书).
    pub pledge_signed: bool,
    /// Tenants counted.
    pub tenants: u32,
    /// How it is let.
    pub mode: String,
    /// A group rental (群租).
    pub concentrated: bool,
    /// The landlord, if known.
    pub landlord: Option<LandlordCard>,
    /// Households and their persons.
    pub households: Vec<HouseholdCard>,
    /// The last visit to the building.
    pub last_visit: Option<LastVisit>,
    /// True when names, ID numbers and phones are masked.
    pub masked: bool,
}

/// The query of `GET /api/persons`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PersonsQuery {
    /// Only the persons of this grid (its code).
    grid: Option<String>,
    /// Only the persons of this rental unit.
    #[param(value_type = Option<u32>)]
    unit: Option<String>,
    /// A whole ID number, a whole phone number, or the beginning of a name.
    q: Option<String>,
    /// The most persons answered (1 to 500; default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// Persons skipped first (paging).
    #[param(value_type = Option<u32>)]
    offset: Option<String>,
    /// `true` shows names, ID numbers and phones in full; needs `reason`.
    #[param(value_type = Option<bool>)]
    reveal: Option<String>,
    /// Why the full record is needed (at least 4 characters); written to the audit log.
    reason: Option<String>,
    /// `csv` or `xlsx`: the matching persons as a file (up to 100,000, masked unless revealed),
    /// instead of a JSON page.
    #[param(pattern = "^(json|csv|xlsx)$")]
    format: Option<String>,
    /// The file's column names: zh (default) or en.
    #[param(pattern = "^(zh|zh-CN|en)$")]
    lang: Option<String>,
}

/// The query of a single record: masked unless revealed with a reason.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevealQuery {
    /// `true` shows names, ID numbers and phones in full; needs `reason`.
    #[param(value_type = Option<bool>)]
    reveal: Option<String>,
    /// Why the full record is needed (at least 4 characters); written to the audit log.
    reason: Option<String>,
}

fn number(name: &str, raw: Option<&str>, default: u32, max: u32) -> AppResult<u32> {
    match raw {
        None => Ok(default),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(AppError::BadRequest(format!("{name} {s:?} must be a whole number from 0 to {max}"))),
        },
    }
}

/// The disclosure a request asks for, or why it may not have it.
pub(super) fn disclosure(scope: &Scope, reveal: Option<&str>, reason: Option<&str>) -> AppResult<Disclosure> {
    if !scope.role.reads_persons() {
        return Err(AppError::Forbidden(format!("the role {} does not read person records", scope.role)));
    }
    let reveal = match reveal {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(AppError::BadRequest(format!("reveal {other:?} must be true or false"))),
    };
    Disclosure::asked(scope.role, reveal, reason).map_err(|e| match e {
        RevealError::NoReason => AppError::BadRequest(e.to_string()),
        RevealError::NotAllowed(_) => AppError::Forbidden(e.to_string()),
    })
}

/// Writes the one audit row of a person-level read (`person_read`, or `person_reveal` with its
/// reason) before the answer leaves: a read that cannot be audited is not answered.
async fn audit(
    state: &AppState,
    who: Principal,
    source: RequestSource,
    d: &Disclosure,
    target: String,
) -> AppResult<()> {
    let action = if d.masked() { action::PERSON_READ } else { action::PERSON_REVEAL };
    audit_as(state, who, source, d, action, target).await
}

/// [`audit`] with the action named.
pub(super) async fn audit_as(
    state: &AppState,
    who: Principal,
    source: RequestSource,
    d: &Disclosure,
    action: &str,
    target: String,
) -> AppResult<()> {
    audit_read(state, who, source, action, target, d.reason()).await
}

/// Writes the audit row of a read of private records (`action` on `target`, with the caller's
/// stated `reason` if any) before the answer leaves.
pub(super) async fn audit_read(
    state: &AppState,
    who: Principal,
    source: RequestSource,
    action: &str,
    target: String,
    reason: Option<&str>,
) -> AppResult<()> {
    let mut event = Actor::User(who, source.ip).event(state.identity().now(), action, target);
    if let Some(reason) = reason {
        event = event.because(reason);
    }
    state.store().append_audit(&event).await?;
    Ok(())
}

pub(super) fn address(atlas: &Atlas, building: u32) -> String {
    atlas.building(building).map(|b| b.address.clone()).unwrap_or_default()
}

pub(super) fn grid_code(atlas: &Atlas, grid: u32) -> String {
    atlas.grid(grid).map(|g| g.grid.code.clone()).unwrap_or_default()
}

pub(super) fn person(atlas: &Atlas, d: &Disclosure, p: PersonRecord) -> Person {
    Person {
        id: p.id,
        name: d.name(&p.name),
        id_number: d.id_number(&p.id_number),
        phone: d.phone(&p.phone),
        registered: p.registered,
        registered_on: p.registered_on,
        permit: p.permit,
        consistent: p.consistent,
        address: address(atlas, p.building_id),
        building_id: p.building_id,
        grid_code: grid_code(atlas, p.grid_id),
        unit_id: p.unit_id,
        unit_label: p.unit_label,
        card_no: p.card_no,
        workplace: p.workplace,
        origin: p.origin,
        moved_in_on: p.moved_in_on,
        left_on: p.left_on,
        version: p.version,
    }
}

/// `GET /api/persons?grid=|unit=|q=`: persons within the caller's scope, masked.
#[utoipa::path(get, path = "/api/persons", tag = "Persons", operation_id = "persons",
    summary = "persons within the caller's scope (masked unless revealed with a reason); format=csv|xlsx exports them",
    params(PersonsQuery),
    responses(
        (status = 200, description = "a page of persons and how many match, or with format=csv|xlsx the file", content(
            (Persons = "application/json"), (crate::api::openapi::Binary = "text/csv"),
            (crate::api::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "a bad parameter, or a reveal without a reason", body = Exception),
        (status = 403, description = "a role that reads no person, or a grid outside the caller's scope", body = Exception),
        (status = 404, description = "no such grid or unit", body = Exception)))]
pub async fn persons(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<PersonsQuery>,
) -> AppResult<Response> {
    let d = disclosure(&scope, q.reveal.as_deref(), q.reason.as_deref())?;
    let format = super::table_format(q.format.as_deref())?;
    let lang = q.lang.as_deref().map(str::parse::<Lang>).transpose().map_err(AppError::BadRequest)?.unwrap_or(Lang::Zh);
    let (default_limit, max_limit) =
        if format.is_some() { (MAX_PERSONS_EXPORT, MAX_PERSONS_EXPORT) } else { (50, MAX_PERSONS) };
    let atlas = state.atlas();
    let grid = match q.grid.as_deref() {
        None => None,
        Some(code) => {
            let id =
                atlas.grid_by_code(code).ok_or_else(|| AppError::NotFound(format!("grid {code:?} does not exist")))?;
            if !scope.sees_grid(id) {
                return Err(AppError::Forbidden(format!("grid {code} is outside your scope")));
            }
            Some(id)
        }
    };
    let unit = q.unit.as_deref().map(|raw| parse_id("unit", raw)).transpose()?;
    let query = PersonQuery {
        within: scope.grids.as_ref().map(|g| g.iter().copied().collect()),
        grid,
        unit,
        text: q.q.clone(),
        name: None,
        id_tail: None,
        limit: number("limit", q.limit.as_deref(), default_limit, max_limit)?.max(1),
        offset: number("offset", q.offset.as_deref(), 0, u32::MAX)?,
    };
    let (matched, rows) = crate::standby::reads(&state).await.persons(&query).await?;
    let ids: Vec<String> = rows.iter().map(|p| p.id.to_string()).collect();
    let asked = [("grid", q.grid.as_deref()), ("unit", q.unit.as_deref()), ("q", q.q.as_deref())]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join("&");
    let target = format!("GET /api/persons?{asked} persons {}", ids.join(","));
    match format {
        None => audit(&state, who, source, &d, target).await?,
        Some(f) => {
            let action = if d.masked() { action::PERSON_EXPORT } else { action::PERSON_REVEAL_EXPORT };
            audit_as(&state, who, source, &d, action, format!("{target} as {}", f.extension())).await?;
        }
    }
    let persons: Vec<Person> = rows.into_iter().map(|p| person(&atlas, &d, p)).collect();
    let Some(format) = format else {
        let page = Persons { number_matched: matched, number_returned: persons.len(), masked: d.masked(), persons };
        return Ok(Json(page).into_response());
    };
    let book = Book::single(Sheet {
        name: if lang == Lang::Zh { "流动人口".into() } else { "persons".into() },
        columns: EXPORT_COLUMNS.to_vec(),
        rows: persons.iter().map(export_row).collect(),
    });
    super::records_file("persons", book, format, lang).await
}

/// The columns of a persons export (English key, Chinese header).
const EXPORT_COLUMNS: [(&str, &str); 15] = [
    ("id", "编号"),
    ("name", "姓名"),
    ("id_number", "身份证号"),
    ("phone", "联系电话"),
    ("registered", "已登记"),
    ("registered_on", "登记日期"),
    ("permit", "已办居住证"),
    ("consistent", "人户一致"),
    ("grid_code", "网格编码"),
    ("building_id", "建筑ID"),
    ("address", "地址"),
    ("unit_id", "出租房屋ID"),
    ("unit_label", "房号"),
    ("card_no", "一户一卡编号"),
    ("workplace", "工作单位"),
];

fn export_row(p: &Person) -> Vec<Cell> {
    let yes_no = |b: bool| Cell::Text(if b { "是" } else { "否" }.into());
    let text = |s: &Option<String>| s.clone().map_or(Cell::Empty, Cell::Text);
    vec![
        Cell::Int(p.id.into()),
        Cell::Text(p.name.clone()),
        Cell::Text(p.id_number.clone()),
        Cell::Text(p.phone.clone()),
        yes_no(p.registered),
        text(&p.registered_on),
        yes_no(p.permit),
        yes_no(p.consistent),
        Cell::Text(p.grid_code.clone()),
        Cell::Int(p.building_id.into()),
        Cell::Text(p.address.clone()),
        Cell::Int(p.unit_id.into()),
        Cell::Text(p.unit_label.clone()),
        Cell::Text(p.card_no.clone()),
        text(&p.workplace),
    ]
}

/// `GET /api/persons/{id}`: one person within the caller's scope, masked unless revealed.
#[utoipa::path(get, path = "/api/persons/{id}", tag = "Persons", operation_id = "person",
    summary = "one person (masked unless revealed with a reason)",
    params(IdParam, RevealQuery),
    responses(
        (status = 200, description = "the person", body = Person),
        (status = 400, description = "a bad id, or a reveal without a reason", body = Exception),
        (status = 403, description = "a role that reads no person", body = Exception),
        (status = 404, description = "no such person, or one outside the caller's scope", body = Exception)))]
pub async fn person_one(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<RevealQuery>,
) -> AppResult<Json<Person>> {
    let d = disclosure(&scope, q.reveal.as_deref(), q.reason.as_deref())?;
    let id = parse_id("person", &raw)?;
    let p = state
        .store()
        .person(id)
        .await?
        .filter(|p| scope.sees_grid(p.grid_id))
        .ok_or_else(|| not_found("person", id))?;
    audit(&state, who, source, &d, format!("GET /api/persons/{id}")).await?;
    Ok(Json(person(&state.atlas(), &d, p)))
}

/// `GET /api/units/{id}`: the household card of a rental unit within the caller's scope.
#[utoipa::path(get, path = "/api/units/{id}", tag = "Persons", operation_id = "unit",
    summary = "the household card of a rental unit (一户一卡): persons, landlord, pledge, last visit",
    params(IdParam, RevealQuery),
    responses(
        (status = 200, description = "the card", body = Unit),
        (status = 400, description = "a bad id, or a reveal without a reason", body = Exception),
        (status = 403, description = "a role that reads no person", body = Exception),
        (status = 404, description = "no such unit, or one outside the caller's scope", body = Exception)))]
pub async fn unit(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<RevealQuery>,
) -> AppResult<Json<Unit>> {
    let d = disclosure(&scope, q.reveal.as_deref(), q.reason.as_deref())?;
    let id = parse_id("unit", &raw)?;
    let card: UnitCard = state
        .store()
        .unit_card(id)
        .await?
        .filter(|u| scope.sees_grid(u.grid_id))
        .ok_or_else(|| not_found("unit", id))?;
    let persons: Vec<String> =
        card.households.iter().flat_map(|h| h.persons.iter().map(|p| p.id.to_string())).collect();
    audit(&state, who, source, &d, format!("GET /api/units/{id} persons {}", persons.join(","))).await?;
    let atlas = state.atlas();
    let landlord = card.landlord.map(|l: Landlord| LandlordCard {
        name: d.name(&l.name),
        id_number: d.id_number(&l.id_number),
        phone: d.phone(&l.phone),
    });
    let households = card
        .households
        .into_iter()
        .map(|h: Household| HouseholdCard {
            card_no: h.card_no,
            persons: h.persons.into_iter().map(|p| person(&atlas, &d, p)).collect(),
        })
        .collect();
    let last_visit = card.last_visit.map(|v| LastVisit {
        date: crate::store::dates::fmt_date(v.visited_on),
        caseworker_id: v.caseworker_id,
        units_found: v.units_found,
        persons_found: v.persons_found,
        units_registered: v.units_registered,
        pledges_signed: v.pledges_signed,
    });
    Ok(Json(Unit {
        id: card.id,
        label: card.label,
        address: address(&atlas, card.building_id),
        building_id: card.building_id,
        grid_code: grid_code(&atlas, card.grid_id),
        registered: card.registered,
        registered_on: card.registered_on,
        pledge_signed: card.pledge_signed,
        tenants: card.tenants,
        mode: card.mode,
        concentrated: card.concentrated,
        landlord,
        households,
        last_visit,
        masked: d.masked(),
    }))
}

/// A rental unit of a building, as the stop's list shows it (no person in it is named).
#[derive(Debug, Serialize, ToSchema)]
pub struct BuildingUnit {
    /// The unit (its card: `GET /api/units/{id}`).
    id: u32,
    /// Its label (room number).
    label: String,
    /// Persons living in it now (0: nobody recorded; register them on its card).
    persons: u32,
    /// Tenants counted on the unit.
    tenants: u32,
    /// Registered as a rental (出租房屋登记).
    registered: bool,
    /// A group rental (群租).
    concentrated: bool,
}

/// `GET /api/buildings/{id}/units`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuildingUnits {
    /// The building.
    building_id: u32,
    /// Its address.
    address: String,
    /// Its grid's code.
    grid_code: String,
    /// Its rental units, empty ones too, by label.
    units: Vec<BuildingUnit>,
}

/// `GET /api/buildings/{id}/units`: the rental units of a building within the caller's scope,
/// with how many persons live in each, so that a unit with nobody recorded can be opened and
/// someone registered into it. Names no person (not audited as a read of person data).
#[utoipa::path(get, path = "/api/buildings/{id}/units", tag = "Persons", operation_id = "building_units",
    summary = "the rental units of a building, empty ones too, each with how many persons live in it (no person named)",
    params(IdParam),
    responses(
        (status = 200, description = "the units", body = BuildingUnits),
        (status = 400, description = "a bad id", body = Exception),
        (status = 403, description = "a role that works with no single building", body = Exception),
        (status = 404, description = "no such building, or one outside the caller's scope", body = Exception)))]
pub async fn building_units(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<Json<BuildingUnits>> {
    let id = parse_id("building", &raw)?;
    let atlas = state.atlas();
    let grid_id = atlas
        .building(id)
        .map(|b| b.grid_id)
        .filter(|&g| scope.sees_grid(g))
        .ok_or_else(|| not_found("building", id))?;
    let units = crate::standby::reads(&state).await.units_of_building(id).await?;
    Ok(Json(BuildingUnits {
        building_id: id,
        address: address(&atlas, id),
        grid_code: grid_code(&atlas, grid_id),
        units: units
            .into_iter()
            .map(|u| BuildingUnit {
                id: u.id,
                label: u.label,
                persons: u.persons,
                tenants: u.tenants,
                registered: u.registered,
                concentrated: u.concentrated,
            })
            .collect(),
    }))
}
