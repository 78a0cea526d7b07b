//! The caseworker at the door (一户一卡): register a person in a rental unit (a move or a return
//! when their ID number is known: one person, one record), record that a person left the
//! district (流出), edit a person's fields against the version they saw, and list and resolve the
//! conflicts such edits meet. Every write carries a client id and is applied at most once; each
//! is one transaction with its audit row; person fields in answers are masked as the caller's
//! reads are. Everything is within the caller's grids: a unit or person outside them is 404.

use super::extract::ApiPath;
use super::identity::{Authenticated, RequestSource};
use super::persons::{Person, audit_as, disclosure, grid_code, person};
use super::position::{FAR_M, Position, fix_of};
use super::query::ApiQuery;
use super::{ApiJson, IdParam, not_found, parse_id, today};
use crate::access::audit::action;
use crate::access::mask::Disclosure;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::identity::Actor;
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::dates::{fmt_date, parse_date};
use crate::store::field::{
    Arrival, Departure, EarlierHome, EditOutcome, Edited, FarWrite, FieldConflict, Keep, NewResident, PersonDetails,
    PersonEdit, PersonField, StoredConflict,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rentgrid_geodata::Atlas;
use rentgrid_geodata::idcard::IdNumber;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use time::Date;
use utoipa::{IntoParams, ToSchema};

/// Longest name, phone, origin or card number.
const MAX_TEXT: usize = 100;

/// `POST /api/units/{id}/persons`: a person found living in the unit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPersonRequest {
    /// Client-generated id of this write (1–64 letters, digits, `- _ . :`; a UUID works): a retry
    /// with the same id changes nothing.
    client_id: String,
    /// 身份证号: 18 characters, the last the GB 11643 check character.
    id_number: String,
    /// Name.
    name: String,
    /// Phone.
    phone: String,
    /// Where they come from (户籍地).
    #[serde(default)]
    origin: Option<String>,
    /// Their workplace, one of the register's (`GET /api/grids/{id}` lists a grid's).
    #[serde(default)]
    workplace_id: Option<u32>,
    /// Holds a residence permit (居住证).
    #[serde(default)]
    permit: bool,
    /// The day they moved in, `YYYY-MM-DD` (default today, China time).
    #[serde(default)]
    moved_in_on: Option<String>,
    /// The household card (一户一卡) to add them to (default: the unit's first, or a new one).
    #[serde(default)]
    card_no: Option<String>,
    /// Where the phone was, when its user allows it (a write far from the building is flagged).
    #[serde(default)]
    position: Option<Position>,
}

/// How the person came to the unit.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalKind {
    /// New to the register.
    Registered,
    /// Lived elsewhere in the district: moved (their earlier home is closed with the day).
    Moved,
    /// Had left the district and came back.
    Returned,
    /// Lives in this household already (registered now if they were not).
    AlreadyHere,
}

impl From<Arrival> for ArrivalKind {
    fn from(a: Arrival) -> Self {
        match a {
            Arrival::Registered => ArrivalKind::Registered,
            Arrival::Moved => ArrivalKind::Moved,
            Arrival::Returned => ArrivalKind::Returned,
            Arrival::AlreadyHere => ArrivalKind::AlreadyHere,
        }
    }
}

/// A home a person left, as far as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarlierHomeView {
    /// When they moved in (null: before the records began).
    #[schema(required = true)]
    moved_in_on: Option<String>,
    /// When they moved out.
    moved_out_on: String,
    /// True when the home lies outside the caller's grids: where it was is not shown.
    outside_your_grids: bool,
    /// The rental unit (null outside the caller's grids).
    #[schema(required = true)]
    unit_id: Option<u32>,
    /// Its label.
    #[schema(required = true)]
    unit_label: Option<String>,
    /// The building's address.
    #[schema(required = true)]
    address: Option<String>,
    /// The grid's code.
    #[schema(required = true)]
    grid_code: Option<String>,
}

fn earlier_view(atlas: &Atlas, scope: &Scope, h: EarlierHome) -> EarlierHomeView {
    let seen = scope.sees_grid(h.grid_id);
    EarlierHomeView {
        moved_in_on: h.moved_in_on.map(fmt_date),
        moved_out_on: fmt_date(h.moved_out_on),
        outside_your_grids: !seen,
        unit_id: seen.then_some(h.unit_id),
        unit_label: seen.then_some(h.unit_label),
        address: seen.then(|| super::persons::address(atlas, h.building_id)),
        grid_code: seen.then(|| grid_code(atlas, h.grid_id)),
    }
}

