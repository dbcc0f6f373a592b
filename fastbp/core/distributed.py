"""``train_many`` across a dask.distributed cluster: chunks of networks, one task each.

Each worker runs :func:`fastbp.engine.fit` on its rows with the backend the
caller resolved, on arrays already validated by :mod:`fastbp.training`. Every
chunk draws the same seeded sample orders, so the trained networks are those of
a local run; so is a divergence (see :func:`fit_on`). Needs the ``distributed``
extra; imported only when ``train_many`` gets a ``client``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..kernels import resolve
from ..kernels.protocol import Rule, Shape, Weighted
from . import engine


class _Outcome(NamedTuple):
    """What one chunk's task sends back: its rows, and what fit measured or why it stopped
    (a DivergenceError's ``(epoch, network, loss)``; exceptions with extra arguments do
    not survive pickling)."""

    params: np.ndarray
    fitted: engine.Fitted | None
    divergence: tuple[int, int, float | None] | None


def _fit_chunk(backend: str, shape: Shape, rule: Rule, params: np.ndarray, X: np.ndarray,
               Y: np.ndarray, lrs: np.ndarray, plan: engine.Plan, threads: int | None,
               evaluate: bool, on_divergence: str,
               sample_weight: np.ndarray | None = None) -> _Outcome:
    _, kernels = resolve(backend)
    if sample_weight is not None:
        kernels = Weighted(kernels, sample_weight)
    params = np.array(params, copy=True)
    try:
        fitted = engine.fit(kernels, shape, rule, params, X, Y, lrs, plan, threads=threads,
                            evaluate=evaluate, on_divergence=on_divergence)
    except engine.DivergenceError as exc:
        return _Outcome(params, None, (exc.epoch, exc.network, exc.loss))
    return _Outcome(params, fitted, None)


def fit_on(client, backend: str, shape: Shape, rule: Rule, params: np.ndarray, X: np.ndarray,
           Y: np.ndarray, lrs: np.ndarray, plan: engine.Plan, *, threads: int | None = None,
           progress: Callable[[int, np.ndarray | None], None] | None = None,
           on_divergence: str = "raise",
           sample_weight: np.ndarray | None = None) -> engine.Fitted:
    """:func:`fastbp.engine.fit` with the rows of ``params`` spread over ``client``'s workers
    (with ``sample_weight``, checked by :func:`fastbp.data.check_sample_weight`, on the
    kernels :class:`fastbp.kernels.protocol.Weighted` makes of each worker's).

    ``params`` is updated in place, as by ``fit``; ``progress`` is called with the
    number of networks of each finished chunk. A task whose worker dies is run again
    on another worker by the scheduler, from the same arguments, so it gives the same
    bits. With ``on_divergence="stop"`` a network that diverges stops alone, as in
    ``fit``. With "raise", where a network diverges, every
    row is left after the epoch a local run leaves it, and the DivergenceError
    names the same epoch and network: the first event over all chunks (a
    non-finite parameter before a non-finite loss measured at the same epoch,
    then the lowest network), with every other chunk brought to that epoch.
    """
    from distributed import as_completed
    from distributed.utils import CancelledError

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    chunks = [c for c in np.array_split(np.arange(len(params)), min(len(params), 2 * workers))
              if len(c)]
    # hash=False: keys of this call's own; two calls with the same data would otherwise
    # share keys, and the first to finish could release them under the second.
    data = [X, Y] if sample_weight is None else [X, Y, sample_weight]
    remote = client.scatter(data, broadcast=True, hash=False)

    def submit(rows: np.ndarray, run: engine.Plan, evaluate: bool):
        weights = remote[2] if sample_weight is not None else None
        return client.submit(_fit_chunk, backend, shape, rule, params[rows], remote[0],
                             remote[1], lrs[rows], run, threads, evaluate, on_divergence,
                             weights, pure=False)

    start = time.perf_counter()
    futures = [submit(rows, plan, True) for rows in chunks]
    where = {future.key: i for i, future in enumerate(futures)}
    outcomes: list[_Outcome] = [None] * len(chunks)  # type: ignore[list-item]
    retries = 0
    try:
        completed = as_completed(futures)
        for future in completed:
            i = where[future.key]
            try:
                outcomes[i] = future.result()
            except CancelledError:
                # The scheduler may forget a task whose worker died with data it needed
                # ("already forgotten"): run the chunk again, on the data scattered
                # afresh; it gives the same bits.
                retries += 1
                if retries > 2 * len(chunks):
                    raise
                remote = client.scatter(data, broadcast=True, hash=False)
                again = submit(chunks[i], plan, True)
                where[again.key] = i
                futures.append(again)
                completed.add(again)
                continue
            if progress is not None:
                progress(len(chunks[i]), None)
    except KeyboardInterrupt:
        client.cancel(futures)
        raise engine.TrainingInterrupted(0) from None  # no row was written back yet
    seconds = time.perf_counter() - start
    stopped = [i for i, o in enumerate(outcomes) if o.divergence is not None]
    if not stopped:
        for rows, outcome in zip(chunks, outcomes):
            params[rows] = outcome.params
        fitted = [o.fitted for o in outcomes]
        return engine.Fitted(np.concatenate([f.history for f in fitted]),
                             fitted[0].history_epochs, np.concatenate([f.final for f in fitted]),
                             seconds, np.concatenate([f.diverged for f in fitted]),
                             np.concatenate([f.kept for f in fitted]))

    def event(i: int) -> tuple[int, bool, int]:
        epoch, network, loss = outcomes[i].divergence
        return epoch, loss is not None, int(chunks[i][network])

    first = min(stopped, key=event)
    epoch, _, network = event(first)
    loss = outcomes[first].divergence[2]
    error = (engine.parameter_divergence(epoch, network, len(params)) if loss is None
             else engine.loss_divergence(loss, epoch, network, len(params)))
    kept = error.epochs_kept
    behind = {}
    for i, outcome in enumerate(outcomes):
        same = (outcome.divergence is not None
                and engine.epochs_kept(outcome.divergence[0], outcome.divergence[2]) == kept)
        if same:
            params[chunks[i]] = outcome.params
        else:  # finished, or stopped later: run it again from its start, to `kept` epochs
            behind[i] = submit(chunks[i], plan._replace(epochs=kept), False)
    for i, future in behind.items():
        params[chunks[i]] = future.result().params
    raise error

