"""``train``, ``train_many`` and ``gradients``: validate, pick a backend, run its kernels
in chunks of epochs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import functions
from .backends import resolve
from .data import (
    as_matrix,
    check_flag,
    check_integer,
    check_learning_rate,
    check_momentum,
    check_seed,
)
from .network import Network

# Shuffled orders are made a chunk at a time; cap a chunk's order table.
_ORDER_ENTRIES = 1 << 20


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


def _check_network(net: object) -> Network:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network, got {type(net).__name__}")
    return net


def _check_data(net: Network, X: object, Y: object, loss: str) -> tuple[np.ndarray, np.ndarray]:
    X = as_matrix(X, "X", net.sizes[0])
    Y = as_matrix(Y, "Y", net.sizes[-1])
    if len(X) != len(Y):
        raise ValueError(f"X and Y must have the same number of rows, got {len(X)} and {len(Y)}")
    if loss == "cross_entropy":
        if net.activations[-1] not in functions.CROSS_ENTROPY_OUTPUTS:
            raise ValueError(f"loss='cross_entropy' needs a logistic or softmax output layer, "
                             f"got {net.activations[-1]!r}")
        if Y.min() < 0.0 or Y.max() > 1.0:
            raise ValueError(f"Y must lie in [0, 1] with loss='cross_entropy', "
                             f"got values in [{Y.min()}, {Y.max()}]")
        sums = Y.sum(axis=1)
        if net.activations[-1] == "softmax" and (np.abs(sums - 1.0) > 1e-6).any():
            # The output delta o - t is the gradient only for targets that are distributions.
            row = int(np.argmax(np.abs(sums - 1.0) > 1e-6))
            raise ValueError(f"Y's rows must each sum to 1 with a softmax output and "
                             f"loss='cross_entropy'; row {row} sums to {sums[row]}")
    return X, Y


def _next_stop(done: int, epochs: int, *every: int | None) -> int:
    """The first epoch after ``done`` where the kernel must return to Python: the end, or
    the next multiple of a record, progress or order-table period."""
    return min([epochs, *((done // e + 1) * e for e in every if e)])


def train(net: Network, X: object, Y: object, *, epochs: int = 1, lr: float = 0.5,
          batch_size: int | None = 1, momentum: float = 0.0, loss: str = "squared",
          shuffle: bool = False, seed: int | np.random.Generator | None = None,
          backend: str = "auto", record_every: int | None = None,
          progress: bool = False) -> TrainResult:
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

    Returns
    -------
    TrainResult
    """
    net = _check_network(net)
    X, Y, opts = _check_options(net, X, Y, epochs, batch_size, momentum, loss, shuffle, seed,
                                record_every, progress)
    lrs = np.array([check_learning_rate(lr)])
    name, module = resolve(backend)
    return _fit(module, name, net, net.params.reshape(1, -1), X, Y, lrs, opts, None)[0]


@dataclass(frozen=True)
class _Options:
    epochs: int
    batch_size: int
    momentum: float
    loss: str
    code: int
    shuffle: bool
    seed: int | np.random.Generator | None
    record_every: int | None
    progress: bool


def _check_options(net, X, Y, epochs, batch_size, momentum, loss, shuffle, seed, record_every,
                   progress) -> tuple[np.ndarray, np.ndarray, _Options]:
    code = functions.loss_code(loss)
    X, Y = _check_data(net, X, Y, loss)
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
    return X, Y, _Options(epochs, batch_size, check_momentum(momentum), loss, code,
                          check_flag(shuffle, "shuffle"), check_seed(seed), record_every,
                          check_flag(progress, "progress"))


