//! The analysis crate's integration tests, in one test binary: each module checks one method on
//! the demo city or on constructed lattices, many against an outside reference (esda, TSPLIB,
//! published examples).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod assessment;
mod city;
mod coverage;
mod density;
mod emerging;
mod esda;
mod history;
mod hotspot;
mod network;
mod sweep;
mod territory;
mod tour;
mod unrecorded;
