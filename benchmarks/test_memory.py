"""Memory at scale: training on data already in the network's layout copies none of it.

``train`` takes a view of a writable C-contiguous ``X`` and ``Y`` of the network's dtype
(no kernel writes its data), float64 or float32; the rest of a run's memory is the
network's size, the batch's buffers and one order of the samples. Measured with
tracemalloc, which sees NumPy's allocations.

    pytest benchmarks/test_memory.py
"""

import tracemalloc

import numpy as np
import pytest

import fastbp
from fastbp import available_backends


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", [b for b in ("numba", "cython") if b in available_backends()])
def test_training_mnist_sized_data_adds_at_most_a_tenth_of_it(benchmark, backend, dtype):
    rng = np.random.default_rng(0)
    n = 60_000
    X = rng.uniform(size=(n, 784)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    before = (X.copy(), Y.copy())
    net = fastbp.Network((784, 128, 10), seed=0, dtype=dtype)
    options = {"lr": 0.1, "batch_size": 128, "shuffle": True, "seed": 0, "backend": backend}
    fastbp.train(net.copy(), X[:500], Y[:500], epochs=1, **options)  # compiled, loaded
    peaks = []

    def run():
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            fastbp.train(net.copy(), X, Y, epochs=1, **options)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()

    benchmark.pedantic(run, rounds=1, iterations=1)
    data = X.nbytes + Y.nbytes
    benchmark.extra_info.update({"data_mib": data / 2**20, "peak_extra_mib": peaks[0] / 2**20})
    assert peaks[0] <= 0.1 * data, f"{peaks[0] / 2**20:.1f} MiB beyond {data / 2**20:.0f} MiB"
    assert np.array_equal(X, before[0]) and np.array_equal(Y, before[1])
