"""Source of the fully unrolled kernels of one small network shape, from statements.

A kernel here is a list of statements ``target = expression`` over named scalars
(``p6`` a parameter, ``a1_0`` an output, ``d2_1`` a delta). Each expression is a
``str.format`` template whose fields are the names it reads, so the names a
piece of code reads, defines or must load are sets, and renaming is a mapping
applied when the text is written. Every sum is spelled out in the canonical
order (``docs/design.md``), so LLVM keeps the network in registers and the bits
are the oracle's. :mod:`fastbp.kernels.numba.unrolled` compiles and caches the
result; the names a text uses but does not define come with it as constants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

from ...functions import LOGISTIC, RELU, SOFTMAX, SQUARED, TANH
from ..limits import unrolled_lanes


class Expr(NamedTuple):
    """An expression: a template with a ``{name}`` field for every variable it reads."""

    template: str
    reads: frozenset[str]


def var(name: str) -> Expr:
    return Expr("{" + name + "}", frozenset([name]))


def expr(*parts: str | Expr) -> Expr:
    """Literal text (no braces) and expressions, joined in order."""
    return Expr("".join(p if isinstance(p, str) else p.template for p in parts),
                frozenset().union(*(p.reads for p in parts if isinstance(p, Expr))))


def canonical_sum(terms: Iterable[Expr]) -> Expr:
    """((0.0 + t0) + t1) + ...: the canonical left-to-right sum from zero."""
    total = expr("0.0")
    for term in terms:
        total = expr("(", total, " + ", term, ")")
    return total


class Stmt(NamedTuple):
    """``target = value``; ``exp_args`` are the arguments of the value's calls of ``{exp}``."""

    target: str
    value: Expr
    exp_args: tuple[Expr, ...] = ()

    def line(self, names: Mapping[str, str] | None = None, exp: str = "EXP") -> str:
        fields = _Fields(names or {}, exp=exp)
        return f"{fields[self.target]} = {self.value.template.format_map(fields)}"


class _Fields(dict):
    """Template fields: a renamed name, else the name itself; ``exp`` the exp function."""

    def __init__(self, names: Mapping[str, str], exp: str) -> None:
        super().__init__(names, exp=exp)

    def __missing__(self, name: str) -> str:
        return name


def exposed(stmts: list[Stmt]) -> list[str]:
    """The names ``stmts`` read before defining them, in order of first use."""
    defined: set[str] = set()
    out: dict[str, None] = {}
    for stmt in stmts:
        out.update((name, None) for name in sorted(stmt.value.reads - defined))
        defined.add(stmt.target)
    return list(out)


def _exp(arg: Expr) -> tuple[Expr, tuple[Expr, ...]]:
    return expr("{exp}(", arg, ")"), (arg,)


def _activation(code: int, z: list[str], out: list[str]) -> list[Stmt]:
    if code == LOGISTIC:
        stmts = []
        for o, v in zip(out, z):
            call, args = _exp(expr("-", var(v)))
            stmts.append(Stmt(o, expr("1.0 / (1.0 + ", call, ")"), args))
        return stmts
    if code == TANH:
        return [Stmt(o, expr("math.tanh(", var(v), ")")) for o, v in zip(out, z)]
    if code == RELU:
        return [Stmt(o, expr(var(v), " if ", var(v), " > 0.0 else 0.0")) for o, v in zip(out, z)]
    if code == SOFTMAX:
        stmts = [Stmt("m", var(z[0]))]
        stmts += [Stmt("m", expr(var(v), " if ", var(v), " > ", var("m"), " else ", var("m")))
                  for v in z[1:]]
        for j, v in enumerate(z):
            call, args = _exp(expr(var(v), " - ", var("m")))
            stmts.append(Stmt(f"e{j}", call, args))
        stmts.append(Stmt("total", canonical_sum(var(f"e{j}") for j in range(len(z)))))
        return stmts + [Stmt(o, expr(var(f"e{j}"), " / ", var("total")))
                        for j, o in enumerate(out)]
    return [Stmt(o, var(v)) for o, v in zip(out, z)]


def _derivative(code: int, o: str) -> Expr:
    if code == LOGISTIC:
        return expr("(", var(o), " * (1.0 - ", var(o), "))")
    if code == TANH:
        return expr("(1.0 - ", var(o), " * ", var(o), ")")
    if code == RELU:
        return expr("(1.0 if ", var(o), " > 0.0 else 0.0)")
    return expr("1.0")


def inputs(n_inputs: int) -> list[Stmt]:
    """``a0_i = X[s, i]``: sample ``s`` into the input layer's names."""
    return [Stmt(f"a0_{i}", expr(f"X[s, {i}]")) for i in range(n_inputs)]


