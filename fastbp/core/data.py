"""Validation and coercion of user input, in one place; the built-in datasets.

The ``check_*`` and ``as_*`` functions are what every public entry point calls
(``train``, ``trace``, ``Network``, the CLI), so one kind of bad input gets one
message everywhere. This module imports nothing else of fastbp but its tables (and the
kernels' ``all_finite``, which imports nothing);
``check_network`` lives beside the class it checks, in :mod:`fastbp.network`.

Every check raises ``ValueError`` or ``TypeError`` naming the argument, what
was expected and what was received. Arrays are viewed or copied as C-contiguous buffers of
the network's dtype (float64 or float32), so nothing the caller passed is ever modified.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence

import numpy as np

from ..base import functions
from ..kernels.protocol import DTYPES, all_finite

_FLOAT64 = np.dtype(np.float64)  # native byte order: the only float64 dtype that is this one


def check_dtype(dtype: object, name: str = "dtype") -> np.dtype:
    """``dtype`` ("float64", "float32", or NumPy's types and dtypes of them) as a dtype."""
    try:
        found = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        found = None
    if found is None or found.name not in DTYPES:
        if not isinstance(dtype, (str, type, np.dtype)):
            raise TypeError(f"{name} must be 'float64' or 'float32', got "
                            f"{type(dtype).__name__}")
        raise ValueError(f"{name} must be 'float64' or 'float32', got {dtype!r}")
    return DTYPES[found.name]


def _real_array(values: object, name: str) -> np.ndarray:
    if isinstance(values, np.ma.MaskedArray):  # np.asarray would drop the mask silently
        raise TypeError(f"{name} must not be a masked array: fill or drop the masked values "
                        f"first ({name}.filled(...) or {name}.compressed())")
    try:
        raw = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a rectangular array of numbers: {exc}") from None
    if raw.dtype.kind not in "iuf":  # integers and reals; not bool, complex, str, object
        raise TypeError(f"{name} must hold real numbers, got dtype {raw.dtype}")
    return raw


def _finite_copy(raw: np.ndarray, name: str, dtype: np.dtype = _FLOAT64) -> np.ndarray:
    with np.errstate(over="ignore"):  # beyond float32's range: said below
        out = np.array(raw, dtype, order="C")  # a copy, always
    if not all_finite(out):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        if np.isfinite(raw[bad]):
            raise ValueError(f"{name} must fit in {dtype.name}, found {raw[bad]} at index "
                             f"{bad} (the largest is {np.finfo(dtype).max})")
        raise ValueError(f"{name} must be finite, found {out[bad]} at index {bad}")
    return out


def as_matrix(values: object, name: str, width: int | None = None,
              dtype: np.dtype = _FLOAT64) -> np.ndarray:
    """``values`` as a C-contiguous array of ``dtype`` (float64 or float32) and shape
    ``(n, width)``: a view of a writable C-contiguous array of that dtype, a copy of
    anything else (rounded to the dtype).

    A 1-D input is one sample. Integers, other floats, Fortran-ordered and strided
    arrays are accepted and converted; booleans, strings, objects and complex
    numbers are refused, as are empty data and NaN or infinite values. No kernel writes
    its data, so a view leaves the caller's array as it was; a read-only array is copied
    all the same (numba compiles every kernel again for a read-only array's type).
    """
    # The common case, float64 rows of the right width, in a few attribute reads: a short
    # train call pays for every function call. Anything else, or a non-finite value, goes
    # the long way, which says what is wrong.
    if type(values) is np.ndarray and values.dtype is dtype and values.ndim == 2:
        rows, columns = values.shape
        if rows and columns and (width is None or columns == width):
            flags = values.flags
            out = values.view() if flags.c_contiguous and flags.writeable else values.copy()
            if all_finite(out):
                return out
    raw = _real_array(values, name)
    if raw.ndim == 1:
        raw = raw.reshape(1, -1)
    if raw.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one sample) or 2-D (samples x features), "
                         f"got {raw.ndim}-D with shape {raw.shape}")
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {raw.shape}")
    if width is not None and raw.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns, got shape {raw.shape}")
    return _finite_copy(raw, name, dtype)


