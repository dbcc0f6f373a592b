"""Workloads and runners shared by ``fastbp bench`` and the pytest-benchmark suite.

A *runner* trains a fresh copy of a workload's network and returns the
seconds its training loop took (building the network and measuring the loss
stay outside) and the final mean loss; :func:`measure` keeps the best of a few
runs after a warm-up run, so JIT compilation is never timed. Runners exist for
every fastbp backend and, when they can run here, for the contenders: the
hand-written C reference loop, PyTorch eager and JAX. Those live with the
benchmarks, in a source checkout's ``benchmarks/contenders.py`` (PyTorch and JAX
come with the ``compare`` extra); fastbp's package never imports them.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from ..base.files import atomic_write
from ..core.data import dataset
from ..core.network import Network
from ..core.training import measure_threads, train, train_many
from ..core.warmup import compile_kernels
from ..kernels import status, threads
from ..kernels.threads import kept as kept_threads
from ..learn import tutorial

CONTENDERS = ("c", "torch", "jax", "sklearn")


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
    estimator: bool = False  # time FastBPClassifier.fit (and sklearn's MLPClassifier.fit)
    optimizer: str = "sgd"  # "adam" (fastbp.Adam's defaults); the estimators' solver: or lbfgs
    dtype: str = "float64"  # what every runner computes in: the network, the data

    def network(self) -> Network:
        if self.data == "tutorial":
            net = tutorial.network()
            return Network(net.sizes, list(net.activations), net.bias, weights=net.weights,
                           biases=net.biases, dtype=self.dtype)
        return Network(self.sizes, seed=0, bias=self.bias, dtype=self.dtype)

    def computing_in(self, dtype: str) -> Workload:
        """This workload with every runner computing in ``dtype``."""
        return dataclasses.replace(self, dtype=dtype)

    @functools.cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``X, Y`` (the sklearn workloads: ``X, y`` labels), ``X`` in the dtype."""
        if self.data in ("sklearn-digits", "sklearn-breast-cancer"):  # standardised; labels
            from sklearn.datasets import load_breast_cancer, load_digits

            load = load_digits if self.data == "sklearn-digits" else load_breast_cancer
            X, y = load(return_X_y=True)
            X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
            return X.astype(self.dtype), y
        if self.data != "random":
            return tuple(a.astype(self.dtype) for a in dataset(self.data))
        rng = np.random.default_rng(0)
        X = rng.uniform(0.0, 1.0, size=(self.n_samples, self.sizes[0]))
        Y = np.eye(self.sizes[-1])[rng.integers(0, self.sizes[-1], size=self.n_samples)]
        return X.astype(self.dtype), Y.astype(self.dtype)

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
    def flops_per_sample(self) -> int:
        """Floating-point operations of one sample's training step in the products: the
        net inputs, the hidden deltas and the gradient (a multiply and an add each)."""
        pairs = [a * b for a, b in zip(self.sizes, self.sizes[1:])]
        return 2 * (2 * sum(pairs) + sum(pairs[1:]))

    def threads(self, name: str) -> int:
        """Threads a runner uses on this machine: fastbp's backends as ``threads=None``
        picks them (every core for an ensemble; one for one small network online and for
        L-BFGS; for batches, the count measured for the workload on this machine, which
        the runner measures first where none is kept), the C loop, the oracle and
        PyTorch one (the contenders pin it), JAX and scikit-learn (its BLAS) every core."""
        if name in ("python", "c", "torch"):
            return 1
        if name in ("jax", "sklearn") or self.networks > 1:
            return threads.cores()
        if self.optimizer == "lbfgs":
            return 1
        kept = None if self.estimator else threads.kept(self.threads_key(name))
        if kept is not None:
            return kept
        return threads.parts(None, self.batch, self.network().kernel_shape.n_params)

    @property
    def batch(self) -> int:
        """Samples a batch."""
        n = len(self.arrays[0])
        return n if self.batch_size is None else min(self.batch_size, n)

    def threads_key(self, name: str) -> str:
        """Where the thread count measured for backend ``name`` is kept."""
        return threads.workload(name, self.dtype, tuple(self.network().sizes), self.batch)

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
    Workload("tutorial-adam", "tutorial 2-2-2, 1,000,000 online rounds of Adam", (2, 2, 2),
             "tutorial", 1, 1_000_000, 100_000, bias="fixed", lr=0.01, optimizer="adam"),
    Workload("minibatch", "64-128-10, mini-batches of 32, 1,408 samples x 30 epochs",
             (64, 128, 10), "random", 1_408, 30, 2, batch_size=32, lr=0.1),
    Workload("minibatch-adam", "64-128-10, mini-batches of 32 by Adam, 1,408 samples x 30 "
             "epochs", (64, 128, 10), "random", 1_408, 30, 2, batch_size=32, lr=0.001,
             optimizer="adam"),
    Workload("mnist", "784-128-10 full batch, 6,000 MNIST-sized samples x 5 epochs",
             (784, 128, 10), "random", 6_000, 5, 1, batch_size=None, lr=0.5),
    Workload("ensemble", "1,000 tutorial networks (lr 0.1..1) x 10,000 rounds, train_many",
             (2, 2, 2), "tutorial", 1, 10_000, 2_000, bias="fixed", networks=1_000,
             quick_networks=200),
    Workload("sklearn-online", "digits 64-32-10, FastBPClassifier.fit, batch_size=1, 10 epochs",
             (64, 32, 10), "sklearn-digits", 1_797, 10, 3, lr=0.001, estimator=True),
    Workload("sklearn-batch32", "digits 64-32-10, FastBPClassifier.fit, batch_size=32, "
             "30 epochs", (64, 32, 10), "sklearn-digits", 1_797, 30, 5, batch_size=32, lr=0.1,
             estimator=True),
    Workload("sklearn-adam-online", "digits 64-100-10, FastBPClassifier(solver='adam').fit, "
             "batch_size=1, 3 epochs", (64, 100, 10), "sklearn-digits", 1_797, 3, 1,
             lr=0.001, estimator=True, optimizer="adam"),
    Workload("sklearn-adam", "digits 64-100-10, FastBPClassifier(solver='adam').fit, the "
             "default batch_size (200), 30 epochs", (64, 100, 10), "sklearn-digits", 1_797, 30,
             5, batch_size=200, lr=0.001, estimator=True, optimizer="adam"),
    Workload("sklearn-lbfgs", "breast cancer 30-100-1, FastBPClassifier(solver='lbfgs').fit, "
             "15 iterations", (30, 100, 1), "sklearn-breast-cancer", 569, 15, 5,
             batch_size=None, lr=0.001, estimator=True, optimizer="lbfgs"),
]}

