//! `GET /api/search?q=`: the search box. Places within the caller's scope from the snapshot's
//! in-memory index (streets, communities and grids by name, code or pinyin; buildings by
//! address or survey id; caseworkers by name), a rental unit by its building's address and room
//! from the store, and, for the roles that read persons, persons by whole name or the last 4
//! characters of their ID number: masked, and every such search audited.

use super::identity::{Authenticated, RequestSource};
use super::query::ApiQuery;
use crate::access::Role;
use crate::access::audit::action;
use crate::access::mask::Disclosure;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::persons::PersonQuery;
use axum::Json;
use axum::extract::State;
use geo::{BoundingRect, Rect};
use rentgrid_analysis::search::{self, Match, PlaceKind, SearchIndex};
use rentgrid_geodata::{Atlas, Caseworker, GridId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The most results one search answers.
pub const MAX_RESULTS: u32 = 50;

/// What a result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// 街道/镇 a street or town.
    Street,
    /// 社区/村 a community or village.
    Community,
    /// 网格 a grid.
    Grid,
    /// 综管员 a caseworker (their contracted grids).
    Caseworker,
    /// 楼栋 a building.
    Building,
    /// 出租房屋 a rental unit (a room of a building).
    Unit,
    /// 流动人口 a person (masked).
    Person,
}

impl ResultKind {
    const ALL: [ResultKind; 7] = [
        ResultKind::Street,
        ResultKind::Community,
        ResultKind::Grid,
        ResultKind::Caseworker,
        ResultKind::Building,
        ResultKind::Unit,
        ResultKind::Person,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ResultKind::Street => "street",
            ResultKind::Community => "community",
            ResultKind::Grid => "grid",
            ResultKind::Caseworker => "caseworker",
            ResultKind::Building => "building",
            ResultKind::Unit => "unit",
            ResultKind::Person => "person",
        }
    }

    fn of_place(k: PlaceKind) -> Self {
        match k {
            PlaceKind::Street => ResultKind::Street,
            PlaceKind::Community => ResultKind::Community,
            PlaceKind::Grid => ResultKind::Grid,
            PlaceKind::Caseworker => ResultKind::Caseworker,
            PlaceKind::Building => ResultKind::Building,
        }
    }

    /// The kinds `role` may find: the places of the grid and above for a leader (aggregates
    /// only), everything for the roles that read persons, nothing for anyone else.
    fn allowed(role: Role) -> &'static [ResultKind] {
        match role {
            Role::Center | Role::Supervisor | Role::Caseworker => &Self::ALL,
            Role::Leader => &[ResultKind::Street, ResultKind::Community, ResultKind::Grid],
            _ => &[],
        }
    }
}

/// How a result matched, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Matched {
    /// The whole name, code, survey id, room, or (a person) the whole name or ID number's end.
    Exact,
    /// The beginning of a name, code, survey id or room.
    Prefix,
    /// A part of a name.
    Part,
    /// The name's pinyin, in full or by initials.
    Pinyin,
}

impl From<Match> for Matched {
    fn from(m: Match) -> Self {
        match m {
            Match::Exact => Matched::Exact,
            Match::Prefix => Matched::Prefix,
            Match::Part => Matched::Part,
            Match::Pinyin => Matched::Pinyin,
        }
    }
}

/// One thing found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    /// What it is.
    pub kind: ResultKind,
    /// Its id: a grid's, building's, unit's, caseworker's or person's (none for streets and
    /// communities, which their code names).
    #[schema(required = true)]
    pub id: Option<u32>,
    /// Its code: a street's, community's or grid's, a building's survey id (楼栋编号).
    #[schema(required = true)]
    pub code: Option<String>,
    /// Its name: a building's address, a unit's room, a person's name masked (`张*`).
    pub name: String,
    /// Where it is, in words: the street and community, a unit's building, a person's masked ID
    /// number and home.
    pub context: String,
    /// How it matched.
    pub matched: Matched,
    /// Where to open it (WGS84 longitude, latitude): a grid's label point, a building's point.
    pub point: [f64; 2],
    /// The area to show, for areas (min lon, min lat, max lon, max lat).
    #[schema(required = true)]
    pub bbox: Option<[f64; 4]>,
    /// The building, for a building, a unit or a person.
    #[schema(required = true)]
    pub building_id: Option<u32>,
}

