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

use super::geojson::{Feature, FeatureCollectionType, GEOJSON, geometry};
use super::query::ApiQuery;
use crate::error::{ApiError, ApiResult, Exception};
use crate::scope::Scope;
use crate::state::AppState;
use crate::tile_cache::scope_key;
use axum::extract::State;
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
use rentgrid_analysis::weights::{Transform, Weights, WeightsDescription};
use rentgrid_geodata::{Atlas, Month};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

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
}

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
pub fn parse(q: &HotspotsQuery) -> ApiResult<Params> {
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
    Ok(Params { tessellation, method, metric, neighbours, transform, month, alpha, permutations, seed })
}

/// Parses `tessellation` and `resolution`.
fn parse_tessellation(q: &HotspotsQuery, method: Method, month: Option<Month>) -> ApiResult<Tessellation> {
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
    class: HotspotClass,
    label: String,
    extra: SiteExtra,
}

/// A site's class: the Gi\* confidence bin, or the LISA quadrant or emerging category.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum HotspotClass {
    /// Gi\*: ±3 at 99%, ±2 at 95%, ±1 at 90%, 0 not significant.
    Bin(i8),
    /// LISA: high_high, low_low, high_low, low_high or not_significant; emerging: the category.
    Name(String),
}

/// The area a site is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SiteArea {
    /// A grid.
    Grid {
        /// The grid.
        grid_id: u32,
        /// Its code.
        code: String,
        /// Its name.
        name: String,
    },
    /// An H3 hexagon.
    Hexagon {
        /// Its H3 index.
        h3: String,
        /// Its resolution.
        resolution: u8,
        /// Buildings in it.
        buildings: u32,
        /// Its area, km².
        area_km2: f64,
    },
}

/// What some methods add to a site.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SiteExtra {
    /// Emerging: the p-value of the Mann-Kendall trend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_p: Option<f64>,
    /// Emerging: months the site was a hot spot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_months: Option<usize>,
    /// Emerging: months the site was a cold spot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_months: Option<usize>,
    /// Emerging: the last month's Gi\* bin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bin: Option<i8>,
    /// Emerging: the Gi\* z-score of every month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z_by_month: Option<Vec<f64>>,
    /// LISA: the spatial lag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<f64>,
    /// LISA: the standardised value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standardised_value: Option<f64>,
}

/// The properties of a site of a hot-spot analysis.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HotspotProperties {
    /// The grid or hexagon.
    #[serde(flatten)]
    pub area: SiteArea,
    /// The metric (null where undefined).
    #[schema(required = true)]
    pub value: Option<f64>,
    /// The statistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<f64>,
    /// Its z-score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Its p-value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// The FDR-adjusted p-value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<f64>,
    /// Whether `q` is at most alpha.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fdr_significant: Option<bool>,
    /// The class (null where the site was left out).
    #[schema(required = true)]
    pub class: Option<HotspotClass>,
    /// The class in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_label: Option<String>,
    /// Why the site was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<&'static str>,
    /// What the method adds.
    #[serde(flatten)]
    pub extra: SiteExtra,
}

/// The analysed areas, described.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct TessellationDescription {
    /// grid or h3.
    pub kind: &'static str,
    /// Grids in the district (grid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grids: Option<usize>,
    /// The H3 resolution (h3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<u8>,
    /// Hexagons analysed (h3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hexagons: Option<usize>,
    /// Rings of empty hexagons added (h3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring: Option<u32>,
    /// How hexagons were filled (h3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// The parameters of the neighbours.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct NeighbourParameters {
    /// k nearest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// The distance band, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_m: Option<f64>,
    /// Which points distances are measured between.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<&'static str>,
    /// The units: metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<&'static str>,
}

/// The weights used.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WeightsUsed {
    /// queen, rook, knn, distance or h3_edge.
    pub kind: &'static str,
    /// Their parameters.
    pub parameters: NeighbourParameters,
    /// binary or row.
    pub transform: &'static str,
    /// 1 when a site is its own neighbour (Gi\*), else 0.
    pub self_weight: u8,
    /// Their structure: sites, links, islands, neighbours.
    pub structure: WeightsDescription,
    /// In words.
    pub text: String,
}

