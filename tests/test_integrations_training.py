"""Our samplers and recorder callbacks under Lightning, Accelerate and the HF Trainer.

Ranks are simulated without processes: Lightning's own ``DistributedSamplerWrapper`` and
data connector (a DDP ``Trainer`` that is built but never launched), and accelerate's
``prepare_data_loader(..., num_processes=2, process_index=r)``, one loader per rank.
"""

import subprocess
import sys
import textwrap
import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from coresets.sampling import CoresetSampler, DistributedCoresetSampler, WeightedCoresetSampler

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

N_ROWS = 64
SUBSET = np.arange(1, N_ROWS, 2)  # 32 rows, a multiple of the 2 ranks and of the batch size 4
DATA = TensorDataset(torch.arange(N_ROWS))


def _lightning_wrapper():
    pytest.importorskip("lightning")
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper

    return DistributedSamplerWrapper


def _pass(sampler, epoch):
    """One pass of ``sampler`` at ``epoch`` (indices only)."""
    sampler.set_epoch(epoch)
    return list(sampler)


# ---------------------------------------------------------------- Lightning: samplers
SAME_ORDER = {
    "seeded": lambda rank: CoresetSampler(SUBSET, seed=3),
    "same-generator": lambda rank: CoresetSampler(
        SUBSET, generator=torch.Generator().manual_seed(11)
    ),
    "weighted": lambda rank: WeightedCoresetSampler(SUBSET, np.arange(1.0, 33.0), seed=3),
}


