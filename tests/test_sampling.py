import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
)

from coresets.sampling import (
    CoresetSampler,
    DistributedCoresetSampler,
    WeightedCoresetSampler,
    WeightedDataset,
    WeightedSubset,
)
from coresets.training import AdaptiveReselection

IDX = np.array([7, 3, 11, 0, 5, 9, 2])


def test_coreset_sampler_yields_subset_and_reshuffles_every_pass():
    s = CoresetSampler(IDX, seed=1)
    e0, e1, e2 = list(s), list(s), list(s)
    assert sorted(e0) == sorted(IDX.tolist()) and len(s) == len(IDX)
    assert sorted(e1) == sorted(e0) and len({tuple(e0), tuple(e1), tuple(e2)}) == 3
    # pass p uses the order of epoch p, so a second sampler with the same seed agrees
    s2 = CoresetSampler(IDX, seed=1)
    s2.set_epoch(1)
    assert list(s2) == e1 and list(s2) == e1  # set_epoch pins the order
    s2.set_epoch(2)
    assert list(s2) == e2
    assert list(CoresetSampler(IDX, shuffle=False)) == IDX.tolist()


def test_seeded_passes_are_subset_random_sampler_orders():
    # brute-force reference: torch's SubsetRandomSampler seeded with seed + pass
    s = CoresetSampler(IDX, seed=4)
    for p in range(4):
        ref = SubsetRandomSampler(IDX.tolist(), generator=torch.Generator().manual_seed(4 + p))
        assert list(s) == list(ref)


def test_generator_argument_follows_torch_samplers():
    ours = CoresetSampler(IDX, generator=torch.Generator().manual_seed(9))
    ref = SubsetRandomSampler(IDX.tolist(), generator=torch.Generator().manual_seed(9))
    for _ in range(3):
        assert list(ours) == list(ref)
    ours.set_epoch(5)  # with a generator, set_epoch only records the epoch
    assert list(ours) == list(ref) and ours.epoch == 5
    w = np.array([0.5, 1.5, 1.0, 1.0])  # mean 1 already, so the stored weights are these
    wours = WeightedCoresetSampler([3, 1, 4, 8], w, num_samples=9,
                                   generator=torch.Generator().manual_seed(2))  # fmt: skip
    wref = WeightedRandomSampler(w.tolist(), 9, generator=torch.Generator().manual_seed(2))
    for _ in range(3):
        assert list(wours) == [[3, 1, 4, 8][i] for i in wref]
    with pytest.raises(ValueError, match="seed or generator"):
        CoresetSampler(IDX, seed=1, generator=torch.Generator())
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        CoresetSampler(IDX, generator=np.random.default_rng(0))


def test_weighted_sampler_sees_every_example_across_passes():
    # the symptom: the same draws every epoch left 25 of 64 examples unseen
    s = WeightedCoresetSampler(np.arange(64), np.ones(64), seed=0)
    once = set(s)
    seen = set(once)
    for _ in range(9):
        seen |= set(s)
    assert len(once) < 50 and len(seen) == 64


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
    second = list(s)  # pass 1: the order of epoch 1
    assert second != draws.tolist()
    s.set_epoch(1)
    assert list(s) == second
    s.set_epoch(2)
    assert list(s) != second
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


def test_weighted_subset_items_carry_mean_one_weights():
    ds = _toy_dataset()
    sub = WeightedSubset(ds, [4, 9], [2.5, 0.5])  # mean 1.5: stored as 5/3 and 1/3
    x, y, w = sub[1]
    assert x.item() == 9 and y.item() == 0 and w.dtype == torch.float32
    assert w.item() == pytest.approx(1 / 3) and sub[0][2].item() == pytest.approx(5 / 3)
    np.testing.assert_allclose(sub.weights.mean(), 1.0)
    assert len(sub) == 2 and WeightedSubset(ds, [4])[0][2].item() == 1.0
    with pytest.raises(ValueError, match="outside the dataset"):
        WeightedSubset(ds, [40])
    with pytest.raises(ValueError, match="not all be zero"):
        WeightedSubset(ds, [1, 2], [0.0, 0.0])


