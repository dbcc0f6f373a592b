"""Start-up costs, each in a fresh process: import, first train with a warm cache, cold compile."""

import os
import subprocess
import sys
import tempfile
import time

import pytest

FIRST_TRAIN = """
import time
import fastbp
from fastbp.learn import tutorial
t = time.perf_counter()
fastbp.train(tutorial.network(), tutorial.INPUTS, tutorial.TARGETS, epochs=10, backend="{b}")
print(time.perf_counter() - t)
"""

EVERYTHING = """
import time
t = time.perf_counter()
import numpy as np, fastbp
from fastbp.learn import tutorial
fastbp.train(tutorial.network(), tutorial.INPUTS, tutorial.TARGETS, epochs=10, backend="{b}")
rng = np.random.default_rng(0)
net = fastbp.Network([64, 32, 10], seed=0)
X, Y = rng.normal(size=(20, 64)), rng.uniform(size=(20, 10))
for batch_size in (1, 4):
    for momentum in (0.0, 0.5):
        fastbp.train(net, X, Y, epochs=1, batch_size=batch_size, momentum=momentum, backend="{b}")
net.forward(X, backend="{b}")
fastbp.gradients(net, X, Y, backend="{b}")
print(time.perf_counter() - t)
"""


def _seconds(code, env=None):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def test_import_time(benchmark):
    """Wall time of `python -c "import fastbp"` (the interpreter's own start included)."""
    benchmark.group = "start-up"

    def run():
        subprocess.run([sys.executable, "-c", "import fastbp"], check=True)

    benchmark.pedantic(run, rounds=5, iterations=1)


@pytest.mark.parametrize("backend", ["numba"])
def test_first_train_warm_cache(benchmark, backend):
    """The first train() call in a new process (after import fastbp), kernels in the cache.

    Includes importing numba and loading the cached kernels; extra_info holds the
    time of the call itself, the benchmark's own figure the whole process.
    """
    benchmark.group = "start-up"
    _seconds(FIRST_TRAIN.format(b=backend))  # fill the cache
    times = []
    benchmark.pedantic(lambda: times.append(_seconds(FIRST_TRAIN.format(b=backend))),
                       rounds=5, iterations=1)
    benchmark.extra_info["first_train_seconds"] = min(times)


@pytest.mark.parametrize("backend", ["numba"])
def test_cold_compile_everything(benchmark, backend):
    """Every kernel compiled from an empty cache: online, momentum, batches, forward, gradients."""
    benchmark.group = "start-up"
    times = []

    def run():
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            _seconds(EVERYTHING.format(b=backend),
                     {"NUMBA_CACHE_DIR": cache, "XDG_CACHE_HOME": cache})
            times.append(time.perf_counter() - start)

    benchmark.pedantic(run, rounds=2, iterations=1)
