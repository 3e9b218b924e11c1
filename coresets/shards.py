"""The shard format: embeddings larger than memory as ``.npy`` shards (or Parquet files).

:class:`ShardWriter` writes ``.npy`` shards (:func:`coresets.embed.embed_to_shards` feeds
it); :func:`open_shards` reads them back, or Parquet files, as a
:class:`ShardedEmbeddings` (:class:`NpyShards`, :class:`ParquetShards`), which
:func:`coresets.streaming.select_from_shards` selects from.

``.npy`` shard format
---------------------
A directory holds only::

    shard-00000.npy, shard-00001.npy, ...   float32 arrays of shape (rows, dim), C order,
                                            plain .npy (no pickle); shard i holds the
                                            global rows [start, stop) in input order
    index.json                              the index (INDEX_FILE), below

``index.json`` is a JSON object with the fields

``format``
    :data:`FORMAT` (``"coresets-embedding-shards"``); ``version``: :data:`VERSION` (1).
``dtype``
    ``"float32"``; ``dim``: embedding width (null before the first shard).
``shard_size``
    rows per shard (the last shard may hold fewer).
``n_input``
    number of input rows when known in advance, else null.
``n``
    total rows written so far; ``complete``: true once every input row is in a shard.
``shards``
    list of ``{"file": "shard-00000.npy", "start": 0, "stop": 65536, "shape": [65536, dim]}``
    in order; the global id of row ``r`` of a shard is ``start + r``.

Every shard and every version of the index is written to a temporary file in the
directory (``.shard-00000.npy.*.tmp``) and renamed into place, after the shard it
lists, so a listed shard is always whole. A writer reopened with the same arguments
keeps the shards the index lists (their headers are checked) and resumes after them;
leftover temporary files of an interrupted run are removed. Any other file in the
directory is an error. A directory of ``.npy`` files without an index is read in
sorted file order.

Reading
-------
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
import re
from pathlib import Path

import numpy as np

from ._io import load_npy, npy_header, save_json, save_npy
from ._validation import check_array_2d, check_int

__all__ = [
    "FORMAT",
    "VERSION",
    "INDEX_FILE",
    "ShardWriter",
    "ShardedEmbeddings",
    "NpyShards",
    "ParquetShards",
    "open_shards",
    "arrow_vectors",
]

#: The ``format`` field of :data:`INDEX_FILE`.
FORMAT = "coresets-embedding-shards"
#: The ``version`` field of :data:`INDEX_FILE`.
VERSION = 1
#: The index of a ``.npy`` shard directory.
INDEX_FILE = "index.json"

_SHARD_RE = re.compile(r"^shard-(\d{5,})\.npy$")
_TMP_RE = re.compile(r"^\.(shard-\d{5,}\.npy|index\.json)\..*\.tmp$")
# Rows checked for NaN/inf at a time when a shard is read: a shard is never copied whole.
_CHECK_BLOCK = 262_144


#: Chunks smaller than this are concatenated before conversion (rows).
_MIN_CHUNK_ROWS = 65_536


def _grouped_chunks(col):
    """The non-empty chunks of ``col``, consecutive small ones concatenated.

    Reads through a scattered indices mapping come back as one Arrow chunk per row;
    converting those one at a time costs a Python round trip per row (3.6 s for 20k
    rows), so runs of chunks are joined into arrays of at least ``_MIN_CHUNK_ROWS``
    rows, which also bounds the extra memory of the join.
    """
    import pyarrow as pa

    group, rows = [], 0
    for chunk in col.chunks if hasattr(col, "chunks") else [col]:
        if len(chunk) == 0:
            continue
        group.append(chunk)
        rows += len(chunk)
        if rows >= _MIN_CHUNK_ROWS:
            yield group[0] if len(group) == 1 else pa.concat_arrays(group)
            group, rows = [], 0
    if group:
        yield group[0] if len(group) == 1 else pa.concat_arrays(group)


def _chunk_values(chunk, what: str):
    """``(values float32 1-D, row lengths int64)`` of one list chunk, nulls refused."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(chunk, pa.ExtensionArray):
        chunk = chunk.storage
    if chunk.null_count:
        raise ValueError(f"{what} has {chunk.null_count} null rows")
    if pa.types.is_fixed_size_list(chunk.type):
        lengths = np.full(len(chunk), chunk.type.list_size, dtype=np.int64)
    else:
        lengths = pc.list_value_length(chunk).to_numpy(zero_copy_only=False).astype(np.int64)
    values = chunk.flatten()  # respects the chunk's offset: only this slice's values
    if values.null_count:
        raise ValueError(f"{what} has {values.null_count} null values inside its vectors")
    return values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False), lengths