/// What the ID number says of its holder.
#[derive(Debug, Serialize, ToSchema)]
pub struct FromIdNumber {
    /// `male` or `female` (by the sequence digit's parity).
    sex: String,
    /// The birth date, `YYYY-MM-DD`.
    birth_date: String,
}

/// The answer to `POST /api/units/{id}/persons`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonAdded {
    /// True when this client id had been recorded before: nothing changed.
    replayed: bool,
    /// How the person came.
    arrival: ArrivalKind,
    /// The person's record now (masked as the caller's reads are).
    person: Person,
    /// For a move or a return: the home they had before.
    #[schema(required = true)]
    earlier: Option<EarlierHomeView>,
    /// Sex and birth date read from the ID number.
    from_id_number: FromIdNumber,
}

/// A `client_id` as every field write (and a visit) takes it.
pub(super) fn client_id(raw: &str) -> AppResult<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    if raw.is_empty() || raw.len() > 64 || !raw.chars().all(ok) {
        return Err(AppError::Unprocessable(
            "client_id must be 1 to 64 characters of letters, digits and - _ . : (a UUID works)".into(),
        ));
    }
    Ok(raw.to_owned())
}

/// A day of a field write: today when not given; not in the future, not before 2000.
pub(super) fn field_day(field: &str, raw: Option<&str>) -> AppResult<Date> {
    let bad = |m: String| Err(AppError::Unprocessable(m));
    let day = match raw {
        None => today(),
        Some(s) => match parse_date(s) {
            Some(d) => d,
            None => return bad(format!("{field}: {s:?} is not a date as YYYY-MM-DD")),
        },
    };
    if day > today() {
        return bad(format!("{field}: {} is in the future (today is {} in China)", fmt_date(day), fmt_date(today())));
    }
    if day.year() < 2000 {
        return bad(format!("{field}: {} is before 2000", fmt_date(day)));
    }
    Ok(day)
}

/// Trimmed text of at most [`MAX_TEXT`] characters; `required` refuses an empty one.
fn text(field: &str, raw: &str, required: bool) -> AppResult<String> {
    text_of_at_most(field, raw, required, MAX_TEXT)
}

/// Trimmed text of at most `max` characters; `required` refuses an empty one.
pub(super) fn text_of_at_most(field: &str, raw: &str, required: bool, max: usize) -> AppResult<String> {
    let t = raw.trim();
    if required && t.is_empty() {
        return Err(AppError::Unprocessable(format!("{field}: must not be empty")));
    }
    if t.chars().count() > max {
        return Err(AppError::Unprocessable(format!("{field}: at most {max} characters")));
    }
    Ok(t.to_owned())
}

/// A phone as the register keeps it: 7 to 20 digits (a leading `+`, spaces and dashes allowed).
fn phone(raw: &str) -> AppResult<String> {
    let t = raw.trim();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let ok = t.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (i == 0 && c == '+'));
    if !ok || !(7..=20).contains(&digits) {
        return Err(AppError::Unprocessable(format!(
            "phone: {:?} is not a phone number (7 to 20 digits)",
            crate::access::mask::phone(t)
        )));
    }
    Ok(t.to_owned())
}

pub(super) fn validate_new(unit_id: u32, r: NewPersonRequest) -> AppResult<(NewResident, IdNumber)> {
    let id = IdNumber::parse(&r.id_number).map_err(|e| AppError::Unprocessable(format!("id_number: {e}")))?;
    let card_no = match r.card_no.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => Some(text("card_no", c, true)?),
    };
    let origin = match r.origin.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o) => Some(text("origin", o, true)?),
    };
    let resident = NewResident {
        client_id: client_id(&r.client_id)?,
        unit_id,
        card_no,
        id_number: id.as_str().to_owned(),
        details: PersonDetails {
            name: text("name", &r.name, true)?,
            phone: phone(&r.phone)?,
            origin,
            workplace_id: r.workplace_id,
            permit: r.permit,
        },
        moved_in_on: field_day("moved_in_on", r.moved_in_on.as_deref())?,
        position: None,
    };
    Ok((resident, id))
}