/// `GET /api/search`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchAnswer {
    /// The query as searched (trimmed).
    pub q: String,
    /// What was found, best first.
    pub results: Vec<SearchResult>,
    /// True when persons were searched (the query was a name or 4 characters of an ID number,
    /// and the caller may read persons): the search is in the audit log and names are masked.
    /// (Not named `persons_…`: a leader's answers hide such fields as person counts.)
    pub searched_persons: bool,
}

/// The query of `GET /api/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to find (1 to 64 characters): a name or its part or pinyin, a code, a survey id, an
    /// address with its room, a person's whole name or the last 4 characters of an ID number.
    q: Option<String>,
    /// The most results (1 to 50; default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    limit: Option<String>,
    /// Only these kinds, comma-separated (street, community, grid, caseworker, building, unit,
    /// person); default every kind the caller may find. Asking for a kind the role may not
    /// find is a 403.
    kinds: Option<String>,
}

/// The query's text, checked: 400 when empty or too long.
fn query_text(q: Option<&str>) -> AppResult<String> {
    let q = q.map(str::trim).unwrap_or_default();
    if q.is_empty() {
        return Err(AppError::BadRequest(
            "q is empty: type a name, a code, a survey id, an address or pinyin (q=鼓楼, q=gl)".into(),
        ));
    }
    let n = q.chars().count();
    if n > search::MAX_QUERY_CHARS {
        return Err(AppError::BadRequest(format!(
            "q is {n} characters long; at most {} are searched",
            search::MAX_QUERY_CHARS
        )));
    }
    Ok(q.to_owned())
}

fn limit(raw: Option<&str>) -> AppResult<usize> {
    match raw {
        None => Ok(10),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => Ok(n as usize),
            _ => Err(AppError::BadRequest(format!("limit {s:?} must be a whole number from 1 to {MAX_RESULTS}"))),
        },
    }
}

/// The kinds asked for, each one the role may find (403 otherwise).
fn kinds(role: Role, raw: Option<&str>) -> AppResult<Vec<ResultKind>> {
    let allowed = ResultKind::allowed(role);
    if allowed.is_empty() {
        return Err(AppError::Forbidden(format!("the role {role} does not search the register")));
    }
    let Some(raw) = raw else { return Ok(allowed.to_vec()) };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind = ResultKind::ALL.into_iter().find(|k| k.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = ResultKind::ALL.iter().map(|k| k.as_str()).collect();
            AppError::BadRequest(format!("kinds: unknown kind {name:?}; the kinds are {}", names.join(", ")))
        })?;
        if !allowed.contains(&kind) {
            return Err(AppError::Forbidden(format!("the role {role} may not search for a {name}")));
        }
        out.push(kind);
    }
    if out.is_empty() {
        return Err(AppError::BadRequest("kinds names no kind".into()));
    }
    Ok(out)
}

/// What a query asks of the persons: a whole name (2 to 8 characters, none of them ASCII) or
/// the last 4 characters of an ID number (3 digits and a digit or X).
fn person_terms(q: &str) -> (Option<String>, Option<String>) {
    let q = search::normalize(q);
    let chars: Vec<char> = q.chars().collect();
    let tail = (chars.len() == 4
        && chars[..3].iter().all(char::is_ascii_digit)
        && (chars[3].is_ascii_digit() || chars[3] == 'x'))
        .then(|| q.to_ascii_uppercase());
    let name = ((2..=8).contains(&chars.len()) && chars.iter().all(|c| !c.is_ascii())).then_some(q);
    (name, tail)
}

