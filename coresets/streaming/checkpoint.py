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
        manifest = self.directory / "manifest.json"
        if manifest.is_file():
            try:
                saved = json.loads(manifest.read_text())
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"checkpoint_dir {self.directory} has an unreadable manifest: {exc}"
                ) from None
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

    def load(self, name: str) -> dict | None:
        """Arrays saved under ``name``, or None when that unit is not finished."""
        if self.directory is None:
            return None
        path = self._path(name)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise ValueError(f"checkpoint file {path} is corrupt: {exc}") from None

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
