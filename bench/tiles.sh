#!/usr/bin/env bash
# Benchmarks vector tiles side by side in one run, on this machine: `rentgrid serve` (tiles built
# from the in-memory Atlas) against Martin serving the same rows from PostGIS (ST_AsMVT on the
# `grids` and `buildings` tables), for the `grids` and `buildings` layers at zooms 10 to 16 of the
# scale-SCALE demo city (default 20):
#   cold:   distinct tiles, no tile cache (rentgrid --tile-cache-mb 0, Martin cache_size_mb 0);
#   cached: the same tiles again after one pass that filled each server's cache.
# For each it prints requests/s, p50 and p99 latency (ms) measured by wrk (CONC keep-alive
# connections on THREADS threads asking for gzip, DURATION seconds of walking the tile list over
# and over, bench/urls.lua), and the rentgrid/Martin throughput ratio; then the largest tile of
# each server, layer and zoom as encoded (not gzipped, bench/load.mjs), against our 500 KB ceiling.
# wrk is C and light, so the servers, not the load generator, use up the two cores.
#
# The same features and properties on both sides (Martin's from tables bench_grids and
# bench_buildings, made once from the same register), but not the same work: our KPIs are
# computed live from the register, Martin's are stored; and our buildings are clustered points
# below zoom 14, where Martin draws every footprint. Read the ratios with that.
#
# Needs: PostgreSQL with PostGIS (scripts/ensure-tools --postgis), Node.js, wrk (installed by
# scripts/ensure-tools --wrk, which this runs), and Martin
#   cargo install martin --locked --no-default-features --features postgres
# (or MARTIN=/path/to/martin). The SQLite data dir and the PostGIS database of each scale are kept
# (DATA, DB) and reused by later runs: the scale-20 seed takes minutes.
# Usage: bench/tiles.sh   (SCALE=… PER_ZOOM=… CONC=… THREADS=… DURATION=… to vary)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-20}"
PER_ZOOM="${PER_ZOOM:-200}"
CONC="${CONC:-8}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-5}"
scripts/ensure-tools --wrk
tag="s${SCALE//./_}"
DATA="${DATA:-/var/tmp/rentgrid-bench-tiles-$tag}"
DB="${DB:-rentgrid_bench_tiles_$tag}"
admin="${RENTGRID_TEST_POSTGRES:-$(scripts/ensure-tools --postgis)}"
MARTIN="${MARTIN:-$(command -v martin || true)}"
if [ ! -x "$MARTIN" ]; then
  echo "martin not found (cargo install martin --locked --no-default-features --features postgres, or set MARTIN):" \
    "measuring rentgrid alone" >&2
  MARTIN=""
fi
cargo build --release --locked -q -p rentgrid-server --bin rentgrid
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/rentgrid"
pg_url() { python3 -c "import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path='/'+sys.argv[2])))" "$admin" "$1"; }
url="$(pg_url "$DB")"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

wait_http() { for _ in $(seq 600); do curl -fso /dev/null "$1" && return 0; sleep 0.5; done; echo "$1 never answered" >&2; exit 1; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }

