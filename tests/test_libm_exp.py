"""glibc's exp written out (fastbp.kernels.libm_exp) gives the C library's bits."""

import math
import os
import platform
import struct
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from fastbp.kernels.numba import libm_exp


@njit
def _apply(which, xs):
    out = np.empty_like(xs)
    for i in range(xs.shape[0]):
        if which == 0:
            out[i] = libm_exp.exp_fma(xs[i])
        elif which == 1:
            out[i] = libm_exp.exp_plain(xs[i])
        else:
            out[i] = math.exp(xs[i])
    return out


def _c_library(xs):
    """math.exp, with C's answer (inf) where Python raises on overflow."""
    def exp(x):
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf
    return np.array([exp(x) for x in xs])


def _inputs(rng):
    edges = [0.0, -0.0, 2.0**-54, -(2.0**-54), 2.0**-55, 511.99999, 512.0, -512.0, 709.78,
             709.8, -745.1, -745.2, 1e-300, -1e-300, 5e-324, math.inf, -math.inf, math.nan,
             1e308, -1e308]
    ranges = [(-1.0, 1.0), (-40.0, 40.0), (-745.5, 710.0), (-1e-6, 1e-6)]
    return np.concatenate([edges] + [rng.uniform(lo, hi, 50_000) for lo, hi in ranges])


def test_the_chosen_exp_gives_the_c_librarys_bits():
    xs = _inputs(np.random.default_rng(7))
    chosen = libm_exp.variant()
    got = _apply(libm_exp.VARIANTS.index(chosen), xs)
    want = _c_library(xs)
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64)), chosen


def test_the_numpy_reference_repeats_the_compiled_builds():
    """variant() decides with the NumPy reference; kernels run the compiled builds."""
    xs = np.random.default_rng(11).uniform(-500.0, 500.0, 50_000)
    plain = libm_exp.reference(xs, fused=False)
    assert np.array_equal(plain.view(np.uint64), _apply(1, xs).view(np.uint64))
    assert not np.array_equal(plain, _apply(0, xs))  # the builds differ, so it can tell
    some = np.concatenate([xs[plain != _apply(0, xs)], xs[:300]])
    assert np.array_equal(libm_exp.reference(some, fused=True).view(np.uint64),
                          _apply(0, some).view(np.uint64))


def test_table_holds_two_to_the_k_over_128():
    tab = libm_exp.TAB
    assert tab[0] == 0 and tab[1] == 0x3FF0000000000000  # 2^0 = 1 exactly, no tail
    for k in range(128):
        head = struct.unpack("<d", struct.pack("<Q", (int(tab[2 * k + 1]) + (k << 52) // 128)
                                               % 2**64))[0]
        tail = struct.unpack("<d", struct.pack("<Q", int(tab[2 * k])))[0]
        assert head * (1 + tail) == pytest.approx(2 ** (k / 128), rel=1e-15)


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_fastbp_exp_libm_calls_the_library_and_keeps_every_bit():
    code = ("import numpy as np, fastbp\n"
            "from fastbp.kernels.numba import libm_exp\n"
            "print(libm_exp.variant())\n"
            "T = fastbp.tutorial\n"
            "nets = [T.network() for _ in range(40)]\n"
            "fastbp.train_many(nets, T.INPUTS, T.TARGETS, epochs=50, lr=np.linspace(.1, 1, 40),"
            " backend='numba')\n"
            "ref = T.network()\n"
            "fastbp.train(ref, T.INPUTS, T.TARGETS, epochs=50, lr=1.0, backend='python')\n"
            "print(np.array_equal(nets[-1].params, ref.params))\n")
    done = _run(code, FASTBP_EXP="libm")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["libm", "True"]


def test_a_wrong_fastbp_exp_is_refused():
    done = _run("from fastbp.kernels.numba import libm_exp; libm_exp.variant()", FASTBP_EXP="fast")
    assert done.returncode != 0
    assert "FASTBP_EXP must be one of auto, fma, plain, libm; got 'fast'" in done.stderr


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64"
                    or libm_exp.variant() != "fma",
                    reason="needs glibc on x86-64 with its FMA build of exp")
def test_glibc_without_fma_is_matched_by_the_plain_build():
    """glibc's tunables can hide FMA from it: it then loads its plain exp, and so must we."""
    code = ("import sys, numpy as np\n"
            f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "import test_libm_exp as t\n"
            "from fastbp.kernels.numba import libm_exp\n"
            "xs = t._inputs(np.random.default_rng(3))\n"
            "same = np.array_equal(t._apply(1, xs).view(np.uint64),"
            " t._c_library(xs).view(np.uint64))\n"
            "print(libm_exp.variant(), same)\n")
    done = _run(code, GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX2,-FMA")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain", "True"]
