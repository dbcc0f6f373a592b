"""The ``fastbp`` command."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence


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
    from . import tutorial
    from .backends import resolve

    name, _ = resolve(args.backend)
    rows = {row.name: row for row in tutorial.reconcile(name)}
    print(f"fastbp tutorial: the reference text's worked example, computed by backend {name!r}")
    print("2-2-2 logistic network, fixed biases 0.35 and 0.60, inputs 0.05 0.10, "
          "targets 0.01 0.99, learning rate 0.5")
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
                why = textwrap.fill(f"the printed figure comes from {row.variant}: "
                                    f"{row.variant_value:.{digits}f}", 88,
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
    from .backends import available, status

    table = status()
    width = max(len(n) for n in table)
    for name, text in table.items():
        print(f"{name:<{width}}  {text}")
    print(f"auto -> {available()[0]}")


def _bench(args: argparse.Namespace) -> None:
    from . import bench
    from .backends import status

    known = [*status(), *bench.CONTENDERS]
    names = args.backends or known
    for name in names:
        if name not in known:
            raise ValueError(f"--backends must be among {', '.join(known)}; got {name!r}")
    workloads = args.workloads or list(bench.WORKLOADS)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("--plot needs matplotlib: pip install 'fastbp[plot]'") from None
    rows = bench.run_table(workloads, names, quick=args.quick,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    print(bench.format_table(rows))
    if args.json:
        bench.write_json(rows, args.json)
    if args.plot:
        bench.plot(rows, args.plot)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastbp`` command; return its exit status."""
    parser = _Parser(prog="fastbp", description="Small neural networks trained by "
                     "backpropagation, fast and provably right.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("tutorial", help="the reference text's worked example, number by number")
    p.add_argument("--backend", default="auto", help="backend to compute with (default: auto)")
    p.add_argument("--epochs", type=_positive, default=10_000,
                   help="rounds of training for the final figures (default: 10000)")
    p.set_defaults(run=_tutorial)
    p = sub.add_parser("backends", help="list the backends and whether each is available")
    p.set_defaults(run=_backends)
    p = sub.add_parser("bench", help="time every backend (and contenders) on every workload")
    p.add_argument("--quick", action="store_true", help="short runs: under a minute in all")
    p.add_argument("--backends", nargs="+", metavar="NAME",
                   help="fastbp backends and contenders (c, torch, jax); default: all")
    p.add_argument("--workloads", nargs="+", metavar="NAME",
                   help="tutorial-10k tutorial-1M xor digits minibatch mnist; default: all")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="also draw a bar chart (needs matplotlib)")
    p.set_defaults(run=_bench)
    args = parser.parse_args(argv)
    try:
        args.run(args)
        sys.stdout.flush()
    except (ValueError, TypeError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