def as_array(values: object, name: str, shape: tuple[int, ...],
             dtype: np.dtype = _FLOAT64) -> np.ndarray:
    """Copy ``values`` into a finite array of ``dtype`` and exactly ``shape``."""
    raw = _real_array(values, name)
    if raw.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {raw.shape}")
    return _finite_copy(raw, name, dtype)


def check_integer(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as int, requiring an integer (not bool) at least ``minimum``."""
    # type() first: the ABC check costs about a microsecond, a good part of a short call
    if type(value) is not int and (isinstance(value, bool)
                                   or not isinstance(value, numbers.Integral)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_threads(threads: object) -> int | None:
    """``threads``: None (the backend decides) or an integer >= 1."""
    return None if threads is None else check_integer(threads, "threads", 1)


def check_real(value: object, name: str) -> float:
    """Return ``value`` as float, requiring a real number (not bool)."""
    if type(value) not in (float, int) and (isinstance(value, bool)
                                            or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def check_learning_rate(lr: object) -> float:
    value = check_real(lr, "lr")
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"lr must be a finite number > 0, got {value}")
    return value


def check_momentum(momentum: object) -> float:
    value = check_real(momentum, "momentum")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {value}")
    return value


def check_weight_decay(weight_decay: object) -> float:
    value = check_real(weight_decay, "weight_decay")
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {value}")
    return value


def check_sample_weight(sample_weight: object, n: int, batch_size: int,
                        shuffle: bool, dtype: np.dtype = _FLOAT64) -> np.ndarray | None:
    """``sample_weight`` as a fresh array of ``dtype`` of ``n`` finite weights >= 0 (None for
    none), refused where a batch could hold only zero weights (its sums would be divided
    by 0): any zero weight online; with shuffling, as many zeros as the smallest batch
    holds (the last, where ``batch_size`` does not divide ``n``); a batch of zeros in the
    fixed order without."""
    if sample_weight is None:
        return None
    try:
        weights = np.array(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"sample_weight must be an array of numbers, got "
                        f"{type(sample_weight).__name__}") from None
    if weights.ndim != 1 or len(weights) != n:
        raise ValueError(f"sample_weight must hold one weight per sample ({n}), got shape "
                         f"{weights.shape}")
    if dtype is not _FLOAT64:
        with np.errstate(over="ignore"):  # beyond float32's range: infinite, refused below
            weights = weights.astype(dtype)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must hold finite weights >= 0; found "
                         + ("a NaN or infinite one" if not np.isfinite(weights).all()
                            else f"{weights.min()}"))
    zeros = weights == 0.0
    if shuffle:
        smallest = (n % batch_size or batch_size) if batch_size < n else n
        empty = int(zeros.sum()) >= smallest
    else:
        ends = np.arange(0, n, batch_size)
        empty = bool(np.logical_and.reduceat(zeros, ends).any()) if n else False
    if empty:
        raise ValueError(f"sample_weight: a batch could hold only zero weights "
                         f"({int(zeros.sum())} of the {n} are 0, in batches of "
                         f"{min(batch_size, n)}), and its sums would be divided by 0")
    return weights


def check_seed(seed: object, name: str = "seed") -> int | np.random.Generator | None:
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    return check_integer(seed, name, 0)


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """``value``, one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


#: Most parameters of one network: 400 MiB of float64, far beyond the networks fastbp is
#: for. A larger size (a typo, a crafted file) is refused before anything is allocated.
MAX_PARAMS = 50_000_000


def count_params(sizes: Sequence[int]) -> int:
    """Weights and biases of a network of layer ``sizes``."""
    return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))


