import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from coresets.sampling import (
    CoresetSampler,
    DistributedCoresetSampler,
    WeightedCoresetSampler,
    WeightedDataset,
    WeightedSubset,
)
from coresets.training import AdaptiveReselection

IDX = np.array([7, 3, 11, 0, 5, 9, 2])


def test_coreset_sampler_yields_subset_and_reshuffles_deterministically():
    s = CoresetSampler(IDX, seed=1)
    e0 = list(s)
    assert sorted(e0) == sorted(IDX.tolist()) and len(s) == len(IDX)
    assert list(s) == e0  # same epoch, same order
    s.set_epoch(1)
    e1 = list(s)
    assert sorted(e1) == sorted(e0) and e1 != e0
    s2 = CoresetSampler(IDX, seed=1)
    s2.set_epoch(1)
    assert list(s2) == e1
    assert list(CoresetSampler(IDX, shuffle=False)) == IDX.tolist()


def test_coreset_sampler_does_not_touch_global_rng():
    state = torch.get_rng_state()
    list(CoresetSampler(IDX, seed=3))
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize(
    "indices, exc, word",
    [
        ([], ValueError, "empty"),
        ([1, 1], ValueError, "duplicate"),
        ([-1, 2], ValueError, "non-negative"),
        ([0.5, 1.0], TypeError, "integer"),
        ([[1, 2]], ValueError, "1-D"),
    ],
)
def test_coreset_sampler_rejects_bad_indices(indices, exc, word):
    with pytest.raises(exc, match=word):
        CoresetSampler(indices)