#: A runner trains for ``epochs`` (on ``count`` networks, for ensembles) and returns
#: (seconds of the training loop, final loss of the last network).
Runner = Callable[[int, int], tuple[float, float]]


def _estimator_runner(w: Workload, backend: str | None) -> Runner:
    """``fit`` of FastBPClassifier on ``backend``, or of scikit-learn's MLPClassifier
    (``backend`` None) with the same settings: the workload's solver (SGD: classical
    momentum 0.9), every epoch run (``tol=0``, no early stop); for L-BFGS ``epochs`` is
    its iterations."""
    X, y = w.arrays

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        settings = {"hidden_layer_sizes": w.sizes[1:-1], "learning_rate_init": w.lr,
                    "max_iter": epochs, "tol": 0.0, "n_iter_no_change": epochs + 1,
                    "random_state": 0, "solver": w.optimizer}
        if w.optimizer == "sgd":
            settings["nesterovs_momentum"] = False
        if w.batch_size is not None:
            settings["batch_size"] = w.batch_size
        if backend is None:
            from sklearn.neural_network import MLPClassifier

            model = MLPClassifier(**settings)
        else:
            from ..sklearn import FastBPClassifier

            model = FastBPClassifier(backend=backend, **settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
        return seconds, float(model.loss_)
    return run


def _fastbp_runner(backend: str, w: Workload, threads: int | None = None) -> Runner:
    if w.estimator:
        return _estimator_runner(w, backend)
    X, Y = w.arrays
    warm = []

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        if not warm:  # the steady state: every kernel the run uses, compiled and loaded
            net = w.network()
            compile_kernels(net.sizes, activation=list(net.activations), bias=net.bias,
                            batch_size=w.batch_size, many=w.networks > 1, backend=backend,
                            optimizer=w.optimizer, dtype=w.dtype)
            if (w.networks == 1 and threads is None and w.batch > 1
                    and kept_threads(w.threads_key(backend)) is None):
                measure_threads(net, X, Y, lr=w.lr, batch_size=w.batch_size,
                                optimizer=w.optimizer, backend=backend)
            warm.append(True)
        if w.networks == 1:
            result = train(w.network(), X, Y, epochs=epochs, lr=w.lr, batch_size=w.batch_size,
                           backend=backend, threads=threads, optimizer=w.optimizer)
        else:
            result = train_many([w.network() for _ in range(count)], X, Y, epochs=epochs,
                                lr=w.learning_rates(count), batch_size=w.batch_size,
                                backend=backend, threads=threads, optimizer=w.optimizer)[-1]
        return result.seconds, result.final_loss
    return run


def _contenders() -> ModuleType | None:
    """``benchmarks/contenders.py`` of the checkout in the current directory, or of the one
    fastbp runs from (an editable install), imported once; None where neither exists."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        module = _import_file(root / "benchmarks" / "contenders.py")
        if module is not None:
            return module
    return None


@functools.cache
def _import_file(path: Path) -> ModuleType | None:
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("fastbp_contenders", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def runner(name: str, w: Workload) -> Runner:
    """A runner for a fastbp backend or a contender, or RuntimeError saying why not."""
    if w.estimator:
        if name in ("python", "c", "torch", "jax"):
            raise RuntimeError("the sklearn workloads time fit: fastbp's compiled backends "
                               "and scikit-learn's MLPClassifier")
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise RuntimeError("scikit-learn is not installed (pip install "
                               "'fastbp[sklearn]')") from None
        if name == "sklearn":
            return _estimator_runner(w, None)
    elif name == "sklearn":
        raise RuntimeError("scikit-learn's MLPClassifier runs the sklearn workloads only")
    if w.optimizer != "sgd" and name in CONTENDERS:
        raise RuntimeError("the contenders train by SGD; Adam's figures are fastbp's against "
                           "its own SGD")
    if w.networks > 1 and name in ("python", "c", "torch"):
        raise RuntimeError({"python": "too long for the pure-Python oracle",
                            "c": "the C reference loop trains one network",
                            "torch": "PyTorch eager would take minutes"}[name])
    if name in CONTENDERS:
        contenders = _contenders()
        if contenders is None:
            raise RuntimeError("the contenders come with fastbp's source: run fastbp bench in a "
                               "checkout, which has benchmarks/contenders.py")
        return contenders.runner(name, w)
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


def measure(run: Runner, epochs: int, repeats: int,
            count: int = 1) -> tuple[float, float, float]:
    """Best and median training time over ``repeats`` runs after one warm-up, and the last
    final loss."""
    run(1, count)  # compile, load caches, import: not timed
    times, loss = [], math.nan
    for _ in range(repeats):
        seconds, loss = run(epochs, count)
        times.append(seconds)
    return min(times), loss, float(np.median(times))


#: Repeats whose median is this much above their best say the machine is busy (another
#: process, a noisy neighbour): the table says so.
NOISY = 1.2


def run_table(workloads: list[str], names: list[str], quick: bool = False,
              log: Callable[[str], None] | None = None,
              dtypes: Sequence[str] = ("float64",)) -> list[dict]:
    """Measure every (workload, runner, dtype) triple; one row each, with speed-ups (against
    the oracle and the C loop of the same dtype) where possible."""
    for w in workloads:
        if w not in WORKLOADS:
            raise ValueError(f"workloads must be among {', '.join(WORKLOADS)}; got {w!r}")
    for dtype in dtypes:
        if dtype not in ("float64", "float32"):
            raise ValueError(f"dtypes must be among float64, float32; got {dtype!r}")
    rows = []
    for wname, dtype in ((w, d) for w in workloads for d in dict.fromkeys(dtypes)):
        w = WORKLOADS[wname].computing_in(dtype)
        figures: dict[str, float] = {}
        for name in names:
            row = {"workload": wname, "backend": name, "dtype": dtype, "unit": w.unit}
            try:
                run = runner(name, w)
            except RuntimeError as exc:
                rows.append({**row, "status": str(exc)})
                continue
            epochs, count = epochs_for(name, w, quick), w.count(quick)
            if log:
                log(f"{wname} / {name} / {dtype}: {epochs} epochs"
                    + (f" x {count} networks" if count > 1 else ""))
            seconds, loss, median = measure(run, epochs, 3, count)
            figures[name] = w.figure(seconds, epochs, count)
            rows.append({**row, "status": "ok", "epochs": epochs, "seconds": seconds,
                         "figure": figures[name], "median": w.figure(median, epochs, count),
                         "final_loss": loss, "threads": w.threads(name)})
            if not w.online:
                visits = epochs * len(w.arrays[0]) * count
                rows[-1]["gflops"] = w.flops_per_sample * visits / seconds / 1e9
        for row in rows:
            if (row["workload"], row["dtype"]) == (wname, dtype) and row["status"] == "ok":
                for ref in ("python", "c"):
                    if ref in figures:
                        row[f"vs_{ref}"] = figures[ref] / row["figure"]
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned text table, then the pairs that did not run and why."""
    head = ("workload", "backend", "dtype", "epochs", "figure", "median", "unit", "GFLOP/s",
            "vs python", "vs C", "threads", "final loss")
    body = []
    done = [r for r in rows if r["status"] == "ok"]
    for r in done:
        gflops = f"{r['gflops']:.1f}" if "gflops" in r else ""
        median = r.get("median", r["figure"])
        body.append((r["workload"], r["backend"], r.get("dtype", "float64"), f"{r['epochs']:,}",
                     f"{r['figure']:,.1f}", f"{median:,.1f}" + ("*" if median > NOISY *
                                                                 r["figure"] else ""),
                     r["unit"], gflops, _times(r.get("vs_python")), _times(r.get("vs_c")),
                     str(r.get("threads", "")), f"{r['final_loss']:.6g}"))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).rjust(n) if i in (3, 4, 5, 7, 8, 9, 10) else str(x).ljust(n)
                       for i, (x, n) in enumerate(zip(line, widths)))
             for line in (head, *body)]
    noisy = [r for r in done if r.get("median", r["figure"]) > NOISY * r["figure"]]
    if noisy:
        lines += ["", f"* the median of the repeats is more than {NOISY - 1:.0%} above the best "
                  f"({len(noisy)} of {len(done)} rows): the machine was busy (another process, "
                  f"a noisy neighbour); compare the best figures, or run again"]
    fastest = {}
    for r in done:
        key = (r["workload"], r.get("dtype", "float64"))
        if key not in fastest or r["figure"] < fastest[key]["figure"]:
            fastest[key] = r
    if fastest:
        lines += ["", "fastest: " + "; ".join(
            f"{w}{'' if d == 'float64' else ' ' + d} {r['backend']}"
            for (w, d), r in fastest.items())]
    skipped = [f"  {r['workload']} / {r['backend']} / {r.get('dtype', 'float64')}: "
               f"{r['status']}" for r in rows if r["status"] != "ok"]
    return "\n".join(lines + (["", "not run:", *skipped] if skipped else []))


MATMUL = """
import time, numpy as np
a, b = np.random.default_rng(0).uniform(size=(2, {n}, {n}))
a @ b
times = []
for _ in range(5):
    t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
print(2 * {n} ** 3 / min(times) / 1e9)
"""


def matmul_gflops(n: int = 512) -> float:
    """The machine's own single-thread NumPy matmul speed (float64, ``n x n``), GFLOP/s:
    what the BLAS it links does with every trick (FMA included) on one core. Measured in
    a child process, where the BLAS's thread count can still be set."""
    one = dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS"), "1")
    done = subprocess.run([sys.executable, "-c", MATMUL.format(n=n)], capture_output=True,
                          text=True, env={**os.environ, **one}, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _times(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:,.2f}x"


def plot(rows: list[dict], path: str) -> None:
    """A bar chart of every measured figure (:func:`fastbp.plots.bench_chart`), written to
    ``path`` (needs matplotlib)."""
    from ..learn import plots

    plots.save(plots.bench_chart(rows), path)


def write_json(rows: list[dict], path: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(rows, indent=2) + "\n"))
