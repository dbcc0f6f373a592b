"""What a float32 kernel calls for the C library's functions. ``exp`` is fastbp's float32
exp (:mod:`fastbp.kernels.exp32`), the same sequence of double operations as the oracle's.
The others take their float32 argument as a double, call the double function and round
the result to float32, as the oracle does (``docs/design.md``). ``sqrt`` of a float32
taken in double and rounded is the float32 ``sqrt`` (correctly rounded either way); the
others are defined so.
"""

from __future__ import annotations

import math

import numpy as np

from .. import exp32
from . import libm_exp
from .jit import jit


@jit
def tanh(x):
    return np.float32(math.tanh(np.float64(x)))


@jit
def log(x):
    return np.float32(math.log(np.float64(x)))


@jit
def sqrt(x):
    return np.float32(math.sqrt(np.float64(x)))


_TAB, _MASK, _TOP = exp32.TAB, np.uint64(31), np.uint64(47)
_INVLN2N, _SHIFT, _C0, _C1, _C2 = exp32.INVLN2N, exp32.SHIFT, exp32.C0, exp32.C1, exp32.C2
_OVER, _UNDER, _SPECIAL = (np.float32(v) for v in (exp32.OVERFLOW, exp32.UNDERFLOW,
                                                     exp32.SPECIAL))


@jit
def special(x):
    """Is float32 ``x`` special for :func:`exp` (|x| >= 88, inf, NaN)?"""
    return not abs(x) < _SPECIAL


@jit
def exp(x):
    """fastbp's float32 exp (:mod:`fastbp.kernels.exp32`) of float32 ``x``."""
    if special(x):
        if x != x:
            return x
        if x > _OVER:
            return np.float32(np.inf)
        if x < _UNDER:
            return np.float32(0.0)
    return exp_unchecked(x)


@jit
def exp_unchecked(x):
    """:func:`exp` where ``special(x)`` is false; no branch, so loops of it vectorise."""
    z = _INVLN2N * np.float64(x)
    kd = z + _SHIFT
    ki = libm_exp._bits(kd)
    kd = kd - _SHIFT
    r = z - kd
    s = libm_exp._double(_TAB[ki & _MASK] + (ki << _TOP))
    p = _C0 * r + _C1
    r2 = r * r
    y = _C2 * r + 1.0
    y = p * r2 + y
    return np.float32(y * s)


#: The float32 twin of each double function a generated module names.
TWINS = {math.exp: exp, libm_exp.exp_fma: exp, libm_exp.exp_fma_unchecked: exp_unchecked,
         libm_exp.exp_plain: exp, libm_exp.exp_plain_unchecked: exp_unchecked,
         libm_exp.special: special}
#: The library calls a module's text spells out, and the names of their float32 twins.
CALLS = {"math.tanh(": ("tanh32(", tanh), "math.log(": ("log32(", log),
         "math.sqrt(": ("sqrt32(", sqrt), "math.exp(": ("exp32(", exp)}
#: The names the float32 twin of ``batched`` imports in place of ``libm_exp``'s: both of
#: glibc's builds of the double exp have the one float32 exp as their twin.
exp_fma = exp_plain = exp
exp_fma_unchecked = exp_plain_unchecked = exp_unchecked
