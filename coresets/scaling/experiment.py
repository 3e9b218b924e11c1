"""Scaling-curve experiments: every method at every subset size and seed, resumable.

Each cell (method, size, seed) selects a subset of the training set, trains a fresh
model on it with the plugged-in trainer and scores it on the test set. The tidy table
of results is rewritten atomically (CSV and JSON) after every cell, so an interrupted
run picks up from the finished cells.

Cells share selection work (``reuse=True``): inside
:func:`coresets.selectors.selection_cache` a similarity graph is built once per
pool, features and graph parameters, and a deterministic greedy runs once, at the
largest size, the smaller sizes taking its prefix. Each seed runs its sizes from the
largest down so that the first run is the longest.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import numbers
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .._io import save_json, save_text
from .._validation import check_array_2d, check_int, check_n_select
from ..selectors._base import allocate_per_class, selection_cache
from ..selectors.registry import METHODS, make_selector, method_key

__all__ = ["Method", "ScalingResult", "scaling_curve"]

#: Columns of the tidy result table, in order; the scores follow the cell's key.
COLUMNS = (
    "method",
    "size",
    "seed",
    "loss",
    "accuracy",
    "selection_time",
    "training_time",
)

#: Key of a record's per-class counts of its subset: a list of ints, one per class of
#: ``config["classes"]["names"]`` (JSON only; the CSV keeps the scalar columns). Cells
#: written before the counts were recorded lack it.
CLASS_COUNTS = "class_counts"


@dataclass(frozen=True)
class Method:
    """A selection method with the options of how its subset is used.

    Parameters
    ----------
    selector : str or selector
        A name in :data:`coresets.selectors.registry.METHODS` or any scikit-learn style
        selector (an object with ``fit(X, y)`` setting ``ranking_``); it is cloned per
        cell and given ``n_samples`` and ``random_state`` through ``set_params``.
    label : str, optional
        Name in tables and plots; defaults to the registered name or the class name.
    weighted : bool, default False
        Pass the selector's ``weights_`` (CRAIG weights) to the trainer's loss.
    features : array-like, shape (n_train, d), optional
        What this method selects over, overriding ``scaling_curve``'s ``features``
        (e.g. encoder embeddings for one method, raw inputs for another).
    """

    selector: object
    label: str | None = None
    weighted: bool = False
    features: object = None

    @property
    def name(self) -> str:
        """The label used in results."""
        if self.label:
            return self.label
        if isinstance(self.selector, str):
            return method_key(self.selector)
        return type(self.selector).__name__


def _as_method(m) -> Method:
    if isinstance(m, Method):
        method = m
    elif isinstance(m, str) or hasattr(m, "fit"):
        method = Method(m)
    else:
        raise TypeError(
            f"methods entries must be names, selectors or Method objects, got {type(m).__name__}"
        )
    if isinstance(method.selector, str) and method_key(method.selector) not in METHODS:
        raise ValueError(
            f"methods: unknown method {method.selector!r}; known: {', '.join(sorted(METHODS))} "
            "(or pass a selector object)"
        )
    return method


class ScalingResult:
    """The tidy table of a scaling run.

    Parameters
    ----------
    records : list of dict
        One row per cell with the keys in ``COLUMNS``, and ``class_counts``: how many of
        the subset's examples fall in each class (absent in cells of older runs).
    config : dict, optional
        What produced the rows (data fingerprint, methods, trainer), and ``classes``:
        ``{"names": [str, ...], "pool_counts": [int, ...]}``, the class names the
        records' counts are indexed by and each class's rows in the training pool.

    Notes
    -----
    ``selection_time`` is the wall time of the cell's own ``fit``. When cells share
    work (``scaling_curve(..., reuse=True)``), the cell that first needs a similarity
    graph or a greedy run pays for it - for a deterministic greedy that is the largest
    size of the first seed run - and the cells that reuse it record only what they do
    themselves (hashing the features, taking the prefix, its weights and objective).
    The column's sum over a run is the selection time actually spent; a cell's value
    is not what that cell would cost alone (run with ``reuse=False`` for that).
    """

    def __init__(self, records, config=None):
        self.records = [dict(r) for r in records]
        self.config = dict(config or {})

    def __len__(self):
        return len(self.records)

    def __repr__(self):
        return f"ScalingResult({len(self)} cells, methods={self.methods})"

    @property
    def methods(self) -> list:
        """Method labels in first-seen order."""
        return list(dict.fromkeys(r["method"] for r in self.records))

    @property
    def sizes(self) -> list:
        """Sorted distinct subset sizes."""
        return sorted({int(r["size"]) for r in self.records})

    @property
    def class_names(self) -> list | None:
        """Names of the classes that ``class_counts`` count, or None (no class record)."""
        names = self.config.get("classes", {}).get("names")
        return None if names is None else [str(c) for c in names]

    def class_counts(self, method):
        """Return ``(sizes, counts)``: sizes (m,) and counts (m, n_seeds, n_classes).

        ``counts[i, j, c]`` is how many examples of class ``c`` (in the order of
        :attr:`class_names`) the subset of size ``sizes[i]`` and the ``j``-th seed kept;
        NaN where the cell is missing or was written without counts (an older run).

        Parameters
        ----------
        method : str
            A method label of the result.
        """
        names = self.class_names
        if names is None:
            raise ValueError("the result has no class names (config['classes']); no counts")
        rows = self._rows(method)
        sizes = sorted({int(r["size"]) for r in rows})
        seeds = sorted({int(r["seed"]) for r in rows})
        counts = np.full((len(sizes), len(seeds), len(names)), np.nan)
        for r in rows:
            c = r.get(CLASS_COUNTS)
            if c is not None and len(c) == len(names):
                counts[sizes.index(int(r["size"])), seeds.index(int(r["seed"]))] = c
        return np.array(sizes), counts

    def _rows(self, method):
        rows = [r for r in self.records if r["method"] == method]
        if not rows:
            raise ValueError(f"method {method!r} is not in the result; it has {self.methods}")
        return rows

    def curve(self, method, score="loss"):
        """Return ``(sizes, values)``: sizes (m,) and values (m, n_seeds), NaN where missing.

        Parameters
        ----------
        method : str
            A method label of the result.
        score : {"loss", "accuracy", "selection_time", "training_time"}, default "loss"
            The column to read.
        """
        if score not in COLUMNS[3:]:
            raise ValueError(f"score must be one of {COLUMNS[3:]}, got {score!r}")
        rows = self._rows(method)
        sizes = sorted({int(r["size"]) for r in rows})
        seeds = sorted({int(r["seed"]) for r in rows})
        vals = np.full((len(sizes), len(seeds)), np.nan)
        for r in rows:
            vals[sizes.index(int(r["size"])), seeds.index(int(r["seed"]))] = r[score]
        return np.array(sizes), vals

    def summary(self):
        """Per (method, size): mean and std over seeds of loss and accuracy, and seed count."""
        out = []
        for m in self.methods:
            sizes, loss = self.curve(m, "loss")
            _, acc = self.curve(m, "accuracy")
            for i, s in enumerate(sizes):
                out.append(
                    {
                        "method": m,
                        "size": int(s),
                        "n_seeds": int((~np.isnan(loss[i])).sum()),
                        "loss_mean": float(np.nanmean(loss[i])),
                        "loss_std": float(np.nanstd(loss[i])),
                        "accuracy_mean": float(np.nanmean(acc[i])),
                        "accuracy_std": float(np.nanstd(acc[i])),
                    }
                )
        return out

    def to_csv(self, path=None) -> str:
        """The table as CSV text; written atomically to ``path`` when given."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in self.records:
            w.writerow(r)
        if path is not None:
            save_text(path, buf.getvalue())
        return buf.getvalue()

    def to_json(self, path=None) -> dict:
        """``{"config": ..., "records": [...]}``; written atomically to ``path`` when given."""
        obj = {"config": self.config, "records": self.records}
        if path is not None:
            save_json(path, obj)
        return obj

    @classmethod
    def from_json(cls, path) -> ScalingResult:
        """Read a result written by :meth:`to_json`."""
        try:
            obj = json.loads(Path(path).read_text())
            return cls(obj["records"], obj.get("config"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a scaling result JSON file: {exc}") from None

    def save(self, out_dir):
        """Write ``results.csv`` and ``results.json`` into ``out_dir`` (atomically)."""
        out_dir = Path(out_dir)
        self.to_json(out_dir / "results.json")
        self.to_csv(out_dir / "results.csv")


def _split(data, name):
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be an (X, y) tuple of arrays, got {type(data).__name__}")
    X, y = data
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"{name}: X must have shape (n, ...) with n >= 1, got {X.shape}")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"{name}: y must have shape ({X.shape[0]},), got {y.shape}")
    return X, y


