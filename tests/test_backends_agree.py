"""Every compiled backend reproduces the oracle bit for bit on random networks."""

import numpy as np
import pytest
from conftest import random_data, random_network

import fastbp
from fastbp.base.functions import loss_code
from fastbp.kernels import oracle, resolve
from fastbp.kernels.protocol import Rule


def random_case(rng, width_max):
    depth = int(rng.integers(1, 5))
    softmax = bool(rng.integers(2)) and rng.random() < 0.3
    net = random_network(rng, depth, width_max, bias=["fixed", "trainable"][rng.integers(2)],
                         softmax=softmax)
    loss = "cross_entropy" if net.activations[-1] in ("logistic", "softmax") and \
        rng.random() < 0.5 else "squared"
    n = int(rng.integers(1, 7))
    X, Y = random_data(rng, net, n, loss)
    options = {
        "epochs": int(rng.integers(1, 4)),
        "lr": float(rng.choice([0.05, 0.5, 1.3])),
        "batch_size": [1, 1, 2, None][rng.integers(4)] if n >= 2 else 1,
        "momentum": float(rng.choice([0.0, 0.0, 0.5, 0.9])),
        "shuffle": bool(rng.integers(2)),
        "seed": int(rng.integers(100)),
        "loss": loss,
    }
    return net, X, Y, options


def assert_same_as_oracle(backend, net, X, Y, options):
    ours, reference = net.copy(), net.copy()
    got = fastbp.train(ours, X, Y, backend=backend, record_every=1, **options)
    want = fastbp.train(reference, X, Y, backend="python", record_every=1, **options)
    context = (net, options)
    assert np.array_equal(ours.params, reference.params), context
    assert np.array_equal(got.history, want.history), context
    assert got.final_loss == want.final_loss, context
    assert np.array_equal(ours.forward(X, backend=backend), reference.forward(X, backend="python"))
    for g, w in zip(fastbp.gradients(ours, X, Y, options["loss"], backend),
                    fastbp.gradients(reference, X, Y, options["loss"], "python")):
        assert all(np.array_equal(a, b) for a, b in zip(g, w)), context
    # Without a record, a short run takes the engine's one-call way (train_then_loss).
    ours, reference = net.copy(), net.copy()
    got = fastbp.train(ours, X, Y, backend=backend, **options)
    want = fastbp.train(reference, X, Y, backend="python", **options)
    assert np.array_equal(ours.params, reference.params), context
    assert got.final_loss == want.final_loss, context


@pytest.mark.parametrize("seed", range(40))
def test_small_random_networks(compiled_backend, seed):
    # Mostly under 128 parameters: the numba backend's unrolled kernels.
    rng = np.random.default_rng(seed)
    assert_same_as_oracle(compiled_backend, *random_case(rng, width_max=6))


@pytest.mark.parametrize("seed", range(12))
def test_wide_random_networks(compiled_backend, seed):
    # Widths up to 64: the generic kernels, with and without the 8-neuron blocks.
    rng = np.random.default_rng(1000 + seed)
    assert_same_as_oracle(compiled_backend, *random_case(rng, width_max=64))


@pytest.mark.parametrize("case", ["tutorial", "xor-momentum-shuffle"])
def test_generic_kernel_on_small_networks_too(compiled_backend, case, monkeypatch):
    # Force the generic path where an unrolled kernel would normally run.
    from fastbp.kernels import limits

    monkeypatch.setattr(limits, "UNROLL_PARAMS", 0)
    if case == "tutorial":
        net, X, Y = fastbp.tutorial.network(), fastbp.tutorial.INPUTS, fastbp.tutorial.TARGETS
        options = {"epochs": 500}
    else:
        net = fastbp.Network([2, 5, 1], ["tanh", "logistic"], seed=3)
        X, Y = np.array([[0, 0], [0, 1], [1, 0], [1, 1.0]]), np.array([[0], [1], [1], [0.0]])
        options = {"epochs": 50, "momentum": 0.9, "shuffle": True, "seed": 2}
    options.setdefault("loss", "squared")
    assert_same_as_oracle(compiled_backend, net, X, Y, options)


