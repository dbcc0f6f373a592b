"""glibc's ``exp`` as data: its constants and table, the sequence in NumPy, and which of
its two builds gives this machine's C library bits. No numba here, so that the Cython
backend can ask (:func:`variant`) without importing it; :mod:`fastbp.kernels.numba.libm_exp`
compiles the same sequence for numba, ``src_cython/_exp.pxi`` for C.
"""

from __future__ import annotations

import functools
import math
import os
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np

#: The build names :func:`variant` may answer.
VARIANTS = ("fma", "plain", "libm")
#: The numbers the compiled kernels know them by (numba.batched, src_cython/_exp.pxi).
CODES = {"libm": 0, "fma": 1, "plain": 2}

# glibc's constants (e_exp_data.c, EXP_TABLE_BITS = 7, EXP_POLY_ORDER = 5).
_N = 128
INVLN2N = float.fromhex("0x1.71547652b82fep0") * _N
NEGLN2HIN = float.fromhex("-0x1.62e42fefa0000p-8")
NEGLN2LON = float.fromhex("-0x1.cf79abc9e3b3ap-47")
SHIFT = float.fromhex("0x1.8p52")
C2 = float.fromhex("0x1.ffffffffffdbdp-2")
C3 = float.fromhex("0x1.555555555543cp-3")
C4 = float.fromhex("0x1.55555cf172b91p-5")
C5 = float.fromhex("0x1.1111167a4d017p-7")


def _bits_of(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def table() -> np.ndarray:
    """glibc's ``__exp_data.tab``: for k < 128, 2^(k/128) ~= H[k] (1 + T[k]), stored as
    ``bits(T[k])`` and ``bits(H[k]) - (k << 52) / 128``, each rounded to nearest."""
    out = np.empty(2 * _N, dtype=np.uint64)
    with localcontext() as ctx:
        ctx.prec = 60
        ln2 = Decimal(2).ln()
        for k in range(_N):
            exact = (ln2 * k / _N).exp()
            head = float(exact)
            tail = float((exact - Decimal(head)) / Decimal(head))
            out[2 * k] = _bits_of(tail)
            out[2 * k + 1] = (_bits_of(head) - (k << 52) // _N) % 2**64
    return out


TAB = table()
_U = np.uint64
_ONE, _MASK, _TOP_SHIFT, _EXP_SHIFT = _U(1), _U(_N - 1), _U(52 - 7), _U(52)
_ABS_TOP, _TINY_TOP, _RANGE = _U(0x7FF), _U(0x3C9), _U(0x408 - 0x3C9)


def _fused(a, b, c):
    """a * b + c rounded once, element by element, in exact rational arithmetic."""
    return np.array([float(Fraction(x) * Fraction(y) + Fraction(z))
                     for x, y, z in np.broadcast(a, b, c)])


def _twice(a, b, c):
    return a * b + c


def reference(xs: np.ndarray, fused: bool) -> np.ndarray:
    """The same sequence in NumPy, for inputs where ``special`` is false: the
    fused build with exact fused multiply-adds (slow), else the plain one."""
    fma_ = _fused if fused else _twice
    kd = fma_(xs, INVLN2N, SHIFT)
    ki = kd.view(np.uint64)
    kd = kd - SHIFT
    r = fma_(kd, NEGLN2LON, fma_(kd, NEGLN2HIN, xs))
    idx = (ki & _MASK) << _ONE
    scale = (TAB[idx + _ONE] + (ki << _TOP_SHIFT)).view(np.float64)
    r2 = r * r
    tmp = fma_(r2 * r2, fma_(r, C5, C4), fma_(fma_(r, C3, C2), r2, TAB[idx].view(np.float64) + r))
    return fma_(scale, tmp, scale)


def _probe() -> str:
    """Which build gives ``math.exp``'s bits: the plain one is checked on 40,000
    inputs; the fused one, slow here, where the plain one differs (about one input
    in 1,500) and on 200 more."""
    xs = np.random.default_rng(20261122).uniform(-40.0, 40.0, 40_000)
    want = np.array([math.exp(x) for x in xs])
    plain = reference(xs, fused=False)
    if np.array_equal(plain, want):
        return "plain"
    check = np.concatenate([xs[plain != want][:64], xs[:200]])
    fused = reference(check, fused=True)
    return "fma" if np.array_equal(fused, np.array([math.exp(x) for x in check])) else "libm"


@functools.lru_cache(maxsize=1)
def variant() -> str:
    """``"fma"`` or ``"plain"``: the build that matches ``math.exp`` here; else ``"libm"``."""
    forced = os.environ.get("FASTBP_EXP", "")
    if forced not in ("", "auto", *VARIANTS):
        raise ValueError(f"FASTBP_EXP must be one of auto, {', '.join(VARIANTS)}; "
                         f"got {forced!r}")
    found = _probe()
    if forced in ("", "auto"):
        return found
    if forced != "libm" and forced != found:
        raise ValueError(f"FASTBP_EXP={forced}, but that exp does not give the C library's "
                         f"bits on this machine (the one that does: {found})")
    return forced


@functools.cache  # a short call asks at every call
def variant_code() -> int:
    """:func:`variant`'s answer as the compiled kernels take it (:data:`CODES`)."""
    return CODES[variant()]
