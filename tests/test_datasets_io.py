"""load_dataset on the files users have: .npz, .npy pairs, CSV/Parquet, shards, string labels."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coresets.scaling.datasets import ClassificationData, load_dataset
from coresets.shards import ShardWriter

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 6))
Y_INT = np.arange(120) % 3
Y_STR = np.array(["cat", "dog", "emu"])[Y_INT]


def _same_split(a, b):
    for f in ("X", "y", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def _rows_of(data):
    """Every (features, label) row of train and test, for comparing against the source."""
    rows = np.vstack([data.X, data.X_test]).astype(np.float64)
    labels = np.concatenate([data.y, data.y_test])
    return rows, labels


def _matches_source(data, X, labels):
    """Every source row is in the split once, with its label (codes mapped back)."""
    rows, codes = _rows_of(data)
    assert rows.shape == (len(X), X.shape[1])
    order = np.lexsort(rows.T[::-1])
    src = np.lexsort(X.astype(np.float32).astype(np.float64).T[::-1])
    np.testing.assert_allclose(rows[order], X[src].astype(np.float32), rtol=1e-6)
    got = np.array([data.class_name(c) for c in codes[order]])
    np.testing.assert_array_equal(got, np.asarray(labels)[src].astype(str))


def test_npz_with_and_without_a_test_split(tmp_path):
    np.savez(tmp_path / "full.npz", X=X[:100], y=Y_INT[:100], X_test=X[100:], y_test=Y_INT[100:])
    d = load_dataset(tmp_path / "full.npz")
    assert d.X.shape == (100, 6) and d.X_test.shape == (20, 6) and d.classes is None
    np.testing.assert_array_equal(d.y_test, Y_INT[100:])
    np.savez(tmp_path / "xy.npz", X=X, y=Y_STR)
    d = load_dataset(tmp_path / "xy.npz")
    assert d.classes == ("cat", "dog", "emu") and d.n_classes == 3
    assert d.X_test.shape == (24, 6)  # the default 20%, stratified
    np.testing.assert_array_equal(np.bincount(d.y_test), [8, 8, 8])
    _matches_source(d, X, Y_STR)
    _same_split(d, load_dataset(tmp_path / "xy.npz"))  # the fixed seed: the same split
    other = load_dataset(tmp_path / "xy.npz", random_state=1, test_fraction=0.25)
    assert other.X_test.shape == (30, 6) and not np.array_equal(other.X, d.X[: len(other.X)])


def test_npy_pair_and_directory(tmp_path):
    np.save(tmp_path / "feats.npy", X)
    np.save(tmp_path / "labels.npy", Y_STR)
    d = load_dataset(tmp_path / "feats.npy", labels=tmp_path / "labels.npy", test_fraction=0.5)
    assert d.X.shape == (60, 6) and d.classes == ("cat", "dog", "emu")
    _matches_source(d, X, Y_STR)
    d2 = load_dataset(tmp_path / "feats.npy", labels=Y_STR.tolist(), test_fraction=0.5)
    _same_split(d, d2)  # labels as an array or as a file
    root = tmp_path / "dir"
    root.mkdir()
    np.save(root / "X.npy", X[:90].reshape(90, 2, 3))  # images are flattened
    np.save(root / "y.npy", Y_INT[:90].reshape(90, 1))  # a column vector is fine
    np.save(root / "X_test.npy", X[90:].reshape(30, 2, 3))
    np.save(root / "y_test.npy", Y_INT[90:])
    d = load_dataset(root)
    assert d.X.shape == (90, 6) and d.name == "dir"
    np.testing.assert_allclose(d.X_test, X[90:].astype(np.float32))


def test_csv_and_parquet_tables(tmp_path):
    header = "f0,f1,f2,f3,f4,f5,species"
    lines = [header] + [
        ",".join(repr(float(v)) for v in r) + f",{s}" for r, s in zip(X, Y_STR, strict=True)
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    d = load_dataset(tmp_path / "t.csv", label_column="species")
    assert d.classes == ("cat", "dog", "emu")
    _matches_source(d, X, Y_STR)
    cols = {f"f{i}": X[:, i] for i in range(6)}
    pq.write_table(pa.table({**cols, "label": Y_INT}), tmp_path / "t.parquet")
    d = load_dataset(tmp_path / "t.parquet")  # "label" is the default column
    assert d.classes is None
    _matches_source(d, X, Y_INT)
    vec = pa.table({"embedding": X.tolist(), "label": Y_STR})
    pq.write_table(vec, tmp_path / "v.parquet")
    _matches_source(load_dataset(tmp_path / "v.parquet"), X, Y_STR)


def test_shard_directories_with_labels(tmp_path):
    w = ShardWriter(tmp_path / "npy", shard_size=50, n_input=120)
    w.append(X.astype(np.float32))
    w.close()
    np.save(tmp_path / "y.npy", Y_STR)
    d = load_dataset(tmp_path / "npy", labels=tmp_path / "y.npy")
    _matches_source(d, X, Y_STR)
    with pytest.raises(ValueError, match="carry no labels; pass labels"):
        load_dataset(tmp_path / "npy")
    pdir = tmp_path / "pq"
    pdir.mkdir()
    for i, (lo, hi) in enumerate([(0, 70), (70, 120)]):
        t = pa.table({"embedding": X[lo:hi].tolist(), "y": Y_INT[lo:hi]})
        pq.write_table(t, pdir / f"part-{i}.parquet")
    _matches_source(load_dataset(pdir, label_column="y"), X, Y_INT)


def test_label_encodings():
    from coresets.scaling.datasets import _encode_labels

    y, yt, classes = _encode_labels(np.array([3, 0, 3]), np.array([1]), "d")
    assert classes is None and y.tolist() == [3, 0, 3] and yt.tolist() == [1]
    y, yt, classes = _encode_labels(np.array([-1, 5, 5]), np.array([-1]), "d")
    assert classes == (-1, 5) and y.tolist() == [0, 1, 1] and yt.tolist() == [0]
    y, _, classes = _encode_labels(np.array([2.0, 0.0]), None, "d")
    assert classes is None and y.dtype == np.int64 and y.tolist() == [2, 0]
    # a test class the training rows lack still gets a code of its own
    y, yt, classes = _encode_labels(np.array(["b", "a"]), np.array(["c"]), "d")
    assert classes == ("a", "b", "c") and y.tolist() == [1, 0] and yt.tolist() == [2]
    y, _, classes = _encode_labels(np.array(["x", None], dtype=object)[:1], None, "d")
    assert classes == ("x",) and y.tolist() == [0]
    with pytest.raises(ValueError, match="non-integer value 0.5"):
        _encode_labels(np.array([0.5, 1.0]), None, "d")
    with pytest.raises(ValueError, match="missing labels"):
        _encode_labels(np.array(["x", None], dtype=object), None, "d")
    data = ClassificationData(np.zeros((2, 1)), np.array([0, 1]), np.zeros((1, 1)),
                              np.array([1]), "t", classes=("no", "yes"))  # fmt: skip
    assert data.class_name(1) == "yes" and data.n_classes == 2


@pytest.mark.parametrize(
    "make, kwargs, msg",
    [
        (lambda p: np.savez(p / "a.npz", X=X, labels=Y_INT), {}, r"lacks arrays \[.y.\]; it needs X and y"),
        (lambda p: np.savez(p / "a.npz", X=X, y=Y_INT, X_test=X), {}, "without its partner"),
        (lambda p: np.savez(p / "a.npz", X=X, y=Y_INT[:5]), {}, r"y must have shape \(120,\)"),
        (lambda p: np.savez(p / "a.npz", X=X, y=Y_INT, X_test=X[:, :2], y_test=Y_INT), {},
         "X has 6 features but X_test has 2"),
        (lambda p: np.savez(p / "a.npz", X=X, y=Y_INT, X_test=X, y_test=Y_INT),
         {"test_fraction": 0.3}, "test_fraction applies to data without a test split"),
        (lambda p: np.savez(p / "a.npz", X=X, y=np.r_[Y_INT[:-1], 7]), {},
         "class 7 has a single row"),
        (lambda p: np.savez(p / "a.npz", X=X, y=Y_INT + 0.25), {}, "non-integer value"),
        (lambda p: np.save(p / "a.npy", X), {}, "pass labels"),
        (lambda p: np.save(p / "a.npy", np.array([{"a": 1}])), {"labels": [0]},
         "could not be read as a plain .npy"),
        (lambda p: (p / "a.npz").write_bytes(b"junk"), {}, "could not be read as .npz"),
        (lambda p: (p / "a.csv").write_text("x,label\nfoo,1\nbar,2\n"), {},
         "column 'x' holds string, not numbers"),
        (lambda p: (p / "a.csv").write_text("x,label\n1,\n2,a\n"), {}, "1 missing labels"),
        (lambda p: (p / "a.csv").write_text("x,y\n1,0\n"), {}, "no label column 'label'"),
        (lambda p: (p / "a.csv").write_text("label\n1\n"), {}, "no feature columns"),
        (lambda p: (p / "a.json").write_text("{}"), {}, "has suffix '.json'"),
        (lambda p: np.savez(p / "a.npz", X=X, y=Y_INT), {"label_column": "y"},
         "label_column applies to CSV/Parquet"),
        (lambda p: np.savez(p / "a.npz", X=X, y=Y_INT), {"test_fraction": 1.5},
         r"test_fraction must lie in \(0, 1\)"),
    ],
)  # fmt: skip
def test_bad_files_raise_naming_the_problem(tmp_path, make, kwargs, msg):
    make(tmp_path)
    path = next(p for p in tmp_path.iterdir() if p.name.startswith("a."))
    with pytest.raises(ValueError, match=msg):
        load_dataset(path, **kwargs)


def test_bad_directories_and_names(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a shard directory"):
        load_dataset(tmp_path / "empty")
    d = tmp_path / "half"
    d.mkdir()
    np.save(d / "X.npy", X)
    with pytest.raises(ValueError, match="has no y.npy"):
        load_dataset(d)
    with pytest.raises(ValueError, match="applies to data files"):
        load_dataset("digits", label_column="y")
    with pytest.raises(TypeError, match="dataset must be a name or a path"):
        load_dataset(3)
