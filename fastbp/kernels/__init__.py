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
