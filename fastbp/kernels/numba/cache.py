"""Where the numba backend keeps compiled kernels, how large that is, and pruning it.

Two places. Numba caches the generic kernels beside fastbp's own modules (in
``fastbp/kernels/numba/__pycache__``), or, where the install is read-only, under
``NUMBA_CACHE_DIR`` or numba's per-user cache directory. The small networks' unrolled
kernels are generated per shape (:mod:`fastbp.kernels.numba.unrolled`): each is a module
saved in the first writable of ``$NUMBA_CACHE_DIR/fastbp-kernels``,
``$XDG_CACHE_HOME/fastbp/kernels`` (``~/.cache/fastbp/kernels``) and a directory in the
temporary directory, with numba's cache of it beside it (``__pycache__``). That one grows
with every new shape, so it is pruned: beyond :data:`MAX_MODULES` modules or
:data:`MAX_BYTES`, the oldest go first. (Not the least recently used: numba's cache of a
module holds only while the module's time stamp is unchanged, so using one cannot mark
it.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from ..limits import CACHE_BYTES as MAX_BYTES
from ..limits import CACHE_MODULES as MAX_MODULES

PREFIX = "fastbp_unrolled_"


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):  # removed meanwhile
            total += path.stat().st_size
    return total


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


def generic_dirs() -> list[Path]:
    """Where numba may cache fastbp's generic kernels."""
    here = Path(__file__).resolve().parent
    dirs = [here / "__pycache__", here.parent / "__pycache__"]  # and where earlier versions
    if os.environ.get("NUMBA_CACHE_DIR"):
        dirs.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    dirs.append(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba")
    return dirs


def unrolled_dirs() -> list[Path]:
    """Where the unrolled kernels' modules may be saved, first choice first."""
    dirs = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        dirs.append(Path(os.environ["NUMBA_CACHE_DIR"]) / "fastbp-kernels")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    dirs.append(Path(base) / "fastbp" / "kernels")
    dirs.append(Path(tempfile.gettempdir()) / f"fastbp-kernels-{os.getuid()}"
                if hasattr(os, "getuid") else Path(tempfile.gettempdir()) / "fastbp-kernels")
    return dirs


#: What fastbp before ``kernels/numba/`` left in ``kernels/__pycache__`` (its modules were
#: ``kernels/numba_*.py``): listed and cleared with the rest, never loaded again.
_EARLIER = ("numba_", "libm_exp.")
#: The modules whose functions numba caches, as the start of its files' names.
_STEMS = tuple(f"{name}." for name in ("backend", "batched", "element", "lanes", "libm_exp",
                                       "online", "simd", "single", "sync"))


def _generic_files(folder: Path) -> list[Path]:
    # Numba names its files after the module (online.forward-124.py311.nbi): beside the
    # package every one is ours; in a user-wide directory, ours are in a folder named
    # after this package's directory ("numba_" and a hash of its path).
    if not folder.is_dir():
        return []
    here = Path(__file__).resolve().parent
    in_tree, earlier = folder == here / "__pycache__", folder == here.parent / "__pycache__"
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".nbi", ".nbc")
            and PREFIX not in p.name
            and (in_tree or (earlier and p.name.startswith(_EARLIER))
                 or (p.parent.name.startswith("numba_") and p.name.startswith(_STEMS)))]


def _module_files(folder: Path, name: str) -> list[Path]:
    return [*_files(folder, f"{name}.*"), *_files(folder / "__pycache__", f"{name}.*")]


def info() -> list[dict]:
    """One row per cache directory that exists: ``kind``, ``path``, ``files``, ``bytes``
    and, for the unrolled kernels, ``modules``."""
    rows = []
    for folder in dict.fromkeys(generic_dirs()):
        found = _generic_files(folder)
        if found:
            rows.append({"kind": "generic kernels", "path": str(folder), "files": len(found),
                         "bytes": _size(found)})
    for folder in unrolled_dirs():
        if folder.is_dir():
            found = [p for p in folder.rglob("*") if p.is_file()]
            rows.append({"kind": "unrolled kernels", "path": str(folder),
                         "files": len(found), "bytes": _size(found),
                         "modules": len(_files(folder, f"{PREFIX}*.py"))})
    return rows


def clear() -> int:
    """Remove every cached fastbp kernel (they are compiled again when next needed);
    return the bytes freed."""
    freed = 0
    for folder in dict.fromkeys(generic_dirs()):
        for path in _generic_files(folder):
            freed += _size([path])
            path.unlink(missing_ok=True)
    for folder in unrolled_dirs():
        if folder.is_dir():
            freed += _size([p for p in folder.rglob("*") if p.is_file()])
            shutil.rmtree(folder, ignore_errors=True)
    return freed


def prune(folder: Path, max_modules: int = MAX_MODULES, max_bytes: int = MAX_BYTES) -> int:
    """Remove the oldest kernel modules of ``folder`` (with their compiled code and
    markers) until at most ``max_modules`` remain and they hold at most ``max_bytes``;
    return how many went."""
    modules = _files(folder, f"{PREFIX}*.py")
    entries = []
    for source in modules:
        files = _module_files(folder, source.stem)
        try:
            made = source.stat().st_mtime
        except OSError:
            continue
        entries.append((made, source.stem, files, _size(files)))
    entries.sort()
    total = sum(size for *_, size in entries)
    removed = 0
    while entries and (len(entries) > max_modules or total > max_bytes):
        _, _, files, size = entries.pop(0)
        for path in files:
            path.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed
