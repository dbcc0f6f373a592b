"""One training step as a self-contained interactive page (``fastbp explain --format html``).

The page holds everything it shows: the network's SVG (:mod:`fastbp.diagram`), the
trace's quantities as JSON, a stylesheet and a small script; no CDN, font or request.
A step-through walks the quantities in the text's order, highlighting the neurons,
edges and biases each one involves (the names its formula mentions) and showing its
formula, the formula with numbers, and its value (to 9 digits, and exactly). With a
training run (``epochs``), a slider over recorded epochs recolours the edges by weight
(blue positive, red negative, width by size), shows the outputs against the targets and
marks the epoch on the loss curve.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from ..core.engine import DivergenceError
from ..core.optimizers import SGD
from ..kernels.protocol import Rule
from . import diagram

# A fastbp.trace.StepTrace: not imported, as trace.py imports this module (to_html).
StepTrace = Any

#: At most this many recorded epochs in a page (evenly spaced on a log scale): about
#: 60 kB for the tutorial's network, however long the run.
SNAPSHOTS = 300

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_REF = re.compile(r"(?:^|_|^d)(w\d+|[hio]\d+)$")


def refs(text: str, known: set[str]) -> list[str]:
    """The neurons, weights and biases a quantity's name and formula mention (``out_h1``
    mentions ``h1``; ``dnet_o1/dw5``, ``o1`` and ``w5``), among ``known``."""
    found = []
    for token in _TOKEN.findall(text):
        match = token if re.fullmatch(r"b\d+|b_[hio]\d+", token) else None
        if match is None:
            ref = _REF.search(token)
            match = ref.group(1) if ref else None
        if match in known and match not in found:
            found.append(match)
    return found


def _finite(value: float) -> float | str:
    """JSON has no NaN or infinity: those travel as the strings JavaScript's Number reads."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def marks(epochs: int, points: int = SNAPSHOTS) -> list[int]:
    """Epochs to record in a run of ``epochs``: 0, the end, and about ``points`` between,
    evenly spaced on a log scale (learning changes fastest at first)."""
    if epochs <= points:
        return list(range(epochs + 1))
    spaced = np.unique(np.round(np.geomspace(1, epochs, points)).astype(np.int64))
    return [0, *spaced.tolist()]


def history(step: StepTrace, epochs: int, backend: str = "auto") -> dict:
    """Train a copy of the step's network on its sample for ``epochs`` epochs (online, the
    step's lr, loss and weight decay) and record its parameters, outputs and loss at
    :func:`marks`; a divergence ends the record where it happened."""
    from ..core.training import train

    net = step.network.copy()
    X, Y = np.array([step.x], net.dtype), np.array([step.t], net.dtype)
    record = {"epochs": [], "params": [], "outputs": [], "loss": [], "diverged": None}
    optimizer = step.optimizer or SGD()
    if optimizer != SGD():  # a state to carry from mark to mark: one run, by the kernels
        return _stateful_history(step, net, X, Y, optimizer, epochs, backend, record)
    done = 0
    for mark in marks(epochs):
        try:
            result = train(net, X, Y, epochs=mark - done, lr=step.lr, loss=step.loss,
                           weight_decay=step.weight_decay, backend=backend)
        except DivergenceError as exc:
            record["diverged"] = exc.epoch
            break
        done = mark
        record["epochs"].append(mark)
        record["params"].append([_finite(v) for v in net.params.tolist()])
        record["outputs"].append([_finite(v) for v in net.forward(X)[0].tolist()])
        record["loss"].append(_finite(result.final_loss))
    return record


