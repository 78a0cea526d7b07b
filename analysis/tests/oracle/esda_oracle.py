#!/usr/bin/env python3
"""PySAL esda as the oracle for rentgrid-analysis's hot-spot statistics.

Reads a JSON list of cases on stdin (or from the file named as the first argument) and prints,
for each, esda's results as JSON on stdout. A case:

    {"y": [...],
     "weights": {"kind": "distance_band", "points": [[x, y], ...], "threshold": 15.0}
              | {"kind": "neighbours", "neighbours": [[j, ...], ...]},
     "permutations": 999, "seed": 12345}

Output per case: {"gi_star_z": G_Local(y, w, transform='B', star=True).Zs,
                  "moran_i": Moran_Local(y, w).Is (row-standardised), "moran_p_sim": its p_sim,
                  "moran_q": its quadrants, "neighbours": the neighbour lists esda used}.
"""
import json
import sys
import warnings

import numpy as np
from esda.getisord import G_Local
from esda.moran import Moran_Local
from libpysal.weights import W, DistanceBand

warnings.filterwarnings("ignore")


def weights(spec):
    if spec["kind"] == "distance_band":
        pts = np.asarray(spec["points"], dtype=float)
        return DistanceBand(pts, threshold=float(spec["threshold"]), binary=True, silence_warnings=True)
    if spec["kind"] == "neighbours":
        lists = spec["neighbours"]
        return W({i: list(map(int, js)) for i, js in enumerate(lists)}, silence_warnings=True)
    raise ValueError(f"unknown weights kind {spec['kind']!r}")


def run(case):
    y = np.asarray(case["y"], dtype=float)
    w = weights(case["weights"])
    neighbours = [sorted(int(j) for j in w.neighbors[i]) for i in range(w.n)]
    out = {"neighbours": neighbours}
    out["gi_star_z"] = G_Local(y, w, transform="B", star=True, permutations=0).Zs.tolist()
    perms = int(case.get("permutations", 999))
    w = weights(case["weights"])
    lm = Moran_Local(y, w, transformation="r", permutations=perms, seed=int(case.get("seed", 12345)))
    out["moran_i"] = np.asarray(lm.Is).tolist()
    out["moran_q"] = np.asarray(lm.q).astype(int).tolist()
    if perms > 0:
        out["moran_p_sim"] = np.asarray(lm.p_sim).tolist()
    return out


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    cases = json.loads(text)
    json.dump([run(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
