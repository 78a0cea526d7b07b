//! rentgrid-analysis: pure functions over an Atlas that return plain data. No I/O, no async.
//!
//! - [`kpi`]: registration KPIs per grid, community, street and district against targets.
//! - [`metrics`]: per-grid counts, densities per km² and guarded rates, the inputs of hot spots.
//! - [`weights`]: spatial weights (Rook, Queen, k-nearest, distance band) in sparse form.
//! - [`hotspot`]: Getis-Ord Gi\* hot and cold spots with FDR and confidence bins.
//! - [`moran`]: Local Moran's I clusters and outliers with permutation inference.
//! - [`history`]: per-grid counts at the end of each month, from the dated registrations.
//! - [`registrations`]: the dated registrations behind the history, kept up to date from each
//!   write's changed records.
//! - [`evidence`]: the visits, spot checks, tips and roster the candidate estimate reads, kept
//!   up to date from each write.
//! - [`view_inputs`]: both of them together, as the server keeps them between writes.
//! - [`emerging`]: emerging hot spots over a monthly series (Gi\* per month, Mann-Kendall trend).
//! - [`hotspot_run`]: one hot-spot analysis as the API runs it: areas, weights, statistic and
//!   every area's result, with a description to run it again.
//! - [`disclosure`]: small-count suppression (k = 5) of person counts in what leaders see.
//! - [`density`]: quartic kernel density in units per km².
//! - [`hexgrid`]: H3 hexagons as an alternative tessellation to the drawn grids.
//! - [`candidates`]: where the register is weak: expected unregistered units and persons per
//!   building and grid, with an uncertainty and the reasons.
//! - [`hidden_count`]: one building's hidden units as a count, measured by its utility accounts;
//!   the candidate model's calibration fitted to the district's readings (empirical Bayes).
//! - [`unrecorded`]: the persons and rental units the register has not found yet, per grid and
//!   summed over places, from the spot-check sample, the candidate model and the sweeps.
//! - [`actual_rates`]: every rate two ways: the register's and the estimated actual one with its
//!   90% interval and a verdict against the target.
//! - [`sweep`]: 蚕食法 sweep campaigns: the expanding-search block order, phases and the daily
//!   schedule per caseworker.
//! - [`campaign_sim`]: a campaign run against the demo city's hidden ground truth.
//! - [`staffing`]: staffing rules (配备比例) as configuration: caseworkers required, assigned, gap, cost.
//! - [`coverage`]: 包干法 contracted areas: dissolved polygons, loads, uncovered and doubled grids.
//! - [`territory`]: balanced, contiguous, compact contracted areas proposed per street.
//! - [`assessment`]: monthly assessment (考核) of caseworkers: counts, spot-check deductions, score, rank.
//! - [`stats`]: normal tail probabilities and the Benjamini–Hochberg FDR.
//! - [`tour`]: near-optimal closed tours through stops (nearest neighbour, 2-opt, Or-opt, Or-3opt,
//!   iterated local search).
//! - [`tsplib`]: a reader of TSPLIB `EUC_2D` instances, the tour solver's outside reference.
//! - [`search`]: places found by name, code, survey id, address part or pinyin, from an
//!   in-memory index.
//! - [`network`]: walking distances along the street network between buildings and stations.
//! - [`route`]: a caseworker's day: the order to visit buildings from the community station.
//! - [`error`]: the statistics modules' error type.

pub mod actual_rates;
pub mod assessment;
pub mod campaign_sim;
pub mod candidates;
pub mod coverage;
pub mod density;
pub mod disclosure;
pub mod emerging;
pub mod error;
pub mod evidence;
pub mod hazard;
pub mod hexgrid;
pub mod hidden_count;
pub mod history;
pub mod hotspot;
pub mod hotspot_run;
pub mod kpi;
pub mod metrics;
pub mod moran;
pub mod network;
pub mod registrations;
pub mod route;
pub mod search;
pub mod staffing;
pub mod stats;
pub mod sweep;
pub mod territory;
pub mod tour;
pub mod tsplib;
pub mod unrecorded;
pub mod view_inputs;
pub mod weights;

pub use error::{StatsError, StatsResult};