def arrow_vectors(col, what: str, *, width: int | None = None, dtype=np.float32) -> np.ndarray:
    """An Arrow column of one list of numbers per row as a C-contiguous (n, width) array.

    Parquet shards and Hugging Face datasets store embeddings this way. Each chunk's flat
    value buffer is reshaped at once, with no Python loop over rows. ``what`` names the
    column in errors: nulls, and rows whose length is not ``width`` (by default the first
    row's), raise ``ValueError``. Finiteness is the caller's to check.

    Parameters
    ----------
    col : pyarrow.ChunkedArray or Array of list / fixed-size list / large list
    what : str
    width : int, optional
    dtype : numpy dtype, default float32

    Returns
    -------
    ndarray of shape (len(col), width)
    """
    chunks = col.chunks if hasattr(col, "chunks") else [col]
    n = sum(len(c) for c in chunks)
    out, pos = None, 0
    for chunk in _grouped_chunks(col):
        values, lengths = _chunk_values(chunk, what)
        if width is None:
            width = int(lengths[0])
            if width == 0:
                raise ValueError(f"{what} holds empty vectors")
        if out is None:
            out = np.empty((n, width), dtype=dtype)
        if (lengths != width).any():
            bad = int(np.flatnonzero(lengths != width)[0])
            raise ValueError(
                f"{what} is ragged: row {pos + bad} has {int(lengths[bad])} values, "
                f"expected {width} (every row must have the same length)"
            )
        out[pos : pos + len(chunk)] = values.reshape(len(chunk), width)
        pos += len(chunk)
    return np.empty((0, width or 0), dtype=dtype) if out is None else out


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}.npy"


