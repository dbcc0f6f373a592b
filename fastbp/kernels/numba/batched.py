"""Batched numba kernels: a batch's forward pass, deltas and gradient as tiled products.

Every sum of a batch is a matrix product whose terms are added in a fixed order:
the net inputs ``Z = A Wᵀ`` (over a layer's inputs, then the bias), the hidden
deltas ``D W`` (over the next layer's neurons) and the gradient ``Σ_s δ_s a_sᵀ``
(over the batch's samples, in visiting order). :func:`product` computes each
output element of such a product in a register, from its current value, adding
the terms in that order: a tile of 6 rows by two vectors of columns holds 12 vector
accumulators (``<4 x double>``, 8 columns; ``<8 x float>``, 16 in float32), and the
loop over the summation index runs inside the tile; where the CPU has 512-bit vectors,
two tiles run at once (:func:`_tile2`: 12 rows by one vector). No
sum is split, so every element has the oracle's bits however the tiles fall.

Twin: ``src_cython/_batched.pxi``, function by function.
"""

from __future__ import annotations

import numpy as np

from ...base.functions import LOGISTIC, SOFTMAX, SQUARED
from ..glibc_exp import CODES
from ..limits import BLOCK_ROWS as MC  # a cache block: terms of each sum by rows
from ..limits import BLOCK_TERMS as KC
from ..limits import CHUNK  # samples per pass of forward, mean_loss and gradients
from ..limits import PADDED_ROWS as PADDED  # leftover rows run as a tile padded with 0s
from ..limits import TILE_ROWS as MR  # a register tile: rows by two vectors of columns
from .element import U, _activate, _derivative, _sample_loss
from .jit import jit
from .libm_exp import exp_fma, exp_fma_unchecked, exp_plain, exp_plain_unchecked, special
from .simd import (
    WIDE,
    flat,
    hload,
    load,
    mload,
    mstore,
    vbroadcast,
    vload,
    vmuladd,
    vstore,
    wbroadcast,
    width,
    wload,
)
from .sync import abandoned, barrier, share
from .unrolled import stage_kernels

#: What this module computes in. Its float32 twin is this text with ``F = np.float32``
#: (:func:`fastbp.kernels.numba.unrolled.twin`): every float literal then a float32, the
#: C library's functions their float32 twins, the vectors 8 floats wide.
F = np.float64
W = width(F)  # lanes of a vector
H = W // 2  # lanes of a half vector (hload)
NR = 2 * W  # columns of a register tile: two vectors

# The update stage, generated from the description of the step (fastbp.kernels.step)
update_range, update_sample, adam_step = stage_kernels(F.__name__)


@jit(inline="always")
def _tile_wide(lhs, l_at, lr, lk, rhs, r_at, rk, out, o_at, orow, depth):
    """:func:`_tile` where the CPU has 512-bit vectors (``WIDE``): the same sums, 6 rows
    by one vector, six accumulators (twin: ``_tile``, C in _batched.pxi, its AVX-512 branch)."""
    c0, c1, c2 = wload(out, o_at), wload(out, o_at + orow), wload(out, o_at + 2 * orow)
    c3, c4, c5 = wload(out, o_at + 3 * orow), wload(out, o_at + 4 * orow), \
        wload(out, o_at + 5 * orow)
    p, q = l_at, r_at
    for _ in range(depth):
        w = wload(rhs, q)
        c0 = vmuladd(c0, w, wbroadcast(lhs, p))
        c1 = vmuladd(c1, w, wbroadcast(lhs, p + lr))
        c2 = vmuladd(c2, w, wbroadcast(lhs, p + 2 * lr))
        c3 = vmuladd(c3, w, wbroadcast(lhs, p + 3 * lr))
        c4 = vmuladd(c4, w, wbroadcast(lhs, p + 4 * lr))
        c5 = vmuladd(c5, w, wbroadcast(lhs, p + 5 * lr))
        p += lk
        q += rk
    vstore(out, o_at, c0)
    vstore(out, o_at + orow, c1)
    vstore(out, o_at + 2 * orow, c2)
    vstore(out, o_at + 3 * orow, c3)
    vstore(out, o_at + 4 * orow, c4)
    vstore(out, o_at + 5 * orow, c5)


@jit(inline="always")
def _tile(lhs, l_at, lr, lk, rhs, r_at, rk, out, o_at, orow, depth):
    """The 6x8 block at ``out[o_at]``: += Σ_k lhs[l_at + i lr + k lk] rhs[r_at + k rk + j],
    two vectors a row (twin: ``_tile``, C in _batched.pxi)."""
    c00 = vload(out, o_at)
    c01 = vload(out, o_at + W)
    c10 = vload(out, o_at + orow)
    c11 = vload(out, o_at + orow + W)
    c20 = vload(out, o_at + 2 * orow)
    c21 = vload(out, o_at + 2 * orow + W)
    c30 = vload(out, o_at + 3 * orow)
    c31 = vload(out, o_at + 3 * orow + W)
    c40 = vload(out, o_at + 4 * orow)
    c41 = vload(out, o_at + 4 * orow + W)
    c50 = vload(out, o_at + 5 * orow)
    c51 = vload(out, o_at + 5 * orow + W)
    p, q = l_at, r_at
    for _ in range(depth):
        w0 = vload(rhs, q)
        w1 = vload(rhs, q + W)
        x = vbroadcast(lhs, p)
        c00 = vmuladd(c00, w0, x)
        c01 = vmuladd(c01, w1, x)
        x = vbroadcast(lhs, p + lr)
        c10 = vmuladd(c10, w0, x)
        c11 = vmuladd(c11, w1, x)
        x = vbroadcast(lhs, p + 2 * lr)
        c20 = vmuladd(c20, w0, x)
        c21 = vmuladd(c21, w1, x)
        x = vbroadcast(lhs, p + 3 * lr)
        c30 = vmuladd(c30, w0, x)
        c31 = vmuladd(c31, w1, x)
        x = vbroadcast(lhs, p + 4 * lr)
        c40 = vmuladd(c40, w0, x)
        c41 = vmuladd(c41, w1, x)
        x = vbroadcast(lhs, p + 5 * lr)
        c50 = vmuladd(c50, w0, x)
        c51 = vmuladd(c51, w1, x)
        p += lk
        q += rk
    vstore(out, o_at, c00)
    vstore(out, o_at + W, c01)
    vstore(out, o_at + orow, c10)
    vstore(out, o_at + orow + W, c11)
    vstore(out, o_at + 2 * orow, c20)
    vstore(out, o_at + 2 * orow + W, c21)
    vstore(out, o_at + 3 * orow, c30)
    vstore(out, o_at + 3 * orow + W, c31)
    vstore(out, o_at + 4 * orow, c40)
    vstore(out, o_at + 4 * orow + W, c41)
    vstore(out, o_at + 5 * orow, c50)
    vstore(out, o_at + 5 * orow + W, c51)


