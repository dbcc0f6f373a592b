"""Writing files safely, and matplotlib on demand: the only file-handling code in fastbp."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


def _mode_for(target: Path) -> int:
    """The permission bits ``open()`` would give ``target``: its own if it exists, else
    0o666 less the umask (``mkstemp`` would leave 0o600)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mask = os.umask(0)  # the only portable way to read the umask
        os.umask(mask)
        return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Write ``path`` by calling ``write(tmp)`` on a temporary file beside it, then renaming.

    The data reach the disk (fsync) before the rename, so ``path`` holds either
    its old content or the complete new one, also after a crash; if ``write``
    raises, the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _mode_for(target))
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def pyplot():
    """matplotlib.pyplot drawing off-screen, or a ValueError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install 'fastbp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
