"""Count, over all 2^32 float32 inputs, where fastbp's float32 exp differs from the double
``exp`` rounded to float32 and from the C library's ``expf`` (glibc's: the same sequence,
built with FMA on x86-64). About a minute on one core::

    python benchmarks/exp32_census.py
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import numpy as np
from numba import njit

from fastbp.kernels.numba import single

_libm = ctypes.CDLL(ctypes.util.find_library("m"))
_expf = _libm.expf
_expf.restype, _expf.argtypes = ctypes.c_float, [ctypes.c_float]


@njit
def _both(xs, ours, library):
    for i in range(xs.shape[0]):
        ours[i] = single.exp(xs[i])
        library[i] = _expf(xs[i])


def census(chunk: int = 2**24) -> tuple[int, int, int, int]:
    """(inputs that are not NaN, differing from exp rounded, from expf, most units apart)."""
    counted = rounded = library = widest = 0
    ours, theirs = np.empty(chunk, np.float32), np.empty(chunk, np.float32)
    for start in range(0, 2**32, chunk):
        xs = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        _both(xs, ours, theirs)
        keep = ~np.isnan(xs)
        with np.errstate(over="ignore", invalid="ignore"):
            near = np.exp(xs.astype(np.float64)).astype(np.float32)
        mine, near, theirs_ = (a.view(np.int32)[keep].astype(np.int64)
                               for a in (ours, near, theirs))
        counted += int(keep.sum())
        rounded += int((mine != near).sum())
        library += int((mine != theirs_).sum())
        widest = max(widest, int(np.abs(mine - near).max()))
    return counted, rounded, library, widest


def main() -> int:
    counted, rounded, library, widest = census()
    print(f"{counted:,} float32 inputs (NaNs left out): {rounded:,} differ from exp rounded to "
          f"float32 (by at most {widest} unit(s) in the last place), {library:,} from the C "
          f"library's expf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
