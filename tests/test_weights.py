"""Coreset weights against brute-force assignment on small inputs."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from coresets import weights as W
from coresets.weights import (
    assign_to_chosen,
    assign_to_nearest,
    coreset_weights,
    nearest_center_weights,
)


def brute_assignment(S_dense, idx, stored=None):
    """Position in idx of the most similar chosen row per column, ties to the earlier."""
    n = S_dense.shape[1]
    out = np.full(n, -1)
    for i in range(n):
        best = None
        for pos, j in enumerate(idx):
            if stored is not None and not stored[j, i]:
                continue
            if best is None or S_dense[j, i] > best:
                best, out[i] = S_dense[j, i], pos
    return out


@pytest.mark.parametrize("seed", range(5))
def test_dense_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    S = rng.integers(0, 4, size=(30, 30)).astype(np.float64)  # many ties
    idx = rng.choice(30, size=7, replace=False)
    expected = brute_assignment(S, idx)
    np.testing.assert_array_equal(assign_to_chosen(S, idx), expected)
    w = coreset_weights(S, idx)
    np.testing.assert_array_equal(w, np.bincount(expected, minlength=7))
    assert w.sum() == 30
    # torch path gives the same answer
    np.testing.assert_array_equal(assign_to_chosen(torch.from_numpy(S), idx), expected)


def test_dense_blocks_keep_ties_with_earlier_pick(monkeypatch):
    # One chosen row per block: ties across blocks must stay with the earlier pick.
    monkeypatch.setattr(W, "_DENSE_BLOCK_BYTES", 1)
    rng = np.random.default_rng(0)
    S = rng.integers(0, 3, size=(20, 20)).astype(np.float32)
    idx = rng.choice(20, size=6, replace=False)
    np.testing.assert_array_equal(assign_to_chosen(S, idx), brute_assignment(S, idx))
    np.testing.assert_array_equal(
        assign_to_chosen(torch.from_numpy(S), idx), brute_assignment(S, idx)
    )


@pytest.mark.parametrize("seed", range(4))
def test_sparse_matches_brute_force_and_uncovered(seed):
    rng = np.random.default_rng(seed)
    n = 40
    G = sp.random(n, n, density=0.1, random_state=seed, format="csr")
    G.data = np.round(G.data * 3)  # ties, and explicit zeros that still count as covering
    stored = np.zeros((n, n), dtype=bool)
    rows = np.repeat(np.arange(n), np.diff(G.indptr))
    stored[rows, G.indices] = True
    idx = rng.choice(n, size=8, replace=False)
    expected = brute_assignment(G.toarray(), idx, stored)
    got = assign_to_chosen(G, idx)
    np.testing.assert_array_equal(got, expected)
    w = coreset_weights(G, idx)
    assert w.sum() == (expected >= 0).sum()  # uncovered points are left out
    np.testing.assert_array_equal(w, np.bincount(expected[expected >= 0], minlength=8))


def test_sparse_uncovered_go_to_nearest_embedding():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3))
    # Each point covers only itself: every non-chosen point is uncovered.
    G = sp.identity(12, format="csr")
    idx = np.array([3, 7, 1])
    w = coreset_weights(G, idx, X=X, metric="euclidean", batch_size=4)
    d = ((X[:, None, :] - X[idx][None]) ** 2).sum(-1)
    nearest = d.argmin(1)
    nearest[idx] = np.arange(3)  # chosen points cover themselves in the graph
    np.testing.assert_array_equal(w, np.bincount(nearest, minlength=3))
    assert w.sum() == 12


def brute_nearest(X, C, metric):
    if metric == "euclidean":
        return ((X[:, None] - C[None]) ** 2).sum(-1).argmin(1)
    if metric == "cosine":
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        Cn = C / np.linalg.norm(C, axis=1, keepdims=True)
        return (Xn @ Cn.T).argmax(1)
    return (X @ C.T).argmax(1)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "ip", "dot"])
def test_nearest_center_weights_match_brute_force(metric, tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(203, 5))
    C = X[rng.choice(203, size=9, replace=False)]
    expected = brute_nearest(X, C, metric)
    np.testing.assert_array_equal(assign_to_nearest(X, C, metric=metric), expected)
    # Blocked over a memory map: the per-block counts add up to the whole.
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float32))
    Xm = np.load(path, mmap_mode="r")
    w = nearest_center_weights(Xm, C, metric=metric, batch_size=50)
    np.testing.assert_array_equal(w, np.bincount(expected, minlength=9))
    assert w.sum() == 203


def test_zero_rows_under_cosine_do_not_break():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = assign_to_nearest(X, X[1:], metric="cosine")
    assert labels.shape == (3,) and set(labels[1:]) == {0, 1}


def test_options_are_keyword_only():
    X = np.ones((3, 2))
    with pytest.raises(TypeError):
        nearest_center_weights(X, X[:1], "cosine")
    with pytest.raises(TypeError):
        assign_to_nearest(X, X[:1], "cosine")


def test_bad_input():
    S = np.ones((4, 4))
    with pytest.raises(ValueError, match="similarity"):
        coreset_weights(np.full((4, 4), np.nan), [0])
    with pytest.raises(ValueError, match="indices"):
        coreset_weights(S, [0, 4])
    with pytest.raises(ValueError, match="indices"):
        coreset_weights(S, [1, 1])
    with pytest.raises(ValueError, match="indices"):
        coreset_weights(S, [])
    with pytest.raises(ValueError, match="similarity"):
        coreset_weights(np.ones(4), [0])
    with pytest.raises(TypeError, match="similarity"):
        coreset_weights(np.array([["a"]]), [0])
    with pytest.raises(ValueError, match="X must have one row"):
        coreset_weights(sp.identity(4, format="csr"), [0], X=np.ones((3, 2)))
    with pytest.raises(ValueError, match="metric"):
        assign_to_nearest(np.ones((3, 2)), np.ones((1, 2)), metric="manhattan")
    with pytest.raises(ValueError, match="X_block has 3 features"):
        assign_to_nearest(np.ones((3, 3)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="centers"):
        assign_to_nearest(np.ones((3, 2)), np.full((1, 2), np.inf))
    with pytest.raises(ValueError, match="batch_size"):
        nearest_center_weights(np.ones((3, 2)), np.ones((1, 2)), batch_size=0)
    with pytest.raises(ValueError, match="X"):
        nearest_center_weights(np.ones((0, 2)), np.ones((1, 2)))
