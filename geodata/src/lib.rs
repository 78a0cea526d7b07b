//! rentgrid-geodata: the domain model of rental-housing and grid management, the coordinate
//! systems met in Chinese data, the Atlas (an in-memory R-tree snapshot of a district) and the
//! deterministic demo city.

pub mod atlas;
pub mod clock;
pub mod cow;
pub mod crs;
pub mod demo;
#[cfg(test)]
mod fuzz;
pub mod fuzzing;
pub mod idcard;
pub mod import;
pub mod model;
pub mod reference;

pub use atlas::{Atlas, AtlasError, AtlasInput, BuildingStats, SharedEdge, StatsDelta, polygon_neighbours};
pub use model::*;
