//! The HTTP API. [`app`] builds the router from state, apart from `main`, so tests drive it
//! with `oneshot` and no socket.

mod audit;
pub mod authorize;
mod campaigns;
mod coverage;
pub mod error;
mod events;
mod extract;
pub(crate) mod features;
mod field;
mod fonts;
#[cfg(test)]
mod fuzz;
pub(crate) mod geojson;
mod hazards;
mod hotspots;
pub use hotspots::{LEADERS_VIEW_METRICS, prepare_leaders_view};
pub mod identity;
mod imports;
mod limits;
mod map_config;
mod observe;
mod ogc;
pub(crate) mod openapi;
mod persons;
mod places;
mod plates;
mod position;
mod query;
mod search;
mod summary;
mod suppress;
mod tiles;
mod visits;

pub use tiles::DATA_VERSION;

use crate::api::error::Exception;
use crate::encoded;
use crate::error::{AppError, AppResult};
use crate::scope::Scope;
use crate::state::AppState;
use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::http::{Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use extract::ApiPath;
use geo::Rect;
use query::ApiQuery;
use rentgrid_analysis::actual_rates::{self, RatesRow};
use rentgrid_analysis::kpi::{self, Counts, Level, Targets};
use rentgrid_analysis::unrecorded::Unrecorded;
use serde::{Deserialize, Serialize};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use extract::ApiJson;
pub use openapi::document as openapi_document;

/// The OpenAPI document as the checked-in `web-map/openapi.json` holds it: pretty JSON ending
/// in a newline.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    openapi::document().to_pretty_json().map(|mut s| {
        s.push('\n');
        s
    })
}

/// The media type of an OpenAPI 3.1 document in JSON (the document at `/api`, linked from the
/// landing page).
const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.1";

/// The routes the router serves without an operation of their own in the OpenAPI document
/// (method, path template): unknown API paths (404), and the OGC items paths, documented once
/// per collection. With the document's paths they are every route; the route-by-role test
/// sends each of them as every role.
pub const UNDOCUMENTED_ROUTES: [(&str, &str); 3] =
    [("GET", "/api/{*rest}"), ("GET", ogc::ITEMS_PATH), ("GET", ogc::ITEM_PATH)];

/// The most buildings one `/api/buildings` response carries.
pub const MAX_BUILDINGS: usize = 10_000;

/// The router: API routes, OGC API – Features (its landing page at `/` for clients asking for
/// JSON), then the web map's static files. Around them, from the inside out: the landing page,
/// the policy, small-count suppression, authentication, compression, security headers, the
/// refusal of TRACE, and outermost the observing layers (request id, log span, metrics).
pub fn app(state: AppState) -> Router {
    let (api, _) = routes().split_for_parts();
    let web = state.web_dir().filter(|d| d.join("index.html").is_file()).cloned();
    let router = match web {
        // The web map's files; a path that is none of them is 404 (the map's views are `/?view=…`).
        Some(dir) => api.fallback_service(ServeDir::new(&dir)),
        None => api.fallback(no_web_map),
    };
    // The policy wraps every route, the landing page and the fallback: nothing runs before it
    // but authentication, compression, the headers and the observing layers. The authentication
    // layer that finds the request's Principal must wrap it in turn (be added after it).
    let router = router
        // Innermost: an admitted caller of an expensive route waits for a place.
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::gate))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ogc::landing_at_root))
        .layer(axum::middleware::from_fn(authorize::authorize))
        // A leader's JSON: no figure from fewer than 5 persons, whichever route made it.
        .layer(axum::middleware::from_fn(suppress::small_counts))
        // Outside the policy: who is asking (the Principal the policy and the scope read).
        .layer(axum::middleware::from_fn_with_state(state.clone(), identity::authenticate))
        // Before anyone reads the body: its size, the request's time, a write's origin and form.
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::guard))
        // gzip level 2: a city's whole answers are megabytes, and at the default level (6)
        // gzip was most of their time (every grid's stats at scale 20, 27.4 MB of JSON: 660 ms
        // to 6.1 MB; over half the CPU of the month's assessment). Level 2 took 281 ms to 7.7 MB;
        // level 1, 197 ms to 11.1 MB (zlib-rs, bench machine, README "Benchmarks").
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(2)))
        // Security headers on every response (a handler's own take precedence).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(state.tianditu().is_some()),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Behind HTTPS: browsers keep to HTTPS for a year.
        .layer(tower::util::option_layer(state.https().then(|| {
            SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS))
        })))
        .layer(axum::middleware::from_fn(no_trace));
    // Outermost, so that every answer above is counted, logged and carries its request id.
    observe::around(router, &state).with_state(state)
}

