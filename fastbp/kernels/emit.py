"""Turn the one description of a training step (:mod:`fastbp.kernels.step`) into source.

The description is ordinary Python that calls a :class:`Writer`: it asks for the network's
layers, loops over their neurons, reads and assigns values, sums terms, branches on an
activation or a rule. A writer records what it is asked as statements, in one of two
forms:

- **unrolled** (:class:`Unrolled`): the network's sizes, codes and rule are known, every
  loop over the network runs here, in Python, and each value is a named scalar (``p6``,
  ``a1_0``, ``d2_1``): straight-line code that keeps a small network in registers, and
  the statements (:class:`Stmt`) that :mod:`fastbp.kernels.numba.codegen` lays across
  vector lanes;
- **looped** (:class:`Looped`): sizes, codes and rule are read at run time, loops and
  branches are written out, and values live in arrays (``params[q]``, ``a[at[l] + j]``):
  one kernel for every shape.

Each form writes numba's Python or Cython (``lang``); they differ only in how an array
is indexed and how locals are declared. Every sum is written in the canonical order
(``docs/design.md``), so every generated kernel gives the oracle's bits.

Nothing here imports numpy or numba: ``setup.py`` runs it to write the Cython kernels.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import NamedTuple


class Expr(NamedTuple):
    """An expression: a template with a ``{name}`` field for every variable it reads."""

    template: str
    reads: frozenset[str]


def var(name: str) -> Expr:
    return Expr("{" + name + "}", frozenset([name]))


def lit(text: str) -> Expr:
    """Text that reads no named scalar (an array element, a literal)."""
    return Expr(text.replace("{", "{{").replace("}", "}}"), frozenset())


def expr(*parts: str | Expr) -> Expr:
    """Literal text (no braces) and expressions, joined in order."""
    return Expr("".join(p if isinstance(p, str) else p.template for p in parts),
                frozenset().union(*(p.reads for p in parts if isinstance(p, Expr))))


class Stmt(NamedTuple):
    """``target = value``; ``exp_args`` are the arguments of the value's calls of ``{exp}``."""

    target: str
    value: Expr
    exp_args: tuple[Expr, ...] = ()

    def line(self, names: Mapping[str, str] | None = None, exp: str = "EXP",
             tail: str = "") -> str:
        """The assignment, names renamed by ``names``, ``exp(x)`` written ``{exp}(x{tail})``."""
        fields = Fields(names or {}, exp=exp, tail=tail)
        return f"{fields[self.target]} = {self.value.template.format_map(fields)}"


class Fields(dict):
    """Template fields: a renamed name, else the name itself; ``exp`` the exp function and
    ``exp_tail`` what its call passes after its argument."""

    def __init__(self, names: Mapping[str, str], exp: str, tail: str = "") -> None:
        super().__init__(names, exp=exp, exp_tail=tail)

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


# --- Indices: ints where the shape is known, text where it is read at run time ------------

class Ix(str):
    """An index known only at run time: the text of an integer expression. ``+``, ``-``
    and ``*`` with ints and other indices give indices, 0 and 1 folded away."""

    def __add__(self, other):
        return self if other == 0 else Ix(f"{self} + {_term(other)}")

    def __radd__(self, other):
        return self if other == 0 else Ix(f"{other} + {self}")

    def __sub__(self, other):
        return self if other == 0 else Ix(f"{self} - {_term(other)}")

    def __rsub__(self, other):
        return Ix(f"{other} - {_term(self)}")

    def __mul__(self, other):
        return self if other == 1 else Ix(f"{_term(self)} * {_term(other)}")

    __rmul__ = __mul__


def _term(value) -> str:
    text = str(value)
    return f"({text})" if any(op in text for op in " +- ") else text


class Layer(NamedTuple):
    """One layer as the description sees it: ints in unrolled code, run-time text in looped."""

    number: int | Ix   # 0 for the first layer of weights: it reads outputs ``number``
    n_in: int | Ix
    n_out: int | Ix
    w_at: int | Ix
    b_at: int | Ix
    code: int | Ix     # its activation


class Cond(NamedTuple):
    """A condition: a bool where it is known, else the text tested at run time."""

    known: bool | None
    text: str = ""


