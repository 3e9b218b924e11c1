"""Command line: ``coresets select | embed | knn | scaling | demo``, ``coresets --version``.

Every error a user can cause (a bad path, a bad size, a method that does not exist)
ends the program with one readable line on stderr and exit code 1, not a traceback.

The pieces chain through files::

    coresets embed  --input texts.txt --out emb.npy            # sentence model, offline
    coresets knn    --input emb.npy --n-neighbors 32 --out graph.npz
    coresets select --input graph.npz --n-samples 10% --out sel/   # or --input emb.npy
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


def _nonnegative_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {v}")
    return v


def _n_neighbors(text):
    if text is None or text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or 'auto')") from None


def _fraction(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return v


def _real(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


_SCALING_DATA_HELP = """\
what --dataset accepts (labels may be integers or strings; strings are encoded in sorted
order and the class names kept: the report's class balance names them):
  mnist1d | digits | mnist            offline data sets (mnist1d: --n-rows rows, 80/20)
  data.npz                            arrays X, y and optionally X_test, y_test
  X.npy with --labels y.npy           a pair of .npy files
  DIR with X.npy and y.npy            optionally X_test.npy and y_test.npy beside them
  table.csv | table.parquet           one row per example: --label-column names the
                                      label (default "label"), every other column is a
                                      numeric feature (Parquet: or one list column)
  SHARDS_DIR                          .npy shards (coresets.shards) with --labels
                                      y.npy, or Parquet shards with --label-column
Without a test split, --test-fraction (default 0.2) of the rows is held out by a
stratified split seeded with --split-seed (default 0), the same on every run.

Rerunning into the same --out resumes: finished cells are kept, and the plot and report
are drawn from every cell of the table (this run's and earlier ones'), so a rerun with
fewer methods never narrows them.
"""


def _build_parser():
    from . import __version__

    p = argparse.ArgumentParser(
        prog="coresets", description="Choose which training examples to keep, and prove it."
    )
    p.add_argument("--version", action="version", version=f"coresets {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser(
        "select",
        help="select a coreset from .npy embeddings, a .npz kNN graph or a shard directory",
        description="Select a coreset. Methods: every registered selector (see --method).",
    )
    s.add_argument(
        "--input",
        required=True,
        help="embeddings .npy (n, d), a kNN graph .npz written by `coresets knn` "
        "(selection on the graph as a precomputed similarity), or a directory of shards",
    )
    s.add_argument("--n-samples", required=True, help="rows to keep: 500, 0.1 or 10%%")
    s.add_argument(
        "--method",
        default="facility-location",
        help="facility-location (default), graph-cut, saturated-coverage, feature-based, "
        "k-center, herding, random, ccs, d2, moderate, prototype, the per-class variants "
        "and any name registered with coresets.selectors.register_method",
    )
    s.add_argument(
        "--n-neighbors", type=_n_neighbors, default=None, help="sparse kNN graph: int or 'auto'"
    )
    s.add_argument(
        "--metric",
        default=None,
        choices=["euclidean", "cosine", "dot"],
        help="distance of the embeddings (dot: raw inner product); not for a .npz graph",
    )
    s.add_argument("--labels", default=None, help=".npy of labels (n,), for --per-class")
    s.add_argument(
        "--per-class", action="store_true", help="select within each class (needs --labels)"
    )
    s.add_argument("--optimizer", default=None, help="lazy, naive, stochastic or approximate-lazy")
    s.add_argument("--lam", type=_real, default=None, help="graph-cut: coverage weight")
    s.add_argument("--alpha", type=_real, default=None, help="saturated-coverage: saturation")
    s.add_argument("--concave", default=None, help="feature-based: sqrt, log or inverse")
    s.add_argument("--scores", default=None, help="ccs, d2: .npy of difficulty scores (n,)")
    s.add_argument("--hard-prune", type=_real, default=None, help="ccs, d2: hardest share cut")
    s.add_argument(
        "--seed", type=int, default=0, help="random_state of the selector and the kNN index"
    )
    s.add_argument("--scheduler", default=None, help="Dask scheduler address (shard directories)")
    s.add_argument("--checkpoint-dir", default=None, help="resume point for shard directories")
    s.add_argument("--out", required=True, help="output directory")
    s.add_argument("--no-progress", action="store_true")

    e = sub.add_parser(
        "embed",
        help="embed a text file (one text per line) or a .npy array into an embeddings .npy",
    )
    e.add_argument(
        "--input",
        required=True,
        help="a UTF-8 text file, one text per line (row i = line i + 1), or a .npy array",
    )
    e.add_argument("--out", required=True, help="embeddings .npy to write (float32, (n, d))")
    e.add_argument(
        "--model",
        default=None,
        help="text: all-MiniLM-L6-v2 (default, ships offline with coresets[text]); .npy: a "
        "torch.export .pt2 file, a TorchScript file, or module:attribute naming a torch "
        "module or a callable (batch tensor -> embeddings)",
    )
    e.add_argument("--batch-size", type=_positive_int, default=None)
    e.add_argument("--device", default="auto", help="auto, cpu or cuda")
    e.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="L2-normalise the embeddings (default: yes for text, no for .npy)",
    )
    e.add_argument("--no-progress", action="store_true")

    k = sub.add_parser("knn", help="FAISS kNN similarity graph of .npy embeddings, as .npz")
    k.add_argument("--input", required=True, help="embeddings .npy (n, d)")
    k.add_argument("--out", required=True, help="graph .npz (scipy.sparse.save_npz, CSR)")
    k.add_argument("--n-neighbors", type=_positive_int, default=32, help="self included")
    k.add_argument("--metric", default="cosine", choices=["cosine", "euclidean", "dot"])
    k.add_argument("--index", default="auto", choices=["auto", "flat", "ivf", "hnsw"])
    k.add_argument("--nprobe", type=_positive_int, default=None, help="default: tuned")
    k.add_argument("--seed", type=int, default=0, help="random_state of the index")
    k.add_argument(
        "--recall-sample",
        type=_nonnegative_int,
        default=1000,
        help="rows whose neighbours are checked against exact search (0: skip)",
    )
    k.add_argument("--device", default="auto", help="auto, cpu or cuda")
    k.add_argument("--no-progress", action="store_true")

    u = sub.add_parser(
        "dedup", help="semantic near-duplicate removal (SemDeDup) of .npy embeddings or shards"
    )
    u.add_argument("--input", required=True, help="embeddings .npy (n, d) or a shard directory")
    u.add_argument(
        "--out", required=True, help="directory for kept.npy, removed.npy, duplicate_of.npy"
    )
    u.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="cosine similarity above which rows are duplicates (default 0.95); an L2 "
        "distance below which they are with --metric euclidean (required there)",
    )
    u.add_argument("--n-clusters", type=_positive_int, default=None, help="k-means clusters")
    u.add_argument("--metric", default="cosine", choices=["cosine", "euclidean"])
    u.add_argument("--keep", default="farthest", choices=["farthest", "nearest", "random", "first"])
    u.add_argument("--seed", type=int, default=0, help="random_state of the k-means")
    u.add_argument("--device", default="auto", help="auto, cpu or cuda")
    u.add_argument("--no-progress", action="store_true")

    c = sub.add_parser(
        "scaling",
        help="scaling curves: methods vs random at several subset sizes",
        epilog=_SCALING_DATA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument(
        "--dataset",
        default="mnist1d",
        help="a name (mnist1d, digits, mnist) or a path: .npz, .npy, a directory, .csv, "
        ".parquet or shards (see below)",
    )
    c.add_argument("--labels", default=None, help="labels .npy for an X .npy or .npy shards")
    c.add_argument(
        "--label-column", default=None, help='CSV/Parquet label column (default "label")'
    )
    c.add_argument(
        "--test-fraction",
        type=_fraction,
        default=None,
        help="held-out share when the data has no test split (default 0.2)",
    )
    c.add_argument(
        "--split-seed", type=int, default=0, help="seed of that split and of digits/mnist"
    )
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


# ---------------------------------------------------------------------- select
def _cmd_select(a):
    path = Path(a.input)
    if not path.exists():
        raise UsageError(f"--input {path} does not exist")
    t0 = time.perf_counter()
    if path.is_dir():
        sel, n_rows = _select_shards(a)
        searches = []
    else:
        sel, n_rows, searches = _select_array(a)
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
    if searches:  # the kNN graphs the selection ran on: index used, sampled recall
        summary["knn_graphs"] = [s.to_dict() for s in searches]
    out = Path(a.out)
    _write_selection(out, sel, summary)
    approx = [s for s in searches if s.index != "flat"]
    note = ""
    if approx:
        worst = min(approx, key=lambda s: s.recall)
        note = (
            f" (kNN graph: {worst.index}, recall {worst.recall:.3f} on {worst.sample} sampled rows)"
        )
    print(
        f"selected {len(sel)} rows in {elapsed:.2f} s{note} -> {out}/indices.npy "
        "(summary.json beside it)"
    )
    return 0


#: select options that set a selector parameter of the same meaning: (flag, parameter).
_SELECT_OPTIONS = (
    ("--n-neighbors", "n_neighbors"),
    ("--metric", "metric"),
    ("--per-class", "per_class"),
    ("--optimizer", "optimizer"),
    ("--lam", "lam"),
    ("--alpha", "alpha"),
    ("--concave", "concave"),
    ("--hard-prune", "hard_prune"),
)


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
    for flag, key in _SELECT_OPTIONS[3:] + (("--scores", "scores"),):
        if getattr(a, key) is not None:
            raise UsageError(f"{flag} does not apply to shard directories")
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


def _read_npy(path, flag):
    from . import _io

    try:
        return _io.load_npy(path, mmap=True)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{flag} {path} could not be read as .npy: {exc}") from None


def _read_graph(path):
    """The CSR similarity graph in the ``.npz`` at ``path`` (``coresets knn``'s output)."""
    import zipfile

    import scipy.sparse as sp

    try:
        with np.load(path, allow_pickle=False) as z:
            names = sorted(z.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UsageError(f"--input {path} could not be read as .npz: {exc}") from None
    if not {"format", "shape", "data", "indices", "indptr"} <= set(names):
        raise UsageError(
            f"--input {path} holds arrays {names}, not a sparse graph; pass embeddings as "
            "a .npy (np.save) or a graph written by `coresets knn`"
        )
    try:
        return sp.load_npz(path).tocsr()  # scipy reads it with allow_pickle=False
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"--input {path} is not a readable sparse graph: {exc}") from None


def _select_array(a):
    """``(Selection, n_rows)`` from an ``.npy`` of embeddings or a ``.npz`` graph."""
    from .selectors.registry import make_selector

    if a.scheduler or a.checkpoint_dir:
        raise UsageError("--scheduler/--checkpoint-dir apply to shard directories only")
    n_samples = parse_size(a.n_samples)
    graph = Path(a.input).suffix.lower() == ".npz"
    if graph:
        for flag, val in (("--metric", a.metric), ("--n-neighbors", a.n_neighbors)):
            if val is not None:
                raise UsageError(
                    f"{flag} does not apply to a .npz graph (its similarities are given); "
                    "set it when building the graph with `coresets knn`"
                )
        X = _read_graph(a.input)
    else:
        X = _read_npy(a.input, "--input")
    y = None if a.labels is None else _read_npy(a.labels, "--labels")
    if a.per_class and y is None:
        raise UsageError("--per-class needs --labels")
    est = make_selector(a.method, n_samples, random_state=a.seed, progress=not a.no_progress)
    params = est.get_params()
    if graph:
        if not getattr(est, "_supports_precomputed", False):
            raise UsageError(f"--method {a.method} needs embeddings (.npy), not a .npz graph")
        est.set_params(metric="precomputed")
    options = [(flag, key, getattr(a, key)) for flag, key in _SELECT_OPTIONS]
    options[2] = ("--per-class", "per_class", a.per_class or None)
    if a.scores is not None:
        options.append(("--scores", "scores", np.asarray(_read_npy(a.scores, "--scores"))))
    for opt, key, val in options:
        if val is None:
            continue
        if key not in params:
            raise UsageError(f"{opt} does not apply to --method {a.method}")
        est.set_params(**{key: val})
    est.fit(X, y)
    searches = list(getattr(est, "graph_searches_", []))
    return est.selection_, int(X.shape[0]) if X.ndim else 0, searches


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


# ---------------------------------------------------------------------- embed
def _read_texts(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--input {path} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--input {path} could not be read: {exc}") from None
    texts = text.splitlines()
    if not texts:
        raise UsageError(f"--input {path} holds no lines of text")
    return texts


def _load_model(spec):
    """A torch module or callable: an exported ``.pt2``, TorchScript, or ``module:attribute``."""
    import importlib

    path = Path(spec)
    if path.is_file():
        import warnings

        import torch

        try:
            if path.suffix == ".pt2":  # torch.export.save
                exported = torch.export.load(str(path)).module()
                # an exported module refuses eval(), which embed calls on modules: hand it
                # over as a plain callable (it runs where its weights were exported)
                return lambda batch: exported(batch)
            with warnings.catch_warnings():  # TorchScript is deprecated, still widely saved
                warnings.simplefilter("ignore", DeprecationWarning)
                return torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise UsageError(
                f"--model {spec} is not a model saved by torch.export.save (.pt2) or "
                f"torch.jit.save: {first}"
            ) from None
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise UsageError(
            f"--model {spec!r} is neither a file nor module:attribute (e.g. mypkg.nets:encoder)"
        )
    try:
        obj = importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"--model {spec}: module {module!r} could not be imported: {exc}"
        ) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"--model {spec}: {module} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"--model {spec} is a {type(obj).__name__}, not a module or callable")
    return obj


def _cmd_embed(a):
    from . import _io

    path = Path(a.input)
    if not path.is_file():
        raise UsageError(f"--input {path} does not exist or is not a file")
    out = Path(a.out)
    if out.suffix != ".npy":
        raise UsageError(f"--out must name a .npy file, got {out}")
    t0 = time.perf_counter()
    if path.suffix.lower() == ".npy":
        from .embed import embed

        if a.model is None:
            raise UsageError(
                "--model is required for .npy input: a torch.export .pt2 file, a TorchScript "
                "file or module:attribute naming a torch module or callable"
            )
        data = np.array(_read_npy(path, "--input"))  # a writable copy for torch
        emb = embed(
            _load_model(a.model),
            data,
            batch_size=a.batch_size or 256,
            device=a.device,
            normalize=bool(a.normalize),
            progress=not a.no_progress,
        )
    else:
        from .embed import sentence_embeddings

        emb = sentence_embeddings(
            _read_texts(path),
            a.model or "all-MiniLM-L6-v2",
            batch_size=a.batch_size or 64,
            device=a.device,
            normalize=a.normalize is not False,
            progress=not a.no_progress,
        )
    _io.save_npy(out, emb)
    elapsed = time.perf_counter() - t0
    print(f"embedded {emb.shape[0]} rows into {emb.shape[1]} dims in {elapsed:.2f} s -> {out}")
    return 0


# ---------------------------------------------------------------------- knn
def _cmd_dedup(a):
    from . import _io
    from .dedup import semantic_duplicates

    path = Path(a.input)
    if not path.exists():
        raise UsageError(f"--input {path} does not exist")
    X = path if path.is_dir() else np.asarray(_read_npy(path, "--input"))
    t0 = time.perf_counter()
    dup = semantic_duplicates(
        X,
        threshold=a.threshold,
        n_clusters=a.n_clusters,
        metric=a.metric,
        keep=a.keep,
        random_state=a.seed,
        device=a.device,
        progress=not a.no_progress,
    )
    elapsed = time.perf_counter() - t0
    out = Path(a.out)
    files = {"kept.npy": dup.kept, "removed.npy": dup.removed, "duplicate_of.npy": dup.duplicate_of}
    for name, array in files.items():
        _io.save_npy(out / name, array)
    n = len(dup.kept) + len(dup.removed)
    _io.save_json(
        out / "summary.json",
        {"n_rows": n, "kept": len(dup.kept), "removed": len(dup.removed), "seconds": elapsed,
         "threshold": a.threshold, "metric": a.metric, "keep": a.keep, "files": list(files)},
    )  # fmt: skip
    print(
        f"kept {len(dup.kept)} of {n} rows ({len(dup.removed)} duplicates) in {elapsed:.2f} s -> {out}"
    )
    return 0


def _cmd_knn(a):
    import scipy.sparse as sp

    from ._io import atomic_path
    from .knn import knn_graph, knn_recall

    out = Path(a.out)
    if out.suffix != ".npz":
        raise UsageError(f"--out must name a .npz file, got {out}")
    path = Path(a.input)
    if not path.is_file():
        raise UsageError(f"--input {path} does not exist or is not a file")
    X = np.asarray(_read_npy(path, "--input"))
    t0 = time.perf_counter()
    G, found = knn_graph(
        X,
        n_neighbors=a.n_neighbors,
        metric=a.metric,
        index=a.index,
        nprobe=a.nprobe,
        device=a.device,
        random_state=a.seed,
        progress=not a.no_progress,
        return_search=True,
    )
    elapsed = time.perf_counter() - t0
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:  # a handle: no ".npz" appended
        sp.save_npz(fh, G, compressed=False)
    line = f"kNN graph of {G.shape[0]} rows, {G.nnz} edges in {elapsed:.2f} s -> {out}"
    # the search actually run, and (approximate ones) the built graph's sampled recall
    line += f"; index {found.index}"
    if found.sample:
        line += f", recall {found.recall:.3f} on {found.sample} sampled rows"
    if a.recall_sample:
        recall = knn_recall(X, G, sample=a.recall_sample, metric=a.metric, random_state=a.seed)
        line += f" (recall {recall:.3f} on {min(a.recall_sample, G.shape[0])} sampled rows)"
    print(line)
    return 0


# ---------------------------------------------------------------------- scaling
def _cmd_scaling(a):
    from .scaling.datasets import load_dataset
    from .scaling.run import run_scaling

    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    if not methods:
        raise UsageError("--methods must list at least one method")
    sizes = parse_sizes(a.sizes)
    try:
        data = load_dataset(
            a.dataset,
            n_rows=a.n_rows,
            labels=a.labels,
            label_column=a.label_column,
            test_fraction=a.test_fraction,
            random_state=a.split_seed,
        )
    except ValueError as exc:  # "name" is load_dataset's argument; here it is --dataset
        msg = str(exc)
        raise UsageError(msg[len("name: ") :] if msg.startswith("name: ") else msg) from None
    try:
        paths = run_scaling(
            dataset=data,
            methods=methods,
            sizes=sizes,
            seeds=a.seeds,
            features=a.features,
            weighted=a.weighted,
            max_steps=a.max_steps,
            out_dir=a.out,
            resume=not a.no_resume,
            progress=not a.no_progress,
        )
    except ValueError as exc:  # the library names its arguments; say the flags instead
        msg = str(exc).replace("resume=False", "--no-resume").replace("out_dir", "--out")
        raise UsageError(msg) from None
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
    handlers = {
        "select": _cmd_select,
        "embed": _cmd_embed,
        "knn": _cmd_knn,
        "dedup": _cmd_dedup,
        "scaling": _cmd_scaling,
        "demo": _cmd_demo,
    }
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
