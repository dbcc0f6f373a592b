"""A few hundred random trainings whose final parameters are stored in
``tests/data/stored_bits.npz``: every kernel must keep reproducing them bit for bit
(``tests/test_stored_bits.py``), through any rewrite of the kernels.

``python tests/stored_bits.py`` writes the file anew from the oracle. Do that only
where the canonical order itself changes on purpose, and say so in the commit.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from fastbp.base.functions import IDENTITY, LOGISTIC, RELU, SOFTMAX, SQUARED, TANH
from fastbp.kernels.protocol import Rule, Shape

PATH = Path(__file__).parent / "data" / "stored_bits.npz"
#: The first 300 configurations train by SGD (classical momentum); the next ones by Adam
#: or Nesterov's momentum too, with sample weights, and report their epochs' losses.
COUNT = 450
SGD_ONLY = 300
CROSS_ENTROPY = 1


def case(seed: int):
    """Configuration ``seed``: ``(shape, rule, params, velocity, X, Y, epochs, lrs, order,
    sample_weight)``, ``params`` and ``velocity`` (the optimizer's state) with one row
    per network (one to three of them)."""
    rng = np.random.default_rng([20261203, seed])
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(1, 7)) for _ in range(depth + 1)]
    acts = [int(rng.choice([LOGISTIC, LOGISTIC, TANH, RELU, IDENTITY])) for _ in range(depth)]
    if rng.random() < 0.2:
        sizes[-1], acts[-1] = max(2, sizes[-1]), SOFTMAX
    loss = CROSS_ENTROPY if acts[-1] in (LOGISTIC, SOFTMAX) and rng.random() < 0.5 else SQUARED
    rows, at = [], 0
    for n_in, n_out in itertools.pairwise(sizes):
        rows.append((n_in, n_out, at, at + n_in * n_out))
        at += n_in * n_out + n_out
    layout, codes = np.array(rows, dtype=np.int64), np.array(acts, dtype=np.int64)
    shape = Shape.of(layout, codes, bool(rng.integers(2)))
    n = int(rng.integers(1, 9))
    batch_size = int(rng.choice([1, 1, 1, 2, 3, n]))
    rule = Rule(loss, batch_size, float(rng.choice([0.0, 0.0, 0.5, 0.9])),
                float(rng.choice([0.0, 0.0, 1e-4, 0.1])))
    count = int(rng.choice([1, 1, 3]))
    params = rng.normal(scale=0.8, size=(count, shape.n_params))
    velocity = rng.normal(scale=0.01, size=(count, shape.n_params)) if rule.momentum else \
        np.zeros((count, shape.n_params))
    X = rng.normal(size=(n, sizes[0]))
    if acts[-1] == SOFTMAX:
        Y = rng.dirichlet(np.ones(sizes[-1]), size=n)
    else:
        Y = rng.uniform(0, 1, size=(n, sizes[-1]))
    epochs = int(rng.integers(1, 6))
    lrs = rng.choice([0.05, 0.5, 1.3], size=count)
    order = np.array([rng.permutation(n) for _ in range(epochs)], dtype=np.int64) \
        if rng.random() < 0.5 else None
    sample_weight = None
    if seed >= SGD_ONLY:
        more = np.random.default_rng([20261204, seed])
        kind = more.choice(["adam", "adam", "nesterov", "sgd"])
        if kind == "adam":
            rule = rule._replace(momentum=0.0, adam=True,
                                 beta_1=float(more.choice([0.9, 0.5])),
                                 beta_2=float(more.choice([0.999, 0.9])),
                                 epsilon=float(more.choice([1e-8, 1e-3])))
            velocity = rule.new_state(shape.n_params, count)
            velocity[:, :2 * shape.n_params] = np.abs(more.normal(
                scale=0.01, size=(count, 2 * shape.n_params))) * more.integers(2)
        elif kind == "nesterov":
            rule = rule._replace(momentum=float(more.choice([0.5, 0.9])), nesterov=True)
            velocity = more.normal(scale=0.01, size=(count, shape.n_params))
        if more.random() < 0.6:
            sample_weight = more.uniform(0.1, 3.0, size=n)
    return shape, rule, params, velocity, X, Y, epochs, lrs, order, sample_weight


def run(kernels, seed: int) -> np.ndarray:
    """Train configuration ``seed`` with a backend module; its parameters then its
    optimizer's state, every network's in a row (one network: then its report of the
    epochs' losses, from configuration ``SGD_ONLY`` on)."""
    shape, rule, params, velocity, X, Y, epochs, lrs, order, weights = case(seed)
    if len(params) == 1:
        report = np.zeros((epochs, 2)) if seed >= SGD_ONLY else None
        kernels.train(shape, rule, params[0], velocity[0], X, Y, epochs, float(lrs[0]), order,
                      None, weights, report)
        if report is not None:
            return np.concatenate([params, velocity, report.reshape(1, -1)], axis=1)
    else:
        kernels.train_many(shape, rule, params, velocity, X, Y, epochs, lrs, order, None,
                           weights)
    return np.concatenate([params, velocity], axis=1)


def main() -> None:
    from fastbp.kernels import oracle

    results = [run(oracle, seed) for seed in range(COUNT)]
    np.savez_compressed(PATH, **{f"case{seed}": r for seed, r in enumerate(results)})
    print(f"wrote {PATH} ({COUNT} configurations)")


if __name__ == "__main__":
    main()