#: The 6x8 tile on this CPU: one 512-bit vector a row where it has them (half the
#: instructions: on Zen 4 52-54 GFLOP/s in a C bench against 38-52), else two 256-bit ones.
_tile_here = _tile_wide if WIDE else _tile


@jit(inline="always")
def _tile2(lhs, l_at, l2_at, lr, lk, rhs, r_at, rk, out, o_at, orow, depth):
    """Two tiles at once, where the CPU has 512-bit vectors (:data:`WIDE`): 12 rows by one
    vector of 8 (float32: 16) columns, rows 0-5 read from ``lhs[l_at + i lr + k lk]`` and
    6-11 from ``lhs[l2_at + (i - 6) lr + k lk]`` (twin: ``_tile2``, C in
    _batched.pxi). The sums of two :func:`_tile` calls, in half the instructions."""
    o2 = o_at + 6 * orow
    c0, c1, c2 = wload(out, o_at), wload(out, o_at + orow), wload(out, o_at + 2 * orow)
    c3, c4, c5 = wload(out, o_at + 3 * orow), wload(out, o_at + 4 * orow), \
        wload(out, o_at + 5 * orow)
    c6, c7, c8 = wload(out, o2), wload(out, o2 + orow), wload(out, o2 + 2 * orow)
    c9, c10, c11 = wload(out, o2 + 3 * orow), wload(out, o2 + 4 * orow), \
        wload(out, o2 + 5 * orow)
    p, m, q = l_at, l2_at, r_at
    for _ in range(depth):
        w = wload(rhs, q)
        c0 = vmuladd(c0, w, wbroadcast(lhs, p))
        c1 = vmuladd(c1, w, wbroadcast(lhs, p + lr))
        c2 = vmuladd(c2, w, wbroadcast(lhs, p + 2 * lr))
        c3 = vmuladd(c3, w, wbroadcast(lhs, p + 3 * lr))
        c4 = vmuladd(c4, w, wbroadcast(lhs, p + 4 * lr))
        c5 = vmuladd(c5, w, wbroadcast(lhs, p + 5 * lr))
        c6 = vmuladd(c6, w, wbroadcast(lhs, m))
        c7 = vmuladd(c7, w, wbroadcast(lhs, m + lr))
        c8 = vmuladd(c8, w, wbroadcast(lhs, m + 2 * lr))
        c9 = vmuladd(c9, w, wbroadcast(lhs, m + 3 * lr))
        c10 = vmuladd(c10, w, wbroadcast(lhs, m + 4 * lr))
        c11 = vmuladd(c11, w, wbroadcast(lhs, m + 5 * lr))
        p += lk
        m += lk
        q += rk
    vstore(out, o_at, c0)
    vstore(out, o_at + orow, c1)
    vstore(out, o_at + 2 * orow, c2)
    vstore(out, o_at + 3 * orow, c3)
    vstore(out, o_at + 4 * orow, c4)
    vstore(out, o_at + 5 * orow, c5)
    vstore(out, o2, c6)
    vstore(out, o2 + orow, c7)
    vstore(out, o2 + 2 * orow, c8)
    vstore(out, o2 + 3 * orow, c9)
    vstore(out, o2 + 4 * orow, c10)
    vstore(out, o2 + 5 * orow, c11)


@jit(counted=False)
def product(lhs, l_at, lr, lk, rhs, r_at, rk, out, o_at, orow, rows, cols, depth, pack,
            p_at):
    """``out[i, j] += Σ_k L[i, k] R[k, j]`` for ``i < rows, j < cols``, each element's sum
    continued from its current value with its terms in ``k`` order.

    ``L[i, k] = lhs[l_at + i lr + k lk]``, ``R[k, j] = rhs[r_at + k rk + j]`` and
    ``out[i, j] = out[o_at + i orow + j]``, all flat float64 arrays. The work goes in
    blocks of ``KC`` terms and ``MC`` rows, so that what a block reads stays in cache;
    the blocks of terms go in order, each continuing the sums the last one stored.
    Within a block the tiles read ``R``'s block packed in ``pack[p_at:]`` (``KC *
    cols + PACK_EXTRA`` values) panel by panel, and ``L`` in place, except where its rows
    are adjacent (``lr`` 1: a gradient's activations), whose block is packed tile by
    tile. A block's last rows short of a tile, ``PADDED`` or more, run as one on copies
    padded with rows of zeros (whose sums are dropped); fewer go one by one. The columns
    short of a tile run as one more panel padded with zero columns where that is faster
    (:func:`_pads`, :func:`_padded_columns`: a layer of 10 outputs in float32, which a
    vector and two lone columns took twice as long). A copy changes no bit.
    """
    tiled = cols - cols % NR
    padded = rows >= MR and _pads(cols - tiled)
    for k0 in range(0, depth, KC):
        kd = min(KC, depth - k0)
        # R's block, panel by panel of NR columns: pack[p_at + (j kd + k NR) + jj]; not
        # where no whole tile reads it (a batch of fewer than MR samples).
        for j in range(0, tiled if rows >= MR else 0, NR):
            for k in range(kd):
                src, dst = r_at + (k0 + k) * rk + j, p_at + j * kd + k * NR
                vstore(pack, dst, vload(rhs, src))
                vstore(pack, dst + W, vload(rhs, src + W))
        if padded:  # and the columns short of a tile, padded with zeros, as one more
            for k in range(kd):
                src, dst = r_at + (k0 + k) * rk + tiled, p_at + tiled * kd + k * NR
                for jj in range(NR):
                    pack[U(dst + jj)] = load(rhs, src + jj) if tiled + jj < cols else 0.0
        lp = p_at + KC * (tiled + NR)
        for i0 in range(0, rows, MC):
            md = min(MC, rows - i0)
            whole = md - md % MR
            if lr == 1:  # L's block, tile by tile: pack[lp + (i kd + k MR) + ii]
                for i in range(0, whole, MR):
                    for k in range(kd):
                        src, dst = l_at + i0 + i + (k0 + k) * lk, lp + i * kd + k * MR
                        if MR <= W:  # one vector, its lanes past MR masked off
                            mstore(pack, dst, mload(lhs, src, MR), MR)
                        else:  # half vectors, then single values (as Cython's memcpy)
                            for ii in range(0, MR - MR % H, H):
                                vstore(pack, dst + ii, hload(lhs, src + ii))
                            for ii in range(MR - MR % H, MR):
                                pack[U(dst + ii)] = load(lhs, src + ii)
            i = 0
            while i < whole:  # a row of tiles at a time: its rows of L stay in cache
                pair = WIDE and i + 2 * MR <= whole  # two at once: _tile2
                for j in range(0, tiled, NR):
                    o = o_at + (i0 + i) * orow + j
                    if lr == 1 and pair:
                        _tile2(pack, lp + i * kd, lp + (i + MR) * kd, 1, MR, pack,
                               p_at + j * kd, NR, out, o, orow, kd)
                    elif lr == 1:
                        _tile_here(pack, lp + i * kd, 1, MR, pack, p_at + j * kd, NR, out,
                                   o, orow, kd)
                    elif pair:
                        p = l_at + (i0 + i) * lr + k0 * lk
                        _tile2(lhs, p, p + MR * lr, lr, lk, pack, p_at + j * kd, NR, out, o,
                               orow, kd)
                    else:
                        _tile_here(lhs, l_at + (i0 + i) * lr + k0 * lk, lr, lk, pack,
                                   p_at + j * kd, NR, out, o, orow, kd)
                i += 2 * MR if pair else MR
            if md - whole >= PADDED and tiled > 0:
                lq = lp + MC * KC  # the leftover rows' block, padded: pack[lq + k MR + ii]
                oq = lq + MR * KC  # and their sums: pack[oq + ii NR + jj]
                for k in range(kd):
                    src = l_at + (i0 + whole) * lr + (k0 + k) * lk
                    for ii in range(MR):
                        pack[U(lq + k * MR + ii)] = \
                            load(lhs, src + ii * lr) if whole + ii < md else 0.0
                for j in range(0, tiled, NR):
                    o = o_at + (i0 + whole) * orow + j
                    for ii in range(MR):
                        for jj in range(NR):
                            pack[U(oq + ii * NR + jj)] = \
                                out[U(o + ii * orow + jj)] if whole + ii < md else 0.0
                    if rows >= MR:
                        _tile_here(pack, lq, 1, MR, pack, p_at + j * kd, NR, pack, oq, NR, kd)
                    else:
                        _tile_here(pack, lq, 1, MR, rhs, r_at + k0 * rk + j, rk, pack, oq, NR,
                                   kd)
                    for ii in range(md - whole):
                        for jj in range(NR):
                            out[U(o + ii * orow + jj)] = pack[U(oq + ii * NR + jj)]
            if padded:
                _padded_columns(lhs, l_at + i0 * lr + k0 * lk, lr, lk, pack, p_at + tiled * kd,
                                out, o_at + i0 * orow + tiled, orow, md, cols - tiled, kd,
                                lp, lp + MC * KC)
            _leftovers(lhs, l_at + i0 * lr + k0 * lk, lr, lk, rhs, r_at + k0 * rk, rk, out,
                       o_at + i0 * orow, orow, md, tiled if padded else cols, kd)