def cond(value: bool | str) -> Cond:
    return Cond(value) if isinstance(value, bool) else Cond(None, value)


# --- Writers -----------------------------------------------------------------------------

#: The exp each language's kernels call: numba's is a name in the generated module's
#: namespace (:mod:`fastbp.kernels.numba.codegen` says which exp it is).
EXP = {"numba": "EXP", "cython": "exp"}
#: Adam's scalars after the moments in a state row, as locals: the step count, beta_1**t
#: and beta_2**t.
TAIL = ("adam_t", "adam_b1t", "adam_b2t")

MATH = {"numba": {"tanh": "math.tanh", "log": "math.log", "sqrt": "math.sqrt"},
        "cython": {"tanh": "tanh", "log": "log", "sqrt": "sqrt"}}


class Writer:
    """What the description calls; :class:`Unrolled` and :class:`Looped` record it.

    ``rule`` holds the rule's run-time names or known values: ``loss``, ``momentum``
    (a bool where known: is there momentum?), ``decay`` (likewise), ``train_bias``.
    """

    lang: str

    def __init__(self, lang: str, rule: Mapping[str, object]) -> None:
        self.lang = lang
        self.rule = dict(rule)
        self.lines: list[str] = []
        self.stmts: list[Stmt] = []
        self.depth = 0
        self._exp_args: list[Expr] = []
        self.doubles: dict[str, None] = {}
        self.indices: dict[str, None] = {}

    # Values --------------------------------------------------------------------------
    def exp(self, arg: Expr) -> Expr:
        self._exp_args.append(arg)
        return expr("{exp}(", arg, "{exp_tail})")

    def tanh(self, arg: Expr) -> Expr:
        return expr(MATH[self.lang]["tanh"] + "(", arg, ")")

    def log(self, arg: Expr) -> Expr:
        return expr(MATH[self.lang]["log"] + "(", arg, ")")

    def sqrt(self, arg: Expr) -> Expr:
        return expr(MATH[self.lang]["sqrt"] + "(", arg, ")")

    def sum(self, start, stop, term: Callable[[object], Expr], name: str) -> Expr:
        """``((0.0 + t(start)) + t(start + 1)) + ...``: the canonical sum from zero."""
        raise NotImplementedError

    def lr(self) -> Expr:
        """The learning rate (a network's own, where networks share a kernel)."""
        return var("lr")

    def rate(self) -> Expr:
        """Adam's bias-corrected rate of this step (set by ``step.adam_rate``)."""
        self.doubles["lrt"] = None
        return var("lrt")

    def weight(self) -> Expr:
        """The sample's weight (the rule's ``weighted``): ``SW[s]``."""
        return lit("SW[s]")

    def tail(self, i: int) -> Expr:
        """Adam's scalar ``TAIL[i]`` (step count, beta_1**t, beta_2**t): a local the
        kernel loads from the state row and stores back."""
        return var(TAIL[i])

    def squash(self, at, n, f: Callable[[Expr], Expr]) -> None:
        """Outputs ``at`` (``n`` of them) from their net inputs, elementwise: ``f(z)``."""
        for j in self.range(0, n, "j"):
            self.set(self.out(at, j), f(self.net(at, j)))

    def temp(self, name: str, value: Expr) -> Expr:
        """A scalar ``name`` set to ``value``."""
        self.doubles[name] = None
        self.set(var(name), value)
        return var(name)

    def set(self, target: Expr, value: Expr) -> None:
        """``target = value``: ``target`` a scalar (:func:`var`) or an array element."""
        if value.template == target.template:  # in place (an identity activation)
            return
        name = target.template[1:-1] if target.reads else target.template
        stmt = Stmt(name, value, tuple(self._exp_args))
        self._exp_args = []
        self.stmts.append(stmt)
        self.lines.append("    " * self.depth + stmt.line(exp=EXP[self.lang]))

    # Control ---------------------------------------------------------------------------
    def when(self, test: Cond, then: Callable[[], None],
             otherwise: Callable[[], None] | None = None) -> None:
        """``then()`` where ``test`` holds, else ``otherwise()``."""
        if test.known is not None:
            (then if test.known else otherwise or (lambda: None))()
            return
        with self.block(f"if {test.text}:"):
            then()
        if otherwise is not None:
            with self.block("else:"):
                otherwise()

    def fix(self, name: str, body: Callable[[], None]) -> None:
        """Run ``body`` with the rule's ``name`` known: once where it is, else in each branch
        of one run-time test (a test outside straight-line code, not in it)."""
        value = self.rule[name]
        if isinstance(value, bool):
            body()
            return

        def known(flag: bool) -> Callable[[], None]:
            def run() -> None:
                self.rule[name] = flag
                try:
                    body()
                finally:
                    self.rule[name] = value
            return run

        self.when(cond(value), known(True), known(False))

    def choose(self, code: int | Ix, cases: Mapping[int, Callable[[], None]],
               default: Callable[[], None]) -> None:
        """``cases[code]()``, or ``default()`` for a code not among them."""
        if isinstance(code, int):
            cases.get(code, default)()
            return
        for i, (value, case) in enumerate(cases.items()):
            with self.block(f"{'if' if i == 0 else 'elif'} {code} == {value}:"):
                case()
        with self.block("else:"):
            default()

    def pick(self, code: int | Ix, values: Mapping[int, Expr], default: Expr) -> Expr:
        """The expression ``values[code]`` (``default`` for others), chosen here where
        ``code`` is known, else at run time."""
        if isinstance(code, int):
            return values.get(code, default)
        out = default
        for value, e in reversed(values.items()):
            out = expr("(", e, f" if {code} == {value} else ", out, ")")
        return out

    @contextmanager
    def block(self, head: str) -> Iterator[None]:
        self.lines.append("    " * self.depth + head)
        self.depth += 1
        began = len(self.lines)
        try:
            yield
        finally:
            if len(self.lines) == began:
                self.lines.append("    " * self.depth + "pass")
            self.depth -= 1

    def range(self, start, stop, name: str) -> Iterable:
        raise NotImplementedError


