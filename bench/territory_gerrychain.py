#!/usr/bin/env python3
"""Territory proposals (analysis::territory) against GerryChain on the same graph, same machine, same run.

Runs `territory_timing --dump` (release build) on the demo city of `--scale S`: it plans one street
from scratch into k areas (default the street with the most grids and one area per ~200 grids;
`--merge` folds the whole city into one region, `--areas K` sets k) and writes the street's graph
(grid weights = fractional caseworkers under the Ningbo rule, areas and perimeters in m on the local
projection, shared boundary lengths) with its own plan. Then GerryChain on that graph:
`recursive_tree_part` for a seed plan within ±5% (timed), and a ReCom chain (pop_col = weight,
epsilon 0.05, contiguity and ±5% constraints) of GERRY_STEPS steps (default 1000), keeping the plan
with the best mean Polsby-Popper seen and the last one.

Every figure is computed here, the same way for every plan: deviation = weight / (total / k) - 1,
Polsby-Popper = 4πA/P² with P = sum of the grids' perimeters - 2 x the boundary they share inside
the area (what territory.rs computes), contiguity = one connected piece of the graph. Grids cut off
from the rest (islands) are tied to their nearest grid by a zero-length edge for GerryChain only.

Usage: GERRY_PYTHON=/var/tmp/gerry-venv/bin/python bench/territory.sh, or directly
  $GERRY_PYTHON bench/territory_gerrychain.py --scale 20
  $GERRY_PYTHON bench/territory_gerrychain.py --scale 10 --merge --areas 50
  $GERRY_PYTHON bench/territory_gerrychain.py --graph DUMP.json   (reuse a dump)
"""

import argparse
import json
import math
import os
import random
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

import networkx as nx
from gerrychain import Graph, MarkovChain, Partition
from gerrychain.accept import always_accept
from gerrychain.constraints import contiguous, within_percent_of_ideal_population
from gerrychain.partition import recursive_tree_part
from gerrychain.proposals import recom
from gerrychain.updaters import Tally, cut_edges

ROOT = Path(__file__).resolve().parent.parent


