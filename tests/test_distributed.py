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


def test_sweep_on_a_scheduler(client, capsys):
    from fastbp.cli import main

    address = client.scheduler.address
    assert main(["sweep", "--sizes", "2,3,1", "--lr", "0.3:0.6:2", "--seeds", "2",
                 "--epochs", "30", "--scheduler", address]) == 0
    remote = capsys.readouterr().out
    assert main(["sweep", "--sizes", "2,3,1", "--lr", "0.3:0.6:2", "--seeds", "2",
                 "--epochs", "30"]) == 0
    assert capsys.readouterr().out == remote
