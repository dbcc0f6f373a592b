"""The optimizers ``train(..., optimizer=...)`` takes: :class:`SGD` and :class:`Adam`.

Each is a frozen description of an update rule, defined exactly as scikit-learn's
``_stochastic_optimizers`` defines it; the kernels run it (``fastbp.kernels.step.RULES``)
in the canonical order of ``docs/design.md``. ``g`` is a batch's gradient: the summed
gradient (plus ``weight_decay * w`` for a weight) over the batch's size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .data import check_flag, check_momentum, check_real


def _check_beta(value: object, name: str) -> float:
    value = check_real(value, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent, with momentum.

    Parameters
    ----------
    momentum : float in [0, 1), default 0
        0: ``w = w - lr * g``. Otherwise classical momentum, ``v = momentum * v - lr * g;
        w = w + v``.
    nesterov : bool, default False
        Nesterov's momentum as scikit-learn writes it: ``v = momentum * v - lr * g;
        w = w + (momentum * v - lr * g)``.
    """

    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "momentum", check_momentum(self.momentum))
        object.__setattr__(self, "nesterov", check_flag(self.nesterov, "nesterov"))

    @property
    def name(self) -> str:
        return "sgd"

    def rule_fields(self) -> dict:
        """The :class:`fastbp.kernels.protocol.Rule` fields this optimizer sets."""
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def to_dict(self) -> dict:
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma and Ba), as scikit-learn's ``AdamOptimizer``.

    Once a batch: ``t = t + 1``, and the running products ``b1t = b1t * beta_1``,
    ``b2t = b2t * beta_2`` (``beta**t``, from 1), then ``lr_t = (lr * sqrt(1 - b2t)) /
    (1 - b1t)``. For each parameter: ``m = beta_1 * m + (1 - beta_1) * g``,
    ``s = beta_2 * s + (1 - beta_2) * (g * g)``, ``w = w + (-lr_t * m) / (sqrt(s) +
    epsilon)``. ``m``, ``s``, ``t`` and the products are the run's optimizer state.

    Parameters
    ----------
    beta_1, beta_2 : float in [0, 1), default 0.9 and 0.999
        Decay of the first and second moments.
    epsilon : float > 0, default 1e-8
        Keeps the division finite.
    """

    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta_1", _check_beta(self.beta_1, "beta_1"))
        object.__setattr__(self, "beta_2", _check_beta(self.beta_2, "beta_2"))
        epsilon = check_real(self.epsilon, "epsilon")
        if not (math.isfinite(epsilon) and epsilon > 0.0):
            raise ValueError(f"epsilon must be a finite number > 0, got {epsilon}")
        object.__setattr__(self, "epsilon", epsilon)

    @property
    def name(self) -> str:
        return "adam"

    def rule_fields(self) -> dict:
        return {"adam": True, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}

    def to_dict(self) -> dict:
        return {"name": self.name, **asdict(self)}


Optimizer = SGD | Adam
NAMES = ("sgd", "adam")


def check_optimizer(optimizer: object, momentum: object = 0.0) -> Optimizer:
    """The optimizer ``train`` runs: ``optimizer`` (an :class:`SGD` or :class:`Adam`, or
    "sgd" or "adam" for their defaults), ``momentum`` the shorthand for
    ``SGD(momentum)``; both at once only as "sgd" with a momentum."""
    momentum = check_momentum(momentum)
    if optimizer is None or optimizer == "sgd":
        return SGD(momentum)
    if isinstance(optimizer, str):
        if optimizer != "adam":
            raise ValueError(f"optimizer must be one of {', '.join(map(repr, NAMES))}, "
                             f"fastbp.SGD(...) or fastbp.Adam(...); got {optimizer!r}")
        optimizer = Adam()
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(f"optimizer must be 'sgd', 'adam', fastbp.SGD(...) or "
                        f"fastbp.Adam(...), got {type(optimizer).__name__}")
    if momentum != 0.0:
        raise ValueError(f"momentum={momentum} is the shorthand for optimizer=SGD(momentum="
                         f"{momentum}): give it inside the optimizer, not beside "
                         f"{optimizer!r}")
    return optimizer


def from_dict(saved: dict) -> Optimizer:
    """An optimizer from its :meth:`SGD.to_dict` (a checkpoint's), checked; ValueError
    where it is not one."""
    if not isinstance(saved, dict):
        raise ValueError(f"its optimizer is not a JSON object: {saved!r}")
    fields = dict(saved)
    name = fields.pop("name", None)
    kind = {"sgd": SGD, "adam": Adam}.get(name)
    if kind is None:
        raise ValueError(f"its optimizer's name {name!r} is not one of {', '.join(NAMES)}")
    try:
        return kind(**fields)
    except TypeError as exc:
        raise ValueError(f"its optimizer is not usable: {exc}") from None
