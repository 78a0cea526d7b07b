#!/usr/bin/env bash
# A live city (issue 17): SECONDS of mixed load on the scale-SCALE demo city in PostGIS, first
# against one `rentgrid serve`, then against two servers on the same database. The load is
# bench/soak.mjs (caseworkers reading their grids' tiles and cards and recording visits, the
# command center reading district tiles and stats, leaders polling hot spots), split over the
# servers; beside it bench/city.mjs records a visit every 2 s through the first server and times
# each derived view until it first shows it through the other (through the same one when there
# is one), asking again as an open map does, at each event of the other's `GET /api/events`; and
# times the requests of issue 17's table right after each write; the probe also runs alone for
# 20 s before the load, for the same figures with no other load. Prints per phase:
# per route p50/p99 and failures, the staleness of each view, those requests' times, RSS over
# time per server, where the machine's CPU went and each server's writes by phase; then the same
# aggregates as /api/stats computed by PostGIS SQL over the same rows, timed, beside the API's
# p50 (the peer ratio: the approach of a database-backed platform).
#
# The city is seeded once per scale into the database rentgrid_bench_city_s<scale> (kept); each
# phase serves a copy (CREATE DATABASE … TEMPLATE), so each starts from the same register.
# Usage: bench/city.sh [--scale 20] [--seconds 300] [--caseworkers 500] [--think-ms 1000]
#        (RENTGRID_BIN=… measures a binary already built instead of building the release one;
#        RENTGRID_TEST_POSTGRES=… names the PostgreSQL server, else scripts/ensure-tools finds one)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=20 SECONDS_=300 CASEWORKERS=500 THINK_MS=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --seconds) SECONDS_="$2"; shift 2 ;;
    --caseworkers) CASEWORKERS="$2"; shift 2 ;;
    --think-ms) THINK_MS="$2"; shift 2 ;;
    *) echo "usage: $0 [--scale N] [--seconds S] [--caseworkers N] [--think-ms MS]" >&2; exit 2 ;;
  esac
