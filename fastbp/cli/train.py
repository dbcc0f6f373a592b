"""``fastbp train``: train one network on a data file, with checkpoints and exact resume."""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import sys
import time
from pathlib import Path

#: Where an interrupted run without --checkpoint leaves its state (removed after a whole run).
DEFAULT_CHECKPOINT = "fastbp-train.checkpoint.npz"


class Stopped(Exception):
    """A command stopped by a signal: ``main`` prints ``message`` and exits 128 + signum."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum


BIAS_HELP = ("trainable: every bias is learned; fixed: biases keep their initial values "
             "(the reference text)")
LOSS_HELP = ("squared: sum of 1/2 (t - o)^2 (the reference text); cross_entropy: for "
             "logistic or softmax outputs")
MOMENTUM_HELP = ("SGD's momentum in [0, 1): v = momentum * v - lr * g; w += v (with "
                 "--nesterov: w += momentum * v - lr * g)")


def optimizer_options(p: argparse.ArgumentParser) -> None:
    """--optimizer and its settings (train, sweep, warmup)."""
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"],
                   help="the update rule, as scikit-learn's (fastbp.SGD, fastbp.Adam)")
    p.add_argument("--nesterov", action="store_true", help="SGD with Nesterov's momentum")
    p.add_argument("--beta1", type=float, help="Adam's first-moment decay (default: 0.9)")
    p.add_argument("--beta2", type=float, help="Adam's second-moment decay (default: 0.999)")
    p.add_argument("--epsilon", type=float, help="Adam's epsilon (default: 1e-8)")


def optimizer_from(args: argparse.Namespace):
    """The optimizer the options name, checked (ValueError for a mix that says nothing)."""
    from ..core.optimizers import SGD, Adam

    if args.optimizer == "adam":
        if args.nesterov or args.momentum:
            raise ValueError("--nesterov and --momentum are SGD's: not with --optimizer adam")
        given = {k: v for k, v in (("beta_1", args.beta1), ("beta_2", args.beta2),
                                   ("epsilon", args.epsilon)) if v is not None}
        return Adam(**given)
    if any(v is not None for v in (args.beta1, args.beta2, args.epsilon)):
        raise ValueError("--beta1, --beta2 and --epsilon are Adam's: add --optimizer adam")
    return SGD(args.momentum, args.nesterov)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default said once: where its help does not say it already, and where
    there is one (not None, not an unset flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False \
                or action.default == argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def dtype_option(p: argparse.ArgumentParser,
                 help: str = "what the network computes in (a resumed run keeps its own)"
                 ) -> None:
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"], help=help)


def header_options(p: argparse.ArgumentParser) -> None:
    """--header / --no-header: whether a CSV file's first row names the columns."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--header", dest="header", action="store_const", const=True,
                       help="the CSV file's first row names the columns (default: inferred: "
                       "a first row with text is a header; an all-numeric one is when its "
                       "numbers differ in kind, integer or not, from their columns')")
    group.add_argument("--no-header", dest="header", action="store_const", const=False,
                       help="every row of the CSV file is data")


def add_parser(sub, positive, sizes, activations) -> None:
    """The ``train`` subcommand, its options and their defaults."""
    p = sub.add_parser("train", help="train a network on your data file (CSV, .npy, .npz)",
                       formatter_class=HelpFormatter,
                       description="Train a network on a data file. Ctrl-C or SIGTERM writes "
                       "a checkpoint and prints the command that resumes it exactly.")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="CSV (with or without a header), .npy table, or .npz with X and Y")
    p.add_argument("--targets", help="the target columns: names or 0-based indices, e.g. y or 4,5")
    p.add_argument("--one-hot", action="store_true",
                   help="the one target column holds class labels: one output per class")
    header_options(p)
    p.add_argument("--sizes", type=sizes, help="layer sizes, inputs to outputs, e.g. 4,8,3 "
                   "(required unless --resume)")
    p.add_argument("--activation", type=activations, default="logistic",
                   help="one name, or one per layer separated by commas")
    p.add_argument("--bias", default="trainable", choices=["fixed", "trainable"],
                   help=BIAS_HELP)
    dtype_option(p)
    p.add_argument("--epochs", type=positive, help="epochs in all (default: 1000, or the "
                   "resumed run's own)")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate")
    p.add_argument("--batch-size", type=positive, default=1,
                   help="samples per update (1: online, as the reference text)")
    p.add_argument("--full-batch", action="store_true", help="one batch of every sample")
    p.add_argument("--momentum", type=float, default=0.0, help=MOMENTUM_HELP)
    optimizer_options(p)
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="L2 penalty on the weights, as scikit-learn's alpha")
    p.add_argument("--loss", default="squared", choices=["squared", "cross_entropy"],
                   help=LOSS_HELP)
    p.add_argument("--shuffle", action="store_true", help="a new sample order every epoch")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and of "
                   "the shuffling")
    p.add_argument("--backend", help="a backend name (default: auto, or the resumed run's)")
    p.add_argument("--threads", type=positive, help="threads for the compiled backends")
    p.add_argument("--record-every", type=positive,
                   help="record the loss every N epochs (default: a hundredth of the run)")
    p.add_argument("--save", metavar="NET.npz", help="write the trained network")
    p.add_argument("--checkpoint", metavar="FILE",
                   help=f"write the run's state here as it trains (without it, an "
                   f"interruption writes {DEFAULT_CHECKPOINT})")
    p.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                   help="seconds between checkpoints")
    p.add_argument("--resume", metavar="FILE",
                   help="continue the run of this checkpoint exactly, on the same data")
    p.add_argument("--history", metavar="FILE.csv", help="write epoch,loss rows")
    p.add_argument("--plot", metavar="FILE.png", help="draw the loss curve (needs matplotlib)")
    p.set_defaults(run=run)