class ShardWriter:
    """Write float32 rows into ``.npy`` shards of ``shard_size`` rows, resumably.

    Rows given to :meth:`append` are buffered and written shard by shard (each shard,
    then the index listing it, atomically); :meth:`close` writes the last, shorter shard
    and marks the index complete. Reopening a directory written with the same
    ``shard_size`` and ``n_input`` keeps its whole shards: :attr:`n_rows` says how many
    input rows to skip, and :attr:`complete` whether there is anything left to do.

    Parameters
    ----------
    out_dir : str or Path
        Created if missing; may hold only this format's files.
    shard_size : int, default 65536
        Rows per shard.
    n_input : int, optional
        Number of input rows when known (recorded, and compared on resume).

    Attributes
    ----------
    index : dict
        The contents of :data:`INDEX_FILE` (format in the module docstring).
    """

    def __init__(self, out_dir, *, shard_size: int = 65_536, n_input: int | None = None):
        self.shard_size = check_int(shard_size, "shard_size", low=1)
        self.out = Path(out_dir)
        self._prepare_dir()
        self.index = {
            "format": FORMAT,
            "version": VERSION,
            "dtype": "float32",
            "dim": None,
            "shard_size": self.shard_size,
            "n_input": n_input,
            "n": 0,
            "complete": False,
            "shards": [],
        }
        self._pending: list[np.ndarray] = []
        self._n_pending = 0
        self._resume()

    @property
    def n_rows(self) -> int:
        """Rows in whole shards on disk (a resumed run skips this many input rows)."""
        return int(self.index["n"])

    @property
    def complete(self) -> bool:
        return bool(self.index["complete"])

    def _prepare_dir(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise ValueError(f"out_dir {str(out)!r} exists and is not a directory")
        out.mkdir(parents=True, exist_ok=True)
        foreign = sorted(
            p.name
            for p in out.iterdir()
            if p.name != INDEX_FILE and not _SHARD_RE.match(p.name) and not _TMP_RE.match(p.name)
        )
        if foreign:
            more = ", ..." if len(foreign) > 5 else ""
            raise ValueError(
                f"out_dir {str(out)!r} holds files that are not embedding shards "
                f"({', '.join(foreign[:5])}{more}); use an empty or new directory"
            )
        for p in out.iterdir():  # temporary files of an interrupted run
            if _TMP_RE.match(p.name):
                p.unlink()

    def _resume(self) -> None:
        """Adopt the whole shards of an earlier run with the same arguments."""
        out, path = self.out, self.out / INDEX_FILE
        if not path.exists():
            return
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"out_dir {str(out)!r} has an unreadable {INDEX_FILE}: {exc}"
            ) from None
        if not isinstance(old, dict) or old.get("format") != FORMAT:
            raise ValueError(f"out_dir {str(out)!r} has an {INDEX_FILE} of another format")
        if not isinstance(old.get("shards", []), list):
            raise ValueError(
                f"out_dir {str(out)!r} has an {INDEX_FILE} whose 'shards' is a "
                f"{type(old['shards']).__name__}, not a list; use a new directory"
            )
        shard_size, n_input = self.shard_size, self.index["n_input"]
        if old.get("shard_size") != shard_size or old.get("n_input") != n_input:
            raise ValueError(
                f"out_dir {str(out)!r} holds shards of another run (shard_size "
                f"{old.get('shard_size')}, n_input {old.get('n_input')}; now {shard_size}, "
                f"{n_input}); use a new directory"
            )
        good = self._valid_prefix(old)
        if good:
            self.index.update(dim=old.get("dim"), shards=good, n=good[-1]["stop"])
            if old.get("complete") and len(good) == len(old["shards"]):
                self.index["complete"] = True

    def _valid_prefix(self, index: dict) -> list[dict]:
        """Listed shards whose files exist with the recorded shape, up to the first bad one."""
        good = []
        expected_start = 0
        for rec in index.get("shards", []):
            try:
                arr = load_npy(self.out / rec["file"], mmap=True)
                ok = (
                    list(arr.shape) == list(rec["shape"])
                    and arr.dtype == np.float32
                    and rec["start"] == expected_start
                    and rec["stop"] - rec["start"] == arr.shape[0]
                )
            except (OSError, ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                break
            good.append(rec)
            expected_start = rec["stop"]
        return good

    def append(self, rows) -> None:
        """Buffer ``rows`` (shape (b, dim), finite numbers within float32's range) as float32;
        write every shard that fills up. An empty block (0, dim) is a no-op.

        Checked before anything is buffered, so a bad block never reaches a shard: the
        error names ``rows`` and the input row number (over everything appended).
        """
        arr = np.asarray(rows)
        if arr.ndim == 2 and arr.shape[0] == 0 and arr.dtype.kind in "biuf":
            rows = arr.astype(np.float32)
        else:
            rows = check_array_2d(rows, "rows", dtype=(np.float32, np.float64))
        dim = self.index["dim"] if self.index["dim"] is not None else self._pending_dim()
        if dim is not None and rows.shape[1] != dim:
            raise ValueError(f"rows have width {rows.shape[1]}, but out_dir holds width {dim}")
        if rows.shape[0] == 0:
            return
        if rows.dtype != np.float32:  # finite float64 rows may still overflow float32
            with np.errstate(over="ignore"):
                rows = rows.astype(np.float32)
            bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
            if bad.size:
                first = self.index["n"] + self._n_pending + int(bad[0])
                raise ValueError(
                    f"rows hold values past float32's range (first: input row {first}); "
                    "scale the embeddings down"
                )
        self._pending.append(rows)
        self._n_pending += rows.shape[0]
        while self._n_pending >= self.shard_size:
            block = np.concatenate(self._pending, axis=0)
            self._write(block[: self.shard_size])
            self._pending = [block[self.shard_size :]]
            self._n_pending = block.shape[0] - self.shard_size

    def _pending_dim(self):
        return self._pending[0].shape[1] if self._pending else None

    def close(self) -> dict:
        """Write the buffered rows as the last shard, mark the index complete; return it."""
        if self._n_pending:
            self._write(np.concatenate(self._pending, axis=0))
            self._pending, self._n_pending = [], 0
        if self.index["n"] == 0:
            raise ValueError("data is empty")
        self.index["complete"] = True
        save_json(self.out / INDEX_FILE, self.index)
        return self.index

    def _write(self, rows: np.ndarray) -> None:
        index = self.index
        i, start = len(index["shards"]), index["n"]
        save_npy(self.out / _shard_name(i), rows)
        index["shards"].append(
            {
                "file": _shard_name(i),
                "start": start,
                "stop": start + rows.shape[0],
                "shape": list(rows.shape),
            }
        )
        index["n"] = start + rows.shape[0]
        index["dim"] = int(rows.shape[1])
        save_json(self.out / INDEX_FILE, index)  # after the shard: a listed shard is always whole


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ShardedEmbeddings:
    """Base class: a list of shards with row counts, one width and one float dtype.

    Attributes
    ----------
    paths : list of Path, one per shard, in global row order.
    shard_sizes : ndarray of int64, shape (n_shards,)
    offsets : ndarray of int64, shape (n_shards + 1,); shard ``s`` holds global rows
        ``offsets[s]:offsets[s + 1]``.
    n_rows, n_features : int
    dtype : numpy dtype (float32 or float64)
    """

    paths: list
    shard_sizes: np.ndarray
    n_features: int
    dtype: np.dtype

    def _finish_init(self):
        self.shard_sizes = np.asarray(self.shard_sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.shard_sizes)]).astype(np.int64)
        self.n_rows = int(self.offsets[-1])
        if self.n_rows == 0:
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
        for start in range(0, X.shape[0], _CHECK_BLOCK):  # blocks: never copy a shard whole
            self._check_block(X[start : start + _CHECK_BLOCK], s, int(self.offsets[s]) + start)
        return X

    def _load(self, s: int) -> np.ndarray:
        """Shard ``s`` without the finiteness check (subclasses implement it)."""
        raise NotImplementedError

    def ids(self, s: int) -> np.ndarray | None:
        """Ids stored with shard ``s`` (shape (n_rows,)), or None when the shards carry none."""
        return None

    @property
    def columns(self) -> dict:
        """The columns read (Parquet), for a checkpoint's identity; empty for ``.npy``."""
        return {}

    def iter_blocks(self, block_size: int = 65536, *, shards=None):
        """Yield ``(global_start, block)`` in row order, ``block_size`` rows at a time.

        ``shards`` (an iterable of shard numbers, default all) limits the pass, e.g. to
        resume after the last checkpointed shard. A block never spans two shards.
        """
        for s in range(self.n_shards) if shards is None else shards:
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
        if rows.min() < 0 or rows.max() >= self.n_rows:
            raise ValueError(f"rows must lie in [0, {self.n_rows})")
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
            self._check_block(out[pos], s, rows[pos])
        return out

    def fingerprint(self) -> str:
        """A hash of shard names, sizes, modification times and shapes (for checkpoints)."""
        h = hashlib.sha256()
        for p, n in zip(self.paths, self.shard_sizes, strict=True):
            st = os.stat(p)
            h.update(f"{Path(p).name}|{st.st_size}|{st.st_mtime_ns}|{int(n)}|".encode())
        h.update(f"{self.n_features}|{self.dtype.str}".encode())
        return h.hexdigest()

    def locate(self, row: int) -> str:
        """Where global ``row`` lives, for error messages: its id, shard file and row there."""
        row = int(row)
        s = int(np.searchsorted(self.offsets, row, side="right")) - 1
        local = row - int(self.offsets[s])
        return f"global row {row} (row {local} of shard {Path(self.paths[s]).name})"

    def _check_block(self, X, s: int, rows) -> None:
        """Refuse NaN/inf in ``X``, rows of shard ``s``: global ids ``rows`` (an array), or
        consecutive ones from global row ``rows`` (an int)."""
        if not np.all(np.isfinite(X)):
            bad_rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
            ids = rows + bad_rows if isinstance(rows, int) else np.asarray(rows)[bad_rows]
            first = int(np.argmin(ids))  # take() gathers in any order: name the lowest id
            bad = "NaN" if np.isnan(X[bad_rows[first]]).any() else "inf"
            raise ValueError(
                f"shard {self.paths[s]} contains {bad} values (first: {self.locate(ids[first])})"
            )