done
. bench/bin.sh
admin="${RENTGRID_TEST_POSTGRES:-$(scripts/ensure-tools --postgis)}"
# The URL of database $1 on the same server.
url_of() { echo "$admin" | sed -E "s#/[^/?]*(\?|$)#/$1\1#"; }
sql() { psql "$admin" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

tag="s${SCALE//./_}"
seeded="rentgrid_bench_city_$tag"
if [ "$(sql "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$seeded'")" != seeded ]; then
  echo "== seeding the scale-$SCALE city into the database $seeded" >&2
  sql "DROP DATABASE IF EXISTS $seeded WITH (FORCE)"
  sql "CREATE DATABASE $seeded"
  "$bin" migrate --database-url "$(url_of "$seeded")" >&2
  "$bin" demo --database-url "$(url_of "$seeded")" --scale "$SCALE" >&2
  sql "COMMENT ON DATABASE $seeded IS 'seeded'"
fi

work="$(mktemp -d)"
pids=()
run_db="rentgrid_bench_city_run_$$"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  sql "DROP DATABASE IF EXISTS $run_db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts a server on the run's database; sets $port and $pid; waits until it is ready.
serve() {
  port="$(free_port)"
  RUST_LOG=rentgrid=warn "$bin" serve --database-url "$(url_of "$run_db")?application_name=rentgrid-$1" \
    --listen "127.0.0.1:$port" > "$work/serve-$1.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  local started
  started=$(date +%s.%N)
  until curl -sf "http://127.0.0.1:$port/health/ready" > /dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve-$1.log" >&2; echo "rentgrid serve exited" >&2; exit 1; }
    sleep 0.2
  done
  echo "== server $1 ready in $(python3 -c "import time; print(f'{time.time() - $started:.1f}')") s on port $port" >&2
}

# One phase with $1 servers: the load split over them, the probe writing through the first and
# reading through the last; the results in $work/$1-*.json.
phase() {
  local n="$1" each=$((CASEWORKERS / $1)) bases=() ids=()
  sql "DROP DATABASE IF EXISTS $run_db WITH (FORCE)"
  sql "CREATE DATABASE $run_db TEMPLATE $seeded"
  for s in $(seq 1 "$n"); do
    serve "$n-$s"
    bases+=("http://127.0.0.1:$port")
    ids+=("$pid")
  done
  # The probe alone first, for 20 s: what the views take right after a write with no other load.
  echo "== $n server(s): the probe alone for 20 s" >&2
  node bench/city.mjs "${bases[0]}" "${bases[$((n - 1))]}" 20 > "$work/$n-quiet.json"
  echo "== $n server(s): $SECONDS_ s of load from $CASEWORKERS caseworkers (think $THINK_MS ms)" >&2
  local loads=() max_id
  # The load's caseworkers are spread over the city's caseworker ids.
  max_id="$(psql "$(url_of "$run_db")" -qAtX -c "SELECT max(id) FROM caseworkers")"
  for s in $(seq 1 "$n"); do
    MAX_CASEWORKER_ID="$max_id" RSS_EVERY_MS=$((SECONDS_ * 1000 / 6)) node bench/soak.mjs "${bases[$((s - 1))]}" "$SECONDS_" "$each" "$THINK_MS" \
      "${ids[$((s - 1))]}" > "$work/$n-load-$s.json" &
    loads+=($!)
  done
  node bench/city.mjs "${bases[0]}" "${bases[$((n - 1))]}" "$SECONDS_" > "$work/$n-staleness.json"
  for l in "${loads[@]}"; do wait "$l"; done
  # The PostGIS peer, on the same rows (the phase's database after its writes).
  peer "$n"
  for p in "${ids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  pids=()
}

# The aggregates of /api/stats?level=grid and level=street by SQL: the median of 5 runs each, ms.
peer() {
  local url
  url="$(url_of "$run_db")"
  local grid="SELECT b.grid_id, count(*) AS units, count(*) FILTER (WHERE u.registered) AS registered,
      sum(u.tenants) AS tenants FROM rental_units u JOIN buildings b ON b.id = u.building_id GROUP BY b.grid_id"
  local persons="SELECT b.grid_id, count(*) AS persons, count(*) FILTER (WHERE p.registered) AS registered
      FROM persons p JOIN buildings b ON b.id = p.building_id GROUP BY b.grid_id"
  local street="SELECT c.street_code, count(*) AS units, count(*) FILTER (WHERE u.registered) AS registered
      FROM rental_units u JOIN buildings b ON b.id = u.building_id JOIN grids g ON g.id = b.grid_id
      JOIN communities c ON c.code = g.community_code GROUP BY c.street_code"
  {
    for name in grid persons street; do
      local q="${!name}"
      printf '%s ' "$name"
      for _ in 1 2 3 4 5; do echo '\timing on'; echo "$q;"; done | psql "$url" -qAtX -o /dev/null 2>&1 |
        sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | sort -g | sed -n 3p
    done
  } > "$work/$1-peer.txt"
}

phase 1
phase 2

cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
mem="$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
python3 - "$work" "$SCALE" "$(date -u +%F)" "$(nproc) cores ($cpu), $mem GiB, load $(cut -d' ' -f1-3 /proc/loadavg)" \
  "$bin_label" <<'PY'
import glob, json, os, sys
sys.path.insert(0, "bench")
from machine import print_machine
work, scale, day, machine, build = sys.argv[1:6]
print(f"{day}, {machine}")
print(f"scale {scale}, PostGIS, {build}")
for n in (1, 2):
    loads = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(work, f"{n}-load-*.json")))]
    st = json.load(open(os.path.join(work, f"{n}-staleness.json")))
    routes = {}
    for l in loads:
        for r in l["routes"]:
            routes.setdefault(r["route"], []).append(r)
    total = sum(l["requests"] for l in loads)
    secs = max(l["seconds"] for l in loads)
    print()
    print(f"== {n} server{'s' if n > 1 else ''} on one PostgreSQL: {secs:.0f} s, "
          f"{sum(l['caseworkers'] for l in loads)} caseworker sessions, {total:,} requests ({total / secs:.1f}/s), "
          f"{sum(l['failures'] for l in loads)} failures, {sum(l['visits_acknowledged'] for l in loads):,} visits")
    print(f"{'route':<40} {'server':>6} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'failures':>9}")
    for route, rs in sorted(routes.items(), key=lambda kv: -sum(r["requests"] for r in kv[1])):
        for i, r in enumerate(rs):
            print(f"{route:<40} {i + 1:>6} {r['requests']:>9,} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['failures']:>9}")
    via = "the other server" if n > 1 else "the same server"
    print(f"staleness (ms from a write's answer to its first appearance through {via}; "
          f"{st['writes']} writes, {st['write_failures']} failed; the event stream dropped "
          f"{st['event_stream_drops']} times):")
    for view, s in st["staleness_ms"].items():
        print(f"  {view:<24} p50 {s['p50']}  p99 {s['p99']}  max {s['max']}  (n={s['samples']}, never {s['never']})")
    quiet = json.load(open(os.path.join(work, f"{n}-quiet.json")))
    for label, figures in (("under the load", st), ("with no other load (the probe alone, 20 s before it)", quiet)):
        print(f"asked once right after each of the probe's writes, through {via}, {label} (ms):")
        for name, s in figures["after_write_ms"].items():
            print(f"  {name:<34} p50 {s['p50']}  p99 {s['p99']}  max {s['max']}  (n={s['samples']}, failed {s['failures']})")
    print(f"staleness with no other load: " + ", ".join(
        f"{view} p50 {s['p50']}" for view, s in quiet["staleness_ms"].items()))
    for i, l in enumerate(loads):
        print(f"RSS (MiB) of server {i + 1} at t s:", ", ".join(f"{s['t']}: {s['mib']}" for s in l["rss"]))
    # The machine's figures are the first load's; each load names its own server and itself.
    cpu = dict(loads[0]["cpu"], servers=sum(l["cpu"]["servers"] for l in loads),
               load_generator=sum(l["cpu"]["load_generator"] for l in loads))
    for i, l in enumerate(loads):
        print(f"server {i + 1}:", end=" ")
        print_machine(cpu if i == 0 else None, l["writes"], "servers" if n > 1 else "server")
    peer = dict(line.split() for line in open(os.path.join(work, f"{n}-peer.txt")) if len(line.split()) == 2)
    api = {k: [r["p50_ms"] for r in rs] for k, rs in routes.items()}
    print("PostGIS SQL over the same rows (median of 5, ms) vs the API's p50:")
    for name, route in (("grid", "GET /api/stats?level=grid"), ("persons", "GET /api/stats?level=grid"),
                        ("street", "GET /api/stats?level=street")):
        a = min(api.get(route, [None]) or [None])
        sqlms = float(peer.get(name, "nan"))
        ratio = f"{sqlms / a:.1f}x" if a else "n/a"
        print(f"  {name:<8} SQL {sqlms:>9.1f}   {route} p50 {a}   SQL/API {ratio}")
PY
