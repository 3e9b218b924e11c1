"""The one base class every selector shares: validation, per-class splitting, transform.

A subclass implements ``_select(X, k, costs, budget, rng)`` for one group of rows
(the whole data set, or one class when ``per_class``) and returns a
:class:`~coresets.selection.Selection` with weights; everything else - checking input, splitting by class, turning
local ids into global ones, ``transform`` / ``fit_resample`` / ``get_support`` -
lives here once.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import numbers
import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import (
    check_array_2d,
    check_costs,
    check_finite,
    check_int,
    check_n_select,
    check_nonnegative,
    check_random_state,
    check_similarity,
)
from ..selection import Selection

__all__ = ["BaseSelector", "allocate_per_class", "selection_cache"]

_PER_CLASS = (False, True, "proportional", "balanced")


def allocate_per_class(
    class_sizes, k, *, mode="proportional", labels=None, shares=None
) -> np.ndarray:
    """Split a subset size ``k`` over classes.

    Parameters
    ----------
    class_sizes : array-like of int, shape (n_classes,)
        Points in each class.
    k : int
        Total points to choose, ``n_classes <= k <= sum(class_sizes)``.
    mode : {"proportional", "balanced"}
        "proportional" (CRAIG): each class gets ``k * size / n`` rounded by largest
        remainder, at least 1. "balanced": each class gets ``k // n_classes`` (the
        first ``k % n_classes`` largest classes one more); a class with fewer points
        than its share is an error.
    labels : sequence, optional
        Class labels, used in error messages.
    shares : array-like of float, shape (n_classes,), optional
        "proportional" only: split ``k`` in proportion to these non-negative shares
        instead of the class sizes (each class still gets at least 1 and at most its
        size). None: the class sizes.

    Returns
    -------
    counts : ndarray of int64, shape (n_classes,)
        Points to choose per class, summing to ``k``.
    """
    sizes = np.asarray(class_sizes, dtype=np.int64)
    n_classes = sizes.size
    labels = list(range(n_classes)) if labels is None else list(labels)
    if k < n_classes:
        raise ValueError(
            f"k: per-class selection needs at least one point per class, but "
            f"{k} points were asked for {n_classes} classes"
        )
    if mode == "balanced":
        counts = np.full(n_classes, k // n_classes, dtype=np.int64)
        # Extra points go to the largest classes (stable: ties to the earlier label).
        counts[np.argsort(-sizes, kind="stable")[: k % n_classes]] += 1
        short = np.flatnonzero(counts > sizes)
        if short.size:
            c = short[0]
            label = labels[c].item() if hasattr(labels[c], "item") else labels[c]
            raise ValueError(
                f"y: class {label!r} has {sizes[c]} points, fewer than its balanced share "
                f"of {counts[c]}; lower k or use per_class='proportional'"
            )
        return counts
    if shares is None:
        quota = k * sizes / sizes.sum()
    else:
        shares = np.asarray(shares, dtype=np.float64)
        if shares.shape != sizes.shape:
            raise ValueError(
                f"shares must hold one share per class ({n_classes}), got {shares.shape}"
            )
        if not np.all(np.isfinite(shares)) or np.any(shares < 0) or shares.sum() <= 0:
            raise ValueError(f"shares must be finite, non-negative and not all zero, got {shares}")
        quota = k * shares / shares.sum()
    counts = np.clip(np.floor(quota).astype(np.int64), 1, sizes)
    # Largest-remainder rounding, adjusting one point at a time (at most n_classes steps).
    while counts.sum() < k:
        room = np.where(counts < sizes, quota - counts, -np.inf)
        counts[int(np.argmax(room))] += 1
    while counts.sum() > k:
        spare = np.where(counts > 1, quota - counts, np.inf)
        counts[int(np.argmin(spare))] -= 1
    return counts


class SelectionCache:
    """Work that selectors fitted inside one :func:`selection_cache` block share.

    Entries are keyed by what decides them (a fingerprint of the rows, the parameters
    that matter) and by the random generator: a computation that drew nothing from the
    generator is stored for every seed; one that drew is stored under the generator's
    state before it ran, with the state it left, and a hit puts the generator in that
    state, so every later draw is the one an uncached fit makes.

    Attributes
    ----------
    hits, misses : dict
        Counts by entry kind (the first element of a key, e.g. ``"similarity"``).
    """

    def __init__(self):
        self._entries = {}
        self._fingerprints = None
        self.hits = {}
        self.misses = {}

    def __len__(self):
        return len(self._entries)

    def fingerprint(self, X) -> str:
        """A digest of an array or sparse matrix: dtype, shape and every value."""
        if self._fingerprints is not None and self._fingerprints[0] is X:
            return self._fingerprints[1]
        h = hashlib.sha1()
        parts = (X.data, X.indices, X.indptr) if sp.issparse(X) else (X,)
        h.update(repr((type(X).__name__, X.shape, [p.dtype.str for p in parts])).encode())
        for p in parts:
            h.update(memoryview(np.ascontiguousarray(p)).cast("B"))
        return h.hexdigest()

    @contextlib.contextmanager
    def rows(self, X):
        """Within the block, ``fingerprint(X)`` of this very object is hashed only once."""
        outer = self._fingerprints
        self._fingerprints = (X, self.fingerprint(X))
        try:
            yield self._fingerprints[1]
        finally:
            self._fingerprints = outer

    def lookup(self, key, rng):
        """``(value, state after)`` stored for ``key`` and ``rng``'s state, or None.

        ``state after`` is None for an entry that drew nothing (the generator is left
        alone), else the generator state to set (:meth:`replay`) when the entry is used.
        """
        free = self._entries.get((key, None))
        if free is not None:
            return free, None
        seeded = self._entries.get((key, _freeze(rng.bit_generator.state)))
        return seeded

    def store(self, key, state_before, rng, value):
        """Store ``value``, computed from ``rng`` in ``state_before`` (a
        ``bit_generator.state``), for ``key``; returns it."""
        after = rng.bit_generator.state
        if _freeze(after) == _freeze(state_before):
            # drew nothing, so the value is the same for every seed
            self._entries[(key, None)] = value
        else:
            self._entries[(key, _freeze(state_before))] = (value, after)
        return value

    @staticmethod
    def replay(rng, state_after):
        """Leave ``rng`` as the computation of a stored entry left it."""
        if state_after is not None:
            rng.bit_generator.state = state_after

    def count(self, key, hit):
        counts = self.hits if hit else self.misses
        counts[key[0]] = counts.get(key[0], 0) + 1

    def cached(self, key, rng, compute):
        """``compute()`` for ``key``, computed once per seed that it draws from."""
        found = self.lookup(key, rng)
        self.count(key, found is not None)
        if found is not None:
            self.replay(rng, found[1])
            return found[0]
        before = rng.bit_generator.state
        return self.store(key, before, rng, compute())

    def clear(self):
        self._entries.clear()


def _freeze(obj):
    """A hashable copy of a generator state (nested dicts, ints, arrays)."""
    if isinstance(obj, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in obj.items()))
    if isinstance(obj, np.ndarray):
        return (obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, (list, tuple)):
        return tuple(_freeze(v) for v in obj)
    return obj


_CACHE = contextvars.ContextVar("coresets_selection_cache", default=None)


def active_cache():
    """The :class:`SelectionCache` of the enclosing :func:`selection_cache` block, or None."""
    return _CACHE.get()


@contextlib.contextmanager
def selection_cache():
    """Share the expensive part of selection between fits inside the block.

    Built for runs that fit the same selector many times on the same rows, at several
    subset sizes and seeds (:func:`coresets.scaling.scaling_curve`). Inside the block:

    * graph selectors (facility location, graph cut, saturated coverage) build each
      similarity (dense matrix or kNN graph) once per rows and graph parameters; a
      graph whose build draws from ``random_state`` (an IVF index) is built once per
      seed, any other once for every seed;
    * a submodular selector with a deterministic greedy (``"lazy"``, ``"naive"``,
      ``"approximate-lazy"``) runs it once per rows and parameters: a run to ``k``
      rows is the first ``k`` rows of a run to more (each step's choice never looks
      at ``k``), so a fit to a smaller size takes the prefix of the longest run so
      far and computes its weights and objective for that prefix. With ``per_class``
      this holds class by class (the class shares change with the size, each class's
      run is still a prefix). Fit the largest size first to run the greedy once.
      Stochastic greedy (its sample size depends on ``k``), knapsack budgets and
      other optimisers run per fit; the similarity is still shared.

    Every fit returns exactly what it returns outside the block (indices, gains,
    weights, objective, and the state of a generator passed as ``random_state``),
    provided the module settings that pick a similarity's form
    (``coresets._validation.DEFAULT_MEMORY_BUDGET``, ``coresets.knn.AUTO_EXACT_MAX``)
    do not change inside the block: entries are keyed by parameters, not by those.
    Entries are kept until the block ends, so memory holds every similarity built
    in it (a dense one is ``n * n * 4`` bytes). Blocks nest: an inner block shares
    the outer block's cache.

    Yields
    ------
    SelectionCache
    """
    cache = _CACHE.get()
    if cache is not None:
        yield cache
        return
    cache = SelectionCache()
    token = _CACHE.set(cache)
    try:
        yield cache
    finally:
        _CACHE.reset(token)
        cache.clear()


class BaseSelector(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base class of the selectors: ``fit`` chooses rows, ``transform`` returns them.

    Subclasses define ``__init__`` (storing parameters only) and ``_select``.
    Fitted attributes: ``selection_`` (the :class:`~coresets.selection.Selection`),
    ``ranking_``, ``gains_``, ``weights_``, ``objective_`` (its fields), ``n_features_in_``
    (and ``feature_names_in_`` for DataFrames), ``n_rows_fit_``. A selector keeps every
    column, so ``get_feature_names_out`` returns the input's names and
    ``set_output(transform="pandas")`` works (a DataFrame keeps the chosen rows' index).
    """

    #: whether ``metric="precomputed"`` (a similarity matrix as X) is accepted.
    _supports_precomputed = False
    #: whether ``sample_cost`` (a knapsack constraint) is supported.
    _supports_cost = False
    #: how per-class objectives combine: "sum" (decomposable objectives) or "max" (radii).
    _combine = "sum"

    def _result_identity(self) -> dict:
        """What besides ``get_params()`` decides the result (e.g. a policy's constants).

        Scaling runs put it in the identity of their cells, so a resumed run recomputes
        cells whose selector would now choose differently.
        """
        return {}

    # ------------------------------------------------------------------ checks
    def _metric(self):
        return getattr(self, "metric", "euclidean")

    def _check_X(self, X, reset):
        """Validate X (and record or check ``n_features_in_``); return a float array or a
        precomputed (n, n) similarity (CSR or dense).

        scikit-learn's ``validate_data`` does the conversion so messages, object and
        DataFrame input behave as users of other estimators expect. A Hugging Face
        ``datasets.Dataset`` (or one of its columns) is replaced by its embedding column
        first (:func:`coresets.integrations.hf_datasets.embedding_column` picks it).
        """
        X = _hf_dataset_embeddings(X)
        if self._metric() == "precomputed":
            S = _validate_X(
                self, X, reset=reset, accept_sparse="csr", dtype=(np.float64, np.float32)
            )
            return _check_precomputed(S)
        if sp.issparse(X):
            hint = (
                " or pass a similarity matrix with metric='precomputed'"
                if self._supports_precomputed
                else ""
            )
            raise TypeError(
                f"X is a sparse matrix; {type(self).__name__} needs dense features "
                f"(convert with X.toarray(){hint})"
            )
        if hasattr(X, "detach") and hasattr(X, "cpu"):  # torch tensor
            X = X.detach().cpu().numpy()
        Xv = _validate_X(self, X, reset=reset, dtype=(np.float64, np.float32))
        return check_array_2d(Xv, "X")

    def _check_params(self):
        per_class = self.per_class
        if isinstance(per_class, np.bool_):
            per_class = bool(per_class)
        if not any(per_class is p or (isinstance(p, str) and per_class == p) for p in _PER_CLASS):
            raise ValueError(
                f"per_class must be False, True, 'proportional' or 'balanced', got {per_class!r}"
            )
        mode = (
            None
            if per_class is False
            else ("balanced" if per_class == "balanced" else "proportional")
        )
        if self._metric() == "precomputed" and not self._supports_precomputed:
            raise ValueError(f"metric='precomputed' is not supported by {type(self).__name__}")
        return mode

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_cost=None):
        """Choose rows of ``X``.

        Parameters
        ----------
        X : array-like, shape (n, d); or (n, n) similarity (dense or sparse) when
            ``metric="precomputed"``, row ``j`` = ``j``'s similarities to the points.
        y : array-like, shape (n,), optional
            Labels; needed for ``per_class``, otherwise only checked for length.
        sample_cost : array-like, shape (n,), optional
            Positive cost of each row (selectors with a knapsack constraint only). With
            costs, ``n_samples`` is the budget: an int is a total cost, a float in
            (0, 1] a fraction of the summed cost.

        Returns
        -------
        self
        """
        mode = self._check_params()
        Xv = self._check_X(X, reset=True)
        n = Xv.shape[0]
        self.n_rows_fit_ = n
        y_arr = _check_y(y, n)
        if mode is not None and y_arr is None:
            raise ValueError(f"y is required when per_class={self.per_class!r}")
        costs = None
        if sample_cost is not None:
            costs = check_costs(sample_cost, n, "sample_cost")
            if not self._supports_cost:
                raise ValueError(f"sample_cost is not supported by {type(self).__name__}")
        rng = check_random_state(getattr(self, "random_state", None))

        if mode is None:
            groups, labels = [np.arange(n)], [None]
        else:
            labels, inverse = np.unique(y_arr, return_inverse=True)
            groups = [np.flatnonzero(inverse == c) for c in range(labels.size)]
        sizes = np.array([g.size for g in groups])

        if costs is None:
            k = _check_n_samples(self.n_samples, n)
            counts = [k] if mode is None else allocate_per_class(sizes, k, mode=mode, labels=labels)
            budgets = [None] * len(groups)
        else:
            budget = _check_budget(self.n_samples, costs)
            # Each class gets the share of the budget its rows cost (CRAIG's proportional
            # split, by cost instead of by count).
            budgets = [budget * costs[g].sum() / costs.sum() for g in groups]
            counts = [None] * len(groups)

        parts = []
        for g, k_g, b_g in zip(groups, counts, budgets, strict=True):
            Xg = Xv if len(groups) == 1 else _take(Xv, g, self._metric() == "precomputed")
            parts.append(self._select(Xg, k_g, None if costs is None else costs[g], b_g, rng))
        objectives = [p.objective for p in parts]
        return self._store(
            Selection(
                np.concatenate([g[p.indices] for g, p in zip(groups, parts, strict=True)]),
                np.concatenate([p.gains for p in parts]),
                max(objectives) if self._combine == "max" else sum(objectives),
                weights=np.concatenate([p.weights for p in parts]),
            )
        )

    def _store(self, selection):
        """Set ``selection_`` and its fields as fitted attributes; return self."""
        self.selection_ = selection
        self.ranking_ = selection.indices
        self.gains_ = selection.gains
        self.weights_ = selection.weights
        self.objective_ = selection.objective
        return self

    def _select(self, X, k, costs, budget, rng) -> Selection:  # pragma: no cover - abstract
        """One group's selection (local ids) with its coreset weights."""
        raise NotImplementedError

    # ------------------------------------------------------------------ outputs
    def _check_same_rows(self, X, method):
        check_is_fitted(self, "ranking_")
        Xv = self._check_X(X, reset=False)
        if Xv.shape[0] != self.n_rows_fit_:
            raise ValueError(
                f"X has {Xv.shape[0]} rows but {type(self).__name__} was fitted on "
                f"{self.n_rows_fit_}; {method} returns the chosen rows of the data it was "
                "fitted on (index other data with ranking_)"
            )
        return Xv

    def transform(self, X):
        """Return the chosen rows of ``X`` (the data ``fit`` saw), in selection order.

        Parameters
        ----------
        X : array-like, shape (n, d), the same rows as in ``fit``.

        Returns
        -------
        X_selected : same type as ``X``, shape (len(ranking_), d)
        """
        return _rows(X, self._check_same_rows(X, "transform"), self.ranking_)

    def fit_transform(self, X, y=None, sample_cost=None):
        """``fit(X, y, sample_cost)`` then ``transform(X)``; returns the chosen rows."""
        return self.fit(X, y, sample_cost=sample_cost).transform(X)

    def fit_resample(self, X, y, sample_cost=None):
        """Fit, then return ``(X_selected, y_selected)`` (imbalanced-learn sampler API).

        Parameters
        ----------
        X : array-like, shape (n, d)
        y : array-like, shape (n,)
        sample_cost : array-like, shape (n,), optional

        Returns
        -------
        X_selected : shape (len(ranking_), d)
        y_selected : shape (len(ranking_),)
        """
        if y is None:
            raise ValueError("y is required by fit_resample")
        self.fit(X, y, sample_cost=sample_cost)
        return _rows(X, None, self.ranking_), _rows(y, None, self.ranking_)

    def get_support(self, indices=False):
        """Mask or sorted indices of the chosen rows.

        Parameters
        ----------
        indices : bool
            False: a boolean mask of shape (n,); True: the chosen row ids, sorted
            (``ranking_`` holds them in selection order).
        """
        check_is_fitted(self, "ranking_")
        mask = np.zeros(self.n_rows_fit_, dtype=bool)
        mask[self.ranking_] = True
        return np.flatnonzero(mask) if indices else mask

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        precomputed = self._metric() == "precomputed"
        tags.input_tags.pairwise = precomputed
        tags.input_tags.sparse = precomputed
        tags.input_tags.positive_only = precomputed
        # transform returns rows of X unchanged, so every float dtype is preserved.
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def fit_on_rows(selector, X, Xv, y, costs, rows, rng):
    """Fit a clone of ``selector`` on the rows ``rows`` of ``X``; its choice in ids of ``X``.

    The one way a pre-pass (deduplication, hard pruning) hands what it kept to a
    selector: the clone gets ``random_state`` from ``rng`` when it takes one and has
    none, sees the kept rows' labels and costs only, and its ``ranking_`` is mapped back.

    Parameters
    ----------
    selector : selector of :mod:`coresets.selectors`
    X, Xv : the caller's data and its validated array, shape (n, d)
    y : ndarray of shape (n,) or None
    costs : ndarray of shape (n,) or None
    rows : ndarray of int64, shape (m,)
        Rows of ``X`` the selector chooses among.
    rng : numpy Generator

    Returns
    -------
    inner : the fitted clone
    selection : Selection
        Its choice as ids of ``X``, with its gains, objective and weights (the weights
        count the ``m`` rows it saw).
    """
    inner = clone(selector)
    if "random_state" in inner.get_params() and inner.random_state is None:
        inner.set_params(random_state=int(rng.integers(2**31 - 1)))
    inner.fit(
        _rows(X, Xv, rows),
        None if y is None else y[rows],
        **({} if costs is None else {"sample_cost": costs[rows]}),
    )
    return inner, Selection(
        rows[np.asarray(inner.ranking_, dtype=np.int64)],
        inner.gains_,
        inner.objective_,
        weights=inner.weights_,
    )