/// The person `id` if the caller sees their grid (404 otherwise, as for reads).
async fn person_in_scope(state: &AppState, scope: &Scope, id: u32) -> AppResult<crate::store::persons::PersonRecord> {
    state.store().person(id).await?.filter(|p| scope.sees_grid(p.grid_id)).ok_or_else(|| not_found("person", id))
}

/// The caller's view of person `id` after a write (masked as their reads are).
async fn person_view(state: &AppState, d: &Disclosure, id: u32) -> AppResult<Person> {
    let p = state.store().person(id).await?.ok_or_else(|| not_found("person", id))?;
    Ok(person(&state.atlas(), d, p))
}

/// `POST /api/units/{id}/persons`: registers a person found living in the unit.
#[utoipa::path(post, path = "/api/units/{id}/persons", tag = "Field", operation_id = "add_person",
    summary = "register a person at the door (one person, one record: a known ID number is a move)",
    params(IdParam),
    request_body = NewPersonRequest,
    responses(
        (status = 201, description = "registered, moved here or come back", body = PersonAdded),
        (status = 200, description = "a replay of this client id, or a person already registered here: nothing changed", body = PersonAdded),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 404, description = "no such unit, or one outside the caller's grids", body = Exception),
        (status = 409, description = "the client id was used for another write, or the ID number is another name's", body = Exception),
        (status = 422, description = "a bad field (the message names it: a wrong check digit, a future date…)", body = Exception)))]
pub async fn add_person(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiJson(req): ApiJson<NewPersonRequest>,
) -> AppResult<(StatusCode, Json<PersonAdded>)> {
    let d = disclosure(&scope, None, None)?;
    let unit_id = parse_id("unit", &raw)?;
    let position = req.position;
    let (mut resident, id) = validate_new(unit_id, req)?;
    let unit = state
        .store()
        .unit_card(unit_id)
        .await?
        .filter(|u| scope.sees_grid(u.grid_id))
        .ok_or_else(|| not_found("unit", unit_id))?;
    resident.position = fix_of(position, &state.atlas(), unit.building_id)?;
    let target = format!("POST /api/units/{unit_id}/persons client_id {}", resident.client_id);
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::PERSON_REGISTER, target);
    let outcome = state.add_resident(&resident, &event).await?;
    let atlas = state.atlas();
    let status = match (outcome.replayed, outcome.arrival) {
        (true, _) | (false, Arrival::AlreadyHere) if outcome.deltas.is_empty() => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    Ok((
        status,
        Json(PersonAdded {
            replayed: outcome.replayed,
            arrival: outcome.arrival.into(),
            person: person_view(&state, &d, outcome.person_id).await?,
            earlier: outcome.earlier.map(|h| earlier_view(&atlas, &scope, h)),
            from_id_number: FromIdNumber {
                sex: if id.is_male() { "male" } else { "female" }.into(),
                birth_date: fmt_date(id.birth_date()),
            },
        }),
    ))
}

/// `POST /api/persons/{id}/departure`: the person left the district.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartureRequest {
    /// Client-generated id of this write.
    client_id: String,
    /// The day they left, `YYYY-MM-DD` (default today, China time).
    #[serde(default)]
    on: Option<String>,
    /// Where the phone was, when its user allows it.
    #[serde(default)]
    position: Option<Position>,
}

/// The departure of `person_id` a request asks for, checked (its position is checked against
/// the person's building later).
pub(super) fn validate_departure(person_id: u32, r: &DepartureRequest) -> AppResult<Departure> {
    Ok(Departure {
        client_id: client_id(&r.client_id)?,
        person_id,
        on: field_day("on", r.on.as_deref())?,
        position: None,
    })
}

/// The answer to `POST /api/persons/{id}/departure`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonDeparted {
    /// True for a replay of this client id: nothing changed.
    replayed: bool,
    /// The person's record now.
    person: Person,
    /// The home they left.
    left: EarlierHomeView,
}

