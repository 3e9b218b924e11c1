"""Selectors that greedily maximise a submodular function of the chosen rows.

Each one builds a similarity (dense, or a FAISS kNN graph, or the matrix passed
with ``metric="precomputed"``), wraps it in a :mod:`coresets.submodular`
function and runs :func:`coresets.submodular.maximize`. ``weights_`` are CRAIG
weights from that similarity (:func:`coresets.weights.coreset_weights`).

Inside :func:`coresets.selectors.selection_cache` the similarity is built once
per rows and graph parameters, and a deterministic greedy runs once per rows and
parameters, smaller sizes taking its prefix (see there for when that holds).
"""

from __future__ import annotations

import numpy as np

from .. import _validation
from .._device import cuda_available
from .._metrics import ALIASES, METRICS, check_metric
from .._validation import check_int
from ..selection import Selection
from ..submodular import (
    ApproximateLazyGreedy,
    FacilityLocation,
    FeatureBased,
    GraphCut,
    ImplicitSimilarity,
    LazyGreedy,
    Mixture,
    NaiveGreedy,
    SaturatedCoverage,
    as_optimizer,
    maximize,
    similarity,
)
from ..weights import coreset_weights, nearest_center_weights
from ._base import BaseSelector, _check_nonnegative_X, active_cache

__all__ = [
    "FacilityLocationSelector",
    "GraphCutSelector",
    "SaturatedCoverageSelector",
    "FeatureBasedSelector",
    "MixtureSelector",
]

_GRAPH_METRICS = METRICS + ("precomputed",)

#: Neighbours per point of the kNN graph that ``n_neighbors="auto"`` falls back to.
AUTO_N_NEIGHBORS = 32

_COMMON_PARAMS = """
    n_samples : int or float, default 0.1
        Rows to choose: an int in ``[1, n]`` or a fraction in ``(0, 1]`` of ``n``. With
        ``sample_cost`` in ``fit`` it is the budget instead (an int total cost, or a
        fraction of the summed cost).
    metric : {"euclidean", "cosine", "dot", "precomputed"}, default "euclidean"
        How rows become similarities. "euclidean": ``max(D^2) - D^2`` dense (apricot's
        conversion, same ranking), or the kNN graph's ``exp(-d^2 / sigma^2)``;
        "cosine": ``max(cos, 0)``; "dot": ``max(<x, y>, 0)``; "precomputed": ``X`` is
        an (n, n) non-negative similarity, dense or sparse, row ``j`` = ``j``'s
        similarities to the points it covers.
    n_neighbors : None, int or "auto", default None
        None: exact dense (n, n) similarity. An int: a FAISS kNN graph with that many
        neighbours per point (:func:`coresets.knn.knn_graph`; dense when it is ``>= n``).
        "auto": dense when it fits ``coresets._validation.DEFAULT_MEMORY_BUDGET``, else a
        kNN graph with ``AUTO_N_NEIGHBORS`` neighbours. Ignored for "precomputed". Dense
        means a float32 matrix (``n * n * 4`` bytes); facility location on the CPU switches to
        :class:`~coresets.submodular.similarity.ImplicitSimilarity` (``n * n * 2``
        bytes, the same exact selection) when the matrix would not fit the budget.
    optimizer : {"lazy", "naive", "stochastic", "approximate-lazy"} or optimizer, default "lazy"
        Greedy variant: a name (built with its defaults, ``"stochastic"`` seeded by
        ``random_state``; see :func:`coresets.submodular.as_optimizer`) or an object such
        as ``StochasticGreedy(epsilon=0.1, random_state=0)`` carrying its own knobs.
    per_class : {False, True, "proportional", "balanced"}, default False
        With ``y``, select within each class: True/"proportional" gives each class a
        share proportional to its size (as CRAIG), "balanced" equal shares.
        ``ranking_`` then lists the classes one after another (sorted labels).
    random_state : None, int or numpy Generator
        Seeds the kNN index and the optimiser given by name as ``"stochastic"``.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
        Where the similarity and kNN search run ("auto": CUDA when present).
    progress : bool, default False
        Show tqdm bars."""

