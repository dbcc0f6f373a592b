"""The one table of math every backend follows.

Activations and losses are named by users and passed to kernels as small
integer codes. Derivatives are written in terms of a neuron's *output*
(``o * (1 - o)`` for the logistic), as in the reference text and in
scikit-learn's ``neural_network._base``; the loss table fixes how an output
layer's delta is formed. The canonical order of every sum is documented in
``shared/DESIGN.md`` and in the oracle (:mod:`fastbp.backends.oracle`).
"""

from __future__ import annotations

IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
SOFTMAX = 4

ACTIVATIONS: dict[str, int] = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "softmax": SOFTMAX,
}
ACTIVATION_NAMES: dict[int, str] = {code: name for name, code in ACTIVATIONS.items()}

#: Derivative of each elementwise activation expressed in its output ``o``.
DERIVATIVE_IN_OUTPUT: dict[str, str] = {
    "identity": "1",
    "logistic": "o * (1 - o)",
    "tanh": "1 - o * o",
    "relu": "1 if o > 0 else 0",
}

SQUARED = 0
CROSS_ENTROPY = 1

LOSSES: dict[str, int] = {"squared": SQUARED, "cross_entropy": CROSS_ENTROPY}
LOSS_NAMES: dict[int, str] = {code: name for name, code in LOSSES.items()}

#: Per-sample loss of each loss, as documented to users.
LOSS_FORMULAS: dict[str, str] = {
    "squared": "sum_k 1/2 (t_k - o_k)^2",
    "cross_entropy": "-sum_k [t_k log o_k + (1 - t_k) log(1 - o_k)] (logistic); "
    "-sum_k t_k log o_k (softmax)",
}

#: Output activations a cross-entropy loss is defined for.
CROSS_ENTROPY_OUTPUTS = ("logistic", "softmax")

BIAS_MODES = ("fixed", "trainable")


def _code(table: dict[str, int], name: object, argument: str, what: str) -> int:
    """``table[name]``, or a TypeError / ValueError that names ``argument``."""
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a string naming {what} ({', '.join(table)}), "
                        f"got {type(name).__name__}")
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"{argument} must be one of {', '.join(table)}; got {name!r}") from None


def activation_code(name: object, argument: str = "activation") -> int:
    """Return the kernel code of an activation name, or raise a clear error."""
    return _code(ACTIVATIONS, name, argument, "an activation")


def loss_code(name: object) -> int:
    """Return the kernel code of a loss name, or raise a clear error."""
    return _code(LOSSES, name, "loss", "a loss")
