"""``train`` and ``gradients``: validate, pick a backend, run its kernels in chunks."""

from __future__ import annotations

import time
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
    return X, Y


def _stops(epochs: int, record_every: int | None, progress_every: int | None,
           n_orders: int) -> list[int]:
    """Epochs after which the kernel returns to Python (records, progress, order tables)."""
    marks = {epochs}
    for every in (record_every, progress_every, n_orders):
        if every:
            marks.update(range(every, epochs, every))
    return sorted(marks)


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
    code = functions.loss_code(loss)
    X, Y = _check_data(net, X, Y, loss)
    n = len(X)
    epochs = check_integer(epochs, "epochs", 0)
    lr = check_learning_rate(lr)
    if batch_size is None:
        batch_size = n
    batch_size = check_integer(batch_size, "batch_size", 1)
    if batch_size > n:
        raise ValueError(f"batch_size must be at most the number of samples ({n}), "
                         f"got {batch_size}")
    momentum = check_momentum(momentum)
    shuffle = check_flag(shuffle, "shuffle")
    seed = check_seed(seed)
    if record_every is not None:
        record_every = check_integer(record_every, "record_every", 1)
    progress = check_flag(progress, "progress")
    name, module = resolve(backend)

    rng = np.random.default_rng(seed)
    shuffling = shuffle and n > 1
    per_table = max(1, _ORDER_ENTRIES // n) if shuffling else None
    progress_every = max(1, epochs // 100) if progress else None
    velocity = np.zeros_like(net.params)
    no_order = np.zeros((0, n), dtype=np.int64)
    train_bias = net.bias == "trainable"
    history, history_epochs = [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, unit="epoch", desc=f"fastbp[{name}]")
    start = time.perf_counter()
    done = 0
    try:
        for stop in _stops(epochs, record_every, progress_every, per_table):
            chunk = stop - done
            if shuffling:
                order = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (chunk, 1)), axis=1)
            else:
                order = no_order
            module.train(net.params, net.layout, net.activation_codes, code, X, Y, chunk, order,
                         lr, batch_size, momentum, velocity, train_bias)
            done = stop
            if record_every and done % record_every == 0:
                history.append(module.mean_loss(net.params, net.layout, net.activation_codes,
                                                code, X, Y))
                history_epochs.append(done)
            if bar is not None:
                bar.update(chunk)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    final = module.mean_loss(net.params, net.layout, net.activation_codes, code, X, Y)
    if record_every is None:
        history, history_epochs = [final], [epochs]
    return TrainResult(np.array(history, dtype=np.float64),
                       np.array(history_epochs, dtype=np.int64), float(final), epochs, seconds,
                       name, loss)


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
