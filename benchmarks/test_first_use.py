"""First use, each in a fresh process with every cache empty (numba's and fastbp's own):
the quick start's first run, as a new user meets it.

Targets: a cold ``fastbp tutorial`` at most 5 s and a warm one (its caches kept) at most
1 s; a first ``fastbp.train`` of any shape at most 5 s; a first ``train_many`` of any
shape at most 5 s. ``backend="auto"`` runs on the Cython kernels, compiled at install,
while numba's kernels are not compiled (:func:`fastbp.kernels.choose`), so nothing here
waits on a compile. Each figure is the whole process, interpreter start included; the
benchmark's extra info keeps the fastest and slowest round and the backend that ran.
"""

import os
import subprocess
import sys
import tempfile
import time

import pytest

TRAIN = """
import numpy as np, fastbp
sizes, n, epochs, batch = {sizes}, {n}, {epochs}, {batch}
rng = np.random.default_rng(0)
X, Y = rng.uniform(size=(n, sizes[0])), rng.uniform(size=(n, sizes[-1]))
print(fastbp.train(fastbp.Network(sizes, seed=0), X, Y, epochs=epochs, lr=0.1,
                   batch_size=batch).backend)
"""

TRAIN_MANY = """
import numpy as np, fastbp
X, Y = np.array([[0, 0], [0, 1], [1, 0], [1, 1.0]]), np.array([[0], [1], [1], [0.0]])
nets = [fastbp.Network({sizes}, seed=s) for s in range(200)]
print(fastbp.train_many(nets, X, Y, epochs=10_000, lr=0.5)[0].backend)
"""

#: (label, program): first runs of shapes a new user might start with, small to wide
FIRST_TRAIN = {
    "tutorial 2-2-2, 10,000 epochs": TRAIN.format(sizes=[2, 2, 2], n=1, epochs=10_000,
                                                  batch=1),
    "3-7-2 online, 200 samples x 100 epochs": TRAIN.format(sizes=[3, 7, 2], n=200,
                                                           epochs=100, batch=1),
    "64-32-10 online, 1,400 samples x 3 epochs": TRAIN.format(sizes=[64, 32, 10], n=1400,
                                                              epochs=3, batch=1),
    "5-9-9-2 batches of 32, 1,000 x 20": TRAIN.format(sizes=[5, 9, 9, 2], n=1000, epochs=20,
                                                      batch=32),
    "784-128-10 full batch, 6,000 x 5": TRAIN.format(sizes=[784, 128, 10], n=6000, epochs=5,
                                                     batch=None),
}


def _run(argv, cache):
    """Seconds a fresh process takes with the caches in ``cache``, and what it printed."""
    env = {k: v for k, v in os.environ.items() if k not in ("FASTBP_TIERS",)}
    env.update(NUMBA_CACHE_DIR=os.path.join(cache, "numba"), XDG_CACHE_HOME=cache)
    began = time.perf_counter()
    # in the cache's directory: the installed fastbp, not a checkout's from the current one
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True,
                          timeout=600, cwd=cache)
    return time.perf_counter() - began, done.stdout


def _timed(benchmark, argv, rounds, warm=False):
    """Each round in a fresh process; with empty caches, or (``warm``) with the caches a
    first run, not timed, filled. The benchmark times the round's process alone."""
    times, printed, caches = [], [], []

    def setup():
        caches.append(tempfile.TemporaryDirectory())
        if warm:
            _run(argv, caches[-1].name)
        return (caches[-1].name,), {}

    def one(cache):
        seconds, out = _run(argv, cache)
        times.append(seconds)
        printed.append(out)

    try:
        benchmark.pedantic(one, setup=setup, rounds=rounds, iterations=1)
    finally:
        for cache in caches:
            cache.cleanup()
    benchmark.extra_info.update(seconds_min=min(times), seconds_max=max(times))
    return printed


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_tutorial(benchmark, warm):
    """The whole ``fastbp tutorial``; targets: cold at most 5 s, warm at most 1 s."""
    benchmark.group = "first use: fastbp tutorial"
    printed = _timed(benchmark, [sys.executable, "-m", "fastbp", "tutorial"], 3, warm)
    assert all("agree with the text's rule" in out for out in printed)


@pytest.mark.parametrize("label", list(FIRST_TRAIN))
def test_first_train(benchmark, label):
    """A shape's first ``fastbp.train`` on a machine; target at most 5 s."""
    benchmark.group = "first use: train"
    printed = _timed(benchmark, [sys.executable, "-c", FIRST_TRAIN[label]], 2)
    benchmark.extra_info["backend"] = printed[-1].strip()


@pytest.mark.parametrize("sizes", [[2, 2, 1], [2, 29, 1]], ids=lambda s: "-".join(map(str, s)))
def test_first_train_many(benchmark, sizes):
    """200 XOR networks x 10,000 epochs, the first ``train_many`` on a machine; target at
    most 5 s."""
    benchmark.group = "first use: train_many"
    printed = _timed(benchmark, [sys.executable, "-c", TRAIN_MANY.format(sizes=sizes)], 2)
    benchmark.extra_info["backend"] = printed[-1].strip()