def _fingerprint(X, y):
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()[:16]


def _describe(selector) -> str:
    """What defines a method's cells: its selector's class, parameters and policy.

    A registered name is described by the selector it builds, so a changed registry
    entry (or a selector's changed ``_result_identity``, e.g. ``auto``'s thresholds)
    makes resumed runs refuse the old cells instead of mixing them in.
    """
    if isinstance(selector, str):
        selector = make_selector(selector, 1)
    params = selector.get_params(deep=False) if hasattr(selector, "get_params") else {}
    params = {k: v for k, v in params.items() if k not in ("n_samples", "random_state", "progress")}
    text = (
        f"{type(selector).__name__}({', '.join(f'{k}={v!r}' for k, v in sorted(params.items()))})"
    )
    identity = getattr(selector, "_result_identity", dict)()
    if identity:
        text += f" [{', '.join(f'{k}={v!r}' for k, v in sorted(identity.items()))}]"
    return text


def scaling_curve(
    train,
    test,
    methods,
    sizes,
    *,
    seeds=3,
    trainer=None,
    features=None,
    out_dir=None,
    resume=True,
    reuse=True,
    class_names=None,
    progress=False,
) -> ScalingResult:
    """Train on subsets chosen by each method at each size and seed; score on ``test``.

    Parameters
    ----------
    train, test : (X, y) tuples of arrays
        ``X`` of shape (n, ...) and labels ``y`` of shape (n,): integer class codes
        (what the default trainer needs), or any labels a custom trainer takes.
    methods : list of str, selector or :class:`Method`
        E.g. ``["random", "facility-location", "k-center"]``.
    sizes : list of int or float
        Subset sizes (ints) or fractions of the training set in (0, 1].
    seeds : int or list of int, default 3
        ``3`` means seeds 0, 1, 2. The seed drives both the selection (``random_state``)
        and training, so the methods of one seed share a model initialisation.
    trainer : object with ``fit`` and ``evaluate`` (see :class:`~.trainers.Trainer`)
        Defaults to :class:`~.trainers.TorchClassifierTrainer` with an MLP.
    features : array-like, shape (n_train, d), optional
        What the selectors select over; defaults to ``X`` flattened to 2-D.
    out_dir : path, optional
        Write ``results.csv``/``results.json`` there after every cell.
    resume : bool, default True
        Reuse the finished cells found in ``out_dir``. A directory holding results of
        other data or other method definitions raises ``ValueError``.
    reuse : bool, default True
        Share selection work between cells with the same method and features, with the
        same selections as ``reuse=False`` (see
        :func:`~coresets.selectors.selection_cache`): graph selectors build their
        similarity once per features (once per seed where the graph's build draws from
        the seed, e.g. an IVF index past ``coresets.knn.AUTO_EXACT_MAX`` rows); a
        deterministic greedy (lazy, naive, approximate-lazy) runs once at the largest
        size and the smaller sizes take its prefix, for every seed when nothing in the
        selection draws from the seed, else once per seed; with ``per_class`` the same
        holds class by class. Stochastic greedy and knapsack budgets re-run the greedy
        per cell on the shared graph; other selectors run per cell. The similarities
        stay in memory until the run ends (a dense one is ``n * n * 4`` bytes). Cells
        then run from the largest size down within each seed; the table keeps its
        order. See :class:`ScalingResult` for how ``selection_time`` is recorded.
    class_names : sequence of str, optional
        The name of each class code: ``class_names[c]`` for label ``c`` (e.g.
        :attr:`~.datasets.ClassificationData.class_names`); the labels must then be
        integers in ``[0, len(class_names))``. Default: the labels themselves (codes
        ``0 .. max`` for non-negative integers, else the distinct labels in sorted
        order). Kept, as strings, in the result's ``config["classes"]`` with the pool's
        count of each class; every cell records its subset's counts in the same order.
    progress : bool, default False
        tqdm bar over the cells.

    Returns
    -------
    ScalingResult
    """
    X, y = _split(train, "train")
    X_test, y_test = _split(test, "test")
    specs, sizes, seeds, feats, method_feats = _check_inputs(X, methods, sizes, seeds, features)
    trainer = _check_trainer(trainer, X, y, y_test)
    out_dir = None if out_dir is None else Path(out_dir)
    _check_plan(specs, sizes, y, out_dir)
    codes, names = _class_codes(y, y_test, class_names)
    config = _experiment_config(X, y, X_test, y_test, feats, specs, method_feats, trainer)
    config["sizes"], config["seeds"] = sizes, seeds
    # not part of the experiment's identity (``data`` is): the names only label counts
    # that the labels themselves determine, so a resumed run may rename them
    config["classes"] = {
        "names": names,
        "pool_counts": np.bincount(codes, minlength=len(names)).tolist(),
    }
    done, saved_config = _resume(out_dir, config) if resume else ({}, config)

    cells = [(s, k, seed) for seed in seeds for k in sizes for s in specs]
    # the table's order; with reuse the largest size of a seed runs first, so that a
    # nested greedy's first run is its longest and the smaller sizes are its prefixes
    order = {(s.name, k, seed): i for i, (s, k, seed) in enumerate(cells)}
    if reuse:
        cells = [(s, k, seed) for seed in seeds for k in reversed(sizes) for s in specs]
    records = []
    bar = tqdm(total=len(cells), desc="scaling", disable=not progress)
    with selection_cache() if reuse else contextlib.nullcontext():
        for spec, k, seed in cells:
            key = (spec.name, k, seed)
            if key in done:
                records.append(done[key])
                bar.update()
                continue
            bar.set_postfix_str(f"{spec.name} n={k} seed={seed}")
            f = method_feats.get(spec.name, feats)
            records.append(
                _run_cell(spec, k, seed, f, (X, y), (X_test, y_test), trainer, codes, len(names))
            )
            records.sort(key=lambda r: order[_rk(r)])
            if out_dir is not None:
                _save(out_dir, records, done, saved_config)
            bar.update()
    bar.close()
    records.sort(key=lambda r: order[_rk(r)])
    result = ScalingResult(records, config)
    if out_dir is not None:
        _save(out_dir, records, done, saved_config)
    return result