def _npy_header(path: Path):
    """Read a ``.npy`` header without loading data: (shape, dtype, fortran, data_offset)."""
    return npy_header(path, what="shard")


class NpyShards(ShardedEmbeddings):
    """A directory of ``.npy`` shards, each (n_rows, n_features), float32 or float64.

    Shard order comes from the :data:`INDEX_FILE` written by :class:`ShardWriter`
    (:func:`coresets.embed.embed_to_shards`) when present (its ``start``/``stop`` row
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
                        f"{self.offsets[s + 1]} but {INDEX_FILE} says {start}:{stop}"
                    )

    def _read_index(self):
        """Parse :data:`INDEX_FILE` (:data:`FORMAT`) if present: files and row ranges."""
        path = self.root / INDEX_FILE
        if not path.is_file():
            return None
        try:
            meta = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"shard index {path} is not valid JSON: {exc}") from None
        shards = meta.get("shards") if isinstance(meta, dict) else None
        if isinstance(meta, dict) and meta.get("format", FORMAT) != FORMAT:
            raise ValueError(f"shard index {path} is of format {meta['format']!r}, not {FORMAT!r}")
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
    """Parquet file(s) with an embedding column (list or fixed-size list of floats).

    Rows are numbered globally in file order, as for ``.npy`` shards; an id column is
    needed only when its values are asked for (:meth:`ids`).

    Parameters
    ----------
    root : str or Path, a ``.parquet`` file or a directory of them (sorted by name).
    embedding_column : str, default "embedding"
        The column holding one float vector per row.
    id_column : str, optional
        A column of row ids that :meth:`ids` returns (checked to exist when opened);
        None (default): the files need no id column.
    """

    def __init__(self, root, *, embedding_column="embedding", id_column=None):
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

    def _read_column(self, s: int, column: str):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(self.paths[s], columns=[column]).column(0)
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"shard {self.paths[s]} could not be read: {exc}") from None

    def _load(self, s: int) -> np.ndarray:
        what = f"shard {self.paths[s]}: embedding_column {self.embedding_column!r}"
        col = self._read_column(s, self.embedding_column)
        return arrow_vectors(col, what, width=self.n_features, dtype=self.dtype)

    def ids(self, s: int):
        """Values of ``id_column`` in shard ``s``, or None when no id column was named."""
        if self.id_column is None:
            return None
        return self._read_column(s, self.id_column).to_numpy()

    @property
    def columns(self) -> dict:
        return {"embedding_column": self.embedding_column, "id_column": self.id_column}


def open_shards(path, *, embedding_column="embedding", id_column=None) -> ShardedEmbeddings:
    """Open ``.npy`` or Parquet shards at ``path`` and validate their headers.

    Parameters
    ----------
    path : str or Path
        A directory of ``.npy`` shards (optionally with :data:`INDEX_FILE`), a directory
        of ``.parquet`` files, or one ``.parquet`` file. An opened
        :class:`ShardedEmbeddings` is returned as it is.
    embedding_column, id_column : str
        Parquet column names (see :class:`ParquetShards`; ignored for ``.npy`` shards).

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
        return ParquetShards(root, embedding_column=embedding_column, id_column=id_column)
    if not root.is_dir():
        raise ValueError(f"path {root} is not a directory or a .parquet file")
    has_npy = any(root.glob("*.npy")) or (root / INDEX_FILE).is_file()
    if has_npy:
        return NpyShards(root)
    if any(root.glob("*.parquet")):
        return ParquetShards(root, embedding_column=embedding_column, id_column=id_column)
    raise ValueError(f"path {root} holds neither .npy nor .parquet shards")
