"""Hugging Face ``datasets``: reading embeddings and returning a selected subset.

Compares, in the same run, what ``coresets.integrations.hf_datasets`` does against what a
user of ``datasets`` would write:

* reading the embedding column: ``dataset_embeddings`` (one Arrow read) against
  ``ds.with_format("numpy")[:]["embedding"]``;
* returning the subset: ``select_dataset`` (sorted ids, then one contiguous table) against
  ``ds.select(ranking)`` (an indices mapping in greedy order), and the cost of reading the
  result afterwards, whole and in 256-row batches as a training loop would.

The data set is saved to disk and reloaded (memory-mapped Arrow), as a real one would be.
Times are the best of three where the step is repeatable.

    python benchmarks/bench_hf_datasets.py --rows 200000 --dim 128 --select 20000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def _best(fn, reps=3):
    best, out = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--select", type=int, default=20_000)
    args = p.parse_args(argv)

    import datasets

    from coresets.integrations.hf_datasets import dataset_embeddings, select_dataset

    datasets.disable_progress_bars()
    n, d, k = args.rows, args.dim, args.select
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    ranking = rng.permutation(n)[:k]  # a greedy order: not sorted
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ds")
        datasets.Dataset.from_dict({"embedding": X, "label": rng.integers(0, 10, n)}).save_to_disk(
            path
        )
        ds = datasets.load_from_disk(path)
        read_ours, E = _best(lambda: dataset_embeddings(ds))
        assert np.array_equal(E, X)
        read_peer, E = _best(lambda: ds.with_format("numpy")[:]["embedding"])
        assert np.array_equal(E, X)
        sel_ours, ours = _best(lambda: select_dataset(ds, ranking), reps=1)
        sel_mem, mem = _best(lambda: select_dataset(ds, ranking, keep_in_memory=True), reps=1)
        sel_peer, peer = _best(lambda: ds.select(ranking), reps=1)
        assert np.array_equal(dataset_embeddings(ours), X[np.sort(ranking)])
        assert np.array_equal(dataset_embeddings(mem), X[np.sort(ranking)])
        rows = {}
        for name, sub in (("select_dataset", ours), ("ds.select(ranking)", peer)):
            whole, _ = _best(lambda sub=sub: dataset_embeddings(sub))
            batches, _ = _best(
                lambda sub=sub: [sub[i : i + 256]["embedding"] for i in range(0, k, 256)], reps=1
            )
            rows[name] = (whole, batches)

    print(
        f"# Hugging Face datasets: {n:,} x {d} float32 on disk, select {k:,}, {os.cpu_count()} CPUs"
    )
    print("| step | coresets | datasets as users write it | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| read the embedding column | {read_ours:.3f} s | {read_peer:.3f} s "
          f"| {read_peer / read_ours:.1f}x |")  # fmt: skip
    print(f"| return the subset (to a cache file) | {sel_ours:.3f} s | {sel_peer:.3f} s "
          f"| {sel_peer / sel_ours:.2f}x |")  # fmt: skip
    print(f"| return the subset (`keep_in_memory=True`) | {sel_mem:.3f} s | {sel_peer:.3f} s "
          f"| {sel_peer / sel_mem:.2f}x |")  # fmt: skip
    (ow, ob), (pw, pb) = rows["select_dataset"], rows["ds.select(ranking)"]
    print(f"| read the subset's column | {ow:.4f} s | {pw:.4f} s | {pw / ow:.1f}x |")
    print(f"| read the subset in 256-row batches | {ob:.3f} s | {pb:.3f} s | {pb / ob:.1f}x |")


if __name__ == "__main__":
    main()
