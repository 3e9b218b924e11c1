"""kNN graph benchmark: build time, peak memory and recall@k of coresets.knn.knn_graph.

Data are make_blobs-style (50 centres uniform in [-10, 10]^d, unit-variance
clusters, seed 0), generated in float32 chunks so the data cost n * d * 4 bytes.
Every configuration runs in a fresh subprocess so its peak RSS is its own.

Modes (default: ``--sizes 100000 1000000``, IVF on both, exact peer on 100k):

    python benchmarks/bench_knn.py                      # 100k and 1M x 64-d, k=32
    python benchmarks/bench_knn.py --threshold          # exact vs IVF over n: where "auto" switches
    python benchmarks/bench_knn.py --dim 384 --sizes 1000000   # the 384-d run (slow)
    python benchmarks/bench_knn.py --end-to-end         # 1M -> graph -> facility location 10%
    python benchmarks/bench_knn.py --data embedding --dim 384 --metric cosine --peers \\
        --sizes 100000 1000000                          # embedding-like data, peers in the run

The peer for the graph is exact FAISS search (``index="flat"``): timed in full
where it fits (``--exact-max``, default 100k) and extrapolated as n^2 from the
largest exact run above that. "process CPU s" is the child's user + system
time of the graph build alone: on a shared machine it is steadier than the
wall time. Recall@k is against exact search on ``--queries`` sampled points.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def make_data(n: int, d: int, seed: int = 0, centers: int = 50) -> np.ndarray:
    """make_blobs-style float32 data, generated in chunks to keep peak memory at n * d * 4."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(-10.0, 10.0, size=(centers, d)).astype(np.float32)
    labels = rng.integers(0, centers, size=n)
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        e = min(s + 100_000, n)
        X[s:e] = c[labels[s:e]] + rng.standard_normal((e - s, d), dtype=np.float32)
    return X


def make_embedding_like(n: int, d: int, seed: int = 0, clusters: int = 2000) -> np.ndarray:
    """Vectors with the structure of real sentence/image embeddings, unit rows (cosine).

    Real embeddings are not blobs: their covariance spectrum decays like a power law,
    and they come in many overlapping groups of very different sizes. Here: 2000
    cluster centres and within-cluster noise, both with per-axis scale ``i^-0.8``
    (within-cluster std 0.7x the centres' spread, so clusters overlap), Zipf-like
    cluster sizes (``p_c ~ c^-0.7``), a random rotation, then unit length.
    """
    rng = np.random.default_rng(seed)
    scale = (np.arange(1, d + 1, dtype=np.float32) ** -0.8).astype(np.float32)
    centres = rng.standard_normal((clusters, d), dtype=np.float32) * scale
    p = 1.0 / np.arange(1, clusters + 1) ** 0.7
    labels = rng.choice(clusters, size=n, p=p / p.sum())
    rotation = np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32)
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        e = min(s + 100_000, n)
        noise = rng.standard_normal((e - s, d), dtype=np.float32) * (0.7 * scale)
        X[s:e] = (centres[labels[s:e]] + noise) @ rotation
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


