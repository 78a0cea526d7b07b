//! Placeholder until the tile benchmarks land.
fn main() {}
