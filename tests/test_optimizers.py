"""fastbp.SGD and fastbp.Adam through the public API: every backend and thread count gives
the oracle's bits, checkpoints resume an Adam run exactly on another backend, train_many
matches networks trained alone, sample weights and the epochs' report; bad settings get a
clear error. (Every compiled form of the step is held to stored bits in test_steps.py.)"""

import json
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp.kernels import resolve
from fastbp.kernels.protocol import Rule

RNG = np.random.default_rng(7)
X = RNG.normal(size=(30, 3))
Y = RNG.uniform(size=(30, 2))
WEIGHTS = RNG.uniform(0.2, 2.5, size=30)


def net():
    return fastbp.Network([3, 6, 2], ["tanh", "logistic"], seed=4)


OPTIMIZERS = {"adam": "adam", "adam-settings": fastbp.Adam(0.8, 0.99, 1e-4),
              "nesterov": fastbp.SGD(0.9, nesterov=True), "momentum": fastbp.SGD(0.5)}


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=str)
@pytest.mark.parametrize("batch_size", [1, 4, None])
@pytest.mark.parametrize("weighted", [False, True])
def test_every_backend_gives_the_oracles_bits(backend, optimizer, batch_size, weighted):
    options = {"epochs": 6, "lr": 0.05, "batch_size": batch_size, "weight_decay": 0.01,
               "shuffle": True, "seed": 3, "optimizer": OPTIMIZERS[optimizer],
               "sample_weight": WEIGHTS if weighted else None, "record_every": 2}
    ours, theirs = net(), net()
    got = fastbp.train(ours, X, Y, backend=backend, **options)
    want = fastbp.train(theirs, X, Y, backend="python", **options)
    assert np.array_equal(ours.params, theirs.params)
    assert np.array_equal(got.history, want.history) and got.final_loss == want.final_loss


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_change_no_bit(backend, threads):
    wide = fastbp.Network([20, 64, 5], ["relu", "logistic"], seed=1)
    Xw, Yw = RNG.normal(size=(256, 20)), RNG.uniform(size=(256, 5))
    results = []
    for th in (1, threads):
        copy = wide.copy()
        fastbp.train(copy, Xw, Yw, epochs=2, lr=0.01, batch_size=64, optimizer="adam",
                     sample_weight=np.linspace(0.5, 1.5, 256), backend=backend, threads=th)
        results.append(copy.params)
    assert np.array_equal(*results)


def test_train_many_matches_networks_trained_alone(backend):
    nets = [net() for _ in range(5)]
    lrs = np.linspace(0.01, 0.1, 5)
    fastbp.train_many(nets, X, Y, epochs=4, lr=lrs, optimizer="adam", sample_weight=WEIGHTS,
                      backend=backend)
    for k, trained in enumerate(nets):
        alone = net()
        fastbp.train(alone, X, Y, epochs=4, lr=lrs[k], optimizer="adam",
                     sample_weight=WEIGHTS, backend="python")
        assert np.array_equal(trained.params, alone.params), k


def test_an_adam_checkpoint_resumes_exactly_on_another_backend(tmp_path, backend):
    path = tmp_path / "run.npz"
    options = {"lr": 0.02, "batch_size": 4, "optimizer": fastbp.Adam(beta_1=0.85),
               "shuffle": True, "seed": 5, "sample_weight": WEIGHTS}
    first = net()
    fastbp.train(first, X, Y, epochs=5, checkpoint=path, backend="python", **options)
    resumed, result = fastbp.resume(path, X, Y, epochs=9, backend=backend,
                                    sample_weight=WEIGHTS)
    whole = net()
    fastbp.train(whole, X, Y, epochs=9, backend="python", **options)
    assert np.array_equal(resumed.params, whole.params) and result.epochs == 9
    with pytest.raises(ValueError, match="sample_weight are not the data"):
        fastbp.resume(path, X, Y, sample_weight=WEIGHTS * 2)


def test_the_epochs_report_is_the_oracles_on_every_backend(backend):
    shape = net().kernel_shape
    for rule in (Rule(0, 1, adam=True, weight_decay=0.01), Rule(0, 7, 0.9, 0.1, nesterov=True)):
        reports = []
        for name in ("python", backend):
            params, state = net().params.copy(), rule.new_state(shape.n_params)
            report = np.zeros((3, 2))
            resolve(name)[1].train(shape, rule, params, state, X, Y, 3, 0.05, None, None,
                                   WEIGHTS, report)
            reports.append(report)
        assert np.array_equal(*reports) and (reports[0] > 0).all()


