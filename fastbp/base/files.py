"""Writing files safely, fastbp's ``.npz`` files, and matplotlib on demand: the only
file-handling code in fastbp."""

from __future__ import annotations

import functools
import glob
import json
import os
import stat
import tempfile
import warnings
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


def untrusted(path: str | os.PathLike) -> str | None:
    """Why the directory ``path`` may not be trusted with code or pickles, or None.

    Trusted: a real directory (not a symbolic link), owned by this user, writable by no
    one else (a group write bit is fine for the user's private group); every directory
    above it, on the path as given and on the real path,
    owned by this user or root and writable by no one else unless sticky (as ``/tmp``),
    and every symbolic link on the way owned by this user or root. Anyone who can write
    there could plant the files fastbp would load (numba's cache index is a pickle).
    """
    if not hasattr(os, "getuid"):  # no owners to check
        return None if os.path.isdir(path) else f"{os.fspath(path)} is not a directory"
    path = os.path.abspath(path)
    me = os.getuid()
    try:
        own = os.lstat(path)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if stat.S_ISLNK(own.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(own.st_mode):
        return f"{path} is not a directory"
    if own.st_uid != me:
        return f"{path} is owned by uid {own.st_uid}, not by this user (uid {me})"
    if _others_write(own, me):
        return f"{path} is writable by others (mode {stat.S_IMODE(own.st_mode):o})"
    return _untrusted_above(path, me)


def _others_write(info: os.stat_result, me: int) -> bool:
    """Can anyone but this user write there? A group's write bit counts only where the
    group is not this user's private group (umask 002 systems give every directory one)."""
    return bool(info.st_mode & 0o002) or (
        bool(info.st_mode & 0o020) and not _private_group(info.st_gid, me))


@functools.lru_cache(maxsize=16)
def _private_group(gid: int, me: int) -> bool:
    """Is ``gid`` this user's primary group, with no other member (listed, or by primary
    group)?"""
    try:
        import grp
        import pwd

        user, group = pwd.getpwuid(me), grp.getgrgid(gid)
        others = [u.pw_name for u in pwd.getpwall() if u.pw_gid == gid and u.pw_uid != me]
    except (ImportError, KeyError):
        return False
    return user.pw_gid == gid and not others and set(group.gr_mem) <= {user.pw_name}


@functools.lru_cache(maxsize=64)
def _untrusted_above(path: str, me: int) -> str | None:
    """The directories above ``path``, as given and resolved (see :func:`untrusted`)."""
    above = {os.path.dirname(path), os.path.dirname(os.path.realpath(path))}
    for start in above:
        folder = start
        while True:
            try:
                info = os.lstat(folder)
            except OSError as exc:
                return f"{folder}: {exc.strerror}"
            if info.st_uid not in (me, 0):
                return f"{folder} (above it) is owned by uid {info.st_uid}"
            if not stat.S_ISLNK(info.st_mode) and _others_write(info, me) \
                    and not info.st_mode & stat.S_ISVTX:
                return f"{folder} (above it) is writable by others and not sticky"
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return None


def private_dir(path: str | os.PathLike, purpose: str) -> Path | None:
    """``path`` created (mode 0700) where missing and returned if :func:`untrusted` finds
    nothing wrong with it; else None, and a warning, once per directory, that says why
    it is not used for ``purpose``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None  # not writable: nothing to warn of
    why = untrusted(path)
    if why is None:
        return path
    warn_once(f"fastbp does not use {os.fspath(path)} for {purpose}: {why}")
    return None


@functools.cache
def warn_once(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


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
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):  # name the user's file
            raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from None
        raise
    return target


class WriterLock:
    """The right to write ``path``: an advisory lock (``fcntl.flock``) on the side file
    ``.NAME.lock``, held until :meth:`release` (or until this object or its process is
    gone), which removes the side file. A second writer, in this process or another, gets
    a ValueError. Taking it removes the temporary files that writers killed mid-write left
    beside ``path``. (Where there is no ``fcntl``, nothing is locked.)"""

    def __init__(self, path: str | os.PathLike, name: str) -> None:
        target = Path(path)
        self.fd: int | None = None
        self.side = target.parent / f".{target.name}.lock"
        try:
            import fcntl
        except ImportError:
            return
        while self.fd is None:
            fd = os.open(self.side, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                         0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise ValueError(f"{name}: {os.fspath(path)} is being written by another run "
                                 f"(it holds the lock {self.side}); give this run another "
                                 f"file") from None
            if _same_file(fd, self.side):
                self.fd = fd
            else:  # locked a side file its last holder removed as it let go: take the new one
                os.close(fd)
        for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            stale.unlink(missing_ok=True)

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            self.side.unlink(missing_ok=True)  # while held: no one else holds this file
            os.close(fd)

    def __del__(self) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


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


#: JSON nested deeper than this (lists in dicts in lists...) is refused: fastbp's own
#: files nest four levels at most, and a deep one exhausts Python's recursion.
MAX_JSON_DEPTH = 16
#: Most bytes of a ``.npz`` file's JSON metadata.
MAX_METADATA_BYTES = 2**20
#: A compressed ``.npz`` member may expand this many times at most (fastbp writes them
#: stored, numpy's ``savez_compressed`` of real data rarely exceeds 10): a zip bomb's
#: members expand a thousandfold.
MAX_EXPANSION = 100


def parse_json(text: str | bytes, what: str) -> object:
    """``text`` parsed as JSON, nested at most :data:`MAX_JSON_DEPTH` levels; a ValueError
    that names ``what`` otherwise."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"{what}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} is not valid JSON: {exc}") from None
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"{what}: JSON nested more than {MAX_JSON_DEPTH} levels deep")
        level = [v for item in level if isinstance(item, (dict, list))
                 for v in (item.values() if isinstance(item, dict) else item)]
    return value


