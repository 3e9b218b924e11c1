"""Coverage variants on MNIST-1D: does the kernel or a random share move facility location?

Probes for issue 11 (figures in ``benchmarks/RESULTS.md``). Every variant selects per class
(proportional counts) on standardised signals and trains the reference trainer, seeds 0-2:

* ``fl_lin``: facility location on ``max(D^2) - D^2`` (what ``auto`` runs);
* ``fl_g<s>``: facility location on ``exp(-D^2 / (s * sigma^2))`` with ``sigma^2`` the
  class's median squared distance to its ``(n_c / k_c)``-th neighbour (a budget-adaptive
  width: the radius one kept row stands for);
* ``fl_g1_k10``: the same kernel with ``sigma^2`` at the 10th neighbour (fixed width);
* ``r50_lin`` / ``r50_g1``: half the budget a random subset, facility location completes it;
* ``flr50``: facility location for the first 50 rows of a class, random for the rest;
* ``rand_pc``: a stratified random subset.

    python benchmarks/coverage_variants.py 4k fl_lin,fl_g1,rand_pc 80,200,400,640,1000,1600,2400
    python benchmarks/coverage_variants.py 100000 rand_pc,fl_lin,fl_g1,flr50 1600,4000,8000

Each cell's accuracy is printed and kept in ``runs/coverage_variants_<pool>.json`` (a killed
run resumes; cells already there are skipped).
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from coresets.scaling import default_trainer, load_mnist1d, selection_features
from coresets.selectors._base import allocate_per_class
from coresets.submodular import FacilityLocation, maximize

POOL = None if sys.argv[1] == "4k" else int(sys.argv[1])
METHODS = sys.argv[2].split(",")
SIZES = [int(s) for s in sys.argv[3].split(",")]
SEEDS = [int(s) for s in (sys.argv[4] if len(sys.argv) > 4 else "0,1,2").split(",")]
OUT = Path(f"runs/coverage_variants_{sys.argv[1]}.json")
OUT.parent.mkdir(parents=True, exist_ok=True)

data = load_mnist1d(POOL, cache_dir="benchmarks/_data")
X = selection_features(data, "standardized").astype(np.float64)
y = data.y
classes = np.unique(y)
trainer = default_trainer(data, device="cpu")


def sqdist(A):
    sq = (A * A).sum(1)
    D = sq[:, None] + sq[None, :] - 2 * A @ A.T
    np.maximum(D, 0, out=D)
    np.fill_diagonal(D, 0)
    return D


_D = {}


def class_D(c):
    if c not in _D:
        _D[c] = sqdist(X[y == c])
    return _D[c]


def fl_rows(S, k, initial=None):
    return maximize(FacilityLocation(S.astype(np.float32)), k, initial_subset=initial).indices


def kth(D, m):
    m = int(min(max(m, 1), D.shape[0] - 1))
    return np.partition(D, m, axis=1)[:, m]


def per_class(fn, k, seed):
    counts = allocate_per_class([np.sum(y == c) for c in classes], k)
    out = []
    for ci, (c, kc) in enumerate(zip(classes, counts, strict=True)):
        rows = np.flatnonzero(y == c)
        rng = np.random.default_rng([seed, ci])
        out.append(rows[fn(class_D(c), int(kc), rng)])
    return np.concatenate(out)


def lin(D, kc, rng):
    return fl_rows(D.max() - D, kc)


def gauss(scale, which="budget"):
    def f(D, kc, rng):
        n = D.shape[0]
        if which == "budget":
            s2 = np.median(kth(D, round(n / kc)))
        else:
            s2 = np.median(kth(D, int(which)))
        return fl_rows(np.exp(-D / (scale * s2)), kc)

    return f


def rand_then(rho, inner):
    def f(D, kc, rng):
        n = D.shape[0]
        r = int(round(rho * kc))
        init = rng.choice(n, r, replace=False)
        if kc - r <= 0:
            return init
        S = inner(D)
        return np.concatenate([init, fl_rows(S, kc - r, initial=init)])

    return f


def fl_then_random(m):
    def f(D, kc, rng):
        n = D.shape[0]
        a = min(kc, m)
        first = fl_rows(D.max() - D, a)
        rest = np.setdiff1d(np.arange(n), first)
        return np.concatenate([first, rng.choice(rest, kc - a, replace=False)])

    return f


def rand(D, kc, rng):
    return rng.choice(D.shape[0], kc, replace=False)


TABLE = {
    "rand_pc": rand,
    "fl_lin": lin,
    "fl_g1": gauss(1.0),
    "fl_g2": gauss(2.0),
    "fl_g05": gauss(0.5),
    "fl_g4": gauss(4.0),
    "fl_g1_k10": gauss(1.0, 10),
    "r50_lin": rand_then(0.5, lambda D: D.max() - D),
    "r50_g1": rand_then(0.5, None),
    "flr50": fl_then_random(50),
}


def run(name, k, seed):
    if name == "r50_g1":

        def inner(D, kc, rng):
            n = D.shape[0]
            s2 = np.median(kth(D, round(n / kc)))
            return rand_then(0.5, lambda DD: np.exp(-DD / s2))(D, kc, rng)

        fn = inner
    else:
        fn = TABLE[name]
    t0 = time.perf_counter()
    idx = per_class(fn, k, seed)
    ts = time.perf_counter() - t0
    assert len(np.unique(idx)) == k, (name, k, len(np.unique(idx)))
    t0 = time.perf_counter()
    model = trainer.fit((data.X[idx], y[idx]), seed=seed)
    acc = trainer.evaluate(model, data.test)["accuracy"]
    return float(acc), ts, time.perf_counter() - t0


res = json.loads(OUT.read_text()) if OUT.exists() else {}
for name in METHODS:
    for k in SIZES:
        for seed in SEEDS:
            key = f"{name}|{k}|{seed}"
            if key in res:
                continue
            acc, ts, tt = run(name, k, seed)
            res = json.loads(OUT.read_text()) if OUT.exists() else {}
            res[key] = acc
            OUT.write_text(json.dumps(res))
            print(
                f"{name:10s} {k:6d} {seed} acc={acc:.3f} sel={ts:.1f}s train={tt:.1f}s", flush=True
            )
