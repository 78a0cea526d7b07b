//! rentgrid-analysis: pure functions over an Atlas that return plain data. No I/O, no async.
//!
//! - [`kpi`]: registration KPIs per grid, community, street and district against targets.

pub mod kpi;