@pytest.mark.parametrize("kind", sorted(SAME_ORDER))
@pytest.mark.parametrize("k", [32, 31])
def test_lightning_wrapper_partitions_a_plain_sampler_that_gives_every_rank_one_order(kind, k):
    wrapper_cls = _lightning_wrapper()

    def build(rank):
        sampler = SAME_ORDER[kind](rank)
        sampler.set_subset(SUBSET[:k], np.arange(1.0, k + 1.0) if kind == "weighted" else None)
        return sampler

    for epoch in (0, 1):
        shards = []
        for rank in range(2):
            sampler = build(rank)
            wrapper = wrapper_cls(sampler, num_replicas=2, rank=rank, shuffle=True, seed=0)
            wrapper.set_epoch(epoch)  # Lightning's fit loop calls it on the wrapper ...
            assert sampler.epoch == epoch  # ... and the wrapper forwards it to our sampler
            shards.append(list(wrapper))
        assert len(shards[0]) == len(shards[1]) == -(-len(sampler) // 2)
        # every rank holds the same pass, so the shards are that pass (the same draws for
        # the weighted sampler), once, plus the wrapper's padding: one repeated entry
        # when the pass has odd length
        union, one_pass = Counter(shards[0] + shards[1]), Counter(_pass(build(0), epoch))
        assert not one_pass - union
        assert sum((union - one_pass).values()) == len(sampler) % 2


def test_lightning_wrapper_overlaps_when_ranks_draw_different_orders():
    # the pitfall a plain sampler must avoid: a generator seeded differently on each rank
    wrapper_cls = _lightning_wrapper()
    shards = []
    for rank in range(2):
        sampler = CoresetSampler(SUBSET, generator=torch.Generator().manual_seed(rank))
        shards.append(list(wrapper_cls(sampler, num_replicas=2, rank=rank, shuffle=True)))
    assert len(set(shards[0] + shards[1])) < len(SUBSET)


def test_lightning_wrapper_double_shards_a_rank_aware_sampler():
    wrapper_cls = _lightning_wrapper()
    shards = [
        list(
            wrapper_cls(
                DistributedCoresetSampler(SUBSET, num_replicas=2, rank=rank, seed=3),
                num_replicas=2,
                rank=rank,
            )
        )
        for rank in range(2)
    ]
    # each rank sees a quarter of the subset, and the two ranks together only half
    assert len(shards[0]) == len(shards[1]) == len(SUBSET) // 4
    assert len(set(shards[0]) | set(shards[1])) == len(SUBSET) // 2


def test_lightning_trainer_wraps_a_plain_sampler_and_keeps_the_distributed_one():
    pytest.importorskip("lightning")
    import lightning.pytorch as pl
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
    from lightning.pytorch.trainer.states import RunningStage

    seen = {"plain": [], "distributed": []}
    for rank in range(2):
        # a DDP Trainer, built but never launched: its data connector is Lightning's own
        # decision whether to wrap a loader's sampler, made for rank `rank` of 2
        trainer = pl.Trainer(
            accelerator="cpu",
            strategy="ddp",
            devices=2,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.strategy.cluster_environment.set_global_rank(rank)
        assert trainer.distributed_sampler_kwargs == {"num_replicas": 2, "rank": rank}
        prepare = trainer._data_connector._prepare_dataloader
        plain = CoresetSampler(SUBSET, seed=3)
        dist = DistributedCoresetSampler(SUBSET, num_replicas=2, rank=rank, seed=3)
        assert isinstance(dist, DistributedSampler)
        dl_plain = prepare(
            DataLoader(DATA, batch_size=4, sampler=plain), True, RunningStage.TRAINING
        )
        dl_dist = prepare(DataLoader(DATA, batch_size=4, sampler=dist), True, RunningStage.TRAINING)
        assert isinstance(dl_plain.sampler, DistributedSamplerWrapper)
        assert dl_dist.sampler is dist  # left alone: a DistributedSampler shards itself
        for name, dl in (("plain", dl_plain), ("distributed", dl_dist)):
            seen[name].append([int(i) for (b,) in dl for i in b])
    for name in seen:
        assert len(seen[name][0]) == len(seen[name][1]) == len(SUBSET) // 2
        assert sorted(seen[name][0] + seen[name][1]) == SUBSET.tolist(), name


# ---------------------------------------------------------------- Accelerate: samplers
def _accelerate_shards(make, epoch=None, *, batch_size=4):
    """Per rank: the indices accelerate's loader for that rank yields in one epoch."""
    pytest.importorskip("accelerate")
    from accelerate.data_loader import prepare_data_loader

    shards, samplers = [], []
    for rank in range(2):
        sampler = make(rank)
        dl = prepare_data_loader(
            DataLoader(DATA, batch_size=batch_size, sampler=sampler),
            num_processes=2,
            process_index=rank,
            put_on_device=False,
        )
        if epoch is not None:
            dl.set_epoch(epoch)
        shards.append([int(i) for (b,) in dl for i in b])
        samplers.append(sampler)
    return shards, samplers


@pytest.mark.parametrize("kind", sorted(set(SAME_ORDER) - {"same-generator"}))
@pytest.mark.parametrize("epoch", [None, 2])
def test_accelerate_shards_a_plain_sampler_once_and_keeps_its_seed(kind, epoch):
    shards, samplers = _accelerate_shards(SAME_ORDER[kind], epoch)
    assert len(shards[0]) == len(shards[1]) == len(SUBSET) // 2
    for s in samplers:
        # prepare_data_loader gives a randomly seeded generator to any sampler whose
        # `generator` is None; ours has none to be replaced, so seed + epoch still rule
        assert not hasattr(s, "generator")
        assert s.epoch == (0 if epoch is None else epoch)  # DataLoaderShard.set_epoch reached it
    ref = _pass(SAME_ORDER[kind](0), 0 if epoch is None else epoch)
    assert Counter(shards[0] + shards[1]) == Counter(ref)  # the pass (the same draws), once
    # batch j of the pass (4 indices) goes to rank j % 2
    batches = [ref[i : i + 4] for i in range(0, len(ref), 4)]
    assert shards[0] == [i for b in batches[0::2] for i in b]
    assert shards[1] == [i for b in batches[1::2] for i in b]


def test_accelerate_pads_an_uneven_pass_from_its_head():
    sub = SUBSET[:30]  # 7.5 batches of 4 -> 8 batches, the last completed from the head
    shards, _ = _accelerate_shards(lambda rank: CoresetSampler(sub, seed=3), 0)
    ref = _pass(CoresetSampler(sub, seed=3), 0)
    union = Counter(shards[0] + shards[1])
    assert len(shards[0]) == len(shards[1]) == 16
    assert union - Counter(ref) == Counter(ref[:2]) and not Counter(ref) - union


def test_accelerate_double_shards_a_distributed_sampler():
    # the documented pitfall: accelerate shards batches whatever the sampler, so a
    # rank-aware sampler is sharded twice
    shards, _ = _accelerate_shards(
        lambda rank: DistributedCoresetSampler(SUBSET, num_replicas=2, rank=rank, seed=3), 0
    )
    assert len(shards[0]) == len(shards[1]) == len(SUBSET) // 4
    assert len(set(shards[0]) | set(shards[1])) == len(SUBSET) // 2


def test_accelerate_keeps_a_generator_the_user_passed():
    pytest.importorskip("accelerate")
    from accelerate.data_loader import prepare_data_loader

    g = torch.Generator().manual_seed(4)
    sampler = CoresetSampler(SUBSET, generator=g)
    dl = prepare_data_loader(
        DataLoader(DATA, batch_size=4, sampler=sampler), num_processes=2, process_index=0
    )
    assert sampler.generator is g and dl.synchronized_generator is g


@pytest.fixture
def accelerator():
    pytest.importorskip("accelerate")
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(True)


@pytest.mark.parametrize("where", ["mid-pass", "epoch-end"])
def test_accelerate_save_state_round_trips_a_registered_sampler(accelerator, tmp_path, where):
    sampler = CoresetSampler(SUBSET, seed=5, weights=np.arange(1.0, 33.0), yield_weights=True)
    sampler.set_epoch(3)
    it = iter(sampler)
    head = [next(it) for _ in range(7)] if where == "mid-pass" else list(it)
    accelerator.register_for_checkpointing(sampler)
    accelerator.save_state(str(tmp_path))
    rest = list(it)
    assert len(head) + len(rest) == len(SUBSET)
    nxt = _pass(sampler, 4)
    # tensors and plain values only: it loads without unpickling objects
    saved = torch.load(tmp_path / "custom_checkpoint_0.pkl", weights_only=True)
    assert saved["epoch"] == 3 and saved["position"] == (7 if where == "mid-pass" else 0)

    resumed = CoresetSampler([0], seed=0, weights=[1.0], yield_weights=True)
    accelerator._custom_objects.clear()
    accelerator.register_for_checkpointing(resumed)
    accelerator.load_state(str(tmp_path))
    np.testing.assert_array_equal(resumed.indices, SUBSET)
    np.testing.assert_allclose(resumed.weights, sampler.weights)
    if where == "mid-pass":
        assert list(resumed) == rest  # the interrupted pass continues where it was saved
    assert _pass(resumed, 4) == nxt  # and the next epoch is the uninterrupted run's


# ---------------------------------------------------------------- recorder callbacks
def _digits(n=200):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16.0).astype(np.float32), y[:n].astype(np.int64)


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))