def test_weighted_loss_recipe_keeps_the_gradient_scale():
    # Coreset weights sum to n. Equal weights must give exactly the unweighted loss under
    # the recipe (loss * w).mean(); raw weights would scale the gradient by n / k = 10.
    ds = _toy_dataset(40)
    idx = [0, 5, 10, 20]
    model = torch.nn.Linear(1, 3)
    loader = DataLoader(WeightedSubset(ds, idx, np.full(4, 10.0)), batch_size=4)
    xb, yb, wb = next(iter(loader))
    loss = torch.nn.functional.cross_entropy(model(xb), yb, reduction="none")
    torch.testing.assert_close((loss * wb).mean(), loss.mean())
    # unequal weights keep their ratios and average to 1 over the subset
    raw = np.array([1.0, 3.0, 4.0, 12.0])
    sub = WeightedSubset(ds, idx, raw)
    got = np.array([sub[i][2].item() for i in range(4)])
    np.testing.assert_allclose(got, raw / raw.mean(), rtol=1e-6)
    s = CoresetSampler(idx, weights=raw, yield_weights=True, seed=0)
    pairs = dict(s)
    np.testing.assert_allclose([pairs[i] for i in idx], raw / raw.mean())
    d = DistributedCoresetSampler(idx, 2, 0, weights=raw, yield_weights=True)
    np.testing.assert_allclose(d.weights, raw / raw.mean())


def test_boolean_masks_are_subsets():
    mask = np.zeros(12, dtype=bool)
    mask[[2, 5, 11]] = True
    assert sorted(CoresetSampler(mask, seed=0)) == [2, 5, 11]
    assert sorted(CoresetSampler(torch.as_tensor(mask), seed=0)) == [2, 5, 11]
    full_w = np.arange(12, dtype=float)  # one weight per mask entry: the chosen ones kept
    s = WeightedCoresetSampler(mask, full_w, seed=0)
    np.testing.assert_array_equal(s.indices, [2, 5, 11])
    np.testing.assert_allclose(s.weights, np.array([2.0, 5.0, 11.0]) / 6.0)
    s = CoresetSampler(mask, weights=[1.0, 1.0, 2.0], yield_weights=True)
    np.testing.assert_allclose(s.weights, [0.75, 0.75, 1.5])
    ds = _toy_dataset(12)
    sub = WeightedSubset(ds, mask, full_w)
    assert [int(sub[i][0].item()) for i in range(3)] == [2, 5, 11]
    with pytest.raises(ValueError, match="mask of length 5"):
        WeightedSubset(ds, np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="selects no row"):
        CoresetSampler(np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match=r"or \(12,\)"):
        CoresetSampler(mask, weights=[1.0, 2.0])


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
    assert seen == pytest.approx({1: 0.4, 5: 0.8, 7: 1.2, 30: 1.6})  # raw / mean 2.5
    s.set_subset([2, 3], [9.0, 3.0])
    s.set_epoch(1)
    second = {}
    for xb, _, wb in loader:  # same persistent workers see the new subset and weights
        second.update(zip(xb[:, 0].long().tolist(), wb.tolist(), strict=True))
    assert second == pytest.approx({2: 1.5, 3: 0.5})


# --- state_dict / load_state_dict ----------------------------------------------------------


def _roundtrip(state, tmp_path):
    torch.save(state, tmp_path / "state.pt")
    return torch.load(tmp_path / "state.pt", weights_only=True)


_MAKERS = {
    "seeded": lambda: CoresetSampler(np.arange(3, 40, 3), seed=7),
    "weights": lambda: CoresetSampler(
        np.arange(10), seed=2, weights=np.arange(1.0, 11.0), yield_weights=True
    ),
    "generator": lambda: CoresetSampler(
        np.arange(13), seed=None, generator=torch.Generator().manual_seed(3)
    ),
    "weighted": lambda: WeightedCoresetSampler(np.arange(9), np.arange(1.0, 10.0), 11, seed=1),
    "weighted-generator": lambda: WeightedCoresetSampler(
        np.arange(9), np.ones(9), generator=torch.Generator().manual_seed(5)
    ),
    "distributed-rank1": lambda: DistributedCoresetSampler(np.arange(11), 3, 1, seed=4),
    "no-shuffle": lambda: CoresetSampler(np.arange(6), shuffle=False),
}