def _resume_command(args: argparse.Namespace, checkpoint: str) -> str:
    """The command line that continues this run exactly."""
    words = ["fastbp", "train", "--resume", checkpoint, "--data", args.data]
    if args.targets:
        words += ["--targets", args.targets]
    if args.one_hot:
        words.append("--one-hot")
    for flag in ("epochs", "backend", "threads", "save", "history", "plot"):
        value = getattr(args, flag)
        if value is not None:
            words += [f"--{flag}", str(value)]
    return shlex.join(words)


def _check_outputs(args: argparse.Namespace) -> None:
    from ..base.files import check_output_path, pyplot

    for name in ("save", "checkpoint", "history", "plot"):
        if getattr(args, name):
            check_output_path(getattr(args, name), f"--{name}")
    if args.plot:
        pyplot()  # before a long run, not after it
    if not args.checkpoint_every >= 0:
        raise ValueError(f"--checkpoint-every must be a number of seconds >= 0, "
                         f"got {args.checkpoint_every}")


def run(args: argparse.Namespace) -> None:
    from ..core.network import Network
    from ..core.training import TrainingInterrupted, resume, train
    from .datafile import load

    if args.resume and not Path(args.resume).is_file():
        raise ValueError(f"--resume: {args.resume} does not exist")
    X, Y = load(args.data, args.targets, args.one_hot, args.header)
    _check_outputs(args)
    checkpoint = args.resume or args.checkpoint or DEFAULT_CHECKPOINT
    if not args.resume:
        if not args.sizes:
            raise ValueError("--sizes is required (inputs to outputs, e.g. "
                             f"{X.shape[1]},8,{Y.shape[1]} for this data)")
        if args.sizes[0] != X.shape[1] or args.sizes[-1] != Y.shape[1]:
            raise ValueError(f"--sizes must start with the {X.shape[1]} inputs and end with "
                             f"the {Y.shape[1]} outputs of {args.data}, got "
                             f"{','.join(map(str, args.sizes))}")
        net = Network(args.sizes, args.activation, bias=args.bias, seed=args.seed,
                      dtype=args.dtype)
        epochs = 1000 if args.epochs is None else args.epochs
        every = args.record_every or max(1, epochs // 100)
        if args.checkpoint is None and Path(checkpoint).exists():
            raise ValueError(f"{checkpoint} exists (an interrupted run?): continue it with "
                             f"--resume {checkpoint}, or remove it")
    start = time.perf_counter()
    try:  # SIGTERM arrives as Ctrl-C: fastbp.cli.main handles it for every command
        if args.resume:
            net, result = resume(args.resume, X, Y, epochs=args.epochs, backend=args.backend,
                                 progress=True, threads=args.threads)
        else:
            result = train(
                net, X, Y, epochs=epochs, lr=args.lr,
                batch_size=None if args.full_batch else args.batch_size,
                optimizer=optimizer_from(args), weight_decay=args.weight_decay, loss=args.loss,
                shuffle=args.shuffle, seed=args.seed, backend=args.backend or "auto",
                record_every=every, progress=True, threads=args.threads,
                checkpoint=checkpoint,
                checkpoint_every=args.checkpoint_every if args.checkpoint else math.inf)
    except TrainingInterrupted as exc:
        raise Stopped(exc.signum, f"interrupted after epoch {exc.epochs_done}; checkpoint "
                      f"written to {checkpoint}; resume with: "
                      f"{_resume_command(args, checkpoint)}") from None
    if not args.resume and args.checkpoint is None:
        Path(checkpoint).unlink(missing_ok=True)  # the run is whole: nothing to resume
    sys.stderr.flush()
    state = (f"diverged in epoch {result.diverged_epoch}, left after epoch {result.epochs}"
             if result.diverged else f"{result.epochs:,} epochs")
    parts = " over every part of the run" if args.resume else ""
    print(f"final loss {result.final_loss:.9g} ({result.loss}) after {state}, "
          f"{result.seconds:.2f} s of training{parts}, backend {result.backend} "
          f"({time.perf_counter() - start:.2f} s for this command)")
    if args.save:
        net.save(args.save)
    if args.history:
        _write_history(result, args.history)
    if args.plot:
        _plot_history(result, args.plot)


def _write_history(result, path: str) -> None:
    from ..base.files import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["epoch", "loss"])
            out.writerows(zip(result.history_epochs.tolist(), result.history.tolist()))
    atomic_write(path, write)


def _plot_history(result, path: str) -> None:
    from ..learn import plots

    fig = plots.figure(5.6, 3.8)
    result.plot(ax=fig.subplots())
    plots.save(fig, path)

