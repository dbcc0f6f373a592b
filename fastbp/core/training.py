"""``train``, ``train_many`` and ``gradients``: validate the input, pick a backend, and
hand arrays to :mod:`fastbp.engine` (or, for a cluster, to :mod:`fastbp.distributed`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from ..base import functions
from ..base.files import check_output_path
from ..base.signals import terminate_as_interrupt
from ..kernels import choose, resolve
from ..kernels.protocol import Kernels, Rule, Shape, Weighted, check_backend_dtype, sizes_label
from . import calibrate, engine, optimizers
from . import checkpoint as checkpoint_file
from .data import (
    check_choice,
    check_data,
    check_flag,
    check_integer,
    check_learning_rate,
    check_real,
    check_sample_weight,
    check_seed,
    check_threads,
    check_weight_decay,
)
from .engine import DivergenceError, TrainingInterrupted
from .network import Network, check_network, training
from .optimizers import SGD, Adam

__all__ = ["DivergenceError", "TrainResult", "TrainingInterrupted", "gradients", "resume",
           "train", "train_many"]


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
        NaN for a network that diverged.
    epochs : int
        Epochs the network was trained for: the planned number, or, where it
        diverged, the epoch it was left after.
    seconds : float
        Wall time of the training loop (of every part, for a resumed run).
    backend : str
        The backend that ran (what ``"auto"`` resolved to).
    loss : str
        The loss trained on and reported.
    diverged : bool
        The network diverged and stopped alone (``on_divergence="stop"``); its
        ``history`` is NaN after it stopped.
    diverged_epoch : int or None
        The epoch in which it diverged: its first non-finite parameter (it is left
        after the epoch before), or its first non-finite loss (left after it).
    """

    history: np.ndarray
    history_epochs: np.ndarray
    final_loss: float
    epochs: int
    seconds: float
    backend: str
    loss: str = field(default="squared")
    diverged: bool = False
    diverged_epoch: int | None = None

    def plot(self, ax=None):
        """The loss curve (``history`` against ``history_epochs``) with matplotlib, on
        ``ax`` or pyplot's current Axes; record the loss with ``record_every`` to draw more
        than the final point.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ImportError
            Without matplotlib (``pip install 'fastbp[plot]'``).
        """
        from ..learn.plots import loss_curve

        return loss_curve(self, ax)