DATA = {"blobs": make_data, "embedding": make_embedding_like}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(cfg: dict) -> dict:
    """One configuration, in this process: returns timings, recall and peak RSS."""
    import faiss

    import coresets.knn as knn
    from coresets.knn import knn_graph, knn_recall

    X = DATA[cfg.get("data", "blobs")](cfg["n"], cfg["dim"])
    data_mib = X.nbytes / 2**20
    peers = _peers(X, cfg) if cfg.get("peers") else {}
    # what the graph's search did: the list search records its tuned plan
    chose = {"index": "flat" if cfg["index"] in ("auto", "flat") else cfg["index"]}
    tune, lists = knn._tune_scan, knn._list_search
    if cfg.get("scan") == "full":  # the previous release: lists scanned in full dimensions
        knn.PROJECTED_SCAN_MIN_DIM = 10**9

    def tune_spy(*a, **kw):
        out = tune(*a, **kw)
        chose.update(nprobe=out.nprobe, share=out.share, dims=out.dims, candidates=out.candidates)
        return out

    def lists_spy(*a, **kw):
        out = lists(*a, **kw)
        if out is not None:
            chose["index"] = "ivf"
        return out

    knn._tune_scan, knn._list_search = tune_spy, lists_spy
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    G = knn_graph(
        X,
        n_neighbors=cfg["k"],
        metric=cfg["metric"],
        index=cfg["index"],
        nprobe=cfg.get("nprobe"),
        random_state=0,
        progress=False,
    )
    build = time.perf_counter() - t0
    cfg = {**cfg, "index": chose["index"], "asked": cfg["index"]}
    out = {**cfg, **chose, **peers, "build_s": build, "data_mib": data_mib, "nnz": int(G.nnz)}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds of the graph build alone (not the data or the peers)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    out["recall"] = knn_recall(X, G, sample=cfg["queries"], metric=cfg["metric"], random_state=1)
    if cfg.get("end_to_end"):
        from coresets.submodular import FacilityLocation, maximize

        t1 = time.perf_counter()
        sel = maximize(FacilityLocation(G), int(0.1 * cfg["n"]), optimizer="lazy")
        out["select_s"] = time.perf_counter() - t1
        out["selected"] = len(sel)
        out["objective"] = sel.objective
        out["total_s"] = out["select_s"] + build
    out["peak_mib"] = _peak_mib()
    out["threads"] = faiss.omp_get_max_threads()
    return out


def _peers(X, cfg, sample: int = 20_000) -> dict:
    """Wall seconds of the peers on ``sample`` queries, scaled to all ``n`` (linear in queries).

    ``exact_s``: exact FAISS search (``faiss.knn``, BLAS). ``faiss_ivf_s``: the IVF path
    of the previous release, FAISS ``IndexIVFFlat`` with nprobe tuned to the same
    recall target (``coresets.knn.build_index(index="ivf")``), its training, filling and
    tuning timed in full and its search scaled; ``faiss_ivf_recall`` on the same queries.
    """
    import faiss

    from coresets.knn import build_index, prepare, search

    n, k = X.shape[0], cfg["k"]
    metric = cfg["metric"]
    X = prepare(X, metric)  # unit rows for cosine, as knn_graph searches them
    fm = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    q = np.sort(np.random.default_rng(2).choice(n, min(n, sample), replace=False))
    t0 = time.perf_counter()
    _, ref = faiss.knn(X[q], X, k, metric=fm)
    exact = (time.perf_counter() - t0) * n / q.size
    t0 = time.perf_counter()
    idx = build_index(X, metric, index="ivf", random_state=0, k=k)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, got = search(idx, X[q], k)
    ivf = built + (time.perf_counter() - t0) * n / q.size
    hits = sum(np.intersect1d(a, b).size for a, b in zip(ref, got, strict=True))
    del idx
    return {"exact_s": exact, "faiss_ivf_s": ivf, "faiss_ivf_recall": hits / ref.size}


