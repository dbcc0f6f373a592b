"""Every chart fastbp draws, with matplotlib (an optional extra: ``fastbp[plot]``).

``TrainResult.plot`` draws on the caller's Axes (or pyplot's current figure, as pandas
does) and returns them; the commands (``fastbp train/sweep/bench --plot``) draw the same
charts on a figure of their own, with no pyplot state, and write it atomically.
"""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import numpy as np

from ..base.files import atomic_write

INSTALL = "pip install 'fastbp[plot]'"


def require():
    """matplotlib, or an ImportError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"plotting needs matplotlib: {INSTALL}") from None
    return matplotlib


def figure(width: float, height: float):
    """A matplotlib Figure not registered with pyplot (nothing to close, any backend)."""
    require()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` atomically, in the format its suffix names (PNG without)."""
    kind = Path(path).suffix.lstrip(".").lower() or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=kind, dpi=110))


def loss_curve(result, ax=None, *, label: str | None = None):
    """The recorded mean loss of a :class:`fastbp.TrainResult` against the epoch, on ``ax``
    (default: pyplot's current Axes); log-scaled where every loss is positive.

    Returns
    -------
    matplotlib.axes.Axes
    """
    require()
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.gca()
    history = np.asarray(result.history, dtype=float)
    ax.plot(result.history_epochs, history, marker="o" if len(history) < 3 else None,
            label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"mean {result.loss} loss")
    finite = history[np.isfinite(history)]
    if len(finite) and np.all(finite > 0):
        ax.set_yscale("log")
    what = f"diverged in epoch {result.diverged_epoch}" if result.diverged else \
        f"final loss {result.final_loss:.4g}"
    ax.set_title(f"{result.epochs:,} epochs on {result.backend}: {what}", fontsize=10)
    ax.grid(True, alpha=0.3)
    return ax


def sweep_chart(rows: list[dict], title: str):
    """Final loss against learning rate, a dot per seed and the mean over seeds."""
    fig = figure(5.6, 3.8)
    ax = fig.subplots()
    lrs = np.array(list(dict.fromkeys(r["lr"] for r in rows)))
    ax.scatter([r["lr"] for r in rows], [r["final_loss"] for r in rows], s=14, alpha=0.6,
               label="one seed")
    ax.plot(lrs, [np.nanmean([r["final_loss"] for r in rows if r["lr"] == lr]) for lr in lrs],
            color="black", label="mean over seeds")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final loss")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title(title, fontsize=10)
    return fig


def machine() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one) and core count."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _runner(row: dict) -> str:
    """A bar's name: the backend or contender, and its dtype where it is not float64."""
    dtype = row.get("dtype", "float64")
    return row["backend"] if dtype == "float64" else f"{row['backend']} {dtype}"


def bench_chart(rows: list[dict], when: datetime.date | None = None):
    """One panel per workload, in a grid: a bar per backend or contender (its colour the
    same in every panel), its value written on it. The axis is linear from zero, or
    logarithmic where a panel's figures span more than 10x (PyTorch eager's 300,000 ns
    beside 55 ns would flatten every other bar)."""
    done = [{**r, "backend": _runner(r)} for r in rows if r["status"] == "ok"]
    workloads = list(dict.fromkeys(r["workload"] for r in done))
    runners = list(dict.fromkeys(r["backend"] for r in done))
    colours = {name: f"C{k % 10}" for k, name in enumerate(runners)}
    columns = min(3, max(1, len(workloads)))
    lines = -(-len(workloads) // columns)
    fig = figure(4.4 * columns, 3.3 * lines + 0.6)
    axes = np.atleast_1d(fig.subplots(lines, columns, squeeze=False)).ravel()
    for ax, name in zip(axes, workloads):
        mine = [r for r in done if r["workload"] == name]
        bars = ax.bar([r["backend"] for r in mine], [r["figure"] for r in mine],
                      color=[colours[r["backend"]] for r in mine])
        ax.bar_label(bars, labels=[_figure(r["figure"]) for r in mine], fontsize=8, padding=2)
        low, high = (f([r["figure"] for r in mine]) for f in (min, max))
        scale = ""
        if high > 10 * low:
            ax.set_yscale("log")
            ax.set_ylim(low / 2, high * 4)
            scale = ", log scale"
        else:
            ax.set_ylim(0, high * 1.18)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(f"{mine[0]['unit']} (lower is faster{scale})", fontsize=8)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes[len(workloads):]:
        ax.set_visible(False)
    day = (when or datetime.date.today()).isoformat()
    fig.suptitle(f"fastbp bench on {machine()}, {day}", fontsize=11)
    return fig
