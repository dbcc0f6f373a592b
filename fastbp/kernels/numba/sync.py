"""A barrier for numba kernels run by several threads at once.

Python starts the threads (the kernels release the GIL); each runs the same kernel on
its share of every phase and waits at a barrier before the next phase reads what the
others wrote. The barrier counts arrivals in ``sync[0]`` and the phases passed in
``sync[1]``, with sequentially consistent atomic operations; a waiting thread spins a
while, then yields its core (a machine with fewer cores than threads still progresses),
then naps 20 µs at a time: an idle core takes over a thread that waits for one. With a
busy loop sharing the second core of a 2-vCPU VM, a waiter that only yielded kept its
core busy, and the thread it waited for waited behind the loop for whole scheduler
slices (64-128-10 in batches of 32 on two threads: 3.2-9.9 µs a sample; 2.0 with naps,
and the same 1.2 as before on an idle machine).
``sync[2]`` set means the caller gave up (Ctrl-C before its own share began): nobody
waits any more, and the kernels return at their next batch.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .jit import jit

_I64 = ir.IntType(64)


def _slot(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.gep(data, [index])


@intrinsic
def atomic_add(typingctx, array, index, value):
    """``array[index] += value`` atomically (int64 array); returns the old value."""
    def codegen(context, builder, sig, args):
        return builder.atomic_rmw("add", _slot(context, builder, sig.args[0], *args[:2]),
                                  args[2], "seq_cst")
    return types.int64(array, index, value), codegen


@intrinsic
def atomic_load(typingctx, array, index):
    """``array[index]`` read atomically (int64 array)."""
    def codegen(context, builder, sig, args):
        return builder.load_atomic(_slot(context, builder, sig.args[0], *args), "seq_cst", 8)
    return types.int64(array, index), codegen


@intrinsic
def atomic_store(typingctx, array, index, value):
    """``array[index] = value`` atomically (int64 array)."""
    def codegen(context, builder, sig, args):
        builder.store_atomic(args[2], _slot(context, builder, sig.args[0], *args[:2]),
                             "seq_cst", 8)
    return types.void(array, index, value), codegen


@intrinsic
def yield_core(typingctx):
    """Give the core to another thread: POSIX ``sched_yield``."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []),
                                            "sched_yield")
        builder.call(fn, [])
    return types.void(), codegen


@intrinsic
def nap(typingctx):
    """Sleep about 20 µs (POSIX ``usleep``): the core is idle meanwhile, so the kernel may
    move a thread waiting for a core to it."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(32), [ir.IntType(32)]), "usleep")
        builder.call(fn, [ir.Constant(ir.IntType(32), 20)])
    return types.void(), codegen


@jit(counted=False)
def barrier(sync, parts):
    """Wait until all ``parts`` threads have arrived (``sync``: three int64, zero at first),
    or the run is abandoned."""
    if parts == 1:
        return
    phase = atomic_load(sync, 1)
    if atomic_add(sync, 0, 1) == parts - 1:
        atomic_store(sync, 0, 0)
        atomic_add(sync, 1, 1)
        return
    spins = 0
    while atomic_load(sync, 1) == phase and atomic_load(sync, 2) == 0:
        spins += 1
        if spins > 2300:
            nap()
        elif spins > 2000:
            yield_core()


@jit(counted=False)
def abandoned(sync):
    """Has the caller given the run up?"""
    return atomic_load(sync, 2) != 0


@jit(counted=False)
def share(total, part, parts, unit):
    """``part``'s range ``[lo, hi)`` of ``0..total``, cut in whole ``unit``s, as even as
    can be: the same cut for the same arguments, whatever thread asks."""
    units = (total + unit - 1) // unit
    lo = units * part // parts * unit
    hi = units * (part + 1) // parts * unit
    return min(lo, total), min(hi, total)
