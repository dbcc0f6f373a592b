"""Validation and coercion of user input, in one place; the built-in datasets.

Every check raises ``ValueError`` or ``TypeError`` naming the argument, what
was expected and what was received. Arrays are always copied into fresh
C-contiguous float64 buffers, so nothing the caller passed is ever modified.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


def _real_array(values: object, name: str) -> np.ndarray:
    try:
        raw = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be a rectangular array of numbers: {exc}") from None
    if raw.dtype == bool or not (np.issubdtype(raw.dtype, np.integer)
                                 or np.issubdtype(raw.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {raw.dtype}")
    return raw


def _finite_copy(raw: np.ndarray, name: str) -> np.ndarray:
    out = np.array(raw, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(out).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        raise ValueError(f"{name} must be finite, found {out[bad]} at index {bad}")
    return out


def as_matrix(values: object, name: str, width: int | None = None) -> np.ndarray:
    """Copy ``values`` into a C-contiguous float64 array of shape ``(n, width)``.

    A 1-D input is one sample. Integers, float32, Fortran-ordered and strided
    arrays are accepted and converted; booleans, strings, objects and complex
    numbers are refused, as are empty data and NaN or infinite values.
    """
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
    return _finite_copy(raw, name)


def as_array(values: object, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Copy ``values`` into a finite float64 array of exactly ``shape``."""
    raw = _real_array(values, name)
    if raw.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {raw.shape}")
    return _finite_copy(raw, name)


def check_integer(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as int, requiring an integer (not bool) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value: object, name: str) -> float:
    """Return ``value`` as float, requiring a real number (not bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
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


def check_seed(seed: object, name: str = "seed") -> int | np.random.Generator | None:
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    return check_integer(seed, name, 0)


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_sizes(sizes: object) -> tuple[int, ...]:
    """Validate layer sizes ``[n0, n1, ..., nL]``: at least two positive integers."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
        raise TypeError(f"sizes must be a sequence of integers like [2, 2, 2], got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes must have at least two entries (inputs and outputs), "
                         f"got {list(sizes)}")
    return tuple(check_integer(n, f"sizes[{i}]", 1) for i, n in enumerate(sizes))


#: The reference text's single training sample.
TUTORIAL_X = ((0.05, 0.10),)
TUTORIAL_Y = ((0.01, 0.99),)

XOR_X = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
XOR_Y = ((0.0,), (1.0,), (1.0,), (0.0,))

DATASETS = {"tutorial": (TUTORIAL_X, TUTORIAL_Y), "xor": (XOR_X, XOR_Y)}


def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(X, Y)`` of a built-in dataset: ``"tutorial"`` or ``"xor"``."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    x, y = DATASETS[name]
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