def _check_inputs(X, methods, sizes, seeds, features):
    """Validated ``(specs, sizes, seeds, features, {label: own features})``."""
    n = X.shape[0]
    if not isinstance(methods, (list, tuple)) or not methods:
        raise ValueError("methods must be a non-empty list of names, selectors or Method objects")
    specs = [_as_method(m) for m in methods]
    labels = [s.name for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"methods have duplicate labels {labels}; give each Method a label")
    if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) == 0:
        raise ValueError("sizes must be a non-empty list of ints or fractions")
    sizes = sorted({check_n_select(s, n, "sizes") for s in sizes})
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = list(range(check_int(seeds, "seeds", low=1)))
    else:
        seeds = [check_int(s, "seeds", low=0) for s in seeds]
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be a positive int or a list of distinct seeds")
    feats = X.reshape(n, -1) if features is None else features
    feats = check_array_2d(feats, "features")
    if feats.shape[0] != n:
        raise ValueError(
            f"features must have {n} rows (one per training example), got {feats.shape[0]}"
        )
    method_feats = {}
    for s in specs:
        if s.features is not None:
            f = check_array_2d(s.features, f"features of method {s.name!r}")
            if f.shape[0] != n:
                raise ValueError(
                    f"features of method {s.name!r} must have {n} rows, got {f.shape[0]}"
                )
            method_feats[s.name] = f
    return specs, sizes, seeds, feats, method_feats