/// The bounding box of `grids`, and the label point of the largest of them.
pub(super) fn extent(atlas: &Atlas, grids: &[GridId]) -> Option<([f64; 2], [f64; 4])> {
    let entries: Vec<_> = grids.iter().filter_map(|&g| atlas.grid(g)).collect();
    let largest = entries.iter().max_by(|a, b| a.area_km2.total_cmp(&b.area_km2))?;
    let rect = entries.iter().filter_map(|e| e.grid.geometry.bounding_rect()).reduce(|a, b| {
        Rect::new(
            geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
            geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
        )
    })?;
    let p = largest.label_point;
    Some(([p.x(), p.y()], [rect.min().x, rect.min().y, rect.max().x, rect.max().y]))
}

fn street_name(atlas: &Atlas, street: usize) -> String {
    atlas.streets().get(street).map(|s| s.street.name.clone()).unwrap_or_default()
}

/// Where a building is, in words: its street and grid.
fn building_context(atlas: &Atlas, grid: GridId) -> String {
    atlas.grid(grid).map(|g| format!("{} · {}", street_name(atlas, g.street), g.grid.name)).unwrap_or_default()
}

/// The index of the snapshot's places, built on the blocking pool at its first use.
async fn index(state: &AppState) -> AppResult<(Arc<Atlas>, Arc<SearchIndex>)> {
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    if let Some(ix) = snapshot.search_index() {
        return Ok((atlas, ix));
    }
    let caseworkers = state.roster().await?;
    let ix = tokio::task::spawn_blocking(move || snapshot.search_index_with(&caseworkers))
        .await
        .map_err(|e| AppError::Internal(format!("building the search index failed: {e}")))?;
    Ok((atlas, ix))
}

/// True when `scope` may find the place `p` of the index.
fn sees_place(atlas: &Atlas, scope: &Scope, p: &search::Place) -> bool {
    let id = p.id as usize;
    match p.kind {
        PlaceKind::Street => atlas.streets().get(id).is_some_and(|s| scope.sees_all(&s.grids)),
        PlaceKind::Community => atlas.communities().get(id).is_some_and(|c| scope.sees_all(&c.grids)),
        PlaceKind::Grid => atlas.grid(p.id).is_some() && scope.sees_grid(p.id),
        PlaceKind::Building => atlas.building(p.id).is_some_and(|b| scope.sees_grid(b.grid_id)),
        // A caseworker finds themself; the others, the caseworkers of the streets they see whole.
        PlaceKind::Caseworker if scope.role == Role::Caseworker => scope.caseworker == Some(p.id),
        PlaceKind::Caseworker => {
            p.street.and_then(|s| atlas.streets().get(s as usize)).is_some_and(|s| scope.sees_all(&s.grids))
        }
    }
}

/// A place of the index as a result.
fn place_result(atlas: &Atlas, p: &search::Place, matched: Match, contracts: &[Caseworker]) -> Option<SearchResult> {
    let id = p.id as usize;
    let kind = ResultKind::of_place(p.kind);
    let code = p.codes.first().cloned();
    let matched = matched.into();
    let area = |point: [f64; 2], bbox: [f64; 4], id: Option<u32>, context: String| SearchResult {
        kind,
        id,
        code: code.clone(),
        name: p.name.clone(),
        context,
        matched,
        point,
        bbox: Some(bbox),
        building_id: None,
    };
    match p.kind {
        PlaceKind::Street => {
            let s = atlas.streets().get(id)?;
            let (point, bbox) = extent(atlas, &s.grids)?;
            Some(area(point, bbox, None, atlas.district().name.clone()))
        }
        PlaceKind::Community => {
            let c = atlas.communities().get(id)?;
            let (point, bbox) = extent(atlas, &c.grids)?;
            Some(area(point, bbox, None, street_name(atlas, c.street)))
        }
        PlaceKind::Grid => {
            let g = atlas.grid(p.id)?;
            let (point, bbox) = extent(atlas, &[p.id])?;
            let community = atlas.communities().get(g.community).map(|c| c.community.name.as_str()).unwrap_or_default();
            Some(area(point, bbox, Some(p.id), format!("{} · {community}", street_name(atlas, g.street))))
        }
        PlaceKind::Caseworker => {
            let street = p.street.map(|s| street_name(atlas, s as usize)).unwrap_or_default();
            let grids = contracts.iter().find(|c| c.id == p.id).map(|c| c.grids.as_slice()).unwrap_or_default();
            let own = extent(atlas, grids);
            let (point, bbox) = own.or_else(|| extent(atlas, &atlas.streets().get(p.street? as usize)?.grids))?;
            Some(SearchResult {
                code: None,
                ..area(point, bbox, Some(p.id), format!("{street} · {} 个网格", grids.len()))
            })
        }
        PlaceKind::Building => {
            let b = atlas.building(p.id)?;
            Some(SearchResult {
                kind,
                id: Some(b.id),
                code,
                name: b.address.clone(),
                context: building_context(atlas, b.grid_id),
                matched,
                point: [b.point.x(), b.point.y()],
                bbox: None,
                building_id: Some(b.id),
            })
        }
    }
}

