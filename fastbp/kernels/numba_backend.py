"""The ``"numba"`` backend: JIT-compiled kernels, bit-identical to the oracle.

Each kernel mirrors its Cython twin in ``src_cython/_kernels.pyx`` and follows
the canonical order of :mod:`fastbp.kernels.oracle`. A kernel may run loops in
another order (several neurons at once, say) so long as every individual sum
still adds its terms in the canonical order. No fastmath: it would reorder sums
and break the bitwise contract.

Online training of a small network runs a kernel generated and unrolled for its
shape (:mod:`fastbp.kernels.numba_unrolled`). Everything else runs
:mod:`fastbp.kernels.numba_batched`, which computes a batch's sums as tiled
products, on a copy of the parameters in which each ``W_l`` is stored transposed,
``(n_in, n_out)``. This module validates nothing (the callers have checked every
argument): it makes the working copies, starts the threads and dispatches.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np

try:
    from numba import get_num_threads, set_num_threads
except ImportError as exc:  # pragma: no cover - numba is a hard dependency
    raise ImportError(f"numba is not installed ({exc}); pip install numba") from None

from ..functions import LOSSES
from . import glibc_exp, numba_batched, numba_unrolled
from .protocol import Rule, Shape, all_finite
from .threads import THREADS_PAY, cores, parts

NAME = "numba"


def _to_work(flat, layout, back=False):
    """A copy of ``flat`` (parameters, velocities; last axis) with every ``W`` transposed
    to ``(n_in, n_out)``, the kernels' working layout; ``back=True`` undoes it
    (twin: ``_transpose_weights`` in _kernels.pyx)."""
    plan = _plan(layout)
    return flat.take(plan.from_work if back else plan.to_work, axis=-1)


class _Plan(NamedTuple):
    """What the generic kernels need of a layout, computed once per layout (each costs a
    short call several microseconds): the starts of the activations, the scratch of one
    thread's packed products, and the permutations to and from the working layout."""

    at: np.ndarray
    pack: int
    to_work: np.ndarray
    from_work: np.ndarray


def _plan(layout) -> _Plan:
    key = layout.tobytes()
    found = _plans.get(key)
    if found is None:
        size = int(layout[-1, 3] + layout[-1, 1])
        to_work = np.arange(size)
        for n_in, n_out, w_at, b_at in layout.tolist():
            to_work[w_at:b_at] = np.arange(w_at, b_at).reshape(n_out, n_in).T.ravel()
        found = _plans[key] = _Plan(_starts(layout), numba_batched.pack_size(layout),
                                    to_work, np.argsort(to_work))
    return found


_plans: dict[bytes, _Plan] = {}
_ALONE = np.zeros(3, dtype=np.int64)  # the sync of a run in one thread: never written


def _starts(layout):
    """Each layer's start in a sample's activations (layer 0 is the input), their size last."""
    at = np.zeros(layout.shape[0] + 2, dtype=np.int64)
    at[1] = layout[0, 0]
    at[2:] = layout[0, 0] + np.cumsum(layout[:, 1])
    return at


_NO_Y = np.empty((0, 0))
_NO_ORDER = np.empty((0, 0), dtype=np.int64)
_NO_GRAD = np.empty(0)


def _batched(task, shape: Shape, rule: Rule, params, velocity, X, Y, epochs=0, lr=0.0,
             order=_NO_ORDER, grad=_NO_GRAD, out=_NO_Y, threads=None):
    """Run a task of :func:`numba_batched.run` on working copies of ``params`` (and
    ``velocity``) with ``parts`` threads; return them, back in the network's layout,
    after TRAIN."""
    layout, acts, train_bias, _ = shape
    loss, batch_size, momentum, decay = rule
    plan = _plan(layout)
    at = plan.at
    size = min(len(X), batch_size)
    rows = min(size, numba_batched.CHUNK)  # the buffers hold a chunk of a batch
    training = task == numba_batched.TRAIN
    work = params.take(plan.to_work)
    vel = velocity.take(plan.to_work) if training else velocity
    # Only training writes ``orig``: evaluation reads the caller's parameters in place
    # (numba types a read-only array apart, and ``run`` writes ``orig``: copy that one).
    orig = params.copy() if training or not params.flags.writeable else params
    args = (task, work, orig, layout, acts, loss, X, Y, epochs, order, lr, size,
            momentum, decay, vel, bool(train_bias), at, np.empty(rows * at[-1]),
            np.empty(rows * at[-1]), grad, out)
    # parts()'s rule for one thread inline: a short call pays for every call
    count = 1 if threads is None and size * shape.n_params < THREADS_PAY else \
        parts(threads, size, shape.n_params)
    args += (np.empty(count * plan.pack), glibc_exp.variant_code())
    if count == 1:
        numba_batched.run(*args, 0, 1, _ALONE)
    else:
        # Every part must run at once (they wait for each other): one thread each.
        sync = np.zeros(3, dtype=np.int64)
        with ThreadPoolExecutor(count - 1) as pool:
            try:
                others = [pool.submit(numba_batched.run, *args, k, count, sync)
                          for k in range(1, count)]
                numba_batched.run(*args, 0, count, sync)
                for other in others:
                    other.result()
            except BaseException:
                sync[2] = 1  # Ctrl-C: nobody waits for this thread's share any more
                raise
    if training:
        return work.take(plan.from_work), vel.take(plan.from_work)
    return None


_EVALUATE = Rule(0, numba_batched.CHUNK)  # forward, mean_loss and gradients
_EVALUATE_LOSS = {code: _EVALUATE._replace(loss=code) for code in LOSSES.values()}


