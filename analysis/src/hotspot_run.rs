//! One hot-spot analysis (热点分析) as the API runs it: the checked [`Params`] (areas, statistic,
//! metric, neighbours, month, FDR level, permutations) chosen into weights and a series of
//! values, Getis-Ord Gi\* ([`crate::hotspot`]), Local Moran's I ([`crate::moran`]) or emerging
//! hot spots ([`crate::emerging`]) computed on it, and every area's result as plain data
//! ([`HotspotRun`]) with a [`RunDescription`] detailed enough to run it again.
//!
//! Areas are the drawn grids or H3 hexagons ([`crate::hexgrid`]) of the buildings a caller sees,
//! with a ring of empty hexagons around the occupied ones. Grids whose value is undefined (a rate
//! under its small-number guard) are present without a statistic, saying why.

use crate::StatsError;
use crate::disclosure;
use crate::emerging::{EmergingOptions, emerging_hot_spots};
use crate::hexgrid::hex_counts;
use crate::history::History;
use crate::hotspot::{GiOptions, bin_label, gi_star};
use crate::kpi::Counts;
use crate::metrics::{GridMetrics, Metric, RateGuard, complete_cases, grid_metrics};
use crate::moran::{MoranOptions, Quadrant, local_moran};
use crate::stats::benjamini_hochberg;
use crate::weights::{Transform, Weights, WeightsDescription};
use geo::MultiPolygon;
use rentgrid_geodata::{Atlas, Month};
use serde::Serialize;

/// Why a run could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The parameters do not fit the data: a month outside the history, too few months, or a
    /// statistic refusing its input.
    #[error("{0}")]
    Unfit(String),
    /// An inconsistency inside the analysis (a bug).
    #[error("{0}")]
    Internal(String),
}

impl From<StatsError> for RunError {
    fn from(e: StatsError) -> Self {
        RunError::Unfit(e.to_string())
    }
}

/// The `Result` of a run.
pub type RunResult<T> = Result<T, RunError>;

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
    /// Its name in a request: gi, lisa or emerging.
    pub fn as_str(self) -> &'static str {
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
pub const H3_RESOLUTIONS: std::ops::RangeInclusive<u8> = 7..=10;

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
    /// Leave out, as undefined inputs, the areas where the metric comes from fewer than
    /// [`disclosure::K`] persons (a leader's run: a result must not give such a count back).
    pub suppress_small_counts: bool,
}

/// Rings of empty hexagons added around the occupied ones.
pub const HEX_RING: u32 = 1;

/// A statistic's refusal of its input, as a run error.
fn stats_error(e: StatsError) -> RunError {
    RunError::from(e)
}

/// The per-grid counts at the end of month `m`; 422 naming the months held when `m` is not one.
pub fn month_counts(history: &History, m: Month) -> RunResult<&[Counts]> {
    history.at(m).ok_or_else(|| {
        RunError::Unfit(match history.months.first().zip(history.last()) {
            Some((a, b)) => format!("month={m}: the history covers {a} to {b}"),
            None => format!("month={m}: the store holds no dated registrations, so there is no history"),
        })
    })
}

/// The weights over every grid of `atlas`, by grid id.
fn weights(atlas: &Atlas, p: &Params, contiguity: &Contiguity) -> RunResult<Weights> {
    let points = || atlas.grids().iter().map(|g| (g.label_point.x(), g.label_point.y())).collect::<Vec<_>>();
    let w = match p.neighbours {
        Neighbours::Queen => contiguity.queen.get_or_init(|| Weights::queen(atlas)).clone(),
        Neighbours::Rook => contiguity.rook.get_or_init(|| Weights::rook(atlas)).clone(),
        Neighbours::Knn(k) => Weights::knn_lonlat(&points(), k).map_err(stats_error)?,
        Neighbours::Distance(m) => Weights::distance_band_lonlat(&points(), m).map_err(stats_error)?,
    };
    Ok(if p.transform == Transform::RowStandardised { w.row_standardised() } else { w })
}

/// The grids' contiguity (binary queen and rook weights), each found at the first run that asks
/// for it and kept for the next runs over the same grids: at a city's scale, finding which of
/// 20,002 outlines touch takes longer than the Gi\* run over them. Keep one per district
/// geometry (the grids' outlines); counts do not move it.
#[derive(Default)]
pub struct Contiguity {
    queen: std::sync::OnceLock<Weights>,
    rook: std::sync::OnceLock<Weights>,
}

