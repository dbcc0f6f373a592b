"""The oracle against an independent NumPy implementation, and its canonical details."""

import math

import numpy as np
import pytest
from conftest import random_data, random_network

from fastbp.base.functions import LOGISTIC, LOSSES, SOFTMAX, SQUARED
from fastbp.kernels import oracle
from fastbp.kernels.protocol import Rule, Shape

NUMPY_ACTIVATIONS = {
    "logistic": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "identity": lambda z: z,
    "softmax": lambda z: np.exp(z - z.max(axis=1, keepdims=True))
    / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True),
}


def numpy_forward(net, X):
    a = X
    for W, b, act in zip(net.weights, net.biases, net.activations):
        a = NUMPY_ACTIVATIONS[act](a @ W.T + b)
    return a


@pytest.mark.parametrize("softmax", [False, True])
def test_forward_and_loss_agree_with_numpy(softmax):
    rng = np.random.default_rng(7)
    for _ in range(20):
        net = random_network(rng, int(rng.integers(1, 4)), 6, softmax=softmax)
        X, Y = random_data(rng, net, 5, "cross_entropy")
        out = oracle.forward(net.kernel_shape, net.params, X)
        np.testing.assert_allclose(out, numpy_forward(net, X), rtol=1e-12, atol=1e-15)
        squared = np.mean(np.sum(0.5 * (Y - out) ** 2, axis=1))
        assert oracle.mean_loss(net.kernel_shape, SQUARED, net.params, X, Y) == \
            pytest.approx(squared, rel=1e-12)
        if softmax or net.activations[-1] == "logistic":
            o = np.clip(out, 1e-300, 1 - 1e-16)
            xent = -np.sum(Y * np.log(o), axis=1) if softmax else \
                -np.sum(Y * np.log(o) + (1 - Y) * np.log(1 - o), axis=1)
            got = oracle.mean_loss(net.kernel_shape, LOSSES["cross_entropy"], net.params, X, Y)
            assert got == pytest.approx(np.mean(xent), rel=1e-9)


def test_logistic_saturates_like_c_instead_of_raising():
    assert oracle.activate(LOGISTIC, [-1000.0, 1000.0]) == [0.0, 1.0]
    assert oracle.activate(SOFTMAX, [1000.0, 0.0]) == [1.0, 0.0]


def test_cross_entropy_treats_zero_log_zero_as_zero():
    ce = LOSSES["cross_entropy"]
    assert oracle.sample_loss(ce, LOGISTIC, [1.0, 0.0], [1.0, 0.0]) == 0.0
    assert oracle.sample_loss(ce, LOGISTIC, [0.0], [1.0]) == math.inf


def test_sums_run_in_canonical_order():
    # net = ((0 + w0*x0) + w1*x1) + b: with these values a different order rounds differently.
    w, x, b = [1e16, 1.0], [1.0, 1.0], -1e16
    layout = [(2, 1, 0, 2)]
    net = oracle.forward_sample([*w, b], layout, [0], x)[0][0][0]
    assert net == ((0.0 + w[0] * x[0]) + w[1] * x[1]) + b == 0.0
    assert (w[0] * x[0] + b) + w[1] * x[1] == 1.0  # the order the contract forbids


def test_hand_computed_step_on_a_one_neuron_network():
    # One logistic neuron, squared loss: w -= lr * (o - t) * o * (1 - o) * x.
    params = np.array([0.3, -0.2, 0.1])
    X, Y = np.array([[0.5, 1.5]]), np.array([[0.8]])
    o = 1.0 / (1.0 + math.exp(-(((0.0 + 0.3 * 0.5) + -0.2 * 1.5) + 0.1)))
    delta = (o - 0.8) * (o * (1.0 - o))
    expected = [0.3 - 0.25 * (delta * 0.5), -0.2 - 0.25 * (delta * 1.5), 0.1 - 0.25 * delta]
    shape = Shape.of(np.array([[2, 1, 0, 2]]), np.array([LOGISTIC]), True)
    oracle.train(shape, Rule(SQUARED), params, np.zeros(3), X, Y, 1, 0.25)
    assert params.tolist() == expected
