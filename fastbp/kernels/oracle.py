"""The oracle backend, ``"python"``: the definition of every number fastbp prints.

Plain loops over Python lists and floats with ``math.exp``, in the canonical
order of arithmetic (``docs/design.md``), written to be checked by eye
against the reference text. Every other backend must reproduce these bits.

A float32 network runs the same loops over NumPy float32 scalars: every operation of two
of them (or of one and a Python float, NumPy's "weak" scalar) is IEEE single arithmetic,
rounded once. Its ``exp`` is fastbp's float32 exp (:mod:`fastbp.kernels.exp32`, a
sequence of float32 operations without fused multiply-adds). The C library's other
functions (``tanh``, ``log``, ``sqrt``) take the float32 value as a double and their
result is rounded to float32 (:func:`_like`); every setting (``lr``, momentum, Adam's) is
rounded to float32 before its first use.

The kernels (``forward``, ``mean_loss``, ``gradients``, ``train``,
``train_many``) share one signature across backends, written down in
:mod:`fastbp.kernels.protocol`; the list-based helpers above them are the
oracle's own, used by :mod:`fastbp.trace` and :mod:`fastbp.tutorial`.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..base.functions import LOGISTIC, RELU, SOFTMAX, SQUARED, TANH
from .exp32 import exp32
from .protocol import (
    Rule,
    Shape,
    all_finite,
    always_loaded,
    compile_nothing,
    compiling_nothing,
    expect_nothing,
    gradients_from,
)

NAME = "python"
THREADED = False  # serial: threads changes nothing
DTYPES = ("float64", "float32")

# Nothing compiles at run time: nothing to announce, load or compile (the Protocol).
expect, generic_state, compile_for, compiling = (expect_nothing, always_loaded,
                                                 compile_nothing, compiling_nothing)


def _like(x, value: float):
    """``value`` (a double) as the type of ``x``: a float, or rounded to a float32."""
    return value if type(x) is float else type(x)(value)


def _exp(z: float) -> float:
    if type(z) is not float:
        return exp32(z)
    # C's exp returns inf on overflow where Python's raises; keep C's answer.
    try:
        return _like(z, math.exp(z))
    except OverflowError:
        return _like(z, math.inf)


def _log(x: float) -> float:
    # C's log: -inf at 0, nan below 0 or at nan; Python raises instead.
    if x > 0.0:
        return _like(x, math.log(x))
    if x == 0.0:
        return _like(x, -math.inf)
    return _like(x, math.nan)


def sqrt(x: float) -> float:
    return _like(x, math.sqrt(x))


def _xlogy(x: float, y: float) -> float:
    # 0 * log(0) counts as 0, as in scipy.special.xlogy.
    return 0.0 if x == 0.0 else x * _log(y)


def activate(code: int, net: list[float]) -> list[float]:
    """Squash one layer's net inputs with activation ``code``."""
    if code == LOGISTIC:
        return [1.0 / (1.0 + _exp(-z)) for z in net]
    if code == TANH:
        return [_like(z, math.tanh(z)) for z in net]
    if code == RELU:
        return [z if z > 0.0 else 0.0 for z in net]
    if code == SOFTMAX:
        largest = net[0]
        for z in net[1:]:
            if z > largest:
                largest = z
        e = [_exp(z - largest) for z in net]
        total = 0.0
        for v in e:
            total += v
        return [v / total for v in e]
    return list(net)


def derivative(code: int, out: float) -> float:
    """d out / d net of an elementwise activation, written in its output."""
    if code == LOGISTIC:
        return out * (1.0 - out)
    if code == TANH:
        return 1.0 - out * out
    if code == RELU:
        return 1.0 if out > 0.0 else 0.0
    return 1.0


def _unpack(params: list[float], row) -> tuple[list[list[float]], list[float]]:
    n_in, n_out, w_at, b_at = row
    weights = [params[w_at + j * n_in: w_at + (j + 1) * n_in] for j in range(n_out)]
    return weights, params[b_at: b_at + n_out]


