//! Vector tiles: `GET /tiles/{layer}/{z}/{x}/{y}.mvt` (or `.pbf`, the same bytes) and TileJSON
//! 3.0 at `GET /tiles/{layer}.json`, so MapLibre and GDAL's MVT driver read our layers.
//!
//! Tiles come from the [`TileCache`](crate::tile_cache::TileCache), built from the Atlas in the
//! caller's scope. Caching by clients: every tile carries a weak `ETag` (a hash of its bytes) and
//! `Cache-Control: max-age=0, must-revalidate`. A visit recolours its grid at once, and the
//! caseworker who recorded it must see that on the next fetch, so a client may keep a tile but
//! must ask again before using it; the answer is usually a bodyless 304, cheap for both sides,
//! while a short `max-age` would show stale KPIs for its whole length. Tiles of a scope that
//! sees everything are `public` (an HTTP cache in front of several servers may share them);
//! those of a narrower scope are `private`.

use super::extract::{ApiPath, LenientQuery};
use crate::api::error::Exception;
use crate::encoded::accepts_gzip;
use crate::error::{AppError, AppResult};
use crate::scope::Scope;
use crate::state::AppState;
use crate::tile_cache::{CachedTile, Heat, Ready};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rentgrid_tiles::heat::HeatCount;
use rentgrid_tiles::{Layer, TileId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The media type of Mapbox Vector Tiles.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// The attribution TileJSON carries.
const ATTRIBUTION: &str = "rentgrid · 网格与出租房屋台账 (grid and rental housing register)";

pub(super) fn parse_layer(raw: &str) -> Result<Layer, AppError> {
    raw.parse::<Layer>().map_err(|e| AppError::NotFound(e.to_string()))
}

fn parse_num<T: std::str::FromStr>(what: &str, raw: &str) -> Result<T, AppError> {
    raw.parse::<T>().map_err(|_| AppError::BadRequest(format!("tile {what} {raw:?} is not a whole number")))
}

/// The tile of the path segments `{z}/{x}/{y}.mvt` (or `.pbf`): 400 for a segment that is not a
/// whole number, 404 for a tile outside its zoom's range or a file of another kind.
pub(super) fn parse_tile(z: &str, x: &str, file: &str) -> Result<TileId, AppError> {
    let y = file
        .strip_suffix(".mvt")
        .or_else(|| file.strip_suffix(".pbf"))
        .ok_or_else(|| AppError::NotFound(format!("no tile at {file:?}: name it {{y}}.mvt or {{y}}.pbf")))?;
    let (z, x, y) = (parse_num::<u8>("zoom", z)?, parse_num::<u32>("x", x)?, parse_num::<u32>("y", y)?);
    TileId::new(z, x, y).map_err(|e| AppError::NotFound(e.to_string()))
}

/// The query of a tile or a TileJSON (other parameters are ignored, as tile clients may add
/// their own).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TileQuery {
    /// What the heat tiles count (heat layer only).
    count: Option<String>,
}

/// `GET /tiles/{layer}/{z}/{x}/{y}.mvt`: one tile, 204 when it draws nothing, 304 when the
/// client's `If-None-Match` holds its tag; gzipped when the client accepts gzip.
#[utoipa::path(get, path = "/tiles/{layer}/{z}/{x}/{y}", tag = "Tiles", operation_id = "tile",
    summary = "one vector tile (Mapbox Vector Tile 2.1), 204 when it draws nothing",
    params(
        ("layer" = String, Path, description = "the tile set: grids, buildings, rental_units, workplaces, boundaries, basemap or heat"),
        ("z" = u8, Path, description = "zoom"), ("x" = u32, Path, description = "column"),
        ("y" = String, Path, description = "row, with .mvt or .pbf"),
        TileQuery),
    responses(
        (status = 200, description = "the tile", content_type = "application/vnd.mapbox-vector-tile", body = crate::api::openapi::Binary),
        (status = 204, description = "the tile draws nothing"),
        (status = 304, description = "the client's copy is current"),
        (status = 400, description = "a bad zoom, column, row or count", body = Exception),
        (status = 403, description = "a layer of single buildings, asked by a leader", body = Exception),
        (status = 404, description = "no such tile set or tile", body = Exception)))]
