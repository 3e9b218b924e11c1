"""The scaling pipeline behind ``coresets scaling`` and the demo: data to table, plot, report."""

from __future__ import annotations

from pathlib import Path

from .features import selection_features

__all__ = ["SIZES", "run_scaling"]

#: Default subset sizes (2.5% to 40% of the 4000 MNIST-1D training examples).
SIZES = (100, 200, 400, 800, 1600)


def _specs(methods, weighted):
    from .experiment import Method

    specs = []
    for m in methods:
        if isinstance(m, Method):
            specs.append(m)
        elif weighted and str(m).replace("-", "_") != "random":
            specs.append(Method(m, label=f"{str(m).replace('-', '_')}_weighted", weighted=True))
        else:
            specs.append(Method(m))
    return specs


def run_scaling(
    dataset="mnist1d",
    *,
    methods=("random", "facility-location", "k-center"),
    sizes=SIZES,
    seeds=3,
    features="standardized",
    weighted=False,
    n_rows=None,
    max_steps=None,
    out_dir,
    resume=True,
    reuse=True,
    progress=False,
    feature_label=None,
):
    """Load data, run :func:`~coresets.scaling.scaling_curve`, write table, plot and report.

    Parameters
    ----------
    dataset : str, path or ClassificationData
        A name or ``.npz`` path for :func:`coresets.scaling.load_dataset`, or data
        already loaded. Its class names (``ClassificationData.class_names``) label the
        report's class balance.
    methods : list of str or Method
    sizes : list of int or float
    seeds : int or list of int
    features : {"raw", "standardized", "encoder"} or array (n_train, d)
    weighted : bool
        Train every method except ``random`` on its coreset weights.
    n_rows, max_steps : int, optional
        MNIST-1D pool size; the trainer's step cap.
    out_dir : path
    resume : bool, default True
    reuse : bool, default True
        Share selection work between cells (one similarity graph per features, one
        greedy run at the largest size); see :func:`~coresets.scaling.scaling_curve`.
    progress : bool, default False
    feature_label : str, optional
        Name of array ``features`` in the plot title.

    Returns
    -------
    dict: ``{"table": csv path, "json": ..., "plot": png path, "report": md path}``.
        The plot and report show every cell of the table in ``out_dir``: with
        ``resume=True`` that includes the finished cells of earlier runs of other methods,
        sizes or seeds (``resume=False`` replaces the table, and so the plot and report).
    """
    from . import (
        ClassificationData,
        ScalingResult,
        default_trainer,
        fit_all,
        load_dataset,
        plot_scaling,
        scaling_curve,
        write_report,
    )
    from .report import REPORT_RANDOM_STATE

    if isinstance(dataset, ClassificationData):
        data = dataset
    else:
        data = load_dataset(dataset, n_rows=n_rows)
    feats = features if not isinstance(features, str) else selection_features(data, features)
    kw = {"device": "cpu"}
    if max_steps is not None:
        kw["max_steps"] = max_steps
    trainer = default_trainer(data, **kw)
    out = Path(out_dir)
    scaling_curve(
        data.train,
        data.test,
        _specs(methods, weighted),
        sizes,
        seeds=seeds,
        trainer=trainer,
        features=feats,
        out_dir=out,
        resume=resume,
        reuse=reuse,
        class_names=data.class_names,
        progress=progress,
    )
    # The table in out_dir keeps the finished cells of earlier runs into it (a narrower
    # rerun never throws work away); plot and report the whole table, not this run's part.
    table = ScalingResult.from_json(out / "results.json")
    feat_name = features if isinstance(features, str) else (feature_label or "given")
    n_seeds = len({r["seed"] for r in table.records})
    fits = fit_all(table, random_state=REPORT_RANDOM_STATE)
    png = plot_scaling(
        table,
        out / "scaling.png",
        fits=fits,
        title=f"{data.name}: test loss and accuracy vs subset size "
        f"(selectors on {feat_name} features, {n_seeds} seeds)",
    )
    report = write_report(table, png.with_suffix(".md"), fits=fits, plot=png)
    return {
        "table": out / "results.csv",
        "json": out / "results.json",
        "plot": png,
        "report": report,
    }
