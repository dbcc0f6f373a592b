"""Backpropagated gradients against central differences, for every activation and loss."""

import zlib

import numpy as np
import pytest
from conftest import random_data

import fastbp
from fastbp.base.functions import LOSSES
from fastbp.kernels import oracle

CASES = [(act, "squared") for act in ("logistic", "tanh", "relu", "identity", "softmax")]
CASES += [("logistic", "cross_entropy"), ("softmax", "cross_entropy")]


def numeric_gradient(net, X, Y, loss, h=1e-6):
    p = net.params.copy()
    grad = np.empty_like(p)
    for q in range(p.size):
        values = []
        for step in (h, -h):
            probe = p.copy()
            probe[q] += step
            values.append(oracle.mean_loss(net.kernel_shape, LOSSES[loss], probe, X, Y))
        grad[q] = (values[0] - values[1]) / (2 * h)
    return grad


@pytest.mark.parametrize("bias", ["fixed", "trainable"])
@pytest.mark.parametrize(("output", "loss"), CASES)
def test_gradients_match_central_differences(backend, output, loss, bias):
    rng = np.random.default_rng(zlib.crc32(f"{output}{loss}{bias}".encode()))
    for depth in (1, 2, 3):
        sizes = [int(rng.integers(2, 5)) for _ in range(depth + 1)]
        hidden = output if output != "softmax" else "tanh"
        net = fastbp.Network(sizes, [hidden] * (depth - 1) + [output], bias=bias,
                             seed=int(rng.integers(1000)))
        X, Y = random_data(rng, net, 5, loss)
        dW, db = fastbp.gradients(net, X, Y, loss=loss, backend=backend)
        analytic = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
        np.testing.assert_allclose(analytic, numeric_gradient(net, X, Y, loss),
                                   rtol=1e-5, atol=1e-8)


def test_gradient_shapes_follow_the_network(backend):
    net = fastbp.Network([3, 4, 2], seed=0)
    dW, db = fastbp.gradients(net, np.ones((2, 3)), np.zeros((2, 2)), backend=backend)
    assert [w.shape for w in dW] == [(4, 3), (2, 4)]
    assert [b.shape for b in db] == [(4,), (2,)]


def test_gradient_is_the_mean_over_samples(backend):
    rng = np.random.default_rng(3)
    net = fastbp.Network([3, 5, 2], "tanh", seed=1)
    X, Y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 2))
    total = sum(np.concatenate([w.ravel() for w in fastbp.gradients(net, X[i], Y[i],
                                                                    backend=backend)[0]])
                for i in range(4))
    mean = np.concatenate([w.ravel() for w in fastbp.gradients(net, X, Y, backend=backend)[0]])
    np.testing.assert_allclose(mean, total / 4, rtol=1e-13, atol=1e-16)
