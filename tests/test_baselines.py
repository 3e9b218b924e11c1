"""k-center greedy and herding against brute force on tiny inputs."""

import itertools

import numpy as np
import pytest

from coresets.baselines import herding, k_center_greedy


def radius(X, centers):
    d = np.sqrt(((X[:, None] - X[list(centers)][None]) ** 2).sum(-1))
    return d.min(1).max()


@pytest.mark.parametrize("seed", range(8))
def test_k_center_within_twice_the_optimum(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(11, 2)) * rng.uniform(0.5, 3, size=2)
    for k in (1, 2, 3, 4):
        sel = k_center_greedy(X, k, random_state=seed, device="cpu")
        idx, radii = sel.indices, sel.gains
        assert sel.objective == radii[-1]
        opt = min(radius(X, c) for c in itertools.combinations(range(11), k))
        assert radii[-1] <= 2 * opt + 1e-12
        assert np.isclose(radii[-1], radius(X, idx))


def test_k_center_each_pick_is_the_farthest_point():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    sel = k_center_greedy(X, 10, random_state=3, device="cpu")
    idx, radii = sel.indices, sel.gains
    assert len(set(idx.tolist())) == 10
    for t in range(1, 10):
        d = np.sqrt(((X[:, None] - X[idx[:t]][None]) ** 2).sum(-1)).min(1)
        assert idx[t] == d.argmax()
        assert np.isclose(radii[t - 1], d.max())
    assert np.all(np.diff(radii) <= 1e-12)
    # same seed, same selection; the first centre is drawn from the seed
    np.testing.assert_array_equal(idx, k_center_greedy(X, 10, random_state=3, device="cpu").indices)


def test_k_center_initial_subset_and_cosine():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    idx = k_center_greedy(X, 5, initial_subset=[0, 1], device="cpu").indices
    assert not {0, 1} & set(idx.tolist())
    d = np.sqrt(((X[:, None] - X[[0, 1]][None]) ** 2).sum(-1)).min(1)
    assert idx[0] == d.argmax()  # no random first centre when some are given
    sel = k_center_greedy(X, 5, metric="cosine", random_state=0, device="cpu")
    idx_c, radii_c = sel.indices, sel.gains
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    dist = 1 - Xn @ Xn[idx_c].T
    assert np.isclose(radii_c[-1], dist.min(1).max())


def test_k_center_duplicates_never_repeat_a_pick():
    X = np.repeat(np.eye(3), 4, axis=0)  # 3 distinct points, 4 copies each
    sel = k_center_greedy(X, 6, random_state=0, device="cpu")
    idx, radii = sel.indices, sel.gains
    assert len(set(idx.tolist())) == 6
    assert radii[2] == 0 and radii[-1] == 0


def brute_herding(X, k):
    mu = X.mean(0)
    chosen, dists = [], []
    for _ in range(k):
        best, best_d = None, np.inf
        for i in range(X.shape[0]):
            if i in chosen:
                continue
            d = np.linalg.norm(mu - X[chosen + [i]].mean(0))
            if d < best_d - 1e-12:
                best, best_d = i, d
        chosen.append(best)
        dists.append(best_d)
    return np.array(chosen), np.array(dists)


@pytest.mark.parametrize("seed", range(4))
def test_herding_matches_brute_force(seed):
    X = np.random.default_rng(seed).normal(size=(25, 3))
    sel = herding(X, 8, device="cpu")
    idx, dist = sel.indices, sel.gains
    assert sel.objective == dist[-1]
    exp_idx, exp_dist = brute_herding(X, 8)
    np.testing.assert_array_equal(idx, exp_idx)
    np.testing.assert_allclose(dist, exp_dist, rtol=1e-9, atol=1e-12)
    assert np.isclose(herding(X, 25, device="cpu").objective, 0, atol=1e-12)


def test_herding_cosine_herds_unit_rows():
    X = np.random.default_rng(5).normal(size=(20, 3)) * np.arange(1, 21)[:, None]
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_array_equal(
        herding(X, 6, metric="cosine", device="cpu").indices, brute_herding(Xn, 6)[0]
    )


def test_cosine_zero_rows_stay_zero():
    # a zero row is at cosine distance 1 from every unit row: neither run stops on it
    X = np.vstack([np.zeros((1, 3)), np.random.default_rng(2).normal(size=(9, 3))])
    sel = k_center_greedy(X, 4, metric="cosine", random_state=1, device="cpu")
    assert np.isfinite(sel.gains).all() and 0 in sel.indices.tolist()
    assert np.isfinite(herding(X, 4, metric="cosine", device="cpu").gains).all()


def test_fraction_and_float32():
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    assert k_center_greedy(X, 0.1, random_state=0, device="cpu").indices.shape == (5,)
    assert herding(X, 0.2, device="cpu").indices.shape == (10,)


def test_bad_input():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="k"):
        k_center_greedy(X, 6)
    with pytest.raises(ValueError, match="k"):
        k_center_greedy(X, 0)
    with pytest.raises(ValueError, match="k=4 is larger"):
        k_center_greedy(X, 4, initial_subset=[0, 1])
    with pytest.raises(ValueError, match="initial_subset"):
        k_center_greedy(X, 1, initial_subset=[7])
    with pytest.raises(ValueError, match="metric"):
        k_center_greedy(X, 1, metric="manhattan")
    with pytest.raises(ValueError, match="X"):
        herding(np.array([[np.nan, 1.0]]), 1)
    with pytest.raises(ValueError, match="X"):
        herding(np.ones(4), 1)
    with pytest.raises(ValueError, match="k"):
        herding(X, 1.5)
    with pytest.raises(ValueError, match="device"):
        herding(X, 1, device="tpu")
