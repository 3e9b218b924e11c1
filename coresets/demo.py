"""The main job: ``python -m coresets.demo`` (or ``coresets demo``).

A demo selection on MNIST-1D, then a small scaling curve - random vs facility location
vs k-center, 5 subset sizes, 3 seeds, the paper's CNN - written as a table, a PNG and
a Markdown report under ``runs/demo/``. A few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["demo", "proxy_features", "run_scaling", "selection_features"]

#: Subset sizes of the demo (2.5% to 40% of the 4000 MNIST-1D training examples).
DEMO_SIZES = [100, 200, 400, 800, 1600]
#: Features the demo's selectors use by default. Measured with
#: ``benchmarks/scaling_mnist1d.py --sizes 100,200,400,800,1600`` (3 seeds): facility location
#: on standardised signals needs 0.73x / 0.82x of random's data at n=400 / 800, on a proxy
#: CNN's features 0.86x / 1.05x (it loses from n=800 on), on raw signals 0.99x / 0.91x.
DEFAULT_FEATURES = "standardized"


def proxy_features(data, *, seed=0, max_steps=1500, progress=False):
    """Penultimate-layer features of a proxy model trained on the whole training pool.

    Selection via a proxy (Coleman et al., 2020): a short training run of the reference
    model on all of ``data.X``; the features are the activations feeding its last layer.

    Parameters
    ----------
    data : ClassificationData
    seed : int, default 0
    max_steps : int, default 1500

    Returns
    -------
    ndarray of float32, shape (n_train, d_hidden)
    """
    import torch

    from .scaling.trainers import TemperatureScaled, default_trainer

    trainer = default_trainer(data, max_steps=max_steps, device="cpu", progress=progress)
    model = trainer.fit(data.train, seed=seed)
    if isinstance(model, TemperatureScaled):
        model = model.model
    body = model[:-1]  # both reference models are nn.Sequential ending in the classifier
    with torch.no_grad(), trainer._threads():
        out = body(torch.as_tensor(data.X, dtype=torch.float32))
    return out.numpy().astype(np.float32)


def selection_features(data, kind, *, seed=0, progress=False):
    """What selectors select over: ``"raw"``, ``"standardized"`` or ``"encoder"`` features.

    Parameters
    ----------
    data : ClassificationData
    kind : {"raw", "standardized", "encoder"}
    seed : int, default 0
        Seed of the proxy model for ``"encoder"``.

    Returns
    -------
    ndarray, shape (n_train, d)
    """
    if kind == "raw":
        return data.X.reshape(len(data.X), -1)
    if kind == "standardized":
        X = data.X.reshape(len(data.X), -1).astype(np.float64)
        sd = X.std(axis=0)
        return ((X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
    if kind == "encoder":
        return proxy_features(data, seed=seed, progress=progress)
    raise ValueError(f"features must be 'raw', 'standardized' or 'encoder', got {kind!r}")


def run_scaling(
    *,
    dataset="mnist1d",
    methods=("random", "facility-location", "k-center"),
    sizes=DEMO_SIZES,
    seeds=3,
    features="standardized",
    weighted=False,
    num_samples=None,
    max_steps=None,
    out_dir,
    resume=True,
    progress=True,
    data=None,
    feature_label=None,
):
    """Load data, run :func:`~coresets.scaling.scaling_curve`, write table, plot and report.

    Parameters
    ----------
    dataset : str or path
        See :func:`coresets.scaling.load_dataset` (ignored when ``data`` is given).
    methods : list of str or Method
    sizes : list of int or float
    seeds : int or list of int
    features : {"raw", "standardized", "encoder"} or array (n_train, d)
    weighted : bool
        Train every method except ``random`` on its coreset weights.
    num_samples, max_steps : int, optional
        MNIST-1D pool size; the trainer's step cap.
    out_dir : path
    resume, progress : bool
    data : ClassificationData, optional
    feature_label : str, optional
        Name of array ``features`` in the plot title.

    Returns
    -------
    dict: ``{"table": csv path, "json": ..., "plot": png path, "report": md path}``.
    """
    from .scaling import (
        Method,
        default_trainer,
        load_dataset,
        plot_scaling,
        scaling_curve,
    )

    if data is None:
        data = load_dataset(dataset, num_samples=num_samples)
    feats = features if not isinstance(features, str) else selection_features(data, features)
    specs = []
    for m in methods:
        if isinstance(m, Method):
            specs.append(m)
        elif weighted and str(m).replace("-", "_") != "random":
            specs.append(Method(m, label=f"{str(m).replace('-', '_')}_weighted", weighted=True))
        else:
            specs.append(Method(m))
    kw = {"device": "cpu"}
    if max_steps is not None:
        kw["max_steps"] = max_steps
    trainer = default_trainer(data, **kw)
    out = Path(out_dir)
    result = scaling_curve(
        data.train,
        data.test,
        specs,
        sizes,
        seeds=seeds,
        trainer=trainer,
        features=feats,
        out_dir=out,
        resume=resume,
        progress=progress,
    )
    feat_name = features if isinstance(features, str) else (feature_label or "given")
    n_seeds = len({r["seed"] for r in result.records})
    png = plot_scaling(
        result,
        out / "scaling.png",
        title=f"{data.name}: test loss and accuracy vs subset size "
        f"(selectors on {feat_name} features, {n_seeds} seeds)",
    )
    return {
        "table": out / "results.csv",
        "json": out / "results.json",
        "plot": png,
        "report": png.with_suffix(".md"),
    }


def _same_trainer(out, data):
    """Whether ``out`` holds no results or results of today's reference trainer.

    A rerun of the demo resumes its finished cells; cells of an older trainer (an
    earlier version of the library) cannot be mixed in, so the demo then starts afresh
    instead of failing on its own output directory.
    """
    from .scaling import ScalingResult, default_trainer

    saved = out / "results.json"
    if not saved.exists():
        return True
    old = ScalingResult.from_json(saved).config.get("trainer")
    if old == repr(default_trainer(data, device="cpu")):
        return True
    print(f"{out} holds results of another trainer; recomputing them")
    return False


def demo(out_dir="runs/demo", *, features=None, progress=True):
    """Run the demo: one selection, then the scaling curve; print where everything went.

    Parameters
    ----------
    out_dir : path, default "runs/demo"
    features : {"raw", "standardized", "encoder"}, optional
        Defaults to ``DEFAULT_FEATURES``.
    progress : bool, default True

    Returns
    -------
    dict of output paths (see :func:`run_scaling`).
    """
    from .scaling import load_mnist1d
    from .selectors import FacilityLocationSelector

    t_start = time.perf_counter()
    features = DEFAULT_FEATURES if features is None else features
    out = Path(out_dir)
    data = load_mnist1d()
    print(
        f"MNIST-1D: {len(data.X)} training and {len(data.X_test)} test signals of length "
        f"{data.X.shape[1]}, {data.n_classes} classes"
    )
    t0 = time.perf_counter()
    feats = selection_features(data, features)
    print(f"selection features: {features} ({feats.shape[1]}-d, {time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    sel = FacilityLocationSelector(n_samples=0.1, metric="euclidean", random_state=0).fit(
        feats, data.y
    )
    counts = np.bincount(data.y[sel.ranking_], minlength=data.n_classes)
    print(
        f"demo selection: facility location kept {len(sel.ranking_)} of {len(data.X)} examples "
        f"in {time.perf_counter() - t0:.2f} s; per class {counts.tolist()}; weights sum to "
        f"{sel.weights_.sum():.0f} (largest {sel.weights_.max():.0f})"
    )
    from ._io import save_npy

    save_npy(out / "selection" / "indices.npy", sel.ranking_)
    save_npy(out / "selection" / "weights.npy", sel.weights_)

    print(f"scaling curve: random vs facility location vs k-center, sizes {DEMO_SIZES}, 3 seeds")
    resume = _same_trainer(out, data)
    paths = run_scaling(
        methods=["random", "facility-location", "k-center"],
        sizes=DEMO_SIZES,
        seeds=3,
        features=feats,
        out_dir=out,
        resume=resume,
        progress=progress,
        data=data,
        feature_label=features,
    )
    report = Path(paths["report"]).read_text()
    verdict = report.split("## Verdict", 1)[-1].strip()
    print("\n" + verdict.replace("**", ""))
    print(f"\ndone in {time.perf_counter() - t_start:.0f} s")
    print(f"plot:   {paths['plot']}")
    print(f"report: {paths['report']}")
    print(f"table:  {paths['table']}")
    return paths


def main(argv=None) -> int:
    """``python -m coresets.demo [--out DIR] [--features KIND]``."""
    p = argparse.ArgumentParser(prog="python -m coresets.demo", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--features", default=None, choices=["raw", "standardized", "encoder"])
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    try:
        demo(a.out, features=a.features, progress=not a.no_progress)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        print(f"coresets demo: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