def forward_sample(params, layout, acts, x) -> tuple[list[list[float]], list[list[float]]]:
    """Feed one sample forward; return the net inputs ``[net_1, ..., net_L]``
    and outputs ``[x, out_1, ..., out_L]`` of every layer.

    net_j = ((0 + W[j,0] x[0]) + W[j,1] x[1]) + ... then + b[j].
    """
    nets, outs = [], [list(x)]
    for row, code in zip(layout, acts):
        weights, bias = _unpack(params, row)
        a = outs[-1]
        net = []
        for w_row, b_j in zip(weights, bias):
            total = 0.0
            for w_ji, a_i in zip(w_row, a):
                total += w_ji * a_i
            net.append(total + b_j)
        nets.append(net)
        outs.append(activate(code, net))
    return nets, outs


def layer_outputs(params, layout, acts, x) -> list[list[float]]:
    """Outputs ``[x, out_1, ..., out_L]`` of every layer for one sample."""
    return forward_sample(params, layout, acts, x)[1]


def sample_loss(loss: int, out_code: int, out: list[float], target: list[float]) -> float:
    """The loss of one sample: squared is the tutorial's E_total."""
    total = 0.0
    for o, t in zip(out, target):
        if loss == SQUARED:
            e = t - o
            total += 0.5 * (e * e)
        elif out_code == SOFTMAX:
            total -= _xlogy(t, o)
        else:
            total -= _xlogy(t, o) + _xlogy(1.0 - t, 1.0 - o)
    return total


def output_deltas(loss: int, out_code: int, out: list[float], target: list[float]) -> list[float]:
    """dE/dnet of each output neuron (the tutorial's delta_o)."""
    if loss != SQUARED:
        # Cross-entropy with logistic or softmax outputs: the derivative
        # of the activation cancels, leaving out - target.
        return [o - t for o, t in zip(out, target)]
    if out_code == SOFTMAX:
        s = 0.0
        for o, t in zip(out, target):
            s += (o - t) * o
        return [o * ((o - t) - s) for o, t in zip(out, target)]
    return [(o - t) * derivative(out_code, o) for o, t in zip(out, target)]


def sample_deltas(params, layout, acts, loss, outs, target,
                  weight: float | None = None) -> list[list[float]]:
    """Deltas of every layer for one sample, from the current weights (the output deltas
    times the sample's ``weight``, where it has one)."""
    deltas = [output_deltas(loss, acts[-1], outs[-1], target)]
    if weight is not None:
        deltas[0] = [d * weight for d in deltas[0]]
    for layer in range(len(layout) - 1, 0, -1):
        weights, _ = _unpack(params, layout[layer])
        after = deltas[0]
        here = []
        for j, h in enumerate(outs[layer]):
            total = 0.0
            for k, d in enumerate(after):
                total += d * weights[k][j]
            here.append(total * derivative(acts[layer - 1], h))
        deltas.insert(0, here)
    return deltas


def _add_sample_gradient(grad, layout, outs, deltas) -> None:
    for row, a, delta in zip(layout, outs, deltas):
        n_in, _, w_at, b_at = row
        for j, d in enumerate(delta):
            for i, a_i in enumerate(a):
                grad[w_at + j * n_in + i] += d * a_i
            grad[b_at + j] += d


def values(array: np.ndarray) -> list:
    """An array as nested lists of Python floats (float64), or of NumPy float32 scalars."""
    if array.dtype == np.float64:
        return array.tolist()
    return list(array) if array.ndim == 1 else [list(row) for row in array]


def _lists(shape: Shape, params):
    return (values(params), [tuple(r) for r in np.asarray(shape.layout).tolist()],
            [int(c) for c in shape.acts])


def quiet(kernel):
    """``kernel`` with NumPy's float32 scalar warnings off: an overflow to inf or a NaN is
    an answer here, as in every compiled kernel (the engine checks for them)."""
    @functools.wraps(kernel)
    def quiet(*args, **kwargs):
        with np.errstate(all="ignore"):
            return kernel(*args, **kwargs)
    return quiet


@quiet
def forward(shape: Shape, params, X, threads=None):
    """Outputs of the network for every row of ``X``: array ``(n, n_L)``. The oracle
    runs in one thread whatever ``threads`` says, here and below."""
    p, lay, ac = _lists(shape, params)
    return np.array([layer_outputs(p, lay, ac, x)[-1] for x in values(X)],
                    dtype=params.dtype).reshape(len(X), lay[-1][1])


def _sample_weights(X, sample_weight) -> list[float]:
    # Unweighted, every weight is 1 of the data's dtype: a count is a sum of ones in it.
    if sample_weight is not None:
        return values(sample_weight)
    return [setting(X, 1.0)] * len(X)


