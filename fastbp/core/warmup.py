"""Compiling ahead of time: ``fastbp.compile`` and ``fastbp warmup``.

Training never waits for a shape's own kernels (see :mod:`fastbp.kernels.numba.tiers`),
but a cluster or a container can compile them before the work arrives, so that every
run uses the fastest kernels from its first epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..base import functions
from ..kernels import resolve
from ..kernels.protocol import Rule
from .data import check_flag, check_integer, check_weight_decay
from .network import Network
from .optimizers import check_optimizer


def compile_kernels(sizes: Sequence[int], *, activation: str | Sequence[str] = "logistic",
                    bias: str = "trainable", loss: str = "squared",
                    batch_size: int | None = 1,
                    momentum: float = 0.0, weight_decay: float = 0.0, many: bool = False,
                    backend: str = "auto", optimizer: object = None,
                    dtype: str = "float64") -> list[str]:
    """Compile (or load from the on-disk cache) every kernel that training networks of
    ``sizes`` with these options runs, and wait for them. Exported as ``fastbp.compile``.

    Parameters
    ----------
    sizes, activation, bias, dtype : as for :class:`fastbp.Network`
    loss, batch_size, momentum, weight_decay, optimizer : as for :func:`fastbp.train` (a
        ``batch_size`` of None, the full batch, compiles as any batch above one)
    many : bool, default False
        The kernels of :func:`fastbp.train_many` (several networks at once) rather than
        those of :func:`fastbp.train`.
    backend : str, default "auto"
        The backend to compile for; one that compiles nothing at run time (Cython, the
        oracle) has nothing to do.

    Returns
    -------
    list of str
        What was compiled and how long it took, a line each.
    """
    net = Network(sizes, activation, bias=bias, seed=0, dtype=dtype)
    batch_size = 2 if batch_size is None else check_integer(batch_size, "batch_size", 1)
    rule = Rule(functions.loss_code(loss), batch_size,
                weight_decay=check_weight_decay(weight_decay),
                **check_optimizer(optimizer, momentum).rule_fields())
    many = check_flag(many, "many")
    name, kernels = resolve(backend)
    return kernels.compile_for(net.kernel_shape, rule, many=many) or \
        [f"backend {name!r} compiles nothing at run time"]
