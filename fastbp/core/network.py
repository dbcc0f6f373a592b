"""The Network: layer sizes, activations, bias mode and one flat parameter buffer."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._version import __version__
from ..base import functions
from ..base.files import read_npz, write_npz
from ..kernels.protocol import Shape
from .data import (
    as_array,
    as_matrix,
    check_dtype,
    check_seed,
    check_sizes,
    check_threads,
    count_params,
)

FORMAT = "fastbp-network"
FORMAT_VERSION = 1


def _layout(sizes: tuple[int, ...]) -> np.ndarray:
    """One row ``(n_in, n_out, w_offset, b_offset)`` per layer: W row-major, then b."""
    rows, at = [], 0
    for n_in, n_out in itertools.pairwise(sizes):
        rows.append((n_in, n_out, at, at + n_in * n_out))
        at += n_in * n_out + n_out
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def _activations(activation: object, n_layers: int) -> tuple[str, ...]:
    if isinstance(activation, str):
        names = (activation,) * n_layers
    elif isinstance(activation, Sequence):
        names = tuple(activation)
        if len(names) != n_layers:
            raise ValueError(f"activation must be one name or one per layer ({n_layers}), "
                             f"got {len(names)} names")
    else:
        raise TypeError(f"activation must be a name or a list of names, got {activation!r}")
    for layer, name in enumerate(names):
        functions.activation_code(name, f"activation[{layer}]")
    names = tuple(functions.activation_name(name) for name in names)
    for layer, name in enumerate(names):
        if name == "softmax" and layer != n_layers - 1:
            raise ValueError(f"activation[{layer}] is 'softmax', which is allowed on the output "
                             f"layer only (layer {n_layers - 1})")
    return names


_METADATA_KEYS = {"format", "format_version", "fastbp_version", "sizes", "activations", "bias",
                  "dtype", "sha256"}


def _expected_params(meta: dict) -> dict[str, tuple]:
    """The shape a network file's parameters must have, from its metadata, checked (a file
    of fastbp before float32 has no ``dtype``: float64)."""
    meta.setdefault("dtype", "float64")
    if set(meta) != _METADATA_KEYS:
        raise ValueError(f"its metadata has keys {sorted(meta)}, not {sorted(_METADATA_KEYS)}")
    try:
        sizes = check_sizes(meta["sizes"])
        dtype = check_dtype(meta["dtype"], "its dtype")
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    return {"params": ((count_params(sizes),), dtype)}


class training:
    """Hold ``nets`` for one training call: a network another call (another thread) is
    training is refused with a ValueError, as the two runs would mix their updates."""

    def __init__(self, *nets: Network) -> None:
        self.nets = nets

    def __enter__(self) -> None:
        for k, net in enumerate(self.nets):
            if not net._busy.acquire(blocking=False):
                for held in self.nets[:k]:
                    held._busy.release()
                raise self.refused(net)

    @staticmethod
    def refused(net: Network) -> ValueError:
        return ValueError(f"{net!r} is being trained by another call (another thread): "
                          f"train a copy (net.copy()) instead")

    def __exit__(self, *exc: object) -> None:
        for net in self.nets:
            net._busy.release()


def check_network(net: object, name: str = "net") -> Network:
    """Return ``net`` if it is a :class:`Network`, else raise a TypeError naming ``name``."""
    if not isinstance(net, Network):
        raise TypeError(f"{name} must be a fastbp.Network, got {type(net).__name__}")
    return net


class Network:
    """A fully-connected feed-forward network trained by backpropagation.

    Parameters
    ----------
    sizes : sequence of int
        ``[n0, n1, ..., nL]``: ``n0`` inputs, then the width of every layer.
    activation : str or sequence of str, default "logistic"
        One name for every layer, or one per layer: "logistic", "tanh",
        "relu", "identity"; "softmax" on the output layer only.
    bias : {"trainable", "fixed"}, default "trainable"
        "fixed" keeps every bias at its initial value (the reference text);
        "trainable" learns them like weights.
    seed : int, numpy.random.Generator or None
        Seeds the initialisation: for each layer in turn, ``W`` then ``b``
        are drawn from ``Uniform(-a, a)`` with ``a = sqrt(f / (n_in + n_out))``,
        ``f = 2`` for logistic layers and ``6`` otherwise (Glorot, as in
        scikit-learn's MLP).
    weights, biases : list of array_like, optional
        Explicit values, ``W_l`` of shape ``(n_l, n_{l-1})`` and ``b_l`` of
        shape ``(n_l,)``; copied (rounded to ``dtype``). Either may be given
        alone, the other is initialised from ``seed``.
    dtype : {"float64", "float32"}, default "float64"
        What the network computes in: its parameters, and the data it is
        trained on or fed (converted to it). float32 draws the same initial
        values as float64, rounded, as scikit-learn does; every operation is
        then IEEE single arithmetic (``docs/design.md``).

    Attributes
    ----------
    params : ndarray
        The one flat buffer (of ``dtype``) holding every parameter, layer by layer
        (``W`` row-major, then ``b``). ``weights`` and ``biases`` are views
        of it: writing into either changes the network.
    """

    def __init__(self, sizes: Sequence[int], activation: str | Sequence[str] = "logistic",
                 bias: str = "trainable", seed: int | np.random.Generator | None = None,
                 weights: Sequence[object] | None = None,
                 biases: Sequence[object] | None = None,
                 dtype: str | np.dtype | type = "float64") -> None:
        self._busy = threading.Lock()  # held while a call trains it: see `training`
        self.sizes = check_sizes(sizes)
        self.dtype = check_dtype(dtype)
        n_layers = len(self.sizes) - 1
        self.activations = _activations(activation, n_layers)
        if bias not in functions.BIAS_MODES:
            raise ValueError(f"bias must be one of {', '.join(functions.BIAS_MODES)}; got {bias!r}")
        self.bias = bias
        self.layout = _layout(self.sizes)
        self.activation_codes = np.array([functions.ACTIVATIONS[a] for a in self.activations],
                                         dtype=np.int64)
        last = self.layout[-1]
        self._params = np.zeros(int(last[3] + last[1]), dtype=self.dtype)
        rng = np.random.default_rng(check_seed(seed))
        for (n_in, n_out, _, _), name, w, b in zip(self.layout, self.activations,
                                                   self.weights, self.biases):
            bound = np.sqrt((2.0 if name == "logistic" else 6.0) / (n_in + n_out))
            w[...] = rng.uniform(-bound, bound, size=w.shape)
            b[...] = rng.uniform(-bound, bound, size=b.shape)
        if weights is not None:
            self._assign(weights, "weights", self.weights)
        if biases is not None:
            self._assign(biases, "biases", self.biases)

    def _assign(self, given: Sequence[object], name: str, views: list[np.ndarray]) -> None:
        if isinstance(given, (str, bytes, np.ndarray)) or not isinstance(given, Sequence):
            raise TypeError(f"{name} must be a list with one array per layer")
        if len(given) != len(views):
            raise ValueError(f"{name} must have one array per layer ({len(views)}), "
                             f"got {len(given)}")
        for layer, (value, view) in enumerate(zip(given, views)):
            view[...] = as_array(value, f"{name}[{layer}]", view.shape, self.dtype)

    @property
    def params(self) -> np.ndarray:
        return self._params

    @property
    def kernel_shape(self) -> Shape:
        """The network as the kernels take it: layout table, activation codes, bias mode."""
        shape = self.__dict__.get("_shape")
        if shape is None or shape.train_bias != (self.bias == "trainable"):
            shape = self._shape = Shape.of(self.layout, self.activation_codes,
                                           self.bias == "trainable", self.dtype.name)
        return shape

    @property
    def weights(self) -> list[np.ndarray]:
        """``W_l`` for each layer, shape ``(n_l, n_{l-1})``: views of ``params``."""
        return self.split(self._params)[0]

    @property
    def biases(self) -> list[np.ndarray]:
        """``b_l`` for each layer, shape ``(n_l,)``: views of ``params``."""
        return self.split(self._params)[1]

    def split(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views of a buffer laid out like ``params``, as ``(weights, biases)`` lists."""
        rows = self.layout.tolist()
        return ([flat[w: w + n_in * n_out].reshape(n_out, n_in) for n_in, n_out, w, _ in rows],
                [flat[b: b + n_out] for _, n_out, _, b in rows])

    def forward(self, X: object, backend: str = "auto",
                threads: int | None = None) -> np.ndarray:
        """Outputs for each row of ``X`` (2-D in, 2-D out; a 1-D ``X`` is one sample).

        ``threads`` as in :func:`fastbp.train`: the same bits for every count.
        """
        from ..base.functions import SQUARED
        from ..kernels import choose
        from ..kernels.protocol import Rule, check_backend_dtype

        X = as_matrix(X, "X", self.sizes[0], self.dtype)
        threads = check_threads(threads)
        _, kernels = choose(backend, self.kernel_shape, Rule(SQUARED), 1, len(X))
        check_backend_dtype(kernels, self._params)
        return kernels.forward(self.kernel_shape, self._params, X, threads)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_busy", "_shape")}

    def __setstate__(self, state: dict) -> None:
        """Unpickled: arrays of its own, writable (joblib may hand back read-only memmaps)."""
        self.__dict__.update({k: np.array(v) if isinstance(v, np.ndarray) else v
                              for k, v in state.items() if k != "_shape"})
        self.__dict__.setdefault("dtype", self._params.dtype)  # pickled before float32
        self._busy = threading.Lock()

    def _repr_svg_(self) -> str:
        """The network drawn as the reference text draws it (:func:`fastbp.diagram.svg`):
        Jupyter shows it in place of the repr."""
        from ..learn.diagram import svg

        return svg(self)

    def copy(self) -> Network:
        """An independent copy with its own parameter buffer."""
        return Network(self.sizes, list(self.activations), self.bias,
                       weights=self.weights, biases=self.biases, dtype=self.dtype)

    def _metadata(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "fastbp_version": __version__,
                "sizes": list(self.sizes), "activations": list(self.activations),
                "bias": self.bias, "dtype": self.dtype.name,
                "sha256": hashlib.sha256(self._params.tobytes()).hexdigest()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the network to ``path`` (an ``.npz`` file, no pickle), atomically.

        The file is written beside ``path`` under a temporary name and renamed
        into place, so ``path`` never holds a half-written network.
        """
        return write_npz(path, self._metadata(), {"params": self._params})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a network written by :meth:`save`; refuse anything else clearly.

        The file's declared sizes and its parameters' declared shape are checked
        before anything is read into memory, and its checksum before it is used.
        """
        meta, arrays = read_npz(path, ["params"], "fastbp network file", FORMAT,
                                FORMAT_VERSION, _expected_params)
        params = arrays["params"]
        if hashlib.sha256(params.tobytes()).hexdigest() != meta["sha256"]:
            raise ValueError(f"{path} is corrupted: its parameters fail their checksum")
        try:
            net = cls(meta["sizes"], meta["activations"], meta["bias"], dtype=meta["dtype"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path} is not a usable fastbp network file: {exc}") from None
        net._params[...] = params
        return net

    def __repr__(self) -> str:
        acts = self.activations[0] if len(set(self.activations)) == 1 else list(self.activations)
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return (f"Network(sizes={list(self.sizes)}, activation={acts!r}, bias={self.bias!r}"
                f"{dtype}, params={self._params.size})")