/// The room a query names after its building's address, as unit labels are written (`302室` →
/// `302`).
fn room(rest: &str) -> String {
    rest.trim_start_matches(['-', '#', '·']).trim_end_matches(['室', '房', '号', '间', '户']).to_owned()
}

/// `GET /api/search?q=&limit=&kinds=`.
#[utoipa::path(get, path = "/api/search", tag = "API", operation_id = "search",
    summary = "places, caseworkers, rental units and (for roles that read persons: masked, audited) persons within \
               the caller's scope, by name, part of a name, pinyin or initials, code, survey id or address",
    params(SearchQuery),
    responses(
        (status = 200, description = "what was found, best first", body = SearchAnswer),
        (status = 400, description = "q empty or longer than 64 characters, a bad limit or kind", body = Exception),
        (status = 401, description = "not signed in", body = Exception),
        (status = 403, description = "a kind the caller's role may not search for", body = Exception)))]
pub(super) async fn search(
    State(state): State<AppState>,
    scope: Scope,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> AppResult<Json<SearchAnswer>> {
    let kinds = kinds(scope.role, query.kinds.as_deref())?;
    let q = query_text(query.q.as_deref())?;
    let limit = limit(query.limit.as_deref())?;
    let (atlas, index) = index(&state).await?;

    let wanted = |k: ResultKind| kinds.contains(&k);
    let hits = index.search(&q, limit, |p| wanted(ResultKind::of_place(p.kind)) && sees_place(&atlas, &scope, p));
    // The caseworkers' areas as contracted now (contracts change without a new snapshot).
    let contracts =
        if hits.iter().any(|h| h.place.kind == PlaceKind::Caseworker) { state.roster().await? } else { Arc::default() };
    let mut results: Vec<SearchResult> =
        hits.iter().filter_map(|h| place_result(&atlas, h.place, h.matched, &contracts)).collect();

    // A room of a building, from the store: units are added by visits between snapshots.
    if wanted(ResultKind::Unit)
        && let Some((building, rest)) = index.building_and_rest(&q)
        && let Some(b) = atlas.building(building).filter(|b| scope.sees_grid(b.grid_id))
    {
        let room = search::normalize(&room(&rest));
        let mut units: Vec<(Matched, SearchResult)> = Vec::new();
        for u in crate::standby::reads(&state).await.units_of_building(building).await? {
            let label = search::normalize(&u.label);
            let matched = if label == room {
                Matched::Exact
            } else if !room.is_empty() && label.starts_with(&room) {
                Matched::Prefix
            } else {
                continue;
            };
            units.push((
                matched,
                SearchResult {
                    kind: ResultKind::Unit,
                    id: Some(u.id),
                    code: None,
                    name: crate::plate_sheet::room_name(&u.label),
                    context: crate::plate_sheet::standard_address(&atlas, b.id, None),
                    matched,
                    point: [b.point.x(), b.point.y()],
                    bbox: None,
                    building_id: Some(b.id),
                },
            ));
        }
        units.sort_by_key(|(m, _)| *m);
        results.extend(units.into_iter().take(limit).map(|(_, r)| r));
    }

    // Persons: by whole name or an ID number's last 4 characters, masked, and audited.
    let (name, id_tail) = person_terms(&q);
    let searched_persons = wanted(ResultKind::Person) && (name.is_some() || id_tail.is_some());
    if searched_persons {
        let d = Disclosure::Masked;
        let found = PersonQuery {
            within: scope.grids.as_ref().map(|g| g.iter().copied().collect()),
            name,
            id_tail,
            limit: limit as u32,
            ..PersonQuery::default()
        };
        let (_, rows) = crate::standby::reads(&state).await.persons(&found).await?;
        let ids: Vec<String> = rows.iter().map(|p| p.id.to_string()).collect();
        let target = format!("GET /api/search?q={q} persons {}", ids.join(","));
        super::persons::audit_read(&state, who, source, action::PERSON_READ, target, None).await?;
        for p in rows {
            let Some(b) = atlas.building(p.building_id) else { continue };
            results.push(SearchResult {
                kind: ResultKind::Person,
                id: Some(p.id),
                code: None,
                name: d.name(&p.name),
                context: format!(
                    "{} · {}{}",
                    d.id_number(&p.id_number),
                    b.address,
                    crate::plate_sheet::room_name(&p.unit_label)
                ),
                matched: Matched::Exact,
                point: [b.point.x(), b.point.y()],
                bbox: None,
                building_id: Some(b.id),
            });
        }
    }

    // Best match first; at equal match, larger places first (the index's order within a kind).
    results.sort_by_key(|r| (r.matched, r.kind));
    results.truncate(limit);
    Ok(Json(SearchAnswer { q, results, searched_persons }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_a_name_or_an_id_numbers_end_or_neither() {
        assert_eq!(person_terms("张三"), (Some("张三".into()), None));
        assert_eq!(person_terms(" 123x "), (None, Some("123X".into())));
        assert_eq!(person_terms("１２３４"), (None, Some("1234".into())));
        assert_eq!(person_terms("12345"), (None, None));
        assert_eq!(person_terms("张"), (None, None), "a surname alone names nobody");
        assert_eq!(person_terms("gl"), (None, None));
        assert_eq!(person_terms("鼓楼社区12-3幢"), (None, None));
    }

    #[test]
    fn each_role_finds_its_kinds_and_no_more() {
        assert_eq!(kinds(Role::Center, None).unwrap().len(), 7);
        assert_eq!(kinds(Role::Leader, None).unwrap(), [ResultKind::Street, ResultKind::Community, ResultKind::Grid]);
        assert!(matches!(kinds(Role::Leader, Some("person")), Err(AppError::Forbidden(_))));
        assert!(matches!(kinds(Role::Leader, Some("building")), Err(AppError::Forbidden(_))));
        assert!(matches!(kinds(Role::Auditor, None), Err(AppError::Forbidden(_))));
        assert!(matches!(kinds(Role::Center, Some("nothing")), Err(AppError::BadRequest(_))));
        assert_eq!(kinds(Role::Caseworker, Some("grid, person")).unwrap(), [ResultKind::Grid, ResultKind::Person]);
    }

    #[test]
    fn bad_queries_are_refused_with_a_reason() {
        assert!(matches!(query_text(None), Err(AppError::BadRequest(m)) if m.contains("empty")));
        assert!(matches!(query_text(Some("   ")), Err(AppError::BadRequest(_))));
        assert!(matches!(query_text(Some(&"鼓".repeat(65))), Err(AppError::BadRequest(m)) if m.contains("65")));
        assert_eq!(query_text(Some(" 鼓楼 ")).unwrap(), "鼓楼");
        assert!(limit(Some("0")).is_err() && limit(Some("51")).is_err() && limit(Some("x")).is_err());
        assert_eq!(limit(None).unwrap(), 10);
        assert_eq!(room("302室"), "302");
        assert_eq!(room("-3-302"), "3-302");
    }
}
