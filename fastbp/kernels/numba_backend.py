"""The ``"numba"`` backend: JIT-compiled kernels, bit-identical to the oracle.

Each kernel mirrors its Cython twin in ``src_cython/_kernels.pyx`` and follows
the canonical order of :mod:`fastbp.kernels.oracle`. A kernel may run loops in
another order (several neurons at once, say) so long as every individual sum
still adds its terms in the canonical order. No fastmath: it would reorder sums
and break the bitwise contract.

Kernels work on a copy of the parameters in which each ``W_l`` is stored
transposed, ``(n_in, n_out)``: the forward pass then runs over a layer's
neurons in the innermost loop, which vectorises, while each neuron's sum
still adds its inputs in order. Working memory for one sample is a flat
buffer of every layer's activations (``at`` gives each layer's start; layer 0
is the input) and one of deltas laid out the same way. Per-sample code makes no
views (each costs reference-counting calls) and indexes ``buf[base + U(j)]``:
an unsigned index spares numba's negative-index check, which would stop LLVM
from vectorising, while ``j`` still runs over a plain ``range``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

try:
    from numba import get_num_threads, prange, set_num_threads
except ImportError as exc:  # pragma: no cover - numba is a hard dependency
    raise ImportError(f"numba is not installed ({exc}); pip install numba") from None

from ..functions import LOGISTIC, RELU, SOFTMAX, SQUARED, TANH
from . import numba_unrolled
from .numba_jit import jit
from .protocol import Rule, Shape

NAME = "numba"


# An unsigned index: numba checks a signed one for negative values, which
# stops LLVM from vectorising the loop around it.
U = np.uint64


@jit(inline="always")
def _activate(code, z, at, n):
    """Squash ``z[at:at+n]`` in place (twin: ``_activate`` in _kernels.pyx)."""
    if code == LOGISTIC:
        for j in range(n):
            z[at + U(j)] = 1.0 / (1.0 + math.exp(-z[at + U(j)]))
    elif code == TANH:
        for j in range(n):
            z[at + U(j)] = math.tanh(z[at + U(j)])
    elif code == RELU:
        for j in range(n):
            if not z[at + U(j)] > 0.0:
                z[at + U(j)] = 0.0
    elif code == SOFTMAX:
        largest = z[at]
        for j in range(1, n):
            if z[at + U(j)] > largest:
                largest = z[at + U(j)]
        total = 0.0
        for j in range(n):
            z[at + U(j)] = math.exp(z[at + U(j)] - largest)
            total += z[at + U(j)]
        for j in range(n):
            z[at + U(j)] = z[at + U(j)] / total


@jit
def _derivative(code, out):
    """d out / d net in terms of the output (twin: ``_derivative``)."""
    if code == LOGISTIC:
        return out * (1.0 - out)
    if code == TANH:
        return 1.0 - out * out
    if code == RELU:
        return 1.0 if out > 0.0 else 0.0
    return 1.0


@jit
def _forward_sample(work, layout, acts, X, s, a, at):
    """Fill ``a`` with every layer's outputs for sample ``s`` (twin: ``_forward_sample``).

    net_j = ((0 + W[j,0] a[0]) + W[j,1] a[1]) + ... then + b[j] for eight neurons
    at a time, each summed in input order in its own register: the transposed
    weights put the eight side by side, so the loads vectorise.
    """
    for i in range(at[1]):
        a[U(i)] = X[s, i]
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer]
        inp, net = U(at[layer]), U(at[layer + 1])
        j = 0
        while j + 8 <= n_out:
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
            for i in range(n_in):
                x = a[inp + U(i)]
                r = U(w_at + i * n_out + j)
                s0 += work[r] * x
                s1 += work[r + U(1)] * x
                s2 += work[r + U(2)] * x
                s3 += work[r + U(3)] * x
                s4 += work[r + U(4)] * x
                s5 += work[r + U(5)] * x
                s6 += work[r + U(6)] * x
                s7 += work[r + U(7)] * x
            o, b = net + U(j), U(b_at + j)
            a[o] = s0 + work[b]
            a[o + U(1)] = s1 + work[b + U(1)]
            a[o + U(2)] = s2 + work[b + U(2)]
            a[o + U(3)] = s3 + work[b + U(3)]
            a[o + U(4)] = s4 + work[b + U(4)]
            a[o + U(5)] = s5 + work[b + U(5)]
            a[o + U(6)] = s6 + work[b + U(6)]
            a[o + U(7)] = s7 + work[b + U(7)]
            j += 8
        while j < n_out:
            s0 = 0.0
            for i in range(n_in):
                s0 += work[U(w_at + i * n_out + j)] * a[inp + U(i)]
            a[net + U(j)] = s0 + work[U(b_at + j)]
            j += 1
        _activate(acts[layer], a, net, n_out)


@jit(inline="always")
def _sample_loss(loss, out_code, a, out, Y, s):
    """Loss of sample ``s``, its outputs at ``a[out:]`` (twin: ``_sample_loss``); 0 log 0 is 0."""
    total = 0.0
    for k in range(Y.shape[1]):
        o = a[U(out + k)]
        t = Y[s, k]
        if loss == SQUARED:
            e = t - o
            total += 0.5 * (e * e)
        else:
            term = 0.0 if t == 0.0 else t * math.log(o)
            if out_code != SOFTMAX:
                u = 1.0 - t
                term = term + (0.0 if u == 0.0 else u * math.log(1.0 - o))
            total -= term
    return total


@jit(inline="always")
def _deltas(work, layout, acts, loss, Y, s, a, at, d):
    """Every layer's deltas for sample ``s``, from the current weights (twin: ``_deltas``)."""
    last = layout.shape[0] - 1
    out, n_out = U(at[last + 1]), layout[last, 1]
    code = acts[last]
    if loss != SQUARED:
        for k in range(n_out):
            d[out + U(k)] = a[out + U(k)] - Y[s, k]
    elif code == SOFTMAX:
        total = 0.0
        for k in range(n_out):
            o = a[out + U(k)]
            total += (o - Y[s, k]) * o
        for k in range(n_out):
            o = a[out + U(k)]
            d[out + U(k)] = o * ((o - Y[s, k]) - total)
    else:
        for k in range(n_out):
            o = a[out + U(k)]
            d[out + U(k)] = (o - Y[s, k]) * _derivative(code, o)
    for layer in range(last, 0, -1):
        # The hidden layer feeding weights ``layer``: sum over the next layer's
        # neurons k in order, W[k, j] read from the transposed copy as W[j, k].
        n_h, n_next, w_at = layout[layer, 0], layout[layer, 1], layout[layer, 2]
        h, nxt = U(at[layer]), U(at[layer + 1])
        code = acts[layer - 1]
        for j in range(n_h):
            row = U(w_at + j * n_next)
            total = 0.0
            for k in range(n_next):
                total += d[nxt + U(k)] * work[row + U(k)]
            d[h + U(j)] = total * _derivative(code, a[h + U(j)])


