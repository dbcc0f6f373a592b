"""``fastbp sweep``: a grid of learning rates x seeds trained with ``train_many``."""

from __future__ import annotations

import csv

import numpy as np

from ..base.files import atomic_write
from ..core.data import DATASETS, MAX_PARAMS, count_params, dataset
from ..core.network import Network
from ..core.training import TrainingInterrupted, train_many
from . import datafile

#: Most networks one sweep trains (learning rates x seeds): a grid beyond it is a typo
#: more often than a plan, and its networks alone would fill the memory.
MAX_NETWORKS = 100_000


def parse_range(text: str) -> np.ndarray:
    """``"0.1:1.0:10"`` -> 10 evenly spaced values from 0.1 to 1.0; ``"0.5"`` -> one value."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return np.array([float(parts[0])])
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        count = 0
    if len(parts) in (1, 3) and 1 <= count <= MAX_NETWORKS:
        return np.linspace(start, stop, count)
    if len(parts) == 3 and count > MAX_NETWORKS:
        raise ValueError(f"--lr asks for {count:,} learning rates; a sweep trains at most "
                         f"{MAX_NETWORKS:,} networks")
    raise ValueError(f"--lr must be a number or START:STOP:COUNT, got {text!r}")


def load_data(name: str, targets: str | None, onehot: bool = False,
              header: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A built-in dataset ("tutorial", "xor"), or a data file read by :func:`fastbp.datafile.load`
    (CSV, .npy, .npz) whose ``targets`` columns are the targets."""
    if name in DATASETS:
        if targets or onehot or header is not None:
            raise ValueError("--targets and --one-hot (and --header) go with --data FILE")
        return dataset(name)
    return datafile.load(name, targets, onehot, header)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a sweep: ``rows`` hold every network's state when it stopped
    (``status`` "interrupted at epoch N"), ``cause`` the TrainingInterrupted."""

    def __init__(self, rows: list[dict], cause: TrainingInterrupted) -> None:
        super().__init__(str(cause))
        self.rows, self.cause = rows, cause


def run(sizes, X, Y, lrs, seeds: int, epochs: int, client=None, **options) -> list[dict]:
    """Train one network per (learning rate, seed); one row per setting.

    A network that diverges stops alone: its row has ``final_loss`` NaN and ``status``
    "diverged at epoch N". Ctrl-C or SIGTERM raises :class:`SweepInterrupted` with
    the rows as they stand.
    """
    count = len(lrs) * seeds
    if count > MAX_NETWORKS or count * count_params(sizes) > MAX_PARAMS:
        raise ValueError(f"--lr x --seeds is {len(lrs):,} x {seeds:,} = {count:,} networks of "
                         f"{count_params(sizes):,} parameters; a sweep trains at most "
                         f"{MAX_NETWORKS:,} networks and {MAX_PARAMS:,} parameters in all")
    settings = [(float(lr), seed) for lr in lrs for seed in range(seeds)]
    activation = options.pop("activation", "logistic")
    bias, dtype = options.pop("bias", "trainable"), options.pop("dtype", "float64")
    nets = [Network(sizes, activation, bias=bias, seed=seed, dtype=dtype)
            for _, seed in settings]
    try:
        results = train_many(nets, X, Y, epochs=epochs, lr=np.array([lr for lr, _ in settings]),
                             client=client, on_divergence="stop", **options)
    except TrainingInterrupted as exc:
        loss = options.get("loss", "squared")
        rows = [{"lr": lr, "seed": seed, "final_loss": _loss(net, X, Y, loss),
                 "epochs": exc.epochs_done, "status": f"interrupted at epoch {exc.epochs_done}"}
                for (lr, seed), net in zip(settings, nets)]
        raise SweepInterrupted(rows, exc) from None
    return [{"lr": lr, "seed": seed, "final_loss": r.final_loss, "epochs": r.epochs,
             "status": f"diverged at epoch {r.diverged_epoch}" if r.diverged else "done"}
            for (lr, seed), r in zip(settings, results)]


def _loss(net: Network, X: np.ndarray, Y: np.ndarray, loss: str) -> float:
    """The mean loss of ``net`` as it stands (the oracle: no kernel to compile)."""
    from ..base import functions
    from ..kernels import oracle

    return float(oracle.mean_loss(net.kernel_shape, functions.loss_code(loss), net.params,
                                  np.asarray(X, net.dtype), np.asarray(Y, net.dtype)))


def format_rows(rows: list[dict]) -> str:
    """One line per learning rate: the final loss of each seed, then their mean (NaN where a
    seed diverged), and a note on the seeds that diverged or were interrupted."""
    lrs = list(dict.fromkeys(r["lr"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    by = {(r["lr"], r["seed"]): r for r in rows}
    head = ["lr", *(f"seed {s}" for s in seeds), "mean", "note"]
    body = []
    for lr in lrs:
        losses = [by[lr, s]["final_loss"] for s in seeds]
        notes = [f"seed {s} {by[lr, s]['status']}" for s in seeds
                 if by[lr, s].get("status", "done") != "done"]
        body.append([f"{lr:.4g}", *(f"{v:.6g}" for v in losses), f"{np.mean(losses):.6g}",
                     "; ".join(notes)])
    if not any(row[-1] for row in body):
        head, body = head[:-1], [row[:-1] for row in body]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(row, widths)).rstrip()
                     for row in [head, *body])


def write_csv(rows: list[dict], path: str) -> None:
    """lr, seed, final_loss, epochs, status: one row per network."""
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["lr", "seed", "final_loss", "epochs",
                                                    "status"])
            writer.writeheader()
            writer.writerows(rows)
    atomic_write(path, write)


def plot(rows: list[dict], path: str, title: str) -> None:
    """Final loss against learning rate: one dot per seed, the mean as a line; ``title``
    names the run (sizes, epochs, loss)."""
    from ..learn import plots

    plots.save(plots.sweep_chart(rows, title), path)
