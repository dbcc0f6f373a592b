"""The ``"numba"`` backend (:mod:`.backend`), its kernels and what runs them.

- ``backend``: the Protocol's functions, and which kernel each call runs.
- ``online``, ``lanes``: the generic small-network kernels (one network per call; many,
  one per vector lane), compiled once per machine.
- ``codegen``, ``unrolled``, ``tiers``: a shape's own unrolled kernels, written from
  statements, compiled in another process once they pay, cached per shape.
- ``batched`` (with ``simd``, ``sync``): batches and wide layers as tiled products in the
  canonical order, shared among threads.
- ``element``, ``libm_exp``: the arithmetic of one element; glibc's ``exp`` written out.
- ``jit``, ``cache``: the one ``njit`` configuration and the cache it trusts; where
  compiled kernels are kept.

Importing this package imports nothing of numba: its modules do.
"""
