"""How many threads share one network's batches, for every compiled backend.

The work of a batch is shared out by output blocks, never by the terms of a sum, so
the count changes the speed only, never a bit (see ``numba.batched.run``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
from collections.abc import Iterator
from pathlib import Path

from ..base.files import private_dir, untrusted, write_text
from .limits import one_thread


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def others_running() -> int:
    """Threads of other processes that are running or waiting for a core right now (0
    where the system does not say: not Linux). Linux counts every runnable thread in
    ``/proc/loadavg``; this process's own (the caller, and a pool's workers still spinning
    after a call) are not another process's and are left out. A snapshot: a process that
    keeps a core busy is in every one, a short one in few."""
    try:
        fd = os.open("/proc/loadavg", os.O_RDONLY)
        try:
            running = int(os.read(fd, 128).split()[3].split(b"/")[0])
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 0
    if running <= 1:  # the caller
        return 0
    own = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", "rb") as stat:
                fields = stat.read()
        except OSError:  # ended meanwhile
            continue
        own += fields[fields.rindex(b")") + 2:][:1] == b"R"
    return max(0, running - max(own, 1))


def parts(threads: int | None, rows: int, n_params: int) -> int:
    """Threads for batches of ``rows`` samples: ``threads`` (None: every core, where the
    batch is large enough to pay), never more than a batch has samples."""
    if threads is None:
        threads = 1 if one_thread(None, rows, n_params) else cores()
    return max(1, min(int(threads), rows))


# --- threads=None, measured ---------------------------------------------------------------
#
# ``limits.THREADS_PAY`` is a first guess, fixed on one VM; whether a second thread pays
# for one network's batches moves with the machine (the same 784-128-10 batches of 32
# gained 1.60x on a Zen 3 VM and 0.89-1.26x on a Zen 4 VM one day, 1.59x the next). So a
# long run measures it (``fastbp.core.calibrate``: a few of its batches on one thread and
# on every core, alternately), and the count that won is kept here, per machine, backend,
# dtype, layer sizes and samples a batch, for every later run of that workload.

@functools.cache
def machine() -> str:
    """This machine as the kept counts name it: its CPU (model name, family and model
    numbers where Linux says them) and the cores this process may run on."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                name, _, value = line.partition(":")
                if not name.strip():
                    break  # the first processor's fields end at a blank line
                fields.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or platform.machine()
    numbers = "/".join(fields[k] for k in ("cpu family", "model") if k in fields)
    return f"{model}{f' ({numbers})' if numbers else ''} x{cores()}"


def workload(backend: str, real: str, sizes: tuple[int, ...], rows: int) -> str:
    """A kept count's key: the backend, the dtype, the layer sizes and the samples of a
    batch (on this machine, :func:`machine`)."""
    return f"{machine()}|{backend}|{real}|{'-'.join(map(str, sizes))}|{rows}"


def store_path() -> Path:
    """The file of kept counts: ``$XDG_CACHE_HOME/fastbp/threads.json``
    (``~/.cache/fastbp/threads.json``), or the one :func:`kept_in` names."""
    if _elsewhere:
        return _elsewhere[-1]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastbp" / "threads.json"


_elsewhere: list[Path] = []


@contextlib.contextmanager
def kept_in(path: str | os.PathLike) -> Iterator[None]:
    """Keep and read the measured counts in ``path`` while the block runs, not in the
    user's file (tests, and benchmarks that measure afresh)."""
    _elsewhere.append(Path(path))
    forget_kept()
    try:
        yield
    finally:
        _elsewhere.pop()
        forget_kept()


_kept: dict[str, dict] | None = None


def _read() -> dict[str, dict]:
    """The kept counts in :func:`store_path`, each checked (:func:`_checked`): none where
    its directory is not one only this user can write (``files.untrusted``), or where it
    is not a JSON object."""
    path = store_path()
    if untrusted(path.parent) is not None:
        return {}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {key: value for key, value in ((k, _checked(v)) for k, v in found.items())
            if value is not None}


def _checked(found: object) -> dict | None:
    """An entry as read from the file: its count one thread or every core (another is not
    ours), and of its other fields the numbers only (a hand-edited file's oddities)."""
    if not isinstance(found, dict):
        return None
    count = found.get("threads")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= cores():
        return None
    return {name: value for name, value in found.items()
            if name == "threads" or (isinstance(value, (int, float))
                                     and not isinstance(value, bool))}


def kept(key: str) -> int | None:
    """The thread count measured for a workload (:func:`workload`), or None where none
    was."""
    found = entry(key)
    return None if found is None else found["threads"]


def entry(key: str) -> dict | None:
    """What was measured for a workload: ``threads`` (the count kept), ``speedup`` (how
    many times as fast as the other count), and where known ``sample_seconds`` (one
    thread's time a sample) and ``measuring_seconds`` (what measuring took); or None."""
    global _kept
    if _kept is None:
        _kept = _read()
    return _kept.get(key)


def keep(key: str, count: int, speedup: float, sample_seconds: float | None = None,
         measuring_seconds: float | None = None) -> None:
    """Keep ``count`` threads for a workload, measured ``speedup`` times as fast as the
    other count (see :func:`entry`): in this process, and in :func:`store_path` (written
    whole, then renamed over the old file; where it cannot be, this process alone keeps
    it)."""
    global _kept
    found = {"threads": int(count), "speedup": round(float(speedup), 3)}
    if sample_seconds is not None and measuring_seconds is not None:
        found.update(sample_seconds=float(f"{sample_seconds:.4g}"),
                     measuring_seconds=float(f"{measuring_seconds:.4g}"))
    _kept = {**(_kept if _kept is not None else _read()), key: found}
    path = store_path()
    if private_dir(path.parent, "thread counts measured on this machine") is None:
        return
    on_disk = {**_read(), key: found}  # another process may have kept others meanwhile
    with contextlib.suppress(OSError):
        write_text(path, json.dumps(on_disk, indent=1, sort_keys=True))


def forget_kept() -> None:
    """Read the kept counts from the file again at the next :func:`kept` (tests)."""
    global _kept
    _kept = None
