"""Bad input raises ValueError/TypeError naming the argument; caller's data is never touched."""

import numpy as np
import pytest

import fastbp

NET = fastbp.Network([2, 3, 1], seed=0)
X = np.array([[0.0, 1.0], [1.0, 0.0]])
Y = np.array([[1.0], [0.0]])


def nan_at(a, index):
    a = a.copy()
    a[index] = np.nan
    return a


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    ({"X": nan_at(X, (0, 1))}, ValueError, r"X must be finite.*nan"),
    ({"Y": np.array([[np.inf], [0.0]])}, ValueError, r"Y must be finite"),
    ({"X": np.ones((2, 3))}, ValueError, r"X must have 2 columns, got shape \(2, 3\)"),
    ({"Y": np.ones((2, 2))}, ValueError, r"Y must have 1 columns"),
    ({"Y": np.ones((3, 1))}, ValueError, r"same number of rows, got 2 and 3"),
    ({"X": np.ones((0, 2)), "Y": np.ones((0, 1))}, ValueError, r"X must not be empty"),
    ({"X": np.ones((2, 2, 1))}, ValueError, r"X must be 1-D .* or 2-D"),
    ({"X": [["a", "b"], ["c", "d"]]}, TypeError, r"X must hold real numbers"),
    ({"X": X.astype(bool)}, TypeError, r"X must hold real numbers, got dtype bool"),
    ({"X": X + 1j}, TypeError, r"X must hold real numbers"),
    ({"X": [[1.0, 2.0], [3.0]]}, ValueError, r"X must be a rectangular array"),
    ({"loss": "hinge"}, ValueError, r"loss must be one of squared, cross_entropy; got 'hinge'"),
    ({"loss": 3}, TypeError, r"loss must be a string"),
    ({"backend": "fortran"}, ValueError, r"backend must be 'auto' or one of .*'fortran'"),
    ({"backend": None}, TypeError, r"backend must be a string"),
    ({"lr": 0.0}, ValueError, r"lr must be a finite number > 0, got 0.0"),
    ({"lr": -1}, ValueError, r"lr must be a finite number > 0"),
    ({"lr": float("nan")}, ValueError, r"lr must be a finite number > 0, got nan"),
    ({"lr": float("inf")}, ValueError, r"lr must be"),
    ({"lr": "0.5"}, TypeError, r"lr must be a real number, got str"),
    ({"epochs": -1}, ValueError, r"epochs must be >= 0, got -1"),
    ({"epochs": 2.5}, TypeError, r"epochs must be an integer, got float"),
    ({"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0"),
    ({"batch_size": 3}, ValueError, r"batch_size must be at most the number of samples \(2\)"),
    ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\), got 1.0"),
    ({"momentum": -0.1}, ValueError, r"momentum must be in \[0, 1\)"),
    ({"shuffle": "yes"}, TypeError, r"shuffle must be True or False"),
    ({"seed": -3}, ValueError, r"seed must be >= 0"),
    ({"record_every": 0}, ValueError, r"record_every must be >= 1"),
])
def test_train_rejects_bad_input(kwargs, error, pattern):
    args = {"X": X, "Y": Y, **kwargs}
    net = NET.copy()
    with pytest.raises(error, match=pattern):
        fastbp.train(net, args.pop("X"), args.pop("Y"), **args)
    assert np.array_equal(net.params, NET.params)  # nothing trained


def test_cross_entropy_needs_probability_outputs_and_targets():
    with pytest.raises(ValueError, match=r"needs a logistic or softmax output layer, got 'relu'"):
        fastbp.train(fastbp.Network([2, 1], "relu"), X, Y, loss="cross_entropy")
    with pytest.raises(ValueError, match=r"Y must lie in \[0, 1\] with loss='cross_entropy'"):
        fastbp.train(NET.copy(), X, Y * 2, loss="cross_entropy")
    softmax = fastbp.Network([2, 2], "softmax")
    with pytest.raises(ValueError, match=r"rows must each sum to 1 .* row 1 sums to 0.5"):
        fastbp.train(softmax, X, [[0.25, 0.75], [0.5, 0.0]], loss="cross_entropy")


def test_gradients_and_forward_validate_too():
    with pytest.raises(ValueError, match="X must have 2 columns"):
        fastbp.gradients(NET, np.ones((1, 5)), Y[:1])
    with pytest.raises(ValueError, match="X must be finite"):
        NET.forward([np.nan, 1.0])
    with pytest.raises(TypeError, match=r"net must be a fastbp\.Network"):
        fastbp.train("net", X, Y)


@pytest.mark.parametrize(("args", "error", "pattern"), [
    (([2],), ValueError, r"sizes must have at least two entries"),
    (([2, 0, 1],), ValueError, r"sizes\[1\] must be >= 1, got 0"),
    (([2, -3],), ValueError, r"sizes\[1\] must be >= 1"),
    (([2, 1.5],), TypeError, r"sizes\[1\] must be an integer"),
    (("22",), TypeError, r"sizes must be a sequence of integers"),
    (([2, 2], "swish"), ValueError, r"activation\[0\] must be one of .*; got 'swish'"),
    (([2, 2, 2], ["tanh"]), ValueError, r"one name or one per layer \(2\), got 1"),
    (([2, 3, 2], ["softmax", "logistic"]), ValueError, r"activation\[0\] is 'softmax'.*output"),
    (([2, 2], "logistic", "learned"), ValueError, r"bias must be one of fixed, trainable"),
    (([2, 2], "logistic", "fixed", -1), ValueError, r"seed must be >= 0"),
])
def test_network_rejects_bad_arguments(args, error, pattern):
    with pytest.raises(error, match=pattern):
        fastbp.Network(*args)


