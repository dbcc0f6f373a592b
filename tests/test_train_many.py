"""train_many: each network bit-identical to training it alone; bad input trains nothing."""

import numpy as np
import pytest
from conftest import random_data

import fastbp

CASES = [
    # sizes, activations, bias, options
    ([2, 2, 2], ["logistic", "logistic"], "fixed", {"epochs": 300}),  # unrolled, vector lanes
    ([2, 5, 1], ["tanh", "logistic"], "trainable",
     {"epochs": 60, "momentum": 0.9, "shuffle": True, "seed": 4, "record_every": 20}),
    ([3, 6, 2], ["relu", "softmax"], "trainable", {"epochs": 20, "loss": "cross_entropy"}),
    ([4, 12, 3], ["tanh", "identity"], "trainable", {"epochs": 10}),  # generic kernels
    # Deeper, and softmax under the squared loss: Cython's lanes kernel is generic.
    ([3, 4, 4, 2], ["tanh", "relu", "logistic"], "trainable", {"epochs": 12, "momentum": 0.5}),
    ([2, 3, 3], ["logistic", "softmax"], "fixed", {"epochs": 12, "shuffle": True, "seed": 2}),
    ([3, 9, 2], ["logistic", "logistic"], "fixed", {"epochs": 15, "batch_size": 2,
                                                    "momentum": 0.5, "shuffle": True, "seed": 8}),
]


# 40 networks: numba's kernel_many runs a full group of 32 vector lanes, then one of 8.
@pytest.mark.parametrize("count", [1, 7, 40])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c[0])))
def test_each_network_as_if_trained_alone(backend, case, count):
    sizes, activations, bias, options = case
    rng = np.random.default_rng(len(sizes) * 10 + count)
    nets = [fastbp.Network(sizes, activations, bias=bias, seed=s) for s in range(count)]
    X, Y = random_data(rng, nets[0], 5, options.get("loss", "squared"))
    lrs = np.linspace(0.05, 0.9, count)
    alone = [net.copy() for net in nets]
    results = fastbp.train_many(nets, X, Y, lr=lrs, backend=backend, **options)
    assert len(results) == count
    for k, (net, twin) in enumerate(zip(nets, alone)):
        expected = fastbp.train(twin, X, Y, lr=lrs[k], backend="python", **options)
        assert np.array_equal(net.params, twin.params), k
        assert np.array_equal(results[k].history, expected.history), k
        assert results[k].final_loss == expected.final_loss
        assert results[k].backend == backend


@pytest.mark.parametrize("activation", ["logistic", "softmax"])
def test_rare_exp_inputs_in_some_lanes(backend, activation):
    """Net inputs of 0 and beyond +-512, where glibc's exp takes another path, in some
    networks of a group and not in others: each network still as if trained alone."""
    count = 40
    nets = [fastbp.Network([2, 3, 2], ["logistic", activation], bias="trainable", seed=k)
            for k in range(count)]
    for k, net in enumerate(nets):
        if k % 3 == 0:
            net.params[:] = 0.0  # every net input exactly 0
        elif k % 3 == 1:
            net.params[:] *= 2000.0  # net inputs in the hundreds and thousands
    X = np.array([[0.5, -1.0], [1.0, 0.25]])
    Y = np.array([[0.0, 1.0], [1.0, 0.0]])
    options = {"epochs": 5, "lr": np.linspace(0.1, 0.5, count)}
    alone = [net.copy() for net in nets]
    fastbp.train_many(nets, X, Y, backend=backend, **options)
    for k, (net, twin) in enumerate(zip(nets, alone)):
        fastbp.train(twin, X, Y, **{**options, "lr": options["lr"][k]}, backend="python")
        assert np.array_equal(net.params, twin.params, equal_nan=True), k


def test_thread_count_changes_no_bits(compiled_backend):
    T = fastbp.tutorial
    runs = []
    for threads in (1, 2):
        nets = [T.network() for _ in range(9)]
        fastbp.train_many(nets, T.INPUTS, T.TARGETS, epochs=200, lr=np.linspace(0.1, 1, 9),
                          backend=compiled_backend, threads=threads)
        runs.append(np.stack([n.params for n in nets]))
    assert np.array_equal(runs[0], runs[1])


def distinct(count):
    return [fastbp.Network([2, 2, 1]) for _ in range(count)]


@pytest.mark.parametrize(("nets", "kwargs", "error", "pattern"), [
    (lambda: [fastbp.Network([2, 2, 1]), fastbp.Network([2, 3, 1])], {}, ValueError,
     r"nets must all have the same shape: nets\[1\]"),
    (lambda: [fastbp.Network([2, 2, 1]), fastbp.Network([2, 2, 1], "tanh")], {}, ValueError,
     "same shape"),
    (lambda: distinct(3), {"lr": [0.1, 0.2]}, ValueError,
     r"lr must be one number or one per network \(3\), got shape \(2,\)"),
    (lambda: distinct(2), {"lr": [0.1, float("nan")]}, ValueError,
     r"lr must be finite and > 0 for every network, got lr\[1\] = nan"),
    (lambda: distinct(2), {"lr": [0.1, -1.0]}, ValueError, r"lr\[1\]"),
    (lambda: distinct(2), {"lr": np.inf}, ValueError, "lr must be"),
    (list, {}, ValueError, "at least one network"),
    (lambda: fastbp.Network([2, 2, 1]), {}, TypeError, "nets must be a list"),
    (lambda: [fastbp.Network([2, 2, 1]), "net"], {}, TypeError, r"nets\[1\] must be"),
    (lambda: [fastbp.Network([2, 2, 1])], {"threads": 0}, ValueError, "threads must be >= 1"),
])
def test_bad_input_trains_nothing(nets, kwargs, error, pattern):
    nets = nets()
    before = [n.params.copy() if isinstance(n, fastbp.Network) else None for n in nets] \
        if isinstance(nets, list) else None
    X, Y = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0], [0.0]])
    with pytest.raises(error, match=pattern):
        fastbp.train_many(nets, X, Y, epochs=5, **kwargs)
    if before is not None:
        for net, params in zip(nets, before):
            if isinstance(net, fastbp.Network):
                assert np.array_equal(net.params, params)
