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

from ..kernels import threads as thread_counts
from ..kernels.protocol import Kernels, Rule, Shape, Weighted

#: A run is measured where its multiply-adds (epochs times samples times parameters) are
#: at least this many (about 0.2 s on one thread of the 2-vCPU VMs), and its time on one
#: thread, measured, is at least :data:`PAYS` times what measuring costs.
WORK = 2 * 10**9
PAYS = 20
#: A workload measured before is measured again by a run at least this many times as long
#: as measuring it took (a hundredth of the run at most): a count kept while another
#: process held a core, or a noisy neighbour the VM's host, does not stay for ever.
AGAIN = 100
#: Seconds a measured call should take at least (more samples, then more epochs of them:
#: longer than a timer's noise, a scheduler's tick, a neighbour's short burst), and the
#: calls on each count: the fastest of each is compared.
CALL_SECONDS, ROUNDS = 0.02, 4


def workload(kernels: Kernels, shape: Shape, rule: Rule, n: int) -> str | None:
    """The key of a run's kept count (:func:`fastbp.kernels.threads.workload`), or None
    where ``threads=None`` has no choice to make: a backend without threads, online
    training, batches of one sample, or one core."""
    rows = min(n, rule.batch_size)
    if rows < 2 or not kernels.THREADED or thread_counts.cores() < 2:
        return None
    memo = (kernels.NAME, shape.key, shape.real, rows)
    key = _keys.get(memo)
    if key is None:
        sizes = (int(shape.layout[0, 0]), *(int(v) for v in shape.layout[:, 1]))
        key = _keys[memo] = thread_counts.workload(kernels.NAME, shape.real, sizes, rows)
    return key


_keys: dict[tuple, str] = {}  # a short call looks its key up here: building it costs µs


def kept(key: str | None) -> int | None:
    """The count kept for a workload (None: none kept, or no choice to make)."""
    return None if key is None else thread_counts.kept(key)


def due(key: str | None, shape: Shape, epochs: int, n: int) -> bool:
    """Does a run of ``epochs`` epochs of ``n`` samples measure its workload now: nothing
    kept and at least :data:`WORK` multiply-adds, or a count kept and the run, at the
    pace measured then, :data:`AGAIN` times as long as measuring took?"""
    if key is None:
        return False
    found = thread_counts.entry(key)
    if found is None:
        return epochs * n * shape.n_params >= WORK
    return epochs * n * found.get("sample_seconds", 0.0) >= \
        AGAIN * found.get("measuring_seconds", math.inf)


def measure(kernels: Kernels, shape: Shape, rule: Rule, params: np.ndarray, X: np.ndarray,
            Y: np.ndarray, lr: float, epochs: int | None, key: str) -> int | None:
    """Time the first samples of ``X`` (whole batches, up to all of them, then as many
    epochs of them as :data:`CALL_SECONDS` takes) on one thread and on every core,
    :data:`ROUNDS` times each, alternately, on copies of ``params``; keep the faster
    count where it was at least ``threads.GAIN`` times as fast (else one thread) and
    return it. None, keeping nothing, where the run (``epochs`` of ``X`` on one thread,
    at the pace measured) is shorter than :data:`PAYS` times the measuring; ``epochs``
    None measures anyway."""
    every = thread_counts.cores()
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
    while took < CALL_SECONDS:  # more samples, then more epochs of them
        if n < len(X):
            n = min(len(X), n * 2)
        else:
            repeats *= 2
        took = seconds(1, n, repeats)
    cost = 2 * ROUNDS * took
    if epochs is not None and epochs * len(X) / (n * repeats) * took < PAYS * cost:
        return None
    one, many = [took], []
    for _ in range(ROUNDS):
        many.append(seconds(every, n, repeats))
        one.append(seconds(1, n, repeats))
    speedup = min(one) / min(many)
    count = every if speedup >= thread_counts.GAIN else 1
    thread_counts.keep(key, count, speedup if count > 1 else 1 / speedup,
                       min(one) / (n * repeats),
                       time.perf_counter() - began)
    return count