class Unrolled(Writer):
    """Straight-line statements for one known shape and rule (see the module's doc)."""

    def __init__(self, lang: str, layout, acts, rule: Mapping[str, object]) -> None:
        super().__init__(lang, rule)
        self.layout = [tuple(int(v) for v in row) for row in layout]
        self.acts = [c if isinstance(c, Ix) else int(c) for c in acts]

    def layers(self, reverse: bool = False, first: int = 0) -> Iterator[Layer]:
        order = range(len(self.layout) - 1, first - 1, -1) if reverse else \
            range(first, len(self.layout))
        for number in order:
            yield Layer(number, *self.layout[number], self.acts[number])

    def range(self, start, stop, name: str) -> Iterable[int]:
        return range(start, stop)

    def top(self) -> Layer:
        return next(self.layers(reverse=True))

    def code(self, number: int) -> int | Ix:
        return self.acts[number]

    def sum(self, start, stop, term, name: str) -> Expr:
        total = expr("0.0")
        for i in range(start, stop):
            total = expr("(", total, " + ", term(i), ")")
        return total

    # The network's values: named scalars.
    def p(self, q: int) -> Expr:
        return var(f"p{q}")

    def state(self, slot: int, q: int) -> Expr:
        """Slot ``slot`` of parameter ``q``'s optimizer state (velocity or Adam's first
        moment; Adam's second moment)."""
        return var(f"{'vs'[slot]}{q}")

    def weight(self) -> Expr:
        return var("sw")

    def net(self, layer: int, j: int) -> Expr:
        return var(f"z{layer}_{j}")

    def out(self, layer: int, j: int) -> Expr:
        return var(f"a{layer}_{j}")

    def scratch(self, layer: int, j: int) -> Expr:
        return var(f"e{layer}_{j}")

    def delta(self, layer: int, j: int) -> Expr:
        return var(f"d{layer}_{j}")

    def grad(self, q: int) -> Expr:
        return var(f"g{q}")

    def target(self, k: int) -> Expr:
        return var(f"y{k}")



