#!/usr/bin/env python3
"""rentgrid's tour solver against OR-Tools' guided local search on the TSPLIB instances, in one run.

1. Runs `cargo run --release -p rentgrid-analysis --example tsplib`, which solves berlin52,
   kroA100, kroA200, a280 and pr1002 (analysis/tests/data/tsplib/) with the default options
   (deterministic seed, no time limit) and prints tour length and time (best of 3) as JSON lines.
2. Solves the same instances with OR-Tools' routing solver: PATH_CHEAPEST_ARC first solution,
   GUIDED_LOCAL_SEARCH metaheuristic, a time limit of ORTOOLS_LIMITS seconds (default "10,30"),
   on the same TSPLIB EUC_2D (rounded) distances, from node 1.
3. Prints a table: gap to the proven optimum and time for both, and the ratios
   (OR-Tools time / ours, OR-Tools gap / ours).

Usage: bench/tour.sh (makes the venv, installs ortools into it), or
       $PYTHON bench/tour.py [NAME...]
"""
import json
import math
import os
import subprocess
import sys
import time

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "analysis", "tests", "data", "tsplib")
OPTIMA = {"berlin52": 7542, "kroA100": 21282, "kroA200": 29368, "a280": 2579, "pr1002": 259045}


def read_tsp(path):
    coords = []
    in_coords = False
    with open(path) as f:
        for line in f:
            t = line.strip()
            if t == "NODE_COORD_SECTION":
                in_coords = True
            elif t == "EOF":
                break
            elif in_coords and t:
                _, x, y = t.split()
                coords.append((float(x), float(y)))
    return coords


def matrix(coords):
    return [[int(math.hypot(a[0] - b[0], a[1] - b[1]) + 0.5) for b in coords] for a in coords]


def ortools(d, seconds):
    n = len(d)
    manager = pywrapcp.RoutingIndexManager(n, 1, 0)
    routing = pywrapcp.RoutingModel(manager)
    # The matrix lives on the C++ side: no Python callback per arc.
    cb = routing.RegisterTransitMatrix(d)
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.seconds = seconds
    t = time.perf_counter()
    sol = routing.SolveWithParameters(params)
    elapsed = time.perf_counter() - t
    return sol.ObjectiveValue(), elapsed


def main():
    names = sys.argv[1:] or list(OPTIMA)
    limits = [int(s) for s in os.environ.get("ORTOOLS_LIMITS", "10,30").split(",")]
    out = subprocess.run(
        ["cargo", "run", "--release", "-q", "-p", "rentgrid-analysis", "--example", "tsplib", "--", *names],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    ours = {r["instance"]: r for r in map(json.loads, out.splitlines())}
    rows = []
    for name in names:
        opt = OPTIMA[name]
        d = matrix(read_tsp(os.path.join(DATA, f"{name}.tsp")))
        r = ours[name]
        row = {"instance": name, "n": len(d), "optimum": opt, "ours_length": r["length"],
               "ours_gap_pct": r["gap_pct"], "ours_s": r["seconds"], "ortools": []}
        for lim in limits:
            length, secs = ortools(d, lim)
            row["ortools"].append({"limit_s": lim, "length": length, "gap_pct": (length / opt - 1) * 100, "s": secs})
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    head = f"{'instance':>9} {'n':>5} {'optimum':>8} | {'ours gap%':>9} {'ours s':>7}"
    for lim in limits:
        head += f" | {'OR ' + str(lim) + 's gap%':>12} {'OR s':>6} {'t ratio':>8} {'gap ratio':>9}"
    print(head)
    for row in rows:
        line = f"{row['instance']:>9} {row['n']:>5} {row['optimum']:>8} | {row['ours_gap_pct']:>9.3f} {row['ours_s']:>7.3f}"
        for o in row["ortools"]:
            gr = o["gap_pct"] / row["ours_gap_pct"] if row["ours_gap_pct"] > 0 else float("inf")
            line += f" | {o['gap_pct']:>12.3f} {o['s']:>6.1f} {o['s'] / row['ours_s']:>8.0f} {gr:>9.2f}"
        print(line)


if __name__ == "__main__":
    main()
