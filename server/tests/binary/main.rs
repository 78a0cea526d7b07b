//! The `rentgrid` binary as its users run it, in one test binary: `serve` on a new data
//! directory and on PostGIS, `import` of bad and good ledgers (and one killed mid-write), a
//! district moved between stores through files, and GDAL reading what it serves and stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod faults;
mod gdal;
mod http;
mod import;
mod roundtrip;
mod schemathesis;
mod serve;
mod users;
