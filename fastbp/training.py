"""``train``, ``train_many`` and ``gradients``: validate the input, pick a backend, and
hand arrays to :mod:`fastbp.engine` (or, for a cluster, to :mod:`fastbp.distributed`)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import engine, functions
from .data import (
    check_data,
    check_flag,
    check_integer,
    check_learning_rate,
    check_momentum,
    check_seed,
    check_threads,
)
from .engine import DivergenceError, TrainingInterrupted
from .kernels import resolve
from .kernels.protocol import Rule
from .network import Network, check_network

__all__ = ["DivergenceError", "TrainResult", "TrainingInterrupted", "gradients", "train",
           "train_many"]


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes
    ----------
    history : ndarray
        Mean loss over ``X, Y`` after every ``record_every`` epochs (at epochs
        ``history_epochs``); with ``record_every=None``, just the final loss.
    history_epochs : ndarray
        The epoch after which each ``history`` entry was measured.
    final_loss : float
        Mean per-sample loss over ``X, Y`` after training.
    epochs : int
        Epochs run.
    seconds : float
        Wall time of the training loop.
    backend : str
        The backend that ran (what ``"auto"`` resolved to).
    loss : str
        The loss trained on and reported.
    """

    history: np.ndarray
    history_epochs: np.ndarray
    final_loss: float
    epochs: int
    seconds: float
    backend: str
    loss: str = field(default="squared")


def train(net: Network, X: object, Y: object, *, epochs: int = 1, lr: float = 0.5,
          batch_size: int | None = 1, momentum: float = 0.0, loss: str = "squared",
          shuffle: bool = False, seed: int | np.random.Generator | None = None,
          backend: str = "auto", record_every: int | None = None,
          progress: bool = False, threads: int | None = None) -> TrainResult:
    """Train ``net`` in place by gradient descent on the mean loss over ``X, Y``.

    Parameters
    ----------
    net : Network
        Trained in place.
    X, Y : array_like, shapes ``(n, n_inputs)`` and ``(n, n_outputs)``
        Samples and targets (a 1-D array is one sample). Copied, never modified.
    epochs : int, default 1
        Passes over the data; each visits every sample once.
    lr : float, default 0.5
        Learning rate, finite and > 0.
    batch_size : int or None, default 1
        Samples per update: 1 is online SGD (the reference text), None the
        full batch. A batch's gradients are summed in visiting order, then
        divided by its size; the last batch of an epoch may be smaller.
    momentum : float in [0, 1), default 0
        Classical momentum: ``v = momentum * v - lr * g; w += v``.
    loss : {"squared", "cross_entropy"}
        Per-sample loss: ``sum 1/2 (t - o)^2`` (the text's E_total), or
        cross-entropy for logistic or softmax outputs.
    shuffle : bool, default False
        Visit samples in a fresh permutation each epoch, drawn from ``seed``
        in Python so every backend sees the same order.
    seed : int, Generator or None
        Seeds the shuffling.
    backend : str, default "auto"
        "auto" (the fastest available) or a name from :func:`fastbp.backends`.
    record_every : int or None
        Record the mean loss after every ``record_every`` epochs.
    progress : bool, default False
        Show a tqdm progress bar (training then runs in chunks).
    threads : int, optional
        Threads that share each batch in the compiled backends. By default every
        core, where a batch is large enough to pay (samples times parameters of
        100,000 or more), else one; the oracle is serial. The results are the same
        bits for every count: threads split a batch's outputs, never a sum.

    Returns
    -------
    TrainResult
    """
    net = check_network(net)
    X, Y, rule, plan = _check_options(net, X, Y, epochs, batch_size, momentum, loss, shuffle,
                                      seed, record_every)
    lrs = np.array([check_learning_rate(lr)])
    progress = check_flag(progress, "progress")
    name, kernels = resolve(backend)
    threads = check_threads(threads)
    params = net.params.reshape(1, -1)
    with _progress_bar(progress, plan.epochs, "epoch", name) as tick:
        fitted = engine.fit(kernels, net.kernel_shape, rule, params, X, Y, lrs, plan,
                            threads=threads, progress=tick)
    return _results(fitted, plan, name, loss)[0]


def _check_options(net, X, Y, epochs, batch_size, momentum, loss, shuffle, seed,
                   record_every) -> tuple[np.ndarray, np.ndarray, Rule, engine.Plan]:
    code = functions.loss_code(loss)
    X, Y = check_data(net, X, Y, loss)
    n = len(X)
    epochs = check_integer(epochs, "epochs", 0)
    if batch_size is None:
        batch_size = n
    batch_size = check_integer(batch_size, "batch_size", 1)
    if batch_size > n:
        raise ValueError(f"batch_size must be at most the number of samples ({n}), "
                         f"got {batch_size}")
    if record_every is not None:
        record_every = check_integer(record_every, "record_every", 1)
    return X, Y, Rule(code, batch_size, check_momentum(momentum)), engine.Plan(
        epochs, check_flag(shuffle, "shuffle"), check_seed(seed), record_every)


