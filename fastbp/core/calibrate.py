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


class Guard:
    """``threads=None``'s watch over a long run on a kept count of several threads.

    The count was right when it was measured, but another process may have taken a core
    since: batches of 32 of 64-128-10 ran on two threads at 0.63x one thread's pace
    while a busy loop held the second core of a 2-vCPU VM. After each chunk of epochs
    (:data:`fastbp.core.engine.CHUNK_SECONDS`) the run tells :meth:`next` the chunk's
    seconds an epoch; where a chunk on several threads was slower than one thread was
    when measured, the next runs on one thread, and the run goes on with whichever was
    faster, trying the other count again every ``limits.GUARD_RETRY`` chunks. The first
    chunk is not judged (a first call's one-time costs fall in it). A count never
    changes a bit, only the time.
    """

    def __init__(self, threads: int, calm: float, now: int | None = None) -> None:
        self.many, self.calm = threads, calm  # calm: seconds an epoch took on one thread
        self.now, self.trying, self.seen, self.since = now or threads, False, 0, 0
        if self.now != self.many:  # begun on one thread (see ``free``): try many soon
            self.since = limits.GUARD_RETRY
        self.pace: dict[int, float] = {}

    def next(self, pace: float) -> int:
        """The count for the next chunk, the last one on :attr:`now` threads having taken
        ``pace`` seconds an epoch."""
        self.pace[self.now] = pace
        self.seen += 1
        self.since += 1
        other = 1 if self.now == self.many else self.many
        slow = self.now == self.many and pace > self.calm  # slower than one calm thread
        due = self.now == 1 and self.since >= limits.GUARD_RETRY
        if self.trying:  # a trial: keep the faster of the two last chunks
            self.now = min((self.now, other), key=lambda count: self.pace[count])
            self.trying, self.since = False, 0
        elif self.seen > 1 and (slow or due):
            self.now, self.trying = other, True
        return self.now


def guard(key: str | None, threads: int | None, n: int, now: int | None = None
          ) -> Guard | None:
    """A :class:`Guard` for a run of ``n`` samples an epoch on ``threads`` threads, the
    count kept (or just measured) for workload ``key``, begun on ``now`` threads (None:
    ``threads``; one where :func:`free` found the cores taken); None where there is
    nothing to guard: one thread, or no one-thread pace known."""
    found = None if key is None else thread_counts.entry(key)
    if threads is None or threads < 2 or not found or not found.get("sample_seconds"):
        return None
    return Guard(threads, found["sample_seconds"] * n, now)


def free(key: str | None, threads: int | None, shape: Shape, rule: Rule, n: int
         ) -> int | None:
    """The count a ``threads=None`` run of workload ``key`` begins on: ``threads`` (the
    count kept, or None: ``limits.THREADS_PAY``'s guess), but no more than the cores
    that other processes leave free now (at least one). A count measured while a core was
    free costs time while another process holds it (batches of 32 of 784-128-10 on two
    threads ran at 0.74x one thread's pace while a busy loop held the second vCPU), and
    a short run ends before :class:`Guard` judges a chunk. A count never changes a bit."""
    if key is None:
        return threads
    count = thread_counts.parts(threads, min(n, rule.batch_size), shape.n_params)
    if count < 2:
        return threads
    left = thread_counts.cores() - thread_counts.others_running()
    return threads if left >= count else max(1, left)
