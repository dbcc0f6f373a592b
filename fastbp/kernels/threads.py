"""How many threads share one network's batches, for every compiled backend.

The work of a batch is shared out by output blocks, never by the terms of a sum, so
the count changes the speed only, never a bit (see ``numba.batched.run``).
"""

from __future__ import annotations

import os

from .limits import one_thread


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def parts(threads: int | None, rows: int, n_params: int) -> int:
    """Threads for batches of ``rows`` samples: ``threads`` (None: every core, where the
    batch is large enough to pay), never more than a batch has samples."""
    if threads is None:
        threads = 1 if one_thread(None, rows, n_params) else cores()
    return max(1, min(int(threads), rows))
