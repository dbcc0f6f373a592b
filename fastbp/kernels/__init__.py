"""Backend registry: name -> module, imported only when asked for.

Every backend module fulfils :class:`fastbp.kernels.protocol.Kernels` (``forward``,
``mean_loss``, ``gradients``, ``train``, ``train_then_loss``, ``train_many``,
``epoch_seconds``), with the numbers the oracle (:mod:`fastbp.kernels.oracle`) defines.
A module that cannot work here raises ``ImportError`` with a sentence saying why, which
``status()`` shows. Adding a backend: one module here, one line in ``MODULES``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .limits import NUMBA_PAYS

#: Backends in order of preference for ``backend="auto"`` (fastest first).
MODULES: dict[str, str] = {
    "python": "fastbp.kernels.oracle",
    "numba": "fastbp.kernels.numba.backend",
    "cython": "fastbp.kernels.cython_backend",
}
PREFERENCE: tuple[str, ...] = ("numba", "cython", "python")

_loaded: dict[str, ModuleType] = {}
_failed: dict[str, str] = {}


def _load(name: str) -> ModuleType | None:
    if name in _loaded:
        return _loaded[name]
    if name in _failed:
        return None
    try:
        module = importlib.import_module(MODULES[name])
    except ImportError as exc:
        _failed[name] = str(exc) or type(exc).__name__
        return None
    _loaded[name] = module
    return module


def status() -> dict[str, str]:
    """Return ``{name: "available"}`` or ``{name: "unavailable: <why>"}`` for every backend."""
    return {name: "available" if _load(name) is not None else f"unavailable: {_failed[name]}"
            for name in MODULES}


def available() -> list[str]:
    """Names of the backends usable now, fastest first."""
    return [name for name in PREFERENCE if _load(name) is not None]


def choose(backend: object, shape, rule, count: int = 1, samples: int = 1,
           epochs: int = 1) -> tuple[str, ModuleType]:
    """:func:`resolve` for a run of ``epochs`` epochs of ``count`` networks of ``shape``
    on ``samples`` samples, where ``"auto"`` never waits on a compile.

    ``"auto"`` runs on numba where its kernels for the run are loaded in this process, or
    cached on disk and the run is long enough to pay for loading them
    (``limits.NUMBA_PAYS``); else on the Cython kernels, compiled at install, with the same
    bits. Where numba's are not even cached and the run is that long, they compile in
    another process meanwhile, for the runs after it. Without the Cython extension, or for
    a dtype it lacks, ``"auto"`` is numba, as :func:`resolve` says. A run that must wait for
    numba's kernels to compile (``backend="numba"``, or no Cython) says so on stderr, once.
    """
    if backend != "auto":
        name, module = resolve(backend)
    else:
        cython = _load("cython")
        numba = _loaded.get("numba")  # imported already: asking costs nothing
        if cython is None or shape.real not in cython.DTYPES:
            name, module = resolve("auto")
        else:
            seconds = cython.epoch_seconds(shape, rule, samples) * epochs * count
            if numba is None and seconds >= NUMBA_PAYS:
                numba = _load("numba")
            state = "absent" if numba is None else numba.generic_state(shape, rule, count)
            if state == "loaded" or (state == "cached" and seconds >= NUMBA_PAYS):
                return "numba", numba
            if state == "absent" and numba is not None and seconds >= NUMBA_PAYS:
                numba.compile_in_background(shape, rule, count)
            return "cython", cython
    if name == "numba":
        module.announce_compile(shape, rule, count)
    return name, module


def resolve(backend: object) -> tuple[str, ModuleType]:
    """Return ``(name, module)`` for a backend name or ``"auto"``.

    Raises
    ------
    TypeError
        If ``backend`` is not a string.
    ValueError
        If the name is unknown, or the backend cannot be used here (the
        message says why and how to fix it).
    """
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, got {type(backend).__name__}")
    if backend == "auto":
        for name in PREFERENCE:
            module = _load(name)
            if module is not None:
                return name, module
        raise RuntimeError("no backend is available")  # the oracle always is
    if backend not in MODULES:
        raise ValueError(f"backend must be 'auto' or one of {', '.join(MODULES)}; got {backend!r}")
    module = _load(backend)
    if module is None:
        raise ValueError(f"backend {backend!r} is unavailable: {_failed[backend]}")
    return backend, module
