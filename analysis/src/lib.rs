//! rentgrid-analysis: pure functions over an Atlas that return plain data. No I/O, no async.
//!
//! - [`kpi`]: registration KPIs per grid, community, street and district against targets.
//! - [`metrics`]: per-grid counts, densities per km² and guarded rates, the inputs of hot spots.
//! - [`weights`]: spatial weights (Rook, Queen, k-nearest, distance band) in sparse form.
//! - [`hotspot`]: Getis-Ord Gi\* hot and cold spots with FDR and confidence bins.
//! - [`moran`]: Local Moran's I clusters and outliers with permutation inference.
//! - [`emerging`]: emerging hot spots over a monthly series (Gi\* per month, Mann-Kendall trend).
//! - [`density`]: quartic kernel density in units per km².
//! - [`hexgrid`]: H3 hexagons as an alternative tessellation to the drawn grids.
//! - [`staffing`]: staffing rules (配备比例) as configuration: caseworkers required, assigned, gap, cost.
//! - [`coverage`]: 包干法 contracted areas: dissolved polygons, loads, uncovered and doubled grids.
//! - [`territory`]: balanced, contiguous, compact contracted areas proposed per street.
//! - [`assessment`]: monthly assessment (考核) of caseworkers: counts, spot-check deductions, score, rank.
//! - [`stats`]: normal tail probabilities and the Benjamini–Hochberg FDR.
//! - [`error`]: the statistics modules' error type.

pub mod assessment;
pub mod coverage;
pub mod density;
pub mod emerging;
pub mod error;
pub mod hexgrid;
pub mod hotspot;
pub mod kpi;
pub mod metrics;
pub mod moran;
pub mod staffing;
pub mod stats;
pub mod territory;
pub mod weights;

pub use error::{StatsError, StatsResult};