/// Strict-Transport-Security behind HTTPS (`serve --behind-https`).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The Content-Security-Policy of every response: the web map's own scripts only (no inline
/// script), MapLibre's workers from blobs, inline styles (MapLibre sets them), images and fonts
/// from itself, data and blobs, requests to its own origin, and never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; worker-src 'self' blob:; \
     child-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The Content-Security-Policy of every response, with Tianditu's tile hosts admitted for
/// images and fetches when its basemaps are offered.
pub fn content_security_policy(tianditu: bool) -> HeaderValue {
    if !tianditu {
        return HeaderValue::from_static(CONTENT_SECURITY_POLICY);
    }
    let hosts = crate::tianditu::HOSTS.join(" ");
    let csp = CONTENT_SECURITY_POLICY
        .replace("img-src 'self' data: blob:;", &format!("img-src 'self' data: blob: {hosts};"))
        .replace("connect-src 'self';", &format!("connect-src 'self' {hosts};"));
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static(CONTENT_SECURITY_POLICY))
}

/// The routes, each documented handler with its OpenAPI operation (one declaration serves both).
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(health))
        .routes(routes!(health_live))
        .routes(routes!(health_ready))
        .routes(routes!(observe::serve_metrics))
        .routes(routes!(identity::login))
        .routes(routes!(identity::logout))
        .routes(routes!(identity::me))
        .routes(routes!(identity::create_token, identity::list_tokens))
        .routes(routes!(identity::revoke_token))
        .routes(routes!(audit::audit))
        .routes(routes!(district))
        .routes(routes!(features::grids))
        .routes(routes!(features::grid))
        .routes(routes!(features::buildings))
        .routes(routes!(features::building))
        .routes(routes!(plates::sheet))
        .routes(routes!(plates::open))
        .routes(routes!(plates::revoke))
        .routes(routes!(features::basemap))
        .routes(routes!(map_config::map_config))
        .routes(routes!(stats))
        .routes(routes!(summary::summary))
        .routes(routes!(places::place))
        .routes(routes!(places::building_trend))
        .routes(routes!(hotspots::hotspots))
        .routes(routes!(coverage::staffing))
        .routes(routes!(coverage::coverage))
        .routes(routes!(coverage::propose))
        .routes(routes!(coverage::proposal))
        .routes(routes!(coverage::accept))
        .routes(routes!(coverage::assessment))
        .routes(routes!(coverage::spot_checks))
        .routes(routes!(exports))
        .routes(routes!(search::search))
        .routes(routes!(persons::persons))
        .routes(routes!(persons::person_one, field::edit_person))
        .routes(routes!(persons::unit))
        .routes(routes!(persons::building_units))
        .routes(routes!(visits::create))
        .routes(routes!(events::events))
        .routes(routes!(field::add_person))
        .routes(routes!(field::departure))
        .routes(routes!(field::conflicts))
        .routes(routes!(field::resolve))
        .routes(routes!(field::flags))
        .routes(routes!(field::overdue))
        .routes(routes!(hazards::kinds))
        .routes(routes!(hazards::record))
        .routes(routes!(hazards::list))
        .routes(routes!(hazards::one))
        .routes(routes!(hazards::assign))
        .routes(routes!(hazards::rectified))
        .routes(routes!(hazards::verify))
        .routes(routes!(hazards::reopen))
        .routes(routes!(hazards::add_photo).layer(axum::extract::DefaultBodyLimit::disable()))
        .routes(routes!(hazards::photo))
        .routes(routes!(campaigns::candidates))
        .routes(routes!(campaigns::list, campaigns::create))
        .routes(routes!(campaigns::one))
        .routes(routes!(campaigns::routes))
        .routes(routes!(campaigns::visits))
        .routes(routes!(campaigns::phase))
        .routes(routes!(imports::import).layer(axum::extract::DefaultBodyLimit::max(crate::limits::MAX_IMPORT_BYTES)))
        .routes(routes!(openapi::serve))
        .route(UNDOCUMENTED_ROUTES[0].1, get(unknown_api))
        .routes(routes!(tiles::tile))
        .routes(routes!(tiles::tilejson))
        .routes(routes!(fonts::catalog))
        .routes(routes!(fonts::glyph_range))
        .merge(ogc::routes())
}

