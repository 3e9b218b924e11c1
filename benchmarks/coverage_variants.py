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
* ``rand_pc``: a stratified random subset;
* ``km<m>``: a random subset stratified by k-means within the class: ``ceil(k_c / m)``
  FAISS k-means clusters, the class's budget split over them in proportion to their sizes,
  random rows within each (density-matched like random, with coverage of every cluster).

    python benchmarks/coverage_variants.py 4k fl_lin,fl_g1,rand_pc 80,200,400,640,1000,1600,2400
    python benchmarks/coverage_variants.py 100000 rand_pc,fl_lin,fl_g1,flr50 1600,4000,8000
    python benchmarks/coverage_variants.py 100000 rand_pc,km2,km8,fl_lin 1600,4000,8000

Each cell's accuracy is printed and kept in ``runs/coverage_variants_<pool>.json`` (a killed
run resumes; cells already there are skipped).
"""

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

from coresets._io import save_json
from coresets.scaling import default_trainer, load_mnist1d, selection_features
from coresets.selectors._base import allocate_per_class
from coresets.submodular import FacilityLocation, maximize


class ClassRows:
    """One class's standardised rows, with their squared distances computed once on demand."""

    def __init__(self, X):
        self.X = X
        self._D = None

    @property
    def D(self):
        if self._D is None:
            self._D = sqdist(self.X)
        return self._D


def sqdist(A):
    """Squared euclidean distances of the rows of ``A``, clipped at 0, zero diagonal.

    Not ``coresets.submodular.similarity``: that returns ``max(D^2) - D^2``, and the
    Gaussian kernels here need ``D^2`` itself.
    """
    sq = (A * A).sum(1)
    D = sq[:, None] + sq[None, :] - 2 * A @ A.T
    np.maximum(D, 0, out=D)
    np.fill_diagonal(D, 0)
    return D


def kth(D, m):
    """Each row's squared distance to its ``m``-th neighbour (``m`` clipped to the class)."""
    m = int(min(max(m, 1), D.shape[0] - 1))
    return np.partition(D, m, axis=1)[:, m]


# A kernel maps a class's squared distances D and its budget k_c to a similarity.
def linear(D, kc):
    return D.max() - D


def gaussian(scale, neighbour=None):
    """``exp(-D / (scale * sigma^2))``; sigma^2 at the (n_c / k_c)-th neighbour unless fixed."""

    def kernel(D, kc):
        m = round(D.shape[0] / kc) if neighbour is None else neighbour
        return np.exp(-D / (scale * np.median(kth(D, m))))

    return kernel


def fl_rows(S, k, initial=None):
    return maximize(FacilityLocation(S.astype(np.float32)), k, initial_subset=initial).indices


# A strategy picks k_c rows of one class from (ClassRows, k_c, rng).
def coverage(kernel):
    return lambda c, kc, rng: fl_rows(kernel(c.D, kc), kc)


def random_then_coverage(rho, kernel):
    """A random ``rho`` share of the budget, facility location completes it."""

    def strategy(c, kc, rng):
        r = int(round(rho * kc))
        init = rng.choice(c.X.shape[0], r, replace=False)
        if kc - r <= 0:
            return init
        return np.concatenate([init, fl_rows(kernel(c.D, kc), kc - r, initial=init)])

    return strategy


def coverage_then_random(m, kernel):
    """Facility location for the first ``m`` rows of the class, random for the rest."""

    def strategy(c, kc, rng):
        a = min(kc, m)
        first = fl_rows(kernel(c.D, kc), a)
        rest = np.setdiff1d(np.arange(c.X.shape[0]), first)
        return np.concatenate([first, rng.choice(rest, kc - a, replace=False)])

    return strategy


def stratified_random(c, kc, rng):
    return rng.choice(c.X.shape[0], kc, replace=False)