def train(net: Network, X: object, Y: object, *, epochs: int = 1, lr: float = 0.5,
          batch_size: int | None = 1, momentum: float = 0.0, loss: str = "squared",
          shuffle: bool = False, seed: int | np.random.Generator | None = None,
          backend: str = "auto", record_every: int | None = None,
          progress: bool = False, threads: int | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: float = 60.0,
          on_divergence: str = "raise", weight_decay: float = 0.0,
          optimizer: str | SGD | Adam | None = None,
          sample_weight: object = None) -> TrainResult:
    """Train ``net`` in place by gradient descent on the mean loss over ``X, Y``.

    Parameters
    ----------
    net : Network
        Trained in place.
    X, Y : array_like, shapes ``(n, n_inputs)`` and ``(n, n_outputs)``
        Samples and targets (a 1-D ``X`` is one sample; for a network with one
        output, a 1-D ``Y`` of n values is a column). Copied, never modified.
    epochs : int, default 1
        Passes over the data; each visits every sample once.
    lr : float, default 0.5
        Learning rate, finite and > 0.
    batch_size : int or None, default 1
        Samples per update: 1 is online SGD (the reference text), None the
        full batch. A batch's gradients are summed in visiting order, then
        divided by its size; the last batch of an epoch may be smaller.
    momentum : float in [0, 1), default 0
        Classical momentum, ``v = momentum * v - lr * g; w += v``: the shorthand for
        ``optimizer=fastbp.SGD(momentum)``.
    optimizer : "sgd", "adam", fastbp.SGD or fastbp.Adam, optional
        The update rule (:mod:`fastbp.optimizers`): SGD (plain, classical or Nesterov
        momentum) or Adam, each defined exactly as scikit-learn's; a string for its
        defaults. By default ``SGD(momentum)``. Adam's rate is ``lr`` (scikit-learn's
        ``learning_rate_init``), its step count advances once a batch.
    weight_decay : float >= 0, default 0
        L2 penalty on the weights (not the biases), as scikit-learn's ``alpha``: each
        batch's summed weight gradient gets ``weight_decay * w`` added before the
        division by the batch size, so ``g = (sum + weight_decay * w) / size``. The
        reported losses do not include the penalty.
    loss : {"squared", "cross_entropy"}
        Per-sample loss: ``sum 1/2 (t - o)^2`` (the text's E_total), or
        cross-entropy for logistic or softmax outputs.
    sample_weight : array_like of n floats >= 0, optional
        Each sample's loss and output deltas are multiplied by its weight, and each
        batch's sums are divided by its weights' sum instead of its size (as
        scikit-learn's MLP does); the reported losses are weighted means. A batch must
        not be able to hold only zero weights. Copied, never modified.
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
        Threads that share each batch in the compiled backends; the oracle is serial.
        By default the count measured for this workload (backend, dtype, layer sizes,
        samples a batch) on this machine: the first run long enough to pay for it
        (a few seconds) times a few of its batches on one thread and on every core,
        and the faster count is kept in ``~/.cache/fastbp/threads.json`` for every
        later run (:mod:`fastbp.core.calibrate`). Until then, every core where a
        batch has at least ``limits.THREADS_PAY`` multiply-adds (samples times
        parameters), else one. Either way, no more than the cores other processes
        leave free when the run begins (on Linux), and a long run tries one thread
        where its count became slower. The results are the same bits for every
        count: threads split a batch's outputs, never a sum.
    checkpoint : path, optional
        Write the run's whole state to this file (see :func:`resume`): at most every
        ``checkpoint_every`` seconds, at the end, and when Ctrl-C or SIGTERM stops
        the run. Each write replaces the file atomically.
    checkpoint_every : float, default 60
        Seconds of training between two checkpoints (0: after every chunk of epochs,
        about four a second).
    on_divergence : {"raise", "stop"}, default "raise"
        When a parameter or the measured loss becomes NaN or infinite: raise
        :class:`DivergenceError`, or stop and return a result with ``diverged=True``.
        Either way the network is left at its last finite state.

    Returns
    -------
    TrainResult

    Notes
    -----
    Two successive calls are not one longer run: the second starts the optimizer afresh
    (zero velocity; Adam's moments and step count too), and with ``shuffle`` draws its
    orders afresh from ``seed``.
    To continue a run exactly, train with ``checkpoint=`` and call :func:`resume`.

    SIGTERM is handled like Ctrl-C while training runs in the main thread (unless
    the program installed its own handler): the network is left after the last
    whole chunk of epochs, the checkpoint is written, and
    :class:`TrainingInterrupted` says how to resume. A call expected to take a few
    milliseconds at most, with no progress bar, record or checkpoint, leaves SIGTERM
    its default action (ending the process): it has nothing to save.
    """
    net = check_network(net)
    X, Y, rule, plan = _check_options(net, X, Y, epochs, batch_size, momentum, loss, shuffle,
                                      seed, record_every, on_divergence, weight_decay,
                                      optimizer)
    lrs = np.array([check_learning_rate(lr)])
    progress = check_flag(progress, "progress")
    name, kernels = choose(backend, net.kernel_shape, rule, 1, len(X), plan.epochs)
    threads = check_threads(threads)
    check_backend_dtype(kernels, net.params)
    weights = check_sample_weight(sample_weight, len(X), rule.batch_size, plan.shuffle,
                                  net.dtype)
    writer = _checkpoint_writer(checkpoint, checkpoint_every, "train", net, rule, plan, name,
                                threads, on_divergence, lrs, X, Y, weights)
    if weights is not None:
        kernels = Weighted(kernels, weights)
    params = net.params.reshape(1, -1)
    if not net._busy.acquire(False):  # `training(net)`, inline: a short call pays for a with
        raise training.refused(net)
    try:
        fitted = _fit(kernels, name, net.kernel_shape, rule, params, X, Y, lrs, plan, threads,
                      progress, on_divergence, writer)
    finally:
        net._busy.release()
    return _results(fitted, plan, name, loss)[0]


