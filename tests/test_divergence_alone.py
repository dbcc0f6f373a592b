"""A network that diverges in a sweep stops alone; the others train on with unchanged bits."""

import numpy as np
import pytest

import fastbp
from fastbp.cli import main

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])
LRS = [0.05, 50.0, 0.1, 20.0]  # networks 1 and 3 diverge


def nets():
    return [fastbp.Network([2, 3, 1], "identity", seed=k) for k in range(4)]


@pytest.mark.parametrize("record_every", [None, 1, 7])
def test_diverging_networks_stop_alone(backend, record_every):
    many = nets()
    results = fastbp.train_many(many, X, Y, epochs=60, lr=LRS, momentum=0.5, shuffle=True,
                                seed=2, record_every=record_every, backend=backend)
    assert [r.diverged for r in results] == [False, True, False, True]
    for k, (net, result) in enumerate(zip(many, results)):
        alone = nets()[k]
        options = {"epochs": 60, "lr": LRS[k], "momentum": 0.5, "shuffle": True, "seed": 2,
                       "record_every": record_every, "backend": backend}
        if not result.diverged:
            expected = fastbp.train(alone, X, Y, **options)
            assert np.array_equal(net.params, alone.params)
            assert np.array_equal(result.history, expected.history)
            assert result.final_loss == expected.final_loss and result.epochs == 60
            continue
        with pytest.raises(fastbp.DivergenceError) as caught:
            fastbp.train(alone, X, Y, **options)
        assert np.array_equal(net.params, alone.params)  # its last finite state
        assert np.isfinite(net.params).all()
        assert result.diverged_epoch == caught.value.epoch
        assert result.epochs == caught.value.epochs_kept
        assert np.isnan(result.final_loss)
        stopped = fastbp.train(nets()[k], X, Y, on_divergence="stop", **options)
        assert (stopped.diverged, stopped.diverged_epoch, stopped.epochs) == \
            (True, result.diverged_epoch, result.epochs)
        if record_every:
            after = result.history_epochs > result.epochs
            assert np.isnan(result.history[after]).all()
            before = result.history_epochs < result.epochs
            assert np.isfinite(result.history[before]).all()
            # at the epoch it was left after: finite, unless that loss is what diverged
            at = result.history[result.history_epochs == result.epochs]
            assert np.isfinite(at).all() or result.diverged_epoch == result.epochs


def test_on_divergence_raise_keeps_the_old_behaviour(backend):
    many = nets()
    with pytest.raises(fastbp.DivergenceError) as caught:
        fastbp.train_many(many, X, Y, epochs=60, lr=LRS, on_divergence="raise", backend=backend)
    assert caught.value.network == 1
    kept = caught.value.epochs_kept
    for k, net in enumerate(many):
        alone = nets()[k]
        fastbp.train(alone, X, Y, epochs=kept, lr=LRS[k], backend=backend)
        assert np.array_equal(net.params, alone.params)


def test_a_loss_that_diverges_stops_its_network():
    """Finite parameters, infinite cross-entropy: stopped at the epoch it was measured."""
    net = fastbp.Network([1, 1], "logistic", weights=[[[1000.0]]], biases=[[0.0]])
    ok = fastbp.Network([1, 1], "logistic", weights=[[[0.1]]], biases=[[0.0]])
    results = fastbp.train_many([net, ok], [[1.0]], [[0.0]], epochs=3, record_every=1,
                                loss="cross_entropy", lr=1e-9)
    assert results[0].diverged and results[0].diverged_epoch == 1 and results[0].epochs == 1
    assert np.isinf(results[0].history[0]) and np.isnan(results[0].history[1:]).all()
    assert not results[1].diverged and np.isfinite(results[1].history).all()


def test_sweep_prints_and_writes_the_diverged_rows(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["sweep", "--sizes", "2,3,1", "--activation", "identity", "--lr",
                 "0.05:50:2", "--seeds", "2", "--epochs", "40", "--csv", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[-1] == "note"
    assert "nan" in table[2] and "diverged at epoch" in table[2]
    assert "diverged" not in table[1]
    rows = out.read_text().splitlines()
    assert rows[0] == "lr,seed,final_loss,epochs,status"
    assert rows[3].split(",")[2] == "nan" and "diverged at epoch" in rows[3]
