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

import math
import signal
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..base.signals import forget, raise_dropped, terminate_as_interrupt
from ..kernels.protocol import Kernels, Rule, Shape, all_finite
from . import calibrate

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
    diverged: np.ndarray  #: (K,) the epoch each network diverged in, 0 for none
    kept: np.ndarray  #: (K,) the epoch each network was left after


#: What a run may do when a network diverges (``fit``'s ``on_divergence``).
DIVERGENCE_ACTIONS = ("raise", "stop")


class State(NamedTuple):
    """A run between two chunks: everything :func:`fit` needs to continue it exactly.

    ``rng`` is the shuffle generator's ``bit_generator.state`` before the order of
    epoch ``done + 1`` is drawn (None without shuffling). A network that diverged
    (``diverged[k] > 0``, see :class:`Fitted`) trains no more; its history holds NaN
    after it stopped.
    """

    done: int
    params: np.ndarray
    velocity: np.ndarray
    rng: dict | None
    history: np.ndarray
    history_epochs: np.ndarray
    diverged: np.ndarray
    kept: np.ndarray
    seconds: float


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
    """Ctrl-C or SIGTERM during training: the network holds its parameters after
    ``epochs_done`` epochs.

    ``signum`` is the signal that stopped the run (``signal.SIGINT`` for Ctrl-C);
    ``checkpoint`` the file written at the interruption, if the run had one.
    """

    def __init__(self, epochs_done: int, signum: int = signal.SIGINT,
                 checkpoint: str | None = None) -> None:
        how = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        text = (f"training interrupted ({how}): the network holds its parameters after epoch "
                f"{epochs_done}, the last completed chunk")
        if checkpoint is not None:
            text += (f"; checkpoint written to {checkpoint}: continue exactly with "
                     f"fastbp.resume({checkpoint!r}, X, Y)")
        super().__init__(text)
        self.epochs_done, self.signum, self.checkpoint = epochs_done, signum, checkpoint


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

    def __init__(self, plan: Plan, n: int, state: dict | None = None) -> None:
        self.n = n
        self.rng = np.random.default_rng(plan.seed) if plan.shuffle and n > 1 else None
        if self.rng is not None and state is not None:
            self.rng = generator(state)
        self.per_table = max(1, ORDER_ENTRIES // n) if self.rng is not None else None

    def take(self, epochs: int) -> np.ndarray | None:
        if self.rng is None:
            return None
        table = np.tile(np.arange(self.n, dtype=np.int64), (epochs, 1))
        return self.rng.permuted(table, axis=1)

    def state(self) -> dict | None:
        """Where the generator stands: a ``bit_generator.state`` (a copy), or None."""
        return None if self.rng is None else self.rng.bit_generator.state


def generator(state: dict) -> np.random.Generator:
    """A new Generator whose bit generator is at ``state`` (a ``bit_generator.state``)."""
    kind = getattr(np.random, str(state.get("bit_generator")), None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise ValueError(f"unknown bit generator {state.get('bit_generator')!r}")
    bits = kind()
    bits.state = state
    return np.random.Generator(bits)


class _History:
    """Mean losses of every network after each recorded epoch (NaN for a network that had
    stopped)."""

    def __init__(self, start: State | None) -> None:
        self.rows: list[np.ndarray] = []
        self.epochs: list[int] = []
        if start is not None:
            self.rows = [np.array(column) for column in start.history.T]
            self.epochs = [int(e) for e in start.history_epochs]

    def record(self, epoch: int, losses: np.ndarray) -> None:
        self.rows.append(losses)
        self.epochs.append(epoch)

    def arrays(self, count: int, rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The first ``rows`` records (default: all) as ``(K, R)`` losses and ``(R,)`` epochs."""
        rows = len(self.rows) if rows is None else rows
        history = np.array(self.rows[:rows], dtype=np.float64).reshape(rows, count).T
        return np.ascontiguousarray(history), np.array(self.epochs[:rows], dtype=np.int64)


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


class _Committed(NamedTuple):
    """The state after the last whole chunk (``records``: how many history rows it has)."""

    done: int
    params: np.ndarray
    velocity: np.ndarray
    rng: dict | None
    records: int
    diverged: np.ndarray
    kept: np.ndarray
    seconds: float


def fit(kernels: Kernels, shape: Shape, rule: Rule, params: np.ndarray, X: np.ndarray,
        Y: np.ndarray, lrs: np.ndarray, plan: Plan, *, threads: int | None = None,
        progress: Callable[[int, np.ndarray | None], None] | None = None,
        evaluate: bool = True, on_divergence: str = "raise", start: State | None = None,
        commit: Callable[[State, bool], None] | None = None) -> Fitted:
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
        Passed to the kernels: ``train`` (one row) or ``train_many``, and ``mean_loss``.
        None for one row: the count measured for this workload on this machine
        (:mod:`fastbp.core.calibrate`), measured first where it is due.
    progress : callable, optional
        Called with the number of epochs of each finished chunk and the losses
        recorded after it (None where none was); chunks then end at least every
        hundredth of the run. Called once with ``(0, None)`` before the first chunk,
        where a Ctrl-C is an interruption (a bar loads the kernels then, saying so).
    evaluate : bool, default True
        Record the history, check for divergence and measure the final losses.
        With False, only the epochs run (``final`` is empty): used to bring
        networks to a known epoch, where a divergence is impossible.
    on_divergence : {"raise", "stop"}
        "raise": the first divergence stops every row (see :class:`DivergenceError`).
        "stop": a row that diverges stops alone, at its last finite state (the
        epoch before a non-finite parameter, or the epoch of a non-finite loss), and
        the others train on with the same bits; ``Fitted.diverged`` says which.
    start : State, optional
        Continue the run this state describes (``params`` must hold ``start.params``).
    commit : callable, optional
        Called as ``commit(state, final)`` after every chunk (``final`` False), at the
        end, and at an interruption, before TrainingInterrupted is raised (``final``
        True): where checkpoints are written.

    Raises
    ------
    DivergenceError
        With "raise": a parameter or a measured loss became non-finite; every row is
        left after the same epoch (see :class:`DivergenceError`).
    TrainingInterrupted
        Ctrl-C or SIGTERM; every row is left after the last completed chunk.

    Notes
    -----
    SIGTERM raises as Ctrl-C does (:class:`fastbp.signals.terminate_as_interrupt`) while
    the chunks run in the main thread. Not in a run of one short chunk (at the first
    guess, at most a tenth of ``CHUNK_SECONDS``) with nothing to record, show or write:
    swapping the handler would cost such a call more than its epochs, and it holds no
    work that a SIGTERM could save.
    """
    count, n = len(params), len(X)
    measuring, key, chosen = False, None, count == 1 and threads is None
    kept = threads
    if chosen:  # the count measured for the workload, if any
        key = calibrate.workload(kernels, shape, rule, n)
        kept, measuring = calibrate.kept(key, shape, plan.epochs - (
            0 if start is None else start.done), n)
        threads = calibrate.free(key, kept, shape, rule, n)  # another process's cores
    guess = kernels.epoch_seconds(shape, rule, n) * count
    record_every = plan.record_every if evaluate else None
    if (start is None and commit is None and progress is None and not record_every
            and not measuring
            and (plan.epochs == 1 or plan.epochs <= _first_chunk(guess, plan, n))):
        fitted = _fit_at_once(kernels, shape, rule, params, X, Y, lrs, plan, threads, evaluate)
        if fitted is not None:
            return fitted
    kernels.expect(shape, rule, n, count, plan.epochs - (0 if start is None else start.done))
    run = _Run(kernels, shape, rule, params, X, Y, lrs, plan, threads, evaluate,
               on_divergence == "stop", start, guess, progress is not None)
    # The state after the last whole chunk, and its epoch, replaced in one assignment: a
    # Ctrl-C at any moment (in a kernel, a replay or a recording) restores a state that
    # matches the epoch it reports.
    committed = run.snapshot(run.done)
    with terminate_as_interrupt():  # not around the one-chunk path: see fit's Notes
        try:
            if progress is not None:  # before the first chunk: a bar may load kernels
                progress(0, None)
            if measuring:  # on copies: interrupted, the run is where it started
                run.threads = calibrate.measure(kernels, shape, rule, params[0], X, Y,
                                                float(lrs[0]), plan.epochs - run.done,
                                                key) or run.threads
            if progress is not None or measuring:  # neither counts in the run's seconds
                run.began = time.perf_counter()
            guard = calibrate.guard(key, run.threads if measuring else kept, n,
                                    run.threads) if chosen else None
            while committed.done < plan.epochs:
                raise_dropped()
                done = committed.done
                committed, measured = run.chunk(committed)
                if measured is _ALL_STOPPED:
                    break
                if guard is not None:  # another process may have taken a core since
                    run.threads = guard.next(run.chunks.cost)
                if progress is not None:
                    progress(committed.done - done, measured)
                if commit is not None:
                    commit(run.state(committed), False)
            raise_dropped()
            committed, final = run.finish(committed)
            if commit is not None:
                commit(run.state(committed), True)
        except KeyboardInterrupt as exc:
            forget()
            np.copyto(params, committed.params)
            if commit is not None:
                commit(run.state(committed), True)
            raise TrainingInterrupted(committed.done, getattr(exc, "signum", signal.SIGINT)) \
                from None
    return Fitted(*run.history.arrays(count), final, committed.seconds, run.diverged,
                  np.where(run.diverged > 0, run.kept, plan.epochs))


_ALL_STOPPED = object()  # a chunk's "measured" when every network had stopped before it


class _Run:
    """A run of :func:`fit` between its chunks: what it trains, its divergences, its
    history, and the steps of one chunk."""

    def __init__(self, kernels: Kernels, shape: Shape, rule: Rule, params: np.ndarray,
                 X: np.ndarray, Y: np.ndarray, lrs: np.ndarray, plan: Plan,
                 threads: int | None, evaluate: bool, alone: bool, start: State | None,
                 guess: float, shown: bool) -> None:
        self.kernels, self.shape, self.rule, self.params = kernels, shape, rule, params
        self.X, self.Y, self.lrs, self.plan, self.threads = X, Y, lrs, plan, threads
        self.evaluate, self.alone, self.count = evaluate, alone, len(params)
        self.record_every = plan.record_every if evaluate else None
        self.orders = _Orders(plan, len(X), None if start is None else start.rng)
        progress_every = max(1, plan.epochs // 100) if shown else None
        self.chunks = _Chunks(plan.epochs, (self.record_every, progress_every,
                                            self.orders.per_table), guess)
        self.velocity = (rule.new_state(shape.n_params, len(params), params.dtype)
                         if start is None else np.array(start.velocity, copy=True))
        self.history = _History(start)
        if start is None:
            self.diverged, self.kept = np.zeros(self.count, np.int64), np.zeros(self.count,
                                                                                 np.int64)
            self.done, self.before = 0, 0.0
        else:
            self.diverged, self.kept = start.diverged.copy(), start.kept.copy()
            self.done, self.before = start.done, start.seconds
        self.began = time.perf_counter()

    def train_rows(self, rows: np.ndarray, p: np.ndarray, v: np.ndarray,
                   order: np.ndarray | None, epochs: int) -> None:
        _train(self.kernels, self.shape, self.rule, p, v, self.X, self.Y, epochs,
               self.lrs[rows], order, self.threads)

    def losses(self, rows: np.ndarray) -> np.ndarray:
        values = np.full(self.count, np.nan)
        values[rows] = mean_losses(self.kernels, self.shape, self.rule.loss, self.params[rows],
                                   self.X, self.Y, self.threads)
        return values

    def state(self, c: _Committed) -> State:
        return State(c.done, c.params, c.velocity, c.rng,
                     *self.history.arrays(self.count, c.records), c.diverged,
                     np.where(c.diverged > 0, c.kept, c.done), c.seconds)

    def snapshot(self, epoch: int) -> _Committed:
        return _Committed(epoch, self.params.copy(), self.velocity.copy(), self.orders.state(),
                          len(self.history.rows), self.diverged.copy(), self.kept.copy(),
                          self.before + time.perf_counter() - self.began)

    def chunk(self, committed: _Committed) -> tuple[_Committed, object]:
        """Train the next chunk of epochs: the new committed state, and the losses recorded
        after it (None where none was; :data:`_ALL_STOPPED` where every network had
        stopped, and the run ends)."""
        done = committed.done
        rows = np.flatnonzero(self.diverged == 0)
        if not len(rows):
            return committed._replace(done=self.plan.epochs), _ALL_STOPPED
        stop = self.chunks.next_stop(done)
        order = self.orders.take(stop - done)
        began = time.perf_counter()
        params, velocity = self.params, self.velocity
        if len(rows) == self.count:
            self.train_rows(rows, params, velocity, order, stop - done)
        else:
            p, v = params[rows], velocity[rows]
            self.train_rows(rows, p, v, order, stop - done)
            params[rows], velocity[rows] = p, v
        self.chunks.measured(stop - done, time.perf_counter() - began)
        if self.evaluate and not all_finite(params if len(rows) == self.count
                                            else params[rows]):
            rows = self._stop_diverged(rows, committed, order, done, stop)
        measured = None
        if self.record_every and stop % self.record_every == 0:
            measured = self._record(rows, stop)
        return self.snapshot(stop), measured

    def _stop_diverged(self, rows: np.ndarray, committed: _Committed,
                       order: np.ndarray | None, done: int, stop: int) -> np.ndarray:
        """A parameter became non-finite in the chunk: find where by replaying it; raise,
        or stop each network that diverged at its last finite state. The rows left."""
        replay = _Replay(self.train_rows, committed, order, stop - done)
        if not self.alone:
            low, _, high, network = replay.first_divergence(rows)
            np.copyto(self.params, low)
            raise parameter_divergence(done + high, network, self.count)
        bad = rows[~np.isfinite(self.params[rows]).all(axis=1)]
        for k in bad:
            low, low_velocity, high, _ = replay.first_divergence(np.array([k]))
            self.params[k], self.velocity[k] = low[0], low_velocity[0]
            self.diverged[k], self.kept[k] = done + high, done + high - 1
        return np.flatnonzero(self.diverged == 0)

    def _record(self, rows: np.ndarray, stop: int) -> np.ndarray:
        """The mean losses after epoch ``stop``, recorded; a non-finite one diverged."""
        measured = self.losses(rows)
        if not self.alone:
            _check_losses(measured[rows], stop)
        bad = rows[~np.isfinite(measured[rows])]
        self.diverged[bad], self.kept[bad] = stop, stop
        self.history.record(stop, measured)
        return measured

    def finish(self, committed: _Committed) -> tuple[_Committed, np.ndarray]:
        """The final state and losses (NaN for a network that diverged)."""
        seconds = self.before + time.perf_counter() - self.began
        rows = np.flatnonzero(self.diverged == 0)
        final = self.losses(rows) if self.evaluate else np.empty(0)
        if self.evaluate:
            if not self.alone:
                _check_losses(final, self.plan.epochs)
            bad = rows[~np.isfinite(final[rows])]
            self.diverged[bad], self.kept[bad] = self.plan.epochs, self.plan.epochs
            final[self.diverged > 0] = np.nan
        return committed._replace(diverged=self.diverged.copy(), kept=self.kept.copy(),
                                  seconds=seconds), final


def _train(kernels: Kernels, shape: Shape, rule: Rule, params: np.ndarray,
           velocity: np.ndarray, X: np.ndarray, Y: np.ndarray, epochs: int, lrs: np.ndarray,
           order: np.ndarray | None, threads: int | None) -> None:
    """``epochs`` epochs of the rows of ``params``, row ``k`` at ``lrs[k]``: ``train`` for
    one row, ``train_many`` for more."""
    if len(params) == 1:
        kernels.train(shape, rule, params[0], velocity[0], X, Y, epochs, lrs[0], order, threads)
    else:
        kernels.train_many(shape, rule, params, velocity, X, Y, epochs, lrs, order, threads)


def _first_chunk(guess: float, plan: Plan, n: int) -> int:
    """The epochs of a first chunk with nothing to stop for but time (``_Chunks``'s
    rule, without building one), and no longer than an order table."""
    epochs = max(1, int(CHUNK_SECONDS / max(guess * 10, 1e-12)))
    return min(epochs, max(1, ORDER_ENTRIES // n)) if plan.shuffle and n > 1 else epochs


def _fit_at_once(kernels: Kernels, shape: Shape, rule: Rule, params: np.ndarray,
                 X: np.ndarray, Y: np.ndarray, lrs: np.ndarray, plan: Plan,
                 threads: int | None, evaluate: bool) -> Fitted | None:
    """``fit`` for a run of one chunk with nothing to record, show or write: the same bits
    and the same interruption, without the bookkeeping between chunks, which would cost
    more than a short call's epochs. None, with ``params`` as they were, where something
    diverged: ``fit``'s loop then runs it again (a generator passed as the seed is put
    back where it stood, so the loop draws the same orders) and says what happened."""
    count = len(params)
    saved = params.copy()
    orders = _Orders(plan, len(X)) if plan.shuffle else None
    drawn = None if orders is None else orders.state()
    order = None if orders is None else orders.take(plan.epochs)
    velocity = rule.new_state(shape.n_params, count, params.dtype)
    began = time.perf_counter()
    done = 0
    try:
        if count == 1 and evaluate:  # _train's work and the final loss, in one call
            value = kernels.train_then_loss(shape, rule, params[0], velocity[0], X, Y,
                                            plan.epochs, lrs[0], order, threads)
            seconds = time.perf_counter() - began
            done = plan.epochs
            final = np.array([value]) if math.isfinite(value) else None
        else:
            _train(kernels, shape, rule, params, velocity, X, Y, plan.epochs, lrs, order,
                   threads)
            seconds = time.perf_counter() - began
            done = plan.epochs
            if not evaluate:
                final = _NO_LOSSES
            elif not all_finite(params):
                final = None
            else:
                final = mean_losses(kernels, shape, rule.loss, params, X, Y, threads)
                final = final if all_finite(final) else None
    except KeyboardInterrupt as exc:
        forget()
        if not done:
            np.copyto(params, saved)
        raise TrainingInterrupted(done, getattr(exc, "signum", signal.SIGINT)) from None
    if final is None:
        np.copyto(params, saved)
        if drawn is not None:
            orders.rng.bit_generator.state = drawn
        return None
    if count == 1:  # read-only constants: a short call pays for every array
        return Fitted(_NO_HISTORY, _NO_EPOCHS, final, seconds, _NOT_DIVERGED,
                      np.array([plan.epochs]))
    return Fitted(np.empty((count, 0)), _NO_EPOCHS, final, seconds,
                  np.zeros(count, dtype=np.int64), np.full(count, plan.epochs))


_NO_LOSSES, _NO_HISTORY = np.empty(0), np.empty((1, 0))
_NO_EPOCHS, _NOT_DIVERGED = np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
for _constant in (_NO_LOSSES, _NO_HISTORY, _NO_EPOCHS, _NOT_DIVERGED):
    _constant.flags.writeable = False


class _Replay:
    """Replays of a chunk that ended with a non-finite parameter, from its committed start.

    Replays are bit-exact (rows train independently, on any kernel), so bisecting on the
    chunk's epochs finds what the chunk did.
    """

    def __init__(self, train_rows, committed: _Committed, order: np.ndarray | None,
                 epochs: int) -> None:
        self.train_rows, self.committed, self.order = train_rows, committed, order
        self.epochs = epochs

    def run(self, rows: np.ndarray, epochs: int) -> tuple[np.ndarray, np.ndarray]:
        p, v = self.committed.params[rows], self.committed.velocity[rows]
        if epochs:
            self.train_rows(rows, p, v, None if self.order is None else self.order[:epochs],
                            epochs)
        return p, v

    def first_divergence(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
        """The parameters and velocities of ``rows`` after the chunk's last epoch with all
        of them finite, the chunk's first epoch (1-based) with a non-finite parameter,
        and the first of ``rows`` holding one then."""
        low, high = 0, self.epochs  # finite after `low` epochs, not after `high`
        while high - low > 1:
            middle = (low + high) // 2
            if np.isfinite(self.run(rows, middle)[0]).all():
                low = middle
            else:
                high = middle
        network = int(rows[np.argmax(~np.isfinite(self.run(rows, high)[0]).all(axis=1))])
        return (*self.run(rows, low), high, network)
