"""The training engine: the rows of a parameter array trained in chunks of epochs.

Arrays in, arrays out: no Networks, no option names, no validation (that is
:mod:`fastbp.training`'s job, before it calls :func:`fit`). ``train``,
``train_many`` and the dask workers of ``train_many(client=...)`` all run
:func:`fit`, so a run gives the same bits wherever it runs.

The kernels return to Python only between chunks: to record the loss, to show
progress, to take the next table of shuffled orders, or after about a quarter
of a second, so that Ctrl-C is answered promptly and a divergence is caught
soon. Each chunk starts from a snapshot: after a divergence or an interrupt,
every row holds a state it reached after a whole epoch. None of this changes a
bit of the result: kernels are bit-exact whatever the chunking, and the shuffled
orders are drawn row by row from one generator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .kernels.protocol import Kernels, Rule, Shape

#: A chunk aims at this many seconds; the first, on the backend's guess, at a tenth.
CHUNK_SECONDS = 0.25
#: Shuffled orders are drawn a chunk at a time; cap a chunk's order table (entries).
ORDER_ENTRIES = 1 << 20


class Plan(NamedTuple):
    """What to run: epochs, the visiting order, and when to record the loss."""

    epochs: int
    shuffle: bool = False
    seed: int | np.random.Generator | None = None
    record_every: int | None = None


class Fitted(NamedTuple):
    """What :func:`fit` measured, one row per network."""

    history: np.ndarray  #: (K, R) mean losses after each of ``history_epochs``
    history_epochs: np.ndarray  #: (R,) the epochs after which they were measured
    final: np.ndarray  #: (K,) mean loss after the last epoch (empty when not evaluated)
    seconds: float  #: wall time of the training loop


class DivergenceError(ValueError):
    """Training produced a NaN or infinite parameter or loss.

    After a non-finite parameter, every network is left at its last finite state,
    after epoch ``epoch - 1``; after a non-finite loss (``loss`` holds it), after
    epoch ``epoch``, where the loss was measured. For ``train_many``, ``network``
    is the index of the first network to diverge; the others are left after the
    same epoch.
    """

    def __init__(self, message: str, epoch: int, network: int = 0,
                 loss: float | None = None) -> None:
        super().__init__(message)
        self.epoch, self.network, self.loss = epoch, network, loss

    @property
    def epochs_kept(self) -> int:
        """The epoch after which the networks were left."""
        return epochs_kept(self.epoch, self.loss)


def epochs_kept(epoch: int, loss: float | None) -> int:
    """Where a divergence in ``epoch`` leaves the networks: before a non-finite parameter
    (``loss`` None), or at the epoch whose non-finite ``loss`` was measured."""
    return epoch - 1 if loss is None else epoch


def parameter_divergence(epoch: int, network: int, count: int) -> DivergenceError:
    """The error for a parameter that became non-finite in ``epoch``."""
    which = f"network {network} " if count > 1 else ""
    return DivergenceError(f"training diverged: {which}got a NaN or infinite parameter in epoch "
                           f"{epoch}; the network is left after epoch {epoch - 1}, its last "
                           f"finite state (try a smaller lr)", epoch, network)


def loss_divergence(value: float, epoch: int, network: int, count: int) -> DivergenceError:
    """The error for a mean loss that is non-finite after ``epoch`` with finite parameters."""
    which = f" of network {network}" if count > 1 else ""
    return DivergenceError(f"training diverged: the loss{which} is {value} after epoch {epoch} "
                           f"(its parameters are finite: an output reached 0 or 1 exactly under "
                           f"cross-entropy, or overflowed)", epoch, network, value)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the network holds its parameters after ``epochs_done`` epochs."""

    def __init__(self, epochs_done: int) -> None:
        super().__init__(f"training interrupted: the network holds its parameters after epoch "
                         f"{epochs_done}, the last completed chunk")
        self.epochs_done = epochs_done


