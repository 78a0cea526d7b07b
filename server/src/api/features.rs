//! GeoJSON (RFC 7946) features: grids with their KPIs, buildings, the base map.

use super::extract::ApiPath;
use super::geojson::{Feature, FeatureCollection, GeoJson, geometry};
use super::query::ApiQuery;
use super::{IdParam, MAX_BUILDINGS, not_found, parse_bbox, parse_id};
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::scope::Scope;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use geo::{LineString, MultiLineString, MultiPolygon};
use rentgrid_analysis::actual_rates::PlaceRates;
use rentgrid_analysis::kpi::{Counts, Kpi, Targets};
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::atlas::GridEntry;
use rentgrid_geodata::{Atlas, BuildingStats, RoadClass};
use rentgrid_tiles::MapGeometry;
use rentgrid_tiles::map_geometry::AreaKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The properties of a grid feature: its names and codes, its KPIs, and its estimated actual rates.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct GridProperties {
    /// The grid's id.
    pub id: u32,
    /// 网格编码.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its community's code.
    pub community_code: String,
    /// Its community's name.
    pub community_name: String,
    /// Its street's code.
    pub street_code: String,
    /// Its street's name.
    pub street_name: String,
    /// A point inside the grid's polygon, for its label: longitude, latitude.
    pub label_point: [f64; 2],
    /// Its counts and KPIs.
    #[serde(flatten)]
    pub kpi: Kpi,
    /// Its rates over the actual counts (recorded and estimated unrecorded), with their 90%
    /// intervals and verdicts, from today's estimate.
    #[serde(flatten)]
    pub rates: PlaceRates,
}

/// A grid as a Feature with its KPIs and, from `unrecorded` (today's estimate), its estimated
/// actual rates.
pub(crate) fn grid_feature(
    atlas: &Atlas,
    g: &GridEntry,
    counts: &Counts,
    targets: &Targets,
    unrecorded: Option<&Unrecorded>,
) -> Feature<GridProperties> {
    let c = &atlas.communities()[g.community].community;
    let s = &atlas.streets()[g.street].street;
    let props = GridProperties {
        id: g.grid.id,
        code: g.grid.code.clone(),
        name: g.grid.name.clone(),
        community_code: c.code.clone(),
        community_name: c.name.clone(),
        street_code: s.code.clone(),
        street_name: s.name.clone(),
        label_point: [g.label_point.x(), g.label_point.y()],
        kpi: Kpi::from_counts(*counts, targets),
        rates: PlaceRates::of(counts, &[g.grid.id], unrecorded, targets),
    };
    Feature::new(geometry(g.grid.geometry.clone()), props).with_id(g.grid.id)
}

/// `GET /api/grids`: every grid the caller may see, with its KPIs and estimated actual rates.
#[utoipa::path(get, path = "/api/grids", tag = "API", operation_id = "grids",
    summary = "every grid as a Feature with its KPIs and estimated actual rates",
    responses((status = 200, description = "the grids", body = FeatureCollection<GridProperties>, content_type = "application/geo+json")))]
pub(crate) async fn grids(
    State(state): State<AppState>,
    scope: Scope,
) -> AppResult<GeoJson<FeatureCollection<GridProperties>>> {
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let estimate = state.estimate(&atlas).await?;
    let counts = snapshot.grid_counts();
    let features = atlas
        .grids()
        .iter()
        .filter(|g| scope.sees_grid(g.grid.id))
        .map(|g| grid_feature(&atlas, g, &counts[g.grid.id as usize], state.targets(), Some(&estimate.unrecorded)))
        .collect();
    Ok(GeoJson(FeatureCollection::new(features)))
}

/// `GET /api/grids/{id}`: one grid.
#[utoipa::path(get, path = "/api/grids/{id}", tag = "API", operation_id = "grid", summary = "one grid",
    params(IdParam),
    responses(
        (status = 200, description = "the grid", body = Feature<GridProperties>, content_type = "application/geo+json"),
        (status = 400, description = "an id that is not a whole number", body = Exception),
        (status = 404, description = "no such grid, or one the caller may not see", body = Exception)))]
