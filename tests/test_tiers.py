"""Tiered numba kernels: a run starts on the generic kernels, switches to a shape's own
between chunks without changing a bit, and compiles those only where they pay, in
another process (fastbp.kernels.numba.tiers)."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import random_data

import fastbp
from fastbp.kernels.protocol import Rule

pytest.importorskip("numba")

from fastbp.kernels.numba import backend as numba_backend
from fastbp.kernels.numba import cache as numba_cache
from fastbp.kernels.numba import tiers as numba_tiers

XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1.0]]), np.array([[0], [1], [1], [0.0]])


@pytest.fixture
def tiers(monkeypatch):
    """Set the tiering mode for this test, with no shape's kernels picked yet."""
    monkeypatch.setattr(numba_backend, "_entries", {})
    monkeypatch.setattr(numba_backend, "_loss_kernels", {})
    monkeypatch.setattr(numba_backend, "_by_rule", {})

    def mode(name):
        monkeypatch.setattr(numba_tiers, "MODE", name)
    return mode


CASES = [  # sizes, activations, loss, bias, momentum, shuffle
    ([2, 2, 2], ["logistic", "logistic"], "squared", "fixed", 0.0, False),
    ([2, 5, 1], ["tanh", "logistic"], "cross_entropy", "trainable", 0.9, True),
    ([3, 4, 3], ["relu", "softmax"], "cross_entropy", "trainable", 0.5, True),
    ([1, 3, 2, 1], ["logistic", "tanh", "identity"], "squared", "trainable", 0.0, False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c[0])))
@pytest.mark.parametrize("count", [1, 5])
def test_a_switch_at_every_chunk_changes_no_bit(tiers, case, count):
    # "alternate": the shape's unrolled kernels and the generic ones take turns, one
    # chunk (here one epoch: a record every epoch) each.
    sizes, activations, loss, bias, momentum, shuffle = case
    nets = [fastbp.Network(sizes, activations, bias=bias, seed=k) for k in range(count)]
    X, Y = random_data(np.random.default_rng(len(sizes)), nets[0], 6, loss)
    options = {"epochs": 7, "lr": 0.4, "momentum": momentum, "shuffle": shuffle, "seed": 3,
               "loss": loss, "record_every": 1}
    runs = {}
    for mode in ("alternate", "generic", "specialised"):
        tiers(mode)
        trained = [net.copy() for net in nets]
        if count == 1:
            results = [fastbp.train(trained[0], X, Y, backend="numba", **options)]
        else:
            results = fastbp.train_many(trained, X, Y, backend="numba", **options)
        runs[mode] = (np.stack([n.params for n in trained]),
                      np.stack([r.history for r in results]))
    oracle = [net.copy() for net in nets]
    want = [fastbp.train(n, X, Y, backend="python", **options).history for n in oracle]
    for params, history in runs.values():
        assert np.array_equal(params, np.stack([n.params for n in oracle]))
        assert np.array_equal(history, np.stack(want))
    entry = next(iter(numba_backend._entries.values()))
    assert entry.state == "ready" and entry.calls >= 7  # it did take turns


def test_short_runs_never_compile_and_never_wait(tiers):
    tiers("auto")
    net = fastbp.Network([2, 6, 1], seed=1)
    for _ in range(3):
        fastbp.train(net, *XOR, epochs=5, backend="numba")
        fastbp.train_many([net.copy(), net.copy()], *XOR, epochs=5, backend="numba")
    assert {e.state for e in numba_backend._entries.values()} == {"idle"}
    assert numba_backend.compiling() == []


