"""Selection over sharded data: quality against centralised greedy, and memory at 10M rows.

Parts (``--parts``, comma separated):

``quality``  N = ``--n-quality`` rows of 64-d blobs in shards. Centralised lazy greedy on
             the full kNN graph versus the algorithms of ``--methods`` from the shards
             (one row per algorithm object: ``greedi`` = ``RandGreeDi()``, ``sample`` =
             ``SampleGreedy()``, ``sieve`` = ``SieveStreaming()``), all scored as
             facility location on that same centralised graph, computed once per run
             (random subsets as the floor).
``dask``     The RandGreeDi run of ``quality`` again on a 2-worker LocalCluster: the
             selection must be identical to the in-process one.
``big``      N = ``--n-big`` rows (default 10M x 64 float32, ~2.5 GB of shards, generated
             chunk by chunk, never whole in memory), select ``--frac``; wall time and peak
             RSS (this process and its children, ``resource.getrusage``).

Data go to ``--data-dir`` (default ``benchmarks/_data/streaming``, gitignored) and are
deleted at the end unless ``--keep``.

    python benchmarks/bench_streaming.py --parts quality,dask          # 1M quality
    python benchmarks/bench_streaming.py --parts big                   # 10M memory/time
    python benchmarks/bench_streaming.py --parts quality --methods sample,sieve   # one-pass rows
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np


def make_shards(out: Path, n: int, dim: int, shard_size: int, n_centers: int, seed: int) -> None:
    """Write ``n`` rows of Gaussian blobs as ``.npy`` shards, one chunk in memory at a time."""
    from coresets._io import save_npy

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_centers, dim)).astype(np.float32)
    scales = rng.uniform(0.2, 0.6, size=n_centers).astype(np.float32)
    for i, start in enumerate(range(0, n, shard_size)):
        m = min(shard_size, n - start)
        labels = rng.integers(n_centers, size=m)
        X = centers[labels] + scales[labels, None] * rng.standard_normal((m, dim), dtype=np.float32)
        save_npy(out / f"shard_{i:05d}.npy", X)


def peak_rss_gib() -> float:
    """Peak resident set size of this process or any child it waited for (GiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024**2  # ru_maxrss is in KiB on Linux


def quality(args, data_dir: Path, rows: list) -> dict:
    from coresets.knn import knn_graph
    from coresets.shards import open_shards
    from coresets.streaming import RandGreeDi, SampleGreedy, SieveStreaming, select_from_shards
    from coresets.submodular import FacilityLocation, maximize

    path = data_dir / "quality"
    make_shards(path, args.n_quality, args.dim, args.shard_size, args.centers, seed=1)
    data = open_shards(path)
    n = data.n_rows
    k = max(1, int(round(args.frac * n)))
    X = data.take(np.arange(n))
    t = time.perf_counter()
    graph = knn_graph(X, n_neighbors=args.n_neighbors, metric="cosine", random_state=0)
    del X
    f = FacilityLocation(graph)
    central = maximize(f, k, "lazy")
    t_central = time.perf_counter() - t
    ref = central.objective
    rows.append(("centralised lazy greedy", n, k, ref, 1.0, t_central))

    out = {}
    size = "" if args.sample_size is None else f"sample_size={args.sample_size}"
    algorithms = {
        "greedi": ("RandGreeDi (in-process)", RandGreeDi(partition_size=args.partition_size)),
        "sample": (f"SampleGreedy({size}) (one pass)", SampleGreedy(sample_size=args.sample_size)),
        "sieve": (
            f"SieveStreaming({size}) (one pass)",
            SieveStreaming(sample_size=args.sample_size),
        ),
    }
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(algorithms))
    if unknown:
        sys.exit(f"--methods: unknown {unknown}; choose from {sorted(algorithms)}")
    # one row per algorithm object, all against the same centralised reference
    runs = [algorithms[m] for m in methods]
    for name, algorithm in runs:
        t = time.perf_counter()
        sel = select_from_shards(path, k, algorithm=algorithm, weighting="sample", random_state=0)
        dt = time.perf_counter() - t
        value = f.evaluate(sel.indices)
        rows.append((name, n, k, value, value / ref, dt))
        out[name] = sel
    rng = np.random.default_rng(0)
    value = np.mean([f.evaluate(rng.choice(n, k, replace=False)) for _ in range(3)])
    rows.append(("random (mean of 3)", n, k, value, value / ref, 0.0))
    out["path"], out["k"], out["f"], out["ref"] = path, k, f, ref
    return out


