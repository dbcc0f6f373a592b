"""The Cython extension is optional: a failed build warns, and the backend says how to fix it."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
needs_source = pytest.mark.skipif(not (ROOT / "setup.py").exists(), reason="needs a source tree")


def build(tmp_path, **env):
    """Run setup.py build_ext on a copy of the source with a C compiler that always fails."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv*", "build", "*.so", ".git",
                                                            "__pycache__", "_kernels.c"))
    return subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=src,
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "CC": "false", "FASTBP_REQUIRE_CYTHON": "0", **env})


@needs_source
def test_failed_compile_is_a_warning(tmp_path):
    pytest.importorskip("Cython")
    done = build(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "fastbp's Cython backend is unavailable" in done.stderr
    assert not list((tmp_path / "src" / "fastbp").glob("**/_cython*.so"))


@needs_source
def test_failed_compile_is_an_error_when_required(tmp_path):
    pytest.importorskip("Cython")
    done = build(tmp_path, FASTBP_REQUIRE_CYTHON="1")
    assert done.returncode != 0


def test_missing_extension_explains_itself():
    code = """
import sys
sys.modules["fastbp.kernels._cython"] = None  # as if the extension was never built
import fastbp
print(fastbp.backends()["cython"])
try:
    fastbp.train(fastbp.tutorial.network(), [0.05, 0.1], [0.01, 0.99], backend="cython")
except ValueError as exc:
    print(exc)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    status, error = done.stdout.strip().splitlines()
    assert status.startswith("unavailable: the compiled extension fastbp.kernels._cython is "
                             "not built")
    assert error.startswith("backend 'cython' is unavailable: the compiled extension")
    assert "pip install" in error and "FASTBP_REQUIRE_CYTHON=1" in error


def test_thin_wrappers_match_the_oracle():
    kernels = pytest.importorskip("fastbp.kernels._cython")
    import numpy as np

    from fastbp.kernels import oracle

    z = np.array([-800.0, -1.5, 0.0, 2.5, 800.0])
    for code in range(4):
        got = z.copy()
        kernels.activate(code, got)
        assert got.tolist() == oracle.activate(code, z.tolist())
        assert [kernels.derivative(code, v) for v in got] == \
            [oracle.derivative(code, v) for v in got.tolist()]


@needs_source
def test_the_cython_kernels_are_generated_from_the_description_of_the_step():
    # Generated at build time, never committed: one unrolled copy per shape and activation
    # kind, a table that dispatches on one index, and the looped kernel for every shape.
    from fastbp.kernels import cython_codegen

    text = cython_codegen.small_module()
    copies = [line for line in text.splitlines() if line.startswith("cdef void _small_")]
    assert len(copies) == 2 * 8 * 2 * 2
    assert "cdef void _small_2_8_2_l(" in text and "_SMALL[63] = _small_2_8_2_l" in text
    # the canonical sums: from zero, the inputs in order, then the bias
    assert re.search(r"(total\d+) = 0\.0\n +for (i\d+) in range\(0, 2\):\n +\1 = \(\1 \+ "
                     r"p\[j\d+ \* 2 \+ \2\] \* a\[\2\]\)\n +a\[2 \+ j\d+\] = \1 \+ p\[16 \+ j\d+\]",
                     text[text.index("cdef void _small_2_8_2_l("):])
    looped = cython_codegen.looped_include()
    assert "cdef void _online_looped(" in looped and "for layer" in looped
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "src_cython/_small.pyx" in ignored and "src_cython/_looped.pxi" in ignored
    for name in ("_small.pyx", "_looped.pxi"):  # what this build compiled is what they say
        built = ROOT / "src_cython" / name
        if built.exists():
            assert built.read_text() == (text if name == "_small.pyx" else looped)
