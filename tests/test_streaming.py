"""Shard readers, RandGreeDi, Sieve-Streaming++ (in memory and over shards), checkpoints."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from coresets.knn import knn_graph
from coresets.selection import Selection
from coresets.shards import open_shards
from coresets.streaming import (
    Checkpoint,
    RandGreeDi,
    SampleGreedy,
    SieveStreaming,
    _plan,
    greedi,
    select_from_shards,
)
from coresets.streaming import sample as sample_driver
from coresets.submodular import (
    FacilityLocation,
    FeatureBased,
    GraphCut,
    LazyGreedy,
    StochasticGreedy,
    maximize,
)
from coresets.submodular import streaming as sieve_kernel
from coresets.weights import nearest_center_weights


def blobs(n, d=8, centers=10, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, d)) * 4
    return (c[rng.integers(centers, size=n)] + rng.normal(size=(n, d))).astype(np.float32)


def write_shards(root, X, sizes):
    root.mkdir(parents=True, exist_ok=True)
    start = 0
    for i, m in enumerate(sizes):
        np.save(root / f"shard_{i:03d}.npy", X[start : start + m])
        start += m
    return root


@pytest.fixture
def shards(tmp_path):
    X = blobs(1200)
    return write_shards(tmp_path / "shards", X, [500, 300, 400]), X


# --------------------------------------------------------------------------- readers


def test_npy_reader_offsets_take_and_blocks(shards):
    root, X = shards
    data = open_shards(root)
    assert data.n_rows == 1200 and data.n_features == 8 and data.n_shards == 3
    assert data.offsets.tolist() == [0, 500, 800, 1200]
    rows = np.array([1199, 0, 650, 499, 500, 3])
    np.testing.assert_array_equal(data.take(rows), X[rows])
    got = np.concatenate([b for _, b in data.iter_blocks(block_size=170)])
    np.testing.assert_array_equal(got, X)
    assert isinstance(data.read(1), np.memmap)  # memory-mapped, not loaded


def test_reads_what_embed_to_shards_writes(tmp_path):
    from coresets.embed import embed_to_shards

    X = blobs(300)
    embed_to_shards(lambda b: b, X, tmp_path / "emb", shard_size=128)
    data = open_shards(tmp_path / "emb")
    assert data.shard_sizes.tolist() == [128, 128, 44]
    np.testing.assert_array_equal(data.take(np.arange(300)), X)
    np.testing.assert_array_equal(data.ids(1), np.arange(128, 256))
    sel = select_from_shards(tmp_path / "emb", 6, random_state=0, progress=False)
    assert len(sel) == 6


def test_index_json_order_and_checks(tmp_path):
    X = blobs(30)
    root = tmp_path / "s"
    root.mkdir()
    np.save(root / "b.npy", X[:10])
    np.save(root / "a.npy", X[10:])
    index = {"shards": [{"file": "b.npy", "start": 0, "stop": 10}, {"file": "a.npy"}]}
    (root / "index.json").write_text(json.dumps(index))
    np.testing.assert_array_equal(open_shards(root).take(np.arange(30)), X)
    index["shards"][0]["stop"] = 11
    (root / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="b.npy holds rows 0:10 but index.json says 0:11"):
        open_shards(root)
    (root / "index.json").write_text(json.dumps({**index, "complete": False}))
    with pytest.raises(ValueError, match="unfinished embedding run"):
        open_shards(root)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda r: np.save(r / "shard_009.npy", np.zeros((5, 7), np.float32)), "7 features"),
        (lambda r: np.save(r / "shard_009.npy", np.zeros((5, 8), np.float64)), "dtype float64"),
        (lambda r: np.save(r / "shard_009.npy", np.zeros((5, 8), np.int32)), "expected float32"),
        (lambda r: np.save(r / "shard_009.npy", np.zeros(5, np.float32)), "must be 2-D"),
        (lambda r: (r / "shard_009.npy").write_bytes(b"garbage"), "not a readable .npy"),
    ],
)
def test_npy_reader_rejects_bad_shard_naming_it(shards, bad, match):
    root, _ = shards
    bad(root)
    with pytest.raises(ValueError, match=match) as err:
        open_shards(root)
    assert "shard_009.npy" in str(err.value)


def test_truncated_shard_is_named(shards):
    root, _ = shards
    p = root / "shard_001.npy"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(ValueError, match="shard_001.npy is truncated"):
        open_shards(root)


def test_nan_shard_is_named_when_read(shards):
    root, X = shards
    Y = X[500:800].copy()
    Y[7, 3] = np.nan
    np.save(root / "shard_001.npy", Y)
    data = open_shards(root)
    with pytest.raises(ValueError, match="shard_001.npy contains NaN"):
        data.read(1)
    with pytest.raises(ValueError, match="shard_001.npy contains NaN"):
        select_from_shards(root, 10, progress=False)


@pytest.mark.parametrize("fixed", [True, False])
def test_parquet_reader(tmp_path, fixed):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X = blobs(50, d=6)
    root = tmp_path / "pq"
    root.mkdir()
    for i, (lo, hi) in enumerate([(0, 20), (20, 50)]):
        flat = pa.array(X[lo:hi].ravel())
        col = (
            pa.FixedSizeListArray.from_arrays(flat, 6)
            if fixed
            else pa.ListArray.from_arrays(pa.array(np.arange(0, (hi - lo) * 6 + 1, 6)), flat)
        )
        table = pa.table({"uid": np.arange(lo, hi) + 1000, "vec": col})
        pq.write_table(table, root / f"part{i}.parquet")
    data = open_shards(root, id_column="uid", embedding_column="vec")
    assert (data.n_rows, data.n_features, data.dtype) == (50, 6, np.float32)
    np.testing.assert_array_equal(data.take(np.arange(50)), X)
    np.testing.assert_array_equal(data.ids(1), np.arange(20, 50) + 1000)
    with pytest.raises(ValueError, match="no embedding_column 'embedding'"):
        open_shards(root, id_column="uid")
    (root / "part9.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match="part9.parquet"):
        open_shards(root, id_column="uid", embedding_column="vec")


def test_parquet_ragged_rows_are_named(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    col = pa.array([[1.0, 2.0], [3.0, 4.0], [5.0]], type=pa.list_(pa.float32()))
    pq.write_table(pa.table({"id": [0, 1, 2], "embedding": col}), tmp_path / "r.parquet")
    data = open_shards(tmp_path / "r.parquet")
    with pytest.raises(
        ValueError, match=r"r.parquet: embedding_column .embedding. is ragged: row 2 has 1 values"
    ):
        data.read(0)


# --------------------------------------------------------------------------- RandGreeDi


def test_partition_rows_cover_every_row_once():
    sizes = [37, 0, 50, 13]
    parts = [greedi.partition_rows(sizes, 4, 7, p) for p in range(4)]
    allrows = np.concatenate(parts)
    np.testing.assert_array_equal(np.sort(allrows), np.arange(100))
    lens = [p.size for p in parts]
    assert max(lens) - min(lens) <= len(sizes)  # balanced up to one row per shard
    np.testing.assert_array_equal(parts[2], greedi.partition_rows(sizes, 4, 7, 2))
    assert not np.array_equal(parts[0], greedi.partition_rows(sizes, 4, 8, 0))


def test_one_partition_equals_centralised_lazy_greedy(shards):
    root, X = shards
    sel = select_from_shards(root, 25, algorithm=RandGreeDi(n_partitions=1), random_state=0)
    ref = maximize(FacilityLocation(knn_graph(X, n_neighbors=32, progress=False)), 25, "lazy")
    assert set(sel.indices.tolist()) == set(ref.indices.tolist())


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot"])
def test_candidate_rows_and_merge_match_brute_force(shards, metric):
    root, X = shards
    data = open_shards(root)
    candidates = np.array([3, 700, 900, 10, 1100, 501])
    keys = np.full((6, 32), -np.inf, np.float32)
    ids = np.full((6, 32), -1, np.int64)
    for first, stop in reversed(greedi.chunks(data.shard_sizes, 400)):  # any order
        new = greedi.chunk_neighbors(data, first, stop, X[candidates], 32, metric, 0)
        keys, ids = greedi.merge_top(keys, ids, *new)
    G = knn_graph(X, n_neighbors=32, metric=metric, progress=False)  # exact (flat) at this size
    for r, j in enumerate(candidates):  # the candidates' rows of the centralised graph
        row = ids[r].copy()
        if j not in row:  # dot: self replaces the farthest, as knn_graph does
            row[-1] = j
        assert set(row) == set(G.indices[G.indptr[j] : G.indptr[j + 1]])
    Xc = _plan.prepare(X[candidates], metric)
    self_keys = np.zeros(6, np.float32) if metric == "euclidean" else (Xc * Xc).sum(1)
    res = greedi.merge_greedy(candidates, keys, ids, self_keys, 2, metric, [3, 3])
    f = FacilityLocation(G)
    pairs = itertools.combinations(candidates.tolist(), 2)
    best = max(f.evaluate(list(pair)) for pair in pairs)
    if metric != "euclidean":  # euclidean's bandwidth comes from these rows only
        assert res.objective == pytest.approx(f.evaluate(res.indices), rel=1e-5)
    assert f.evaluate(res.indices) >= (1 - 1 / np.e) * best


def test_greedi_result_shape_weights_and_determinism(shards):
    root, X = shards
    a = select_from_shards(root, 0.02, algorithm=RandGreeDi(n_partitions=3), random_state=3)
    b = select_from_shards(root, 24, algorithm=RandGreeDi(n_partitions=3), random_state=3)
    assert len(a) == 24 and np.unique(a.indices).size == 24
    np.testing.assert_array_equal(a.indices, b.indices)
    assert a.gains.sum() == pytest.approx(a.objective)
    # exact weights: nearest chosen point (cosine) over all rows
    ref = nearest_center_weights(X, X[a.indices], metric="cosine")
    np.testing.assert_array_equal(a.weights, ref)
    assert a.weights.sum() == 1200
    s = select_from_shards(root, 24, algorithm=RandGreeDi(n_partitions=3, sample_size=600),
                           weighting="sample", random_state=3)  # fmt: skip
    assert len(s) == 24
    assert s.weights.sum() == pytest.approx(1200)
    assert select_from_shards(root, 5, weighting=None).weights is None


def test_greedi_beats_random_on_the_global_graph(tmp_path):
    X = blobs(4000, d=8, centers=40, seed=1)
    root = write_shards(tmp_path / "s", X, [1000] * 4)
    f = FacilityLocation(knn_graph(X, n_neighbors=32, progress=False))
    central = maximize(f, 40, "lazy").objective
    sel = select_from_shards(root, 40, algorithm=RandGreeDi(n_partitions=4), random_state=0)
    rng = np.random.default_rng(0)
    rand = np.mean([f.evaluate(rng.choice(4000, 40, replace=False)) for _ in range(5)])
    value = f.evaluate(sel.indices)
    assert value > rand
    assert value >= 0.9 * central


# --------------------------------------------------------------------------- Sieve-Streaming++


def reference_sieve(rows, k, eps):
    """Plain-Python Sieve-Streaming++ over dense coverage rows (sample size = row length)."""
    sieves, delta, lb = {}, 0.0, 0.0
    best = (0.0, [])
    for e, row in enumerate(rows):
        delta = max(delta, row.sum())
        if delta <= 0:
            continue
        tmin = max(lb, delta) / (2 * k)
        lo = int(np.ceil(np.log(tmin / (1 + eps)) / np.log1p(eps) - 1e-9))
        hi = int(np.floor(np.log(delta) / np.log1p(eps) + 1e-9))
        for i in [i for i in sieves if i < lo]:
            del sieves[i]
        for i in range(lo, hi + 1):
            sieves.setdefault(i, (np.zeros(row.size), []))
        for i in sorted(sieves):
            cur, members = sieves[i]
            if len(members) >= k:
                continue
            g = np.maximum(row - cur, 0).sum()
            if g >= np.exp(i * np.log1p(eps)) and g > 0:
                np.maximum(cur, row, out=cur)
                members.append(e)
                if cur.sum() > lb + 1e-12:
                    lb = cur.sum()
                    best = (lb, list(members))
    return best


@pytest.mark.slow  # the first call compiles the numba kernel
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sieve_matches_reference_and_guarantee(seed):
    rng = np.random.default_rng(seed)
    n, s, k, eps = 14, 9, 3, 0.2
    dense = rng.uniform(size=(n, s)) * (rng.uniform(size=(n, s)) < 0.4)
    nbr = np.where(dense > 0, np.arange(s), -1)
    state = sieve_kernel.init_state(k, s, eps)
    for lo in range(0, n, 5):  # blocks: the state carries over between calls
        sieve_kernel.process(
            state, nbr[lo : lo + 5], dense[lo : lo + 5], np.arange(lo, lo + 5)[: n - lo], k, eps
        )
    best = sieve_kernel.best(state)
    ids, gains, value = best.indices, best.gains, best.objective
    ref_value, ref_ids = reference_sieve(dense, k, eps)
    assert ids.tolist() == ref_ids
    assert value == pytest.approx(ref_value)
    assert gains.sum() == pytest.approx(value)
    opt = max(dense[list(c)].max(axis=0).sum() for c in itertools.combinations(range(n), k))
    assert value >= (0.5 - eps) * opt - 1e-12


def test_sieve_from_shards(shards):
    root, X = shards
    sel = select_from_shards(root, 20, algorithm="sieve", random_state=0)
    assert 0 < len(sel) <= 20 and np.unique(sel.indices).size == len(sel)
    assert sel.weights.sum() == 1200
    again = select_from_shards(root, 20, algorithm=SieveStreaming(), random_state=0)
    np.testing.assert_array_equal(sel.indices, again.indices)


# --------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("algorithm", ["greedi", "sample", "sieve"])
def test_resume_after_failure_gives_uninterrupted_result(shards, tmp_path, monkeypatch, algorithm):
    root, _ = shards
    algo = {"greedi": RandGreeDi(n_partitions=3), "sample": SampleGreedy(sample_size=100),
            "sieve": SieveStreaming()}[algorithm]  # fmt: skip
    if algorithm == "sample":
        monkeypatch.setattr(sample_driver, "CHUNK_ROWS", 1)  # a save per shard, to crash at
    kw = dict(random_state=5, algorithm=algo)
    full = select_from_shards(root, 15, **kw)
    ckpt = tmp_path / "ckpt"
    real_save = Checkpoint.save
    calls = []

    def failing_save(self, name, **arrays):
        real_save(self, name, **arrays)
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(Checkpoint, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        select_from_shards(root, 15, checkpoint_dir=ckpt, **kw)
    monkeypatch.setattr(Checkpoint, "save", real_save)
    assert len(list(ckpt.glob("*.npz"))) >= 1
    resumed = select_from_shards(root, 15, checkpoint_dir=ckpt, **kw)
    np.testing.assert_array_equal(resumed.indices, full.indices)
    np.testing.assert_array_equal(resumed.weights, full.weights)
    assert resumed.objective == full.objective
    with pytest.raises(ValueError, match="checkpoint_dir .* different arguments"):
        select_from_shards(root, 16, checkpoint_dir=ckpt, **kw)


_KILL_SCRIPT = """
import sys, time
from coresets.streaming import RandGreeDi, greedi, select_from_shards
if sys.argv[3] == "slow":
    real = greedi.local_greedy
    def slow(*a):
        out = real(*a)
        time.sleep(1.0)
        return out
    greedi.local_greedy = slow
