"""Four float64 lanes for numba: ``<4 x double>`` values and the few operations they need.

Numba enables no SLP vectoriser, so a register tile written as scalars stays scalar.
These intrinsics let a kernel hold ``<4 x double>`` accumulators in registers. Every
operation is IEEE per lane, multiply and add each rounded (no FMA, no reassociation),
so a lane computes exactly what the scalar code would.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, register_model

WIDTH = 4
_VEC = ir.VectorType(ir.DoubleType(), WIDTH)


class F64x4Type(types.Type):
    def __init__(self) -> None:
        super().__init__(name="f64x4")


f64x4 = F64x4Type()


@register_model(F64x4Type)
class _F64x4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _VEC)


def _address(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), _VEC.as_pointer())


@intrinsic
def vload(typingctx, array, index):
    """``array[index:index + 4]`` of a contiguous 1-D float64 array (unchecked)."""
    def codegen(context, builder, sig, args):
        return builder.load(_address(context, builder, sig.args[0], *args), align=8)
    return f64x4(array, index), codegen


@intrinsic
def vstore(typingctx, array, index, value):
    """``array[index:index + 4] = value`` (unchecked)."""
    def codegen(context, builder, sig, args):
        builder.store(args[2], _address(context, builder, sig.args[0], args[0], args[1]),
                      align=8)
    return types.void(array, index, value), codegen


@intrinsic
def vsplat(typingctx, x):
    """Four copies of the float64 ``x``."""
    def codegen(context, builder, sig, args):
        one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), args[0],
                                     ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, ir.Constant(_VEC, ir.Undefined),
                                      ir.Constant(ir.VectorType(ir.IntType(32), WIDTH),
                                                  [0] * WIDTH))
    return f64x4(types.float64), codegen


@intrinsic
def load(typingctx, array, index):
    """``array[index]`` of a float64 array, unchecked: no test of a negative index, which
    takes registers and instructions from the loops around it."""
    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.load(builder.gep(data, [args[1]]), align=8)
    return types.float64(array, index), codegen


@intrinsic
def vbroadcast(typingctx, array, index):
    """Four copies of ``array[index]`` (a float64 array; unchecked, like ``vload``)."""
    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        value = builder.load(builder.gep(data, [args[1]]), align=8)
        one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), value,
                                     ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, ir.Constant(_VEC, ir.Undefined),
                                      ir.Constant(ir.VectorType(ir.IntType(32), WIDTH),
                                                  [0] * WIDTH))
    return f64x4(array, index), codegen


@intrinsic
def vmuladd(typingctx, acc, a, b):
    """``acc + a * b`` lane by lane, the product rounded before the sum (not an FMA)."""
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], builder.fmul(args[1], args[2]))
    return f64x4(f64x4, f64x4, f64x4), codegen
