"""Same picks across a refactoring: run a fixed set of selections and save or compare them.

    python benchmarks/same_picks.py save picks_new.npz
    python benchmarks/same_picks.py compare picks_old.npz picks_new.npz

``save`` runs every kind of selection the library offers on digits and on 20k blobs (kNN
graphs, facility location on sparse / dense / implicit storage with lazy and stochastic
greedy, every selector with its weights, both baselines, RandGreeDi and Sieve-Streaming++
over shards) and writes the chosen indices, weights and objectives. ``compare`` prints,
for each entry, whether two such files agree exactly, and the largest difference of the
floats that do not. Run ``save`` on two checkouts (``PYTHONPATH=<checkout>``) to show that
a change kept every selection.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np


def selections() -> dict:
    from sklearn.datasets import load_digits, make_blobs

    from coresets import FacilityLocation, ImplicitSimilarity, maximize, similarity
    from coresets.baselines import herding, k_center_greedy
    from coresets.embed import embed_to_shards
    from coresets.knn import knn_graph
    from coresets.selectors import (
        FacilityLocationSelector,
        FeatureBasedSelector,
        GraphCutSelector,
        HerdingSelector,
        KCenterGreedySelector,
        RandomSelector,
        SaturatedCoverageSelector,
    )
    from coresets.streaming import RandGreeDi, SieveStreaming, select_from_shards
    from coresets.submodular import StochasticGreedy

    out = {}
    X, y = load_digits(return_X_y=True)
    blobs, _ = make_blobs(n_samples=20_000, n_features=16, centers=30, random_state=0)
    blobs = blobs.astype(np.float32)

    G = knn_graph(blobs, n_neighbors=16, metric="cosine", random_state=0)
    out["graph_indices"], out["graph_data"] = G.indices, G.data
    out["graph_euclidean_data"] = knn_graph(
        blobs, n_neighbors=16, metric="euclidean", random_state=0
    ).data
    out["fl_lazy"] = maximize(FacilityLocation(G), 1000, "lazy").indices
    out["fl_stochastic"] = maximize(
        FacilityLocation(G), 1000, StochasticGreedy(0.01, random_state=0)
    ).indices
    out["fl_dense"] = maximize(FacilityLocation(similarity(X, "euclidean")), 100).indices
    out["fl_implicit"] = maximize(FacilityLocation(ImplicitSimilarity(X, "euclidean")), 100).indices
    estimators = {
        "sel_fl": FacilityLocationSelector(0.1),
        "sel_fl_per_class": FacilityLocationSelector(0.1, per_class=True),
        "sel_fl_knn": FacilityLocationSelector(
            0.1, n_neighbors=16, random_state=0, metric="cosine"
        ),
        "sel_gc": GraphCutSelector(0.1),
        "sel_sc": SaturatedCoverageSelector(0.1),
        "sel_fb": FeatureBasedSelector(0.1),
        "sel_random": RandomSelector(0.1, random_state=0),
        "sel_kcenter": KCenterGreedySelector(0.1, random_state=0, device="cpu"),
        "sel_herding": HerdingSelector(0.1, device="cpu"),
    }
    for name, est in estimators.items():
        est.fit(X, y)
        out[name], out[name + "_weights"] = est.ranking_, est.weights_
    out["kcenter_fn"] = k_center_greedy(X, 50, random_state=0, device="cpu").indices
    out["herding_fn"] = herding(X, 50, device="cpu").indices
    with tempfile.TemporaryDirectory() as tmp:
        embed_to_shards(lambda b: b, blobs, f"{tmp}/shards", shard_size=4000)
        for name, algorithm in (
            ("greedi", RandGreeDi(n_partitions=3)),
            ("sieve", SieveStreaming()),
        ):
            sel = select_from_shards(f"{tmp}/shards", 200, algorithm=algorithm, random_state=0)
            out[name], out[name + "_weights"] = sel.indices, sel.weights
            out[name + "_objective"] = np.float64(sel.objective)
    return out


def compare(path_a, path_b) -> int:
    a, b = np.load(path_a), np.load(path_b)
    differ = 0
    print(f"| entry | {path_a} vs {path_b} |\n|---|---|")
    for key in sorted(set(a.files) | set(b.files)):
        if key not in a.files or key not in b.files:
            verdict = "missing on one side"
        elif a[key].shape != b[key].shape:
            verdict = f"shapes differ: {a[key].shape} vs {b[key].shape}"
        elif np.array_equal(a[key], b[key]):
            verdict = "identical"
        elif a[key].dtype.kind == "f":
            verdict = f"max abs difference {np.max(np.abs(a[key] - b[key])):.3g}"
        else:
            verdict = f"{int((a[key] != b[key]).sum())} of {a[key].size} entries differ"
        differ += verdict != "identical"
        print(f"| {key} | {verdict} |")
    return differ


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("save").add_argument("out")
    cmp = sub.add_parser("compare")
    cmp.add_argument("a")
    cmp.add_argument("b")
    args = parser.parse_args()
    if args.command == "save":
        out = selections()
        np.savez(args.out, **out)
        print(f"saved {len(out)} entries to {args.out}")
    else:
        compare(args.a, args.b)


if __name__ == "__main__":
    main()
