"""The contract every backend module fulfils: two small named tuples and one Protocol.

A backend is a module (``oracle``, ``numba.backend``, ``cython_backend``) whose
functions match :class:`Kernels`. They take a network's :class:`Shape` and, to
train, its :class:`Rule`; each backend unpacks the tuples only where it calls
its compiled code. The numbers they return are defined by the oracle, in the
canonical order of arithmetic of ``docs/design.md``.

Arrays are C-contiguous, of the network's dtype (float64, or float32 where the backend
lists it in ``DTYPES``: ``params`` 1-D; ``X``, ``Y``, the optimizer's state, sample weights
and the report alike), except ``lrs`` (float64, rounded to the dtype where used) and
``order``: ``None`` visits samples ``0..n-1`` in every epoch, or an int64 array
of ``epochs`` rows, each a permutation of ``0..n-1``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Protocol

import numpy as np


def all_finite(array: np.ndarray) -> bool:
    """Is every element of a float64 array finite? A sum is finite only then (an inf or a
    NaN makes it inf or NaN), and costs a fifth of ``np.isfinite(a).all()`` on a small
    array: a Python sum up to 32 elements, NumPy's above. Where the sum overflows,
    ``isfinite`` decides. Not a dot product: BLAS would wake its threads, which then spin
    on the cores the training needs."""
    flat = array.ravel()
    total = sum(flat.tolist()) if flat.size <= 32 else np.add.reduce(flat)
    return math.isfinite(total) or bool(np.isfinite(flat).all())


class Shape(NamedTuple):
    """What a network is, as the kernels see it (``Network.kernel_shape``)."""

    #: ``(L, 4)`` int64, a row ``(n_in, n_out, w_offset, b_offset)`` per layer:
    #: ``W`` row-major at ``w_offset``, then ``b`` at ``b_offset``.
    layout: np.ndarray
    #: ``(L,)`` int64 activation codes (:mod:`fastbp.functions`).
    acts: np.ndarray
    #: Whether biases are learned (``bias="trainable"``) or fixed.
    train_bias: bool
    #: Parameters in all (read from ``layout`` once: indexing an array costs a short call
    #: more than the field).
    n_params: int
    #: ``layout`` and ``acts`` as bytes, where a backend looks up what it keeps per shape
    #: (reading them from the arrays at every call costs a short call a microsecond).
    key: bytes
    #: Inputs and outputs (read from ``layout`` once, like ``n_params``).
    n_in: int
    n_out: int
    #: What it computes in, "float64" or "float32" (its arrays' dtype, by name).
    real: str = "float64"

    @classmethod
    def of(cls, layout: np.ndarray, acts: np.ndarray, train_bias: bool,
           real: str = "float64") -> Shape:
        """The shape of a layout table and activation codes, ``n_params``, ``key``,
        ``n_in`` and ``n_out`` read from them."""
        return cls(layout, acts, bool(train_bias), int(layout[-1, 3] + layout[-1, 1]),
                   layout.tobytes() + acts.tobytes(), int(layout[0, 0]), int(layout[-1, 1]),
                   real)


_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
#: The dtypes a network may compute in, by name.
DTYPES = {"float64": _F64, "float32": _F32}


def real_name(array: np.ndarray) -> str:
    """``array.dtype.name`` without its cost: NumPy computes the name anew at each read
    (2.6 µs, a tenth of a short ``train`` call), where a float64 or float32 array's
    dtype is one of two objects."""
    dtype = array.dtype
    if dtype is _F64:
        return "float64"
    return "float32" if dtype is _F32 else dtype.name


def _f64(array: np.ndarray) -> bool:
    return array.dtype is _F64 or array.dtype == _F64  # the first is the common, fast case


def _real(array: np.ndarray, dtype: np.dtype) -> bool:
    return array.dtype is dtype or array.dtype == dtype


def check_backend_dtype(kernels: Kernels, params: np.ndarray) -> None:
    """Refuse parameters of a dtype the backend ``kernels`` does not compute in, naming
    the backends that do."""
    name = real_name(params)
    if name not in kernels.DTYPES:
        raise ValueError(f"backend {kernels.NAME!r} does not compute in {name} yet (it "
                         f"computes in {', '.join(kernels.DTYPES)}): use backend='python', "
                         f"or a Network of dtype='float64'")


def check_buffers(shape: Shape, params: np.ndarray, X: np.ndarray, Y: np.ndarray | None = None,
                  velocity: np.ndarray | None = None, order: np.ndarray | None = None,
                  epochs: int = 0, lrs: np.ndarray | None = None,
                  rule: Rule | None = None, sample_weight: np.ndarray | None = None,
                  report: np.ndarray | None = None) -> None:
    """Refuse arrays a compiled kernel would read or write beyond: the last check before
    one runs, whatever path reached it (cheap, about a microsecond: shapes, dtypes and
    the order's range).

    ``params`` (1-D, or 2-D with one row per network) must be float64 or float32 of
    ``shape.n_params`` columns, every other real array of its dtype (``lrs``: float64);
    ``velocity`` (the optimizer's state) as many rows of ``rule.state_size`` columns;
    ``X`` 2-D of the network's inputs,
    ``Y`` of its outputs with as many rows; ``order`` (empty for none) at least ``epochs``
    rows of indices into ``X``; ``lrs`` one per network. (Contiguity is not checked: numba
    compiles for any layout, and Cython's typed memoryviews refuse a strided array.)
    """
    size, real = params.shape, params.dtype
    ok = (size[-1] == shape.n_params and len(size) == (1 if lrs is None else 2)
          and X.shape[1:] == (shape.n_in,) and (_f64(params) or real == _F32)
          and _real(X, real))
    if ok and Y is not None:
        ok = Y.shape == (X.shape[0], shape.n_out) and _real(Y, real)
    if ok and velocity is not None:
        width = size[-1] if rule is None else rule.state_size(size[-1])
        ok = velocity.shape == (*size[:-1], width) and _real(velocity, real)
    if ok and lrs is not None:
        ok = lrs.shape == (size[0],) and _f64(lrs)
    if ok and sample_weight is not None:
        ok = sample_weight.shape == (X.shape[0],) and _real(sample_weight, real)
    if ok and report is not None:
        ok = report.shape == (epochs, 2) and _real(report, real) and report.flags.writeable
    if ok and order is not None and order.size:
        ok = (order.dtype == np.int64 and order.ndim == 2 and order.shape[0] >= epochs
              and order.shape[1] == X.shape[0] and order.min() >= 0
              and order.max() < X.shape[0])
    if not ok:
        raise ValueError(f"arrays that do not fit the network {sizes_label(shape)} reached "
                         f"its kernels: params {params.dtype}{params.shape}, X "
                         f"{X.dtype}{X.shape}"
                         + ("" if Y is None else f", Y {Y.dtype}{Y.shape}")
                         + ("" if velocity is None else f", velocity {velocity.shape}")
                         + ("" if order is None else f", order {order.shape}")
                         + ("" if lrs is None else f", lrs {lrs.shape}")
                         + ("" if sample_weight is None else
                            f", sample_weight {sample_weight.shape}")
                         + ("" if report is None else f", report {report.shape}"))


def weight_sum(sample_weight: np.ndarray) -> float:
    """The samples' weights summed from 0.0 in sample order (the canonical sum; numpy's
    ``sum`` adds pairwise)."""
    return float(np.cumsum(sample_weight)[-1]) if sample_weight.size else 0.0


def sizes_label(shape: Shape) -> str:
    """A shape's layer sizes as the README writes them: ``2-29-1``."""
    return "-".join(str(v) for v in [int(shape.layout[0, 0]), *shape.layout[:, 1].tolist()])


class Rule(NamedTuple):
    """How a network learns: the loss code, samples per update, L2 weight decay
    (scikit-learn's ``alpha``: a batch's summed weight gradient gets ``weight_decay * W``
    added before the division by its size; biases never decay) and the optimizer: SGD
    with ``momentum`` (classical, or Nesterov's where ``nesterov``), or Adam (``adam``,
    with ``beta_1``, ``beta_2``, ``epsilon``; ``momentum`` is then unused), each as
    scikit-learn's ``_stochastic_optimizers`` defines it (``fastbp.kernels.step.RULES``)."""

    loss: int
    batch_size: int = 1
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False
    adam: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8

    @property
    def method(self) -> str:
        """The update rule that runs: "adam", "nesterov", "momentum" or "sgd"."""
        if self.adam:
            return "adam"
        if self.momentum == 0.0:
            return "sgd"
        return "nesterov" if self.nesterov else "momentum"

    def state_size(self, n_params: int) -> int:
        """Width of a network's optimizer state: the velocity (``n_params``, zeros without
        momentum), or Adam's two moments and its scalars t, beta_1**t, beta_2**t."""
        return 2 * n_params + 3 if self.adam else n_params

    def new_state(self, n_params: int, count: int | None = None,
                  dtype: np.dtype | type = np.float64) -> np.ndarray:
        """The state before the first step, of the network's ``dtype``: zeros, and for
        Adam ``beta**0 = 1``."""
        width = self.state_size(n_params)
        state = np.zeros(width if count is None else (count, width), dtype)
        if self.adam:
            state[..., 2 * n_params + 1:] = 1.0
        return state

    @property
    def opt(self) -> np.ndarray:
        """The optimizer's settings as the kernels read them (``step.OPT_FIELDS``)."""
        return _opt(self.momentum, self.nesterov, self.adam, self.beta_1, self.beta_2,
                    self.epsilon)


@functools.lru_cache(maxsize=64)
def _opt(momentum, nesterov, adam, beta_1, beta_2, epsilon) -> np.ndarray:
    return np.array([momentum, float(bool(nesterov) and momentum != 0.0), float(bool(adam)),
                     beta_1, beta_2, epsilon], dtype=np.float64)


class Kernels(Protocol):
    """The functions of a backend module, with one meaning across backends."""

    NAME: str
    #: The dtypes it computes in (``protocol.DTYPES``' names), bit for bit with the oracle.
    DTYPES: tuple[str, ...]
    #: Whether threads share a network's batches (``threads`` changes the time): where
    #: they do, ``threads=None`` is measured per machine (:mod:`fastbp.core.calibrate`).
    THREADED: bool

    # ``threads`` everywhere: how many threads may share the work (None: every core,
    # where the work is large enough to pay). The results never depend on it.

    def forward(self, shape: Shape, params: np.ndarray, X: np.ndarray,
                threads: int | None = None) -> np.ndarray:
        """Outputs for every row of ``X``: array ``(n, n_L)``."""

    # ``sample_weight`` everywhere: None, or one float64 weight >= 0 per row of ``X``. A
    # weighted sample's output deltas are multiplied by its weight, a batch's sums are
    # divided by its weights' sum (from 0.0, in visiting order) instead of its size, and a
    # mean loss is ``sum(w_s * e_s) / sum(w_s)`` (scikit-learn's MLP).

    def mean_loss(self, shape: Shape, loss: int, params: np.ndarray, X: np.ndarray,
                  Y: np.ndarray, threads: int | None = None,
                  sample_weight: np.ndarray | None = None) -> float:
        """Mean per-sample loss over ``X, Y``: summed in sample order, then divided."""

    def gradients(self, shape: Shape, loss: int, params: np.ndarray, X: np.ndarray,
                  Y: np.ndarray, threads: int | None = None, weight_decay: float = 0.0,
                  sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Gradient of the mean loss over ``X, Y``, flat like ``params``: each sum over
        the samples, plus ``weight_decay * W`` for a weight, divided by their number."""

    def loss_and_gradients(self, shape: Shape, loss: int, params: np.ndarray,
                           X: np.ndarray, Y: np.ndarray, threads: int | None = None,
                           weight_decay: float = 0.0,
                           sample_weight: np.ndarray | None = None
                           ) -> tuple[float, np.ndarray]:
        """``mean_loss`` and ``gradients`` in one pass over the data (L-BFGS's call)."""

    def train(self, shape: Shape, rule: Rule, params: np.ndarray, velocity: np.ndarray,
              X: np.ndarray, Y: np.ndarray, epochs: int, lr: float,
              order: np.ndarray | None = None, threads: int | None = None,
              sample_weight: np.ndarray | None = None,
              report: np.ndarray | None = None) -> None:
        """Train ``params`` (and the optimizer's state ``velocity``) in place for
        ``epochs`` epochs; with ``report`` (``(epochs, 2)``), each epoch's losses there,
        met on the way (``fastbp.kernels.step.report``: the mean over the epoch's samples
        of their batch's loss, and of their batch's squared weights over its weight)."""

    def train_then_loss(self, shape: Shape, rule: Rule, params: np.ndarray,
                        velocity: np.ndarray, X: np.ndarray, Y: np.ndarray, epochs: int,
                        lr: float, order: np.ndarray | None = None,
                        threads: int | None = None,
                        sample_weight: np.ndarray | None = None) -> float:
        """``train``, then ``mean_loss`` over ``X, Y`` with ``rule.loss``, in one call (a
        short run's way); NaN, without measuring, where a parameter is not finite."""

    def train_many(self, shape: Shape, rule: Rule, params: np.ndarray, velocity: np.ndarray,
                   X: np.ndarray, Y: np.ndarray, epochs: int, lrs: np.ndarray,
                   order: np.ndarray | None = None, threads: int | None = None,
                   sample_weight: np.ndarray | None = None) -> None:
        """``train`` every row of ``params`` (2-D) with its own ``lrs[k]``, bit-identical to
        training each alone; ``threads`` caps the threads used (None: all cores)."""

    def epoch_seconds(self, shape: Shape, rule: Rule, n_samples: int) -> float:
        """A first guess of one network's seconds per epoch, before any is measured."""

    # What a backend that compiles at run time (numba) does about it; a backend compiled
    # ahead of time uses the ``*_nothing`` functions below.

    def expect(self, shape: Shape, rule: Rule, n_samples: int, count: int,
               epochs: int) -> None:
        """A run of ``epochs`` epochs of ``count`` networks is about to start: prepare
        (start compiling) what pays over the whole run."""

    def generic_state(self, shape: Shape, rule: Rule, count: int) -> str:
        """Where the kernels such a run starts on are: ``"loaded"`` in this process,
        ``"cached"`` on disk, or ``"absent"`` (their first use compiles them)."""

    def compile_for(self, shape: Shape, rule: Rule, many: bool = False,
                    specialised: bool = True) -> list[str]:
        """Compile (or load) the kernels such a run uses, and wait; a line per thing
        done (none for a backend compiled ahead of time)."""

    def compiling(self) -> list[str]:
        """The shapes whose kernels compile in the background now."""


def gradients_from(loss_and_gradients):
    """A backend's ``gradients``: the gradient half of its ``loss_and_gradients`` (one pass
    computes both)."""
    def gradients(shape: Shape, loss: int, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
                  threads: int | None = None, weight_decay: float = 0.0,
                  sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Gradient of the mean loss, flat like ``params``: each sum over the samples,
        plus ``weight_decay * w`` for a weight, over their number (their weights' sum)."""
        return loss_and_gradients(shape, loss, params, X, Y, threads, weight_decay,
                                  sample_weight)[1]
    return gradients


class Weighted:
    """A backend module with the samples' weights bound: its ``train``, ``train_many``,
    ``train_then_loss`` and ``mean_loss`` take ``sample_weight``, every other member is
    the module's (what the training engine runs on weighted data)."""

    def __init__(self, kernels: Kernels, sample_weight: np.ndarray) -> None:
        self._kernels, self._weights = kernels, sample_weight

    @property
    def unweighted(self) -> Kernels:
        """The backend module itself (what runs a few samples, whose weights these are not)."""
        return self._kernels

    def __getattr__(self, name: str):
        return getattr(self._kernels, name)

    def train(self, *args, **kwargs) -> None:
        self._kernels.train(*args, **kwargs, sample_weight=self._weights)

    def train_many(self, *args, **kwargs) -> None:
        self._kernels.train_many(*args, **kwargs, sample_weight=self._weights)

    def train_then_loss(self, *args, **kwargs) -> float:
        return self._kernels.train_then_loss(*args, **kwargs, sample_weight=self._weights)

    def mean_loss(self, *args, **kwargs) -> float:
        return self._kernels.mean_loss(*args, **kwargs, sample_weight=self._weights)


# The run-time compilation abilities of a backend compiled ahead of time: nothing to do.

def expect_nothing(shape: Shape, rule: Rule, n_samples: int, count: int, epochs: int) -> None:
    """Nothing to prepare: every kernel is compiled already."""


def always_loaded(shape: Shape, rule: Rule, count: int) -> str:
    """Every kernel is loaded with the backend."""
    return "loaded"


def compile_nothing(shape: Shape, rule: Rule, many: bool = False,
                    specialised: bool = True) -> list[str]:
    """Nothing to compile."""
    return []


def compiling_nothing() -> list[str]:
    """Nothing compiles in the background."""
    return []
