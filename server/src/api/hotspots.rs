//! `GET /api/hotspots`: hot spots (热点分析) of a per-grid metric as GeoJSON, with everything
//! needed to reproduce the run.
//!
//! Query parameters (every one optional):
//! - `method`: `gi` (Getis-Ord Gi\*, default), `lisa` (Local Moran's I) or `emerging`
//!   (emerging hot spots over the monthly history).
//! - `metric`: one of [`Metric::ALL`] (default `reg_rate`).
//! - `weights`: `queen` (default), `rook`, `knn[:k]` (k = 8), `distance:metres`, optionally followed
//!   by `,binary` or `,row` (default binary for `gi` and `emerging`, row for `lisa`, as ArcGIS and
//!   esda do). k-nearest and distance bands use each grid's label point, in metres.
//! - `month=YYYY-MM`: the metric at the end of that month (for `emerging`, the series ends
//!   there); default today's register (for `emerging`, every month of the history).
//! - `alpha`: 0.10, 0.05 (default) or 0.01, the level of the Benjamini–Hochberg FDR test behind
//!   `fdr_significant` (for `emerging` also the confidence a month's hot or cold spot needs).
//! - `permutations` (`lisa`, default 999, at most 99,999) and `seed` (default 12345).
//! - `tessellation`: `grid` (default) or `h3`, the areas analysed. With `h3` the register is
//!   summed per H3 hexagon of `resolution` (7 to 10, default 9, about 0.1 km²) with a ring of
//!   empty hexagons around the occupied ones, so a pattern can be checked against the grids'
//!   shapes; `queen` and `rook` are then the hexagons sharing an edge, `knn` and `distance` use
//!   hexagon centres. Hexagons are analysed on today's register (`gi` or `lisa`, no `month`):
//!   the monthly history is kept per grid. A caller with a narrower scope gets hexagons of the
//!   buildings it sees.
//! - `geometry`: `true` (default) or `false`, for sites without outlines (`geometry: null`): the
//!   web map's way, which draws the grids from the `grids` tiles (whose feature ids are the grid
//!   ids) and colours them by this answer, about a quarter of the bytes gzipped (at scale 20,
//!   1.2 MB against 4.6 MB).
//!
//! Each feature is a grid with `value`, `statistic`, `z`, `p`, `q` (FDR-adjusted p),
//! `fdr_significant` and `class`: the Gi\* confidence bin (±3 at 99%, ±2 at 95%, ±1 at 90%, 0 not
//! significant), the LISA quadrant (`high_high`, `low_low`, `high_low`, `low_high` or
//! `not_significant`) or the emerging hot spot category. Grids whose value is undefined (a rate
//! under its small-number guard) are present with `value: null` and `class: null`. The top-level
//! `description` states the method, metric, weights (kind, parameters, transform, self-weight,
//! neighbour counts), alpha, permutations, seed, the sites analysed and the months available.
//!
//! The analysis is [`rentgrid_analysis::hotspot_run`]; this module checks the query, keeps the
//! answers ([`crate::answers`]) and writes them as GeoJSON. After a write, a request is answered
//! at once with the newest answer kept, whose `data_version` says which data it reflects, while
//! one run for the new data goes on off the request path (at most once per `serve
//! --analysis-interval`); only a request never asked before waits for its run. The analyses the
//! leaders' view asks for first are made at start-up, before anyone asks
//! ([`prepare_leaders_view`]). Each grid's outline is written once per district geometry
//! ([`crate::snapshot::GridOutlines`]): a run writes its figures only.

