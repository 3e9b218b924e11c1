"""Command line: ``coresets select | scaling | demo``.

Every error a user can cause (a bad path, a bad size, a method that does not exist)
ends the program with one readable line on stderr and exit code 1, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "parse_size", "parse_sizes"]


class UsageError(ValueError):
    """A user error reported as one line."""


def parse_size(text: str, name: str = "--n-samples"):
    """``"10%"`` -> 0.1, ``"0.25"`` -> 0.25, ``"500"`` -> 500."""
    t = str(text).strip()
    try:
        if t.endswith("%"):
            v = float(t[:-1]) / 100.0
        elif any(c in t for c in ".eE"):
            v = float(t)
        else:
            return int(t)
    except ValueError:
        raise UsageError(
            f"{name} must be an integer, a fraction or a percentage, got {text!r}"
        ) from None
    if not 0 < v <= 1:
        raise UsageError(f"{name} as a fraction must lie in (0, 1], got {text!r}")
    return v


def parse_sizes(text: str):
    """Comma-separated sizes, each as in :func:`parse_size`."""
    parts = [p for p in str(text).split(",") if p.strip()]
    if not parts:
        raise UsageError("--sizes must list at least one size, e.g. 100,200,400 or 5%,10%")
    return [parse_size(p, "--sizes") for p in parts]


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _n_neighbors(text):
    if text is None or text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or 'auto')") from None


def _build_parser():
    p = argparse.ArgumentParser(
        prog="coresets", description="Choose which training examples to keep, and prove it."
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("select", help="select a coreset from .npy embeddings or a shard directory")
    s.add_argument("--input", required=True, help="embeddings .npy (n, d) or a directory of shards")
    s.add_argument("--n-samples", required=True, help="rows to keep: 500, 0.1 or 10%%")
    s.add_argument(
        "--method", default="facility-location", help="facility-location, k-center, random, ..."
    )
    s.add_argument(
        "--n-neighbors", type=_n_neighbors, default=None, help="sparse kNN graph: int or 'auto'"
    )
    s.add_argument("--metric", default=None, choices=["euclidean", "cosine"])
    s.add_argument("--labels", default=None, help=".npy of labels (n,), for --per-class")
    s.add_argument(
        "--per-class", action="store_true", help="select within each class (needs --labels)"
    )
    s.add_argument(
        "--seed", type=int, default=0, help="random_state of the selector and the kNN index"
    )
    s.add_argument("--scheduler", default=None, help="Dask scheduler address (shard directories)")
    s.add_argument("--checkpoint-dir", default=None, help="resume point for shard directories")
    s.add_argument("--out", required=True, help="output directory")
    s.add_argument("--no-progress", action="store_true")

    c = sub.add_parser("scaling", help="scaling curves: methods vs random at several subset sizes")
    c.add_argument("--dataset", default="mnist1d", help="mnist1d, digits, mnist or an .npz path")
    c.add_argument("--methods", default="random,facility-location,k-center")
    c.add_argument("--sizes", default="2.5%,5%,10%,20%,40%", help="e.g. 100,200,400 or 5%%,10%%")
    c.add_argument("--seeds", type=_positive_int, default=3)
    c.add_argument(
        "--features",
        default="standardized",
        choices=["raw", "standardized", "encoder"],
        help="what selectors select over: the inputs, standardised inputs, or a proxy model's features",
    )
    c.add_argument("--weighted", action="store_true", help="use the selectors' weights in the loss")
    c.add_argument(
        "--n-rows", type=_positive_int, default=None, help="mnist1d: total examples generated"
    )
    c.add_argument("--max-steps", type=_positive_int, default=None, help="trainer step cap")
    c.add_argument("--out", required=True, help="output directory (resumes finished cells)")
    c.add_argument("--no-resume", action="store_true", help="ignore finished cells in --out")
    c.add_argument("--no-progress", action="store_true")

    d = sub.add_parser("demo", help="the small MNIST-1D demo (a few minutes on 2 cores)")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--features", default=None, choices=["raw", "standardized", "encoder"])
    d.add_argument("--no-progress", action="store_true")
    return p


def _cmd_select(a):
    path = Path(a.input)
    if not path.exists():
        raise UsageError(f"--input {path} does not exist")
    t0 = time.perf_counter()
    sel, n_rows = _select_shards(a) if path.is_dir() else _select_array(a)
    elapsed = time.perf_counter() - t0
    summary = {
        "input": str(path),
        "method": a.method,
        "n_rows": n_rows,
        "n_selected": len(sel),
        "objective": sel.objective if np.isfinite(sel.objective) else None,
        "seed": a.seed,
        "seconds": round(elapsed, 3),
    }
    out = Path(a.out)
    _write_selection(out, sel, summary)
    print(
        f"selected {len(sel)} rows in {elapsed:.2f} s -> {out}/indices.npy (summary.json beside it)"
    )
    return 0


def _select_shards(a):
    """``(Selection, None)`` from a shard directory, on a Dask cluster with --scheduler."""
    from .selectors.registry import method_key
    from .streaming import RandGreeDi, select_from_shards

    if a.labels or a.per_class:
        raise UsageError("--labels/--per-class are not supported for shard directories")
    if method_key(a.method) != "facility_location":
        raise UsageError(
            f"--method {a.method} does not apply to shard directories (facility-location only)"
        )
    n_samples = parse_size(a.n_samples)
    graph = {}
    if isinstance(a.n_neighbors, int):  # None or "auto": the algorithm's default
        graph["n_neighbors"] = a.n_neighbors
    if a.metric is not None:
        graph["metric"] = a.metric
    algorithm = RandGreeDi(**graph)  # checks the settings before a cluster is contacted
    client = None
    if a.scheduler:
        from dask.distributed import Client

        client = Client(a.scheduler)
    try:
        sel = select_from_shards(
            Path(a.input),
            n_samples,
            algorithm=algorithm,
            client=client,
            checkpoint_dir=a.checkpoint_dir,
            random_state=a.seed,
            progress=not a.no_progress,
        )
    finally:
        if client is not None:
            client.close()
    return sel, None


def _select_array(a):
    """``(Selection, n_rows)`` from an ``.npy`` of embeddings, by a registered selector."""
    from . import _io
    from .selectors.registry import make_selector

    if a.scheduler or a.checkpoint_dir:
        raise UsageError("--scheduler/--checkpoint-dir apply to shard directories only")
    n_samples = parse_size(a.n_samples)
    try:
        X = _io.load_npy(a.input, mmap=True)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--input {a.input} could not be read as .npy: {exc}") from None
    y = None
    if a.labels:
        try:
            y = _io.load_npy(a.labels, mmap=True)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--labels {a.labels} could not be read as .npy: {exc}") from None
    if a.per_class and y is None:
        raise UsageError("--per-class needs --labels")
    est = make_selector(a.method, n_samples, random_state=a.seed, progress=not a.no_progress)
    params = est.get_params()
    for opt, key, val in (
        ("--n-neighbors", "n_neighbors", a.n_neighbors),
        ("--metric", "metric", a.metric),
        ("--per-class", "per_class", a.per_class or None),
    ):
        if val is None:
            continue
        if key not in params:
            raise UsageError(f"{opt} does not apply to --method {a.method}")
        est.set_params(**{key: val})
    est.fit(X, y)
    return est.selection_, int(X.shape[0]) if X.ndim else 0


def _write_selection(out, sel, summary):
    """Write ``indices.npy``, ``gains.npy``, ``weights.npy`` (when present) and
    ``summary.json`` (``summary`` plus the list of files) into ``out``, each atomically."""
    from . import _io

    files = {"indices.npy": sel.indices, "gains.npy": sel.gains}
    if sel.weights is not None:
        files["weights.npy"] = sel.weights
    for name, array in files.items():
        _io.save_npy(out / name, array)
    _io.save_json(out / "summary.json", {**summary, "files": list(files)})


def _cmd_scaling(a):
    from .scaling.run import run_scaling

    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    if not methods:
        raise UsageError("--methods must list at least one method")
    paths = run_scaling(
        dataset=a.dataset,
        methods=methods,
        sizes=parse_sizes(a.sizes),
        seeds=a.seeds,
        features=a.features,
        weighted=a.weighted,
        n_rows=a.n_rows,
        max_steps=a.max_steps,
        out_dir=a.out,
        resume=not a.no_resume,
        progress=not a.no_progress,
    )
    for what, p in paths.items():
        print(f"{what}: {p}")
    return 0


def _cmd_demo(a):
    from .demo import demo

    demo(out_dir=a.out, features=a.features, progress=not a.no_progress)
    return 0


def main(argv=None) -> int:
    """Entry point of the ``coresets`` console script; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    handlers = {"select": _cmd_select, "scaling": _cmd_scaling, "demo": _cmd_demo}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("coresets: interrupted", file=sys.stderr)
        return 130
    except MemoryError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        print(f"coresets {args.command}: error: out of memory: {detail}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, ImportError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"coresets {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
