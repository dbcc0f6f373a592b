"""Training throughput of every backend against the C reference and a plain @njit loop.

    pytest benchmarks/                        # run, with a ratio summary at the end
    pytest benchmarks/ --benchmark-autosave   # keep a baseline; then --benchmark-compare
"""

import numpy as np
import pytest

import fastbp
from fastbp import tutorial

MILLION = 1_000_000
COMPILED = [name for name in fastbp.backends() if name != "python"]


def _tutorial_step(backend, c_reference):
    if backend == "c":
        def run(net):
            c_reference(net.params.ctypes.data, MILLION, 0.05, 0.10, 0.01, 0.99, 0.5)
    else:
        def run(net):
            fastbp.train(net, tutorial.INPUTS, tutorial.TARGETS, epochs=MILLION,
                         backend=backend)
    return run


@pytest.mark.parametrize("backend", ["c", *COMPILED])
def test_tutorial_million(benchmark, record, c_reference, backend):
    """The tutorial's 2-2-2 network, one sample, 1,000,000 online rounds."""
    if backend != "c" and fastbp.backends()[backend] != "available":
        pytest.skip(f"{backend}: {fastbp.backends()[backend]}")
    benchmark.group = "tutorial 2-2-2, 1e6 online rounds"
    run = _tutorial_step(backend, c_reference)
    run(tutorial.network())  # compile and warm up outside the timed region
    nets = []

    def setup():
        nets.append(tutorial.network())
        return (nets[-1],), {}

    benchmark.pedantic(run, setup=setup, rounds=7, iterations=1)
    best = record(ns_per_step=None)
    benchmark.extra_info["ns_per_step"] = best / MILLION * 1e9
    # What was timed is right: the C loop and every backend give the same bits.
    reference = tutorial.network()
    _tutorial_step("c", c_reference)(reference)
    assert np.array_equal(nets[-1].params, reference.params)


@pytest.fixture(scope="module")
def digits_like():
    """1,400 samples of 64 features and one-hot targets over 10 classes (8x8-digit sized)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 16, size=(1400, 64)) / 16
    Y = np.eye(10)[rng.integers(0, 10, size=1400)]
    return X, Y


def _digits_trainer(backend):
    if backend == "straightforward":
        from straightforward import train_online_logistic

        return lambda net, X, Y, epochs: train_online_logistic(net.params, net.layout, X, Y,
                                                               epochs, 0.1, True)
    return lambda net, X, Y, epochs: fastbp.train(net, X, Y, epochs=epochs, lr=0.1,
                                                  backend=backend)


@pytest.mark.parametrize("backend", ["straightforward", *COMPILED])
def test_digits_online(benchmark, record, digits_like, backend):
    """64-32-10 logistic, trainable biases, online SGD, 30 epochs over 1,400 samples."""
    if backend != "straightforward" and fastbp.backends()[backend] != "available":
        pytest.skip(f"{backend}: {fastbp.backends()[backend]}")
    X, Y = digits_like
    benchmark.group = "64-32-10 online, 30 epochs x 1400 samples"
    epochs = 30
    trainer = _digits_trainer(backend)
    # Right before fast: 50 samples give the oracle's bits (this also compiles).
    check, expected = fastbp.Network([64, 32, 10], seed=0), fastbp.Network([64, 32, 10], seed=0)
    trainer(check, X[:50], Y[:50], 1)
    fastbp.train(expected, X[:50], Y[:50], epochs=1, lr=0.1, backend="python")
    assert np.array_equal(check.params, expected.params)
    nets = []

    def setup():
        nets.append(fastbp.Network([64, 32, 10], seed=0))
        return (nets[-1], X, Y, epochs), {}

    benchmark.pedantic(trainer, setup=setup, rounds=5, iterations=1)
    best = record()
    benchmark.extra_info["us_per_sample"] = best / (epochs * len(X)) * 1e6
    assert np.isfinite(nets[-1].params).all()
