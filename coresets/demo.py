"""The main job: ``coresets demo`` (``python -m coresets.demo`` runs the same command).

A demo selection on MNIST-1D, then a small scaling curve - random vs ``auto`` (the
measured policy: facility location per class here) vs facility location on the whole
pool, 5 subset sizes, 3 seeds, the paper's CNN - written as a table, a PNG and a Markdown
report under ``runs/demo/``. A few minutes on 2 CPU cores.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .scaling.features import selection_features
from .scaling.run import SIZES, run_scaling

__all__ = ["demo"]

#: Subset sizes of the demo (2.5% to 40% of the 4000 MNIST-1D training examples).
DEMO_SIZES = list(SIZES)
#: The demo's methods: the baseline, the measured policy and plain facility location.
DEMO_METHODS = ("random", "auto", "facility-location")
#: Features the demo's selectors use by default. Measured with
#: ``benchmarks/scaling_mnist1d.py --sizes 100,200,400,800,1600`` (3 seeds): facility location
#: on standardised signals needs 0.73x / 0.82x of random's data at n=400 / 800, on a proxy
#: CNN's features 0.86x / 1.05x (it loses from n=800 on), on raw signals 0.99x / 0.91x.
DEFAULT_FEATURES = "standardized"
#: Rows of the warm-up selection before the timed one (it calls the same compiled code).
_WARM_UP_ROWS = 200


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


def demo(out_dir="runs/demo", *, features=None, progress=False):
    """Run the demo: one selection, then the scaling curve; print where everything went.

    Parameters
    ----------
    out_dir : path, default "runs/demo"
    features : {"raw", "standardized", "encoder"}, optional
        Defaults to ``DEFAULT_FEATURES``.
    progress : bool, default False

    Returns
    -------
    dict of output paths (see :func:`~coresets.scaling.run_scaling`).
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

    params = dict(n_samples=0.1, metric="euclidean", random_state=0)
    # A process's first selection loads numba's compiled code from its on-disk cache, or
    # compiles it where this machine has never run it (tens of seconds). The same
    # selection on a few rows pays that first, so the timed one is the selection alone;
    # the line says what was left out.
    t0 = time.perf_counter()
    FacilityLocationSelector(**params).fit(feats[:_WARM_UP_ROWS], data.y[:_WARM_UP_ROWS])
    warm_up = time.perf_counter() - t0
    t0 = time.perf_counter()
    sel = FacilityLocationSelector(**params).fit(feats, data.y)
    counts = np.bincount(data.y[sel.ranking_], minlength=data.n_classes)
    print(
        f"demo selection: facility location kept {len(sel.ranking_)} of {len(data.X)} examples "
        f"in {time.perf_counter() - t0:.2f} s (not counted: {warm_up:.1f} s loading or "
        f"compiling numba code on {_WARM_UP_ROWS} rows first); per class {counts.tolist()}; "
        f"weights sum to {sel.weights_.sum():.0f} (largest {sel.weights_.max():.0f})"
    )
    from ._io import save_npy

    save_npy(out / "selection" / "indices.npy", sel.ranking_)
    save_npy(out / "selection" / "weights.npy", sel.weights_)

    print(f"scaling curve: random vs auto vs facility location, sizes {DEMO_SIZES}, 3 seeds")
    resume = _same_trainer(out, data)
    # run_scaling's defaults are the demo's sizes and seeds
    paths = run_scaling(
        data,
        methods=DEMO_METHODS,
        features=feats,
        feature_label=features,
        out_dir=out,
        resume=resume,
        progress=progress,
    )
    _print_summary(paths["json"])
    report = Path(paths["report"]).read_text()
    verdict = report.split("## Verdict", 1)[-1].split("\n## ", 1)[0].strip()
    print("\n" + verdict.replace("**", ""))
    print(f"\ndone in {time.perf_counter() - t_start:.0f} s")
    print(f"plot:   {paths['plot']}")
    print(f"report: {paths['report']}")
    print(f"table:  {paths['table']}")
    return paths


def _print_summary(results_json):
    """Mean accuracy per method and size, and each method's data ratio against random."""
    from .scaling import ScalingResult
    from .scaling.report import accuracy_table, ratio_table

    res = ScalingResult.from_json(results_json)
    print("\n" + accuracy_table(res) + "\n" + ratio_table(res))
    print(
        "(data ratio: the method's size over the random size with the same accuracy; below 1 wins)"
    )


if __name__ == "__main__":
    from .cli import main

    sys.exit(main(["demo", *sys.argv[1:]]))
