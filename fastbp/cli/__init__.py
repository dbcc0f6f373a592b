"""The ``fastbp`` command (:func:`main`) and what only its commands use: ``fastbp train``
(:mod:`.train`), ``sweep``, ``bench`` and the data files they read (:mod:`.datafile`)."""

from .main import main

__all__ = ["main"]
