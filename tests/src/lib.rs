//! End-to-end tests live in `tests/tests/http/` (one test binary: `cargo test -p rentgrid-tests --test http`).