@quiet
def mean_loss(shape: Shape, loss: int, params, X, Y, threads=None,
              sample_weight=None) -> float:
    """Mean over samples (summed in order, then divided) of the per-sample loss; with
    ``sample_weight``, ``sum(w_s * e_s) / sum(w_s)``, each sum from 0 in sample order."""
    p, lay, ac = _lists(shape, params)
    total = count = 0.0
    for x, t, w in zip(values(X), values(Y), _sample_weights(X, sample_weight)):
        e = sample_loss(loss, ac[-1], layer_outputs(p, lay, ac, x)[-1], t)
        total += e if sample_weight is None else e * w
        count += w
    return float(total / count)


@quiet
def loss_and_gradients(shape: Shape, loss: int, params, X, Y, threads=None, weight_decay=0.0,
                       sample_weight=None):
    """``mean_loss`` and ``gradients`` in one pass over the samples."""
    p, lay, ac = _lists(shape, params)
    grad = [0.0] * len(p)
    total = count = 0.0
    for x, t, w in zip(values(X), values(Y), _sample_weights(X, sample_weight)):
        outs = layer_outputs(p, lay, ac, x)
        e = sample_loss(loss, ac[-1], outs[-1], t)
        total += e if sample_weight is None else e * w
        count += w
        deltas = sample_deltas(p, lay, ac, loss, outs, t,
                               None if sample_weight is None else w)
        _add_sample_gradient(grad, lay, outs, deltas)
    decay, weight = setting(params, weight_decay), _weights(lay, len(p))
    return float(total / count), np.array([(g + decay * p[q]) / count
                                           if decay != 0.0 and weight[q] else g / count
                                           for q, g in enumerate(grad)], dtype=params.dtype)


def setting(array: np.ndarray, value: float):
    """A setting as ``array``'s network computes: a float, or rounded to a float32 once."""
    return float(value) if array.dtype == np.float64 else array.dtype.type(value)


# the sum over the samples, plus ``weight_decay * w`` for a weight, over their number
gradients = gradients_from(loss_and_gradients)


def _weights(layout, size: int) -> list[bool]:
    """Which entries of the flat parameters are weights (the rest are biases)."""
    weight = [False] * size
    for n_in, n_out, w_at, _ in layout:
        weight[w_at: w_at + n_in * n_out] = [True] * (n_in * n_out)
    return weight


