"""Fully unrolled online-training kernels for small networks, generated per shape.

A generic kernel keeps weights in memory and loops over layers of unknown width;
on a network as small as the tutorial's, that bookkeeping costs as much as the
arithmetic. Here the source of a kernel is written for one shape (sizes,
activations, loss, bias mode, with or without momentum): every parameter is a
local variable, every sum is spelled out in the canonical order, so LLVM keeps
the whole network in registers, as a hand-written C loop would.

The source is saved under a cache directory and imported from there, so numba
caches the compiled kernel beside it; with no writable directory it is compiled
in memory instead.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..functions import LOGISTIC, RELU, SOFTMAX, SQUARED, TANH
from . import libm_exp

#: Networks with at most this many parameters get an unrolled kernel.
MAX_PARAMS = 128

_modules: dict[str, dict[str, object]] = {}


def suitable(layout) -> bool:
    """Is the network small enough to unroll?"""
    last = layout[-1]
    return int(last[3] + last[1]) <= MAX_PARAMS


def _activation(code: int, z: list[str], out: list[str]) -> list[str]:
    if code == LOGISTIC:
        return [f"{o} = 1.0 / (1.0 + EXP(-{v}))" for o, v in zip(out, z)]
    if code == TANH:
        return [f"{o} = math.tanh({v})" for o, v in zip(out, z)]
    if code == RELU:
        return [f"{o} = {v} if {v} > 0.0 else 0.0" for o, v in zip(out, z)]
    if code == SOFTMAX:
        lines = [f"m = {z[0]}"] + [f"m = {v} if {v} > m else m" for v in z[1:]]
        lines += [f"e{j} = EXP({v} - m)" for j, v in enumerate(z)]
        lines.append("total = " + _sum([f"e{j}" for j in range(len(z))]))
        return lines + [f"{o} = e{j} / total" for j, o in enumerate(out)]
    return [f"{o} = {v}" for o, v in zip(out, z)]


def _derivative(code: int, o: str) -> str:
    if code == LOGISTIC:
        return f"({o} * (1.0 - {o}))"
    if code == TANH:
        return f"(1.0 - {o} * {o})"
    if code == RELU:
        return f"(1.0 if {o} > 0.0 else 0.0)"
    return "1.0"


def _sum(terms: list[str]) -> str:
    """((0.0 + t0) + t1) + ...: the canonical left-to-right sum from zero."""
    expr = "0.0"
    for term in terms:
        expr = f"({expr} + {term})"
    return expr


def _forward(layout, acts) -> list[str]:
    """Lines computing every layer's outputs ``a{layer}_{j}`` for sample ``s``."""
    lines = [f"a0_{i} = X[s, {i}]" for i in range(layout[0][0])]
    for layer, (n_in, n_out, w_at, b_at) in enumerate(layout):
        z = [f"z{layer + 1}_{j}" for j in range(n_out)]
        for j in range(n_out):
            net = _sum([f"p{w_at + j * n_in + i} * a{layer}_{i}" for i in range(n_in)])
            lines.append(f"{z[j]} = {net} + p{b_at + j}")
        lines += _activation(acts[layer], z, [f"a{layer + 1}_{j}" for j in range(n_out)])
    return lines


def _plain(layout, acts):
    return [tuple(int(v) for v in row) for row in layout], [int(c) for c in acts]


@functools.cache
def _exp_import() -> str:
    """How a generated module gets ``EXP``: glibc's exp inlined, or the C library's.

    The line carries a digest of libm_exp.py: numba's cache does not notice when a
    called function changes, so a changed exp must change the kernel's source.
    """
    which = libm_exp.variant()
    if which == "libm":
        return "from math import exp as EXP"
    digest = hashlib.sha256(Path(libm_exp.__file__).read_bytes()).hexdigest()[:12]
    return (f"from fastbp.backends.libm_exp import exp_{which} as EXP, "
            f"exp_{which}_unchecked as EXP_UNCHECKED, special as SPECIAL  # {digest}")


def _header(name: str, args: str, n_params: int) -> list[str]:
    return ["import math", _exp_import(), "import numpy as np", "from numba import njit, prange",
            "U = np.uint64", "", "",
            '@njit(cache=CACHE, nogil=True, error_model="numpy")', f"def {name}({args}):",
            *(f"    p{q} = params[{q}]" for q in range(n_params))]


