"""Tiered numba kernels: a new shape trains at once on the generic kernels, and gets
kernels of its own only where they pay.

The generic kernels (:mod:`fastbp.kernels.numba_batched`) are compiled once per machine
(numba's on-disk cache) and loaded once per process. A small network's unrolled kernels
(:mod:`fastbp.kernels.numba_unrolled`) are several times faster, but each shape costs a
compile of seconds. Every kernel gives the oracle's bits, so a run may move from one to
the other between two calls (two chunks of epochs) without changing a bit.

Each shape's unrolled kernel has an :class:`Entry`: the expected saving of the work asked
of the generic kernels so far (and of what ``expect`` announced) is added up, and once it
exceeds the compile's expected cost the kernel is compiled in a background thread (numba
releases the GIL in compiled code, so training goes on meanwhile); the calls that follow
it being ready use it. A kernel already compiled on this machine costs little to load,
which its expected cost says.

``MODE`` (or the environment variable ``FASTBP_TIERS``) changes the rule, for tests and
for measuring: ``"auto"`` as above; ``"generic"``: never specialise; ``"eager"``: compile
a shape's kernel on its first use and wait for it; ``"alternate"``: like eager, but every
other call runs the generic kernels (a switch at every chunk).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

#: Seconds the generic kernels take per sample and parameter in online training, beyond
#: what the unrolled kernels take (measured on a 2-vCPU AVX2 VM; a guess elsewhere).
SAVING_PER_UPDATE = 6e-9
#: Expected seconds to compile an unrolled kernel: for one network, and for many (the
#: parallel, vectorised ``kernel_many``), plus this much per parameter; and to load
#: either from numba's cache where this machine compiled it before.
COMPILE_ONE, COMPILE_MANY, COMPILE_PER_PARAM, LOAD = 2.0, 6.0, 0.03, 0.5

MODES = ("auto", "generic", "eager", "alternate")
MODE = os.environ.get("FASTBP_TIERS", "auto")
if MODE not in MODES:
    raise ImportError(f"FASTBP_TIERS must be one of {', '.join(MODES)}; got {MODE!r}")


class Entry:
    """One shape's specialised kernel: not yet asked for, compiling, ready, or failed."""

    def __init__(self, label: str, build: Callable[[], object], cost: float) -> None:
        self.label, self.build, self.cost = label, build, cost
        self.kernel: object | None = None
        self.saving = 0.0
        self.state = "idle"
        self.error: BaseException | None = None
        self.seconds: float | None = None
        self.calls = 0
        self._lock = threading.Lock()
        self._done = threading.Event()

    def _compile(self) -> None:
        began = time.perf_counter()
        try:
            kernel = self.build()
        except BaseException as exc:  # the generic kernels go on; the failure is kept
            self.error, self.state = exc, "failed"
        else:
            self.kernel, self.state = kernel, "ready"
        self.seconds = time.perf_counter() - began
        self._done.set()

    def start(self, wait: bool = False) -> None:
        """Compile in the background (at most once); with ``wait``, until it is done."""
        with self._lock:
            if self.state == "idle":
                self.state = "compiling"
                threading.Thread(target=self._compile, name=f"fastbp compile {self.label}",
                                 daemon=True).start()
        if wait:
            self._done.wait()
            if self.state == "failed":
                raise self.error

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a started compile; True once it has ended."""
        return self._done.wait(timeout)


_entries: dict[tuple, Entry] = {}


def entry(key: tuple, label: str, build: Callable[[], object], cost: float) -> Entry:
    found = _entries.get(key)
    if found is None:
        found = _entries.setdefault(key, Entry(label, build, cost))
    return found


def pick(found: Entry, saving: float) -> object | None:
    """The specialised kernel to run now, or None for the generic ones; ``saving`` is what
    the specialised kernel would save on this call's work."""
    if found.kernel is not None:
        if MODE == "alternate":
            found.calls += 1
            return found.kernel if found.calls % 2 else None
        return found.kernel if MODE != "generic" else None
    if MODE == "generic" or found.state == "failed":
        return None
    if MODE in ("eager", "alternate"):
        found.start(wait=True)
        return pick(found, saving)
    found.saving += saving
    if found.state == "idle" and found.saving > found.cost:
        found.start()
    return None


def expect(found: Entry, saving: float) -> None:
    """A run announces the saving it expects over its whole length: compile now if that
    pays (``auto`` mode)."""
    if MODE == "auto" and found.kernel is None and found.state == "idle":
        found.saving += saving
        if found.saving > found.cost:
            found.start()


def pending() -> list[Entry]:
    """The entries compiling now."""
    return [e for e in _entries.values() if e.state == "compiling"]