@contextmanager
def _progress_bar(show: bool, total: int, unit: str, backend: str):
    """A tqdm bar counting ``unit``s: yields the callable that advances it, or None."""
    if not show:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit=unit, desc=f"fastbp[{backend}]")
    try:
        yield bar.update
    finally:
        bar.close()


def _results(fitted: engine.Fitted, plan: engine.Plan, name: str,
             loss: str) -> list[TrainResult]:
    results = []
    for k, final in enumerate(fitted.final.tolist()):
        if plan.record_every is None:
            history, epochs = np.array([final]), np.array([plan.epochs], dtype=np.int64)
        else:
            history, epochs = fitted.history[k].copy(), fitted.history_epochs.copy()
        results.append(TrainResult(history, epochs, final, plan.epochs, fitted.seconds, name,
                                   loss))
    return results


def train_many(nets: Sequence[Network], X: object, Y: object, *, epochs: int = 1,
               lr: float | object = 0.5, batch_size: int | None = 1, momentum: float = 0.0,
               loss: str = "squared", shuffle: bool = False,
               seed: int | np.random.Generator | None = None, backend: str = "auto",
               record_every: int | None = None, progress: bool = False,
               threads: int | None = None, client: object = None) -> list[TrainResult]:
    """Train many same-shape networks on the same data, in place, in parallel.

    Takes every option of :func:`train`; each network ends bit-identical to
    training it alone with :func:`train` (with ``shuffle``, every network visits
    the samples in the same seeded order, as each would alone with that seed).

    Parameters
    ----------
    nets : sequence of Network
        Same sizes, activations and bias mode.
    lr : float or array_like
        One learning rate for all, or one per network.
    threads : int, optional
        Threads for the compiled backends (default: all cores); the oracle is serial.
    client : dask.distributed.Client, optional
        Split the networks into chunks across the cluster's workers, each running
        the backend chosen here. Everything is as in a local run, a divergence
        included (same epoch, same network, every network left after the same
        epoch); ``progress`` then counts the networks done.

    Returns
    -------
    list of TrainResult
        One per network, in order.
    """
    nets = _check_networks(nets)
    X, Y, rule, plan = _check_options(nets[0], X, Y, epochs, batch_size, momentum, loss,
                                      shuffle, seed, record_every)
    lrs = _check_learning_rates(lr, len(nets))
    progress = check_flag(progress, "progress")
    threads = check_threads(threads)
    name, kernels = resolve(backend)
    shape = nets[0].kernel_shape
    params = np.stack([net.params for net in nets])
    try:
        if client is None:
            with _progress_bar(progress, plan.epochs, "epoch", name) as tick:
                fitted = engine.fit(kernels, shape, rule, params, X, Y, lrs, plan,
                                    threads=threads, progress=tick)
        else:
            from .distributed import fit_on

            with _progress_bar(progress, len(nets), "network", name) as tick:
                fitted = fit_on(client, name, shape, rule, params, X, Y, lrs, plan,
                                threads=threads, progress=tick)
    finally:  # also after a divergence or Ctrl-C: the engine leaves every row consistent
        for net, row in zip(nets, params):
            net.params[...] = row
    return _results(fitted, plan, name, loss)


def _check_networks(nets: object) -> list[Network]:
    if isinstance(nets, Network) or not isinstance(nets, Sequence):
        raise TypeError("nets must be a list of fastbp.Network")
    nets = list(nets)
    if not nets:
        raise ValueError("nets must hold at least one network")
    for k, net in enumerate(nets):
        if not isinstance(net, Network):
            raise TypeError(f"nets[{k}] must be a fastbp.Network, got {type(net).__name__}")
        first = nets[0]
        if (net.sizes, net.activations, net.bias) != (first.sizes, first.activations, first.bias):
            raise ValueError(f"nets must all have the same shape: nets[{k}] is {net!r}, "
                             f"nets[0] is {first!r}")
    return nets


def _check_learning_rates(lr: object, count: int) -> np.ndarray:
    if np.ndim(lr) == 0:
        return np.full(count, check_learning_rate(lr))
    values = np.asarray(lr)
    if values.ndim != 1 or len(values) != count:
        raise ValueError(f"lr must be one number or one per network ({count}), "
                         f"got shape {values.shape}")
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        raise TypeError(f"lr must hold real numbers, got dtype {values.dtype}")
    values = values.astype(np.float64)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"lr must be finite and > 0 for every network, got lr[{k}] = "
                         f"{values[k]}")
    return values


def gradients(net: Network, X: object, Y: object, loss: str = "squared",
              backend: str = "auto",
              threads: int | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradient of the mean loss over ``X, Y`` with respect to every weight and bias.

    ``threads`` as in :func:`train`: the same bits for every count.

    Returns
    -------
    dW, db : list of ndarray
        Shaped like ``net.weights`` and ``net.biases``. Bias gradients are
        returned in both bias modes (a fixed bias still has a gradient; it
        is just never applied).
    """
    net = check_network(net)
    code = functions.loss_code(loss)
    X, Y = check_data(net, X, Y, loss)
    threads = check_threads(threads)
    _, kernels = resolve(backend)
    return net.split(kernels.gradients(net.kernel_shape, code, net.params, X, Y, threads))
