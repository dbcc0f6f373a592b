"""Build script: the package is declared in pyproject.toml; this adds the Cython kernels.

``src_cython/_kernels.pyx`` compiles into ``fastbp.kernels._cython``, its float32 twin
(the same text made float32 by ``fastbp/kernels/cython_codegen.py``) into
``fastbp.kernels._cython32``, and the catalogue of
small networks, generated from the description of the step (``fastbp/kernels/step.py``)
by ``fastbp/kernels/cython_codegen.py``, into ``fastbp.kernels._cython_small`` (all
in parallel), with ``-O3
-ffp-contract=off`` (no FMA contraction: the backends agree bit for bit). The
extension is optional: where it cannot be built, fastbp installs without it
and says so, and the numba and pure-Python backends still work. Set
``FASTBP_REQUIRE_CYTHON=1`` to make a failed build an error (CI does).

The kernels are compiled for the building machine (``-march=native``), as
numba's are: it doubles the speed of wide layers and, with FMA contraction
off, changes no bits. For a wheel to run on other machines, choose the target
with ``FASTBP_MARCH`` (``FASTBP_MARCH=x86-64-v2``, say, or empty for the
compiler's default).
"""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

REQUIRE = os.environ.get("FASTBP_REQUIRE_CYTHON") == "1"
MARCH = os.environ.get("FASTBP_MARCH", "native")


def _skip(what, exc):
    if REQUIRE:
        raise exc
    print(f"WARNING: fastbp's Cython backend is unavailable: {what} failed ({exc}). "
          "fastbp works without it; set FASTBP_REQUIRE_CYTHON=1 to make this an error.",
          file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing, unless FASTBP_REQUIRE_CYTHON=1, and compiles
    the extensions in parallel (the catalogue of small networks takes as long as the rest)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extension(self, ext):
        msvc = self.compiler.compiler_type == "msvc"
        flags = ["/O2", "/fp:precise"] if msvc else ["-O3", "-ffp-contract=off", "-fno-math-errno"]
        # Optional, dropped one by one if the compiler refuses them: the CPU target,
        # then OpenMP (train_many's prange; without it, train_many runs serially).
        optional = [[], ["/openmp"]] if msvc else [[f"-march={MARCH}"] if MARCH else [],
                                                     ["-fopenmp"]]
        while True:
            extra = [flag for group in optional for flag in group]
            ext.extra_compile_args = flags + extra
            ext.extra_link_args = [f for f in extra if "openmp" in f]
            try:
                super().build_extension(ext)
                return
            except Exception as exc:
                dropped = next((group for group in reversed(optional) if group), None)
                if dropped is None:
                    _skip(f"compiling {ext.name}", exc)
                    return
                print(f"WARNING: building {ext.name} with {' '.join(dropped)} failed; "
                      "retrying without it", file=sys.stderr)
                optional[optional.index(dropped)] = []

    def run(self):
        try:
            super().run()
        except Exception as exc:
            _skip("compiling the extension", exc)


def write_generated():
    """Write the Cython kernels generated from the one description of the step
    (``fastbp/kernels/cython_codegen.py``) into ``src_cython/``, where their text changed;
    the written files are not committed. The generator needs only the standard library
    and two of fastbp's modules, imported here without the package (and its numpy)."""
    import importlib
    import types
    from pathlib import Path

    root = Path(__file__).parent
    for name in ("fastbp", "fastbp.base", "fastbp.kernels"):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(root.joinpath(*name.split(".")))]
            sys.modules[name] = package
    codegen = importlib.import_module("fastbp.kernels.cython_codegen")
    generated = {"_small.pyx": codegen.small_module(), "_looped.pxi": codegen.looped_include()}
    folders = {name: root / ("fastbp/kernels" if name.endswith(".pxd") else "src_cython")
               for name in [*codegen.SINGLE, *codegen.SINGLE.values()]}
    for name, twin in codegen.SINGLE.items():  # the float32 kernels: the same text, float32
        source = generated.get(name) or (folders[name] / name).read_text()
        generated[twin] = codegen.single(source)
    for target, text in generated.items():
        path = folders.get(target, root / "src_cython") / target
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def extensions():
    try:
        from Cython.Build import cythonize

        write_generated()
        return cythonize([Extension("fastbp.kernels._cython", ["src_cython/_kernels.pyx"]),
                          Extension("fastbp.kernels._cython32", ["src_cython/_kernels32.pyx"]),
                          Extension("fastbp.kernels._cython_small", ["src_cython/_small.pyx"]),
                          Extension("fastbp.kernels._cython_small32",
                                    ["src_cython/_small32.pyx"])],
                         include_path=["."], compiler_directives={"language_level": 3},
                         nthreads=min(2, os.cpu_count() or 1))
    except Exception as exc:
        _skip("Cython", exc)
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
