"""Numba specifics: lazy import, cache fallbacks, the unrolled kernels' source."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastbp

pytest.importorskip("numba")


def run_python(code, **env):
    import os

    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env={**os.environ, **env}, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_fastbp_does_not_import_numba():
    out = run_python("""
        import sys, fastbp
        loaded = ('numba', 'tqdm', 'fastbp.kernels.numba.backend')
        print(*(name in sys.modules for name in loaded))
    """)
    assert out.split() == ["False", "False", "False"]


def test_numba_is_the_fastest_listed():
    assert fastbp.available_backends()[0] == "numba"


def test_works_where_numba_can_cache_nowhere(tmp_path):
    # Every cache location refuses (as in a read-only install with a read-only
    # home): kernels compile in memory instead, with the same bits.
    out = run_python("""
        import numba.core.caching as caching
        def refuse(self):
            raise PermissionError("read-only")
        caching._CacheLocator.ensure_cache_path = refuse
        import numpy as np, fastbp
        from fastbp.learn import tutorial
        nets = [tutorial.network(), tutorial.network()]
        fastbp.train(nets[0], tutorial.INPUTS, tutorial.TARGETS, epochs=100, backend="numba")
        fastbp.train(nets[1], tutorial.INPUTS, tutorial.TARGETS, epochs=100, backend="python")
        print(np.array_equal(nets[0].params, nets[1].params))
    """, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert out.strip() == "True"


def test_unrolled_kernel_without_a_writable_directory(monkeypatch):
    from fastbp.kernels.numba import backend as numba_backend
    from fastbp.kernels.numba import cache as numba_cache
    from fastbp.kernels.numba import tiers as numba_tiers
    from fastbp.kernels.numba import unrolled as numba_unrolled

    monkeypatch.setattr(numba_cache, "unrolled_dirs", lambda: [Path("/dev/null/nowhere")])
    monkeypatch.setattr(numba_unrolled, "_modules", {})
    monkeypatch.setattr(numba_tiers, "MODE", "specialised")  # compiled here, in memory
    monkeypatch.setattr(numba_backend, "_entries", {})
    monkeypatch.setattr(numba_backend, "_loss_kernels", {})
    monkeypatch.setattr(numba_backend, "_by_rule", {})
    numba_unrolled._kernel.cache_clear()
    numba_unrolled._loss_kernel.cache_clear()
    net = fastbp.Network([2, 3, 2], ["relu", "softmax"], seed=4)
    twin = net.copy()
    X, Y = np.array([[0.5, -1.0], [2.0, 0.1]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    fastbp.train(net, X, Y, epochs=20, momentum=0.5, backend="numba")
    fastbp.train(twin, X, Y, epochs=20, momentum=0.5, backend="python")
    assert np.array_equal(net.params, twin.params)


def test_unrolled_source_spells_out_the_canonical_sums():
    from fastbp.kernels import limits
    from fastbp.kernels.numba import codegen as numba_codegen

    net = fastbp.tutorial.network()
    module = numba_codegen.kernel_module(net.layout, net.activation_codes, 0, False, "sgd",
                                         False, False, False, "libm")
    text = module.text
    assert "z1_0 = ((0.0 + p0 * a0_0) + p1 * a0_1) + p4" in text
    assert "d1_0 = ((0.0 + d2_0 * p6) + d2_1 * p8) * (a1_0 * (1.0 - a1_0))" in text
    assert "p6 = p6 - lr * (0.0 + d2_0 * a1_0)" in text
    assert "p4 = p4 -" not in text  # fixed biases are never updated
    assert module.constants["STATE"].tolist() == []  # SGD keeps no state
    # Adam: the step's scalars once, then each trained parameter's moments, in its state
    adam = numba_codegen.kernel_module(net.layout, net.activation_codes, 0, False, "adam",
                                       False, True, True, "libm")
    assert "adam_b2t = adam_b2t * beta_2" in adam.text
    assert "lrt = lr * math.sqrt(1.0 - adam_b2t) / (1.0 - adam_b1t)" in adam.text
    assert "v6 = beta_1 * v6 + (1.0 - beta_1) * g" in adam.text
    assert "p6 = p6 + (-lrt * v6) / (math.sqrt(s6) + epsilon)" in adam.text
    assert "g = ((0.0 + d2_0 * a1_0) / sw)" in adam.text  # each sample's weight
    assert "rep0 = rep0 + (sw * e) / sw" in adam.text  # the epoch's report
    trained = [0, 1, 2, 3, 6, 7, 8, 9]
    assert adam.constants["STATE"].tolist() == \
        trained + [12 + q for q in trained] + [24, 25, 26]  # 12 parameters
    assert limits.small_online(1, net.kernel_shape.n_params)
    assert not limits.small_online(1, fastbp.Network([64, 32, 10]).kernel_shape.n_params)
    assert not limits.small_online(2, net.kernel_shape.n_params)


def test_statements_know_what_they_read_and_rename_as_sets():
    from fastbp.kernels.emit import Stmt, Unrolled, exposed, expr, var

    terms = [expr(var("d2_0"), " * ", var("p6")), expr(var("d2_1"), " * ", var("p8"))]
    total = Unrolled("numba", [], [], {}).sum(0, 2, terms.__getitem__, "t")
    stmts = [Stmt("t", total), Stmt("p6", expr(var("p6"), " - ", var("lr"), " * ", var("t")))]
    assert stmts[0].line() == "t = ((0.0 + d2_0 * p6) + d2_1 * p8)"
    assert exposed(stmts) == ["d2_0", "d2_1", "p6", "p8", "lr"]
    assert stmts[1].line({"p6": "p6_b", "t": "t_b"}) == "p6_b = p6_b - lr * t_b"


def test_a_share_left_alone_returns_when_the_run_is_abandoned():
    # Part 1 of 2 starts, part 0 never does (a Ctrl-C before it began): once sync[2] says
    # the run is abandoned, part 1 stops waiting at its barrier and returns.
    import threading
    import time

    from fastbp.kernels.numba import backend as nb
    from fastbp.kernels.numba import batched as numba_batched

    net = fastbp.Network([9, 16, 3], seed=1)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(64, 9)), rng.uniform(size=(64, 3))
    layout, acts = net.layout, net.activation_codes
    at, size = nb._starts(layout), net.params.shape[0]
    args = (numba_batched.TRAIN, nb._to_work(net.params, layout), net.params.copy(), layout,
            acts, 0, X, Y, 1000, nb._NO_ORDER, 0.1, 32, nb._NO_OPT, 0.0, np.zeros(size), True, at,
            np.empty(32 * at[-1]), np.empty(32 * at[-1]), np.empty(size), nb._NO_Y,
            np.empty(2 * numba_batched.pack_size(layout)), 0)
    sync = np.zeros(3, dtype=np.int64)
    alone = threading.Thread(target=numba_batched.run,
                             args=(*args, 1, 2, sync, nb._NO_PERM, nb._NO_SW, nb._NO_SW, nb._NO_R))
    alone.start()
    time.sleep(0.5)
    assert alone.is_alive()  # waiting for part 0 at the first barrier
    sync[2] = 1
    alone.join(timeout=60)
    assert not alone.is_alive()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_working_copies_start_on_a_cache_line(dtype):
    # The batched kernels' buffers (working copies, activations, deltas, packed blocks)
    # start on a 64-byte line, as the Cython kernels' fastbp_alloc gives them, cut from
    # one allocation without overlapping.
    from fastbp.kernels.numba import backend

    sizes = (37, 0, 1, 7, 1000, 16)
    views = backend._buffers(dtype, *sizes)
    assert [v.shape for v in views] == [(n,) for n in sizes]
    assert all(v.dtype == dtype for v in views)
    # (an empty view's address is NumPy's to choose: nothing is read there)
    assert all(v.ctypes.data % 64 == 0 for v in views if v.size)
    for i, v in enumerate(views):
        v[:] = i
    assert all((v == i).all() for i, v in enumerate(views))  # no view wrote over another


@pytest.mark.parametrize("sizes", [(3, 5, 2), (784, 128, 10), (13, 10, 9, 2)])
def test_every_threads_scratch_starts_on_a_cache_line(sizes):
    # ``pack`` is one aligned buffer cut into a share per thread: each share is whole
    # 64-byte lines (of either dtype), so the second thread's packed panels are aligned too.
    from fastbp.kernels.numba import backend

    layout = fastbp.Network(list(sizes)).kernel_shape.layout
    assert backend._plan(layout).pack % 16 == 0  # values of a share, whole 64-byte lines