@jit(inline="always")
def _pads(left):
    """Do a product's ``left`` columns short of a tile run as a tile padded with zero
    columns? Where a vector and single columns would take longer: a column alone is a
    chain of dependent adds, a vector of them half a tile (twin: ``_pads``)."""
    return left >= 2 and left != W


@jit(inline="always")
def _padded_columns(lhs, l_at, lr, lk, pack, panel, out, o_at, orow, rows, left, depth,
                    lp, lq):
    """One block's ``left`` columns short of a tile (``out[o_at + i orow + j]``, ``j <
    left``), every row of it, as tiles padded with zero columns: ``R``'s columns are packed
    at ``pack[panel]``, padded; each tile's sums are copied out to ``pack[lq + MR KC]``
    and back, and its last rows short of a tile are read from ``pack[lq]``, padded with
    zero rows. ``L`` is read where :func:`product`'s tiles read it (packed at ``lp`` where
    ``lr`` is 1). A padded lane's sum is dropped; no other changes a bit (twin:
    ``_padded_columns``)."""
    oq = lq + MR * KC
    whole = rows - rows % MR
    for i in range(0, rows, MR):
        n = min(MR, rows - i)
        if n < MR:
            for k in range(depth):
                src = l_at + i * lr + k * lk
                for ii in range(MR):
                    pack[U(lq + k * MR + ii)] = load(lhs, src + ii * lr) if ii < n else 0.0
        o = o_at + i * orow
        for ii in range(MR):
            for jj in range(NR):
                pack[U(oq + ii * NR + jj)] = \
                    out[U(o + ii * orow + jj)] if ii < n and jj < left else 0.0
        if i >= whole:
            _tile_here(pack, lq, 1, MR, pack, panel, NR, pack, oq, NR, depth)
        elif lr == 1:
            _tile_here(pack, lp + i * depth, 1, MR, pack, panel, NR, pack, oq, NR, depth)
        else:
            _tile_here(lhs, l_at + i * lr, lr, lk, pack, panel, NR, pack, oq, NR, depth)
        for ii in range(n):
            for jj in range(left):
                out[U(o + ii * orow + jj)] = pack[U(oq + ii * NR + jj)]


@jit(inline="always")
def _few_rows(lhs, l_at, lr, lk, rhs, r_at, rk, out, o_at, orow, rows, cols, depth):
    """:func:`product` for fewer than ``PADDED`` rows, as it computes them (a block of
    ``KC`` terms at a time, :func:`_leftovers`), without its call: a call passes every
    array as its parts, and prepares for tiles, which took longer than a sample's
    arithmetic in online training."""
    for k0 in range(0, depth, KC):
        _leftovers(lhs, l_at + k0 * lk, lr, lk, rhs, r_at + k0 * rk, rk, out, o_at, orow,
                   rows, cols, min(KC, depth - k0))