def _stateful_history(step, net, X, Y, optimizer, epochs, backend, record) -> dict:
    """:func:`history` for an optimizer with a state (momentum, Adam's moments): the
    kernels train from mark to mark with the state carried, one run bit for bit; a
    divergence ends the record at the first epoch whose parameters are not finite."""
    from ..base.functions import loss_code
    from ..kernels import choose

    shape, code = net.kernel_shape, loss_code(step.loss)
    rule = Rule(code, weight_decay=step.weight_decay, **optimizer.rule_fields())
    kernels = choose(backend, shape, rule, epochs=epochs)[1]  # "auto" as train chooses
    state = rule.new_state(shape.n_params, dtype=net.dtype)
    done = 0
    for mark in marks(epochs):
        before = net.params.copy(), state.copy()
        kernels.train(shape, rule, net.params, state, X, Y, mark - done, step.lr)
        if not np.isfinite(net.params).all():  # replay the chunk to its first bad epoch
            net.params[...], state[...] = before
            for epoch in range(done + 1, mark + 1):
                kernels.train(shape, rule, net.params, state, X, Y, 1, step.lr)
                if not np.isfinite(net.params).all():
                    record["diverged"] = epoch
                    return record
        done = mark
        loss = kernels.mean_loss(shape, code, net.params, X, Y)
        record["epochs"].append(mark)
        record["params"].append([_finite(v) for v in net.params.tolist()])
        record["outputs"].append([_finite(v) for v in net.forward(X)[0].tolist()])
        record["loss"].append(_finite(loss))
    return record


def data(step: StepTrace, epochs: int | None = None) -> dict:
    """Everything the page shows, JSON-ready."""
    net = step.network
    if net is None:
        raise ValueError("this StepTrace holds no network to draw: make it with fastbp.trace")
    names = diagram.neuron_names(net.sizes)
    known = {n for column in names for n in column} | set(diagram.weight_names(net).values())
    for layer, column in enumerate(names[1:]):
        known |= {diagram.bias_name(net, layer, n) for n in column}
    steps = []
    for title, entries in step.sections:
        for e in entries:
            steps.append({"section": title, "name": e.name, "formula": e.formula,
                          "numbers": e.numbers, "value": _finite(e.value),
                          "shown": f"{e.value:.9g}", "exact": repr(e.value),
                          "refs": refs(f"{e.name} {e.formula}", known),
                          "published": step.published.get(e.name)})
    in_float32 = " in float32" if net.dtype == np.float32 else ""
    return {"title": f"fastbp: one step of a {'-'.join(map(str, net.sizes))} network"
                     f"{in_float32}",
            "sizes": list(net.sizes), "activations": list(net.activations),
            "bias": net.bias, "lr": step.lr, "loss": step.loss, "x": step.x, "t": step.t,
            "outputs": names[-1], "drawable": diagram.drawable(net.sizes), "steps": steps,
            "history": None if not epochs else history(step, epochs)}