impl std::fmt::Debug for Contiguity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contiguity")
            .field("queen", &self.queen.get().is_some())
            .field("rook", &self.rook.get().is_some())
            .finish()
    }
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HotspotClass {
    /// Gi\*: ±3 at 99%, ±2 at 95%, ±1 at 90%, 0 not significant.
    Bin(i8),
    /// LISA: high_high, low_low, high_low, low_high or not_significant; emerging: the category.
    Name(String),
}

/// The area a site is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct HotspotProperties {
    /// The grid or hexagon.
    #[serde(flatten)]
    pub area: SiteArea,
    /// The metric (null where undefined).
    #[cfg_attr(feature = "openapi", schema(required = true))]
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
    #[cfg_attr(feature = "openapi", schema(required = true))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
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
    #[cfg_attr(feature = "openapi", schema(required = true))]
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
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub permutations: Option<usize>,
    /// LISA seed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub seed: Option<u64>,
    /// Sites analysed.
    pub n: usize,
    /// The smallest denominator a rate is computed from.
    pub rate_guard: u32,
}

/// Which area a site is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteId {
    /// A grid, by id.
    Grid(u32),
    /// An H3 hexagon, by index.
    H3(String),
}

/// One area of a run: what it is, its outline and its result.
#[derive(Debug, Clone)]
pub struct SiteResult {
    /// The grid or hexagon.
    pub id: SiteId,
    /// Its outline (WGS84).
    pub geometry: MultiPolygon<f64>,
    /// Its value and statistics, or why it was left out.
    pub properties: HotspotProperties,
}

/// A hot-spot run: every area (those `sees` lets through) with its result, and what was run.
#[derive(Debug, Clone)]
pub struct HotspotRun {
    /// What was run.
    pub description: RunDescription,
    /// The areas, in the Atlas's grid order or the hexagons' order.
    pub sites: Vec<SiteResult>,
}

/// The metric of every grid (by grid id) from per-grid counts; with `suppress`, undefined where
/// it comes from fewer than [`disclosure::K`] persons.
fn values(atlas: &Atlas, counts: &[Counts], metric: Metric, suppress: bool) -> Vec<Option<f64>> {
    grid_metrics(atlas, counts, &RateGuard::default())
        .iter()
        .map(|m| {
            let hidden =
                suppress && counts.get(m.grid_id as usize).is_none_or(|c| disclosure::hides(metric.as_str(), &c.stats));
            if hidden { None } else { m.value(metric) }
        })
        .collect()
}

/// Why an area without a statistic was left out.
fn excluded_reason(suppressed: bool) -> &'static str {
    if suppressed {
        "fewer than 5 persons: not shown to a leader (small-count suppression)"
    } else {
        "the metric is undefined here (no area, or a rate below its small-number guard)"
    }
}

/// Runs the analysis over every grid (`sees` only filters the areas returned).
pub fn run(
    atlas: &Atlas,
    now: &[Counts],
    history: &History,
    p: &Params,
    sees: &dyn Fn(u32) -> bool,
) -> RunResult<HotspotRun> {
    run_with(atlas, now, history, p, sees, &Contiguity::default())
}

