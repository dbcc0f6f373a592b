"""fastbp: small fully-connected networks trained by backpropagation, fast and provably right."""

from __future__ import annotations

from . import tutorial
from ._version import __version__
from .kernels import available as available_backends
from .kernels import status as backends
from .network import Network
from .optimizers import SGD, Adam
from .trace import StepTrace, trace
from .training import (
                       DivergenceError,
                       TrainingInterrupted,
                       TrainResult,
                       gradients,
                       resume,
                       train,
                       train_many,
)
from .warmup import compile_kernels as compile

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
