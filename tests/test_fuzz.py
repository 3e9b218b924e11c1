"""Property/fuzz layer over the public entry points (issue 15).

Hypothesis draws malformed and valid inputs: NaN/inf, empty, 1-D/3-D, object, str,
complex and bool dtypes, float16/float64/int inputs, magnitudes of 1e20 and 1e-30,
sparse matrices with broken structure, wrong sizes. Every outcome must be either a
``ValueError``/``TypeError`` whose message names the offending argument, or a correct
result (right shape, finite, indices in range and distinct); never a crash, a hang or
a non-finite output.

Anything that reaches the numba kernels or FAISS runs in a subprocess, so a segfault
fails the test instead of killing pytest. The examples are drawn here (hypothesis,
derandomised), pickled to a file, and one child interpreter per test runs them all
(``python tests/test_fuzz.py <runner> <cases.pkl> <out.jsonl>``), writing one JSON line
per example; a child that dies is reported with the example it was running.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

#: Every hypothesis run here: deterministic (CI), no deadline (the first call compiles).
FUZZ = {"deadline": None, "derandomize": True, "database": None}

# --- the examples ------------------------------------------------------------------------

#: Magnitudes of the valid rows: ordinary, past float32's squared range, and tiny.
SCALES = (1.0, 1.0, 1.0, 1e20, 1e-20, 1e-30)


def _case(arg_value, *, bad=None, may=(), **extra):
    """An example: ``bad`` names the argument that must be refused (None: must work);
    ``may`` names arguments that may be refused (extreme magnitudes, zero rows)."""
    return {"value": arg_value, "bad": bad, "may": tuple(may), **extra}


@st.composite
def dense_rows(draw, name="X", min_rows=2, max_rows=10, max_cols=5, broken=None):
    """A dense input for argument ``name`` as a case dict: valid (``broken=False``),
    malformed (``broken=True``) or either (None: mostly valid)."""
    malformed = ["nan", "inf", "empty_rows", "empty_cols", "1d", "3d"]
    malformed += ["object", "str", "complex", "list_ragged"]
    if broken is None:
        broken = draw(st.integers(0, 2)) == 0
    kind = draw(st.sampled_from(malformed)) if broken else "valid"
    n = draw(st.integers(min_rows, max_rows))
    d = draw(st.integers(1, max_cols))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, d))
    if kind == "valid":
        scale = draw(st.sampled_from(SCALES))
        dtype = draw(st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.bool_]))
        if dtype in (np.int64, np.bool_):
            arr = (base * 3).astype(dtype)
            scale = 1.0
        else:
            if dtype == np.float16 and scale > 1:
                scale = 1e4  # near float16's top (65504); 1e20 would be inf
            arr = (base * scale).astype(dtype)
        if draw(st.booleans()):
            arr[draw(st.integers(0, n - 1))] = 0  # a zero row
        if not np.isfinite(arr.astype(np.float64)).all():  # a float16 entry past 65504
            arr = np.clip(arr, -6e4, 6e4)
        may = (name,) if scale != 1.0 or dtype in (np.float16, np.bool_, np.int64) else ()
        # a zero row is refused under cosine, and equal rows may make a kNN graph of ties
        return _case(arr, may=may, zero_row=bool((np.abs(arr).sum(axis=1) == 0).any()))
    if kind in ("nan", "inf"):
        arr = base.astype(draw(st.sampled_from([np.float32, np.float64])))
        arr[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = (
            np.nan if kind == "nan" else -np.inf
        )
        return _case(arr, bad=name)
    if kind == "empty_rows":
        return _case(np.zeros((0, d)), bad=name)
    if kind == "empty_cols":
        return _case(np.zeros((n, 0)), bad=name)
    if kind == "1d":
        return _case(base[:, 0].copy(), bad=name)
    if kind == "3d":
        return _case(base[:, :, None].copy(), bad=name)
    if kind == "object":
        return _case(base.astype(object), bad=name)
    if kind == "str":
        return _case(base.astype(str), bad=name)
    if kind == "complex":
        return _case(base.astype(np.complex128), bad=name)
    return _case([[1.0, 2.0], [3.0]], bad=name)  # ragged list


SPARSE_BREAKS = (
    "none",
    "none",
    "unsorted",
    "duplicates",
    "index_past_n",
    "index_negative",
    "indptr_not_monotone",
    "indptr_short",
    "indptr_past_nnz",
    "indptr_start",
    "data_shorter",
    "float_indices",
    "negative_data",
    "nan_data",
    "wrong_shape",
    "empty",
)


@st.composite
def sparse_similarity(draw, name="similarity", square=True, broken=None):
    """A CSR similarity given as its parts, and how it was broken (``broken``: as in
    :func:`dense_rows`; unsorted and duplicate indices are legal CSR, so "valid")."""
    n = draw(st.integers(3, 12))
    seed = draw(st.integers(0, 2**16))
    if broken is None:
        broken = draw(st.integers(0, 2)) == 0
    brk = draw(st.sampled_from(SPARSE_BREAKS[4:] if broken else SPARSE_BREAKS[:4]))
    rng = np.random.default_rng(seed)
    S = sp.random(n, n, density=0.5, format="csr", random_state=rng, dtype=np.float64)
    S = (S + sp.eye(n, format="csr")).tocsr()  # every row non-empty
    S.sort_indices()
    data, indices, indptr, shape = S.data.copy(), S.indices.copy(), S.indptr.copy(), S.shape
    bad = name
    if brk == "none":
        bad = None
    elif brk == "unsorted":  # legal CSR: scipy's and our code sort it first
        for r in range(n):
            lo, hi = indptr[r], indptr[r + 1]
            indices[lo:hi] = indices[lo:hi][::-1].copy()
            data[lo:hi] = data[lo:hi][::-1].copy()
        bad = None
    elif brk == "duplicates":  # legal CSR: duplicates are summed
        row = int(np.argmax(np.diff(indptr)))
        lo = indptr[row]
        if indptr[row + 1] - lo >= 2:
            indices[lo + 1] = indices[lo]
        bad = None
    elif brk == "index_past_n":
        indices[draw(st.integers(0, len(indices) - 1))] = draw(
            st.sampled_from([n, n + 1, 10**7, 2**31 - 1])
        )
    elif brk == "index_negative":
        indices[draw(st.integers(0, len(indices) - 1))] = draw(st.sampled_from([-1, -(10**6)]))
    elif brk == "indptr_not_monotone":
        r = draw(st.integers(1, n - 1))
        indptr[r] = indptr[r + 1] + 2
    elif brk == "indptr_short":
        indptr = indptr[: -draw(st.integers(1, n - 1))]
    elif brk == "indptr_past_nnz":
        indptr[-1] = len(indices) + draw(st.integers(1, 100))
    elif brk == "indptr_start":
        indptr[0] = 1
    elif brk == "data_shorter":
        data = data[:-1]
    elif brk == "float_indices":
        indices = indices.astype(np.float64)
    elif brk == "negative_data":
        data[draw(st.integers(0, len(data) - 1))] = -draw(st.floats(1e-6, 1e3))
    elif brk == "nan_data":
        data[draw(st.integers(0, len(data) - 1))] = draw(st.sampled_from([np.nan, np.inf]))
    elif brk == "wrong_shape":
        shape = (n, max(1, int(indices.max())))  # columns past the shape
    elif brk == "empty":
        data, indices, indptr, shape = data[:0], indices[:0], np.zeros(1, np.int64), (0, 0)
    return _case((data, indices, indptr, shape), bad=bad, brk=brk, n=n, square=square)


def _raw_csr(parts):
    """A CSR matrix with exactly these arrays (no checks: scipy's constructor would fix or
    refuse some, and users build such matrices by assigning attributes)."""
    data, indices, indptr, shape = parts
    S = sp.csr_matrix(shape, dtype=data.dtype)
    S.data, S.indices, S.indptr = data, indices, indptr
    return S


def _sizes(n, name="k", broken=None):
    """A subset size for ``n`` elements: valid ints and fractions, wrong ones, or either."""
    valid = st.one_of(
        st.integers(1, n).map(lambda k: _case(k)),
        st.floats(1e-9, 1.0, exclude_min=True).map(lambda k: _case(k)),
    )
    if broken is False:
        return valid
    wrong = st.one_of(
        st.integers(-(2**40), 0).map(lambda k: _case(k, bad=name)),
        st.integers(n + 1, 2**62).map(lambda k: _case(k, bad=name)),
        st.sampled_from([0.0, -0.5, 1.5, math.nan, math.inf, -math.inf]).map(
            lambda k: _case(k, bad=name)
        ),
        st.sampled_from([True, "3", None, [2], 2 + 0j]).map(lambda k: _case(k, bad=name)),
    )
    return wrong if broken else st.one_of(valid, valid, wrong)


def _draw(strategy, n_examples):
    """``n_examples`` examples of ``strategy``, the same on every run."""
    out = []

    @settings(max_examples=n_examples, phases=[Phase.generate], **FUZZ)
    @given(strategy)
    def collect(example):
        out.append(example)

    collect()
    return out


# --- the child: runners over the examples -----------------------------------------------


def _finite(name, *arrays):
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        if not np.isfinite(a).all():
            return f"{name} holds non-finite values: {a}"
    return None


def _check_ids(name, ids, n, k=None, distinct=True):
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        return f"{name} has dtype {ids.dtype}"
    if k is not None and ids.shape != (k,):
        return f"{name} has shape {ids.shape}, wanted ({k},)"
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        return f"{name} outside [0, {n}): {ids}"
    if distinct and np.unique(ids).size != ids.size:
        return f"{name} repeats: {ids}"
    return None


def _check_selection(sel, n, k, initial=()):
    problem = _check_ids("indices", sel.indices, n, k) or _finite("gains", sel.gains)
    problem = problem or _finite("objective", sel.objective)
    if problem is None and set(np.asarray(sel.indices).tolist()) & set(initial):
        problem = f"indices {sel.indices} repeat initial_subset {initial}"
    if problem is None and sel.weights is not None:
        problem = _finite("weights", sel.weights)
    return problem


def _resolved_k(k, n):
    return max(1, int(round(k * n))) if isinstance(k, float) else k


def run_submodular(case):
    """A submodular function over a (maybe broken) similarity, maximised; gains and add."""
    from coresets.submodular import (
        FacilityLocation,
        FeatureBased,
        GraphCut,
        SaturatedCoverage,
        maximize,
    )

    cls = {
        "fl": FacilityLocation,
        "gc": GraphCut,
        "sc": SaturatedCoverage,
        "fb": FeatureBased,
    }[case["function"]]
    S = case["matrix"]
    S = _raw_csr(S) if isinstance(S, tuple) else S
    f = cls(S)
    n = f.n
    k = case["k"]
    problems = []
    if case.get("candidates") is not None:
        st_ = f.init_state()
        g = f.gains(st_, case["candidates"])
        problems.append(_finite("gains", g))
        if np.asarray(g).shape != (np.asarray(case["candidates"]).size,):
            problems.append(f"gains shape {np.asarray(g).shape}")
        problems.append(_finite("add", f.add(st_, case["j"])))
    sel = maximize(f, k, case["optimizer"])
    problems.append(_check_selection(sel, n, _resolved_k(k, n)))
    problems.append(_finite("evaluate", f.evaluate(sel.indices)))
    if sel.indices.size and not np.isclose(f.evaluate(sel.indices), sel.objective, rtol=1e-4):
        problems.append(f"evaluate {f.evaluate(sel.indices)} != objective {sel.objective}")
    return next((p for p in problems if p), None)


def run_knn(case):
    """knn_graph over X, then nearest/search of its rows."""
    from coresets.knn import build_index, knn_graph, nearest, prepare, search

    X, k, metric = case["X"], case["n_neighbors"], case["metric"]
    if case["entry"] == "knn_graph":
        G = knn_graph(X, n_neighbors=k, metric=metric, index=case["index"], random_state=0)
        n = np.asarray(X).shape[0]
        if not sp.isspmatrix_csr(G) or G.shape != (n, n):
            return f"graph is {type(G).__name__} of shape {G.shape}"
        G.check_format(full_check=True)
        if np.diff(G.indptr).max() > k:
            return f"a row holds more than {k} entries"
        return _finite("graph", G.data) or (
            f"negative similarity {G.data.min()}" if G.data.size and G.data.min() < 0 else None
        )
    base = X if case["target"] == "base" else prepare(X, metric)
    queries = case["queries"]
    queries = queries if case["target"] == "queries" else prepare(queries, metric)
    if case["entry"] == "nearest":
        D, I = nearest(base, queries, k, metric=metric, index=case["index"], random_state=0)
    else:
        D, I = search(build_index(base, metric, index=case["index"], k=1), queries, k)
    q = queries.shape[0]
    if D.shape != (q, k) or I.shape != (q, k):
        return f"shapes {D.shape}, {I.shape}, wanted ({q}, {k})"
    return _finite("D", D) or _check_ids("I", I[I >= 0], base.shape[0], distinct=False)


def run_selector(case):
    """A selector (or baseline function) fitted on X with n_samples."""
    import coresets.baselines as baselines
    import coresets.selectors as selectors

    X, size = case["X"], case["n_samples"]
    name = case["selector"]
    if name in ("k_center_greedy", "herding"):
        fn = getattr(baselines, name)
        extra = {"random_state": 0} if name == "k_center_greedy" else {}
        sel = fn(X, size, metric=case["metric"], device="cpu", **extra)
        n = np.asarray(X).shape[0]
        return _check_selection(sel, n, _resolved_k(size, n))
    cls = getattr(selectors, name)
    kwargs = {"metric": case["metric"]}
    if "random_state" in cls().get_params():
        kwargs["random_state"] = 0
    if "device" in cls().get_params():
        kwargs["device"] = "cpu"
    if name == "FeatureBasedSelector":
        kwargs.pop("metric")
    if case.get("n_neighbors") and "n_neighbors" in cls().get_params():
        kwargs["n_neighbors"] = case["n_neighbors"]
    est = cls(size, **kwargs).fit(X)
    n = np.asarray(X).shape[0]
    k = est.ranking_.shape[0]
    problem = _check_ids("ranking_", est.ranking_, n, _resolved_k(size, n))
    if problem is None and not np.isfinite(est.weights_).all():
        problem = f"weights_ not finite: {est.weights_}"
    if problem is None and name != "RandomSelector":
        problem = _finite("gains_", est.gains_) or _finite("objective_", est.objective_)
    if problem is None and abs(est.weights_.sum() - n) > 1e-6 * n:
        problem = f"weights_ sum to {est.weights_.sum()}, not {n}"
    if problem is None and est.transform(X).shape[0] != k:
        problem = "transform returns the wrong rows"
    return problem


def run_shards(case):
    """Rows through ShardWriter into NpyShards, then select_from_shards."""
    import tempfile

    from coresets.shards import ShardWriter, open_shards
    from coresets.streaming import select_from_shards

    with tempfile.TemporaryDirectory() as tmp:
        w = ShardWriter(tmp, shard_size=case["shard_size"])
        for block in case["blocks"]:
            w.append(block)
        w.close()
        data = open_shards(tmp)
        sel = select_from_shards(data, case["k"], algorithm=case["algorithm"], random_state=0)
        k = _resolved_k(case["k"], data.n_rows)
        if case["algorithm"] == "sieve" and 1 <= len(sel) < k:
            k = len(sel)  # documented: the best sieve may hold fewer than k rows
        return _check_selection(sel, data.n_rows, k)


def _child(runner, cases_path, out_path):
    warnings.simplefilter("ignore")
    fn = globals()[runner]
    with open(cases_path, "rb") as fh:
        cases = pickle.load(fh)
    with open(out_path, "w") as out:
        for i, case in enumerate(cases):
            out.write(json.dumps({"running": i}) + "\n")
            out.flush()
            try:
                problem = fn(case)
                result = {"i": i, "outcome": "ok", "problem": problem}
            except Exception as exc:  # every outcome is judged by the parent
                result = {"i": i, "outcome": type(exc).__name__, "message": str(exc)}
            out.write(json.dumps(result) + "\n")
            out.flush()


# --- the parent: run a batch in a child and judge every outcome ----------------------------


def _names(message, names):
    return any(re.search(rf"(?<![A-Za-z_]){re.escape(a)}(?![A-Za-z_])", message) for a in names)


def _judge(case, result, describe):
    """None when the outcome is acceptable, else why not."""
    bad, may = case["bad"], case["may"]
    if result["outcome"] == "ok":
        if bad is not None:
            return f"{describe}: {bad} is malformed but was accepted"
        return result["problem"] and f"{describe}: wrong result: {result['problem']}"
    if result["outcome"] not in ("ValueError", "TypeError"):
        return f"{describe}: raised {result['outcome']}: {result['message']}"
    allowed = ([bad] if bad else []) + list(may)
    if not allowed:
        return f"{describe}: valid input refused: {result['outcome']}: {result['message']}"
    if not _names(result["message"], allowed):
        return f"{describe}: message names none of {allowed}: {result['message']}"
    return None


def _run_isolated(runner, cases, tmp_path, describe, timeout=120):
    """Run ``runner`` over ``cases`` in one child; return the failures (a list of str)."""
    cases_path, out_path = tmp_path / f"{runner}.pkl", tmp_path / f"{runner}.jsonl"
    with open(cases_path, "wb") as fh:
        pickle.dump(cases, fh)
    proc = subprocess.run(
        [sys.executable, __file__, runner, str(cases_path), str(out_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",
        },
    )
    lines = [json.loads(ln) for ln in out_path.read_text().splitlines() if ln.strip()]
    results = {r["i"]: r for r in lines if "i" in r}
    if proc.returncode != 0:
        last = max((r["running"] for r in lines if "running" in r), default=None)
        crashed = describe(cases[last]) if last is not None else "?"
        pytest.fail(
            f"the child ended with code {proc.returncode} while running {crashed}:\n"
            f"{proc.stderr[-3000:]}"
        )
    assert len(results) == len(cases)
    return [p for i, case in enumerate(cases) if (p := _judge(case, results[i], describe(case)))]


def _assert_none(failures):
    assert not failures, f"{len(failures)} bad outcomes:\n" + "\n".join(failures[:15])


_BATCHES: dict = {}


def _batch(runner, strategy, n_examples, describe, tmp_path_factory, extra=()):
    """The failures of one child run over drawn cases plus ``extra`` hand-written ones."""
    if runner not in _BATCHES:
        cases = _draw(strategy, n_examples) + list(extra)
        _BATCHES[runner] = _run_isolated(runner, cases, tmp_path_factory.mktemp(runner), describe)
    return _BATCHES[runner]


# --- submodular functions and maximize -------------------------------------------------------

OPTIMIZERS = ("lazy", "naive", "stochastic", "approximate-lazy")


@st.composite
def submodular_cases(draw):
    """One function, storage and optimiser; at most one of matrix, k, ids broken."""
    function = draw(st.sampled_from(["fl", "fl", "gc", "sc", "fb"]))
    optimizer = draw(st.sampled_from(OPTIMIZERS))
    storage = draw(st.sampled_from(["sparse", "sparse", "dense"]))
    target = draw(st.sampled_from(["none"] * 4 + ["matrix"] * 3 + ["k", "candidates", "j"]))
    arg = "features" if function == "fb" else "similarity"
    if storage == "sparse":
        m = draw(sparse_similarity(name=arg, broken=target == "matrix"))
        n = m["n"]
    else:
        m = draw(dense_rows(name=arg, min_rows=3, max_cols=8, broken=target == "matrix"))
        value = m["value"]
        n = value.shape[0] if isinstance(value, np.ndarray) and value.ndim else 3
        if m["bad"] is None:
            value = value.astype(np.float64) if value.dtype == np.bool_ else value
            if function == "fb":
                m["value"] = np.abs(value)  # features must be non-negative
            else:
                col = value[:, :1].astype(np.float64)
                with np.errstate(over="ignore"):  # float16/float32 products may overflow
                    m["value"] = np.abs(col * col.T).astype(value.dtype)
                if not np.isfinite(m["value"]).all():
                    m["bad"] = arg
                if draw(st.integers(0, 5)) == 0:
                    m["value"] = -m["value"] - 1.0
                    m["bad"] = arg
    k = draw(_sizes(max(n, 1), broken=target == "k"))
    c = {
        "function": function,
        "optimizer": optimizer,
        "matrix": m["value"],
        "k": k["value"],
        "candidates": None,
        "j": None,
    }
    bad = m["bad"] or k["bad"]
    if target in ("candidates", "j", "none") and bad is None:
        in_range = st.integers(0, n - 1)
        wrong = st.integers(-(2**40), -1) | st.integers(n, 2**40)
        which = None if target == "none" else target
        cands = draw(st.lists(in_range, max_size=6))
        if which == "candidates":
            cands.insert(draw(st.integers(0, len(cands))), draw(wrong))
        j = draw(in_range)
        if which == "j":
            j = draw(wrong | st.sampled_from([1.5, "2", None, True]))
        c["candidates"], c["j"] = np.array(cands, dtype=np.int64), j
        bad = which
    return {**c, "bad": bad, "may": m["may"] + k["may"]}


def _describe_submodular(c):
    m = c["matrix"]
    shape = m[3] if isinstance(m, tuple) else getattr(m, "shape", type(m).__name__)
    return f"{c['function']}/{c['optimizer']} matrix {shape} k={c['k']!r} bad={c['bad']}"


def test_submodular_functions_and_maximize(tmp_path):
    cases = _draw(submodular_cases(), 160)
    _assert_none(_run_isolated("run_submodular", cases, tmp_path, _describe_submodular))


# --- kNN graph, nearest, search ---------------------------------------------------------------


@st.composite
def knn_cases(draw):
    """knn_graph (X, n_neighbors) or nearest/search (base, queries, k); at most one broken."""
    entry = draw(st.sampled_from(["knn_graph", "knn_graph", "nearest", "search"]))
    metric = draw(st.sampled_from(["cosine", "euclidean", "dot"]))
    size_name = "n_neighbors" if entry == "knn_graph" else "k"
    args = ("X", size_name) if entry == "knn_graph" else ("base", "queries", size_name)
    target = draw(st.sampled_from(["none", "none", *args]))
    # knn_graph prepares X; nearest/search take rows from prepare(), so a malformed base
    # or queries is passed as is, a valid one prepared first (its errors name X)
    x = draw(dense_rows(name="X", min_rows=3, broken=target in ("X", "base")))
    q = draw(dense_rows(name="X", min_rows=1, max_rows=4, broken=target == "queries"))
    n = x["value"].shape[0] if target not in ("X", "base") else 3
    kmax = n - 1 if entry == "knn_graph" else n
    k = draw(
        _sizes(kmax, size_name, broken=target == size_name).filter(
            lambda c: c["bad"] or isinstance(c["value"], int)
        )
    )  # no fractions here
    if target != "queries" and target not in ("X", "base"):
        # valid queries: rows of the base (so the same dtype and magnitude), maybe zero ones
        rows = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
        q = {**x, "value": x["value"][rows].copy(), "zero_row": False}
    may = x["may"] + q["may"]
    if metric == "cosine" and (x.get("zero_row") or q.get("zero_row")):
        may = may + ("X",)
    bad = {"X": x["bad"], "base": "base", "queries": "queries"}.get(target) or k["bad"]
    index = draw(st.sampled_from(["flat", "flat", "hnsw", "ivf", "auto"]))
    case = {"entry": entry, "metric": metric, "X": x["value"], "queries": q["value"]}
    case.update(n_neighbors=k["value"], index=index, target=target)
    return {**case, "bad": bad, "may": may}


def _knn_case(entry, metric, X, queries, k, target="none"):
    case = {"entry": entry, "metric": metric, "X": X, "queries": queries, "n_neighbors": k}
    case.update(index="flat", target=target, bad=None if target == "none" else target)
    case["bad"] = "k" if entry == "search" and k > len(X) else case["bad"]
    return {**case, "may": ()}


_ROWS = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
_NAN_ROWS = _ROWS.copy()
_NAN_ROWS[2, 1] = np.nan

#: Hand-written regression cases: euclidean graphs of tiny rows (NaN similarities once),
#: NaN float32 base / queries (reached FAISS unchecked), a search past the index's rows.
KNN_HAND_CASES = [
    _knn_case("knn_graph", "euclidean", _ROWS * np.float32(1e-20), None, 2),
    _knn_case("knn_graph", "euclidean", _ROWS.astype(np.float64) * 1e-30, None, 2),
    _knn_case("nearest", "dot", _NAN_ROWS, _ROWS[:2], 2, target="base"),
    _knn_case("search", "euclidean", _NAN_ROWS, _ROWS[:2], 2, target="base"),
    _knn_case("search", "cosine", _ROWS, _NAN_ROWS, 2, target="queries"),
    _knn_case("search", "euclidean", _ROWS, _ROWS[:2], 7),
]


def _describe_knn(c):
    x = c["X"]
    return (
        f"{c['entry']}/{c['metric']}/{c['index']} X {getattr(x, 'shape', '?')} "
        f"{getattr(x, 'dtype', '')} k={c['n_neighbors']!r} bad={c['bad']}"
    )


def test_knn_entry_points(tmp_path_factory):
    args = ("run_knn", knn_cases(), 120, _describe_knn, tmp_path_factory, KNN_HAND_CASES)
    _assert_none(_batch(*args))


# --- selectors and baselines ---------------------------------------------------------------------

#: Score-based selectors (default scores: label-free prototype scores).
SCORED = ("CCSSelector", "D2Selector", "PrototypeSelector", "ScoreSelector")

SELECTORS = (
    "FacilityLocationSelector",
    "GraphCutSelector",
    "SaturatedCoverageSelector",
    "FeatureBasedSelector",
    "KCenterGreedySelector",
    "HerdingSelector",
    "RandomSelector",
    "k_center_greedy",
    "herding",
    *SCORED,
)


#: The selectors and baselines of coresets.baselines / coresets.selectors.geometric.
GEOMETRIC = (
    "KCenterGreedySelector",
    "HerdingSelector",
    "RandomSelector",
    "k_center_greedy",
    "herding",
)


@st.composite
def selector_cases(draw):
    """A selector or baseline, X and a size; at most one of X and the size broken."""
    name = draw(st.sampled_from(SELECTORS))
    metric = draw(st.sampled_from(["euclidean", "cosine"]))
    size_name = "k" if name in ("k_center_greedy", "herding") else "n_samples"
    target = draw(st.sampled_from(["none", "none", "X", size_name]))
    x = draw(dense_rows(min_rows=3, broken=target == "X"))
    n = x["value"].shape[0] if target != "X" else 3
    size = draw(_sizes(n, size_name, broken=target == size_name))
    if name == "FeatureBasedSelector" and target != "X":
        x["value"] = np.abs(x["value"])  # features must be non-negative
    may = x["may"]
    if x.get("zero_row") and metric == "cosine":
        may = may + ("X",)
    if name in GEOMETRIC:
        may = ()  # scale-invariant, zero rows kept: every valid X must be accepted
    if name == "CCSSelector":
        may = may + ("hard_prune",)  # the default prunes 10%: n_samples near n is refused
    case = {"selector": name, "metric": metric, "X": x["value"], "n_samples": size["value"]}
    case["n_neighbors"] = draw(st.sampled_from([None, None, 2]))
    bad = x["bad"] or size["bad"]
    if name[0].isupper() and bad == "X":
        # estimators validate X with scikit-learn's validate_data, as other estimators do:
        # numbers stored as objects or strings are converted, and its messages are kept
        if getattr(x["value"], "dtype", np.dtype(float)).kind in "OU" and target == "X":
            bad, may = None, may + ("X",)
        may = may + SKLEARN_MESSAGES
    return {**case, "bad": bad, "may": may + size["may"]}


#: scikit-learn's own messages about X (``validate_data``), which name the array's problem.
SKLEARN_MESSAGES = (
    "Expected 2D array",
    "Found array with",
    "Complex data not supported",
    "could not convert",
    "Input X contains",
)


#: Hand-written regression cases: graph selectors over euclidean rows of ~1e-20 and ~1e-30
#: (their kNN graphs had NaN similarities, or similarity 1 between every pair).
SELECTOR_HAND_CASES = [
    {
        "selector": name,
        "metric": "euclidean",
        "X": _ROWS.astype(dtype) * scale,
        "n_samples": 2,
        "n_neighbors": 2,
        "bad": None,
        "may": (),
    }
    for name in ("FacilityLocationSelector", "GraphCutSelector", "SaturatedCoverageSelector")
    for dtype, scale in ((np.float32, np.float32(1e-20)), (np.float64, 1e-30))
]


def _describe_selector(c):
    x = c["X"]
    return (
        f"{c['selector']}/{c['metric']} X {getattr(x, 'shape', '?')} {getattr(x, 'dtype', '')} "
        f"max|x|={np.abs(x).max() if _numeric(x) else '-'} n_samples={c['n_samples']!r} "
        f"n_neighbors={c['n_neighbors']} bad={c['bad']}"
    )


def _numeric(x):
    return isinstance(x, np.ndarray) and x.dtype.kind in "biuf" and x.size > 0


def test_selectors_and_baselines(tmp_path_factory):
    args = ("run_selector", selector_cases(), 150, _describe_selector, tmp_path_factory)
    _assert_none(_batch(*args, SELECTOR_HAND_CASES))


# --- shards ----------------------------------------------------------------------------------------


@st.composite
def shard_cases(draw):
    d = draw(st.integers(1, 4))
    n_blocks = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    blocks = [rng.standard_normal((draw(st.integers(2, 8)), d)) for _ in range(n_blocks)]
    brk = draw(st.sampled_from(["none", "none", "nan", "width", "1d", "str", "empty", "huge"]))
    bad = None
    may = ()
    if brk == "nan":
        blocks[-1][0, 0] = np.nan
        bad = "rows"
    elif brk == "width":
        blocks.append(np.ones((2, d + 1)))
        bad = "rows"
    elif brk == "1d":
        blocks.append(np.ones(d))
        bad = "rows"
    elif brk == "str":
        blocks.append(np.ones((2, d)).astype(str))
        bad = "rows"
    elif brk == "empty":
        blocks.append(np.ones((0, d)))
        may = ("rows",)
    elif brk == "huge":
        blocks[0] = blocks[0] * 1e20
        may = ("X", "data")
    n = sum(len(b) for b in blocks if b.ndim == 2 and b.shape[1] == d)
    size = draw(_sizes(max(n, 1)))
    algorithm = draw(st.sampled_from(["greedi", "sample", "sieve"]))
    case = {"blocks": blocks, "k": size["value"], "algorithm": algorithm}
    case["shard_size"] = draw(st.integers(1, 6))
    return {**case, "bad": bad or size["bad"], "may": may + size["may"], "brk": brk}


def test_shard_writer_and_select_from_shards(tmp_path):
    cases = _draw(shard_cases(), 30)
    _assert_none(
        _run_isolated(
            "run_shards",
            cases,
            tmp_path,
            lambda c: f"{c['brk']}/{c['algorithm']} k={c['k']!r} shard_size={c['shard_size']}",
        )
    )


# --- in-process: pure numpy entry points (no compiled code with trusted indices) ------------------


def _in_process(fn, case, describe):
    try:
        problem = fn(case)
        result = {"outcome": "ok", "problem": problem}
    except Exception as exc:
        result = {"outcome": type(exc).__name__, "message": str(exc)}
    return _judge(case, result, describe)


@st.composite
def similarity_cases(draw):
    x = draw(dense_rows())
    metric = draw(st.sampled_from(["euclidean", "cosine", "dot"]))
    dtype = draw(st.sampled_from([np.float32, np.float64, "float32", "float16", "int8", "nope"]))
    bad = x["bad"]
    may = x["may"] + (("X",) if metric == "cosine" and x.get("zero_row") else ())
    if dtype in ("float16", "int8", "nope"):  # both wrong: either may be named
        bad, may = bad or "dtype", may + ("dtype",)
    return {"X": x["value"], "metric": metric, "dtype": dtype, "bad": bad, "may": may}


@settings(max_examples=120, **FUZZ)
@given(similarity_cases())
def test_dense_similarity(case):
    from coresets.submodular import similarity

    def run(c):
        S = similarity(c["X"], c["metric"], dtype=c["dtype"])
        n = np.asarray(c["X"]).shape[0]
        if S.shape != (n, n):
            return f"shape {S.shape}"
        if c["metric"] != "dot" and S.min() < 0:
            return f"negative similarity {S.min()}"
        return _finite("similarity", S)

    failure = _in_process(run, case, f"similarity {case['metric']} dtype={case['dtype']}")
    assert failure is None, failure


@st.composite
def score_cases(draw):
    fn = draw(st.sampled_from(["el2n", "margin", "entropy", "aum", "forgetting", "prototype"]))
    n = draw(st.integers(1, 8))
    c = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    logits = rng.standard_normal((n, c)) * draw(st.sampled_from([1.0, 1e20, 1e-30]))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    y = rng.integers(0, c, n)
    brk = draw(st.sampled_from(["none", "none", "nan", "3d_ok", "4d", "str", "y_range", "y_shape"]))
    brk = draw(st.sampled_from([brk, "not_simplex", "y_float", "empty", "complex"]))
    arg = {"aum": "logits", "forgetting": "correct", "prototype": "X"}.get(fn, "probs")
    main = logits if fn in ("aum", "prototype") else probs
    if fn == "forgetting":
        main = rng.random((n, c)) > 0.5
    bad = None
    if brk == "nan":
        main = main.astype(np.float64)
        main[0, 0] = np.nan
        bad = arg
    elif brk == "3d_ok" and fn not in ("forgetting", "prototype"):
        main = np.stack([main, main])
    elif brk == "4d":
        main = main[None, None]
        bad = arg
    elif brk == "str":
        main = main.astype(str)
        bad = arg
    elif brk == "complex":
        main = main.astype(np.complex128)
        bad = arg
    elif brk == "empty":
        main = main[:0]
        bad = arg
    elif brk == "not_simplex" and arg == "probs":
        main = main * 2 + 0.1
        bad = arg
    elif brk == "y_range" and fn in ("el2n", "aum", "margin"):
        y = y + c
        bad = "y"
    elif brk == "y_shape" and fn in ("el2n", "aum", "margin"):
        y = y[:-1]
        bad = "y"
    elif brk == "y_float" and fn in ("el2n", "aum", "margin"):
        y = y + 0.5
        bad = "y"
    may = ()
    if fn in ("margin", "aum") and c < 2:
        may = (arg, "classes", "margin")
    if fn == "prototype":
        may = ("X", "n_clusters")
    return {"fn": fn, "main": main, "y": y, "bad": bad, "may": may, "brk": brk}


@settings(max_examples=150, **FUZZ)
@given(score_cases())
def test_scores(case):
    import coresets.scores as scores

    def run(c):
        fn, main, y = c["fn"], c["main"], c["y"]
        if fn == "el2n":
            out = scores.el2n_scores(main, y)
        elif fn == "margin":
            out = scores.margin_scores(main, y)
        elif fn == "entropy":
            out = scores.entropy_scores(main)
        elif fn == "aum":
            out = scores.aum_scores(main, y)
        elif fn == "forgetting":
            out = scores.forgetting_events(main)
        else:
            out = scores.prototype_scores(main, n_clusters=2, random_state=0)
        n = np.asarray(main).shape[-2] if fn != "forgetting" else np.asarray(main).shape[1]
        if np.asarray(out).shape != (n,):
            return f"shape {np.asarray(out).shape}, wanted ({n},)"
        return _finite(fn, out)

    failure = _in_process(run, case, f"{case['fn']} brk={case['brk']}")
    assert failure is None, failure


@st.composite
def power_law_cases(draw):
    m = draw(st.integers(0, 7))
    sizes = np.geomspace(100, 100_000, max(m, 1))[:m]
    losses = 2.0 * sizes ** -draw(st.floats(0.1, 0.8)) + draw(st.floats(0.0, 0.5))
    brk = draw(
        st.sampled_from(["none", "none", "nan_all", "negative", "zero_size", "str", "shape", "inf"])
    )
    family = draw(st.sampled_from(["power", "offset", "m4", "nope"]))
    bad = "family" if family == "nope" else None
    may = ("sizes", "losses", "family") if m < 5 else ()
    if brk == "nan_all":
        losses = np.full_like(losses, np.nan)
        bad = bad or ("losses" if m else None)
    elif brk == "negative" and m:
        losses = losses.copy()
        losses[0] = -1.0
        bad = bad or "losses"
    elif brk == "zero_size" and m:
        sizes = sizes.copy()
        sizes[0] = 0
        bad = bad or "sizes"
    elif brk == "str":
        sizes = sizes.astype(str)
        bad = bad or "sizes"
    elif brk == "shape" and m:
        losses = losses[:-1]
        bad = bad or "losses"
    elif brk == "inf" and m:
        losses = losses.copy()
        losses[-1] = np.inf
        bad = bad or "losses"
    if m == 0:
        bad = bad or "sizes"
    return {"sizes": sizes, "losses": losses, "family": family, "bad": bad, "may": may}


@settings(max_examples=30, **FUZZ)
@given(power_law_cases())
def test_fit_power_law(case):
    from coresets.scaling.powerlaw import fit_power_law  # without torch (coresets.scaling)

    def run(c):
        fit = fit_power_law(c["sizes"], c["losses"], family=c["family"], n_boot=0, e0=10.0)
        values = [v for v in vars(fit).values() if isinstance(v, float)]
        return _finite("fit", *values) if values else None

    failure = _in_process(run, case, f"fit_power_law {case['family']} m={len(case['sizes'])}")
    assert failure is None, failure


@st.composite
def sampler_cases(draw):
    kind = draw(st.sampled_from(["ids", "ids", "mask", "neg", "float", "2d", "dup", "str"]))
    n = draw(st.integers(1, 10))
    ids = np.array(draw(st.lists(st.integers(0, 50), min_size=n, max_size=n, unique=True)))
    bad = None
    if kind == "mask":
        ids = np.arange(n) % 2 == 0
    elif kind == "neg":
        ids[0] = -1
        bad = "indices"
    elif kind == "float":
        ids = ids + 0.5
        bad = "indices"
    elif kind == "2d":
        ids = ids[:, None]
        bad = "indices"
    elif kind == "dup" and n > 1:
        ids[1] = ids[0]
        bad = "indices"
    elif kind == "str":
        ids = ids.astype(str)
        bad = "indices"
    m = int(ids.sum()) if kind == "mask" else n
    wkind = draw(st.sampled_from(["none", "ok", "nan", "neg", "len", "zero", "huge"]))
    weights = None
    if wkind != "none":
        weights = np.ones(len(ids)) * draw(st.sampled_from([1.0, 1e-30, 1e300]))
        if wkind == "nan":
            weights[0] = np.nan
        elif wkind == "neg":
            weights[0] = -1
        elif wkind == "len":
            weights = weights[:-1] if len(weights) > 1 else np.ones(3)
        elif wkind == "zero":
            weights[:] = 0
        elif wkind == "huge":
            weights[0] = 1e308
            weights[-1] = 1e308
        bad = bad or (None if wkind in ("ok",) else "weights")
    if wkind == "huge" and len(ids) == 1:
        bad = bad if bad != "weights" else None
    seed = draw(st.sampled_from([None, 0, 7, -1, 2**64, 1.5, "3", True]))
    may = ("weights",) if wkind == "huge" else ()
    if bad is not None:
        may = may + ("indices", "weights")  # either may be checked first
    if seed in (-1, 2**64, 1.5, "3", True):
        bad, may = bad or "seed", may + ("seed",)
    if kind == "mask" and m == 0:
        may = may + ("indices",)
    return {"indices": ids, "weights": weights, "seed": seed, "bad": bad, "may": may, "m": m}


@settings(max_examples=120, **FUZZ)
@given(sampler_cases())
def test_coreset_samplers(case):
    from coresets.sampling import CoresetSampler, WeightedCoresetSampler

    def run(c):
        s = CoresetSampler(c["indices"], seed=c["seed"], weights=c["weights"])
        got = list(s)
        if len(got) != c["m"]:
            return f"{len(got)} indices, wanted {c['m']}"
        if c["weights"] is not None:
            if _finite("weights", s.weights):
                return _finite("weights", s.weights)
            ws = WeightedCoresetSampler(c["indices"], c["weights"], num_samples=5, seed=0)
            return _check_ids("drawn", list(ws), 10**9, distinct=False)
        return None

    failure = _in_process(run, case, f"CoresetSampler {case['indices']!r} seed={case['seed']!r}")
    assert failure is None, failure


# --- extreme magnitudes: k-center, herding and the geometric selectors ----------------------------

#: k-center from centre 0 over ``s * KC``: farthest first is row 3 (distance sqrt(32)), then
#: row 2 (3 from centre 0, sqrt(17) from row 3), then row 1; radii after each pick 3, 1, 0.
KC = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [4.0, 4.0]])

#: herding over ``s * HERD`` (mean (0.75, 0.75)): row 3 first (0.354 from the mean), then
#: row 0 (pair mean (0.5, 0.5)), then the tie of rows 1 and 2 goes to 1; the last pick is 2.
HERD = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
HERD_GAINS = [math.sqrt(0.125), math.sqrt(0.125), math.sqrt(0.0625 + (0.75 - 1 / 3) ** 2), 0.0]


@pytest.mark.parametrize("scale", [1.0, 1e20, 1e-20, 1e-30, 2.0**100])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_k_center_and_herding_are_exact_at_extreme_magnitudes(scale, dtype):
    from coresets.baselines import herding, k_center_greedy

    sel = k_center_greedy((KC * scale).astype(dtype), 3, initial_subset=[0], device="cpu")
    assert sel.indices.tolist() == [3, 2, 1]
    np.testing.assert_allclose(sel.gains, np.array([3.0, 1.0, 0.0]) * scale, rtol=1e-5)
    sel = herding((HERD * scale).astype(dtype), 4, device="cpu")
    assert sel.indices.tolist() == [3, 0, 1, 2]
    np.testing.assert_allclose(sel.gains, np.array(HERD_GAINS) * scale, rtol=1e-5, atol=0)


def test_k_center_over_mixed_magnitudes():
    # rows of 1e20 beside rows of 1e-20 (float32): centre 3 (zero), then row 0 and row 1
    # (1e20 away; the tie goes to 0), then row 2, 1e-20 from the zero centre
    X = np.array([[1e20, 0], [0, 1e20], [1e-20, 0], [0, 0]], dtype=np.float32)
    from coresets.baselines import k_center_greedy

    sel = k_center_greedy(X, 3, initial_subset=[3], device="cpu")
    assert sel.indices.tolist() == [0, 1, 2]
    # the last radii are 1e-20 and 0: below float32's resolution of a distance of 1e20
    np.testing.assert_allclose(sel.gains, [1e20, 1e-20, 0.0], rtol=1e-6, atol=1e20 * 1e-6)


def _k_center_reference(X, k, first):
    """Brute-force greedy k-center in float64 (ties to the lowest row)."""
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    chosen, radii = [first], []
    min_d = D[first].copy()
    radii.append(min_d.max())
    for _ in range(k - 1):
        masked = np.where(np.isin(np.arange(len(X)), chosen), -1.0, min_d)
        c = int(np.argmax(masked))
        chosen.append(c)
        min_d = np.minimum(min_d, D[c])
        radii.append(min_d.max())
    return chosen, np.array(radii)


@settings(max_examples=40, **FUZZ)
@given(
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e20, 1e-20, 1e-30, 3e15]),
    n=st.integers(3, 12),
)
def test_k_center_matches_a_float64_reference_on_a_rescaled_copy(seed, scale, n):
    from coresets.baselines import k_center_greedy

    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n, 3))
    X = (Y * scale).astype(np.float32)
    k = max(1, n // 2)
    sel = k_center_greedy(X, k, random_state=0, device="cpu")
    chosen, radii = _k_center_reference(X.astype(np.float64) / scale, k, int(sel.indices[0]))
    assert sel.indices.tolist() == chosen
    np.testing.assert_allclose(sel.gains / scale, radii, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("scale", [1e20, 1e-20, 1e-30])
@pytest.mark.parametrize("name", ["KCenterGreedySelector", "HerdingSelector", "RandomSelector"])
def test_geometric_selectors_weights_at_extreme_magnitudes(name, scale):
    import coresets.selectors as selectors

    rng = np.random.default_rng(0)
    Y = np.concatenate([rng.normal(0, 0.01, (5, 2)) + c for c in ([0, 0], [5, 0], [0, 5])])
    kwargs = {"device": "cpu"} if name != "RandomSelector" else {"random_state": 0}
    ref = getattr(selectors, name)(3, **kwargs)
    got = getattr(selectors, name)(3, **kwargs)
    if name == "KCenterGreedySelector":
        ref.set_params(random_state=0)
        got.set_params(random_state=0)
    ref.fit(Y)
    got.fit((Y * scale).astype(np.float32))
    assert got.ranking_.tolist() == ref.ranking_.tolist()
    assert got.weights_.tolist() == ref.weights_.tolist()
    np.testing.assert_allclose(got.gains_ / scale, ref.gains_, rtol=1e-4, equal_nan=True)


# --- errors about a row of sharded data name its global id and shard file (item 5) --------------


def _two_shards(tmp_path, bad_row=None, value=np.nan):
    """12 rows in shards of 6 (rows 0-5, 6-11); ``bad_row`` (global) set to ``value``."""
    from coresets.shards import ShardWriter

    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3)).astype(np.float32)
    w = ShardWriter(tmp_path / "shards", shard_size=6)
    w.append(X)
    w.close()
    if bad_row is not None:  # written behind the writer's back, as another tool would
        X[bad_row] = value
        np.save(tmp_path / "shards" / "shard-00001.npy", X[6:])
    return tmp_path / "shards"


_LOCATED = r"global row 8 \(row 2 of shard shard-00001\.npy\)"


@pytest.mark.parametrize("algorithm", ["greedi", "sample", "sieve"])
def test_nan_in_the_second_shard_names_the_global_row_and_file(tmp_path, algorithm):
    from coresets.streaming import select_from_shards

    path = _two_shards(tmp_path, 8)
    with pytest.raises(ValueError, match=rf"shard-00001\.npy contains NaN .*{_LOCATED}"):
        select_from_shards(path, 3, algorithm=algorithm, random_state=0)


@pytest.mark.parametrize("algorithm", ["greedi", "sample", "sieve"])
def test_rows_past_float32_in_the_second_shard_name_the_global_row_and_file(tmp_path, algorithm):
    from coresets.streaming import RandGreeDi, SampleGreedy, select_from_shards
    from coresets.submodular import SieveStreaming

    path = _two_shards(tmp_path, 8, 1e20)
    cls = {"greedi": RandGreeDi, "sample": SampleGreedy, "sieve": SieveStreaming}[algorithm]
    with pytest.raises(ValueError, match=rf"^data has rows of norm up to .*{_LOCATED}"):
        select_from_shards(path, 3, algorithm=cls(metric="euclidean"), random_state=0)


def test_a_zero_row_in_the_second_shard_is_kept_under_cosine(tmp_path):
    from coresets.streaming import select_from_shards

    path = _two_shards(tmp_path, 8, 0.0)
    sel = select_from_shards(path, 3, random_state=0)  # the documented policy: no error
    assert len(sel) == 3 and np.isfinite(sel.weights).all()


@pytest.mark.parametrize(
    ("value", "metric", "message"),
    [
        (0.0, "cosine", rf"^X has zero rows \(first: {_LOCATED}\)"),
        (1e20, "euclidean", rf"^X has rows of norm up to .*{_LOCATED}"),
        (np.nan, "cosine", rf"contains NaN values \(first: {_LOCATED}\)"),
    ],
)
def test_dedup_over_shards_names_the_global_row_and_file(tmp_path, value, metric, message):
    from coresets.dedup import semantic_dedup

    path = _two_shards(tmp_path, 8, value)
    with pytest.raises(ValueError, match=message):
        semantic_dedup(path, metric=metric, threshold=0.5, random_state=0, device="cpu")


def test_shard_writer_refuses_bad_rows_before_writing(tmp_path):
    from coresets.shards import ShardWriter

    w = ShardWriter(tmp_path / "s", shard_size=4)
    w.append(np.ones((6, 3)))
    for rows, message in [
        (np.ones((2, 4)), "^rows have width 4, but out_dir holds width 3"),
        (np.full((2, 3), np.nan), "^rows contains NaN"),
        (np.ones(3), "^rows must be 2-D"),
        (
            np.array([[1e39, 0, 0]]),
            r"^rows hold values past float32's range \(first: input row 6\)",
        ),
        (np.array([["a", "b", "c"]]), "^rows must hold numbers"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            w.append(rows)
    w.append(np.ones((0, 3)))  # an empty batch: nothing to do
    assert w.close()["n"] == 6


if __name__ == "__main__":
    _child(*sys.argv[1:4])
