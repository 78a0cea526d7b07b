#!/usr/bin/env bash
# Calibration of the honest rates on the demo's hidden ground truth (analysis::unrecorded,
# analysis::actual_rates, analysis::candidates): for each seed and scale, the coverage of the 90%
# intervals of the unrecorded persons, the estimated actual registration rate and the unrecorded
# rental units per grid, community, street and district; the bias of the district's estimate; the
# candidate model's precision, expected vs hidden totals and interval coverage in its top k.
# Usage: bench/calibration.sh  (SEEDS="20240601,7,2026" SCALES="0.5,1" to vary)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS="${SEEDS:-20240601,7,2026}"
SCALES="${SCALES:-1}"
cargo run --release --locked -q -p rentgrid-analysis --example calibration -- --seeds "$SEEDS" --scales "$SCALES"