/// What was run, with enough detail to run it again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunDescription {
    /// gi, lisa or emerging.
    pub method: &'static str,
    /// The statistic, in words.
    pub statistic: &'static str,
    /// The metric.
    pub metric: &'static str,
    /// The areas analysed.
    pub tessellation: TessellationDescription,
    /// The month asked for.
    #[schema(required = true)]
    pub month: Option<String>,
    /// The months of the series (emerging).
    pub months: Vec<String>,
    /// The months the history holds.
    pub months_available: Vec<String>,
    /// The weights.
    pub weights: WeightsUsed,
    /// The FDR level.
    pub alpha: f64,
    /// Always Benjamini-Hochberg.
    pub fdr: &'static str,
    /// LISA permutations.
    #[schema(required = true)]
    pub permutations: Option<usize>,
    /// LISA seed.
    #[schema(required = true)]
    pub seed: Option<u64>,
    /// Sites analysed.
    pub n: usize,
    /// The smallest denominator a rate is computed from.
    pub rate_guard: u32,
}

/// `GET /api/hotspots`: every site with its statistics, and what was run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hotspots {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    /// What was run.
    pub description: RunDescription,
    /// The sites.
    pub features: Vec<Feature<HotspotProperties>>,
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
) -> ApiResult<Hotspots> {
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
                let category = serde_json::to_value(cell.category)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                sites.push(Site {
                    value: last[k],
                    statistic: cell.trend.z,
                    z: final_month.z[k],
                    p: final_month.p[k],
                    q: final_month.q[k],
                    label: category.replace('_', " "),
                    class: HotspotClass::Name(category),
                    extra: SiteExtra {
                        trend_p: Some(cell.trend.p),
                        hot_months: Some(cell.hot_months),
                        cold_months: Some(cell.cold_months),
                        bin: Some(final_month.bin[k]),
                        z_by_month: Some(e.months.iter().map(|m| m.z[k]).collect()),
                        ..SiteExtra::default()
                    },
                });
            }
        }
    }
    let mut by_grid: Vec<Option<Site>> = (0..n_grids).map(|_| None).collect();
    for (site, &id) in sites.into_iter().zip(&ids) {
        by_grid[id as usize] = Some(site);
    }
    let current = series.last().cloned().unwrap_or_default();
    let features = atlas
        .grids()
        .iter()
        .filter(|g| sees(g.grid.id))
        .map(|g| {
            let id = g.grid.id;
            let area = SiteArea::Grid { grid_id: id, code: g.grid.code.clone(), name: g.grid.name.clone() };
            let value = current.get(id as usize).copied().flatten();
            let props = site_properties(area, by_grid[id as usize].as_ref(), value, p.alpha);
            Feature::new(geometry(g.grid.geometry.clone()), props).with_id(id)
        })
        .collect();
    let tessellation = TessellationDescription { kind: "grid", grids: Some(n_grids), ..Default::default() };
    Ok(Hotspots {
        kind: FeatureCollectionType::FeatureCollection,
        description: description(p, &w_sub, ids.len(), tessellation, history, months_used),
        features,
    })
}

/// The analysis on H3 hexagons of `resolution` holding the buildings `sees` lets through.
fn run_hex(
    atlas: &Atlas,
    history: &History,
    p: &Params,
    resolution: u8,
    sees: &dyn Fn(u32) -> bool,
) -> ApiResult<Hotspots> {
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
    let features = by_hex
        .iter()
        .enumerate()
        .map(|(i, site)| {
            let c = &hex.counts[i];
            let area = SiteArea::Hexagon {
                h3: hex.index[i].clone(),
                resolution,
                buildings: c.buildings,
                area_km2: c.area_km2,
            };
            let props = site_properties(area, site.as_ref(), values[i], p.alpha);
            Feature::new(geometry(MultiPolygon(vec![hex.boundary(i)])), props).with_code(hex.index[i].clone())
        })
        .collect();
    let tessellation = TessellationDescription {
        kind: "h3",
        resolution: Some(resolution),
        hexagons: Some(hex.counts.len()),
        ring: Some(HEX_RING),
        note: Some("buildings summed per H3 hexagon, with the empty hexagons next to occupied ones"),
        ..Default::default()
    };
    Ok(Hotspots {
        kind: FeatureCollectionType::FeatureCollection,
        description: description(p, &w_sub, ids.len(), tessellation, history, Vec::new()),
        features,
    })
}