pub(crate) async fn tile(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath((layer, z, x, file)): ApiPath<(String, String, String, String)>,
    LenientQuery(q): LenientQuery<TileQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let layer = parse_layer(&layer)?;
    if scope.aggregates_only() && matches!(layer, Layer::Buildings | Layer::RentalUnits | Layer::Workplaces) {
        return Err(AppError::Forbidden(format!(
            "the {layer} tiles draw single buildings: leaders see aggregates only"
        )));
    }
    let count: HeatCount = match q.count.as_deref() {
        None => HeatCount::default(),
        Some(_) if layer != Layer::Heat => {
            return Err(AppError::BadRequest(format!("count= is a parameter of the heat tiles, not of {layer}")));
        }
        Some(c) => c.parse().map_err(AppError::BadRequest)?,
    };
    let tile = parse_tile(&z, &x, &file)?;
    let public = scope.grids.is_none();
    if layer == Layer::Grids {
        // The grids carry the day's estimated actual rates: make the estimate first (once per
        // snapshot and day); without it the tile is drawn without them and not cached.
        if let Err(e) = state.estimate(&state.atlas()).await {
            tracing::warn!("grids tile {tile} without the unrecorded estimate: {e}");
        }
    }
    // A heat tile is drawn from the heat surface kept now, which may be of an older snapshot
    // than the current one (see `AppState::heat_surface`).
    let heat = match layer {
        Layer::Heat => state.heat_surface(count).await?,
        _ => Arc::new(Heat::none()),
    };
    // A heat tile says which data its surface reflects.
    let answer = |t: &CachedTile| {
        let mut res = respond(t, &headers, public);
        if layer == Layer::Heat {
            res.headers_mut().insert(DATA_VERSION, HeaderValue::from(heat.version));
        }
        res
    };
    if let Some(hit) = state.tiles().cached(layer, tile, &scope, &heat) {
        return Ok(answer(&hit));
    }
    let ready = Ready::of(&state).await.map_err(|e| AppError::Internal(format!("tile {layer}/{tile}: {e}")))?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (builder, heat_of_build) = (state.clone(), heat.clone());
    state.tiles().spawn_build(move || {
        let _ = tx.send(builder.tiles().get_or_build(&builder, &ready, layer, tile, &scope, &heat_of_build));
    });
    let built = rx
        .await
        .map_err(|_| AppError::Internal(format!("tile {layer}/{tile}: the build failed")))?
        .map_err(|e| AppError::Internal(format!("tile {layer}/{tile}: {e}")))?;
    Ok(answer(&built))
}

/// The header of a heat tile naming the data version its surface reflects.
pub const DATA_VERSION: &str = "x-rentgrid-data-version";

fn respond(t: &CachedTile, req: &HeaderMap, public: bool) -> Response {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&t.etag) {
        h.insert(header::ETAG, v);
    }
    let cache = if public { "public, max-age=0, must-revalidate" } else { "private, max-age=0, must-revalidate" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if if_none_match(req, &t.etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    let (Some(body), Some(gz)) = (&t.body, &t.gzip) else {
        return (StatusCode::NO_CONTENT, h).into_response();
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT_CONTENT_TYPE));
    if accepts_gzip(req) {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (h, gz.clone()).into_response()
    } else {
        (h, body.clone()).into_response()
    }
}

/// Whether `If-None-Match` lists `etag` (weak comparison, as RFC 9110 asks for it) or `*`.
fn if_none_match(req: &HeaderMap, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    req.get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// A vector layer of a tile set, as TileJSON describes it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VectorLayer {
    /// The layer's id in the tiles.
    id: &'static str,
    /// What it draws.
    description: &'static str,
    /// The first zoom it appears at.
    minzoom: u8,
    /// The last zoom it is built at.
    maxzoom: u8,
    /// Its attributes and what each is.
    fields: BTreeMap<&'static str, &'static str>,
}