class Looped(Writer):
    """Loops and branches over a shape read at run time (see the module's doc).

    The kernel around it names ``layout``, ``acts``, ``at`` (each layer's start in ``a``
    and ``d``), ``params``, ``velocity``, ``grad``, ``a``, ``d``, ``Y`` and ``s``.
    """

    def __init__(self, lang: str, rule: Mapping[str, object], exp: str = "libm") -> None:
        super().__init__(lang, rule)
        self._count = 0
        self.exp_build = exp

    def fresh(self, base: str) -> str:
        self._count += 1
        return f"{base}{self._count}"

    def field(self, layer: str, k: int) -> str:
        return f"layout[{layer}, {k}]" if self.lang == "numba" else f"layout[4 * {layer} + {k}]"

    @contextmanager
    def _loop(self, name: str, start, stop, step: int = 1) -> Iterator[Ix]:
        index = self.fresh(name)
        self.indices[index] = None
        bounds = f"{start}, {stop}" if step == 1 else f"{start}, {stop}, {step}"
        with self.block(f"for {index} in range({bounds}):"):
            yield Ix(index)

    def layers(self, reverse: bool = False, first: int = 0) -> Iterator[Layer]:
        last = "layout.shape[0]" if self.lang == "numba" else "n_layers"
        start, stop, step = (Ix(f"{last} - 1"), first - 1, -1) if reverse else (first, last, 1)
        with self._loop("layer", start, stop, step) as number:
            fields = []
            for k, name in enumerate(("n_in", "n_out", "w_at", "b_at")):
                local = self.fresh(name)
                self.indices[local] = None
                self.lines.append("    " * self.depth + f"{local} = {self.field(number, k)}")
                fields.append(Ix(local))
            yield Layer(number, *fields, self.code(number))

    def range(self, start, stop, name: str) -> Iterator[Ix]:
        with self._loop(name, start, stop) as index:
            yield index

    def squash(self, at, n, f: Callable[[Expr], Expr]) -> None:
        """A layer squashed by a function that calls exp: glibc's exp inlined, without its
        branch for rare inputs, where none of the layer's is one (a loop the compiler
        vectorises), as in :class:`Lanes`."""
        index = self.fresh("j")
        self.indices[index] = None
        value, target = f(self.net(at, Ix(index))), self.out(at, Ix(index))
        stmt = Stmt(target.template, value, tuple(self._exp_args))
        self._exp_args = []
        if value.template == target.template:  # the identity
            return
        if not stmt.exp_args:
            self.lines.append("    " * self.depth + f"for {index} in range(0, {n}):")
            self.lines.append("    " * (self.depth + 1) + stmt.line())
            return
        head = f"for {index} in range(0, {n}):"
        self.with_exp(stmt, lambda text: self._in_loop(head, text))

    def _in_loop(self, head: str, text: str) -> None:
        with self.block(head):
            self.lines += ["    " * self.depth + line for line in text.split("\n")]

    def with_exp(self, stmt: Stmt, loop: Callable[[str], None]) -> None:
        """``stmt``, whose value calls exp, written by ``loop(text)`` (which puts ``text``
        in a loop): with glibc's exp inlined without its branch for rare inputs where no
        argument in the loop is one, else the full exp. numba's inlined exp is the build's
        (``exp_build``: "libm" for none); Cython's kernel picks by its ``exp_build``."""
        special = "SPECIAL" if self.lang == "numba" else "_exp_special"
        count = "\n".join(f"rare |= {special}({a.template.format_map(Fields({}, ''))})"
                          for a in stmt.exp_args)

        def rare_then(full: str) -> None:
            self.lines.append("    " * self.depth + "rare = False")
            loop(count)
            with self.block("if rare:  # rare: with the full exp"):
                loop(stmt.line(exp=full))

        if self.lang == "numba":
            if self.exp_build == "libm":
                loop(stmt.line(exp="EXP"))
                return
            rare_then("EXP")
            with self.block("else:"):
                loop(stmt.line(exp="EXP_UNCHECKED"))
            return
        with self.block("if exp_build == EXP_LIBM:"):
            loop(stmt.line(exp="exp"))
        with self.block("else:"):
            rare_then("exp")
            with self.block("elif exp_build == EXP_FMA:"):
                loop(stmt.line(exp="_exp_fma", tail=", tab"))
            with self.block("else:"):
                loop(stmt.line(exp="_exp_plain", tail=", tab"))

    def top(self) -> Layer:
        """The last layer (its number, width and activation: what the loss reads)."""
        last = Ix("last - 1")
        return Layer(last, Ix(self.field(last, 0)), Ix("n_top"), Ix(self.field(last, 2)),
                     Ix(self.field(last, 3)), Ix(f"acts[{last}]"))

    def code(self, number) -> Ix:
        """Layer ``number``'s activation, read into a local where it is asked for."""
        local = self.fresh("code")
        self.indices[local] = None
        self.lines.append("    " * self.depth + f"{local} = acts[{number}]")
        return Ix(local)

    def sum(self, start, stop, term, name: str) -> Expr:
        total = self.fresh(name)
        self.doubles[total] = None
        self.set(var(total), expr("0.0"))
        with self._loop("i", start, stop) as i:
            self.set(var(total), expr("(", var(total), " + ", term(i), ")"))
        return var(total)

    # The network's values: array elements.
    def p(self, q) -> Expr:
        return lit(f"params[{q}]")

    def state(self, slot: int, q) -> Expr:
        return lit(f"velocity[{q}]" if slot == 0 else f"velocity[size + {q}]")

    def out(self, layer, j) -> Expr:
        return lit(f"a[at[{layer}] + {j}]")

    net = scratch = out

    def delta(self, layer, j) -> Expr:
        return lit(f"d[at[{layer}] + {j}]")

    def grad(self, q) -> Expr:
        return lit(f"grad[{q}]")

    def target(self, k) -> Expr:
        return lit(f"Y[s, {k}]" if self.lang == "numba" else f"Y[s * n_top + {k}]")