def loss_source(layout, acts, loss: int) -> str:
    """Python source of ``mean_loss(params, X, Y)``, as ``oracle.mean_loss``."""
    layout, acts = _plain(layout, acts)
    n_out = layout[-1][1]
    per_output = []
    for k in range(n_out):
        o, t = f"a{len(layout)}_{k}", f"Y[s, {k}]"
        if loss == SQUARED:
            per_output += [f"r = {t} - {o}", "e += 0.5 * (r * r)"]
        else:
            per_output.append(f"term = 0.0 if {t} == 0.0 else {t} * math.log({o})")
            if acts[-1] != SOFTMAX:
                per_output += [f"u = 1.0 - {t}",
                               f"term = term + (0.0 if u == 0.0 else u * math.log(1.0 - {o}))"]
            per_output.append("e -= term")
    lines = [*_header("mean_loss", "params, X, Y", layout[-1][3] + n_out),
             "    loss_sum = 0.0",  # not "total": softmax lines use that name
             "    for s in range(X.shape[0]):",
             *(f"        {line}" for line in _forward(layout, acts)),
             "        e = 0.0",
             *(f"        {line}" for line in per_output),
             "        loss_sum += e",
             "    return loss_sum / X.shape[0]"]
    return "\n".join(lines) + "\n"


def _step(layout, acts, loss: int, train_bias: bool, momentum: bool):
    """Lines of one online step on sample ``s``: its forward pass, then its deltas and
    updates; and the indices of the trained parameters."""
    trained = []
    for n_in, n_out, w_at, b_at in layout:
        trained += range(w_at, w_at + n_in * n_out)
        if train_bias:
            trained += range(b_at, b_at + n_out)

    def w(layer, j, i):
        n_in, _, w_at, _ = layout[layer]
        return f"p{w_at + j * n_in + i}"

    forward, body = _forward(layout, acts), []
    last = len(layout)
    outs = [f"a{last}_{k}" for k in range(layout[-1][1])]
    targets = [f"Y[s, {k}]" for k in range(len(outs))]
    if loss != SQUARED:
        body += [f"d{last}_{k} = {o} - {t}" for k, (o, t) in enumerate(zip(outs, targets))]
    elif acts[-1] == SOFTMAX:
        body.append("g = " + _sum([f"({o} - {t}) * {o}" for o, t in zip(outs, targets)]))
        body += [f"d{last}_{k} = {o} * (({o} - {t}) - g)"
                 for k, (o, t) in enumerate(zip(outs, targets))]
    else:
        body += [f"d{last}_{k} = ({o} - {t}) * {_derivative(acts[-1], o)}"
                 for k, (o, t) in enumerate(zip(outs, targets))]
    for layer in range(last - 1, 0, -1):
        n_h, n_next = layout[layer][0], layout[layer][1]
        for j in range(n_h):
            total = _sum([f"d{layer + 1}_{k} * {w(layer, k, j)}" for k in range(n_next)])
            body.append(f"d{layer}_{j} = {total} * {_derivative(acts[layer - 1], f'a{layer}_{j}')}")

    # Every delta above used the weights from before this step; now update.
    for layer, (n_in, n_out, w_at, b_at) in enumerate(layout):
        grads = [(w_at + j * n_in + i, f"(0.0 + d{layer + 1}_{j} * a{layer}_{i})")
                 for j in range(n_out) for i in range(n_in)]
        if train_bias:
            grads += [(b_at + j, f"(0.0 + d{layer + 1}_{j})") for j in range(n_out)]
        for q, g in grads:
            if momentum:
                body += [f"v{q} = momentum * v{q} - lr * {g}", f"p{q} = p{q} + v{q}"]
            else:
                body.append(f"p{q} = p{q} - lr * {g}")
    return forward, body, trained


def lanes(n_params: int) -> int:
    """Networks trained side by side, one per vector lane, by ``kernel_many``."""
    return 32 if n_params <= 32 else 16 if n_params <= 64 else 8


