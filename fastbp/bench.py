"""Workloads and runners shared by ``fastbp bench`` and the pytest-benchmark suite.

A *runner* trains a fresh copy of a workload's network and returns the
seconds its training loop took (building the network and measuring the loss
stay outside) and the final mean loss; :func:`measure` keeps the best of a few
runs after a warm-up run, so JIT compilation is never timed. Runners exist for
every fastbp backend and, when they can run here, for contenders: the
hand-written C reference loop (from a source checkout, compiled on first use),
PyTorch eager and JAX (``jit`` over a ``fori_loop``). The contenders come with
the ``compare`` extra; fastbp's core never imports them.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import tutorial
from .backends import oracle, status
from .network import Network
from .training import train, train_many

C_SOURCE = Path(__file__).resolve().parents[1] / "benchmarks" / "c_reference" / "tutorial_loop.c"
CONTENDERS = ("c", "torch", "jax")


@dataclass(frozen=True)
class Workload:
    """A network, its data and how long to train it."""

    name: str
    description: str
    sizes: tuple[int, ...]
    data: str  # "tutorial", "xor" or "random"
    n_samples: int
    epochs: int
    quick_epochs: int
    batch_size: int | None = 1
    bias: str = "trainable"
    lr: float = 0.5
    oracle: bool = False  # short enough for the pure-Python oracle
    networks: int = 1  # > 1: train_many on that many copies, lr spread over [0.1, 1]
    quick_networks: int = 1

    def network(self) -> Network:
        if self.data == "tutorial":
            return tutorial.network()
        return Network(self.sizes, seed=0, bias=self.bias)

    @functools.cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self.data == "tutorial":
            return tutorial.INPUTS, tutorial.TARGETS
        if self.data == "xor":
            return (np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float),
                    np.array([[0], [1], [1], [0]], dtype=float))
        rng = np.random.default_rng(0)
        X = rng.uniform(0.0, 1.0, size=(self.n_samples, self.sizes[0]))
        Y = np.eye(self.sizes[-1])[rng.integers(0, self.sizes[-1], size=self.n_samples)]
        return X, Y

    @property
    def online(self) -> bool:
        return self.batch_size == 1

    def count(self, quick: bool) -> int:
        return self.quick_networks if quick else self.networks

    def learning_rates(self, count: int) -> np.ndarray:
        return np.linspace(0.1, 1.0, count) if self.networks > 1 else np.array([self.lr])

    def figure(self, seconds: float, epochs: int, count: int = 1) -> float:
        """ns per step (online; per network-step for ensembles) or µs per sample."""
        visits = epochs * len(self.arrays[0]) * count
        return seconds / visits * (1e9 if self.online else 1e6)

    @property
    def unit(self) -> str:
        if self.networks > 1:
            return "ns/network-step"
        return "ns/step" if self.online else "us/sample"


WORKLOADS: dict[str, Workload] = {w.name: w for w in [
    Workload("tutorial-10k", "tutorial 2-2-2, 10,000 online rounds", (2, 2, 2), "tutorial", 1,
             10_000, 10_000, bias="fixed", oracle=True),
    Workload("tutorial-1M", "tutorial 2-2-2, 1,000,000 online rounds", (2, 2, 2), "tutorial", 1,
             1_000_000, 100_000, bias="fixed"),
    Workload("xor", "XOR 2-5-1, online, 4 samples x 10,000 epochs", (2, 5, 1), "xor", 4,
             10_000, 2_000, oracle=True),
    Workload("digits", "64-32-10 online, 1,400 samples (8x8-digit sized) x 30 epochs",
             (64, 32, 10), "random", 1_400, 30, 2, lr=0.1),
    Workload("minibatch", "64-128-10, mini-batches of 32, 1,408 samples x 30 epochs",
             (64, 128, 10), "random", 1_408, 30, 2, batch_size=32, lr=0.1),
    Workload("mnist", "784-128-10 full batch, 6,000 MNIST-sized samples x 5 epochs",
             (784, 128, 10), "random", 6_000, 5, 1, batch_size=None, lr=0.5),
    Workload("ensemble", "1,000 tutorial networks (lr 0.1..1) x 10,000 rounds, train_many",
             (2, 2, 2), "tutorial", 1, 10_000, 2_000, bias="fixed", networks=1_000,
             quick_networks=200),
]}

#: A runner trains for ``epochs`` (on ``count`` networks, for ensembles) and returns
#: (seconds of the training loop, final loss of the last network).
Runner = Callable[[int, int], tuple[float, float]]


def _fastbp_runner(backend: str, w: Workload, threads: int | None = None) -> Runner:
    X, Y = w.arrays

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        if w.networks == 1:
            result = train(w.network(), X, Y, epochs=epochs, lr=w.lr, batch_size=w.batch_size,
                           backend=backend)
        else:
            result = train_many([w.network() for _ in range(count)], X, Y, epochs=epochs,
                                lr=w.learning_rates(count), batch_size=w.batch_size,
                                backend=backend, threads=threads)[-1]
        return result.seconds, result.final_loss
    return run


@functools.cache
def _c_library() -> Callable:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler")
    lib = Path(tempfile.mkdtemp(prefix="fastbp-cref-")) / "tutorial_loop.so"
    subprocess.run([compiler, "-O3", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(lib),
                    str(C_SOURCE), "-lm"], check=True, capture_output=True)
    fn = ctypes.CDLL(str(lib)).train_tutorial
    fn.argtypes = [ctypes.c_void_p, ctypes.c_long] + [ctypes.c_double] * 5
    fn.restype = None
    return fn


def _c_runner(w: Workload) -> Runner:
    fn = _c_library()

    (x1, x2), (t1, t2) = w.arrays[0][0], w.arrays[1][0]

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        net = w.network()
        start = time.perf_counter()
        fn(net.params.ctypes.data, epochs, x1, x2, t1, t2, w.lr)
        seconds = time.perf_counter() - start
        return seconds, oracle.mean_loss(net.params, net.layout, net.activation_codes, 0,
                                         *w.arrays)
    return run


def _torch_runner(w: Workload) -> Runner:
    import torch

    X, Y = (torch.tensor(a, dtype=torch.float64) for a in w.arrays)
    n = len(X)
    size = n if w.batch_size is None else w.batch_size

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        net = w.network()
        weights = [torch.tensor(W, requires_grad=True) for W in net.weights]
        biases = [torch.tensor(b, requires_grad=w.bias == "trainable") for b in net.biases]
        trained = weights + (biases if w.bias == "trainable" else [])

        def loss_of(xb, yb):
            a = xb
            for W, b in zip(weights, biases):
                a = torch.sigmoid(a @ W.T + b)
            return (0.5 * ((yb - a) ** 2).sum(dim=1)).mean()

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the fastbp kernels use one core
        try:
            begin = time.perf_counter()
            for _ in range(epochs):
                for start in range(0, n, size):
                    grads = torch.autograd.grad(loss_of(X[start:start + size],
                                                        Y[start:start + size]), trained)
                    with torch.no_grad():
                        for p, g in zip(trained, grads):
                            p -= w.lr * g
            seconds = time.perf_counter() - begin
            with torch.no_grad():
                return seconds, float(loss_of(X, Y))
        finally:
            torch.set_num_threads(threads)
    return run


def _jax_runner(w: Workload) -> Runner:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X, Y = (jnp.asarray(a) for a in w.arrays)
    n = len(X)
    size = n if w.batch_size is None else w.batch_size
    if n % size:
        raise RuntimeError(f"the JAX runner needs whole batches ({n} samples, batches of {size})")
    trainable_bias = w.bias == "trainable"

    def loss_of(params, xb, yb):
        a = xb
        for W, b in params:
            a = jax.nn.sigmoid(a @ W.T + b)
        return jnp.mean(0.5 * jnp.sum((yb - a) ** 2, axis=1))

    grad = jax.grad(loss_of)

    def fit_lr(params, lr, epochs):
        def step(i, p):
            xb = jax.lax.dynamic_slice_in_dim(X, i * size, size)
            yb = jax.lax.dynamic_slice_in_dim(Y, i * size, size)
            g = grad(p, xb, yb)
            return [(W - lr * gW, b - lr * gb if trainable_bias else b)
                    for (W, b), (gW, gb) in zip(p, g)]
        return jax.lax.fori_loop(
            0, epochs, lambda e, p: jax.lax.fori_loop(0, n // size, step, p), params)

    fit = jax.jit(lambda params, epochs: fit_lr(params, w.lr, epochs))
    many = jax.jit(jax.vmap(fit_lr, in_axes=(0, 0, None)))

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        net = w.network()
        params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases)]
        if w.networks == 1:
            start = time.perf_counter()
            params = jax.block_until_ready(fit(params, epochs))
            return time.perf_counter() - start, float(loss_of(params, X, Y))
        stacked = [(jnp.stack([W] * count), jnp.stack([b] * count)) for W, b in params]
        lrs = jnp.asarray(w.learning_rates(count))
        start = time.perf_counter()
        out = jax.block_until_ready(many(stacked, lrs, epochs))
        last = [(W[-1], b[-1]) for W, b in out]
        return time.perf_counter() - start, float(loss_of(last, X, Y))
    return run


def runner(name: str, w: Workload) -> Runner:
    """A runner for a fastbp backend or a contender, or RuntimeError saying why not."""
    if w.networks > 1 and name in ("python", "c", "torch"):
        raise RuntimeError({"python": "too long for the pure-Python oracle",
                            "c": "the C reference loop trains one network",
                            "torch": "PyTorch eager would take minutes"}[name])
    if name in CONTENDERS:
        if name == "c":
            if w.data != "tutorial":
                raise RuntimeError("the C reference loop is written for the tutorial network")
            if not C_SOURCE.exists():
                raise RuntimeError("the C reference loop ships with the source checkout only")
        try:
            return {"c": _c_runner, "torch": _torch_runner, "jax": _jax_runner}[name](w)
        except ImportError as exc:
            raise RuntimeError(f"{exc.name} is not installed (pip install 'fastbp[compare]')") \
                from None
    state = status().get(name)
    if state is None:
        raise ValueError(f"backends must be fastbp backends or contenders "
                         f"({', '.join([*status(), *CONTENDERS])}); got {name!r}")
    if state != "available":
        raise RuntimeError(state)
    if name == "python" and not w.oracle:
        raise RuntimeError("too long for the pure-Python oracle")
    return _fastbp_runner(name, w)


#: PyTorch eager spends about 200 µs of Python per update: cap its updates per run.
CONTENDER_UPDATES = {"torch": 20_000}


def epochs_for(name: str, w: Workload, quick: bool) -> int:
    """Epochs to time: the workload's, or fewer for a contender too slow to run them all."""
    epochs = w.quick_epochs if quick else w.epochs
    cap = CONTENDER_UPDATES.get(name)
    if cap is not None:
        n = len(w.arrays[0])
        updates = -(-n // (n if w.batch_size is None else w.batch_size))
        epochs = max(1, min(epochs, cap // updates))
    return epochs


def measure(run: Runner, epochs: int, repeats: int, count: int = 1) -> tuple[float, float]:
    """Best training time over ``repeats`` runs after one warm-up, and the last final loss."""
    run(1, count)  # compile, load caches, import: not timed
    best, loss = math.inf, math.nan
    for _ in range(repeats):
        seconds, loss = run(epochs, count)
        best = min(best, seconds)
    return best, loss


def run_table(workloads: list[str], names: list[str], quick: bool = False,
              log: Callable[[str], None] | None = None) -> list[dict]:
    """Measure every (workload, runner) pair; one row each, with speed-ups where possible."""
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"workloads must be among {', '.join(WORKLOADS)}; got {w!r}")
    rows = []
    for wname in workloads:
        w = WORKLOADS[wname]
        figures: dict[str, float] = {}
        for name in names:
            row = {"workload": wname, "backend": name, "unit": w.unit}
            try:
                run = runner(name, w)
            except RuntimeError as exc:
                rows.append({**row, "status": str(exc)})
                continue
            epochs, count = epochs_for(name, w, quick), w.count(quick)
            if log:
                log(f"{wname} / {name}: {epochs} epochs" + (f" x {count} networks"
                                                             if count > 1 else ""))
            seconds, loss = measure(run, epochs, 2 if quick else 3, count)
            figures[name] = w.figure(seconds, epochs, count)
            rows.append({**row, "status": "ok", "epochs": epochs, "seconds": seconds,
                         "figure": figures[name], "final_loss": loss})
        for row in rows:
            if row["workload"] == wname and row["status"] == "ok":
                for ref in ("python", "c"):
                    if ref in figures:
                        row[f"vs_{ref}"] = figures[ref] / row["figure"]
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned text table, then the pairs that did not run and why."""
    head = ("workload", "backend", "epochs", "figure", "unit", "vs python", "vs C", "final loss")
    body = []
    for r in rows:
        if r["status"] != "ok":
            continue
        body.append((r["workload"], r["backend"], f"{r['epochs']:,}", f"{r['figure']:,.1f}",
                     r["unit"], _times(r.get("vs_python")), _times(r.get("vs_c")),
                     f"{r['final_loss']:.6g}"))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).rjust(n) if i in (2, 3, 5, 6) else str(x).ljust(n)
                       for i, (x, n) in enumerate(zip(line, widths)))
             for line in (head, *body)]
    skipped = [f"  {r['workload']} / {r['backend']}: {r['status']}" for r in rows
               if r["status"] != "ok"]
    return "\n".join(lines + (["", "not run:", *skipped] if skipped else []))


def _times(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:,.2f}x"


def pyplot():
    """matplotlib.pyplot drawing off-screen, or a ValueError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install 'fastbp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(rows: list[dict], path: str) -> None:
    """A bar chart of every measured figure, one panel per workload (needs matplotlib)."""
    plt = pyplot()

    done = [r for r in rows if r["status"] == "ok"]
    names = list(dict.fromkeys(r["workload"] for r in done))
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6), squeeze=False)
    for ax, wname in zip(axes[0], names):
        mine = [r for r in done if r["workload"] == wname]
        ax.bar([r["backend"] for r in mine], [r["figure"] for r in mine], color="tab:blue")
        ax.set_yscale("log")
        ax.set_title(wname, fontsize=9)
        ax.set_ylabel(mine[0]["unit"] + " (lower is faster)", fontsize=8)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    _atomic(path, lambda tmp: fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png"))
    plt.close(fig)


def _atomic(path: str, write: Callable[[str], None]) -> None:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(rows: list[dict], path: str) -> None:
    import json

    _atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(rows, indent=2) + "\n"))