# --- Made float32: what each language's ``single`` rewrites in a kernel's text ---------

#: A float literal (``1.0``), not part of a name or of another number.
FLOAT_LITERAL = re.compile(r"(?<![\w.])(\d+\.\d+)(?![\w.])")
#: A NumPy array made by ``np.empty(...)`` or ``np.zeros(...)``: its function, its arguments.
NUMPY_ARRAY = re.compile(r"np\.(empty|zeros)\(((?:[^()]|\([^()]*\))*)\)")


def typed_arrays(text: str, dtype: str) -> str:
    """``text`` with every ``np.empty``/``np.zeros`` that names no dtype made of ``dtype``."""
    return NUMPY_ARRAY.sub(lambda m: m[0] if "dtype" in m[2] else
                           f"np.{m[1]}({m[2]}, dtype={dtype})", text)


def indent(lines: Iterable[str], depth: int) -> list[str]:
    return [" " * (4 * depth) + line for line in lines]


_ROW = {"numba": re.compile(r"S\[U\(\((.*?)\) \* G \+ lane\)\]"),
        "cython": re.compile(r"S\[\((.*?)\) \* G \+ lane\]")}
_SAMPLE = re.compile(r"\b(?:[XY]\[s(?:, | \* \w+ \+ )[\w ]+\]|SW\[s\])")


