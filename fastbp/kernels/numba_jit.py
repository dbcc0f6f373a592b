"""The one ``njit`` configuration of fastbp's numba kernels."""

from __future__ import annotations

from numba import njit


def jit(func=None, *, parallel=False, internal=True, inline="never"):
    """``njit`` with ``nogil``, C-like division and an on-disk cache where possible.

    Numba caches compiled code beside the source, else in its user-wide cache
    directory (or NUMBA_CACHE_DIR); with no writable place at all it refuses to
    cache, and the function is compiled without a cache rather than fail. The
    "numpy" error model divides as C does instead of testing for zero.
    ``internal`` functions are called only from compiled code: they skip the
    wrappers that make them callable from Python, which take time to compile.
    ``inline="always"`` inlines a helper into its callers at numba's IR level,
    so it is not compiled as a module of its own.
    """
    if func is None:
        return lambda f: jit(f, parallel=parallel, internal=internal, inline=inline)
    opts = {"nogil": True, "parallel": parallel, "error_model": "numpy", "inline": inline}
    if internal:
        opts.update(no_cpython_wrapper=True, no_cfunc_wrapper=True)
    try:
        return njit(cache=True, **opts)(func)
    except RuntimeError:
        return njit(cache=False, **opts)(func)
