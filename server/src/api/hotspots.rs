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
//!
//! Each feature is a grid with `value`, `statistic`, `z`, `p`, `q` (FDR-adjusted p),
//! `fdr_significant` and `class`: the Gi\* confidence bin (±3 at 99%, ±2 at 95%, ±1 at 90%, 0 not
//! significant), the LISA quadrant (`high_high`, `low_low`, `high_low`, `low_high` or
//! `not_significant`) or the emerging hot spot category. Grids whose value is undefined (a rate
//! under its small-number guard) are present with `value: null` and `class: null`. The top-level
//! `description` states the method, metric, weights (kind, parameters, transform, self-weight,
//! neighbour counts), alpha, permutations, seed, the sites analysed and the months available.

use super::features::{GEOJSON, geometry};
use crate::error::{ApiError, ApiResult};
use crate::scope::Scope;
use crate::state::AppState;
use crate::tile_cache::scope_key;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use geo::MultiPolygon;
use rentgrid_analysis::StatsError;
use rentgrid_analysis::emerging::{EmergingOptions, emerging_hot_spots};
use rentgrid_analysis::hexgrid::hex_counts;
use rentgrid_analysis::history::History;
use rentgrid_analysis::hotspot::{GiOptions, bin_label, gi_star};
use rentgrid_analysis::kpi::Counts;
use rentgrid_analysis::metrics::{GridMetrics, Metric, RateGuard, complete_cases, grid_metrics};
use rentgrid_analysis::moran::{MAX_PERMUTATIONS, MoranOptions, local_moran};
use rentgrid_analysis::stats::benjamini_hochberg;
use rentgrid_analysis::weights::{Transform, Weights};
use rentgrid_geodata::{Atlas, Month};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The statistic computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Getis-Ord Gi\*.
    Gi,
    /// Local Moran's I.
    Lisa,
    /// Emerging hot spots over the months.
    Emerging,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Gi => "gi",
            Method::Lisa => "lisa",
            Method::Emerging => "emerging",
        }
    }
}

/// How neighbours are found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Neighbours {
    /// Grids sharing an edge or a vertex.
    Queen,
    /// Grids sharing an edge.
    Rook,
    /// The k nearest label points.
    Knn(usize),
    /// Label points within a distance, metres.
    Distance(f64),
}

/// The areas analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tessellation {
    /// The drawn grids.
    Grid,
    /// H3 hexagons of a resolution.
    H3(u8),
}

/// H3 resolutions served: about 5 km² down to 0.015 km².
const H3_RESOLUTIONS: std::ops::RangeInclusive<u8> = 7..=10;

/// A checked request.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Areas analysed.
    pub tessellation: Tessellation,
    /// Statistic.
    pub method: Method,
    /// Metric mapped.
    pub metric: Metric,
    /// Neighbours.
    pub neighbours: Neighbours,
    /// Transform of the weights.
    pub transform: Transform,
    /// Month, if one was asked.
    pub month: Option<Month>,
    /// FDR level.
    pub alpha: f64,
    /// Permutations (LISA).
    pub permutations: usize,
    /// Seed (LISA).
    pub seed: u64,
}

/// The parameters this endpoint knows.
const KNOWN: [&str; 9] =
    ["method", "metric", "weights", "month", "alpha", "permutations", "seed", "tessellation", "resolution"];

/// Rings of empty hexagons added around the occupied ones.
const HEX_RING: u32 = 1;

/// The most neighbours `knn` takes.
const MAX_K: usize = 64;
/// The widest distance band, metres.
const MAX_BAND_M: f64 = 50_000.0;

fn bad(msg: String) -> ApiError {
    ApiError::BadRequest(msg)
}

