"""One network trained online, one sample at a time, for any shape: the generic tier of a
small network's ``train`` (:mod:`fastbp.kernels.numba.tiers`).

The oracle's loops over the network's own layout, compiled once per machine: no working
copies, no buffers for a batch, a dozen arguments. On a small network that is what a
short call spends its time on, and what the batched kernel (:func:`batched.run`)
spends more of per sample (twin: ``_forward_sample``, ``_deltas`` and ``_step_sample``
in _kernels.pyx, which train Cython's networks online beyond its unrolled copies).
"""

from __future__ import annotations

import numpy as np

from ...functions import SOFTMAX, SQUARED
from .element import _activate, _derivative, _sample_loss
from .jit import jit


@jit(internal=False)
def train_then_loss(params, velocity, layout, acts, loss, X, Y, epochs, order, lr, momentum,
                    train_bias, evaluate):
    """Train ``params`` (and the momentum ``velocity``) in place, online, for ``epochs``
    epochs (epoch ``e`` visits ``order[e]``, or ``0..n-1`` where ``order`` has no rows);
    then, with ``evaluate``, return the mean loss over ``X, Y``, or NaN, without
    measuring, where a parameter is not finite (else 0)."""
    last, n = layout.shape[0], X.shape[0]
    at = _starts(layout)
    a, d = np.empty(at[last + 1]), np.empty(at[last + 1])  # ``d`` as ``a``, from layer 1
    shuffled = order.shape[0] == epochs
    for e in range(epochs):
        for pos in range(n):
            s = order[e, pos] if shuffled else pos
            _forward(params, layout, acts, X, s, a, at)
            _backward(params, layout, acts, loss, Y, s, a, d, at)
            # Every delta above used the weights from before this step; now update.
            for layer in range(last):
                n_in, n_out, w_at, b_at = layout[layer]
                below, here = at[layer], at[layer + 1]
                for j in range(n_out):
                    delta = d[here + j]
                    for i in range(n_in + 1 if train_bias else n_in):
                        q = w_at + j * n_in + i if i < n_in else b_at + j
                        g = 0.0 + delta * a[below + i] if i < n_in else 0.0 + delta
                        if momentum == 0.0:
                            params[q] = params[q] - lr * g
                        else:
                            velocity[q] = momentum * velocity[q] - lr * g
                            params[q] = params[q] + velocity[q]
    if not evaluate:
        return 0.0
    for q in range(params.shape[0]):
        if not np.isfinite(params[q]):
            return np.nan
    return mean_loss(params, layout, acts, loss, X, Y)


@jit(internal=False)
def gradients(params, layout, acts, loss, X, Y, decay, grad):
    """The gradient of the mean loss into ``grad`` (zeros, flat like ``params``): each sum
    over the samples in their order, plus ``decay * w`` for a weight, over their number."""
    last = layout.shape[0]
    at = _starts(layout)
    a, d = np.empty(at[last + 1]), np.empty(at[last + 1])
    for s in range(X.shape[0]):
        _forward(params, layout, acts, X, s, a, at)
        _backward(params, layout, acts, loss, Y, s, a, d, at)
        for layer in range(last):
            n_in, n_out, w_at, b_at = layout[layer]
            below, here = at[layer], at[layer + 1]
            for j in range(n_out):
                for i in range(n_in):
                    grad[w_at + j * n_in + i] += d[here + j] * a[below + i]
                grad[b_at + j] += d[here + j]
    for layer in range(last):
        for q in range(layout[layer, 2], layout[layer, 3]):  # the weights
            if decay != 0.0:
                grad[q] = grad[q] + decay * params[q]
    for q in range(grad.shape[0]):
        grad[q] = grad[q] / X.shape[0]


@jit(inline="always")
def _backward(params, layout, acts, loss, Y, s, a, d, at):
    """Sample ``s``'s deltas of every layer into ``d`` (laid out as ``a``), from the
    current weights, as the oracle's ``sample_deltas``."""
    last, n_top = layout.shape[0], Y.shape[1]
    top, out = acts[last - 1], at[last]
    if loss != SQUARED:  # cross-entropy with logistic or softmax outputs
        for k in range(n_top):
            d[out + k] = a[out + k] - Y[s, k]
    elif top == SOFTMAX:
        total = 0.0
        for k in range(n_top):
            total += (a[out + k] - Y[s, k]) * a[out + k]
        for k in range(n_top):
            d[out + k] = a[out + k] * ((a[out + k] - Y[s, k]) - total)
    else:
        for k in range(n_top):
            d[out + k] = (a[out + k] - Y[s, k]) * _derivative(top, a[out + k])
    for layer in range(last - 1, 0, -1):
        n_h, n_next, w_at = layout[layer, 0], layout[layer, 1], layout[layer, 2]
        here, after = at[layer], at[layer + 1]
        for j in range(n_h):
            total = 0.0
            for k in range(n_next):
                total += d[after + k] * params[w_at + k * n_h + j]
            d[here + j] = total * _derivative(acts[layer - 1], a[here + j])


@jit(internal=False)
def mean_loss(params, layout, acts, loss, X, Y):
    """The mean per-sample loss over ``X, Y``, summed in sample order, then divided."""
    last = layout.shape[0]
    at = _starts(layout)
    a = np.empty(at[last + 1])
    total = 0.0
    for s in range(X.shape[0]):
        _forward(params, layout, acts, X, s, a, at)
        total += _sample_loss(loss, acts[last - 1], a, at[last], Y, s)
    return total / X.shape[0]


@jit(internal=False)
def forward(params, layout, acts, X, out):
    """The outputs of every row of ``X`` into ``out``."""
    last = layout.shape[0]
    at = _starts(layout)
    a = np.empty(at[last + 1])
    for s in range(X.shape[0]):
        _forward(params, layout, acts, X, s, a, at)
        for k in range(out.shape[1]):
            out[s, k] = a[at[last] + k]


@jit(inline="always")
def _starts(layout):
    """Each layer's outputs' start in a sample's activations (0: the input), their end last."""
    last = layout.shape[0]
    at = np.empty(last + 2, dtype=np.int64)
    at[0], at[1] = 0, layout[0, 0]
    for layer in range(last):
        at[layer + 2] = at[layer + 1] + layout[layer, 1]
    return at


@jit(inline="always")
def _forward(params, layout, acts, X, s, a, at):
    """Sample ``s``'s outputs of every layer into ``a``: net_j = ((0 + W[j,0] x[0]) +
    W[j,1] x[1]) + ... then + b[j], as the oracle's ``forward_sample``."""
    for i in range(layout[0, 0]):
        a[i] = X[s, i]
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer]
        below, here = at[layer], at[layer + 1]
        for j in range(n_out):
            total = 0.0
            for i in range(n_in):
                total += params[w_at + j * n_in + i] * a[below + i]
            a[here + j] = total + params[b_at + j]
        _activate(acts[layer], a, here, n_out)
