"""train_many on a dask.distributed LocalCluster of processes, on loopback: same as local."""

import numpy as np
import pytest

import fastbp

distributed = pytest.importorskip("distributed", reason="the distributed extra is not installed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_cluster_results_equal_local(client):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    lrs = np.linspace(0.1, 1.0, 10)
    remote = [fastbp.Network([2, 5, 1], seed=s % 3) for s in range(10)]
    local = [net.copy() for net in remote]
    options = {"epochs": 200, "shuffle": True, "seed": 3, "momentum": 0.5, "record_every": 100}
    got = fastbp.train_many(remote, X, Y, lr=lrs, client=client, **options)
    want = fastbp.train_many(local, X, Y, lr=lrs, **options)
    for a, b, r, w in zip(remote, local, got, want):
        assert np.array_equal(a.params, b.params)
        assert np.array_equal(r.history, w.history) and r.final_loss == w.final_loss


@pytest.mark.parametrize("batch_size", [1, 2])
def test_sample_weights_and_adam_on_the_cluster_equal_local(client, batch_size):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    weights = np.array([0.5, 2.0, 0.25 if batch_size == 1 else 0.0, 1.25])
    lrs = np.linspace(0.01, 0.1, 6)
    remote = [fastbp.Network([2, 4, 1], seed=s) for s in range(6)]
    local = [net.copy() for net in remote]
    options = {"epochs": 60, "shuffle": True, "seed": 1, "optimizer": fastbp.Adam(),
               "batch_size": batch_size, "weight_decay": 1e-3, "sample_weight": weights}
    got = fastbp.train_many(remote, X, Y, lr=lrs, client=client, **options)
    want = fastbp.train_many(local, X, Y, lr=lrs, **options)
    for a, b, r, w in zip(remote, local, got, want):
        assert np.array_equal(a.params, b.params)
        assert np.array_equal(r.history, w.history) and r.final_loss == w.final_loss
    unweighted = [net.copy() for net in remote]
    fastbp.train_many(unweighted, X, Y, lr=lrs, client=client,
                      **{**options, "sample_weight": None})
    assert not np.array_equal(unweighted[0].params, remote[0].params)


def test_sweep_on_a_scheduler(client, capsys):
    from fastbp.cli import main

    address = client.scheduler.address
    assert main(["sweep", "--sizes", "2,3,1", "--lr", "0.3:0.6:2", "--seeds", "2",
                 "--epochs", "30", "--scheduler", address]) == 0
    remote = capsys.readouterr().out
    assert main(["sweep", "--sizes", "2,3,1", "--lr", "0.3:0.6:2", "--seeds", "2",
                 "--epochs", "30"]) == 0
    assert capsys.readouterr().out == remote


def diverging(lrs):
    """Networks w -> w - lr (10 w) 10: finite for lr = 1e-4, overflowing for lr >= 50."""
    nets = [fastbp.Network([1, 1], "identity", bias="fixed", weights=[[[1.0]]], biases=[[0.0]])
            for _ in lrs]
    return nets, np.array([[10.0]]), np.array([[0.0]])


@pytest.mark.parametrize("lrs", [
    [1e-4] * 7 + [1000.0],  # the last network diverges
    [1e-4, 1e-4, 1e-4, 1000.0, 1e-4, 1e-4, 50.0, 1e-4],  # two chunks diverge, at two epochs
])
def test_a_divergence_is_the_same_on_the_cluster(client, lrs):
    remote, X, Y = diverging(lrs)
    local, _, _ = diverging(lrs)
    with pytest.raises(fastbp.DivergenceError) as on_cluster:
        fastbp.train_many(remote, X, Y, epochs=5_000, lr=lrs, client=client,
                          on_divergence="raise")
    with pytest.raises(fastbp.DivergenceError) as here:
        fastbp.train_many(local, X, Y, epochs=5_000, lr=lrs, backend="numba",
                          on_divergence="raise")
    assert str(on_cluster.value) == str(here.value)
    assert (on_cluster.value.epoch, on_cluster.value.network) == \
        (here.value.epoch, here.value.network) == (here.value.epoch, lrs.index(1000.0))
    for a, b in zip(remote, local):
        assert np.isfinite(a.params).all()
        assert np.array_equal(a.params, b.params)


def test_diverging_networks_stop_alone_on_the_cluster(client):
    lrs = [1e-4, 1e-4, 1e-4, 1000.0, 1e-4, 1e-4, 50.0, 1e-4]
    remote, X, Y = diverging(lrs)
    local, _, _ = diverging(lrs)
    on_cluster = fastbp.train_many(remote, X, Y, epochs=5_000, lr=lrs, client=client)
    here = fastbp.train_many(local, X, Y, epochs=5_000, lr=lrs, backend="numba")
    assert [r.diverged_epoch for r in on_cluster] == [r.diverged_epoch for r in here]
    assert [r.diverged for r in here] == [lr > 1 for lr in lrs]
    for a, b in zip(remote, local):
        assert np.array_equal(a.params, b.params)


def test_a_loss_divergence_is_the_same_on_the_cluster(client):
    # Logistic outputs saturate to exactly 1 under cross-entropy with target 0: the loss is
    # infinite while the parameters stay finite; it is measured at each record.
    def nets():
        return [fastbp.Network([1, 1], bias="fixed", weights=[[[w]]], biases=[[0.0]])
                for w in (0.1, 0.2, 0.3, 0.4, 0.5)]
    X, Y = np.array([[1.0]]), np.array([[0.0]])
    lrs = [0.1] * 5
    remote, local = nets(), nets()
    remote[3].weights[0][...] = local[3].weights[0][...] = 40.0  # 1 / (1 + e^-40) == 1.0
    with pytest.raises(fastbp.DivergenceError) as on_cluster:
        fastbp.train_many(remote, X, Y, epochs=30, lr=lrs, loss="cross_entropy",
                          record_every=10, client=client, on_divergence="raise")
    with pytest.raises(fastbp.DivergenceError) as here:
        fastbp.train_many(local, X, Y, epochs=30, lr=lrs, loss="cross_entropy",
                          record_every=10, backend="numba", on_divergence="raise")
    assert str(on_cluster.value) == str(here.value)
    assert (on_cluster.value.epoch, on_cluster.value.network) == (10, 3)
    for a, b in zip(remote, local):
        assert np.array_equal(a.params, b.params)


def test_progress_on_the_cluster_counts_networks(client, capsys):
    nets = [fastbp.Network([2, 3, 1], seed=s) for s in range(6)]
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    fastbp.train_many(nets, X, Y, epochs=20, client=client, progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err and "network" in err


def test_a_lost_worker_changes_nothing():
    """A worker process killed while it trains a chunk: the scheduler runs the chunk again
    elsewhere and train_many returns the bits of a local run."""
    import os
    import signal
    import threading
    import time

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 4)), rng.uniform(size=(32, 2))
    lrs = [0.1, 0.2, 0.3, 0.4]
    options = {"epochs": 30_000, "momentum": 0.5, "record_every": 10_000, "backend": "numba"}
    remote = [fastbp.Network([4, 16, 2], seed=s) for s in range(4)]
    local = [net.copy() for net in remote]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(lambda: fastbp.train(fastbp.Network([4, 16, 2]), X, Y, backend="numba"))
        got = {}
        run = threading.Thread(target=lambda: got.update(results=fastbp.train_many(
            remote, X, Y, lr=lrs, client=client, **options)))
        run.start()
        deadline = time.monotonic() + 60
        while not any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        busy = [w for w, keys in client.processing().items() if keys]
        assert busy, "no task was running"
        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        run.join(timeout=300)
        assert not run.is_alive()
    want = fastbp.train_many(local, X, Y, lr=lrs, **options)
    for a, b, r, w in zip(remote, local, got["results"], want):
        assert np.array_equal(a.params, b.params)
        assert np.array_equal(r.history, w.history) and r.final_loss == w.final_loss