def _script_json(value: dict) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html(step: StepTrace, epochs: int | None = None) -> str:
    """The page for ``step`` (see the module's docstring); with ``epochs``, a training run
    of that many epochs on the step's sample, with its slider."""
    content = data(step, epochs)
    picture = diagram.svg(step.network, step.x, step.t, style=False)
    return (TEMPLATE.replace("{{title}}", content["title"])
            .replace("{{style}}", diagram.STYLE + STYLE)
            .replace("{{svg}}", picture)
            .replace("{{data}}", _script_json(content))
            .replace("{{script}}", SCRIPT))


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #0f172a; background: #f8fafc; }
header { padding: 12px 20px; background: #0f172a; color: #f8fafc; }
header h1 { font-size: 18px; margin: 0; }
header p { margin: 2px 0 0; color: #cbd5e1; font-size: 13px; }
main { display: grid; grid-template-columns: minmax(0, 1fr) 380px; gap: 16px; padding: 16px 20px;
  align-items: start; }
.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 8px; padding: 12px 14px; }
#diagram { overflow: auto; }
.fbp-net line.hot, .fbp-net circle.hot { stroke: #d97706 !important; stroke-width: 3.2 !important; }
.fbp-net circle.hot { fill: #fef3c7 !important; }
.fbp-net text.label.hot { display: inline; fill: #b45309; font-weight: 700; }
#panel h2 { font-size: 13px; color: #64748b; margin: 0 0 4px; font-weight: 600; }
#step-name { font: 600 20px ui-monospace, monospace; margin: 0 0 8px; }
.formula { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
.row { margin: 6px 0; display: grid; grid-template-columns: 104px 1fr; gap: 6px; }
.row b { color: #475569; font-weight: 600; }
#step-value { font: 700 18px ui-monospace, monospace; }
#published { margin-top: 8px; padding: 8px; border-radius: 6px; background: #f1f5f9; }
#published.differs { background: #fff7ed; }
nav { display: flex; gap: 8px; align-items: center; margin-top: 10px; }
button { font: inherit; padding: 5px 14px; border-radius: 6px; border: 1px solid #94a3b8;
  background: #fff; cursor: pointer; }
button:disabled { opacity: .4; cursor: default; }
#list { max-height: 300px; overflow: auto; margin-top: 12px; }
#list table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
#list td { padding: 2px 6px; border-bottom: 1px solid #f1f5f9; cursor: pointer; }
#list td.v { text-align: right; font-family: ui-monospace, monospace; }
#list tr.section td { background: #f1f5f9; font-weight: 600; cursor: default; }
#list tr.current td { background: #fde68a; }
#watch { grid-column: 1 / -1; display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
#watch input[type=range] { width: 100%; }
#outputs table { border-collapse: collapse; }
#outputs td { padding: 2px 10px; font-family: ui-monospace, monospace; }
.bar { height: 10px; background: #93c5fd; display: inline-block; vertical-align: middle; }
.bar.target { background: #fca5a5; }
#curve .line { fill: none; stroke: #2563eb; stroke-width: 1.6; }
#curve .axis { stroke: #94a3b8; }
#curve text { font-size: 11px; fill: #475569; }
#curve .marker { fill: #d97706; }
.note { color: #64748b; font-size: 12.5px; }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>{{style}}</style>
</head>
<body>
<header><h1>{{title}}</h1><p id="subtitle"></p></header>
<main>
<section class="card" id="diagram">{{svg}}<p class="note" id="diagram-note"></p></section>
<section class="card" id="panel">
<h2 id="step-section"></h2>
<p class="note" id="step-epoch">This step starts from the initial weights (epoch 0).</p>
<div id="step-name"></div>
<div class="row"><b>formula</b><span class="formula" id="step-formula"></span></div>
<div class="row"><b>with numbers</b><span class="formula" id="step-numbers"></span></div>
<div class="row"><b>value</b><span id="step-value"></span></div>
<div class="row"><b>exactly</b><span class="formula" id="step-exact"></span></div>
<div id="published" hidden></div>
<nav><button id="back" type="button">&larr; Back</button>
<button id="next" type="button">Next &rarr;</button>
<span class="note" id="position"></span></nav>
<p class="note">Arrow keys move too; pick any quantity below.</p>
<div id="list"></div>
</section>
<section class="card" id="watch" hidden>
<div><h2>Training: epoch <span id="epoch"></span></h2>
<input type="range" id="slider" min="0" value="0" step="1" aria-label="epoch">
<p class="note">Edges: blue positive, red negative, width by size, at this epoch (the
diagram above follows the slider; the step beside it is always the first one, from
epoch 0's weights).</p>
<div id="outputs"></div></div>
<div><svg id="curve" width="520" height="240" viewBox="0 0 520 240"></svg></div>
</section>
</main>
<script id="fastbp-data" type="application/json">{{data}}</script>
<script>{{script}}</script>
</body>
</html>
"""

SCRIPT = r"""
"use strict";
const DATA = JSON.parse(document.getElementById("fastbp-data").textContent);
const STEPS = DATA.steps;
const $ = (id) => document.getElementById(id);
const num = (v) => (typeof v === "string" ? Number(v) : v);
const fmt = (v, digits) => Number(num(v).toPrecision(digits)).toString();
let current = 0;

$("subtitle").textContent = DATA.activations.join(", ") + " activations, " + DATA.bias +
  " biases, " + DATA.loss + " loss, learning rate " + DATA.lr + "; inputs " +
  DATA.x.join(", ") + ", targets " + DATA.t.join(", ");
if (!DATA.drawable) {
  $("diagram-note").textContent = "The table lists every quantity.";
}

function buildList() {
  const table = document.createElement("table");
  let section = null;
  STEPS.forEach((s, i) => {
    if (s.section !== section) {
      section = s.section;
      const head = table.insertRow();
      head.className = "section";
      const cell = head.insertCell();
      cell.colSpan = 2;
      cell.textContent = section;
    }
    const row = table.insertRow();
    row.id = "item-" + i;
    row.dataset.index = String(i);
    row.insertCell().textContent = s.name;
    const value = row.insertCell();
    value.className = "v";
    value.textContent = s.shown;
    row.addEventListener("click", () => show(i));
  });
  $("list").appendChild(table);
}

function highlight(refs) {
  document.querySelectorAll(".fbp-net .hot").forEach((el) => el.classList.remove("hot"));
  refs.forEach((ref) => {
    document.querySelectorAll(".fbp-net .ref-" + ref).forEach((el) => el.classList.add("hot"));
  });
}

function show(i) {
  current = Math.max(0, Math.min(STEPS.length - 1, i));
  const s = STEPS[current];
  $("step-section").textContent = s.section;
  $("step-name").textContent = s.name;
  $("step-formula").textContent = s.formula;
  $("step-numbers").textContent = s.numbers;
  $("step-value").textContent = s.shown;
  $("step-exact").textContent = s.exact;
  const pub = $("published");
  if (s.published) {
    pub.hidden = false;
    pub.className = s.published.matches ? "" : "differs";
    pub.textContent = "";
    const line = document.createElement("div");
    line.textContent = "The text prints " + s.published.text + ": " +
      (s.published.matches ? "it agrees to its printed digits." : "it differs.");
    pub.appendChild(line);
    if (!s.published.matches && s.published.why) {
      const why = document.createElement("div");
      why.textContent = "The printed figure comes from " + s.published.why +
        (s.published.variant_value !== null ?
          ", which gives " + fmt(s.published.variant_value, 10) : "") + ".";
      pub.appendChild(why);
    }
  } else {
    pub.hidden = true;
  }
  $("position").textContent = (current + 1) + " of " + STEPS.length;
  $("back").disabled = current === 0;
  $("next").disabled = current === STEPS.length - 1;
  document.querySelectorAll("#list tr.current").forEach((el) => el.classList.remove("current"));
  const item = $("item-" + current);
  item.classList.add("current");
  const list = $("list");
  if (item.offsetTop < list.scrollTop || item.offsetTop > list.scrollTop + list.clientHeight - 24) {
    list.scrollTop = item.offsetTop - list.clientHeight / 3;
  }
  highlight(s.refs);
}

$("back").addEventListener("click", () => show(current - 1));
$("next").addEventListener("click", () => show(current + 1));
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement) return;  // the slider takes its own arrows
  const step = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1}[event.key];
  if (step) {
    show(current + step);
    event.preventDefault();
  }
});

function watch(h) {
  $("watch").hidden = false;
  const slider = $("slider");
  slider.max = String(h.epochs.length - 1);
  let biggest = 1e-12;
  h.params.forEach((row) => row.forEach((v) => { biggest = Math.max(biggest, Math.abs(num(v))); }));
  const curve = $("curve");
  const ns = "http://www.w3.org/2000/svg";
  const W = 520, H = 240, L = 48, R = 12, T = 12, B = 34;
  const xs = h.epochs.map((e) => Math.log10(e + 1));
  const losses = h.loss.map(num).filter((v) => v > 0 && isFinite(v));
  const top = Math.log10(Math.max(...losses)), bottom = Math.log10(Math.min(...losses));
  const span = Math.max(top - bottom, 1e-9), xmax = Math.max(xs[xs.length - 1], 1e-9);
  const px = (i) => L + (W - L - R) * xs[i] / xmax;
  const py = (v) => T + (H - T - B) * (top - Math.log10(Math.max(num(v), 1e-300))) / span;
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
    if (text !== undefined) el.textContent = text;
    curve.appendChild(el);
    return el;
  };
  add("line", {class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B});
  add("line", {class: "axis", x1: L, y1: T, x2: L, y2: H - B});
  add("text", {x: L, y: H - 8}, "epoch 0");
  add("text", {x: W - R, y: H - 8, "text-anchor": "end"},
      "epoch " + h.epochs[h.epochs.length - 1] + " (log scale)");
  const sci = (v) => Math.pow(10, v).toExponential(1);  // 3.5e-5, never a clipped .000035
  add("text", {x: L - 4, y: T + 8, "text-anchor": "end"}, sci(top));
  add("text", {x: L - 4, y: H - B, "text-anchor": "end"}, sci(bottom));
  add("text", {x: W - R, y: T + 10, "text-anchor": "end"}, "loss (log scale)");
  const points = h.loss.map((v, i) => px(i).toFixed(1) + "," + py(v).toFixed(1)).join(" ");
  add("polyline", {class: "line", points: points});
  const marker = add("circle", {class: "marker", r: 5, cx: px(0), cy: py(h.loss[0])});
  const edges = document.querySelectorAll(".fbp-net line[data-q]");
  const labels = document.querySelectorAll(".fbp-net text.label[data-q]");
  function at(k) {
    const params = h.params[k];
    edges.forEach((el) => {
      const w = num(params[Number(el.dataset.q)]);
      el.style.stroke = w >= 0 ? "#2563eb" : "#dc2626";
      el.style.strokeWidth = (0.6 + 5 * Math.abs(w) / biggest).toFixed(2);
    });
    labels.forEach((el) => {
      el.textContent = el.dataset.name + " = " + fmt(params[Number(el.dataset.q)], 3);
    });
    const epoch = h.epochs[k];
    $("epoch").textContent = epoch;
    if (DATA.drawable) {
      $("diagram-note").textContent = epoch === 0 ?
        "The diagram shows the initial weights (epoch 0): the ones the step uses." :
        "The diagram shows the weights after epoch " + epoch + " (the slider below); " +
        "the step beside it uses the initial ones (epoch 0).";
    }
    $("step-epoch").textContent = epoch === 0 ?
      "This step starts from the initial weights (epoch 0), as the diagram shows them." :
      "This step starts from the initial weights (epoch 0); the diagram shows epoch " +
      epoch + "'s.";
    marker.setAttribute("cx", px(k));
    marker.setAttribute("cy", py(h.loss[k]));
    const outs = h.outputs[k];
    const table = document.createElement("table");
    const head = table.insertRow();
    ["", "output", "target", ""].forEach((t) => { head.insertCell().textContent = t; });
    DATA.outputs.forEach((name, j) => {
      const row = table.insertRow();
      row.insertCell().textContent = "out_" + name;
      row.insertCell().textContent = fmt(outs[j], 9);
      row.insertCell().textContent = String(DATA.t[j]);
      const bars = row.insertCell();
      [[outs[j], "bar"], [DATA.t[j], "bar target"]].forEach(([v, cls]) => {
        const bar = document.createElement("span");
        bar.className = cls;
        bar.style.width = Math.round(120 * Math.min(1, Math.abs(num(v)))) + "px";
        bars.appendChild(bar);
        bars.appendChild(document.createElement("br"));
      });
    });
    const loss = table.insertRow();
    loss.insertCell().textContent = "E_total";
    loss.insertCell().textContent = fmt(h.loss[k], 9);
    const legend = document.createElement("p");
    legend.className = "note";
    [["bar", "output"], ["bar target", "target"]].forEach(([cls, label]) => {
      const swatch = document.createElement("span");
      swatch.className = cls;
      swatch.style.width = "14px";
      legend.append(swatch, " " + label + "  ");
    });
    $("outputs").replaceChildren(table, legend);
    if (h.diverged !== null) {
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = "Training diverged in epoch " + h.diverged +
        "; the record ends before it.";
      $("outputs").appendChild(note);
    }
  }
  slider.addEventListener("input", () => at(Number(slider.value)));
  at(0);
}

buildList();
show(0);
if (DATA.history && DATA.history.epochs.length > 0) watch(DATA.history);
"""
