"""Writing files safely, fastbp's ``.npz`` files, and matplotlib on demand: the only
file-handling code in fastbp."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np


def _mode_for(target: Path) -> int:
    """The permission bits ``open()`` would give ``target``: its own if it exists, else
    0o666 less the umask (``mkstemp`` would leave 0o600)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mask = os.umask(0)  # the only portable way to read the umask
        os.umask(mask)
        return 0o666 & ~mask


def check_output_path(path: object, name: str) -> Path:
    """``path`` as a Path whose directory exists and is writable, before any work is done;
    a ValueError naming ``name`` and the user's path otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path, got {type(path).__name__}")
    target = Path(path)
    directory = target.parent
    if not directory.is_dir():
        raise ValueError(f"{name}: cannot write {os.fspath(path)!r}: directory "
                         f"{os.fspath(directory)!r} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: cannot write {os.fspath(path)!r}: directory "
                         f"{os.fspath(directory)!r} is not writable")
    if target.is_dir():
        raise ValueError(f"{name}: cannot write {os.fspath(path)!r}: it is a directory")
    return target


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Write ``path`` by calling ``write(tmp)`` on a temporary file beside it, then renaming.

    The data reach the disk (fsync) before the rename, so ``path`` holds either
    its old content or the complete new one, also after a crash; if ``write``
    raises, the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    if not target.parent.is_dir():  # mkstemp's error would name its temporary file
        raise FileNotFoundError(2, f"cannot write {os.fspath(path)!r}: directory "
                                f"{os.fspath(target.parent)!r} does not exist", os.fspath(path))
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


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``text`` as UTF-8, written atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_npz(path: str | os.PathLike, metadata: dict, arrays: dict[str, np.ndarray]) -> Path:
    """``arrays`` and the JSON ``metadata`` as an ``.npz`` file (no pickle), written
    atomically with :func:`atomic_write`."""
    text = np.array(json.dumps(metadata))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
            np.savez(fh, metadata=text, **arrays)

    return atomic_write(path, write)


def read_npz(path: str | os.PathLike, names: Iterable[str], what: str, kind: str,
             version: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The metadata and the arrays ``names`` of a file :func:`write_npz` wrote, whose
    metadata says ``format: kind`` at ``format_version: version``. Anything else (another
    file, a damaged one, another version) is a ValueError that calls the file ``what``;
    a missing file is a FileNotFoundError."""
    path, names = Path(path), list(names)
    try:
        with np.load(path, allow_pickle=False) as data:
            if set(data.files) != {"metadata", *names}:
                raise ValueError(f"holds {sorted(data.files)}, not a {what}")
            meta = json.loads(str(data["metadata"]))
            arrays = {name: np.array(data[name]) for name in names}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable {what}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != kind:
        raise ValueError(f"{path} is not a {what}")
    if meta.get("format_version") != version:
        raise ValueError(f"{path} has {what} format version {meta.get('format_version')!r}; "
                         f"this fastbp reads version {version}")
    return meta, arrays


def pyplot():
    """matplotlib.pyplot drawing off-screen, or a ValueError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--plot needs matplotlib: pip install 'fastbp[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
