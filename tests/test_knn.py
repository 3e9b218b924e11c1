"""Tests for coresets.knn: exact graphs against brute force, approximate recall, GPU choice."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import scipy.sparse as sp

import coresets._device
from coresets import knn
from coresets.knn import faiss_gpu_available, knn_graph, knn_recall


def _blobs(n=3000, d=16, centers=10, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-10, 10, size=(centers, d))
    return (c[rng.integers(0, centers, n)] + rng.standard_normal((n, d))).astype(np.float32)


def _brute_force(X, k, metric):
    """Dense reference: neighbour lists and similarities, by the documented rules."""
    X = X.astype(np.float64)
    n = X.shape[0]
    if metric == "cosine":
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        score = Xn @ Xn.T
    elif metric == "dot":
        score = X @ X.T
    else:
        score = -((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    nbrs = np.argsort(-score, axis=1, kind="stable")[:, :k]
    for i in range(n):
        if i not in nbrs[i]:
            nbrs[i, -1] = i
    dense = np.zeros((n, n))
    if metric == "euclidean":
        d2 = -score
        edges = np.array([d2[i, j] for i in range(n) for j in nbrs[i] if d2[i, j] > 0])
        sigma2 = np.median(edges)
    for i in range(n):
        for j in nbrs[i]:
            if metric == "cosine":
                dense[i, j] = 1.0 if i == j else max(score[i, j], 0.0)
            elif metric == "dot":
                dense[i, j] = max(score[i, j], 0.0)
            else:
                dense[i, j] = np.exp(-d2[i, j] / sigma2)
    return nbrs, dense


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot"])
def test_exact_graph_matches_brute_force(metric):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 5))
    X[:, 0] += 0.5  # some positive and some negative inner products
    k = 7
    G = knn_graph(X, n_neighbors=k, metric=metric, index="flat", progress=False)
    nbrs, dense = _brute_force(X, k, metric)
    assert isinstance(G, sp.csr_matrix) and G.shape == (60, 60) and G.dtype == np.float32
    assert G.has_sorted_indices
    for i in range(60):
        row = G.indices[G.indptr[i] : G.indptr[i + 1]]
        assert np.all(np.diff(row) > 0)
        assert set(row) == set(nbrs[i])
    np.testing.assert_allclose(G.toarray(), dense, rtol=1e-4, atol=1e-5)
    assert G.data.min() >= 0


def test_self_is_a_neighbour_even_with_duplicates():
    X = np.repeat(np.random.default_rng(0).standard_normal((10, 4)), 3, axis=0)
    G = knn_graph(X, n_neighbors=2, metric="euclidean", index="flat", progress=False)
    np.testing.assert_array_equal(G.diagonal(), np.ones(30, np.float32))
    assert np.all(np.diff(G.indptr) == 2)
    G = knn_graph(X, n_neighbors=1, metric="cosine", index="flat", progress=False)
    np.testing.assert_array_equal(G.toarray(), np.eye(30, dtype=np.float32))


def test_batching_and_float64_do_not_change_the_graph():
    X = _blobs(500)
    a = knn_graph(X, n_neighbors=10, metric="euclidean", index="flat", progress=False)
    b = knn_graph(
        X.astype(np.float64),
        n_neighbors=10,
        metric="euclidean",
        index="flat",
        batch_size=37,
        progress=False,
    )
    assert (a != b).nnz == 0


def test_graph_feeds_facility_location():
    from coresets.submodular import FacilityLocation, maximize

    X = _blobs(400)
    G = knn_graph(X, n_neighbors=8, metric="euclidean", progress=False)
    sel = maximize(FacilityLocation(G), 12)
    dense = G.toarray()
    # Row j = what candidate j covers: the objective sums, over points, the best cover.
    assert sel.objective == pytest.approx(dense[sel.indices].max(axis=0).sum(), rel=1e-5)


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_approximate_index_recall_and_determinism(index):
    X = _blobs(4000)
    G1 = knn_graph(
        X, n_neighbors=16, metric="euclidean", index=index, random_state=3, progress=False
    )
    G2 = knn_graph(
        X, n_neighbors=16, metric="euclidean", index=index, random_state=3, progress=False
    )
    assert (G1 != G2).nnz == 0
    np.testing.assert_array_equal(G1.indices, G2.indices)
    assert knn_recall(X, G1, sample=300, metric="euclidean", random_state=0) >= 0.9
    np.testing.assert_array_equal(G1.diagonal(), np.ones(4000, np.float32))
    assert np.all(np.diff(G1.indptr) <= 16)


def test_fixed_nprobe_is_used():
    X = _blobs(4000)
    narrow = knn_graph(
        X, n_neighbors=16, metric="euclidean", index="ivf", nprobe=1, random_state=0, progress=False
    )
    wide = knn_graph(
        X,
        n_neighbors=16,
        metric="euclidean",
        index="ivf",
        nprobe=10_000,
        random_state=0,
        progress=False,
    )
    exact = knn_graph(X, n_neighbors=16, metric="euclidean", index="flat", progress=False)
    assert knn_recall(X, narrow, metric="euclidean") < 0.95
    # nprobe >= nlist is exhaustive: exact up to float32 rounding of near-ties (one row in
    # 4000 here swaps its 16th neighbour for one 2e-6 farther)
    assert knn_recall(X, wide, sample=4000, metric="euclidean") == 1.0
    rows_equal = [np.array_equal(wide[i].indices, exact[i].indices) for i in range(4000)]
    assert np.mean(rows_equal) >= 0.999


def test_auto_switches_to_ivf_and_back_to_exact(monkeypatch):
    calls = []
    real_build, real_lists = knn._build_index, knn._list_search

    def spy_build(*args, **kwargs):
        out = real_build(*args, **kwargs)
        calls.append(out[1])
        return out

    def spy_lists(*args, **kwargs):
        out = real_lists(*args, **kwargs)
        if out is not None:  # None: the list search handed over to exact search
            calls.append("ivf")
        return out

    monkeypatch.setattr(knn, "_build_index", spy_build)
    monkeypatch.setattr(knn, "_list_search", spy_lists)
    monkeypatch.setattr(knn, "AUTO_EXACT_MAX", 1000)
    knn_graph(_blobs(3000), n_neighbors=10, metric="euclidean", random_state=0, progress=False)
    assert calls[-1] == "ivf"
    # Unclustered 64-d data: IVF would need most lists, so "auto" goes exact.
    X = np.random.default_rng(0).standard_normal((3000, 64)).astype(np.float32)
    G = knn_graph(X, n_neighbors=10, metric="euclidean", random_state=0, progress=False)
    assert calls[-1] == "flat"
    assert knn_recall(X, G, sample=200, metric="euclidean") == 1.0
    monkeypatch.setattr(knn, "AUTO_EXACT_MAX", 10_000)
    knn_graph(X, n_neighbors=10, metric="euclidean", progress=False)
    assert calls[-1] == "flat"


def test_gpu_is_chosen_automatically_when_present(monkeypatch):
    """No GPU here: fake FAISS GPU support and check the GPU path is taken and agrees."""
    assert faiss_gpu_available() is False or faiss.get_num_gpus() > 0
    moved = []

    def index_cpu_to_gpu(res, dev, index):
        moved.append(type(index).__name__)
        return index  # the CPU index stands in for the GPU copy

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", index_cpu_to_gpu, raising=False)
    monkeypatch.setattr(coresets._device, "cuda_available", lambda: True)
    knn._gpu_resources.cache_clear()
    assert faiss_gpu_available()
    X = _blobs(800)
    G = knn_graph(X, n_neighbors=8, metric="cosine", progress=False)
    assert moved == ["IndexFlat"]
    ref = knn_graph(X, n_neighbors=8, metric="cosine", device="cpu", progress=False)
    assert moved == ["IndexFlat"]  # device="cpu" stays on the CPU
    assert (G != ref).nnz == 0
    knn_graph(X, n_neighbors=8, metric="cosine", index="hnsw", progress=False)
    assert moved == ["IndexFlat"]  # FAISS has no GPU HNSW
    # Without torch CUDA the GPU is not used even if FAISS reports one.
    monkeypatch.setattr(coresets._device, "cuda_available", lambda: False)
    assert not faiss_gpu_available()
    knn._gpu_resources.cache_clear()


def test_explicit_cuda_without_gpu_faiss_is_an_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 0, raising=False)
    with pytest.raises(ValueError, match="device"):
        knn_graph(_blobs(100), n_neighbors=5, device="cuda", progress=False)


def test_knn_recall_counts_misses_exactly():
    X = _blobs(300)
    exact = knn_graph(X, n_neighbors=3, metric="euclidean", index="flat", progress=False)
    assert knn_recall(X, exact, sample=10_000, metric="euclidean") == 1.0
    # Keep self and the nearest neighbour, swap the 2nd nearest for the farthest point.
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    order = np.argsort(d2, axis=1)
    rows = np.repeat(np.arange(300), 3)
    cols = np.stack([order[:, 0], order[:, 1], order[:, -1]], axis=1).ravel()
    bad = sp.csr_matrix((np.ones(900, np.float32), (rows, cols)), shape=(300, 300))
    assert knn_recall(X, bad, sample=10_000, metric="euclidean") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(X=np.zeros((5,))), ValueError, "X must be 2-D"),
        (dict(X=np.zeros((0, 3))), ValueError, "X is empty"),
        (dict(X=np.array([[1.0, np.nan], [1.0, 2.0], [3.0, 1.0]])), ValueError, "X contains NaN"),
        (dict(X=np.array([[1.0, np.inf], [1.0, 2.0], [3.0, 1.0]])), ValueError, "X contains inf"),
        (dict(X=np.array([[1, "a"], [2, "b"]], dtype=object)), TypeError, "X must hold numbers"),
        (dict(X=np.ones((1, 3))), ValueError, "at least 2 rows"),
        (dict(n_neighbors=0), ValueError, "n_neighbors must be >= 1"),
        (dict(n_neighbors=20), ValueError, "n_neighbors must be < n_rows"),
        (dict(n_neighbors=2.5), TypeError, "n_neighbors"),
        (dict(n_neighbors=True), TypeError, "n_neighbors"),
        (
            dict(X=np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0]]), n_neighbors=2),
            ValueError,
            "zero rows",
        ),
        (dict(metric="manhattan"), ValueError, "metric"),
        (dict(index="lsh"), ValueError, "index"),
        (dict(device="tpu"), ValueError, "device"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(nprobe=0), ValueError, "nprobe"),
        (dict(random_state="x"), TypeError, "random_state"),
    ],
)
def test_bad_input(kwargs, exc, match):
    args = dict(X=np.random.default_rng(0).standard_normal((20, 3)), n_neighbors=3, progress=False)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        knn_graph(**args)


def test_knn_recall_bad_input():
    X = _blobs(50)
    G = knn_graph(X, n_neighbors=3, progress=False)
    with pytest.raises(TypeError, match="graph"):
        knn_recall(X, G.toarray())
    with pytest.raises(ValueError, match="graph must have shape"):
        knn_recall(X[:40], G)
    with pytest.raises(ValueError, match="sample"):
        knn_recall(X, G, sample=0)


def test_missing_neighbours_are_dropped_and_self_inserted():
    """An IVF search can return -1 (fewer candidates than k): those slots vanish."""
    rows = np.array([0, 1])
    I = np.array([[1, 2, -1], [0, 2, 3]])
    D = np.array([[0.9, 0.5, -3.4e38], [0.8, 0.7, 0.6]], dtype=np.float32)
    X = np.eye(4, dtype=np.float32)
    cols, vals = knn._finish_rows(X, rows, I, D, "cosine")
    # Row 0 lacked itself: it takes the -1 slot; row 1 lacked itself: it takes the farthest.
    np.testing.assert_array_equal(cols, [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_allclose(vals, [[1.0, 0.9, 0.5], [0.8, 1.0, 0.7]])
    cols = np.array([[-1, 0, 1], [0, 1, 2], [-1, -1, 2]], dtype=np.int32)
    v = np.array([[0.0, 1.0, 0.5], [0.2, 1.0, 0.3], [0.0, 0.0, 1.0]], dtype=np.float32)
    G = knn._pack_csr(cols, v)
    np.testing.assert_array_equal(G.indptr, [0, 2, 5, 6])
    np.testing.assert_allclose(G.toarray(), [[1.0, 0.5, 0], [0.2, 1.0, 0.3], [0, 0, 1.0]])


def test_float64_beyond_float32_range_is_an_error():
    X = np.array([[1e300, 1.0], [1.0, 2.0], [3.0, 1.0]])
    with pytest.raises(ValueError, match="X contains values that overflow float32"):
        knn_graph(X, n_neighbors=2, metric="euclidean", progress=False)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_search_api_matches_knn_graph(metric):
    # knn_graph is build_index + search + to_similarity on the set against itself.
    X = np.random.default_rng(1).standard_normal((300, 8)).astype(np.float32)
    Xp = knn.prepare(X, metric)
    D, I = knn.search(knn.build_index(Xp, metric, k=5), Xp, 5, batch_size=64)
    sims = knn.to_similarity(D, metric, knn.gaussian_bandwidth(D))
    G = knn_graph(X, n_neighbors=5, metric=metric, progress=False)
    for r in range(300):
        if r not in I[r]:  # a tie left self out: knn_graph then replaces the farthest
            continue
        order = np.argsort(I[r])
        np.testing.assert_array_equal(I[r][order], G.indices[G.indptr[r] : G.indptr[r + 1]])
        np.testing.assert_allclose(sims[r][order], G.data[G.indptr[r] : G.indptr[r + 1]], 1e-5)


def test_neighbor_similarities_is_the_graph_convention():
    """Self edge, transform and bandwidth, each with the choice its caller makes."""
    D = np.array([[0.0, 0.5, 2.0], [0.3, 0.4, 9.0]], dtype=np.float32)
    I = np.array([[0, 1, 2], [2, 0, -1]])
    self_ids = np.array([0, 1])
    # euclidean, bandwidth from these rows' non-self edges: 0.5, 2.0, 0.3, 0.4 -> 0.45
    ids, sims = knn.neighbor_similarities(D, I, "euclidean", self_ids=self_ids)
    np.testing.assert_array_equal(ids, [[0, 1, 2], [2, 0, 1]])  # row 1: self took the miss
    np.testing.assert_allclose(sims, np.exp(-np.array([[0, 0.5, 2.0], [0.3, 0.4, 0]]) / 0.45), 1e-6)
    assert knn.edge_bandwidth(D, I, self_ids) == pytest.approx(0.45)
    # a given bandwidth, and None: squared distances left for a later, wider bandwidth
    _, fixed = knn.neighbor_similarities(D, I, "euclidean", self_ids=self_ids, sigma2=2.0)
    np.testing.assert_allclose(fixed, np.exp(-np.array([[0, 0.5, 2.0], [0.3, 0.4, 0]]) / 2.0), 1e-6)
    _, raw = knn.neighbor_similarities(D, I, "euclidean", self_ids=self_ids, sigma2=None)
    np.testing.assert_array_equal(raw, np.array([[0, 0.5, 2.0], [0.3, 0.4, 0]], np.float32))
    # dot: self keeps its own inner product; no self edge: misses are 0, nothing inserted
    ips = np.array([[4.0, 0.5, -1.0], [0.3, 0.2, 0.0]], dtype=np.float32)
    _, dot = knn.neighbor_similarities(ips, I, "dot", self_ids=self_ids, self_scores=[4.0, 9.0])
    np.testing.assert_array_equal(dot, np.array([[4.0, 0.5, 0.0], [0.3, 0.2, 9.0]], np.float32))
    ids, cos = knn.neighbor_similarities(ips, I, "cosine")
    np.testing.assert_array_equal(ids, I)
    np.testing.assert_array_equal(cos, np.array([[1.0, 0.5, 0.0], [0.3, 0.2, 0.0]], np.float32))
    with pytest.raises(ValueError, match="self_scores"):
        knn.neighbor_similarities(ips, I, "dot", self_ids=self_ids)


def test_fold_top_k_and_group_by_list_by_hand():
    from coresets import _knn_kernels as kern

    # lists named by 3 rows (2 probes each) over 3 lists
    start, rows = kern.group_by_list(np.array([[2, 0], [0, 1], [2, 1]], dtype=np.int32), 3)
    np.testing.assert_array_equal(start, [0, 2, 4, 6])
    np.testing.assert_array_equal(rows, [0, 1, 1, 2, 0, 2])  # list 0: rows 0, 1; ...
    keys = np.full((2, 2), -np.inf, np.float32)
    ids = np.full((2, 2), -1, np.int32)
    # query 1 sees members 7, 8, 9 with scores 0.5, 0.9, 0.7 in two blocks
    kern.fold_top_k(np.array([[0.5, 0.9]], np.float32), np.array([1], np.int32),
                    np.array([7, 8], np.int32), keys, ids)  # fmt: skip
    kern.fold_top_k(np.array([[0.7]], np.float32), np.array([1], np.int32),
                    np.array([9], np.int32), keys, ids)  # fmt: skip
    kern.sort_heaps(keys, ids)
    np.testing.assert_array_equal(ids, [[-1, -1], [8, 9]])  # 0.5 dropped; query 0 untouched
    np.testing.assert_array_equal(keys[1], np.array([0.9, 0.7], np.float32))
    assert np.all(np.isneginf(keys[0]))


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot"])
def test_nearest_matches_exact_search_when_every_list_is_probed(metric):
    from coresets.knn import nearest, prepare

    rng = np.random.default_rng(0)
    base = prepare(_blobs(3000), metric)
    queries = prepare(rng.normal(size=(200, base.shape[1])).astype(np.float32) * 3, metric)
    fm = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    D_ref, I_ref = faiss.knn(queries, base, 12, metric=fm)
    D, I = nearest(base, queries, 12, metric=metric, index="ivf", nprobe=10**6, random_state=0)
    assert D.shape == I.shape == (200, 12) and I.dtype == np.int64
    np.testing.assert_allclose(D, D_ref, rtol=1e-4, atol=1e-4)
    assert np.mean(I == I_ref) >= 0.99  # the rest: float32 near-ties
    flat = nearest(base, queries, 12, metric=metric, index="flat")
    np.testing.assert_array_equal(flat[1], I_ref)


def test_nearest_tuned_ivf_reaches_recall_and_is_deterministic():
    from coresets.knn import nearest, prepare

    base = prepare(_blobs(8000), "cosine")
    queries = base[::7].copy()
    _, I_ref = faiss.knn(queries, base, 16, metric=faiss.METRIC_INNER_PRODUCT)
    D1, I1 = nearest(base, queries, 16, metric="cosine", index="ivf", random_state=5)
    D2, I2 = nearest(base, queries, 16, metric="cosine", index="ivf", random_state=5)
    np.testing.assert_array_equal(I1, I2)
    np.testing.assert_array_equal(D1, D2)
    recall = np.mean([np.intersect1d(a, b).size / 16 for a, b in zip(I1, I_ref, strict=True)])
    assert recall >= 0.9


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(queries=np.zeros((3, 5), np.float32)), ValueError, "queries have 5 features"),
        (dict(queries=np.zeros((3, 4))), ValueError, "queries must be a 2-D float32"),
        (dict(base=np.zeros((10, 4))), ValueError, "base must be"),
        (dict(k=11), ValueError, "k must be <="),
        (dict(k=0), ValueError, "k must be >= 1"),
        (dict(index="lsh"), ValueError, "index"),
        (dict(nprobe=0), ValueError, "nprobe"),
    ],
)
def test_nearest_bad_input(kwargs, exc, match):
    from coresets.knn import nearest

    args = dict(
        base=np.ones((10, 4), np.float32), queries=np.ones((3, 4), np.float32), k=2, metric="dot"
    )
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        nearest(args.pop("base"), args.pop("queries"), args.pop("k"), **args)


def test_graph_search_reports_the_index_and_the_built_graphs_recall(monkeypatch):
    from coresets.knn import GraphSearch
    from coresets.selectors import FacilityLocationSelector

    X = _blobs(3000)
    G, search = knn_graph(X, n_neighbors=10, return_search=True, progress=False)
    assert search == GraphSearch("flat", 1.0, 0)
    assert (G != knn_graph(X, n_neighbors=10, progress=False)).nnz == 0
    monkeypatch.setattr(knn, "AUTO_EXACT_MAX", 1000)
    G, search = knn_graph(X, n_neighbors=10, random_state=0, return_search=True, progress=False)
    assert search.index == "ivf" and search.sample == knn.SEARCH_RECALL_SAMPLE
    assert search.recall == knn_recall(X, G, sample=search.sample, random_state=0)
    # asking for the report changes nothing about the graph
    assert (G != knn_graph(X, n_neighbors=10, random_state=0, progress=False)).nnz == 0
    y = np.arange(3000) % 2
    sel = FacilityLocationSelector(30, n_neighbors=10, per_class=True, random_state=0).fit(X, y)
    assert [s.index for s in sel.graph_searches_] == ["ivf", "ivf"]  # one graph per class
    sel = FacilityLocationSelector(30, n_neighbors=None).fit(X)
    assert sel.graph_searches_ == []  # dense similarity: exact, nothing to report


def test_rerank_by_hand():
    from coresets import _knn_kernels as kern

    base = np.array([[1, 0], [0, 1], [1, 1], [3, 0]], np.float32)
    queries = np.array([[1, 0], [0, 2]], np.float32)
    candidates = np.array([[1, 3, 2], [-1, 0, 1]], np.int32)
    keys = np.empty((2, 2), np.float32)
    ids = np.empty((2, 2), np.int32)
    kern.rerank(queries, base, candidates, np.zeros(0, np.float32), keys, ids)
    # inner products: query 0 scores 0, 3, 1 for rows 1, 3, 2; query 1 scores 0, 2
    np.testing.assert_array_equal(ids, [[3, 2], [1, 0]])
    np.testing.assert_array_equal(keys, [[3, 1], [2, 0]])
    # euclidean ranks by 2 q.x - ||x||^2: query 0 -> row 3: 6 - 9, row 2: 2 - 2, row 1: -1
    kern.rerank(queries, base, candidates, np.einsum("ij,ij->i", base, base), keys, ids)
    np.testing.assert_array_equal(ids[0], [2, 1])
    np.testing.assert_array_equal(keys[0], [0, -1])
    # a query with fewer candidates than k is padded
    kern.rerank(queries, base, np.array([[-1, 2], [-1, -1]], np.int32),
                np.zeros(0, np.float32), keys, ids)  # fmt: skip
    np.testing.assert_array_equal(ids, [[2, -1], [-1, -1]])
    assert np.isneginf(keys[0, 1]) and np.all(np.isneginf(keys[1]))


def _projected_data(n=6000, d=192, seed=0):
    """Overlapping clusters with a decaying spectrum (the structure of real embeddings)."""
    rng = np.random.default_rng(seed)
    scale = np.arange(1, d + 1, dtype=np.float32) ** -0.8
    centres = rng.standard_normal((60, d)).astype(np.float32) * scale
    X = centres[rng.integers(0, 60, n)] + 0.7 * scale * rng.standard_normal((n, d))
    return (X @ np.linalg.qr(rng.standard_normal((d, d)))[0]).astype(np.float32)


@pytest.fixture
def cheapest_dims(monkeypatch):
    """Price plans by their scanned dimensions alone, so the projected scan is taken."""
    monkeypatch.setattr(knn, "_scan_cost", lambda share, dims, c, n, d: dims / d)
    plans = []
    real = knn._tune_scan

    def spy(*args, **kwargs):
        plans.append(real(*args, **kwargs))
        return plans[-1]

    monkeypatch.setattr(knn, "_tune_scan", spy)
    return plans


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot"])
def test_projected_scan_reaches_its_estimated_recall(metric, cheapest_dims):
    from coresets.knn import prepare

    # far from the origin: euclidean's axes must be centred, inner products' must not
    X = prepare(_projected_data() + (5.0 if metric == "euclidean" else 0.0), metric)
    fm = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    D_ref, I_ref = faiss.knn(X, X, 16, metric=fm)
    D, I, plan = knn._list_search(X, 16, metric, None, np.random.default_rng(0), False, False)
    assert cheapest_dims == [plan] and plan.dims == 48 and plan.candidates >= 16
    recall = np.mean([np.intersect1d(a, b).size / 16 for a, b in zip(I, I_ref, strict=True)])
    # the plan's recall is measured on 256 sampled rows; all rows agree within sampling error
    assert recall >= knn.TARGET_RECALL - 0.03
    assert abs(recall - plan.recall) <= 0.03
    # re-ranked scores are exact full-dimension scores, best first
    rows = np.arange(len(X))[:, None]
    if metric == "euclidean":
        exact = ((X[rows] - X[I]) ** 2).sum(-1)
        assert np.all(np.diff(D, axis=1) >= -1e-4)
    else:
        exact = (X[rows] * X[I]).sum(-1)
        assert np.all(np.diff(D, axis=1) <= 1e-4)
    # float32 rounding of the norms (euclidean: 2 q.x - ||x||^2 cancels, as in FAISS)
    sq = np.einsum("ij,ij->i", X, X)
    assert np.all(np.abs(D - exact) <= 1e-4 * np.abs(exact) + 1e-5 * (sq[rows] + sq[I]) + 1e-5)
    again = knn._list_search(X, 16, metric, None, np.random.default_rng(0), False, False)
    np.testing.assert_array_equal(again[1], I)


def test_projected_scan_is_costed_against_the_full_scan(monkeypatch):
    from coresets.knn import prepare

    X = prepare(_projected_data(), "cosine")
    rng = np.random.default_rng(0)
    # below PROJECTED_SCAN_MIN_DIM the scan is never projected
    monkeypatch.setattr(knn, "PROJECTED_SCAN_MIN_DIM", 10**6)
    *_, plan = knn._list_search(X, 16, "cosine", None, rng, False, False)
    assert (plan.dims, plan.candidates) == (192, 16)
    # re-ranking every candidate priced out: the full scan wins
    monkeypatch.setattr(knn, "PROJECTED_SCAN_MIN_DIM", 128)
    monkeypatch.setattr(knn, "_RERANK_COST", 1e9)
    *_, plan = knn._list_search(X, 16, "cosine", None, rng, False, False)
    assert plan.dims == 192
    # a given nprobe is used as it is, in full dimensions
    *_, plan = knn._list_search(X, 16, "cosine", 3, rng, False, False)
    assert (plan.dims, plan.nprobe) == (192, 3)


def test_list_scan_does_not_depend_on_the_thread_count(monkeypatch):
    from coresets.knn import prepare

    X = prepare(_blobs(6000, d=24, centers=40), "euclidean")
    runs = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(knn, "_scan_threads", lambda t=threads: t)
        runs.append(knn._list_search(X, 12, "euclidean", 4, np.random.default_rng(0), False, False))
    for D, I, _ in runs[1:]:
        np.testing.assert_array_equal(I, runs[0][1])
        np.testing.assert_array_equal(D, runs[0][0])
