"""Every number the reference text prints, reproduced to its printed digits."""

import re
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp.learn import tutorial

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / \
    "step-by-step-backpropagation.txt"

# The figures whose printed digits do not follow the text's own rule, and what does produce them.
DIFFERING = {"dE_o2/dout_h1", "E_total after 1", "E_total after 10000", "out_o1 after 10000",
             "out_o2 after 10000"}


@pytest.fixture(scope="module", params=list(fastbp.backends()))
def rows(request):
    from conftest import _require

    return {r.name: r for r in tutorial.reconcile(_require(request.param))}


def test_tutorial_network_is_the_texts():
    net = tutorial.network()
    assert net.sizes == (2, 2, 2) and net.bias == "fixed"
    assert net.weights[0].tolist() == [[0.15, 0.20], [0.25, 0.30]]
    assert net.weights[1].tolist() == [[0.40, 0.45], [0.50, 0.55]]
    assert [b.tolist() for b in net.biases] == [[0.35, 0.35], [0.60, 0.60]]
    assert tutorial.INPUTS.shape == (1, 2) and tutorial.TARGETS.shape == (1, 2)
    assert tutorial.LEARNING_RATE == 0.5


def test_every_number_follows_the_rule_or_is_explained(rows):
    assert list(rows) == list(tutorial.PUBLISHED)
    for name, row in rows.items():
        pub = tutorial.PUBLISHED[name]
        if name in DIFFERING:
            assert not row.matches, name
            assert not pub.agrees(row.computed), name
            assert row.variant and pub.agrees(row.variant_value), (name, row.variant_value)
        else:
            assert row.matches, (name, row.computed, pub.text)
            assert row.variant is None and row.variant_value is None


@pytest.mark.parametrize("name", sorted(set(tutorial.PUBLISHED) - DIFFERING))
def test_published_number_to_its_digits(rows, name):
    pub = tutorial.PUBLISHED[name]
    value = rows[name].computed
    assert abs(value - pub.value) <= 0.5 * 10.0 ** -pub.decimals + 1e-15, (value, pub.text)


def test_variants_are_what_they_say():
    # Independent of the reconciliation code: the script order is an update of the
    # output layer, then hidden deltas from the updated weights.
    net = tutorial.network()
    tutorial.train_output_layer_first(net, 1)
    after_one = tutorial.network()
    fastbp.train(after_one, tutorial.INPUTS, tutorial.TARGETS, epochs=1, backend="python")
    assert np.array_equal(net.weights[1], after_one.weights[1])  # output layer as the rule
    assert not np.array_equal(net.weights[0], after_one.weights[0])  # hidden differs
    error, _ = tutorial.after(9_999, "python")
    assert tutorial.PUBLISHED["E_total after 10000"].agrees(error)


def test_agreement_rule_uses_printed_digits():
    pub = tutorial.PUBLISHED["w5+"]  # printed 0.35891648
    assert pub.decimals == 8
    assert pub.agrees(0.358916484999) and not pub.agrees(0.358916485001)


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference text not beside the checkout")
def test_published_table_is_the_texts():
    body = REFERENCE.read_text(encoding="utf-8").split("thoughts on")[0]
    printed = {pub.text for pub in tutorial.PUBLISHED.values()}
    for text in printed:
        assert re.search(re.escape(text) + r"(?!\d)", body), text
    # Every decimal with six or more digits in the body is in the table (or is a
    # restatement of one that is, such as out_h1 shortened to 0.59326999).
    long_numbers = set(re.findall(r"(?:(?<=\s)-)?\d\.\d{6,}", body))
    values = [pub.value for pub in tutorial.PUBLISHED.values()]
    for text in long_numbers:
        assert text in printed or any(abs(float(text) - v) < 1e-8 for v in values), text


def test_train_reproduces_ten_thousand_rounds(backend):
    net = tutorial.network()
    result = fastbp.train(net, tutorial.INPUTS, tutorial.TARGETS, epochs=tutorial.ROUNDS,
                          lr=tutorial.LEARNING_RATE, backend=backend)
    reference = tutorial.network()
    fastbp.train(reference, tutorial.INPUTS, tutorial.TARGETS, epochs=tutorial.ROUNDS,
                 backend="python")
    assert np.array_equal(net.params, reference.params)
    error, outputs = tutorial.after(tutorial.ROUNDS, "python")
    assert result.final_loss == error
    assert net.forward(tutorial.INPUTS, backend=backend)[0].tolist() == outputs
