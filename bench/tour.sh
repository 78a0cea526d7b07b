#!/usr/bin/env bash
# Our tour solver and OR-Tools' guided local search on the same TSPLIB instances in one run
# (bench/tour.py): gap to the proven optimum and time for both, and the ratios. Makes the
# oracles' venv (scripts/ensure-python) and installs OR-Tools into it (not a test dependency).
# Usage: bench/tour.sh [NAME...]   (ORTOOLS_LIMITS=10,30 seconds per OR-Tools run)
set -euo pipefail
cd "$(dirname "$0")/.."
py="$(scripts/ensure-python)"
"$py" -c 'import ortools' 2>/dev/null || "$py" -m pip install -q --disable-pip-version-check 'ortools==9.15.6755' >&2
exec "$py" bench/tour.py "$@"