# The city, once per scale: in SQLite for rentgrid, in PostGIS for Martin.
if [ ! -e "$DATA/.seeded" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  echo "== seeding the scale-$SCALE city into $DATA" >&2
  "$bin" demo --data "$DATA" --scale "$SCALE" >&2
  touch "$DATA/.seeded"
fi
if [ -n "$MARTIN" ]; then
if [ "$(psql "$admin" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ] ||
   [ "$(psql "$url" -Atqc "SELECT count(*) > 0 FROM grids" 2>/dev/null)" != t ]; then
  echo "== seeding the scale-$SCALE city into PostGIS database $DB" >&2
  psql "$admin" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  "$bin" migrate --database-url "$url" >&2
  "$bin" demo --scale "$SCALE" --database-url "$url" >&2
fi
# Martin serves the same features with the same properties as ours, so both encode and send the
# same tiles: each grid's KPIs as rentgrid computes them from this register (its /api/grids,
# served from this database) and each building's counts, copied once into bench_grids and
# bench_buildings. (Martin serves them as stored: it does no work to keep them current.)
if [ "$(psql "$url" -Atqc "SELECT to_regclass('bench_buildings') IS NOT NULL")" != t ]; then
  echo "== copying grid KPIs and building counts into bench_grids, bench_buildings for Martin" >&2
  port=$(free_port)
  "$bin" serve --database-url "$url" --listen "127.0.0.1:$port" > "$work/kpis.log" 2>&1 &
  kpis_pid=$!; pids+=("$kpis_pid")
  wait_http "http://127.0.0.1:$port/health"
  curl -fs -H "Authorization: Bearer $(scripts/demo-token "http://127.0.0.1:$port")" "http://127.0.0.1:$port/api/grids" > "$work/grids.json"
  kill "$kpis_pid"; wait "$kpis_pid" 2>/dev/null || true
  python3 - "$work/grids.json" > "$work/kpis.csv" <<'EOF'
import csv, json, sys
out = csv.writer(sys.stdout)
for f in json.load(open(sys.argv[1]))["features"]:
    p = f["properties"]
    rate = lambda k: "" if p.get(k) is None else round(p[k], 4)  # as the tiles round them
    out.writerow([p["id"], p["code"], p["name"], p["community_code"], p["street_code"],
                  *(rate(k) for k in ("reg_rate", "permit_rate", "rental_rate", "consistency_rate", "pledge_rate")),
                  p["reg_status"], p["persons"], p["rental_units"], p["buildings"]])
EOF
  psql "$url" -v ON_ERROR_STOP=1 -q <<SQL
BEGIN;
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_grids, bench_buildings;
CREATE TEMP TABLE kpis (id int4 PRIMARY KEY, code text, name text, community_code text, street_code text,
  reg_rate float8, permit_rate float8, rental_rate float8, consistency_rate float8, pledge_rate float8,
  reg_status text, persons int4, rental_units int4, buildings int4);
\copy kpis FROM '$work/kpis.csv' WITH (FORMAT csv)
CREATE TABLE bench_grids AS SELECT k.*, g.geom FROM kpis k JOIN grids g USING (id);
ALTER TABLE bench_grids ADD PRIMARY KEY (id);
CREATE INDEX ON bench_grids USING gist (geom);
CREATE TABLE bench_buildings AS
SELECT b.id, b.kind, b.grid_id, b.floors, b.dwellings,
       coalesce(u.n, 0)::int4 AS rental_units, coalesce(u.registered, 0)::int4 AS rental_units_registered,
       coalesce(p.n, 0)::int4 AS persons, coalesce(p.registered, 0)::int4 AS persons_registered, b.footprint
FROM buildings b
LEFT JOIN (SELECT building_id, count(*) AS n, count(*) FILTER (WHERE registered) AS registered
           FROM rental_units GROUP BY building_id) u ON u.building_id = b.id
LEFT JOIN (SELECT building_id, count(*) AS n, count(*) FILTER (WHERE registered) AS registered
           FROM persons GROUP BY building_id) p ON p.building_id = b.id;
ALTER TABLE bench_buildings ADD PRIMARY KEY (id);
CREATE INDEX ON bench_buildings USING gist (footprint);
COMMIT;
SQL
fi
psql "$url" -qc "ANALYZE bench_grids; ANALYZE bench_buildings"
fi

# `start_rentgrid`, `start_martin`: run a server in the background, wait until it answers, echo its URL.

start_rentgrid() { # CACHE_MB → URL
  local port; port=$(free_port)
  "$bin" serve --data "$DATA" --listen "127.0.0.1:$port" --tile-cache-mb "$1" >"$work/rentgrid-$1.log" 2>&1 &
  pids+=($!); echo "$!" > "$work/pid"
  wait_http "http://127.0.0.1:$port/health"
  # Read as the demo center, with an API token (Martin is sent the same header, and ignores it).
  scripts/demo-token "http://127.0.0.1:$port" > "$work/token"
  export AUTHORIZATION="Bearer $(cat "$work/token")"
  # Derive the map geometry (once per Atlas) before measuring: not part of a tile's cost.
  if [ -s "$work/tiles.txt" ]; then
    read -r z x y < "$work/tiles.txt"
    curl -fso /dev/null -H "Authorization: $AUTHORIZATION" "http://127.0.0.1:$port/tiles/grids/$z/$x/$y.mvt" || true
  fi
  echo "http://127.0.0.1:$port"
}
start_martin() { # CACHE_MB → URL
  local port; port=$(free_port)
  cat > "$work/martin-$1.yaml" <<EOF
listen_addresses: "127.0.0.1:$port"
cache_size_mb: $1
postgres:
  connection_string: "$url"
  auto_publish: false
  tables:
    grids:
      schema: public
      table: bench_grids
      srid: 4326
      geometry_column: geom
      geometry_type: MULTIPOLYGON
      id_column: id
      extent: 4096
      buffer: 64
      clip_geom: true
      properties: { code: text, name: text, community_code: text, street_code: text, reg_rate: float8,
                    permit_rate: float8, rental_rate: float8, consistency_rate: float8, pledge_rate: float8,
                    reg_status: text, persons: int4, rental_units: int4, buildings: int4 }
    buildings:
      schema: public
      table: bench_buildings
      srid: 4326
      geometry_column: footprint
      geometry_type: POLYGON
      id_column: id
      extent: 4096
      buffer: 64
      clip_geom: true
      properties: { kind: text, grid_id: int4, floors: int4, dwellings: int4, rental_units: int4,
                    rental_units_registered: int4, persons: int4, persons_registered: int4 }
EOF
  "$MARTIN" --config "$work/martin-$1.yaml" >"$work/martin-$1.log" 2>&1 &
  pids+=($!); echo "$!" > "$work/pid"
  wait_http "http://127.0.0.1:$port/catalog"
  echo "http://127.0.0.1:$port"
}
stop_last() { kill "$(cat "$work/pid")" 2>/dev/null || true; wait "$(cat "$work/pid")" 2>/dev/null || true; }

# The tiles: up to PER_ZOOM per zoom, spread evenly over the district's box, in a fixed order.
first="$(start_rentgrid 0)"
curl -fs -H "Authorization: Bearer $(cat "$work/token")" "$first/api/district" > "$work/district.json"
stop_last
python3 - "$work/district.json" "$PER_ZOOM" > "$work/tiles.txt" <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1])); per = int(sys.argv[2])
w, s, e, n = d["bbox"]
def tile(lon, lat, z):
    k = 2 ** z
    x = int((lon + 180) / 360 * k)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)
    return x, y
