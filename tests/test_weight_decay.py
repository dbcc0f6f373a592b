"""L2 weight decay (scikit-learn's alpha) in every backend: the oracle's bits, everywhere."""

import numpy as np
import pytest
from conftest import random_data, random_network

import fastbp
from fastbp.kernels import oracle

CASES = [  # sizes, batch_size, momentum, threads
    ([2, 2, 2], 1, 0.0, None),  # small enough for the unrolled kernels without decay
    ([3, 5, 2], 1, 0.9, None),
    ([4, 9, 7, 3], 3, 0.5, 2),
    ([20, 17, 5], None, 0.0, 3),
    ([6, 25, 9], 7, 0.3, 1),
]


@pytest.mark.parametrize(("sizes", "batch_size", "momentum", "threads"), CASES)
@pytest.mark.parametrize("bias", ["trainable", "fixed"])
def test_train_with_weight_decay_equals_the_oracle(backend, sizes, batch_size, momentum,
                                                   threads, bias):
    rng = np.random.default_rng(len(sizes) * 7 + sizes[1])
    net = fastbp.Network(sizes, ["tanh"] * (len(sizes) - 2) + ["logistic"], bias=bias, seed=3)
    X, Y = random_data(rng, net, 11)
    options = {"epochs": 6, "lr": 0.3, "batch_size": batch_size, "momentum": momentum,
               "weight_decay": 0.05, "shuffle": True, "seed": 1, "record_every": 2}
    ref = net.copy()
    expected = fastbp.train(ref, X, Y, backend="python", **options)
    got = fastbp.train(net, X, Y, backend=backend, threads=threads, **options)
    assert np.array_equal(net.params, ref.params)
    assert np.array_equal(got.history, expected.history)
    plain = net.copy()
    fastbp.train(plain, X, Y, backend=backend, **{**options, "weight_decay": 0.0})
    assert not np.array_equal(plain.params, net.params)  # the decay did something


def test_the_oracle_decays_weights_not_biases():
    """One full-batch step by hand: w - lr (sum + alpha w) / n, b - lr sum / n."""
    net = fastbp.Network([2, 1], "identity", weights=[[[0.5, -0.25]]], biases=[[0.125]])
    X, Y = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[0.0], [1.0]])
    alpha, lr = 0.1, 0.2
    dW, db = fastbp.gradients(net, X, Y, backend="python")
    decayed, _ = fastbp.gradients(net, X, Y, backend="python", weight_decay=alpha)
    w = net.weights[0].copy()
    sums = dW[0] * 2  # exact: a power of two
    assert np.array_equal(decayed[0], (sums + alpha * w) / 2)
    fastbp.train(net, X, Y, epochs=1, lr=lr, batch_size=None, weight_decay=alpha,
                 backend="python")
    assert np.array_equal(net.weights[0], w - lr * ((sums + alpha * w) / 2))
    assert net.biases[0][0] == 0.125 - lr * db[0][0]


def test_gradients_with_weight_decay_equal_the_oracle(backend):
    rng = np.random.default_rng(5)
    net = random_network(rng, 3, 12)
    X, Y = random_data(rng, net, 300)  # more than one chunk of 256 samples
    want = fastbp.gradients(net, X, Y, backend="python", weight_decay=0.3)
    got = fastbp.gradients(net, X, Y, backend=backend, weight_decay=0.3, threads=2)
    for a, b in zip([*want[0], *want[1]], [*got[0], *got[1]]):
        assert np.array_equal(a, b)
    plain = fastbp.gradients(net, X, Y, backend=backend)
    assert np.array_equal(plain[1][0], got[1][0])  # biases do not decay


def test_train_many_with_weight_decay_is_each_alone(backend):
    rng = np.random.default_rng(2)
    nets = [fastbp.Network([2, 3, 1], seed=s) for s in range(5)]
    X, Y = rng.normal(size=(8, 2)), rng.uniform(size=(8, 1))
    lrs = np.linspace(0.1, 0.9, 5)
    fastbp.train_many(nets, X, Y, epochs=30, lr=lrs, momentum=0.4, weight_decay=0.01,
                      backend=backend)
    for s, (net, lr) in enumerate(zip(nets, lrs)):
        alone = fastbp.Network([2, 3, 1], seed=s)
        oracle_net = alone.copy()
        fastbp.train(oracle_net, X, Y, epochs=30, lr=lr, momentum=0.4, weight_decay=0.01,
                     backend="python")
        assert np.array_equal(net.params, oracle_net.params)


def test_the_trace_shows_the_decay():
    net = fastbp.tutorial.network()
    step = fastbp.trace(net, [0.05, 0.10], [0.01, 0.99], lr=0.5, weight_decay=0.1)
    plain = fastbp.trace(net, [0.05, 0.10], [0.01, 0.99], lr=0.5)
    assert step["dE_total/dw5"] == plain["dE_total/dw5"] + 0.1 * 0.40
    assert "weight_decay * w5" in str(step)
    after = net.copy()
    fastbp.train(after, [0.05, 0.10], [0.01, 0.99], epochs=1, weight_decay=0.1)
    assert step["w5+"] == after.weights[1][0, 0]


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_bad_weight_decay(value):
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        fastbp.train(fastbp.Network([2, 1]), [[0.0, 1.0]], [[1.0]], weight_decay=value)
    with pytest.raises(TypeError, match="weight_decay must be a real number"):
        fastbp.gradients(fastbp.Network([2, 1]), [[0.0, 1.0]], [[1.0]], weight_decay="0.1")


def test_oracle_weights_mask():
    assert oracle._weights([(2, 1, 0, 2)], 3) == [True, True, False]
