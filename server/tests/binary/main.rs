//! The `rentgrid` binary as its users run it, in one test binary: `serve` on a new data
//! directory and on PostGIS, `import` of bad and good ledgers (and one killed mid-write), a
//! district moved between stores through files, GDAL reading what it serves and stores, and two
//! servers on one PostGIS following each other's writes, and one reading from a streaming-replication
//! standby.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod faults;
mod follow;
mod gdal;
mod http;
mod import;
mod roundtrip;
mod schemathesis;
mod serve;
mod standby;
mod users;