@jit(inline="always")
def _leftovers(lhs, l_at, lr, lk, rhs, r_at, rk, out, o_at, orow, rows, cols, depth):
    """What the tiles of one block of :func:`product` leave: fewer than ``PADDED`` rows
    short of a tile, one at a time, every column (8, 6 or 4 vectors at once, then the
    fewer than four left in one pass, :func:`_row_rest`: a batch of one sample, online
    training, whose row's sums wait for each add); then, of the rows whose tiles ran, the
    columns short of a tile that :func:`_pads` leaves, a vector of them six rows at a time
    (:func:`_strip`), then one at a time four rows at a time (four sums in flight: one sum
    waits for its last add), the rows left two columns at a time."""
    tiled = cols - cols % NR
    whole = rows - rows % MR
    alone = whole if rows - whole < PADDED else rows  # the rows done here, one at a time
    for i in range(alone, rows):
        p, o = l_at + i * lr, o_at + i * orow
        j = 0
        while j + 4 * NR <= cols:
            _row32(lhs, p, lk, rhs, r_at + j, rk, out, o + j, depth)
            j += 4 * NR
        if cols - j >= 3 * NR:
            _row24(lhs, p, lk, rhs, r_at + j, rk, out, o + j, depth)
            j += 3 * NR
        elif cols - j >= 2 * NR:
            _row16(lhs, p, lk, rhs, r_at + j, rk, out, o + j, depth)
            j += 2 * NR
        if j < cols:
            _row_rest(lhs, p, lk, rhs, r_at + j, rk, out, o + j, depth, cols - j)
    rows = alone  # the columns short of a tile of the rows whose tiles ran elsewhere
    j = tiled
    if cols - j >= W:
        i = 0
        while i + MR <= rows:
            _strip(lhs, l_at + i * lr, lr, lk, rhs, r_at + j, rk, out, o_at + i * orow + j,
                   orow, depth)
            i += MR
        for r in range(i, rows):
            o = o_at + r * orow + j
            c = vload(out, o)
            p, q = l_at + r * lr, r_at + j
            for _ in range(depth):
                c = vmuladd(c, vload(rhs, q), vbroadcast(lhs, p))
                p += lk
                q += rk
            vstore(out, o, c)
        j += W
    four = rows - rows % 4
    for jj in range(j, cols):
        q = r_at + jj
        i = 0
        while i + 4 <= rows:
            p, o = l_at + i * lr, o_at + i * orow + jj
            s0, s1 = out[o], out[o + orow]
            s2, s3 = out[o + 2 * orow], out[o + 3 * orow]
            qk = q
            for _ in range(depth):
                w = load(rhs, qk)
                s0 += w * load(lhs, p)
                s1 += w * load(lhs, p + lr)
                s2 += w * load(lhs, p + 2 * lr)
                s3 += w * load(lhs, p + 3 * lr)
                p += lk
                qk += rk
            out[o], out[o + orow], out[o + 2 * orow], out[o + 3 * orow] = s0, s1, s2, s3
            i += 4
    for r in range(four, rows):  # the rows left, two columns at a time: two sums in flight
        jj = j
        while jj + 2 <= cols:
            o, q, p = o_at + r * orow + jj, r_at + jj, l_at + r * lr
            s0, s1 = out[o], out[o + 1]
            for _ in range(depth):
                v = load(lhs, p)
                s0 += load(rhs, q) * v
                s1 += load(rhs, q + 1) * v
                p += lk
                q += rk
            out[o], out[o + 1] = s0, s1
            jj += 2
        if jj < cols:
            s = out[o_at + r * orow + jj]
            for k in range(depth):
                s += load(rhs, r_at + jj + k * rk) * load(lhs, l_at + r * lr + k * lk)
            out[o_at + r * orow + jj] = s


@jit(inline="always")
def _row32(lhs, p, lk, rhs, r_at, rk, out, o, depth):
    """One row, eight vectors of columns (32 in float64): ``out[o + j] += Σ_k lhs[p + k lk]
    rhs[r_at + k rk + j]``, eight sums in flight (twin: ``_row32``, C in _batched.pxi)."""
    c0, c1, c2, c3 = vload(out, o), vload(out, o + W), vload(out, o + 2 * W), \
        vload(out, o + 3 * W)
    c4, c5, c6, c7 = vload(out, o + 4 * W), vload(out, o + 5 * W), vload(out, o + 6 * W), \
        vload(out, o + 7 * W)
    q = r_at
    for _ in range(depth):
        x = vbroadcast(lhs, p)
        c0 = vmuladd(c0, vload(rhs, q), x)
        c1 = vmuladd(c1, vload(rhs, q + W), x)
        c2 = vmuladd(c2, vload(rhs, q + 2 * W), x)
        c3 = vmuladd(c3, vload(rhs, q + 3 * W), x)
        c4 = vmuladd(c4, vload(rhs, q + 4 * W), x)
        c5 = vmuladd(c5, vload(rhs, q + 5 * W), x)
        c6 = vmuladd(c6, vload(rhs, q + 6 * W), x)
        c7 = vmuladd(c7, vload(rhs, q + 7 * W), x)
        p += lk
        q += rk
    vstore(out, o, c0)
    vstore(out, o + W, c1)
    vstore(out, o + 2 * W, c2)
    vstore(out, o + 3 * W, c3)
    vstore(out, o + 4 * W, c4)
    vstore(out, o + 5 * W, c5)
    vstore(out, o + 6 * W, c6)
    vstore(out, o + 7 * W, c7)


@jit(inline="always")
def _row16(lhs, p, lk, rhs, r_at, rk, out, o, depth):
    """One row, four vectors of columns (16 in float64), four sums in flight (twin:
    ``_row16``, C in _batched.pxi)."""
    c0, c1, c2, c3 = vload(out, o), vload(out, o + W), vload(out, o + 2 * W), \
        vload(out, o + 3 * W)
    q = r_at
    for _ in range(depth):
        x = vbroadcast(lhs, p)
        c0 = vmuladd(c0, vload(rhs, q), x)
        c1 = vmuladd(c1, vload(rhs, q + W), x)
        c2 = vmuladd(c2, vload(rhs, q + 2 * W), x)
        c3 = vmuladd(c3, vload(rhs, q + 3 * W), x)
        p += lk
        q += rk
    vstore(out, o, c0)
    vstore(out, o + W, c1)
    vstore(out, o + 2 * W, c2)
    vstore(out, o + 3 * W, c3)


@jit(inline="always")
def _row24(lhs, p, lk, rhs, r_at, rk, out, o, depth):
    """One row, six vectors of columns (24 in float64): ``out[o + j] += Σ_k lhs[p + k lk]
    rhs[r_at + k rk + j]`` (twin: ``_row24``, C in _batched.pxi)."""
    c0, c1, c2 = vload(out, o), vload(out, o + W), vload(out, o + 2 * W)
    c3, c4, c5 = vload(out, o + 3 * W), vload(out, o + 4 * W), vload(out, o + 5 * W)
    q = r_at
    for _ in range(depth):
        x = vbroadcast(lhs, p)
        c0 = vmuladd(c0, vload(rhs, q), x)
        c1 = vmuladd(c1, vload(rhs, q + W), x)
        c2 = vmuladd(c2, vload(rhs, q + 2 * W), x)
        c3 = vmuladd(c3, vload(rhs, q + 3 * W), x)
        c4 = vmuladd(c4, vload(rhs, q + 4 * W), x)
        c5 = vmuladd(c5, vload(rhs, q + 5 * W), x)
        p += lk
        q += rk
    vstore(out, o, c0)
    vstore(out, o + W, c1)
    vstore(out, o + 2 * W, c2)
    vstore(out, o + 3 * W, c3)
    vstore(out, o + 4 * W, c4)
    vstore(out, o + 5 * W, c5)


@jit(inline="always")
def _row_rest(lhs, p, lk, rhs, r_at, rk, out, o, depth, n):
    """One row's last ``n`` columns, fewer than four vectors of them, in one pass: four
    vectors, the lanes past ``n`` masked off (not read, not stored). A row's sums each
    wait for their last add: one pass of four vectors takes the time of one of a vector,
    where a vector and two lone columns had taken two (twin: ``_row_rest``, C in
    _batched.pxi)."""
    n1, n2, n3 = n - W, n - 2 * W, n - 3 * W
    c0, c1 = mload(out, o, n), mload(out, o + W, n1)
    c2, c3 = mload(out, o + 2 * W, n2), mload(out, o + 3 * W, n3)
    q = r_at
    for _ in range(depth):
        x = vbroadcast(lhs, p)
        c0 = vmuladd(c0, mload(rhs, q, n), x)
        c1 = vmuladd(c1, mload(rhs, q + W, n1), x)
        c2 = vmuladd(c2, mload(rhs, q + 2 * W, n2), x)
        c3 = vmuladd(c3, mload(rhs, q + 3 * W, n3), x)
        p += lk
        q += rk
    mstore(out, o, c0, n)
    mstore(out, o + W, c1, n1)
    mstore(out, o + 2 * W, c2, n2)
    mstore(out, o + 3 * W, c3, n3)


