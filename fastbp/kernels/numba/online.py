"""One network trained online, one sample at a time, for any shape: the generic tier of a
small network's ``train`` (:mod:`fastbp.kernels.numba.tiers`), and its evaluation.

The kernels are generated from the one description of the step (:mod:`fastbp.kernels.step`)
as loops over the network's own layout (:func:`codegen.looped_module`), compiled once per
machine: no working copies, no buffers for a batch, a dozen arguments. On a small network
that is what a short call spends its time on. Twin: the same module written in Cython
(``_looped.pxi``, rendered from the same description at build time).

- ``train_then_loss(params, velocity, layout, acts, loss, X, Y, epochs, order, lr,
  opt, decay, train_bias, evaluate)``
- ``gradients(params, layout, acts, loss, X, Y, decay, grad)``
- ``mean_loss(params, layout, acts, loss, X, Y)``
- ``forward(params, layout, acts, X, out)``
"""

from __future__ import annotations

from .unrolled import looped_kernels

_kernels = looped_kernels()
_by_real = {"float64": _kernels}


def kernels(real: str) -> dict[str, object]:
    """The four kernels computing in ``real`` ("float64": this module's own, or
    "float32"), compiled at their first call."""
    found = _by_real.get(real)
    if found is None:  # generating the module's text costs milliseconds: once a process
        found = _by_real[real] = looped_kernels(real)
    return found
train_then_loss = _kernels["train_then_loss"]
gradients = _kernels["gradients"]
mean_loss = _kernels["mean_loss"]
forward = _kernels["forward"]
