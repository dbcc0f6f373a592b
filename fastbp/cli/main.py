"""The ``fastbp`` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
from collections.abc import Sequence

from .._version import __version__
from ..base.signals import terminate_as_interrupt
from . import train as cli_train
from .train import Stopped


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _tutorial(args: argparse.Namespace) -> None:
    from ..base.functions import SQUARED
    from ..kernels import choose
    from ..kernels.protocol import Rule
    from ..learn import tutorial

    # The heading first: numba takes a moment to import, and its kernels to load (or, on
    # this machine's first use, to compile) before the first number.
    print("fastbp tutorial: the reference text's worked example (\"A Step by Step "
          "Backpropagation Example\", Matt Mazur)", flush=True)
    shape = tutorial.network().kernel_shape
    name, kernels = choose(args.backend, shape, Rule(SQUARED),
                           epochs=max(args.epochs, tutorial.ROUNDS))
    print(f"2-2-2 logistic network, fixed biases 0.35 and 0.60, inputs 0.05 0.10, "
          f"targets 0.01 0.99, learning rate 0.5; computed by backend {name!r}", flush=True)
    if kernels.generic_state(shape, Rule(SQUARED), 1) == "cached":
        print("(loading the compiled kernels)", file=sys.stderr, flush=True)
    rows = {row.name: row for row in tutorial.reconcile(name)}
    width = max(len(n) for n in rows)
    for title, names in tutorial.SECTIONS:
        print(f"\n{title}")
        for n in names:
            row, pub = rows[n], tutorial.PUBLISHED[n]
            digits = pub.decimals + 3
            verdict = "ok" if row.matches else "DIFFERS"
            print(f"  {n:<{width}}  {row.computed:>17.{digits}f}  published {pub.text:<13} "
                  f"{verdict:<8} {pub.meaning}")
            if not row.matches:
                why = textwrap.fill(f"the printed figure comes from {row.variant}, which "
                                    f"gives {row.variant_value:.{digits}f}", 88,
                                    initial_indent=" " * (width + 4),
                                    subsequent_indent=" " * (width + 4))
                print(why)
    matched = sum(r.matches for r in rows.values())
    print(f"\n{matched} of {len(rows)} published numbers agree with the text's rule to their "
          f"printed digits; each of the other {len(rows) - matched} is reproduced by the "
          f"computation named under it.")
    if args.epochs != tutorial.ROUNDS:
        error, (o1, o2) = tutorial.after(args.epochs, name)
        print(f"\nAfter {args.epochs:,} rounds: E_total {error:.10g}, out_o1 {o1:.9f}, "
              f"out_o2 {o2:.9f}")


def _backends(args: argparse.Namespace) -> None:
    from ..kernels import available, status

    table = status()
    width = max(len(n) for n in table)
    for name, text in table.items():
        print(f"{name:<{width}}  {text}")
    usable = available()
    if {"numba", "cython"} <= set(usable):  # fastbp.kernels.choose
        print("auto -> numba where its kernels are loaded, or cached and the run long enough "
              "to load them; else cython (no wait for a compile)")
    else:
        print(f"auto -> {usable[0]}")


def _bench(args: argparse.Namespace) -> None:
    from ..base.files import pyplot
    from ..kernels import status
    from . import bench

    known = [*status(), *bench.CONTENDERS]
    names = args.backends or known
    for name in names:
        if name not in known:
            raise ValueError(f"--backends must be among {', '.join(known)}; got {name!r}")
    workloads = args.workloads or list(bench.WORKLOADS)
    if args.plot:
        pyplot()  # before a long run, not after it
    rows = bench.run_table(workloads, names, quick=args.quick,
                           log=lambda line: print(line, file=sys.stderr, flush=True),
                           dtypes=args.dtype)
    print(bench.format_table(rows))
    if any("gflops" in row for row in rows):
        print(f"\nGFLOP/s: the products of a training step (net inputs, hidden deltas, "
              f"gradient). For scale, NumPy's float64 matmul on one thread here: "
              f"{bench.matmul_gflops():.1f} GFLOP/s (its BLAS, FMA included).")
    if args.json:
        bench.write_json(rows, args.json)
    if args.plot:
        bench.plot(rows, args.plot)


def _comma_list(kind, expected: str):
    """An argparse type: values separated by commas, each converted by ``kind``."""
    def parse(text: str) -> list:
        try:
            return [kind(v) for v in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    return parse


def _activations(text: str) -> str | list[str]:
    """An argparse type: one activation for every layer, or one per layer (commas)."""
    return text.split(",") if "," in text else text


_numbers = _comma_list(float, "numbers separated by commas")
_sizes = _comma_list(int, "whole numbers like 2,3,2")


def _training_options(p: argparse.ArgumentParser) -> None:
    """The network's and the training's options that warmup and sweep share."""
    p.add_argument("--activation", type=_activations, default="logistic",
                   help="one name, or one per layer separated by commas")
    p.add_argument("--bias", default="trainable", choices=["fixed", "trainable"],
                   help=cli_train.BIAS_HELP)
    p.add_argument("--loss", default="squared", choices=["squared", "cross_entropy"],
                   help=cli_train.LOSS_HELP)
    p.add_argument("--batch-size", type=_positive, default=1, help="samples per update")
    p.add_argument("--momentum", type=float, default=0.0, help=cli_train.MOMENTUM_HELP)
    cli_train.optimizer_options(p)


#: Most bytes of an ``explain --weights`` file (a network one step is shown for).
MAX_WEIGHTS_BYTES = 16 * 2**20


def _explain(args: argparse.Namespace) -> None:
    from ..base.files import check_output_path, parse_json, write_text
    from ..core.network import Network
    from ..core.optimizers import SGD
    from ..learn import tutorial
    from ..learn.trace import trace

    activation = _activations(args.activation) if args.activation else "logistic"
    if args.epochs is not None and args.format != "html":
        raise ValueError("--epochs draws a training run: it goes with --format html")
    if args.output:
        check_output_path(args.output, "--output")
    if args.tutorial:
        if args.sizes or args.weights or args.seed is not None or args.bias or args.activation:
            raise ValueError("--tutorial takes the text's network: drop --sizes, --seed, "
                             "--weights, --bias and --activation")
        defaults = args.input is None and args.target is None and args.lr is None
        optimizer = cli_train.optimizer_from(args)
        if defaults and args.loss == "squared" and not args.weight_decay and \
                optimizer == SGD() and args.dtype == "float64":
            step = tutorial.step()  # with the text's printed numbers beside ours
        else:
            step = trace(tutorial.network(args.dtype),
                         args.input or tutorial.INPUTS[0].tolist(),
                         args.target or tutorial.TARGETS[0].tolist(),
                         lr=tutorial.LEARNING_RATE if args.lr is None else args.lr,
                         loss=args.loss, weight_decay=args.weight_decay, optimizer=optimizer)
    else:
        if not args.sizes:
            raise ValueError("give --tutorial, or --sizes with --seed or --weights")
        values = {}
        if args.weights:
            try:
                with open(args.weights, "rb") as fh:
                    text = fh.read(MAX_WEIGHTS_BYTES + 1)
            except OSError as exc:
                raise ValueError(f"--weights: cannot read {args.weights}: {exc.strerror}") \
                    from None
            if len(text) > MAX_WEIGHTS_BYTES:
                raise ValueError(f"--weights: {args.weights} is larger than "
                                 f"{MAX_WEIGHTS_BYTES // 2**20} MiB")
            values = parse_json(text, f"--weights: {args.weights}")
            if not isinstance(values, dict) or "weights" not in values or \
                    not set(values) <= {"weights", "biases"}:
                raise ValueError('--weights must hold {"weights": [...], "biases": [...]} '
                                 '("biases" may be left out: they are then zeros)')
            if "biases" not in values:  # zeros, as documented: never random numbers
                values["biases"] = [[0.0] * n for n in args.sizes[1:]]
        elif args.seed is None:
            raise ValueError("--sizes needs --weights (the values to start from) or --seed "
                             "(random ones, the same for the same seed)")
        net = Network(args.sizes, activation, bias=args.bias or "trainable", seed=args.seed,
                      weights=values.get("weights"), biases=values.get("biases"),
                      dtype=args.dtype)
        if args.input is None or args.target is None:
            raise ValueError("--input and --target are required with --sizes")
        step = trace(net, args.input, args.target, lr=0.5 if args.lr is None else args.lr,
                     loss=args.loss, weight_decay=args.weight_decay,
                     optimizer=cli_train.optimizer_from(args))
    text = {"text": str, "markdown": lambda s: s.to_markdown() + "\n",
            "json": lambda s: s.to_json() + "\n",
            "html": lambda s: s.to_html(epochs=args.epochs)}[args.format](step)
    if args.output:
        write_text(args.output, text)
    else:
        print(text, end="")


def _sweep(args: argparse.Namespace) -> None:
    from ..base.files import check_output_path, pyplot
    from . import sweep

    lrs = sweep.parse_range(args.lr)
    X, Y = sweep.load_data(args.data, args.targets, args.one_hot, args.header)
    for path, name in [(args.csv, "--csv"), (args.plot, "--plot")]:
        if path:
            check_output_path(path, name)
    if args.plot:
        pyplot()  # before a long run, not after it
    client = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask: pip install 'fastbp[distributed]'") \
                from None
        client = Client(args.scheduler)
    try:
        rows = sweep.run(args.sizes, X, Y, lrs, args.seeds, args.epochs, client=client,
                         activation=args.activation, bias=args.bias, dtype=args.dtype,
                         loss=args.loss,
                         batch_size=args.batch_size,
                         optimizer=cli_train.optimizer_from(args),
                         weight_decay=args.weight_decay, backend=args.backend,
                         threads=args.threads, progress=True)
    except sweep.SweepInterrupted as exc:
        if args.csv:
            sweep.write_csv(exc.rows, args.csv)
        where = f"; the rows so far are in {args.csv}" if args.csv else ""
        raise Stopped(exc.cause.signum, f"interrupted after epoch {exc.cause.epochs_done}"
                                         f"{where}") from None
    finally:
        if client is not None:
            client.close()
    print(sweep.format_rows(rows))
    if args.csv:
        sweep.write_csv(rows, args.csv)
    if args.plot:
        sweep.plot(rows, args.plot, f"sweep of {'-'.join(map(str, args.sizes))} networks, "
                   f"{args.epochs:,} epochs, {args.loss} loss, {args.seeds} seed(s) per lr")


def _warmup(args: argparse.Namespace) -> None:
    import time

    from ..core.warmup import compile_kernels

    began = time.perf_counter()
    shapes = args.sizes or [[2, 2, 2]]
    for sizes in shapes:
        for many in ([False, True] if args.many else [False]):
            what = "train_many" if many else "train"
            for line in compile_kernels(sizes, activation=args.activation, bias=args.bias,
                                        loss=args.loss,
                                        optimizer=cli_train.optimizer_from(args),
                                        batch_size=args.batch_size, many=many,
                                        backend=args.backend, dtype=args.dtype):
                print(f"{'-'.join(map(str, sizes))} ({what}): {line}", flush=True)
    print(f"done in {time.perf_counter() - began:.1f} s; the kernels are cached (see "
          f"fastbp cache --info)")


def _cache(args: argparse.Namespace) -> None:
    from ..kernels.numba import cache as numba_cache

    if args.clear:
        freed = numba_cache.clear()
        print(f"removed {freed / 2**20:.1f} MB of compiled kernels; they are compiled again "
              f"when next needed")
        return
    rows = numba_cache.info()
    if not rows:
        print("no compiled kernels are cached yet")
    for row in rows:
        extra = f", {row['modules']} shapes" if "modules" in row else ""
        print(f"{row['kind']:<17} {row['path']}\n{'':<17} {row['files']} files, "
              f"{row['bytes'] / 2**20:.1f} MB{extra}")
    print(f"the unrolled kernels are pruned beyond {numba_cache.MAX_MODULES} shapes or "
          f"{numba_cache.MAX_BYTES // 2**20} MB, oldest first")


def build_parser() -> argparse.ArgumentParser:
    """The ``fastbp`` command's parser: every command, its options and their help."""
    parser = _Parser(prog="fastbp", description="Small neural networks trained by "
                     "backpropagation, fast and provably right.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("tutorial", help="the reference text's worked example, number by number")
    p.add_argument("--backend", default="auto", help="backend to compute with (default: auto)")
    p.add_argument("--epochs", type=_positive, default=10_000,
                   help="rounds of training for the final figures (default: 10000)")
    p.set_defaults(run=_tutorial)
    p = sub.add_parser("backends", help="list the backends and whether each is available")
    p.set_defaults(run=_backends)
    p = sub.add_parser("explain", help="one training step, every intermediate named as in "
                       "the reference text")
    p.add_argument("--tutorial", action="store_true", help="the text's network and sample")
    p.add_argument("--sizes", type=_sizes, help="layer sizes, e.g. 2,3,2")
    p.add_argument("--seed", type=int, help="seed of the initial weights (with --sizes)")
    p.add_argument("--weights", metavar="FILE.json",
                   help='initial values: {"weights": [W_1, ...], "biases": [b_1, ...]}; '
                   'without "biases", every bias is 0')
    p.add_argument("--input", type=_numbers,
                   help="the sample, e.g. 0.05,0.10 (required with --sizes)")
    p.add_argument("--target", type=_numbers,
                   help="its target, e.g. 0.01,0.99 (required with --sizes)")
    p.add_argument("--lr", type=float, help="learning rate (default 0.5)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="L2 penalty on the weights, as scikit-learn's alpha (default 0)")
    p.add_argument("--momentum", type=float, default=0.0, help=cli_train.MOMENTUM_HELP)
    cli_train.optimizer_options(p)
    p.add_argument("--loss", default="squared", choices=["squared", "cross_entropy"],
                   help=cli_train.LOSS_HELP)
    p.add_argument("--bias", choices=["fixed", "trainable"],
                   help="bias mode with --sizes (default trainable)")
    p.add_argument("--activation", help="one name, or one per layer separated by commas")
    cli_train.dtype_option(p, "what the step computes in (default float64)")
    p.add_argument("--format", default="text", choices=["text", "markdown", "json", "html"],
                   help="html: one self-contained interactive page (open it in a browser)")
    p.add_argument("--epochs", type=_positive,
                   help="with --format html: also train this many epochs on the sample and "
                   "add a slider over them")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(run=_explain)
    p = sub.add_parser("warmup", help="compile the kernels ahead of time (containers, clusters)",
                       formatter_class=cli_train.HelpFormatter,
                       description="Compile (or load from the cache) the generic kernels and "
                       "those of each --sizes, and wait: later runs start on the fastest "
                       "kernels. Without --sizes, the generic kernels only (and 2-2-2's).")
    p.add_argument("--sizes", type=_sizes, action="append",
                   help="layer sizes, e.g. 2,29,1 (repeat for more shapes)")
    p.add_argument("--many", action="store_true",
                   help="also the kernels of train_many (sweeps, ensembles)")
    _training_options(p)
    cli_train.dtype_option(p)
    p.add_argument("--backend", default="auto", help="a backend name")
    p.set_defaults(run=_warmup)
    p = sub.add_parser("cache", help="where the compiled kernels are cached; clear them")
    p.add_argument("--info", action="store_true", help="where, and how large (the default)")
    p.add_argument("--clear", action="store_true", help="remove every cached kernel")
    p.set_defaults(run=_cache)
    p = sub.add_parser("sweep", help="train a grid of learning rates x seeds, in parallel",
                       formatter_class=cli_train.HelpFormatter,
                       description="Train one network per (learning rate, seed) with "
                       "train_many. A network that diverges stops alone; its row says when.")
    p.add_argument("--sizes", type=_sizes, required=True, help="layer sizes, e.g. 2,5,1")
    p.add_argument("--data", default="xor",
                   help="tutorial, xor, or a data file (CSV, .npy, .npz) with --targets")
    p.add_argument("--targets", help="the target columns of the file (names or 0-based indices)")
    p.add_argument("--one-hot", action="store_true",
                   help="the one target column holds class labels: one output per class")
    cli_train.header_options(p)
    p.add_argument("--lr", default="0.5", help="a learning rate or START:STOP:COUNT")
    p.add_argument("--seeds", type=_positive, default=1, help="seeds 0..N-1 per learning rate")
    p.add_argument("--epochs", type=_positive, default=1000, help="epochs per network")
    _training_options(p)
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="L2 penalty on the weights, as scikit-learn's alpha")
    cli_train.dtype_option(p)
    p.add_argument("--backend", default="auto", help="a backend name")
    p.add_argument("--threads", type=_positive, help="threads for the compiled backends")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a dask.distributed scheduler to spread the networks over")
    p.add_argument("--csv", metavar="FILE",
                   help="write lr, seed, final_loss, epochs, status rows")
    p.add_argument("--plot", metavar="FILE.png", help="final loss against learning rate")
    p.set_defaults(run=_sweep)
    cli_train.add_parser(sub, _positive, _sizes, _activations)
    p = sub.add_parser("bench", help="time every backend (and contenders) on every workload")
    p.add_argument("--quick", action="store_true", help="short runs: under a minute in all")
    p.add_argument("--backends", nargs="+", metavar="NAME",
                   help="fastbp backends and contenders (c, torch, jax, sklearn); default: all")
    p.add_argument("--workloads", nargs="+", metavar="NAME",
                   help="tutorial-10k tutorial-1M xor digits minibatch mnist ensemble "
                   "sklearn-online sklearn-batch32; default: all")
    p.add_argument("--dtype", nargs="+", choices=["float64", "float32"], default=["float64"],
                   help="what every runner computes in (both: a row each); default: float64")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="also draw a bar chart (needs matplotlib)")
    p.set_defaults(run=_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastbp`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        with terminate_as_interrupt():  # SIGTERM ends any command as Ctrl-C does
            args.run(args)
        sys.stdout.flush()
    except (ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: a failed compile
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Stopped as exc:
        print(f"fastbp {args.command}: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt as exc:  # outside training: nothing to keep
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"fastbp {args.command}: interrupted", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # output piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # a file that cannot be read or written after all (disk full...)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"fastbp {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"fastbp {args.command}: error: out of memory", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
