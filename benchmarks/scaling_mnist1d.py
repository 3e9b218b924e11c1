"""Scaling curves on MNIST-1D: facility location (and k-center) against random.

Prints one table per run (mean test accuracy per size, and data efficiency against
random) and writes results.csv/json, scaling.png and scaling.md under --out. Cells
already in --out are reused, so a killed run resumes.

    python benchmarks/scaling_mnist1d.py                          # features comparison, ~10 min
    python benchmarks/scaling_mnist1d.py --features encoder --variants plain,per_class,weighted
    python benchmarks/scaling_mnist1d.py --pool 100000            # 80k-example pool (slow)
"""

from __future__ import annotations

import argparse
import time

from coresets.scaling import (
    Method,
    default_trainer,
    load_mnist1d,
    plot_scaling,
    scaling_curve,
    selection_features,
    write_report,
)
from coresets.scaling.report import accuracy_table, ratio_table
from coresets.selectors import FacilityLocationSelector, KCenterGreedySelector


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="100,200,400,1000,2000,4000")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--features", default="raw,standardized,encoder")
    p.add_argument("--variants", default="plain", help="plain,per_class,weighted")
    p.add_argument("--k-center", action="store_true", help="add k-center on each feature kind")
    p.add_argument("--pool", type=int, default=None, help="MNIST-1D n_rows (80%% train)")
    p.add_argument("--out", default="runs/bench_mnist1d")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args()

    data = load_mnist1d(a.pool, cache_dir="benchmarks/_data")
    sizes = [int(s) for s in a.sizes.split(",")]
    sizes = [s for s in sizes if s <= len(data.X)]
    methods = ["random"]
    for kind in a.features.split(","):
        t0 = time.perf_counter()
        f = selection_features(data, kind)
        print(f"features {kind}: {f.shape} in {time.perf_counter() - t0:.1f} s")
        for v in a.variants.split(","):
            per_class = v == "per_class"
            sel = FacilityLocationSelector(
                metric="euclidean", n_neighbors="auto", per_class=per_class
            )
            label = f"fl_{kind}" + ("" if v == "plain" else f"_{v}")
            methods.append(Method(sel, label=label, weighted=v == "weighted", features=f))
        if a.k_center:
            methods.append(Method(KCenterGreedySelector(), label=f"kcenter_{kind}", features=f))
    trainer = default_trainer(data, device="cpu")
    t0 = time.perf_counter()
    res = scaling_curve(
        data.train,
        data.test,
        methods,
        sizes,
        seeds=a.seeds,
        trainer=trainer,
        out_dir=a.out,
        progress=not a.no_progress,
    )
    wall = time.perf_counter() - t0
    png = plot_scaling(res, f"{a.out}/scaling.png", title=f"MNIST-1D ({len(data.X)} pool)")
    report = write_report(res, png.with_suffix(".md"), plot=png)
    print(f"\n{len(res)} cells in {wall:.0f} s; plot {png}, report {report}\n")
    print(accuracy_table(res, width=28) + "\n")
    print("data ratio (method size / random size with equal accuracy; <1 is better)")
    print(ratio_table(res, width=28))
    times = {}
    for r in res.records:
        times.setdefault(r["method"], []).append(r["selection_time"])
    print(
        "\nmedian selection time per cell (s): "
        + ", ".join(f"{m} {sorted(t)[len(t) // 2]:.2f}" for m, t in times.items())
    )


if __name__ == "__main__":
    main()