def spawn(cfg: dict) -> dict:
    """Run ``cfg`` in a fresh interpreter so peak RSS is per configuration."""
    proc = subprocess.run(
        [sys.executable, __file__, "--_one", json.dumps(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"configuration {cfg} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _plan_text(r: dict) -> str:
    """The index run, with the list search's tuned plan: nprobe, share of n^2, projection."""
    chose = r["index"]
    if "nprobe" in r:
        chose += f" ({r['nprobe']}, {r['share']:.3f}"
        if r["dims"] < r["dim"]:  # projected scan: dimensions scanned, candidates re-ranked
            chose += f"; {r['dims']} dims, {r['candidates']} re-ranked"
        chose += ")"
    return chose


def _row(r: dict, exact: str = "") -> str:
    extra = ""
    if "total_s" in r:
        extra = f" | {r['select_s']:8.1f} | {r['total_s']:8.1f}"
    return (
        f"| {r['n']:>9,} | {r['dim']:>4} | {_plan_text(r)} | {r['build_s']:8.1f} | "
        f"{r['cpu_s']:8.1f} | {r['recall']:6.3f} | {r['peak_mib']:8.0f} | {r['data_mib']:7.0f} | "
        f"{exact:>12}{extra} |"
    )


HEADER = (
    "| n | d | index | graph wall s | process CPU s | recall@k | peak RSS MiB | data MiB "
    "| exact wall s |\n"
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|"
)
HEADER_E2E = (
    "| n | d | index | graph wall s | process CPU s | recall@k | peak RSS MiB | data MiB "
    "| exact wall s | select wall s | total wall s |\n"
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


HEADER_PEERS = (
    "| n | d | data | index (nprobe, share of n^2) | graph wall s | process CPU s | recall@k "
    "| peak RSS MiB | exact wall s (scaled) | FAISS IVF wall s (scaled), recall "
    "| exact / graph | FAISS IVF / graph |\n"
    "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _row_peers(r: dict) -> str:
    return (
        f"| {r['n']:>9,} | {r['dim']:>4} | {r['data']} | {_plan_text(r)} | {r['build_s']:8.1f} | "
        f"{r['cpu_s']:8.1f} | {r['recall']:6.3f} | {r['peak_mib']:8.0f} | {r['exact_s']:8.1f} | "
        f"{r['faiss_ivf_s']:8.1f}, {r['faiss_ivf_recall']:.3f} | "
        f"{r['exact_s'] / r['build_s']:5.2f} | {r['faiss_ivf_s'] / r['build_s']:5.2f} |"
    )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--metric", default="euclidean")
    p.add_argument("--index", default="auto")
    p.add_argument("--nprobe", type=int, default=None)
    p.add_argument("--queries", type=int, default=1000, help="rows sampled for recall")
    p.add_argument("--exact-max", type=int, default=100_000, help="largest n timed exactly")
    p.add_argument("--data", choices=sorted(DATA), default="blobs")
    p.add_argument(
        "--scan",
        choices=("auto", "full"),
        default="auto",
        help="full: scan IVF lists in full dimensions only (the previous release)",
    )
    p.add_argument(
        "--peers",
        action="store_true",
        help="time exact FAISS search and FAISS IVF on 20k sampled queries (scaled) in each run",
    )
    p.add_argument("--threshold", action="store_true", help="exact vs IVF over n")
    p.add_argument("--end-to-end", action="store_true", help="1M -> graph -> FL 10%%")
    p.add_argument("--_one", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._one:
        print(json.dumps(run_one(json.loads(args._one))))
        return

    base = dict(
        dim=args.dim, k=args.k, metric=args.metric, queries=args.queries, data=args.data,
        scan=args.scan,
    )  # fmt: skip
    print(
        f"# kNN graph benchmark: {args.data}, k={args.k}, metric={args.metric}, "
        f"{os.cpu_count()} CPUs"
    )
    if args.peers:
        print(HEADER_PEERS)
        for n in sorted(args.sizes):
            r = spawn(dict(base, n=n, index=args.index, nprobe=args.nprobe, peers=True))
            print(_row_peers(r), flush=True)
        return
    if args.threshold:
        print(HEADER)
        for n in args.sizes if args.sizes != [100_000, 1_000_000] else [25_000, 50_000, 100_000]:
            for index in ("flat", "ivf"):
                print(_row(spawn(dict(base, n=n, index=index, nprobe=args.nprobe))), flush=True)
        return
    if args.end_to_end:
        print(HEADER_E2E)
        for n in args.sizes if args.sizes != [100_000, 1_000_000] else [1_000_000]:
            r = spawn(dict(base, n=n, index=args.index, nprobe=args.nprobe, end_to_end=True))
            print(_row(r), flush=True)
        return
    print(HEADER)
    ref = None  # (n, seconds) of the largest exact run, for the n^2 extrapolation
    for n in sorted(args.sizes):
        r = spawn(dict(base, n=n, index=args.index, nprobe=args.nprobe))
        if r["index"] == "flat":
            ref, exact = (n, r["build_s"]), f"{r['build_s']:.1f}"
        elif n <= args.exact_max:
            peer = spawn(dict(base, n=n, index="flat"))
            ref, exact = (n, peer["build_s"]), f"{peer['build_s']:.1f}"
        elif ref is not None:
            exact = f"~{ref[1] * (n / ref[0]) ** 2:.0f} (n^2)"
        else:
            exact = "not run"
        print(_row(r, exact), flush=True)


if __name__ == "__main__":
    main()
