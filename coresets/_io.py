"""Atomic file writes: every output goes to a temporary file that is renamed into place.

A crash therefore leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file is removed if the body raises, so nothing half written is left.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_npy(path, array) -> None:
    """Atomically write ``array`` to ``path`` in ``.npy`` format (never pickled)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array), allow_pickle=False)


def save_json(path, obj) -> None:
    """Atomically write ``obj`` to ``path`` as indented JSON."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def save_text(path, text: str) -> None:
    """Atomically write ``text`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def npy_header(path, *, what: str = "file"):
    """Read a ``.npy`` header without loading data: ``(shape, dtype, fortran, data_offset)``.

    Raises ``ValueError`` naming the ``what`` at ``path`` when it is not a ``.npy`` file.
    """
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:  # version 3.0 (utf-8 field names) has no public reader
                read = getattr(np.lib.format, "_read_array_header", None)
                if read is None:
                    from numpy.lib import _format_impl

                    read = getattr(_format_impl, "_read_array_header", None)
                if read is None:
                    raise ValueError(f".npy format version {version} is not supported")
                shape, fortran, dtype = read(fh, version)
            offset = fh.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ValueError(f"{what} {path} is not a readable .npy file: {exc}") from None
    return shape, np.dtype(dtype), fortran, offset


def check_npy_size(path, *, what: str = "file"):
    """The header of ``path`` (see :func:`npy_header`), refusing a file shorter than it promises.

    So a tiny file whose header claims terabytes is refused before anything is allocated.
    """
    shape, dtype, fortran, offset = npy_header(path, what=what)
    need = offset + int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = os.path.getsize(path)
    if have < need:
        raise ValueError(
            f"{what} {path} is truncated: header promises {need} bytes, file has {have}"
        )
    return shape, dtype, fortran, offset


def load_npy(path, *, mmap: bool = False) -> np.ndarray:
    """Read a ``.npy`` file without pickle; ``mmap=True`` maps it read-only.

    The header's size is checked against the file's first (:func:`check_npy_size`).
    """
    check_npy_size(path)
    return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
