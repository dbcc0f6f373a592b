"""Many small networks trained online side by side, one per vector lane, for any shape: the
generic tier of ``train_many`` (:mod:`fastbp.kernels.numba.tiers`), which a new shape runs
at once while its unrolled ``kernel_many`` (:mod:`fastbp.kernels.numba.unrolled`) is not
compiled, or where that would not pay.

Generated from the one description of the step (:mod:`fastbp.kernels.step`) by
:func:`codegen.lanes_module`: every value of a group of ``G`` networks lives in one
scratch array, row by row (``S[row * G + lane]``), each assignment a loop over the lanes,
innermost, which LLVM vectorises (glibc's exp inlined, where
:func:`fastbp.kernels.glibc_exp.variant` has verified it). Each lane does exactly the
scalar operations of the oracle, so every network has the bits of training it alone.
Twin: ``_train_lanes``, the same description written in Cython (``_lanes_looped.pxi``).

``train_lanes(params, velocity, layout, acts, loss, X, Y, epochs, order, lrs, opt,
decay, train_bias, G, SW)``: a kernel for each of Adam, SGD and Nesterov's SGD, with and
without sample weights, each compiled at its first use.
"""

from __future__ import annotations

from ..limits import GENERIC_LANES, lanes_in
from .unrolled import lanes_kernels


def kernel(opt, weighted: bool, real: str = "float64"):
    """The numba dispatcher of the lanes kernel for the rule ``opt`` holds
    (``Rule.opt``) and sample weights (or none), computing in ``real``."""
    return lanes_kernels((bool(opt[2] != 0.0), bool(opt[1] != 0.0 and opt[2] == 0.0),
                          bool(weighted)), real)["train_lanes"]


def train_lanes(params, velocity, layout, acts, loss, X, Y, epochs, order, lrs, opt, decay,
                train_bias, G, SW) -> None:
    """Train every row of ``params`` by the lanes kernel of ``opt``'s rule, in the
    parameters' dtype."""
    kernel(opt, SW.shape[0] > 0, params.dtype.name)(params, velocity, layout, acts, loss, X,
                                                    Y, epochs, order, lrs, opt, decay,
                                                    train_bias, G, SW)


def lanes(n_params: int, itemsize: int = 8) -> int:
    """Networks per group: :data:`fastbp.kernels.limits.GENERIC_LANES` of float64's,
    twice as many of float32's."""
    return lanes_in(GENERIC_LANES, itemsize)