/// [`run`], with the grids' contiguity taken from (or kept in) `contiguity`, which belongs to
/// `atlas`'s grids.
pub fn run_with(
    atlas: &Atlas,
    now: &[Counts],
    history: &History,
    p: &Params,
    sees: &dyn Fn(u32) -> bool,
    contiguity: &Contiguity,
) -> RunResult<HotspotRun> {
    if let Tessellation::H3(resolution) = p.tessellation {
        return run_hex(atlas, history, p, resolution, sees);
    }
    let n_grids = atlas.grids().len();
    let w = weights(atlas, p, contiguity)?;
    let month_counts = |m: Month| month_counts(history, m);
    // Per-site values (for emerging: one row per month), then the sites kept.
    let series: Vec<Vec<Option<f64>>> = match p.method {
        Method::Emerging => {
            let end = p.month.or(history.last()).ok_or_else(|| {
                RunError::Unfit("the store holds no dated registrations, so there is no history".into())
            })?;
            month_counts(end)?;
            let rows: Vec<Vec<Option<f64>>> = history
                .months
                .iter()
                .zip(&history.counts)
                .filter(|(m, _)| **m <= end)
                .map(|(_, c)| values(atlas, c, p.metric, p.suppress_small_counts))
                .collect();
            if rows.len() < 3 {
                return Err(RunError::Unfit(format!(
                    "emerging hot spots need at least 3 months; the history has {} up to {end}",
                    rows.len()
                )));
            }
            rows
        }
        _ => vec![match p.month {
            Some(m) => values(atlas, month_counts(m)?, p.metric, p.suppress_small_counts),
            None => values(atlas, now, p.metric, p.suppress_small_counts),
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
                return Err(RunError::Internal("emerging hot spots returned no month".into()));
            };
            for (k, cell) in e.cells.iter().enumerate() {
                let category = cell.category.as_str().to_owned();
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
    let sites = atlas
        .grids()
        .iter()
        .filter(|g| sees(g.grid.id))
        .map(|g| {
            let id = g.grid.id;
            let area = SiteArea::Grid { grid_id: id, code: g.grid.code.clone(), name: g.grid.name.clone() };
            let value = current.get(id as usize).copied().flatten();
            let counts = p.month.map_or(Some(now), |m| history.at(m));
            let suppressed = p.suppress_small_counts
                && counts
                    .and_then(|c| c.get(id as usize))
                    .is_none_or(|c| disclosure::hides(p.metric.as_str(), &c.stats));
            let props = site_properties(area, by_grid[id as usize].as_ref(), value, p.alpha, suppressed);
            SiteResult { id: SiteId::Grid(id), geometry: g.grid.geometry.clone(), properties: props }
        })
        .collect();
    let tessellation = TessellationDescription { kind: "grid", grids: Some(n_grids), ..Default::default() };
    Ok(HotspotRun { description: description(p, &w_sub, ids.len(), tessellation, history, months_used), sites })
}

/// The analysis on H3 hexagons of `resolution` holding the buildings `sees` lets through.
fn run_hex(
    atlas: &Atlas,
    history: &History,
    p: &Params,
    resolution: u8,
    sees: &dyn Fn(u32) -> bool,
) -> RunResult<HotspotRun> {
    let buildings = atlas
        .buildings()
        .iter()
        .filter(|b| sees(b.grid_id))
        .filter_map(|b| atlas.building_stats(b.id).map(|s| (b.point.x(), b.point.y(), s)));
    let hex = hex_counts(buildings, resolution, HEX_RING).map_err(stats_error)?;
    let guard = RateGuard::default();
    let hidden: Vec<bool> =
        hex.counts.iter().map(|c| p.suppress_small_counts && disclosure::hides(p.metric.as_str(), &c.stats)).collect();
    let values: Vec<Option<f64>> = hex
        .counts
        .iter()
        .zip(&hidden)
        .map(|(c, &h)| if h { None } else { GridMetrics::from_counts(0, c, &guard).value(p.metric) })
        .collect();
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
    let sites = by_hex
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
            let props = site_properties(area, site.as_ref(), values[i], p.alpha, hidden[i]);
            SiteResult {
                id: SiteId::H3(hex.index[i].clone()),
                geometry: MultiPolygon(vec![hex.boundary(i)]),
                properties: props,
            }
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
    Ok(HotspotRun { description: description(p, &w_sub, ids.len(), tessellation, history, Vec::new()), sites })
}

/// A site's result as feature properties, or its undefined value and why it was left out.
fn site_properties(
    area: SiteArea,
    site: Option<&Site>,
    value: Option<f64>,
    alpha: f64,
    suppressed: bool,
) -> HotspotProperties {
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
            excluded: Some(excluded_reason(suppressed)),
            extra: SiteExtra::default(),
        },
    }
}

/// The most neighbour draws one LISA run makes (permutations × neighbour pairs): about ten
/// seconds of one core.
pub const MAX_DRAWS: usize = 1_000_000_000;

/// Gi\* or Local Moran's I of `y` over `w`, one [`Site`] each.
fn gi_or_lisa(p: &Params, y: &[f64], w: &Weights) -> RunResult<Vec<Site>> {
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
            // Each permutation draws every site's neighbours anew.
            let draws = p.permutations.saturating_mul(w.links().max(y.len()));
            if draws > MAX_DRAWS {
                return Err(stats_error(StatsError::TooMuchWork {
                    what: "permutation draws",
                    needed: draws,
                    max: MAX_DRAWS,
                }));
            }
            let opts = MoranOptions { permutations: p.permutations, seed: p.seed };
            let m = local_moran(y, w, &opts).map_err(stats_error)?;
            let q = benjamini_hochberg(&m.p_sim);
            for k in 0..y.len() {
                let significant = q[k] <= p.alpha;
                let class = m.quadrant[k].filter(|_| significant);
                let name = class.map_or("not_significant", Quadrant::as_str).to_owned();
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
        Method::Emerging => return Err(RunError::Internal("emerging is not a single-period statistic".into())),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::kpi::grid_counts;
    use rentgrid_geodata::AtlasInput;
    use rentgrid_geodata::demo::{DemoOptions, generate};

    /// A small demo district and a history of `months` copies of today's counts, ending today.
    fn district(months: usize) -> (Atlas, Vec<Counts>, History) {
        let opts = DemoOptions { scale: 0.05, ..Default::default() };
        let city = generate(&opts, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let now = grid_counts(&atlas);
        let last = Month::of(opts.as_of);
        let mut list = vec![last];
        while list.len() < months {
            let m = list[0].previous();
            list.insert(0, m);
        }
        let history = History { counts: list.iter().map(|_| now.clone()).collect(), months: list };
        (atlas, now, history)
    }

    fn params(method: Method) -> Params {
        Params {
            tessellation: Tessellation::Grid,
            method,
            metric: Metric::RegRate,
            neighbours: Neighbours::Queen,
            transform: if method == Method::Lisa { Transform::RowStandardised } else { Transform::Binary },
            month: None,
            alpha: 0.05,
            permutations: 99,
            seed: 12345,
            suppress_small_counts: false,
        }
    }

    /// A run with the contiguity kept from an earlier run is the run that finds it anew.
    #[test]
    fn contiguity_kept_between_runs_gives_the_same_answers() {
        let (atlas, now, history) = district(1);
        let kept = Contiguity::default();
        let answer = |r: HotspotRun| {
            let sites: Vec<_> = r
                .sites
                .iter()
                .map(|s| (s.id.clone(), s.geometry.clone(), serde_json::to_value(&s.properties).unwrap()))
                .collect();
            (serde_json::to_value(&r.description).unwrap(), sites)
        };
        for (method, neighbours) in
            [(Method::Gi, Neighbours::Queen), (Method::Lisa, Neighbours::Queen), (Method::Lisa, Neighbours::Rook)]
        {
            let p = Params { neighbours, ..params(method) };
            let fresh = answer(run(&atlas, &now, &history, &p, &|_| true).unwrap());
            for _ in 0..2 {
                let again = answer(run_with(&atlas, &now, &history, &p, &|_| true, &kept).unwrap());
                assert!(again == fresh, "{method:?} {neighbours:?}");
            }
        }
        assert!(kept.queen.get().is_some() && kept.rook.get().is_some(), "both kept");
    }

    #[test]
    fn gi_covers_every_grid_and_a_narrower_view_only_filters() {
        let (atlas, now, history) = district(1);
        let p = params(Method::Gi);
        let all = run(&atlas, &now, &history, &p, &|_| true).unwrap();
        assert_eq!(all.sites.len(), atlas.grids().len());
        let analysed: Vec<&SiteResult> = all.sites.iter().filter(|s| s.properties.z.is_some()).collect();
        assert_eq!(analysed.len(), all.description.n, "n counts the sites with a statistic");
        assert!(analysed.len() > 10, "a district has grids with a defined rate");
        for s in &analysed {
            let q = s.properties.q.unwrap();
            assert_eq!(s.properties.fdr_significant, Some(q <= p.alpha));
            assert!(matches!(s.properties.class, Some(HotspotClass::Bin(b)) if (-3..=3).contains(&b)));
        }
        for s in all.sites.iter().filter(|s| s.properties.z.is_none()) {
            assert!(s.properties.excluded.is_some() && s.properties.class.is_none());
        }
        assert_eq!((all.description.method, all.description.weights.kind), ("gi", "queen"));
        assert_eq!(all.description.weights.self_weight, 1);

        // A caller seeing half of the grids gets those, with the district-wide statistics.
        let half = run(&atlas, &now, &history, &p, &|g| g % 2 == 0).unwrap();
        assert!(half.sites.iter().all(|s| matches!(s.id, SiteId::Grid(g) if g % 2 == 0)));
        for s in &half.sites {
            let same = all.sites.iter().find(|t| t.id == s.id).unwrap();
            assert_eq!(s.properties.z, same.properties.z);
        }
    }

    #[test]
    fn lisa_names_quadrants_as_they_serialise() {
        let (atlas, now, history) = district(1);
        let r = run(&atlas, &now, &history, &params(Method::Lisa), &|_| true).unwrap();
        for s in r.sites.iter().filter(|s| s.properties.z.is_some()) {
            let Some(HotspotClass::Name(name)) = &s.properties.class else { panic!("{:?}", s.properties.class) };
            assert!(["high_high", "low_low", "high_low", "low_high", "not_significant"].contains(&name.as_str()));
            assert!(s.properties.extra.lag.is_some());
        }
        assert_eq!((r.description.permutations, r.description.seed), (Some(99), Some(12345)));
        for q in [Quadrant::HighHigh, Quadrant::LowHigh, Quadrant::LowLow, Quadrant::HighLow] {
            assert_eq!(serde_json::to_value(q).unwrap(), q.as_str());
        }
    }

    #[test]
    fn emerging_needs_three_months_and_a_month_must_be_held() {
        let (atlas, now, short) = district(2);
        match run(&atlas, &now, &short, &params(Method::Emerging), &|_| true) {
            Err(RunError::Unfit(m)) => assert!(m.contains("at least 3 months"), "{m}"),
            other => panic!("{other:?}"),
        }
        let (atlas, now, history) = district(4);
        let r = run(&atlas, &now, &history, &params(Method::Emerging), &|_| true).unwrap();
        assert_eq!(r.description.months.len(), 4);
        for s in r.sites.iter().filter(|s| s.properties.z.is_some()) {
            let Some(HotspotClass::Name(name)) = &s.properties.class else { panic!("{:?}", s.properties.class) };
            assert_eq!(s.properties.class_label.as_deref(), Some(name.replace('_', " ").as_str()));
            assert_eq!(s.properties.extra.z_by_month.as_ref().map(Vec::len), Some(4));
        }
        let outside = Month::of(DemoOptions::default().as_of).next();
        let p = Params { month: Some(outside), ..params(Method::Gi) };
        match run(&atlas, &now, &history, &p, &|_| true) {
            Err(RunError::Unfit(m)) => assert!(m.contains("the history covers"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_leaders_run_leaves_out_areas_of_fewer_than_five_persons() {
        let (atlas, now, history) = district(1);
        for tessellation in [Tessellation::Grid, Tessellation::H3(10)] {
            let open = Params { tessellation, metric: Metric::UnregisteredPersons, ..params(Method::Gi) };
            let leader = Params { suppress_small_counts: true, ..open.clone() };
            let (all, hidden) = (
                run(&atlas, &now, &history, &open, &|_| true).unwrap(),
                run(&atlas, &now, &history, &leader, &|_| true).unwrap(),
            );
            assert_eq!(all.sites.len(), hidden.sites.len());
            let mut left_out = 0;
            for (a, h) in all.sites.iter().zip(&hidden.sites) {
                let Some(v) = a.properties.value else { continue };
                if v < f64::from(disclosure::K) {
                    assert_eq!((h.properties.value, h.properties.z), (None, None), "{:?}", h.id);
                    assert!(h.properties.excluded.is_some_and(|e| e.contains("fewer than 5")));
                    left_out += 1;
                } else {
                    assert_eq!(h.properties.value, Some(v), "{:?}", h.id);
                    assert!(h.properties.z.is_some(), "{:?}", h.id);
                }
            }
            assert!(left_out > 0, "{tessellation:?}: the demo has areas of under 5 unregistered persons");
            assert_eq!(hidden.description.n, all.description.n - left_out);
        }
    }

    #[test]
    fn hexagons_are_named_by_their_h3_index() {
        let (atlas, now, history) = district(1);
        let p = Params { tessellation: Tessellation::H3(8), ..params(Method::Gi) };
        let r = run(&atlas, &now, &history, &p, &|_| true).unwrap();
        assert_eq!(r.description.tessellation.hexagons, Some(r.sites.len()));
        assert_eq!(r.description.weights.kind, "h3_edge");
        assert!(r.sites.iter().all(|s| matches!(&s.id, SiteId::H3(h) if h.len() == 15)));
    }

    #[test]
    fn emerging_categories_are_named_as_they_serialise() {
        use crate::emerging::Category;
        for c in [Category::NoPattern, Category::NewHot, Category::IntensifyingHot, Category::HistoricalCold] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
