"""Which selection method beats random where: every method of issue 11 on MNIST-1D.

Random, facility location (raw, standardised, learned and gradient features; whole pool
and per class), k-center, herding, the difficulty-score methods over EL2N from a proxy run
(easiest, hardest, CCS, D2), the moderate coreset, prototype scores, ``auto`` and
``auto_scores`` (``auto`` given the proxy's forgetting events, so its coverage skips the
hardest tenth of each class). One proxy run (the reference CNN trained on the whole pool,
logits recorded during training) gives the scores, the learned features (penultimate
activations) and the gradient features (last-layer gradients); its cost is printed beside
the training times, and the "compute to reach random" table charges it to every method
that uses it.

Cells are cached per method under ``--out/cells/<method>`` (a killed run resumes) and run
``--jobs`` methods at a time. Prints mean accuracy, the data ratio against random with
its bootstrap interval, where a method is worse than random beyond seed noise (the whole
95% interval of its data ratio above 1), and times.

    python benchmarks/pruning_mnist1d.py --out runs/pruning_4k                     # 4k pool
    python benchmarks/pruning_mnist1d.py --pool 100000 --sizes 400,1600,4000,8000 \\
        --methods random,auto,facility_location,ccs_el2n --out runs/pruning_80k
"""

from __future__ import annotations

import argparse
import json
import math
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from coresets.scaling import (
    Method,
    ScalingResult,
    data_efficiency,
    default_trainer,
    load_mnist1d,
    plot_scaling,
    proxy_run,
    proxy_trainer,
    scaling_curve,
    selection_features,
    write_report,
)
from coresets.scaling.report import accuracy_table, gain_table
from coresets.selectors import (
    AutoSelector,
    CCSSelector,
    D2Selector,
    FacilityLocationSelector,
    HerdingSelector,
    KCenterGreedySelector,
    ModerateSelector,
    PrototypeSelector,
    ScoreSelector,
)

#: methods that read the proxy run (their compute includes it)
USES_PROXY = {
    "auto_scores",
    "fl_learned",
    "fl_learned_per_class",
    "fl_gradient_per_class",
    "el2n_easiest",
    "el2n_hardest",
    "ccs_el2n",
    "d2_el2n",
}
ALL_METHODS = [
    "random",
    "auto",
    "auto_scores",
    "fl_raw",
    "facility_location",
    "fl_per_class",
    "fl_learned",
    "fl_learned_per_class",
    "fl_gradient_per_class",
    "k_center",
    "herding",
    "moderate",
    "prototype_easiest",
    "el2n_easiest",
    "el2n_hardest",
    "ccs_el2n",
    "d2_el2n",
]

_STATE = {}


def _init(state):
    _STATE.update(state)


