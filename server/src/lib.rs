//! rentgrid-server: access scopes, the HTTP API and the start-up that ties them
//! together. The `rentgrid` binary (`main.rs`) is a thin CLI over [`startup`].

pub mod access;
pub mod answers;
pub mod api;
pub mod assessment_kept;
pub mod atlas_file;
pub mod background;
pub mod blocks;
pub mod campaign;
pub mod coverage;
pub mod encoded;
pub mod error;
pub mod events;
pub mod export;
pub mod follow;
pub mod geojson;
pub mod glyphs;
pub mod grid_stats;
pub mod hazard_photos;
pub mod identity;
pub mod ingest;
pub mod limits;
pub mod memo;
pub mod observe;
pub mod overdue;
pub mod plate_sheet;
pub mod scope;
pub mod serve;
pub mod snapshot;
pub mod standby;
pub mod startup;
pub mod state;
pub mod summary;
pub mod tianditu;
pub mod tile_cache;

/// The system of record, re-exported so that `crate::store::…` names it.
pub use rentgrid_store as store;

pub use api::app;
pub use state::AppState;
