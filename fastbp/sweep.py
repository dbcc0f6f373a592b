"""``fastbp sweep``: a grid of learning rates x seeds trained with ``train_many``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .data import dataset
from .files import atomic_write, pyplot
from .network import Network
from .training import train_many


def parse_range(text: str) -> np.ndarray:
    """``"0.1:1.0:10"`` -> 10 evenly spaced values from 0.1 to 1.0; ``"0.5"`` -> one value."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return np.array([float(parts[0])])
        if len(parts) == 3:
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
            if count >= 1:
                return np.linspace(start, stop, count)
    except ValueError:
        pass
    raise ValueError(f"--lr must be a number or START:STOP:COUNT, got {text!r}")


def load_data(name: str, targets: str | None) -> tuple[np.ndarray, np.ndarray]:
    """A built-in dataset, or a CSV file whose ``targets`` columns (names or 0-based indices)
    are the targets and every other column an input."""
    if not name.endswith(".csv"):
        if targets:
            raise ValueError("--targets goes with --data FILE.csv")
        return dataset(name)
    if not targets:
        raise ValueError("--data FILE.csv needs --targets (the target columns)")
    try:
        rows = list(csv.reader(io.StringIO(Path(name).read_text(encoding="utf-8"))))
    except OSError as exc:
        raise ValueError(f"--data: cannot read {name}: {exc}") from None
    rows = [r for r in rows if r]
    header = None
    try:
        [float(v) for v in rows[0]]
    except (ValueError, IndexError):
        header, rows = rows[0], rows[1:]
    wanted = [c.strip() for c in targets.split(",")]
    columns = []
    for c in wanted:
        if c.isdigit():
            columns.append(int(c))
        elif header is not None and c in header:
            columns.append(header.index(c))
        else:
            raise ValueError(f"--targets: no column {c!r} in {name}")
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"--data: {name} must hold numbers: {exc}") from None
    if table.ndim != 2 or max(columns) >= table.shape[1]:
        raise ValueError(f"--targets: {name} has {table.shape[-1]} columns")
    inputs = [i for i in range(table.shape[1]) if i not in columns]
    return table[:, inputs], table[:, columns]


def run(sizes, X, Y, lrs, seeds: int, epochs: int, client=None, **options) -> list[dict]:
    """Train one network per (learning rate, seed); one row per setting."""
    settings = [(lr, seed) for lr in lrs for seed in range(seeds)]
    activation = options.pop("activation", "logistic")
    bias = options.pop("bias", "trainable")
    nets = [Network(sizes, activation, bias=bias, seed=seed) for _, seed in settings]
    results = train_many(nets, X, Y, epochs=epochs, lr=np.array([lr for lr, _ in settings]),
                         client=client, **options)
    return [{"lr": float(lr), "seed": seed, "final_loss": r.final_loss}
            for (lr, seed), r in zip(settings, results)]


def format_rows(rows: list[dict]) -> str:
    """One line per learning rate: the final loss of each seed, then their mean."""
    lrs = list(dict.fromkeys(r["lr"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    loss = {(r["lr"], r["seed"]): r["final_loss"] for r in rows}
    head = ["lr", *(f"seed {s}" for s in seeds), "mean"]
    body = [[f"{lr:.4g}", *(f"{loss[lr, s]:.6g}" for s in seeds),
             f"{np.mean([loss[lr, s] for s in seeds]):.6g}"] for lr in lrs]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in [head, *body])


def write_csv(rows: list[dict], path: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["lr", "seed", "final_loss"])
            writer.writeheader()
            writer.writerows(rows)
    atomic_write(path, write)


def plot(rows: list[dict], path: str) -> None:
    """Final loss against learning rate: one dot per seed, the mean as a line."""
    plt = pyplot()

    lrs = np.array(list(dict.fromkeys(r["lr"] for r in rows)))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter([r["lr"] for r in rows], [r["final_loss"] for r in rows], s=12, alpha=0.6,
               label="one seed")
    ax.plot(lrs, [np.mean([r["final_loss"] for r in rows if r["lr"] == lr]) for lr in lrs],
            color="black", label="mean over seeds")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