def test_bad_weights_and_seed():
    with pytest.raises(ValueError, match="weights must have shape"):
        CoresetSampler(IDX, weights=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        WeightedCoresetSampler([0, 1], [1.0, -1.0])
    with pytest.raises(ValueError, match="not all be zero"):
        WeightedCoresetSampler([0, 1], [0.0, 0.0])
    with pytest.raises(ValueError, match="weights are required"):
        CoresetSampler(IDX, yield_weights=True)
    with pytest.raises(ValueError, match="seed"):
        CoresetSampler(IDX, seed=-1)
    with pytest.raises(ValueError, match="num_samples"):
        WeightedCoresetSampler([0, 1], [1.0, 0.0], num_samples=2, replacement=False)


def test_weighted_sampler_draws_in_proportion_to_weights():
    w = np.array([1.0, 3.0, 0.0, 6.0])
    s = WeightedCoresetSampler([10, 20, 30, 40], w, num_samples=20000, seed=0)
    draws = np.array(list(s))
    assert len(draws) == 20000 and 30 not in draws
    freq = np.array([(draws == v).mean() for v in (10, 20, 40)])
    np.testing.assert_allclose(freq, [0.1, 0.3, 0.6], atol=0.015)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    no_rep = list(WeightedCoresetSampler([1, 2, 3], [1.0, 1.0, 1.0], replacement=False))
    assert sorted(no_rep) == [1, 2, 3]


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_distributed_sampler_matches_torch_distributed_sampler(world, drop_last):
    # DistributedSampler over a Subset of positions 0..k-1 with the same seed must give
    # the same positions on every rank: the contract is identical.
    k = len(IDX)
    if drop_last and k < world:
        pytest.skip("covered by the error test")
    for epoch in (0, 3):
        ours_all = []
        for rank in range(world):
            ours = DistributedCoresetSampler(
                IDX, num_replicas=world, rank=rank, seed=5, drop_last=drop_last
            )
            ref = DistributedSampler(
                range(k), num_replicas=world, rank=rank, seed=5, drop_last=drop_last
            )
            ours.set_epoch(epoch)
            ref.set_epoch(epoch)
            got = list(ours)
            assert got == IDX[list(ref)].tolist()
            assert len(ours) == len(ref) == len(got)
            ours_all += got
        if not drop_last:
            assert set(ours_all) == set(IDX.tolist())  # every example on some rank


def test_distributed_sampler_errors():
    with pytest.raises(ValueError, match="num_replicas and rank"):
        DistributedCoresetSampler(IDX)
    with pytest.raises(ValueError, match="rank"):
        DistributedCoresetSampler(IDX, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="fewer than num_replicas"):
        DistributedCoresetSampler([1, 2], num_replicas=3, rank=0, drop_last=True)


def _toy_dataset(n=40):
    X = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    y = torch.arange(n) % 3
    return TensorDataset(X, y)


def test_weighted_subset_items_carry_weights():
    ds = _toy_dataset()
    sub = WeightedSubset(ds, [4, 9], [2.5, 0.5])
    x, y, w = sub[1]
    assert x.item() == 9 and y.item() == 0 and w.item() == 0.5 and w.dtype == torch.float32
    assert len(sub) == 2 and WeightedSubset(ds, [4])[0][2].item() == 1.0
    with pytest.raises(ValueError, match="outside the dataset"):
        WeightedSubset(ds, [40])


def test_weighted_dataset_needs_pairs():
    wd = WeightedDataset(_toy_dataset())
    x, y, w = wd[(3, 1.5)]
    assert x.item() == 3 and w.item() == 1.5
    with pytest.raises(TypeError, match="yield_weights"):
        wd[3]


def test_dataloader_with_workers_and_reselection_between_epochs():
    ds = _toy_dataset()
    s = CoresetSampler([1, 5, 7, 30], seed=0, weights=[1.0, 2.0, 3.0, 4.0], yield_weights=True)
    loader = DataLoader(
        WeightedDataset(ds), batch_size=2, sampler=s, num_workers=2, persistent_workers=True
    )
    seen = {}
    for xb, _, wb in loader:
        seen.update(zip(xb[:, 0].long().tolist(), wb.tolist(), strict=True))
    assert seen == {1: 1.0, 5: 2.0, 7: 3.0, 30: 4.0}
    s.set_subset([2, 3], [9.0, 8.0])
    s.set_epoch(1)
    second = {}
    for xb, _, wb in loader:  # same persistent workers see the new subset and weights
        second.update(zip(xb[:, 0].long().tolist(), wb.tolist(), strict=True))
    assert second == {2: 9.0, 3: 8.0}


class _FirstK(BaseEstimator):
    """Picks the k rows with the largest first embedding coordinate (tiny test selector)."""

    #: the random_state of every fit, in order
    seen = []

    def __init__(self, n_samples=2, random_state=None):
        self.n_samples = n_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        _FirstK.seen.append(self.random_state)
        self.ranking_ = np.argsort(-X[:, 0], kind="stable")[: self.n_samples]
        self.weights_ = np.full(self.n_samples, len(X) / self.n_samples)
        return self


def test_adaptive_reselection_every_r_epochs():
    model = torch.nn.Linear(1, 1)
    calls = []

    def embed(m):
        calls.append(m.training)
        # The "embedding" changes with the epoch, so reselection picks other rows.
        return np.array([[(i * (len(calls) + 1)) % 7] for i in range(10)], dtype=float)

    samplers = [CoresetSampler([0], seed=0), DistributedCoresetSampler([0], 2, 1)]
    _FirstK.seen.clear()
    hook = AdaptiveReselection(_FirstK(n_samples=3), embed, samplers, every=2)
    model.train()
    did = [hook.on_epoch_start(e, model) for e in range(5)]
    assert did == [True, False, True, False, True]
    assert calls == [False, False, False] and model.training  # embedded in eval mode
    assert samplers[0].epoch == 4
    last = hook.history_[-1][1]
    assert sorted(samplers[0]) == sorted(last.tolist()) and len(last) == 3
    assert [e for e, _ in hook.history_] == [0, 2, 4]
    assert not np.array_equal(hook.history_[0][1], hook.history_[1][1])
    # each reselection's selector is seeded random_state + epoch (None: unseeded)
    assert _FirstK.seen == [None, None, None]
    _FirstK.seen.clear()
    seeded = AdaptiveReselection(_FirstK(n_samples=3), embed, samplers, every=2, random_state=10)
    for e in range(5):
        seeded.on_epoch_start(e, model)
    assert _FirstK.seen == [10, 12, 14]
    with pytest.raises(ValueError, match="random_state"):
        AdaptiveReselection(_FirstK(), embed, samplers, random_state=-1)
    with pytest.raises(TypeError, match="embed_fn"):
        AdaptiveReselection(_FirstK(), None, samplers)
    with pytest.raises(TypeError, match="set_subset"):
        AdaptiveReselection(_FirstK(), embed, [object()])
