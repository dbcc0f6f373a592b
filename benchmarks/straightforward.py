"""A straightforward @njit training loop: the baseline the tuned kernels are compared with.

One neuron at a time, weights row-major as stored, no specialisation; the same
canonical arithmetic (so it gives the same bits), written the obvious way.
"""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def train_online_logistic(params, layout, X, Y, epochs, lr, train_bias):
    n_layers = layout.shape[0]
    size = layout[0, 0]
    for layer in range(n_layers):
        size += layout[layer, 1]
    a = np.empty(size)
    d = np.empty(size)
    at = np.zeros(n_layers + 2, dtype=np.int64)
    at[1] = layout[0, 0]
    for layer in range(n_layers):
        at[layer + 2] = at[layer + 1] + layout[layer, 1]
    for _ in range(epochs):
        for s in range(X.shape[0]):
            for i in range(X.shape[1]):
                a[i] = X[s, i]
            for layer in range(n_layers):
                n_in, n_out, w_at, b_at = layout[layer]
                for j in range(n_out):
                    total = 0.0
                    for i in range(n_in):
                        total += params[w_at + j * n_in + i] * a[at[layer] + i]
                    a[at[layer + 1] + j] = 1.0 / (1.0 + math.exp(-(total + params[b_at + j])))
            out = at[n_layers]
            for k in range(layout[n_layers - 1, 1]):
                o = a[out + k]
                d[out + k] = (o - Y[s, k]) * (o * (1.0 - o))
            for layer in range(n_layers - 1, 0, -1):
                n_h, n_next, w_at, _ = layout[layer]
                for j in range(n_h):
                    total = 0.0
                    for k in range(n_next):
                        total += d[at[layer + 1] + k] * params[w_at + k * n_h + j]
                    h = a[at[layer] + j]
                    d[at[layer] + j] = total * (h * (1.0 - h))
            for layer in range(n_layers):
                n_in, n_out, w_at, b_at = layout[layer]
                for j in range(n_out):
                    dj = d[at[layer + 1] + j]
                    for i in range(n_in):
                        q = w_at + j * n_in + i
                        params[q] = params[q] - lr * (0.0 + dj * a[at[layer] + i])
                    if train_bias:
                        params[b_at + j] = params[b_at + j] - lr * (0.0 + dj)