def dask_part(args, q: dict, rows: list) -> None:
    from distributed import Client, LocalCluster

    from coresets.streaming import RandGreeDi, select_from_shards

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        t = time.perf_counter()
        sel = select_from_shards(q["path"], q["k"], random_state=0, weighting="sample",
                                 algorithm=RandGreeDi(partition_size=args.partition_size),
                                 client=client)  # fmt: skip
        dt = time.perf_counter() - t
    value = q["f"].evaluate(sel.indices)
    same = np.array_equal(sel.indices, q["RandGreeDi (in-process)"].indices)
    rows.append(("RandGreeDi (2-worker LocalCluster)", len(q["f"].similarity.indptr) - 1, q["k"],
                 value, value / q["ref"], dt))  # fmt: skip
    print(f"LocalCluster selection identical to in-process: {same}")
    if not same:
        sys.exit(1)


def big(args, data_dir: Path) -> None:
    from coresets.streaming import RandGreeDi, select_from_shards

    path = data_dir / "big"
    t = time.perf_counter()
    make_shards(path, args.n_big, args.dim, args.shard_size, args.centers, seed=2)
    t_gen = time.perf_counter() - t
    size = sum(p.stat().st_size for p in path.glob("*.npy")) / 1024**3
    print(f"generated {args.n_big:,} x {args.dim} in {t_gen:.0f} s ({size:.2f} GiB on disk); "
          f"peak RSS so far {peak_rss_gib():.2f} GiB")  # fmt: skip
    k = max(1, int(round(args.frac * args.n_big)))
    t = time.perf_counter()
    sel = select_from_shards(path, k, random_state=0, progress=args.progress, weighting="sample",
                             algorithm=RandGreeDi(partition_size=args.partition_size),
                             checkpoint_dir=data_dir / "big_ckpt")  # fmt: skip
    dt = time.perf_counter() - t
    rss = peak_rss_gib()
    print()
    print("| rows | k | partitions | time (s) | peak RSS (GiB) | weights sum |")
    print("|---:|---:|---:|---:|---:|---:|")
    n_parts = int(np.ceil(args.n_big / args.partition_size))
    print(
        f"| {args.n_big:,} | {k:,} | {n_parts} | {dt:.0f} | {rss:.2f} | {sel.weights.sum():,.0f} |"
    )
    ok = rss <= 2.0
    print(f"peak RSS <= 2 GiB: {ok}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--parts", default="quality,dask", help="quality, dask, big (comma separated)")
    p.add_argument("--n-quality", type=int, default=1_000_000)
    p.add_argument("--n-big", type=int, default=10_000_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--frac", type=float, default=0.01)
    p.add_argument("--centers", type=int, default=1000)
    p.add_argument("--shard-size", type=int, default=250_000)
    p.add_argument("--partition-size", type=int, default=500_000)
    p.add_argument("--sample-size", type=int, default=None,
                   help="held sample of sample and sieve (default: each one's own, max(10 k, 10_000))")  # fmt: skip
    p.add_argument("--n-neighbors", type=int, default=32)
    p.add_argument("--methods", default="greedi,sample,sieve",
                   help="quality part, one row each in this order: greedi, sample, sieve")  # fmt: skip
    p.add_argument("--data-dir", default=str(Path(__file__).parent / "_data" / "streaming"))
    p.add_argument("--keep", action="store_true", help="keep the generated shards")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    parts = set(args.parts.split(","))
    data_dir = Path(args.data_dir)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    print(f"cores: {os.cpu_count()}, parts: {sorted(parts)}")
    try:
        if parts & {"quality", "dask"}:
            rows = []
            q = quality(args, data_dir, rows)
            if "dask" in parts:
                if "RandGreeDi (in-process)" not in q:
                    sys.exit(
                        "--parts dask compares with the in-process RandGreeDi: keep greedi in --methods"
                    )
                dask_part(args, q, rows)
            print()
            print("| method | N | k | objective on centralised kNN graph | ratio | time (s) |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, n, k, value, ratio, dt in rows:
                print(f"| {name} | {n:,} | {k:,} | {value:,.1f} | {ratio:.4f} | {dt:.1f} |")
            del q
        if "big" in parts:
            big(args, data_dir)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