@jit(inline="always")
def _strip(lhs, l_at, lr, lk, rhs, r_at, rk, out, o_at, orow, depth):
    """Six rows by one vector of columns at ``out[o_at]`` (twin: ``_strip``, C in
    _batched.pxi)."""
    c0 = vload(out, o_at)
    c1 = vload(out, o_at + orow)
    c2 = vload(out, o_at + 2 * orow)
    c3 = vload(out, o_at + 3 * orow)
    c4 = vload(out, o_at + 4 * orow)
    c5 = vload(out, o_at + 5 * orow)
    p, q = l_at, r_at
    for _ in range(depth):
        w = vload(rhs, q)
        c0 = vmuladd(c0, w, vbroadcast(lhs, p))
        c1 = vmuladd(c1, w, vbroadcast(lhs, p + lr))
        c2 = vmuladd(c2, w, vbroadcast(lhs, p + 2 * lr))
        c3 = vmuladd(c3, w, vbroadcast(lhs, p + 3 * lr))
        c4 = vmuladd(c4, w, vbroadcast(lhs, p + 4 * lr))
        c5 = vmuladd(c5, w, vbroadcast(lhs, p + 5 * lr))
        p += lk
        q += rk
    vstore(out, o_at, c0)
    vstore(out, o_at + orow, c1)
    vstore(out, o_at + 2 * orow, c2)
    vstore(out, o_at + 3 * orow, c3)
    vstore(out, o_at + 4 * orow, c4)
    vstore(out, o_at + 5 * orow, c5)


FORWARD, LOSS, GRADIENTS, TRAIN, TRAIN_LOSS = 0, 1, 2, 3, 4
EXP_LIBM, EXP_FMA, EXP_PLAIN = CODES["libm"], CODES["fma"], CODES["plain"]


@jit(inline="always")
def _squash(code, z, at, n, exp_build):
    """``_activate``, with the logistic's exp glibc's, inlined, where ``exp_build`` says
    so: without its branch for rare inputs (a loop that vectorises) where the row has
    none, else with it (twin: ``_squash`` in _lanes.pxi)."""
    if code != LOGISTIC or exp_build == EXP_LIBM:
        _activate(code, z, at, n)
        return
    rare = False
    for j in range(n):
        rare |= special(-z[at + U(j)])
    if rare:
        for j in range(n):
            x = -z[at + U(j)]
            z[at + U(j)] = 1.0 / (1.0 + (exp_fma(x) if exp_build == EXP_FMA else exp_plain(x)))
    elif exp_build == EXP_FMA:
        for j in range(n):
            z[at + U(j)] = 1.0 / (1.0 + exp_fma_unchecked(-z[at + U(j)]))
    else:
        for j in range(n):
            z[at + U(j)] = 1.0 / (1.0 + exp_plain_unchecked(-z[at + U(j)]))


#: A thread's scratch beside ``R``'s packed block: a block of ``L`` and the leftover rows'
#: copies (a tile's columns in float32, the wider).
PACK_EXTRA = (MC + MR + 2 * width(np.float32)) * KC + MR * 2 * width(np.float32)
TAIL = 3  # Adam's scalars, at the end of each thread's share of ``pack``