/// `POST /api/persons/{id}/departure`: records that a person left the district (流出).
#[utoipa::path(post, path = "/api/persons/{id}/departure", tag = "Field", operation_id = "person_departure",
    summary = "record that a person left the district (流出): their home is closed with the day",
    params(IdParam),
    request_body = DepartureRequest,
    responses(
        (status = 201, description = "recorded", body = PersonDeparted),
        (status = 200, description = "a replay of this client id: nothing changed", body = PersonDeparted),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 404, description = "no such person, or one outside the caller's grids", body = Exception),
        (status = 409, description = "the person left already, or the client id was used for another write", body = Exception),
        (status = 422, description = "a bad day (the message names the field)", body = Exception)))]
pub async fn departure(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiJson(req): ApiJson<DepartureRequest>,
) -> AppResult<(StatusCode, Json<PersonDeparted>)> {
    let d = disclosure(&scope, None, None)?;
    let person_id = parse_id("person", &raw)?;
    let mut dep = validate_departure(person_id, &req)?;
    let p = person_in_scope(&state, &scope, person_id).await?;
    dep.position = fix_of(req.position, &state.atlas(), p.building_id)?;
    let target = format!("POST /api/persons/{person_id}/departure client_id {}", dep.client_id);
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::PERSON_DEPART, target);
    let outcome = state.depart(&dep, &event).await?;
    let status = if outcome.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((
        status,
        Json(PersonDeparted {
            replayed: outcome.replayed,
            person: person_view(&state, &d, person_id).await?,
            left: earlier_view(&state.atlas(), &scope, outcome.left),
        }),
    ))
}

/// Present-but-null as `Some(None)`, absent as `None` (with `#[serde(default)]`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/persons/{id}`: new values of some of a person's fields, made against the version
/// the editor saw. Fields left out are left as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonEditRequest {
    /// Client-generated id of this write.
    client_id: String,
    /// The record's version the editor saw (`version` of `GET /api/persons/{id}`).
    base_version: u32,
    /// Name.
    #[serde(default)]
    name: Option<String>,
    /// Phone.
    #[serde(default)]
    phone: Option<String>,
    /// Where they come from (null clears it).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    origin: Option<Option<String>>,
    /// Workplace (null clears it).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>)]
    workplace_id: Option<Option<u32>>,
    /// Residence permit.
    #[serde(default)]
    permit: Option<bool>,
    /// Where the phone was, when its user allows it.
    #[serde(default)]
    position: Option<Position>,
}

pub(super) fn validate_edit(person_id: u32, r: PersonEditRequest) -> AppResult<PersonEdit> {
    let mut changes = BTreeMap::new();
    if let Some(n) = &r.name {
        changes.insert(PersonField::Name, text("name", n, true)?.into());
    }
    if let Some(p) = &r.phone {
        changes.insert(PersonField::Phone, phone(p)?.into());
    }
    if let Some(o) = &r.origin {
        let o = match o.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(o) => Some(text("origin", o, true)?),
        };
        changes.insert(PersonField::Origin, o.into());
    }
    if let Some(w) = r.workplace_id {
        changes.insert(PersonField::WorkplaceId, w.into());
    }
    if let Some(p) = r.permit {
        changes.insert(PersonField::Permit, p.into());
    }
    if changes.is_empty() {
        return Err(AppError::Unprocessable(
            "the edit changes nothing: give at least one of name, phone, origin, workplace_id, permit".into(),
        ));
    }
    Ok(PersonEdit {
        client_id: client_id(&r.client_id)?,
        person_id,
        base_version: r.base_version,
        changes,
        position: None,
    })
}

/// A field's name in the API.
fn field_name(f: PersonField) -> String {
    f.column().to_owned()
}

/// A stored value as the caller may see it: names and phones masked as their reads are.
fn shown(d: &Disclosure, f: PersonField, v: &serde_json::Value) -> serde_json::Value {
    match (f, v.as_str()) {
        (PersonField::Name, Some(s)) => d.name(s).into(),
        (PersonField::Phone, Some(s)) => d.phone(s).into(),
        _ => v.clone(),
    }
}

/// One field two edits changed differently.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldConflictView {
    /// The field (`name`, `phone`, `origin`, `workplace_id`, `permit`).
    field: String,
    /// The value the edit asked for.
    yours: serde_json::Value,
    /// The value stored since the edit's base version (names and phones masked).
    theirs: serde_json::Value,
    /// The version that stored it.
    their_version: u32,
}

