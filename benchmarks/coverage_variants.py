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

With the pruning benchmark's proxy scores (``el2n``, ``aum``, ``forgetting``, ``margin``;
run once and cached by ``pruning_mnist1d.py``), ``<strategy>_<score>``:

* ``hard<q>`` / ``easy<q>``: random rows among the hardest / easiest q% of the class;
  ``band30_5``: without the easiest 30% and the hardest 5%;
* ``fl_easy90`` / ``fl_hard50``: facility location among the easiest 90% / hardest half;
* ``flw_hard`` / ``flw_easy``: facility location where covering a row counts 0.5 + its
  difficulty rank in the class (or the reverse); ``flw_easy_easy90``: that, among the
  easiest 90%.

Any method can be followed by ``@cd<p>_<score>``: class budgets in proportion to size x
(mean class score)^p instead of size.

    python benchmarks/coverage_variants.py 4k fl_lin,fl_g1,rand_pc 80,200,400,640,1000,1600,2400
    python benchmarks/coverage_variants.py 100000 rand_pc,fl_lin,fl_g1,flr50 1600,4000,8000
    python benchmarks/coverage_variants.py 100000 rand_pc,km2,km8,fl_lin 1600,4000,8000
    python benchmarks/coverage_variants.py 4k rand_pc,fl_lin,fl_easy90_margin,flw_easy_el2n \
        80,200,400,640,1000,1600,2400 0,1,2,3,4
    python benchmarks/coverage_variants.py 4k rand_pc,fl_lin,fl_easy90_margin \
        80,200,400,640,1000,1600,2400 0,1,2,3,4 --table --against fl_lin

Each cell's accuracy is printed and kept in ``runs/coverage_variants_<pool>.json`` (a killed
run resumes; cells already there are skipped); ``--table`` prints the tables of the cells
already run: mean accuracy, data ratio and paired gain against ``rand_pc``.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import faiss
import numpy as np

from coresets._io import save_json
from coresets.scaling import ScalingResult, default_trainer, load_mnist1d, selection_features
from coresets.scaling.report import accuracy_table, gain_table, ratio_table
from coresets.selectors._base import allocate_per_class
from coresets.submodular import FacilityLocation, maximize


class ClassRows:
    """One class's standardised rows, with their squared distances computed once on demand.

    ``scores`` maps a proxy score's name to its values on these rows, oriented so that
    higher is harder (empty when no method reads the proxy).
    """

    def __init__(self, X, scores=None):
        self.X = X
        self.scores = scores or {}
        self._D = None

    def take(self, rows):
        """The rows ``rows`` (positions in this class) as a ClassRows of their own."""
        return ClassRows(self.X[rows], {k: v[rows] for k, v in self.scores.items()})

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


def weighted_coverage(score, toward):
    """Facility location where covering row i counts w_i: 0.5 + its within-class rank.

    ``toward="hard"``: w runs from 0.5 (easiest) to 1.5 (hardest) by ``score``; ``"easy"``
    the other way. Row j of the similarity holds candidate j's similarities to the points,
    so the weights scale the columns.
    """

    def strategy(c, kc, rng):
        u = (np.argsort(np.argsort(c.scores[score], kind="stable")) + 0.5) / c.X.shape[0]
        w = 0.5 + (u if toward == "hard" else 1.0 - u)
        return fl_rows(linear(c.D, kc) * w[None, :], kc)

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


# Difficulty-aware candidates: a strategy runs on the rows a proxy score leaves. Scores are
# ranked within the class; the candidate set never shrinks below the class's budget.
def among(keep, strategy):
    """Run ``strategy`` on the rows ``keep(c, k_c)`` returns; map its picks back."""

    def run(c, kc, rng):
        rows = keep(c, kc)
        return rows[strategy(c.take(rows), kc, rng)]

    return run


def hardest(share, score):
    """The ``share`` of the class hardest by ``score`` (at least ``k_c`` rows)."""

    def keep(c, kc):
        m = max(kc, int(np.ceil(share * c.X.shape[0])))
        return np.sort(np.argsort(-c.scores[score], kind="stable")[:m])

    return keep


