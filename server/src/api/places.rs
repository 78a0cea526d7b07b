//! `GET /api/places/{place}`: one place of the hierarchy (区 → 街道 → 社区 → 网格) for the web map's
//! drill-down (逐级钻取): its breadcrumb, its KPIs against the targets with the estimated actual
//! rates, its KPIs at the end of each month of the history, the places one level down with
//! theirs, and for a grid its buildings (not for a leader). Within scope: a place is shown to a
//! caller who sees all of its grids. It names no person; a building's units and households are
//! read from their own endpoints (`/api/buildings/{id}/units`, `/api/units/{id}`: masked, audited).
//! `GET /api/buildings/{id}/trend` gives a building its trend, over the same months (not for a
//! leader, as the buildings are not).

use super::IdParam;
use super::extract::ApiPath;
use super::search::extent;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::scope::Scope;
use crate::state::AppState;
use crate::summary::TrendPoint;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rentgrid_analysis::actual_rates::{PlaceRates, RatesRow};
use rentgrid_analysis::kpi::{self, Counts, Kpi, Level, Row, Targets};
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::{Atlas, BuildingStats, GridId};
use serde::Serialize;
use utoipa::ToSchema;

/// A place as a path names it: `district`, `street:{code}`, `community:{code}` or `grid:{code}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// The district.
    District,
    /// A street, by its index in [`Atlas::streets`].
    Street(usize),
    /// A community, by its index in [`Atlas::communities`].
    Community(usize),
    /// A grid.
    Grid(GridId),
}

impl Key {
    /// The place `raw` names, or why it names none (400: not a place's form; 404: no such place).
    fn parse(atlas: &Atlas, raw: &str) -> AppResult<Self> {
        if raw == "district" {
            return Ok(Key::District);
        }
        let (level, code) = raw.split_once(':').ok_or_else(|| {
            AppError::BadRequest(format!(
                "place {raw:?}: use district, street:CODE, community:CODE or grid:CODE (e.g. grid:330203001001001)"
            ))
        })?;
        let missing = || AppError::NotFound(format!("{level} {code:?} does not exist"));
        match level {
            "street" => atlas.streets().iter().position(|s| s.street.code == code).map(Key::Street).ok_or_else(missing),
            "community" => atlas
                .communities()
                .iter()
                .position(|c| c.community.code == code)
                .map(Key::Community)
                .ok_or_else(missing),
            "grid" => atlas.grid_by_code(code).map(Key::Grid).ok_or_else(missing),
            _ => Err(AppError::BadRequest(format!(
                "place level {level:?}: use street, community or grid (or district alone)"
            ))),
        }
    }

    fn level(self) -> Level {
        match self {
            Key::District => Level::District,
            Key::Street(_) => Level::Street,
            Key::Community(_) => Level::Community,
            Key::Grid(_) => Level::Grid,
        }
    }

    /// Its grids (the district's: every grid).
    fn grids(self, atlas: &Atlas) -> Vec<GridId> {
        match self {
            Key::District => atlas.grids().iter().map(|g| g.grid.id).collect(),
            Key::Street(i) => atlas.streets().get(i).map(|s| s.grids.clone()).unwrap_or_default(),
            Key::Community(i) => atlas.communities().get(i).map(|c| c.grids.clone()).unwrap_or_default(),
            Key::Grid(g) => vec![g],
        }
    }

    /// Its code, name and parent's code.
    fn names(self, atlas: &Atlas) -> (String, String, Option<String>) {
        match self {
            Key::District => (atlas.district().code.clone(), atlas.district().name.clone(), None),
            Key::Street(i) => {
                let s = &atlas.streets()[i].street;
                (s.code.clone(), s.name.clone(), Some(atlas.district().code.clone()))
            }
            Key::Community(i) => {
                let c = &atlas.communities()[i].community;
                (c.code.clone(), c.name.clone(), Some(c.street_code.clone()))
            }
            Key::Grid(g) => atlas
                .grid(g)
                .map(|e| (e.grid.code.clone(), e.grid.name.clone(), Some(e.grid.community_code.clone())))
                .unwrap_or_default(),
        }
    }

    /// The places above it, from the district down.
    fn ancestors(self, atlas: &Atlas) -> Vec<Key> {
        match self {
            Key::District => vec![],
            Key::Street(_) => vec![Key::District],
            Key::Community(i) => vec![Key::District, Key::Street(atlas.communities()[i].street)],
            Key::Grid(g) => {
                let e = atlas.grid(g);
                let mut up = vec![Key::District];
                up.extend(e.map(|e| Key::Street(e.street)));
                up.extend(e.map(|e| Key::Community(e.community)));
                up
            }
        }
    }

    /// The places one level down (none below a grid).
    fn children(self, atlas: &Atlas) -> Vec<Key> {
        match self {
            Key::District => (0..atlas.streets().len()).map(Key::Street).collect(),
            Key::Street(i) => atlas.streets()[i].communities.iter().copied().map(Key::Community).collect(),
            Key::Community(i) => atlas.communities()[i].grids.iter().copied().map(Key::Grid).collect(),
            Key::Grid(_) => vec![],
        }
    }
}

