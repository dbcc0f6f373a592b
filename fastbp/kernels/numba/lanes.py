"""Many small networks trained online side by side, one per vector lane, for any shape.

Twin: ``_train_lanes`` in ``src_cython/_lanes.pxi``. The layout is read at run time, so
this kernel is compiled once per machine (numba's on-disk cache) for every shape: the
generic tier of ``train_many``, which a new shape runs at once while its unrolled
``kernel_many`` (:mod:`fastbp.kernels.numba.unrolled`) is not compiled, or where that
would not pay (:mod:`fastbp.kernels.numba.tiers`).

Every value of a group of ``G`` networks lives in one scratch array, row by row
(``S[row * G + lane]``); each step is loops over the lanes, innermost, which LLVM
vectorises (glibc's exp inlined, where :func:`fastbp.kernels.glibc_exp.variant` has
verified it). Each lane does exactly the scalar operations of the oracle, so every
network has the bits of training it alone.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ...functions import SOFTMAX, SQUARED
from ..limits import GENERIC_LANES
from .batched import _squash
from .element import U, _derivative
from .jit import jit


@jit(parallel=True, internal=False)
def train_lanes(params, velocity, layout, acts, loss, X, Y, epochs, order, lrs, momentum,
                train_bias, exp_build, G):
    """Train every row of ``params`` (velocities ``velocity``) online with its own
    ``lrs[k]``, ``G`` networks per group, the groups in parallel. ``order`` holds
    ``epochs`` rows of sample indices, or has no rows for ``0..n-1``."""
    count = params.shape[0]
    groups = (count + G - 1) // G
    for group in prange(groups):
        first = group * G
        _train_group(params, velocity, first, min(G, count - first), G, layout, acts, loss,
                     X, Y, epochs, order, lrs, momentum, train_bias, exp_build)


@jit
def _train_group(params, velocity, first, g, G, layout, acts, loss, X, Y, epochs, order, lrs,
                 momentum, train_bias, exp_build):
    last = layout.shape[0]
    size = params.shape[1]
    n, n_top = X.shape[0], Y.shape[1]
    width = 0
    for layer in range(last):
        width += layout[layer, 1]
    # Rows: parameters, velocities, every layer's outputs, every layer's deltas, lr.
    rows = 2 * size + 2 * width + 1
    S = np.empty(rows * G)
    a_at = np.empty(last + 1, dtype=np.int64)
    a_at[0] = -1  # the inputs are the sample's own, the same in every lane
    a_at[1] = 2 * size
    for layer in range(1, last):
        a_at[layer + 1] = a_at[layer] + layout[layer - 1, 1]
    d_at = width  # a layer's deltas lie ``width`` rows after its outputs
    lr_row = U((rows - 1) * G)
    for lane in range(g):
        S[lr_row + U(lane)] = lrs[first + lane]
        for q in range(size):
            S[U(q * G + lane)] = params[first + lane, q]
            S[U((size + q) * G + lane)] = velocity[first + lane, q]
    shuffled = order.shape[0] == epochs
    for e in range(epochs):
        for pos in range(n):
            s = order[e, pos] if shuffled else pos
            for layer in range(last):
                n_in, n_out, w_at, b_at = layout[layer, 0], layout[layer, 1], \
                    layout[layer, 2], layout[layer, 3]
                for j in range(n_out):
                    zr = U((a_at[layer + 1] + j) * G)
                    for lane in range(g):
                        S[zr + U(lane)] = 0.0
                    for i in range(n_in):
                        wr = U((w_at + j * n_in + i) * G)
                        if layer == 0:
                            xi = X[s, i]
                            for lane in range(g):
                                S[zr + U(lane)] = S[zr + U(lane)] + S[wr + U(lane)] * xi
                        else:
                            ar = U((a_at[layer] + i) * G)
                            for lane in range(g):
                                S[zr + U(lane)] = S[zr + U(lane)] + \
                                    S[wr + U(lane)] * S[ar + U(lane)]
                    wr = U((b_at + j) * G)
                    for lane in range(g):
                        S[zr + U(lane)] = S[zr + U(lane)] + S[wr + U(lane)]
                _activate_lanes(acts[layer], S, a_at[layer + 1], n_out, G, g, exp_build)
            # The output deltas (twin: _output_deltas), then each hidden layer's.
            a_out = a_at[last]
            if loss == SQUARED and acts[last - 1] == SOFTMAX:
                for lane in range(g):
                    xi = 0.0
                    for k in range(n_top):
                        o = S[U((a_out + k) * G + lane)]
                        xi += (o - Y[s, k]) * o
                    for k in range(n_top):
                        o = S[U((a_out + k) * G + lane)]
                        S[U((a_out + d_at + k) * G + lane)] = o * ((o - Y[s, k]) - xi)
            else:
                top = acts[last - 1]
                for k in range(n_top):
                    ar = U((a_out + k) * G)
                    dr = U((a_out + d_at + k) * G)
                    ti = Y[s, k]
                    if loss != SQUARED:
                        for lane in range(g):
                            S[dr + U(lane)] = S[ar + U(lane)] - ti
                    else:
                        for lane in range(g):
                            S[dr + U(lane)] = (S[ar + U(lane)] - ti) * _derivative(
                                top, S[ar + U(lane)])
            for layer in range(last - 1, 0, -1):
                n_h, n_next, w_at = layout[layer, 0], layout[layer, 1], layout[layer, 2]
                below = acts[layer - 1]
                for j in range(n_h):
                    zr = U((a_at[layer] + d_at + j) * G)
                    for lane in range(g):
                        S[zr + U(lane)] = 0.0
                    for k in range(n_next):
                        dr = U((a_at[layer + 1] + d_at + k) * G)
                        wr = U((w_at + k * n_h + j) * G)
                        for lane in range(g):
                            S[zr + U(lane)] = S[zr + U(lane)] + S[dr + U(lane)] * S[wr + U(lane)]
                    ar = U((a_at[layer] + j) * G)
                    for lane in range(g):
                        S[zr + U(lane)] = S[zr + U(lane)] * _derivative(below, S[ar + U(lane)])
            # Every delta above used the weights from before this step; now update.
            for layer in range(last):
                n_in, n_out, w_at, b_at = layout[layer, 0], layout[layer, 1], \
                    layout[layer, 2], layout[layer, 3]
                for j in range(n_out):
                    dr = U((a_at[layer + 1] + d_at + j) * G)
                    for i in range(n_in + 1 if train_bias else n_in):
                        q = w_at + j * n_in + i if i < n_in else b_at + j
                        pr, vr = U(q * G), U((size + q) * G)
                        if layer > 0 and i < n_in:
                            _update_lanes(S, pr, vr, dr, U((a_at[layer] + i) * G), True, 0.0,
                                          lr_row, g, momentum)
                        else:
                            xi = X[s, i] if i < n_in else 1.0
                            _update_lanes(S, pr, vr, dr, U(0), False, xi, lr_row, g, momentum)
    for lane in range(g):
        for q in range(size):
            params[first + lane, q] = S[U(q * G + lane)]
            velocity[first + lane, q] = S[U((size + q) * G + lane)]


@jit(inline="always")
def _activate_lanes(code, S, at, n, G, g, exp_build):
    """Squash the ``n`` rows of net inputs from row ``at`` lane by lane (twin:
    ``_activate_lanes``)."""
    if code == SOFTMAX:
        for lane in range(g):
            largest = S[U(at * G + lane)]
            for j in range(1, n):
                if S[U((at + j) * G + lane)] > largest:
                    largest = S[U((at + j) * G + lane)]
            total = 0.0
            for j in range(n):
                S[U((at + j) * G + lane)] = math.exp(S[U((at + j) * G + lane)] - largest)
                total += S[U((at + j) * G + lane)]
            for j in range(n):
                S[U((at + j) * G + lane)] = S[U((at + j) * G + lane)] / total
        return
    for j in range(n):  # elementwise: each row's lanes as one layer of g neurons
        _squash(code, S, U((at + j) * G), g, exp_build)


@jit(inline="always")
def _update_lanes(S, pr, vr, dr, ar, from_lanes, xi, lr_row, g, momentum):
    """``g = 0 + d a`` (``a`` a lane's input row, or the sample's ``xi``), then
    ``p -= lr g``, or ``v = m v - lr g; p += v``, in every lane (twin: ``_update_lanes``)."""
    if from_lanes and momentum == 0.0:
        for lane in range(g):
            S[pr + U(lane)] = S[pr + U(lane)] - S[lr_row + U(lane)] * (
                0.0 + S[dr + U(lane)] * S[ar + U(lane)])
    elif from_lanes:
        for lane in range(g):
            grad = 0.0 + S[dr + U(lane)] * S[ar + U(lane)]
            S[vr + U(lane)] = momentum * S[vr + U(lane)] - S[lr_row + U(lane)] * grad
            S[pr + U(lane)] = S[pr + U(lane)] + S[vr + U(lane)]
    elif momentum == 0.0:
        for lane in range(g):
            S[pr + U(lane)] = S[pr + U(lane)] - S[lr_row + U(lane)] * (
                0.0 + S[dr + U(lane)] * xi)
    else:
        for lane in range(g):
            grad = 0.0 + S[dr + U(lane)] * xi
            S[vr + U(lane)] = momentum * S[vr + U(lane)] - S[lr_row + U(lane)] * grad
            S[pr + U(lane)] = S[pr + U(lane)] + S[vr + U(lane)]


def lanes(n_params: int) -> int:
    """Networks per group: :data:`fastbp.kernels.limits.GENERIC_LANES`, where Cython's twin
    (``lanes`` in _kernels.pyx) takes 16 or 8 above 32 parameters (the scratch, 80 kB for
    128 parameters, stays in L2)."""
    return GENERIC_LANES
