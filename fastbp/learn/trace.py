"""One training step with every intermediate quantity named as in the reference text.

Names: inputs ``i1, i2, ...``; hidden neurons ``h1, h2, ...`` numbered on through
every hidden layer; outputs ``o1, o2, ...``; weights ``w1, w2, ...`` layer by
layer, neuron by neuron (``W_1 = [[w1, w2], [w3, w4]]`` in the tutorial);
a trainable bias is ``b_<neuron>`` (``b_h1``). The text's own names follow:
``net_h1``, ``out_o2``, ``E_o1``, ``dE_total/dout_o1``, ``dout_o1/dnet_o1``,
``delta_o1``, ``dnet_o1/dw5``, ``dE_total/dw5``, ``w5+``; for a hidden neuron
the part of the error reaching it through each neuron ``k`` of the next layer,
``dE_k/dout_h1`` (``dnet_k/dout_h1`` is that connection's weight), and their
sum ``dE_total/dout_h1``.

The text writes a neuron's delta as ``dE_o1/dnet_o1`` (or ``dE_total/dnet_o1``) and the
error after one update as ``E_total after 1``: ``step[...]`` takes those names too
(:data:`TEXT_NAMES`).
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field

from ..base import functions
from ..core.data import check_data, check_learning_rate, check_weight_decay
from ..core.network import Network, check_network
from ..core.optimizers import SGD, Adam, check_optimizer
from ..kernels import oracle
from ..kernels.protocol import Rule
from .diagram import neuron_names, weight_names


@dataclass(frozen=True)
class Entry:
    """One named quantity: its formula, the formula with numbers, and its value."""

    name: str
    formula: str
    numbers: str
    value: float

    def __post_init__(self) -> None:
        # A float32 network's values are NumPy float32 scalars: a float holds each exactly.
        object.__setattr__(self, "value", float(self.value))


#: The text's other names for a quantity (patterns, with the trace's name they mean).
TEXT_NAMES: list[tuple[str, str]] = [
    (r"dE_(?:total|(?P<same>\w+))/dnet_(?P<n>\w+)", "delta_{n}"),
    (r"E_total after 1", "E_total after"),
]


def trace_name(name: str) -> str | None:
    """The trace's name for one of the text's names, or None."""
    for pattern, ours in TEXT_NAMES:
        found = re.fullmatch(pattern, name)
        if found and found.groupdict().get("same") in (None, found.groupdict().get("n")):
            return ours.format(**found.groupdict())
    return None


@dataclass
class StepTrace:
    """Every intermediate of one step, in the reference text's order (see :func:`trace`).

    ``network``, ``x`` and ``t`` are the network before the step and its sample (for
    drawing it); ``published`` maps a quantity's name (the trace's) to what a text printed
    for it (the tutorial's: :func:`fastbp.tutorial.step`).
    """

    sections: list[tuple[str, list[Entry]]] = field(default_factory=list)
    network: Network | None = None
    x: list[float] = field(default_factory=list)
    t: list[float] = field(default_factory=list)
    lr: float = 0.5
    loss: str = "squared"
    weight_decay: float = 0.0
    published: dict[str, dict] = field(default_factory=dict)
    #: The optimizer of the step (:mod:`fastbp.optimizers`); None is plain SGD.
    optimizer: SGD | Adam | None = None

    def __getitem__(self, name: str) -> float:
        return self.entry(name).value

    def __contains__(self, name: object) -> bool:
        try:
            self.entry(name)
        except (KeyError, TypeError):
            return False
        return True

    def entry(self, name: str) -> Entry:
        """The quantity called ``name`` here or in the text (``dE_o1/dnet_o1`` is
        ``delta_o1``)."""
        if not isinstance(name, str):
            raise TypeError(f"a quantity's name is a string, got {type(name).__name__}")
        for wanted in (name, trace_name(name)):
            for _, entries in self.sections:
                for e in entries:
                    if e.name == wanted:
                        return e
        raise KeyError(name)

    def to_html(self, epochs: int | None = None) -> str:
        """The step as one self-contained page: the network drawn, a step-through of every
        quantity; with ``epochs``, a slider over a training run of that many epochs on the
        step's sample (see :func:`fastbp.page.html`)."""
        from .page import html

        return html(self, epochs=epochs)

    def _repr_html_(self) -> str:
        return self.to_html()

    def names(self) -> list[str]:
        return [e.name for _, entries in self.sections for e in entries]

    def as_dict(self) -> dict:
        """JSON-ready: sections, each a title and entries of name, formula, numbers, value."""
        return {"sections": [{"title": title,
                              "entries": [{"name": e.name, "formula": e.formula,
                                           "numbers": e.numbers, "value": e.value}
                                          for e in entries]}
                             for title, entries in self.sections]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def to_markdown(self) -> str:
        lines = []
        for title, entries in self.sections:
            lines += [f"### {title}", "", "| quantity | formula | with numbers | value |",
                      "|---|---|---|---|"]
            lines += [f"| `{e.name}` | `{e.formula}` | `{e.numbers}` | {e.value:.9g} |"
                      for e in entries]
            lines.append("")
        return "\n".join(lines)

    def __str__(self) -> str:
        lines = []
        for title, entries in self.sections:
            lines += [title, "-" * len(title)]
            for e in entries:
                same = e.numbers in (e.formula, _num(e.value))
                lines.append(f"{e.name} = {e.formula}" + ("" if same else f" = {e.numbers}")
                             + f" = {_num(e.value)}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def _num(v: float) -> str:
    return f"{v:.9g}"


def _op(v: float) -> str:
    """A number as an operand: a negative one in parentheses (``1 - (-0.57)^2``, not
    ``1 - -0.57^2``, which reads as ``1 - (-(0.57^2))``)."""
    return f"({v:.9g})" if v < 0 or (v == 0 and math.copysign(1, v) < 0) else f"{v:.9g}"


@oracle.quiet
def trace(net: Network, x: object, t: object, lr: float = 0.5,
          loss: str = "squared", weight_decay: float = 0.0,
          optimizer: str | SGD | Adam | None = None) -> StepTrace:
    """Every quantity of one online step of ``net`` on input ``x``, target ``t``.

    Computed by the oracle, with the network left unchanged. Each ``dE_total/dw``
    equals :func:`fastbp.gradients` on that one sample, and each ``w+`` equals
    the weight after one :func:`fastbp.train` step with the same ``lr``,
    ``weight_decay`` (which adds ``weight_decay * w`` to a weight's gradient) and
    ``optimizer`` (the first step of a run: zero velocity, Adam's ``t`` 0). Momentum
    names the velocity ``v_w5+``; Adam its step's ``t+``, ``beta_1^t``, ``beta_2^t``
    and ``lr_t``, and each parameter's moments ``m_w5+`` and ``s_w5+``.

    A float32 network's step is computed in float32, each operation rounded as the
    kernels round it (the settings too, once): every value is a float32's, shown to the
    9 digits that tell one float32 from the next.

    Returns
    -------
    StepTrace
        Sections: the forward pass, the total error, the backward pass layer by
        layer from the output, and the error after the update.
    """
    net = check_network(net)
    code = functions.loss_code(loss)
    X, Y = check_data(net, x, t, loss, names=("x", "t"))
    if len(X) != 1:
        raise ValueError(f"x must be one sample, got {len(X)}")
    lr = check_learning_rate(lr)
    decay = check_weight_decay(weight_decay)
    optimizer = check_optimizer(optimizer)
    # floats, or float32 scalars for a float32 network: the oracle's arithmetic either way
    update = _Update(optimizer, lr, net.params)
    x, t = oracle.values(X[0]), oracle.values(Y[0])
    p, lay, acts = oracle.values(net.params), [tuple(r) for r in net.layout.tolist()], \
        net.activation_codes.tolist()
    decay = oracle.setting(net.params, decay)
    nets, outs = oracle.forward_sample(p, lay, acts, x)
    deltas = oracle.sample_deltas(p, lay, acts, code, outs, t)
    zero = oracle.setting(net.params, 0.0)
    names = neuron_names(net.sizes)
    w_names = weight_names(net)
    trainable = net.bias == "trainable"

    def bias_name(layer: int, j: int) -> str:
        if trainable:
            return f"b_{names[layer + 1][j]}"
        return f"b{layer + 1}"  # the text's b1, b2: one fixed value per layer

    forward = []
    for layer, (n_in, n_out, w_at, b_at) in enumerate(lay):
        for j in range(n_out):
            n = names[layer + 1][j]
            terms = [(w_names[w_at + j * n_in + i], names[layer][i], p[w_at + j * n_in + i],
                      outs[layer][i]) for i in range(n_in)]
            inputs = [src if layer == 0 else f"out_{src}" for _, src, _, _ in terms]
            formula = " + ".join(f"{w} * {s}" for (w, *_), s in zip(terms, inputs))
            numbers = " + ".join(f"{_op(wv)} * {_op(a)}" for *_, wv, a in terms)
            forward.append(Entry(f"net_{n}", f"{formula} + {bias_name(layer, j)} * 1",
                                 f"{numbers} + {_op(p[b_at + j])} * 1", nets[layer][j]))
        act = net.activations[layer]
        for j in range(n_out):
            n = names[layer + 1][j]
            forward.append(Entry(f"out_{n}", _act_formula(act, n), _act_numbers(
                act, nets[layer][j], nets[layer]), outs[layer + 1][j]))

    out_names, out_act = names[-1], net.activations[-1]
    errors = []
    for k, o in enumerate(out_names):
        value = oracle.sample_loss(code, acts[-1], [outs[-1][k]], [t[k]])
        formula = functions.LOSS_FORMULA[loss, out_act if loss == "cross_entropy" else "any"]
        errors.append(Entry(f"E_{o}", formula.format(n=o),
                            formula.format(n=o).replace(f"target_{o}", _op(t[k]))
                            .replace(f"out_{o}", _op(outs[-1][k])), value))
    total = oracle.sample_loss(code, acts[-1], outs[-1], t)
    errors.append(Entry("E_total", " + ".join(f"E_{o}" for o in out_names),
                        " + ".join(_op(e.value) for e in errors), total))

    sections = [("The forward pass", forward), ("The total error", errors)]
    last = len(lay) - 1
    for layer in range(last, -1, -1):
        n_in, n_out, w_at, b_at = lay[layer]
        title = "The backward pass: output layer" if layer == last else \
            f"The backward pass: hidden layer {layer + 1}"
        entries = []
        for j in range(n_out):
            n = names[layer + 1][j]
            d = deltas[layer][j]
            entries += _delta_entries(layer == last, n, j, layer, net, code, outs, t, deltas,
                                      names, w_names, p, lay)
            for i in range(n_in):
                q = w_at + j * n_in + i
                w, src = w_names[q], names[layer][i]
                a = outs[layer][i]
                dE = d * a
                src_out = src if layer == 0 else f"out_{src}"
                entries += [Entry(f"dnet_{n}/d{w}", src_out, _num(a), a)]
                if decay:  # as train adds it: (0 + delta a) + weight_decay w, over 1 sample
                    dE = (zero + dE) + decay * p[q]
                    entries += [Entry(f"dE_total/d{w}",
                                      f"delta_{n} * {src_out} + weight_decay * {w}",
                                      f"{_op(d)} * {_op(a)} + {_op(decay)} * {_op(p[q])}",
                                      dE)]
                else:
                    entries += [Entry(f"dE_total/d{w}", f"delta_{n} * {src_out}",
                                      f"{_op(d)} * {_op(a)}", dE)]
                entries += update.entries(w, p[q], dE)
            if trainable:
                b = bias_name(layer, j)
                entries += [Entry(f"dE_total/d{b}", f"delta_{n} * 1", _num(d), d),
                            *update.entries(b, p[b_at + j], d)]
        sections.append((title, entries))
    if update.scalars:
        sections.insert(2, ("Adam's step", update.scalars))

    after = net.copy()
    rule = Rule(code, weight_decay=decay, **optimizer.rule_fields())
    oracle.train(after.kernel_shape, rule, after.params, rule.new_state(len(p)), X, Y, 1, lr)
    new = oracle.mean_loss(after.kernel_shape, code, after.params, X, Y)
    sections.append(("After the update", [Entry("E_total after", "E_total with the w+",
                                                _num(new), new)]))
    return StepTrace(sections, net.copy(), X[0].tolist(), Y[0].tolist(), lr, loss,
                     float(decay), optimizer=optimizer)


class _Update:
    """A parameter's update by the optimizer, each intermediate named, as the oracle's
    ``train`` computes it for the first step of a run (velocity, moments and ``t`` 0)."""

    def __init__(self, optimizer: SGD | Adam, lr: float, params) -> None:
        self.setting = functools.partial(oracle.setting, params)  # a float, or a float32
        self.optimizer, self.lr, self.scalars = optimizer, self.setting(lr), []
        if isinstance(optimizer, Adam):
            b1, b2 = self.setting(optimizer.beta_1), self.setting(optimizer.beta_2)
            one = self.setting(1.0)
            t, b1t, b2t = self.setting(0.0) + 1.0, one * b1, one * b2
            self.rate = self.lr * oracle.sqrt(1.0 - b2t) / (1.0 - b1t)
            lr = self.lr
            self.scalars = [
                Entry("t+", "t + 1", "0 + 1", t),
                Entry("beta_1^t", "beta_1^(t-1) * beta_1", f"1 * {_op(b1)}", b1t),
                Entry("beta_2^t", "beta_2^(t-1) * beta_2", f"1 * {_op(b2)}", b2t),
                Entry("lr_t", "lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)",
                      f"{_op(lr)} * sqrt(1 - {_op(b2t)}) / (1 - {_op(b1t)})", self.rate)]

    def entries(self, w: str, value: float, g: float) -> list[Entry]:
        """The entries from ``dE_total/d{w}`` (``g``) to ``{w}+``."""
        opt, lr, zero = self.optimizer, self.lr, self.setting(0.0)
        if isinstance(opt, Adam):
            b1, b2, eps = (self.setting(v) for v in (opt.beta_1, opt.beta_2, opt.epsilon))
            m = b1 * zero + (1.0 - b1) * g
            s = b2 * zero + (1.0 - b2) * (g * g)
            return [Entry(f"m_{w}+", f"beta_1 * m_{w} + (1 - beta_1) * dE_total/d{w}",
                          f"{_op(b1)} * 0 + (1 - {_op(b1)}) * {_op(g)}", m),
                    Entry(f"s_{w}+", f"beta_2 * s_{w} + (1 - beta_2) * (dE_total/d{w})^2",
                          f"{_op(b2)} * 0 + (1 - {_op(b2)}) * {_op(g)}^2", s),
                    Entry(f"{w}+", f"{w} + (-lr_t * m_{w}+) / (sqrt(s_{w}+) + epsilon)",
                          f"{_op(value)} + (-{_op(self.rate)} * {_op(m)}) / (sqrt({_op(s)}) "
                          f"+ {_op(eps)})",
                          value + (-self.rate * m) / (oracle.sqrt(s) + eps))]
        if opt.momentum == 0.0:
            return [Entry(f"{w}+", f"{w} - lr * dE_total/d{w}",
                          f"{_op(value)} - {_op(lr)} * {_op(g)}", value - lr * g)]
        mu = self.setting(opt.momentum)
        v = mu * zero - lr * g
        entries = [Entry(f"v_{w}+", f"momentum * v_{w} - lr * dE_total/d{w}",
                         f"{_op(mu)} * 0 - {_op(lr)} * {_op(g)}", v)]
        if opt.nesterov:
            return [*entries, Entry(f"{w}+", f"{w} + (momentum * v_{w}+ - lr * dE_total/d{w})",
                                    f"{_op(value)} + ({_op(mu)} * {_op(v)} - {_op(lr)} * "
                                    f"{_op(g)})", value + (mu * v - lr * g))]
        return [*entries, Entry(f"{w}+", f"{w} + v_{w}+", f"{_op(value)} + {_op(v)}",
                                value + v)]


def _delta_entries(is_output, n, j, layer, net, code, outs, t, deltas, names, w_names, p, lay):
    d = deltas[layer][j]
    out = outs[layer + 1][j]
    act = net.activations[layer]
    entries = []
    if is_output:
        t_j = t[j]
        if code == functions.SQUARED and act != "softmax":
            dE = out - t_j
            entries.append(Entry(f"dE_total/dout_{n}", f"-(target_{n} - out_{n})",
                                 f"-({_op(t_j)} - {_op(out)})", dE))
        elif act == "logistic":  # cross-entropy
            dE = -(t_j / out) + (1 - t_j) / (1 - out) if 0.0 < out < 1.0 else float("nan")
            entries.append(Entry(f"dE_total/dout_{n}",
                                 f"-target_{n} / out_{n} + (1 - target_{n}) / (1 - out_{n})",
                                 f"-{_op(t_j)} / {_op(out)} + (1 - {_op(t_j)}) / "
                                 f"(1 - {_op(out)})", dE))
        if act == "softmax":
            formula = ("out_{n} * ((out_{n} - target_{n}) - sum_k (out_k - target_k) * out_k)"
                       if code == functions.SQUARED else "out_{n} - target_{n}")
            entries.append(Entry(f"delta_{n}", formula.format(n=n), _num(d), d))
            return entries
        deriv = oracle.derivative(net.activation_codes[layer], out)
        entries.append(_derivative_entry(act, n, out, deriv))
        if code == functions.SQUARED:
            entries.append(Entry(f"delta_{n}", f"dE_total/dout_{n} * dout_{n}/dnet_{n}",
                                 f"{_op(out - t_j)} * {_op(deriv)}", d))
        else:
            entries.append(Entry(f"delta_{n}", f"out_{n} - target_{n} (the product, simplified)",
                                 f"{_op(out)} - {_op(t_j)}", d))
        return entries
    # A hidden neuron: what reaches it through each neuron k of the next layer.
    n_h, n_next, w_at, _ = lay[layer + 1]
    parts = []
    for k in range(n_next):
        nk = names[layer + 2][k]
        q = w_at + k * n_h + j
        contribution = deltas[layer + 1][k] * p[q]
        entries += [Entry(f"dnet_{nk}/dout_{n}", w_names[q], _num(p[q]), p[q]),
                    Entry(f"dE_{nk}/dout_{n}", f"delta_{nk} * {w_names[q]}",
                          f"{_op(deltas[layer + 1][k])} * {_op(p[q])}", contribution)]
        parts.append(contribution)
    total = 0.0
    for part in parts:
        total += part
    entries.append(Entry(f"dE_total/dout_{n}", " + ".join(
        f"dE_{names[layer + 2][k]}/dout_{n}" for k in range(n_next)),
        " + ".join(_op(v) for v in parts), total))
    deriv = oracle.derivative(net.activation_codes[layer], out)
    entries += [_derivative_entry(act, n, out, deriv),
                Entry(f"delta_{n}", f"dE_total/dout_{n} * dout_{n}/dnet_{n}",
                      f"{_op(total)} * {_op(deriv)}", d)]
    return entries


def _derivative_entry(act: str, n: str, out: float, value: float) -> Entry:
    formula = functions.DERIVATIVE_FORMULA[act].format(n=n)
    return Entry(f"dout_{n}/dnet_{n}", formula, formula.replace(f"out_{n}", _op(out)), value)


def _act_formula(act: str, n: str) -> str:
    return functions.ACTIVATION_FORMULA[act].format(n=n)


def _act_numbers(act: str, z: float, layer_nets: list[float]) -> str:
    if act == "logistic":
        return f"1 / (1 + e^(-{_op(z)}))"
    if act == "softmax":
        return f"e^({_op(z)}) / sum_k e^(net_k)"
    return _act_formula(act, "").replace("net_", _num(z))