fn conflict_fields(d: &Disclosure, fields: &[FieldConflict]) -> Vec<FieldConflictView> {
    fields
        .iter()
        .map(|c| FieldConflictView {
            field: field_name(c.field),
            yours: c.yours.clone(),
            theirs: shown(d, c.field, &c.theirs),
            their_version: c.their_version,
        })
        .collect()
}

/// The answer to an applied edit.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonEdited {
    /// True for a replay of this client id: nothing changed.
    replayed: bool,
    /// The fields this edit changed (empty when they held these values already).
    changed: Vec<String>,
    /// The person's record now.
    person: Person,
}

/// The answer to an edit that met a conflict (409): nothing was changed, the edit is kept as
/// conflict `conflict_id` until it is resolved.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditConflict {
    /// `conflict`.
    error: String,
    /// What happened, in words.
    message: String,
    /// The stored conflict (`POST /api/conflicts/{id}/resolve`).
    conflict_id: u32,
    /// The person.
    person_id: u32,
    /// The record's present version.
    version: u32,
    /// The fields in conflict, with both values.
    fields: Vec<FieldConflictView>,
    /// True for a replay of this client id.
    replayed: bool,
}

/// `PATCH /api/persons/{id}`: edits a person; a stale edit of a field changed since is a conflict.
#[utoipa::path(patch, path = "/api/persons/{id}", tag = "Field", operation_id = "edit_person",
    summary = "edit a person's fields against the version seen: other fields merge, the same field changed since is a conflict",
    params(IdParam),
    request_body = PersonEditRequest,
    responses(
        (status = 200, description = "applied (or a replay of this client id)", body = PersonEdited),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 404, description = "no such person, or one outside the caller's grids", body = Exception),
        (status = 409, description = "a field this edit changes was changed since its base version to another value: nothing applied, the edit kept as a conflict", body = EditConflict),
        (status = 422, description = "a bad field (the message names it)", body = Exception)))]
pub async fn edit_person(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiJson(req): ApiJson<PersonEditRequest>,
) -> AppResult<Response> {
    let d = disclosure(&scope, None, None)?;
    let person_id = parse_id("person", &raw)?;
    let position = req.position;
    let mut edit = validate_edit(person_id, req)?;
    let p = person_in_scope(&state, &scope, person_id).await?;
    edit.position = fix_of(position, &state.atlas(), p.building_id)?;
    let fields: Vec<String> = edit.changes.keys().map(|f| field_name(*f)).collect();
    let target = format!(
        "PATCH /api/persons/{person_id} client_id {} base_version {} fields {}",
        edit.client_id,
        edit.base_version,
        fields.join(",")
    );
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::PERSON_EDIT, target);
    let edited = state.edit_person(&edit, &event).await?;
    edit_answer(&state, &d, edited).await
}

async fn edit_answer(state: &AppState, d: &Disclosure, edited: Edited) -> AppResult<Response> {
    match edited.outcome {
        EditOutcome::Applied { person_id, changed, .. } => Ok(Json(PersonEdited {
            replayed: edited.replayed,
            changed: changed.into_iter().map(field_name).collect(),
            person: person_view(state, d, person_id).await?,
        })
        .into_response()),
        EditOutcome::Conflict { person_id, conflict_id, version, fields } => {
            let names: Vec<String> = fields.iter().map(|f| field_name(f.field)).collect();
            Ok((
                StatusCode::CONFLICT,
                Json(EditConflict {
                    error: "conflict".into(),
                    message: format!(
                        "not applied: {} changed since version {} to another value; kept as conflict {conflict_id} \
                         to be resolved (keep yours or theirs)",
                        names.join(", "),
                        fields.iter().map(|f| f.their_version).min().unwrap_or(version).saturating_sub(1)
                    ),
                    conflict_id,
                    person_id,
                    version,
                    fields: conflict_fields(d, &fields),
                    replayed: edited.replayed,
                }),
            )
                .into_response())
        }
    }
}

/// `GET /api/conflicts?all=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictQuery {
    /// `true` lists resolved conflicts too (default: open ones only).
    #[serde(default)]
    all: Option<bool>,
}

