"""What a float32 kernel calls for the C library's functions. ``exp`` is fastbp's float32
exp (:mod:`fastbp.kernels.exp32`), the same sequence of float32 operations as the oracle's.
The others take their float32 argument as a double, call the double function and round
the result to float32, as the oracle does (``docs/design.md``). ``sqrt`` of a float32
taken in double and rounded is the float32 ``sqrt`` (correctly rounded either way); the
others are defined so.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

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


_LOG2E, _SHIFT, _LN2HI, _LN2LO, _ONE = (exp32.LOG2E, exp32.SHIFT, exp32.LN2HI, exp32.LN2LO,
                                        exp32.ONE)
_P0, _P1, _P2, _P3, _P4, _P5 = exp32.POLY
_OVER, _UNDER, _SPECIAL = exp32.OVERFLOW, exp32.UNDERFLOW, exp32.SPECIAL


@intrinsic
def _power(typingctx, shifted):
    """2^n, from ``shifted`` = x / ln 2 + 1.5 * 2^23, whose low bits hold n (|n| < 127):
    n moved into a float32's exponent bits (the twin of the C ``fastbp_exp32_power``)."""
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        bits = builder.shl(builder.bitcast(args[0], i32), ir.Constant(i32, 23))
        return builder.bitcast(builder.add(bits, ir.Constant(i32, 0x3F800000)), ir.FloatType())

    return types.float32(types.float32), codegen


@jit
def special(x):
    """Is float32 ``x`` special for :func:`exp` (|x| >= 87, inf, NaN)?"""
    return not abs(x) < _SPECIAL


@jit
def _reduced(x):
    """(2^n as x / ln 2 + 1.5 * 2^23, exp(r) = 1 + r + r^2 P(r)): :mod:`..exp32`'s steps."""
    shifted = x * _LOG2E + _SHIFT
    n = shifted - _SHIFT
    r = (x - n * _LN2HI) - n * _LN2LO
    p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    return shifted, (p * (r * r) + r) + _ONE


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
        shifted, y = _reduced(x)
        k = int(shifted - _SHIFT)
        half = k // 2
        return (y * np.float32(math.ldexp(1.0, half))) * np.float32(math.ldexp(1.0, k - half))
    return exp_unchecked(x)


@jit
def exp_unchecked(x):
    """:func:`exp` where ``special(x)`` is false; no branch, so loops of it vectorise."""
    shifted, y = _reduced(x)
    return y * _power(shifted)


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
