//! rentgrid-analysis: pure functions over an Atlas that return plain data. No I/O, no async.
//!
//! - [`kpi`]: registration KPIs per grid, community, street and district against targets.
//! - [`metrics`]: per-grid counts, densities per km² and guarded rates, the inputs of hot spots.
//! - [`weights`]: spatial weights (Rook, Queen, k-nearest, distance band) in sparse form.
//! - [`hotspot`]: Getis-Ord Gi\* hot and cold spots with FDR and confidence bins.
//! - [`moran`]: Local Moran's I clusters and outliers with permutation inference.
//! - [`history`]: per-grid counts at the end of each month, from the dated registrations.
//! - [`emerging`]: emerging hot spots over a monthly series (Gi\* per month, Mann-Kendall trend).
//! - [`density`]: quartic kernel density in units per km².
//! - [`hexgrid`]: H3 hexagons as an alternative tessellation to the drawn grids.
//! - [`stats`]: normal tail probabilities and the Benjamini–Hochberg FDR.
//! - [`error`]: the statistics modules' error type.

pub mod density;
pub mod emerging;
pub mod error;
pub mod hexgrid;
pub mod history;
pub mod hotspot;
pub mod kpi;
pub mod metrics;
pub mod moran;
pub mod stats;
pub mod weights;

pub use error::{StatsError, StatsResult};
