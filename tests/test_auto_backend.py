"""backend="auto" never waits on a compile: numba where its kernels are ready, else the
Cython kernels (compiled at install), with the same bits (:func:`fastbp.kernels.choose`)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import _require

import fastbp
from fastbp.kernels import choose, limits
from fastbp.kernels.protocol import Rule

pytest.importorskip("numba")


@pytest.fixture
def cython():
    return _require("cython")


def _fresh(code, tmp_path):
    """Run ``code`` in a new process whose numba and fastbp caches are empty, outside the
    checkout (whose fastbp, imported from the current directory, may lack the extension
    an install built)."""
    env = {k: v for k, v in os.environ.items() if k != "FASTBP_TIERS"}
    env.update(NUMBA_CACHE_DIR=str(tmp_path / "numba"), XDG_CACHE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_a_first_run_runs_on_cython_without_importing_numba(cython, tmp_path):
    out, err = _fresh("""
        import sys, fastbp
        t = fastbp.tutorial
        print(fastbp.train(t.network(), t.INPUTS, t.TARGETS, epochs=10_000).backend)
        print("numba" in sys.modules)
    """, tmp_path)
    assert out.split() == ["cython", "False"]
    assert err == ""


def test_a_long_first_run_compiles_numba_meanwhile(cython, tmp_path):
    out, _ = _fresh("""
        import numpy as np, fastbp
        from fastbp.kernels.numba import backend
        rng = np.random.default_rng(0)
        X, Y = rng.uniform(size=(3000, 784)), rng.uniform(size=(3000, 10))
        net = fastbp.Network([784, 128, 10], seed=0)
        print(fastbp.train(net, X, Y, epochs=2, batch_size=None).backend)
        print(*(entry.state for entry in backend._background.values()))
    """, tmp_path)
    assert out.split() == ["cython", "compiling"]  # and it ends with the process


def test_loaded_kernels_run_every_call(cython):
    net = fastbp.tutorial.network()
    X, Y = fastbp.tutorial.INPUTS, fastbp.tutorial.TARGETS
    fastbp.train(net.copy(), X, Y, backend="numba")  # loads numba's kernels here
    assert fastbp.train(net.copy(), X, Y).backend == "numba"


def test_the_choice_follows_the_run_and_the_cache(cython, monkeypatch):
    from fastbp.kernels.numba import backend as numba

    shape, rule = fastbp.Network([784, 128, 10]).kernel_shape, Rule(0, batch_size=6000)
    started = []
    monkeypatch.setattr(numba, "compile_in_background", lambda *args: started.append(args))
    for state, samples, expected in [("cached", 6000, "numba"), ("cached", 10, "cython"),
                                     ("absent", 10, "cython"), ("absent", 6000, "cython")]:
        monkeypatch.setattr(numba, "generic_state", lambda *args, s=state: s)
        seconds = fastbp.kernels.cython_backend.epoch_seconds(shape, rule, samples)
        assert (seconds >= limits.NUMBA_PAYS) == (samples == 6000)
        assert choose("auto", shape, rule, 1, samples, 1)[0] == expected, (state, samples)
    assert len(started) == 1  # the long run on absent kernels
    assert choose("python", shape, rule)[0] == "python"


def test_a_wait_for_a_compile_is_said_once(monkeypatch, capsys):
    from fastbp.kernels.numba import backend as numba

    monkeypatch.setattr(numba, "generic_state", lambda *args: "absent")
    monkeypatch.setattr(numba, "_announced", set())
    shape = fastbp.Network([3, 4, 2]).kernel_shape
    choose("numba", shape, Rule(0))
    choose("numba", shape, Rule(0))
    err = capsys.readouterr().err
    assert err.count("compiling numba's kernels") == 1
    assert f"about {limits.COMPILE_SECONDS['online']} s" in err


def test_auto_gives_the_same_bits_either_way(cython):
    rng = np.random.default_rng(3)
    X, Y = rng.uniform(size=(40, 3)), rng.uniform(size=(40, 2))
    runs = {}
    for backend in ("auto", "numba", "cython"):
        net = fastbp.Network([3, 5, 2], seed=1)
        fastbp.train(net, X, Y, epochs=30, batch_size=4, backend=backend, momentum=0.5)
        runs[backend] = net.params
    assert np.array_equal(runs["auto"], runs["numba"])
    assert np.array_equal(runs["auto"], runs["cython"])