def _class_codes(y, y_test, class_names):
    """``(codes, names)``: each pool row's class code, int64 (n_train,), and the names.

    Non-negative integer labels are their own codes, named by ``class_names`` or by
    their value; other labels (strings, negative integers) are coded in sorted order
    over train and test, as :func:`~.datasets.load_dataset` encodes them, and named by
    their value.
    """
    ints = all(a.dtype.kind in "iu" and (a.size == 0 or a.min() >= 0) for a in (y, y_test))
    if class_names is None:
        if ints:
            n_classes = int(max(y.max(), y_test.max(initial=0))) + 1
            return y.astype(np.int64), [str(c) for c in range(n_classes)]
        parts = [y, y_test]
        if any(a.dtype.kind in "OUS" for a in parts):  # one type: "1" and 1 are one class
            parts = [a.astype(str) for a in parts]
        labels = np.unique(np.concatenate(parts))
        codes = np.searchsorted(labels, parts[0]).astype(np.int64)
        return codes, [str(v) for v in labels.tolist()]
    if isinstance(class_names, str) or not isinstance(class_names, (list, tuple, np.ndarray)):
        raise TypeError(
            f"class_names must be a list of str (one per class code), got "
            f"{type(class_names).__name__}"
        )
    names = []
    for v in class_names:
        if not isinstance(v, (str, numbers.Integral)) or isinstance(v, bool):
            raise TypeError(f"class_names must hold strings, got {type(v).__name__} {v!r}")
        names.append(str(v))
    if len(set(names)) != len(names):
        dup = sorted({v for v in names if names.count(v) > 1})
        raise ValueError(f"class_names must be distinct; {dup} appear more than once")
    top = int(max(y.max(), y_test.max(initial=0))) if ints else None
    if not ints or top >= len(names):
        raise ValueError(
            f"class_names names {len(names)} classes, so the labels must be integers in "
            f"[0, {len(names)}); train/test labels are "
            + (f"up to {top}" if ints else f"of dtype {y.dtype}/{y_test.dtype}")
        )
    return y.astype(np.int64), names