/// A place of the breadcrumb.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceRef {
    /// Its level.
    pub level: Level,
    /// Its code (the district's, a street's, a community's or a grid's).
    pub code: String,
    /// Its name.
    pub name: String,
    /// True when the caller sees all of it (may open it); a caseworker sees their grid's street
    /// by name only.
    pub in_scope: bool,
}

/// A building of a grid, with its counts (not for a leader).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceBuilding {
    /// The building's id (`GET /api/buildings/{id}`, `/api/buildings/{id}/units`).
    pub id: u32,
    /// 楼栋编号, the survey's id.
    pub external_id: String,
    /// Its door-plate address.
    pub address: String,
    /// Its kind: tower, walkup, village_house, factory, dormitory or shop.
    pub kind: &'static str,
    /// A point inside its footprint: longitude, latitude.
    pub point: [f64; 2],
    /// Rental units known to the register.
    pub rental_units: u32,
    /// Of which registered (备案).
    pub rental_units_registered: u32,
    /// Person records.
    pub persons: u32,
    /// Of which registered (登记).
    pub persons_registered: u32,
    /// Visits recorded.
    pub visits: u32,
}

/// `GET /api/places/{place}`: a place for the drill-down.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceView {
    /// Its level.
    pub level: Level,
    /// Its code, name, parent, KPIs and estimated actual rates (as a row of `/api/stats`).
    #[serde(flatten)]
    pub row: RatesRow,
    /// The places above it, from the district down (its breadcrumb).
    pub path: Vec<PlaceRef>,
    /// The area to show: min lon, min lat, max lon, max lat.
    pub bbox: [f64; 4],
    /// A point inside it (its largest grid's label point): longitude, latitude.
    pub point: [f64; 2],
    /// The targets the rates are judged against.
    pub targets: Targets,
    /// Its KPIs at the end of each month of the history, oldest first (the last: today's).
    pub trend: Vec<TrendPoint>,
    /// The places one level down that the caller sees whole, with their KPIs and estimated actual
    /// rates, in the Atlas's order (a grid has none).
    pub children: Vec<RatesRow>,
    /// A grid's buildings with their counts, by address; null above the grid and for a leader.
    /// (`buildings` beside it is how many buildings the place holds.)
    #[schema(required = true)]
    pub grid_buildings: Option<Vec<PlaceBuilding>>,
    /// The data version the figures are of.
    pub version: u64,
}

/// The KPI row of `key` over `counts`, with its estimated actual rates from `unrecorded`.
fn rates_row(atlas: &Atlas, key: Key, counts: &[Counts], unrecorded: &Unrecorded, targets: &Targets) -> RatesRow {
    let grids = key.grids(atlas);
    let (code, name, parent_code) = key.names(atlas);
    let kpi = Kpi::from_counts(kpi::sum_of(counts, &grids), targets);
    let actual = PlaceRates::of(&kpi.counts, &grids, Some(unrecorded), targets);
    let grid_id = match key {
        Key::Grid(g) => Some(g),
        _ => None,
    };
    RatesRow { row: Row { code, name, parent_code, grid_id, kpi }, actual }
}

fn building_row(atlas: &Atlas, id: u32) -> Option<PlaceBuilding> {
    let b = atlas.building(id)?;
    let s: BuildingStats = atlas.building_stats(id).copied().unwrap_or_default();
    Some(PlaceBuilding {
        id,
        external_id: b.external_id.clone(),
        address: b.address.clone(),
        kind: b.kind.as_str(),
        point: [b.point.x(), b.point.y()],
        rental_units: s.rental_units,
        rental_units_registered: s.rental_units_registered,
        persons: s.persons,
        persons_registered: s.persons_registered,
        visits: s.visits,
    })
}

/// `GET /api/places/{place}`: a place's breadcrumb, KPIs and trend, and the places one level down.
#[utoipa::path(get, path = "/api/places/{place}", tag = "API", operation_id = "place",
    summary = "a place for the drill-down (district, street:CODE, community:CODE, grid:CODE): its breadcrumb, KPIs \
               against the targets with the estimated actual rates, KPIs by month, the places one level down \
               with theirs, a grid's buildings (not for a leader); within scope",
    params(("place" = String, Path, description = "district, street:CODE, community:CODE or grid:CODE")),
    responses(
        (status = 200, description = "the place", body = PlaceView),
        (status = 400, description = "not a place's form", body = Exception),
        (status = 403, description = "a place not wholly within the caller's scope", body = Exception),
        (status = 404, description = "no such place", body = Exception)))]