/// A conflict between edits of a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictView {
    /// Its id.
    id: u32,
    /// The person.
    person_id: u32,
    /// Their grid's code.
    grid_code: String,
    /// Who made the edit that met it.
    username: String,
    /// When (RFC 3339 UTC).
    created_at: String,
    /// The version the edit was made against.
    base_version: u32,
    /// The fields in conflict.
    fields: Vec<FieldConflictView>,
    /// Null while open; else `mine` (the edit applied) or `theirs` (the stored kept).
    #[schema(required = true)]
    resolution: Option<String>,
    /// Who resolved it.
    #[schema(required = true)]
    resolved_by: Option<String>,
    /// When.
    #[schema(required = true)]
    resolved_at: Option<String>,
}

fn conflict_view(atlas: &Atlas, d: &Disclosure, c: StoredConflict) -> ConflictView {
    let (resolved_at, resolved_by, resolution) = match c.resolved {
        Some((at, by, how)) => (Some(at), Some(by), Some(how)),
        None => (None, None, None),
    };
    ConflictView {
        id: c.id,
        person_id: c.person_id,
        grid_code: grid_code(atlas, c.grid_id),
        username: c.username,
        created_at: c.created_at,
        base_version: c.edit.base_version,
        fields: conflict_fields(d, &c.fields),
        resolution,
        resolved_by,
        resolved_at,
    }
}

/// `GET /api/conflicts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Conflicts {
    /// The conflicts in the caller's grids, oldest first (at most 1,000).
    conflicts: Vec<ConflictView>,
}

/// `GET /api/conflicts`: the conflicts between edits of persons in the caller's grids.
#[utoipa::path(get, path = "/api/conflicts", tag = "Field", operation_id = "conflicts",
    summary = "conflicts between edits of persons in the caller's grids, to resolve",
    params(ConflictQuery),
    responses(
        (status = 200, description = "the conflicts", body = Conflicts),
        (status = 400, description = "a bad query", body = Exception)))]
pub async fn conflicts(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<ConflictQuery>,
) -> AppResult<Json<Conflicts>> {
    let d = disclosure(&scope, None, None)?;
    let atlas = state.atlas();
    let within = scope.grids.as_ref().map(|g| g.iter().copied().collect::<Vec<_>>());
    let all = q.all.unwrap_or(false);
    let list = crate::standby::reads(&state).await.conflicts(within.as_deref(), all).await?;
    // The persons' values are shown (masked): audited as a person read is, before it leaves.
    let ids = |f: fn(&StoredConflict) -> u32| list.iter().map(f).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let target = format!(
        "GET /api/conflicts{} conflicts {} persons {}",
        if all { "?all=true" } else { "" },
        ids(|c| c.id),
        ids(|c| c.person_id)
    );
    audit_as(&state, who, source, &d, action::CONFLICT_READ, target).await?;
    Ok(Json(Conflicts { conflicts: list.into_iter().map(|c| conflict_view(&atlas, &d, c)).collect() }))
}

/// `POST /api/conflicts/{id}/resolve`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `mine`: apply the edit's values over what is stored now; `theirs`: keep what is stored.
    keep: KeepSide,
}

/// Which side of a conflict to keep.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeepSide {
    /// The edit's values.
    Mine,
    /// What is stored.
    Theirs,
}

/// `POST /api/conflicts/{id}/resolve`: resolves an open conflict by keeping one side.
#[utoipa::path(post, path = "/api/conflicts/{id}/resolve", tag = "Field", operation_id = "resolve_conflict",
    summary = "resolve a conflict between edits: keep the edit's values (mine) or the stored ones (theirs)",
    params(IdParam),
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "resolved; the person's record now", body = PersonEdited),
        (status = 400, description = "a malformed body", body = Exception),
        (status = 404, description = "no such conflict, or one outside the caller's grids", body = Exception),
        (status = 409, description = "resolved already", body = Exception)))]
pub async fn resolve(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> AppResult<Response> {
    let d = disclosure(&scope, None, None)?;
    let id = parse_id("conflict", &raw)?;
    let c = state
        .store()
        .conflict(id)
        .await?
        .filter(|c| scope.sees_grid(c.grid_id))
        .ok_or_else(|| not_found("conflict", id))?;
    let keep = match req.keep {
        KeepSide::Mine => Keep::Mine,
        KeepSide::Theirs => Keep::Theirs,
    };
    let target = format!("POST /api/conflicts/{id}/resolve person {}", c.person_id);
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::CONFLICT_RESOLVE, target);
    let edited = state.resolve_conflict(id, keep, &event).await?;
    edit_answer(&state, &d, edited).await
}

