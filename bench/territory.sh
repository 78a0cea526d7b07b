#!/usr/bin/env bash
# Balanced territory proposals (analysis::territory) on the demo district (scale 1, ~1,000 grids)
# and on the `--scale 20` city (~20,000 grids; generating it takes about 40 s): time of the
# proposal in minimal-change and from-scratch modes, and its quality today against proposed
# (max load deviation over the streets where ±5% is reachable, mean Polsby-Popper, contiguity,
# grids changing hands). Usage: bench/territory.sh  (SCALES="1 20" to vary)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES="${SCALES:-1 20}"
cargo build --release --locked -q -p rentgrid-analysis --example territory_timing
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/examples/territory_timing"
for scale in $SCALES; do
  echo "== scale $scale"
  "$bin" --scale "$scale"
done
