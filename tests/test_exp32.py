"""fastbp's float32 exp (fastbp.kernels.exp32): one sequence, the same bits everywhere."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from fastbp.kernels import exp32

F = np.float32
EDGES = [0.0, -0.0, 1e-45, -1e-45, 1e-30, -1e-30, 86.99999, -86.99999, 87.0, -87.0, 87.5,
         -87.5, 87.99999, 88.0, -88.0, 88.72, 88.7228,
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
    usual = xs[np.abs(xs) < 87]  # where no branch is needed
    assert _same(apply(usual, False), exp32.reference(usual))
    assert specials(F([86.99999, -86.99999, 87.0, -87.0, np.inf, np.nan])) == [
        False, False, True, True, True, True]
    assert [exp32.special(x) for x in F([86.99999, 87.0, -87.0, np.inf, np.nan])] == [
        False, True, True, True, True]


def test_the_c_extension_gives_the_same_bits():
    cython32 = pytest.importorskip("fastbp.kernels._cython32")
    from fastbp.kernels import glibc_exp

    xs = _inputs(2)
    got = xs.copy()
    cython32.exps(got)
    assert _same(got, exp32.reference(xs))
    usual = xs[np.abs(xs) < 87]
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
    assert exp32.exp32(F(-87.5)) == F(math.exp(-87.5))  # a subnormal, correctly rounded
    assert exp32.exp32(F(0.0)) == 1.0 and exp32.exp32(F(-1e-30)) == 1.0


def test_within_one_unit_in_the_last_place_of_exp():
    xs = _inputs(3)
    xs = xs[np.isfinite(xs) & (xs > -87.0) & (xs < 88.0)]  # normal results
    ours = exp32.reference(xs).view(np.int32).astype(np.int64)
    rounded = np.exp(xs.astype(np.float64)).astype(F).view(np.int32).astype(np.int64)
    assert np.abs(ours - rounded).max() == 1  # they differ, by one unit where they do
    assert (ours != rounded).mean() < 0.12  # 10% of inputs spread over the range


def test_the_c_constants_are_the_python_constants():
    text = (Path(__file__).parents[1] / "src_cython" / "_expf.pxi").read_text()
    body = text[text.index("fastbp_exp32_reduced(float x"):text.index("fastbp_exp32_power")]
    found = [float.fromhex(h) for h in re.findall(r"-?0x[0-9a-f.]+p[-+]?\d+", body)]
    wanted = [exp32.LOG2E, exp32.LN2HI, exp32.LN2LO, *exp32.POLY]
    assert found == [float(v) for v in wanted]
    power = text[text.index("fastbp_exp32_power(float n)"):text.index("fastbp_exp32_unchecked")]
    shifts = [float.fromhex(h) for h in re.findall(r"0x[0-9a-f.]+p\d+", power)]
    assert shifts == [float(exp32.SHIFT)]
    bounds = [float.fromhex(h) for h in re.findall(r"x [<>] (-?0x[0-9a-f.]+p\d+)f", text)]
    assert bounds == [float(exp32.OVERFLOW), float(exp32.UNDERFLOW)]
    assert "0x42ae0000u" in text and np.float32(exp32.SPECIAL).view(np.uint32) == 0x42AE0000


def test_every_power_of_two_it_scales_by_is_exact():
    ns = np.arange(-150, 129)
    xs = (ns * np.log(2.0)).astype(F)  # exp(n ln 2) = 2^n, nearly
    ours = exp32.reference(xs)
    with np.errstate(over="ignore"):
        rounded = np.exp(xs.astype(np.float64)).astype(F)
    finite = np.isfinite(rounded) & (rounded > 0)
    apart = np.abs(ours.view(np.int32).astype(np.int64) - rounded.view(np.int32))[finite]
    assert apart.max() <= 1
