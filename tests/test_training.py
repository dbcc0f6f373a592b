"""Training semantics: batches, momentum, bias modes, shuffling, history, progress."""

import numpy as np
import pytest

import fastbp


@pytest.fixture
def problem():
    rng = np.random.default_rng(11)
    net = fastbp.Network([3, 4, 2], ["tanh", "logistic"], seed=5)
    return net, rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))


def flat(dW, db):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])


def manual_sgd(net, X, Y, batches, lr, momentum=0.0, backend="python"):
    """Apply ``w -= lr * mean gradient`` (or classical momentum) batch by batch."""
    velocity = np.zeros_like(net.params)
    for rows in batches:
        g = flat(*fastbp.gradients(net, X[rows], Y[rows], backend=backend))
        if net.bias == "fixed":
            for _, b in zip(*net.split(g)):
                b[...] = 0.0
        if momentum == 0.0:
            net.params[...] = net.params - lr * g
        else:
            velocity = momentum * velocity - lr * g
            net.params[...] = net.params + velocity


@pytest.mark.parametrize(("batch_size", "batches"), [
    (1, [[0], [1], [2], [3], [4]]),
    (2, [[0, 1], [2, 3], [4]]),
    (None, [[0, 1, 2, 3, 4]]),
])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_batches_and_momentum_follow_the_definition(backend, problem, batch_size, batches,
                                                    momentum):
    net, X, Y = problem
    expected = net.copy()
    manual_sgd(expected, X, Y, batches * 2, 0.3, momentum, backend)
    fastbp.train(net, X, Y, epochs=2, lr=0.3, batch_size=batch_size, momentum=momentum,
                 backend=backend)
    assert np.array_equal(net.params, expected.params)


def test_fixed_biases_never_move(backend, problem):
    net, X, Y = problem
    fixed = fastbp.Network(net.sizes, list(net.activations), bias="fixed",
                           weights=net.weights, biases=net.biases)
    before = [b.copy() for b in fixed.biases]
    fastbp.train(fixed, X, Y, epochs=3, momentum=0.5, backend=backend)
    assert all(np.array_equal(b, c) for b, c in zip(fixed.biases, before))
    assert not np.array_equal(fixed.weights[0], net.weights[0])


def test_shuffle_is_seeded_and_reproducible(backend, problem):
    net, X, Y = problem
    runs = []
    for seed in (1, 1, 2):
        copy = net.copy()
        fastbp.train(copy, X, Y, epochs=3, shuffle=True, seed=seed, backend=backend)
        runs.append(copy.params)
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_shuffle_order_is_one_permutation_per_epoch(problem):
    net, X, Y = problem
    expected = net.copy()
    rng = np.random.default_rng(4)
    for _ in range(3):
        perm = rng.permuted(np.arange(len(X)))
        manual_sgd(expected, X, Y, [[i] for i in perm], 0.5)
    fastbp.train(net, X, Y, epochs=3, shuffle=True, seed=4, backend="python")
    assert np.array_equal(net.params, expected.params)


def test_recording_does_not_change_training(backend, problem):
    net, X, Y = problem
    plain, recorded = net.copy(), net.copy()
    fastbp.train(plain, X, Y, epochs=7, shuffle=True, seed=3, momentum=0.5, backend=backend)
    result = fastbp.train(recorded, X, Y, epochs=7, shuffle=True, seed=3, momentum=0.5,
                          record_every=2, backend=backend)
    assert np.array_equal(plain.params, recorded.params)
    assert result.history_epochs.tolist() == [2, 4, 6]


def test_history_holds_the_mean_loss_at_each_record(backend, problem):
    net, X, Y = problem
    result = fastbp.train(net.copy(), X, Y, epochs=6, record_every=3, backend=backend)
    for epochs, loss in zip(result.history_epochs, result.history):
        probe = net.copy()
        assert fastbp.train(probe, X, Y, epochs=int(epochs), backend=backend).final_loss == loss
    assert result.history[-1] == result.final_loss
    assert result.epochs == 6 and result.seconds >= 0


def test_without_record_every_history_is_the_end(backend, problem):
    net, X, Y = problem
    result = fastbp.train(net, X, Y, epochs=4, backend=backend)
    assert result.history.tolist() == [result.final_loss]
    assert result.history_epochs.tolist() == [4]
    assert result.backend == backend


def test_zero_epochs_changes_nothing(backend, problem):
    net, X, Y = problem
    before = net.params.copy()
    result = fastbp.train(net, X, Y, epochs=0, backend=backend)
    assert np.array_equal(net.params, before)
    assert result.final_loss > 0


def test_progress_bar_trains_the_same(backend, problem, capsys):
    net, X, Y = problem
    quiet, shown = net.copy(), net.copy()
    fastbp.train(quiet, X, Y, epochs=250, backend=backend)
    fastbp.train(shown, X, Y, epochs=250, progress=True, backend=backend)
    assert np.array_equal(quiet.params, shown.params)
    assert "250/250" in capsys.readouterr().err


def test_auto_names_the_backend_it_used(problem):
    net, X, Y = problem
    expected = fastbp.kernels.choose("auto", net.kernel_shape, fastbp.kernels.protocol.Rule(0),
                                     1, len(X), 1)[0]
    assert fastbp.train(net, X, Y).backend == expected


def test_cross_entropy_training_lowers_the_loss(backend):
    X, Y = (np.array(a, dtype=float) for a in ([[0, 0], [0, 1], [1, 0], [1, 1]],
                                               [[0], [1], [1], [0]]))
    net = fastbp.Network([2, 5, 1], ["tanh", "logistic"], seed=0)
    start = fastbp.train(net.copy(), X, Y, epochs=0, loss="cross_entropy").final_loss
    result = fastbp.train(net, X, Y, epochs=300, lr=0.5, loss="cross_entropy", backend=backend)
    assert result.final_loss < 0.5 * start
