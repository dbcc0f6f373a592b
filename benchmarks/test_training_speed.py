"""Every backend, and every contender that can run here, on every workload of fastbp.bench.

    pytest benchmarks/                        # ratio summary at the end
    pytest benchmarks/ --benchmark-autosave   # keep a baseline; later --benchmark-compare
"""

import functools

import numpy as np
import pytest

from fastbp import bench
from fastbp.backends import status

RUNNERS = [*status(), *bench.CONTENDERS]
CASES = [(w, r) for w in bench.WORKLOADS for r in RUNNERS] + [("digits", "straightforward")]


@functools.cache
def reference_loss(workload):
    """The final loss every bit-exact runner must reproduce: the oracle's, else the C loop's."""
    w = bench.WORKLOADS[workload]
    for name in ("python", "c"):
        try:
            run = bench.runner(name, w)
        except RuntimeError:
            continue
        return name, run(w.epochs)[1]
    return None, None


def straightforward_runner(w):
    from straightforward import train_online_logistic

    X, Y = w.arrays

    def run(epochs):
        import time

        net = w.network()
        start = time.perf_counter()
        train_online_logistic(net.params, net.layout, X, Y, epochs, w.lr, w.bias == "trainable")
        seconds = time.perf_counter() - start
        from fastbp.backends import oracle

        return seconds, oracle.mean_loss(net.params, net.layout, net.activation_codes, 0, X, Y)
    return run


@pytest.mark.parametrize(("workload", "name"), CASES, ids=[f"{w}-{r}" for w, r in CASES])
def test_workload(benchmark, keep, workload, name):
    w = bench.WORKLOADS[workload]
    try:
        run = straightforward_runner(w) if name == "straightforward" else bench.runner(name, w)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    benchmark.group = w.description
    epochs = bench.epochs_for(name, w, quick=False)
    run(1)  # compile, import, warm caches: outside the timed region
    times, losses = [], []

    def timed():
        seconds, loss = run(epochs)
        times.append(seconds)
        losses.append(loss)

    benchmark.pedantic(timed, rounds=3 if epochs * len(w.arrays[0]) > 1e5 else 7, iterations=1)
    best = min(times)
    keep(workload, name, w.figure(best, epochs))
    benchmark.extra_info.update({"epochs": epochs, w.unit.replace("/", "_per_"): w.figure(best,
                                 epochs), "samples_per_second": epochs * len(w.arrays[0]) / best})

    # What was timed is right.
    assert all(np.isfinite(losses))
    source, expected = reference_loss(workload) if epochs == w.epochs else (None, None)
    if expected is not None:
        if name in bench.CONTENDERS and name != "c":  # other arithmetic: close, not equal
            assert losses[-1] == pytest.approx(expected, rel=1e-6), source
        else:
            assert losses[-1] == expected, f"{name} differs from {source}"