def measure_threads(net: Network, X: object, Y: object, *, lr: float = 0.5,
                    batch_size: int | None = 1, optimizer: str | SGD | Adam | None = None,
                    backend: str = "auto") -> int | None:
    """Measure now the threads that ``train(..., threads=None)`` uses for this workload on
    this machine, and keep the count (see ``threads`` in :func:`train`), however short
    the runs to come; None where there is no choice to make (online training, one core,
    the oracle). ``net`` is not modified."""
    net = check_network(net)
    X, Y, rule, _ = _check_options(net, X, Y, 1, batch_size, 0.0, "squared", False, None,
                                   None, "raise", 0.0, optimizer)
    _, kernels = choose(backend, net.kernel_shape, rule, 1, len(X), 1)
    check_backend_dtype(kernels, net.params)
    key = calibrate.workload(kernels, net.kernel_shape, rule, len(X))
    if key is None:
        return None
    return calibrate.measure(kernels, net.kernel_shape, rule, net.params, X, Y,
                             check_learning_rate(lr), None, key)


def resume(path: str | os.PathLike, X: object, Y: object, *, epochs: int | None = None,
           backend: str | None = None, progress: bool = False,
           threads: int | None = None,
           sample_weight: object = None) -> tuple[Network, TrainResult] | tuple[
               list[Network], list[TrainResult]]:
    """Continue a run from its checkpoint, exactly as if it had never stopped.

    Parameters
    ----------
    path : path
        A checkpoint written by ``train(..., checkpoint=path)`` or ``train_many``;
        the continued run keeps writing it, as often as the first part did.
    X, Y : array_like
        The data the run was trained on: the same values (their sha256 fingerprint
        must match the checkpoint's).
    epochs : int, optional
        The total number of epochs to reach; by default the run's own plan.
    backend : str, optional
        By default the backend that ran before; any other gives the same bits.
    progress : bool, default False
        Show a tqdm progress bar.
    threads : int, optional
        As in :func:`train`; the bits do not depend on it.
    sample_weight : array_like, optional
        The weights the run was trained with, if any (part of the fingerprint).

    Returns
    -------
    (Network, TrainResult), or (list of Network, list of TrainResult) for a checkpoint
    of ``train_many``
        The trained network(s) and result(s): parameters, history and final loss
        bit-identical to the run that was never interrupted.

    Raises
    ------
    ValueError
        The file is not a readable fastbp checkpoint (damaged, foreign, another
        format version), or ``X, Y`` are not the data it was trained on, or
        ``epochs`` is below the epochs already done. Nothing is trained then.
    """
    saved = checkpoint_file.read(path)
    try:
        nets = [Network(**saved.network) for _ in saved.state.params]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{os.fspath(path)} is not a usable fastbp checkpoint: {exc}") \
            from None
    X, Y = check_data(nets[0], X, Y, saved.options["loss"])
    weights = check_sample_weight(sample_weight, len(X), min(saved.options["batch_size"],
                                                            len(X)), saved.options["shuffle"],
                                  nets[0].dtype)
    if checkpoint_file.fingerprint(X, Y, weights) != saved.data:
        raise ValueError(f"X, Y{'' if weights is None else ', sample_weight'} are not the data "
                         f"the checkpoint {os.fspath(path)!r} was trained on (their sha256 "
                         f"fingerprints differ)")
    options, state = dict(saved.options), saved.state
    if options["batch_size"] > len(X) or (options["shuffle"] and len(X) > 1
                                          and state.rng is None):
        raise ValueError(f"{os.fspath(path)} is not a usable fastbp checkpoint: "
                         + (f"its batch_size {options['batch_size']} exceeds the {len(X)} "
                            f"samples" if options["batch_size"] > len(X) else
                            "it shuffles but holds no shuffle generator state"))
    if epochs is not None:
        epochs = check_integer(epochs, "epochs", 0)
        if epochs < state.done:
            raise ValueError(f"epochs must be at least the {state.done} epochs already done, "
                             f"got {epochs}")
        options["epochs"] = epochs
    progress = check_flag(progress, "progress")
    threads = check_threads(threads)
    name, kernels = resolve(options["backend"] if backend is None else backend)
    options["backend"] = name
    check_backend_dtype(kernels, nets[0].params)
    if weights is not None:
        kernels = Weighted(kernels, weights)
    rule = _rule(functions.loss_code(options["loss"]), options["batch_size"],
                 options["weight_decay"], optimizers.from_dict(options["optimizer"]))
    plan = engine.Plan(options["epochs"], options["shuffle"], options["seed"],
                       options["record_every"])
    params = np.array(state.params, copy=True)
    writer = checkpoint_file.Writer(path, options["checkpoint_every"], saved.kind,
                                    saved.network, options, saved.lrs, saved.data)
    try:
        fitted = _fit(kernels, name, nets[0].kernel_shape, rule, params, X, Y, saved.lrs, plan,
                      threads, progress, options["on_divergence"], writer, start=state)
    finally:
        for net, row in zip(nets, params):
            net.params[...] = row
    results = _results(fitted, plan, name, options["loss"])
    return (nets[0], results[0]) if saved.kind == "train" else (nets, results)