sel = select_from_shards(sys.argv[1], 40, algorithm=RandGreeDi(n_partitions=6),
                         checkpoint_dir=sys.argv[2], random_state=None)
print(",".join(map(str, sel.indices.tolist())))
"""


@pytest.mark.slow
def test_sigkill_and_rerun_gives_uninterrupted_result(tmp_path):
    X = blobs(3000, d=8, centers=20, seed=4)
    root = write_shards(tmp_path / "s", X, [1000, 1000, 1000])
    ckpt, ckpt_ref = tmp_path / "ck", tmp_path / "ck_ref"
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(script), str(root), str(ckpt), "slow"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and not list(ckpt.glob("partition_*.npz")):
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in ckpt.glob("partition_*.npz"))
    assert 1 <= len(done) < 6 and not (ckpt / "merge.npz").exists()
    # random_state=None: the rerun reuses the seed saved in the checkpoint
    out = subprocess.run([sys.executable, str(script), str(root), str(ckpt), "fast"], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    seed = json.loads((ckpt / "manifest.json").read_text())["seed"]
    resumed = np.array(out.stdout.strip().split(","), dtype=np.int64)
    ref = select_from_shards(root, 40, algorithm=RandGreeDi(n_partitions=6),
                             checkpoint_dir=ckpt_ref, random_state=seed)  # fmt: skip
    np.testing.assert_array_equal(resumed, ref.indices)


# --------------------------------------------------------------------------- bad input


def test_bad_arguments_name_themselves(shards, tmp_path):
    root, _ = shards
    with pytest.raises(ValueError, match="k must"):
        select_from_shards(root, 5000)
    with pytest.raises(ValueError, match="metric"):
        select_from_shards(root, 5, algorithm=RandGreeDi(metric="l1"))
    with pytest.raises(ValueError, match="algorithm"):
        select_from_shards(root, 5, algorithm="magic")
    with pytest.raises(ValueError, match="algorithm"):
        select_from_shards(root, 5, algorithm=LazyGreedy())
    with pytest.raises(ValueError, match="weighting"):
        select_from_shards(root, 5, weighting="exact")
    with pytest.raises(TypeError, match="client"):
        select_from_shards(root, 5, client="tcp://nowhere:1")
    with pytest.raises(ValueError, match="epsilon"):
        select_from_shards(root, 5, algorithm=SieveStreaming(epsilon=1.5))
    with pytest.raises(ValueError, match="n_partitions"):
        RandGreeDi(n_partitions=0)
    with pytest.raises(ValueError, match="is not a directory"):
        select_from_shards(tmp_path / "missing", 5)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither .npy nor .parquet"):
        select_from_shards(tmp_path / "empty", 5)
    with pytest.raises(TypeError, match="data must be"):
        select_from_shards(42, 5)


# --------------------------------------------------------------------------- in memory


def _global_rng_state():
    return np.random.get_state()[1].copy()  # noqa: NPY002 - checking that nobody changed it


def _dense_fl(n=60, d=4, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, d))
    D2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    return FacilityLocation(D2.max() - D2)


def _functions():
    rng = np.random.default_rng(1)
    S = rng.uniform(size=(50, 50))
    return [
        ("facility_location", _dense_fl()),
        ("graph_cut", GraphCut((S + S.T) / 2, lam=0.3)),
        (
            "feature_based",
            FeatureBased(rng.uniform(size=(50, 6)) * (rng.uniform(size=(50, 6)) < 0.5)),
        ),
    ]


@pytest.mark.parametrize("name,f", _functions(), ids=[n for n, _ in _functions()])
def test_randgreedi_in_memory_one_partition_is_the_inner_optimizer(name, f):
    for inner in (LazyGreedy(), StochasticGreedy(epsilon=0.2, random_state=4)):
        ref = maximize(f, 8, inner)
        got = maximize(f, 8, RandGreeDi(n_partitions=1, optimizer=inner, random_state=0))
        np.testing.assert_array_equal(got.indices, ref.indices)
        np.testing.assert_array_equal(got.gains, ref.gains)
        assert got.objective == ref.objective


@pytest.mark.parametrize("name,f", _functions(), ids=[n for n, _ in _functions()])
def test_randgreedi_in_memory_parts_merge_and_seed(name, f):
    before = _global_rng_state()
    algo = RandGreeDi(n_partitions=4, local_k=6, random_state=7)
    sel = maximize(f, 6, algo)
    np.testing.assert_array_equal(_global_rng_state(), before)  # global RNG untouched
    again = maximize(f, 6, RandGreeDi(n_partitions=4, local_k=6, random_state=7))
    np.testing.assert_array_equal(sel.indices, again.indices)
    assert len(sel) == 6 and np.unique(sel.indices).size == 6
    assert sel.gains.sum() == pytest.approx(sel.objective)
    assert sel.objective == pytest.approx(f.evaluate(sel.indices))
    # the better of the merge and every local solution: at least each part's greedy
    perm = np.random.default_rng(7).permutation(f.n)
    for p in range(4):
        part = np.sort(perm[p::4])
        local = maximize(f, 6, LazyGreedy(), initial_subset=np.setdiff1d(np.arange(f.n), part))
        # (the initial subset hides the other parts; its value is a constant offset)
        value = f.evaluate(local.indices)
        assert sel.objective >= value - 1e-9
    lazy = maximize(f, 6, LazyGreedy()).objective
    assert sel.objective >= 0.5 * lazy
    with pytest.raises(ValueError, match="cardinality"):
        maximize(f, None, algo, costs=np.ones(f.n), budget=3.0)


def test_randgreedi_respects_an_initial_subset():
    f = _dense_fl()
    sel = maximize(f, 5, RandGreeDi(n_partitions=1), initial_subset=[0, 1])
    ref = maximize(f, 5, LazyGreedy(), initial_subset=[0, 1])
    np.testing.assert_array_equal(sel.indices, ref.indices)
    assert sel.objective == ref.objective


def test_sieve_in_memory_matches_reference_and_the_kernel():
    rng = np.random.default_rng(3)
    n, k, eps = 40, 4, 0.2
    S = rng.uniform(size=(n, n)) * (rng.uniform(size=(n, n)) < 0.3)
    f = FacilityLocation(S)
    sel = maximize(f, k, SieveStreaming(epsilon=eps))
    ref_value, ref_ids = reference_sieve(S, k, eps)
    assert sel.indices.tolist() == ref_ids
    assert sel.objective == pytest.approx(ref_value)
    state = sieve_kernel.init_state(k, n, eps)
    sieve_kernel.process(state, np.tile(np.arange(n), (n, 1)), S, np.arange(n), k, eps)
    assert sieve_kernel.best(state).indices.tolist() == ref_ids


@pytest.mark.parametrize("name,f", _functions(), ids=[n for n, _ in _functions()])
def test_sieve_in_memory_guarantee_and_determinism(name, f):
    for eps in (0.1, 0.3):
        before = _global_rng_state()
        sel = maximize(f, 5, SieveStreaming(epsilon=eps))
        np.testing.assert_array_equal(_global_rng_state(), before)
        assert 0 < len(sel) <= 5 and np.unique(sel.indices).size == len(sel)
        assert sel.objective == pytest.approx(f.evaluate(sel.indices))
        assert sel.gains.sum() == pytest.approx(sel.objective)
        # OPT >= lazy greedy, so the (1/2 - eps) guarantee holds against it
        assert sel.objective >= (0.5 - eps) * maximize(f, 5, LazyGreedy()).objective
        again = maximize(f, 5, SieveStreaming(epsilon=eps))
        np.testing.assert_array_equal(sel.indices, again.indices)


# --------------------------------------------------------------------------- checkpoint identity


def _two_column_parquet(path, X, with_id=True):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d = X.shape[1]
    cols = {
        "vec": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), d),
        "vec2": pa.FixedSizeListArray.from_arrays(pa.array((X[::-1] * 2).ravel()), d),
    }
    if with_id:
        cols["id"] = np.arange(X.shape[0])
    pq.write_table(pa.table(cols), path)
    return path


def test_parquet_without_id_column_selects(tmp_path):
    X = blobs(300, d=6)
    path = _two_column_parquet(tmp_path / "noid.parquet", X, with_id=False)
    sel = select_from_shards(open_shards(path, embedding_column="vec"), 10, random_state=0)
    ref = select_from_shards(write_shards(tmp_path / "npy", X, [300]), 10, random_state=0)
    np.testing.assert_array_equal(sel.indices, ref.indices)
    assert open_shards(path, embedding_column="vec").ids(0) is None
    with pytest.raises(ValueError, match="no id_column 'id'"):
        open_shards(path, embedding_column="vec", id_column="id")


def test_checkpoint_of_another_run_is_refused_naming_the_difference(tmp_path):
    X = blobs(400, d=6)
    path = _two_column_parquet(tmp_path / "two.parquet", X)
    ckpt = tmp_path / "ck"
    algo = RandGreeDi(n_partitions=2)
    vec = open_shards(path, embedding_column="vec")
    sel = select_from_shards(vec, 12, algorithm=algo, checkpoint_dir=ckpt, random_state=1)
    cases = [
        (dict(data=open_shards(path, embedding_column="vec2")), "columns.embedding_column"),
        (dict(weighting="sample"), "weighting"),
        (dict(weighting=None), "weighting"),
        (dict(algorithm=RandGreeDi(n_partitions=3)), "algorithm.n_partitions"),
        (dict(algorithm=RandGreeDi(n_partitions=2, n_neighbors=16)), "algorithm.n_neighbors"),
        (dict(algorithm=RandGreeDi(n_partitions=2, metric="dot")), "algorithm.metric"),
        (
            dict(algorithm=RandGreeDi(n_partitions=2, optimizer=StochasticGreedy(random_state=0))),
            "algorithm.optimizer",
        ),  # fmt: skip
        (dict(algorithm=SieveStreaming()), "algorithm"),
        (dict(algorithm=SampleGreedy()), "algorithm"),
    ]
    for change, what in cases:
        kw = dict(data=vec, k=12, algorithm=algo, checkpoint_dir=ckpt, random_state=1) | change
        with pytest.raises(ValueError, match=rf"differs in: [^)]*\b{what}\b"):
            select_from_shards(**kw)
    # the same run resumes from its saved results: Selections round-trip through the files
    again = select_from_shards(vec, 12, algorithm=algo, checkpoint_dir=ckpt, random_state=1)
    np.testing.assert_array_equal(again.indices, sel.indices)
    np.testing.assert_array_equal(again.weights, sel.weights)
    with np.load(ckpt / "merge.npz", allow_pickle=False) as saved:
        merged = Selection.from_arrays(saved)
    np.testing.assert_array_equal(merged.indices, sel.indices)
    np.testing.assert_array_equal(merged.gains, sel.gains)
    assert merged.objective == sel.objective
    with np.load(ckpt / "partition_00001.npz", allow_pickle=False) as saved:
        part = Selection.from_arrays(saved)
    assert len(part) > 0 and np.isin(part.indices, np.arange(400)).all()


def test_algorithm_seed_over_shards_is_refused_not_ignored(tmp_path):
    # a RandGreeDi seed seeds in-memory runs; over shards one seed drives every stream
    shards = write_shards(tmp_path / "npy", blobs(200, d=4), [100, 100])
    with pytest.raises(ValueError, match=r"algorithm: .*select_from_shards\(\.\.\., random_state"):
        select_from_shards(shards, 5, algorithm=RandGreeDi(random_state=0))


@pytest.mark.parametrize("algorithm", ["greedi", "sample", "sieve"])
def test_a_zero_row_in_a_shard_is_kept_under_cosine(tmp_path, algorithm):
    # the documented sharded policy: a zero row has similarity 0 to everything and covers
    # only itself; it must not abort the run (it did for RandGreeDi's per-part graphs)
    X = blobs(600, d=5)
    X[311] = 0.0
    shards = write_shards(tmp_path / "npy", X, [300, 300])
    sel = select_from_shards(shards, 20, algorithm=algorithm, random_state=0)
    # a sieve may stop short of k (its best threshold's solution need not fill up)
    assert len(sel) == 20 if algorithm != "sieve" else 0 < len(sel) <= 20
    assert np.isfinite(sel.gains).all() and sel.weights.sum() == 600
    with pytest.raises(ValueError, match="zero rows"):
        knn_graph(X, n_neighbors=8)  # in memory the default stays an error
    G = knn_graph(X, n_neighbors=8, zero_rows="keep")
    row = G.getrow(311)
    assert row[0, 311] == 1.0 and row.sum() == 1.0  # only its self edge


@pytest.mark.parametrize("cls", [RandGreeDi, SieveStreaming])
def test_shard_only_sample_size_is_refused_in_memory_not_ignored(cls):
    f = FacilityLocation(np.eye(6))
    with pytest.raises(ValueError, match="sample_size: .* over shards"):
        maximize(f, 2, cls(sample_size=3))


# --------------------------------------------------------------------------- SampleGreedy (issue 13)


def test_sample_greedy_hand_checked(tmp_path):
    # two groups of three directions; each middle row is the closest to both others, and
    # with n_neighbors=3 a row's list is its own group: lazy greedy must take the middles
    a = np.deg2rad([0.0, 5.0, 11.0, 80.0, 85.0, 91.0])
    X = np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)
    root = write_shards(tmp_path / "s", X, [3, 3])
    algo = SampleGreedy(sample_size=6, n_neighbors=3)
    sel = select_from_shards(root, 2, algorithm=algo, weighting=None, random_state=0)
    assert sorted(sel.indices.tolist()) == [1, 4]
    # objective: each middle row covers itself (1) and its two neighbours (cos of the gap)
    expected = 2 * (1.0 + np.cos(np.deg2rad(5.0)) + np.cos(np.deg2rad(6.0)))
    assert sel.objective == pytest.approx(expected, rel=1e-6)
    assert sel.gains.sum() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_sample_greedy_with_every_row_held_is_centralised_greedy(tmp_path, metric):
    # with the whole data as the sample, each candidate's rows are the centralised kNN
    # graph's rows (small shards: exact indexes), so the result is centralised lazy greedy
    X = blobs(300, d=6, centers=8, seed=2)
    root = write_shards(tmp_path / "s", X, [100, 120, 80])
    algo = SampleGreedy(sample_size=300, n_neighbors=8, metric=metric)
    sel = select_from_shards(root, 12, algorithm=algo, weighting=None, random_state=1)
    graph = knn_graph(X, n_neighbors=8, metric=metric)
    ref = maximize(FacilityLocation(graph), 12, LazyGreedy())
    np.testing.assert_array_equal(sel.indices, ref.indices)
    assert sel.objective == pytest.approx(ref.objective, rel=1e-5)


def test_sample_greedy_candidates_come_from_the_sample_and_repeat(shards):
    root, _ = shards
    algo = SampleGreedy(sample_size=60)
    sel = select_from_shards(root, 15, algorithm=algo, weighting=None, random_state=7)
    assert len(sel) == 15 and np.unique(sel.indices).size == 15
    assert np.isin(sel.indices, _plan.sample_rows(1200, 60, 7)).all()
    again = select_from_shards(root, 15, algorithm=algo, weighting=None, random_state=7)
    np.testing.assert_array_equal(sel.indices, again.indices)
    assert sel.objective == again.objective
    other = select_from_shards(root, 15, algorithm=algo, weighting=None, random_state=8)
    assert not np.array_equal(np.sort(sel.indices), np.sort(other.indices))


def test_sample_and_sieve_are_separate_algorithms(shards, tmp_path):
    root, _ = shards
    by_name = select_from_shards(root, 20, algorithm="sample", weighting=None, random_state=0)
    default = select_from_shards(root, 20, algorithm=SampleGreedy(), weighting=None, random_state=0)
    np.testing.assert_array_equal(by_name.indices, default.indices)
    assert len(by_name) == 20  # the sample (all 1,200 rows here) holds k candidates
    # "sieve" is Sieve-Streaming++ again: the compiled kernel fed shard by shard
    sieve = select_from_shards(root, 20, algorithm="sieve", weighting=None, random_state=0,
                               checkpoint_dir=tmp_path / "ck")  # fmt: skip
    assert 0 < len(sieve) <= 20 and np.unique(sieve.indices).size == len(sieve)
    assert sorted(p.stem for p in (tmp_path / "ck").glob("*.npz")) == ["sieve_000002"]
    with pytest.raises(TypeError, match="candidates"):
        SieveStreaming(candidates="sample")
    assert "candidates" not in repr(SieveStreaming())


@pytest.mark.parametrize("algo_cls", [SampleGreedy, SieveStreaming])
def test_one_pass_state_does_not_grow_with_the_rows(tmp_path, monkeypatch, algo_cls):
    # what is kept between shards (the checkpointed state) has the same arrays at 3x the rows
    real_save = Checkpoint.save
    shapes = {}

    def recording_save(self, name, **arrays):
        shapes.setdefault(self.directory.parent.name, []).append(
            {key: np.asarray(v).shape for key, v in arrays.items()}
        )
        real_save(self, name, **arrays)

    monkeypatch.setattr(Checkpoint, "save", recording_save)
    monkeypatch.setattr(sample_driver, "CHUNK_ROWS", 1)  # one chunk per shard, as the sieve
    algo = algo_cls(sample_size=50, n_neighbors=8)
    for n in (600, 1800):
        root = write_shards(tmp_path / f"n{n}" / "s", blobs(n, seed=n), [n // 3] * 3)
        select_from_shards(root, 10, algorithm=algo, weighting=None, random_state=0,
                           checkpoint_dir=tmp_path / f"n{n}" / "ck")  # fmt: skip
    small, large = shapes["n600"], shapes["n1800"]
    assert len(small) == len(large) == 3  # one state per shard
    assert small == large
    if algo_cls is SampleGreedy:
        assert small[0] == {"keys": (50, 8), "ids": (50, 8)}


@pytest.mark.parametrize("algo_cls", [SampleGreedy, SieveStreaming])
def test_one_pass_resumes_after_a_crash_mid_pass(shards, tmp_path, monkeypatch, algo_cls):
    root, _ = shards
    monkeypatch.setattr(sample_driver, "CHUNK_ROWS", 1)  # a checkpoint after every shard
    kw = dict(random_state=5, algorithm=algo_cls(), weighting=None)
    full = select_from_shards(root, 15, **kw)
    real_save = Checkpoint.save
    crash_at = {SampleGreedy: "sample_neighbors_000001", SieveStreaming: "sieve_000001"}[algo_cls]

    def failing_save(self, name, **arrays):
        real_save(self, name, **arrays)
        if name == crash_at:
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(Checkpoint, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        select_from_shards(root, 15, checkpoint_dir=tmp_path / "ck", **kw)
    monkeypatch.setattr(Checkpoint, "save", real_save)
    # killed between saving shard 1 and dropping shard 0's state: the rerun takes the last
    assert sorted(p.stem for p in (tmp_path / "ck").glob("*.npz")) == [
        crash_at.replace("1", "0"),
        crash_at,
    ]
    resumed = select_from_shards(root, 15, checkpoint_dir=tmp_path / "ck", **kw)
    np.testing.assert_array_equal(resumed.indices, full.indices)
    assert resumed.objective == full.objective


def test_sample_greedy_chunking_does_not_change_the_result(shards, monkeypatch):
    # small shards: exact indexes whichever way they are grouped, and merge_top is order-free
    root, _ = shards
    algo = SampleGreedy(sample_size=80)
    whole = select_from_shards(root, 10, algorithm=algo, weighting=None, random_state=3)
    monkeypatch.setattr(sample_driver, "CHUNK_ROWS", 1)
    per_shard = select_from_shards(root, 10, algorithm=algo, weighting=None, random_state=3)
    np.testing.assert_array_equal(whole.indices, per_shard.indices)
    assert whole.objective == pytest.approx(per_shard.objective, rel=1e-6)


def test_sample_greedy_chunk_rows_is_part_of_the_checkpoint_identity(shards, tmp_path, monkeypatch):
    # on large shards the chunks decide which rows share an IVF index: another CHUNK_ROWS
    # may give other lists, so its checkpoint must not be resumed
    root, _ = shards
    kw = dict(algorithm=SampleGreedy(sample_size=80), weighting=None, random_state=3,
              checkpoint_dir=tmp_path / "ck")  # fmt: skip
    select_from_shards(root, 10, **kw)
    monkeypatch.setattr(sample_driver, "CHUNK_ROWS", 1)
    with pytest.raises(ValueError, match=r"differs in: [^)]*\balgorithm\.chunk_rows\b"):
        select_from_shards(root, 10, **kw)


def test_sample_greedy_bad_options_name_themselves(shards):
    root, _ = shards
    for kwargs, error, match in [
        (dict(sample_size=0), ValueError, "sample_size must be >= 1"),
        (dict(sample_size=2.5), TypeError, "sample_size must be an integer"),
        (dict(n_neighbors=0), ValueError, "n_neighbors must be >= 1"),
        (dict(metric="l1"), ValueError, "metric"),
        (dict(optimizer="fastest"), ValueError, "optimizer must be one of"),
        (dict(optimizer=42), TypeError, "optimizer must be one of"),
        (dict(random_state=-1), ValueError, "random_state"),
    ]:
        with pytest.raises(error, match=match):
            SampleGreedy(**kwargs)
    with pytest.raises(ValueError, match=r"sample_size: .*sample_size >= k = 20, got 10"):
        select_from_shards(root, 20, algorithm=SampleGreedy(sample_size=10))
    # the sieve may hold fewer sample points than it picks rows
    sel = select_from_shards(root, 20, algorithm=SieveStreaming(sample_size=10), weighting=None)
    assert 0 < len(sel) <= 20
    with pytest.raises(ValueError, match=r"algorithm: .*select_from_shards\(\.\.\., random_state"):
        select_from_shards(root, 5, algorithm=SampleGreedy(random_state=0))


@pytest.mark.parametrize("algorithm", ["sample", "sieve"])
def test_one_pass_all_zero_similarities_are_refused(tmp_path, algorithm):
    root = write_shards(tmp_path / "s", np.zeros((40, 3), np.float32), [20, 20])
    algo = {"sample": SampleGreedy, "sieve": SieveStreaming}[algorithm](metric="dot")
    with pytest.raises(ValueError, match="every similarity in the .* is 0"):
        select_from_shards(root, 5, algorithm=algo, weighting=None, random_state=0)


@pytest.mark.parametrize("name,f", _functions(), ids=[n for n, _ in _functions()])
def test_sample_greedy_in_memory_with_every_element_is_the_inner_optimizer(name, f):
    for inner in (LazyGreedy(), StochasticGreedy(epsilon=0.2, random_state=4)):
        ref = maximize(f, 8, inner)
        for size in (None, f.n, 10 * f.n):  # the default holds min(n, 10_000) elements
            got = maximize(f, 8, SampleGreedy(sample_size=size, optimizer=inner, random_state=0))
            np.testing.assert_array_equal(got.indices, ref.indices)
            np.testing.assert_array_equal(got.gains, ref.gains)
            assert got.objective == ref.objective
    # an initial subset counts, as for the inner optimiser
    ref = maximize(f, 5, LazyGreedy(), initial_subset=[0, 1])
    got = maximize(f, 5, SampleGreedy(), initial_subset=[0, 1])
    np.testing.assert_array_equal(got.indices, ref.indices)
    assert got.objective == ref.objective


def test_sample_greedy_in_memory_picks_sampled_elements_and_repeats():
    rng = np.random.default_rng(5)
    S = rng.uniform(size=(80, 120))  # 80 candidates covering 120 points; no ties
    f = FacilityLocation(S)
    before = _global_rng_state()
    sel = maximize(f, 6, SampleGreedy(sample_size=25, random_state=9))
    np.testing.assert_array_equal(_global_rng_state(), before)  # global RNG untouched
    drawn = np.sort(np.random.default_rng(9).choice(80, 25, replace=False))
    assert np.isin(sel.indices, drawn).all() and len(sel) == 6
    # exactly lazy greedy with the ground set restricted to the sample (rows are candidates)
    ref = maximize(FacilityLocation(S[drawn]), 6, LazyGreedy())
    np.testing.assert_array_equal(sel.indices, drawn[ref.indices])
    np.testing.assert_allclose(sel.gains, ref.gains)
    assert sel.objective == pytest.approx(f.evaluate(sel.indices))
    again = maximize(f, 6, SampleGreedy(sample_size=25, random_state=9))
    np.testing.assert_array_equal(sel.indices, again.indices)
    other = maximize(f, 6, SampleGreedy(sample_size=25, random_state=10))
    assert not np.array_equal(np.sort(sel.indices), np.sort(other.indices))


def test_sample_greedy_in_memory_refuses_what_it_would_ignore():
    f = FacilityLocation(np.random.default_rng(0).uniform(size=(30, 30)))
    with pytest.raises(ValueError, match=r"sample_size: .*sample_size >= k = 5, got 4"):
        maximize(f, 5, SampleGreedy(sample_size=4))
    for kwargs, what in [(dict(n_neighbors=8), "n_neighbors"), (dict(metric="dot"), "metric")]:
        with pytest.raises(ValueError, match=rf"{what}: .* over shards"):
            maximize(f, 5, SampleGreedy(**kwargs))
    with pytest.raises(ValueError, match="cardinality"):
        maximize(f, None, SampleGreedy(), costs=np.ones(30), budget=3.0)
