#!/usr/bin/env bash
# Balanced territory proposals (analysis::territory) on the demo district (scale 1, ~1,000 grids)
# and on the `--scale 20` city (~20,000 grids; generating it takes about 40 s): time of the
# proposal in minimal-change and from-scratch modes, and its quality today against proposed
# (max load deviation over the streets where ±5% is reachable, mean Polsby-Popper, contiguity,
# grids changing hands). Usage: bench/territory.sh  (SCALES="1 20" to vary)
# With GERRY_PYTHON set (a Python with `gerrychain`, e.g. /var/tmp/gerry-venv/bin/python), it then
# compares with GerryChain on the same graphs (bench/territory_gerrychain.py, GERRY_STEPS ReCom
# steps, default 1000): the biggest street of the scale-20 city in areas of ~200 grids, and the
# whole scale-10 city (~10k grids) as one region in 50 areas, GerryChain's usual reference point.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES="${SCALES:-1 20}"
cargo build --release --locked -q -p rentgrid-analysis --example territory_timing
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/examples/territory_timing"
for scale in $SCALES; do
  echo "== scale $scale"
  "$bin" --scale "$scale"
done
if [ -n "${GERRY_PYTHON:-}" ]; then
  echo "== GerryChain: biggest street of scale 20, one area per ~200 grids"
  "$GERRY_PYTHON" bench/territory_gerrychain.py --scale 20
  echo "== GerryChain: whole scale-10 city as one region, 50 areas"
  "$GERRY_PYTHON" bench/territory_gerrychain.py --scale 10 --merge --areas 50
fi