def _methods(names, feats, proxy):
    """name -> Method, the selectors on the features they are measured on."""
    raw, std = feats["raw"], feats["standardized"]
    el2n = None if proxy is None else proxy["el2n"]
    forgetting = None if proxy is None else proxy["forgetting"]
    learned = None if proxy is None else proxy["features"]

    def fl(per_class=False):
        return FacilityLocationSelector(metric="euclidean", n_neighbors="auto", per_class=per_class)

    table = {
        "random": lambda: Method("random"),
        "auto": lambda: Method(AutoSelector(), label="auto", features=std),
        "auto_scores": lambda: Method(
            AutoSelector(scores=forgetting), label="auto_scores", features=std
        ),
        "fl_raw": lambda: Method(fl(), label="fl_raw", features=raw),
        "facility_location": lambda: Method(fl(), label="facility_location", features=std),
        "fl_per_class": lambda: Method(fl(True), label="fl_per_class", features=std),
        "fl_learned": lambda: Method(fl(), label="fl_learned", features=learned),
        "fl_learned_per_class": lambda: Method(
            fl(True), label="fl_learned_per_class", features=learned
        ),
        "fl_gradient_per_class": lambda: Method(
            fl(True), label="fl_gradient_per_class", features=proxy["grad_features"]
        ),
        "k_center": lambda: Method(KCenterGreedySelector(), label="k_center", features=std),
        "herding": lambda: Method(HerdingSelector(), label="herding", features=std),
        "moderate": lambda: Method(ModerateSelector(), label="moderate", features=std),
        "prototype_easiest": lambda: Method(
            PrototypeSelector(order="easiest"), label="prototype_easiest", features=std
        ),
        "el2n_easiest": lambda: Method(
            ScoreSelector(scores=el2n, order="easiest"), label="el2n_easiest", features=std
        ),
        "el2n_hardest": lambda: Method(
            ScoreSelector(scores=el2n, order="hardest"), label="el2n_hardest", features=std
        ),
        "ccs_el2n": lambda: Method(
            CCSSelector(scores=el2n, hard_prune=0.1), label="ccs_el2n", features=std
        ),
        "d2_el2n": lambda: Method(D2Selector(scores=el2n), label="d2_el2n", features=std),
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; known: {', '.join(table)}")
    return {n: table[n]() for n in names}


#: what a cached proxy file must hold (older files without the last three are re-run)
_PROXY_KEYS = {
    "el2n",
    "margin",
    "aum",
    "forgetting",
    "features",
    "grad_features",
    "seconds",
    "early_step",
}


def _proxy(data, out, steps, seeds):
    """The proxy run's EL2N (a tenth into training, mean over seeds) and learned features."""
    path = out / f"proxy_steps{steps}_seeds{seeds}.npz"
    if path.exists():
        z = np.load(path)
        if _PROXY_KEYS <= set(z.files):
            return {k: z[k] for k in z.files}
    every = max(1, steps // 40)
    record = list(range(every, steps + 1, every))
    run = proxy_run(
        data.train,
        trainer=proxy_trainer(data, steps),
        record_steps=record,
        seeds=seeds,
        features=True,
    )
    early = int(run.steps[max(0, len(run.steps) // 10 - 1)])
    res = {
        "el2n": run.el2n(early),
        "margin": run.margin(int(run.steps[-1])),
        "aum": run.aum(),
        "forgetting": run.forgetting(),
        "features": run.features,
        "grad_features": run.gradient_features(),
        "seconds": np.array(run.seconds),
        "early_step": np.array(early),
    }
    out.mkdir(parents=True, exist_ok=True)
    np.savez(path, **res)
    return res


def _one(name):
    """Run one method's cells (in a worker); return its records."""
    st = _STATE
    res = scaling_curve(
        st["data"].train,
        st["data"].test,
        [st["methods"][name]],
        st["sizes"],
        seeds=st["seeds"],
        trainer=default_trainer(st["data"], device="cpu"),
        out_dir=st["out"] / "cells" / name,
    )
    return res.records


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool", type=int, default=None, help="MNIST-1D n_rows (80%% train)")
    p.add_argument("--sizes", default="80,200,400,640,1000,1600,2400")
    p.add_argument(
        "--seeds", default="3", help="a count (3: seeds 0-2) or a comma-separated list of seeds"
    )
    p.add_argument("--methods", default=",".join(ALL_METHODS))
    p.add_argument("--proxy-steps", type=int, default=None, help="default 3000 (6000 >10k rows)")
    p.add_argument("--proxy-seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--against", help="also the paired gain of every method over this one")
    p.add_argument("--out", default="runs/pruning_mnist1d")
    p.add_argument(
        "--tables-only",
        action="store_true",
        help="train nothing: tables, plot and report from the cells already under --out",
    )
    p.add_argument(
        "--also",
        action="append",
        default=[],
        help="with --tables-only: cells of another --out run (other seeds) to pool with these",
    )
    a = p.parse_args()

    out = Path(a.out)
    data = load_mnist1d(a.pool, cache_dir="benchmarks/_data")
    n = len(data.X)
    sizes = [int(s) for s in a.sizes.split(",") if int(s) <= n]
    seeds = [int(s) for s in a.seeds.split(",")] if "," in a.seeds else int(a.seeds)
    names = [m.strip() for m in a.methods.split(",") if m.strip()]
    if "random" not in names:
        names.insert(0, "random")
    feats = {k: selection_features(data, k) for k in ("raw", "standardized")}
    proxy = None
    if USES_PROXY & set(names):
        steps = a.proxy_steps or (3000 if n <= 10_000 else 6000)
        t0 = time.perf_counter()
        proxy = _proxy(data, out, steps, a.proxy_seeds)
        print(
            f"proxy: {a.proxy_seeds} seeds x {steps} steps on {n} rows, "
            f"{float(proxy['seconds']):.0f} s when run (loaded in {time.perf_counter() - t0:.1f} s); "
            f"EL2N read at step {int(proxy['early_step'])}"
        )
    state = dict(
        data=data, methods=_methods(names, feats, proxy), sizes=sizes, seeds=seeds, out=out
    )
    t0 = time.perf_counter()
    if a.tables_only:
        parts = [
            ScalingResult.from_json(d / "cells" / m / "results.json").records
            for d in [out, *map(Path, a.also)]
            for m in names
            if (d / "cells" / m / "results.json").exists()
        ]
        res = ScalingResult([r for part in parts for r in part])
        _report(res, out, n, sizes, proxy, 0.0, 0, a.against)
        return
    # spawn, not fork: the proxy run has started torch's thread pool in this process, and
    # a forked child inherits it half-initialised (it hangs)
    with get_context("spawn").Pool(max(1, a.jobs), initializer=_init, initargs=(state,)) as pool:
        parts = pool.map(_one, names, chunksize=1)
    wall = time.perf_counter() - t0
    res = ScalingResult([r for part in parts for r in part])
    _report(res, out, n, sizes, proxy, wall, a.jobs, a.against)


def _report(res, out, n, sizes, proxy, wall, jobs, against=None):
    res.save(out)
    png = plot_scaling(res, out / "scaling.png", title=f"MNIST-1D ({n} pool): methods vs random")
    report = write_report(res, png.with_suffix(".md"), plot=png)
    print(f"\n{len(res)} cells in {wall:.0f} s ({jobs} jobs); plot {png}, report {report}\n")
    _print_tables(res, sizes, float(proxy["seconds"]) if proxy is not None else 0.0, against)


def _fmt_ratio(row):
    if row is None:
        return "-"
    r = row.get("ratio")
    if r is None or r != r:
        return {"above": "above", "below": "below"}.get(row.get("beyond"), "-")
    ci = row.get("ratio_ci")
    if not ci:
        return f"{r:.2f}"
    lo, hi = ci
    return f"{r:.2f} [{lo:.2f},{'inf' if math.isinf(hi) else f'{hi:.2f}'}]"


def _print_tables(res, sizes, proxy_seconds, against=None):
    print(accuracy_table(res))
    print()
    print(gain_table(res))
    if against is not None:
        print(gain_table(res, baseline=against))
    print(
        "\ndata ratio vs random with 95% bootstrap interval over seeds (<1: needs less data; "
        "'WORSE' when the whole interval is above 1)"
    )
    print(f"{'method':22s}" + "".join(f"{s:>26d}" for s in sizes))
    ratios = {}
    for m in res.methods:
        if m == "random":
            continue
        rows = {r["size"]: r for r in data_efficiency(res, m, random_state=0)}
        ratios[m] = rows
        cells = []
        for s in sizes:
            row = rows.get(s)
            text = _fmt_ratio(row)
            ci = None if row is None else row.get("ratio_ci")
            if ci and ci[0] > 1:
                text += " WORSE"
            cells.append(f"{text:>26s}")  # room for "9.99 [9.99,9.99] WORSE" and a gap
        print(f"{m:22s}" + "".join(cells))
    print(
        f"\ncompute to reach random's accuracy at each size, as a fraction of random's "
        f"(proxy run {proxy_seconds:.0f} s charged to {', '.join(sorted(USES_PROXY & set(res.methods)))})"
    )
    train_t = {}
    for r in res.records:
        train_t.setdefault((r["method"], r["size"]), []).append(r["training_time"])
    sel_t = {}
    for r in res.records:
        sel_t.setdefault((r["method"], r["size"]), []).append(r["selection_time"])
    rand_sizes = [s for s in sizes if ("random", s) in train_t]
    rand_train = np.array([np.median(train_t[("random", s)]) for s in rand_sizes])
    print(f"{'method':22s}" + "".join(f"{s:>10d}" for s in sizes))
    for m, rows in ratios.items():
        cells = []
        for s in sizes:
            row = rows.get(s)
            if row is None or (m, s) not in train_t or not (row.get("ratio") == row.get("ratio")):
                cells.append(f"{'-':>10s}")
                continue
            n_rand = s / row["ratio"]
            t_rand = float(np.interp(np.log(n_rand), np.log(rand_sizes), rand_train))
            own = np.median(train_t[(m, s)]) + np.median(sel_t[(m, s)])
            own += proxy_seconds if m in USES_PROXY else 0.0
            cells.append(f"{own / t_rand:>10.2f}")
        print(f"{m:22s}" + "".join(cells))
    print("\nmedian seconds per cell: selection / training")
    for m in res.methods:
        st = [t for (mm, _), ts in sel_t.items() if mm == m for t in ts]
        tt = [t for (mm, _), ts in train_t.items() if mm == m for t in ts]
        print(f"  {m:22s} {np.median(st):8.2f} / {np.median(tt):8.2f}")
    summary = {m: {int(s): rows[s].get("ratio") for s in rows} for m, rows in ratios.items()}
    print("\nratios (json):", json.dumps(summary))


if __name__ == "__main__":
    main()