pub(crate) async fn place(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<Response> {
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let key = Key::parse(&atlas, &raw)?;
    let grids = key.grids(&atlas);
    if !scope.sees_all(&grids) || (key == Key::District && scope.grids.is_some()) {
        let (code, name, _) = key.names(&atlas);
        return Err(AppError::Forbidden(format!("{name} ({code}) is outside your scope")));
    }
    let targets = *state.targets();
    let counts = snapshot.grid_counts();
    let estimate = state.estimate(&atlas).await?;
    let history = state.history(&snapshot).await?;
    let row = rates_row(&atlas, key, &counts, &estimate.unrecorded, &targets);
    let sees = |k: Key| scope.sees_all(&k.grids(&atlas)) && (k != Key::District || scope.grids.is_none());
    let path = key
        .ancestors(&atlas)
        .into_iter()
        .map(|k| {
            let (code, name, _) = k.names(&atlas);
            PlaceRef { level: k.level(), code, name, in_scope: sees(k) }
        })
        .collect();
    let children = key
        .children(&atlas)
        .into_iter()
        .filter(|&k| sees(k))
        .map(|k| rates_row(&atlas, k, &counts, &estimate.unrecorded, &targets))
        .collect();
    let grid_buildings = match key {
        Key::Grid(g) if !scope.aggregates_only() => {
            let mut rows: Vec<PlaceBuilding> = atlas
                .grid(g)
                .map(|e| e.buildings.iter().filter_map(|&b| building_row(&atlas, b)).collect())
                .unwrap_or_default();
            rows.sort_by(|a, b| a.address.cmp(&b.address).then(a.id.cmp(&b.id)));
            Some(rows)
        }
        _ => None,
    };
    let trend = crate::summary::trend(&history, &grids, &targets);
    let (point, bbox) = extent(&atlas, &grids).unwrap_or_default();
    let body = PlaceView {
        level: key.level(),
        row,
        path,
        bbox,
        point,
        targets,
        trend,
        children,
        grid_buildings,
        version: snapshot.version(),
    };
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response())
}

/// `GET /api/buildings/{id}/trend`: a building's trend for the drill-down (not for a leader).
#[derive(Debug, Serialize, ToSchema)]
pub struct BuildingTrend {
    /// The building.
    pub building_id: u32,
    /// Its grid's code (the grid's trend: `GET /api/places/grid:{code}`).
    pub grid_code: String,
    /// The targets the rates are judged against.
    pub targets: Targets,
    /// Its KPIs at the end of each month of the history, oldest first (the last: today's): the
    /// months of its grid's trend, by the same rules (everything dated after a month undone).
    pub trend: Vec<TrendPoint>,
    /// The data version the figures are of.
    pub version: u64,
}

/// `GET /api/buildings/{id}/trend`: a building's KPIs at the end of each month of the history.
#[utoipa::path(get, path = "/api/buildings/{id}/trend", tag = "API", operation_id = "building_trend",
    summary = "a building's KPIs at the end of each month of the history, the months of its grid's trend (not for a \
               leader); within scope",
    params(IdParam),
    responses(
        (status = 200, description = "the building's trend", body = BuildingTrend),
        (status = 400, description = "an id that is not a whole number", body = Exception),
        (status = 403, description = "a role that sees no single building (a leader)", body = Exception),
        (status = 404, description = "no such building, or one outside the caller's scope", body = Exception)))]
pub(crate) async fn building_trend(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<Json<BuildingTrend>> {
    let id = super::parse_id("building", &raw)?;
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    // As every building route: one outside the caller's grids is not found.
    let grid = atlas
        .building(id)
        .and_then(|b| atlas.grid(b.grid_id))
        .filter(|g| scope.sees_grid(g.grid.id))
        .ok_or_else(|| super::not_found("building", id))?;
    let targets = *state.targets();
    let (months, counts) = state.building_history(&snapshot, id).await?;
    let trend = months
        .iter()
        .zip(counts)
        .map(|(m, stats)| TrendPoint {
            month: m.to_string(),
            kpi: Kpi::from_counts(Counts { buildings: 1, stats, ..Counts::default() }, &targets),
        })
        .collect();
    Ok(Json(BuildingTrend {
        building_id: id,
        grid_code: grid.grid.code.clone(),
        targets,
        trend,
        version: snapshot.version(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rentgrid_geodata::AtlasInput;
    use rentgrid_geodata::demo::{self, DemoOptions};

    #[test]
    fn places_are_named_by_level_and_code_and_know_their_ancestors() {
        let city = demo::generate(&DemoOptions { scale: 0.05, ..Default::default() }, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let g = &atlas.grids()[atlas.grids().len() / 2];
        assert_eq!(Key::parse(&atlas, "district").unwrap(), Key::District);
        let key = Key::parse(&atlas, &format!("grid:{}", g.grid.code)).unwrap();
        assert_eq!(key, Key::Grid(g.grid.id));
        assert_eq!(key.ancestors(&atlas), vec![Key::District, Key::Street(g.street), Key::Community(g.community)]);
        assert!(Key::Community(g.community).children(&atlas).contains(&key));
        let street = &atlas.streets()[g.street].street.code;
        assert_eq!(Key::parse(&atlas, &format!("street:{street}")).unwrap(), Key::Street(g.street));
        for (bad, is_400) in [("grid", true), ("planet:1", true), ("grid:nope", false), ("street:0", false)] {
            let e = Key::parse(&atlas, bad).unwrap_err();
            assert_eq!(matches!(e, AppError::BadRequest(_)), is_400, "{bad}: {e:?}");
            assert!(is_400 || matches!(e, AppError::NotFound(_)), "{bad}: {e:?}");
        }
    }
}
