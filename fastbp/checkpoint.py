"""Checkpoint files: a run between two chunks, on disk, to be continued bit for bit.

A checkpoint is an ``.npz`` file (no pickle) of the engine's :class:`~fastbp.engine.State`
(parameters, momentum velocity, history, divergences) and a JSON ``metadata`` entry:
the networks' shape, every training option, the epochs done and planned, the shuffle
generator's state, the backend, a sha256 fingerprint of ``X`` and ``Y``, and a sha256
checksum of everything else. It is written like :meth:`Network.save`: beside its
path, fsynced, renamed into place, so the previous checkpoint stays readable until
the new one replaces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._version import __version__
from .engine import State
from .files import read_npz, write_npz

FORMAT = "fastbp-checkpoint"
FORMAT_VERSION = 1
#: The arrays of a State, in the file under these names.
ARRAYS = ("params", "velocity", "lrs", "history", "history_epochs", "diverged", "kept")


def fingerprint(X: np.ndarray, Y: np.ndarray) -> str:
    """sha256 of the validated training data: shapes and float64 values of ``X`` and ``Y``."""
    digest = hashlib.sha256()
    for array in (X, Y):
        array = np.ascontiguousarray(array, dtype=np.float64)
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds.

    ``kind`` is "train" (one network) or "train_many"; ``network`` the keyword
    arguments of :class:`Network` (sizes, activation, bias); ``options`` every option
    of the run (``epochs`` is the planned total); ``data`` the fingerprint of X, Y.
    """

    kind: str
    network: dict
    options: dict
    lrs: np.ndarray
    data: str
    state: State


def _jsonable(value: object) -> object:
    """A bit generator's state for JSON: arrays become tagged lists."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _from_json(value: object) -> object:
    if isinstance(value, dict):
        if set(value) == {"__array__", "dtype"}:
            return np.array(value["__array__"], dtype=np.dtype(value["dtype"]))
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _checksum(arrays: dict[str, np.ndarray], meta: dict) -> str:
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in ARRAYS:
        array = arrays[name]
        digest.update(f"{name}{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write(path: str | os.PathLike, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` atomically; the old file stays whole until replaced."""
    state = checkpoint.state
    arrays = {"params": state.params, "velocity": state.velocity, "lrs": checkpoint.lrs,
              "history": state.history, "history_epochs": state.history_epochs,
              "diverged": state.diverged, "kept": state.kept}
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "fastbp": __version__,
            "kind": checkpoint.kind, "network": checkpoint.network,
            "options": checkpoint.options, "data": checkpoint.data, "done": state.done,
            "rng": _jsonable(state.rng), "seconds": state.seconds}
    meta["sha256"] = _checksum(arrays, meta)
    return write_npz(path, meta, arrays)


def read(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`write`; refuse anything else with a ValueError
    (FileNotFoundError for a missing file)."""
    meta, arrays = read_npz(path, ARRAYS, "fastbp checkpoint", FORMAT, FORMAT_VERSION)
    expected = meta.pop("sha256", None)
    if _checksum(arrays, meta) != expected:
        raise ValueError(f"{os.fspath(path)} is corrupted: it fails its checksum")
    state = State(int(meta["done"]), arrays["params"].astype(np.float64),
                  arrays["velocity"].astype(np.float64), _from_json(meta["rng"]),
                  arrays["history"].astype(np.float64), arrays["history_epochs"].astype(np.int64),
                  arrays["diverged"].astype(np.int64), arrays["kept"].astype(np.int64),
                  float(meta["seconds"]))
    return Checkpoint(meta["kind"], meta["network"], meta["options"],
                      arrays["lrs"].astype(np.float64), meta["data"], state)


class Writer:
    """The engine's ``commit``: writes a checkpoint at most every ``every`` seconds, and
    always when the run ends or is interrupted (``final``)."""

    def __init__(self, path: str | os.PathLike, every: float, kind: str, network: dict,
                 options: dict, lrs: np.ndarray, data: str) -> None:
        self.path, self.every = Path(path), every
        self.fixed = (kind, network, options, lrs, data)
        self.last = time.monotonic()

    def __call__(self, state: State, final: bool) -> None:
        if final or time.monotonic() - self.last >= self.every:
            write(self.path, Checkpoint(*self.fixed, state))
            self.last = time.monotonic()
