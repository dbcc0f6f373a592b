"""Network: construction, views into one buffer, forward, copy, save/load."""

import json
import os

import numpy as np
import pytest

import fastbp


def test_parameters_live_in_one_buffer():
    net = fastbp.Network([3, 4, 2], seed=0)
    assert net.params.dtype == np.float64 and net.params.flags.c_contiguous
    assert net.params.size == 3 * 4 + 4 + 4 * 2 + 2
    assert [w.shape for w in net.weights] == [(4, 3), (2, 4)]
    assert [b.shape for b in net.biases] == [(4,), (2,)]
    net.weights[1][0, 2] = 42.0
    net.biases[0][1] = -7.0
    assert net.params[12 + 4 + 2] == 42.0 and net.params[12 + 1] == -7.0


def test_seeded_initialisation_is_reproducible_and_scaled():
    a, b, c = (fastbp.Network([64, 32, 10], seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.params, b.params) and not np.array_equal(a.params, c.params)
    bound = np.sqrt(2.0 / (64 + 32))  # logistic: Glorot with factor 2
    assert np.abs(a.weights[0]).max() <= bound and np.abs(a.weights[0]).max() > 0.9 * bound
    relu = fastbp.Network([64, 32], "relu", seed=1)
    assert np.abs(relu.weights[0]).max() > bound  # factor 6 for the others


def test_explicit_weights_are_copied():
    W = [np.array([[1.0, 2.0]]), np.array([[3.0]])]
    net = fastbp.Network([2, 1, 1], weights=W, biases=[[0.5], [0.25]])
    W[0][0, 0] = 99.0
    assert net.weights[0].tolist() == [[1.0, 2.0]] and net.biases[1].tolist() == [0.25]


def test_activation_per_layer_and_repr():
    net = fastbp.Network([4, 3, 3], ["relu", "softmax"], bias="fixed")
    assert net.activations == ("relu", "softmax")
    assert repr(net) == ("Network(sizes=[4, 3, 3], activation=['relu', 'softmax'], "
                         "bias='fixed', params=27)")
    assert "activation='logistic'" in repr(fastbp.Network([1, 1]))


def test_forward_one_sample_and_many(backend):
    net = fastbp.Network([3, 5, 2], "tanh", seed=2)
    X = np.arange(6.0).reshape(2, 3) / 10
    many = net.forward(X, backend=backend)
    assert many.shape == (2, 2)
    assert np.array_equal(net.forward(X[1], backend=backend), many[1:])


def test_softmax_outputs_sum_to_one(backend):
    net = fastbp.Network([3, 4, 5], ["tanh", "softmax"], seed=0)
    out = net.forward(np.random.default_rng(0).normal(size=(7, 3)), backend=backend)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-15)


def test_copy_is_independent():
    net = fastbp.Network([2, 3, 1], ["relu", "identity"], bias="fixed", seed=3)
    twin = net.copy()
    assert np.array_equal(twin.params, net.params) and twin.params is not net.params
    twin.params[0] += 1
    assert twin.params[0] != net.params[0]
    assert (twin.sizes, twin.activations, twin.bias) == (net.sizes, net.activations, net.bias)


def test_save_load_round_trip_is_exact(tmp_path):
    net = fastbp.Network([3, 7, 4, 2], ["tanh", "relu", "softmax"], bias="fixed", seed=9)
    path = net.save(tmp_path / "net.npz")
    back = fastbp.Network.load(path)
    assert np.array_equal(back.params, net.params)
    assert (back.sizes, back.activations, back.bias) == (net.sizes, net.activations, net.bias)
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]  # no temporary file left behind


def test_save_failure_leaves_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    fastbp.Network([2, 2], seed=1).save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        fastbp.Network([2, 2], seed=2).save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]


def test_load_refuses_foreign_and_corrupted_files(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastbp network"):
        fastbp.Network.load(foreign)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable fastbp network"):
        fastbp.Network.load(text)
    good = fastbp.Network([2, 3, 1], seed=0).save(tmp_path / "good.npz")
    with np.load(good) as data:
        meta, params = json.loads(str(data["metadata"])), data["params"].copy()
    params[0] += 1.0
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, params=params, metadata=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match="checksum"):
        fastbp.Network.load(tampered)
    meta["format_version"] = 99
    newer = tmp_path / "newer.npz"
    np.savez(newer, params=params, metadata=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match="format version 99"):
        fastbp.Network.load(newer)
