"""``auto``: choose the selection method from what is known about the data and the budget.

The policy is a small written rule, fitted on MNIST-1D scaling curves and stated with the
figures behind it in ``benchmarks/RESULTS.md`` ("Which method where", issue 11). It is a
thin selector: :func:`auto_policy` names a method, :class:`AutoSelector` builds that
selector, fits it and exposes its results (``policy_`` says which one ran).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int
from ._base import BaseSelector, _check_n_samples, _check_y

__all__ = [
    "AutoSelector",
    "auto_policy",
    "COVERAGE_PER_CLASS",
    "COVERAGE_FRACTION",
    "HARD_PRUNE",
    "HARD_PRUNE_PER_CLASS",
]

#: Coverage wins while each class keeps at most this many rows ...
COVERAGE_PER_CLASS = 50
#: ... or while at least this fraction of the pool is kept.
COVERAGE_FRACTION = 0.15
#: With difficulty scores, coverage chooses among rows outside this hardest fraction ...
HARD_PRUNE = 0.1
#: ... while each class keeps at most this many rows (beyond, hard rows are worth keeping).
HARD_PRUNE_PER_CLASS = 200
#: Classes assumed when there are no labels (MNIST-1D's, where the rule was measured).
_UNLABELLED_CLASSES = 10


def auto_policy(n_rows, k, *, n_classes=None, scores=False) -> str:
    """The method ``auto`` runs for a budget of ``k`` of ``n_rows`` rows.

    Coverage (facility location; per class when there are labels) while
    ``k / n_classes <= COVERAGE_PER_CLASS`` or ``k / n_rows >= COVERAGE_FRACTION``;
    otherwise a stratified random subset (a plain one without labels). With difficulty
    ``scores``, coverage chooses among the rows outside the hardest ``HARD_PRUNE`` of each
    class (``"hard_pruned_"`` before the name) while ``k / n_classes <=
    HARD_PRUNE_PER_CLASS``.

    The rule is fitted on MNIST-1D scaling curves (3 seeds, the reference CNN;
    ``benchmarks/pruning_mnist1d.py``, figures in ``benchmarks/RESULTS.md``):

    * On the 4000-example pool, facility location per class on standardised signals
      beat random at every size from 2% to 60% and was the best or level with the best
      of 15 methods from 5% up (accuracy 0.470 / 0.678 / 0.880 at n = 400 / 1000 / 2400
      against random's 0.374 / 0.630 / 0.863); at 2% facility location on the whole
      pool did better (0.272 against 0.242). The difficulty-score methods (EL2N easiest
      or hardest, CCS, D2, difficulty-weighted facility location) lost to it everywhere.
    * On the 80,000-example pool the same coverage won at n = 400 (40 rows per class)
      but lost to random at n = 1600, 4000 and 8000 (2-10% of the pool): from a large
      pool at a small fraction, coverage spends the budget on the sparse tail of
      atypical signals. Nothing measured beat random there (coverage on the proxy's
      learned features, coverage without the hardest half or 80% by EL2N, CCS, hardest
      EL2N), so the policy keeps a stratified random subset there instead of losing.
    * Hard pruning before coverage (fifth session, ``benchmarks/coverage_variants.py``
      and ``benchmarks/pruning_mnist1d.py``): on the 4000-example pool, facility
      location per class among the easiest 90% of each class by a proxy's final
      margin or forgetting events was 1.6 or 1.4 points above plain facility location
      per class (7 sizes, 5 seeds), and ``auto`` with forgetting scores +1.0 ± 0.7
      points above ``auto`` over 10 seeds (0.78-0.85x random's data at 10-25% against
      0.81-0.92x). The gain was at 20-160 rows per class (+0.9 to +2.4 points); at 240
      rows per class (n = 2400 of 4000) it was -0.8 ± 1.3, and on the 80,000-example
      pool at 2400 rows per class (n = 24,000) -0.9 ± 0.5 over 8 seeds, the one loss
      beyond noise (and 0.7 points under random). As Sorscher et al. (2022) find, the
      hardest rows are worth keeping once data is abundant, so pruning stops at
      ``HARD_PRUNE_PER_CLASS`` = 200 rows per class. At n = 400 of the 80k pool it was
      -0.4 ± 1.6 (8 seeds). Scores are an option, off by default. Pruning before random
      sampling moved accuracy by -2.6 to +2.7 points at 2-10% of the 80k pool, inside
      seed noise, so the random branch does not prune.

    Two thresholds fitted on eleven sizes of two pools of one data set: treat them as
    a measured default, not a law; ``coresets scaling --methods random,auto`` checks
    them on your data.

    Parameters
    ----------
    n_rows : int
        Rows of the pool.
    k : int
        Rows to keep.
    n_classes : int, optional
        Classes among the labels; None without labels (then 10 is assumed for the
        per-class threshold).
    scores : bool, default False
        Whether per-row difficulty scores are available.

    Returns
    -------
    str
        ``"facility_location_per_class"``, ``"facility_location"``, ``"random_per_class"``
        or ``"random"``; coverage with scores ``"hard_pruned_facility_location_per_class"``
        or ``"hard_pruned_facility_location"``.
    """
    n_rows = check_int(n_rows, "n_rows", low=1)
    k = check_int(k, "k", low=1, high=n_rows)
    classes = _UNLABELLED_CLASSES if n_classes is None else check_int(n_classes, "n_classes", low=1)
    coverage = k / classes <= COVERAGE_PER_CLASS or k / n_rows >= COVERAGE_FRACTION
    method = "facility_location" if coverage else "random"
    # the hardest fraction goes within each class; whatever the classes, at least
    # n_rows - floor(HARD_PRUNE * n_rows) rows are left
    pruned = k / classes <= HARD_PRUNE_PER_CLASS and k <= n_rows - int(HARD_PRUNE * n_rows)
    if coverage and scores and pruned:
        method = f"hard_pruned_{method}"
    return f"{method}_per_class" if n_classes is not None else method


class AutoSelector(BaseSelector):
    """Pick the selection method by :func:`auto_policy`, then fit it.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]``.
    metric : {"euclidean", "cosine"}, default "euclidean"
        Distance of the chosen method.
    n_neighbors : None, int or "auto", default "auto"
        Facility location's similarity: exact dense while it fits the memory budget,
        a FAISS kNN graph beyond (see :class:`FacilityLocationSelector`).
    random_state : None, int or numpy Generator
    scores : None, array-like of shape (n_rows,) or callable, default None
        Per-row difficulty, higher is harder (e.g. ``ProxyRun.forgetting()`` of a proxy
        run on the pool, or a callable ``scores(X, y)``). With scores, coverage skips the
        hardest ``HARD_PRUNE`` of each class (:class:`HardPrunedSelector`) while each
        class keeps at most ``HARD_PRUNE_PER_CLASS`` rows; None: no pruning.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    progress : bool, default False

    Attributes
    ----------
    policy_ : str
        The method that ran (see :func:`auto_policy`): ``"facility_location_per_class"``,
        ``"facility_location"``, ``"random_per_class"`` or ``"random"`` (per class when
        ``y`` holds classes), ``"hard_pruned_"`` before a coverage method with scores.
    selector_ : selector
        The fitted selector of that method.
    selection_, ranking_, gains_, weights_, objective_ : as the chosen selector's
    n_features_in_, n_rows_fit_ : int
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        metric="euclidean",
        n_neighbors="auto",
        random_state=None,
        scores=None,
        device="auto",
        progress=False,
    ):
        self.n_samples = n_samples
        self.metric = metric
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.scores = scores
        self.device = device
        self.progress = progress

    def _result_identity(self):
        # the policy's thresholds decide the result as much as the parameters do; read
        # at call time, as auto_policy reads them
        return {
            "coverage_per_class": COVERAGE_PER_CLASS,
            "coverage_fraction": COVERAGE_FRACTION,
            "unlabelled_classes": _UNLABELLED_CLASSES,
            "hard_prune": HARD_PRUNE,
            "hard_prune_per_class": HARD_PRUNE_PER_CLASS,
        }

    def _build(self, policy, n_samples):
        from .geometric import RandomSelector
        from .scored import HardPrunedSelector
        from .submodular import FacilityLocationSelector

        per_class = policy.endswith("_per_class")
        if policy.startswith("random"):
            return RandomSelector(
                n_samples,
                metric=self.metric,
                per_class=per_class,
                random_state=self.random_state,
            )
        coverage = FacilityLocationSelector(
            n_samples,
            metric=self.metric,
            n_neighbors=self.n_neighbors,
            per_class=per_class,
            random_state=self.random_state,
            device=self.device,
            progress=self.progress,
        )
        if not policy.startswith("hard_pruned_"):
            return coverage
        return HardPrunedSelector(
            coverage,
            scores=self.scores,
            hard_prune=HARD_PRUNE,
            metric=self.metric,
            random_state=self.random_state,
        )

    def fit(self, X, y=None, sample_cost=None):
        """Choose rows of ``X`` with the method :func:`auto_policy` names.

        Parameters
        ----------
        X : array-like, shape (n, d)
        y : array-like, shape (n,), optional
            Class labels; with them selection runs per class.
        sample_cost : array-like, shape (n,), optional
            Positive cost of each row; ``n_samples`` is then the budget (see
            :meth:`BaseSelector.fit`).

        Returns
        -------
        self
        """
        Xv = self._check_X(X, reset=True)
        n = Xv.shape[0]
        y_arr = _check_y(y, n)
        # with costs n_samples is a budget, not a count: the policy sees the whole pool
        # (coverage), and facility location's knapsack greedy spends the budget
        k = _check_n_samples(self.n_samples, n) if sample_cost is None else n
        # labels that give every class at most one row are not classes (regression targets)
        n_classes = None if y_arr is None else np.unique(y_arr).size
        labelled = n_classes is not None and n_classes < n
        self.policy_ = auto_policy(
            n, k, n_classes=n_classes if labelled else None, scores=self.scores is not None
        )
        # the pruned selector sees fewer rows: a size goes as a count of the whole pool
        inner = self._build(self.policy_, self.n_samples if sample_cost is not None else k)
        inner.fit(Xv, y_arr if labelled else None, sample_cost=sample_cost)
        self.selector_ = inner
        self.n_rows_fit_ = n
        return self._store(inner.selection_)
