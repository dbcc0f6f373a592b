"""256-bit vectors for numba: ``<4 x double>`` or ``<8 x float>`` values, by the dtype of
the array they are loaded from, and the few operations they need; 512-bit ones
(``wload``, ``wbroadcast``) where the CPU has them (:data:`WIDE`).

Numba enables no SLP vectoriser, so a register tile written as scalars stays scalar.
These intrinsics let a kernel hold vector accumulators in registers. Every operation is
IEEE per lane, multiply and add each rounded (no FMA, no reassociation), so a lane
computes exactly what the scalar code would. A float64 array gives 4 lanes, a float32
array 8 (:func:`width`): the same register, twice the values. ``mload`` and ``mstore``
move only a vector's first lanes: a row's last columns, fewer than a vector.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, register_model

#: Bytes of one vector register (AVX2).
BYTES = 32


def width(dtype) -> int:
    """Lanes of one vector of ``dtype`` (float64: 4, float32: 8)."""
    return BYTES // np.dtype(dtype).itemsize


def _wide() -> bool:
    """Whether numba compiles for a CPU with 512-bit vectors (AVX-512F): the features its
    code generator targets, the host's unless ``NUMBA_CPU_FEATURES`` says otherwise."""
    from numba.core import codegen, config

    features = config.CPU_FEATURES if config.CPU_FEATURES is not None \
        else codegen.get_host_cpu_features()
    return "+avx512f" in features.split(",")


#: Whether :func:`wload` and :func:`wbroadcast` are one register (else LLVM would split
#: each into two 256-bit halves: a kernel uses them only where this holds).
WIDE = _wide()


class VectorType(types.Type):
    """``width`` lanes of ``dtype`` (numba's float64 or float32), ``size`` bytes."""

    def __init__(self, dtype, size: int = BYTES) -> None:
        self.dtype, self.width = dtype, size * 8 // dtype.bitwidth
        super().__init__(name=f"{dtype}x{self.width}")


VECTORS = {types.float64: VectorType(types.float64), types.float32: VectorType(types.float32)}
WIDE_VECTORS = {dtype: VectorType(dtype, 2 * BYTES) for dtype in VECTORS}
HALF_VECTORS = {dtype: VectorType(dtype, BYTES // 2) for dtype in VECTORS}


@register_model(VectorType)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:
        super().__init__(dmm, fe_type, _ir(fe_type))


def _ir(vector: VectorType) -> ir.VectorType:
    scalar = ir.DoubleType() if vector.dtype == types.float64 else ir.FloatType()
    return ir.VectorType(scalar, vector.width)


def _address(context, builder, array_type, array, index, vector):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), _ir(vector).as_pointer())


def _splat(builder, kind: ir.VectorType, value):
    """``value`` in every lane of a vector of LLVM type ``kind``."""
    one = builder.insert_element(ir.Constant(kind, ir.Undefined), value,
                                 ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(kind, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), kind.count),
                                              [0] * kind.count))


