"""fastbp's float32 ``exp``: a short sequence of IEEE single operations, the same bits in
every backend and on every machine.

It is the classic table-free reduction (Cephes' ``expf``): with n the integer nearest
x / ln 2, exp(x) = 2^n exp(r), where r = x - n ln 2 (|r| <= ln 2 / 2) is taken in two
parts of ln 2 (Cody and Waite), and exp(r) = 1 + r + r^2 P(r), P Cephes' polynomial of
degree 5, evaluated by Estrin's scheme rather than Horner's (a shorter chain of dependent
operations, which is what a lone exp waits on). Every step is one float32 operation
rounded once, without fused multiply-adds, so the oracle (NumPy float32 scalars), numba
(:mod:`fastbp.kernels.numba.single`) and C (``src_cython/_expf.pxi``) compute the same
bits wherever they run; the compiled twins round x / ln 2 to n with one instruction
(``rint``), which gives the oracle's (x / ln 2 + 1.5 * 2^23) - 1.5 * 2^23. The power of
two is exact: a result is rounded only where 1 + r + r^2 P(r) is.

Why not the C library's: glibc's ``expf`` computes in double, with a table of 32 powers
of two. A vector of floats holds twice the values of one of doubles, and a table is read
one lane at a time, so the lanes kernels (a network per lane) ran it at the width of
doubles. This one runs at the width of floats: 1,000 float32 tutorial networks train in
less than half the time. Its chain of dependent operations is longer, though, so one
small float32 network online (a chain of exps) steps about a fifth slower.

It is within one unit in the last place of exp everywhere. Over all 2^32 float32 inputs,
0.42% of its results differ from the double ``exp`` rounded to float32; over inputs
spread evenly over [-87, 87], 9.9% (``benchmarks/exp32_census.py`` counts them;
``tests/test_exp32.py`` checks a sample). PyTorch's and JAX's float32 exps are
approximations of that accuracy too; glibc's ``expf`` is correctly rounded nearly
everywhere.

Where |x| < 87 (:func:`special` false), 2^n is a normal float32 and the result normal,
so kernels' loops scale by adding n to the exponent's bits, without a branch (the
``unchecked`` exp). Elsewhere: NaN returns itself, x above log(2^128) returns inf, x
below log(2^-150) returns 0, and between those bounds the result is scaled by 2^h, then
by 2^(n - h) (h = floor(n / 2)): the first product is exact, the second rounds once, to
inf or to a subnormal where the result is one.
"""

from __future__ import annotations

import math

import numpy as np

F = np.float32
#: 1 / ln 2, and the shift that rounds a float32 below 2^22 to an integer (ties to even).
LOG2E = F(float.fromhex("0x1.715476p+0"))
SHIFT = F(float.fromhex("0x1.8p23"))
#: ln 2 in two parts: n * LN2HI is exact for |n| < 2^15.
LN2HI = F(float.fromhex("0x1.63p-1"))
LN2LO = F(float.fromhex("-0x1.bd0106p-13"))
#: P(r), highest power first (Cephes' expf).
POLY = tuple(F(float.fromhex(h)) for h in ("0x1.a0d2cep-13", "0x1.6e879cp-10",
                                           "0x1.111210p-7", "0x1.555382p-5",
                                           "0x1.555554p-3", "0x1p-1"))
ONE = F(1.0)
#: The bounds beyond which the result is inf (above log 2^128) or 0 (below log 2^-150),
#: and the magnitude from which an input is special.
OVERFLOW = F(float.fromhex("0x1.62e42ep6"))
UNDERFLOW = F(float.fromhex("-0x1.9fe368p6"))
SPECIAL = F(87.0)


def _one_plus(r):
    """exp(r) = 1 + r + r^2 P(r), P by Estrin's scheme: three products-plus-constant side by
    side, so that a lone exp (a small network's step) waits on fewer operations in a row
    than by Horner's (float32 ``r``, or an array of them)."""
    r2 = r * r
    p0, p1, p2, p3, p4, p5 = POLY
    p = (p0 * r + p1) * (r2 * r2) + ((p2 * r + p3) * r2 + (p4 * r + p5))
    return (p * r2 + r) + ONE


def special(x: np.float32) -> bool:
    """Is float32 ``x`` special (|x| >= 87, inf or NaN): outside the branch-free path?"""
    return not abs(float(x)) < float(SPECIAL)


def exp32(x: np.float32) -> np.float32:
    """fastbp's float32 exp of ``x``, step by step in float32 (the oracle's)."""
    x = F(x)
    if special(x):
        if x != x:
            return x
        if x > OVERFLOW:
            return F(math.inf)
        if x < UNDERFLOW:
            return F(0.0)
    n = (x * LOG2E + SHIFT) - SHIFT
    r = (x - n * LN2HI) - n * LN2LO
    y = _one_plus(r)
    k = int(n)
    if not special(x):
        return y * F(2.0**k)
    half = k // 2
    with np.errstate(over="ignore", under="ignore"):
        return (y * F(2.0**half)) * F(2.0 ** (k - half))


def reference(xs: np.ndarray) -> np.ndarray:
    """:func:`exp32` of every element of float32 ``xs``, in NumPy (for tests and the
    census: the same sequence, vectorised)."""
    x = np.asarray(xs, dtype=F)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # special: below
        n = (x * LOG2E + SHIFT) - SHIFT
        r = (x - n * LN2HI) - n * LN2LO
        y = _one_plus(r)
        k = np.clip(np.nan_to_num(n), -160, 160).astype(np.int32)
        half = k // 2
        out = (y * np.ldexp(F(1.0), half).astype(F)) * np.ldexp(F(1.0), k - half).astype(F)
    out = np.where(x > OVERFLOW, F(np.inf), out)
    out = np.where(x < UNDERFLOW, F(0.0), out)
    return np.where(np.isnan(x), x, out)
