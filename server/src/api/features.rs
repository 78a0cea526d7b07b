//! GeoJSON (RFC 7946) features: grids with their KPIs, buildings, the base map.

use super::{IdPath, MAX_BUILDINGS, not_found, parse_bbox, parse_id};
use crate::error::{ApiError, ApiResult};
use crate::scope::Scope;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use geo::{Geometry, LineString, MultiLineString, MultiPolygon};
use rentgrid_analysis::kpi::{Counts, Kpi, Targets};
use rentgrid_geodata::atlas::GridEntry;
use rentgrid_geodata::{Atlas, RoadClass};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The media type of GeoJSON.
pub(super) const GEOJSON: &str = "application/geo+json";

/// A geometry as a GeoJSON value.
pub(crate) fn geometry(g: impl Into<Geometry<f64>>) -> Value {
    let g: Geometry<f64> = g.into();
    serde_json::to_value(geojson::Geometry::from(&g)).unwrap_or(Value::Null)
}

pub(super) fn geojson_response(body: Value) -> Response {
    ([(header::CONTENT_TYPE, GEOJSON)], body.to_string()).into_response()
}

/// Properties of a grid feature.
#[derive(Serialize)]
struct GridProps<'a> {
    id: u32,
    code: &'a str,
    name: &'a str,
    community_code: &'a str,
    community_name: &'a str,
    street_code: &'a str,
    street_name: &'a str,
    label_point: [f64; 2],
    #[serde(flatten)]
    kpi: Kpi,
}

/// A grid as a Feature with its KPIs.
pub(super) fn grid_feature(atlas: &Atlas, g: &GridEntry, counts: &Counts, targets: &Targets) -> Value {
    let c = &atlas.communities()[g.community].community;
    let s = &atlas.streets()[g.street].street;
    let props = GridProps {
        id: g.grid.id,
        code: &g.grid.code,
        name: &g.grid.name,
        community_code: &c.code,
        community_name: &c.name,
        street_code: &s.code,
        street_name: &s.name,
        label_point: [g.label_point.x(), g.label_point.y()],
        kpi: Kpi::from_counts(*counts, targets),
    };
    json!({
        "type": "Feature",
        "id": g.grid.id,
        "geometry": geometry(g.grid.geometry.clone()),
        "properties": props,
    })
}

/// `GET /api/grids`: every grid the caller may see, with its KPIs.
pub async fn grids(State(state): State<AppState>, scope: Scope) -> Response {
    let atlas = state.atlas();
    let counts = state.grid_counts(&atlas);
    let features: Vec<Value> = atlas
        .grids()
        .iter()
        .filter(|g| scope.sees_grid(g.grid.id))
        .map(|g| grid_feature(&atlas, g, &counts[g.grid.id as usize], state.targets()))
        .collect();
    geojson_response(json!({ "type": "FeatureCollection", "features": features }))
}

/// `GET /api/grids/{id}`: one grid.
pub async fn grid(State(state): State<AppState>, scope: Scope, raw: IdPath) -> ApiResult<Response> {
    let id = parse_id("grid", &raw.0)?;
    let atlas = state.atlas();
    let g = atlas.grid(id).filter(|_| scope.sees_grid(id)).ok_or_else(|| not_found("grid", id))?;
    let counts = state.grid_counts(&atlas);
    Ok(geojson_response(grid_feature(&atlas, g, &counts[id as usize], state.targets())))
}

/// A building as a Feature with its counts.
pub(super) fn building_feature(atlas: &Atlas, id: u32) -> Option<Value> {
    let b = atlas.building(id)?;
    let s = atlas.building_stats(id).copied().unwrap_or_default();
    Some(json!({
        "type": "Feature",
        "id": b.id,
        "geometry": geometry(b.footprint.clone()),
        "properties": {
            "id": b.id,
            "kind": b.kind.as_str(),
            "grid_id": b.grid_id,
            "address": b.address,
            "floors": b.floors,
            "dwellings": b.dwellings,
            "rental_units": s.rental_units,
            "rental_units_registered": s.rental_units_registered,
            "persons": s.persons,
            "persons_registered": s.persons_registered,
            "visits": s.visits,
        },
    }))
}

/// `GET /api/buildings?bbox=…&limit=…`: building footprints in a box.
pub async fn buildings(
    State(state): State<AppState>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let bbox = parse_bbox(q.get("bbox").ok_or_else(|| {
        ApiError::BadRequest("bbox is required: /api/buildings?bbox=minLon,minLat,maxLon,maxLat".into())
    })?)?;
    let limit = match q.get("limit") {
        None => 2_000,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_BUILDINGS).contains(&n) => n,
            _ => {
                return Err(ApiError::BadRequest(format!(
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
    let features: Vec<Value> = ids.iter().take(limit).filter_map(|&id| building_feature(&atlas, id)).collect();
    Ok(geojson_response(json!({
        "type": "FeatureCollection",
        "numberMatched": ids.len(),
        "numberReturned": features.len(),
        "features": features,
    })))
}

/// `GET /api/buildings/{id}`: one building.
pub async fn building(State(state): State<AppState>, scope: Scope, raw: IdPath) -> ApiResult<Response> {
    let id = parse_id("building", &raw.0)?;
    let atlas = state.atlas();
    let visible = atlas.building(id).is_some_and(|b| scope.sees_grid(b.grid_id));
    let f = building_feature(&atlas, id).filter(|_| visible).ok_or_else(|| not_found("building", id))?;
    Ok(geojson_response(f))
}

/// `GET /api/basemap`: the base layer drawn from our own data — district outline, street and
/// town areas, blocks, roads by class.
pub async fn basemap(State(state): State<AppState>) -> Response {
    let body = state.basemap(|atlas| basemap_json(atlas).into_bytes());
    ([(header::CONTENT_TYPE, GEOJSON), (header::CACHE_CONTROL, "public, max-age=300")], body.to_vec()).into_response()
}

fn basemap_json(atlas: &Atlas) -> String {
    let mut features = vec![json!({
        "type": "Feature",
        "geometry": geometry(atlas.district().outline.clone()),
        "properties": { "kind": "district", "code": atlas.district().code, "name": atlas.district().name },
    })];
    for s in atlas.streets() {
        let parts: Vec<&MultiPolygon<f64>> =
            s.grids.iter().filter_map(|&g| atlas.grid(g)).map(|g| &g.grid.geometry).collect();
        let area = geo::unary_union(parts);
        features.push(json!({
            "type": "Feature",
            "geometry": geometry(area),
            "properties": { "kind": "street", "code": s.street.code, "name": s.street.name },
        }));
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
        features.push(json!({
            "type": "Feature",
            "geometry": geometry(MultiLineString(lines)),
            "properties": { "kind": kind },
        }));
    }
    let blocks = MultiPolygon(atlas.blocks().iter().map(|b| b.geometry.clone()).collect());
    features.push(json!({ "type": "Feature", "geometry": geometry(blocks), "properties": { "kind": "block" } }));
    for class in [RoadClass::Local, RoadClass::Secondary, RoadClass::Arterial] {
        let lines: Vec<LineString<f64>> =
            atlas.roads().iter().filter(|r| r.class == class).map(|r| r.line.clone()).collect();
        features.push(json!({
            "type": "Feature",
            "geometry": geometry(MultiLineString(lines)),
            "properties": { "kind": "road", "class": class.as_str() },
        }));
    }
    json!({ "type": "FeatureCollection", "features": features }).to_string()
}