use super::geojson::{Feature, FeatureCollectionType, FeatureId, FeatureType, GEOJSON, geometry};
use super::query::ApiQuery;
use super::suppress::{self, Suppressed};
use crate::answers::Lookup;
use crate::api::error::Exception;
use crate::background::{self, Priority};
use crate::encoded::Encoded;
use crate::error::{AppError, AppResult};
use crate::limits::Place;
use crate::scope::Scope;
use crate::snapshot::GridOutlines;
use crate::state::AppState;
use crate::tile_cache::scope_key;
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use rentgrid_analysis::hotspot_run::{
    H3_RESOLUTIONS, HotspotProperties, HotspotRun, Method, Neighbours, Params, RunDescription, SiteId, Tessellation,
    run_with,
};
use rentgrid_analysis::metrics::Metric;
use rentgrid_analysis::moran::{MAX_PERMUTATIONS, MoranOptions};
use rentgrid_analysis::weights::Transform;
use rentgrid_geodata::Month;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};

/// The query of `GET /api/hotspots`, as sent; [`parse`] checks it into [`Params`].
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HotspotsQuery {
    /// The statistic: gi (default), lisa or emerging.
    #[param(pattern = "^(gi|lisa|emerging)$")]
    pub method: Option<String>,
    /// The per-grid metric (default reg_rate).
    #[param(value_type = Option<rentgrid_analysis::metrics::Metric>)]
    pub metric: Option<String>,
    /// queen (default) | rook | knn[:k] | distance:metres, optionally followed by ,binary or ,row.
    pub weights: Option<String>,
    /// YYYY-MM: the metric at the end of this month (for emerging, the series ends there).
    #[param(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
    /// The FDR level: 0.10, 0.05 (default) or 0.01.
    #[param(value_type = Option<f64>)]
    pub alpha: Option<String>,
    /// LISA permutations (default 999, at most 99,999).
    #[param(value_type = Option<u32>, maximum = 99_999)]
    pub permutations: Option<String>,
    /// LISA permutation seed (default 12345).
    #[param(value_type = Option<u64>)]
    pub seed: Option<String>,
    /// The areas analysed: grid (default) or h3 (today's register, gi or lisa).
    #[param(pattern = "^(grid|h3)$")]
    pub tessellation: Option<String>,
    /// The H3 resolution, 7 to 10 (default 9), with tessellation=h3.
    #[param(value_type = Option<u8>, minimum = 7, maximum = 10)]
    pub resolution: Option<String>,
    /// true (default): each site with its outline; false: `geometry: null`, for a map that draws
    /// the grids from the grids tiles (their feature ids are the grid ids).
    #[param(value_type = Option<bool>)]
    pub geometry: Option<String>,
}

/// The most neighbours `knn` takes.
const MAX_K: usize = 64;
/// The widest distance band, metres.
const MAX_BAND_M: f64 = 50_000.0;

fn bad(msg: String) -> AppError {
    AppError::BadRequest(msg)
}

/// Parses the query; every mistake is a 400 with a message naming the parameter.
pub fn parse(q: &HotspotsQuery) -> AppResult<Params> {
    let method = match q.method.as_deref() {
        None | Some("gi") => Method::Gi,
        Some("lisa") => Method::Lisa,
        Some("emerging") => Method::Emerging,
        Some(other) => return Err(bad(format!("method={other:?}: use gi, lisa or emerging"))),
    };
    let metric: Metric = q.metric.as_deref().map_or(Ok(Metric::RegRate), str::parse).map_err(bad)?;
    let (neighbours, transform) = parse_weights(q.weights.as_deref().unwrap_or("queen"), method)?;
    let month = q.month.as_deref().map(str::parse::<Month>).transpose().map_err(bad)?;
    let alpha = match q.alpha.as_deref() {
        None => 0.05,
        Some(s) => match s.parse::<f64>() {
            Ok(a) if [0.10, 0.05, 0.01].contains(&a) => a,
            _ => return Err(bad(format!("alpha={s:?}: use 0.10, 0.05 or 0.01"))),
        },
    };
    let permutations = match q.permutations.as_deref() {
        None => MoranOptions::default().permutations,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n <= MAX_PERMUTATIONS => n,
            _ => return Err(bad(format!("permutations={s:?}: a whole number from 0 to {MAX_PERMUTATIONS}"))),
        },
    };
    let seed = match q.seed.as_deref() {
        None => MoranOptions::default().seed,
        Some(s) => s.parse::<u64>().map_err(|_| bad(format!("seed={s:?}: a whole number from 0 to 2^64-1")))?,
    };
    let tessellation = parse_tessellation(q, method, month)?;
    Ok(Params {
        tessellation,
        method,
        metric,
        neighbours,
        transform,
        month,
        alpha,
        permutations,
        seed,
        suppress_small_counts: false,
    })
}

