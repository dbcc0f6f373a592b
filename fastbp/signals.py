"""SIGTERM handled like Ctrl-C while training: schedulers and ``kill`` send it."""

from __future__ import annotations

import _signal
import signal
import threading


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives during training."""

    signum = signal.SIGTERM


_SIGTERM, _SIG_DFL = int(signal.SIGTERM), int(signal.SIG_DFL)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


class terminate_as_interrupt:  # a context manager named as the function it replaced
    """While the block runs, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt).

    Only from the main thread (the only one Python delivers signals to), and only
    where SIGTERM still has its default action: a handler the program installed
    itself is left alone. A class, not a generator: entering and leaving cost about
    a microsecond, which short ``train`` calls pay every time.
    """

    def __enter__(self) -> None:
        # _signal: the C functions behind signal's, without its enum conversions.
        self.installed = (threading.current_thread() is threading.main_thread()
                          and _signal.getsignal(_SIGTERM) == _SIG_DFL)
        if self.installed:
            _signal.signal(_SIGTERM, _raise_terminated)

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            _signal.signal(_SIGTERM, _SIG_DFL)