def pack_size(layout) -> int:
    """Scratch of one thread: its products' packed copies, then its Adam's scalars, in
    whole 128-byte spans, so that every thread's share starts on a cache line as the
    first's does (the caller aligns ``pack``): a share 3 values off put every 64-byte load
    of its packed panels across two lines."""
    return -(-(KC * int(max(layout[0, 0], layout[:, 1].max())) + PACK_EXTRA + TAIL) // 16) * 16


#: Values of a short call's ``room`` kept for each of its buffers are a multiple of this:
#: each then starts on a 64-byte cache line where ``room`` does (128 bytes of float64,
#: 64 of float32).
SPAN = 16


@jit(inline="always")
def _span(n):
    """``n`` values rounded up to a multiple of :data:`SPAN` (:func:`room_size` calls it
    in Python)."""
    return -(-n // SPAN) * SPAN


def room_size(task: int, layout, at, n: int, n_params: int, n_state: int) -> int:
    """Values a short call's ``room`` holds (:func:`run`): three copies of the
    parameters, the activations and deltas of a chunk of ``n`` samples, one thread's
    scratch, for TRAIN_LOSS the state (``n_state`` values), and a cell for the loss, each
    from a multiple of :data:`SPAN` values (``room`` starts on a cache line:
    ``backend._buffers``)."""
    cells = min(n, CHUNK) * int(at[-1])
    state = n_state if task == TRAIN_LOSS else 0
    span = _span.py_func
    return 3 * span(n_params) + 2 * span(cells) + pack_size(layout) + span(state) + 1


@jit(internal=False, counted=False)
def run(task, work, orig, layout, acts, loss, X, Y, epochs, order, lr, batch_size, opt,
        decay, vel, train_bias, at, a, d, grad, out, pack, exp_build, part, parts, sync,
        perm, room, SW, R):
    """Run ``task`` a batch of ``batch_size`` samples at a time (``CHUNK`` at a time
    within a batch), as thread ``part`` of ``parts``.

    ``work`` holds the parameters with every ``W`` transposed, ``(n_in, n_out)``, for the
    forward products; ``orig`` the same values in the network's layout, ``(n_out, n_in)``,
    for the hidden deltas (only the layers after the first are read, and kept equal to
    ``work`` after each update). ``a`` and ``d`` hold a batch's activations and deltas,
    layer ``l`` as a ``(rows, width)`` block at ``rows * at[l]`` (``rows`` at most
    ``CHUNK``). ``grad`` is summed in the working layout. FORWARD writes the outputs
    into ``out``, LOSS the mean loss into ``out[0, 0]``; GRADIENTS adds the summed
    gradient of every sample to ``grad`` and returns the mean loss it met on the way (part
    0; into ``out[0, 0]`` too where ``out`` has a cell); TRAIN updates ``work``, ``orig``
    and ``vel`` (the optimizer's state in the working layout, its settings ``opt``),
    adding ``decay * w`` to each weight's summed gradient before the division. Adam's
    scalars (after the moments in ``vel``) advance in each thread's own copy, the same in
    every thread; thread 0 stores them at the end. ``SW`` holds each sample's weight (no
    rows: none): an output delta is multiplied by its sample's, a batch's sums divided by
    its weights' sum (in visiting order), a loss weighted by them. TRAIN with ``R`` of
    ``epochs`` rows reports each epoch's losses there (part 0), as ``step.report`` defines
    them: each batch adds ``(sum / weight) * len`` of its samples' (weighted) losses and,
    with decay, of the squared weights before its update.

    Every thread runs this loop over the same arguments. Of each chunk it takes its own
    samples, whole tiles of them, through the forward pass, the losses and the deltas,
    which read only that sample's rows, so without waiting; then, once every thread is
    there (``barrier(sync, parts)``), its rows of each weight gradient and columns of the
    bias sums, which add up every sample; and its share of the parameters for the
    update. No sum is split between threads, so the bits do not depend on ``parts``.
    Twin: ``_run_batches`` in _batched.pxi.

    A short call's way, in one thread and one call from Python: with ``perm`` not empty,
    ``run`` takes the parameters (and velocities) in the network's layout (``orig``,
    ``vel``) and makes the working copies (``work[q] = orig[perm[q]]``) and buffers
    itself, cut from ``room`` (:func:`room_size` values; ``work``, ``a``, ``d`` and
    ``pack`` are not read); GRADIENTS then leaves the
    finished gradient in ``grad`` in the network's layout (the sum, plus ``decay * w``
    for a weight, over the number of samples), and TRAIN_LOSS (only this way) trains
    ``orig`` and ``vel`` in place, then returns the mean loss with the trained
    parameters, or NaN, without measuring, where a parameter is not finite. LOSS returns
    its loss; the others 0.

    ``run`` allocates nothing, and is compiled without reference counts: its helpers,
    inlined, counted their arrays up and down at every sample (two atomic operations
    each, 8% of 64-32-10's online step).
    """
    n, last = X.shape[0], layout.shape[0]
    inputs = flat(X)  # X's rows, read in place where a chunk's samples lie in order
    rows_in_order = X.strides[1] == X.itemsize and X.strides[0] == X.shape[1] * X.itemsize
    weighted = SW.shape[0] > 0
    report = task == TRAIN and R.shape[0] > 0 and part == 0
    params, velocity, given = orig, vel, grad
    if perm.shape[0] > 0:
        work, grad, a, d, pack, vel, orig, out = _own_buffers(task, params, velocity, perm,
                                                              layout, at, n, vel, orig, out,
                                                              room)
    training = task in (TRAIN, TRAIN_LOSS)
    shuffled = training and order.shape[0] == epochs
    # Literal integers as arguments would compile one more ``product`` (or ``share``)
    # for each distinct value: pass variables.
    unit = np.int64(1)
    scratch = pack.shape[0] // parts * part  # this thread's share of ``pack``
    total = 0.0
    count = 0.0  # the samples' weight (their number unweighted)
    n_params = work.shape[0]
    adam = training and opt[2] != 0.0
    tail = scratch + pack.shape[0] // parts - TAIL  # this thread's copy of Adam's scalars
    if adam:
        for i in range(3):
            pack[tail + i] = vel[2 * n_params + i]
    rate = lr
    rep0 = rep1 = 0.0
    # TRAIN_LOSS runs one pass more, as LOSS does: the trained parameters' mean loss
    # (unless one is not finite), on the tiled products.
    mode, learning, finite = task, training, True
    for epoch in range(epochs + 1 if task == TRAIN_LOSS else epochs if training else 1):
        if epoch == epochs and task == TRAIN_LOSS:
            for q in range(n_params):
                finite = finite and np.isfinite(work[q])
            if not finite:
                break
            mode, learning, shuffled = LOSS, False, False
        rep0 = rep1 = 0.0
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            if parts > 1 and abandoned(sync):
                return 0.0
            if adam and learning:
                rate = adam_step(pack, tail, lr, opt)
            divisor = float(size)  # the batch's weight: its samples' weights in order
            if weighted and learning:
                divisor = 0.0
                for r in range(size):
                    divisor += SW[order[epoch, start + r] if shuffled else start + r]
            bdata = squares = 0.0
            if report and decay != 0.0:
                squares = _squares(work, layout)
            # A batch goes CHUNK samples at a time, so that what one phase writes is
            # still in cache when the next reads it; the gradient sums continue from
            # one chunk to the next, in sample order.
            for first in range(start, start + size, CHUNK):
                rows = min(CHUNK, start + size - first)
                # This thread's samples, whole tiles of them: every phase up to the
                # gradient reads and writes only its own rows, without waiting.
                r0, r1 = share(rows, part, parts, unit * MR)
                # The chunk's samples lie in order in X: read them there (but for one
                # sample, whose update reads its inputs from a); else copy them to a.
                n0 = layout[0, 0]
                src, s_at = inputs, first * n0
                if shuffled or rows == 1 or not rows_in_order:
                    src, s_at = a, 0
                    for r in range(r0, r1):
                        s = order[epoch, first + r] if shuffled else first + r
                        for i in range(n0):
                            a[U(r * n0 + i)] = X[s, i]
                _forward_chunk(a, src, s_at, work, layout, acts, at, rows, r0, r1, pack,
                               scratch, exp_build, unit)
                top, n_top = rows * at[last], layout[last - 1, 1]
                if mode == FORWARD:
                    for r in range(r0, r1):
                        for k in range(n_top):
                            out[first + r, k] = a[top + r * n_top + k]
                    # A shorter last chunk lays its layers out anew, over other rows.
                    barrier(sync, parts)
                    continue
                if mode == LOSS:
                    for r in range(r0, r1):
                        d[r] = _sample_loss(loss, acts[last - 1], a, top + r * n_top, Y,
                                            first + r)
                    barrier(sync, parts)
                    if part == 0:
                        for r in range(rows):
                            total += d[r] * SW[first + r] if weighted else d[r]
                            count += SW[first + r] if weighted else 1.0
                    barrier(sync, parts)  # before the next chunk's losses overwrite d
                    continue
                _output_deltas(loss, acts[last - 1], a, d, top, n_top, Y, order, epoch, first,
                               r0, r1, shuffled, SW)
                _hidden_deltas(d, a, work, orig, layout, acts, at, rows, r0, r1, batch_size,
                               pack, scratch, unit)
                barrier(sync, parts)  # the gradient sums over every sample of the chunk
                if report:
                    for r in range(rows):
                        s = order[epoch, first + r] if shuffled else first + r
                        e = _sample_loss(loss, acts[last - 1], a, top + r * n_top, Y, s)
                        bdata += e * SW[s] if weighted else e
                if task == GRADIENTS and part == 0:  # the loss on the way, in sample order
                    for r in range(rows):
                        e = _sample_loss(loss, acts[last - 1], a, top + r * n_top, Y,
                                         first + r)
                        total += e * SW[first + r] if weighted else e
                        count += SW[first + r] if weighted else 1.0
                if learning and size == 1:
                    if part == 0:
                        _step_sample(work, orig, layout, a, d, at, rate, opt, decay, vel,
                                     train_bias, batch_size > 1, divisor)
                    barrier(sync, parts)
                    continue
                _gradient_chunk(grad, a, src, s_at, d, layout, at, rows,
                                learning and first == start,
                                pack, scratch, part, parts, unit)
                barrier(sync, parts)
            if learning and size > 1:
                _step(work, orig, layout, grad, divisor, rate, opt, decay, vel,
                      train_bias, part, parts)
                barrier(sync, parts)
            if report:
                rep0 += (bdata / divisor) * float(size)
                if decay != 0.0:
                    rep1 += (squares / divisor) * float(size)
        if report:
            R[epoch, 0], R[epoch, 1] = rep0, rep1
    if adam and part == 0:
        for i in range(3):
            vel[2 * n_params + i] = pack[tail + i]
    result = 0.0
    if task in (LOSS, GRADIENTS) and part == 0:
        result = total / count
        if out.shape[0] > 0:
            out[0, 0] = result
    if task == GRADIENTS and perm.shape[0] > 0:
        _finish_gradient(given, grad, params, perm, layout, decay, count)
    if task == TRAIN_LOSS:
        for q in range(work.shape[0]):  # back to the caller's layout
            params[perm[q]] = work[q]
        state_from_work(vel, velocity, perm)
        return total / count if finite else np.nan
    return result


@jit(inline="always")
def _own_buffers(task, params, velocity, perm, layout, at, n, vel, orig, out, room):
    """A short call's working copies and buffers, cut from ``room`` (:func:`room_size`):
    ``work`` and ``grad`` (zeros), ``a``, ``d`` and ``pack``; for TRAIN_LOSS also ``vel``
    and ``orig``; ``out`` a cell for the loss (else the caller's)."""
    size, cells = params.shape[0], min(n, CHUNK) * at[-1]
    s, c = _span(size), _span(cells)  # each buffer from a cache line (room_size)
    # the scratch ends where the state (TRAIN_LOSS) and the loss's cell begin: room_size
    # laid them out, pack_size sized the scratch
    end = room.shape[0] - 1 - (_span(velocity.shape[0]) if task == TRAIN_LOSS else 0)
    work, grad = room[:size], room[s:s + size]
    a, d = room[3 * s:3 * s + cells], room[3 * s + c:3 * s + c + cells]
    pack = room[3 * s + 2 * c:end]
    for q in range(size):
        work[q] = params[perm[q]]
        grad[q] = 0.0
    if task == TRAIN_LOSS:
        orig = room[2 * s:2 * s + size]
        for q in range(size):
            orig[q] = params[q]
        vel = room[end:end + velocity.shape[0]]
        state_to_work(velocity, vel, perm)
    if task != FORWARD:
        out = room[room.shape[0] - 1:].reshape(1, 1)
    return work, grad, a, d, pack, vel, orig, out


@jit(inline="always")
def _squares(work, layout):
    """The sum of the squared weights, from 0, layer by layer, each ``W`` row-major in the
    network's layout (``work`` holds it transposed)."""
    total = 0.0
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at = layout[layer, 0], layout[layer, 1], layout[layer, 2]
        for j in range(n_out):
            for i in range(n_in):
                total += work[U(w_at + i * n_out + j)] * work[U(w_at + i * n_out + j)]
    return total


@jit(inline="always")
def state_to_work(state, vel, perm):
    """The optimizer's state in the working layout: each slot of ``perm.shape[0]``
    parameters permuted (``vel[q] = state[perm[q]]``), Adam's scalars as they are."""
    size = perm.shape[0]
    adam = state.shape[0] > size
    for slot in range(2 if adam else 1):
        for q in range(size):
            vel[slot * size + q] = state[slot * size + perm[q]]
    for i in range(2 * size, state.shape[0] if adam else 0):
        vel[i] = state[i]


@jit(inline="always")
def state_from_work(vel, state, perm):
    """:func:`state_to_work` undone."""
    size = perm.shape[0]
    adam = state.shape[0] > size
    for slot in range(2 if adam else 1):
        for q in range(size):
            state[slot * size + perm[q]] = vel[slot * size + q]
    for i in range(2 * size, state.shape[0] if adam else 0):
        state[i] = vel[i]


@jit(inline="always")
def _forward_chunk(a, src, s_at, work, layout, acts, at, rows, r0, r1, pack, scratch,
                   exp_build, unit):
    """Every layer's net inputs and outputs for this thread's samples ``r0..r1`` of a
    chunk of ``rows``, the first layer's inputs read from ``src`` (``a`` or ``X``) at
    ``s_at``."""
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer]
        z = rows * at[layer + 1]
        lhs, l_at = (src, s_at) if layer == 0 else (a, rows * at[layer])
        # element by element: a slice's assignment took online training up to 13% longer
        for q in range(z + r0 * n_out, z + r1 * n_out):
            a[U(q)] = 0.0
        if r1 - r0 < PADDED:  # one or two samples (online): no call, no packing
            _few_rows(lhs, l_at + r0 * n_in, n_in, unit, work, w_at, n_out, a,
                      z + r0 * n_out, n_out, r1 - r0, n_out, n_in)
        else:
            product(lhs, l_at + r0 * n_in, n_in, unit, work, w_at, n_out, a,
                    z + r0 * n_out, n_out, r1 - r0, n_out, n_in, pack, scratch)
        for r in range(r0, r1):
            o = U(z + r * n_out)
            for j in range(n_out):
                a[o + U(j)] += load(work, b_at + j)
            _squash(acts[layer], a, o, n_out, exp_build)


@jit(inline="always")
def _hidden_deltas(d, a, work, orig, layout, acts, at, rows, r0, r1, batch_size, pack,
                   scratch, unit):
    """The hidden layers' deltas of this thread's samples ``r0..r1`` of a chunk, from the
    output layer's down."""
    for layer in range(layout.shape[0] - 1, 0, -1):
        n_h, n_next, w_at = layout[layer, 0], layout[layer, 1], layout[layer, 2]
        h = rows * at[layer]
        if batch_size == 1:  # online: the same sums, read from ``work``
            if r1 > r0:
                _sample_deltas(work, d, a, h, n_h, rows * at[layer + 1], n_next, w_at,
                               acts[layer - 1])
            continue
        for q in range(h + r0 * n_h, h + r1 * n_h):
            d[U(q)] = 0.0
        # Σ over the next layer's neurons k in order of δ_k W[k, j], W as it is
        product(d, rows * at[layer + 1] + r0 * n_next, n_next, unit, orig, w_at,
                n_h, d, h + r0 * n_h, n_h, r1 - r0, n_h, n_next, pack, scratch)
        code = acts[layer - 1]
        for q in range(h + r0 * n_h, h + r1 * n_h):
            d[U(q)] = d[U(q)] * _derivative(code, a[U(q)])


@jit(inline="always")
def _gradient_chunk(grad, a, src, s_at, d, layout, at, rows, first_chunk, pack, scratch,
                    part, parts, unit):
    """Add a chunk's samples to the gradient sums (from zero at a batch's first chunk):
    this thread's rows of each weight gradient, its columns of the bias sums (the first
    layer's inputs read from ``src`` at ``s_at``, as :func:`_forward_chunk` does)."""
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer]
        lhs, l_at = (src, s_at) if layer == 0 else (a, rows * at[layer])
        i0, i1 = share(n_in, part, parts, unit * MR)
        if first_chunk:
            for q in range(w_at + i0 * n_out, w_at + i1 * n_out):
                grad[U(q)] = 0.0
        # grad[i, j] += Σ over the batch's samples s in order of a_s[i] δ_s[j]
        product(lhs, l_at + i0, unit, n_in, d, rows * at[layer + 1],
                n_out, grad, w_at + i0 * n_out, n_out, i1 - i0, n_out, rows, pack,
                scratch)
        j0, j1 = share(n_out, part, parts, unit)
        if first_chunk:
            for q in range(b_at + j0, b_at + j1):
                grad[U(q)] = 0.0
        for r in range(rows):  # each sum in sample order, the columns side by side
            q = rows * at[layer + 1] + r * n_out
            for j in range(j0, j1):
                grad[U(b_at + j)] += load(d, q + j)