/// Parses `geometry`: whether the answer carries the sites' outlines.
pub fn parse_geometry(q: &HotspotsQuery) -> AppResult<bool> {
    match q.geometry.as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(bad(format!("geometry={other:?}: use true or false"))),
    }
}

/// Parses `tessellation` and `resolution`.
fn parse_tessellation(q: &HotspotsQuery, method: Method, month: Option<Month>) -> AppResult<Tessellation> {
    let resolution = q.resolution.as_deref();
    match q.tessellation.as_deref() {
        None | Some("grid") => match resolution {
            Some(r) => Err(bad(format!("resolution={r:?} applies to tessellation=h3 only"))),
            None => Ok(Tessellation::Grid),
        },
        Some("h3") => {
            let (lo, hi) = (H3_RESOLUTIONS.start(), H3_RESOLUTIONS.end());
            let r = match resolution {
                None => 9,
                Some(r) => r
                    .parse::<u8>()
                    .ok()
                    .filter(|r| H3_RESOLUTIONS.contains(r))
                    .ok_or_else(|| bad(format!("resolution={r:?}: an H3 resolution from {lo} to {hi}")))?,
            };
            if method == Method::Emerging || month.is_some() {
                return Err(bad(
                    "tessellation=h3 analyses today's register with method gi or lisa: the monthly history \
                     (month, method=emerging) is kept per grid"
                        .into(),
                ));
            }
            Ok(Tessellation::H3(r))
        }
        Some(other) => Err(bad(format!("tessellation={other:?}: use grid or h3"))),
    }
}

/// Parses `kind[:parameter][,binary|row]`.
fn parse_weights(raw: &str, method: Method) -> AppResult<(Neighbours, Transform)> {
    let help = "use queen, rook, knn[:k] or distance:metres, optionally followed by ,binary or ,row";
    let (kind, transform) = match raw.split_once(',') {
        None => (raw, if method == Method::Lisa { Transform::RowStandardised } else { Transform::Binary }),
        Some((k, "binary")) => (k, Transform::Binary),
        Some((k, "row")) => (k, Transform::RowStandardised),
        Some((_, t)) => return Err(bad(format!("weights={raw:?}: transform {t:?} is not binary or row; {help}"))),
    };
    let (name, arg) = match kind.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (kind, None),
    };
    let neighbours = match (name, arg) {
        ("queen", None) => Neighbours::Queen,
        ("rook", None) => Neighbours::Rook,
        ("knn", None) => Neighbours::Knn(8),
        ("knn", Some(k)) => match k.parse::<usize>() {
            Ok(k) if (1..=MAX_K).contains(&k) => Neighbours::Knn(k),
            _ => return Err(bad(format!("weights={raw:?}: k must be a whole number from 1 to {MAX_K}"))),
        },
        ("distance", Some(m)) => match m.parse::<f64>() {
            Ok(m) if m > 0.0 && m <= MAX_BAND_M => Neighbours::Distance(m),
            _ => return Err(bad(format!("weights={raw:?}: the band must be metres above 0, at most {MAX_BAND_M}"))),
        },
        ("distance", None) => return Err(bad(format!("weights={raw:?}: give the band in metres, e.g. distance:1500"))),
        _ => return Err(bad(format!("weights={raw:?}: {help}"))),
    };
    Ok((neighbours, transform))
}

/// `GET /api/hotspots`: every site with its statistics, and what was run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hotspots {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    /// The data version (`atlas_version` of `GET /health`, `version` of the events) the answer reflects: an
    /// answer made before the latest writes is served while the run over them goes on.
    pub data_version: u64,
    /// What was run.
    pub description: RunDescription,
    /// The sites.
    pub features: Vec<Feature<HotspotProperties>>,
}