def source(layout, acts, loss: int, train_bias: bool, momentum: bool) -> str:
    """Python source of ``kernel(params, X, Y, epochs, order, lr, momentum, velocity)``.

    And of ``kernel_many(P, X, Y, epochs, order, lrs, momentum, V)``, which trains
    the rows of ``P`` in parallel, in groups of ``lanes`` networks per thread.
    """
    layout, acts = _plain(layout, acts)
    n_params = layout[-1][3] + layout[-1][1]
    forward, backward, trained = _step(layout, acts, loss, train_bias, momentum)
    loads = [f"v{q} = velocity[{q}]" for q in trained] if momentum else []
    stores = [f"params[{q}] = p{q}" for q in trained]
    stores += [f"velocity[{q}] = v{q}" for q in trained] if momentum else []
    single = [
        *_header("kernel", "params, X, Y, epochs, order, lr, momentum, velocity", n_params),
        *(f"    {line}" for line in loads),
        "    shuffled = order.shape[0] == epochs",
        "    for epoch in range(epochs):",
        "        for pos in range(X.shape[0]):",
        "            s = order[epoch, pos] if shuffled else pos",
        *(f"            {line}" for line in forward + backward),
        *(f"    {line}" for line in stores),
    ]
    return "\n".join(single + _many(layout, forward, backward, trained, n_params, momentum)) + "\n"


def _many(layout, forward, backward, trained, n_params, momentum) -> list[str]:
    """Lines of ``kernel_many``: a group of networks per thread, one per vector lane.

    Each step is two loops over the group's networks, which LLVM vectorises: the
    forward pass, then deltas and updates. Every value lives in one scratch array,
    row by row (``S[row * G + lane]``), so the compiler sees that the rows do not
    overlap. The group size ``G`` is a run-time value: a loop of known, small trip
    count would be unrolled before it could be vectorised. The forward loop uses
    glibc's exp without its branch for rare inputs (|x| >= 512, tiny, inf, NaN)
    and counts those inputs; when there are any, the forward pass is redone with
    the full exp. Without an inline exp (``libm``) it calls the C library.
    """
    fast = libm_exp.variant() != "libm"
    n_inputs, n_outputs = layout[0][0], layout[-1][1]
    values = [f"a{layer + 1}_{j}" for layer, row in enumerate(layout) for j in range(row[1])]
    row = {f"p{q}": q for q in range(n_params)}
    if momentum:
        row.update({f"v{q}": n_params + i for i, q in enumerate(trained)})
    row.update({name: len(row) + i for i, name in enumerate(values)})
    row["lr"] = len(row)

    def cell(name: str) -> str:
        return f"S[U({row[name]} * G + lane)]"

    def loop(lines: list[str], suffix: str, store: list[str]) -> list[str]:
        """One loop over the lanes: load what ``lines`` read, run them, store ``store``."""
        text = "\n".join(lines)
        read = [name for name in row if re.search(rf"\b{name}\b", text)]
        out = [f"{name} = {cell(name)}" for name in read if name not in values
               or not re.search(rf"^{name} = ", text, re.M)]
        out += lines + [f"{cell(name)} = {name}" for name in store]
        renamed = [_LOOP_LOCAL.sub(lambda m: f"{m.group(0)}{suffix}", line) for line in out]
        return ["for lane in range(g):", *(f"    {line}" for line in renamed)]

    inputs = [f"a0_{i} = X[s, {i}]" for i in range(n_inputs)]
    targets = [f"y{k} = Y[s, {k}]" for k in range(n_outputs)]
    pass_ = [line for line in forward if line not in inputs]
    backward = [re.sub(r"Y\[s, (\d+)\]", r"y\1", line) for line in backward]
    updated = [f"p{q}" for q in trained] + ([f"v{q}" for q in trained] if momentum else [])
    step = ["nbad = 0"] if fast else []
    if fast:
        checked = []
        for line in pass_:
            checked += [f"nbad += SPECIAL({arg})" for arg in _EXP_CALL.findall(line)]
            checked.append(_EXP_CALL.sub(r"EXP_UNCHECKED(\1)", line))
        step += loop(checked, "", values)
        step += ["if nbad:  # rare: redo the forward pass with the full exp",
                 *(f"    {line}" for line in loop(pass_, "_x", values))]
    else:
        step += loop(pass_, "", values)
    step += loop(backward, "_b", updated)
    size = len(row)
    return [
        "", "",
        '@njit(parallel=True, cache=CACHE, nogil=True, error_model="numpy")',
        "def kernel_many(P, X, Y, epochs, order, lrs, momentum, V):",
        "    count = P.shape[0]",
        f"    G = min(count, {lanes(n_params)})",
        "    for grp in prange((count + G - 1) // G):",
        "        k0 = grp * G",
        "        g = min(G, count - k0)",
        f"        S = np.empty({size} * G)",
        "        for lane in range(g):",
        f"            S[{row['lr']} * G + lane] = lrs[k0 + lane]",
        f"            for q in range({n_params}):",
        "                S[q * G + lane] = P[k0 + lane, q]",
        *([f"            for i in range({len(trained)}):",
           f"                S[({n_params} + i) * G + lane] = V[k0 + lane, TRAINED[i]]"]
          if momentum else []),
        "        shuffled = order.shape[0] == epochs",
        "        for epoch in range(epochs):",
        "            for pos in range(X.shape[0]):",
        "                s = order[epoch, pos] if shuffled else pos",
        *(f"                {line}" for line in inputs + targets + step),
        "        for lane in range(g):",
        f"            for q in range({n_params}):",
        "                P[k0 + lane, q] = S[q * G + lane]",
        *([f"            for i in range({len(trained)}):",
           f"                V[k0 + lane, TRAINED[i]] = S[({n_params} + i) * G + lane]"]
          if momentum else []),
        "",
        f"TRAINED = np.array({list(trained)}, dtype=np.int64)",
    ]