def _checkpoint_writer(path: object, every: object, kind: str, net: Network, rule: Rule,
                       plan: engine.Plan, name: str, threads: int | None, on_divergence: str,
                       lrs: np.ndarray, X: np.ndarray, Y: np.ndarray,
                       weights: np.ndarray | None = None) -> checkpoint_file.Writer | None:
    """The engine's commit hook for ``checkpoint=path``, its options checked; None without."""
    every = check_real(every, "checkpoint_every")
    if not every >= 0:  # inf: only at the end and at an interruption
        raise ValueError(f"checkpoint_every must be a number of seconds >= 0, got {every}")
    if path is None:
        return None
    path = check_output_path(path, "checkpoint")
    options = {"epochs": plan.epochs, "batch_size": rule.batch_size, "momentum": rule.momentum,
               "optimizer": _optimizer_of(rule).to_dict(), "weight_decay": rule.weight_decay,
               "loss": functions.loss_name(rule.loss), "shuffle": plan.shuffle,
               "seed": plan.seed if isinstance(plan.seed, int) else None,
               "record_every": plan.record_every, "backend": name, "threads": threads,
               "checkpoint_every": every, "on_divergence": on_divergence}
    network = {"sizes": list(net.sizes), "activation": list(net.activations), "bias": net.bias,
               "dtype": net.dtype.name}
    return checkpoint_file.Writer(path, every, kind, network, options, lrs,
                                  checkpoint_file.fingerprint(X, Y, weights))


def _fit(kernels: Kernels, name: str, shape: Shape, rule: Rule, params: np.ndarray,
         X: np.ndarray, Y: np.ndarray, lrs: np.ndarray, plan: engine.Plan,
         threads: int | None, progress: bool, on_divergence: str,
         writer: checkpoint_file.Writer | None, start: engine.State | None = None
         ) -> engine.Fitted:
    """engine.fit with a progress bar, and the checkpoint named in the interruption."""
    if not progress and writer is None and start is None:  # a short call's way: 2 µs less
        return engine.fit(kernels, shape, rule, params, X, Y, lrs, plan, threads=threads,
                          on_divergence=on_divergence)
    done = 0 if start is None else start.done
    try:
        with writer or nullcontext(), _progress_bar(progress, plan.epochs, "epoch", name, done,
                           (kernels, shape, rule, len(params))) as tick:
            return engine.fit(kernels, shape, rule, params, X, Y, lrs, plan, threads=threads,
                              progress=tick, on_divergence=on_divergence, start=start,
                              commit=writer)
    except TrainingInterrupted as exc:
        if writer is None:
            raise
        raise TrainingInterrupted(exc.epochs_done, exc.signum, os.fspath(writer.path)) \
            from None