def check_selector(selector, name="selector"):
    """``selector`` when it is a selector of :mod:`coresets.selectors`, else a TypeError."""
    if not (hasattr(selector, "fit") and hasattr(selector, "get_params")):
        raise TypeError(
            f"{name} must be a selector of coresets.selectors, got {type(selector).__name__}"
        )
    return selector


def _validate_X(estimator, X, **kwargs):
    """scikit-learn's ``validate_data`` on ``X``, its messages prefixed with ``X:`` where
    they do not name it ("Expected 2D array, got 1D array instead" names nothing)."""
    try:
        return validate_data(estimator, X, **kwargs)
    except (ValueError, TypeError) as exc:
        if re.search(r"\bX\b", str(exc)):
            raise
        raise type(exc)(f"X: {exc}") from exc


def _hf_dataset_embeddings(X):
    """X's embedding column as a float32 array when X is a ``datasets`` object, else X.

    The check reads only the type's module name, so ``datasets`` is never imported here.
    """
    if not type(X).__module__.startswith("datasets"):
        return X
    from ..integrations.hf_datasets import is_hf_dataset, selector_input

    return selector_input(X, "X") if is_hf_dataset(X) else X


def _rows(X, Xv, rows):
    """Chosen rows in the caller's container (ndarray, DataFrame, sparse, list) when it
    can be indexed, else of the validated array ``Xv`` (or ``np.asarray(X)``)."""
    if isinstance(X, (np.ndarray, list)) or sp.issparse(X) or hasattr(X, "iloc"):
        return _safe_indexing(X, rows)
    return (np.asarray(X) if Xv is None else Xv)[rows]


