"""Regression tests of issue 15: bad input gets an error naming the argument, never a crash.

Cases that crashed the interpreter before run in a subprocess, so a segfault fails the
test instead of killing the test run.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from coresets._metrics import check_magnitude
from coresets._validation import check_costs, check_sparse_structure
from coresets.submodular.functions import (
    FacilityLocation,
    FeatureBased,
    GraphCut,
    Mixture,
    SaturatedCoverage,
)
from coresets.submodular.similarity import ImplicitSimilarity, similarity

# --- helpers ---------------------------------------------------------------------------


def _isolated(body: str) -> list:
    """Run ``body`` in a fresh interpreter; it appends ``(case, outcome)`` to ``out``.

    ``outcome`` is the exception's class name and message, or ``"ok"``. A crash (a
    negative return code: killed by a signal) fails the calling test with the case
    that was running.
    """
    script = (
        textwrap.dedent(
            """
        import json, sys
        import numpy as np
        import scipy.sparse as sp
        out = []

        def case(name, fn):
            print("RUNNING", name, file=sys.stderr, flush=True)
            try:
                fn()
                out.append((name, "ok"))
            except Exception as exc:
                out.append((name, f"{type(exc).__name__}: {exc}"))
        """
        )
        + textwrap.dedent(body)
        + "\nprint(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    running = [ln for ln in proc.stderr.splitlines() if ln.startswith("RUNNING")]
    assert proc.returncode == 0, (
        f"interpreter ended with code {proc.returncode} during "
        f"{running[-1] if running else '?'}:\n{proc.stderr[-3000:]}"
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _assert_refused(results, kinds=("ValueError", "TypeError")):
    for name, outcome in results:
        assert outcome.split(":")[0] in kinds, f"{name}: {outcome}"


# --- item 1: broken sparse structure and out-of-range ids never crash -----------------

_BROKEN_CSR = """
from coresets.submodular.functions import (
    FacilityLocation, FeatureBased, GraphCut, SaturatedCoverage)
from coresets.submodular.optimizers import maximize

def broken(kind, fmt="csr"):
    S = sp.random(40, 40, density=0.2, format=fmt, random_state=0, dtype=np.float64)
    S.data += 0.1
    if kind == "index_past_n":
        S.indices[3] = 10**7
    elif kind == "index_negative":
        S.indices[3] = -5
    elif kind == "indptr_not_monotone":
        S.indptr[5] = S.indptr[6] + 3
    elif kind == "indptr_short":
        S.indptr = S.indptr[:-3]
    elif kind == "indptr_past_nnz":
        S.indptr[-1] = S.nnz + 100
    elif kind == "data_shorter":
        S.data = S.data[:-4]
    elif kind == "float_indices":
        S.indices = S.indices.astype(np.float64)
    return S

for kind in ("index_past_n", "index_negative", "indptr_not_monotone", "indptr_short",
             "indptr_past_nnz", "data_shorter", "float_indices"):
    for cls in (FacilityLocation, GraphCut, SaturatedCoverage, FeatureBased):
        case(f"{cls.__name__}/{kind}", lambda: maximize(cls(broken(kind)), 5))
    case(f"csc/{kind}", lambda: maximize(FacilityLocation(broken(kind, "csc")), 5))

C = sp.random(40, 40, density=0.2, format="coo", random_state=0)
C.row[0] = 10**6
case("coo/row_past_n", lambda: FacilityLocation(C))
"""


def test_broken_sparse_structure_is_refused_naming_the_argument():
    results = _isolated(_BROKEN_CSR)
    assert len(results) == 7 * 5 + 1
    _assert_refused(results)
    for name, outcome in results:
        arg = "features" if name.startswith("FeatureBased") else "similarity"
        assert outcome.startswith(f"ValueError: {arg} is not a well-formed"), (name, outcome)


_BAD_IDS = """
import torch
from coresets.submodular.functions import (
    FacilityLocation, FeatureBased, GraphCut, Mixture, SaturatedCoverage)
from coresets.submodular.similarity import ImplicitSimilarity, similarity

