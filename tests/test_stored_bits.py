"""Every backend, as the router runs it, still gives the bits stored before the kernels
were last rewritten (``tests/stored_bits.py`` made them, from the oracle); every form of
the step, each forced, is held to them in ``tests/test_steps.py``."""

import numpy as np
import pytest
import stored_bits

from fastbp.kernels import resolve

STORED = np.load(stored_bits.PATH)


def test_the_store_holds_every_configuration():
    assert sorted(STORED.files) == sorted(f"case{s}" for s in range(stored_bits.COUNT))


@pytest.mark.parametrize("part", range(6))
def test_every_backend_reproduces_the_stored_bits(backend, part):
    kernels = resolve(backend)[1]
    for seed in range(part, stored_bits.COUNT, 6):
        got = stored_bits.run(kernels, seed)
        assert np.array_equal(got, STORED[f"case{seed}"], equal_nan=True), \
            (seed, stored_bits.case(seed)[:2])
