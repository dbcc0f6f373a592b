"""The one ``njit`` configuration of fastbp's numba kernels, and the cache it trusts."""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import os
from pathlib import Path

from numba import njit
from numba.core.caching import FunctionCache

from ...base.files import private_dir, warn_once


class GuardedCache(FunctionCache):
    """numba's on-disk cache of one function, trusted only in a private directory, and
    discarded where damaged.

    numba's index files are pickles, loaded as they are found: a directory that another
    user could write to (:func:`fastbp.files.untrusted`) would let them run code in
    this process, so there the cache is disabled and the function compiled in memory.
    A damaged entry (a truncated file, another numba's data) is removed and the
    function compiled afresh, once, with a warning, instead of failing every run.
    """

    def __init__(self, py_func) -> None:
        super().__init__(py_func)
        if private_dir(self._cache_path, "numba's cache of compiled kernels") is None:
            self.disable()

    def _index_key(self, sig, codegen):
        # numba keys a cached function on its own bytecode only: a change in what it
        # calls or inlines from another module (the generated update stage, element
        # math) would leave it stale. Every kernel source is part of the key instead.
        return (*super()._index_key(sig, codegen), sources_digest())

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # whatever a damaged pickle raises
            self.discard(exc)
            return None

    def save_overload(self, sig, data) -> None:
        try:
            super().save_overload(sig, data)
        except Exception as exc:  # a damaged index read back before saving
            self.discard(exc)
            with contextlib.suppress(Exception):
                super().save_overload(sig, data)

    def discard(self, exc: BaseException) -> None:
        """Remove this function's index and data files, and say so once."""
        index = self._cache_file._index_path
        for path in [index, *glob.glob(glob.escape(index[: -len(".nbi")]) + ".*.nbc")]:
            with contextlib.suppress(OSError):
                os.unlink(path)
        warn_once(f"fastbp: numba's cached kernel {os.path.basename(index)} was damaged "
                  f"({type(exc).__name__}: {exc}); removed it, compiling afresh")


@functools.cache
def sources_digest() -> str:
    """A digest of every source the kernels are compiled from (``fastbp/kernels``)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def jit(func=None, *, parallel=False, internal=True, inline="never", counted=True):
    """``njit`` with ``nogil``, C-like division and an on-disk cache where possible.

    Numba caches compiled code beside the source, else in its user-wide cache
    directory (or NUMBA_CACHE_DIR); with no writable place at all it refuses to
    cache, and the function is compiled without a cache rather than fail. The
    cache is a :class:`GuardedCache`: used only in a directory no one else can
    write to, and recovered when damaged. The "numpy" error model divides as C
    does instead of testing for zero.
    ``internal`` functions are called only from compiled code: they skip the
    wrappers that make them callable from Python, which take time to compile.
    ``inline="always"`` inlines a helper into its callers at numba's IR level,
    so it is not compiled as a module of its own.

    ``counted=False`` compiles a function that allocates nothing without numba's
    reference counts: else each call counts its array arguments up and down again, two
    atomic operations each, which took online training 12% of its time (64-32-10).
    """
    if func is None:
        return lambda f: jit(f, parallel=parallel, internal=internal, inline=inline,
                             counted=counted)
    opts = {"nogil": True, "parallel": parallel, "error_model": "numpy", "inline": inline}
    if not counted:
        opts["_nrt"] = False
    if internal:
        opts.update(no_cpython_wrapper=True, no_cfunc_wrapper=True)
    dispatcher = njit(cache=False, **opts)(func)
    with contextlib.suppress(RuntimeError):  # no locator: no writable place to cache
        dispatcher._cache = GuardedCache(dispatcher.py_func)
    return dispatcher
