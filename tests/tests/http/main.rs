//! The end-to-end tests of the HTTP API, in one test binary (one link, one process): the API
//! over both stores, the audit log, campaigns, coverage, data-change events, exports, hot spots,
//! door plates, search, OGC API – Features, vector tiles and the fonts of their labels, derived views
//! kept up to date by the writes and what operators observe (metrics, request ids), each driven
//! through the real router.
//! `on_both_stores!` runs a scenario on the embedded GeoPackage store and on PostGIS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod access;
mod api;
mod atlas_file;
mod audit;
mod basemaps;
mod campaigns;
mod coverage;
mod events;
mod exports;
mod field;
mod fonts;
mod hazards;
mod hotspots;
mod identity;
mod incremental;
mod limits;
mod observe;
mod ogc;
mod places;
mod plates;
mod rates;
mod search;
mod summary;
mod tiles;
