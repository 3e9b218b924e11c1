"""Readers for embeddings stored as shards on disk: ``.npy`` directories and Parquet files.

A reader validates every shard's header when it is opened (2-D, same width, same float
dtype, file long enough for its header) and every shard's values when they are read
(finite), and names the file in each error. Nothing is unpickled: ``.npy`` files are
memory-mapped with ``allow_pickle=False`` and Parquet files are read with pyarrow.

Rows are numbered globally in shard order (shard 0's rows first); those global row
numbers are what :func:`coresets.streaming.select_from_shards` returns.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ShardedEmbeddings:
    """Base class: a list of shards with row counts, one width and one float dtype.

    Attributes
    ----------
    paths : list of Path, one per shard, in global row order.
    shard_sizes : ndarray of int64, shape (n_shards,)
    offsets : ndarray of int64, shape (n_shards + 1,); shard ``s`` holds global rows
        ``offsets[s]:offsets[s + 1]``.
    n_samples, n_features : int
    dtype : numpy dtype (float32 or float64)
    """

    paths: list
    shard_sizes: np.ndarray
    n_features: int
    dtype: np.dtype

    def _finish_init(self):
        self.shard_sizes = np.asarray(self.shard_sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.shard_sizes)]).astype(np.int64)
        self.n_samples = int(self.offsets[-1])
        if self.n_samples == 0:
            raise ValueError(f"path {self.root}: every shard is empty")

    @property
    def n_shards(self) -> int:
        return len(self.paths)

    def read(self, s: int) -> np.ndarray:
        """Return shard ``s`` as an (n_rows, n_features) array, checked to be finite.

        ``.npy`` shards come back memory-mapped (read-only), so the caller should drop
        the reference when done to release the pages.
        """
        X = self._load(s)
        for start in range(0, X.shape[0], 262144):  # blocks: never copy a shard whole
            self._check_block(X[start : start + 262144], s)
        return X

    def _load(self, s: int) -> np.ndarray:
        """Shard ``s`` without the finiteness check (subclasses implement it)."""
        raise NotImplementedError

    def ids(self, s: int) -> np.ndarray | None:
        """Ids stored with shard ``s`` (shape (n_rows,)), or None when the shards carry none."""
        return None

    def iter_blocks(self, block_size: int = 65536):
        """Yield ``(global_start, block)`` over all rows in order, ``block_size`` rows at a time."""
        for s in range(self.n_shards):
            X = self.read(s)
            for start in range(0, X.shape[0], block_size):
                yield int(self.offsets[s]) + start, np.asarray(X[start : start + block_size])
            del X

    def take(self, rows) -> np.ndarray:
        """Gather global ``rows`` (1-D int array, any order) into a new (len(rows), d) array."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((rows.shape[0], self.n_features), dtype=self.dtype)
        if rows.size == 0:
            return out
        if rows.min() < 0 or rows.max() >= self.n_samples:
            raise ValueError(f"rows must lie in [0, {self.n_samples})")
        shard_of = np.searchsorted(self.offsets, rows, side="right") - 1
        order = np.argsort(shard_of, kind="stable")
        bounds = np.searchsorted(shard_of[order], np.arange(self.n_shards + 1))
        for s in range(self.n_shards):
            pos = order[bounds[s] : bounds[s + 1]]
            if pos.size == 0:
                continue
            X = self._load(s)
            out[pos] = X[rows[pos] - self.offsets[s]]
            del X
            # Only the gathered rows are checked: a partition touches every shard, and
            # scanning whole shards once per partition would dominate the read time.
            self._check_block(out[pos], s)
        return out

    def fingerprint(self) -> str:
        """A hash of shard names, sizes, modification times and shapes (for checkpoints)."""
        h = hashlib.sha256()
        for p, n in zip(self.paths, self.shard_sizes, strict=True):
            st = os.stat(p)
            h.update(f"{Path(p).name}|{st.st_size}|{st.st_mtime_ns}|{int(n)}|".encode())
        h.update(f"{self.n_features}|{self.dtype.str}".encode())
        return h.hexdigest()

    def _check_block(self, X, s: int) -> None:
        if not np.all(np.isfinite(X)):
            bad = "NaN" if np.isnan(X).any() else "inf"
            raise ValueError(f"shard {self.paths[s]} contains {bad} values")


