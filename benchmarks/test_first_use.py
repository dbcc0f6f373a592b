"""First use of a shape, each in a fresh process with an empty shape cache (issue 18's
targets): the time to the first epoch, a new shape's first ``train_many``, and the time a
cold ``fastbp tutorial`` takes to print its first line.

The generic kernels are compiled once, before the rounds, into numba's cache beside
fastbp (where a user's first run leaves them); each round gets a new, empty
``XDG_CACHE_HOME``, so every shape's own kernels are missing, as on a shape's first use.
"""

import os
import subprocess
import sys
import tempfile
import time

import pytest

pytest.importorskip("numba")

WARM_GENERIC = """
import numpy as np, fastbp
X, Y = np.zeros((4, 2)), np.zeros((4, 1))
fastbp.train(fastbp.Network([2, 3, 1]), X, Y, epochs=1)
fastbp.train(fastbp.Network([2, 3, 1]), X, Y, epochs=1, batch_size=2)
fastbp.train_many([fastbp.Network([2, 3, 1], seed=s) for s in range(2)], X, Y, epochs=1)
"""

FIRST_EPOCH = """
import time, numpy as np, fastbp
sizes = {sizes}
rng = np.random.default_rng(0)
X, Y = rng.normal(size=(20, sizes[0])), rng.uniform(size=(20, sizes[-1]))
net = fastbp.Network(sizes, seed=0)
t = time.perf_counter()
fastbp.train(net, X, Y, epochs=1, lr=0.1)
print(time.perf_counter() - t)
"""

SWEEP = """
import time, numpy as np, fastbp
X, Y = np.array([[0, 0], [0, 1], [1, 0], [1, 1.0]]), np.array([[0], [1], [1], [0.0]])
nets = [fastbp.Network({sizes}, seed=s) for s in range(200)]
t = time.perf_counter()
fastbp.train_many(nets, X, Y, epochs=10_000, lr=0.5)
print(time.perf_counter() - t)
"""


@pytest.fixture(scope="module")
def generic_cached():
    subprocess.run([sys.executable, "-c", WARM_GENERIC], check=True,
                   env={**os.environ, "FASTBP_TIERS": "generic"})


def _fresh_seconds(code):
    """Seconds a fresh process reports, with no shape's own kernels cached."""
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items()
               if k not in ("NUMBA_CACHE_DIR", "FASTBP_TIERS")}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**env, "XDG_CACHE_HOME": cache}, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _timed(benchmark, code, rounds):
    times = []
    benchmark.pedantic(lambda: times.append(_fresh_seconds(code)), rounds=rounds,
                       iterations=1)
    benchmark.extra_info["seconds_min"] = min(times)
    benchmark.extra_info["seconds_max"] = max(times)


@pytest.mark.parametrize("sizes", [[64, 32, 10], [3, 7, 2], [5, 9, 9, 2]],
                         ids=lambda s: "-".join(map(str, s)))
def test_first_epoch_on_a_new_shape(benchmark, generic_cached, sizes):
    """From the call to the first epoch done (numba imported and the generic kernels loaded
    inside the call); target at most 1.5 s."""
    benchmark.group = "first use"
    _timed(benchmark, FIRST_EPOCH.format(sizes=sizes), rounds=3)


@pytest.mark.parametrize("sizes", [[2, 29, 1], [2, 30, 1], [2, 31, 1]],
                         ids=lambda s: "-".join(map(str, s)))
def test_first_train_many_on_a_new_shape(benchmark, generic_cached, sizes):
    """200 XOR networks x 10,000 epochs, the shape's first use; target at most 3 s."""
    benchmark.group = "first use"
    _timed(benchmark, SWEEP.format(sizes=sizes), rounds=2)


def test_cold_tutorial_first_line(benchmark):
    """Seconds from starting ``fastbp tutorial`` to its first line, with every cache empty
    (numba's included); target at most 1 s."""
    benchmark.group = "first use"
    times = []

    def run():
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache, "XDG_CACHE_HOME": cache}
            began = time.perf_counter()
            tutorial = subprocess.Popen(
                [sys.executable, "-c", "import sys; from fastbp.cli import main; "
                 "sys.exit(main(['tutorial']))"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
            first = tutorial.stdout.readline()
            times.append(time.perf_counter() - began)
            tutorial.kill()
            tutorial.wait()
            tutorial.stdout.close()
            assert first.strip(), "fastbp tutorial printed nothing"

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["first_line_seconds"] = min(times)
