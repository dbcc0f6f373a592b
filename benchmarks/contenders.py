"""The contenders of ``fastbp bench``: a hand-written C loop, PyTorch eager and JAX.

Loaded by :func:`fastbp.bench.runner` from a source checkout; each ``runner(name,
workload)`` returns a function of the same contract as fastbp's own runners
(epochs, networks) -> (seconds of the training loop, final loss), or raises
RuntimeError saying why it cannot run here. PyTorch and JAX come with
``pip install "fastbp[compare]"``; the C loop needs a C compiler.
"""

from __future__ import annotations

import ctypes
import functools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastbp.cli.bench import Runner, Workload
from fastbp.kernels import oracle

C_SOURCE = Path(__file__).resolve().parent / "c_reference" / "tutorial_loop.c"


def runner(name: str, w: Workload) -> Runner:
    """The runner of contender ``name`` (``"c"``, ``"torch"`` or ``"jax"``) for ``w``."""
    if name == "c" and w.data != "tutorial":
        raise RuntimeError("the C reference loop is written for the tutorial network")
    if name == "c" and w.dtype != "float64":
        raise RuntimeError("the C reference loop computes in double")
    try:
        return {"c": _c_runner, "torch": _torch_runner, "jax": _jax_runner}[name](w)
    except ImportError as exc:
        raise RuntimeError(f"{exc.name} is not installed (pip install 'fastbp[compare]')") \
            from None


@functools.cache
def _c_library() -> Callable:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler")
    lib = Path(tempfile.mkdtemp(prefix="fastbp-cref-")) / "tutorial_loop.so"
    subprocess.run([compiler, "-O3", "-ffp-contract=off", "-shared", "-fPIC", "-o", str(lib),
                    str(C_SOURCE), "-lm"], check=True, capture_output=True)
    fn = ctypes.CDLL(str(lib)).train_tutorial
    fn.argtypes = [ctypes.c_void_p, ctypes.c_long] + [ctypes.c_double] * 5
    fn.restype = None
    return fn


def _c_runner(w: Workload) -> Runner:
    fn = _c_library()

    (x1, x2), (t1, t2) = w.arrays[0][0], w.arrays[1][0]

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        net = w.network()
        start = time.perf_counter()
        fn(net.params.ctypes.data, epochs, x1, x2, t1, t2, w.lr)
        seconds = time.perf_counter() - start
        return seconds, oracle.mean_loss(net.kernel_shape, 0, net.params, *w.arrays)
    return run


def _torch_runner(w: Workload) -> Runner:
    import torch

    X, Y = (torch.tensor(a) for a in w.arrays)  # in the workload's dtype
    n = len(X)
    size = n if w.batch_size is None else w.batch_size

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        net = w.network()
        weights = [torch.tensor(W, requires_grad=True) for W in net.weights]
        biases = [torch.tensor(b, requires_grad=w.bias == "trainable") for b in net.biases]
        trained = weights + (biases if w.bias == "trainable" else [])

        def loss_of(xb, yb):
            a = xb
            for W, b in zip(weights, biases):
                a = torch.sigmoid(a @ W.T + b)
            return (0.5 * ((yb - a) ** 2).sum(dim=1)).mean()

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the fastbp kernels use one core
        try:
            begin = time.perf_counter()
            for _ in range(epochs):
                for start in range(0, n, size):
                    grads = torch.autograd.grad(loss_of(X[start:start + size],
                                                        Y[start:start + size]), trained)
                    with torch.no_grad():
                        for p, g in zip(trained, grads):
                            p -= w.lr * g
            seconds = time.perf_counter() - begin
            with torch.no_grad():
                return seconds, float(loss_of(X, Y))
        finally:
            torch.set_num_threads(threads)
    return run


def _jax_runner(w: Workload) -> Runner:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # float64 where asked; float32 stays float32
    X, Y = (jnp.asarray(a) for a in w.arrays)
    n = len(X)
    size = n if w.batch_size is None else w.batch_size
    if n % size:
        raise RuntimeError(f"the JAX runner needs whole batches ({n} samples, batches of {size})")
    trainable_bias = w.bias == "trainable"

    def loss_of(params, xb, yb):
        a = xb
        for W, b in params:
            a = jax.nn.sigmoid(a @ W.T + b)
        return jnp.mean(0.5 * jnp.sum((yb - a) ** 2, axis=1))

    grad = jax.grad(loss_of)

    def fit_lr(params, lr, epochs):
        def step(i, p):
            xb = jax.lax.dynamic_slice_in_dim(X, i * size, size)
            yb = jax.lax.dynamic_slice_in_dim(Y, i * size, size)
            g = grad(p, xb, yb)
            return [(W - lr * gW, b - lr * gb if trainable_bias else b)
                    for (W, b), (gW, gb) in zip(p, g)]
        return jax.lax.fori_loop(
            0, epochs, lambda e, p: jax.lax.fori_loop(0, n // size, step, p), params)

    fit = jax.jit(lambda params, epochs: fit_lr(params, w.lr, epochs))
    many = jax.jit(jax.vmap(fit_lr, in_axes=(0, 0, None)))

    def run(epochs: int, count: int = 1) -> tuple[float, float]:
        net = w.network()
        params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in zip(net.weights, net.biases)]
        if w.networks == 1:
            start = time.perf_counter()
            params = jax.block_until_ready(fit(params, epochs))
            return time.perf_counter() - start, float(loss_of(params, X, Y))
        stacked = [(jnp.stack([W] * count), jnp.stack([b] * count)) for W, b in params]
        lrs = jnp.asarray(w.learning_rates(count).astype(w.dtype))
        start = time.perf_counter()
        out = jax.block_until_ready(many(stacked, lrs, epochs))
        last = [(W[-1], b[-1]) for W, b in out]
        return time.perf_counter() - start, float(loss_of(last, X, Y))
    return run