/// Parses the query; every mistake is a 400 with a message naming the parameter.
pub fn parse(q: &HashMap<String, String>) -> ApiResult<Params> {
    super::reject_unknown(q, &KNOWN)?;
    let method = match q.get("method").map(String::as_str) {
        None | Some("gi") => Method::Gi,
        Some("lisa") => Method::Lisa,
        Some("emerging") => Method::Emerging,
        Some(other) => return Err(bad(format!("method={other:?}: use gi, lisa or emerging"))),
    };
    let metric: Metric = q.get("metric").map_or(Ok(Metric::RegRate), |s| s.parse()).map_err(bad)?;
    let (neighbours, transform) = parse_weights(q.get("weights").map_or("queen", String::as_str), method)?;
    let month = q.get("month").map(|s| s.parse::<Month>()).transpose().map_err(bad)?;
    let alpha = match q.get("alpha").map(String::as_str) {
        None => 0.05,
        Some(s) => match s.parse::<f64>() {
            Ok(a) if [0.10, 0.05, 0.01].contains(&a) => a,
            _ => return Err(bad(format!("alpha={s:?}: use 0.10, 0.05 or 0.01"))),
        },
    };
    let permutations = match q.get("permutations") {
        None => MoranOptions::default().permutations,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n <= MAX_PERMUTATIONS => n,
            _ => return Err(bad(format!("permutations={s:?}: a whole number from 0 to {MAX_PERMUTATIONS}"))),
        },
    };
    let seed = match q.get("seed") {
        None => MoranOptions::default().seed,
        Some(s) => s.parse::<u64>().map_err(|_| bad(format!("seed={s:?}: a whole number from 0 to 2^64-1")))?,
    };
    let tessellation = parse_tessellation(q, method, month)?;
    Ok(Params { tessellation, method, metric, neighbours, transform, month, alpha, permutations, seed })
}