class Lanes(Looped):
    """Loops over a shape read at run time, each value one row of a group of ``G`` networks
    side by side (``S[row * G + lane]``): every assignment becomes a loop over the group's
    ``g`` lanes, innermost, which the compiler vectorises.

    The kernel around it names ``S`` and the first rows of each kind: ``A0`` (every
    layer's outputs, the inputs first, at ``at[l]`` as in :class:`Looped`), ``D0`` (the
    deltas), ``T0`` (the description's scalars: :attr:`temps` of them, one row each)
    and ``LR`` (each network's learning rate); ``size`` parameters, then as many
    velocities, come first. An assignment that calls exp runs glibc's exp inlined without
    its branch for rare inputs where no lane has one (``exp`` says which exp is inlined:
    "libm" for none; in Cython the kernel's ``exp_build`` picks at run time).
    """

    def __init__(self, lang: str, rule: Mapping[str, object], exp: str = "libm") -> None:
        super().__init__(lang, rule, exp)
        self.rows: dict[str, int] = {}
        self.pointers: dict[str, None] = {}  # Cython's row starts (numba's are indices)

    squash = Writer.squash  # each assignment its own loop over the lanes

    @property
    def temps(self) -> int:
        return len(self.rows)

    def cell(self, row) -> Expr:
        index = f"({row}) * G + lane"
        return lit(f"S[U({index})]" if self.lang == "numba" else f"S[{index}]")

    def p(self, q) -> Expr:
        return self.cell(q)

    def state(self, slot: int, q) -> Expr:
        return self.cell(Ix(f"{slot + 1} * size") + q)

    def tail(self, i: int) -> Expr:
        return self.cell(Ix(f"3 * size + {i}"))

    def rate(self) -> Expr:
        return self.temp("lrt", None)

    def out(self, layer, j) -> Expr:
        return self.cell(Ix(f"A0 + at[{layer}]") + j)

    net = scratch = out

    def delta(self, layer, j) -> Expr:
        return self.cell(Ix(f"D0 + at[{layer}]") + j)

    def lr(self) -> Expr:
        return self.cell(Ix("LR"))

    def temp(self, name: str, value: Expr | None) -> Expr:
        row = self.rows.setdefault(name, len(self.rows))
        target = self.cell(Ix("T0") + row)
        if value is not None:
            self.set(target, value)
        return target

    def sum(self, start, stop, term, name: str) -> Expr:
        total = self.temp(self.fresh(name), expr("0.0"))
        with self._loop("i", start, stop) as i:
            self.set(total, expr(total, " + ", term(i)))
        return total

    def set(self, target: Expr, value: Expr) -> None:
        if value.template == target.template:
            return
        stmt = Stmt(target.template, value, tuple(self._exp_args))
        self._exp_args = []
        self.stmts.append(stmt)
        if not stmt.exp_args:
            self._over_lanes(stmt.line())
        else:
            self.with_exp(stmt, self._over_lanes)

    def _over_lanes(self, line: str) -> None:
        """``line`` (or lines) in a loop over the lanes, what is the same in every lane read
        before it: each row's start, the sample's inputs and targets (the compiler cannot
        tell that the loop's stores leave them alone, and would read them in every lane)."""
        hoisted: dict[str, str] = {}

        def before(text: str, kind: str) -> str:
            if text not in hoisted:
                hoisted[text] = self.fresh(kind)
                if kind == "r":
                    self.pointers[hoisted[text]] = None
                else:
                    self.doubles[hoisted[text]] = None
            return hoisted[text]

        if self.lang == "numba":
            line = _ROW["numba"].sub(lambda m: f"S[{before(m[1], 'r')} + U(lane)]", line)
        else:
            line = _ROW["cython"].sub(lambda m: f"{before(m[1], 'r')}[lane]", line)
        line = _SAMPLE.sub(lambda m: before(m[0], "xy"), line)
        for text, name in hoisted.items():
            if name.startswith("r"):
                value = f"U(({text}) * G)" if self.lang == "numba" else f"S + ({text}) * G"
            else:
                value = text
            self.lines.append("    " * self.depth + f"{name} = {value}")
        with self.block("for lane in range(g):"):
            self.lines += ["    " * self.depth + part for part in line.split("\n")]


class Sized(Looped):
    """Loops over a known shape: written out with constant bounds, which the C compiler
    unrolls and vectorises as it sees fit, the values in local arrays (``p``, ``v``, ``a``,
    ``d``: a layer's outputs and deltas from ``at[l]``, known here). The layers are
    unrolled here; activation codes and the rule may still be read at run time."""

    squash = Writer.squash  # the library's exp (the catalogue has no inlined one)

    def __init__(self, lang: str, layout, acts, rule: Mapping[str, object]) -> None:
        super().__init__(lang, rule)
        self.layout = [tuple(int(v) for v in row) for row in layout]
        self.acts = list(acts)
        self.at = [0, self.layout[0][0]]
        for row in self.layout:
            self.at.append(self.at[-1] + row[1])

    layers = Unrolled.layers
    top = Unrolled.top
    code = Unrolled.code

    def p(self, q) -> Expr:
        return lit(f"p[{q}]")

    def state(self, slot: int, q) -> Expr:
        return lit(f"{('v', 'v2')[slot]}[{q}]")

    def out(self, layer: int, j) -> Expr:
        return lit(f"a[{self.at[layer] + j}]")

    net = scratch = out

    def delta(self, layer: int, j) -> Expr:
        return lit(f"d[{self.at[layer] + j}]")
