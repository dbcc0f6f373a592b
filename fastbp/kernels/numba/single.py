"""What a float32 kernel calls for the C library's functions: each takes its float32
argument as a double, calls the double function (glibc's ``exp`` inlined where
:mod:`fastbp.kernels.numba.libm_exp` verified it) and rounds the result to float32, as
the oracle does (``docs/design.md``). ``sqrt`` of a float32 taken in double and rounded
is the float32 ``sqrt`` (correctly rounded either way); the others are defined so.
"""

from __future__ import annotations

import math

import numpy as np

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


@jit
def exp_libm(x):
    return np.float32(math.exp(np.float64(x)))


@jit
def exp_fma(x):
    return np.float32(libm_exp.exp_fma(np.float64(x)))


@jit
def exp_fma_unchecked(x):
    return np.float32(libm_exp.exp_fma_unchecked(np.float64(x)))


@jit
def exp_plain(x):
    return np.float32(libm_exp.exp_plain(np.float64(x)))


@jit
def exp_plain_unchecked(x):
    return np.float32(libm_exp.exp_plain_unchecked(np.float64(x)))


@jit
def special(x):
    return libm_exp.special(np.float64(x))


#: The float32 twin of each double function a generated module names.
TWINS = {math.exp: exp_libm, libm_exp.exp_fma: exp_fma,
         libm_exp.exp_fma_unchecked: exp_fma_unchecked, libm_exp.exp_plain: exp_plain,
         libm_exp.exp_plain_unchecked: exp_plain_unchecked, libm_exp.special: special}
#: The library calls a module's text spells out, and the names of their float32 twins.
CALLS = {"math.tanh(": ("tanh32(", tanh), "math.log(": ("log32(", log),
         "math.sqrt(": ("sqrt32(", sqrt), "math.exp(": ("exp32(", exp_libm)}