pub(crate) async fn grid(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<GeoJson<Feature<GridProperties>>> {
    let id = parse_id("grid", &raw)?;
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let g = atlas.grid(id).filter(|_| scope.sees_grid(id)).ok_or_else(|| not_found("grid", id))?;
    let estimate = state.estimate(&atlas).await?;
    let counts = snapshot.grid_counts();
    Ok(GeoJson(grid_feature(&atlas, g, &counts[id as usize], state.targets(), Some(&estimate.unrecorded))))
}

/// The properties of a building feature: what it is and its counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct BuildingProperties {
    /// The building's id.
    pub id: u32,
    /// Its kind: tower, walkup, village_house, factory, dormitory or shop.
    pub kind: &'static str,
    /// The grid it lies in.
    pub grid_id: u32,
    /// Its door-plate address.
    pub address: String,
    /// Floors above ground.
    pub floors: u16,
    /// Dwellings it holds.
    pub dwellings: u32,
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

/// A building as a Feature with its counts.
pub(crate) fn building_feature(atlas: &Atlas, id: u32) -> Option<Feature<BuildingProperties>> {
    let b = atlas.building(id)?;
    let s: BuildingStats = atlas.building_stats(id).copied().unwrap_or_default();
    let props = BuildingProperties {
        id: b.id,
        kind: b.kind.as_str(),
        grid_id: b.grid_id,
        address: b.address.clone(),
        floors: b.floors,
        dwellings: b.dwellings,
        rental_units: s.rental_units,
        rental_units_registered: s.rental_units_registered,
        persons: s.persons,
        persons_registered: s.persons_registered,
        visits: s.visits,
    };
    Some(Feature::new(geometry(b.footprint.clone()), props).with_id(b.id))
}

/// The query of `GET /api/buildings`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BuildingsQuery {
    /// minLon,minLat,maxLon,maxLat in degrees (WGS84); required.
    #[param(required = true)]
    bbox: Option<String>,
    /// The most buildings answered (1 to 10,000; default 2,000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10_000)]
    limit: Option<String>,
}

/// `GET /api/buildings?bbox=…&limit=…`: building footprints in a box.
#[utoipa::path(get, path = "/api/buildings", tag = "API", operation_id = "buildings",
    summary = "building footprints in a box (at most 10,000)",
    params(BuildingsQuery),
    responses(
        (status = 200, description = "the buildings, with how many match", body = FeatureCollection<BuildingProperties>, content_type = "application/geo+json"),
        (status = 400, description = "a missing or malformed bbox, a bad limit or an unknown parameter", body = Exception)))]
pub(crate) async fn buildings(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<BuildingsQuery>,
) -> AppResult<GeoJson<FeatureCollection<BuildingProperties>>> {
    let bbox = parse_bbox(q.bbox.as_deref().ok_or_else(|| {
        AppError::BadRequest("bbox is required: /api/buildings?bbox=minLon,minLat,maxLon,maxLat".into())
    })?)?;
    let limit = match q.limit.as_deref() {
        None => 2_000,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_BUILDINGS).contains(&n) => n,
            _ => {
                return Err(AppError::BadRequest(format!(
                    "limit {s:?} must be a whole number from 1 to {MAX_BUILDINGS}"
                )));
            }
        },
    };
    let atlas = state.atlas();
    let ids: Vec<u32> = atlas
        .buildings_in(bbox)
        .into_iter()
        .filter(|&id| atlas.building(id).is_some_and(|b| scope.sees_grid(b.grid_id)))
        .collect();
    let features: Vec<_> = ids.iter().take(limit).filter_map(|&id| building_feature(&atlas, id)).collect();
    let mut body = FeatureCollection::new(features);
    body.number_matched = Some(ids.len());
    body.number_returned = Some(body.features.len());
    Ok(GeoJson(body))
}

/// `GET /api/buildings/{id}`: one building.
#[utoipa::path(get, path = "/api/buildings/{id}", tag = "API", operation_id = "building", summary = "one building",
    params(IdParam),
    responses(
        (status = 200, description = "the building", body = Feature<BuildingProperties>, content_type = "application/geo+json"),
        (status = 400, description = "an id that is not a whole number", body = Exception),
        (status = 404, description = "no such building, or one the caller may not see", body = Exception)))]
