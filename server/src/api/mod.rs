//! The HTTP API. [`app`] builds the router from state, apart from `main`, so tests drive it
//! with `oneshot` and no socket.

mod campaigns;
mod coverage;
mod extract;
pub(crate) mod features;
mod hotspots;
mod imports;
mod ogc;
mod openapi;
mod tiles;
mod visits;

use crate::error::{ApiError, ApiResult};
use crate::scope::Scope;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use geo::Rect;
use rentgrid_analysis::kpi::{self, Level};
use serde_json::{Value, json};
use std::collections::HashMap;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

pub use extract::ApiJson;

/// The most buildings one `/api/buildings` response carries.
pub const MAX_BUILDINGS: usize = 10_000;

/// The router: API routes, OGC API – Features (its landing page at `/` for clients asking for
/// JSON), then the web map's static files.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/api/district", get(district))
        .route("/api/grids", get(features::grids))
        .route("/api/grids/{id}", get(features::grid))
        .route("/api/buildings", get(features::buildings))
        .route("/api/buildings/{id}", get(features::building))
        .route("/api/basemap", get(features::basemap))
        .route("/api/stats", get(stats))
        .route("/api/hotspots", get(hotspots::hotspots))
        .route("/api/staffing", get(coverage::staffing))
        .route("/api/coverage", get(coverage::coverage))
        .route("/api/territory/proposals", post(coverage::propose))
        .route("/api/territory/proposals/{id}", get(coverage::proposal))
        .route("/api/territory/proposals/{id}/accept", post(coverage::accept))
        .route("/api/assessment", get(coverage::assessment))
        .route("/api/exports/{file}", get(exports))
        .route("/api/visits", post(visits::create))
        .route("/api/unregistered-candidates", get(campaigns::candidates))
        .route("/api/campaigns", get(campaigns::list).post(campaigns::create))
        .route("/api/campaigns/{id}", get(campaigns::one))
        .route("/api/campaigns/{id}/routes", get(campaigns::routes))
        .route("/api/campaigns/{id}/blocks/{block}/phase", post(campaigns::phase))
        .route(
            "/api/imports/{kind}",
            post(imports::import).layer(axum::extract::DefaultBodyLimit::max(imports::MAX_BYTES)),
        )
        .route("/api", get(openapi::document))
        .route("/api/{*rest}", get(unknown_api))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tiles::tile))
        .route("/tiles/{file}", get(tiles::tilejson))
        .merge(ogc::routes());
    let web = state.web_dir().filter(|d| d.join("index.html").is_file()).cloned();
    let router = match web {
        Some(dir) => api.fallback_service(ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html")))),
        None => api.fallback(no_web_map),
    };
    router
        .layer(axum::middleware::from_fn_with_state(state.clone(), ogc::landing_at_root))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn unknown_api(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API endpoint at {}", uri.path()))
}

async fn no_web_map(uri: Uri) -> Response {
    if uri.path() == "/" {
        Html(
            "<!doctype html><meta charset=utf-8><title>rentgrid</title><p>rentgrid is running, but the web map \
             is not built. Run <code>npm ci &amp;&amp; npm run build</code> in <code>web-map/</code>, then start \
             <code>rentgrid serve --web web-map/dist</code>. The API is at <a href=/api/district>/api/district</a>.",
        )
        .into_response()
    } else {
        ApiError::NotFound(format!("nothing at {}", uri.path())).into_response()
    }
}

async fn health(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let atlas = state.atlas();
    let info = state.store().info().await?;
    Ok(Json(json!({
        "status": "ok",
        "store": info.backend,
        "origin": info.origin,
        "grids": atlas.grids().len(),
        "buildings": atlas.buildings().len(),
        "atlas_version": atlas.version(),
    })))
}

async fn district(State(state): State<AppState>, _scope: Scope) -> Json<Value> {
    let atlas = state.atlas();
    let bb = atlas.bbox();
    let d = atlas.district();
    Json(json!({
        "code": d.code,
        "name": d.name,
        "bbox": [bb.min().x, bb.min().y, bb.max().x, bb.max().y],
        "center": [bb.center().x, bb.center().y],
        "targets": state.targets(),
        "near_band": kpi::NEAR_BAND,
        "streets": atlas.streets().len(),
        "communities": atlas.communities().len(),
        "grids": atlas.grids().len(),
    }))
}

/// A 400 naming the first query parameter not in `known`, with the ones the endpoint takes.
pub(crate) fn reject_unknown(q: &HashMap<String, String>, known: &[&str]) -> ApiResult<()> {
    match q.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => {
            Err(ApiError::BadRequest(format!("unknown parameter {k:?}: this endpoint takes {}", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// `GET /api/stats?level=district|street|community|grid[&month=YYYY-MM]`: KPIs of every place at
/// that level, on today's register or at the end of a month of the history.
async fn stats(
    State(state): State<AppState>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    reject_unknown(&q, &["level", "month"])?;
    let level: Level = q.get("level").map_or(Ok(Level::Street), |s| s.parse()).map_err(ApiError::BadRequest)?;
    let month =
        q.get("month").map(|s| s.parse::<rentgrid_geodata::Month>()).transpose().map_err(ApiError::BadRequest)?;
    let atlas = state.atlas();
    let mut rows = match month {
        None => kpi::rollup(&atlas, &state.grid_counts(&atlas), level, state.targets()),
        Some(m) => {
            let history = state.history(&atlas).await?;
            kpi::rollup(&atlas, hotspots::month_counts(&history, m)?, level, state.targets())
        }
    };
    if level == Level::Grid {
        rows.retain(|r| r.grid_id.is_none_or(|g| scope.sees_grid(g)));
    }
    let body =
        json!({ "level": level, "month": month.map(|m| m.to_string()), "targets": state.targets(), "rows": rows });
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response())
}

/// `GET /api/exports/{layer}.{format}[?lang=zh|en]`: a layer or table as a file, within the
/// caller's scope (grids, buildings, streets, communities, boundaries; geojson, csv, xlsx). The
/// person-level ledgers answer 403.
async fn exports(
    State(state): State<AppState>,
    scope: Scope,
    Path(file): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    use crate::export::{self, Format, Layer};
    let (layer, format) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::NotFound(format!("name the file as layer.format, e.g. grids.csv, not {file:?}")))?;
    if let Some(table) = coverage::Table::named(layer) {
        let format: Format = format.parse().map_err(ApiError::NotFound)?;
        let lang = parse_lang(&q)?;
        let bytes = coverage::export(&state, &scope, table, format, lang, &q).await?;
        return Ok(attachment(&file, format, bytes));
    }
    let layer: Layer = layer.parse().map_err(ApiError::NotFound)?;
    if let Layer::Ledger(_) = layer {
        return Err(ApiError::Forbidden(format!(
            "{} is a person-level ledger: until login lands it is exported only by `rentgrid export {}` on the server",
            layer.as_str(),
            layer.as_str()
        )));
    }
    let format: Format = format.parse().map_err(ApiError::NotFound)?;
    let lang = parse_lang(&q)?;
    let atlas = state.atlas();
    let counts = state.grid_counts(&atlas);
    let targets = *state.targets();
    let bytes =
        tokio::task::spawn_blocking(move || export::export(&atlas, &counts, &targets, layer, format, lang, &scope))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(attachment(&file, format, bytes))
}

/// `lang=zh|en` of an export (default zh).
fn parse_lang(q: &HashMap<String, String>) -> ApiResult<crate::export::Lang> {
    use crate::export::Lang;
    match q.get("lang").map(String::as_str) {
        None | Some("zh") | Some("zh-CN") => Ok(Lang::Zh),
        Some("en") => Ok(Lang::En),
        Some(other) => Err(ApiError::BadRequest(format!("lang={other:?}: use zh or en"))),
    }
}

/// A file download.
fn attachment(file: &str, format: crate::export::Format, bytes: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", file.replace('"', ""));
    ([(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

pub(crate) use rentgrid_geodata::clock::{now_rfc3339, today};

/// Parses `minLon,minLat,maxLon,maxLat`.
pub fn parse_bbox(s: &str) -> Result<Rect<f64>, ApiError> {
    let bad =
        |why: &str| ApiError::BadRequest(format!("bbox {s:?} {why}: expected minLon,minLat,maxLon,maxLat in degrees"));
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 4 {
        return Err(bad("does not have 4 numbers"));
    }
    let mut v = [0.0f64; 4];
    for (i, p) in parts.iter().enumerate() {
        v[i] = p.parse::<f64>().map_err(|_| bad("has a value that is not a number"))?;
        if !v[i].is_finite() {
            return Err(bad("has a value that is not finite"));
        }
    }
    let [x0, y0, x1, y1] = v;
    if !(-180.0..=180.0).contains(&x0)
        || !(-180.0..=180.0).contains(&x1)
        || !(-90.0..=90.0).contains(&y0)
        || !(-90.0..=90.0).contains(&y1)
    {
        return Err(bad("is outside longitude ±180 / latitude ±90"));
    }
    if x0 > x1 || y0 > y1 {
        return Err(bad("has its minimum above its maximum"));
    }
    Ok(Rect::new(geo::coord! { x: x0, y: y0 }, geo::coord! { x: x1, y: y1 }))
}

/// Parses a numeric id from a path segment.
fn parse_id(what: &str, raw: &str) -> Result<u32, ApiError> {
    raw.parse::<u32>().map_err(|_| ApiError::BadRequest(format!("{what} id {raw:?} is not a whole number")))
}

/// Path parameter holding an id.
type IdPath = Path<String>;

/// 404 for an id that does not exist.
fn not_found(what: &str, id: u32) -> ApiError {
    ApiError::NotFound(format!("{what} {id} does not exist"))
}

/// A JSON response with a status.
fn json_status(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_parsing_explains_mistakes() {
        assert!(parse_bbox("121.5,29.8,121.6,29.9").is_ok());
        assert!(parse_bbox(" 121.5 , 29.8,121.6,29.9").is_ok());
        for bad in ["", "1,2,3", "a,b,c,d", "121.6,29.8,121.5,29.9", "190,0,191,1", "NaN,0,1,1", "1,2,3,4,5"] {
            let e = parse_bbox(bad).unwrap_err();
            assert!(matches!(e, ApiError::BadRequest(ref m) if m.contains("minLon")), "{bad}: {e:?}");
        }
    }
}