def easiest(share, score):
    """The ``share`` of the class easiest by ``score`` (at least ``k_c`` rows)."""

    def keep(c, kc):
        m = max(kc, int(np.ceil(share * c.X.shape[0])))
        return np.sort(np.argsort(c.scores[score], kind="stable")[:m])

    return keep


def band(drop_easy, drop_hard, score):
    """The class without its ``drop_hard`` hardest and ``drop_easy`` easiest shares.

    Widened symmetrically around the band's middle when it holds fewer than ``k_c`` rows.
    """

    def keep(c, kc):
        n = c.X.shape[0]
        order = np.argsort(c.scores[score], kind="stable")  # easiest first
        lo, hi = int(np.floor(drop_easy * n)), n - int(np.floor(drop_hard * n))
        while hi - lo < kc:
            lo, hi = max(0, lo - 1), min(n, hi + 1)
        return np.sort(order[lo:hi])

    return keep


def class_shares(power, score):
    """Class budgets in proportion to size x (mean ``score`` in the class) ** ``power``.

    Harder classes (by the proxy's mean score) get more of the budget than their size.
    """

    def shares(y, classes, scores):
        return np.array([np.sum(y == c) * np.mean(scores[score][y == c]) ** power for c in classes])

    return shares


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
# random (and facility location) among the harder or easier rows by a proxy score
for _score in ("el2n", "aum", "forgetting", "margin"):
    for _q in (30, 50, 70):
        STRATEGIES[f"hard{_q}_{_score}"] = among(hardest(_q / 100, _score), stratified_random)
    for _q in (5, 10, 20):
        STRATEGIES[f"easy{100 - _q}_{_score}"] = among(
            easiest(1 - _q / 100, _score), stratified_random
        )
    STRATEGIES[f"band30_5_{_score}"] = among(band(0.3, 0.05, _score), stratified_random)
    STRATEGIES[f"fl_easy90_{_score}"] = among(easiest(0.9, _score), coverage(linear))
    STRATEGIES[f"fl_hard50_{_score}"] = among(hardest(0.5, _score), coverage(linear))
    STRATEGIES[f"flw_hard_{_score}"] = weighted_coverage(_score, "hard")
    STRATEGIES[f"flw_easy_{_score}"] = weighted_coverage(_score, "easy")
    STRATEGIES[f"flw_easy_easy90_{_score}"] = among(
        easiest(0.9, _score), weighted_coverage(_score, "easy")
    )
#: proxy scores a strategy name can end in, and the sign that makes higher harder
PROXY_SCORES = {"el2n": 1.0, "aum": -1.0, "forgetting": 1.0, "margin": -1.0}
#: class budgets: a method ``<strategy>@<allocation>`` splits its budget by these shares
ALLOCATIONS = {
    f"cd{p}_{sc}": class_shares(p, sc) for p in (0.5, 1, 2) for sc in ("el2n", "forgetting")
}


def per_class(strategy, X, y, k, seed, cache, scores=None, shares=None):
    """``strategy`` run in each class on proportional counts; pool row ids.

    ``scores`` maps a proxy score's name to its per-row values (higher is harder);
    ``shares(y, classes, scores)``, when given, splits the budget instead of the class sizes.
    """
    classes = np.unique(y)
    counts = allocate_per_class(
        [np.sum(y == c) for c in classes],
        k,
        shares=None if shares is None else shares(y, classes, scores),
    )
    out = []
    for ci, (c, kc) in enumerate(zip(classes, counts, strict=True)):
        rows = np.flatnonzero(y == c)
        if c not in cache:
            cache[c] = ClassRows(X[rows], {n: v[rows] for n, v in (scores or {}).items()})
        rng = np.random.default_rng([seed, ci])
        out.append(rows[strategy(cache[c], int(kc), rng)])
    return np.concatenate(out)