def kmeans_strata(m):
    """Random rows stratified by ``ceil(k_c / m)`` k-means clusters, proportional budgets."""

    def strategy(c, kc, rng):
        n_clusters = max(1, -(-kc // m))
        km = faiss.Kmeans(
            c.X.shape[1], n_clusters, niter=25, seed=int(rng.integers(2**31)), verbose=False
        )
        Xf = np.ascontiguousarray(c.X, dtype=np.float32)
        km.train(Xf)
        assign = km.index.search(Xf, 1)[1][:, 0]
        sizes = np.bincount(assign, minlength=n_clusters)
        live = np.flatnonzero(sizes)
        counts = allocate_per_class(sizes[live], kc)
        return np.concatenate(
            [
                rng.choice(np.flatnonzero(assign == j), int(q), replace=False)
                for j, q in zip(live, counts, strict=True)
            ]
        )

    return strategy


STRATEGIES = {
    "rand_pc": stratified_random,
    "fl_lin": coverage(linear),
    "fl_g1": coverage(gaussian(1.0)),
    "fl_g2": coverage(gaussian(2.0)),
    "fl_g05": coverage(gaussian(0.5)),
    "fl_g4": coverage(gaussian(4.0)),
    "fl_g1_k10": coverage(gaussian(1.0, 10)),
    "r50_lin": random_then_coverage(0.5, linear),
    "r50_g1": random_then_coverage(0.5, gaussian(1.0)),
    "flr50": coverage_then_random(50, linear),
    "km2": kmeans_strata(2),
    "km8": kmeans_strata(8),
}


def per_class(strategy, X, y, k, seed, cache):
    """``strategy`` run in each class on proportional counts; pool row ids."""
    classes = np.unique(y)
    counts = allocate_per_class([np.sum(y == c) for c in classes], k)
    out = []
    for ci, (c, kc) in enumerate(zip(classes, counts, strict=True)):
        rows = np.flatnonzero(y == c)
        if c not in cache:
            cache[c] = ClassRows(X[rows])
        rng = np.random.default_rng([seed, ci])
        out.append(rows[strategy(cache[c], int(kc), rng)])
    return np.concatenate(out)


def _ints(text, name):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"{name}: a comma-separated list of ints, got {text!r}") from None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pool", help="'4k' (the default MNIST-1D) or MNIST-1D num_samples, e.g. 100000")
    p.add_argument("methods", help=f"comma-separated, of: {', '.join(STRATEGIES)}")
    p.add_argument("sizes", help="comma-separated subset sizes")
    p.add_argument("seeds", nargs="?", default="0,1,2")
    a = p.parse_args()
    pool = None if a.pool == "4k" else _ints(a.pool, "pool")[0]
    methods = [m for m in a.methods.split(",") if m]
    unknown = [m for m in methods if m not in STRATEGIES]
    if unknown:
        raise SystemExit(f"methods: unknown {unknown}; known: {', '.join(STRATEGIES)}")
    sizes, seeds = _ints(a.sizes, "sizes"), _ints(a.seeds, "seeds")
    out = Path(f"runs/coverage_variants_{a.pool}.json")

    data = load_mnist1d(pool, cache_dir="benchmarks/_data")
    X = selection_features(data, "standardized").astype(np.float64)
    y = data.y
    trainer = default_trainer(data, device="cpu")
    cache = {}
    for name in methods:
        for k in sizes:
            for seed in seeds:
                key = f"{name}|{k}|{seed}"
                res = json.loads(out.read_text()) if out.exists() else {}
                if key in res:
                    continue
                t0 = time.perf_counter()
                idx = per_class(STRATEGIES[name], X, y, k, seed, cache)
                ts = time.perf_counter() - t0
                assert np.unique(idx).size == k, (name, k, np.unique(idx).size)
                t0 = time.perf_counter()
                model = trainer.fit((data.X[idx], y[idx]), seed=seed)
                acc = float(trainer.evaluate(model, data.test)["accuracy"])
                tt = time.perf_counter() - t0
                # re-read: two runs may share the file
                res = json.loads(out.read_text()) if out.exists() else {}
                res[key] = acc
                out.parent.mkdir(parents=True, exist_ok=True)
                save_json(out, res)
                print(f"{name:10s} {k:6d} {seed} acc={acc:.3f} sel={ts:.1f}s train={tt:.1f}s")


if __name__ == "__main__":
    main()