@jit(inline="always")
def _accumulate(layout, a, at, d, grad):
    """grad += this sample's gradient, in the working layout (twin: ``_accumulate``)."""
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer]
        inp, out = U(at[layer]), U(at[layer + 1])
        for i in range(n_in):
            ai = a[inp + U(i)]
            row = U(w_at + i * n_out)
            for j in range(n_out):
                grad[row + U(j)] += d[out + U(j)] * ai
        for j in range(n_out):
            grad[U(b_at + j)] += d[out + U(j)]


@jit(inline="always")
def _step_online(work, layout, a, at, d, lr, momentum, velocity, train_bias):
    """Apply one sample's gradient ``g = (0 + d a) / 1``: ``w -= lr * g``, or with
    momentum ``v = m v - lr g; w += v`` (twin: ``_step_online``).

    The momentum test stays outside the innermost loops, which then vectorise.
    """
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer]
        inp, out = U(at[layer]), U(at[layer + 1])
        for i in range(n_in + 1 if train_bias else n_in):
            row, ai = (U(w_at + i * n_out), a[inp + U(i)]) if i < n_in else (U(b_at), 1.0)
            if momentum == 0.0:
                for j in range(n_out):
                    work[row + U(j)] = work[row + U(j)] - lr * (0.0 + d[out + U(j)] * ai)
            else:
                for j in range(n_out):
                    q = row + U(j)
                    velocity[q] = momentum * velocity[q] - lr * (0.0 + d[out + U(j)] * ai)
                    work[q] = work[q] + velocity[q]


@jit(inline="always")
def _step_batch(work, layout, grad, size, lr, momentum, velocity, train_bias):
    """Apply a batch's summed gradient divided by its size (twin: ``_step_batch``)."""
    for layer in range(layout.shape[0]):
        w_at, b_at, n_out = layout[layer, 2], layout[layer, 3], layout[layer, 1]
        count = (b_at - w_at) + (n_out if train_bias else 0)
        base = U(w_at)
        for q in range(count):
            g = grad[base + U(q)] / size
            if momentum == 0.0:
                work[base + U(q)] = work[base + U(q)] - lr * g
            else:
                velocity[base + U(q)] = momentum * velocity[base + U(q)] - lr * g
                work[base + U(q)] = work[base + U(q)] + velocity[base + U(q)]