class DivergenceError(ValueError):
    """Training produced a NaN or infinite parameter or loss.

    The network is left at its last finite state, after epoch ``epoch - 1``;
    for ``train_many``, ``network`` is the index of the first network to diverge
    (the others are left after the same epoch).
    """

    def __init__(self, message: str, epoch: int, network: int = 0) -> None:
        super().__init__(message)
        self.epoch, self.network = epoch, network


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the network holds its parameters after ``epochs_done`` epochs."""

    def __init__(self, epochs_done: int) -> None:
        super().__init__(f"training interrupted: the network holds its parameters after epoch "
                         f"{epochs_done}, the last completed chunk")
        self.epochs_done = epochs_done


# A chunk of epochs aims at this many seconds (the first, on a guessed speed, at a tenth
# of it), so that Ctrl-C is answered promptly and a divergence is caught soon. The guess:
# seconds per parameter per sample visit, measured on the tutorial network.
_CHUNK_SECONDS = 0.25
_GUESS = {"python": 1.5e-6}
_GUESS_COMPILED = 5e-9


def _fit(module, name: str, net: Network, params: np.ndarray, X: np.ndarray, Y: np.ndarray,
         lrs: np.ndarray, o: _Options, threads: int | None) -> list[TrainResult]:
    """Train the rows of ``params`` (networks shaped like ``net``) in chunks of epochs.

    The kernels return to Python only between chunks: to record, to show
    progress, to take the next table of shuffled orders, or after about a
    quarter of a second. Each chunk starts from a snapshot, so a divergence or
    a Ctrl-C leaves every network in a consistent state.
    """
    n, count = len(X), len(params)
    rng = np.random.default_rng(o.seed)
    shuffling = o.shuffle and n > 1
    per_table = max(1, _ORDER_ENTRIES // n) if shuffling else None
    progress_every = max(1, o.epochs // 100) if o.progress else None
    velocity = np.zeros_like(params)
    no_order = np.zeros((0, n), dtype=np.int64)
    train_bias = net.bias == "trainable"
    layout, acts = net.layout, net.activation_codes
    history: list[list[float]] = [[] for _ in range(count)]
    history_epochs: list[int] = []

    def run(p: np.ndarray, v: np.ndarray, order: np.ndarray, epochs: int) -> None:
        if count == 1:
            module.train(p[0], layout, acts, o.code, X, Y, epochs, order, lrs[0], o.batch_size,
                         o.momentum, v[0], train_bias)
        else:
            module.train_many(p, layout, acts, o.code, X, Y, epochs, order, lrs, o.batch_size,
                              o.momentum, v, train_bias, threads)

    def losses() -> list[float]:
        return [module.mean_loss(params[k], layout, acts, o.code, X, Y) for k in range(count)]

    cost = _GUESS.get(name, _GUESS_COMPILED) * n * params.size * 10  # seconds per epoch
    bar = None
    if o.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=o.epochs, unit="epoch", desc=f"fastbp[{name}]")
    start = time.perf_counter()
    done = 0
    snapshot = params.copy()
    try:
        while done < o.epochs:
            mark = _next_stop(done, o.epochs, o.record_every, progress_every, per_table)
            stop = min(mark, done + max(1, int(_CHUNK_SECONDS / cost)))
            chunk = stop - done
            if shuffling:
                order = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (chunk, 1)), axis=1)
            else:
                order = no_order
            np.copyto(snapshot, params)
            saved_velocity = velocity.copy()
            began = time.perf_counter()
            run(params, velocity, order, chunk)
            cost = max((time.perf_counter() - began) / chunk, 1e-12)
            if not np.isfinite(params).all():
                _diverged(run, params, snapshot, saved_velocity, order, shuffling, done, chunk)
            done = stop
            if o.record_every and done % o.record_every == 0:
                recorded = losses()
                _check_losses(recorded, done)
                for k in range(count):
                    history[k].append(recorded[k])
                history_epochs.append(done)
            if bar is not None:
                bar.update(chunk)
    except KeyboardInterrupt:
        np.copyto(params, snapshot)  # the state after the last completed chunk
        raise TrainingInterrupted(done) from None
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    finals = losses()
    _check_losses(finals, o.epochs)
    results = []
    for k in range(count):
        if o.record_every is None:
            history[k], epochs_k = [finals[k]], [o.epochs]
        else:
            epochs_k = history_epochs
        results.append(TrainResult(np.array(history[k], dtype=np.float64),
                                   np.array(epochs_k, dtype=np.int64), float(finals[k]),
                                   o.epochs, seconds, name, o.loss))
    return results


def _diverged(run, params, snapshot, saved_velocity, order, shuffling, done, chunk) -> None:
    """Find the first epoch of the chunk that made a parameter non-finite, leave ``params``
    after the epoch before it, and raise DivergenceError. Replays are bit-exact."""
    def replay(epochs: int) -> np.ndarray:
        p, v = snapshot.copy(), saved_velocity.copy()
        if epochs:
            run(p, v, order[:epochs] if shuffling else order, epochs)
        return p

    low, high = 0, chunk  # finite after `low` epochs, not after `high`
    while high - low > 1:
        middle = (low + high) // 2
        if np.isfinite(replay(middle)).all():
            low = middle
        else:
            high = middle
    np.copyto(params, replay(low))
    bad = replay(high)
    network = int(np.argmax(~np.isfinite(bad).all(axis=1)))
    epoch = done + high
    which = f"network {network} " if len(params) > 1 else ""
    raise DivergenceError(f"training diverged: {which}got a NaN or infinite parameter in epoch "
                          f"{epoch}; the network is left after epoch {epoch - 1}, its last "
                          f"finite state (try a smaller lr)", epoch, network)


def _check_losses(values: list[float], epoch: int) -> None:
    for k, value in enumerate(values):
        if not np.isfinite(value):
            which = f" of network {k}" if len(values) > 1 else ""
            raise DivergenceError(f"training diverged: the loss{which} is {value} after epoch "
                                  f"{epoch} (its parameters are finite: an output reached 0 or 1 "
                                  f"exactly under cross-entropy, or overflowed)", epoch, k)


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
        the compiled kernels; results are the same as local ones.

    Returns
    -------
    list of TrainResult
        One per network, in order.
    """
    nets = _check_networks(nets)
    X, Y, opts = _check_options(nets[0], X, Y, epochs, batch_size, momentum, loss, shuffle, seed,
                                record_every, progress)
    lrs = _check_learning_rates(lr, len(nets))
    if threads is not None:
        threads = check_integer(threads, "threads", 1)
    name, module = resolve(backend)
    if client is not None:
        from .distributed import train_many_on

        return train_many_on(client, nets, X, Y, lrs, opts, backend, threads)
    params = np.stack([net.params for net in nets])
    try:
        return _fit(module, name, nets[0], params, X, Y, lrs, opts, threads)
    finally:  # also after a divergence or Ctrl-C: _fit leaves every row consistent
        for net, row in zip(nets, params):
            net.params[...] = row


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
              backend: str = "auto") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradient of the mean loss over ``X, Y`` with respect to every weight and bias.

    Returns
    -------
    dW, db : list of ndarray
        Shaped like ``net.weights`` and ``net.biases``. Bias gradients are
        returned in both bias modes (a fixed bias still has a gradient; it
        is just never applied).
    """
    net = _check_network(net)
    code = functions.loss_code(loss)
    X, Y = _check_data(net, X, Y, loss)
    _, module = resolve(backend)
    flat = module.gradients(net.params, net.layout, net.activation_codes, code, X, Y)
    return net.split(flat)