@pytest.mark.parametrize("kind", sorted(_MAKERS))
@pytest.mark.parametrize("epochs", [False, True])
def test_resumed_sampler_continues_the_uninterrupted_run(kind, epochs, tmp_path):
    make = _MAKERS[kind]

    def passes(s, n, first=0):
        out = []
        for p in range(first, n):
            if epochs:
                s.set_epoch(p)
            out.append(list(s))
        return out

    reference = passes(make(), 5)
    s = make()
    done = passes(s, 2)
    it = iter(s) if not epochs else (s.set_epoch(2), iter(s))[1]
    head = [next(it) for _ in range(3)]  # every kind's pass is longer
    state = _roundtrip(s.state_dict(), tmp_path)
    assert state["position"] == 3 and state["passes"] == 3
    resumed = make()
    if "generator" in kind:  # a fresh generator in another state: the state restores it
        resumed.generator.manual_seed(12345)
    resumed.load_state_dict(state)
    assert resumed.state_dict()["position"] == 3  # loaded and not yet iterated: same state
    tail = list(resumed)
    assert done + [head + tail] == reference[:3]
    assert passes(resumed, 5, first=3) == reference[3:]


def test_state_after_a_whole_pass_and_consumed(tmp_path):
    ref = CoresetSampler(np.arange(20), seed=0)
    want = [list(ref) for _ in range(3)]
    s = CoresetSampler(np.arange(20), seed=0)
    list(s)
    state = s.state_dict()
    assert state["pass_epoch"] is None and state["passes"] == 1
    t = CoresetSampler(np.arange(20), seed=0)
    t.load_state_dict(_roundtrip(state, tmp_path))
    assert [list(t), list(t)] == want[1:]
    # a DataLoader without workers pulls exactly one batch of indices per step; with
    # prefetching loaders, consumed= names what the loop trained on
    s = CoresetSampler(np.arange(20), seed=0)
    batches = iter(DataLoader(_toy_dataset(20), batch_size=4, sampler=s))
    got = [next(batches)[0][:, 0].long().tolist() for _ in range(2)]
    assert s.state_dict()["position"] == 8 and sum(got, []) == want[0][:8]
    next(batches)
    state = s.state_dict(consumed=8)  # the third batch was fetched but not trained on
    t = CoresetSampler(np.arange(20), seed=0)
    t.load_state_dict(state)
    assert list(t) == want[0][8:]
    with pytest.raises(ValueError, match="consumed must be <= 20"):
        s.state_dict(consumed=21)
    with pytest.raises(ValueError, match="no pass is under way"):
        CoresetSampler(np.arange(5)).state_dict(consumed=1)


def test_load_state_dict_refuses_other_samplers():
    state = CoresetSampler(IDX, seed=0).state_dict()
    with pytest.raises(ValueError, match="comes from a CoresetSampler"):
        WeightedCoresetSampler(IDX, np.ones(len(IDX))).load_state_dict(state)
    with pytest.raises(ValueError, match="shuffle"):
        CoresetSampler(IDX, shuffle=False).load_state_dict(state)
    with pytest.raises(ValueError, match="without generator"):
        CoresetSampler(IDX, generator=torch.Generator()).load_state_dict(state)
    d = DistributedCoresetSampler(IDX, 2, 0).state_dict()
    with pytest.raises(ValueError, match="num_replicas=2"):
        DistributedCoresetSampler(IDX, 3, 0).load_state_dict(d)
    with pytest.raises(ValueError, match="lacks"):
        CoresetSampler(IDX).load_state_dict({"epoch": 1})
    with pytest.raises(TypeError, match="state must be a dict"):
        CoresetSampler(IDX).load_state_dict([1, 2])
    # the subset travels with the state: a sampler built on another subset takes it over
    other = CoresetSampler([1, 2], seed=0)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.indices, IDX)


def test_distributed_passes_without_set_epoch_agree_across_ranks():
    ranks = [DistributedCoresetSampler(IDX, 3, r, seed=1) for r in range(3)]
    for p in range(3):
        parts = [list(s) for s in ranks]
        for r in range(3):  # pass p is DistributedSampler's epoch p on every rank
            dref = DistributedSampler(range(len(IDX)), 3, r, seed=1)
            dref.set_epoch(p)
            assert parts[r] == IDX[list(dref)].tolist()
        assert set(sum(parts, [])) == set(IDX.tolist())


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


def test_set_subset_during_a_pass():
    s = CoresetSampler([1, 2, 3, 4], seed=0)
    it = iter(s)
    first = [next(it), next(it)]
    s.set_subset([10, 20], [1.0, 3.0])
    rest = list(it)  # the running pass finishes on the subset it started with
    assert sorted(first + rest) == [1, 2, 3, 4]
    state = s.state_dict()  # that pass is no longer the sampler's: nothing to resume
    assert state["pass_epoch"] is None and state["position"] == 0
    assert sorted(s) == [10, 20] and s.state_dict()["pass_epoch"] is None