/// Parses `tessellation` and `resolution`.
fn parse_tessellation(q: &HashMap<String, String>, method: Method, month: Option<Month>) -> ApiResult<Tessellation> {
    let resolution = q.get("resolution");
    match q.get("tessellation").map(String::as_str) {
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
fn parse_weights(raw: &str, method: Method) -> ApiResult<(Neighbours, Transform)> {
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

/// A statistics error caused by the request's parameters or the data: 422 with its text.
fn stats_error(e: StatsError) -> ApiError {
    ApiError::Unprocessable(e.to_string())
}

/// The per-grid counts at the end of month `m`; 422 naming the months held when `m` is not one.
pub fn month_counts(history: &History, m: Month) -> ApiResult<&[Counts]> {
    history.at(m).ok_or_else(|| {
        ApiError::Unprocessable(match history.months.first().zip(history.last()) {
            Some((a, b)) => format!("month={m}: the history covers {a} to {b}"),
            None => format!("month={m}: the store holds no dated registrations, so there is no history"),
        })
    })
}

/// The weights over every grid of `atlas`, by grid id.
fn weights(atlas: &Atlas, p: &Params) -> ApiResult<Weights> {
    let points = || atlas.grids().iter().map(|g| (g.label_point.x(), g.label_point.y())).collect::<Vec<_>>();
    let w = match p.neighbours {
        Neighbours::Queen => Weights::queen(atlas),
        Neighbours::Rook => Weights::rook(atlas),
        Neighbours::Knn(k) => Weights::knn_lonlat(&points(), k).map_err(stats_error)?,
        Neighbours::Distance(m) => Weights::distance_band_lonlat(&points(), m).map_err(stats_error)?,
    };
    Ok(if p.transform == Transform::RowStandardised { w.row_standardised() } else { w })
}

/// One site's result.
struct Site {
    value: f64,
    statistic: f64,
    z: f64,
    p: f64,
    q: f64,
    class: Value,
    label: String,
    extra: serde_json::Map<String, Value>,
}

/// The metric of every grid (by grid id) from per-grid counts.
fn values(atlas: &Atlas, counts: &[Counts], metric: Metric) -> Vec<Option<f64>> {
    grid_metrics(atlas, counts, &RateGuard::default()).iter().map(|m| m.value(metric)).collect()
}

/// Runs the analysis and builds the response body (all grids; `sees` filters the features).
pub fn run(
    atlas: &Atlas,
    now: &[Counts],
    history: &History,
    p: &Params,
    sees: &dyn Fn(u32) -> bool,
) -> ApiResult<Value> {
    if let Tessellation::H3(resolution) = p.tessellation {
        return run_hex(atlas, history, p, resolution, sees);
    }
    let n_grids = atlas.grids().len();
    let w = weights(atlas, p)?;
    let month_counts = |m: Month| month_counts(history, m);
    // Per-site values (for emerging: one row per month), then the sites kept.
    let series: Vec<Vec<Option<f64>>> = match p.method {
        Method::Emerging => {
            let end = p.month.or(history.last()).ok_or_else(|| {
                ApiError::Unprocessable("the store holds no dated registrations, so there is no history".into())
            })?;
            month_counts(end)?;
            let rows: Vec<Vec<Option<f64>>> = history
                .months
                .iter()
                .zip(&history.counts)
                .filter(|(m, _)| **m <= end)
                .map(|(_, c)| values(atlas, c, p.metric))
                .collect();
            if rows.len() < 3 {
                return Err(ApiError::Unprocessable(format!(
                    "emerging hot spots need at least 3 months; the history has {} up to {end}",
                    rows.len()
                )));
            }
            rows
        }
        _ => vec![match p.month {
            Some(m) => values(atlas, month_counts(m)?, p.metric),
            None => values(atlas, now, p.metric),
        }],
    };
    let keep: Vec<bool> =
        (0..n_grids).map(|i| series.iter().all(|row| row.get(i).is_some_and(Option::is_some))).collect();
    let (w_sub, ids) = w.subset(&keep).map_err(stats_error)?;
    let rows: Vec<Vec<f64>> =
        series.iter().map(|row| ids.iter().map(|&i| row[i as usize].unwrap_or_default()).collect()).collect();
    let last = rows.last().cloned().unwrap_or_default();
    let mut sites: Vec<Site> = Vec::with_capacity(ids.len());
    let mut months_used: Vec<String> = Vec::new();
    match p.method {
        Method::Gi | Method::Lisa => sites = gi_or_lisa(p, &last, &w_sub)?,
        Method::Emerging => {
            let min_bin = if p.alpha <= 0.01 {
                3
            } else if p.alpha <= 0.05 {
                2
            } else {
                1
            };
            let opts = EmergingOptions { min_bin, ..EmergingOptions::default() };
            let e = emerging_hot_spots(&rows, &w_sub, &opts).map_err(stats_error)?;
            months_used = history.months.iter().take(rows.len()).map(Month::to_string).collect();
            let Some(final_month) = e.months.last() else {
                return Err(ApiError::Internal("emerging hot spots returned no month".into()));
            };
            for (k, cell) in e.cells.iter().enumerate() {
                let category = json!(cell.category);
                let mut extra = serde_json::Map::new();
                extra.insert("trend_p".into(), cell.trend.p.into());
                extra.insert("hot_months".into(), cell.hot_months.into());
                extra.insert("cold_months".into(), cell.cold_months.into());
                extra.insert("bin".into(), final_month.bin[k].into());
                extra.insert("z_by_month".into(), e.months.iter().map(|m| m.z[k]).collect::<Vec<f64>>().into());
                sites.push(Site {
                    value: last[k],
                    statistic: cell.trend.z,
                    z: final_month.z[k],
                    p: final_month.p[k],
                    q: final_month.q[k],
                    label: category.as_str().unwrap_or_default().replace('_', " "),
                    class: category,
                    extra,
                });
            }
        }
    }
    let mut by_grid: Vec<Option<Site>> = (0..n_grids).map(|_| None).collect();
    for (site, &id) in sites.into_iter().zip(&ids) {
        by_grid[id as usize] = Some(site);
    }
    let current = series.last().cloned().unwrap_or_default();
    let features: Vec<Value> = atlas
        .grids()
        .iter()
        .filter(|g| sees(g.grid.id))
        .map(|g| {
            let id = g.grid.id;
            let mut props = json!({ "grid_id": id, "code": g.grid.code, "name": g.grid.name });
            let value = current.get(id as usize).copied().flatten();
            site_properties(&mut props, by_grid[id as usize].as_ref(), value, p.alpha);
            json!({ "type": "Feature", "id": id, "geometry": geometry(g.grid.geometry.clone()), "properties": props })
        })
        .collect();
    Ok(json!({
        "type": "FeatureCollection",
        "description": description(p, &w_sub, ids.len(), json!({ "kind": "grid", "grids": n_grids }), history, months_used),
        "features": features,
    }))
}

/// The analysis on H3 hexagons of `resolution` holding the buildings `sees` lets through.
fn run_hex(
    atlas: &Atlas,
    history: &History,
    p: &Params,
    resolution: u8,
    sees: &dyn Fn(u32) -> bool,
) -> ApiResult<Value> {
    let buildings = atlas
        .buildings()
        .iter()
        .filter(|b| sees(b.grid_id))
        .filter_map(|b| atlas.building_stats(b.id).map(|s| (b.point.x(), b.point.y(), s)));
    let hex = hex_counts(buildings, resolution, HEX_RING).map_err(stats_error)?;
    let guard = RateGuard::default();
    let values: Vec<Option<f64>> =
        hex.counts.iter().map(|c| GridMetrics::from_counts(0, c, &guard).value(p.metric)).collect();
    let w = match p.neighbours {
        Neighbours::Queen | Neighbours::Rook => hex.weights(),
        Neighbours::Knn(k) => Weights::knn_lonlat(&hex.centres, k),
        Neighbours::Distance(m) => Weights::distance_band_lonlat(&hex.centres, m),
    }
    .map_err(stats_error)?;
    let w = if p.transform == Transform::RowStandardised { w.row_standardised() } else { w };
    let (y, w_sub, ids) = complete_cases(&values, &w).map_err(stats_error)?;
    let mut by_hex: Vec<Option<Site>> = (0..hex.counts.len()).map(|_| None).collect();
    for (site, &i) in gi_or_lisa(p, &y, &w_sub)?.into_iter().zip(&ids) {
        by_hex[i as usize] = Some(site);
    }
    let features: Vec<Value> = by_hex
        .iter()
        .enumerate()
        .map(|(i, site)| {
            let c = &hex.counts[i];
            let mut props = json!({
                "h3": hex.index[i],
                "resolution": resolution,
                "buildings": c.buildings,
                "area_km2": c.area_km2,
            });
            site_properties(&mut props, site.as_ref(), values[i], p.alpha);
            json!({
                "type": "Feature",
                "id": hex.index[i],
                "geometry": geometry(MultiPolygon(vec![hex.boundary(i)])),
                "properties": props,
            })
        })
        .collect();
    let tessellation = json!({
        "kind": "h3",
        "resolution": resolution,
        "hexagons": hex.counts.len(),
        "ring": HEX_RING,
        "note": "buildings summed per H3 hexagon, with the empty hexagons next to occupied ones",
    });
    Ok(json!({
        "type": "FeatureCollection",
        "description": description(p, &w_sub, ids.len(), tessellation, history, Vec::new()),
        "features": features,
    }))
}

/// A site's result as feature properties, or its undefined value and why it was left out.
fn site_properties(props: &mut Value, site: Option<&Site>, value: Option<f64>, alpha: f64) {
    match site {
        Some(s) => {
            props["value"] = s.value.into();
            props["statistic"] = s.statistic.into();
            props["z"] = s.z.into();
            props["p"] = s.p.into();
            props["q"] = s.q.into();
            props["fdr_significant"] = (s.q <= alpha).into();
            props["class"] = s.class.clone();
            props["class_label"] = s.label.clone().into();
            for (k, v) in &s.extra {
                props[k] = v.clone();
            }
        }
        None => {
            props["value"] = value.into();
            props["class"] = Value::Null;
            props["excluded"] = "the metric is undefined here (no area, or a rate below its small-number guard)".into();
        }
    }
}

/// Gi\* or Local Moran's I of `y` over `w`, one [`Site`] each.
fn gi_or_lisa(p: &Params, y: &[f64], w: &Weights) -> ApiResult<Vec<Site>> {
    let mut sites: Vec<Site> = Vec::with_capacity(y.len());
    match p.method {
        Method::Gi => {
            let g = gi_star(y, w, &GiOptions { fdr: true }).map_err(stats_error)?;
            for (k, &value) in y.iter().enumerate() {
                sites.push(Site {
                    value,
                    statistic: g.z[k],
                    z: g.z[k],
                    p: g.p[k],
                    q: g.q[k],
                    class: g.bin[k].into(),
                    label: bin_label(g.bin[k]).into(),
                    extra: serde_json::Map::new(),
                });
            }
        }
        Method::Lisa => {
            let opts = MoranOptions { permutations: p.permutations, seed: p.seed };
            let m = local_moran(y, w, &opts).map_err(stats_error)?;
            let q = benjamini_hochberg(&m.p_sim);
            for k in 0..y.len() {
                let significant = q[k] <= p.alpha;
                let class = m.quadrant[k].filter(|_| significant);
                let name = class.map_or(Value::from("not_significant"), |c| json!(c));
                let mut extra = serde_json::Map::new();
                extra.insert("lag".into(), m.lag[k].into());
                extra.insert("standardised_value".into(), m.z[k].into());
                sites.push(Site {
                    value: y[k],
                    statistic: m.i[k],
                    z: m.z_sim[k],
                    p: m.p_sim[k],
                    q: q[k],
                    label: name.as_str().unwrap_or_default().replace('_', "-"),
                    class: name,
                    extra,
                });
            }
        }
        Method::Emerging => return Err(ApiError::Internal("emerging is not a single-period statistic".into())),
    }
    Ok(sites)
}

/// What was run, with enough detail to run it again.
fn description(
    p: &Params,
    w: &Weights,
    n: usize,
    tessellation: Value,
    history: &History,
    months: Vec<String>,
) -> Value {
    let d = w.describe();
    let points = match p.tessellation {
        Tessellation::Grid => "grid label points",
        Tessellation::H3(_) => "hexagon centres",
    };
    let (kind, parameters) = match (p.neighbours, p.tessellation) {
        (Neighbours::Queen | Neighbours::Rook, Tessellation::H3(_)) => ("h3_edge", json!({})),
        (Neighbours::Queen, _) => ("queen", json!({})),
        (Neighbours::Rook, _) => ("rook", json!({})),
        (Neighbours::Knn(k), _) => ("knn", json!({ "k": k, "points": points, "units": "metres" })),
        (Neighbours::Distance(m), _) => ("distance", json!({ "threshold_m": m, "points": points, "units": "metres" })),
    };
    let (statistic, self_weight) = match p.method {
        Method::Gi => ("Getis-Ord Gi* z-score (binary weights, the site itself included)", 1),
        Method::Lisa => ("Local Moran's I (conditional permutation p-values, as esda)", 0),
        Method::Emerging => ("Mann-Kendall z of the monthly Gi* z-scores; z and p are the last month's Gi*", 1),
    };
    json!({
        "method": p.method.as_str(),
        "statistic": statistic,
        "metric": p.metric.as_str(),
        "tessellation": tessellation,
        "month": p.month.map(|m| m.to_string()),
        "months": months,
        "months_available": history.months.iter().map(Month::to_string).collect::<Vec<_>>(),
        "weights": {
            "kind": kind,
            "parameters": parameters,
            "transform": match p.transform { Transform::Binary => "binary", Transform::RowStandardised => "row" },
            "self_weight": self_weight,
            "structure": d,
            "text": d.to_string(),
        },
        "alpha": p.alpha,
        "fdr": "Benjamini-Hochberg",
        "permutations": (p.method == Method::Lisa).then_some(p.permutations),
        "seed": (p.method == Method::Lisa).then_some(p.seed),
        "n": n,
        "rate_guard": RateGuard::default().min_denominator,
    })
}

/// `GET /api/hotspots`: see the module documentation.
pub async fn hotspots(
    State(state): State<AppState>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let params = parse(&q)?;
    let atlas = state.atlas();
    let key = format!("{params:?}|{}", scope_key(&scope));
    if let Some(body) = state.hotspots_cached(atlas.version(), &key) {
        return Ok(respond(body));
    }
    let history = state.history(&atlas).await?;
    let now = state.grid_counts(&atlas);
    let version = atlas.version();
    let body = tokio::task::spawn_blocking(move || {
        run(&atlas, &now, &history, &params, &|g| scope.sees_grid(g)).map(|v| Arc::new(v.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hot spots: {e}")))??;
    state.hotspots_store(version, key, body.clone());
    Ok(respond(body))
}

fn respond(body: Arc<String>) -> Response {
    ([(header::CONTENT_TYPE, GEOJSON), (header::CACHE_CONTROL, "no-cache")], body.as_str().to_owned()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
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
                Err(ApiError::BadRequest(m)) => assert!(m.contains("resolution") || m.contains("h3"), "{m}"),
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
            ("colour", "red"),
        ] {
            match parse(&q(&[(k, v)])) {
                Err(ApiError::BadRequest(m)) => assert!(m.contains(k) || m.contains(v), "{k}={v}: {m}"),
                other => panic!("{k}={v}: {other:?}"),
            }
        }
    }
}