def run_python(code, **env):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env={**os.environ, **env}, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_long_run_compiles_in_another_process_and_switches(tmp_path):
    # A fresh cache: the shape's kernels are compiled in a child process while training
    # goes on, then loaded; every bit equals the oracle's, and the next process knows
    # they are cached.
    out = run_python("""
        import time
        import numpy as np, fastbp
        from fastbp.kernels.numba import backend as nb, tiers as numba_tiers
        from fastbp.kernels.protocol import Rule
        X, Y = np.array([[0, 0], [0, 1], [1, 0], [1, 1.0]]), np.array([[0], [1], [1], [0.0]])
        net = fastbp.Network([2, 4, 1], seed=0)
        entry = nb._entry(net.kernel_shape, Rule(0), False)
        print(entry.state, entry.expected_cost() > 1)
        nb.expect(net.kernel_shape, Rule(0), 4, 1, 10**9)  # a run long enough to pay
        print(entry.state, nb.compiling())
        twin = net.copy()
        began, chunks = time.monotonic(), 0
        while entry.state == "compiling" and time.monotonic() - began < 300:
            fastbp.train(net, X, Y, epochs=10, backend="numba")  # generic meanwhile
            fastbp.train(twin, X, Y, epochs=10, backend="python")
            chunks += 1
        print(entry.state, entry.error, chunks > 0)
        fastbp.train(net, X, Y, epochs=10, backend="numba")  # now unrolled
        fastbp.train(twin, X, Y, epochs=10, backend="python")
        print(np.array_equal(net.params, twin.params))
    """, XDG_CACHE_HOME=str(tmp_path))
    assert out.split("\n")[:4] == ["idle True", "compiling ['2-4-1']", "ready  True", "True"]
    again = run_python("""
        import fastbp
        from fastbp.kernels.numba import backend as nb, tiers as numba_tiers
        from fastbp.kernels.protocol import Rule
        entry = nb._entry(fastbp.Network([2, 4, 1]).kernel_shape, Rule(0), False)
        print(entry.expected_cost() == numba_tiers.LOAD)
    """, XDG_CACHE_HOME=str(tmp_path))
    assert again.strip() == "True"


def test_a_failed_compile_leaves_the_generic_kernels(tiers):
    tiers("auto")
    entry = numba_tiers.Entry("x", {}, lambda: None, 0.0, "fastbp.no_such_module:f")
    entry.start()
    assert entry.state == "compiling"
    began = time.monotonic()
    while not entry.poll() and entry.state == "compiling" and time.monotonic() - began < 60:
        time.sleep(0.05)
    assert entry.state == "failed" and "No module named" in entry.error
    assert numba_tiers.pick(entry, 1e9) is None


def test_compiles_still_running_stop_with_the_program():
    out = run_python("""
        from fastbp.kernels.numba import tiers as numba_tiers
        entry = numba_tiers.Entry("x", {}, lambda: None, 0.0, "conftest:sleep_long")
        entry.start()
        print(entry._process.pid, flush=True)
    """, PYTHONPATH=os.path.dirname(__file__))
    pid = int(out.split()[0])
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone: killed (and reaped) at exit


def test_expect_is_a_forecast_not_work_done(tiers):
    tiers("auto")
    net = fastbp.Network([2, 3, 1], seed=0)
    entry = numba_backend._entry(net.kernel_shape, Rule(0), False)
    numba_backend.expect(net.kernel_shape, Rule(0), 4, 1, 10)  # far too short to pay
    assert entry.state == "idle" and entry.saving == 0.0


def test_the_generic_kernels_state_is_known(tiers):
    net = fastbp.Network([2, 3, 1], seed=0)
    fastbp.train(net, *XOR, epochs=2, backend="numba")
    assert numba_backend.generic_state(net.kernel_shape, Rule(0), 1) == "loaded"
    assert numba_backend.generic_state(net.kernel_shape, Rule(0), 2) in {"loaded", "cached"}


def test_the_bar_names_a_compile_and_restarts_its_clock(capsys):
    from fastbp.core.training import _Bar

    compiled = []

    class Kernels:
        def generic_state(self, shape, rule, count):
            return "absent"

        def compile_for(self, shape, rule, many=False, specialised=True):
            compiled.append((many, specialised))
            time.sleep(0.3)
            return []

        def compiling(self):
            return ["2-3-1"]

    net = fastbp.Network([2, 3, 1])
    with _Bar(100, "epoch", "numba", 0, (Kernels(), net.kernel_shape, Rule(0), 4)) as bar:
        bar(0, None)
        started = bar.bar.start_t
        bar(10, np.array([0.25]))
        assert time.time() - started < 0.3  # the compile is not training time
    err = capsys.readouterr().err
    assert "compiling kernels for 2-3-1 (first use; cached afterwards)" in err
    assert compiled == [(True, False)]
    assert "loss=0.25" in err and "2-3-1 in the background" in err