rng = np.random.default_rng(0)
X = rng.random((30, 5))
S = similarity(X)
functions = {
    "fl_dense": FacilityLocation(S),
    "fl_dense64": FacilityLocation(S.astype(np.float64)),
    "fl_sparse": FacilityLocation(sp.csr_matrix(S)),
    "fl_torch": FacilityLocation(torch.from_numpy(S)),
    "fl_implicit": FacilityLocation(ImplicitSimilarity(X)),
    "fl_rect": FacilityLocation(S[:10]),
    "gc_dense": GraphCut(S),
    "gc_sparse": GraphCut(sp.csr_matrix(S)),
    "sc_dense": SaturatedCoverage(S),
    "sc_sparse": SaturatedCoverage(sp.csr_matrix(S)),
    "fb_dense": FeatureBased(X),
    "fb_sparse": FeatureBased(sp.csr_matrix(X)),
    "mixture": Mixture([FacilityLocation(S), GraphCut(S)]),
}
bad_candidates = {"huge": [10**7], "n": None, "negative": [-1], "very_negative": [-10**12],
                  "float": [1.5], "uint_huge": np.array([2**63 + 5], dtype=np.uint64),
                  "strings": ["a"]}
bad_ids = {"huge": 10**7, "n": None, "negative": -1, "float": 1.5, "string": "3",
           "none": None, "array": np.array([1, 2])}
for fname, f in functions.items():
    st = f.init_state()
    for bname, b in bad_candidates.items():
        c = [f.n] if bname == "n" else b
        case(f"{fname}.gains/{bname}", lambda: f.gains(st, c))
        case(f"{fname}.upper_bounds/{bname}", lambda: f.upper_bounds(st, c))
    for bname, b in bad_ids.items():
        j = f.n if bname == "n" else b
        if bname == "none":
            j = None
        case(f"{fname}.add/{bname}", lambda: f.add(st, j))
    other = FacilityLocation(S[:, :7]).init_state() if fname != "mixture" else None
    if other is not None:
        case(f"{fname}.gains/foreign_state", lambda: f.gains(other, [0]))
        case(f"{fname}.add/foreign_state", lambda: f.add(other, 0))