@quiet
def train(shape: Shape, rule: Rule, params, velocity, X, Y, epochs: int, lr: float,
          order=None, threads=None, sample_weight=None, report=None) -> None:
    """Train in place for ``epochs`` epochs of mini-batch gradient descent.

    Epoch ``e`` visits samples ``order[e]``, or ``0..n-1`` when ``order`` is
    None. Each batch sums its samples' gradients in visiting order (from 0.0),
    adds ``weight_decay * w`` to a weight's sum (scikit-learn's ``alpha``; not for
    a bias, and not at all when it is 0) and divides by its size: that is ``g``.
    Then every trained parameter moves by the rule (fixed biases never move):

    - SGD: ``w = w - lr * g``;
    - classical momentum: ``v = momentum * v - lr * g; w = w + v``;
    - Nesterov's momentum: ``v = momentum * v - lr * g; w = w + (momentum * v - lr * g)``;
    - Adam, once a batch ``t = t + 1; b1t = b1t * beta_1; b2t = b2t * beta_2;
      lr_t = (lr * sqrt(1 - b2t)) / (1 - b1t)``, then for each parameter
      ``m = beta_1 * m + (1 - beta_1) * g; s = beta_2 * s + (1 - beta_2) * (g * g);
      w = w + (-lr_t * m) / (sqrt(s) + epsilon)``.

    ``velocity`` is the optimizer's state, carried between calls: the velocity ``v``, or
    Adam's ``m``, ``s`` then ``t``, ``b1t`` (beta_1**t), ``b2t`` (``Rule.new_state``).

    With ``sample_weight``, a sample's output deltas are multiplied by its weight and a
    batch's sums divided by its weights' sum (from 0, in visiting order), not its size;
    an online step divides by the sample's weight.

    With ``report`` (``(epochs, 2)``), each epoch's losses are written there, met on the
    way: each batch, before its update, adds ``(data / weight) * len`` to column 0 (data:
    its samples' losses, each times its weight where there are weights, summed from 0 in
    visiting order) and, where there is decay, ``(squares / weight) * len`` to column 1
    (squares: every weight squared, summed from 0 layer by layer, row-major).
    """
    p, lay, ac = _lists(shape, params)
    state = values(velocity)
    xs, ts = values(X), values(Y)
    weighted = sample_weight is not None
    ws = _sample_weights(X, sample_weight)
    # Python floats (float32 scalars for a float32 network), as everywhere in the oracle
    lr, momentum = setting(params, lr), setting(params, rule.momentum)
    decay, method, batch_size = setting(params, rule.weight_decay), rule.method, rule.batch_size
    beta_1, beta_2, epsilon = (setting(params, v) for v in (rule.beta_1, rule.beta_2,
                                                             rule.epsilon))
    size_p = len(p)
    weight = _weights(lay, size_p)
    n = len(xs)
    trained = [False] * size_p
    for n_in, n_out, w_at, b_at in lay:
        trained[w_at: w_at + n_in * n_out] = [True] * (n_in * n_out)
        trained[b_at: b_at + n_out] = [bool(shape.train_bias)] * n_out
    for epoch in range(epochs):
        visit = range(n) if order is None else order[epoch].tolist()
        rep0 = rep1 = 0.0
        for start in range(0, n, batch_size):
            batch = visit[start: start + batch_size]
            grad = [0.0] * size_p
            size = data = 0.0
            if report is not None and decay != 0.0:
                squares = 0.0
                for q in range(size_p):
                    if weight[q]:
                        squares += p[q] * p[q]
            for s in batch:
                outs = layer_outputs(p, lay, ac, xs[s])
                if report is not None:
                    e = sample_loss(rule.loss, ac[-1], outs[-1], ts[s])
                    data += e * ws[s] if weighted else e
                _add_sample_gradient(grad, lay, outs, sample_deltas(
                    p, lay, ac, rule.loss, outs, ts[s], ws[s] if weighted else None))
                size += ws[s]
            if method == "adam":
                t, b1t, b2t = state[2 * size_p: 2 * size_p + 3]
                t, b1t, b2t = t + 1.0, b1t * beta_1, b2t * beta_2
                state[2 * size_p: 2 * size_p + 3] = [t, b1t, b2t]
                lr_t = lr * sqrt(1.0 - b2t) / (1.0 - b1t)
            for q in range(size_p):
                if not trained[q]:
                    continue
                g = (grad[q] + decay * p[q]) / size if decay != 0.0 and weight[q] \
                    else grad[q] / size
                if method == "sgd":
                    p[q] = p[q] - lr * g
                elif method == "adam":
                    m = state[q] = beta_1 * state[q] + (1.0 - beta_1) * g
                    v = state[size_p + q] = beta_2 * state[size_p + q] + (1.0 - beta_2) * (g * g)
                    p[q] = p[q] + (-lr_t * m) / (sqrt(v) + epsilon)
                else:
                    v = state[q] = momentum * state[q] - lr * g
                    p[q] = p[q] + (momentum * v - lr * g if method == "nesterov" else v)
            if report is not None:
                rep0 += (data / size) * float(len(batch))
                if decay != 0.0:
                    rep1 += (squares / size) * float(len(batch))
        if report is not None:
            report[epoch] = (rep0, rep1)
    params[:] = p
    velocity[:] = state


def train_then_loss(shape: Shape, rule: Rule, params, velocity, X, Y, epochs: int, lr: float,
                    order=None, threads=None, sample_weight=None) -> float:
    """``train``, then ``mean_loss`` over ``X, Y`` with ``rule.loss``; NaN, without
    measuring, where a parameter is not finite."""
    train(shape, rule, params, velocity, X, Y, epochs, lr, order, None, sample_weight)
    if not all_finite(params):
        return math.nan
    return mean_loss(shape, rule.loss, params, X, Y, None, sample_weight)


def train_many(shape: Shape, rule: Rule, params, velocity, X, Y, epochs: int, lrs,
               order=None, threads=None, sample_weight=None) -> None:
    """``train`` each row of ``params`` in turn, with its own ``lrs[k]`` (serial)."""
    for k in range(len(params)):
        train(shape, rule, params[k], velocity[k], X, Y, epochs, lrs[k], order, None,
              sample_weight)


def epoch_seconds(shape: Shape, rule: Rule, n_samples: int) -> float:
    """About 1.5 µs per parameter per sample: plain Python, measured on the tutorial."""
    return 1.5e-6 * n_samples * shape.n_params
