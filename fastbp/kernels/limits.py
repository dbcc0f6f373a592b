"""Every threshold that picks a kernel, or sizes its work, in one place.

Each was measured on a 2-vCPU AMD EPYC VM (AVX2); elsewhere it is a first guess that only
moves speed, never a bit: every kernel gives the oracle's bits, whichever is picked. The
Cython extension keeps compile-time twins of the ones it needs (``CHUNK``, ``UNROLL_PARAMS``
as ``LANES_MAX_PARAMS``, the tile sizes); ``tests/test_protocol.py`` checks that they agree.
"""

from __future__ import annotations

# --- Threads ---------------------------------------------------------------------------

#: Multiply-adds of a batch (samples times parameters) from which threads pay for the
#: waits at each phase. Measured (``benchmarks/test_thread_scaling.py``), 2 threads
#: against 1, median of 7: 30-100-2 in batches of 200 (660,000) x0.55 numba, x0.95
#: Cython; 64-100-10 in batches of 32 (240,000) x0.54 / x1.12, of 200 (1.5 million)
#: x1.23 / x1.36; 784-128-10 in batches of 32 (3.3 million) x1.65 / x1.43. Below this,
#: ``threads=None`` runs one thread: never slower than it, at the price of 64-100-10 in
#: batches of 64 to 128, which two threads run 1.2x faster on numba. Since each thread
#: takes its own samples (one barrier a chunk, not five), float64 batches below it gain
#: from a second thread too (30-100-2 in 200s x1.36 / x1.30, 64-100-10 in 32s x1.35 /
#: x1.25), but float32 64-128-10 in batches of 32 on Cython took 1.46 µs a sample on two
#: threads against 1.22 on one: unchanged until it is measured for each dtype.
THREADS_PAY = 1_000_000


#: ``threads=None`` measured (:mod:`fastbp.core.calibrate`): a run measures its workload
#: where it has at least ``MEASURE_WORK`` multiply-adds (about 0.2 s on one thread of the
#: 2-vCPU VMs) and is, at the one-thread pace measured, at least ``MEASURE_PAYS`` times as
#: long as measuring; a workload measured before is measured again by a run at least
#: ``MEASURE_AGAIN`` times as long as measuring it took (a hundredth of the run at most,
#: so a count kept while another process held a core does not stay for ever). Each
#: measured call takes at least ``MEASURE_CALL_SECONDS`` (longer than a timer's noise, a
#: scheduler's tick, a neighbour's short burst), ``MEASURE_ROUNDS`` on each count, the
#: fastest of each compared; every core is kept only where it was ``THREADS_GAIN`` times
#: as fast as one thread.
MEASURE_WORK, MEASURE_PAYS, MEASURE_AGAIN = 2 * 10**9, 20, 100
MEASURE_CALL_SECONDS, MEASURE_ROUNDS, THREADS_GAIN = 0.02, 4, 1.05
#: A long run on a kept count of several threads, gone over to one thread because another
#: process took a core (:class:`fastbp.core.calibrate.Guard`), tries its kept count again
#: after this many chunks (about 4 s).
GUARD_RETRY = 16


def one_thread(threads: int | None, rows: int, n_params: int) -> bool:
    """Does a batch of ``rows`` samples run in one thread: asked for, or (``threads``
    None) too small for threads to pay?"""
    return threads == 1 or (threads is None and rows * n_params < THREADS_PAY)

# --- The batched kernels ----------------------------------------------------------------

#: Samples per pass of forward, mean_loss and gradients over many samples (and per chunk
#: of a large batch): 20 pairs of tiles, so two threads' shares are 10 each. With 256 one
#: thread took 126 rows and the other 130 (a padded tile); float32 784-128-10 full batch
#: on two threads took 2.28-2.30 us a sample against 2.18-2.22 with 240 (Cython, Zen 4).
CHUNK = 240
#: A register tile of the tiled products: rows by columns (two vectors of four).
TILE_ROWS, TILE_COLUMNS = 6, 8
#: A cache block of the tiled products: terms of each sum, by rows.
BLOCK_TERMS, BLOCK_ROWS = 256, 48
#: A block's last rows short of a tile run as a tile on copies padded with zero rows from
#: this many; fewer go one row at a time. Measured: padded, 4 leftover rows of a
#: 256-sample float32 forward product took it from 75 to 81 GFLOP/s (Cython), while a
#: batch of one (64-32-10 online) took 1.5x as long.
PADDED_ROWS = 3