def forward(layout, acts) -> list[Stmt]:
    """Every layer's outputs ``a{layer}_{j}`` from the inputs ``a0_i``."""
    stmts = []
    for layer, (n_in, n_out, w_at, b_at) in enumerate(layout):
        z = [f"z{layer + 1}_{j}" for j in range(n_out)]
        for j in range(n_out):
            total = canonical_sum(expr(var(f"p{w_at + j * n_in + i}"), " * ", var(f"a{layer}_{i}"))
                                  for i in range(n_in))
            stmts.append(Stmt(z[j], expr(total, " + ", var(f"p{b_at + j}"))))
        stmts += _activation(acts[layer], z, [f"a{layer + 1}_{j}" for j in range(n_out)])
    return stmts


def trained(layout, train_bias: bool) -> list[int]:
    """Indices of the parameters training changes: every weight, and biases if trained."""
    out = []
    for n_in, n_out, w_at, b_at in layout:
        out += range(w_at, w_at + n_in * n_out)
        if train_bias:
            out += range(b_at, b_at + n_out)
    return out


def backward(layout, acts, loss: int, train_bias: bool, momentum: bool,
             targets: list[Expr]) -> list[Stmt]:
    """One online step's deltas, then its updates; ``targets`` are the sample's targets."""
    last = len(layout)
    outs = [var(f"a{last}_{k}") for k in range(layout[-1][1])]
    stmts = []
    if loss != SQUARED:
        stmts += [Stmt(f"d{last}_{k}", expr(o, " - ", t))
                  for k, (o, t) in enumerate(zip(outs, targets))]
    elif acts[-1] == SOFTMAX:
        stmts.append(Stmt("g", canonical_sum(expr("(", o, " - ", t, ") * ", o)
                                             for o, t in zip(outs, targets))))
        stmts += [Stmt(f"d{last}_{k}", expr(o, " * ((", o, " - ", t, ") - ", var("g"), ")"))
                  for k, (o, t) in enumerate(zip(outs, targets))]
    else:
        stmts += [Stmt(f"d{last}_{k}", expr("(", o, " - ", t, ") * ",
                                            _derivative(acts[-1], f"a{last}_{k}")))
                  for k, (o, t) in enumerate(zip(outs, targets))]
    for layer in range(last - 1, 0, -1):
        n_h, n_next, w_at, _ = layout[layer]
        for j in range(n_h):
            total = canonical_sum(expr(var(f"d{layer + 1}_{k}"), " * ",
                                       var(f"p{w_at + k * n_h + j}")) for k in range(n_next))
            stmts.append(Stmt(f"d{layer}_{j}", expr(total, " * ",
                                                    _derivative(acts[layer - 1], f"a{layer}_{j}"))))
    # Every delta above used the weights from before this step; now update.
    for layer, (n_in, n_out, w_at, b_at) in enumerate(layout):
        grads = [(w_at + j * n_in + i, expr("(0.0 + ", var(f"d{layer + 1}_{j}"), " * ",
                                            var(f"a{layer}_{i}"), ")"))
                 for j in range(n_out) for i in range(n_in)]
        if train_bias:
            grads += [(b_at + j, expr("(0.0 + ", var(f"d{layer + 1}_{j}"), ")"))
                      for j in range(n_out)]
        for q, g in grads:
            p, v = var(f"p{q}"), var(f"v{q}")
            if momentum:
                stmts += [Stmt(f"v{q}", expr(var("momentum"), " * ", v, " - ", var("lr"), " * ",
                                             g)),
                          Stmt(f"p{q}", expr(p, " + ", var(f"v{q}")))]
            else:
                stmts.append(Stmt(f"p{q}", expr(p, " - ", var("lr"), " * ", g)))
    return stmts


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
    n_out, n_params = layout[-1][1], layout[-1][3] + layout[-1][1]
    per_output = []
    for k in range(n_out):
        o, t = var(f"a{len(layout)}_{k}"), expr(f"Y[s, {k}]")
        if loss == SQUARED:
            per_output += [Stmt("r", expr(t, " - ", o)),
                           Stmt("e", expr(var("e"), " + 0.5 * (", var("r"), " * ", var("r"), ")"))]
        else:
            per_output.append(Stmt("term", expr("0.0 if ", t, " == 0.0 else ", t, " * math.log(",
                                                o, ")")))
            if acts[-1] != SOFTMAX:
                per_output += [Stmt("u", expr("1.0 - ", t)),
                               Stmt("term", expr(var("term"), " + (0.0 if ", var("u"),
                                                 " == 0.0 else ", var("u"), " * math.log(1.0 - ",
                                                 o, "))"))]
            per_output.append(Stmt("e", expr(var("e"), " - ", var("term"))))
    body = [*inputs(layout[0][0]), *forward(layout, acts), Stmt("e", expr("0.0")), *per_output]
    lines = ["def mean_loss(params, X, Y):",
             *_indent((f"p{q} = params[{q}]" for q in range(n_params)), 1),
             "    loss_sum = 0.0",  # not "total": softmax statements use that name
             "    for s in range(X.shape[0]):",
             *_indent((stmt.line() for stmt in body), 2),
             "        loss_sum += e",
             "    return loss_sum / X.shape[0]"]
    return Module("\n".join(lines) + "\n", _exp_constants(exp_build))


