"""Shared fixtures: ``backend`` sweeps every registered backend.

A backend that cannot load here is skipped with its reason, unless
``FASTBP_REQUIRE_ALL_BACKENDS=1`` (set by CI), which turns that into a failure.
"""

import os

import numpy as np
import pytest

import fastbp
from fastbp.kernels import MODULES

REQUIRE_ALL = os.environ.get("FASTBP_REQUIRE_ALL_BACKENDS") == "1"


def _require(name):
    status = fastbp.backends()[name]
    if status != "available":
        if REQUIRE_ALL:
            pytest.fail(f"backend {name!r} is required here but {status}")
        pytest.skip(f"backend {name!r} {status}")
    return name


@pytest.fixture(autouse=True, scope="session")
def _kept_threads_apart(tmp_path_factory):
    """Thread counts measured in the tests are kept in a file of their own, not the user's
    (``threads=None`` reads them; every count gives the same bits, but a test's path should
    not depend on what this machine measured before)."""
    from fastbp.kernels import threads

    with threads.kept_in(tmp_path_factory.mktemp("kept") / "threads.json"):
        yield


@pytest.fixture(params=list(MODULES))
def backend(request):
    """Every registered backend's name, in turn."""
    return _require(request.param)


# numba twice: on the kernels a run starts on and on a shape's own (its tiers, which a
# short test run would otherwise never reach; see fastbp.kernels.numba.tiers).
COMPILED = [n for n in MODULES if n != "python"]
COMPILED[COMPILED.index("numba") + 1:0] = ["numba/own"] if "numba" in COMPILED else []


@pytest.fixture(params=COMPILED or [None])
def compiled_backend(request, monkeypatch):
    """Every backend other than the oracle, in turn; "numba/own" is numba with every
    shape's own kernels compiled at first use (FASTBP_TIERS=specialised)."""
    if request.param is None:
        pytest.skip("no compiled backend is registered")
    name, _, tier = request.param.partition("/")
    _require(name)
    if tier:
        from fastbp.kernels.numba import tiers as numba_tiers

        monkeypatch.setattr(numba_tiers, "MODE", "specialised")
    return name


def random_network(rng, depth, width_max, activations=None, bias="trainable", softmax=False):
    """A random network with random sizes, activations and weights."""
    sizes = [int(rng.integers(1, width_max + 1)) for _ in range(depth + 1)]
    if softmax:
        sizes[-1] = max(2, sizes[-1])
    if activations is None:
        pool = ["logistic", "tanh", "relu", "identity"]
        activations = [pool[int(rng.integers(len(pool)))] for _ in range(depth)]
    if softmax:
        activations = [*activations[:-1], "softmax"]
    return fastbp.Network(sizes, activations, bias=bias, seed=int(rng.integers(2**31)))


def random_data(rng, net, n, loss="squared"):
    X = rng.normal(size=(n, net.sizes[0]))
    if loss == "cross_entropy" and net.activations[-1] == "softmax":
        Y = rng.dirichlet(np.ones(net.sizes[-1]), size=n)
    else:
        Y = rng.uniform(0, 1, size=(n, net.sizes[-1]))
    return X, Y


def sleep_long():
    """A stand-in for a long compile, run in a child process by test_tiers."""
    import time

    time.sleep(600)
