"""SIGTERM handled like Ctrl-C while training: schedulers and ``kill`` send it."""

from __future__ import annotations

import _signal
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives during training."""

    signum = signal.SIGTERM


_SIGTERM, _SIG_DFL = int(signal.SIGTERM), int(signal.SIG_DFL)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt).

    Only from the main thread (the only one Python delivers signals to), and only
    where SIGTERM still has its default action: a handler the program installed
    itself is left alone.
    """
    # _signal: the C functions behind signal's, without its enum conversions, which cost
    # more than a short train() call should.
    if threading.current_thread() is not threading.main_thread() \
            or _signal.getsignal(_SIGTERM) != _SIG_DFL:
        yield
        return
    _signal.signal(_SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        _signal.signal(_SIGTERM, _SIG_DFL)
