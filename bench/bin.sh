# Sourced by the benchmarks: sets $bin to the rentgrid binary measured, $RENTGRID_BIN if given,
# else the release build (built now), and $bin_label to what the reports call it.
if [ -n "${RENTGRID_BIN:-}" ]; then
  bin="$RENTGRID_BIN"
  bin_label="the binary $bin"
else
  cargo build --release --locked -q -p rentgrid-server --bin rentgrid
  bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/rentgrid"
  bin_label="release build"
fi