def available_memory() -> int:
    """Bytes of memory this machine can give a new allocation now (MemAvailable on Linux;
    else the free physical pages; else no limit known)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


def npy_header(fh) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an open ``.npy`` stream declares, read from its header alone
    (nothing is allocated); ``fh`` is left at the data."""
    version = np.lib.format.read_magic(fh)
    read = {(1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise ValueError(f".npy format version {version} is not supported")
    shape, _, dtype = read(fh)
    return shape, dtype


def check_zip_member(info: zipfile.ZipInfo, path: object) -> None:
    """Refuse a compressed member of ``path`` that would expand out of proportion."""
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > 2**20 \
            and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
        raise ValueError(f"{os.fspath(path)}: member {info.filename} would expand from "
                         f"{info.compress_size} to {info.file_size} bytes; refused")


def _matches(shape: tuple[int, ...], want: tuple, dims: dict[str, int]) -> bool:
    """Does ``shape`` fit ``want``, whose entries are sizes or names of sizes that must be
    the same wherever they appear (``dims`` holds those seen so far)?"""
    if len(shape) != len(want):
        return False
    for size, wanted in zip(shape, want):
        if isinstance(wanted, str):
            wanted = dims.setdefault(wanted, size)
        if size != wanted:
            return False
    return True


def read_npz(path: str | os.PathLike, names: Iterable[str], what: str, kind: str,
             version: int, shapes: Callable[[dict], dict[str, tuple]]
             ) -> tuple[dict, dict[str, np.ndarray]]:
    """The metadata and the arrays ``names`` of a file :func:`write_npz` wrote, whose
    metadata says ``format: kind`` at ``format_version: version``.

    ``shapes(metadata)`` gives each array's expected ``(shape, dtype)``, checked against
    what the file declares before anything is read into memory (and may raise a
    ValueError of its own); a size given as a name (``"K"``) may be any size, the same
    in every array that names it. Anything else (another file, a damaged one, another version,
    a member of another shape) is a ValueError that names the file and calls it ``what``;
    a missing file is a FileNotFoundError.
    """
    path, names = Path(path), list(names)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            if set(infos) != {"metadata", *names} or len(infos) != len(names) + 1:
                raise ValueError(f"holds {sorted(infos)}, not a {what}")
            for info in infos.values():
                check_zip_member(info, path)
            if infos["metadata"].file_size > MAX_METADATA_BYTES:
                raise ValueError(f"its metadata is larger than {MAX_METADATA_BYTES} bytes")
            with archive.open(infos["metadata"]) as fh:
                text = np.lib.format.read_array(fh, allow_pickle=False)
            if text.dtype.kind != "U" or text.shape != ():
                raise ValueError("its metadata is not one string")
            meta = parse_json(str(text), "its metadata")
            if not isinstance(meta, dict) or meta.get("format") != kind:
                raise ValueError(f"it is not a {what}")
            if meta.get("format_version") != version:
                raise ValueError(f"it has {what} format version "
                                 f"{meta.get('format_version')!r}; this fastbp reads "
                                 f"version {version}")
            expected, dims = shapes(meta), {}
            arrays = {}
            for name in names:
                with archive.open(infos[name]) as fh:
                    shape, dtype = npy_header(fh)
                    want_shape, want_dtype = expected[name]
                    if not _matches(shape, want_shape, dims) or dtype != want_dtype:
                        raise ValueError(f"its {name} are {dtype} of shape {shape}, not "
                                         f"{np.dtype(want_dtype)} of shape {want_shape}")
                with archive.open(infos[name]) as fh:  # read from the start, as checked
                    arrays[name] = np.lib.format.read_array(fh, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
            zipfile.LargeZipFile, NotImplementedError) as exc:
        message = str(exc)
        if message.startswith(os.fspath(path)):  # said already
            raise ValueError(message) from None
        raise ValueError(f"{os.fspath(path)} is not a readable {what}: {message}") from None
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