_EXP_CALL = re.compile(r"\bEXP\(([^()]*)\)")
# The names a lane loop defines, renamed per loop so that no value lives from one
# loop into the next (a value used after its loop stops LLVM vectorising it).
_LOOP_LOCAL = re.compile(r"\b(?:p\d+|v\d+|[azd][1-9]\d*_\d+|e\d+|m|total|g|lr)\b")


def _cache_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        dirs.append(Path(os.environ["NUMBA_CACHE_DIR"]) / "fastbp-kernels")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    dirs.append(Path(base) / "fastbp" / "kernels")
    dirs.append(Path(tempfile.gettempdir()) / f"fastbp-kernels-{os.getuid()}"
                if hasattr(os, "getuid") else Path(tempfile.gettempdir()) / "fastbp-kernels")
    return dirs


def _write(text: str, name: str) -> Path | None:
    """Save the source where it can stay; None if nowhere is writable."""
    for folder in _cache_dirs():
        path = folder / f"{name}.py"
        try:
            if path.exists() and path.read_text() == text:
                return path
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, path)
            return path
        except OSError:
            continue
    return None


def _load(text: str, function: str):
    name = "fastbp_unrolled_" + hashlib.sha256(text.encode()).hexdigest()[:20]
    if name not in _modules:
        _modules[name] = _import(text, name)
    return _modules[name][function]


def _import(text: str, name: str) -> dict[str, object]:
    """The generated module's namespace: imported from its saved source, else in memory."""
    path = _write(text.replace("CACHE", "True"), name)
    if path is not None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            sys.modules[name] = module
            return vars(module)
        except RuntimeError:  # numba found nowhere to cache: compile in memory
            pass
    namespace: dict[str, object] = {}
    exec(compile(text.replace("CACHE", "False"), f"<{name}>", "exec"), namespace)
    return namespace


def kernel(layout, acts, loss: int, train_bias: bool, momentum: bool, many: bool = False):
    """The compiled training kernel for this shape (``kernel_many`` with ``many``)."""
    return _kernel(_key(layout), _key(acts), int(loss), bool(train_bias), bool(momentum),
                   bool(many))


def loss_kernel(layout, acts, loss: int):
    """The compiled ``mean_loss(params, X, Y)`` for this shape."""
    return _loss_kernel(_key(layout), _key(acts), int(loss))


# Generating and hashing a kernel's source takes longer than a small network's epoch:
# look kernels up by shape first (chunks and records ask again and again).
def _key(values) -> tuple:
    return tuple(tuple(int(v) for v in row) if np.ndim(row) else int(row) for row in values)


@functools.lru_cache(maxsize=256)
def _kernel(layout, acts, loss, train_bias, momentum, many):
    return _load(source(layout, acts, loss, train_bias, momentum),
                 "kernel_many" if many else "kernel")


@functools.lru_cache(maxsize=256)
def _loss_kernel(layout, acts, loss):
    return _load(loss_source(layout, acts, loss), "mean_loss")