@jit(inline="always")
def _finish_gradient(given, grad, params, perm, layout, decay, n):
    """A short GRADIENTS call's result in the caller's layout, as gradients() ends it: the
    sum, plus ``decay * w`` for a weight, over the number of samples (their weight)."""
    for q in range(grad.shape[0]):
        given[perm[q]] = grad[q]
    for layer in range(layout.shape[0]):
        if decay != 0.0:
            for q in range(layout[layer, 2], layout[layer, 3]):  # the weights
                given[q] += decay * params[q]
    for q in range(grad.shape[0]):
        given[q] = given[q] / n


@jit(inline="always")
def _output_deltas(loss, code, a, d, top, n_top, Y, order, epoch, start, r0, r1, shuffled, SW):
    """dE/dnet of the outputs of the batch's samples ``r0..r1``, as the oracle's
    ``output_deltas`` (times the sample's weight ``SW[s]``, where there are weights)."""
    for r in range(r0, r1):
        s = order[epoch, start + r] if shuffled else start + r
        o = U(top + r * n_top)
        if loss != SQUARED:
            for k in range(n_top):
                d[o + U(k)] = a[o + U(k)] - Y[s, k]
        elif code == SOFTMAX:
            total = 0.0
            for k in range(n_top):
                total += (a[o + U(k)] - Y[s, k]) * a[o + U(k)]
            for k in range(n_top):
                d[o + U(k)] = a[o + U(k)] * ((a[o + U(k)] - Y[s, k]) - total)
        else:
            for k in range(n_top):
                d[o + U(k)] = (a[o + U(k)] - Y[s, k]) * _derivative(code, a[o + U(k)])
        if SW.shape[0] > 0:
            for k in range(n_top):
                d[o + U(k)] = d[o + U(k)] * SW[s]


