"""The library: :class:`~.network.Network`, the checks on what callers pass
(:mod:`.data`, :mod:`.optimizers`), the training engine and its front doors
(:mod:`.engine`, :mod:`.training`), checkpoints, dask clusters and ahead-of-time
compiling (:mod:`.warmup`). It runs the kernels (:mod:`fastbp.kernels`)."""