class _Chunks:
    """Where each chunk of epochs ends: at the next stop the caller needs (a record, a
    progress tick, the end of an order table, the last epoch), and within about
    ``CHUNK_SECONDS`` at the measured pace."""

    def __init__(self, epochs: int, every: tuple[int | None, ...], first_guess: float) -> None:
        self.epochs, self.every = epochs, every
        self.cost = max(first_guess * 10, 1e-12)  # seconds per epoch; the first chunk short

    def next_stop(self, done: int) -> int:
        mark = min([self.epochs, *((done // e + 1) * e for e in self.every if e)])
        return min(mark, done + max(1, int(CHUNK_SECONDS / self.cost)))

    def measured(self, epochs: int, seconds: float) -> None:
        self.cost = max(seconds / epochs, 1e-12)


class _Orders:
    """The visiting order of each epoch: None (0..n-1), or rows of ``rng.permuted``
    drawn in epoch order from one generator, however the epochs are chunked."""

    def __init__(self, plan: Plan, n: int) -> None:
        self.n = n
        self.rng = np.random.default_rng(plan.seed) if plan.shuffle and n > 1 else None
        self.per_table = max(1, ORDER_ENTRIES // n) if self.rng is not None else None

    def take(self, epochs: int) -> np.ndarray | None:
        if self.rng is None:
            return None
        table = np.tile(np.arange(self.n, dtype=np.int64), (epochs, 1))
        return self.rng.permuted(table, axis=1)


class _History:
    """Mean losses of every network after each recorded epoch."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.epochs: list[int] = []

    def record(self, epoch: int, losses: np.ndarray) -> None:
        _check_losses(losses, epoch)
        self.rows.append(losses)
        self.epochs.append(epoch)

    def arrays(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        history = np.array(self.rows, dtype=np.float64).reshape(len(self.rows), count).T
        return np.ascontiguousarray(history), np.array(self.epochs, dtype=np.int64)


def _check_losses(losses: np.ndarray, epoch: int) -> None:
    bad = ~np.isfinite(losses)
    if bad.any():
        k = int(np.argmax(bad))
        raise loss_divergence(float(losses[k]), epoch, k, len(losses))


def mean_losses(kernels: Kernels, shape: Shape, loss: int, params: np.ndarray, X: np.ndarray,
                Y: np.ndarray, threads: int | None = None) -> np.ndarray:
    """The mean loss of every row of ``params`` over ``X, Y``."""
    return np.array([kernels.mean_loss(shape, loss, row, X, Y, threads) for row in params],
                    dtype=np.float64)


def fit(kernels: Kernels, shape: Shape, rule: Rule, params: np.ndarray, X: np.ndarray,
        Y: np.ndarray, lrs: np.ndarray, plan: Plan, *, threads: int | None = None,
        progress: Callable[[int], None] | None = None, evaluate: bool = True) -> Fitted:
    """Train the rows of ``params`` (networks of one ``shape``) in place, in chunks of epochs.

    Parameters
    ----------
    kernels : Kernels
        The backend module that runs the epochs.
    params : ndarray, shape (K, P)
        One network per row, trained in place; row ``k`` with learning rate ``lrs[k]``.
    plan : Plan
        Epochs, shuffling and recording.
    threads : int, optional
        Passed to the kernels: ``train`` (``K == 1``) or ``train_many``, and ``mean_loss``.
    progress : callable, optional
        Called with the number of epochs of each finished chunk; chunks then
        end at least every hundredth of the run.
    evaluate : bool, default True
        Record the history, check for divergence and measure the final losses.
        With False, only the epochs run (``final`` is empty): used to bring
        networks to a known epoch, where a divergence is impossible.

    Raises
    ------
    DivergenceError
        A parameter or a measured loss became non-finite; every row is left after
        the same epoch (see :class:`DivergenceError`).
    TrainingInterrupted
        Ctrl-C; every row is left after the last completed chunk.
    """
    count, n = len(params), len(X)
    velocity = np.zeros_like(params)
    orders = _Orders(plan, n)
    progress_every = max(1, plan.epochs // 100) if progress is not None else None
    record_every = plan.record_every if evaluate else None
    chunks = _Chunks(plan.epochs, (record_every, progress_every, orders.per_table),
                     kernels.epoch_seconds(shape, rule, n) * count)
    history = _History()

    def run(p: np.ndarray, v: np.ndarray, order: np.ndarray | None, epochs: int) -> None:
        if count == 1:
            kernels.train(shape, rule, p[0], v[0], X, Y, epochs, lrs[0], order, threads)
        else:
            kernels.train_many(shape, rule, p, v, X, Y, epochs, lrs, order, threads)

    def losses() -> np.ndarray:
        return mean_losses(kernels, shape, rule.loss, params, X, Y, threads)

    start = time.perf_counter()
    # The state after the last whole chunk, and its epoch, replaced in one assignment: a
    # Ctrl-C at any moment (in a kernel, a replay or a recording) restores a state that
    # matches the epoch it reports.
    committed = (0, params.copy(), velocity.copy())
    try:
        while committed[0] < plan.epochs:
            done, snapshot, saved_velocity = committed
            stop = chunks.next_stop(done)
            order = orders.take(stop - done)
            began = time.perf_counter()
            run(params, velocity, order, stop - done)
            chunks.measured(stop - done, time.perf_counter() - began)
            if evaluate and not np.isfinite(params).all():
                low, high, network = _first_divergence(run, snapshot, saved_velocity, order,
                                                       stop - done)
                np.copyto(params, low)
                raise parameter_divergence(done + high, network, count)
            committed = (stop, params.copy(), velocity.copy())
            if progress is not None:
                progress(stop - done)
            if record_every and stop % record_every == 0:
                history.record(stop, losses())
        seconds = time.perf_counter() - start
        final = losses() if evaluate else np.empty(0)
    except KeyboardInterrupt:
        np.copyto(params, committed[1])
        raise TrainingInterrupted(committed[0]) from None
    _check_losses(final, plan.epochs)
    return Fitted(*history.arrays(count), final, seconds)


def _first_divergence(run, snapshot: np.ndarray, velocity: np.ndarray,
                      order: np.ndarray | None, chunk: int) -> tuple[np.ndarray, int, int]:
    """Replay a chunk that ended with a non-finite parameter, bisecting on its epochs.

    Returns the parameters after the last epoch with every row finite, the
    chunk's first epoch with a non-finite parameter (1-based), and the first row
    holding one. Replays are bit-exact, so this finds what the chunk did.
    """
    def replay(epochs: int) -> np.ndarray:
        p, v = snapshot.copy(), velocity.copy()
        if epochs:
            run(p, v, None if order is None else order[:epochs], epochs)
        return p

    low, high = 0, chunk  # finite after `low` epochs, not after `high`
    while high - low > 1:
        middle = (low + high) // 2
        if np.isfinite(replay(middle)).all():
            low = middle
        else:
            high = middle
    network = int(np.argmax(~np.isfinite(replay(high)).all(axis=1)))
    return replay(low), high, network
