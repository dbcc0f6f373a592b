"""Property-based fuzzing (hypothesis): every backend equals the oracle, gradients equal
central differences. Several hundred generated cases per run, in bounded time."""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fastbp
from fastbp.base.functions import LOSSES
from fastbp.kernels import limits, oracle

SMOOTH = ["logistic", "tanh", "identity"]
ANY = [*SMOOTH, "relu"]


@st.composite
def cases(draw, activations=ANY, width=5, samples=4, depth=3):
    depth = draw(st.integers(1, depth))
    sizes = [draw(st.integers(1, width)) for _ in range(depth + 1)]
    hidden = [draw(st.sampled_from(activations)) for _ in range(depth - 1)]
    output = draw(st.sampled_from([*activations, *(["softmax"] if sizes[-1] >= 2 else [])]))
    loss = draw(st.sampled_from(["squared", "cross_entropy"])) \
        if output in ("logistic", "softmax") else "squared"
    net = fastbp.Network(sizes, [*hidden, output], bias=draw(st.sampled_from(["fixed",
                                                                              "trainable"])),
                         seed=draw(st.integers(0, 2**16)))
    n = draw(st.integers(1, samples))
    X = draw(arrays(np.float64, (n, sizes[0]), elements=st.floats(-3, 3, width=64)))
    Y = draw(arrays(np.float64, (n, sizes[-1]), elements=st.floats(0, 1, width=64)))
    if output == "softmax" and loss == "cross_entropy":  # targets must be distributions
        Y = (Y + 1e-3) / (Y + 1e-3).sum(axis=1, keepdims=True)
    options = {"epochs": draw(st.integers(1, 3)), "lr": draw(st.sampled_from([0.01, 0.3, 1.0])),
               "batch_size": draw(st.one_of(st.none(), st.integers(1, n))),
               "momentum": draw(st.sampled_from([0.0, 0.5, 0.9])),
               "shuffle": draw(st.booleans()), "seed": draw(st.integers(0, 100)), "loss": loss}
    return net, X, Y, options


def outcome(net, X, Y, options, backend, threads=None):
    """Parameters and history after training, or the divergence's epoch."""
    copy = net.copy()
    try:
        result = fastbp.train(copy, X, Y, backend=backend, record_every=1, threads=threads,
                              **options)
    except fastbp.DivergenceError as exc:
        return ("diverged", exc.epoch, copy.params.tobytes())
    return ("trained", copy.params.tobytes(), result.history.tobytes())


FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@FUZZ
@given(case=cases())
def test_every_backend_equals_the_oracle(compiled_backend, case, monkeypatch):
    if compiled_backend == "numba":
        # The generic kernels: the unrolled ones compile per shape (see test_backends_agree).
        monkeypatch.setattr(limits, "UNROLL_PARAMS", 0)
    net, X, Y, options = case
    assert outcome(net, X, Y, options, compiled_backend) == outcome(net, X, Y, options, "python")


@settings(FUZZ, max_examples=40)
@given(case=cases(width=20, samples=16, depth=4), threads=st.integers(1, 3))
def test_wide_batched_networks_equal_the_oracle(compiled_backend, case, threads):
    # Widths and batches that cross the batched kernels' tiles, shared among threads.
    net, X, Y, options = case
    assert outcome(net, X, Y, options, compiled_backend, threads) == \
        outcome(net, X, Y, options, "python")


@settings(max_examples=100, deadline=None, derandomize=True)
@given(case=cases(activations=SMOOTH))
def test_gradients_equal_central_differences(case):
    net, X, Y, options = case
    code = LOSSES[options["loss"]]
    dW, db = fastbp.gradients(net, X, Y, loss=options["loss"], backend="python")
    analytic = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
    h = 1e-6
    numeric = np.empty_like(analytic)
    for q in range(net.params.size):
        values = []
        for step in (h, -h):
            probe = net.params.copy()
            probe[q] += step
            values.append(oracle.mean_loss(net.kernel_shape, code, probe, X, Y))
        numeric[q] = (values[0] - values[1]) / (2 * h)
    assume(np.isfinite(numeric).all())  # not near a saturated cross-entropy
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)