def test_cache_info_clear_and_prune(tmp_path, monkeypatch, capsys):
    from fastbp.cli import main

    generic, unrolled = tmp_path / "generic", tmp_path / "unrolled"
    monkeypatch.setattr(numba_cache, "generic_dirs", lambda: [generic])
    monkeypatch.setattr(numba_cache, "unrolled_dirs", lambda: [unrolled])
    assert main(["cache"]) == 0
    assert "no compiled kernels are cached yet" in capsys.readouterr().out
    # numba's per-user layout: a folder named after the package's directory and a hash
    (generic / "numba_4282da04").mkdir(parents=True)
    (generic / "numba_4282da04" / "batched.run-233.py311.nbi").write_bytes(b"x" * 1000)
    (generic / "numba_4282da04" / "someone_else.f-1.py311.nbi").write_bytes(b"x")  # not ours
    unrolled.mkdir()
    for k in range(5):
        source = unrolled / f"{numba_cache.PREFIX}{k}.py"
        source.write_text("# kernel")
        (unrolled / f"{numba_cache.PREFIX}{k}.one.compiled").touch()
        os.utime(source, (1000 + k, 1000 + k))
    assert main(["cache", "--info"]) == 0
    out = capsys.readouterr().out
    assert str(generic) in out and str(unrolled) in out and "5 shapes" in out
    assert numba_cache.prune(unrolled, max_modules=2) == 3
    assert sorted(p.name for p in unrolled.glob("*.py")) == [
        f"{numba_cache.PREFIX}3.py", f"{numba_cache.PREFIX}4.py"]  # the oldest went
    assert not (unrolled / f"{numba_cache.PREFIX}0.one.compiled").exists()
    assert main(["cache", "--clear"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not unrolled.exists()
    assert [p.name for p in generic.rglob("*.nbi")] == ["someone_else.f-1.py311.nbi"]


def test_warmup_compiles_ahead_of_time(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fastbp", "warmup", "--sizes", "2,3,1",
                           "--many"], capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "2-3-1 (train): generic kernels" in done.stdout
    assert "unrolled kernels for 2-3-1 x many" in done.stdout
    assert "done in" in done.stdout
    assert len(list((tmp_path / "fastbp" / "kernels").glob("*.compiled"))) == 2
    lines = fastbp.compile([2, 3, 1], backend="numba")
    assert lines[0].startswith("generic kernels") and "unrolled kernels for 2-3-1" in lines[1]
    assert fastbp.compile([2, 3, 1], backend="cython") == [
        "backend 'cython' compiles nothing at run time"]


def test_threads_asking_together_start_one_compile(tiers):
    from concurrent.futures import ThreadPoolExecutor

    tiers("auto")
    entry = numba_tiers.Entry("x", {}, lambda: None, 0.0, "conftest:sleep_long")
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: entry.start(), range(32)))
        assert entry.state == "compiling"
        assert numba_tiers._running.count(entry) == 1
    finally:
        entry.stop()
        numba_tiers._running.remove(entry)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_fixed_bias_shape_does_not_lend_its_kernels_to_a_trainable_one(tiers, dtype):
    # The bias mode is not in Shape.key: a network of the same layout with trainable
    # biases, trained after one with fixed biases, once ran the fixed one's kernels.
    tiers("specialised")
    X, Y = fastbp.tutorial.INPUTS, fastbp.tutorial.TARGETS
    fastbp.train(fastbp.Network([2, 2, 2], bias="fixed", seed=1, dtype=dtype), X, Y, epochs=3,
                 backend="numba")
    ours = fastbp.Network([2, 2, 2], seed=0, dtype=dtype)
    oracle = ours.copy()
    fastbp.train(ours, X, Y, epochs=3, backend="numba")
    fastbp.train(oracle, X, Y, epochs=3, backend="python")
    assert np.array_equal(ours.params, oracle.params)
