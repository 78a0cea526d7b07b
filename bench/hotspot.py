#!/usr/bin/env python3
"""rentgrid's hot-spot statistics against PySAL esda on the same inputs, in one run.

1. Builds and runs `cargo run --release -p rentgrid-analysis --example hotspot_timing`, which
   times our weights, Gi* and Local Moran (999 permutations) on the scale-1 demo district
   (Rook weights from the Atlas), a 141 x 142 lattice (20,022 cells) and a 1000 x 1000 lattice
   (1,000,000 cells), and writes those inputs.
2. Times esda on the same inputs: the weights (libpysal `lat2W` or `W` from the neighbour
   lists), `G_Local(y, w, transform='B', star=True)` and `Moran_Local(y, w, permutations=999)`
   with `n_jobs=-1` (both sides use every core).
3. Prints a table with the ratios esda / rentgrid.

esda runs are capped so the script finishes in a few minutes: Local Moran up to
ESDA_MORAN_MAX cells (default 20,022; its conditional randomisation copies the value vector per
site, so time grows as n^2), Gi* and weights up to ESDA_MAX (default 1,000,000).

Inputs go to a temporary directory, removed at the end unless RENTGRID_BENCH_KEEP is set.

Usage: RENTGRID_PYTHON=/var/tmp/rentgrid-venv/bin/python; $RENTGRID_PYTHON bench/hotspot.py
(needs esda, libpysal, numpy; numba makes esda's permutations fast and is used when installed).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from esda.getisord import G_Local
from esda.moran import Moran_Local
from libpysal.weights import W, lat2W

warnings.filterwarnings("ignore")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = os.environ.get("RENTGRID_BENCH_SIZES", "demo,20k,1m")
ESDA_MAX = int(os.environ.get("ESDA_MAX", "1000000"))
ESDA_MORAN_MAX = int(os.environ.get("ESDA_MORAN_MAX", "20022"))


def timed(f, reps=1):
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def esda_weights(meta):
    if "rows" in meta:
        return lambda: lat2W(meta["rows"], meta["cols"], rook=True)
    lists = meta["neighbours"]
    return lambda: W({i: js for i, js in enumerate(lists)}, silence_warnings=True)


def main():
    out = tempfile.mkdtemp(prefix="rentgrid-hotspot-bench-")
    cmd = ["cargo", "run", "--release", "-q", "-p", "rentgrid-analysis", "--example", "hotspot_timing", "--", out, SIZES]
    ours = json.loads(subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout)
    try:
        import numba  # noqa: F401

        numba_note = "with numba"
    except ImportError:
        numba_note = "without numba (slow permutations)"
    # Warm numba's JIT on a small case so compilation is not timed.
    Moran_Local(np.arange(25, dtype=float), lat2W(5, 5), permutations=99, n_jobs=-1)

    rows = []
    for name in SIZES.split(","):
        r = ours[name]
        n = r["n"]
        y = np.fromfile(os.path.join(out, f"{name}.y"), dtype="<f8")
        meta = json.load(open(os.path.join(out, f"{name}.json")))
        reps = 3 if n <= 20022 else 1
        row = {"name": name, "n": n, "ours": r, "esda": {}}
        if n <= ESDA_MAX:
            row["esda"]["weights_s"], w = timed(esda_weights(meta), reps)
            row["esda"]["gi_star_s"], g = timed(lambda: G_Local(y, w, transform="B", star=True, permutations=0), reps)
            if n <= ESDA_MORAN_MAX:
                wr = esda_weights(meta)()
                wr.transform = "r"
                row["esda"]["local_moran_999_s"], _ = timed(
                    lambda: Moran_Local(y, wr, transformation="r", permutations=999, n_jobs=-1, keep_simulations=False),
                    reps,
                )
        rows.append(row)
        print(f"{name}: n = {n}: esda done", file=sys.stderr)

    print(f"\nrentgrid vs esda ({numba_note}), best of runs, seconds; ratio = esda / rentgrid\n")
    print(f"{'input':6} {'cells':>9} | {'step':16} {'rentgrid':>10} {'esda':>10} {'ratio':>8}")
    print("-" * 68)
    for row in rows:
        for step in ["weights_s", "gi_star_s", "local_moran_999_s"]:
            a = row["ours"][step]
            b = row["esda"].get(step)
            esda = f"{b:10.4f}" if b is not None else f"{'(capped)':>10}"
            ratio = f"{b / a:8.1f}" if b is not None and a > 0 else f"{'-':>8}"
            print(f"{row['name']:6} {row['n']:9d} | {step[:-2]:16} {a:10.4f} {esda} {ratio}")
    if os.environ.get("RENTGRID_BENCH_KEEP"):
        print(f"\ninputs kept in {out}")
    else:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
