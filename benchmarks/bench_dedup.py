"""Semantic dedup (SemDeDup) against a brute-force all-pairs reference, and at scale.

Data: clustered embeddings (``--blobs`` centres on the sphere, within-blob cosine about
0.5) with planted near-duplicates (noisy copies, cosine about 0.99 to their source) and
exact copies, shuffled. Duplicates are pairs with cosine > ``--threshold``.

Reference: every pair compared (float32 GEMM over the upper triangle in blocks; every pair
within 1e-3 of the threshold decided again in float64), with the global priority
``keep="first"`` (a row goes when an earlier row duplicates it), which is SemDeDup with a
single cluster. ``semantic_duplicates(keep="first")`` is compared with it twice:

* ``same``: the reference restricted to pairs inside our clusters must give exactly our
  removals (the kernel is exact when the clusters cover the pairs);
* ``recall``: our removals over the global reference's (ours are always a subset), and
  ``split``: the share of duplicate pairs whose rows fall into different clusters (the
  pairs the clustering cannot see, as in the paper).

Run::

    python benchmarks/bench_dedup.py                        # 100k x {64, 384} with reference
    python benchmarks/bench_dedup.py --n 1000000 --dims 64 --no-reference
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from coresets.dedup import semantic_duplicates


def make_data(n, d, *, blobs=1000, near=0.1, exact=0.05, seed=0):
    """``n`` rows: blob points, then ``near * n`` noisy and ``exact * n`` exact copies."""
    rng = np.random.default_rng(seed)
    n_near, n_exact = int(near * n), int(exact * n)
    n_base = n - n_near - n_exact
    centres = rng.normal(size=(blobs, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    X = np.empty((n, d), dtype=np.float32)
    for lo in range(0, n_base, 1 << 16):  # in blocks: no float64 temporaries of n x d
        hi = min(lo + (1 << 16), n_base)
        noise = rng.normal(size=(hi - lo, d)).astype(np.float32) / np.float32(np.sqrt(d))
        X[lo:hi] = centres[rng.integers(0, blobs, hi - lo)] + noise
    src = rng.integers(0, n_base, n_near)
    scale = np.float32(0.15 / np.sqrt(d))
    X[n_base : n_base + n_near] = X[src] + scale * rng.normal(size=(n_near, d)).astype(np.float32)
    X[n_base + n_near :] = X[rng.integers(0, n_base + n_near, n_exact)]
    return X[rng.permutation(n)]


def duplicate_pairs(X, threshold, block=4096, band=1e-3):
    """All pairs ``i < j`` with cosine > ``threshold``: float32 blocks, band in float64."""
    X64 = X.astype(np.float64)
    norms = np.linalg.norm(X64, axis=1)
    U = (X64 / norms[:, None]).astype(np.float32)
    n = X.shape[0]
    rows, cols = [], []
    for j0 in range(0, n, block):
        Uj = U[j0 : j0 + block]
        for i0 in range(0, j0 + block, block):
            S = U[i0 : i0 + block] @ Uj.T
            r, c = np.nonzero(S > threshold - band)
            r, c = r + i0, c + j0
            upper = r < c
            r, c = r[upper], c[upper]
            exact = np.einsum("ij,ij->i", X64[r], X64[c]) / (norms[r] * norms[c])
            yes = exact > threshold
            rows.append(r[yes])
            cols.append(c[yes])
    return np.concatenate(rows), np.concatenate(cols)


def first_rule(n, rows, cols):
    """Removed rows under ``keep="first"``: those with an earlier duplicate."""
    removed = np.zeros(n, dtype=bool)
    removed[cols] = True
    return removed


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run(n, d, threshold, n_clusters, seed, reference):
    X = make_data(n, d, seed=seed)
    t0 = time.perf_counter()
    dup = semantic_duplicates(
        X, threshold=threshold, keep="first", n_clusters=n_clusters, random_state=seed, device="cpu"
    )
    t_ours = time.perf_counter() - t0
    row = {
        "n": n,
        "d": d,
        "clusters": dup.n_clusters,
        "removed": dup.removed.size,
        "ours_s": t_ours,
        "peak_rss_gib": peak_rss_gib(),
        "data_gib": X.nbytes / 1024**3,
    }
    if reference:
        t0 = time.perf_counter()
        r, c = duplicate_pairs(X, threshold)
        row["ref_s"] = time.perf_counter() - t0
        ours = np.zeros(n, dtype=bool)
        ours[dup.removed] = True
        glob = first_rule(n, r, c)
        inside = dup.labels[r] == dup.labels[c]
        row["same"] = bool(np.array_equal(first_rule(n, r[inside], c[inside]), ours))
        row["ref_removed"] = int(glob.sum())
        row["subset"] = bool(not (ours & ~glob).any())
        row["recall"] = ours.sum() / max(1, glob.sum())
        row["pairs"] = r.size
        row["split"] = 1.0 - inside.mean() if r.size else 0.0
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[100_000])
    p.add_argument("--dims", type=int, nargs="+", default=[64, 384])
    p.add_argument("--threshold", type=float, default=0.98)
    p.add_argument("--n-clusters", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-reference", dest="reference", action="store_false")
    args = p.parse_args(argv)
    rows = []
    cols = ["n", "d", "clusters", "removed", "ours_s", "peak_rss_gib", "data_gib"]
    if args.reference:
        cols += ["ref_s", "ref_removed", "same", "subset", "recall", "pairs", "split"]
    print(" | ".join(cols))
    for n in args.n:
        for d in args.dims:
            row = run(n, d, args.threshold, args.n_clusters, args.seed, args.reference)
            rows.append(row)
            print(
                " | ".join(
                    f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in cols
                ),
                flush=True,
            )
    return rows


if __name__ == "__main__":
    main()
