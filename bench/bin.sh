# Sourced by the benchmarks: sets $bin to the rentgrid binary measured, $RENTGRID_BIN if given,
# else the release build (built now).
if [ -n "${RENTGRID_BIN:-}" ]; then
  bin="$RENTGRID_BIN"
else
  cargo build --release --locked -q -p rentgrid-server --bin rentgrid
  bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/rentgrid"
fi