def _check_y(y, n):
    if y is None:
        return None
    if type(y).__name__ == "Column" and type(y).__module__.startswith("datasets"):
        from ..integrations.hf_datasets import label_values

        y = label_values(y, "y")
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr.ravel()
    if y_arr.ndim != 1:
        raise ValueError(f"y must be 1-D (n_rows,), got shape {y_arr.shape}")
    if y_arr.shape[0] != n:
        raise ValueError(f"y must have one label per row of X ({n}), got {y_arr.shape[0]}")
    if y_arr.dtype.kind == "f":
        check_finite(y_arr, "y")
    return y_arr


def _check_n_samples(n_samples, n):
    """The subset size for ``n`` rows; an int above ``n`` is refused in scikit-learn's words."""
    if (
        isinstance(n_samples, numbers.Integral)
        and not isinstance(n_samples, bool)
        and n_samples > n
    ):
        # scikit-learn recognises a too-small X by "1 sample" / "n samples" in the message
        raise ValueError(
            f"n_samples={int(n_samples)} asks for more rows than X has "
            f"({n} sample{'' if n == 1 else 's'})"
        )
    return check_n_select(n_samples, n, "n_samples")


def _check_budget(n_samples, costs):
    total = float(costs.sum())
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool):
        return float(check_int(n_samples, "n_samples", low=1))
    if isinstance(n_samples, numbers.Real) and not isinstance(n_samples, bool):
        if not np.isfinite(n_samples) or not 0.0 < n_samples <= 1.0:
            raise ValueError(
                "n_samples with sample_cost is the budget: an int total cost or a fraction "
                f"in (0, 1] of the summed cost, got {n_samples}"
            )
        return float(n_samples) * total
    raise TypeError(f"n_samples must be an int or a float, got {type(n_samples).__name__}")


#: Worded so scikit-learn's positive-only estimator checks recognise it.
_NEGATIVE_X = (
    "Negative values in data passed to {name}: it must be non-negative (min is {min:.4g}); "
    "shift or clip it first"
)


def _check_precomputed(X):
    """A square, finite, non-negative similarity matrix (CSR or dense ndarray)."""
    return check_similarity(X, name="X", square=True, negative_message=_NEGATIVE_X)[1]


def _check_nonnegative_X(X):
    check_nonnegative(X, "X", message=_NEGATIVE_X)


def _take(X, rows, precomputed):
    """Rows of a feature matrix, or the rows-and-columns block of a similarity matrix."""
    if not precomputed:
        return X[rows]
    if sp.issparse(X):
        return X[rows][:, rows]
    return X[np.ix_(rows, rows)]