@pytest.mark.parametrize(("options", "message"), [
    ({"optimizer": "rmsprop"}, "optimizer must be one of 'sgd', 'adam'"),
    ({"optimizer": 3}, "optimizer must be 'sgd', 'adam'"),
    ({"optimizer": "adam", "momentum": 0.9}, "momentum=0.9 is the shorthand"),
    ({"optimizer": fastbp.SGD(0.5), "momentum": 0.9}, "momentum=0.9 is the shorthand"),
    ({"sample_weight": -WEIGHTS}, "sample_weight must hold finite weights >= 0"),
    ({"sample_weight": np.full(30, np.nan)}, "sample_weight must hold finite weights"),
    ({"sample_weight": WEIGHTS[:4]}, "one weight per sample"),
    ({"sample_weight": np.r_[0.0, WEIGHTS[1:]]}, "could hold only zero weights"),
    ({"sample_weight": np.r_[np.zeros(4), WEIGHTS[4:]], "batch_size": 4, "shuffle": True},
     "could hold only zero weights"),
    # 30 samples in batches of 4: the last, of 2, could draw the two zeros
    ({"sample_weight": np.r_[np.zeros(2), WEIGHTS[2:]], "batch_size": 4, "shuffle": True},
     "could hold only zero weights"),
])
def test_bad_optimizers_and_weights_are_refused_before_training(options, message):
    network = net()
    before = network.params.copy()
    weights = options.get("sample_weight")
    kept = None if not isinstance(weights, np.ndarray) else weights.copy()
    with pytest.raises((ValueError, TypeError), match=message):  # TypeError: a wrong type
        fastbp.train(network, X, Y, **options)
    assert np.array_equal(network.params, before)
    if kept is not None:
        assert np.array_equal(weights, kept, equal_nan=True)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: fastbp.Adam(beta_1=1.0), "beta_1 must be in"),
    (lambda: fastbp.Adam(beta_2=-0.1), "beta_2 must be in"),
    (lambda: fastbp.Adam(epsilon=0.0), "epsilon must be a finite number > 0"),
    (lambda: fastbp.SGD(momentum=1.0), "momentum must be in"),
])
def test_bad_settings(make, message):
    with pytest.raises(ValueError, match=message):
        make()
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        fastbp.SGD(0.5, nesterov="yes")


@pytest.mark.parametrize("optimizer", ["adam", fastbp.SGD(0.9, nesterov=True)], ids=str)
def test_trace_names_every_intermediate_and_matches_a_train_step(optimizer):
    tutorial = fastbp.tutorial.network()
    x, t = [0.05, 0.10], [0.01, 0.99]
    step = fastbp.trace(tutorial, x, t, lr=0.5, weight_decay=0.01, optimizer=optimizer)
    after = tutorial.copy()
    fastbp.train(after, [x], [t], lr=0.5, weight_decay=0.01, optimizer=optimizer,
                 backend="python")
    assert [step[f"w{i}+"] for i in range(1, 9)] == after.weights[0].ravel().tolist() + \
        after.weights[1].ravel().tolist()
    names = step.names()
    if optimizer == "adam":
        assert {"t+", "beta_1^t", "beta_2^t", "lr_t", "m_w5+", "s_w5+"} <= set(names)
    else:
        assert "v_w5+" in names


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fastbp", *args], capture_output=True,
                          text=True, timeout=300)


def test_the_commands_take_the_optimizer(tmp_path):
    data = tmp_path / "xor.csv"
    data.write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    done = _cli("train", "--data", str(data), "--targets", "y", "--sizes", "2,4,1",
                "--epochs", "50", "--optimizer", "adam", "--beta1", "0.8", "--lr", "0.05",
                "--backend", "python")
    assert done.returncode == 0, done.stderr
    wrong = _cli("train", "--data", str(data), "--targets", "y", "--sizes", "2,4,1",
                 "--beta1", "0.8")
    assert wrong.returncode != 0 and "Adam's: add --optimizer adam" in wrong.stderr
    explained = _cli("explain", "--tutorial", "--optimizer", "adam", "--format", "json")
    assert explained.returncode == 0, explained.stderr
    assert "lr_t" in json.dumps(json.loads(explained.stdout))
    swept = _cli("sweep", "--sizes", "2,3,1", "--data", "xor", "--lr", "0.05", "--seeds", "1",
                 "--epochs", "20", "--momentum", "0.9", "--nesterov", "--backend", "python")
    assert swept.returncode == 0, swept.stderr


def test_weighted_gradients_are_the_oracles_and_a_weight_of_k_is_k_copies(backend):
    network = net()
    got = fastbp.gradients(network, X, Y, backend=backend, weight_decay=0.1,
                           sample_weight=WEIGHTS)
    want = fastbp.gradients(network, X, Y, backend="python", weight_decay=0.1,
                            sample_weight=WEIGHTS)
    assert all(np.array_equal(a, b) for a, b in zip(got[0] + got[1], want[0] + want[1]))
    twice = fastbp.gradients(network, np.vstack([X, X[:1]]), np.vstack([Y, Y[:1]]),
                             backend=backend)
    weighted = fastbp.gradients(network, X, Y, backend=backend,
                                sample_weight=np.r_[2.0, np.ones(29)])
    for a, b in zip(twice[0] + twice[1], weighted[0] + weighted[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
