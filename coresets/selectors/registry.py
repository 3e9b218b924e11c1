"""Selection methods by name: what ``coresets select --method`` and scaling runs accept.

A name maps to a factory of an unfitted selector; :func:`make_selector` gives it the
subset size and seed of one run. Hyphens and underscores are interchangeable in names.
This lives beside the selectors, not in the scaling harness, so that choosing a coreset
never imports the experiment code.
"""

from __future__ import annotations

__all__ = ["METHODS", "make_selector", "method_key", "register_method"]


def _selectors():
    # Imported lazily: the registry must not pull in FAISS and the optimisers until used.
    from .. import selectors

    return selectors


#: name -> factory() returning an unfitted selector; n_samples and random_state are set
#: per run.
# n_neighbors="auto": the exact dense similarity while it fits the memory budget, a FAISS
# kNN graph for pools too large for an N x N matrix
METHODS = {
    "random": lambda: _selectors().RandomSelector(),
    "facility_location": lambda: _selectors().FacilityLocationSelector(
        metric="euclidean", n_neighbors="auto"
    ),
    "facility_location_per_class": lambda: _selectors().FacilityLocationSelector(
        metric="euclidean", n_neighbors="auto", per_class=True
    ),
    "k_center": lambda: _selectors().KCenterGreedySelector(metric="euclidean"),
    "k_center_per_class": lambda: _selectors().KCenterGreedySelector(
        metric="euclidean", per_class=True
    ),
    "herding": lambda: _selectors().HerdingSelector(),
    "graph_cut": lambda: _selectors().GraphCutSelector(metric="euclidean", n_neighbors="auto"),
    "saturated_coverage": lambda: _selectors().SaturatedCoverageSelector(
        metric="euclidean", n_neighbors="auto"
    ),
    "feature_based": lambda: _selectors().FeatureBasedSelector(),
    # difficulty-score methods; with no scores given they use label-free prototype scores
    "ccs": lambda: _selectors().CCSSelector(),
    "d2": lambda: _selectors().D2Selector(),
    "moderate": lambda: _selectors().ModerateSelector(),
    "prototype": lambda: _selectors().PrototypeSelector(),
    # the measured policy (coresets.selectors.auto.auto_policy): which method where
    "auto": lambda: _selectors().AutoSelector(metric="euclidean", n_neighbors="auto"),
}


def method_key(name: str) -> str:
    """The registry key of a method name (``"k-center"`` -> ``"k_center"``)."""
    return name.strip().lower().replace("-", "_")


def register_method(name: str, factory) -> None:
    """Make ``name`` usable as a method: ``factory()`` returns an unfitted selector."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError("factory must be callable: factory() -> selector")
    METHODS[method_key(name)] = factory


def make_selector(method, n_samples, *, random_state=None, progress=False):
    """An unfitted selector for ``method`` (name or selector) with the given size and seed.

    Parameters
    ----------
    method : str or selector
        A name in :data:`METHODS`, or a selector (cloned).
    n_samples : int or float
        Rows to choose (an int, or a fraction in (0, 1]).
    random_state : None or int
        Set on selectors that draw (those with a ``random_state`` parameter; herding,
        for one, is deterministic and has none).
    progress : bool, default False
        Set on selectors that can show a bar (those with a ``progress`` parameter).

    Returns
    -------
    selector
    """
    if isinstance(method, str):
        key = method_key(method)
        if key not in METHODS:
            raise ValueError(f"method {method!r} is unknown; known: {', '.join(sorted(METHODS))}")
        sel = METHODS[key]()
    else:
        from sklearn.base import clone

        sel = clone(method)
    # Not every selector draws or shows a bar, and a user's selector may have neither.
    params = sel.get_params()
    update = {"n_samples": n_samples, "random_state": random_state, "progress": progress}
    sel.set_params(**{k: v for k, v in update.items() if k == "n_samples" or k in params})
    return sel
