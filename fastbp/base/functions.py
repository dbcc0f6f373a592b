"""The tables of math: names, kernel codes and the formulas fastbp shows.

Activations and losses are named by users and passed to kernels as small
integer codes. Derivatives are written in terms of a neuron's *output*
(``o * (1 - o)`` for the logistic), as in the reference text and in
scikit-learn's ``neural_network._base``. The formula tables are what
:func:`fastbp.trace` prints, with ``{n}`` standing for a neuron's name; the
kernels implement the same formulas in the canonical order of arithmetic
(``docs/design.md``), defined by the oracle (:mod:`fastbp.kernels.oracle`).
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

#: Other names for an activation, as PyTorch and Keras spell it; a Network stores the
#: name on the left of ACTIVATIONS.
ACTIVATION_ALIASES: dict[str, str] = {"sigmoid": "logistic"}

#: Each activation's output in terms of its net input, as :func:`fastbp.trace` shows it.
ACTIVATION_FORMULA: dict[str, str] = {
    "identity": "net_{n}",
    "logistic": "1 / (1 + e^(-net_{n}))",
    "tanh": "tanh(net_{n})",
    "relu": "max(0, net_{n})",
    "softmax": "e^(net_{n}) / sum_k e^(net_k)",
}

#: d out / d net of each elementwise activation, written in its output.
DERIVATIVE_FORMULA: dict[str, str] = {
    "identity": "1",
    "logistic": "out_{n} * (1 - out_{n})",
    "tanh": "1 - out_{n}^2",
    "relu": "1 if out_{n} > 0 else 0",
}

SQUARED = 0
CROSS_ENTROPY = 1

LOSSES: dict[str, int] = {"squared": SQUARED, "cross_entropy": CROSS_ENTROPY}
#: One output's share of the per-sample loss, by loss and output activation ("any": every
#: other output layer); a reported loss is the mean over samples of the sum over outputs.
LOSS_FORMULA: dict[tuple[str, str], str] = {
    ("squared", "any"): "1/2 * (target_{n} - out_{n})^2",
    ("cross_entropy", "logistic"):
        "-(target_{n} * log(out_{n}) + (1 - target_{n}) * log(1 - out_{n}))",
    ("cross_entropy", "softmax"): "-target_{n} * log(out_{n})",
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
    """Return the kernel code of an activation name (or alias), or raise a clear error."""
    return _code({**ACTIVATIONS, **{a: ACTIVATIONS[n] for a, n in ACTIVATION_ALIASES.items()}},
                 name, argument, "an activation")


def activation_name(name: str) -> str:
    """The name a Network stores for ``name``: itself, or what the alias stands for."""
    return ACTIVATION_ALIASES.get(name, name)


def loss_code(name: object) -> int:
    """Return the kernel code of a loss name, or raise a clear error."""
    return _code(LOSSES, name, "loss", "a loss")


def loss_name(code: int) -> str:
    """The name of a loss code (the inverse of :func:`loss_code`)."""
    return next(name for name, value in LOSSES.items() if value == code)
