"""fastbp.trace and `fastbp explain`: every intermediate of a step, named as in the text."""

import json

import numpy as np
import pytest
from conftest import random_data

import fastbp
from fastbp.cli import main
from fastbp.learn import tutorial
from fastbp.learn.diagram import neuron_names

# The text's name of a quantity, where the trace calls it otherwise.
TRACE_NAME = {"dE_o1/dnet_o1": "delta_o1", "E_total after 1": "E_total after"}
NOT_ONE_STEP = {"E_total after 10000", "out_o1 after 10000", "out_o2 after 10000"}


@pytest.fixture(scope="module")
def tutorial_trace():
    return fastbp.trace(tutorial.network(), tutorial.INPUTS, tutorial.TARGETS, lr=0.5)


def test_tutorial_trace_holds_every_printed_intermediate(tutorial_trace):
    rows = {r.name: r for r in tutorial.reconcile("python")}
    for name, pub in tutorial.PUBLISHED.items():
        if name in NOT_ONE_STEP:
            continue
        value = tutorial_trace[TRACE_NAME.get(name, name)]
        assert value == rows[name].computed, name  # the same computation as the reconciliation
        if rows[name].matches:
            assert pub.agrees(value), (name, value, pub.text)


def test_tutorial_trace_reads_like_the_text(tutorial_trace):
    text = str(tutorial_trace)
    assert "net_h1 = w1 * i1 + w2 * i2 + b1 * 1 = 0.15 * 0.05 + 0.2 * 0.1 + 0.35 * 1 = 0.3775" \
        in text
    assert "dE_o2/dout_h1 = delta_o2 * w7 = (-0.0380982365) * 0.5 = -0.0190491183" in text
    titles = [title for title, _ in tutorial_trace.sections]
    assert titles == ["The forward pass", "The total error", "The backward pass: output layer",
                      "The backward pass: hidden layer 1", "After the update"]
    assert all(title in text for title in titles)
    # What the text skipped is there too: the intermediates of w2, w3, w4 and h2's branch.
    for name in ("dE_total/dw2", "dE_total/dw3", "dE_total/dw4", "delta_h2", "dE_o1/dout_h2"):
        assert name in tutorial_trace.names()


def test_formats(tutorial_trace):
    data = json.loads(json.dumps(tutorial_trace.as_dict()))
    assert data["sections"][0]["entries"][0] == {
        "name": "net_h1", "formula": "w1 * i1 + w2 * i2 + b1 * 1",
        "numbers": "0.15 * 0.05 + 0.2 * 0.1 + 0.35 * 1", "value": 0.3775}
    md = tutorial_trace.to_markdown()
    assert md.startswith("### The forward pass") and "| `w5+` |" in md


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", ["fixed", "trainable"])
@pytest.mark.parametrize(("activations", "loss"), [
    (["logistic", "logistic"], "squared"), (["tanh", "relu", "identity"], "squared"),
    (["relu", "logistic"], "cross_entropy"), (["tanh", "tanh", "softmax"], "cross_entropy"),
    (["logistic", "softmax"], "squared")])
def test_trace_agrees_with_gradients_and_one_step(activations, loss, bias, dtype):
    rng = np.random.default_rng(len(activations) + len(loss))
    sizes = [int(rng.integers(1, 5)) for _ in range(len(activations) + 1)]
    sizes[-1] = max(sizes[-1], 2)
    net = fastbp.Network(sizes, activations, bias=bias, seed=3, dtype=dtype)
    X, Y = random_data(rng, net, 1, loss)
    step = fastbp.trace(net, X[0], Y[0], lr=0.3, loss=loss)
    dW, db = fastbp.gradients(net, X, Y, loss=loss)
    after = net.copy()
    fastbp.train(after, X, Y, epochs=1, lr=0.3, loss=loss)
    number = 1
    for W, W_after in zip(dW, after.weights):
        for j, i in np.ndindex(W.shape):
            assert step[f"dE_total/dw{number}"] == W[j, i]
            assert step[f"w{number}+"] == W_after[j, i]
            number += 1
    names = neuron_names(net.sizes)
    for layer, (g, b_after) in enumerate(zip(db, after.biases)):
        for j, n in enumerate(names[layer + 1]):
            assert step[f"delta_{n}"] == g[j]
            if bias == "trainable":
                assert step[f"b_{n}+"] == b_after[j]
    assert step["E_total after"] == fastbp.train(after.copy(), X, Y, epochs=0,
                                                 loss=loss).final_loss