/// `TRACE`, `TRACK` and `CONNECT` are refused on every path (405): nothing here echoes a request.
async fn no_trace(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if matches!(req.method().as_str(), "TRACE" | "TRACK" | "CONNECT") {
        let mut res = AppError::MethodNotAllowed(format!("{} is not served", req.method())).into_response();
        res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST, DELETE, OPTIONS"));
        return res;
    }
    next.run(req).await
}

async fn unknown_api(uri: Uri) -> AppError {
    AppError::NotFound(format!("no API endpoint at {}", uri.path()))
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
        AppError::NotFound(format!("nothing at {}", uri.path())).into_response()
    }
}

/// `GET /health`: liveness.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
    /// The store's backend: sqlite or postgis.
    store: &'static str,
    /// How the data was made, e.g. `demo seed=20240601 scale=1`.
    #[schema(required = true)]
    origin: Option<String>,
    /// Grids in the Atlas.
    grids: usize,
    /// Buildings in the Atlas.
    buildings: usize,
    /// The version of the data: it changes with every recorded visit or import.
    atlas_version: u64,
}

#[utoipa::path(get, path = "/health", tag = "System", operation_id = "health",
    summary = "liveness: store backend and Atlas counts",
    responses((status = 200, description = "the server is up", body = Health),
        (status = 500, description = "the store does not answer", body = Exception)))]
async fn health(State(state): State<AppState>) -> AppResult<Json<Health>> {
    let atlas = state.atlas();
    let info = state.store().info().await?;
    Ok(Json(Health {
        status: "ok",
        store: info.backend,
        origin: info.origin,
        grids: atlas.grids().len(),
        buildings: atlas.buildings().len(),
        atlas_version: atlas.version(),
    }))
}

/// `GET /health/live` and `/health/ready`.
#[derive(Debug, Serialize, ToSchema)]
struct Probe {
    /// `live` or `ready`.
    status: &'static str,
}

/// `GET /health/live`: the process answers (for a liveness probe: it reads nothing).
#[utoipa::path(get, path = "/health/live", tag = "System", operation_id = "health_live",
    summary = "liveness: the process answers; reads nothing",
    responses((status = 200, description = "the process is up", body = Probe)))]
async fn health_live() -> Json<Probe> {
    Json(Probe { status: "live" })
}

/// `GET /health/ready`: the store answers and the Atlas is loaded (for a readiness probe or a
/// load balancer: 503 while the database is away).
#[utoipa::path(get, path = "/health/ready", tag = "System", operation_id = "health_ready",
    summary = "readiness: the store answers and the Atlas is loaded; 503 otherwise",
    responses((status = 200, description = "ready to serve", body = Probe),
        (status = 503, description = "the store does not answer", body = Exception)))]
async fn health_ready(State(state): State<AppState>) -> AppResult<Json<Probe>> {
    state.store().info().await.map_err(|e| {
        tracing::warn!(error = %e, "not ready: the store does not answer");
        AppError::StoreAway("the store does not answer".into())
    })?;
    if state.atlas().grids().is_empty() {
        return Err(AppError::Unavailable("the district holds no grid yet".into()));
    }
    Ok(Json(Probe { status: "ready" }))
}

/// The district and what the map needs to frame it.
#[derive(Debug, Serialize, ToSchema)]
struct District {
    /// 6-digit administrative code, e.g. `330203`.
    code: String,
    /// Its name, e.g. 海曙区.
    name: String,
    /// minLon, minLat, maxLon, maxLat (WGS84).
    bbox: [f64; 4],
    /// The centre of the bbox: longitude, latitude.
    center: [f64; 2],
    /// The target of each indicator.
    targets: Targets,
    /// How far below its target a rate still counts as near it (0.05 = 5 points).
    near_band: f64,
    /// Streets (街道/镇).
    streets: usize,
    /// Communities (社区/村).
    communities: usize,
    /// Grids (网格).
    grids: usize,
}

#[utoipa::path(get, path = "/api/district", tag = "API", operation_id = "district",
    summary = "the district: code, name, bbox, centre, KPI targets",
    responses((status = 200, description = "the district", body = District)))]