_ATTRIBUTES = """
    Attributes
    ----------
    selection_ : Selection
        The chosen rows with their gains, objective and weights (the fields below).
    ranking_ : ndarray of int64, shape (k,)
        Chosen rows in selection order.
    gains_ : ndarray of float64, shape (k,)
        Marginal gain of each row when it was added.
    objective_ : float
        Objective of the chosen set (summed over classes with ``per_class``).
    weights_ : ndarray of float64, shape (k,)
        CRAIG weights: how many rows each chosen row is the most similar chosen row for
        (within its class with ``per_class``); they sum to ``n``. With a sparse
        similarity a row that no chosen row covers goes to the nearest chosen row in
        embedding space; with a sparse precomputed matrix there are no embeddings, so
        such rows are left out and the weights sum to the covered count.
    n_features_in_ : int
    n_rows_fit_ : int
        Rows seen in ``fit``.
    graph_searches_ : list of coresets.knn.GraphSearch
        Similarity-graph selectors: one entry per kNN graph the fit built (one per
        class with ``per_class``), with the index used and the graph's recall on
        sampled rows; empty when the similarity was exact (dense, or precomputed).
"""


def _params_key(selector) -> str:
    """The parameters that decide a selector's function and greedy run, as text.

    Leaves out the size, the seed (the cache keys on the generator instead), the bar and
    ``per_class`` (a class's rows are what the run sees). Objects without
    ``get_params`` (optimisers) are described by their type and attributes, since
    their default repr names a memory address.
    """
    params = selector.get_params(deep=False)
    skip = ("n_samples", "random_state", "progress", "per_class")
    kept = sorted((k, _value_key(v)) for k, v in params.items() if k not in skip)
    identity = getattr(selector, "_result_identity", dict)()
    return repr((kept, sorted(identity.items())))


def _value_key(value):
    if hasattr(value, "get_params"):
        return (type(value).__name__, _params_key(value))
    if isinstance(value, (list, tuple)):
        return tuple(_value_key(v) for v in value)
    if hasattr(value, "run") and hasattr(value, "__dict__"):  # an optimiser object
        return (type(value).__name__, repr(sorted(vars(value).items())))
    return repr(value)


def _doc(cls):
    cls.__doc__ = cls.__doc__.replace("    {common}", _COMMON_PARAMS.strip("\n")).replace(
        "    {attributes}", _ATTRIBUTES.strip("\n")
    )
    return cls