/// A visit or field write recorded farther than 150 m from its building.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedWrite {
    /// `visit`, `resident` (a person registered), `departure` or `edit`.
    kind: String,
    /// Its client id.
    client_id: String,
    /// The building.
    building_id: u32,
    /// Its address.
    address: String,
    /// Its grid's code.
    grid_code: String,
    /// The caseworker of a visit.
    #[schema(required = true)]
    caseworker_id: Option<u32>,
    /// The user who made a field write.
    #[schema(required = true)]
    username: Option<String>,
    /// The visit's day, or the field write's instant (RFC 3339 UTC).
    at: String,
    /// How far from the building's entrance the phone was, metres.
    distance_m: f64,
    /// The phone's accuracy, metres.
    accuracy_m: f64,
}

/// `GET /api/field/flags`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldFlags {
    /// The distance beyond which a write is flagged, metres.
    far_m: f64,
    /// The flagged writes in the caller's grids, newest first (at most 500 visits and 500 field
    /// writes).
    writes: Vec<FlaggedWrite>,
}

/// `GET /api/field/flags`: visits and field writes recorded far from their building, for the
/// supervisor's spot checks (never refused when made: flagged).
#[utoipa::path(get, path = "/api/field/flags", tag = "Field", operation_id = "field_flags",
    summary = "visits and field writes recorded more than 150 m from their building: leads for spot checks",
    responses((status = 200, description = "the flagged writes", body = FieldFlags)))]
pub async fn flags(State(state): State<AppState>, scope: Scope) -> AppResult<Json<FieldFlags>> {
    let atlas = state.atlas();
    let within = scope.grids.as_ref().map(|g| g.iter().copied().collect::<Vec<_>>());
    let writes = crate::standby::reads(&state).await.far_writes(within.as_deref(), 500).await?;
    let view = |w: FarWrite| FlaggedWrite {
        address: super::persons::address(&atlas, w.building_id),
        grid_code: grid_code(&atlas, w.grid_id),
        kind: w.kind,
        client_id: w.client_id,
        building_id: w.building_id,
        caseworker_id: w.caseworker_id,
        username: w.username,
        at: w.at,
        distance_m: (w.distance_m * 10.0).round() / 10.0,
        accuracy_m: w.accuracy_m,
    };
    Ok(Json(FieldFlags { far_m: FAR_M, writes: writes.into_iter().map(view).collect() }))
}

/// Overdue buildings listed when the request names no limit.
const DEFAULT_OVERDUE_LISTED: usize = 2_000;

/// `GET /api/overdue?days=&concentrated_days=&caseworker=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverdueQuery {
    /// Days a building with rental units may go without a visit (default 90, 1–3650).
    #[serde(default)]
    days: Option<u32>,
    /// Days for a building with concentrated housing (集中居住; default 30, 1–3650).
    #[serde(default)]
    concentrated_days: Option<u32>,
    /// Only the buildings in this caseworker's grids.
    #[serde(default)]
    caseworker: Option<u32>,
    /// The most buildings listed (1–10,000; default 2,000); `number_matched` counts them all.
    #[serde(default)]
    limit: Option<u32>,
}

/// A building overdue for a visit.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueBuilding {
    /// The building.
    building_id: u32,
    /// Its address.
    address: String,
    /// Its grid's code.
    grid_code: String,
    /// The longitude of its point (WGS84), for a map.
    lon: f64,
    /// Its latitude.
    lat: f64,
    /// The caseworkers whose grids hold it.
    caseworker_ids: Vec<u32>,
    /// Its rental units.
    rental_units: u32,
    /// True when it holds concentrated housing (the shorter limit applies).
    concentrated: bool,
    /// Its last visit (`YYYY-MM-DD`), null when never visited.
    #[schema(required = true)]
    last_visit: Option<String>,
    /// Days since then, null when never visited.
    #[schema(required = true)]
    days_since: Option<u32>,
    /// The limit that applies, days.
    limit_days: u32,
}

/// How many buildings each caseworker has overdue.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueByCaseworker {
    /// The caseworker.
    caseworker_id: u32,
    /// Their name.
    name: String,
    /// Buildings overdue in their grids.
    overdue: usize,
    /// Of them, never visited.
    never_visited: usize,
}

