#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: the `fuzz_*` tests of geodata (ledger CSV/XLSX,
# GBK detection, GeoJSON importers, ID numbers, coordinates), server (query strings, paths,
# visit and field-write bodies) and store (door-plate tokens), each FUZZ_SECONDS (default 60) of
# random inputs with bolero's random engine in the debug build the test command uses. Prints
# per target how many inputs ran and whether one failed; a failure prints the input and the
# BOLERO_RANDOM_SEED that replays it: fix the parser, then add the input to the target's seed
# corpus (<crate>/fuzz/corpus/<target>/).
# Usage: bench/fuzz.sh [filter]  (FUZZ_SECONDS=600 bench/fuzz.sh fuzz_ledger_csv; FUZZ_JOBS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
filter="${1:-fuzz_}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== fuzzing: ${seconds} s per target, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)" >&2
cargo test --locked --workspace --lib --no-run -q 2>&1 | grep -v '^ *Executable' >&2 || true
status=0
BOLERO_RANDOM_TEST_TIME_MS=$((seconds * 1000)) BOLERO_RANDOM_ITERATIONS=18446744073709551615 \
  cargo test --locked --workspace --lib --no-fail-fast -q "$filter" -- --nocapture --test-threads="${FUZZ_JOBS:-1}" >"$log" 2>&1 ||
  status=$?
# Each target's count, each failure with its input, its error and the seed that replays it.
awk '/^fuzz [a-z_]+: / || /fuzz_[a-z_]+ (--- |\.\.\. )FAILED$/ {print}
     /Test Failure/ {show = 1; left = -1}
     show {print}
     show && /^Error:/ {left = 3}
     show && left > 0 {left--; if (left == 0) show = 0}' "$log"
passed=$(grep -cE '^fuzz [a-z_]+: .* no failure$' "$log" || true)
failed=$(grep -cE 'fuzz_[a-z_]+ (--- |\.\.\. )FAILED$' "$log" || true)
echo "fuzz: $passed targets passed, $failed failed"
exit "$status"
