#!/usr/bin/env bash
# Soak: SECONDS (default 600) of mixed load on the scale-SCALE (default 20) demo city against one
# release `rentgrid serve` on the embedded store: CASEWORKERS (default 200) caseworker sessions
# reading their grids' tiles and cards and recording visits, four command-center sessions reading
# district tiles and stats, two leaders polling hot spots and stats (bench/soak.mjs has the mix).
# Prints throughput, p50/p99 per route (and the p99 after the first WARMUP_S seconds, default 60,
# with the first and the slowest request), failures, the visits acknowledged and the server's RSS every
# 30 s, where the CPU went and the writes' phases (bench/machine.mjs), with the date and the
# machine. The goal (issue 18): zero failures, p99 < 100 ms for reads, RSS flat after warm-up.
#
# The city is seeded once per scale into DATA (kept); each run serves a copy, so every run starts
# from the same register. The load generator runs on the same machine as the server.
# Usage: bench/soak.sh   (SCALE=… SOAK_SECONDS=… CASEWORKERS=… THINK_MS=… DATA=… to vary;
#        RUST_LOG=… SOAK_LOG=FILE to keep the server's log;
#        RENTGRID_BIN=… to measure a binary already built instead of building the release one)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-20}"
SECONDS_="${SOAK_SECONDS:-600}"
CASEWORKERS="${CASEWORKERS:-200}"
THINK_MS="${THINK_MS:-1000}"
tag="s${SCALE//./_}"
DATA="${DATA:-/var/tmp/rentgrid-bench-soak-$tag}"
. bench/bin.sh
work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  # SOAK_LOG=FILE keeps the server's log (RUST_LOG=… chooses what it holds).
  [ -n "${SOAK_LOG:-}" ] && cp "$work/serve.log" "$SOAK_LOG"
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -e "$DATA/.seeded" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  echo "== seeding the scale-$SCALE city into $DATA" >&2
  "$bin" demo --data "$DATA" --scale "$SCALE" >&2
  touch "$DATA/.seeded"
fi
cp -a "$DATA" "$work/data"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
echo "== serving the scale-$SCALE city on port $port" >&2
RUST_LOG="${RUST_LOG:-rentgrid=warn}" "$bin" serve --data "$work/data" --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server=$!
started=$(date +%s.%N)
until curl -sf "http://127.0.0.1:$port/health/ready" > /dev/null; do
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; echo "rentgrid serve exited" >&2; exit 1; }
  sleep 0.2
done
ready_s="$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")"
echo "== ready in ${ready_s} s; $SECONDS_ s of load from $CASEWORKERS caseworkers (think ${THINK_MS} ms)" >&2
node bench/soak.mjs "http://127.0.0.1:$port" "$SECONDS_" "$CASEWORKERS" "$THINK_MS" "$server" > "$work/result.json"

cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
mem="$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
python3 - "$work/result.json" "$SCALE" "$(date -u +%F)" "$(nproc) cores ($cpu), $mem GiB, load $(cut -d' ' -f1-3 /proc/loadavg)" "$ready_s" "$bin_label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
scale, day, machine, ready = sys.argv[2:6]
print(f"{day}, {machine}")
print(f"scale {scale}, embedded store, {sys.argv[6]}; server ready in {ready} s")
print(f"{r['seconds']:.0f} s: {r['caseworkers']} caseworker sessions (think {r['think_ms']} ms), 4 center, 2 leaders; "
      f"{r['requests']:,} requests ({r['requests'] / r['seconds']:.1f}/s), {r['failures']} failures, "
      f"{r['visits_acknowledged']:,} visits acknowledged")
print(f"{'route':<44} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'p99 after':>10} {'first ms':>9} {'max ms':>8} {'failures':>9}")
print(f"{'':<44} {'':>9} {'':>7} {'':>8} {'':>8} {str(r['warmup_s']) + ' s':>10}")
for x in r["routes"]:
    print(f"{x['route']:<44} {x['requests']:>9,} {x['rps']:>7} {x['p50_ms']:>8} {x['p99_ms']:>8} {x['warm_p99_ms']:>10} "
          f"{x['first_ms']:>9} {x['max_ms']:>8} {x['failures']:>9}")
    bad = {k: v for k, v in x["statuses"].items() if not 200 <= int(k) < 400}
    if bad:
        print(f"{'':<44} statuses: {bad}")
print("RSS (MiB) at t s:", ", ".join(f"{s['t']}: {s['mib']}" for s in r["rss"]))
sys.path.insert(0, "bench")
from machine import print_machine
print_machine(r["cpu"], r["writes"])
PY
