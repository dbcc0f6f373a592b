"""The C library's ``exp``, written out so that numba kernels can inline it (its constants,
table and probe are in :mod:`fastbp.kernels.glibc_exp`).

A call to ``exp`` costs more than the arithmetic of a tiny network's step: the
call saves every live register, and the processor cannot overlap one network's
``exp`` with another's. glibc (2.28 and later) computes ``exp`` with a short,
exactly specified sequence of float64 operations (``sysdeps/ieee754/dbl-64/e_exp.c``,
from Arm's optimized-routines): a table of 2^(k/128) and a degree-5 polynomial.
Repeating that sequence gives the same bits as the library, so the bitwise
contract holds; a kernel may use it instead of calling ``exp``.

glibc picks one of two builds of that code when it loads, by processor: one with
fused multiply-adds, where the compiler fused ``a * b + c`` into one rounding, and
one without. Both are here (``exp_fma``, ``exp_plain``). :func:`variant` tells
which of them gives the library's bits on this machine, by comparing them with
``math.exp`` (the oracle's ``exp``); where neither does (another C library, an old
glibc), it answers ``"libm"`` and kernels call the library. ``FASTBP_EXP=libm``
in the environment forces that.

Inputs outside the polynomial's range (|x| >= 512, |x| < 2^-54, inf, NaN) go to
the library in both builds, so those rare cases need no copy of glibc's code.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ..glibc_exp import (  # noqa: F401 - libm_exp.variant, .TAB, ... are its interface
    _ABS_TOP,
    _EXP_SHIFT,
    _MASK,
    _ONE,
    _RANGE,
    _TINY_TOP,
    _TOP_SHIFT,
    C2,
    C3,
    C4,
    C5,
    INVLN2N,
    NEGLN2HIN,
    NEGLN2LON,
    SHIFT,
    TAB,
    VARIANTS,
    reference,
    table,
    variant,
)
from .jit import jit


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with one rounding (LLVM's ``llvm.fma.f64``)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@intrinsic
def _bits(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def _double(typingctx, u):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


@jit
def special(x):
    """Is ``x`` outside the polynomial's range, where glibc takes another path?"""
    return ((_bits(x) >> _EXP_SHIFT) & _ABS_TOP) - _TINY_TOP >= _RANGE


@jit
def exp_fma(x):
    """glibc's ``exp`` as built with fused multiply-adds (``__exp_fma``)."""
    return math.exp(x) if special(x) else exp_fma_unchecked(x)


@jit
def exp_fma_unchecked(x):
    """``exp_fma`` where ``special(x)`` is false; no branch, so loops of it vectorise."""
    kd = fma(x, INVLN2N, SHIFT)
    ki = _bits(kd)
    kd = kd - SHIFT
    r = fma(kd, NEGLN2LON, fma(kd, NEGLN2HIN, x))
    idx = (ki & _MASK) << _ONE
    scale = _double(TAB[idx + _ONE] + (ki << _TOP_SHIFT))
    r2 = r * r
    tmp = fma(r2 * r2, fma(r, C5, C4), fma(fma(r, C3, C2), r2, _double(TAB[idx]) + r))
    return fma(scale, tmp, scale)


@jit
def exp_plain(x):
    """glibc's ``exp`` as built without fused multiply-adds (``__exp_sse2``)."""
    return math.exp(x) if special(x) else exp_plain_unchecked(x)


@jit
def exp_plain_unchecked(x):
    """``exp_plain`` where ``special(x)`` is false; no branch, so loops of it vectorise."""
    kd = INVLN2N * x + SHIFT
    ki = _bits(kd)
    kd = kd - SHIFT
    r = (x + kd * NEGLN2HIN) + kd * NEGLN2LON
    idx = (ki & _MASK) << _ONE
    scale = _double(TAB[idx + _ONE] + (ki << _TOP_SHIFT))
    r2 = r * r
    tmp = ((_double(TAB[idx]) + r) + r2 * (C2 + r * C3)) + (r2 * r2) * (C4 + r * C5)
    return scale + scale * tmp