impl Hotspots {
    /// The answer of `run`, made over data version `data_version` (the schema's form; the
    /// handler writes it as [`write`] does).
    #[cfg(test)]
    fn of(run: HotspotRun, data_version: u64) -> Self {
        let features = run
            .sites
            .into_iter()
            .map(|s| {
                let feature = Feature::new(geometry(s.geometry), s.properties);
                match s.id {
                    SiteId::Grid(id) => feature.with_id(id),
                    SiteId::H3(index) => feature.with_code(index),
                }
            })
            .collect();
        Hotspots {
            kind: FeatureCollectionType::FeatureCollection,
            data_version,
            description: run.description,
            features,
        }
    }
}

/// [`Hotspots`] as it is written: the same members, with each grid's outline taken as the
/// district keeps it written ([`crate::snapshot::GridOutlines`]) rather than written again.
#[derive(Serialize)]
struct Written<'a, D, P> {
    #[serde(rename = "type")]
    kind: FeatureCollectionType,
    data_version: u64,
    description: D,
    features: Vec<WrittenFeature<'a, P>>,
}

/// A [`Feature`] of [`Written`].
#[derive(Serialize)]
struct WrittenFeature<'a, P> {
    #[serde(rename = "type")]
    kind: FeatureType,
    id: FeatureId,
    /// `None` (written `null`) when the outlines were not asked for.
    geometry: Option<Outline<'a>>,
    properties: P,
}

/// A site's outline: a grid's as kept, a hexagon's written with the answer.
#[derive(Serialize)]
#[serde(untagged)]
enum Outline<'a> {
    Kept(&'a RawValue),
    Own(geojson::Geometry),
}

/// The JSON of `run` over data version `version`, each grid's outline from `outlines` (with
/// `outlines` `None`, every geometry `null`); with `suppressed` (a leader's answer), every figure
/// from fewer than 5 persons nulled, object by object, as [`suppress::suppress`] does over a
/// whole answer (outlines hold no figures).
fn write(
    run: HotspotRun,
    version: u64,
    outlines: Option<&GridOutlines>,
    suppressed: bool,
) -> serde_json::Result<String> {
    let n = run.sites.len();
    let mut out = Vec::with_capacity(outlines.map_or(0, |o| o.bytes) + n * 512 + 4096);
    let features = run.sites.into_iter().map(|s| {
        let (id, geometry) = match s.id {
            SiteId::Grid(id) => (
                FeatureId::Number(id.into()),
                outlines.map(|o| {
                    o.each.get(id as usize).map_or_else(|| Outline::Own(geometry(s.geometry)), |o| Outline::Kept(o))
                }),
            ),
            SiteId::H3(index) => (FeatureId::Text(index), outlines.map(|_| Outline::Own(geometry(s.geometry)))),
        };
        (id, geometry, s.properties)
    });
    fn feature<P>((id, geometry, properties): (FeatureId, Option<Outline<'_>>, P)) -> WrittenFeature<'_, P> {
        WrittenFeature { kind: FeatureType::Feature, id, geometry, properties }
    }
    if suppressed {
        let mut description = serde_json::to_value(&run.description)?;
        suppress::suppress(&mut description);
        let features = features
            .map(|(id, geometry, p)| {
                let mut properties = serde_json::to_value(&p)?;
                suppress::suppress(&mut properties);
                Ok(feature((id, geometry, properties)))
            })
            .collect::<serde_json::Result<Vec<_>>>()?;
        let written =
            Written { kind: FeatureCollectionType::FeatureCollection, data_version: version, description, features };
        serde_json::to_writer(&mut out, &written)?;
    } else {
        let features = features.map(feature).collect();
        let written = Written {
            kind: FeatureCollectionType::FeatureCollection,
            data_version: version,
            description: &run.description,
            features,
        };
        serde_json::to_writer(&mut out, &written)?;
    }
    // serde_json writes UTF-8 only.
    String::from_utf8(out).map_err(serde::ser::Error::custom)
}

/// `GET /api/hotspots`: see the module documentation.
#[utoipa::path(get, path = "/api/hotspots", tag = "API", operation_id = "hotspots",
    summary = "hot spots of a grid metric: Getis-Ord Gi*, Local Moran's I or emerging hot spots over the monthly \
               history, as GeoJSON grids with value, statistic, z, p, q (FDR), fdr_significant and class, and a \
               top-level description of the run (method, metric, weights, alpha, permutations, seed, n, months)",
    params(HotspotsQuery),
    responses(
        (status = 200, description = "grids (or hexagons) with their statistics", body = Hotspots, content_type = "application/geo+json"),
        (status = 400, description = "a malformed parameter; the message names it", body = Exception),
        (status = 422, description = "a month outside the history, too few months for emerging hot spots, or \
            parameters asking for more work than one run may do (a distance band linking too many sites)", body = Exception),
        (status = 503, description = "too many expensive requests at once, or the run took too long: try again \
            (Retry-After)", body = Exception)))]