/// A site's result as feature properties, or its undefined value and why it was left out.
fn site_properties(area: SiteArea, site: Option<&Site>, value: Option<f64>, alpha: f64) -> HotspotProperties {
    match site {
        Some(s) => HotspotProperties {
            area,
            value: Some(s.value),
            statistic: Some(s.statistic),
            z: Some(s.z),
            p: Some(s.p),
            q: Some(s.q),
            fdr_significant: Some(s.q <= alpha),
            class: Some(s.class.clone()),
            class_label: Some(s.label.clone()),
            excluded: None,
            extra: s.extra.clone(),
        },
        None => HotspotProperties {
            area,
            value,
            statistic: None,
            z: None,
            p: None,
            q: None,
            fdr_significant: None,
            class: None,
            class_label: None,
            excluded: Some("the metric is undefined here (no area, or a rate below its small-number guard)"),
            extra: SiteExtra::default(),
        },
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
                    class: HotspotClass::Bin(g.bin[k]),
                    label: bin_label(g.bin[k]).into(),
                    extra: SiteExtra::default(),
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
                let name = class
                    .and_then(|c| serde_json::to_value(c).ok())
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "not_significant".into());
                sites.push(Site {
                    value: y[k],
                    statistic: m.i[k],
                    z: m.z_sim[k],
                    p: m.p_sim[k],
                    q: q[k],
                    label: name.replace('_', "-"),
                    class: HotspotClass::Name(name),
                    extra: SiteExtra { lag: Some(m.lag[k]), standardised_value: Some(m.z[k]), ..SiteExtra::default() },
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
    tessellation: TessellationDescription,
    history: &History,
    months: Vec<String>,
) -> RunDescription {
    let d = w.describe();
    let points = match p.tessellation {
        Tessellation::Grid => "grid label points",
        Tessellation::H3(_) => "hexagon centres",
    };
    let metres = |k: Option<usize>, threshold_m: Option<f64>| NeighbourParameters {
        k,
        threshold_m,
        points: Some(points),
        units: Some("metres"),
    };
    let (kind, parameters) = match (p.neighbours, p.tessellation) {
        (Neighbours::Queen | Neighbours::Rook, Tessellation::H3(_)) => ("h3_edge", NeighbourParameters::default()),
        (Neighbours::Queen, _) => ("queen", NeighbourParameters::default()),
        (Neighbours::Rook, _) => ("rook", NeighbourParameters::default()),
        (Neighbours::Knn(k), _) => ("knn", metres(Some(k), None)),
        (Neighbours::Distance(m), _) => ("distance", metres(None, Some(m))),
    };
    let (statistic, self_weight) = match p.method {
        Method::Gi => ("Getis-Ord Gi* z-score (binary weights, the site itself included)", 1),
        Method::Lisa => ("Local Moran's I (conditional permutation p-values, as esda)", 0),
        Method::Emerging => ("Mann-Kendall z of the monthly Gi* z-scores; z and p are the last month's Gi*", 1),
    };
    RunDescription {
        method: p.method.as_str(),
        statistic,
        metric: p.metric.as_str(),
        tessellation,
        month: p.month.map(|m| m.to_string()),
        months,
        months_available: history.months.iter().map(Month::to_string).collect(),
        weights: WeightsUsed {
            kind,
            parameters,
            transform: match p.transform {
                Transform::Binary => "binary",
                Transform::RowStandardised => "row",
            },
            self_weight,
            text: d.to_string(),
            structure: d,
        },
        alpha: p.alpha,
        fdr: "Benjamini-Hochberg",
        permutations: (p.method == Method::Lisa).then_some(p.permutations),
        seed: (p.method == Method::Lisa).then_some(p.seed),
        n,
        rate_guard: RateGuard::default().min_denominator,
    }
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
        (status = 422, description = "a month outside the history, or too few months for emerging hot spots", body = Exception)))]
pub async fn hotspots(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<HotspotsQuery>,
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
        run(&atlas, &now, &history, &params, &|g| scope.sees_grid(g))
            .and_then(|v| serde_json::to_string(&v).map_err(|e| ApiError::Internal(e.to_string())))
            .map(Arc::new)
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

    /// The query string of `pairs`.
    fn q(pairs: &[(&str, &str)]) -> String {
        pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    }

    /// A query string read as the endpoint reads it: its parameters, then their values.
    fn parse(raw: &str) -> ApiResult<Params> {
        super::parse(&crate::api::query::parse::<HotspotsQuery>(raw)?)
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