def test_extreme_values_agree(compiled_backend):
    # Saturated logistic (exp overflow), relu dead zones, large softmax inputs.
    net = fastbp.Network([3, 4, 3], ["relu", "softmax"], seed=1)
    net.weights[0][...] *= 400
    X = np.array([[1.0, -2.0, 3.0], [-5.0, 0.0, 1e-3]])
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    assert_same_as_oracle(compiled_backend, net, X, Y, {"epochs": 3, "lr": 0.1,
                                                        "loss": "squared"})
    saturated = fastbp.Network([1, 1], seed=0, weights=[[[1000.0]]], biases=[[0.0]])
    out = saturated.forward([[-1.0], [1.0]], backend=compiled_backend)
    assert out.tolist() == oracle.forward(saturated.kernel_shape, saturated.params,
                                          np.array([[-1.0], [1.0]])).tolist() == [[0.0], [1.0]]


SMALL_CASES = [
    # (sizes, activations, loss, bias, momentum, shuffle)
    ([2, 2, 2], ["logistic", "logistic"], "squared", "fixed", 0.0, False),
    ([2, 2, 2], ["logistic", "logistic"], "squared", "trainable", 0.9, True),
    ([2, 5, 1], ["tanh", "logistic"], "cross_entropy", "trainable", 0.0, True),
    ([1, 8, 1], ["relu", "identity"], "squared", "trainable", 0.5, False),
    ([2, 3, 2], ["logistic", "softmax"], "cross_entropy", "fixed", 0.5, True),
    ([2, 7, 2], ["identity", "softmax"], "squared", "trainable", 0.0, False),
    ([1, 1, 1], ["logistic", "logistic"], "cross_entropy", "fixed", 0.0, True),
]


@pytest.mark.parametrize("case", SMALL_CASES, ids=lambda c: "-".join(map(str, c[0])) + c[1][1])
def test_smallest_networks_every_option(compiled_backend, case):
    # The shapes the compiled backends specialise (numba: generated per shape;
    # cython: one unrolled copy per shape in _small.pxi), across their options.
    sizes, activations, loss, bias, momentum, shuffle = case
    rng = np.random.default_rng(sum(sizes))
    net = fastbp.Network(sizes, activations, bias=bias, seed=7)
    X, Y = random_data(rng, net, 5, loss)
    assert_same_as_oracle(compiled_backend, net, X, Y, {
        "epochs": 40, "lr": 0.3, "batch_size": 1, "momentum": momentum, "shuffle": shuffle,
        "seed": 1, "loss": loss})


@pytest.mark.parametrize("seed", range(6))
def test_train_then_loss_is_train_then_mean_loss(backend, seed):
    net, X, Y, options = random_case(np.random.default_rng(2000 + seed), width_max=6)
    kernels = resolve(backend)[1]
    shape = net.kernel_shape
    rule = Rule(loss_code(options["loss"]), options["batch_size"] or len(X),
                options["momentum"])
    fused, apart = net.params.copy(), net.params.copy()
    v_fused, v_apart = np.zeros_like(fused), np.zeros_like(apart)
    got = kernels.train_then_loss(shape, rule, fused, v_fused, X, Y, options["epochs"],
                                  options["lr"])
    kernels.train(shape, rule, apart, v_apart, X, Y, options["epochs"], options["lr"])
    assert got == kernels.mean_loss(shape, rule.loss, apart, X, Y)
    assert np.array_equal(fused, apart) and np.array_equal(v_fused, v_apart)


def test_train_then_loss_is_nan_where_a_parameter_is_not(backend):
    net = fastbp.Network([2, 3, 1], "identity", seed=0)
    net.params[...] *= 1e200  # the first update overflows
    params, velocity = net.params.copy(), np.zeros(net.params.size)
    X, Y = np.array([[1.0, 2.0]]), np.array([[0.0]])
    kernels = resolve(backend)[1]
    got = kernels.train_then_loss(net.kernel_shape, Rule(0), params, velocity, X, Y, 2, 0.5)
    assert not np.isfinite(params).all() and np.isnan(got)