@jit(inline="always")
def _step(work, orig, layout, grad, size, lr, opt, decay, vel, train_bias, part, parts):
    """Apply the summed gradient (plus ``decay * w`` for a weight) divided by ``size`` to
    this thread's share of ``work`` (rows of each transposed ``W``, then biases), and copy
    those rows into ``orig``, in the network's layout, where the deltas read them."""
    one = np.int64(1)  # not a literal: see ``run``
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer]
        i0, i1 = share(n_in, part, parts, one)
        j0, j1 = share(n_out, part, parts, one) if train_bias else (0, 0)
        update_range(work, grad, vel, w_at + i0 * n_out, w_at + i1 * n_out, size, lr, opt,
                     decay)
        update_range(work, grad, vel, b_at + j0, b_at + j1, size, lr, opt, 0.0)
        if layer > 0:
            _refresh(orig, work, w_at, n_in, n_out, i0, i1)


@jit(inline="always")
def _step_sample(work, orig, layout, a, d, at, lr, opt, decay, vel, train_bias, refresh, sw):
    """``_step`` for a batch of one sample, whose summed gradient ``0 + δ a`` (plus
    ``decay * w`` for a weight) divided by 1 is applied as it is computed, row by row of
    each transposed ``W``, then the biases (:func:`update_sample`: one call a sample).
    ``orig`` is brought up to date where later batches read it (``refresh``)."""
    update_sample(work, vel, d, a, layout, at, lr, opt, decay, sw, train_bias)
    if refresh:
        for layer in range(1, layout.shape[0]):
            n_in, n_out, w_at = layout[layer, 0], layout[layer, 1], layout[layer, 2]
            _refresh(orig, work, w_at, n_in, n_out, 0, n_in)


@jit(inline="always")
def _refresh(orig, work, w_at, n_in, n_out, i0, i1):
    """Rows ``i0..i1`` of a transposed ``W`` at ``work[w_at:]`` copied into ``orig``, in
    the network's layout, where the deltas read them."""
    for i in range(i0, i1):
        for j in range(n_out):
            orig[U(w_at + j * n_in + i)] = work[U(w_at + i * n_out + j)]


@jit(inline="always")
def _sample_deltas(work, d, a, h, n_h, nxt, n_next, w_at, code):
    """One sample's hidden deltas ``d[h + j] = (Σ_k δ_k W[k, j]) f'(a[h + j])``, the sum
    over the next layer's neurons in order, ``W[k, j]`` read from the transposed copy.
    Four sums at a time: one alone waits for each add before the next."""
    j = 0
    while j + 4 <= n_h:
        r0, r1 = U(w_at + j * n_next), U(w_at + (j + 1) * n_next)
        r2, r3 = U(w_at + (j + 2) * n_next), U(w_at + (j + 3) * n_next)
        s0 = s1 = s2 = s3 = 0.0
        for k in range(n_next):
            x = load(d, nxt + k)
            s0 += x * load(work, r0 + U(k))
            s1 += x * load(work, r1 + U(k))
            s2 += x * load(work, r2 + U(k))
            s3 += x * load(work, r3 + U(k))
        d[U(h + j)] = s0 * _derivative(code, a[U(h + j)])
        d[U(h + j + 1)] = s1 * _derivative(code, a[U(h + j + 1)])
        d[U(h + j + 2)] = s2 * _derivative(code, a[U(h + j + 2)])
        d[U(h + j + 3)] = s3 * _derivative(code, a[U(h + j + 3)])
        j += 4
    for jj in range(j, n_h):
        row = U(w_at + jj * n_next)
        total = 0.0
        for k in range(n_next):
            total += load(d, nxt + k) * load(work, row + U(k))
        d[U(h + jj)] = total * _derivative(code, a[U(h + jj)])