# --- Small networks: unrolled and lane kernels -------------------------------------------

#: Networks with at most this many parameters get unrolled kernels (and train side by
#: side in vector lanes).
UNROLL_PARAMS = 128
#: Networks per group of the generic lanes kernel (numba.lanes), in float64: each row of
#: lanes costs bookkeeping that longer rows repay (2-31-1 x 200 networks: 2.6x faster
#: than 8). float32 runs twice as many, the same bytes a row (:func:`lanes_in`).
GENERIC_LANES = 32


def small_online(batch_size: int, n_params: int) -> bool:
    """Do the small networks' kernels (unrolled, looped, lanes) train this: online, at most
    :data:`UNROLL_PARAMS` parameters?"""
    return batch_size == 1 and n_params <= UNROLL_PARAMS


#: The ways a call can run (:func:`route`).
SMALL, SHORT, BATCHED = "small", "short", "batched"


def route(training: bool, n_params: int, n: int, threads: int | None,
          batch_size: int = 1) -> str:
    """The one router: which kernel runs a call on ``n`` samples of a network of
    ``n_params`` parameters.

    - :data:`SMALL`: the small networks' per-sample kernels (a shape's unrolled ones or
      the generic ones; the tier rule of ``numba.tiers`` picks which): training that is
      :func:`small_online`, or evaluating a small network in one thread.
    - :data:`SHORT`: the batched kernel in one thread and one call, which makes its own
      working copies: a batch (and the evaluation chunk) too small for threads to pay.
    - :data:`BATCHED`: the batched kernel, its work shared among threads.
    """
    if training and small_online(batch_size, n_params):
        return SMALL
    if one_thread(threads, min(n, max(batch_size, CHUNK)), n_params):
        return SHORT if training or n_params > UNROLL_PARAMS else SMALL
    return BATCHED


def unrolled_lanes(n_params: int, itemsize: int = 8) -> int:
    """Networks side by side, one per vector lane, in a shape's unrolled ``kernel_many``
    (and Cython's ``_train_lanes``), for values of ``itemsize`` bytes."""
    return lanes_in(32 if n_params <= 32 else 16 if n_params <= 64 else 8, itemsize)


def lanes_in(float64_lanes: int, itemsize: int) -> int:
    """A group of ``float64_lanes`` networks' rows as values of ``itemsize`` bytes: the
    same bytes a row, so float32 trains twice the networks for the same bookkeeping
    (Cython, 1,000 tutorial networks with ReLU, one thread: 0.59x of float64's time,
    against 0.86x with as many networks a group)."""
    return float64_lanes * 8 // itemsize


# --- Tiers: when a shape's own kernels are compiled --------------------------------------

#: Seconds the generic kernels take beyond the unrolled ones per sample of online
#: training, and per call: for one network (numba.online against an unrolled ``kernel``:
#: 60-280 ns a sample from 9 to 117 parameters; a call costs the same) and per network
#: of many (numba.lanes against ``kernel_many``: 0 to 5 ns).
SAVING_ONE, SAVING_MANY, SAVING_PER_CALL = 1.5e-7, 2e-9, 0.2e-6

# backend="auto" (fastbp.kernels.choose): numba runs a call only where its kernels are
# loaded in the process already, or cached on disk and the run is expected to take at least
# NUMBA_PAYS seconds: importing numba and loading a cached kernel take about a second
# (measured: 0.6 s and 0.3-1.3 s on the 2-vCPU VM), a run on the Cython kernels none.
NUMBA_PAYS = 2.0
# Seconds numba takes to compile its generic kernels on this machine's first use (the
# 2-vCPU VM, cold), by the kernel a run needs: said on stderr where a run must wait.
COMPILE_SECONDS = {"online": 10, "batched": 20, "lanes": 16}
#: Expected seconds to compile a shape's unrolled kernels, as (seconds, seconds per
#: parameter): for one network (2-29-1: 5.3 s) and for many (the parallel, vectorised
#: ``kernel_many``; 2-29-1: 31 s); and to load either from numba's cache where this
#: machine compiled them before.
COMPILE_ONE, COMPILE_MANY, LOAD = (2.0, 0.03), (6.0, 0.2), 0.4

# --- The kernel cache --------------------------------------------------------------------

#: Most generated kernel modules kept (each a few kB of source and up to about a MB of
#: compiled code)...
CACHE_MODULES = 400
#: ...and most bytes in all.
CACHE_BYTES = 400 * 2**20
