"""One training step, written once: every per-sample kernel is generated from here.

Each function describes its part of a step to a writer (:mod:`fastbp.kernels.emit`), in
the oracle's canonical order: the forward pass, a sample's loss, the output and hidden
deltas, the gradient summed over samples, and the **update stage**, where a gradient
becomes a change of the parameters. The writer either runs the loops here (a shape's
unrolled kernels) or writes them out (the looped kernels every other shape runs), in
numba's Python or in Cython. The tables below are the one definition of each
activation, derivative and update rule the generated kernels use.

An update rule is one entry in :data:`RULES` (plain SGD, classical momentum, Nesterov's
momentum, Adam, each as scikit-learn's ``_stochastic_optimizers`` defines it): every kernel
generated from :func:`update` has every rule. A rule's state beyond the parameters is the
network's *state* row (``velocity`` in the kernels): the velocity ``v`` (slot 0) for
momentum; for Adam the first and second moments ``m`` (slot 0) and ``s`` (slot 1), then
three scalars: the step count ``t`` and the running products ``beta_1**t`` and
``beta_2**t`` (:data:`fastbp.kernels.emit.TAIL`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..base.functions import LOGISTIC, RELU, SOFTMAX, SQUARED, TANH
from .emit import Cond, Expr, Ix, Layer, Looped, Writer, cond, expr, lit, var

# --- Tables ------------------------------------------------------------------------------

#: Elementwise activations, the net input ``z`` to the output (identity: any other code).
ELEMENTWISE: dict[int, Callable[[Writer, Expr], Expr]] = {
    LOGISTIC: lambda w, z: expr("1.0 / (1.0 + ", w.exp(expr("-", z)), ")"),
    TANH: lambda w, z: w.tanh(z),
    RELU: lambda w, z: expr(z, " if ", z, " > 0.0 else 0.0"),
}

#: d out / d net, written in the output ``o`` (1.0 for any other code).
DERIVATIVES: dict[int, Callable[[Expr], Expr]] = {
    LOGISTIC: lambda o: expr("(", o, " * (1.0 - ", o, "))"),
    TANH: lambda o: expr("(1.0 - ", o, " * ", o, ")"),
    RELU: lambda o: expr("(1.0 if ", o, " > 0.0 else 0.0)"),
}


#: The optimizer's settings as the kernels take them: one float64 array ``opt`` in this
#: order (``nesterov`` and ``adam`` 0.0 or 1.0), unpacked into locals of these names.
OPT_FIELDS = ("momentum", "nesterov", "adam", "beta_1", "beta_2", "epsilon")



def _sgd(w: Writer, q, g: Expr) -> None:
    w.set(w.p(q), expr(w.p(q), " - ", w.lr(), " * ", g))


def _momentum(w: Writer, q, g: Expr) -> None:
    # classical momentum: v = m v - lr g; w += v
    v = w.state(0, q)
    w.set(v, expr(var("momentum"), " * ", v, " - ", w.lr(), " * ", g))
    w.set(w.p(q), expr(w.p(q), " + ", v))


def _nesterov(w: Writer, q, g: Expr) -> None:
    # Nesterov's momentum as scikit-learn writes it: v = m v - lr g; w += m v - lr g
    v = w.state(0, q)
    w.set(v, expr(var("momentum"), " * ", v, " - ", w.lr(), " * ", g))
    w.set(w.p(q), expr(w.p(q), " + (", var("momentum"), " * ", v, " - ", w.lr(), " * ", g,
                       ")"))


def _adam(w: Writer, q, g: Expr) -> None:
    # m = b1 m + (1 - b1) g; s = b2 s + (1 - b2) (g g); w += -lr_t m / (sqrt(s) + eps)
    m, s = w.state(0, q), w.state(1, q)
    w.set(m, expr(var("beta_1"), " * ", m, " + (1.0 - ", var("beta_1"), ") * ", g))
    w.set(s, expr(var("beta_2"), " * ", s, " + (1.0 - ", var("beta_2"), ") * (", g, " * ",
                  g, ")"))
    w.set(w.p(q), expr(w.p(q), " + (-", w.rate(), " * ", m, ") / (", w.sqrt(s), " + ",
                       var("epsilon"), ")"))


#: The update rules: ``rule(writer, q, g)`` moves parameter ``q`` by its gradient ``g``.
#: Which one runs is the writer's ``rule["adam"]``, ``["momentum"]`` and ``["nesterov"]``:
#: known, or tested at run time.
RULES: dict[str, Callable[[Writer, object, Expr], None]] = {
    "sgd": _sgd, "momentum": _momentum, "nesterov": _nesterov, "adam": _adam}


def adam_rate(w: Writer) -> None:
    """Adam's per-step scalars, once a step before its updates: ``t += 1``, the running
    products ``beta_1**t``, ``beta_2**t`` (a product, not ``pow``: pow costs 30 ns, half a
    small network's whole step), and the bias-corrected rate
    ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``."""
    t, b1t, b2t = (w.tail(i) for i in range(3))
    w.set(t, expr(t, " + 1.0"))
    w.set(b1t, expr(b1t, " * ", var("beta_1")))
    w.set(b2t, expr(b2t, " * ", var("beta_2")))
    w.set(w.rate(), expr(w.lr(), " * ", w.sqrt(expr("1.0 - ", b2t)), " / (1.0 - ", b1t, ")"))


# --- Helpers -----------------------------------------------------------------------------

def _is(value, equal: bool, than: int | float) -> Cond:
    """``value == than`` (or ``!=``), known here or tested at run time."""
    if isinstance(value, (int, float)) and not isinstance(value, Ix):
        return cond((value == than) == equal)
    return cond(f"{value} {'==' if equal else '!='} {than}")


def _flag(w: Writer, name: str) -> Cond:
    """The rule's ``name`` (momentum, decay, train_bias): a bool where known, else the
    run-time test the writer's rule spells."""
    return cond(w.rule[name])


def derivative(w: Writer, code, o: Expr) -> Expr:
    return w.pick(code, {c: f(o) for c, f in DERIVATIVES.items()}, expr("1.0"))


# --- The step ----------------------------------------------------------------------------

def inputs(w: Writer, n_in, x: Callable[[object], Expr]) -> None:
    """The sample's inputs ``x(i)`` as layer 0's outputs."""
    for i in w.range(0, n_in, "i"):
        w.set(w.out(0, i), x(i))


def activate(w: Writer, at, n, code) -> None:
    """Squash the net inputs of outputs ``at`` (``n`` of them) with activation ``code``."""
    def elementwise(f):
        return lambda: w.squash(at, n, lambda z: f(w, z))

    def softmax() -> None:
        m = w.temp("m", w.net(at, 0))
        for j in w.range(1, n, "j"):
            z = w.net(at, j)
            w.set(m, expr(z, " if ", z, " > ", m, " else ", m))
        for j in w.range(0, n, "j"):
            w.set(w.scratch(at, j), w.exp(expr(w.net(at, j), " - ", m)))
        total = w.temp("total", w.sum(0, n, lambda j: w.scratch(at, j), "total"))
        for j in w.range(0, n, "j"):
            w.set(w.out(at, j), expr(w.scratch(at, j), " / ", total))

    cases = {c: elementwise(f) for c, f in ELEMENTWISE.items()}
    cases[SOFTMAX] = softmax
    w.choose(code, cases, elementwise(lambda w, z: z))


def forward(w: Writer) -> None:
    """Every layer's outputs from layer 0's: net_j = ((0 + W[j,0] a[0]) + ...) + b[j]."""
    for layer in w.layers():
        below = layer.number
        for j in w.range(0, layer.n_out, "j"):
            total = w.sum(0, layer.n_in, partial(_input_term, w, layer, j), "total")
            w.set(w.net(below + 1, j), expr(total, " + ", w.p(layer.b_at + j)))
        activate(w, below + 1, layer.n_out, layer.code)


def _input_term(w: Writer, layer: Layer, j, i) -> Expr:
    return expr(w.p(layer.w_at + j * layer.n_in + i), " * ", w.out(layer.number, i))


def sample_loss(w: Writer, top: Layer) -> Expr:
    """The sample's loss, summed over the outputs in order (squared: the tutorial's
    E_total); 0 log 0 counts as 0."""
    at = top.number + 1
    e = w.temp("e", expr("0.0"))
    for k in w.range(0, top.n_out, "k"):
        o, t = w.out(at, k), w.target(k)

        def squared(o: Expr = o, t: Expr = t) -> None:
            r = w.temp("r", expr(t, " - ", o))
            w.set(e, expr(e, " + 0.5 * (", r, " * ", r, ")"))

        def cross_entropy(o: Expr = o, t: Expr = t) -> None:
            term = w.temp("term", expr("0.0 if ", t, " == 0.0 else ", t, " * ", w.log(o)))

            def other_half(o: Expr = o, t: Expr = t, term: Expr = term) -> None:
                u = w.temp("u", expr("1.0 - ", t))
                w.set(term, expr(term, " + (0.0 if ", u, " == 0.0 else ", u, " * ",
                                 w.log(expr("1.0 - ", o)), ")"))

            w.when(_is(top.code, False, SOFTMAX), other_half)
            w.set(e, expr(e, " - ", term))

        w.when(_is(w.rule["loss"], True, SQUARED), squared, cross_entropy)
    return e


def output_deltas(w: Writer, top: Layer) -> None:
    """dE/dnet of each output neuron: ``out - target`` where the loss is cross-entropy
    (the activation's derivative cancels), else the squared loss's chain rule."""
    at, n = top.number + 1, top.n_out

    def cross_entropy() -> None:
        for k in w.range(0, n, "k"):
            w.set(w.delta(at, k), expr(w.out(at, k), " - ", w.target(k)))

    def softmax_squared() -> None:
        g = w.temp("g", w.sum(0, n, lambda k: expr(
            "(", w.out(at, k), " - ", w.target(k), ") * ", w.out(at, k)), "total"))
        for k in w.range(0, n, "k"):
            o = w.out(at, k)
            w.set(w.delta(at, k), expr(o, " * ((", o, " - ", w.target(k), ") - ", g, ")"))

    def squared() -> None:
        for k in w.range(0, n, "k"):
            o = w.out(at, k)
            w.set(w.delta(at, k), expr("(", o, " - ", w.target(k), ") * ",
                                       derivative(w, top.code, o)))

    w.when(_is(w.rule["loss"], False, SQUARED), cross_entropy,
           lambda: w.choose(top.code, {SOFTMAX: softmax_squared}, squared))

    def weighted() -> None:  # scikit-learn's ``deltas[last] *= sample_weight``
        for k in w.range(0, n, "k"):
            w.set(w.delta(at, k), expr(w.delta(at, k), " * ", w.weight()))

    w.when(_flag(w, "weighted"), weighted)


def hidden_deltas(w: Writer) -> None:
    """Each hidden layer's deltas, from the last: Σ over the next layer's neurons k in
    order of δ_k W[k, j], times the derivative at the hidden output."""
    for layer in w.layers(reverse=True, first=1):
        h = layer.number  # the hidden outputs these weights read
        for j in w.range(0, layer.n_in, "j"):
            total = w.sum(0, layer.n_out, partial(_back_term, w, layer, j), "total")
            w.set(w.delta(h, j), expr(total, " * ",
                                      derivative(w, w.code(h - 1), w.out(h, j))))


def _back_term(w: Writer, layer: Layer, j, k) -> Expr:
    return expr(w.delta(layer.number + 1, k), " * ", w.p(layer.w_at + k * layer.n_in + j))


def deltas(w: Writer) -> None:
    top = w.top()
    output_deltas(w, top)
    hidden_deltas(w)


def _gradients(w: Writer, visit: Callable[[object, Expr, Expr | None, bool], None],
               biases: Cond) -> None:
    """``visit(q, delta, a, is_weight)`` for every parameter: a weight's gradient from this
    sample is ``δ_j a_i``, a bias's (where ``biases``) ``δ_j`` (``a`` None)."""
    for layer in w.layers():
        below = layer.number
        for j in w.range(0, layer.n_out, "j"):
            for i in w.range(0, layer.n_in, "i"):
                visit(layer.w_at + j * layer.n_in + i, w.delta(below + 1, j), w.out(below, i),
                      True)
        # a layer's biases after its weights: each block is contiguous (and vectorises)
        w.when(biases, partial(_bias_gradients, w, visit, layer))


def _bias_gradients(w: Writer, visit, layer: Layer) -> None:
    for j in w.range(0, layer.n_out, "j"):
        visit(layer.b_at + j, w.delta(layer.number + 1, j), None, False)


def update(w: Writer, q, summed: Expr, weight: bool, size: Expr | None = None) -> None:
    """The update stage of parameter ``q``: its gradient is ``summed`` plus ``decay * w``
    for a weight (where the rule has decay), divided by the batch's ``size`` (None: one
    sample, and x / 1 is x; weighted, the sample's weight), applied by the rule's
    update."""
    def apply(g: Expr) -> None:
        if size is not None:
            g = expr("(", g, " / ", size, ")")
            rules(g)
        else:
            w.when(_flag(w, "weighted"), lambda: rules(expr("(", g, " / ", w.weight(), ")")),
                   lambda: rules(g))

    def rules(g: Expr) -> None:
        w.when(_flag(w, "adam"), lambda: RULES["adam"](w, q, w.temp("g", g)),
               lambda: w.when(_flag(w, "momentum"), lambda: w.when(
                   _flag(w, "nesterov"), lambda: RULES["nesterov"](w, q, g),
                   lambda: RULES["momentum"](w, q, g)), lambda: RULES["sgd"](w, q, g)))

    if weight:
        w.when(_flag(w, "decay"),
               lambda: apply(expr("(", summed, " + ", var("decay"), " * ", w.p(q), ")")),
               lambda: apply(summed))
    else:
        apply(summed)


def report(w: Writer) -> None:
    """This sample's part of the epoch's report (a batch of one, before its update): into
    ``rep0`` its loss (weighted: ``(w_s * e) / w_s``), into ``rep1``, where the rule has
    decay, the sum of the squared weights (layer by layer, row-major, from 0) over its
    weight. A batch of ``len`` samples adds ``(sum / weight) * len`` of each."""
    e = sample_loss(w, w.top())
    rep0, rep1 = var("rep0"), var("rep1")
    w.when(_flag(w, "weighted"),
           lambda: w.set(rep0, expr(rep0, " + (", w.weight(), " * ", e, ") / ", w.weight())),
           lambda: w.set(rep0, expr(rep0, " + ", e)))

    def squares() -> None:
        sq = w.temp("sq", expr("0.0"))
        for layer in w.layers():
            for q in w.range(layer.w_at, layer.b_at, "q"):
                w.set(sq, expr(sq, " + ", w.p(q), " * ", w.p(q)))
        w.when(_flag(w, "weighted"), lambda: w.set(rep1, expr(rep1, " + ", sq, " / ",
                                                              w.weight())),
               lambda: w.set(rep1, expr(rep1, " + ", sq)))

    w.when(_flag(w, "decay"), squares)


def reported_deltas(w: Writer) -> None:
    """Adam's scalars for this step (:func:`adam_rate`: first, so that their chain of
    sqrt and division overlaps the deltas' work), the sample's report where the rule asks
    for one (:func:`report`), then its deltas: all of a step before its updates."""
    w.when(_flag(w, "adam"), lambda: adam_rate(w))
    w.when(_flag(w, "report"), lambda: report(w))
    deltas(w)


def online_step(w: Writer) -> None:
    """One sample's whole step: its report where the rule asks for one (:func:`report`),
    deltas from the weights before it, then every trained parameter updated by its
    gradient (:func:`online_updates`)."""
    reported_deltas(w)
    # Every delta above used the weights from before this step; now update.
    online_updates(w)


def online_updates(w: Writer) -> None:
    """Every trained parameter updated by this sample's gradient, summed from zero over a
    batch of one: ``0 + δ_j a_i`` for a weight, ``0 + δ_j`` for a bias (Adam's rate from
    :func:`reported_deltas`)."""
    def step(q, delta: Expr, a: Expr | None, weight: bool) -> None:
        update(w, q, expr("(0.0 + ", delta, ")") if a is None else
               expr("(0.0 + ", delta, " * ", a, ")"), weight)

    _gradients(w, step, _flag(w, "train_bias"))


def accumulate(w: Writer) -> None:
    """Add this sample's gradient to ``grad``: ``grad += δ_j a_i``, biases too (fixed or
    not)."""
    def add(q, delta: Expr, a: Expr | None, weight: bool) -> None:
        w.set(w.grad(q), expr(w.grad(q), " + ", delta) if a is None else
              expr(w.grad(q), " + ", delta, " * ", a))

    _gradients(w, add, cond(True))


def mean_gradient(w: Writer, count: Expr) -> None:
    """``grad`` summed over ``count`` samples into the mean gradient: plus ``decay * w``
    for a weight where the rule has decay, then divided by ``count``."""
    for layer in w.layers():
        for q in w.range(layer.w_at, layer.b_at, "q"):
            w.when(_flag(w, "decay"),
                   lambda q=q: w.set(w.grad(q), expr("(", w.grad(q), " + ", var("decay"), " * ",
                                                     w.p(q), ") / ", count)),
                   lambda q=q: w.set(w.grad(q), expr(w.grad(q), " / ", count)))
        for q in w.range(layer.b_at, layer.b_at + layer.n_out, "q"):
            w.set(w.grad(q), expr(w.grad(q), " / ", count))


# --- The batched kernels' update stage ---------------------------------------------------

def update_range(w: Writer) -> None:
    """Parameters ``lo..hi`` updated by a batch's summed gradients ``grad[q]`` over its
    ``size`` samples (``decay`` 0 for biases: they never decay)."""
    for q in w.range(Ix("lo"), Ix("hi"), "q"):
        update(w, q, w.grad(q), True, var("size"))


def update_row(w: Writer) -> None:
    """A batch of one sample: parameters ``row..row+n`` updated as their gradients are
    computed, ``0 + δ_j a`` (``a`` the input ``ai``; 1.0 for biases, whose ``decay`` is 0)."""
    for j in w.range(0, Ix("n"), "j"):
        update(w, Ix("row") + j, expr("(0.0 + ", w.delta(None, j), " * ", var("ai"), ")"), True)


def update_rows(w: Writer) -> None:
    """:func:`update_row` for the ``n_in`` rows ``first + i n`` of a layer at once, the
    inputs ``a[inp + i]``: one sample's weights, with the rule tested once a layer."""
    for i in w.range(0, Ix("n_in"), "i"):
        ai = w.temp("ai", w.input(i))
        for j in w.range(0, Ix("n"), "j"):
            update(w, Ix("first") + i * Ix("n") + j,
                   expr("(0.0 + ", w.delta(None, j), " * ", ai, ")"), True)


RUN_TIME_RULE = {"momentum": "momentum != 0.0", "nesterov": "nesterov != 0.0",
                 "adam": "adam != 0.0", "decay": "decay != 0.0", "weighted": "weighted",
                 "report": "report"}


def unpack_opt(lang: str) -> list[str]:
    """The lines that unpack the kernel's ``opt`` array into the locals the rules read."""
    if lang == "numba":
        return [", ".join(OPT_FIELDS) + " = " + ", ".join(
            f"opt[{i}]" for i in range(len(OPT_FIELDS)))]
    return ["cdef double " + ", ".join(f"{name} = opt[{i}]"
                                       for i, name in enumerate(OPT_FIELDS))]


def stage(lang: str, part: Callable[[Writer], None]
          ) -> tuple[list[str], list[str], list[str]]:
    """The lines of ``part`` (:func:`update_range`, :func:`update_row`,
    :func:`update_rows`), the loop indices and the real scalars they declare; over
    parameters ``work`` (``P`` of them), the state ``vel`` (slot 1 from ``P``), summed
    gradients ``grad``, one sample's deltas ``d`` from ``outs`` and its inputs ``a`` from
    ``inp``; the step's rate ``lr`` (Adam's bias-corrected rate: the caller's
    :func:`adam_rate`), one sample's weight ``sw`` (1.0 unweighted). Cython tests the
    rule's flags once, outside the loops, and so does numba in a sample's update
    (:func:`update_row`, :func:`update_rows`): LLVM moved a test in the loop out of the
    loop over a row's columns but not out of the loop over rows, so every row tested the
    rule again and checked its arrays' overlap (64-32-10 online: 821-841 ns a step against
    730-806, alternating processes; the cold compile the same). In :func:`update_range`
    numba tests Adam (and its decay), Nesterov and the weight outside and momentum and
    decay inside, where LLVM moves them out itself (every test inside, the loop no longer
    vectorised: 64-100-10's online SGD took 4.5x as long; every test outside, when the
    stage was inlined into ``batched.run``, it compiled for twice as long)."""
    w = Looped(lang, RUN_TIME_RULE)
    index = (lambda q: f"U({q})") if lang == "numba" else str
    w.p = lambda q: lit(f"work[{index(q)}]")
    if lang == "numba":
        w.state = lambda slot, q: lit(f"vel[{index(q if slot == 0 else Ix('P') + q)}]")
    else:  # a pointer of its own (``vel + P``): GCC vectorises no loop over two parts of one
        w.state = lambda slot, q: lit(f"{('vel', 'vel2')[slot]}[{q}]")
    w.rate = lambda: var("lr")
    w.weight = lambda: var("sw")
    w.rule["weighted"] = "sw != 1.0"  # x / 1 is x: one weight of 1 needs no division
    w.grad = lambda q: lit(f"grad[{index(q)}]")
    w.delta = lambda layer, j: lit(f"d[{index(Ix('outs') + j)}]")
    w.input = lambda i: lit(f"a[{index(Ix('inp') + i)}]")
    lines = unpack_opt(lang)

    def body() -> None:
        if part is not update_range:  # a weight to divide by (update_range's size has it)
            w.fix("weighted", lambda: part(w))
        else:
            part(w)

    if lang == "cython" or part is not update_range:
        fix_rule(w, body)
    else:  # momentum and decay tested in the loop, where LLVM unswitches them itself
        w.fix("adam", lambda: w.fix("decay" if w.rule["adam"] else "nesterov", body))
    return lines + w.lines, list(w.indices), list(w.doubles)


def fix_rule(w: Writer, body: Callable[[], None], nesterov: bool = True) -> None:
    """``body()`` once for each update rule and decay, tested once outside it (Adam reads
    no momentum flag, so its copies are two, not eight); Nesterov's flag is tested inside
    where ``nesterov`` is False."""
    def rest() -> None:
        if w.rule["adam"]:
            w.fix("decay", body)
        elif nesterov:
            w.fix("momentum", lambda: w.fix("nesterov", lambda: w.fix("decay", body))
                  if w.rule["momentum"] else w.fix("decay", body))
        else:
            w.fix("momentum", lambda: w.fix("decay", body))

    w.fix("adam", rest)


def rate_function(lang: str) -> list[str]:
    """The body of ``adam_step(vel, at, lr, opt)``: Adam's per-step scalars kept in
    ``vel[at..at+2]`` advanced, and the step's rate returned (the batched kernels run it
    once a batch, before the update stage)."""
    w = Looped(lang, RUN_TIME_RULE)
    w.tail = lambda i: lit(f"vel[at + {i}]")
    w.rate = lambda: var("rate")
    w.doubles["rate"] = None
    adam_rate(w)
    return unpack_opt(lang) + w.lines + ["return rate"]