/// `GET /api/overdue`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueList {
    /// Today (China time), the day the days are counted to.
    as_of: String,
    /// The limit for buildings with rental units, days.
    days: u32,
    /// The limit for concentrated housing, days.
    concentrated_days: u32,
    /// How many buildings are overdue in all.
    number_matched: usize,
    /// The first `limit` (default 2,000): never visited first, then the longest since their
    /// last visit.
    buildings: Vec<OverdueBuilding>,
    /// Per caseworker of the caller's scope, most overdue first.
    caseworkers: Vec<OverdueByCaseworker>,
}

/// `GET /api/overdue`: buildings with rental units not visited for too long, per caseworker.
#[utoipa::path(get, path = "/api/overdue", tag = "Field", operation_id = "overdue",
    summary = "buildings with rental units not visited for N days (30 for concentrated housing, 90 otherwise), per caseworker",
    params(OverdueQuery),
    responses(
        (status = 200, description = "the overdue buildings in the caller's grids", body = OverdueList),
        (status = 400, description = "a bad query", body = Exception),
        (status = 422, description = "a limit of days or of buildings out of range, or a caseworker outside the caller's scope", body = Exception)))]
pub async fn overdue(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<OverdueQuery>,
) -> AppResult<Json<OverdueList>> {
    let defaults = crate::overdue::Limits::default();
    let limit = |field: &str, v: Option<u32>, default: u32| match v {
        None => Ok(default),
        Some(n) if (1..=3650).contains(&n) => Ok(n),
        Some(n) => Err(AppError::Unprocessable(format!("{field}: {n} must be from 1 to 3650 days"))),
    };
    let limits = crate::overdue::Limits {
        days: limit("days", q.days, defaults.days)?,
        concentrated_days: limit("concentrated_days", q.concentrated_days, defaults.concentrated_days)?,
    };
    let listed = match q.limit {
        None => DEFAULT_OVERDUE_LISTED,
        Some(n) if (1..=super::MAX_BUILDINGS).contains(&(n as usize)) => n as usize,
        Some(n) => {
            return Err(AppError::Unprocessable(format!("limit: {n} must be from 1 to {}", super::MAX_BUILDINGS)));
        }
    };
    let atlas = state.atlas();
    let caseworkers = state.roster().await?;
    let reads = crate::standby::reads(&state).await;
    let only: Option<Vec<u32>> = match q.caseworker {
        None => None,
        Some(id) => match caseworkers.iter().find(|c| c.id == id && c.grids.iter().any(|&g| scope.sees_grid(g))) {
            Some(c) => Some(c.grids.clone()),
            None => return Err(AppError::Unprocessable(format!("caseworker: {id} is not a caseworker of your scope"))),
        },
    };
    let visits = reads.last_visits().await?;
    let sees = |g: u32| scope.sees_grid(g) && only.as_ref().is_none_or(|grids| grids.contains(&g));
    let list = crate::overdue::overdue(&atlas, &caseworkers, &visits, today(), limits, sees);
    let mut per: Vec<OverdueByCaseworker> = caseworkers
        .iter()
        .filter(|c| c.grids.iter().any(|&g| sees(g)))
        .map(|c| {
            let mine = list.iter().filter(|o| o.caseworkers.contains(&c.id));
            OverdueByCaseworker {
                caseworker_id: c.id,
                name: c.name.clone(),
                overdue: mine.clone().count(),
                never_visited: mine.filter(|o| o.last_visit.is_none()).count(),
            }
        })
        .collect();
    per.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(a.caseworker_id.cmp(&b.caseworker_id)));
    Ok(Json(OverdueList {
        as_of: fmt_date(today()),
        days: limits.days,
        concentrated_days: limits.concentrated_days,
        number_matched: list.len(),
        buildings: list
            .into_iter()
            .take(listed)
            .map(|o| OverdueBuilding {
                address: super::persons::address(&atlas, o.building_id),
                grid_code: grid_code(&atlas, o.grid_id),
                lon: o.point.x(),
                lat: o.point.y(),
                building_id: o.building_id,
                caseworker_ids: o.caseworkers,
                rental_units: o.rental_units,
                concentrated: o.concentrated,
                last_visit: o.last_visit.map(fmt_date),
                days_since: o.days_since,
                limit_days: o.limit_days,
            })
            .collect(),
        caseworkers: per,
    }))
}