def _check_run(run, rec, X, y, steps, final_logits):
    assert sorted(rec.logits) == steps
    assert run.logits.shape == (1, len(steps), len(X), 10)
    assert run.steps.tolist() == steps and run.seconds > 0
    np.testing.assert_array_equal(run.y, y)
    # the last record is the trained model's output on the rows
    np.testing.assert_allclose(rec.logits[steps[-1]], final_logits, rtol=1e-5, atol=1e-5)
    for scores in (run.el2n(steps[0]), run.margin(steps[-1]), run.forgetting(), run.aum()):
        assert scores.shape == (len(X),) and np.isfinite(scores).all()


class _Snapshot:
    """Keeps a copy of the model's weights after optimiser step ``step``."""

    def __init__(self, step):
        self.step, self.state = step, None

    def take(self, model, step):
        if step == self.step and self.state is None:
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def logits(self, X):
        model = _mlp()
        model.load_state_dict({k.removeprefix("net."): v for k, v in self.state.items()})
        with torch.no_grad():
            return model(torch.as_tensor(X)).numpy()


def test_lightning_callback_records_the_asked_steps_and_feeds_a_selector():
    pytest.importorskip("lightning")
    import lightning.pytorch as pl

    from coresets.integrations.lightning import OutputRecorderCallback
    from coresets.selectors import CCSSelector

    X, y = _digits()

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = _mlp()

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            xb, yb = batch
            return torch.nn.functional.cross_entropy(self(xb), yb)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.5)

    class SnapshotCallback(pl.Callback):
        def __init__(self, snap):
            self.snap = snap

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.snap.take(pl_module, trainer.global_step)

    # 200 rows in batches of 32: 7 optimiser steps per epoch, 14 in two epochs
    loader = DataLoader(
        TensorDataset(torch.as_tensor(X), torch.as_tensor(y)),
        batch_size=32,
        sampler=CoresetSampler(np.arange(len(X)), seed=0),
    )
    at_steps = OutputRecorderCallback(X, y, steps=[1, 5, 14], batch_size=64)
    per_epoch = OutputRecorderCallback(X, y)
    snap = _Snapshot(5)
    module = Module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pl.Trainer(
            max_epochs=2,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[at_steps, per_epoch, SnapshotCallback(snap)],
        ).fit(module, loader)
    module.eval()
    with torch.no_grad():
        final = module(torch.as_tensor(X)).numpy()
    _check_run(at_steps.proxy_run(), at_steps, X, y, [1, 5, 14], final)
    _check_run(per_epoch.proxy_run(), per_epoch, X, y, [7, 14], final)
    # a middle record is the model right after that step, as OutputRecorder records it
    np.testing.assert_allclose(at_steps.logits[5], snap.logits(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(per_epoch.logits[14], at_steps.logits[14])
    run = at_steps.proxy_run()
    sel = CCSSelector(n_samples=50, scores=run.el2n(5), random_state=0).fit(X, y)
    assert len(sel.ranking_) == 50


def test_lightning_callback_refuses_an_unreached_step_and_bad_labels():
    pytest.importorskip("lightning")
    from coresets.integrations.lightning import OutputRecorderCallback

    X, y = _digits(20)
    with pytest.raises(ValueError, match="one integer label per row"):
        OutputRecorderCallback(X, y[:5])
    rec = OutputRecorderCallback(X, y, steps=[3])
    rec.recorder(_mlp(), 2)
    with pytest.raises(ValueError, match=r"\[3\] were never reached"):
        rec.proxy_run()


class _DictModel(torch.nn.Module):
    """A model in the transformers manner: keyword inputs, a dict with loss and logits."""

    def __init__(self):
        super().__init__()
        self.net = _mlp()

    def forward(self, x, labels=None):
        logits = self.net(x)
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


class _Rows(Dataset):
    def __init__(self, X, y):
        self.X, self.y, self.seen = torch.as_tensor(X), torch.as_tensor(y), []

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.seen.append(int(i))
        return {"x": self.X[i], "labels": self.y[i]}


def test_hf_trainer_callback_records_the_asked_steps_with_our_sampler(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from coresets.integrations.hf_trainer import OutputRecorderCallback

    X, y = _digits()
    subset = np.arange(0, 160)  # 5 steps of 32 per epoch, 10 in two
    sampler = CoresetSampler(subset, seed=0)

    class SubsetTrainer(transformers.Trainer):
        # the documented way to give the HF Trainer a sampler: it prepares the loader
        # with accelerate, which shards the batches across processes itself
        def _get_train_sampler(self, train_dataset=None):
            return sampler

    rows = _Rows(X, y)
    at_steps = OutputRecorderCallback({"x": X}, y, steps=[1, 4, 10])
    per_epoch = OutputRecorderCallback({"x": torch.as_tensor(X)}, y)
    snap = _Snapshot(4)

    class SnapshotCallback(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            snap.take(model, state.global_step)

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=32,
        num_train_epochs=2,
        learning_rate=0.5,
        lr_scheduler_type="constant",
        optim="sgd",
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    model = _DictModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SubsetTrainer(
            model=model,
            args=args,
            train_dataset=rows,
            callbacks=[at_steps, per_epoch, SnapshotCallback()],
        ).train()
    model.eval()
    with torch.no_grad():
        final = model(x=torch.as_tensor(X))["logits"].numpy()
    _check_run(at_steps.proxy_run(), at_steps, X, y, [1, 4, 10], final)
    _check_run(per_epoch.proxy_run(), per_epoch, X, y, [5, 10], final)
    np.testing.assert_allclose(at_steps.logits[4], snap.logits(X), rtol=1e-5, atol=1e-5)
    # training saw the subset only, every row once per epoch (the Trainer's set_epoch)
    assert Counter(rows.seen) == Counter(np.tile(subset, 2).tolist())
    assert sampler.epoch == 1


def test_callback_modules_are_imported_only_on_request_and_name_their_extra():
    code = textwrap.dedent(
        """
        import sys
        import coresets, coresets.sampling
        assert not {"lightning", "transformers", "accelerate"} & set(sys.modules), "eager"
        sys.modules["lightning"] = sys.modules["lightning.pytorch"] = None
        sys.modules["transformers"] = None
        for mod, extra in [("lightning", "lightning"), ("hf_trainer", "transformers")]:
            try:
                __import__("coresets.integrations." + mod)
            except ImportError as exc:
                assert f"coresets[{extra}]" in str(exc), exc
            else:
                raise AssertionError(mod + " imported without its library")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_output_recorder_reads_keyword_inputs_and_logits_of_any_output_kind():
    from types import SimpleNamespace

    from coresets.scaling.proxy import OutputRecorder

    X, y = _digits(10)
    net = _mlp()
    want = net(torch.as_tensor(X)).detach().numpy()

    class Kw(torch.nn.Module):
        def __init__(self, wrap):
            super().__init__()
            self.net, self.wrap = net, wrap

        def forward(self, x, mask):
            assert mask.dtype == torch.int64  # a mapping keeps its dtypes
            return self.wrap(self.net(x))

    rows = {"x": X, "mask": np.ones((10, 3), dtype=np.int64)}
    for wrap in (lambda z: z, lambda z: {"logits": z}, lambda z: SimpleNamespace(logits=z)):
        rec = OutputRecorder(rows, None, batch_size=3)
        rec(Kw(wrap), 4)
        np.testing.assert_allclose(rec.logits[4], want, rtol=1e-6)
    run = rec.to_proxy_run(y)
    assert run.steps.tolist() == [4] and run.logits.shape == (1, 1, 10, 10)
    with pytest.raises(TypeError, match="'logits'"):
        OutputRecorder(rows, [1]).record(Kw(lambda z: {"scores": z}), 1)
    with pytest.raises(ValueError, match="same number of rows"):
        OutputRecorder({"x": X, "mask": np.ones((9, 3))}, [1])
    with pytest.raises(ValueError, match="nothing was recorded"):
        OutputRecorder(X, None).to_proxy_run(y)