lanes = unrolled_lanes  # networks side by side, one per vector lane, in ``kernel_many``


def kernel_module(layout, acts, loss: int, train_bias: bool, momentum: bool,
                  exp_build: str) -> Module:
    """``kernel(params, X, Y, epochs, order, lr, momentum, velocity)`` trains one network
    online; ``kernel_many(P, X, Y, epochs, order, lrs, momentum, V)`` trains the rows of
    ``P`` in parallel, in groups of ``lanes`` networks per thread. ``exp_build`` is
    :func:`fastbp.kernels.numba.libm_exp.variant`'s answer: which exp the text inlines."""
    n_params = layout[-1][3] + layout[-1][1]
    n_in, n_out = layout[0][0], layout[-1][1]
    fwd = forward(layout, acts)
    step = backward(layout, acts, loss, train_bias, momentum,
                    [expr(f"Y[s, {k}]") for k in range(n_out)])
    updated = trained(layout, train_bias)
    loads = [f"v{q} = velocity[{q}]" for q in updated] if momentum else []
    stores = [f"params[{q}] = p{q}" for q in updated]
    stores += [f"velocity[{q}] = v{q}" for q in updated] if momentum else []
    single = ["def kernel(params, X, Y, epochs, order, lr, momentum, velocity):",
              *_indent((f"p{q} = params[{q}]" for q in range(n_params)), 1),
              *_indent(loads, 1),
              "    shuffled = order.shape[0] == epochs",
              "    for epoch in range(epochs):",
              "        for pos in range(X.shape[0]):",
              "            s = order[epoch, pos] if shuffled else pos",
              *_indent((stmt.line() for stmt in [*inputs(n_in), *fwd, *step]), 3),
              *_indent(stores, 1)]
    many_step = backward(layout, acts, loss, train_bias, momentum,
                         [var(f"y{k}") for k in range(n_out)])
    many = _many(layout, fwd, many_step, updated, n_params, momentum, exp_build)
    constants = {**_exp_constants(exp_build), "TRAINED": np.array(updated, dtype=np.int64)}
    return Module("\n".join([*single, "", "", *many]) + "\n", constants)


def _exp_constants(exp_build: str) -> dict[str, object]:
    from . import libm_exp

    if exp_build == "libm":
        return {"EXP": math.exp}
    return {"EXP": getattr(libm_exp, f"exp_{exp_build}"),
            "EXP_UNCHECKED": getattr(libm_exp, f"exp_{exp_build}_unchecked"),
            "SPECIAL": libm_exp.special}


def _many(layout, fwd: list[Stmt], step: list[Stmt], updated: list[int], n_params: int,
          momentum: bool, exp_build: str) -> list[str]:
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
    if momentum:
        row.update({f"v{q}": n_params + i for i, q in enumerate(updated)})
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
        fields = _Fields(local, exp="")
        body = [f"{local[name]} = {cell(name)}" for name in loads]
        for stmt in stmts:
            if count_special:
                body += [f"nbad += SPECIAL({arg.template.format_map(fields)})"
                         for arg in stmt.exp_args]
            body.append(stmt.line(local, exp))
        body += [f"{cell(name)} = {local[name]}" for name in store]
        return ["for lane in range(g):", *_indent(body, 1)]

    targets = [f"y{k} = Y[s, {k}]" for k in range(n_outputs)]
    updated_names = [f"p{q}" for q in updated] + ([f"v{q}" for q in updated] if momentum else [])
    if exp_build != "libm":
        lines = ["nbad = 0", *loop(fwd, "", values, "EXP_UNCHECKED", count_special=True),
                 "if nbad:  # rare: redo the forward pass with the full exp",
                 *_indent(loop(fwd, "_x", values), 1)]
    else:
        lines = loop(fwd, "", values)
    lines += loop(step, "_b", updated_names)
    size = len(row)
    trained_loads = [f"    for i in range({len(updated)}):",
                     f"        S[({n_params} + i) * G + lane] = V[k0 + lane, TRAINED[i]]"]
    trained_stores = [f"    for i in range({len(updated)}):",
                      f"        V[k0 + lane, TRAINED[i]] = S[({n_params} + i) * G + lane]"]
    return [
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
        *_indent(trained_loads if momentum else [], 2),
        "        shuffled = order.shape[0] == epochs",
        "        for epoch in range(epochs):",
        "            for pos in range(X.shape[0]):",
        "                s = order[epoch, pos] if shuffled else pos",
        *_indent([*(f"a0_{i} = X[s, {i}]" for i in range(n_inputs)), *targets, *lines], 4),
        "        for lane in range(g):",
        f"            for q in range({n_params}):",
        "                P[k0 + lane, q] = S[q * G + lane]",
        *_indent(trained_stores if momentum else [], 2),
    ]
