"""fastbp: small fully-connected networks trained by backpropagation, fast and provably right."""

from __future__ import annotations

from . import _moved
from ._version import __version__
from .core.network import Network
from .core.optimizers import SGD, Adam
from .core.training import (
    DivergenceError,
    TrainingInterrupted,
    TrainResult,
    gradients,
    resume,
    train,
    train_many,
)
from .core.warmup import compile_kernels as compile
from .kernels import available as available_backends
from .kernels import status as backends
from .learn import tutorial
from .learn.trace import StepTrace, trace

_moved.install()


def __getattr__(name: str):
    return _moved.attribute(name)


__all__ = [
           "SGD",
           "Adam",
           "DivergenceError",
           "Network",
           "StepTrace",
           "TrainResult",
           "TrainingInterrupted",
           "__version__",
           "available_backends",
           "backends",
           "compile",
           "gradients",
           "resume",
           "trace",
           "train",
           "train_many",
           "tutorial",
]