def dump(args):
    """Builds and runs territory_timing --dump; returns the dump's path."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-q", "-p", "rentgrid-analysis", "--example", "territory_timing"],
        cwd=ROOT,
        check=True,
    )
    cmd = [str(target / "release" / "examples" / "territory_timing"), "--scale", str(args.scale)]
    cmd += ["--dump", args.dump_dir or tempfile.mkdtemp(prefix="territory-gerry-")]
    if args.areas:
        cmd += ["--areas", str(args.areas)]
    if args.street:
        cmd += ["--street", args.street]
    if args.merge:
        cmd.append("--merge")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(out, end="")
    return next(line.split("dump: ", 1)[1] for line in out.splitlines() if line.startswith("dump: "))


class Measure:
    """Quality of plans on the dumped graph, computed the same way for every plan."""

    def __init__(self, doc):
        self.n = len(doc["nodes"])
        self.k = doc["k"]
        self.weight = [v["weight"] for v in doc["nodes"]]
        self.area = [v["area"] for v in doc["nodes"]]
        self.length = {}
        adjsum = [0.0] * self.n
        for e in doc["edges"]:
            a, b, ln = e["a"], e["b"], e["length"]
            self.length[(min(a, b), max(a, b))] = ln
            adjsum[a] += ln
            adjsum[b] += ln
        # A district's perimeter = sum(perimeter - adjsum) over its grids + its cut boundary.
        self.base = [v["perimeter"] - s for v, s in zip(doc["nodes"], adjsum)]
        self.ideal = sum(self.weight) / self.k
        self.nx = nx.Graph()
        for i, v in enumerate(doc["nodes"]):
            self.nx.add_node(i, weight=v["weight"], area=v["area"], base=self.base[i])
        for (a, b), ln in self.length.items():
            self.nx.add_edge(a, b, length=ln)
        # GerryChain needs one piece: tie every island to the nearest grid of the main piece by a
        # zero-length edge (for GerryChain only; contiguity is judged on the real graph).
        self.tied = self.nx.copy()
        xy = [(v["x"], v["y"]) for v in doc["nodes"]]
        comps = sorted(nx.connected_components(self.nx), key=len, reverse=True)
        self.islands = [len(c) for c in comps[1:]]
        for c in comps[1:]:
            _, a, b = min((math.dist(xy[a], xy[b]), a, b) for a in c for b in comps[0])
            self.tied.add_edge(a, b, length=0.0)
            self.length[(min(a, b), max(a, b))] = 0.0

    def pp(self, area, base, cut):
        perim = base + cut
        return 4 * math.pi * area / perim**2 if area > 0 and perim > 0 else 0.0

    def mean_pp_partition(self, p):
        """Mean Polsby-Popper of a GerryChain partition from its tallies and cut edges."""
        cut = {d: 0.0 for d in p.parts}
        for u, v in p["cut_edges"]:
            ln = self.length[(min(u, v), max(u, v))]
            cut[p.assignment[u]] += ln
            cut[p.assignment[v]] += ln
        return sum(self.pp(p["area"][d], p["base"][d], cut[d]) for d in p.parts) / len(p.parts)

    def quality(self, assign):
        """(max deviation, mean PP, pieces beyond one per area, areas) of a node -> district mapping."""
        parts = {}
        for v in range(self.n):
            parts.setdefault(assign[v], []).append(v)
        cut = {d: 0.0 for d in parts}
        for (a, b), ln in self.length.items():
            if assign[a] != assign[b]:
                cut[assign[a]] += ln
                cut[assign[b]] += ln
        devs, pps, extra = [], [], 0
        for d, nodes in parts.items():
            devs.append(abs(sum(self.weight[v] for v in nodes) / self.ideal - 1))
            pps.append(self.pp(sum(self.area[v] for v in nodes), sum(self.base[v] for v in nodes), cut[d]))
            extra += nx.number_connected_components(self.nx.subgraph(nodes)) - 1
        return max(devs), sum(pps) / len(pps), extra, len(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=20)
    ap.add_argument("--areas", type=int)
    ap.add_argument("--street")
    ap.add_argument("--merge", action="store_true")
    ap.add_argument("--dump-dir")
    ap.add_argument("--graph", help="an existing dump: skip territory_timing")
    ap.add_argument("--steps", type=int, default=int(os.environ.get("GERRY_STEPS", "1000")))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    path = args.graph or dump(args)
    doc = json.loads(Path(path).read_text())
    m = Measure(doc)
    k, eps = doc["k"], doc["epsilon"]
    print(
        f"graph: scale {doc['scale']}, {doc['street_name']} ({doc['street_code']}), {m.n} grids, "
        f"{len(m.length)} edges, k = {k}, ±{eps:.0%}, lower bound on max deviation {doc['best_possible_deviation']:.4f}"
    )
    if m.islands:
        print(
            f"the graph has {len(m.islands)} islands ({sum(m.islands)} grids) beside the main piece: each is tied to "
            "its nearest grid for GerryChain, and whoever holds it has an area in more than one piece"
        )
    rows = []
    ours = doc["ours"]
    rows.append(("ours (territory.rs, from scratch)", ours["seconds"], *m.quality(ours["assignment"])))

    graph = Graph.from_networkx(m.tied)
    rng = random.Random(args.seed)
    t = time.perf_counter()
    seed = recursive_tree_part(graph, range(k), m.ideal, "weight", eps, rng=rng)
    seed_secs = time.perf_counter() - t
    rows.append(("GerryChain recursive_tree_part", seed_secs, *m.quality(seed)))

    updaters = {
        "weight": Tally("weight", alias="weight"),
        "area": Tally("area", alias="area"),
        "base": Tally("base", alias="base"),
        "cut_edges": cut_edges,
    }
    initial = Partition(graph, seed, updaters)
    chain = MarkovChain(
        proposal_fn=partial(recom, pop_col="weight", pop_target=m.ideal, epsilon=eps),
        constraints=[contiguous, within_percent_of_ideal_population(initial, eps, pop_key="weight")],
        acceptance_fn=always_accept,
        initial_partition=initial,
        total_steps=args.steps,
        rng=rng,
    )
    best, best_pp, best_step, last = None, -1.0, 0, None
    t = time.perf_counter()
    for step, p in enumerate(chain):
        pp = m.mean_pp_partition(p)
        if pp > best_pp:
            best, best_pp, best_step = dict(p.assignment), pp, step
        last = p
    chain_secs = time.perf_counter() - t
    rows.append((f"GerryChain ReCom best PP (step {best_step} of {args.steps})", seed_secs + chain_secs, *m.quality(best)))
    rows.append((f"GerryChain ReCom after {args.steps} steps", seed_secs + chain_secs, *m.quality(dict(last.assignment))))

    print(f"{'plan':<46} {'time s':>9} {'max dev':>8} {'mean PP':>8} {'pieces+':>7} {'areas':>5}")
    for name, secs, dev, pp, extra, areas in rows:
        print(f"{name:<46} {secs:>9.3f} {dev:>8.4f} {pp:>8.4f} {extra:>7} {areas:>5}")
    print("(pieces+: pieces beyond one summed over the areas, 0 = every area contiguous)")
    print(f"(ReCom time = seed {seed_secs:.3f} s + chain {chain_secs:.3f} s, {chain_secs / max(args.steps, 1) * 1000:.1f} ms a step)")
    o = rows[0]
    for name, secs, dev, pp, *_ in rows[1:]:
        print(f"ratio vs {name}: time {secs / o[1]:.1f}x ours, mean PP ours/theirs {o[3] / pp:.3f}")


if __name__ == "__main__":
    main()