def _check_options(net, X, Y, epochs, batch_size, momentum, loss, shuffle, seed,
                   record_every, on_divergence, weight_decay,
                   optimizer) -> tuple[np.ndarray, np.ndarray, Rule, engine.Plan]:
    options = (loss, on_divergence, epochs, batch_size, record_every, momentum, weight_decay,
               shuffle, seed, optimizer)
    if seed is None or type(seed) is int:
        try:
            rule, plan = _checked_options(*options)
        except TypeError:  # an unhashable option: check it uncached, which says what is wrong
            rule, plan = _checked_options.__wrapped__(*options)
    else:  # a Generator: not kept alive by the cache
        rule, plan = _checked_options.__wrapped__(*options)
    X, Y = check_data(net, X, Y, loss)
    n = len(X)
    if rule.batch_size is None:
        rule = rule._replace(batch_size=n)
    elif rule.batch_size > n:
        raise ValueError(f"batch_size must be at most the number of samples ({n}), "
                         f"got {rule.batch_size}")
    return X, Y, rule, plan


# Checking nine scalar options costs a short call more than its epochs; the same options
# come again and again (an estimator's epoch loop). typed=True keeps 1, 1.0 and True apart.
@functools.lru_cache(maxsize=64, typed=True)
def _checked_options(loss, on_divergence, epochs, batch_size, record_every, momentum,
                     weight_decay, shuffle, seed, optimizer) -> tuple[Rule, engine.Plan]:
    """The options that do not depend on the data, checked: the Rule (``batch_size`` None
    for the full batch) and the Plan."""
    code = functions.loss_code(loss)
    check_choice(on_divergence, "on_divergence", engine.DIVERGENCE_ACTIONS)
    epochs = check_integer(epochs, "epochs", 0)
    if batch_size is not None:
        batch_size = check_integer(batch_size, "batch_size", 1)
    if record_every is not None:
        record_every = check_integer(record_every, "record_every", 1)
    rule = _rule(code, batch_size, check_weight_decay(weight_decay),
                 optimizers.check_optimizer(optimizer, momentum))
    return rule, engine.Plan(epochs, check_flag(shuffle, "shuffle"), check_seed(seed),
                             record_every)


def _rule(loss: int, batch_size: int | None, weight_decay: float,
          optimizer: SGD | Adam) -> Rule:
    return Rule(loss, batch_size, weight_decay=weight_decay, **optimizer.rule_fields())


def _optimizer_of(rule: Rule) -> SGD | Adam:
    """The optimizer a Rule runs."""
    if rule.adam:
        return Adam(rule.beta_1, rule.beta_2, rule.epsilon)
    return SGD(rule.momentum, rule.nesterov)




def _progress_bar(show: bool, total: int, unit: str, backend: str, initial: int = 0,
                  run: tuple[Kernels, Shape, Rule, int] | None = None):
    """A tqdm bar counting ``unit``s (a :class:`_Bar`, the callable that advances it), or
    a ``nullcontext`` yielding None (cheaper for a short call than a generator). ``run``:
    the kernels, shape, rule and number of networks of a training run."""
    return _Bar(total, unit, backend, initial, run) if show else nullcontext()


class _Bar:
    """A tqdm bar for training: the loss where one is recorded, the kernels a backend
    compiles (first, while the run waits for them; then in the background), and a rate
    and ETA that count training time only."""

    def __init__(self, total: int, unit: str, backend: str, initial: int,
                 run: tuple[Kernels, Shape, Rule, int] | None) -> None:
        from tqdm.auto import tqdm

        self.desc = f"fastbp[{backend}]"
        self.run = run
        self.kernels = None if run is None else run[0]
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc=self.desc)
        self.postfix: dict[str, str] = {}

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def compile_first(self) -> None:
        """Where the backend's generic kernels for the run are not loaded in this process,
        load them (compile them, on this machine's first use) with the bar saying so, then
        restart its clock: its rate and ETA count training only."""
        if self.run is None:  # a bar of networks done elsewhere (a dask cluster)
            return
        _, shape, rule, count = self.run
        state = self.kernels.generic_state(shape, rule, count)
        if state == "loaded":
            return
        doing = "loading kernels" if state == "cached" else \
            f"compiling kernels for {sizes_label(shape)} (first use; cached afterwards)"
        self.bar.set_description_str(f"{self.desc} {doing}")
        self.bar.refresh()
        self.kernels.compile_for(shape, rule, many=count > 1, specialised=False)
        n = self.bar.n
        self.bar.set_description_str(self.desc, refresh=False)
        self.bar.reset(total=self.bar.total)
        self.bar.n = self.bar.last_print_n = n
        self.bar.refresh()

    def __call__(self, count: int, losses: np.ndarray | None = None) -> None:
        if count == 0 and losses is None:  # before the first chunk
            self.compile_first()
        if losses is not None and np.isfinite(losses).any():
            label = "loss" if len(losses) == 1 else "best loss"
            self.postfix[label] = f"{np.nanmin(losses):.6g}"
        busy = [] if self.kernels is None else self.kernels.compiling()
        if busy:
            self.postfix["compiling"] = f"{', '.join(busy)} in the background"
        else:
            self.postfix.pop("compiling", None)
        self.bar.set_postfix(self.postfix, refresh=False)
        self.bar.update(count)


