"""What one call costs beyond its arithmetic, on the tutorial network (one sample, one epoch:
the arithmetic is about 0.1 µs of it). The estimators' epoch loop, schedules and
partial_fit pay it every epoch; the target is at most 20 µs.

numba is measured on both of its tiers (fastbp.kernels.numba.tiers): the generic kernels a
new shape starts on, and the shape's own unrolled kernels, compiled once they pay (here by
fastbp.compile, as a warm-up would)."""

import pytest

import fastbp
from fastbp.learn import tutorial

CALLS = {
    "train(epochs=1)": lambda net, b: fastbp.train(net, tutorial.INPUTS, tutorial.TARGETS,
                                                   epochs=1, backend=b),
    "forward": lambda net, b: net.forward(tutorial.INPUTS, backend=b),
    "gradients": lambda net, b: fastbp.gradients(net, tutorial.INPUTS, tutorial.TARGETS,
                                                 backend=b),
}


@pytest.mark.parametrize("backend", ["numba/generic", "numba/own", "cython"])
@pytest.mark.parametrize("call", list(CALLS))
def test_call_overhead(benchmark, backend, call, monkeypatch):
    name, _, tier = backend.partition("/")
    if fastbp.backends()[name] != "available":
        pytest.skip(fastbp.backends()[name])
    if tier:
        from fastbp.kernels.numba import tiers as numba_tiers

        monkeypatch.setattr(numba_tiers, "MODE", "generic" if tier == "generic" else "auto")
        fastbp.compile([2, 2, 2], bias="fixed", backend="numba")
    benchmark.group = "one call on the tutorial network (µs beyond ~0.1 µs of arithmetic)"
    net = tutorial.network()
    run = CALLS[call]
    run(net, name)  # compile and load first
    benchmark.pedantic(run, args=(net, name), rounds=200, iterations=20, warmup_rounds=5)
    if benchmark.stats is not None:  # None under --benchmark-disable (the CI smoke run)
        benchmark.extra_info["microseconds"] = benchmark.stats.stats.min * 1e6
