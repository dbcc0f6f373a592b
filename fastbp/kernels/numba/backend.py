"""The ``"numba"`` backend: JIT-compiled kernels, bit-identical to the oracle.

Each kernel mirrors its Cython twin in ``src_cython/_kernels.pyx`` and follows
the canonical order of :mod:`fastbp.kernels.oracle`. A kernel may run loops in
another order (several neurons at once, say) so long as every individual sum
still adds its terms in the canonical order. No fastmath: it would reorder sums
and break the bitwise contract.

Online training of a small network runs a kernel generated and unrolled for its
shape (:mod:`fastbp.kernels.numba.unrolled`). Everything else runs
:mod:`fastbp.kernels.numba.batched`, which computes a batch's sums as tiled
products, on a copy of the parameters in which each ``W_l`` is stored transposed,
``(n_in, n_out)``. This module validates nothing (the callers have checked every
argument): it makes the working copies, starts the threads and dispatches.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np

try:
    from numba import get_num_threads, set_num_threads
except ImportError as exc:  # pragma: no cover - numba is a hard dependency
    raise ImportError(f"numba is not installed ({exc}); pip install numba") from None

from ...base.functions import LOSSES
from .. import glibc_exp, limits
from ..limits import SHORT, SMALL, route, small_online
from ..protocol import (
    Rule,
    Shape,
    all_finite,
    check_buffers,
    gradients_from,
    real_name,
    sizes_label,
    weight_sum,
)
from ..threads import cores, parts
from . import batched, lanes, online, tiers, unrolled

NAME = "numba"
THREADED = True
DTYPES = ("float64", "float32")
_F32 = np.dtype(np.float32)


def _single(params) -> bool:
    """Does this network compute in float32 (every kernel's float32 twin runs it)?"""
    return params.dtype is _F32 or params.dtype == _F32


def _settings(params, opt, lr, decay) -> tuple:
    """The optimizer's settings ``opt``, ``lr`` and the decay in the network's dtype
    (float32's kernels compute with them rounded once, as the oracle does)."""
    if not _single(params):
        return opt, lr, decay
    return opt.astype(_F32), np.float32(lr), np.float32(decay)


def _run(real: str):
    """``batched.run`` computing in ``real``: float32's is the twin of the same text
    (:func:`unrolled.twin`), compiled at its first use."""
    return batched.run if real == "float64" else _twins()["run"]


@functools.cache
def _twins() -> dict[str, object]:
    element = unrolled.twin("element")
    return unrolled.twin("batched", {"element": element["__name__"],
                                     "libm_exp": "fastbp.kernels.numba.single"})


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


def _plan(layout, key: bytes | None = None) -> _Plan:
    key = layout.tobytes() if key is None else key
    found = _plans.get(key)
    if found is None:
        size = int(layout[-1, 3] + layout[-1, 1])
        to_work = np.arange(size)
        for n_in, n_out, w_at, b_at in layout.tolist():
            to_work[w_at:b_at] = np.arange(w_at, b_at).reshape(n_out, n_in).T.ravel()
        found = _plans[key] = _Plan(_starts(layout), batched.pack_size(layout),
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
_NO_PERM = np.empty(0, dtype=np.int64)  # run makes no working copies: they are passed
_NO_OPT = Rule(0).opt  # the optimizer's settings where nothing trains
_NO_SW = np.empty(0)  # no sample weights
_NO_R = np.empty((0, 2))  # no report of the epochs' losses


class _None(NamedTuple):
    """The empty arrays that stand for "none" in a call of one dtype (numba compiles a
    kernel for every combination of argument types)."""

    y: np.ndarray
    grad: np.ndarray
    sw: np.ndarray
    r: np.ndarray


_NONE = {real: _None(*(a.astype(real, copy=False) for a in (_NO_Y, _NO_GRAD, _NO_SW, _NO_R)))
         for real in DTYPES}


def _buffers(dtype, *sizes: int) -> list[np.ndarray]:
    """Uninitialised 1-D arrays of ``sizes`` values, each starting on a 64-byte cache line,
    as the Cython kernels' buffers do (``fastbp_alloc``): a 64-byte vector's loads and
    stores then never straddle two lines (NumPy aligns to 16 bytes, and where a run's
    buffers fell changed a small network's online pace by up to 20%). They are cut from
    one allocation: reading an array's address costs a microsecond, which a short call
    would pay for every buffer."""
    per = 64 // np.dtype(dtype).itemsize  # values a line
    spans = [-(-n // per) * per for n in sizes]
    raw = np.empty(sum(spans) + per, dtype)
    at = (-raw.ctypes.data % 64) // np.dtype(dtype).itemsize
    views = []
    for n, span in zip(sizes, spans):
        views.append(raw[at:at + n])
        at += span
    return views


def _state_to_work(state, plan: _Plan, back: bool = False, out=None):
    """The optimizer's state in the working layout (or ``back`` from it), into ``out``
    (None: a new array): each slot permuted as the parameters are, Adam's scalars as they
    are (twin: ``state_to_work`` in batched.py, for the calls that make their own
    copies)."""
    perm, size = (plan.from_work if back else plan.to_work), plan.to_work.shape[0]
    out = np.empty_like(state) if out is None else out
    if state.shape[0] == size:
        return np.take(state, perm, out=out)
    np.take(state[:size], perm, out=out[:size])
    np.take(state[size:2 * size], perm, out=out[size:2 * size])
    out[2 * size:] = state[2 * size:]
    return out


_pools = threading.local()


def _helpers(count: int) -> ThreadPoolExecutor:
    """The calling thread's own pool of ``count`` helper threads, kept between calls:
    starting threads cost a small network's epoch as much again as its arithmetic. Each
    caller has its own, so the parts of one call never queue behind another call's parts
    (which wait for theirs)."""
    pool, size = getattr(_pools, "pool", (None, 0))
    if size < count:
        if pool is not None:
            pool.shutdown(wait=False)
        pool = ThreadPoolExecutor(count, thread_name_prefix="fastbp-part")
        _pools.pool = pool, count
    return pool


def _batched(task, shape: Shape, rule: Rule, params, velocity, X, Y, epochs=0, lr=0.0,
             order=_NO_ORDER, grad=None, out=None, threads=None, SW=None, R=None):
    """Run a task of :func:`batched.run` on working copies of ``params`` (and
    ``velocity``) with ``parts`` threads; return them, back in the network's layout,
    after TRAIN. Every array is of ``params``' dtype (None: an empty one; TRAIN's ``grad``,
    a scratch, is cut beside the working copies)."""
    layout, acts, train_bias = shape.layout, shape.acts, shape.train_bias
    none, real = _NONE[real_name(params)], params.dtype
    training = task == batched.TRAIN
    grad = none.grad if grad is None and not training else grad  # TRAIN's is cut below
    out = none.y if out is None else out
    SW, R = none.sw if SW is None else SW, none.r if R is None else R
    opt, lr, decay = _settings(params, rule.opt, lr, rule.weight_decay)
    loss, batch_size = rule.loss, rule.batch_size
    run = _run(real.name)
    plan = _plan(layout)
    at = plan.at
    size = min(len(X), batch_size)
    rows = min(size, batched.CHUNK)  # the buffers hold a chunk of a batch
    count = parts(threads, size, shape.n_params)
    # Only training writes ``orig``: evaluation reads the caller's parameters in place
    # (numba types a read-only array apart, and ``run`` writes ``orig``: copy that one).
    copy_orig = training or not params.flags.writeable
    n, cells = params.shape[0], rows * at[-1]
    work, orig, vel, own_grad, a, d, pack = _buffers(
        real, n, n if copy_orig else 0, velocity.shape[0] if training else 0,
        n if training and grad is None else 0, cells, cells, count * plan.pack)
    np.take(params, plan.to_work, out=work)
    if copy_orig:
        orig[:] = params
    else:
        orig = params
    vel = _state_to_work(velocity, plan, out=vel) if training else velocity
    grad = own_grad if training and grad is None else grad
    args = (task, work, orig, layout, acts, loss, X, Y, epochs, order, lr, size,
            opt, decay, vel, bool(train_bias), at, a, d, grad, out, pack,
            glibc_exp.variant_code())
    if count == 1:
        run(*args, 0, 1, _ALONE, _NO_PERM, none.grad, SW, R)
    else:
        # Every part must run at once (they wait for each other): one thread each.
        sync = np.zeros(3, dtype=np.int64)
        pool = _helpers(count - 1)
        try:
            others = [pool.submit(run, *args, k, count, sync, _NO_PERM, none.grad, SW, R)
                      for k in range(1, count)]
            run(*args, 0, count, sync, _NO_PERM, none.grad, SW, R)
            for other in others:
                other.result()
        except BaseException:
            sync[2] = 1  # Ctrl-C: nobody waits for this thread's share any more
            raise
    if training:
        return work.take(plan.from_work), _state_to_work(vel, plan, back=True)
    return None


_EVALUATE = Rule(0, batched.CHUNK)  # forward, mean_loss and gradients
_EVALUATE_LOSS = {code: _EVALUATE._replace(loss=code) for code in LOSSES.values()}


def forward(shape: Shape, params, X, threads=None):
    """Outputs for every row of ``X`` (twin: ``forward``)."""
    check_buffers(shape, params, X)
    out = np.empty((X.shape[0], shape.n_out), params.dtype)
    none = _NONE[real_name(params)]
    way = route(False, shape.n_params, X.shape[0], threads)
    if way == SMALL:
        online.kernels(real_name(params))["forward"](_writable(params), shape.layout,
                                                     shape.acts, X, out)
    elif way == SHORT:
        _short(batched.FORWARD, shape, 0, params, X, none.y, out=out)
    else:
        _batched(batched.FORWARD, shape, _EVALUATE, params, none.grad, X, none.y,
                 out=out, threads=threads)
    return out


def _writable(params):
    """``params``, or a copy where it is read-only: numba types a read-only array apart,
    and a copy costs less than another compile."""
    return params if params.flags.writeable else params.copy()


def _short(task, shape: Shape, loss: int, params, X, Y, out=None, grad=None,
           velocity=None, rule: Rule | None = None, epochs=0, lr=0.0, order=_NO_ORDER,
           decay=0.0, SW=None) -> float:
    """A task of ``run`` in one thread and one call, ``run`` making the working copies
    and buffers, cut from one allocation (a short call's way: they cost more than its
    arithmetic in Python). Every array is of ``params``' dtype (None: an empty one)."""
    plan = _plan(shape.layout, shape.key)
    if not params.flags.writeable and task != batched.TRAIN_LOSS:  # numba types a
        # read-only array apart: a copy costs less than another compile
        params = params.copy()
    none = _NONE[real_name(params)]
    out, grad = none.y if out is None else out, none.grad if grad is None else grad
    velocity, SW = none.grad if velocity is None else velocity, none.sw if SW is None else SW
    batch_size, opt = (min(X.shape[0], rule.batch_size), rule.opt) if rule else \
        (min(X.shape[0], batched.CHUNK), _NO_OPT)
    opt, lr, decay = _settings(params, opt, lr, decay)
    room, = _buffers(params.dtype, batched.room_size(task, shape.layout, plan.at, X.shape[0],
                                                     params.shape[0], velocity.shape[0]))
    return _run(real_name(params))(
        task, none.grad, params, shape.layout, shape.acts, loss, X, Y, epochs, order, lr,
        batch_size, opt, decay, velocity, bool(shape.train_bias), plan.at, none.grad,
        none.grad, grad, out, none.grad, glibc_exp.variant_code(), 0, 1, _ALONE, plan.to_work,
        room, SW, none.r)


def mean_loss(shape: Shape, loss: int, params, X, Y, threads=None, sample_weight=None):
    """Mean per-sample loss, summed in sample order then divided (twin: ``mean_loss``):
    by the shape's unrolled loss kernel where it is loaded, else by the generic one."""
    check_buffers(shape, params, X, Y, sample_weight=sample_weight)
    real = real_name(params)
    none = _NONE[real]
    SW = none.sw if sample_weight is None else sample_weight
    run = _loss_kernels.get((shape.key, loss, real))
    if run is not None and tiers.MODE != "generic" and sample_weight is None:
        return float(run(params, X, Y))
    way = route(False, shape.n_params, X.shape[0], threads)
    if way == SMALL:
        return float(online.kernels(real)["mean_loss"](_writable(params), shape.layout,
                                                       shape.acts, loss, X, Y, SW))
    if way == SHORT:
        return float(_short(batched.LOSS, shape, loss, params, X, Y, SW=SW))
    out = np.empty((1, 1), params.dtype)
    _batched(batched.LOSS, shape, _EVALUATE_LOSS[loss], params, none.grad, X,
             Y, out=out, threads=threads, SW=SW)
    return float(out[0, 0])


def loss_and_gradients(shape: Shape, loss: int, params, X, Y, threads=None, weight_decay=0.0,
                       sample_weight=None):
    """The mean loss and its gradient, in one pass over the data (twin:
    ``loss_and_gradients``)."""
    check_buffers(shape, params, X, Y, sample_weight=sample_weight)
    real = real_name(params)
    none = _NONE[real]
    SW = none.sw if sample_weight is None else sample_weight
    grad = np.zeros(params.shape[0], params.dtype)
    way = route(False, shape.n_params, X.shape[0], threads)
    decay = params.dtype.type(weight_decay)
    if way == SMALL:
        value = online.kernels(real)["gradients"](_writable(params), shape.layout, shape.acts,
                                                  loss, X, Y, decay, grad, SW)
        return float(value), grad
    if way == SHORT:
        value = _short(batched.GRADIENTS, shape, loss, params, X, Y, grad=grad,
                       decay=weight_decay, SW=SW)
        return float(value), grad
    out = np.empty((1, 1), params.dtype)
    _batched(batched.GRADIENTS, shape, _EVALUATE_LOSS[loss], params, none.grad,
             X, Y, grad=grad, out=out, threads=threads, SW=SW)
    # Summed in the working layout; the rest is elementwise, the same in either layout.
    grad = grad.take(_plan(shape.layout).from_work)
    if weight_decay != 0.0:
        for n_in, n_out, w_at, _ in shape.layout:
            w = slice(w_at, w_at + n_in * n_out)
            grad[w] += decay * params[w]  # two roundings, as the kernels' (g + a w)
    count = float(X.shape[0]) if sample_weight is None else weight_sum(sample_weight)
    return float(out[0, 0]), grad / count


gradients = gradients_from(loss_and_gradients)


def train(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order=None,
          threads=None, sample_weight=None, report=None):
    """Train in place; the oracle's ``train`` defines every option (twin: ``train``).

    Online training of a small network without weight decay runs the kernel unrolled for
    its shape (:mod:`fastbp.kernels.numba.unrolled`) where it is ready: compiled in the
    background once it pays (:mod:`fastbp.kernels.numba.tiers`). Everything else runs the
    generic batched kernel (:mod:`fastbp.kernels.numba.batched`), on working copies with
    transposed weights, with ``parts(threads, ...)`` threads.
    """
    check_buffers(shape, params, X, Y, velocity, order, epochs, rule=rule,
                  sample_weight=sample_weight, report=report)
    order = _NO_ORDER if order is None else order
    none = _NONE[real_name(params)]
    SW = none.sw if sample_weight is None else sample_weight
    R = none.r if report is None else report
    if route(True, shape.n_params, X.shape[0], threads, rule.batch_size) == SMALL:
        _online(shape, rule, params, velocity, X, Y, epochs, lr, order, False, SW, R)
        return
    params[:], velocity[:] = _batched(batched.TRAIN, shape, rule, params, velocity, X,
                                      Y, epochs, lr, order,
                                      threads=threads, SW=SW, R=R)


def _online(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order,
            evaluate: bool, SW, R=None) -> float:
    """One small network trained online: by its shape's unrolled kernels where the tiering
    rule runs them now, else by ``numba.online``; then, with ``evaluate``, its mean loss
    (NaN, without measuring, where a parameter is not finite)."""
    weighted, real = SW.shape[0] > 0, real_name(params)
    opt, lr, decay = _settings(params, rule.opt, lr, rule.weight_decay)
    R = _NONE[real].r if R is None else R
    kernels = _specialised(shape, rule, epochs, X.shape[0], weighted, R.shape[0] > 0, real)
    if kernels is None:
        return online.kernels(real)["train_then_loss"](
            params, velocity, shape.layout, shape.acts, rule.loss, X, Y, epochs, order, lr,
            opt, decay, bool(shape.train_bias), evaluate, SW, R)
    kernels[0](params, X, Y, epochs, order, lr, opt, decay, velocity, SW, R)
    if not evaluate:
        return 0.0
    if not all_finite(params):
        return math.nan
    if weighted:
        return float(online.kernels(real)["mean_loss"](params, shape.layout, shape.acts,
                                                       rule.loss, X, Y, SW))
    return float(kernels[1](params, X, Y))


def _specialised(shape: Shape, rule: Rule, epochs: int, n: int, weighted: bool,
                 report: bool = False, real: str = "float64"):
    """The shape's unrolled ``(train, loss)`` kernels for one small network trained online
    where the tiering rule runs them now, else None (the generic ``numba.online`` then
    runs); the work counts toward compiling them."""
    key = (shape.key, shape.train_bias, rule, weighted, report, real)
    found = _by_rule.get(key)
    if found is None:  # (the bias mode is not in Shape.key: a fixed bias has other kernels)
        found = _by_rule[key] = _entry(shape, rule, False, weighted, report, real)
    if tiers.MODE == "auto":  # pick()'s rule inline for its two common cases
        if found.kernel is not None:
            return found.kernel
        if found.state == "idle":
            found.saving += limits.SAVING_ONE * epochs * n + limits.SAVING_PER_CALL
            if found.pays(found.saving):
                found.start()
            return None
    return tiers.pick(found, limits.SAVING_ONE * epochs * n +
                            limits.SAVING_PER_CALL)


def train_then_loss(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order=None,
                    threads=None, sample_weight=None) -> float:
    """``train``, then ``mean_loss`` over ``X, Y``, or NaN where a parameter is not finite
    (twin: ``train_then_loss``). Where the generic kernel trains in one thread, both run in
    one call of :func:`fastbp.kernels.batched.train_then_loss`."""
    check_buffers(shape, params, X, Y, velocity, order, epochs, rule=rule,
                  sample_weight=sample_weight)
    order = _NO_ORDER if order is None else order
    SW = _NONE[real_name(params)].sw if sample_weight is None else sample_weight
    way = route(True, shape.n_params, X.shape[0], threads, rule.batch_size)
    if way == SMALL:
        return _online(shape, rule, params, velocity, X, Y, epochs, lr, order, True, SW)
    if way == SHORT:
        return float(_short(batched.TRAIN_LOSS, shape, rule.loss, params, X, Y,
                            velocity=velocity, rule=rule, epochs=epochs, lr=lr, order=order,
                            decay=rule.weight_decay, SW=SW))
    params[:], velocity[:] = _batched(batched.TRAIN, shape, rule, params, velocity, X,
                                      Y, epochs, lr, order,
                                      threads=threads, SW=SW)
    if not all_finite(params):
        return math.nan
    return mean_loss(shape, rule.loss, params, X, Y, threads, sample_weight)


def train_many(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lrs, order=None,
               threads=None, sample_weight=None):
    """``train`` every row of ``params`` with its own ``lrs[k]``, in parallel over rows.

    Small networks trained online run side by side, one per vector lane: in the shape's
    ``kernel_many`` (:mod:`fastbp.kernels.numba.unrolled`) where it is ready, else in the
    generic :func:`fastbp.kernels.lanes.train_lanes`. Others run ``train`` one
    network per thread (the kernels release the GIL).
    """
    check_buffers(shape, params, X, Y, velocity, order, epochs, lrs, rule, sample_weight)
    order = _NO_ORDER if order is None else order
    SW = _NONE[real_name(params)].sw if sample_weight is None else sample_weight
    if not _unrolled(rule, shape):
        def one(k):
            train(shape, rule, params[k], velocity[k], X, Y, epochs, lrs[k], order, 1,
                  sample_weight)
        workers = min(threads or cores(), len(params))
        if workers <= 1:
            for k in range(len(params)):
                one(k)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, range(len(params))))
        return
    saving = limits.SAVING_MANY * epochs * X.shape[0] * len(params) + \
        limits.SAVING_PER_CALL
    weighted, real = SW.shape[0] > 0, real_name(params)
    kernels = tiers.pick(_entry(shape, rule, True, weighted, False, real), saving)
    opt, _, decay = _settings(params, rule.opt, 0.0, rule.weight_decay)
    lrs = lrs.astype(params.dtype, copy=False)
    previous = get_num_threads()
    if threads is not None:
        set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        if kernels is not None:
            kernels[0](params, X, Y, epochs, order, lrs, opt, decay, velocity, SW)
        else:
            lanes.train_lanes(params, velocity, shape.layout, shape.acts, rule.loss, X, Y,
                              epochs, order, lrs, opt, decay, shape.train_bias,
                              lanes.lanes(shape.n_params, params.itemsize), SW)
    finally:
        set_num_threads(previous)


def _unrolled(rule: Rule, shape: Shape) -> bool:
    """Does an unrolled kernel train this? (:func:`fastbp.kernels.limits.small_online`)"""
    return small_online(rule.batch_size, shape.n_params)


def epoch_seconds(shape: Shape, rule: Rule, n_samples: int) -> float:
    """About 5 ns per parameter per sample, the generic kernels' pace (numba's own
    first-call compilation is not included)."""
    return 5e-9 * n_samples * shape.n_params


# Each shape's unrolled kernels, by (Shape.key, loss, train_bias, method, decay, many); their
# loss kernels, once loaded, by (Shape.key, loss).
_entries: dict[tuple, tiers.Entry] = {}
_loss_kernels: dict[tuple, object] = {}
_by_rule: dict[tuple, tiers.Entry] = {}  # one network's, by (Shape.key, bias, Rule, ...)


def _entry(shape: Shape, rule: Rule, many: bool, weighted: bool = False,
           report: bool = False, real: str = "float64") -> tiers.Entry:
    layout, acts, train_bias, n_params = shape.layout, shape.acts, shape.train_bias, \
        shape.n_params
    method, decay = rule.method, rule.weight_decay != 0.0
    key = (shape.key, rule.loss, train_bias, method, decay, weighted, report, many, real)
    found = _entries.get(key)
    if found is None:
        spec = {"layout": layout.tolist(), "acts": acts.tolist(), "loss": int(rule.loss),
                "train_bias": bool(train_bias), "method": method, "decay": decay,
                "weighted": weighted, "report": report, "many": many, "real": real}

        def cost() -> float:
            if unrolled.writable_dir() is None:  # a compile elsewhere could not be kept
                return math.inf
            if unrolled.compiled_before(layout, acts, rule.loss, bool(train_bias),
                                        method, decay, weighted, report, many, real):
                return limits.LOAD
            base, per_param = limits.COMPILE_MANY if many else limits.COMPILE_ONE
            return base + per_param * n_params

        found = _entries[key] = tiers.Entry(
            f"{sizes_label(shape)}{' x many' if many else ''}"
            f"{'' if real == 'float64' else ' ' + real}", spec,
            lambda: compile_spec(spec), cost, f"{__name__}:compile_stdin")
    return found


def compile_spec(spec: dict) -> tuple[object, object]:
    """Compile (or load from numba's cache) the unrolled training and loss kernels that
    ``spec`` describes, for the argument types of every later call; mark them compiled
    (:func:`fastbp.kernels.unrolled.compiled_before`). Runs in the compiling
    process, then in the training one, where it loads what that process compiled."""
    layout = np.array(spec["layout"], dtype=np.int64).reshape(-1, 4)
    acts = np.array(spec["acts"], dtype=np.int64)
    loss, train_bias, method, decay, weighted, report, many, real = spec["loss"], \
        spec["train_bias"], spec["method"], spec["decay"], spec["weighted"], spec["report"], \
        spec["many"], spec["real"]
    run = unrolled.kernel(layout, acts, loss, train_bias, method, decay, weighted, report,
                          many, real)
    loss_run = unrolled.loss_kernel(layout, acts, loss, real)
    n_in, n_out, n_params = int(layout[0, 0]), int(layout[-1, 1]), int(layout[-1, 3] +
                                                                        layout[-1, 1])
    X, Y = np.zeros((1, n_in), real), np.zeros((1, n_out), real)
    params = np.zeros((2, n_params) if many else n_params, real)
    rule = Rule(0, adam=method == "adam")
    opt, lr, zero = rule.opt.astype(real), np.dtype(real).type(0.5), np.dtype(real).type(0.0)
    run(params, X, Y, 0, _NO_ORDER, np.full(2, lr) if many else lr, opt, zero,
        rule.new_state(n_params, 2 if many else None, real),
        np.ones(1, real) if weighted else _NONE[real].sw,
        *(() if many else (np.zeros((1, 2), real) if report else _NONE[real].r,)))
    loss_run(np.zeros(n_params, real), X, Y)
    _loss_kernels[layout.tobytes() + acts.tobytes(), loss, real] = loss_run
    unrolled.mark_compiled(layout, acts, loss, train_bias, method, decay, weighted, report,
                           many, real)
    return run, loss_run


def compile_stdin() -> None:
    """The compiling process of :class:`fastbp.kernels.tiers.Entry`: compile the
    spec read from stdin (JSON) into numba's cache."""
    spec = json.loads(sys.stdin.readline())
    tiers.watch_parent(sys.stdin)
    compile_spec(spec)


def expect(shape: Shape, rule: Rule, n_samples: int, count: int, epochs: int) -> None:
    """A run of ``epochs`` epochs of ``count`` networks is about to start: start compiling
    the shape's unrolled kernels now where that pays over the whole run."""
    if epochs > 0 and _unrolled(rule, shape):
        per = limits.SAVING_MANY if count > 1 else limits.SAVING_ONE
        tiers.expect(_entry(shape, rule, count > 1, False, False, shape.real),
                     per * epochs * n_samples * count)


_found: dict[tuple, str] = {}  # kernels found loaded or cached: they stay so


def generic_state(shape: Shape, rule: Rule, count: int) -> str:
    """Where the generic kernels a run of ``count`` networks needs are: ``"loaded"`` in
    this process, ``"cached"`` on disk (a fraction of a second to load), or ``"absent"``
    (this machine's first use compiles them, once)."""
    key = _generic_key(shape, rule, count)
    if _found.get(key) == "loaded":  # asked at every call of "auto"
        return "loaded"
    kernel = _run(shape.real)
    if _unrolled(rule, shape):
        kernel = lanes.kernel(rule.opt, False, shape.real) if count > 1 else \
            online.kernels(shape.real)["train_then_loss"]
    if kernel.signatures:
        _found[key] = "loaded"
        return "loaded"
    if key in _found:
        return _found[key]
    try:
        index = kernel._cache._cache_file._index_path  # numba's cache index of the kernel
    except AttributeError:  # another numba, or no cache: say the worst
        return "absent"
    if not os.path.exists(index):
        return "absent"  # asked again next time: a compile elsewhere may have ended
    _found[key] = "cached"
    return "cached"


def _generic_kind(shape: Shape, rule: Rule, count: int) -> str:
    if _unrolled(rule, shape):
        return "lanes" if count > 1 else "online"
    return "batched"


def _generic_key(shape: Shape, rule: Rule, count: int) -> tuple:
    """Which generic kernel a run needs: its kind, dtype and, for the lanes, the update."""
    kind = _generic_kind(shape, rule, count)
    return kind, shape.real, rule.method if kind == "lanes" else None


_announced: set[tuple[str, str]] = set()


def announce_compile(shape: Shape, rule: Rule, count: int) -> None:
    """Where the run about to start must wait for its generic kernels to compile (this
    machine's first use), say so on stderr, with the time it takes: once a process."""
    kind = _generic_kind(shape, rule, count)
    if (kind, shape.real) in _announced:
        return
    _announced.add((kind, shape.real))  # asked once: a later call has waited already
    if generic_state(shape, rule, count) != "absent":
        return
    print(f"fastbp: compiling numba's kernels on this machine's first use (about "
          f"{limits.COMPILE_SECONDS[kind]} s, once; cached afterwards)", file=sys.stderr,
          flush=True)


_background: dict[tuple, tiers.Entry] = {}


def compile_in_background(shape: Shape, rule: Rule, count: int) -> None:
    """Compile the generic kernels a run of this shape and rule needs in another process
    (the run goes on on another backend): at most once a process per kernel. The process
    ends with this one, as a shape's own kernels' compile does (:mod:`.tiers`)."""
    key = _generic_key(shape, rule, count)
    found = _background.get(key)
    if found is None:
        spec = {"layout": shape.layout.tolist(), "acts": shape.acts.tolist(),
                "train_bias": bool(shape.train_bias), "real": shape.real,
                "rule": list(rule), "count": int(count)}
        found = _background[key] = tiers.Entry(f"numba's {key[0]} kernels", spec,
                                               lambda: None, 0.0,
                                               f"{__name__}:compile_generic_stdin")
    found.poll()
    if found.state == "idle":
        found.start()


def compile_generic_stdin() -> None:
    """The process :func:`compile_in_background` starts: compile the generic kernels of
    the run described on stdin (JSON) into numba's cache."""
    spec = json.loads(sys.stdin.readline())
    tiers.watch_parent(sys.stdin)
    layout = np.array(spec["layout"], np.int64).reshape(-1, 4)
    shape = Shape.of(layout, np.array(spec["acts"], np.int64), spec["train_bias"],
                     spec["real"])
    compile_for(shape, Rule(*spec["rule"]), many=spec["count"] > 1, specialised=False)


def compiling() -> list[str]:
    """The shapes whose kernels compile in the background now."""
    return [e.label for e in _entries.values() if e.state == "compiling"]


def compile_for(shape: Shape, rule: Rule, many: bool = False,
                specialised: bool = True) -> list[str]:
    """Compile (or load) the kernels a run of this shape and rule uses, and wait: the
    generic ones and, for a small network trained online (unless ``specialised`` is
    False), its unrolled ones. Returns what it did, a line each."""
    began = time.perf_counter()
    n_in, n_out, real = int(shape.layout[0, 0]), int(shape.layout[-1, 1]), shape.real
    X, Y = np.zeros((2, n_in), real), np.zeros((2, n_out), real)
    params, velocity = np.zeros(shape.n_params, real), rule.new_state(shape.n_params, None, real)
    opt, lr, decay = _settings(params, rule.opt, 0.5, rule.weight_decay)
    SW, R = _NONE[real].sw, _NONE[real].r
    forward(shape, params, X, threads=1)
    gradients(shape, rule.loss, params, X, Y, threads=1)
    _batched(batched.LOSS, shape, _EVALUATE_LOSS[rule.loss], params, _NONE[real].grad, X, Y,
             out=np.empty((1, 1), real), threads=1)
    _batched(batched.TRAIN, shape, rule, params, velocity, X, Y, 0, 0.5, _NO_ORDER,
             threads=1)
    if _unrolled(rule, shape):
        online.kernels(real)["train_then_loss"](params, velocity, shape.layout, shape.acts,
                                                rule.loss, X, Y, 0, _NO_ORDER, lr, opt, decay,
                                                bool(shape.train_bias), True, SW, R)
    if many and _unrolled(rule, shape):
        lanes.train_lanes(np.zeros((2, shape.n_params), real),
                          rule.new_state(shape.n_params, 2, real), shape.layout, shape.acts,
                          rule.loss, X, Y, 0, _NO_ORDER, np.full(2, lr), opt, decay,
                          shape.train_bias, 2, SW)
    done = [f"generic kernels: {time.perf_counter() - began:.1f} s"]
    if specialised and _unrolled(rule, shape):
        found = _entry(shape, rule, many, False, False, real)
        began = time.perf_counter()
        found.wait()
        if found.state == "failed":
            raise RuntimeError(f"compiling the kernels for {found.label} failed: {found.error}")
        done.append(f"unrolled kernels for {found.label}: {time.perf_counter() - began:.1f} s")
    return done
