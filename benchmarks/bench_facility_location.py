"""Facility-location speed, memory and objective: coresets against apricot, in one run.

Graph workloads: make_blobs (50 centres, 64-d, seed 0), an exact 32-NN cosine
graph from faiss ``IndexFlatIP`` on L2-normalised rows, similarity
``max(cos, 0)``, CSR with row i = i's neighbours (self included). k = N / 10.
Dense workload: euclidean similarity on N x 64 blobs, apricot's conversion, stored
as a float32 matrix (``dense``) or never stored (``implicit``: ``ImplicitSimilarity``,
exact rows from the features ranked by 16-bit bound codes).

Every configuration runs in a fresh subprocess so its peak RSS is its own.
Graphs are cached under ``benchmarks/_data/`` (exact search at 1M takes long;
``--graph-1m ivf`` builds that one with an IVF index instead, stated in the table).

Usage::

    python benchmarks/bench_facility_location.py                 # 100k, 200k, dense 20k, stochastic
    python benchmarks/bench_facility_location.py --sizes 1000000 --skip-apricot --skip-dense
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "_data"


def blobs(n, d=64, seed=0):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=n, n_features=d, centers=50, random_state=seed)
    return X.astype(np.float32)


def graph_path(n, kind):
    return DATA / f"blobs{n}_knn32_{kind}.npz"


def build_graph(n, kind="exact", n_neighbors=32):
    """Exact (IndexFlatIP) or IVF (``coresets.knn.knn_graph``) 32-NN cosine graph, cached on disk."""
    import faiss
    import scipy.sparse as sp

    path = graph_path(n, kind)
    if path.exists():
        return sp.load_npz(path)
    X = blobs(n)
    if kind == "ivf":
        # the library's own recall-tuned IVF graph (exact search at 1M takes ~20 min here)
        from coresets.knn import knn_graph

        G = knn_graph(X, n_neighbors=n_neighbors, metric="cosine", index="ivf", random_state=0)
        DATA.mkdir(exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        sp.save_npz(tmp, G)
        os.replace(tmp, path)
        return G
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    sims = np.empty((n, n_neighbors), dtype=np.float32)
    ids = np.empty((n, n_neighbors), dtype=np.int64)
    for lo in range(0, n, 16384):
        sims[lo : lo + 16384], ids[lo : lo + 16384] = index.search(X[lo : lo + 16384], n_neighbors)
    ok = ids >= 0
    rows = np.repeat(np.arange(n), n_neighbors)[ok.ravel()]
    G = sp.csr_matrix((np.maximum(sims[ok], 0), (rows, ids[ok])), shape=(n, n), dtype=np.float32)
    G.sum_duplicates()
    DATA.mkdir(exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    sp.save_npz(tmp, G)
    os.replace(tmp, path)
    return G


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_case(case):
    """Run one configuration in this process; print a JSON line of results."""
    import scipy.sparse as sp

    lib, workload, n, optimizer = case["lib"], case["workload"], case["n"], case["optimizer"]
    k = n // 10
    if workload == "graph":
        G = sp.load_npz(graph_path(n, case["graph"]))
        base = peak_rss_gib()
        t0 = time.perf_counter()
        if lib == "coresets":
            from coresets import FacilityLocation, maximize
            from coresets.submodular import StochasticGreedy, as_optimizer

            if optimizer == "stochastic":
                opt = StochasticGreedy(case.get("epsilon", 0.01), random_state=0)
            else:
                opt = as_optimizer(optimizer)
            sel = maximize(FacilityLocation(G), k, opt)
            ranking, obj = sel.indices, sel.objective
        else:
            from apricot import FacilityLocationSelection

            m = FacilityLocationSelection(
                k, metric="precomputed", optimizer=optimizer, random_state=0
            )
            m.fit(G)
            ranking, obj = m.ranking, float(np.sum(m.gains))
    else:
        X = blobs(n).astype(np.float64)
        base = peak_rss_gib()
        t0 = time.perf_counter()
        if lib == "coresets":
            from coresets import FacilityLocation, ImplicitSimilarity, maximize, similarity

            if workload == "implicit":
                S = ImplicitSimilarity(X, "euclidean")
            else:
                S = similarity(X, "euclidean")
            sel = maximize(FacilityLocation(S), k, optimizer)
            ranking, obj = sel.indices, sel.objective
        else:
            from apricot import FacilityLocationSelection

            m = FacilityLocationSelection(k, metric="euclidean", optimizer=optimizer).fit(X)
            ranking, obj = m.ranking, float(np.sum(m.gains))
    seconds = time.perf_counter() - t0
    # objective from the definition on the same graph, so both libraries are scored alike
    if workload == "graph":
        from coresets import FacilityLocation

        obj = FacilityLocation(G).evaluate(ranking)
    print(
        json.dumps(
            {
                **case,
                "seconds": seconds,
                "peak_gib": peak_rss_gib(),
                "input_gib": base,
                "objective": obj,
            }
        )
    )


def warm_up():
    """Compile the numba kernels once so the timed runs measure steady state, as users see it."""
    import scipy.sparse as sp

    from coresets import FacilityLocation, ImplicitSimilarity, maximize, similarity
    from coresets.submodular import as_optimizer

    G = sp.random(200, 200, density=0.1, format="csr", random_state=0, dtype=np.float32)
    X = np.random.default_rng(0).random((50, 3))
    for name in ("lazy", "stochastic"):
        opt = as_optimizer(name, random_state=0)
        maximize(FacilityLocation(G), 20, opt)
        maximize(FacilityLocation(similarity(X)), 5, opt)
        maximize(FacilityLocation(ImplicitSimilarity(X)), 5, opt)


def spawn(case):
    out = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"case {case} failed:\n{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="100000,200000", help="graph sizes, comma separated")
    ap.add_argument("--graph-1m", default="ivf", choices=["exact", "ivf"], help="index for N >= 1M")
    ap.add_argument("--dense-n", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each coresets case (median)")
    ap.add_argument(
        "--epsilon", default="0.01", help="epsilons of coresets' stochastic greedy, comma separated"
    )
    ap.add_argument("--skip-apricot", action="store_true")
    ap.add_argument("--skip-dense", action="store_true")
    ap.add_argument("--skip-stochastic", action="store_true")
    ap.add_argument(
        "--skip-apricot-stochastic",
        action="store_true",
        help="apricot's stochastic takes minutes at 100k+",
    )
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        case = json.loads(args.case)
        if case["lib"] == "coresets":
            warm_up()
        run_case(case)
        return

    cases = []
    epsilons = [float(e) for e in args.epsilon.split(",")]
    for n in (int(s) for s in args.sizes.split(",") if s):
        kind = args.graph_1m if n >= 1_000_000 else "exact"
        t0 = time.perf_counter()
        build_graph(n, kind)
        print(f"graph N={n} ({kind}) ready in {time.perf_counter() - t0:.1f} s", flush=True)
        opts = ["lazy"] + ([] if args.skip_stochastic else ["stochastic"])
        for opt in opts:
            for eps in epsilons if opt == "stochastic" else [0.01]:
                cases.append(
                    {
                        "lib": "coresets",
                        "workload": "graph",
                        "graph": kind,
                        "n": n,
                        "optimizer": opt,
                        "epsilon": eps,
                    }
                )
            if not args.skip_apricot and not (opt == "stochastic" and args.skip_apricot_stochastic):
                cases.append(
                    {"lib": "apricot", "workload": "graph", "graph": kind, "n": n, "optimizer": opt}
                )
    if not args.skip_dense:
        dense = [("coresets", "dense"), ("coresets", "implicit")]
        for lib, workload in dense + ([] if args.skip_apricot else [("apricot", "dense")]):
            cases.append(
                {
                    "lib": lib,
                    "workload": workload,
                    "graph": "-",
                    "n": args.dense_n,
                    "optimizer": "lazy",
                }
            )

    def label(r):
        eps = r.get("epsilon")
        return (
            f"{r['optimizer']} eps={eps:g}"
            if r["optimizer"] == "stochastic" and eps
            else r["optimizer"]
        )

    rows = []
    for case in cases:
        reps = args.repeats if case["lib"] == "coresets" else 1
        runs = [spawn(case) for _ in range(reps)]
        row = runs[0] | {
            "seconds": float(np.median([r["seconds"] for r in runs])),
            "peak_gib": max(r["peak_gib"] for r in runs),
        }
        rows.append(row)
        print(
            f"  {row['lib']:9s} {row['workload']:8s} N={row['n']:>8d} {label(row):22s} "
            f"{row['seconds']:8.2f} s  peak {row['peak_gib']:.2f} GiB  objective {row['objective']:.6f}",
            flush=True,
        )

    def find(lib, workload, n, opt):
        for r in rows:
            if (r["lib"], r["workload"], r["n"], r["optimizer"]) == (lib, workload, n, opt):
                return r
        return None

    print()
    print(
        "| workload | N | optimizer | coresets s | apricot s | speed-up | coresets peak GiB | apricot peak GiB | objective ratio (coresets/apricot) | vs coresets lazy |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["lib"] != "coresets":
            continue
        # apricot has one dense form: compare both of ours with it
        a = find(
            "apricot",
            "dense" if r["workload"] == "implicit" else r["workload"],
            r["n"],
            r["optimizer"],
        )
        lazy = find("coresets", r["workload"], r["n"], "lazy")
        wl = {"graph": f"graph ({r['graph']})", "dense": "dense euclidean (float32 matrix)"}.get(
            r["workload"], "dense euclidean (ImplicitSimilarity)"
        )
        vs = ""
        if lazy is not None and r["optimizer"] != "lazy":
            vs = f"{r['objective'] / lazy['objective']:.4f}x objective, {lazy['seconds'] / r['seconds']:.2f}x faster"
        if a is None:
            print(
                f"| {wl} | {r['n']} | {label(r)} | {r['seconds']:.2f} | - | - | {r['peak_gib']:.2f} | - | - | {vs} |"
            )
        else:
            print(
                f"| {wl} | {r['n']} | {label(r)} | {r['seconds']:.2f} | {a['seconds']:.2f} | "
                f"{a['seconds'] / r['seconds']:.1f}x | {r['peak_gib']:.2f} | {a['peak_gib']:.2f} | "
                f"{r['objective'] / a['objective']:.8f} | {vs} |"
            )


if __name__ == "__main__":
    main()
