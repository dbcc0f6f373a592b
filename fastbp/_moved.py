"""The modules' names from before they moved into subpackages, kept working:
``import fastbp.network`` gives ``fastbp.core.network``, the same module object (so a
pickle, a ``monkeypatch`` or ``from fastbp import data`` written for the old layout works
on the new one)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

#: A module's old name under ``fastbp`` and where it lives now.
MOVED = {
    **{name: f"fastbp.base.{name}" for name in ("functions", "files", "signals")},
    **{name: f"fastbp.core.{name}" for name in ("network", "data", "optimizers", "engine",
                                               "training", "checkpoint", "distributed",
                                               "warmup")},
    **{name: f"fastbp.learn.{name}" for name in ("tutorial", "trace", "page", "diagram",
                                                "plots")},
    "cli_train": "fastbp.cli.train", "sweep": "fastbp.cli.sweep",
    "bench": "fastbp.cli.bench", "datafile": "fastbp.cli.datafile",
}


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``fastbp.<old name>`` and loads it as the module it now is."""

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package == "fastbp" and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name.partition(".")[2]])
        self._specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set the old name's spec on the module: give it its own back
        module.__spec__ = self._specs.pop(module.__name__, module.__spec__)


def install() -> None:
    """Answer to the old names: those already imported at once, the rest when named."""
    for old, new in MOVED.items():
        if new in sys.modules:
            sys.modules.setdefault(f"fastbp.{old}", sys.modules[new])
    if not any(isinstance(finder, _OldNames) for finder in sys.meta_path):
        sys.meta_path.append(_OldNames())


def attribute(name: str) -> ModuleType:
    """``fastbp.<old name>`` as an attribute (``fastbp.files.untrusted``)."""
    if name not in MOVED:
        raise AttributeError(f"module 'fastbp' has no attribute {name!r}")
    return importlib.import_module(f"fastbp.{name}")