def check_sizes(sizes: object) -> tuple[int, ...]:
    """Validate layer sizes ``[n0, n1, ..., nL]``: at least two positive integers, making
    at most :data:`MAX_PARAMS` parameters."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
        raise TypeError(f"sizes must be a sequence of integers like [2, 2, 2], got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must have at least two entries (inputs and outputs), "
                         f"got {list(sizes)}")
    sizes = tuple(check_integer(n, f"sizes[{i}]", 1) for i, n in enumerate(sizes))
    count = count_params(sizes)
    if count > MAX_PARAMS:
        raise ValueError(f"sizes {list(sizes)} make a network of {count:,} parameters "
                         f"({count * 8 / 2**20:,.0f} MiB); fastbp allows at most "
                         f"{MAX_PARAMS:,}")
    return sizes


def _targets_2d(Y: object, name: str, rows: int, outputs: int) -> object:
    """A 1-D ``Y`` read as scikit-learn reads ``y``: n values for a network with one output
    are a column; ``outputs`` values for one sample are a row; anything else is an error
    saying how to reshape."""
    if type(Y) is np.ndarray and Y.ndim == 2:
        return Y
    raw = _real_array(Y, name)
    if raw.ndim != 1 or (rows == 1 and len(raw) == outputs):
        return raw
    if outputs == 1 and len(raw) == rows:
        return raw.reshape(-1, 1)
    hint = (f"; for {len(raw)} class labels, one-hot encode them: np.eye({outputs})[labels]"
            if len(raw) == rows else "")
    raise ValueError(f"{name} is 1-D with {len(raw)} values, which is neither a column of "
                     f"{rows} targets (for a network with one output) nor one sample's "
                     f"{outputs} targets: pass shape ({rows}, {outputs}){hint}")


def check_data(net, X: object, Y: object, loss: str = "squared",
               names: tuple[str, str] = ("X", "Y")) -> tuple[np.ndarray, np.ndarray]:
    """``X, Y`` as matrices of ``net``'s dtype fitting ``net`` (views or copies, as
    :func:`as_matrix`), checked for ``loss``.

    With ``loss="cross_entropy"`` the output layer must be logistic or softmax
    and ``Y`` must lie in [0, 1]; with softmax, each row of ``Y`` must sum to 1.
    ``names`` are the arguments' names in the caller's signature, for messages.
    """
    x_name, y_name = names
    X = as_matrix(X, x_name, net.sizes[0], net.dtype)
    Y = as_matrix(_targets_2d(Y, y_name, len(X), net.sizes[-1]), y_name, net.sizes[-1],
                  net.dtype)
    if len(X) != len(Y):
        raise ValueError(f"{x_name} and {y_name} must have the same number of rows, "
                         f"got {len(X)} and {len(Y)}")
    if loss == "cross_entropy":
        if net.activations[-1] not in functions.CROSS_ENTROPY_OUTPUTS:
            raise ValueError(f"loss='cross_entropy' needs a logistic or softmax output layer, "
                             f"got {net.activations[-1]!r}")
        if Y.min() < 0.0 or Y.max() > 1.0:
            raise ValueError(f"{y_name} must lie in [0, 1] with loss='cross_entropy', "
                             f"got values in [{Y.min()}, {Y.max()}]")
        sums = Y.sum(axis=1)
        if net.activations[-1] == "softmax" and (np.abs(sums - 1.0) > 1e-6).any():
            # The output delta o - t is the gradient only for targets that are distributions.
            row = int(np.argmax(np.abs(sums - 1.0) > 1e-6))
            raise ValueError(f"{y_name}'s rows must each sum to 1 with a softmax output and "
                             f"loss='cross_entropy'; row {row} sums to {sums[row]}")
    return X, Y


#: The built-in datasets: the reference text's single training sample, and XOR.
DATASETS: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...]]] = {
    "tutorial": (((0.05, 0.10),), ((0.01, 0.99),)),
    "xor": (((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)), ((0.0,), (1.0,), (1.0,), (0.0,))),
}


def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Fresh ``(X, Y)`` arrays of a built-in dataset: ``"tutorial"`` or ``"xor"``."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    x, y = DATASETS[name]
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
