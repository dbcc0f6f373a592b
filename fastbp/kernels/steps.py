"""Every implementation of a training step, by name: the tests sweep them all.

A training step (forward, loss, deltas, gradient, update) is written in five places, no
more:

========== ==================================================================== ===========
name       what                                                                 written
========== ==================================================================== ===========
oracle     the definition, plain Python (:mod:`fastbp.kernels.oracle`)          by hand
per-sample one network online, unrolled for its shape or looped for any         generated
lanes      many networks online side by side, one per vector lane               generated
batched    numba's tiled batched kernel (:mod:`fastbp.kernels.numba.batched`)   by hand [1]
batched    Cython's twin (``src_cython/_batched.pxi``)                          by hand [1]
========== ==================================================================== ===========

The generated ones come from the one description of the step
(:mod:`fastbp.kernels.step`), in numba (:mod:`fastbp.kernels.numba.codegen`) and Cython
(:mod:`fastbp.kernels.cython_codegen`). [1] The batched pair map function for function;
their update stage is generated from the description too.

:data:`FORMS` names each compiled form of them; :func:`runner` runs one, whatever the
router would pick, so that a test can hold every form to the oracle.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .protocol import Rule, Shape

#: The implementations of a step, and the forms each is compiled into.
STEPS: dict[str, tuple[str, ...]] = {
    "oracle": ("oracle",),
    "per-sample": ("numba/unrolled", "numba/looped", "cython/unrolled", "cython/looped"),
    "lanes": ("numba/unrolled-lanes", "numba/lanes", "cython/lanes"),
    "batched/numba": ("numba/batched",),
    "batched/cython": ("cython/batched",),
}
FORMS: tuple[str, ...] = tuple(form for forms in STEPS.values() for form in forms)

#: ``train(shape, rule, params, velocity, X, Y, epochs, lrs, order, sample_weight=None)``:
#: every row of ``params`` trained in place; False where the form cannot train this
#: configuration.
Runner = Callable[[Shape, Rule, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int,
                   np.ndarray, np.ndarray | None], bool]

_NO_ORDER = np.empty((0, 0), dtype=np.int64)
_NO_SW = np.empty(0)
_NO_R = np.empty((0, 2))


def runner(form: str) -> Runner:
    """The form ``form`` (one of :data:`FORMS`) as a :data:`Runner`.

    Raises
    ------
    ValueError
        If ``form`` is not one of :data:`FORMS`.
    ImportError
        If its backend cannot be used here.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}; got {form!r}")
    if form == "oracle":
        return _oracle
    backend, _, kind = form.partition("/")
    return _numba(kind) if backend == "numba" else _cython(kind)


def _oracle(shape, rule, params, velocity, X, Y, epochs, lrs, order,
            sample_weight=None) -> bool:
    from . import oracle

    for k in range(len(params)):
        oracle.train(shape, rule, params[k], velocity[k], X, Y, epochs, float(lrs[k]), order,
                     None, sample_weight)
    return True


def _numba(kind: str) -> Runner:
    from .numba import backend, batched, lanes, online, unrolled

    def run(shape, rule, params, velocity, X, Y, epochs, lrs, order,
            sample_weight=None) -> bool:
        order = _NO_ORDER if order is None else order
        SW = _NO_SW if sample_weight is None else sample_weight
        online_rule = rule.batch_size == 1
        if kind == "batched":
            for k in range(len(params)):
                params[k], velocity[k] = backend._batched(
                    batched.TRAIN, shape, rule, params[k], velocity[k], X, Y, epochs,
                    float(lrs[k]), order, threads=1, SW=SW)
            return True
        if not online_rule:
            return False
        if kind == "lanes":
            lanes.train_lanes(params, velocity, shape.layout, shape.acts, rule.loss, X, Y,
                              epochs, order, lrs, rule.opt, rule.weight_decay,
                              shape.train_bias, lanes.lanes(shape.n_params, params.itemsize),
                              SW)
            return True
        if kind == "looped":
            for k in range(len(params)):
                online.train_then_loss(params[k], velocity[k], shape.layout, shape.acts,
                                       rule.loss, X, Y, epochs, order, float(lrs[k]),
                                       rule.opt, rule.weight_decay, shape.train_bias,
                                       False, SW, _NO_R)
            return True
        many = kind == "unrolled-lanes"
        kernel = unrolled.kernel(shape.layout, shape.acts, rule.loss, shape.train_bias,
                                 rule.method, rule.weight_decay != 0.0, SW.shape[0] > 0,
                                 False, many)
        if many:
            kernel(params, X, Y, epochs, order, lrs, rule.opt, rule.weight_decay, velocity, SW)
        else:
            for k in range(len(params)):
                kernel(params[k], X, Y, epochs, order, float(lrs[k]), rule.opt,
                       rule.weight_decay, velocity[k], SW, _NO_R)
        return True

    return run


def _cython(kind: str) -> Runner:
    from . import cython_backend

    def run(shape, rule, params, velocity, X, Y, epochs, lrs, order,
            sample_weight=None) -> bool:
        return cython_backend.train_form(kind, shape, rule, params, velocity, X, Y, epochs,
                                         lrs, order, sample_weight)

    return run