# Cold compilation, not run time, decides the shape of what follows. Numba
# compiles each jitted function as a module of its own, optimised and turned into
# machine code, then links it into each caller's module and optimises and compiles
# it again there. So there is one compiled entry point for every task, with one
# loop over samples, in which each helper is called once and inlined into it at
# numba's IR level (``inline="always"``) rather than compiled on its own;
# ``_forward_sample`` stays a function of its own, since inlining it saves nothing.
# Buffers are allocated, and weights transposed, by NumPy in Python: in numba each
# ``np.empty`` and the transposition would be one more function to compile, and
# out here they cost microseconds per call.
FORWARD, LOSS, GRADIENTS, TRAIN = 0, 1, 2, 3


@jit(internal=False)
def _run(task, work, layout, acts, loss, X, Y, epochs, order, lr, batch_size, momentum, vel,
         train_bias, at, a, d, grad, out):
    """Run ``task`` on one network in the working layout (see ``_to_work``).

    ``at`` holds each layer's start in the activation buffer ``a`` (deltas
    ``d`` alike); ``grad`` is a buffer of the size of ``work``. ``out``
    receives the outputs (FORWARD) or the mean loss (LOSS); GRADIENTS leaves the
    summed gradient in ``grad``; TRAIN updates ``work`` and ``vel`` in place.
    Twin: ``_train_one`` (TRAIN) and ``_evaluate`` (the others) in _kernels.pyx.
    """
    last = layout.shape[0]
    n = X.shape[0]
    training = task == TRAIN
    online = training and batch_size == 1
    shuffled = training and order.shape[0] == epochs
    chunk = batch_size if training else n  # gradients: one batch of every sample
    total = 0.0
    for epoch in range(epochs if training else 1):
        for start in range(0, n, chunk):
            stop = start + chunk if start + chunk < n else n
            for q in range(grad.shape[0]):
                grad[q] = 0.0
            for pos in range(start, stop):
                s = order[epoch, pos] if shuffled else pos
                _forward_sample(work, layout, acts, X, s, a, at)
                if task == FORWARD:
                    for k in range(out.shape[1]):
                        out[s, k] = a[U(at[last] + k)]
                elif task == LOSS:
                    total += _sample_loss(loss, acts[last - 1], a, at[last], Y, s)
                else:
                    _deltas(work, layout, acts, loss, Y, s, a, at, d)
                    if online:
                        _step_online(work, layout, a, at, d, lr, momentum, vel, train_bias)
                    else:
                        _accumulate(layout, a, at, d, grad)
            if training and not online:
                _step_batch(work, layout, grad, float(stop - start), lr, momentum, vel,
                            train_bias)
    if task == LOSS:
        out[0, 0] = total / n


def _to_work(flat, layout, back=False):
    """A copy of ``flat`` (parameters, velocities; last axis) with every ``W`` transposed
    to ``(n_in, n_out)``, the kernels' working layout; ``back=True`` undoes it
    (twin: ``_transpose_weights`` in _kernels.pyx)."""
    out = np.array(flat, dtype=np.float64, order="C", copy=True)
    for n_in, n_out, w_at, b_at in layout.tolist():
        shape = (n_in, n_out) if back else (n_out, n_in)
        block = flat[..., w_at:b_at].reshape(*flat.shape[:-1], *shape)
        out[..., w_at:b_at] = np.swapaxes(block, -1, -2).reshape(*flat.shape[:-1], -1)
    return out


def _buffers(layout):
    """``at`` (each layer's start in the activation buffer; its size last), and the
    activation and delta buffers."""
    at = np.zeros(layout.shape[0] + 2, dtype=np.int64)
    at[1] = layout[0, 0]
    at[2:] = layout[0, 0] + np.cumsum(layout[:, 1])
    return at, np.empty(at[-1]), np.empty(at[-1])


_NO_Y = np.empty((0, 0))
_NO_ORDER = np.empty((0, 0), dtype=np.int64)
_NO_GRAD = np.empty(0)


def forward(shape: Shape, params, X):
    """Outputs for every row of ``X`` (twin: ``forward``)."""
    layout, acts, _ = shape
    out = np.empty((X.shape[0], int(layout[-1, 1])))
    _run(FORWARD, _to_work(params, layout), layout, acts, 0, X, _NO_Y, 0, _NO_ORDER, 0.0, 1,
         0.0, _NO_GRAD, False, *_buffers(layout), _NO_GRAD, out)
    return out