pub(crate) async fn building(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(raw): ApiPath<String>,
) -> AppResult<GeoJson<Feature<BuildingProperties>>> {
    let id = parse_id("building", &raw)?;
    let atlas = state.atlas();
    let visible = atlas.building(id).is_some_and(|b| scope.sees_grid(b.grid_id));
    let f = building_feature(&atlas, id).filter(|_| visible).ok_or_else(|| not_found("building", id))?;
    Ok(GeoJson(f))
}

/// The properties of a base-map feature: what it draws.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct BasemapProperties {
    /// district, street, street_boundary, community_boundary, block or road.
    pub kind: &'static str,
    /// The district's or street's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The district's or street's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A road's class: local, secondary or arterial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<&'static str>,
}

impl BasemapProperties {
    fn kind(kind: &'static str) -> Self {
        Self { kind, code: None, name: None, class: None }
    }

    fn named(kind: &'static str, code: &str, name: &str) -> Self {
        Self { code: Some(code.into()), name: Some(name.into()), ..Self::kind(kind) }
    }
}

/// `GET /api/basemap`: the base layer drawn from our own data — district outline, street and
/// town areas, blocks, roads by class.
#[utoipa::path(get, path = "/api/basemap", tag = "API", operation_id = "basemap",
    summary = "the base map drawn from the register's own geometry",
    responses((status = 200, description = "district, street areas, boundaries, blocks and roads", body = FeatureCollection<BasemapProperties>, content_type = "application/geo+json")))]
pub(crate) async fn basemap(State(state): State<AppState>) -> AppResult<Response> {
    // The street areas are the snapshot's map geometry's, derived once per district geometry.
    let snapshot = state.snapshot();
    let map = snapshot.map_geometry().await.map_err(AppError::Internal)?;
    let body = snapshot.basemap(|atlas| basemap_json(atlas, &map).into_bytes());
    Ok((
        [(header::CONTENT_TYPE, super::geojson::GEOJSON), (header::CACHE_CONTROL, "public, max-age=300")],
        body.to_vec(),
    )
        .into_response())
}

fn basemap_json(atlas: &Atlas, map: &MapGeometry) -> String {
    let d = atlas.district();
    let mut features =
        vec![Feature::new(geometry(d.outline.clone()), BasemapProperties::named("district", &d.code, &d.name))];
    for a in map.areas().iter().filter(|a| a.kind == AreaKind::Street) {
        features.push(Feature::new(geometry(a.geometry.clone()), BasemapProperties::named("street", &a.code, &a.name)));
    }
    // Boundaries between streets and between communities of one street, each segment once.
    let (mut street_lines, mut community_lines) = (Vec::new(), Vec::new());
    for e in atlas.shared_edges() {
        let (Some(a), Some(b)) = (atlas.grid(e.a), atlas.grid(e.b)) else { continue };
        let line = LineString::from(vec![e.line.start, e.line.end]);
        if a.street != b.street {
            street_lines.push(line);
        } else if a.community != b.community {
            community_lines.push(line);
        }
    }
    for (kind, lines) in [("street_boundary", street_lines), ("community_boundary", community_lines)] {
        features.push(Feature::new(geometry(MultiLineString(lines)), BasemapProperties::kind(kind)));
    }
    let blocks = MultiPolygon(atlas.blocks().iter().map(|b| b.geometry.clone()).collect());
    features.push(Feature::new(geometry(blocks), BasemapProperties::kind("block")));
    for class in [RoadClass::Local, RoadClass::Secondary, RoadClass::Arterial] {
        let lines: Vec<LineString<f64>> =
            atlas.roads().iter().filter(|r| r.class == class).map(|r| r.line.clone()).collect();
        let props = BasemapProperties { class: Some(class.as_str()), ..BasemapProperties::kind("road") };
        features.push(Feature::new(geometry(MultiLineString(lines)), props));
    }
    serde_json::to_string(&FeatureCollection::new(features)).unwrap_or_default()
}
