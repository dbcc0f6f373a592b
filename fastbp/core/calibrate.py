"""``threads=None`` for one network's batches: a thread count measured on this machine.

Whether a second thread pays for a network's batches is a property of the machine as much
as of the work (the same 784-128-10 batches of 32 ran 1.60x faster on two threads of one
2-vCPU VM and 0.89x as fast on another), so a fixed bound cannot keep ``threads=None``
from being slower than one thread everywhere. The first run of a workload that is long
enough to pay for it measures: a few of its own batches, on copies of its parameters,
on one thread and on every core, alternately; the faster count is kept
(:func:`fastbp.kernels.threads.keep`, a file in the user's cache) for every later run of
that workload on this machine. Until a workload is measured, ``limits.THREADS_PAY``
decides. The count never changes a bit, only the time.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..kernels import limits
from ..kernels import threads as thread_counts
from ..kernels.protocol import Kernels, Rule, Shape, Weighted


def workload(kernels: Kernels, shape: Shape, rule: Rule, n: int) -> str | None:
    """The key of a run's kept count (:func:`fastbp.kernels.threads.workload`), or None
    where ``threads=None`` has no choice to make: a backend without threads, online
    training, batches of one sample. (One core is in the key: nothing is kept for it.)"""
    rows = min(n, rule.batch_size)
    if rows < 2 or not kernels.THREADED:
        return None
    memo = (kernels.NAME, shape.key, shape.real, rows)
    key = _keys.get(memo)
    if key is None:
        sizes = (int(shape.layout[0, 0]), *(int(v) for v in shape.layout[:, 1]))
        key = _keys[memo] = thread_counts.workload(kernels.NAME, shape.real, sizes, rows)
    return key


_keys: dict[tuple, str] = {}  # a short call looks its key up here: building it costs µs


def kept(key: str | None, shape: Shape, epochs: int, n: int) -> tuple[int | None, bool]:
    """For a run of ``epochs`` epochs of ``n`` samples, of the workload ``key``: the count
    kept for it (None: none kept, or no choice to make), and whether the run measures it
    now: nothing kept and at least ``limits.MEASURE_WORK`` multiply-adds, or a count kept
    and the run, at the pace measured then, ``limits.MEASURE_AGAIN`` times as long as
    measuring took."""
    if key is None:
        return None, False
    found = thread_counts.entry(key)
    if found is None:
        return None, (epochs * n * shape.n_params >= limits.MEASURE_WORK
                      and thread_counts.cores() > 1)
    return found["threads"], epochs * n * found.get("sample_seconds", 0.0) >= \
        limits.MEASURE_AGAIN * found.get("measuring_seconds", math.inf)


def measure(kernels: Kernels, shape: Shape, rule: Rule, params: np.ndarray, X: np.ndarray,
            Y: np.ndarray, lr: float, epochs: int | None, key: str) -> int | None:
    """Time the first samples of ``X`` (whole batches, up to all of them, then as many
    epochs of them as ``limits.MEASURE_CALL_SECONDS`` takes) on one thread and on every
    core, ``limits.MEASURE_ROUNDS`` times each, alternately, on copies of ``params``; keep
    the faster count where it was at least ``limits.THREADS_GAIN`` times as fast (else one
    thread) and return it. None, keeping nothing, on one core, and where the run
    (``epochs`` of ``X`` on one thread, at the pace measured) is shorter than
    ``limits.MEASURE_PAYS`` times the measuring; ``epochs`` None measures anyway."""
    every = thread_counts.cores()
    if every < 2:
        return None  # nothing to choose from
    rows = min(len(X), rule.batch_size)
    if isinstance(kernels, Weighted):  # a few samples: not the weights' rows
        kernels = kernels.unweighted
    n = min(len(X), 2 * rows)

    def seconds(count: int, n: int, epochs: int = 1) -> float:
        p, v = params.copy(), rule.new_state(shape.n_params, None, params.dtype)
        began = time.perf_counter()
        kernels.train(shape, rule, p, v, X[:n], Y[:n], epochs, lr, None, count)
        return time.perf_counter() - began

    began = time.perf_counter()
    seconds(1, n), seconds(every, n)  # compiled or loaded, caches warm
    took, repeats = seconds(1, n), 1
    while took < limits.MEASURE_CALL_SECONDS:  # more samples, then more epochs of them
        if n < len(X):
            n = min(len(X), n * 2)
        else:
            repeats *= 2
        took = seconds(1, n, repeats)
    cost = 2 * limits.MEASURE_ROUNDS * took
    if epochs is not None and epochs * len(X) / (n * repeats) * took < limits.MEASURE_PAYS * cost:
        return None
    one, many = [took], []
    for _ in range(limits.MEASURE_ROUNDS):
        many.append(seconds(every, n, repeats))
        one.append(seconds(1, n, repeats))
    speedup = min(one) / min(many)
    count = every if speedup >= limits.THREADS_GAIN else 1
    thread_counts.keep(key, count, speedup if count > 1 else 1 / speedup,
                       min(one) / (n * repeats),
                       time.perf_counter() - began)
    return count