def mean_loss(shape: Shape, loss: int, params, X, Y):
    """Mean per-sample loss, summed in sample order then divided (twin: ``mean_loss``)."""
    layout, acts, _ = shape
    if numba_unrolled.suitable(layout):
        return numba_unrolled.loss_kernel(layout, acts, loss)(params, X, Y)
    out = np.empty((1, 1))
    _run(LOSS, _to_work(params, layout), layout, acts, loss, X, Y, 0, _NO_ORDER, 0.0, 1, 0.0,
         _NO_GRAD, False, *_buffers(layout), _NO_GRAD, out)
    return out[0, 0]


def gradients(shape: Shape, loss: int, params, X, Y):
    """Gradient of the mean loss, flat like ``params`` (twin: ``gradients``)."""
    layout, acts, _ = shape
    grad = np.empty(params.shape[0])
    _run(GRADIENTS, _to_work(params, layout), layout, acts, loss, X, Y, 0, _NO_ORDER, 0.0, 1,
         0.0, _NO_GRAD, False, *_buffers(layout), grad, _NO_Y)
    # Summed in the working layout; the division is the same elementwise either way.
    return _to_work(grad, layout, back=True) / X.shape[0]


def train(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lr, order=None):
    """Train in place; the oracle's ``train`` defines every option (twin: ``train``).

    Online training of a small network runs a kernel unrolled for its shape
    (:mod:`fastbp.kernels.numba_unrolled`); everything else the generic one,
    on working copies with transposed weights.
    """
    layout, acts, train_bias = shape
    loss, batch_size, momentum = rule
    order = _NO_ORDER if order is None else order
    if batch_size == 1 and numba_unrolled.suitable(layout):
        run = numba_unrolled.kernel(layout, acts, loss, bool(train_bias), momentum != 0.0)
        run(params, X, Y, epochs, order, lr, momentum, velocity)
        return
    work, vel = _to_work(params, layout), _to_work(velocity, layout)
    grad = np.empty(params.shape[0]) if batch_size > 1 else _NO_GRAD
    _run(TRAIN, work, layout, acts, loss, X, Y, epochs, order, lr, batch_size, momentum, vel,
         bool(train_bias), *_buffers(layout), grad, _NO_Y)
    params[:] = _to_work(work, layout, back=True)
    velocity[:] = _to_work(vel, layout, back=True)


@jit(parallel=True, internal=False)
def _train_many_generic(work, layout, acts, loss, X, Y, epochs, order, lrs, batch_size,
                        momentum, vel, train_bias, at, out):
    for k in prange(work.shape[0]):
        a, d = np.empty(at[-1]), np.empty(at[-1])
        grad = np.empty(work.shape[1] if batch_size > 1 else 0)
        _run(TRAIN, work[k], layout, acts, loss, X, Y, epochs, order, lrs[k], batch_size,
             momentum, vel[k], train_bias, at, a, d, grad, out)


def train_many(shape: Shape, rule: Rule, params, velocity, X, Y, epochs, lrs, order=None,
               threads=None):
    """``train`` every row of ``params`` with its own ``lrs[k]``, in parallel over rows.

    Small networks run ``kernel_many`` from :mod:`fastbp.kernels.numba_unrolled`
    (several networks interleaved per thread); others the generic kernels.
    """
    layout, acts, train_bias = shape
    loss, batch_size, momentum = rule
    order = _NO_ORDER if order is None else order
    previous = get_num_threads()
    if threads is not None:
        set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        if batch_size == 1 and numba_unrolled.suitable(layout):
            run = numba_unrolled.kernel(layout, acts, loss, bool(train_bias), momentum != 0.0,
                                        many=True)
            run(params, X, Y, epochs, order, lrs, momentum, velocity)
        else:
            work, vel = _to_work(params, layout), _to_work(velocity, layout)
            _train_many_generic(work, layout, acts, loss, X, Y, epochs, order, lrs, batch_size,
                                momentum, vel, bool(train_bias), _buffers(layout)[0], _NO_Y)
            params[:] = _to_work(work, layout, back=True)
            velocity[:] = _to_work(vel, layout, back=True)
    finally:
        set_num_threads(previous)


def epoch_seconds(shape: Shape, rule: Rule, n_samples: int) -> float:
    """About 5 ns per parameter per sample, the generic kernels' pace (numba's own
    first-call compilation is not included)."""
    return 5e-9 * n_samples * shape.n_params
