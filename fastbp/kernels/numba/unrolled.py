"""Fully unrolled online-training kernels for small networks: looked up by shape, compiled,
and cached on disk.

A generic kernel keeps weights in memory and loops over layers of unknown width;
on a network as small as the tutorial's, that bookkeeping costs as much as the
arithmetic. So each small shape (sizes, activations, loss, bias mode, with or
without momentum) gets kernels written for it by :mod:`fastbp.kernels.numba.codegen`,
with every parameter in a local variable, as a hand-written C loop would have.

The source is saved under a cache directory and imported from there, so numba
caches the compiled functions beside it; with no writable directory it is
compiled in memory instead. The constants the source names (the exp it inlines,
the trained indices) reach it through the module's namespace. Numba's cache
notices neither them nor a change in ``libm_exp.py``, so both are part of the
file's name, and a comment in the file says what they were.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numba import prange

from ...base.files import atomic_write, private_dir
from . import cache, codegen, libm_exp
from .jit import jit

_modules: dict[str, dict[str, object]] = {}


def kernel(layout, acts, loss: int, train_bias: bool, method: str, decay: bool, weighted: bool,
           report: bool, many: bool = False, real: str = "float64"):
    """The compiled training kernel for this shape and these update stages (``method``:
    ``Rule.method``; ``decay``: has the rule any?), ``kernel_many`` with ``many``,
    computing in ``real``."""
    key = (layout.tobytes(), acts.tobytes(), loss, train_bias, method, decay, weighted, report,
           many, real)
    found = _known.get(key)
    if found is None:
        found = _known[key] = _kernel(_key(layout), _key(acts), int(loss), bool(train_bias),
                                      str(method), bool(decay), bool(weighted), bool(report),
                                      bool(many), str(real))
    return found


def looped_kernels(real: str = "float64") -> dict[str, object]:
    """The looped kernels of :func:`codegen.looped_module`, for every shape, computing in
    ``real`` ("float64" or "float32"): numba compiles each at its first call, or loads it
    from its cache."""
    return _load(_in(real, codegen.looped_module(libm_exp.variant())))


def _in(real: str, module: codegen.Module) -> codegen.Module:
    """``module`` as it computes in ``real``: float32's is :func:`codegen.single`'s."""
    return module if real == "float64" else codegen.single(module)


def stage_kernels(real: str = "float64") -> tuple[object, object, object]:
    """``update_range``, ``update_sample`` and ``adam_step``, the batched kernels' update
    stage (:func:`codegen.stage_module`), computing in ``real``."""
    found = _load(_in(real, codegen.stage_module()))
    return found["update_range"], found["update_sample"], found["adam_step"]


_RELATIVE = re.compile(r"^from (\.+)([\w.]*) import", re.MULTILINE)


def twin(name: str, replace: Mapping[str, str] | None = None) -> dict[str, object]:
    """The float32 twin of the hand-written kernel module ``name`` of this package
    (``batched``, ``element``): its own text, which computes in ``F = np.float64``, made
    to compute in float32 by :func:`codegen.single`, its imports made absolute (those
    named in ``replace`` from the module given there), saved and compiled like a
    generated module. The one text is the kernel in both dtypes."""
    text = Path(__file__).with_name(f"{name}.py").read_text()
    here = __name__.split(".")[:-1]  # fastbp.kernels.numba

    def absolute(match: re.Match) -> str:
        dots, module = match[1], match[2]
        target = ".".join([*here[:len(here) + 1 - len(dots)], module])
        return f"from {(replace or {}).get(module, target)} import"

    text = _RELATIVE.sub(absolute, text).replace("\nF = np.float64\n", "\n")
    return _load(codegen.single(codegen.Module(text, {})))


def lanes_kernels(variant: tuple[bool, bool, bool], real: str = "float64") -> dict[str, object]:
    """The looped lanes kernel of :func:`codegen.lanes_module` for ``variant`` (Adam,
    Nesterov, weighted), for every shape, computing in ``real``, with the exp
    :func:`libm_exp.variant` picks."""
    found = _lanes.get((variant, real))
    if found is None:
        found = _lanes[variant, real] = _load(_in(real, codegen.lanes_module(
            libm_exp.variant(), variant)))
    return found


_lanes: dict[tuple[tuple[bool, bool, bool], str], dict[str, object]] = {}


def loss_kernel(layout, acts, loss: int, real: str = "float64"):
    """The compiled ``mean_loss(params, X, Y)`` for this shape, computing in ``real``."""
    key = (layout.tobytes(), acts.tobytes(), loss, real)
    found = _known.get(key)
    if found is None:
        found = _known[key] = _loss_kernel(_key(layout), _key(acts), int(loss), str(real))
    return found


# Generating and hashing a kernel's source takes longer than a small network's epoch, and
# even building a tuple key from the arrays costs more than a call should: look kernels up
# by the bytes of the layout and activation arrays (int64 both; a layout's bytes fix its
# shape, as every row has four entries).
_known: dict[tuple, object] = {}


def _key(values) -> tuple:
    return tuple(tuple(int(v) for v in row) if np.ndim(row) else int(row) for row in values)


@functools.lru_cache(maxsize=256)
def _kernel_module(layout, acts, loss, train_bias, method, decay, weighted,
                   report, real) -> codegen.Module:
    """A shape's generated training kernels (``kernel`` and ``kernel_many``), generated
    once per process: loading them and naming their marker both need the text."""
    return _in(real, codegen.kernel_module(layout, acts, loss, train_bias, method, decay,
                                           weighted, report, libm_exp.variant()))


@functools.lru_cache(maxsize=256)
def _kernel(layout, acts, loss, train_bias, method, decay, weighted, report, many, real):
    module = _kernel_module(layout, acts, loss, train_bias, method, decay, weighted, report,
                            real)
    return jit(parallel=many, internal=False)(_load(module)["kernel_many" if many else "kernel"])


@functools.lru_cache(maxsize=256)
def _loss_kernel(layout, acts, loss, real):
    module = _in(real, codegen.loss_module(layout, acts, loss, libm_exp.variant()))
    return jit(internal=False)(_load(module)["mean_loss"])


@functools.cache
def _exp_digest() -> str:
    """A digest of the exps a generated module inlines (numba's cache of the module would
    not see them change): the double one's and the float32 one's sources."""
    from .. import exp32
    from . import single

    sources = [Path(m.__file__).read_bytes() for m in (libm_exp, single, exp32)]
    return hashlib.sha256(b"".join(sources)).hexdigest()[:12]


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{value.tolist()}"
    function = getattr(value, "py_func", value)
    return f"{function.__module__}.{function.__qualname__}"


def _text(module: codegen.Module) -> tuple[str, str]:
    """The file a module is saved as: its text (a header naming what it depends on, then
    the source) and its name (from the text's hash)."""
    described = [f"{name} = {_describe(value)}" for name, value in sorted(module.constants.items())]
    header = "".join(f"# {line}\n" for line in [
        "Generated by fastbp.kernels.numba.codegen; these names come from its namespace:",
        *described, f"exp digest: {_exp_digest()}"])
    text = header + module.text
    return text, "fastbp_unrolled_" + hashlib.sha256(text.encode()).hexdigest()[:20]


def _marker(layout, acts, loss: int, train_bias: bool, method: str, decay: bool, weighted: bool,
            report: bool, many: bool, real: str) -> str:
    """The name of the file that says a shape's kernels were compiled into numba's cache."""
    module = _kernel_module(_key(layout), _key(acts), int(loss), bool(train_bias),
                            str(method), bool(decay), bool(weighted), bool(report), str(real))
    return f"{_text(module)[1]}.{'many' if many else 'one'}.compiled"


def compiled_before(layout, acts, loss: int, train_bias: bool, method: str, decay: bool,
                    weighted: bool, report: bool, many: bool, real: str = "float64") -> bool:
    """Did this machine compile these kernels into numba's cache before (loading them
    costs a fraction of compiling them)?"""
    folder = writable_dir()
    return folder is not None and \
        (folder / _marker(layout, acts, loss, train_bias, method, decay, weighted, report,
                          many, real)).exists()


def mark_compiled(layout, acts, loss: int, train_bias: bool, method: str, decay: bool,
                  weighted: bool, report: bool, many: bool, real: str = "float64") -> None:
    """Note that these kernels are now in numba's cache (see :func:`compiled_before`)."""
    folder = writable_dir()
    if folder is not None:
        with contextlib.suppress(OSError):
            (folder / _marker(layout, acts, loss, train_bias, method, decay, weighted, report,
                              many, real)).touch()


def _load(module: codegen.Module) -> dict[str, object]:
    """The namespace of ``module`` run as Python: from a saved file where one can be written
    (so that numba caches beside it), else in memory. Once per process."""
    text, name = _text(module)
    if name not in _modules:
        namespace = {**codegen.NAMESPACE, "prange": prange, "jit": jit, **module.constants}
        _modules[name] = _import(text, name, namespace)
    return _modules[name]


def _import(text: str, name: str, namespace: dict[str, object]) -> dict[str, object]:
    path = _write(text, name)
    if path is None:
        module = types.ModuleType(name)
        vars(module).update(namespace)
        exec(compile(text, f"<{name}>", "exec"), vars(module))
        sys.modules[name] = module  # another generated module may import from it
        return vars(module)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    vars(module).update(namespace)
    spec.loader.exec_module(module)
    sys.modules[name] = module  # numba's cache finds a function's globals by module name
    return vars(module)


def writable_dir() -> Path | None:
    """The first directory where generated modules (and numba's cache of them) can be
    kept and trusted (:func:`fastbp.files.untrusted`: a module there is run, and numba
    loads pickles beside it), or None: kernels are then compiled in memory."""
    for folder in cache.unrolled_dirs():
        found = private_dir(folder, "compiled kernels")
        if found is not None and os.access(found, os.W_OK | os.X_OK):
            return found
    return None


def _write(text: str, name: str) -> Path | None:
    """Save the source where it can stay; None if nowhere is writable and trusted. A new
    one may prune the oldest (:func:`fastbp.kernels.cache.prune`). A saved one is
    left as it is: numba's cache of it holds only while its time stamp does."""
    folder = writable_dir()
    if folder is None:
        return None
    path = folder / f"{name}.py"
    try:
        if path.exists() and path.read_text() == text:
            return path
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        cache.prune(folder)
    except OSError:
        return None
    return path