def _npy_header(path: Path):
    """Read a ``.npy`` header without loading data: (shape, dtype, fortran, data_offset)."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                shape, fortran, dtype = np.lib.format._read_array_header(fh, version)
            offset = fh.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ValueError(f"shard {path} is not a readable .npy file: {exc}") from None
    return shape, np.dtype(dtype), fortran, offset


class NpyShards(ShardedEmbeddings):
    """A directory of ``.npy`` shards, each (n_rows, n_features), float32 or float64.

    Shard order comes from the ``index.json`` written by
    :func:`coresets.embed.embed_to_shards` when present (its ``start``/``stop`` row
    ranges are checked, and an unfinished run is refused), otherwise from the sorted
    ``*.npy`` file names. A row's global id is its position in that order.

    Parameters
    ----------
    root : str or Path, the directory.
    """

    def __init__(self, root):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"path {self.root} is not a directory")
        self._ranges = None
        index = self._read_index()
        if index is not None:
            self.paths, self._ranges = index
        else:
            self.paths = sorted(p for p in self.root.glob("*.npy") if not p.name.startswith("."))
        if not self.paths:
            raise ValueError(f"path {self.root} holds no .npy shards")
        sizes, width, dtype = [], None, None
        for p in self.paths:
            shape, dt, _fortran, offset = _npy_header(p)
            if dt.hasobject or dt not in _FLOAT_DTYPES:
                raise ValueError(f"shard {p} has dtype {dt}; expected float32 or float64")
            if len(shape) != 2:
                raise ValueError(f"shard {p} must be 2-D (n_rows, n_features), got shape {shape}")
            if width is None:
                width, dtype = shape[1], dt
            elif shape[1] != width:
                raise ValueError(
                    f"shard {p} has {shape[1]} features but shard {self.paths[0]} has {width}"
                )
            elif dt != dtype:
                raise ValueError(f"shard {p} has dtype {dt} but shard {self.paths[0]} has {dtype}")
            need = offset + shape[0] * shape[1] * dt.itemsize
            have = os.path.getsize(p)
            if have < need:
                raise ValueError(
                    f"shard {p} is truncated: header promises {need} bytes, file has {have}"
                )
            sizes.append(shape[0])
        if width == 0:
            raise ValueError(f"shard {self.paths[0]} has 0 features")
        self.shard_sizes, self.n_features, self.dtype = sizes, int(width), dtype
        self._finish_init()
        if self._ranges is not None:  # the index's row ranges must be the shards' rows
            for s, (start, stop) in enumerate(self._ranges):
                if start is not None and (start, stop) != (self.offsets[s], self.offsets[s + 1]):
                    raise ValueError(
                        f"shard {self.paths[s]} holds rows {self.offsets[s]}:"
                        f"{self.offsets[s + 1]} but index.json says {start}:{stop}"
                    )

    def _read_index(self):
        """Parse ``index.json`` (``coresets.embed`` format) if present: files and row ranges."""
        path = self.root / "index.json"
        if not path.is_file():
            return None
        try:
            meta = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"shard index {path} is not valid JSON: {exc}") from None
        shards = meta.get("shards") if isinstance(meta, dict) else None
        if not isinstance(shards, list) or not shards:
            raise ValueError(f"shard index {path} has no 'shards' list")
        if meta.get("complete") is False:
            raise ValueError(
                f"shard index {path} marks an unfinished embedding run ({meta.get('n')} of "
                f"{meta.get('n_input')} rows); rerun embed_to_shards to complete it"
            )
        paths, ranges = [], []
        for entry in shards:
            name = entry.get("file") if isinstance(entry, dict) else None
            if not isinstance(name, str):
                raise ValueError(f"shard index {path} has an entry without a file: {entry!r}")
            p = self.root / name
            if not p.is_file():
                raise ValueError(f"shard index {path} lists {name}, which does not exist")
            paths.append(p)
            ranges.append((entry.get("start"), entry.get("stop")))
        return paths, ranges

    def _load(self, s: int) -> np.ndarray:
        p = self.paths[s]
        try:
            X = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"shard {p} could not be read: {exc}") from None
        if X.shape != (int(self.shard_sizes[s]), self.n_features) or X.dtype != self.dtype:
            raise ValueError(f"shard {p} changed since it was opened (shape {X.shape})")
        return X

    def ids(self, s: int):
        """Global ids of shard ``s``: its rows' positions in shard order (``start + r``)."""
        return np.arange(self.offsets[s], self.offsets[s + 1], dtype=np.int64)