def _results(fitted: engine.Fitted, plan: engine.Plan, name: str,
             loss: str) -> list[TrainResult]:
    results = []
    kept, diverged_in = fitted.kept.tolist(), fitted.diverged.tolist()
    finals = fitted.final.tolist()
    if plan.record_every is None and len(finals) == 1:  # a short call's: arrays less
        # fitted's arrays are this call's own: ``kept`` holds the epochs where none diverged
        epochs = np.array([plan.epochs]) if diverged_in[0] else fitted.kept
        return [TrainResult(fitted.final, epochs, finals[0], kept[0], fitted.seconds, name,
                            loss, diverged_in[0] > 0, diverged_in[0] or None)]
    for k, final in enumerate(finals):
        if plan.record_every is None:
            history, epochs = np.array([final]), np.array([plan.epochs], dtype=np.int64)
        else:
            history, epochs = fitted.history[k].copy(), fitted.history_epochs.copy()
        diverged = diverged_in[k]
        results.append(TrainResult(history, epochs, final, kept[k], fitted.seconds, name, loss,
                                   diverged > 0, diverged or None))
    return results


def train_many(nets: Sequence[Network], X: object, Y: object, *, epochs: int = 1,
               lr: float | object = 0.5, batch_size: int | None = 1, momentum: float = 0.0,
               loss: str = "squared", shuffle: bool = False,
               seed: int | np.random.Generator | None = None, backend: str = "auto",
               record_every: int | None = None, progress: bool = False,
               threads: int | None = None, client: object = None,
               checkpoint: str | os.PathLike | None = None, checkpoint_every: float = 60.0,
               on_divergence: str = "stop", weight_decay: float = 0.0,
               optimizer: str | SGD | Adam | None = None,
               sample_weight: object = None) -> list[TrainResult]:
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
        the backend chosen here, with the results of a local run. A chunk whose
        worker dies runs again on another; ``progress`` then counts the networks
        done. Not with ``checkpoint``.
    checkpoint, checkpoint_every : as in :func:`train`
        One file for all the networks; :func:`resume` continues them.
    on_divergence : {"stop", "raise"}, default "stop"
        "stop": a network that diverges stops alone at its last finite state
        (its result says ``diverged=True`` and when), and the others train on to
        the end with unchanged bits. "raise": the first divergence raises
        :class:`DivergenceError`, every network left after the same epoch.

    Returns
    -------
    list of TrainResult
        One per network, in order.
    """
    nets = _check_networks(nets)
    X, Y, rule, plan = _check_options(nets[0], X, Y, epochs, batch_size, momentum, loss,
                                      shuffle, seed, record_every, on_divergence, weight_decay,
                                      optimizer)
    lrs = _check_learning_rates(lr, len(nets))
    progress = check_flag(progress, "progress")
    threads = check_threads(threads)
    # a cluster's workers resolve the name themselves: numba's, which they compile once
    name, kernels = resolve(backend) if client is not None else \
        choose(backend, nets[0].kernel_shape, rule, len(nets), len(X), plan.epochs)
    if checkpoint is not None and client is not None:
        raise ValueError("checkpoint is not available with client: the networks train on "
                         "the cluster's workers (a lost worker's chunk is run again)")
    check_backend_dtype(kernels, nets[0].params)
    weights = check_sample_weight(sample_weight, len(X), rule.batch_size, plan.shuffle,
                                  nets[0].dtype)
    writer = _checkpoint_writer(checkpoint, checkpoint_every, "train_many", nets[0], rule, plan,
                                name, threads, on_divergence, lrs, X, Y, weights)
    here = kernels if weights is None else Weighted(kernels, weights)
    shape = nets[0].kernel_shape
    params = np.stack([net.params for net in nets])
    with training(*nets):
        fitted = _fit_many(nets, here, name, shape, rule, params, X, Y, lrs, plan, threads,
                           progress, on_divergence, writer, client, weights)
    return _results(fitted, plan, name, loss)


def _fit_many(nets, kernels, name, shape, rule, params, X, Y, lrs, plan, threads, progress,
              on_divergence, writer, client, weights) -> engine.Fitted:
    """train_many's run, here or on a dask cluster; every network left at its row."""
    try:
        if client is None:
            fitted = _fit(kernels, name, shape, rule, params, X, Y, lrs, plan, threads,
                          progress, on_divergence, writer)
        else:
            from .distributed import fit_on

            with terminate_as_interrupt(), _progress_bar(progress, len(nets), "network",
                                                         name) as tick:
                fitted = fit_on(client, name, shape, rule, params, X, Y, lrs, plan,
                                threads=threads, progress=tick, on_divergence=on_divergence,
                                sample_weight=weights)
    finally:  # also after a divergence or Ctrl-C: the engine leaves every row consistent
        for net, row in zip(nets, params):
            net.params[...] = row
    return fitted


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
        if (net.sizes, net.activations, net.bias, net.dtype) != (
                first.sizes, first.activations, first.bias, first.dtype):
            raise ValueError(f"nets must all have the same shape: nets[{k}] is {net!r}, "
                             f"nets[0] is {first!r}")
    seen: dict[int, int] = {}
    for k, net in enumerate(nets):
        if seen.setdefault(id(net), k) != k:
            raise ValueError(f"nets[{seen[id(net)]}] and nets[{k}] are the same Network: each "
                             f"is trained in place, so pass copies (net.copy())")
    return nets


