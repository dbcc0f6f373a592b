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

from .._version import __version__
from ..base import functions
from ..base.files import WriterLock, read_npz, write_npz
from . import optimizers
from .data import (
    check_choice,
    check_dtype,
    check_flag,
    check_integer,
    check_learning_rate,
    check_momentum,
    check_real,
    check_sizes,
    check_threads,
    check_weight_decay,
    count_params,
)
from .engine import DIVERGENCE_ACTIONS, State, generator

FORMAT = "fastbp-checkpoint"
FORMAT_VERSION = 2  # 2: the optimizer among the options, its state as "velocity"
#: The arrays of a State, in the file under these names.
ARRAYS = ("params", "velocity", "lrs", "history", "history_epochs", "diverged", "kept")


def fingerprint(X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> str:
    """sha256 of the validated training data: shapes and float64 values of ``X`` and ``Y``
    (and the samples' weights, where there are any)."""
    digest = hashlib.sha256()
    for array in (X, Y) if sample_weight is None else (X, Y, sample_weight):
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


_META_KEYS = {"format", "format_version", "fastbp", "kind", "network", "options", "data",
              "done", "rng", "seconds", "sha256"}
_NETWORK_KEYS = {"sizes", "activation", "bias", "dtype"}
OPTION_KEYS = {"epochs", "batch_size", "momentum", "optimizer", "weight_decay", "loss",
               "shuffle", "seed", "record_every", "backend", "threads", "checkpoint_every",
               "on_divergence"}


def _keys(found: object, expected: set[str], what: str) -> dict:
    if not isinstance(found, dict):
        raise ValueError(f"its {what} is not a JSON object")
    if set(found) != expected:
        missing, extra = sorted(expected - set(found)), sorted(set(found) - expected)
        raise ValueError(f"its {what} " + "; ".join(
            [f"lack {', '.join(missing)}"] * bool(missing) +
            [f"hold unknown {', '.join(extra)}"] * bool(extra)))
    return found


def _shapes(meta: dict) -> dict[str, tuple]:
    """The arrays' shapes and dtypes that the metadata declares (K networks of n
    parameters, H records), the metadata checked first."""
    _keys(meta, _META_KEYS, "metadata")
    if isinstance(meta["network"], dict):
        meta["network"].setdefault("dtype", "float64")  # written before float32
    _keys(meta["network"], _NETWORK_KEYS, "network")
    _keys(meta["options"], OPTION_KEYS, "options")
    try:
        n = count_params(check_sizes(meta["network"]["sizes"]))
        real = check_dtype(meta["network"]["dtype"], "its network's dtype")
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    K = 1 if meta["kind"] == "train" else "K"
    f8, i8 = np.float64, np.int64
    adam = isinstance(meta["options"]["optimizer"], dict) and \
        meta["options"]["optimizer"].get("name") == "adam"
    return {"params": ((K, n), real), "velocity": ((K, 2 * n + 3 if adam else n), real),
            "lrs": ((K,), f8),
            "history": ((K, "H"), f8), "history_epochs": (("H",), i8), "diverged": ((K,), i8),
            "kept": ((K,), i8)}


def check_options(options: dict) -> dict:
    """A checkpoint's options, checked by the validators ``train`` uses; a ValueError
    (also for a wrong type) otherwise."""
    checked = dict(options)
    try:
        checked["epochs"] = check_integer(options["epochs"], "epochs", 0)
        checked["batch_size"] = check_integer(options["batch_size"], "batch_size", 1)
        checked["momentum"] = check_momentum(options["momentum"])
        checked["optimizer"] = optimizers.from_dict(options["optimizer"]).to_dict()
        checked["weight_decay"] = check_weight_decay(options["weight_decay"])
        functions.loss_code(options["loss"])
        checked["shuffle"] = check_flag(options["shuffle"], "shuffle")
        if options["seed"] is not None:
            checked["seed"] = check_integer(options["seed"], "seed", 0)
        if options["record_every"] is not None:
            checked["record_every"] = check_integer(options["record_every"], "record_every", 1)
        if not isinstance(options["backend"], str):
            raise TypeError(f"backend must be a name, got {options['backend']!r}")
        checked["threads"] = check_threads(options["threads"])
        every = check_real(options["checkpoint_every"], "checkpoint_every")
        if not every >= 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {every}")
        check_choice(options["on_divergence"], "on_divergence", DIVERGENCE_ACTIONS)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    return checked


def _check_state(meta: dict, arrays: dict[str, np.ndarray], options: dict) -> None:
    """The run's progress and arrays, against its options."""
    done, epochs = meta["done"], options["epochs"]
    if type(done) is not int or not 0 <= done <= epochs:
        raise ValueError(f"its epochs done ({done!r}) are not between 0 and its {epochs} "
                         f"epochs")
    seconds = meta["seconds"]
    if type(seconds) not in (int, float) or not 0 <= seconds < float("inf"):
        raise ValueError(f"its seconds ({seconds!r}) are not a time")
    if not (isinstance(meta["data"], str) and len(meta["data"]) == 64):
        raise ValueError("its data fingerprint is not a sha256 digest")
    if meta["kind"] not in ("train", "train_many"):
        raise ValueError(f"its kind {meta['kind']!r} is neither train nor train_many")
    for name in ("params", "velocity", "lrs"):
        if not np.isfinite(arrays[name]).all():
            raise ValueError(f"its {name} are not all finite")
    for lr in arrays["lrs"].tolist():
        check_learning_rate(lr)
    records = arrays["history_epochs"]
    if ((records < 1) | (records > done)).any() or (np.diff(records) <= 0).any():
        raise ValueError(f"its history's epochs are not increasing within 1..{done}")
    if ((arrays["diverged"] < 0) | (arrays["diverged"] > epochs)).any() or \
            ((arrays["kept"] < 0) | (arrays["kept"] > done)).any():
        raise ValueError("its divergence records are out of range")
    if meta["rng"] is not None:  # None with shuffle on: checked where n is known (resume)
        try:
            generator(_from_json(meta["rng"]))
        except Exception as exc:  # whatever numpy says of a state it cannot take
            raise ValueError(f"its shuffle generator's state is not usable: {exc}") from None


def read(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`write`; refuse anything else with a ValueError
    that names the file (FileNotFoundError for a missing file).

    Everything is checked before it is used: the declared shapes of the arrays against
    the network (before they are read into memory), every option with the validators
    ``train`` uses, the epochs done against the epochs planned, the shuffle state. The
    sha256 checksum guards against damage, not against an attacker, who can recompute
    it: a checkpoint is trusted only as far as these checks go.
    """
    meta, arrays = read_npz(path, ARRAYS, "fastbp checkpoint", FORMAT, FORMAT_VERSION, _shapes)
    expected = meta.pop("sha256")
    if _checksum(arrays, meta) != expected:
        raise ValueError(f"{os.fspath(path)} is corrupted: it fails its checksum")
    try:
        options = check_options(meta["options"])
        _check_state(meta, arrays, options)
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)} is not a usable fastbp checkpoint: {exc}") from None
    state = State(meta["done"], arrays["params"], arrays["velocity"], _from_json(meta["rng"]),
                  arrays["history"], arrays["history_epochs"], arrays["diverged"],
                  arrays["kept"], float(meta["seconds"]))
    return Checkpoint(meta["kind"], meta["network"], options, arrays["lrs"], meta["data"],
                      state)


class Writer:
    """The engine's ``commit``: writes a checkpoint at most every ``every`` seconds, and
    always when the run ends or is interrupted (``final``). It holds the file's
    :class:`~fastbp.files.WriterLock` from its making to the end of the ``with`` block
    it is used in: one run writes a checkpoint at a time."""

    def __init__(self, path: str | os.PathLike, every: float, kind: str, network: dict,
                 options: dict, lrs: np.ndarray, data: str) -> None:
        self.path, self.every = Path(path), every
        self.fixed = (kind, network, options, lrs, data)
        self.last = time.monotonic()
        self.lock = WriterLock(path, "checkpoint")

    def __call__(self, state: State, final: bool) -> None:
        if final or time.monotonic() - self.last >= self.every:
            write(self.path, Checkpoint(*self.fixed, state))
            self.last = time.monotonic()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()