/// A tile set's TileJSON 3.0.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TileJson {
    /// The TileJSON version: 3.0.0.
    tilejson: &'static str,
    /// The tile set's name.
    name: String,
    /// What it shows.
    description: String,
    /// The tile set's version.
    version: &'static str,
    /// Always xyz.
    scheme: &'static str,
    /// The tile URL template.
    tiles: Vec<String>,
    /// Its vector layers.
    vector_layers: Vec<VectorLayer>,
    /// minLon, minLat, maxLon, maxLat.
    bounds: [f64; 4],
    /// Longitude, latitude, zoom.
    #[schema(value_type = Vec<f64>)]
    center: Vec<serde_json::Value>,
    /// The first zoom.
    minzoom: u8,
    /// The last zoom.
    maxzoom: u8,
    /// Who to credit.
    attribution: &'static str,
}

/// `GET /tiles/{layer}.json`: the tile set's TileJSON 3.0, with absolute tile URLs on the host
/// the client asked.
#[utoipa::path(get, path = "/tiles/{file}", tag = "Tiles", operation_id = "tilejson",
    summary = "a tile set's TileJSON 3.0",
    params(("file" = String, Path, description = "{layer}.json"), TileQuery),
    responses(
        (status = 200, description = "the TileJSON", body = TileJson),
        (status = 400, description = "a bad count", body = Exception),
        (status = 404, description = "no such tile set", body = Exception)))]
pub(crate) async fn tilejson(
    State(state): State<AppState>,
    ApiPath(file): ApiPath<String>,
    LenientQuery(q): LenientQuery<TileQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let name = file
        .strip_suffix(".json")
        .ok_or_else(|| AppError::NotFound(format!("no tile set at /tiles/{file}: use /tiles/{{layer}}.json")))?;
    let layer = parse_layer(name)?;
    let atlas = state.atlas();
    let bounds = rentgrid_tiles::bounds(&atlas);
    let (minzoom, maxzoom) = (layer.minzoom(), layer.maxzoom());
    let center_zoom = 13.clamp(minzoom, maxzoom);
    let query = match q.count.as_deref() {
        None => String::new(),
        Some(_) if layer != Layer::Heat => {
            return Err(AppError::BadRequest(format!("count= is a parameter of the heat tiles, not of {layer}")));
        }
        Some(c) => format!("?count={}", c.parse::<HeatCount>().map_err(AppError::BadRequest)?.as_str()),
    };
    let path = format!("/tiles/{}/{{z}}/{{x}}/{{y}}.mvt{query}", layer.as_str());
    let url = format!("{}{path}", super::ogc::base_url(&headers));
    let vector_layers = layer
        .vector_layers()
        .iter()
        .map(|l| VectorLayer {
            id: l.id,
            description: l.description,
            minzoom: l.minzoom,
            maxzoom: l.maxzoom,
            fields: l.fields.iter().map(|f| (f.name, f.description)).collect(),
        })
        .collect();
    let body = TileJson {
        tilejson: "3.0.0",
        name: format!("rentgrid {}", layer.as_str()),
        description: format!("{} of {}", layer.as_str(), atlas.district().name),
        version: "1.0.0",
        scheme: "xyz",
        tiles: vec![url],
        vector_layers,
        bounds,
        center: vec![
            ((bounds[0] + bounds[2]) / 2.0).into(),
            ((bounds[1] + bounds[3]) / 2.0).into(),
            center_zoom.into(),
        ],
        minzoom,
        maxzoom,
        attribution: ATTRIBUTION,
    };
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")));
        }
        h
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let tag = "W/\"00ff\"";
        assert!(if_none_match(&headers(&[(header::IF_NONE_MATCH, "\"00ff\"")]), tag));
        assert!(if_none_match(&headers(&[(header::IF_NONE_MATCH, "\"a\", W/\"00ff\"")]), tag));
        assert!(if_none_match(&headers(&[(header::IF_NONE_MATCH, "*")]), tag));
        assert!(!if_none_match(&headers(&[(header::IF_NONE_MATCH, "\"00fe\"")]), tag));
        assert!(!if_none_match(&HeaderMap::new(), tag));
    }
}