def forward(shape: Shape, params, X, threads=None):
    """Outputs for every row of ``X`` (twin: ``forward``)."""
    out = np.empty((X.shape[0], int(shape.layout[-1, 1])))
    _batched(numba_batched.FORWARD, shape, _EVALUATE, params, _NO_GRAD, X, _NO_Y, out=out,
             threads=threads)
    return out


def mean_loss(shape: Shape, loss: int, params, X, Y, threads=None):
    """Mean per-sample loss, summed in sample order then divided (twin: ``mean_loss``)."""
    layout, acts, _, n_params = shape
    if n_params <= numba_unrolled.MAX_PARAMS:  # numba_unrolled.suitable, a call less
        return numba_unrolled.loss_kernel(layout, acts, loss)(params, X, Y)
    out = np.empty((1, 1))
    _batched(numba_batched.LOSS, shape, _EVALUATE_LOSS[loss], params, _NO_GRAD, X,
             Y, out=out, threads=threads)
    return out[0, 0]


def gradients(shape: Shape, loss: int, params, X, Y, threads=None, weight_decay=0.0):
    """Gradient of the mean loss, flat like ``params`` (twin: ``gradients``)."""
    grad = np.zeros(params.shape[0])
    _batched(numba_batched.GRADIENTS, shape, _EVALUATE_LOSS[loss], params, _NO_GRAD,
             X, Y, grad=grad, threads=threads)
    # Summed in the working layout; the rest is elementwise, the same in either layout.
    grad = grad.take(_plan(shape.layout).from_work)
    if weight_decay != 0.0:
        for n_in, n_out, w_at, _ in shape.layout:
            w = slice(w_at, w_at + n_in * n_out)
            grad[w] += weight_decay * params[w]  # two roundings, as the kernels' (g + a w)
    return grad / X.shape[0]


def train(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order=None,
          threads=None):
    """Train in place; the oracle's ``train`` defines every option (twin: ``train``).

    Online training of a small network without weight decay runs a kernel unrolled for
    its shape (:mod:`fastbp.kernels.numba_unrolled`); everything else the batched kernel
    (:mod:`fastbp.kernels.numba_batched`), on working copies with transposed weights,
    with ``parts(threads, ...)`` threads.
    """
    layout, acts, train_bias, n_params = shape
    order = _NO_ORDER if order is None else order
    # _unrolled(rule, shape), a call less
    if rule.batch_size == 1 and rule.weight_decay == 0.0 and n_params <= numba_unrolled.MAX_PARAMS:
        run = numba_unrolled.kernel(layout, acts, rule.loss, train_bias, rule.momentum != 0.0)
        run(params, X, Y, epochs, order, lr, rule.momentum, velocity)
        return
    params[:], velocity[:] = _batched(numba_batched.TRAIN, shape, rule, params, velocity, X,
                                      Y, epochs, lr, order, grad=np.empty(params.shape[0]),
                                      threads=threads)


def train_then_loss(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order=None,
                    threads=None) -> float:
    """``train``, then ``mean_loss`` over ``X, Y``, or NaN where a parameter is not finite
    (twin: ``train_then_loss``)."""
    layout, acts, train_bias, n_params = shape
    if rule.batch_size == 1 and rule.weight_decay == 0.0 and n_params <= numba_unrolled.MAX_PARAMS:
        run = numba_unrolled.kernel(layout, acts, rule.loss, train_bias, rule.momentum != 0.0)
        run(params, X, Y, epochs, _NO_ORDER if order is None else order, lr, rule.momentum,
            velocity)  # train's unrolled way, two calls less
        if not all_finite(params):
            return math.nan
        return numba_unrolled.loss_kernel(layout, acts, rule.loss)(params, X, Y)
    train(shape, rule, params, velocity, X, Y, epochs, lr, order, threads)
    return mean_loss(shape, rule.loss, params, X, Y, threads) if all_finite(params) else math.nan


def train_many(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lrs, order=None,
               threads=None):
    """``train`` every row of ``params`` with its own ``lrs[k]``, in parallel over rows.

    Small networks run ``kernel_many`` from :mod:`fastbp.kernels.numba_unrolled`
    (several networks interleaved per thread); others run ``train`` one network per
    thread (the kernels release the GIL).
    """
    layout, acts, train_bias, _ = shape
    order = _NO_ORDER if order is None else order
    if not _unrolled(rule, shape):
        def one(k):
            train(shape, rule, params[k], velocity[k], X, Y, epochs, lrs[k], order, 1)
        workers = min(threads or cores(), len(params))
        if workers <= 1:
            for k in range(len(params)):
                one(k)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, range(len(params))))
        return
    previous = get_num_threads()
    if threads is not None:
        set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        run = numba_unrolled.kernel(layout, acts, rule.loss, bool(train_bias),
                                    rule.momentum != 0.0, many=True)
        run(params, X, Y, epochs, order, lrs, rule.momentum, velocity)
    finally:
        set_num_threads(previous)


def _unrolled(rule: Rule, shape: Shape) -> bool:
    """Does an unrolled kernel train this? (Online, small, and without weight decay.)"""
    return (rule.batch_size == 1 and rule.weight_decay == 0.0
            and numba_unrolled.suitable(shape.n_params))


def epoch_seconds(shape: Shape, rule: Rule, n_samples: int) -> float:
    """About 5 ns per parameter per sample, the generic kernels' pace (numba's own
    first-call compilation is not included)."""
    return 5e-9 * n_samples * shape.n_params