async fn district(State(state): State<AppState>, _scope: Scope) -> Json<District> {
    let atlas = state.atlas();
    let bb = atlas.bbox();
    let d = atlas.district();
    Json(District {
        code: d.code.clone(),
        name: d.name.clone(),
        bbox: [bb.min().x, bb.min().y, bb.max().x, bb.max().y],
        center: [bb.center().x, bb.center().y],
        targets: *state.targets(),
        near_band: kpi::NEAR_BAND,
        streets: atlas.streets().len(),
        communities: atlas.communities().len(),
        grids: atlas.grids().len(),
    })
}

/// The query of `GET /api/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// The level of places (default street).
    #[param(value_type = Option<Level>)]
    level: Option<String>,
    /// YYYY-MM: at the end of that month (422 outside the history). The estimated actual rates
    /// are null for a past month; the current month (the history's last) has today's.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
}

/// `GET /api/stats`: the KPIs of every place at a level.
#[derive(Debug, Serialize, ToSchema)]
struct Stats {
    /// The level asked for.
    level: Level,
    /// The month, when one was asked (YYYY-MM).
    #[schema(required = true)]
    month: Option<String>,
    /// The KPI targets.
    targets: Targets,
    /// One row per place, in the Atlas's order: the register's KPIs and, beside them, the
    /// estimated actual rates (over recorded + estimated unrecorded; null for a past month, as
    /// the estimate is of today's register; the current month, the history's last, has them).
    rows: Vec<RatesRow>,
}

/// `GET /api/stats?level=district|street|community|grid[&month=YYYY-MM]`: KPIs of every place at
/// that level, on today's register or at the end of a month of the history.
#[utoipa::path(get, path = "/api/stats", tag = "API", operation_id = "stats",
    summary = "KPIs of every place at a level, today or at the end of a month of the history",
    params(StatsQuery),
    responses((status = 200, description = "the rows", body = Stats),
        (status = 400, description = "a bad level or month, or an unknown parameter", body = Exception),
        (status = 422, description = "a month outside the history", body = Exception)))]
async fn stats(
    State(state): State<AppState>,
    scope: Scope,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> AppResult<Response> {
    let level: Level = q.level.as_deref().map_or(Ok(Level::Street), str::parse).map_err(AppError::BadRequest)?;
    let month =
        q.month.as_deref().map(str::parse::<rentgrid_geodata::Month>).transpose().map_err(AppError::BadRequest)?;
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    // Every grid of today (the command center's map): made from the answer kept, where only the
    // blocks of the grids a write changed are written again.
    if level == Level::Grid && month.is_none() && scope.grids.is_none() {
        let estimate = state.estimate(&atlas).await?;
        let envelope = Stats { level, month: None, targets: *state.targets(), rows: Vec::new() };
        if let Some((head, tail)) =
            crate::blocks::around_rows(&envelope).map_err(|e| AppError::Internal(e.to_string()))?
            && let Some(every) = state.every_grid_stats(&snapshot, estimate.unrecorded.clone(), head, tail).await?
        {
            return Ok(encoded::respond_with(&headers, "application/json", || every.gzip(), || every.json()));
        }
    }
    // Grid rows are made for the grids the scope sees only (a caseworker's few, not the
    // district's thousands); other levels for every place, kept below as the scope sees them.
    let rollup = |counts: &[Counts], unrecorded: Option<&Unrecorded>| match level {
        Level::Grid => {
            let seen = atlas.grids().iter().map(|g| g.grid.id).filter(|&g| scope.sees_grid(g));
            actual_rates::grid_rows(&atlas, counts, unrecorded, state.targets(), seen)
        }
        _ => actual_rates::rollup(&atlas, counts, unrecorded, level, state.targets()),
    };
    let mut rows = match month {
        None => {
            let estimate = state.estimate(&atlas).await?;
            rollup(&snapshot.grid_counts(), Some(&estimate.unrecorded))
        }
        Some(m) => {
            let history = state.history(&snapshot).await?;
            let counts = rentgrid_analysis::hotspot_run::month_counts(&history, m)?;
            // The history's last month is the current one, whose counts are today's register: its
            // rows carry today's estimate. Earlier months have none (the estimate is of today).
            let current = history.last() == Some(m) && counts == snapshot.grid_counts().as_slice();
            let estimate = if current { Some(state.estimate(&atlas).await?) } else { None };
            let unrecorded = estimate.as_ref().map(|e| e.unrecorded.as_ref());
            rollup(counts, unrecorded)
        }
    };
    // A limited scope sees the places it sees whole: its grids (made so above), and the
    // communities and streets all of whose grids are its own; the district only when it sees
    // all of it.
    match level {
        Level::Grid => {}
        _ if scope.grids.is_none() => {}
        Level::District => rows.clear(),
        Level::Street => {
            rows.retain(|r| atlas.streets().iter().any(|s| s.street.code == r.row.code && scope.sees_all(&s.grids)))
        }
        Level::Community => rows
            .retain(|r| atlas.communities().iter().any(|c| c.community.code == r.row.code && scope.sees_all(&c.grids))),
    }
    let body = Stats { level, month: month.map(|m| m.to_string()), targets: *state.targets(), rows };
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response())
}

