#!/usr/bin/env bash
# Benchmarks the two stores side by side in one run, on this machine:
#   1. `rentgrid import units` of a ledger of ROWS rows (default 1,000,000) into the scale-1 demo
#      city, in SQLite and in PostGIS: seconds, rows/s, peak memory;
#   2. seeding the scale-SCALE (default 20) demo city into each store, then starting `rentgrid
#      serve` on it until it listens (loading the register and building the Atlas): seconds and
#      peak memory.
# Prints a table and the PostGIS/SQLite ratios. Needs PostgreSQL with PostGIS
# (scripts/ensure-tools --postgis installs it). Usage: bench/stores.sh  (ROWS=… SCALE=… to vary)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
SCALE="${SCALE:-20}"
admin="${RENTGRID_TEST_POSTGRES:-$(scripts/ensure-tools --postgis)}"
cargo build --release --locked -q -p rentgrid-server --bin rentgrid
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/rentgrid"
work="$(mktemp -d)"
pg_url() { python3 -c "import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path='/'+sys.argv[2])))" "$admin" "$1"; }
fresh_db() { psql "$admin" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"; "$bin" migrate --database-url "$(pg_url "$1")" 2>/dev/null; }
cleanup() { psql "$admin" -qc "DROP DATABASE IF EXISTS rentgrid_bench_import WITH (FORCE)" -c "DROP DATABASE IF EXISTS rentgrid_bench_load WITH (FORCE)" || true; rm -rf "$work"; }
trap cleanup EXIT

# `measure LABEL CMD…`: wall seconds and peak RSS (MiB) of a command, appended to $work/results.
measure() {
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r secs kb < "$work/time"
  echo "$label $secs $((kb / 1024))" >> "$work/results"
}

# `serve_until_listening LABEL ARGS…`: time from start to the listening line, and peak RSS then.
serve_until_listening() {
  local label="$1"; shift
  local start end pid
  start=$(date +%s.%N)
  coproc SERVE { exec "$bin" serve --listen 127.0.0.1:0 "$@" 2>/dev/null; }
  pid=$SERVE_PID
  while read -r line <&"${SERVE[0]}"; do [[ "$line" == listening* ]] && break; done
  end=$(date +%s.%N)
  local kb; kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$label $(python3 -c "print(round($end - $start, 2))") $((kb / 1024))" >> "$work/results"
}

echo "== the ledger: $ROWS rows" >&2
"$bin" demo --data "$work/sqlite1" --scale 1 2>/dev/null
fresh_db rentgrid_bench_import
"$bin" demo --database-url "$(pg_url rentgrid_bench_import)" --scale 1 2>/dev/null
python3 - "$work/sqlite1/rentgrid.gpkg" "$work/ledger.csv" "$ROWS" <<'PY'
import sqlite3, sys
n = sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM buildings").fetchone()[0]
rows = int(sys.argv[3])
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("编号,楼栋编号,房号,房东姓名,房东身份证号,房东电话,是否登记,登记日期,保证书,租住人数,管理模式\n")
    for i in range(rows):
        reg = i % 10 != 0
        f.write(f"L-{i},{i % n},{i % 40 + 101},房东{i % 50000},,1380{i % 10000000:07d},{'是' if reg else '否'},"
                f"{'2025-%02d-%02d' % (i % 12 + 1, i % 28 + 1) if reg else ''},{'是' if reg and i % 7 else '否'},{i % 4 + 1},自治式\n")
PY
echo "== import into SQLite and PostGIS" >&2
measure "import_sqlite" "$bin" import units "$work/ledger.csv" --data "$work/sqlite1"
measure "import_postgis" "$bin" import units "$work/ledger.csv" --database-url "$(pg_url rentgrid_bench_import)"

echo "== the scale-$SCALE city in both stores" >&2
measure "seed_sqlite" "$bin" demo --data "$work/sqlite20" --scale "$SCALE"
fresh_db rentgrid_bench_load
measure "seed_postgis" "$bin" demo --database-url "$(pg_url rentgrid_bench_load)" --scale "$SCALE"
serve_until_listening "load_sqlite" --data "$work/sqlite20"
serve_until_listening "load_postgis" --database-url "$(pg_url rentgrid_bench_load)"

python3 - "$work/results" "$ROWS" "$SCALE" <<'PY'
import sys
r = {}
for line in open(sys.argv[1]):
    k, s, m = line.split()
    r[k] = (float(s), int(m))
rows, scale = int(sys.argv[2]), sys.argv[3]
print(f"{'what':44} {'SQLite':>18} {'PostGIS':>18} {'PostGIS/SQLite':>15}")
def line(what, a, b, per=None):
    fa = f"{r[a][0]:.1f} s" + (f" {per / r[a][0]:,.0f}/s" if per else "")
    fb = f"{r[b][0]:.1f} s" + (f" {per / r[b][0]:,.0f}/s" if per else "")
    print(f"{what:44} {fa:>18} {fb:>18} {r[b][0] / r[a][0]:>14.2f}x")
    print(f"{'  peak memory':44} {str(r[a][1]) + ' MiB':>18} {str(r[b][1]) + ' MiB':>18}")
line(f"import {rows:,} ledger rows (validate + write)", "import_sqlite", "import_postgis", rows)
line(f"seed the scale-{scale} demo city", "seed_sqlite", "seed_postgis")
line(f"serve: load scale {scale} and build the Atlas", "load_sqlite", "load_postgis")
PY
