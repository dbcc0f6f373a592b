"""Every backend fulfils the whole kernel Protocol: the optional abilities too, so no
caller probes a backend for them."""

import inspect
import re
from pathlib import Path

import pytest

import fastbp
from fastbp.kernels import resolve
from fastbp.kernels.protocol import Kernels

MEMBERS = [name for name, _ in inspect.getmembers(Kernels, inspect.isfunction)
           if not name.startswith("_")]


def test_the_protocol_names_the_compiling_abilities():
    assert {"expect", "generic_state", "compile_for", "compiling"} <= set(MEMBERS)


def test_every_backend_has_every_member_with_its_parameters(backend):
    _, module = resolve(backend)
    assert isinstance(module.NAME, str) and isinstance(module.THREADED, bool)
    for name in MEMBERS:
        declared = list(inspect.signature(getattr(Kernels, name)).parameters)[1:]  # self
        found = getattr(module, name, None)
        assert callable(found), (backend, name)
        assert list(inspect.signature(found).parameters) == declared, (backend, name)


def test_no_caller_probes_a_backend_with_getattr():
    package = Path(fastbp.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"getattr\((self\.)?kernels\b", text), path


def test_the_cython_twins_of_the_thresholds_agree():
    from fastbp.kernels import limits

    if fastbp.backends()["cython"] != "available":
        pytest.skip("the Cython extension is not built")
    from fastbp.kernels import _cython

    assert _cython.EVALUATION_CHUNK == limits.CHUNK
    assert _cython.LANES_MAX_PARAMS == limits.UNROLL_PARAMS
    assert _cython.TILES == {"rows": limits.TILE_ROWS, "columns": limits.TILE_COLUMNS,
                             "block terms": limits.BLOCK_TERMS,
                             "block rows": limits.BLOCK_ROWS,
                             "padded rows": limits.PADDED_ROWS}


def test_every_twin_named_in_the_kernels_exists():
    # "(twin: ``name``)" in a docstring or a comment names the same kernel in the other
    # language: it must be defined there (generated code counts by its `def` line).
    root = Path(__file__).resolve().parents[1]  # the checkout these tests came with
    sources = [*(root / "fastbp" / "kernels").rglob("*.py"), *(root / "src_cython").glob("*.p*"),
               *(root / "src_cython").glob("*.tp"), root / "docs" / "design.md"]
    sources = [p for p in sources if p.exists() and p.suffix != ".c"]
    if not (root / "src_cython").is_dir():
        pytest.skip("run from a source checkout")
    texts = {p: p.read_text() for p in sources}
    defined = set()
    for text in texts.values():
        defined |= set(re.findall(r"(?:def|cdef[^(\n]*?)\s\**(\w+)\(", text))
    for path, text in texts.items():
        for reference in re.findall(r"twin:([^)]*)\)", text):
            for name in re.findall(r"``(\w+)``", reference):
                assert name in defined, (path.name, name)


@pytest.mark.parametrize(("args", "way"), [
    # training: online small networks go to the small kernels whatever the threads
    ((True, 8, 1, None, 1), "small"),
    ((True, 8, 10**6, 4, 1), "small"),
    ((True, 8, 100, None, 32), "short"),  # a mini-batch too small for threads
    ((True, 101_770, 6000, None, 6000), "batched"),  # 784-128-10, full batch
    ((True, 101_770, 6000, 1, 6000), "short"),  # one thread asked for
    # evaluating: small networks in one thread on the small kernels
    ((False, 8, 4, None), "small"),
    ((False, 500, 4, None), "short"),
    ((False, 8, 10**6, 4), "batched"),
    ((False, 101_770, 6000, None), "batched"),
])
def test_one_router_decides_which_kernel_runs(args, way):
    from fastbp.kernels import limits

    assert limits.route(*args) == way


def test_real_name_is_the_dtype_name():
    import numpy as np

    from fastbp.kernels.protocol import real_name

    for dtype in ("float64", "float32", ">f8", "<f4", "int64", "float16"):
        array = np.zeros(3, dtype)
        assert real_name(array) == array.dtype.name