class ParquetShards(ShardedEmbeddings):
    """Parquet file(s) with an id column and an embedding column (list or fixed-size list).

    Parameters
    ----------
    root : str or Path, a ``.parquet`` file or a directory of them (sorted by name).
    id_column : str or None, the id column (None: no ids).
    embedding_column : str, the column holding one float vector per row.
    """

    def __init__(self, root, *, id_column="id", embedding_column="embedding"):
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - pyarrow is in the dev/parquet extras
            raise ImportError(
                "reading Parquet shards needs pyarrow: pip install 'coresets[parquet]'"
            ) from exc
        import pyarrow as pa

        self.root = Path(root)
        self.id_column, self.embedding_column = id_column, embedding_column
        if self.root.is_dir():
            self.paths = sorted(self.root.glob("*.parquet"))
        elif self.root.is_file():
            self.paths = [self.root]
        else:
            raise ValueError(f"path {self.root} does not exist")
        if not self.paths:
            raise ValueError(f"path {self.root} holds no .parquet files")
        sizes, width, dtype = [], None, None
        for p in self.paths:
            try:
                meta = pq.read_metadata(p)
                schema = meta.schema.to_arrow_schema()
            except (OSError, pa.ArrowException) as exc:
                raise ValueError(f"shard {p} is not a readable Parquet file: {exc}") from None
            if embedding_column not in schema.names:
                raise ValueError(
                    f"shard {p} has no embedding_column {embedding_column!r}; "
                    f"columns are {schema.names}"
                )
            if id_column is not None and id_column not in schema.names:
                raise ValueError(
                    f"shard {p} has no id_column {id_column!r}; columns are {schema.names}"
                )
            typ = schema.field(embedding_column).type
            if not (pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ)):
                raise ValueError(
                    f"shard {p}: embedding_column {embedding_column!r} must be a list or "
                    f"fixed-size list of floats, got {typ}"
                )
            value_type = typ.value_type
            if not pa.types.is_floating(value_type) or pa.types.is_float16(value_type):
                raise ValueError(
                    f"shard {p}: embedding_column {embedding_column!r} holds {value_type}; "
                    "expected float32 or float64"
                )
            dt = np.dtype(value_type.to_pandas_dtype())
            w = typ.list_size if pa.types.is_fixed_size_list(typ) else None
            if dtype is None:
                dtype = dt
            elif dt != dtype:
                raise ValueError(f"shard {p} has dtype {dt} but shard {self.paths[0]} has {dtype}")
            if w is not None:
                if width is None:
                    width = w
                elif w != width:
                    raise ValueError(
                        f"shard {p} has {w} features but shard {self.paths[0]} has {width}"
                    )
            sizes.append(meta.num_rows)
        self.shard_sizes, self.dtype = sizes, dtype
        if width is None:  # variable-size lists: read the first non-empty row's length
            width = self._first_width()
        self.n_features = int(width)
        self._finish_init()

    def _first_width(self) -> int:
        import pyarrow.parquet as pq

        for p in self.paths:
            col = pq.read_table(p, columns=[self.embedding_column]).column(0)
            for chunk in col.chunks:
                if len(chunk):
                    return len(chunk[0].values)
        raise ValueError(f"path {self.root}: every shard is empty")

    def _table(self, s: int):
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = [self.embedding_column] + ([self.id_column] if self.id_column else [])
        try:
            return pq.read_table(self.paths[s], columns=cols)
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"shard {self.paths[s]} could not be read: {exc}") from None

    def _load(self, s: int) -> np.ndarray:
        import pyarrow as pa

        p = self.paths[s]
        col = self._table(s).column(self.embedding_column).combine_chunks()
        n = len(col)
        if col.null_count:
            raise ValueError(f"shard {p}: embedding_column has {col.null_count} null rows")
        if pa.types.is_list(col.type):
            lengths = np.diff(col.offsets.to_numpy())
            if n and (lengths != self.n_features).any():
                bad = int(np.flatnonzero(lengths != self.n_features)[0])
                raise ValueError(
                    f"shard {p}: row {bad} has {lengths[bad]} features, expected {self.n_features}"
                )
            values = col.flatten()
        else:
            values = col.flatten()
        X = values.to_numpy(zero_copy_only=False).astype(self.dtype, copy=False)
        if X.size != n * self.n_features:
            raise ValueError(f"shard {p}: embedding values do not form ({n}, {self.n_features})")
        return X.reshape(n, self.n_features)

    def ids(self, s: int):
        if self.id_column is None:
            return None
        return self._table(s).column(self.id_column).to_numpy()


def open_shards(path, *, id_column="id", embedding_column="embedding") -> ShardedEmbeddings:
    """Open ``.npy`` or Parquet shards at ``path`` and validate their headers.

    Parameters
    ----------
    path : str or Path
        A directory of ``.npy`` shards (optionally with ``index.json``), a directory of
        ``.parquet`` files, or one ``.parquet`` file.
    id_column, embedding_column : str
        Parquet column names (ignored for ``.npy`` shards).

    Returns
    -------
    ShardedEmbeddings
    """
    if isinstance(path, ShardedEmbeddings):
        return path
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    root = Path(path)
    if root.is_file() and root.suffix == ".parquet":
        return ParquetShards(root, id_column=id_column, embedding_column=embedding_column)
    if not root.is_dir():
        raise ValueError(f"path {root} is not a directory or a .parquet file")
    has_npy = any(root.glob("*.npy")) or (root / "index.json").is_file()
    if has_npy:
        return NpyShards(root)
    if any(root.glob("*.parquet")):
        return ParquetShards(root, id_column=id_column, embedding_column=embedding_column)
    raise ValueError(f"path {root} holds neither .npy nor .parquet shards")
