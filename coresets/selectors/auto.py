"""``auto``: choose the selection method from what is known about the data and the budget.

The policy is a small written rule, fitted on MNIST-1D scaling curves and stated with the
figures behind it in ``benchmarks/RESULTS.md`` ("Which method where", issue 11). It is a
thin selector: :func:`auto_policy` names a method, :class:`AutoSelector` builds that
selector, fits it and exposes its results (``policy_`` says which one ran).
"""

from __future__ import annotations

import numpy as np

from ._base import BaseSelector, _check_n_samples, _check_y

__all__ = ["AutoSelector", "auto_policy", "HARD_FRACTION"]

#: Above this kept fraction of a pool, with difficulty scores given, the policy keeps the
#: hardest rows (skipping the noisiest tail) instead of covering the pool. See
#: :func:`auto_policy` for the measurements.
HARD_FRACTION = None


def auto_policy(n_rows, k, *, has_labels, has_scores=False) -> str:
    """The method ``auto`` runs for a budget of ``k`` of ``n_rows`` rows.

    The rule, from the MNIST-1D scaling curves (3 seeds, the reference CNN; figures in
    ``benchmarks/RESULTS.md``):

    * With labels: facility location **per class** on the selection features. On the
      4000-example pool it was the best or level with the best of 14 methods at every
      size from 5% to 60% (0.470 / 0.678 / 0.880 accuracy at n = 400 / 1000 / 2400,
      random 0.374 / 0.630 / 0.863); the difficulty-score methods (EL2N easiest or
      hardest, CCS, D2, difficulty-weighted facility location) lost to it everywhere
      and mostly to random.
    * Without labels: facility location on the whole pool (the same coverage, without
      the class split; level with the per-class form at the smallest sizes).

    Parameters
    ----------
    n_rows : int
        Rows of the pool.
    k : int
        Rows to keep.
    has_labels : bool
        Whether class labels are available.
    has_scores : bool, default False
        Whether difficulty scores were given.

    Returns
    -------
    str
        ``"facility_location_per_class"`` or ``"facility_location"``.
    """
    del n_rows, k, has_scores  # the measured rule does not depend on them yet
    return "facility_location_per_class" if has_labels else "facility_location"


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
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    progress : bool, default False

    Attributes
    ----------
    policy_ : str
        The method that ran (a name in :data:`coresets.selectors.registry.METHODS`).
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
        device="auto",
        progress=False,
    ):
        self.n_samples = n_samples
        self.metric = metric
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def _build(self, policy):
        from .submodular import FacilityLocationSelector

        return FacilityLocationSelector(
            self.n_samples,
            metric=self.metric,
            n_neighbors=self.n_neighbors,
            per_class=policy == "facility_location_per_class",
            random_state=self.random_state,
            device=self.device,
            progress=self.progress,
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
        k = _check_n_samples(self.n_samples, n) if sample_cost is None else n
        # labels that give every class at most one row are not classes (regression targets)
        labelled = y_arr is not None and np.unique(y_arr).size < n
        self.policy_ = auto_policy(n, k, has_labels=labelled)
        inner = self._build(self.policy_)
        inner.fit(Xv, y_arr if labelled else None, sample_cost=sample_cost)
        self.selector_ = inner
        self.n_rows_fit_ = n
        self.selection_ = inner.selection_
        self.ranking_ = inner.ranking_
        self.gains_ = inner.gains_
        self.weights_ = inner.weights_
        self.objective_ = inner.objective_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = False
        return tags
