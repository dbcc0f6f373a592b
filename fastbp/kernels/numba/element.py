"""Per-element math of the numba kernels, shared by the per-sample and the batched ones.

Twins: ``_activate``, ``_derivative`` and ``_sample_loss`` in ``src_cython/_common.pxi``
and ``_kernels.pyx``; the oracle defines each number.
"""

from __future__ import annotations

import math

import numpy as np

from ...base.functions import LOGISTIC, RELU, SOFTMAX, SQUARED, TANH
from .jit import jit

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


@jit(inline="always")
def _derivative(code, out):
    """d out / d net in terms of the output (twin: ``_derivative``)."""
    if code == LOGISTIC:
        return out * (1.0 - out)
    if code == TANH:
        return 1.0 - out * out
    if code == RELU:
        return 1.0 if out > 0.0 else 0.0
    return 1.0


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