class _SubmodularSelector(BaseSelector):
    """Shared fitting of the submodular selectors: build, maximise, weigh."""

    _supports_cost = True

    def _build(self, X, rng):
        """Return ``(function, similarity or None)`` for the rows (or matrix) ``X``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _select(self, X, k, costs, budget, rng):
        cache = active_cache()
        if cache is None:
            return self._run(X, k, costs, budget, rng)
        with cache.rows(X) as rows:
            if costs is not None or not self._nested():
                return self._run(X, k, costs, budget, rng)
            key = ("greedy", type(self).__name__, _params_key(self), rows)
            found = cache.lookup(key, rng)
            if found is not None and found[0].indices.shape[0] >= k:
                cache.count(key, True)
                return self._prefix(X, k, found, rng)
            cache.count(key, False)
            before = rng.bit_generator.state
            sel = self._run(X, k, costs, budget, rng)
            # a longer run replaces a shorter one: its prefixes serve every smaller size
            return cache.store(key, before, rng, sel)

    def _run(self, X, k, costs, budget, rng):
        """Build the function, maximise it, weigh the chosen rows."""
        function, S = self._build(X, rng)
        optimizer = as_optimizer(self.optimizer, random_state=rng)
        sel = maximize(function, k, optimizer, costs=costs, budget=budget, progress=self.progress)
        return sel.with_weights(self._weights(X, S, sel.indices))

    def _nested(self):
        """Whether a greedy run to ``k`` rows is the first ``k`` rows of a run to more.

        True for the deterministic optimisers, whose every step takes the best gain
        for the set so far without looking at ``k``; not for stochastic greedy (its
        sample size is ``n / k * log(1 / epsilon)``) or a user's optimiser.
        """
        opt = as_optimizer(self.optimizer) if isinstance(self.optimizer, str) else self.optimizer
        return type(opt) in (LazyGreedy, NaiveGreedy, ApproximateLazyGreedy)

    def _prefix(self, X, k, found, rng):
        """The selection of a run to ``k`` rows from a stored longer run ``found``."""
        run, after = found
        # the function again (its similarity is a cache hit), for the prefix's
        # objective and weights; the generator ends where the stored run left it
        function, S = self._build(X, rng)
        active_cache().replay(rng, after)
        idx = run.indices[:k]
        state = function.init_state()
        for j in idx.tolist():
            function.add(state, j)
        sel = Selection(idx, run.gains[:k], function.value(state))
        return sel.with_weights(self._weights(X, S, idx))

    def _weight_metric(self):
        """Embedding metric for weights without a similarity, or for uncovered rows."""
        metric = getattr(self, "metric", "euclidean")
        metric = ALIASES.get(metric, metric) if isinstance(metric, str) else metric
        return metric if metric in METRICS else "euclidean"

    def _weights(self, X, S, idx):
        if idx.size == 0:  # a budget too small for any row
            return np.zeros(0)
        if S is None:
            return nearest_center_weights(X, X[idx], metric=self._weight_metric())
        features = None if self._metric() == "precomputed" else X
        return coreset_weights(S, idx, X=features, metric=self._weight_metric())


class _GraphSelector(_SubmodularSelector):
    """A submodular selector over a similarity matrix; the parameters all of them share."""

    _supports_precomputed = True
    #: whether the function can run on a torch tensor on ``device``.
    _torch_ok = False
    #: whether the function accepts an ImplicitSimilarity (facility location only).
    _implicit_ok = False

    def __init__(
        self,
        n_samples=0.1,
        *,
        metric="euclidean",
        n_neighbors=None,
        optimizer="lazy",
        per_class=False,
        random_state=None,
        device="auto",
        progress=False,
    ):
        self.n_samples = n_samples
        self.metric = metric
        self.n_neighbors = n_neighbors
        self.optimizer = optimizer
        self.per_class = per_class
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def fit(self, X, y=None, sample_cost=None):
        # graph_searches_: one GraphSearch per kNN graph this fit builds (per class too)
        self.graph_searches_ = []
        return super().fit(X, y, sample_cost)

    fit.__doc__ = BaseSelector.fit.__doc__

    def _similarity(self, X, rng):
        metric = check_metric(self.metric, allowed=_GRAPH_METRICS)
        if metric == "precomputed":
            return X
        n = X.shape[0]
        nn = self.n_neighbors
        device = self.device if self._torch_ok else "cpu"
        # the compact exact form is CPU only and facility location only
        compact = self._implicit_ok and (
            device == "cpu" or (device == "auto" and not cuda_available())
        )
        # read through the module so one monkeypatch of the budget reaches every check
        budget = _validation.DEFAULT_MEMORY_BUDGET
        fits = n * n * (2 if compact else 4) <= budget
        if nn is None:
            dense = True
        elif isinstance(nn, str):
            if nn != "auto":
                raise ValueError(f"n_neighbors must be None, an int or 'auto', got {nn!r}")
            dense = fits
            nn = AUTO_N_NEIGHBORS
        else:
            nn = check_int(nn, "n_neighbors", low=1)
            dense = False
        # A graph with n or more neighbours per point is the complete one: exact dense.
        if dense or nn >= n:
            if compact and fits and n * n * 4 > budget:
                plan = ("implicit", metric)

                def build():
                    return ImplicitSimilarity(X, metric, progress=self.progress)
            else:
                plan = ("dense", metric, str(device))

                def build():
                    return similarity(X, metric, device=device)
        else:
            from ..knn import knn_graph

            plan = ("knn", metric, nn, str(self.device))

            def build():
                return knn_graph(
                    X,
                    n_neighbors=nn,
                    metric=metric,
                    device=self.device,
                    random_state=rng,
                    progress=self.progress,
                    return_search=True,
                )

        cache = active_cache()
        if cache is None:
            built = build()
        else:
            built = cache.cached(("similarity", *plan, cache.fingerprint(X)), rng, build)
        if plan[0] != "knn":
            return built
        graph, search = built
        self.graph_searches_.append(search)
        return graph


@_doc
class FacilityLocationSelector(_GraphSelector):
    """Facility location: choose rows so every row has a very similar chosen row.

    ``f(S) = sum_i max_{j in S} s[j, i]``; for ``metric="euclidean"`` with dense
    similarity the ranking equals apricot's ``FacilityLocationSelection``.

    Parameters
    ----------
    {common}

    {attributes}
    """

    _torch_ok = True
    _implicit_ok = True

    def _build(self, X, rng):
        S = self._similarity(X, rng)
        device = self.device if self._metric() == "precomputed" else None
        return FacilityLocation(S, device=device), S


@_doc
class GraphCutSelector(_GraphSelector):
    """Graph cut: reward similarity to the data, penalise similarity among the chosen.

    ``f(S) = lam * sum_{j in S} sum_v s[j, v] - sum_{j, l in S} s[j, l]`` (apricot's
    ``GraphCutSelection`` with ``alpha = lam``).

    Parameters
    ----------
    {common}
    lam : float, default 1.0
        Weight of the coverage term against the redundancy penalty (> 0).

    {attributes}
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        metric="euclidean",
        n_neighbors=None,
        optimizer="lazy",
        per_class=False,
        random_state=None,
        device="auto",
        progress=False,
        lam=1.0,
    ):
        super().__init__(
            n_samples,
            metric=metric,
            n_neighbors=n_neighbors,
            optimizer=optimizer,
            per_class=per_class,
            random_state=random_state,
            device=device,
            progress=progress,
        )
        self.lam = lam

    def _build(self, X, rng):
        S = self._similarity(X, rng)
        return GraphCut(S, lam=self.lam), S