def _check_learning_rates(lr: object, count: int) -> np.ndarray:
    if np.ndim(lr) == 0:
        return np.full(count, check_learning_rate(lr))
    values = np.asarray(lr)
    if values.ndim != 1 or len(values) != count:
        raise ValueError(f"lr must be one number or one per network ({count}), "
                         f"got shape {values.shape}")
    if isinstance(lr, np.ma.MaskedArray):
        raise TypeError("lr must not be a masked array: pass lr.filled(...) or the rates "
                        "you mean")
    if values.dtype.kind not in "iuf":  # not bool, complex, text or objects
        raise TypeError(f"lr must hold real numbers, got dtype {values.dtype}")
    values = values.astype(np.float64)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"lr must be finite and > 0 for every network, got lr[{k}] = "
                         f"{values[k]}")
    return values


def gradients(net: Network, X: object, Y: object, loss: str = "squared",
              backend: str = "auto", threads: int | None = None,
              weight_decay: float = 0.0,
              sample_weight: object = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradient of the mean loss over ``X, Y`` with respect to every weight and bias.

    ``threads`` as in :func:`train`: the same bits for every count. With
    ``weight_decay``, the gradient of the mean loss plus ``weight_decay / (2 n)`` times
    the sum of the squared weights (scikit-learn's L2 term): a weight's is
    ``(sum + weight_decay * w) / n``, the one :func:`train` applies for a full batch.
    With ``sample_weight``, each sample's output deltas times its weight, and ``n`` the
    weights' sum.

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
    decay = check_weight_decay(weight_decay)
    weights = check_sample_weight(sample_weight, len(X), len(X), False, net.dtype)
    _, kernels = choose(backend, net.kernel_shape, Rule(code), 1, len(X))
    check_backend_dtype(kernels, net.params)
    return net.split(kernels.gradients(net.kernel_shape, code, net.params, X, Y, threads,
                                       decay, weights))
