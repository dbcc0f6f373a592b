"""The ``"cython"`` backend: an adapter over the compiled ``fastbp._kernels`` extension.

The kernels live in ``src_cython/_kernels.pyx`` (each the twin of a numba kernel
in :mod:`fastbp.backends.numba_backend`) and share the oracle's signatures.
"""

from __future__ import annotations

NAME = "cython"

try:
    from .. import _kernels
except ImportError as exc:
    raise ImportError(
        f"the compiled extension fastbp._kernels is not built ({exc}). Reinstall fastbp where "
        "a C compiler is available (pip install --force-reinstall --no-binary fastbp fastbp, "
        "or pip install . in a checkout); FASTBP_REQUIRE_CYTHON=1 makes a failed build an "
        "error that shows why") from None

forward = _kernels.forward
mean_loss = _kernels.mean_loss
gradients = _kernels.gradients
train = _kernels.train
train_many = _kernels.train_many
