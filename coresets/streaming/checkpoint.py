"""Checkpoints for sharded selection: one atomic file per finished unit of work.

A run writes ``manifest.json`` (the arguments that determine its result, the data's
fingerprint and the seed actually used) and then one ``<name>.npz`` per finished
partition, shard or stage. Every file is written to a temporary name and renamed, so
a run killed at any moment leaves only whole files, and a rerun with the same
arguments skips what is done and ends with the same result as an uninterrupted run.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .._io import atomic_path, save_json


class Checkpoint:
    """A directory of finished work for one run (or a no-op when ``directory`` is None).

    Parameters
    ----------
    directory : str, Path or None
        Where to keep the state; None disables checkpointing.
    config : dict
        JSON-serialisable arguments that determine the result. A directory written by a
        run with a different config raises ``ValueError`` instead of being mixed in.
    """

    def __init__(self, directory, config: dict):
        self.directory = None if directory is None else Path(directory)
        self.config = json.loads(json.dumps(config))  # normalise tuples, numpy scalars
        self.seed = None
        if self.directory is None:
            return
        for where in (self.directory, *self.directory.parents):
            if where.exists():  # the nearest existing path must be a directory to write in
                if not where.is_dir():
                    raise ValueError(
                        f"checkpoint_dir {self.directory}: {where} exists and is not a directory"
                    )
                break
        manifest = self.directory / "manifest.json"
        if manifest.exists() and not manifest.is_file():
            raise ValueError(f"checkpoint_dir {self.directory}: {manifest.name} is not a file")
        if manifest.is_file():
            try:
                saved = json.loads(manifest.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"checkpoint_dir {self.directory} has an unreadable manifest: {exc}"
                ) from None
            if not isinstance(saved, dict) or not isinstance(saved.get("config", {}), dict):
                raise ValueError(
                    f"checkpoint_dir {self.directory} has a manifest that is not a checkpoint's "
                    f"(a JSON {type(saved).__name__}, expected an object with a 'config' object); "
                    "use a new directory"
                )
            seed = saved.get("seed")
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise ValueError(
                    f"checkpoint_dir {self.directory} has a manifest whose seed is {seed!r}, "
                    "not an integer; use a new directory"
                )
            if saved.get("config") != self.config:
                diff = sorted(
                    k
                    for k in set(saved.get("config", {})) | set(self.config)
                    if saved.get("config", {}).get(k) != self.config.get(k)
                )
                raise ValueError(
                    f"checkpoint_dir {self.directory} belongs to a run with different "
                    f"arguments or data (differs in: {', '.join(diff)}); use a new directory"
                )
            self.seed = saved.get("seed")

    def start(self, seed: int) -> int:
        """Record the seed of a new run, or return the seed a resumed run used."""
        if self.seed is not None:
            return int(self.seed)
        self.seed = int(seed)
        if self.directory is not None:
            save_json(self.directory / "manifest.json", {"config": self.config, "seed": self.seed})
        return self.seed

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.npz"

    def load(self, name: str, keys=None) -> dict | None:
        """Arrays saved under ``name``, or None when that unit is not finished.

        ``keys``, optional, are the arrays the unit must hold; a file lacking one is
        refused naming the file. Without ``keys``, reading an array the file lacks
        raises the same ``ValueError`` (not a bare ``KeyError``).
        """
        if self.directory is None:
            return None
        path = self._path(name)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = _Arrays(path, {k: data[k] for k in data.files})
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"checkpoint file {path} is corrupt: {exc}") from None
        missing = [k for k in (keys or ()) if k not in arrays]
        if missing:
            arrays.refuse(missing)
        return arrays

    def save(self, name: str, **arrays) -> None:
        """Atomically store ``arrays`` as the finished unit ``name``."""
        if self.directory is None:
            return
        with atomic_path(self._path(name)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})

    def remove(self, name: str) -> None:
        """Delete the unit ``name`` (superseded state); missing files are ignored."""
        if self.directory is not None:
            self._path(name).unlink(missing_ok=True)

    def finished(self) -> list[str]:
        """Names of the finished units (sorted)."""
        if self.directory is None or not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.npz") if not p.name.startswith("."))


class _Arrays(dict):
    """The arrays of one checkpoint file; a missing one raises ``ValueError`` naming the file."""

    def __init__(self, path, arrays):
        super().__init__(arrays)
        self.path = path

    def __missing__(self, key):
        self.refuse([key])

    def refuse(self, missing):
        raise ValueError(
            f"checkpoint file {self.path} lacks {sorted(missing)} (holds {sorted(self)}); it was "
            "not written by this run: delete it or use a new checkpoint_dir"
        )
