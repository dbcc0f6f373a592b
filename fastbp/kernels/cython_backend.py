"""The ``"cython"`` backend: an adapter over the compiled ``fastbp.kernels._cython`` extension.

The kernels live in ``src_cython/_kernels.pyx`` (each the twin of a numba kernel
in :mod:`fastbp.kernels.numba.backend`); the functions here unpack the
:mod:`~fastbp.kernels.protocol` tuples into the extension's typed arguments.
"""

from __future__ import annotations

import functools

import numpy as np

from . import glibc_exp
from .protocol import (
    Rule,
    Shape,
    always_loaded,
    check_buffers,
    compile_nothing,
    compiling_nothing,
    expect_nothing,
    gradients_from,
)
from .threads import parts

NAME = "cython"
THREADED = True

# Compiled at install: nothing to announce, load or compile (the Protocol).
expect, generic_state, compile_for, compiling = (expect_nothing, always_loaded,
                                                 compile_nothing, compiling_nothing)

try:
    from . import _cython
except ImportError as exc:
    raise ImportError(
        f"the compiled extension fastbp.kernels._cython is not built ({exc}). Reinstall fastbp "
        "where a C compiler is available (pip install --force-reinstall --no-binary fastbp "
        "fastbp, or pip install . in a checkout); FASTBP_REQUIRE_CYTHON=1 makes a failed build "
        "an error that shows why") from None

try:  # the float32 twin (the same text, made float32 at build time: cython_codegen.single)
    from . import _cython32
except ImportError:  # an extension built before float32
    _cython32 = None

DTYPES = ("float64",) if _cython32 is None else ("float64", "float32")
CHUNK = _cython.EVALUATION_CHUNK  # samples per pass of forward, mean_loss and gradients
_F64 = np.dtype(np.float64)


def _of(params):
    """The extension that computes in ``params``' dtype (the training entry points
    checked it: ``protocol.check_backend_dtype``)."""
    return _cython if params.dtype is _F64 or params.dtype == _F64 else _cython32


def _opt(ext, rule: Rule):
    """The optimizer's settings as ``ext`` takes them (float32's: rounded once)."""
    return rule.opt if ext is _cython else rule.opt.astype(np.float32)


def _parts(threads, rows: int, shape: Shape) -> int:
    # OpenMP may start fewer; the kernels share the work among those it starts.
    return parts(threads, rows, shape.n_params)


@functools.cache
def _exp() -> tuple[int, None]:
    """The logistic's exp for the extension: glibc's, inlined, in the build that
    :func:`fastbp.kernels.glibc_exp.variant` verified here (its table handed to the
    extension once), else the library's."""
    build = glibc_exp.variant_code()
    if build != glibc_exp.CODES["libm"]:
        for ext in (_cython, _cython32):  # every call then passes None for it
            if ext is not None:
                ext.keep_exp_table(glibc_exp.TAB)
    return build, None


def forward(shape: Shape, params, X, threads=None):
    """Outputs for every row of ``X``."""
    check_buffers(shape, params, X)
    return _of(params).forward(params, shape.layout, shape.acts, X,
                           _parts(threads, min(len(X), CHUNK), shape), *_exp())


def mean_loss(shape: Shape, loss: int, params, X, Y, threads=None,
              sample_weight=None) -> float:
    """Mean per-sample loss, summed in sample order then divided."""
    check_buffers(shape, params, X, Y, sample_weight=sample_weight)
    return _of(params).mean_loss(params, shape.layout, shape.acts, loss, X, Y,
                             _parts(threads, min(len(X), CHUNK), shape), *_exp(),
                             sample_weight)


def loss_and_gradients(shape: Shape, loss: int, params, X, Y, threads=None, weight_decay=0.0,
                       sample_weight=None):
    """The mean loss and its gradient, in one pass over the data."""
    check_buffers(shape, params, X, Y, sample_weight=sample_weight)
    return _of(params).loss_and_gradients(params, shape.layout, shape.acts, loss, X, Y,
                                      _parts(threads, min(len(X), CHUNK), shape), *_exp(),
                                      weight_decay, sample_weight)


gradients = gradients_from(loss_and_gradients)


def train(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order=None,
          threads=None, sample_weight=None, report=None) -> None:
    """Train in place; the oracle's ``train`` defines every option."""
    check_buffers(shape, params, X, Y, velocity, order, epochs, rule=rule,
                  sample_weight=sample_weight, report=report)
    count = _parts(threads, min(len(X), rule.batch_size), shape) if rule.batch_size > 1 else 1
    ext = _of(params)
    ext.train(params, shape.layout, shape.acts, rule.loss, X, Y, epochs,
              order, lr, rule.batch_size, _opt(ext, rule),
              velocity, shape.train_bias, count, *_exp(), rule.weight_decay,
              sample_weight, report)


def train_then_loss(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order=None,
                    threads=None, sample_weight=None) -> float:
    """``train``, then ``mean_loss`` over ``X, Y``, or NaN where a parameter is not finite:
    one call into the extension, which takes each argument's buffer once."""
    check_buffers(shape, params, X, Y, velocity, order, epochs, rule=rule,
                  sample_weight=sample_weight)
    count = _parts(threads, min(len(X), rule.batch_size), shape) if rule.batch_size > 1 else 1
    n = len(X)
    evaluating = _parts(threads, min(n, CHUNK), shape)
    ext = _of(params)
    return ext.train_then_loss(params, shape.layout, shape.acts, rule.loss, X, Y, epochs,
                               order, lr, rule.batch_size, _opt(ext, rule), velocity,
                               shape.train_bias, count, evaluating, *_exp(),
                               rule.weight_decay, sample_weight)


def train_many(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lrs, order=None,
               threads=None, sample_weight=None) -> None:
    """``train`` every row of ``params`` with its own ``lrs[k]``, OpenMP-parallel over rows;
    small networks trained online go several per thread, one per vector lane. The
    logistic's ``exp`` is glibc's, inlined, where :func:`fastbp.kernels.glibc_exp.variant`
    has verified it."""
    check_buffers(shape, params, X, Y, velocity, order, epochs, lrs, rule, sample_weight)
    ext = _of(params)
    ext.train_many(params, shape.layout, shape.acts, rule.loss, X, Y, epochs,
                   order, lrs.astype(params.dtype, copy=False), rule.batch_size,
                   _opt(ext, rule), velocity, shape.train_bias, threads, *_exp(),
                   rule.weight_decay, sample_weight)


def epoch_seconds(shape: Shape, rule: Rule, n_samples: int) -> float:
    """About 5 ns per parameter per sample, the generic kernels' pace."""
    return 5e-9 * n_samples * shape.n_params


def train_form(form: str, shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lrs,
               order=None, sample_weight=None) -> bool:
    """``train_many`` by one form of the step (``_cython.FORMS``), whatever the router
    would pick (:mod:`fastbp.kernels.steps`); False where it cannot train this."""
    check_buffers(shape, params, X, Y, velocity, order, epochs, lrs, rule, sample_weight)
    ext = _of(params)
    return bool(ext.train_form(form, params, velocity, shape.layout, shape.acts, rule.loss, X,
                               Y, epochs, order, lrs.astype(params.dtype, copy=False),
                               rule.batch_size, _opt(ext, rule), rule.weight_decay,
                               shape.train_bias, *_exp(), sample_weight))