/// The query of an export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// The language of column names and labels: zh (default) or en.
    #[param(pattern = "^(zh|zh-CN|en)$")]
    pub lang: Option<String>,
    /// The staffing rule (staffing and assessment tables).
    #[param(value_type = Option<coverage::RuleName>)]
    pub rule: Option<String>,
    /// Yuan a year per caseworker (staffing table).
    #[param(value_type = Option<f64>, minimum = 0)]
    pub cost_per_caseworker: Option<String>,
    /// YYYY-MM: the assessment's month; for grids, streets and communities, their KPIs at the
    /// end of that month (as `/api/stats?month=`), without it today's.
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
}

/// `GET /api/exports/{layer}.{format}[?lang=zh|en]`: a layer or table as a file, within the
/// caller's scope (grids, buildings, streets, communities, boundaries; geojson, csv, xlsx). The
/// person-level ledgers answer 403.
#[utoipa::path(get, path = "/api/exports/{file}", tag = "API", operation_id = "export",
    summary = "a layer or table as a file: {grids|buildings|streets|communities|boundaries}.{geojson|csv|xlsx}, \
               {staffing|assessment|spot_checks}.{csv|xlsx} (with the staffing endpoints' rule, cost_per_caseworker and month); \
               grids, streets and communities at the end of a month with month=YYYY-MM; \
               the person-level ledgers answer 403",
    params(("file" = String, Path, description = "layer.format, e.g. grids.csv"), ExportQuery),
    responses(
        (status = 200, description = "the file", content(
            (crate::api::openapi::Binary = "application/geo+json"), (crate::api::openapi::Binary = "text/csv"),
            (crate::api::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "a bad lang, rule, cost or month, or an unknown parameter", body = Exception),
        (status = 403, description = "a person-level ledger (exported only by the CLI), or buildings, the assessment or the spot checks asked by a leader", body = Exception),
        (status = 404, description = "an unknown layer or format", body = Exception)))]