def proxy_scores(data, pool):
    """The pruning benchmark's proxy run on this pool (run once, cached), scores harder-high.

    The same file ``pruning_mnist1d.py`` reads: ``runs/pruning_4k`` (3000 steps) or
    ``runs/pruning_80k`` (6000 steps), 3 seeds; EL2N a tenth into training, the margin at
    the end, AUM and forgetting over the 40 records.
    """
    from pruning_mnist1d import _proxy

    small = len(data.X) <= 10_000
    out = Path("runs/pruning_4k" if pool == "4k" else f"runs/pruning_{len(data.X) // 1000}k")
    proxy = _proxy(data, out, 3000 if small else 6000, 3)
    print(f"proxy: {float(proxy['seconds']):.0f} s when run ({out})")
    return {name: sign * proxy[name] for name, sign in PROXY_SCORES.items()}


def print_tables(cells, methods, sizes, seeds, against=None):
    """Mean accuracy, data ratio against ``rand_pc``, and the paired gain over it.

    The paired gain (:func:`coresets.scaling.paired_gain`) is the mean over seeds of
    (method - rand_pc) on the same seed, with twice its standard error: a gain whose band
    excludes 0 is beyond seed noise. With ``against``, also each method's gain over that
    one.
    """
    records = [
        {"method": m, "size": k, "seed": sd, "accuracy": cells[f"{m}|{k}|{sd}"]}
        | dict.fromkeys(("loss", "selection_time", "training_time"), float("nan"))
        for m in dict.fromkeys(["rand_pc", *methods])
        for k in sizes
        for sd in seeds
        if f"{m}|{k}|{sd}" in cells
    ]
    res = ScalingResult(records)
    warnings.simplefilter("ignore", RuntimeWarning)  # the loss columns are NaN: not trained here
    width = max(12, *(len(m) + 2 for m in res.methods))
    print(accuracy_table(res, width=width))
    print(ratio_table(res, baseline="rand_pc", width=width))
    print(gain_table(res, baseline="rand_pc", width=width))
    if against is not None:
        print(gain_table(res, baseline=against, width=width))


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
    p.add_argument(
        "--table", action="store_true", help="train nothing: tables of the cells already run"
    )
    p.add_argument("--against", help="with --table: a method to pair every other one against")
    a = p.parse_args()
    pool = None if a.pool == "4k" else _ints(a.pool, "pool")[0]
    methods = [m for m in a.methods.split(",") if m]
    unknown = [
        m
        for m in methods
        if m.split("@")[0] not in STRATEGIES or m.partition("@")[2] not in {"", *ALLOCATIONS}
    ]
    if unknown:
        raise SystemExit(
            f"methods: unknown {unknown}; known: {', '.join(STRATEGIES)}, each optionally "
            f"followed by @ and one of {', '.join(ALLOCATIONS)}"
        )
    sizes, seeds = _ints(a.sizes, "sizes"), _ints(a.seeds, "seeds")
    out = Path(f"runs/coverage_variants_{a.pool}.json")

    if a.table:
        print_tables(json.loads(out.read_text()), methods, sizes, seeds, a.against)
        return
    data = load_mnist1d(pool, cache_dir="benchmarks/_data")
    X = selection_features(data, "standardized").astype(np.float64)
    y = data.y
    trainer = default_trainer(data, device="cpu")
    scores = None
    if any(m.rsplit("_", 1)[-1] in PROXY_SCORES for m in methods):  # every score name ends it
        scores = proxy_scores(data, a.pool)
    cache = {}
    for name in methods:
        for k in sizes:
            for seed in seeds:
                key = f"{name}|{k}|{seed}"
                res = json.loads(out.read_text()) if out.exists() else {}
                if key in res:
                    continue
                t0 = time.perf_counter()
                strategy, _, allocation = name.partition("@")
                idx = per_class(
                    STRATEGIES[strategy],
                    X,
                    y,
                    k,
                    seed,
                    cache,
                    scores,
                    ALLOCATIONS.get(allocation),
                )
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