def _check_plan(specs, sizes, y, out_dir):
    """Refuse, before the first cell trains, what would fail in a later one."""
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} exists and is not a directory")
    labels, class_sizes = np.unique(y, return_counts=True)
    for spec in specs:
        per_class = make_selector(spec.selector, sizes[0]).get_params().get("per_class")
        if not per_class:
            continue
        mode = "balanced" if per_class == "balanced" else "proportional"
        for k in sizes:
            try:  # the selectors' own rule, so the check cannot drift from the fit
                allocate_per_class(class_sizes, k, mode=mode, labels=labels)
            except ValueError as exc:
                raise ValueError(f"sizes: method {spec.name!r} at size {k}: {exc}") from None


def _check_trainer(trainer, X, y, y_test):
    if trainer is None:
        from .trainers import TorchClassifierTrainer, mlp

        n_classes = int(max(y.max(), y_test.max())) + 1
        trainer = TorchClassifierTrainer(mlp(int(np.prod(X.shape[1:])), n_classes), lr=1e-3)
    if not (hasattr(trainer, "fit") and hasattr(trainer, "evaluate")):
        raise TypeError(
            "trainer must have fit(train, weights=None, seed=0) and evaluate(model, test)"
        )
    return trainer


def _experiment_config(X, y, X_test, y_test, feats, specs, method_feats, trainer):
    """What identifies the experiment's cells: data fingerprints, methods, trainer."""
    return {
        "data": {
            "n_train": int(X.shape[0]),
            "n_test": int(X_test.shape[0]),
            "train_sha1": _fingerprint(X, y),
            "test_sha1": _fingerprint(X_test, y_test),
            "features_sha1": _fingerprint(feats, np.zeros(0)),
        },
        "methods": {
            s.name: {
                "selector": _describe(s.selector),
                "weighted": s.weighted,
                "features_sha1": (
                    _fingerprint(method_feats[s.name], np.zeros(0))
                    if s.name in method_feats
                    else None
                ),
            }
            for s in specs
        },
        "trainer": repr(trainer),
    }


