"""Threads: how this machine scales, beside how fastbp's batches do.

A trivial ``nogil`` numba loop run in N Python threads is the machine's own ceiling: what
N cores give where nothing is shared. Beside it, one network's batches on 1 and 2
threads and on ``threads=None``, at shapes around ``limits.THREADS_PAY``. ``threads=None``
runs the count measured for the workload on this machine (``fastbp.core.calibrate``):
measured afresh here, in a file of this run's own, before the rounds. The three counts
alternate round by round (:func:`alternating.interleaved`), so that a ratio compares them
at the same moments of a shared machine. The summary prints the ratios; ``threads=None``
should never be much below 1 (one thread's time).

    pytest benchmarks/test_thread_scaling.py
"""

import threading
import time

import numpy as np
import pytest
from alternating import interleaved

import fastbp
from fastbp import available_backends
from fastbp.core.training import measure_threads
from fastbp.kernels import limits

SPIN = 20_000_000  # iterations of the trivial loop per thread


def _spin_kernel():
    from numba import njit

    @njit(nogil=True, cache=False)
    def spin(n):
        x = 0.0
        for _ in range(n):
            x = x * 0.999999 + 1.0
        return x
    return spin


@pytest.mark.parametrize("threads", [1, 2])
def test_machine_scaling(benchmark, keep, threads):
    """``threads`` Python threads, each running the same trivial ``nogil`` loop: the
    machine's own speedup is ``threads * t(1) / t(threads)``."""
    spin = _spin_kernel()
    spin(10)
    results = [0.0] * threads

    def run():
        def one(k):
            results[k] = spin(SPIN)
        workers = [threading.Thread(target=one, args=(k,)) for k in range(threads)]
        start = time.perf_counter()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        return time.perf_counter() - start

    times = []
    benchmark.pedantic(lambda: times.append(run()), rounds=5, iterations=1)
    # per loop's worth of work: the same work in less time is the speedup
    keep("machine-loop", f"threads-{threads}", min(times) / threads)
    assert len(set(results)) == 1 and np.isfinite(results[0])


SHAPES = {  # name: (sizes, samples, batch size); samples times parameters around the rule
    "30-100-2 b200": ((30, 100, 2), 600, 200),
    "64-100-10 b32": ((64, 100, 10), 1600, 32),
    "64-100-10 b200": ((64, 100, 10), 1600, 200),
    "784-128-10 b32": ((784, 128, 10), 1600, 32),
}


@pytest.fixture(scope="module")
def fresh_counts(tmp_path_factory):
    """A file of kept thread counts for this run alone: each workload measured afresh."""
    from fastbp.kernels import threads

    with threads.kept_in(tmp_path_factory.mktemp("kept") / "threads.json"):
        yield


COUNTS = (1, 2, None)


@pytest.mark.parametrize("backend", [b for b in ("numba", "cython")
                                     if b in available_backends()])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_batch_scaling(benchmark, keep, fresh_counts, shape, backend):
    """One network's epochs in batches, on 1 and 2 threads and as ``threads=None`` picks
    (the count measured here first, as the first long run of the workload would), the
    three counts alternating round by round."""
    sizes, n, batch_size = SHAPES[shape]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    net = fastbp.Network(sizes, seed=0)
    options = {"lr": 0.01, "batch_size": batch_size, "backend": backend}
    for threads in COUNTS:
        fastbp.train(net.copy(), X, Y, epochs=1, threads=threads, **options)
    measured = measure_threads(net, X, Y, lr=0.01, batch_size=batch_size, backend=backend)
    losses = set()

    def runner(threads):
        def run():
            result = fastbp.train(net.copy(), X, Y, epochs=3, threads=threads, **options)
            losses.add(result.final_loss)
            return result.seconds / 3
        return run

    benchmark.group = "threads 1, 2 and None, alternating"
    times = interleaved(benchmark, {t: runner(t) for t in COUNTS}, rounds=9)
    for threads in COUNTS:
        keep(shape, f"{backend}-{threads}", min(times[threads]))
        benchmark.extra_info[f"threads_{threads}_seconds"] = min(times[threads])
    benchmark.extra_info.update({"multiply_adds_per_batch": batch_size * net.params.size,
                                 "threads_pay_from": limits.THREADS_PAY,
                                 "threads_measured": measured})
    assert len(losses) == 1  # every count and round, the same bits
