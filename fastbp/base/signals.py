"""SIGTERM handled like Ctrl-C while training (schedulers and ``kill`` send it), and no
interruption lost where Python drops the exception a signal raises.

Python drops an exception raised in a callback from C (numba loading a kernel runs
Python in LLVM's object-cache callback) or in a ``__del__``: it hands it to
``sys.unraisablehook``, which prints it, and goes on. A Ctrl-C that lands there would be
lost, and a long run would not stop. So while training, that hook keeps a dropped
KeyboardInterrupt (without printing it); the engine calls :func:`raise_dropped` between
chunks of epochs. :class:`deferred` holds the signals back over a short stretch that
must not be cut.
"""

from __future__ import annotations

import _signal
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives during training."""

    signum = signal.SIGTERM


# _signal: the C functions behind signal's, without its enum conversions.
_SIGTERM, _SIGINT, _SIG_DFL = int(signal.SIGTERM), int(signal.SIGINT), int(signal.SIG_DFL)
_dropped: list[KeyboardInterrupt] = []  # interruptions Python dropped, not yet raised


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


class _KeepDropped:
    """``sys.unraisablehook`` while training: keeps a dropped interruption, passes on the
    rest."""

    def __init__(self, before: object) -> None:
        self.before = before

    def __call__(self, unraisable: object) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _dropped.append(unraisable.exc_value)
        elif _dropped and (getattr(unraisable.object, "__module__", None) or "").startswith(
                "llvmlite"):
            # llvmlite's __del__ cut short by that interruption fails again when it is run
            # once more (its handle half released): the interruption says it all
            return
        else:
            self.before(unraisable)


class terminate_as_interrupt:  # a context manager named as the function it replaced
    """While the block runs, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt), and
    an interruption Python drops is kept for :func:`raise_dropped`.

    Only from the main thread (the only one Python delivers signals to); SIGTERM only
    where it still has its default action: a handler the program installed itself is
    left alone. The outermost block installs; nested ones change nothing. A class, not a
    generator: entering and leaving cost a microsecond or two, which short ``train``
    calls pay every time.
    """

    def __enter__(self) -> None:
        self.term = self.hook = False
        if threading.current_thread() is not threading.main_thread():
            return
        self.term = _signal.getsignal(_SIGTERM) == _SIG_DFL
        if self.term:
            _signal.signal(_SIGTERM, _raise_terminated)
        self.hook = not isinstance(sys.unraisablehook, _KeepDropped)
        if self.hook:
            _dropped.clear()
            sys.unraisablehook = _KeepDropped(sys.unraisablehook)

    def __exit__(self, *exc: object) -> None:
        if self.term:
            _signal.signal(_SIGTERM, _SIG_DFL)
        if self.hook:
            if isinstance(sys.unraisablehook, _KeepDropped):
                sys.unraisablehook = sys.unraisablehook.before
            _dropped.clear()


def raise_dropped() -> None:
    """Raise the interruption Python dropped since the last call, if it dropped one."""
    if _dropped:
        dropped = _dropped[-1]
        _dropped.clear()
        raise type(dropped)()


def forget() -> None:
    """The interruption was caught: one dropped before it is not raised again."""
    _dropped.clear()


class deferred:
    """While the block runs, SIGINT and SIGTERM wait; each one that came is sent again
    when it ends, to the handler it would have met.

    For short stretches (loading a compiled kernel: a fraction of a second) that an
    interruption must not cut in the middle, and where Python would drop it. Only in the
    main thread, and only over handlers of Python's or of this module.
    """

    def __enter__(self) -> None:
        self.held: list[int] = []
        self.before: dict[int, object] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, ours in ((_SIGINT, _signal.default_int_handler),
                             (_SIGTERM, _raise_terminated), (_SIGTERM, _SIG_DFL)):
            if _signal.getsignal(signum) == ours:
                self.before[signum] = ours
                _signal.signal(signum, self._hold)

    def _hold(self, signum: int, frame: object) -> None:
        self.held.append(signum)

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.before.items():
            _signal.signal(signum, handler)
        for signum in dict.fromkeys(self.held):
            signal.raise_signal(signum)
