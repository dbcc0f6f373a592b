"""Benchmark fixtures: the hand-written C reference, and a summary of ratios per run.

Run with ``pytest benchmarks/`` (the default test run does not collect them).
"""

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
RESULTS: dict[str, float] = {}  # benchmark name -> seconds (minimum over rounds)


@pytest.fixture(scope="session")
def c_reference(tmp_path_factory):
    """The C tutorial loop, compiled here with gcc -O3 -ffp-contract=off."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler for the C reference loop")
    lib = tmp_path_factory.mktemp("cref") / "tutorial_loop.so"
    subprocess.run([compiler, "-O3", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(lib),
                    str(HERE / "c_reference" / "tutorial_loop.c"), "-lm"], check=True)
    train = ctypes.CDLL(str(lib)).train_tutorial
    train.argtypes = [ctypes.c_void_p, ctypes.c_long] + [ctypes.c_double] * 5
    train.restype = None
    return train


@pytest.fixture
def record(benchmark, request):
    """Call after a benchmark ran to keep its best time for the ratio summary."""
    def keep(**extra):
        best = benchmark.stats.stats.min
        RESULTS[request.node.name] = best
        benchmark.extra_info.update(extra)
        return best
    return keep


def _ratio(name: str, over: str) -> str:
    if name in RESULTS and over in RESULTS:
        return f"{RESULTS[name] / RESULTS[over]:.3f}"
    return "n/a"


# Ratios the issues ask for: (label, numerator, denominator).
RATIOS = [
    ("tutorial 1e6 rounds: numba / C", "test_tutorial_million[numba]", "test_tutorial_million[c]"),
    ("tutorial 1e6 rounds: cython / C", "test_tutorial_million[cython]",
     "test_tutorial_million[c]"),
    ("64-32-10 online: straightforward njit / numba", "test_digits_online[straightforward]",
     "test_digits_online[numba]"),
    ("64-32-10 online: cython / numba", "test_digits_online[cython]", "test_digits_online[numba]"),
]


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    terminalreporter.section("fastbp ratios (this run, best of rounds)")
    for label, top, bottom in RATIOS:
        terminalreporter.write_line(f"{label:<48} {_ratio(top, bottom)}")
