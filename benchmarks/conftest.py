"""Benchmark fixtures: best times kept per run, and a summary of the ratios fastbp tracks.

Run with ``pytest benchmarks/`` (the default test run does not collect them).
"""

import pytest

# (workload, runner) -> best seconds of the training loop over the rounds of this run
RESULTS: dict[tuple[str, str], float] = {}


@pytest.fixture
def keep():
    """Store a benchmark's best training-loop time for the ratio summary."""
    def store(workload: str, runner: str, seconds: float) -> None:
        RESULTS[workload, runner] = seconds
    return store


# The ratios fastbp tracks: (label, numerator, denominator).
RATIOS = [
    ("tutorial 1e6 rounds: numba / C", ("tutorial-1M", "numba"), ("tutorial-1M", "c")),
    ("tutorial 1e6 rounds: cython / C", ("tutorial-1M", "cython"), ("tutorial-1M", "c")),
    ("64-32-10 online: straightforward njit / numba", ("digits", "straightforward"),
     ("digits", "numba")),
    ("64-32-10 online: cython / numba", ("digits", "cython"), ("digits", "numba")),
    ("tutorial 1e6 rounds: torch eager / numba", ("tutorial-1M", "torch"),
     ("tutorial-1M", "numba")),
    ("tutorial 1e6 rounds: jax / numba", ("tutorial-1M", "jax"), ("tutorial-1M", "numba")),
    ("ensemble: numba 1 thread / 2 threads", ("ensemble", "numba-1"), ("ensemble", "numba-2")),
    ("ensemble: cython 1 thread / 2 threads", ("ensemble", "cython-1"),
     ("ensemble", "cython-2")),
    *[(f"ensemble-8000: {b} 1 thread / 2 threads", ("ensemble-8000", f"{b}-1"),
       ("ensemble-8000", f"{b}-2")) for b in ("numba", "cython")],
    ("ensemble: jax vmap / numba", ("ensemble", "jax"), ("ensemble", "numba")),
    # Batches and wide layers, Cython at par.
    *[(f"{w}: {a} / {b}", (w, a), (w, b))
      for w in ("mnist", "minibatch") for a in ("numba", "cython") for b in ("jax", "torch")],
    *[(f"{w}: cython / numba", (w, "cython"), (w, "numba"))
      for w in ("tutorial-1M", "xor", "digits", "minibatch", "mnist", "ensemble")],
    ("mnist: numba 1 thread / 2 threads", ("mnist", "numba-1"), ("mnist", "numba-2")),
    ("mnist: cython 1 thread / 2 threads", ("mnist", "cython-1"), ("mnist", "cython-2")),
    # Fit on digits, against scikit-learn's MLPClassifier with the same settings.
    *[(f"{w}: sklearn MLPClassifier / {b}", (w, "sklearn"), (w, b))
      for w in ("sklearn-online", "sklearn-batch32") for b in ("numba", "cython")],
    # Adam against SGD, and the estimators' default solvers against scikit-learn.
    *[(f"{a}: {b} Adam / SGD", (a, b), (s, b)) for a, s in
      (("tutorial-adam", "tutorial-1M"), ("minibatch-adam", "minibatch"))
      for b in ("numba", "cython")],
    *[(f"{w}: sklearn MLPClassifier / {b}", (w, "sklearn"), (w, b))
      for w in ("sklearn-adam-online", "sklearn-adam", "sklearn-lbfgs")
      for b in ("numba", "cython")],
    # float32 against float64, and against PyTorch's and JAX's float32.
    *[(f"{w}: {b} float32 / float64", (f"{w}/float32", b), (w, b))
      for w in ("tutorial-1M", "minibatch", "mnist", "ensemble") for b in ("numba", "cython")],
    *[(f"{w} float32: {a} / {b}", (f"{w}/float32", a), (f"{w}/float32", b))
      for w in ("minibatch", "mnist") for a in ("numba", "cython") for b in ("jax", "torch")],
    *[(f"ensemble float32: jax vmap / {b}", ("ensemble/float32", "jax"),
       ("ensemble/float32", b)) for b in ("numba", "cython")],
    # Threads: the machine's own scaling (a trivial nogil loop), beside one network's
    # batches on 2 threads and as threads=None picks (test_thread_scaling.py).
    ("machine: nogil loop, 1 thread / 2 threads", ("machine-loop", "threads-1"),
     ("machine-loop", "threads-2")),
    *[(f"{s}: {b} 1 thread / {t}", (s, f"{b}-1"), (s, f"{b}-{t}"))
      for s in ("30-100-2 b200", "64-100-10 b32", "64-100-10 b200", "784-128-10 b32")
      for b in ("numba", "cython") for t in ("2", "None")],
]


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    terminalreporter.section("fastbp ratios (this run, per step, best of rounds)")
    from fastbp.cli import bench

    for label, top, bottom in RATIOS:
        if top in RESULTS and bottom in RESULTS:
            w = bench.WORKLOADS.get(top[0].split("/")[0])  # "mnist/float32": mnist's unit
            # per-step figures: contenders may run fewer epochs than the others
            ratio = RESULTS[top] / RESULTS[bottom]
            unit = w.unit if w else "seconds"
            terminalreporter.write_line(f"{label:<48} {ratio:.3f}  ({unit} basis)")