def test_network_rejects_bad_explicit_parameters():
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(2, 2\), got \(2, 3\)"):
        fastbp.Network([2, 2], weights=[np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"biases must have one array per layer \(2\), got 1"):
        fastbp.Network([2, 2, 2], biases=[[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite"):
        fastbp.Network([1, 1], weights=[[[np.inf]]])


def _read_only(a):
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("make", [
    lambda a: a,  # C-contiguous float64: trained on as a view, not a copy
    _read_only,
    lambda a: a.astype(np.float32),
    lambda a: a.astype(np.int64),
    lambda a: np.asfortranarray(a),
    lambda a: np.repeat(a, 2, axis=1)[:, ::2],
])
def test_unusual_arrays_are_accepted_and_never_modified(backend, make):
    rng = np.random.default_rng(0)
    Xs = make(rng.integers(0, 3, size=(6, 2)).astype(np.float64))
    Ys = make(rng.integers(0, 2, size=(6, 1)).astype(np.float64))
    snapshot = (Xs.copy(), Ys.copy(), Xs.flags.f_contiguous, Xs.dtype)
    net, reference = NET.copy(), NET.copy()
    fastbp.train(net, Xs, Ys, epochs=2, batch_size=3, backend=backend)
    fastbp.train(reference, np.array(Xs, dtype=float), np.array(Ys, dtype=float), epochs=2,
                 batch_size=3, backend="python")
    assert np.array_equal(net.params, reference.params)
    assert np.array_equal(Xs, snapshot[0]) and np.array_equal(Ys, snapshot[1])
    assert (Xs.flags.f_contiguous, Xs.dtype) == snapshot[2:]


def test_a_1d_target_is_a_column_for_one_output(backend):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    a, b = fastbp.Network([2, 3, 1], seed=0), fastbp.Network([2, 3, 1], seed=0)
    ra = fastbp.train(a, X, y, epochs=20, backend=backend)
    rb = fastbp.train(b, X, y.reshape(-1, 1), epochs=20, backend=backend)
    assert np.array_equal(a.params, b.params) and ra.final_loss == rb.final_loss
    dw1, _ = fastbp.gradients(a, X, y, backend=backend)
    dw2, _ = fastbp.gradients(a, X, y[:, None], backend=backend)
    assert all(np.array_equal(p, q) for p, q in zip(dw1, dw2))


@pytest.mark.parametrize(("sizes", "n", "y", "pattern"), [
    ([2, 3, 10], 5, np.arange(5), r"1-D with 5 values.*pass shape \(5, 10\).*one-hot encode"),
    ([2, 3, 1], 5, np.arange(4), r"1-D with 4 values.*pass shape \(5, 1\)"),
    ([2, 3, 3], 1, np.arange(2), r"1-D with 2 values.*pass shape \(1, 3\)"),
])
def test_an_ambiguous_1d_target_says_how_to_reshape(sizes, n, y, pattern):
    with pytest.raises(ValueError, match=pattern):
        fastbp.train(fastbp.Network(sizes), np.ones((n, 2)), y)


def test_one_sample_with_1d_arrays_still_works():
    net = fastbp.Network([2, 2, 2], seed=0)
    fastbp.train(net, [0.05, 0.10], [0.01, 0.99], epochs=2)


def test_options_checked_once_are_checked_again_by_type():
    # The scalar options are cached after their check: an equal value of another type
    # (True == 1, 2.0 == 2) or an unhashable one must still meet its check.
    net, X, Y = fastbp.tutorial.network(), fastbp.tutorial.INPUTS, fastbp.tutorial.TARGETS
    for _ in range(2):
        fastbp.train(net.copy(), X, Y, epochs=1, batch_size=1, shuffle=False)
    for kwargs, error, pattern in [
        ({"epochs": True}, TypeError, "epochs must be an integer, got bool"),
        ({"batch_size": 1.0}, TypeError, "batch_size must be an integer, got float"),
        ({"batch_size": [1]}, TypeError, "batch_size must be an integer, got list"),
        ({"shuffle": 0}, TypeError, "shuffle must be True or False"),
        ({"momentum": 1}, ValueError, r"momentum must be in \[0, 1\)"),
        ({"momentum": float("nan")}, ValueError, r"momentum must be in \[0, 1\)"),
    ]:
        with pytest.raises(error, match=pattern):
            fastbp.train(net.copy(), X, Y, epochs=kwargs.pop("epochs", 1), **kwargs)
    generator = np.random.default_rng(0)
    a, b = net.copy(), net.copy()
    fastbp.train(a, X, Y, epochs=3, shuffle=True, seed=generator)
    fastbp.train(b, X, Y, epochs=3, shuffle=True, seed=np.random.default_rng(0))
    assert np.array_equal(a.params, b.params)
