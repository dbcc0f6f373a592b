"""numba's source of the kernels generated from the one description of the step.

:mod:`fastbp.kernels.step` describes a step; :mod:`fastbp.kernels.emit` records it as
statements. Here they become numba's Python:

- a shape's **unrolled** kernels: ``kernel`` (one network online), ``kernel_many`` (a
  network per vector lane) and ``mean_loss``, every parameter a named scalar, every sum
  spelled out in the canonical order, so LLVM keeps the network in registers;
- the **looped** kernels for every shape (:func:`looped_module`).

:mod:`fastbp.kernels.numba.unrolled` compiles and caches the result; the names a text
uses but does not define come with it as constants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from .. import step
from ..emit import (
    FLOAT_LITERAL,
    TAIL,
    Fields,
    Ix,
    Lanes,
    Looped,
    Stmt,
    Unrolled,
    exposed,
    lit,
    typed_arrays,
    var,
)
from ..limits import unrolled_lanes


def trained(layout, train_bias: bool) -> list[int]:
    """Indices of the parameters training changes: every weight, and biases if trained."""
    out = []
    for n_in, n_out, w_at, b_at in layout:
        out += range(w_at, w_at + n_in * n_out)
        if train_bias:
            out += range(b_at, b_at + n_out)
    return out


def unrolled_rule(loss: int, train_bias: bool, method: str, decay: bool,
                  weighted: bool = False, report: bool = False) -> dict:
    """A rule as an unrolled kernel knows it: the loss, and which stages it has (``method``:
    ``Rule.method``; ``weighted``: sample weights; ``report``: each epoch's losses)."""
    return {"loss": int(loss), "train_bias": bool(train_bias),
            "momentum": method in ("momentum", "nesterov"), "nesterov": method == "nesterov",
            "adam": method == "adam", "decay": bool(decay), "weighted": bool(weighted),
            "report": bool(report)}


def state_names(method: str, updated: list[int], n_params: int) -> dict[str, str]:
    """The optimizer state an unrolled kernel keeps in named scalars: each name and its
    index in the state row (``emit.TAIL`` after Adam's moments)."""
    if method == "sgd":
        return {}
    names = {f"v{q}": str(q) for q in updated}
    if method == "adam":
        names.update({f"s{q}": str(n_params + q) for q in updated})
        names.update({name: str(2 * n_params + i) for i, name in enumerate(TAIL)})
    return names


def statements(layout, acts, rule: dict, *parts, targets: str = "names") -> list[Stmt]:
    """The statements of ``parts`` of the step (each ``part(writer)``) for this shape, the
    targets read as ``y{k}`` (``targets="names"``) or ``Y[s, k]``."""
    w = Unrolled("numba", layout, acts, rule)
    if targets != "names":
        w.target = lambda k: lit(f"Y[s, {k}]")
    for part in parts:
        part(w)
    return w.stmts


def inputs(n_inputs: int) -> list[Stmt]:
    """``a0_i = X[s, i]``: sample ``s`` into the input layer's names."""
    return [Stmt(f"a0_{i}", lit(f"X[s, {i}]")) for i in range(n_inputs)]


def _indent(lines: Iterable[str], depth: int) -> list[str]:
    return [" " * (4 * depth) + line for line in lines]


class Module(NamedTuple):
    """Python source, and the constants its names need: numba compiles its functions."""

    text: str
    constants: dict[str, object]


#: What every generated module's names refer to, besides its own ``constants``.
NAMESPACE = {"math": math, "np": np, "U": np.uint64}


def loss_module(layout, acts, loss: int, exp_build: str) -> Module:
    """``mean_loss(params, X, Y)``, as the oracle's ``mean_loss``."""
    n_params = layout[-1][3] + layout[-1][1]
    rule = unrolled_rule(loss, False, "sgd", False)
    body = [*inputs(layout[0][0]), *statements(
        layout, acts, rule, step.forward, lambda w: step.sample_loss(w, w.top()),
        targets="Y")]
    lines = ["def mean_loss(params, X, Y):",
             *_indent((f"p{q} = params[{q}]" for q in range(n_params)), 1),
             "    loss_sum = 0.0",  # not "total": softmax statements use that name
             "    count = 0.0",  # a sum of ones, in the dtype the kernel computes in
             "    for s in range(X.shape[0]):",
             *_indent((stmt.line() for stmt in body), 2),
             "        loss_sum += e",
             "        count += 1.0",
             "    return loss_sum / count"]
    return Module("\n".join(lines) + "\n", _exp_constants(exp_build))


lanes = unrolled_lanes  # networks side by side, one per vector lane, in ``kernel_many``


def kernel_module(layout, acts, loss: int, train_bias: bool, method: str, decay: bool,
                  weighted: bool, report: bool, exp_build: str) -> Module:
    """``kernel(params, X, Y, epochs, order, lr, opt, decay, velocity, SW, R)`` trains one
    network online; ``kernel_many(P, X, Y, epochs, order, lrs, opt, decay, V, SW)`` trains
    the rows of ``P`` in parallel, in groups of ``lanes`` networks per thread. ``method``
    (``Rule.method``), ``decay``, ``weighted`` (each sample's weight ``SW[s]``) and
    ``report`` (each epoch's losses into ``R[epoch]``: ``step.report``) say which stages
    the text has; ``opt`` holds the optimizer's settings (``step.OPT_FIELDS``). ``exp_build`` is
    :func:`fastbp.kernels.numba.libm_exp.variant`'s answer: which exp the text inlines."""
    n_params = layout[-1][3] + layout[-1][1]
    n_in, n_out = layout[0][0], layout[-1][1]
    rule = unrolled_rule(loss, train_bias, method, decay, weighted, report)
    fwd = statements(layout, acts, rule, step.forward)
    update = statements(layout, acts, rule, step.online_step)
    many_update = statements(layout, acts, {**rule, "report": False}, step.online_step)
    updated = trained(layout, train_bias)
    state = state_names(method, updated, n_params)
    loads = [f"{name} = velocity[{at}]" for name, at in state.items()]
    stores = [f"params[{q}] = p{q}" for q in updated]
    stores += [f"velocity[{at}] = {name}" for name, at in state.items()]
    targets = [f"y{k} = Y[s, {k}]" for k in range(n_out)] + (["sw = SW[s]"] if weighted else [])
    epoch_start = ["rep0 = 0.0", "rep1 = 0.0"] if report else []
    epoch_end = ["R[epoch, 0] = rep0", "R[epoch, 1] = rep1"] if report else []
    single = ["def kernel(params, X, Y, epochs, order, lr, opt, decay, velocity, SW, R):",
              *_indent(step.unpack_opt("numba"), 1),
              *_indent((f"p{q} = params[{q}]" for q in range(n_params)), 1),
              *_indent(loads, 1),
              "    shuffled = order.shape[0] == epochs",
              "    for epoch in range(epochs):",
              *_indent(epoch_start, 2),
              "        for pos in range(X.shape[0]):",
              "            s = order[epoch, pos] if shuffled else pos",
              *_indent(targets, 3),
              *_indent((stmt.line() for stmt in [*inputs(n_in), *fwd, *update]), 3),
              *_indent(epoch_end, 2),
              *_indent(stores, 1)]
    many = _many(layout, fwd, many_update, updated, n_params, state, weighted, exp_build)
    constants = {**_exp_constants(exp_build),
                 "STATE": np.array([int(at) for at in state.values()], dtype=np.int64)}
    return Module("\n".join([*single, "", "", *many]) + "\n", constants)


_FLOAT = re.compile(r"(?<![\w.])float\(")


def single(module: Module) -> Module:
    """``module`` computing in float32: every float literal a float32 (``F(1.0)``: numba
    would widen a float32 expression with a float64 literal to float64), as every
    ``float(n)``, every scratch array float32, and the C library's functions their
    float32 twins
    (:mod:`fastbp.kernels.numba.single`). The arrays the kernels are called with are
    float32, and so is every value computed from them: each operation is rounded to
    float32, as the oracle's float32 scalars are."""
    from . import single as twins

    text = typed_arrays(_FLOAT.sub("F(", FLOAT_LITERAL.sub(r"F(\1)", module.text)), "F")
    constants = {name: twins.TWINS.get(value, value) if callable(value) else value
                 for name, value in module.constants.items()}
    for call, (name, twin) in twins.CALLS.items():
        text = text.replace(call, name)
        constants[name[:-1]] = twin
    return Module(text, {**constants, "F": np.float32})


def _exp_constants(exp_build: str) -> dict[str, object]:
    from . import libm_exp

    if exp_build == "libm":
        return {"EXP": math.exp}
    return {"EXP": getattr(libm_exp, f"exp_{exp_build}"),
            "EXP_UNCHECKED": getattr(libm_exp, f"exp_{exp_build}_unchecked"),
            "SPECIAL": libm_exp.special}


def _many(layout, fwd: list[Stmt], step_: list[Stmt], updated: list[int], n_params: int,
          state: dict[str, str], weighted: bool, exp_build: str) -> list[str]:
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
    n_inputs, n_outputs = layout[0][0], layout[-1][1]
    values = [f"a{layer + 1}_{j}" for layer, row in enumerate(layout) for j in range(row[1])]
    row = {f"p{q}": q for q in range(n_params)}
    row.update({name: n_params + i for i, name in enumerate(state)})
    row.update({name: len(row) + i for i, name in enumerate(values)})
    row["lr"] = len(row)

    def cell(name: str) -> str:
        return f"S[U({row[name]} * G + lane)]"

    def loop(stmts: list[Stmt], suffix: str, store: list[str], exp: str = "EXP",
             count_special: bool = False) -> list[str]:
        """One loop over the lanes: load the cells ``stmts`` read first, run them, store
        ``store``. Every name the loop loads or defines gets ``suffix``, so no value
        lives from one loop into the next (a value used after its loop stops LLVM
        vectorising it)."""
        read_first = set(exposed(stmts))
        loads = [name for name in row if name in read_first]
        local = {name: name + suffix for name in [*loads, *(s.target for s in stmts)]}
        fields = Fields(local, exp="")
        body = [f"{local[name]} = {cell(name)}" for name in loads]
        for stmt in stmts:
            if count_special:
                body += [f"nbad |= SPECIAL({arg.template.format_map(fields)})"
                         for arg in stmt.exp_args]
            body.append(stmt.line(local, exp))
        body += [f"{cell(name)} = {local[name]}" for name in store]
        return ["for lane in range(g):", *_indent(body, 1)]

    targets = [f"y{k} = Y[s, {k}]" for k in range(n_outputs)] + (["sw = SW[s]"] if weighted
                                                                  else [])
    updated_names = [f"p{q}" for q in updated] + list(state)
    if exp_build != "libm":
        lines = ["nbad = False", *loop(fwd, "", values, "EXP_UNCHECKED", count_special=True),
                 "if nbad:  # rare: redo the forward pass with the full exp",
                 *_indent(loop(fwd, "_x", values), 1)]
    else:
        lines = loop(fwd, "", values)
    lines += loop(step_, "_b", updated_names)
    size = len(row)
    trained_loads = [f"    for i in range({len(state)}):",
                     f"        S[({n_params} + i) * G + lane] = V[k0 + lane, STATE[i]]"]
    trained_stores = [f"    for i in range({len(state)}):",
                      f"        V[k0 + lane, STATE[i]] = S[({n_params} + i) * G + lane]"]
    return [
        "def kernel_many(P, X, Y, epochs, order, lrs, opt, decay, V, SW):",
        *_indent(step.unpack_opt("numba"), 1),
        "    count = P.shape[0]",
        f"    G = min(count, {lanes(n_params) * 8} // P.itemsize)",
        "    for grp in prange((count + G - 1) // G):",
        "        k0 = grp * G",
        "        g = min(G, count - k0)",
        f"        S = np.empty({size} * G)",
        "        for lane in range(g):",
        f"            S[{row['lr']} * G + lane] = lrs[k0 + lane]",
        f"            for q in range({n_params}):",
        "                S[q * G + lane] = P[k0 + lane, q]",
        *_indent(trained_loads if state else [], 2),
        "        shuffled = order.shape[0] == epochs",
        "        for epoch in range(epochs):",
        "            for pos in range(X.shape[0]):",
        "                s = order[epoch, pos] if shuffled else pos",
        *_indent([*(f"a0_{i} = X[s, {i}]" for i in range(n_inputs)), *targets, *lines], 4),
        "        for lane in range(g):",
        f"            for q in range({n_params}):",
        "                P[k0 + lane, q] = S[q * G + lane]",
        *_indent(trained_stores if state else [], 2),
    ]


# --- The looped kernels: every shape, from the same description ---------------------------

LOOPED_RULE = {"loss": Ix("loss"), **step.RUN_TIME_RULE, "train_bias": "train_bias"}

#: Shared by the looped and lanes modules: where each layer's values start.
_STARTS = '''\
@jit(inline="always")
def _starts(layout):
    """Each layer's outputs' start in a sample's activations (0: the input), their end last."""
    last = layout.shape[0]
    at = np.empty(last + 2, dtype=np.int64)
    at[0], at[1] = 0, layout[0, 0]
    for layer in range(last):
        at[layer + 2] = at[layer + 1] + layout[layer, 1]
    return at


'''

_LOOPED_FRAME = _STARTS + '''\
@jit(internal=False)
def train_then_loss(params, velocity, layout, acts, loss, X, Y, epochs, order, lr, opt,
                    decay, train_bias, evaluate, SW, R):
    """Train ``params`` (and the optimizer's state ``velocity``) in place, online, for
    ``epochs`` epochs (epoch ``e`` visits ``order[e]``, or ``0..n-1`` where ``order`` has
    no rows), each sample weighted by ``SW[s]`` (no rows: none), each epoch's losses into
    ``R[epoch]`` (``step.report``; no rows: none); then, with ``evaluate``,
    return the mean loss over ``X, Y``, or NaN, without measuring, where a parameter is
    not finite (else 0)."""
{opt}
    weighted, report = SW.shape[0] > 0, R.shape[0] > 0
    last, n_top, size = layout.shape[0], Y.shape[1], params.shape[0]
    at = _starts(layout)
    a, d = np.empty(at[last + 1]), np.empty(at[last + 1])
    adam_t = adam_b1t = adam_b2t = 0.0
    lrt = lr
    if adam != 0.0:
        adam_t, adam_b1t = velocity[2 * size], velocity[2 * size + 1]
        adam_b2t = velocity[2 * size + 2]
    shuffled = order.shape[0] == epochs
    for epoch in range(epochs):
        rep0 = rep1 = 0.0
        for pos in range(X.shape[0]):
            s = order[epoch, pos] if shuffled else pos
{train}
        if report:
            R[epoch, 0], R[epoch, 1] = rep0, rep1
    if adam != 0.0:
        velocity[2 * size], velocity[2 * size + 1] = adam_t, adam_b1t
        velocity[2 * size + 2] = adam_b2t
    if not evaluate:
        return 0.0
    for q in range(params.shape[0]):
        if not np.isfinite(params[q]):
            return np.nan
    return mean_loss(params, layout, acts, loss, X, Y, SW)


@jit(internal=False)
def gradients(params, layout, acts, loss, X, Y, decay, grad, SW):
    """The gradient of the mean loss into ``grad`` (zeros, flat like ``params``): each sum
    over the samples in their order, plus ``decay * w`` for a weight, over their number
    (weighted by ``SW``: over their weights' sum); returns the mean loss, measured on the
    way (weighted: ``sum(SW[s] * e_s) / sum(SW)``)."""
    weighted = SW.shape[0] > 0
    last, n_top = layout.shape[0], Y.shape[1]
    at = _starts(layout)
    a, d = np.empty(at[last + 1]), np.empty(at[last + 1])
    loss_sum = 0.0
    count = 0.0
    for s in range(X.shape[0]):
{gradient}
        loss_sum += e * SW[s] if weighted else e
        count += SW[s] if weighted else 1.0
{mean}
    return loss_sum / count


@jit(internal=False)
def mean_loss(params, layout, acts, loss, X, Y, SW):
    """The mean per-sample loss over ``X, Y``, summed in sample order, then divided
    (weighted by ``SW``: ``sum(SW[s] * e_s) / sum(SW)``)."""
    weighted = SW.shape[0] > 0
    last, n_top = layout.shape[0], Y.shape[1]
    at = _starts(layout)
    a = np.empty(at[last + 1])
    loss_sum = 0.0
    count = 0.0
    for s in range(X.shape[0]):
{loss}
        loss_sum += e * SW[s] if weighted else e
        count += SW[s] if weighted else 1.0
    return loss_sum / count


@jit(internal=False)
def forward(params, layout, acts, X, out):
    """The outputs of every row of ``X`` into ``out``."""
    last = layout.shape[0]
    at = _starts(layout)
    a = np.empty(at[last + 1])
    for s in range(X.shape[0]):
{forward}
        for k in range(out.shape[1]):
            out[s, k] = a[at[last] + k]
'''


def _looped(depth: int, exp_build: str, *parts) -> str:
    """The lines a looped writer records for ``parts`` (each ``part(writer)``)."""
    w = Looped("numba", LOOPED_RULE, exp_build)
    for part in parts:
        part(w)
    return "\n".join(_indent(w.lines, depth))


def looped_module(exp_build: str) -> Module:
    """``train_then_loss``, ``gradients``, ``mean_loss`` and ``forward`` for any shape,
    read at run time (the small networks' generic tier, :mod:`fastbp.kernels.numba.tiers`),
    with the exp ``exp_build`` names inlined (:func:`fastbp.kernels.numba.libm_exp.variant`)."""
    def load(w):
        step.inputs(w, Ix("layout[0, 0]"), lambda i: lit(f"X[s, {i}]"))

    text = _LOOPED_FRAME.format(
        opt="\n".join(_indent(step.unpack_opt("numba"), 1)),
        train=_looped(3, exp_build, load, step.forward, step.online_step),
        gradient=_looped(2, exp_build, load, step.forward,
                         lambda w: step.sample_loss(w, w.top()), step.deltas, step.accumulate),
        mean=_looped(1, exp_build, lambda w: step.mean_gradient(w, var("count"))),
        loss=_looped(2, exp_build, load, step.forward, lambda w: step.sample_loss(w, w.top())),
        forward=_looped(2, exp_build, load, step.forward))
    return Module(text, _exp_constants(exp_build))


_LANES_FRAME = _STARTS + '''\
@jit(parallel=True, internal=False)
def train_lanes(params, velocity, layout, acts, loss, X, Y, epochs, order, lrs, opt,
                decay, train_bias, G, SW):
    """Train every row of ``params`` (optimizer states ``velocity``) online with its own
    ``lrs[k]``, ``G`` networks per group, the groups in parallel. ``order`` holds
    ``epochs`` rows of sample indices, or has no rows for ``0..n-1``."""
    count = params.shape[0]
    for group in prange((count + G - 1) // G):
        first = group * G
        _train_group(params, velocity, first, min(G, count - first), G, layout, acts, loss,
                     X, Y, epochs, order, lrs, opt, decay, train_bias, SW)


@jit
def _train_group(params, velocity, first, g, G, layout, acts, loss, X, Y, epochs, order, lrs,
                 opt, decay, train_bias, SW):
{opt}
    weighted = SW.shape[0] > 0
    last, size, n_top, width = layout.shape[0], params.shape[1], Y.shape[1], velocity.shape[1]
    at = _starts(layout)
    # Rows: parameters, the optimizer's state, every layer's outputs, their deltas, scalars,
    # lr.
    A0 = size + width
    D0 = A0 + at[last + 1]
    T0 = D0 + at[last + 1]
    LR = T0 + {temps}
    S = np.empty((LR + 1) * G)
    for lane in range(g):
        S[U(LR * G + lane)] = lrs[first + lane]
        for q in range(size):
            S[U(q * G + lane)] = params[first + lane, q]
        for q in range(width):
            S[U((size + q) * G + lane)] = velocity[first + lane, q]
    shuffled = order.shape[0] == epochs
    for epoch in range(epochs):
        for pos in range(X.shape[0]):
            s = order[epoch, pos] if shuffled else pos
{step}
    for lane in range(g):
        for q in range(size):
            params[first + lane, q] = S[U(q * G + lane)]
        for q in range(width):
            velocity[first + lane, q] = S[U((size + q) * G + lane)]
'''


def lanes_module(exp_build: str, variant: tuple[bool, bool, bool]) -> Module:
    """``train_lanes(params, velocity, layout, acts, loss, X, Y, epochs, order, lrs,
    opt, decay, train_bias, G, SW)`` for any shape: the rows of ``params`` trained
    online, ``G`` networks side by side per group (the generic tier of ``train_many``).
    ``variant`` (Adam, Nesterov, weighted) is known to the text: a kernel each, compiled
    at its first use (one with every rule tested at run time compiled for 38 s, against
    15 s before Adam, Nesterov and sample weights)."""
    adam, nesterov, weighted = variant
    known = {"report": False, "adam": adam, "nesterov": nesterov, "weighted": weighted}
    w = Lanes("numba", {**LOOPED_RULE, **known}, exp_build)
    step.inputs(w, Ix("layout[0, 0]"), lambda i: lit(f"X[s, {i}]"))
    step.forward(w)
    # The rule's tests stand outside each loop over the lanes already: written once more
    # for each test's outcome (as the per-sample kernels are), the kernel would take
    # twice as long to compile, for no speed
    step.online_step(w)
    text = _LANES_FRAME.replace("{opt}", "\n".join(_indent(step.unpack_opt("numba"), 1))).replace(
        "{temps}", str(w.temps)).replace(
        "{step}", "\n".join(_indent(w.lines, 3)))
    return Module(text, {**_exp_constants(exp_build), "U": np.uint64})


_STAGE_FRAME = '''\
@jit(counted=False)
def update_range(work, grad, vel, lo, hi, size, lr, opt, decay):
    """The update stage of the batched kernels over parameters lo..hi (twin: Cython's
    ``_update_range``)."""
{range}


@jit(counted=False, inline="always")
def _update_row(work, vel, d, outs, row, n, ai, lr, opt, decay, sw):
    """The update stage of the batched kernels for one sample's gradients ``0 + d[outs + j]
    ai`` of parameters row..row+n (twin: Cython's ``_update_row``)."""
{row}


@jit(counted=False, inline="always")
def _update_rows(work, vel, d, outs, first, n_in, n, a, inp, lr, opt, decay, sw):
    """``_update_row`` for the ``n_in`` rows ``first + i n`` of a layer, the inputs
    ``a[inp + i]`` (twin: Cython's ``_update_rows``)."""
{rows}


@jit(counted=False)
def update_sample(work, vel, d, a, layout, at, lr, opt, decay, sw, train_bias):
    """One sample's step, every layer's weights (``_update_rows``) then biases
    (``_update_row``, with ``train_bias``), layer ``l``'s inputs ``a[at[l]:]`` and deltas
    ``d[at[l + 1]:]``, in one call: numba passes each array as its parts, and four calls
    a sample (two a layer) cost 64-32-10's online step about 6% (twin: the loop of
    Cython's ``_step_sample``)."""
    for layer in range(layout.shape[0]):
        n_in, n_out, w_at, b_at = layout[layer, 0], layout[layer, 1], layout[layer, 2], \
            layout[layer, 3]
        inp, outs = at[layer], at[layer + 1]  # the stage takes signed indices
        _update_rows(work, vel, d, outs, w_at, n_in, n_out, a, inp, lr, opt, decay, sw)
        if train_bias:
            _update_row(work, vel, d, outs, b_at, n_out, 1.0, lr, opt, 0.0, sw)


@jit(counted=False)
def adam_step(vel, at, lr, opt):
    """Adam's scalars ``vel[at..at+2]`` advanced a step; the step's rate (twin: Cython's
    ``_adam_step``)."""
{rate}
'''


def stage_module() -> Module:
    """The batched kernels' update stage (:mod:`fastbp.kernels.numba.batched`)."""
    def body(lines: list[str]) -> str:
        return "\n".join(_indent(["P = work.shape[0]", *lines], 1))

    lines = {"range": body(step.stage("numba", step.update_range)[0]),
             "row": body(step.stage("numba", step.update_row)[0]),
             "rows": body(step.stage("numba", step.update_rows)[0])}
    text = _STAGE_FRAME.format(**lines, rate="\n".join(_indent(step.rate_function("numba"), 1)))
    return Module(text, {"U": np.uint64})
