"""fastbp's float32 exp (fastbp.kernels.exp32): one sequence, the same bits everywhere."""

import ctypes
import ctypes.util
import math
import platform
import struct

import numpy as np
import pytest

from fastbp.kernels import exp32

F = np.float32
EDGES = [0.0, -0.0, 1e-45, -1e-45, 1e-30, -1e-30, 87.99999, 88.0, -88.0, 88.72, 88.7228,
         88.7229, 88.73, 89.0, -103.0, -103.97, -103.98, -104.0, -1e30, 1e30, 3.4e38,
         -3.4e38, math.inf, -math.inf, math.nan]


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([EDGES, rng.uniform(-110.0, 95.0, 100_000), rng.uniform(-1, 1, 20_000),
                           rng.uniform(-1e-6, 1e-6, 2_000)]).astype(F)


def _same(a, b):
    return np.array_equal(np.asarray(a, F).view(np.uint32), np.asarray(b, F).view(np.uint32))


def test_the_oracles_scalar_and_the_numpy_reference_agree():
    xs = _inputs()
    scalar = np.array([exp32.exp32(x) for x in xs], dtype=F)
    assert _same(scalar, exp32.reference(xs))
    assert scalar.dtype == F and type(exp32.exp32(F(1.0))) is F


def test_numba_gives_the_same_bits():
    numba = pytest.importorskip("numba")
    from fastbp.kernels.numba import single

    @numba.njit
    def apply(xs, checked):
        out = np.empty_like(xs)
        for i in range(xs.shape[0]):
            out[i] = single.exp(xs[i]) if checked else single.exp_unchecked(xs[i])
        return out

    @numba.njit
    def specials(xs):  # the kernels' functions have no wrapper for Python's calls
        return [single.special(x) for x in xs]

    xs = _inputs(1)
    assert _same(apply(xs, True), exp32.reference(xs))
    usual = xs[np.abs(xs) < 88]  # where no branch is needed
    assert _same(apply(usual, False), exp32.reference(usual))
    assert specials(F([87.9, 88.0, -88.0, np.inf, np.nan])) == [False, True, True, True, True]


def test_the_c_extension_gives_the_same_bits():
    cython32 = pytest.importorskip("fastbp.kernels._cython32")
    from fastbp.kernels import glibc_exp

    xs = _inputs(2)
    got = xs.copy()
    cython32.exps(got)
    assert _same(got, exp32.reference(xs))
    usual = xs[np.abs(xs) < 88]
    unchecked = usual.copy()
    assert cython32.exps_unchecked(unchecked, glibc_exp.TAB) is not None
    assert _same(unchecked, exp32.reference(usual))
    assert cython32.exps_unchecked(xs.copy(), glibc_exp.TAB) is None  # special: refused


def test_special_values():
    got = exp32.reference(F([math.nan, math.inf, -math.inf, 0.0, -0.0, 89.0, -104.0]))
    assert np.isnan(got[0])
    assert list(got[1:]) == [math.inf, 0.0, 1.0, 1.0, math.inf, 0.0]
    assert exp32.exp32(F(88.7228)) < math.inf and exp32.exp32(F(88.7229)) == math.inf
    assert 0.0 < exp32.exp32(F(-103.0)) < 1e-44  # a subnormal float32


def test_within_one_unit_in_the_last_place_of_exp():
    xs = _inputs(3)
    xs = xs[np.isfinite(xs) & (xs > -87.0) & (xs < 88.0)]  # normal results
    ours = exp32.reference(xs).view(np.int32).astype(np.int64)
    rounded = np.exp(xs.astype(np.float64)).astype(F).view(np.int32).astype(np.int64)
    assert np.abs(ours - rounded).max() == 1  # they differ, by one unit where they do
    assert (ours != rounded).mean() < 1e-3


def test_table_holds_two_to_the_k_over_32():
    for k, entry in enumerate(exp32.TAB):
        bits = (int(entry) + (k << 47)) % 2**64
        assert struct.unpack("<d", struct.pack("<Q", bits))[0] == pytest.approx(2 ** (k / 32),
                                                                                 rel=1e-16)


def test_the_c_table_is_the_python_table():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "src_cython" / "_expf.pxi").read_text()
    table = text[text.index("fastbp_exp32_table[32] = {"):]
    table = table[table.index("{") + 1:table.index("}")]
    entries = [int(e.strip().removesuffix("ULL"), 16) for e in table.split(",") if e.strip()]
    assert entries == [int(t) for t in exp32.TAB]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="compares with glibc's expf")
def test_glibcs_expf_agrees_on_a_sample():
    # glibc 2.27+ runs this sequence (built with FMA on x86-64: 2 of 2^32 inputs differ,
    # none of them here)
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.expf.restype, libm.expf.argtypes = ctypes.c_float, [ctypes.c_float]
    xs = _inputs(4)[:20_000]
    theirs = np.array([libm.expf(float(x)) for x in xs], dtype=F)
    assert _same(theirs, exp32.reference(xs))