def test_trace_leaves_the_network_alone_and_checks_input():
    net = tutorial.network()
    before = net.params.copy()
    fastbp.trace(net, [0.05, 0.1], [0.01, 0.99])
    assert np.array_equal(net.params, before)
    with pytest.raises(ValueError, match="x must be one sample"):
        fastbp.trace(net, [[0.05, 0.1], [0.0, 0.0]], [[0.01, 0.99], [0, 0]])
    with pytest.raises(ValueError, match="lr must be"):
        fastbp.trace(net, [0.05, 0.1], [0.01, 0.99], lr=-1)


def test_explain_cli(tmp_path, capsys):
    assert main(["explain", "--tutorial"]) == 0
    assert "w1+ = w1 - lr * dE_total/dw1 = 0.15 - 0.5 * 0.000438567734 = 0.149780716" in \
        capsys.readouterr().out
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"weights": [[[0.1, 0.2]], [[0.3]]], "biases": [[0.0], [0.0]]}))
    assert main(["explain", "--sizes", "2,1,1", "--weights", str(weights), "--input", "1,2",
                 "--target", "1", "--format", "json", "--bias", "fixed"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sections"][0]["entries"][0]["value"] == 0.1 * 1 + 0.2 * 2 + 0.0
    assert main(["explain", "--sizes", "2,1,1", "--seed", "1", "--input", "1,2",
                 "--target", "1", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("### The forward pass")


@pytest.mark.parametrize(("argv", "message"), [
    (["explain"], "give --tutorial, or --sizes"),
    (["explain", "--sizes", "2,2"], "--sizes needs --weights"),
    (["explain", "--sizes", "2,2", "--seed", "1"], "--input and --target are required"),
    (["explain", "--tutorial", "--epochs", "5"], "--epochs draws a training run"),
    (["explain", "--tutorial", "--format", "html", "--output", "/nonexistent/p.html"],
     "--output: cannot write"),
    (["explain", "--sizes", "2,2", "--seed", "1", "--input", "1", "--target", "1,1"],
     "x must have 2 columns"),
    (["explain", "--tutorial", "--sizes", "2,2"], "--tutorial takes the text's network"),
    (["explain", "--tutorial", "--bias", "trainable"], "--tutorial takes the text's network"),
    (["explain", "--sizes", "2,2", "--weights", "/nonexistent.json", "--input", "1,1",
      "--target", "1,1"], "--weights: cannot read"),
])
def test_explain_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_weights_without_biases_mean_zero_biases(tmp_path, capsys):
    """A learner's hand calculation needs the same numbers every run: never random biases."""
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"weights": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]]}))
    argv = ["explain", "--sizes", "2,2,1", "--weights", str(path), "--input", "1,0",
            "--target", "1", "--format", "json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == first
    net = fastbp.Network([2, 2, 1], weights=[[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]],
                         biases=[[0.0, 0.0], [0.0]])
    step = fastbp.trace(net, [1, 0], [1])
    values = {e["name"]: e["value"] for s in first["sections"] for e in s["entries"]}
    assert values == {name: step[name] for name in step.names()}
    assert values["net_h1"] == 0.1  # 0.1 * 1 + 0.2 * 0 + 0


def test_explain_writes_a_page(tmp_path, capsys):
    out = tmp_path / "page.html"
    assert main(["explain", "--sizes", "2,3,1", "--seed", "4", "--input", "0.5,0.2",
                 "--target", "1", "--format", "html", "--output", str(out)]) == 0
    assert capsys.readouterr().out == ""
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "net_h1" in text and "<svg" in text
