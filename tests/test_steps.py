"""Every form of every step implementation (fastbp.kernels.steps), each forced whatever the
router would pick, reproduces the stored bits (tests/stored_bits.py): the numpy-groupies
way, one sweep over the registry by name."""

import numpy as np
import pytest
import stored_bits

import fastbp
from fastbp.kernels import steps

STORED = np.load(stored_bits.PATH)
# Compiling a shape's unrolled kernels takes seconds (a parallel kernel_many, tens): those
# forms run the configurations with the fewest parameters, of SGD's and of the others'.
SAMPLE = {"numba/unrolled": (8, 2), "numba/unrolled-lanes": (3, 0)}
# The fewest configurations each form must train (the catalogue holds few random shapes).
FEWEST = {"numba/unrolled": 3, "numba/unrolled-lanes": 2, "cython/unrolled": 3}


def _seeds(form):
    seeds = range(stored_bits.COUNT)
    if form not in SAMPLE:
        return seeds
    online = [s for s in seeds if stored_bits.case(s)[1].batch_size == 1]
    fewest = sorted(online, key=lambda s: stored_bits.case(s)[0].n_params)
    sgd, others = SAMPLE[form]
    return ([s for s in fewest if s < stored_bits.SGD_ONLY][:sgd]
            + [s for s in fewest if s >= stored_bits.SGD_ONLY][:others])


def test_the_registry_holds_at_most_five_step_implementations():
    assert len(steps.STEPS) <= 5
    assert set(steps.FORMS) == {f for forms in steps.STEPS.values() for f in forms}
    with pytest.raises(ValueError, match="form must be one of"):
        steps.runner("numba/fast")


@pytest.mark.parametrize("form", steps.FORMS)
def test_every_form_reproduces_the_stored_bits(form):
    backend = form.partition("/")[0]
    if backend != "oracle" and fastbp.backends()[backend] != "available":
        from conftest import _require

        _require(backend)
    run = steps.runner(form)
    ran = 0
    for seed in _seeds(form):
        shape, rule, params, velocity, X, Y, epochs, lrs, order, weights = \
            stored_bits.case(seed)
        if not run(shape, rule, params, velocity, X, Y, epochs, lrs, order, weights):
            continue
        ran += 1
        got = np.concatenate([params, velocity], axis=1)
        stored = STORED[f"case{seed}"][:, :got.shape[1]]  # without a report
        assert np.array_equal(got, stored, equal_nan=True), (form, seed)
    assert ran >= FEWEST.get(form, 10), f"{form} trained only {ran} of the configurations"
