"""fastbp's float32 ``exp``: glibc's ``expf`` without fused multiply-adds, the same bits in
every backend and on every machine.

glibc (2.27 and later) computes ``expf`` in double, by a short sequence from Arm's
optimized-routines (``sysdeps/ieee754/flt-32/e_expf.c``): x * 32 / ln 2 = k + r, with k
an integer and |r| <= 1/2; then exp(x) = 2^(k/32) * 2^(r/32), the first factor from a
table of 32 powers of two, the second a polynomial of degree 3 in r. Every step is one
IEEE double operation, so a sequence written out without fused multiply-adds gives the
same bits in the oracle (Python floats), in numba (:mod:`fastbp.kernels.numba.single`)
and in C (``src_cython/_expf.pxi``), wherever they run. Its one rounding to float32 is
the last step. glibc's own build on x86-64 fuses; over all 2^32 float32 inputs the two
differ on 2. Against ``exp`` in double rounded to float32 (what the float32 kernels used
before) it differs by one unit in the last place on 170,646 inputs, all others equal
(``tests/test_exp32.py`` checks a sample; ``benchmarks/exp32_census.py`` counts them all).

It is half the work of the double ``exp`` (a table of 32 against 128 entries, a degree-3
polynomial against degree 5), and the lanes kernels run it on a vector of floats' worth
of networks.

Outside |x| < 88 (and for inf and NaN), :func:`special` is true and glibc branches:
NaN returns itself, x above log(2^128) returns inf and x below log(2^-150) returns 0;
between those bounds the sequence is still exact. Loops that vectorise run the sequence
without the branch (``unchecked``) where no input is special, as the double ``exp`` does.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext

import numpy as np

from .glibc_exp import _bits_of

_N = 32
#: 32 / ln 2, and the shift that rounds to an integer in the low bits of a double.
INVLN2N = float.fromhex("0x1.71547652b82fep0") * _N
SHIFT = float.fromhex("0x1.8p52")
#: 2^(r/32) ~= 1 + C2 r + C1 r^2 + C0 r^3 (glibc's ``__exp2f_data.poly_scaled``).
C0 = float.fromhex("0x1.c6af84b912394p-5") / _N**3
C1 = float.fromhex("0x1.ebfce50fac4f3p-3") / _N**2
C2 = float.fromhex("0x1.62e42ff0c52d6p-1") / _N
#: The float32 bounds beyond which the result is inf (above log 2^128) or 0 (below
#: log 2^-150), and the magnitude from which an input is special.
OVERFLOW = float.fromhex("0x1.62e42ep6")
UNDERFLOW = float.fromhex("-0x1.9fe368p6")
SPECIAL = 88.0


def _double_of(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits % 2**64))[0]


def table() -> np.ndarray:
    """glibc's ``__exp2f_data.tab``: ``bits(2^(k/32)) - (k << 47)`` for k < 32, the power
    rounded to the nearest double, so that adding ``k << 47`` to an entry adds k/32 to
    its exponent."""
    out = np.empty(_N, dtype=np.uint64)
    with localcontext() as ctx:
        ctx.prec = 60
        ln2 = Decimal(2).ln()
        for k in range(_N):
            out[k] = (_bits_of(float((ln2 * k / _N).exp())) - (k << 47)) % 2**64
    return out


TAB = table()
_TAB = [int(t) for t in TAB]


def special(x: float) -> bool:
    """Is ``x`` (a float32's value) one for which glibc branches: |x| >= 88, inf or NaN?"""
    return not abs(x) < SPECIAL


def exp32(x: np.float32) -> np.float32:
    """fastbp's float32 exp of ``x``, step by step in Python floats (the oracle's)."""
    v = float(x)
    if special(v):
        if v != v:
            return np.float32(v)
        if v > OVERFLOW:
            return np.float32(math.inf)
        if v < UNDERFLOW:
            return np.float32(0.0)
    z = INVLN2N * v
    kd = z + SHIFT
    ki = _bits_of(kd)
    kd = kd - SHIFT
    r = z - kd
    s = _double_of(_TAB[ki % _N] + (ki << 47))
    p = C0 * r + C1
    r2 = r * r
    y = C2 * r + 1.0
    y = p * r2 + y
    with np.errstate(over="ignore"):  # x in [88.72, 89): y rounds to inf, as in C
        return np.float32(y * s)


def reference(xs: np.ndarray) -> np.ndarray:
    """:func:`exp32` of every element of float32 ``xs``, in NumPy (for tests: the same
    sequence, vectorised)."""
    x = np.asarray(xs, dtype=np.float32)
    v = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # special inputs: replaced below
        z = INVLN2N * v
        kd = z + SHIFT
        ki = kd.view(np.uint64)
        kd = kd - SHIFT
        r = z - kd
        s = (TAB[ki & np.uint64(_N - 1)] + (ki << np.uint64(47))).view(np.float64)
        y = (C0 * r + C1) * (r * r) + (C2 * r + 1.0)
        out = (y * s).astype(np.float32)
    out = np.where(v > OVERFLOW, np.float32(np.inf), out)
    out = np.where(v < UNDERFLOW, np.float32(0.0), out)
    return np.where(np.isnan(v), x, out)
