"""Count, over all 2^32 float32 inputs, where fastbp's float32 exp differs from the double
``exp`` rounded to float32 (exp correctly rounded, but for inputs within a double's
rounding of a tie), and how far; then the same over inputs spread evenly over
[-87, 87]. About two minutes on one core::

    python benchmarks/exp32_census.py
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit

from fastbp.kernels.numba import single


@njit
def _ours(xs, out):
    for i in range(xs.shape[0]):
        out[i] = single.exp(xs[i])


def _apart(xs: np.ndarray, ours: np.ndarray) -> np.ndarray:
    """Units in the last place between ``ours`` and exp rounded, where ``xs`` is no NaN."""
    keep = ~np.isnan(xs)
    with np.errstate(over="ignore", invalid="ignore"):
        near = np.exp(xs.astype(np.float64)).astype(np.float32)
    mine, near = (a.view(np.int32)[keep].astype(np.int64) for a in (ours, near))
    return np.abs(mine - near)


def census(chunk: int = 2**24) -> tuple[int, int, int]:
    """(inputs that are not NaN, those differing from exp rounded, most units apart)."""
    counted = differ = widest = 0
    ours = np.empty(chunk, np.float32)
    for start in range(0, 2**32, chunk):
        xs = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        _ours(xs, ours)
        apart = _apart(xs, ours)
        counted += apart.size
        differ += int((apart != 0).sum())
        widest = max(widest, int(apart.max()))
    return counted, differ, widest


def spread(count: int = 10_000_000) -> tuple[float, int]:
    """(share differing from exp rounded, most units apart) over ``count`` inputs spread
    evenly over [-87, 87] (seeded)."""
    xs = np.random.default_rng(0).uniform(-87.0, 87.0, count).astype(np.float32)
    ours = np.empty_like(xs)
    _ours(xs, ours)
    apart = _apart(xs, ours)
    return float((apart != 0).mean()), int(apart.max())


def main() -> int:
    counted, differ, widest = census()
    print(f"{counted:,} float32 inputs (NaNs left out): {differ:,} ({differ / counted:.2%}) "
          f"differ from exp rounded to float32, by at most {widest} unit(s) in the last place")
    share, most = spread()
    print(f"inputs spread evenly over [-87, 87]: {share:.2%} differ, by at most {most}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
