"""Build script: the package itself is declared in pyproject.toml.

The Cython kernels (``src_cython/_kernels.pyx``) are compiled here into
``fastbp._kernels`` when that source exists; see the Cython backend.
"""

from setuptools import setup

setup()