async fn exports(
    State(state): State<AppState>,
    scope: Scope,
    ApiPath(file): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let raw = raw.unwrap_or_default();

    use crate::export::{self, Format, Layer};
    let (layer, format) = file
        .rsplit_once('.')
        .ok_or_else(|| AppError::NotFound(format!("name the file as layer.format, e.g. grids.csv, not {file:?}")))?;
    if let Some(table) = coverage::Table::named(layer) {
        if scope.aggregates_only() && matches!(table, coverage::Table::Assessment | coverage::Table::SpotChecks) {
            return Err(AppError::Forbidden(
                "the assessment and the spot checks name caseworkers: leaders see aggregates only".into(),
            ));
        }
        let format: Format = format.parse().map_err(AppError::NotFound)?;
        let q: ExportQuery = query::parse(&raw)?;
        let lang = parse_lang(&q)?;
        let bytes = coverage::export(&state, &scope, table, format, lang, &q).await?;
        return Ok(attachment(&file, format, bytes));
    }
    let layer: Layer = layer.parse().map_err(AppError::NotFound)?;
    if let Layer::Ledger(_) = layer {
        return Err(AppError::Forbidden(format!(
            "{} is a person-level ledger: until login lands it is exported only by `rentgrid export {}` on the server",
            layer.as_str(),
            layer.as_str()
        )));
    }
    if scope.aggregates_only() && layer == Layer::Buildings {
        return Err(AppError::Forbidden("buildings are single places: leaders see aggregates only".into()));
    }
    let format: Format = format.parse().map_err(AppError::NotFound)?;
    // A layer's export reads `lang` and, as before, lets other parameters pass.
    let q: ExportQuery = serde_urlencoded::from_str(&raw).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let lang = parse_lang(&q)?;
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let targets = *state.targets();
    let kpis = matches!(layer, Layer::Grids | Layer::Streets | Layer::Communities);
    let month = match &q.month {
        Some(m) if kpis => Some(m.parse::<rentgrid_geodata::Month>().map_err(AppError::BadRequest)?),
        Some(_) => return Err(AppError::BadRequest("month= applies to grids, streets and communities".into())),
        None => None,
    };
    // At the end of a month, as `/api/stats?month=` counts it: the history's last month is today's
    // register and carries today's estimate; earlier months carry none.
    let (counts, current) = match month {
        None => (snapshot.grid_counts(), true),
        Some(m) => {
            let history = state.history(&snapshot).await?;
            let counts = rentgrid_analysis::hotspot_run::month_counts(&history, m)?;
            let current = history.last() == Some(m) && counts == snapshot.grid_counts().as_slice();
            (std::sync::Arc::new(counts.to_vec()), current)
        }
    };
    let estimate = if kpis && current { Some(state.estimate(&atlas).await?) } else { None };
    let bytes = tokio::task::spawn_blocking(move || {
        let unrecorded = estimate.as_ref().map(|e| e.unrecorded.as_ref());
        let src = export::Sources { atlas: &atlas, counts: &counts, targets: &targets, unrecorded };
        export::export(&src, layer, format, lang, &scope)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(|e| AppError::Internal(e.to_string()))?;
    // A month's table is named for it: streets-2026-09.csv.
    let name = month.map_or(file.clone(), |m| format!("{}-{m}.{}", layer.as_str(), format.extension()));
    Ok(attachment(&name, format, bytes))
}

/// `lang=zh|en` of an export (default zh).
fn parse_lang(q: &ExportQuery) -> AppResult<crate::export::Lang> {
    use crate::export::Lang;
    match q.lang.as_deref() {
        None | Some("zh") | Some("zh-CN") => Ok(Lang::Zh),
        Some("en") => Ok(Lang::En),
        Some(other) => Err(AppError::BadRequest(format!("lang={other:?}: use zh or en"))),
    }
}

/// A file download.
fn attachment(file: &str, format: crate::export::Format, bytes: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", file.replace('"', ""));
    ([(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

/// The file format a `format=` parameter asks for (`None`: JSON).
fn table_format(raw: Option<&str>) -> AppResult<Option<crate::export::Format>> {
    use crate::export::Format;
    match raw {
        None | Some("json") => Ok(None),
        Some("csv") => Ok(Some(Format::Csv)),
        Some("xlsx") => Ok(Some(Format::Xlsx)),
        Some(other) => Err(AppError::BadRequest(format!("format {other:?}: use json, csv or xlsx"))),
    }
}

/// A table of records (the audit log, persons) as a download `{stem}.csv|xlsx`, written off the
/// async threads and never kept in a cache.
async fn records_file(
    stem: &str,
    book: crate::export::Book,
    format: crate::export::Format,
    lang: crate::export::Lang,
) -> AppResult<Response> {
    let bytes = tokio::task::spawn_blocking(move || crate::export::write_book(&book, format, lang))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(no_store(attachment(&format!("{stem}.{}", format.extension()), format, bytes)))
}

/// An answer no cache keeps (person records, the audit log).
fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(crate) use rentgrid_geodata::clock::{now_rfc3339, today};

/// Parses `minLon,minLat,maxLon,maxLat`.
pub fn parse_bbox(s: &str) -> Result<Rect<f64>, AppError> {
    let bad =
        |why: &str| AppError::BadRequest(format!("bbox {s:?} {why}: expected minLon,minLat,maxLon,maxLat in degrees"));
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
fn parse_id(what: &str, raw: &str) -> Result<u32, AppError> {
    raw.parse::<u32>().map_err(|_| AppError::BadRequest(format!("{what} id {raw:?} is not a whole number")))
}

/// A path parameter holding a numeric id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct IdParam {
    /// The id, a whole number.
    #[allow(dead_code)]
    id: u32,
}

/// 404 for an id that does not exist.
fn not_found(what: &str, id: u32) -> AppError {
    AppError::NotFound(format!("{what} {id} does not exist"))
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
            assert!(matches!(e, AppError::BadRequest(ref m) if m.contains("minLon")), "{bad}: {e:?}");
        }
    }
}