pub async fn hotspots(
    State(state): State<AppState>,
    headers: HeaderMap,
    scope: Scope,
    place: Option<Extension<Place>>,
    ApiQuery(q): ApiQuery<HotspotsQuery>,
) -> AppResult<Response> {
    // A leader's run takes no input computed from fewer than 5 persons.
    let params = Params { suppress_small_counts: scope.aggregates_only(), ..parse(&q)? };
    let outlined = parse_geometry(&q)?;
    let key = key_of(&params, &scope, outlined);
    // A leader's answer is suppressed once, when it is made (see `run_and_keep`).
    let suppressed = params.suppress_small_counts;
    let respond = |body: &Encoded| {
        let mut res = body.respond(&headers, GEOJSON);
        if suppressed {
            res.extensions_mut().insert(Suppressed);
        }
        res
    };
    match state.hotspots_lookup(&key) {
        Lookup::Current(body) => return Ok(respond(&body)),
        Lookup::Older { body, refresh, .. } => {
            if refresh {
                // Off the request path, with a place of the gate of its own (none free: the
                // next request after the interval tries again).
                let state = state.clone();
                tokio::spawn(async move {
                    let ran = match state.gate().enter().await {
                        Ok(place) => run_and_keep(
                            &state,
                            params,
                            outlined,
                            scope,
                            key.clone(),
                            Some(place),
                            Priority::Background,
                        )
                        .await
                        .is_ok(),
                        Err(_) => false,
                    };
                    if !ran {
                        state.hotspots_gave_up(&key);
                    }
                });
            }
            return Ok(respond(&body));
        }
        Lookup::Missing => {}
    }
    let body =
        run_and_keep(&state, params, outlined, scope, key, place.map(|Extension(p)| p), Priority::Request).await?;
    Ok(respond(&body))
}

/// The metrics the leaders' view offers (its metric selector: `HotspotMetric` in
/// `web-map/src/api.ts`), the one it opens with first.
pub const LEADERS_VIEW_METRICS: [Metric; 4] =
    [Metric::UnregisteredPerKm2, Metric::RegRate, Metric::RentalRate, Metric::PersonsPerKm2];

/// Makes, one after another off the request path, the hot spots the leaders' view asks for
/// when it opens and when its metric changes (Gi\* of [`LEADERS_VIEW_METRICS`] with queen
/// weights over today's register, for leaders, without outlines), and keeps them as a request's
/// run would: at a city's scale each takes a few hundred milliseconds that the first leader
/// after a start would otherwise wait. Called once the inputs of the derived views are read; an analysis
/// already kept or failing is passed over (a request makes or reports it).
pub async fn prepare_leaders_view(state: &AppState) {
    let scope = Scope { role: crate::scope::Role::Leader, grids: None, caseworker: None };
    for metric in LEADERS_VIEW_METRICS {
        let q = HotspotsQuery {
            method: Some("gi".into()),
            metric: Some(metric.as_str().into()),
            weights: Some("queen".into()),
            geometry: Some("false".into()),
            ..HotspotsQuery::default()
        };
        let (Ok(parsed), Ok(outlined)) = (parse(&q), parse_geometry(&q)) else { continue };
        let params = Params { suppress_small_counts: scope.aggregates_only(), ..parsed };
        let key = key_of(&params, &scope, outlined);
        if !matches!(state.hotspots_lookup(&key), Lookup::Missing) {
            continue;
        }
        if let Err(e) = run_and_keep(state, params, outlined, scope.clone(), key, None, Priority::Background).await {
            tracing::warn!(error = %e, metric = metric.as_str(), "the leaders' view's hot spots were not made at start-up");
        }
    }
}

