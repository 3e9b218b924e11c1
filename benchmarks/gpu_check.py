"""GPU paths against CPU paths: agreement and speed-up. Run it on a machine with a GPU.

    python benchmarks/gpu_check.py            # defaults sized for one modern GPU
    python benchmarks/gpu_check.py --quick    # small sizes, a smoke test

Checks, each GPU vs CPU in the same run:

1. exact kNN graph (FAISS ``IndexFlat`` on GPU vs CPU): share of rows with the
   same neighbour set, largest similarity difference, and times;
2. IVF kNN graph (GPU vs CPU IVF): recall@k of each against exact search;
3. dense facility location in torch on CUDA vs the numpy/numba CPU kernels:
   identical greedy selections and objectives, and times;
4. ``embed`` of an MLP on CUDA (with and without AMP) vs the CPU.

Without CUDA or a GPU build of FAISS it says which is missing and skips those
checks (exit status 0), so it runs anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def _blobs(n, d, seed=0, centers=50):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-10, 10, (centers, d)).astype(np.float32)
    return c[rng.integers(0, centers, n)] + rng.standard_normal((n, d), dtype=np.float32)


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def check_knn(n: int, d: int, k: int, index: str) -> None:
    from coresets.knn import knn_graph, knn_recall

    X = _blobs(n, d)

    def graph(device):
        return knn_graph(
            X, n_neighbors=k, metric="euclidean", index=index, device=device, random_state=0
        )

    g_gpu, t_gpu = _timed(lambda: graph("cuda"))
    g_cpu, t_cpu = _timed(lambda: graph("cpu"))
    same_rows = np.mean(
        [
            np.array_equal(
                g_gpu.indices[g_gpu.indptr[i] : g_gpu.indptr[i + 1]],
                g_cpu.indices[g_cpu.indptr[i] : g_cpu.indptr[i + 1]],
            )
            for i in range(n)
        ]
    )
    line = (
        f"knn {index:5s} n={n:>9,} d={d} k={k}: GPU {t_gpu:7.2f} s, CPU {t_cpu:7.2f} s, "
        f"speed-up {t_cpu / t_gpu:6.1f}x, rows with identical neighbours {same_rows:.4f}"
    )
    if index == "flat":
        diff = abs(g_gpu - g_cpu).max() if same_rows == 1.0 else float("nan")
        line += f", max |sim diff| {diff:.2e}"
    else:
        r_gpu = knn_recall(X, g_gpu, sample=1000, metric="euclidean", random_state=1)
        r_cpu = knn_recall(X, g_cpu, sample=1000, metric="euclidean", random_state=1)
        line += f", recall GPU {r_gpu:.3f} CPU {r_cpu:.3f}"
    print(line, flush=True)


def check_facility_location(n: int, k: int) -> None:
    import torch

    from coresets.submodular import FacilityLocation, maximize, similarity

    X = _blobs(n, 32)
    S_cpu = similarity(X, "euclidean")
    S_gpu = torch.from_numpy(S_cpu).cuda()
    sel_gpu, t_gpu = _timed(lambda: maximize(FacilityLocation(S_gpu), k))
    sel_cpu, t_cpu = _timed(lambda: maximize(FacilityLocation(S_cpu), k))
    agree = np.mean(sel_gpu.indices == sel_cpu.indices)
    rel = abs(sel_gpu.objective - sel_cpu.objective) / max(abs(sel_cpu.objective), 1e-300)
    print(
        f"facility location dense n={n:,} k={k}: GPU {t_gpu:7.2f} s, CPU {t_cpu:7.2f} s, "
        f"speed-up {t_cpu / t_gpu:6.1f}x, same picks in order {agree:.4f}, "
        f"objective rel diff {rel:.2e}",
        flush=True,
    )


def check_embed(n: int) -> None:
    import torch

    from coresets.embed import embed

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(256, 1024), torch.nn.GELU(), torch.nn.Linear(1024, 256)
    )
    X = np.random.default_rng(0).standard_normal((n, 256)).astype(np.float32)
    cpu, t_cpu = _timed(lambda: embed(net, X, batch_size=4096, device="cpu", progress=False))
    for amp in (False, True):
        gpu, t_gpu = _timed(
            lambda amp=amp: embed(net, X, batch_size=4096, device="cuda", amp=amp, progress=False)
        )
        err = np.abs(gpu - cpu).max() / np.abs(cpu).max()
        print(
            f"embed MLP n={n:,} amp={amp}: GPU {t_gpu:6.2f} s, CPU {t_cpu:6.2f} s, "
            f"speed-up {t_cpu / t_gpu:6.1f}x, max rel error {err:.1e}",
            flush=True,
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = p.parse_args(argv)

    import faiss
    import torch

    from coresets.knn import faiss_gpu_available

    cuda = torch.cuda.is_available()
    n_gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    print(f"torch {torch.__version__}, CUDA available: {cuda}", flush=True)
    if cuda:
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    print(
        f"faiss {faiss.__version__}, FAISS GPUs: {n_gpus}, CPU threads: {faiss.omp_get_max_threads()}"
    )
    if not cuda:
        print("no CUDA: nothing to compare; skipped")
        return 0
    q = args.quick
    if faiss_gpu_available():
        check_knn(20_000 if q else 200_000, 64, 32, "flat")
        check_knn(50_000 if q else 1_000_000, 64, 32, "ivf")
    else:
        print(
            "FAISS has no GPU support (install the gpu extra: faiss-gpu-cu12): kNN checks skipped"
        )
    check_facility_location(2_000 if q else 20_000, 50 if q else 500)
    check_embed(20_000 if q else 500_000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