def _typed_load(vectors: dict, name: str):
    """The typing of a vector load from a float array, called ``name``: codegen loads one
    vector of ``vectors[array.dtype]`` at ``index`` (unchecked)."""
    def typer(typingctx, array, index):
        vector = vectors[array.dtype]

        def codegen(context, builder, sig, args):
            return builder.load(_address(context, builder, sig.args[0], *args, vector),
                                align=array.dtype.bitwidth // 8)
        return vector(array, index), codegen
    typer.__name__ = typer.__qualname__ = name
    return typer


def _typed_broadcast(vectors: dict, name: str):
    """The typing of a broadcast called ``name``: ``width`` copies of ``array[index]`` in
    one vector of ``vectors[array.dtype]`` (unchecked)."""
    def typer(typingctx, array, index):
        vector = vectors[array.dtype]

        def codegen(context, builder, sig, args):
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            value = builder.load(builder.gep(data, [args[1]]),
                                 align=array.dtype.bitwidth // 8)
            return _splat(builder, _ir(vector), value)
        return vector(array, index), codegen
    typer.__name__ = typer.__qualname__ = name
    return typer


#: ``array[index:index + width]`` of a contiguous 1-D float array (unchecked).
vload = intrinsic(_typed_load(VECTORS, "vload"))
#: :func:`vload` of a 512-bit vector: twice the lanes.
wload = intrinsic(_typed_load(WIDE_VECTORS, "wload"))
#: :func:`vload` of a 128-bit vector: half the lanes (a copy of a few values at once).
hload = intrinsic(_typed_load(HALF_VECTORS, "hload"))


@intrinsic
def vstore(typingctx, array, index, value):
    """``array[index:index + width] = value`` (unchecked)."""
    def codegen(context, builder, sig, args):
        builder.store(args[2], _address(context, builder, sig.args[0], args[0], args[1],
                                        value), align=array.dtype.bitwidth // 8)
    return types.void(array, index, value), codegen


@intrinsic
def load(typingctx, array, index):
    """``array[index]`` of a float array, unchecked: no test of a negative index, which
    takes registers and instructions from the loops around it."""
    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.load(builder.gep(data, [args[1]]), align=array.dtype.bitwidth // 8)
    return array.dtype(array, index), codegen


#: ``width`` copies of ``array[index]`` (a float array; unchecked, like ``vload``).
vbroadcast = intrinsic(_typed_broadcast(VECTORS, "vbroadcast"))
#: :func:`vbroadcast` to a 512-bit vector.
wbroadcast = intrinsic(_typed_broadcast(WIDE_VECTORS, "wbroadcast"))


@intrinsic
def vmuladd(typingctx, acc, a, b):
    """``acc + a * b`` lane by lane, the product rounded before the sum (not an FMA)."""
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], builder.fmul(args[1], args[2]))
    return acc(acc, a, b), codegen


@intrinsic
def flat(typingctx, array):
    """The values of an array whose rows lie one after the other (C-contiguous;
    unchecked) as a 1-D array of the type of every other flat array a kernel reads
    (writable, whatever ``array`` is): a chunk's inputs read where they lie, by the same
    compiled product as the kernel's own buffers. No kernel writes through it."""
    result = types.Array(array.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        source = context.make_array(sig.args[0])(context, builder, args[0])
        view = context.make_array(result)(context, builder)
        context.populate_array(view, data=source.data, shape=[source.nitems],
                               strides=[source.itemsize], itemsize=source.itemsize,
                               meminfo=None)
        return view._getvalue()
    return result(array), codegen


def _lanes_below(builder, width: int, count):
    """The ``<width x i1>`` mask of the lanes ``i < count`` (an int64; none where it is 0
    or less, all from ``width``)."""
    kind = ir.VectorType(ir.IntType(64), width)
    return builder.icmp_signed("<", ir.Constant(kind, list(range(width))),
                               _splat(builder, kind, count))


def _masked_move(builder, move: str, vector: VectorType, signature: ir.FunctionType):
    """LLVM's ``llvm.masked.load`` or ``.store`` (``move``) of ``vector``: the lanes a mask
    leaves off are not read, or not written (AVX's masked moves, AVX-512's masks)."""
    lane = "f64" if vector.dtype == types.float64 else "f32"
    name = f"llvm.masked.{move}.v{vector.width}{lane}.p0"
    try:
        return builder.module.get_global(name)
    except KeyError:
        return ir.Function(builder.module, signature, name=name)


@intrinsic
def mload(typingctx, array, index, count):
    """:func:`vload` of the lanes ``i < count`` only (an int64): the others are 0 and
    not read, so a row's last columns are loaded without reading past it (unchecked)."""
    vector = VECTORS[array.dtype]

    def codegen(context, builder, sig, args):
        kind = _ir(vector)
        mask = _lanes_below(builder, vector.width, args[2])
        at = _address(context, builder, sig.args[0], args[0], args[1], vector)
        move = _masked_move(builder, "load", vector, ir.FunctionType(
            kind, [at.type, ir.IntType(32), mask.type, kind]))
        align = ir.Constant(ir.IntType(32), array.dtype.bitwidth // 8)
        return builder.call(move, [at, align, mask, ir.Constant(kind, None)])
    return vector(array, index, count), codegen


@intrinsic
def mstore(typingctx, array, index, value, count):
    """:func:`vstore` of the lanes ``i < count`` only (an int64): nothing past them is
    written (unchecked)."""
    def codegen(context, builder, sig, args):
        vector = sig.args[2]
        mask = _lanes_below(builder, vector.width, args[3])
        at = _address(context, builder, sig.args[0], args[0], args[1], vector)
        move = _masked_move(builder, "store", vector, ir.FunctionType(
            ir.VoidType(), [_ir(vector), at.type, ir.IntType(32), mask.type]))
        align = ir.Constant(ir.IntType(32), array.dtype.bitwidth // 8)
        builder.call(move, [args[2], at, align, mask])
    return types.void(array, index, value, count), codegen