def _resume(out_dir, config):
    """``(finished cells by key, config to save)`` from a compatible ``out_dir``."""
    if out_dir is None or not (out_dir / "results.json").exists():
        return {}, config
    old = ScalingResult.from_json(out_dir / "results.json")
    _check_compatible(old.config, config, out_dir)
    done = {_rk(r): r for r in old.records}
    # The file keeps the definitions of methods this run does not repeat.
    return done, {**config, "methods": {**old.config.get("methods", {}), **config["methods"]}}


def _run_cell(spec, k, seed, features, train, test, trainer, codes, n_classes):
    """Select ``k`` rows with ``spec`` under ``seed``, train on them, score on ``test``.

    ``codes`` (n_train,) are the pool's class codes in ``[0, n_classes)``; the record
    counts the subset's rows of each.
    """
    X, y = train
    # the experiment's own bar is the one to watch
    sel = make_selector(spec.selector, k, random_state=seed, progress=False)
    t0 = time.perf_counter()
    sel.fit(features, y)
    t_sel = time.perf_counter() - t0
    idx = np.asarray(sel.ranking_, dtype=np.int64)
    w = np.asarray(sel.weights_, dtype=np.float64) if spec.weighted else None
    t0 = time.perf_counter()
    model = trainer.fit((X[idx], y[idx]), weights=w, seed=seed)
    scores = trainer.evaluate(model, test)
    t_train = time.perf_counter() - t0
    return {
        "method": spec.name,
        "size": int(k),
        "seed": int(seed),
        "loss": float(scores["loss"]),
        "accuracy": float(scores["accuracy"]),
        "selection_time": round(t_sel, 4),
        "training_time": round(t_train, 4),
        CLASS_COUNTS: np.bincount(codes[idx], minlength=n_classes).tolist(),
    }


def _save(out_dir, records, done, config):
    # Keep finished cells of the old file that this run does not cover, so that a
    # narrower rerun never throws work away.
    mine = {_rk(r) for r in records}
    extra = [r for k, r in done.items() if k not in mine]
    ScalingResult(records + extra, config).save(out_dir)


def _rk(r):
    return (r["method"], int(r["size"]), int(r["seed"]))


def _check_compatible(old, new, out_dir):
    """Refuse to mix cells of different experiments in one directory."""
    if old.get("data") != new["data"]:
        raise ValueError(
            f"out_dir {out_dir} holds results for other data (fingerprints differ); use "
            "another out_dir or resume=False"
        )
    for name, spec in new["methods"].items():
        prev = old.get("methods", {}).get(name)
        if prev is not None and prev != spec:
            raise ValueError(
                f"out_dir {out_dir} holds results for method {name!r} defined differently "
                f"({prev} vs {spec}); use another label, out_dir or resume=False"
            )
    if old.get("trainer") != new["trainer"] and " at 0x" not in new["trainer"]:
        raise ValueError(
            f"out_dir {out_dir} holds results of another trainer ({old.get('trainer')}); use "
            "another out_dir or resume=False"
        )
