"""Tiered numba kernels: a new shape trains at once on the generic kernels, and gets
kernels of its own only where they pay.

The generic kernels (:mod:`fastbp.kernels.numba.batched` for one network,
:mod:`fastbp.kernels.numba.lanes` for many) read the shape at run time: they are compiled
once per machine (numba's on-disk cache) and loaded once per process. A small network's
unrolled kernels (:mod:`fastbp.kernels.numba.unrolled`) run faster, but each shape costs
a compile of seconds. Every kernel gives the oracle's bits, so a run may move from one
to the other between two calls (two chunks of epochs) without changing a bit.

Each shape's unrolled kernels have an :class:`Entry`. The expected saving of the work
run on the generic kernels so far (and of what a run announces with ``expect``) is added
up; once it exceeds the compile's expected cost, a separate process compiles the kernels
into numba's on-disk cache, and training goes on meanwhile. A process, not a thread: LLVM
may not be compiling while the interpreter exits, and a compile must not hold up the
program's exit. The first call after that process has finished loads the kernels (a
fraction of a second) and runs them. A kernel this machine compiled before costs little
to load, which its expected cost says.

``MODE`` (the environment variable ``FASTBP_TIERS``) changes the rule, for tests and for
measuring: ``"auto"`` as above; ``"generic"``: never the unrolled kernels;
``"specialised"``: compile them on a shape's first use and wait (fastbp before tiers);
``"alternate"``: like ``specialised``, but every other call runs the generic kernels (a
switch at every chunk, which tests use to prove the bits do not change).
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable

from ...base.signals import deferred

# The savings and compile costs the rule weighs (see fastbp.kernels.limits).
from ..limits import LOAD

MODES = ("auto", "generic", "specialised", "alternate")
MODE = os.environ.get("FASTBP_TIERS", "auto")
if MODE not in MODES:
    raise ImportError(f"FASTBP_TIERS must be one of {', '.join(MODES)}; got {MODE!r}")


class Entry:
    """One shape's unrolled kernels: idle, compiling (in another process), ready, or
    failed (the generic kernels then run on)."""

    def __init__(self, label: str, spec: dict, load: Callable[[], object],
                 cost: float | Callable[[], float], child: str) -> None:
        self.label, self.spec, self.load = label, spec, load
        # A callable cost is asked only once the saving exceeds the least a compile costs:
        # finding it (was this shape compiled before?) generates the shape's code.
        self.cost, self._price = (LOAD, cost) if callable(cost) else (cost, None)
        self.child = child  # "module:function" that compiles ``spec``, read from stdin
        self.kernel: object | None = None
        self.saving = 0.0
        self.state = "idle"
        self.error = ""
        self.calls = 0
        self._process: subprocess.Popen | None = None

    def pays(self, saving: float) -> bool:
        """Does ``saving`` (seconds) exceed the compile's expected cost?"""
        return saving > self.cost and saving > self.expected_cost()

    def expected_cost(self) -> float:
        """Seconds the compile is expected to cost (a load, where this machine compiled
        these kernels before)."""
        if self._price is not None:
            self.cost, self._price = self._price(), None
        return self.cost

    def start(self) -> None:
        """Compile in another process, at most once (also when threads ask together)."""
        with _lock:
            if self.state != "idle":
                return
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
            module, function = self.child.split(":")
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", f"import {module}; {module}.{function}()"],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    env=env, text=True)
                # The spec, one line; stdin then stays open: the child watches it and
                # exits when it closes, so a compile dies with its parent (even by kill -9).
                self._process.stdin.write(json.dumps(self.spec) + "\n")
                self._process.stdin.flush()
            except OSError as exc:
                self.state, self.error = "failed", str(exc)
                return
            self.state = "compiling"
            _running.append(self)

    def poll(self) -> bool:
        """Has a compile ended (then load its kernels, here)? True once ready."""
        if self.state == "compiling" and self._process is not None and \
                self._process.poll() is not None:
            with _lock:
                if self.state == "compiling":
                    self._finish()
        return self.state == "ready"

    def wait(self) -> None:
        """Compile here and now where nothing was started, else wait for the process."""
        with _lock:
            if self.state == "idle":
                self._load()
                return
        process = self._process
        if self.state == "compiling" and process is not None:
            process.wait()
            self.poll()

    def _finish(self) -> None:
        process, self._process = self._process, None
        _running.remove(self)
        process.stdin.close()
        if process.returncode != 0:
            self.state = "failed"
            self.error = (process.stderr.read() or f"exit status {process.returncode}").strip()
        else:
            with deferred():  # a fraction of a second, in LLVM's callbacks: see signals
                self._load()
        process.stderr.close()

    def _load(self) -> None:
        try:
            self.kernel = self.load()
        except Exception as exc:  # the generic kernels go on; the cause is kept
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
        else:
            self.state = "ready"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
            self._process.stdin.close()


_running: list[Entry] = []
_lock = threading.RLock()  # one start and one finish per entry, whichever thread asks


@atexit.register
def _stop_compiles() -> None:
    """Stop the compiles still running when the program ends: they would hold CPUs for
    seconds after it; the next run that needs them starts them again."""
    for found in list(_running):
        found.stop()


def pick(found: Entry, saving: float) -> object | None:
    """The unrolled kernel to run now, or None for the generic ones; ``saving`` is what it
    would save on this call's work."""
    if found.kernel is not None or found.poll():
        if MODE == "alternate":
            found.calls += 1
            return found.kernel if found.calls % 2 else None
        return found.kernel if MODE != "generic" else None
    if MODE == "generic" or found.state == "failed":
        return None
    if MODE in ("specialised", "alternate"):
        found.wait()
        return pick(found, saving)
    found.saving += saving
    if found.state == "idle" and found.pays(found.saving):
        found.start()
    return None


def expect(found: Entry, saving: float) -> None:
    """A run announces the saving it expects over its whole length: start the compile now
    where that alone pays (``auto`` mode). A forecast, not added to what was run."""
    if MODE == "auto" and found.state == "idle" and found.pays(saving):
        found.start()



def watch_parent(stream) -> None:
    """In a compiling process: end it at once when ``stream`` (its stdin, whose other end
    its parent holds) closes, i.e. when the parent has gone, however it ended."""
    def watch() -> None:
        while stream.read(1):
            pass
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="fastbp-parent-watch").start()