"""


def test_out_of_range_and_non_integer_ids_are_refused_on_every_storage():
    results = _isolated(_BAD_IDS)
    by_name = dict(results)
    # upper_bounds returns None (no bounds) without reading ids on some functions: fine
    refused = [(n, o) for n, o in results if not (".upper_bounds/" in n and o == "ok")]
    _assert_refused(refused)
    assert len(refused) > 13 * 15
    assert by_name["fl_dense.gains/huge"].startswith("ValueError: candidates holds indices")
    assert by_name["fl_dense.add/huge"].startswith("ValueError: j must be an element id")
    assert by_name["fl_torch.add/float"].startswith("TypeError: j must be an integer")
    assert by_name["fl_sparse.gains/float"].startswith("TypeError: candidates must hold integer")
    assert by_name["gc_dense.gains/negative"].startswith("ValueError: candidates")
    assert by_name["fl_dense.gains/foreign_state"].startswith("ValueError: state must come")


def test_valid_ids_still_work_and_numpy_integers_are_accepted():
    rng = np.random.default_rng(1)
    X = rng.random((25, 4))
    S = similarity(X)
    for f in (
        FacilityLocation(S),
        FacilityLocation(sp.csr_matrix(S)),
        FacilityLocation(ImplicitSimilarity(X)),
        GraphCut(S),
        SaturatedCoverage(sp.csr_matrix(S)),
        FeatureBased(X),
        Mixture([FacilityLocation(S), SaturatedCoverage(S)]),
    ):
        st = f.init_state()
        g = f.gains(st, np.arange(f.n, dtype=np.int32))
        assert g.shape == (f.n,) and np.isfinite(g).all()
        assert f.gains(st, []).shape == (0,)
        j = int(np.argmax(g))
        assert f.add(st, np.int64(j)) == pytest.approx(g[j])
        assert f.add(st, np.array(0)) >= 0


def test_sparse_structure_check_leaves_the_matrix_alone():
    S = sp.random(30, 30, density=0.1, format="csr", random_state=0)
    indices, indptr, data = S.indices, S.indptr, S.data
    check_sparse_structure(S, "similarity")
    assert S.indices is indices and S.indptr is indptr and S.data is data
    with pytest.raises(ValueError, match="graph is not a well-formed CSR"):
        bad = S.copy()
        bad.indices[0] = 30
        check_sparse_structure(bad, "graph")


# --- item 3: magnitudes past float32 -----------------------------------------------------


@pytest.fixture(scope="module")
def huge():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((60, 8)) * 1e20).astype(np.float32)


def test_cosine_of_huge_rows_is_exact(huge):
    from coresets.knn import knn_graph

    G = knn_graph(huge, n_neighbors=5, metric="cosine", index="flat", device="cpu")
    assert G.nnz == 60 * 5 and np.isfinite(G.data).all() and G.data.max() > 0.99
    S = similarity(huge, "cosine")
    U = huge.astype(np.float64)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    np.testing.assert_allclose(S, np.maximum(U @ U.T, 0), atol=1e-5)


@pytest.mark.parametrize("metric", ["dot", "euclidean"])
def test_overflowing_dot_products_and_distances_are_refused(huge, metric):
    from coresets.knn import knn_graph

    with pytest.raises(ValueError, match=r"^X has rows of norm up to .* float32"):
        knn_graph(huge, n_neighbors=5, metric=metric, index="flat", device="cpu")
    with pytest.raises(ValueError, match=r"^X has rows of norm .* float32"):
        similarity(huge, metric)
    with pytest.raises(ValueError, match=r"^X has rows of norm"):
        ImplicitSimilarity(huge, metric)
    S = similarity(huge, metric, dtype=np.float64)  # float64 holds them
    assert np.isfinite(S).all() and S.max() > 1e40


def test_magnitude_check_is_exact_at_the_edge():
    edge = np.sqrt(np.finfo(np.float32).max / 2) * 0.99
    X = np.zeros((3, 64), dtype=np.float32)
    X[0, 0] = edge  # one big entry: the cheap bound (64 * max^2) fails, the norms pass
    check_magnitude(X, "dot", name="X")
    S = similarity(X, "dot")
    assert np.isfinite(S).all()
    X[1, :2] = edge
    with pytest.raises(ValueError, match="dot products reach"):
        check_magnitude(X, "dot", name="X")
    check_magnitude(X, "cosine", name="X")


# --- item 4: a .npy header claiming 4 TiB ----------------------------------------------


def _fake_huge_npy(path):
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (2**30, 1024)}
        )
        fh.write(b"\0" * 16)


def test_cli_refuses_an_npy_whose_header_claims_4_tib(tmp_path):
    _fake_huge_npy(tmp_path / "X.npy")
    args = f"select --input {tmp_path / 'X.npy'} --n-samples 5 --method random --no-progress"
    proc = subprocess.run(
        [sys.executable, "-m", "coresets", *args.split(), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "--input" in proc.stderr and "truncated" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_cli_turns_memory_error_into_one_line(monkeypatch, capsys):
    from coresets import cli

    def boom(a):
        raise MemoryError("Unable to allocate 4.00 TiB")

    monkeypatch.setattr(cli, "_cmd_select", boom)
    rc = cli.main(["select", "--input", "x.npy", "--n-samples", "5", "--out", "o"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "out of memory" in err and "4.00 TiB" in err


def test_load_npy_refuses_a_truncated_file(tmp_path):
    from coresets import _io

    _fake_huge_npy(tmp_path / "X.npy")
    with pytest.raises(ValueError, match="truncated: header promises 4398046511232 bytes"):
        _io.load_npy(tmp_path / "X.npy")
    np.save(tmp_path / "ok.npy", np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(_io.load_npy(tmp_path / "ok.npy", mmap=True)[1], [3, 4, 5])


# --- item 6: seeds torch cannot take -------------------------------------------------------


def test_samplers_refuse_seeds_torch_cannot_take():
    from coresets.sampling import (
        CoresetSampler,
        DistributedCoresetSampler,
        WeightedCoresetSampler,
    )

    makers = {
        "CoresetSampler": lambda s: CoresetSampler([1, 2, 3], seed=s),
        "WeightedCoresetSampler": lambda s: WeightedCoresetSampler([1, 2, 3], [1, 1, 2], seed=s),
        "DistributedCoresetSampler": lambda s: DistributedCoresetSampler(
            [1, 2, 3], num_replicas=1, rank=0, seed=s
        ),
    }
    for name, make in makers.items():
        for bad in (2**64, 2**63, -1):
            with pytest.raises(ValueError, match="^seed must be"):
                make(bad)
        with pytest.raises(TypeError, match="^seed must be an integer"):
            make(1.5)
        sampler = make(2**63 - 1)  # the largest: seed + epoch still fits torch
        sampler.set_epoch(10**6)
        assert sorted(set(iter(sampler))) or name, name


# --- item 7: raw exceptions now name the argument ------------------------------------------


def test_checkpoint_directory_that_is_a_file(tmp_path):
    from coresets.streaming.checkpoint import Checkpoint

    f = tmp_path / "ckpt"
    f.write_text("x")
    with pytest.raises(ValueError, match="checkpoint_dir .* is not a directory"):
        Checkpoint(f, {"a": 1})
    with pytest.raises(ValueError, match="checkpoint_dir .* is not a directory"):
        Checkpoint(f / "below", {"a": 1})


@pytest.mark.parametrize(
    "manifest", ["[1, 2]", '"text"', '{"config": [1]}', '{"config": {"a": 1}, "seed": "x"}']
)
def test_checkpoint_manifest_that_is_not_a_checkpoints(tmp_path, manifest):
    from coresets.streaming.checkpoint import Checkpoint

    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(ValueError, match="checkpoint_dir .* manifest"):
        Checkpoint(tmp_path, {"a": 1})


def test_checkpoint_file_missing_a_key_names_the_file(tmp_path):
    from coresets.streaming.checkpoint import Checkpoint

    ck = Checkpoint(tmp_path, {"a": 1})
    ck.start(0)
    ck.save("candidate_neighbors", keys=np.zeros(3), ids=np.zeros(3, dtype=np.int64))
    saved = ck.load("candidate_neighbors")
    np.testing.assert_array_equal(saved["ids"], 0)
    with pytest.raises(ValueError, match=r"candidate_neighbors\.npz lacks \['done'\]"):
        saved["done"]
    with pytest.raises(ValueError, match=r"candidate_neighbors\.npz lacks \['done'\]"):
        ck.load("candidate_neighbors", keys=("keys", "ids", "done"))
    assert ck.load("missing", keys=("x",)) is None


def test_shard_writer_index_whose_shards_is_not_a_list(tmp_path):
    from coresets.shards import FORMAT, INDEX_FILE, ShardWriter, open_shards

    out = tmp_path / "emb"
    w = ShardWriter(out, shard_size=4, n_input=8)
    w.append(np.ones((8, 3), dtype=np.float32))
    w.close()
    index = json.loads((out / INDEX_FILE).read_text())
    assert index["format"] == FORMAT
    index["shards"] = 7
    (out / INDEX_FILE).write_text(json.dumps(index))
    with pytest.raises(ValueError, match="'shards'"):
        open_shards(out)
    with pytest.raises(ValueError, match="out_dir .*'shards' is a int, not a list"):
        ShardWriter(out, shard_size=4, n_input=8)


def test_knn_search_with_wrong_queries_or_k():
    from coresets.knn import build_index, prepare, search, search_batches

    rng = np.random.default_rng(0)
    X = prepare(rng.random((50, 8)), "cosine")
    idx = build_index(X, "cosine", index="flat", device="cpu")
    with pytest.raises(ValueError, match="queries have 4 features but the index has 8"):
        search(idx, prepare(rng.random((5, 4)), "cosine"), 3)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="^k must be >= 1"):
            search(idx, X, bad)
        with pytest.raises(ValueError, match="^k must be >= 1"):
            search_batches(idx, X, bad)
    with pytest.raises(TypeError, match="^k must be an integer"):
        search(idx, X, 2.5)
    with pytest.raises(ValueError, match="^queries must be a 2-D float32"):
        search(idx, X.astype(np.float64), 3)
    D, I = search(idx, X[:5], 3)
    assert D.shape == I.shape == (5, 3) and (I[:, 0] == np.arange(5)).all()


def test_costs_given_as_strings():
    from coresets.submodular.optimizers import maximize

    for bad in (["1", "2", "3"], ["a", "b", "c"]):
        with pytest.raises(TypeError, match="^costs must hold numbers"):
            check_costs(bad, 3)
    f = FacilityLocation(similarity(np.random.default_rng(0).random((3, 2))))
    with pytest.raises(TypeError, match="^costs must hold numbers"):
        maximize(f, costs=["1", "1", "1"], budget=2.0)
    assert maximize(f, costs=[1, 1, 1], budget=2.0).indices.size == 2


def test_unknown_dtype_name_in_similarity():
    X = np.random.default_rng(0).random((5, 2))
    for bad in ("foo", "float16", np.int32, object):
        with pytest.raises(ValueError, match="^dtype must be one of"):
            similarity(X, dtype=bad)
    assert similarity(X, dtype="float64").dtype == np.float64


def test_negative_losses_in_fit_power_law():
    from coresets.scaling.powerlaw import fit_power_law

    sizes = [100, 200, 400, 800]
    with pytest.raises(ValueError, match="^losses must be non-negative"):
        fit_power_law(sizes, [-0.1, -0.2, -0.3, -0.35], n_boot=0)
    with pytest.raises(TypeError, match="^level must be a real number"):
        fit_power_law(sizes, [1.0, 0.7, 0.5, 0.4], level="high")
    fit = fit_power_law(sizes, [1.0, 0.7, 0.5, 0.4], n_boot=0)
    assert fit.beta > 0


def test_pickled_npz_given_to_load_dataset(tmp_path):
    from coresets.scaling.datasets import load_dataset

    path = tmp_path / "data.npz"
    obj = np.array([{"a": 1}, None], dtype=object)
    np.savez(path, X=obj, y=np.zeros(2), X_test=np.zeros((2, 2)), y_test=np.zeros(2))
    with pytest.raises(ValueError, match=r"^name: dataset file .*data\.npz .*unpickling"):
        load_dataset(str(path))
    np.savez(tmp_path / "partial.npz", X=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^name: dataset file .*partial\.npz lacks"):
        load_dataset(str(tmp_path / "partial.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"^name: dataset file .*junk\.npz"):
        load_dataset(str(tmp_path / "junk.npz"))


def test_kernels_refuse_a_foreign_state():
    S = similarity(np.random.default_rng(0).random((10, 3)))
    f = FacilityLocation(S)
    assert f.kernels(f.init_state()) is not None
    with pytest.raises(ValueError, match="^state must come from this function"):
        f.kernels(FacilityLocation(S[:, :4]).init_state())


def test_npy_header_of_garbage_and_of_version_3(tmp_path):
    from coresets import _io

    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="is not a readable .npy file"):
        _io.load_npy(tmp_path / "bad.npy")
    X = np.zeros(3, dtype=[("\u00e9", "<f4")])  # a utf-8 field name needs format 3.0
    np.save(tmp_path / "v3.npy", X)
    assert _io.npy_header(tmp_path / "v3.npy")[0] == (3,)


def test_cosine_of_float64_rows_past_float32_range():
    from coresets._metrics import unit_rows
    from coresets.knn import knn_graph, prepare

    X = np.array([[1e300, 1e300], [1.0, 2.0], [3.0, 1.0], [2e38, 1e38]])
    U = unit_rows(X)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0)
    np.testing.assert_allclose(U[0], [2**-0.5, 2**-0.5])
    np.testing.assert_allclose(prepare(X, "cosine"), U, rtol=1e-6)
    G = knn_graph(X, n_neighbors=2, metric="cosine", index="flat", device="cpu")
    assert np.isfinite(G.data).all() and G[0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="overflow float32"):
        prepare(X, "dot")


def test_estimator_messages_name_their_argument():
    from coresets.selectors import CCSSelector, FacilityLocationSelector

    # scikit-learn's own message names nothing; ours says which argument it is about
    with pytest.raises(ValueError, match=r"^X: Expected 2D array"):
        FacilityLocationSelector(2).fit(np.arange(10.0))
    X = np.random.default_rng(0).standard_normal((20, 3))
    # the functions' k is the estimator's n_samples
    with pytest.raises(ValueError, match=r"n_samples=19 \(19 rows\) is larger than the 18 rows"):
        CCSSelector(19, hard_prune=0.1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="lower n_samples or hard_prune"):
        CCSSelector(19, hard_prune=0.1, random_state=0).fit(X)