/// The key an answer to `params` as `scope` sees it, with or without outlines, is kept under.
fn key_of(params: &Params, scope: &Scope, outlined: bool) -> String {
    format!("{params:?}|{}|{}", scope_key(scope), if outlined { "outlined" } else { "bare" })
}

/// Runs the analysis of `params` as `scope` sees it over the current snapshot, keeps its answer
/// (with the sites' outlines when `outlined`) under `key` and returns it; a leader's
/// (`suppress_small_counts`) with every figure from fewer than 5 persons nulled, as the
/// middleware would for each request ([`suppress::suppress`]). The
/// run holds `place` (of the gate) until it ends, runs at `priority`, and keeps its answer even
/// when the request that started it timed out first: asking again then finds it.
async fn run_and_keep(
    state: &AppState,
    params: Params,
    outlined: bool,
    scope: Scope,
    key: String,
    place: Option<Place>,
    priority: Priority,
) -> AppResult<Arc<Encoded>> {
    let started = Instant::now();
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let history = state.history(&snapshot).await?;
    let now = snapshot.grid_counts();
    let version = atlas.version();
    let state = state.clone();
    background::run(priority, move || {
        let _place = place;
        let ran = Instant::now();
        let outlines = match outlined {
            true => Some(snapshot.grid_outlines().map_err(|e| AppError::Internal(format!("grid outlines: {e}")))?),
            false => None,
        };
        let run = run_with(&atlas, &now, &history, &params, &|g| scope.sees_grid(g), snapshot.contiguity())?;
        let (written, sites) = (Instant::now(), run.sites.len());
        let json = write(run, version, outlines.as_deref(), params.suppress_small_counts)
            .map_err(|e| AppError::Internal(format!("writing hot spots: {e}")))?;
        let (zipped, bytes) = (Instant::now(), json.len());
        let body = Arc::new(Encoded::new(json));
        tracing::info!(
            %key, ?priority, sites,
            waited_ms = (ran - started).as_millis(),
            analysis_ms = (written - ran).as_millis(),
            json_ms = (zipped - written).as_millis(),
            gzip_ms = zipped.elapsed().as_millis(),
            bytes,
            "hot spots made"
        );
        state.hotspots_store(version, key, body.clone(), started);
        Ok::<_, AppError>(body)
    })
    .await
    .map_err(|e| AppError::Internal(format!("hot spots: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;
    use rentgrid_analysis::history::History;
    use rentgrid_analysis::hotspot_run::run;
    use rentgrid_geodata::demo::{self, DemoOptions};
    use rentgrid_geodata::{Atlas, AtlasInput};
    use serde_json::Value;

    /// An answer written by [`write`] is the schema's [`Hotspots`] (and for a leader, that with
    /// [`suppress::suppress`] run over the whole of it), for grids and hexagons, whole and scoped;
    /// without outlines, the same with every geometry `null`.
    #[test]
    fn the_answer_written_is_the_answer_of_the_schema() {
        let city = demo::generate(&DemoOptions { scale: 0.05, ..Default::default() }, &mut |_, _| {}).unwrap();
        let snapshot = Snapshot::new(Atlas::build(AtlasInput::from_city(&city)).unwrap());
        let (atlas, now, outlines) = (snapshot.atlas(), snapshot.grid_counts(), snapshot.grid_outlines().unwrap());
        let history = History { months: Vec::new(), counts: Vec::new() };
        let mut checked = 0;
        for raw in
            ["method=gi", "method=lisa&permutations=99&metric=unregistered_per_km2", "tessellation=h3&resolution=8"]
        {
            for suppressed in [false, true] {
                for half in [false, true] {
                    let params = Params { suppress_small_counts: suppressed, ..parse(raw).unwrap() };
                    let sees = |g: u32| !half || g.is_multiple_of(2);
                    let made = || run(atlas, &now, &history, &params, &sees).unwrap();
                    let mut expected = serde_json::to_value(Hotspots::of(made(), 7)).unwrap();
                    if suppressed {
                        suppress::suppress(&mut expected);
                    }
                    let written: Value =
                        serde_json::from_str(&write(made(), 7, Some(&outlines), suppressed).unwrap()).unwrap();
                    assert_eq!(written, expected, "{raw}, suppressed {suppressed}, half {half}");
                    let bare: Value = serde_json::from_str(&write(made(), 7, None, suppressed).unwrap()).unwrap();
                    for f in expected["features"].as_array_mut().unwrap() {
                        assert!(f["geometry"].is_object(), "{raw}: a site without an outline in the whole answer");
                        f["geometry"] = Value::Null;
                    }
                    assert_eq!(bare, expected, "{raw} without outlines, suppressed {suppressed}, half {half}");
                    checked += expected["features"].as_array().map_or(0, Vec::len);
                }
            }
        }
        assert!(checked > 1_000, "{checked} features compared");
    }

    /// The query string of `pairs`.
    fn q(pairs: &[(&str, &str)]) -> String {
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    }

    /// A query string read as the endpoint reads it: its parameters, then their values (the
    /// analysis's and `geometry`).
    fn parse(raw: &str) -> AppResult<Params> {
        let q = crate::api::query::parse::<HotspotsQuery>(raw)?;
        super::parse_geometry(&q)?;
        super::parse(&q)
    }

    #[test]
    fn parameters_parse_with_defaults_and_mistakes_are_named() {
        let p = parse(&q(&[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.method, p.metric, p.neighbours, p.transform),
            (Method::Gi, Metric::RegRate, Neighbours::Queen, Transform::Binary)
        );
        let p = parse(&q(&[("method", "lisa"), ("weights", "knn:6")])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.neighbours, p.transform), (Neighbours::Knn(6), Transform::RowStandardised));
        let p = parse(&q(&[("weights", "distance:1500,row"), ("month", "2026-03")])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (p.neighbours, p.month.map(|m| m.to_string())),
            (Neighbours::Distance(1500.0), Some("2026-03".into()))
        );
        let p = parse(&q(&[("tessellation", "h3"), ("resolution", "8")])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.tessellation, Tessellation::H3(8));
        for bad_pairs in [
            &[("tessellation", "h3"), ("resolution", "12")][..],
            &[("tessellation", "h3"), ("method", "emerging")][..],
            &[("tessellation", "h3"), ("month", "2026-03")][..],
        ] {
            match parse(&q(bad_pairs)) {
                Err(AppError::BadRequest(m)) => assert!(m.contains("resolution") || m.contains("h3"), "{m}"),
                other => panic!("{bad_pairs:?}: {other:?}"),
            }
        }
        for (k, v) in [
            ("method", "kriging"),
            ("metric", "happiness"),
            ("weights", "knn:0"),
            ("weights", "distance"),
            ("weights", "queen,log"),
            ("alpha", "0.2"),
            ("month", "2026-13"),
            ("permutations", "100000"),
            ("seed", "-1"),
            ("tessellation", "voronoi"),
            ("resolution", "9"),
            ("geometry", "no"),
            ("colour", "red"),
        ] {
            match parse(&q(&[(k, v)])) {
                Err(AppError::BadRequest(m)) => assert!(m.contains(k) || m.contains(v), "{k}={v}: {m}"),
                other => panic!("{k}={v}: {other:?}"),
            }
        }
    }
}