for z in range(10, 17):
    x0, y0 = tile(w, n, z); x1, y1 = tile(e, s, z)
    all_ = [(x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
    step = max(1, len(all_) / per)
    for i in range(min(per, len(all_))):
        x, y = all_[int(i * step)]
        print(z, x, y)
EOF
echo "== $(wc -l < "$work/tiles.txt") tiles per layer over zooms 10-16, $CONC connections, scale $SCALE" >&2

urls() { # BASE STYLE(rentgrid|martin) LAYER Z → file
  local f="$work/urls-$2-$3-$4"
  awk -v z="$4" -v base="$1" -v layer="$3" -v style="$2" '$1 == z {
    if (style == "rentgrid") print base "/tiles/" layer "/" $1 "/" $2 "/" $3 ".mvt";
    else print base "/" layer "/" $1 "/" $2 "/" $3 }' "$work/tiles.txt" > "$f"
  echo "$f"
}

measure() { # LABEL BASE STYLE MODE
  local label="$1" base="$2" style="$3" mode="$4"
  AUTHORIZATION="Bearer $(cat "$work/token")"; export AUTHORIZATION
  for layer in grids buildings; do
    for z in 10 11 12 13 14 15 16; do
      local list; list="$(urls "$base" "$style" "$layer" "$z")"
      if [ "$mode" = cached ]; then
        node bench/load.mjs "$list" "$CONC" > /dev/null  # fill the cache
      fi
      URLS_FILE="$list" LABEL="$label $mode $layer z$z" \
        wrk -t"$THREADS" -c"$CONC" -d"${DURATION}s" --timeout 60s -s bench/urls.lua "$base" | grep '^{'
    done
  done >> "$work/results.jsonl"
}

sizes() { # LABEL BASE STYLE: one pass without gzip, for the largest tile of each layer and zoom
  AUTHORIZATION="Bearer $(cat "$work/token")"; export AUTHORIZATION
  for layer in grids buildings; do
    for z in 10 11 12 13 14 15 16; do
      RAW=1 node bench/load.mjs "$(urls "$2" "$3" "$layer" "$z")" "$CONC" "$1 size $layer z$z"
    done
  done >> "$work/sizes.jsonl"
}

echo "== rentgrid, cold" >&2; base="$(start_rentgrid 0)"; measure rentgrid "$base" rentgrid cold; sizes rentgrid "$base" rentgrid; stop_last
echo "== rentgrid, cached" >&2; base="$(start_rentgrid 512)"; measure rentgrid "$base" rentgrid cached; stop_last
if [ -n "$MARTIN" ]; then
  echo "== martin, cold" >&2; base="$(start_martin 0)"; measure martin "$base" martin cold; sizes martin "$base" martin; stop_last
  echo "== martin, cached" >&2; base="$(start_martin 512)"; measure martin "$base" martin cached; stop_last
fi

python3 - "$work/results.jsonl" "$work/sizes.jsonl" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    server, mode, layer, z = r["label"].split()
    rows[(mode, layer, z, server)] = r
print(f"{'mode':6} {'layer':9} {'z':>3} | {'rentgrid req/s':>14} {'p50':>7} {'p99':>7} | {'martin req/s':>12} {'p50':>7} {'p99':>7} | {'ratio':>6}")
for mode in ("cold", "cached"):
    for layer in ("grids", "buildings"):
        for z in range(10, 17):
            a, b = rows.get((mode, layer, f"z{z}", "rentgrid")), rows.get((mode, layer, f"z{z}", "martin"))
            if not a:
                continue
            theirs = f"{b['rps']:>12.0f} {b['p50_ms']:>7.2f} {b['p99_ms']:>7.2f}" if b else f"{'-':>12} {'-':>7} {'-':>7}"
            ratio = f"{a['rps'] / b['rps']:>6.2f}" if b and b["rps"] else f"{'-':>6}"
            print(f"{mode:6} {layer:9} {z:>3} | {a['rps']:>14.0f} {a['p50_ms']:>7.2f} {a['p99_ms']:>7.2f} | {theirs} | {ratio}")
sizes = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    server, _, layer, z = r["label"].split()
    sizes[(layer, z, server)] = r["max_kib"]
print()
print(f"largest tile (KiB, not gzipped) | {'layer':9} {'z':>3} | {'rentgrid':>9} | {'martin':>9}")
for layer in ("grids", "buildings"):
    for z in range(10, 17):
        a, b = sizes.get((layer, f"z{z}", "rentgrid")), sizes.get((layer, f"z{z}", "martin"))
        if a is None:
            continue
        print(f"{'':31} | {layer:9} {z:>3} | {a:>9.1f} | {b if b is not None else '-':>9}")
over = [k for k, v in sizes.items() if k[2] == "rentgrid" and v > 500]
if over:
    print("rentgrid tiles over 500 KB:", over, file=sys.stderr)
for r in rows.values():
    if r["bad_status"] or r["socket_errors"]:
        print("errors in", r["label"], f"{r['bad_status']} answers >= 400, {r['socket_errors']} socket errors", file=sys.stderr)
EOF
