#!/usr/bin/env bash
# The caseworker's phone offline, at scale SCALE (default 1) of the demo city (issue 16's figures):
#   1. the offline cache the phone view keeps of a caseworker's grids (answers, vector tiles at
#      z14–z17, MB) and how long it took to fill it;
#   2. how long the phone's outbox takes to send N (default 200) changes queued offline.
# The same measurements as the browser test's at scale 0.05 (tests/browser/harness.mjs, shared by
# both): `rentgrid serve` with the built web map, headless Debian Chromium (/usr/bin/chromium
# through playwright-core, never a downloaded browser) on a phone viewport, signed in as the
# caseworker with the most buildings in their grids, on their busiest day of a new campaign over
# those grids. Prints the figures with the date and the machine.
#
# The city is seeded once per scale into DATA (kept; the runs work on a copy, so each starts from
# the same register). Needs Node.js and Debian's chromium (apt-get install chromium).
# Usage: bench/field-offline.sh   (SCALE=… N=… DATA=… to vary)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-1}"
N="${N:-200}"
tag="s${SCALE//./_}"
DATA="${DATA:-/var/tmp/rentgrid-bench-field-$tag}"
[ -x /usr/bin/chromium ] || { echo "/usr/bin/chromium not found (apt-get install chromium)" >&2; exit 1; }
cargo build --release --locked -q -p rentgrid-server --bin rentgrid
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/rentgrid"
if [ ! -e web-map/dist/index.html ]; then (cd web-map && npm ci --silent && npm run --silent build) >&2; fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then (cd tests/browser && npm ci --silent) >&2; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ ! -e "$DATA/.seeded" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  echo "== seeding the scale-$SCALE city into $DATA" >&2
  "$bin" demo --data "$DATA" --scale "$SCALE" >&2
  touch "$DATA/.seeded"
fi
cp -a "$DATA" "$work/data"

echo "== the phone offline at scale $SCALE ($N changes)" >&2
node bench/field-offline.mjs "$bin" "$work/data" "$PWD/web-map/dist" "$N" > "$work/result.json"

cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
mem="$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
python3 - "$work/result.json" "$SCALE" "$(date -u +%F)" "$(nproc) cores ($cpu), $mem GiB, load $(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
scale, day, machine = sys.argv[2:5]
print(f"{day}, {machine}")
print(f"scale {scale}: caseworker {r['caseworker']}, {r['grids']} grids, {r['buildings']:,} buildings, {r['stops']} stops that day")
print(f"offline cache of their grids: {r['cache_answers']:,} answers, {r['cache_tiles']:,} tiles, "
      f"{r['cache_mb']:.2f} MB (kept in {r['cache_kept_s']:.1f} s after opening the page)")
print(f"outbox: {r['changes']} queued changes sent in {r['flush_s']:.1f} s "
      f"({r['changes'] / r['flush_s']:.1f}/s); {r['landed']} of them recorded")
if r["page_errors"]:
    print("page errors:", *r["page_errors"], sep="\n  ")
PY