@_doc
class SaturatedCoverageSelector(_GraphSelector):
    """Saturated coverage: cover every row, but only up to a fraction ``alpha`` of its total.

    ``f(S) = sum_v min(sum_{j in S} s[j, v], alpha * sum_u s[u, v])``.

    Parameters
    ----------
    {common}
    alpha : float, default 0.1
        Saturation fraction (> 0).

    {attributes}
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        metric="euclidean",
        n_neighbors=None,
        optimizer="lazy",
        per_class=False,
        random_state=None,
        device="auto",
        progress=False,
        alpha=0.1,
    ):
        super().__init__(
            n_samples,
            metric=metric,
            n_neighbors=n_neighbors,
            optimizer=optimizer,
            per_class=per_class,
            random_state=random_state,
            device=device,
            progress=progress,
        )
        self.alpha = alpha

    def _build(self, X, rng):
        S = self._similarity(X, rng)
        return SaturatedCoverage(S, alpha=self.alpha), S


class FeatureBasedSelector(_SubmodularSelector):
    """Feature-based: ``f(S) = sum_d phi(sum_{j in S} x[j, d])`` on non-negative features.

    Rows that add mass to features the chosen rows lack gain most (apricot's
    ``FeatureBasedSelection``). No similarity is built, so ``weights_`` are
    nearest-chosen-row counts in feature space.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose (int or fraction); the budget with ``sample_cost``.
    concave : {"sqrt", "log", "inverse"} or callable, default "sqrt"
        The concave ``phi``.
    metric : {"euclidean", "cosine"}, default "euclidean"
        Only used for ``weights_``.
    optimizer : {"lazy", "naive", "stochastic", "approximate-lazy"} or optimizer, default "lazy"
        A name or an optimiser object, as in :class:`FacilityLocationSelector`.
    per_class : {False, True, "proportional", "balanced"}, default False
    random_state : None, int or numpy Generator
        Seeds the optimiser given by name as ``"stochastic"``.
    progress : bool, default False

    Attributes
    ----------
    ranking_, gains_, objective_, weights_, n_features_in_, n_rows_fit_
        As in :class:`FacilityLocationSelector` (weights by nearest chosen row).
    """

    def __init__(
        self,
        n_samples=0.1,
        *,
        concave="sqrt",
        metric="euclidean",
        optimizer="lazy",
        per_class=False,
        random_state=None,
        progress=False,
    ):
        self.n_samples = n_samples
        self.concave = concave
        self.metric = metric
        self.optimizer = optimizer
        self.per_class = per_class
        self.random_state = random_state
        self.progress = progress

    def _check_params(self):
        check_metric(self.metric, allowed=("euclidean", "cosine"))
        return super()._check_params()

    def _build(self, X, rng):
        _check_nonnegative_X(X)
        return FeatureBased(X, concave=self.concave), None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


class MixtureSelector(_SubmodularSelector):
    """A weighted sum of submodular objectives, each given as a selector.

    ``f(S) = sum_m coefficients[m] * f_m(S)``, ``f_m`` built by ``functions[m]`` from the
    same data (apricot's ``MixtureSelection``). Only the parts' function parameters
    (metric, n_neighbors, lam, alpha, concave, device) are used; their ``n_samples``,
    ``optimizer`` and ``per_class`` are ignored in favour of this selector's.

    Parameters
    ----------
    n_samples : int or float, default 0.1
        Rows to choose (int or fraction); the budget with ``sample_cost``.
    functions : list of selectors
        Instances of FacilityLocationSelector, GraphCutSelector,
        SaturatedCoverageSelector or FeatureBasedSelector. Either all or none use
        ``metric="precomputed"``.
    coefficients : list of float, optional
        Non-negative coefficient of each part (default all ones).
    optimizer, per_class, random_state, progress
        As in :class:`FacilityLocationSelector`.

    Attributes
    ----------
    ranking_, gains_, objective_, weights_, n_features_in_, n_rows_fit_
        As in :class:`FacilityLocationSelector`; ``weights_`` come from the first part
        that has a similarity (by nearest chosen row if none has).
    """

    def __init__(
        self,
        n_samples=0.1,
        functions=None,
        coefficients=None,
        *,
        optimizer="lazy",
        per_class=False,
        random_state=None,
        progress=False,
    ):
        self.n_samples = n_samples
        self.functions = functions
        self.coefficients = coefficients
        self.optimizer = optimizer
        self.per_class = per_class
        self.random_state = random_state
        self.progress = progress

    def _parts(self):
        parts = self.functions
        if parts is None or isinstance(parts, (str, bytes)) or not len(parts):
            raise ValueError("functions must be a non-empty list of submodular selectors")
        for p in parts:
            if not isinstance(p, _SubmodularSelector) or isinstance(p, MixtureSelector):
                raise TypeError(
                    "functions must hold FacilityLocationSelector, GraphCutSelector, "
                    f"SaturatedCoverageSelector or FeatureBasedSelector objects, got "
                    f"{type(p).__name__}"
                )
        precomputed = {p._metric() == "precomputed" for p in parts}
        if len(precomputed) > 1:
            raise ValueError("functions must all use metric='precomputed', or none of them")
        return list(parts)

    def _metric(self):
        # The parts decide whether X is a similarity; _parts() checks them all at fit.
        parts = self.functions
        if isinstance(parts, (list, tuple)) and parts and isinstance(parts[0], BaseSelector):
            return "precomputed" if parts[0]._metric() == "precomputed" else "euclidean"
        return "euclidean"

    @property
    def _supports_precomputed(self):
        return self._metric() == "precomputed"

    def _check_params(self):
        self._parts()
        return super()._check_params()

    def _build(self, X, rng):
        built = [p._build(X, rng) for p in self._parts()]
        S = next((s for _, s in built if s is not None), None)
        return Mixture([f for f, _ in built], coefficients=self.coefficients), S

    def _weight_metric(self):
        # The first part with a similarity decides, else the first part.
        parts = self._parts()
        part = next((p for p in parts if isinstance(p, _GraphSelector)), parts[0])
        return part._weight_metric()
