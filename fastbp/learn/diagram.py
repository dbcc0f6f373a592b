"""A network drawn as the reference text draws it: an SVG of neurons, biases and weights.

Columns of neurons (inputs, hidden layers, outputs) with every weight's name and value
on its edge, and each layer's bias as a node below the layer it feeds from. Every
element carries a class per quantity it shows (``ref-h1``, ``ref-w5``, ``ref-b1`` or
``ref-b_h1``), which the interactive page (:mod:`fastbp.page`) highlights and recolours;
an edge's ``data-q`` is its parameter's index in ``Network.params``. Plain SVG, no
script: a notebook shows it as it is (``Network._repr_svg_``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

# A fastbp.Network: not imported, as network.py imports this module (its _repr_svg_).
Network = Any

#: The largest network drawn readably: this many layers, inputs and outputs included...
MAX_LAYERS = 5
#: ...of at most this many neurons each.
MAX_WIDTH = 10
#: Below this many edges between two layers every weight is labelled; above, a weight's
#: label shows only while the page highlights it.
LABEL_ALL = 9

COLUMN, ROW, RADIUS, MARGIN = 250, 96, 20, 50

STYLE = """
.fbp-net { font: 12px system-ui, sans-serif; }
.fbp-net .edge { stroke: #8a94a6; stroke-width: 1.4; }
.fbp-net .bias-edge { stroke: #b0b7c3; stroke-width: 1.2; stroke-dasharray: 4 3; }
.fbp-net .neuron { fill: #fff; stroke: #334155; stroke-width: 1.6; }
.fbp-net .bias { fill: #f1f5f9; stroke: #64748b; stroke-width: 1.2; }
.fbp-net .name { text-anchor: middle; dominant-baseline: central; font-weight: 600; }
.fbp-net .label { text-anchor: middle; dominant-baseline: central; font-size: 11px;
  paint-order: stroke; stroke: #fff; stroke-width: 4px; fill: #1e293b; }
.fbp-net .side { font-size: 11px; fill: #475569; dominant-baseline: central; }
.fbp-net .label.hidden-label { display: none; }
"""


def drawable(sizes: Sequence[int]) -> bool:
    """Can a network of these layer sizes be drawn readably?"""
    return len(sizes) <= MAX_LAYERS and max(sizes) <= MAX_WIDTH


def neuron_names(sizes: Sequence[int]) -> list[list[str]]:
    """``i1, ...``, ``h1, ...`` numbered on through every hidden layer, ``o1, ...``."""
    names, hidden = [[f"i{i + 1}" for i in range(sizes[0])]], 1
    for width in sizes[1:-1]:
        names.append([f"h{hidden + j}" for j in range(width)])
        hidden += width
    names.append([f"o{k + 1}" for k in range(sizes[-1])])
    return names


def bias_name(net: Network, layer: int, neuron: str) -> str:
    """The text's name of the bias into ``neuron`` of layer ``layer + 1``: ``b1`` for the
    layer's one fixed value, ``b_h1`` for a trainable bias."""
    return f"b_{neuron}" if net.bias == "trainable" else f"b{layer + 1}"


def _beside(x1: float, y1: float, x2: float, y2: float, at: float) -> tuple[float, float]:
    """A point ``at`` of the way along an edge, moved 9 px off it on its upper side, where
    a label does not cross its own line."""
    dx, dy = x2 - x1, y2 - y1
    length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    nx, ny = -dy / length, dx / length
    if ny > 0:
        nx, ny = -nx, -ny
    return x1 + dx * at + 9 * nx, y1 + dy * at + 9 * ny


def _number(value: float) -> str:
    return f"{value:.3g}"


def svg(net: Network, x: Sequence[float] | None = None, t: Sequence[float] | None = None,
        *, style: bool = True) -> str:
    """The network as an SVG document (a note instead, where it is too large to draw).

    Parameters
    ----------
    net : Network
        Drawn with its current weights and biases.
    x, t : sequence of float, optional
        A sample's inputs and targets, written beside the input and output neurons.
    style : bool, default True
        Include the stylesheet (the page brings its own copy).
    """
    sizes = list(net.sizes)
    css = f"<style>{STYLE}</style>" if style else ""
    if not drawable(sizes):
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="fbp-net" width="520" '
                f'height="40" viewBox="0 0 520 40">{css}<text x="8" y="24">A '
                f'{"-".join(map(str, sizes))} network is too large to draw readably (at most '
                f'{MAX_LAYERS} layers of {MAX_WIDTH} neurons).</text></svg>')
    names = neuron_names(sizes)
    w_names = weight_names(net)
    params = net.params.tolist()
    tallest = max(sizes)
    width = MARGIN * 2 + COLUMN * (len(sizes) - 1) + 80
    height = MARGIN * 2 + ROW * tallest + 30

    def where(layer: int, j: int) -> tuple[float, float]:
        top = MARGIN + (tallest - sizes[layer]) * ROW / 2
        return MARGIN + 40 + layer * COLUMN, top + j * ROW + ROW / 2

    lines, labels, nodes = [], [], []
    for layer, (n_in, n_out, w_at, b_at) in enumerate(net.layout.tolist()):
        every = n_in * n_out <= LABEL_ALL
        bx, by = where(layer, 0)[0] + COLUMN * 0.32, height - MARGIN + 6
        fixed = net.bias != "trainable"
        bias_refs = f"b{layer + 1}" if fixed else ""
        nodes.append(f'<circle class="bias ref-b{layer + 1}" cx="{bx:.1f}" cy="{by:.1f}" '
                     f'r="{RADIUS - 5}"/><text class="name" x="{bx:.1f}" y="{by:.1f}">'
                     f'{"b" + str(layer + 1) if fixed else "b"}</text>')
        if fixed:
            labels.append(f'<text class="side" x="{bx + RADIUS:.1f}" y="{by:.1f}">'
                          f'{_number(params[b_at])}</text>')
        for j in range(n_out):
            x2, y2 = where(layer + 1, j)
            target = names[layer + 1][j]
            ref = bias_refs or f"b_{target}"
            lines.append(f'<line class="bias-edge ref-{ref}" data-q="{b_at + j}" '
                         f'x1="{bx:.1f}" y1="{by:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>')
            if not fixed:
                lx, ly = _beside(bx, by, x2, y2, 0.55)
                labels.append(f'<text class="label ref-{ref}{"" if every else " hidden-label"}"'
                              f' data-q="{b_at + j}" data-name="{ref}" x="{lx:.1f}" '
                              f'y="{ly:.1f}">{ref} = {_number(params[b_at + j])}</text>')
            for i in range(n_in):
                q = w_at + j * n_in + i
                x1, y1 = where(layer, i)
                name = w_names[q]
                source = names[layer][i]
                lines.append(f'<line class="edge ref-{name}" data-q="{q}" x1="{x1:.1f}" '
                             f'y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"><title>{name}: '
                             f'{source} to {target}</title></line>')
                lx, ly = _beside(x1, y1, x2, y2, 0.3)
                labels.append(f'<text class="label ref-{name}{"" if every else " hidden-label"}"'
                              f' data-q="{q}" data-name="{name}" x="{lx:.1f}" y="{ly:.1f}">'
                              f'{name} = {_number(params[q])}</text>')
    for layer, column in enumerate(names):
        for j, name in enumerate(column):
            cx, cy = where(layer, j)
            nodes.append(f'<circle class="neuron ref-{name}" id="neuron-{name}" cx="{cx:.1f}" '
                         f'cy="{cy:.1f}" r="{RADIUS}"/><text class="name" x="{cx:.1f}" '
                         f'y="{cy:.1f}">{name}</text>')
            if layer == 0 and x is not None:
                labels.append(f'<text class="side" x="{cx - RADIUS - 6:.1f}" y="{cy:.1f}" '
                              f'text-anchor="end">{_number(x[j])}</text>')
            if layer == len(names) - 1 and t is not None:
                labels.append(f'<text class="side" id="target-{name}" x="{cx + RADIUS + 6:.1f}"'
                              f' y="{cy:.1f}">target {_number(t[j])}</text>')
    title = escape(f"{'-'.join(map(str, sizes))} network, {', '.join(net.activations)}, "
                   f"{net.bias} biases")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="fbp-net" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f'<title>{title}</title>{css}{"".join(lines)}{"".join(nodes)}{"".join(labels)}'
            f'</svg>')


def weight_names(net: Network) -> dict[int, str]:
    """Flat parameter index of each weight -> ``w1, w2, ...``, layer by layer, neuron by
    neuron (biases are not numbered)."""
    names, number = {}, 1
    for n_in, n_out, w_at, _ in net.layout.tolist():
        for q in range(w_at, w_at + n_in * n_out):
            names[q] = f"w{number}"
            number += 1
    return names
