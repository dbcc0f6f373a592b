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


_LOG2E, _LN2HI, _LN2LO, _ONE = exp32.LOG2E, exp32.LN2HI, exp32.LN2LO, exp32.ONE
_P0, _P1, _P2, _P3, _P4, _P5 = exp32.POLY
_OVER, _UNDER, _SPECIAL = exp32.OVERFLOW, exp32.UNDERFLOW, exp32.SPECIAL


@intrinsic
def _rint(typingctx, z):
    """z rounded to the nearest integer, ties to even: ``(z + 1.5 * 2^23) - 1.5 * 2^23``
    (the oracle's steps) for |z| < 2^22, in one instruction."""
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.rint", [ir.FloatType()])
        return builder.call(fn, [args[0]])

    return types.float32(types.float32), codegen


@intrinsic
def _power(typingctx, n):
    """2^n for an integer-valued float32 ``n``, |n| < 127: the low bits of n + 1.5 * 2^23
    (exact) moved into the exponent's (as the C ``fastbp_exp32_power`` does). No conversion
    to an integer: an input too large for one (a lane's rare input, whose result is
    redone) would make LLVM's value undefined."""
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        shifted = builder.fadd(args[0], ir.Constant(ir.FloatType(), float(exp32.SHIFT)))
        bits = builder.shl(builder.bitcast(shifted, i32), ir.Constant(i32, 23))
        return builder.bitcast(builder.add(bits, ir.Constant(i32, 0x3F800000)), ir.FloatType())

    return types.float32(types.float32), codegen


@jit
def special(x):
    """Is float32 ``x`` special for :func:`exp` (|x| >= 87, inf, NaN)?"""
    return not abs(x) < _SPECIAL


@jit
def _reduced(x):
    """(n, exp(r) = 1 + r + r^2 P(r)): :mod:`..exp32`'s steps."""
    n = _rint(x * _LOG2E)
    r = (x - n * _LN2HI) - n * _LN2LO
    r2 = r * r
    p = (_P0 * r + _P1) * (r2 * r2) + ((_P2 * r + _P3) * r2 + (_P4 * r + _P5))
    return n, (p * r2 + r) + _ONE


@jit(inline="always")
def exp(x):
    """fastbp's float32 exp (:mod:`fastbp.kernels.exp32`) of float32 ``x``. Its test and
    common path are inlined where it is called, its rare inputs' path called (as numba's
    double exp, whose rare inputs call the C library): called whole, it was 43% of the
    tutorial network's float32 step, which LLVM did not inline."""
    return _rare(x) if special(x) else exp_unchecked(x)


@jit
def _rare(x):
    """:func:`exp` of an ``x`` that is ``special``: NaN, overflow, underflow, and 2^n in two
    halves for the rest (the oracle's steps)."""
    if x != x:
        return x
    if x > _OVER:
        return np.float32(np.inf)
    if x < _UNDER:
        return np.float32(0.0)
    n, y = _reduced(x)
    k = int(n)
    half = k // 2
    return (y * np.float32(math.ldexp(1.0, half))) * np.float32(math.ldexp(1.0, k - half))


@jit
def exp_unchecked(x):
    """:func:`exp` where ``special(x)`` is false; no branch, so loops of it vectorise."""
    n, y = _reduced(x)
    return y * _power(n)


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
