"""The interactive page of `fastbp explain --format html`, opened in headless Chromium.

Driven by Selenium with Debian's ``chromium`` and ``chromium-driver``. Where either is
missing the browser tests skip, except under CI (the ``CI`` environment variable), where
that is a failure: ``.ci/run`` installs them.
"""

import itertools
import math
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp.learn import diagram, page, tutorial

CI = bool(os.environ.get("CI"))


def _tool(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/bin/{name}",
                                                   f"/usr/lib/chromium/{name}")
                                       if os.path.exists(p)), None)


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if CI:
            pytest.fail("selenium is not installed (pip install '.[test]')")
        pytest.skip("selenium is not installed")
    chromium, driver = _tool("chromium"), _tool("chromedriver")
    if chromium is None or driver is None:
        if CI:
            pytest.fail("Debian's chromium and chromium-driver are needed "
                        "(apt-get install chromium chromium-driver)")
        pytest.skip("chromium or chromedriver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1100"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    yield chrome
    chrome.quit()


def _open(browser, path):
    browser.get(path.as_uri())
    browser.get_log("browser")  # start clean: only this page's messages count


def _errors(browser):
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def _text(browser, element_id):
    return browser.find_element("id", element_id).text


def _same(shown: str, value: float) -> bool:
    number = float(shown)
    return number == value or (math.isnan(number) and math.isnan(value))


@pytest.fixture(scope="module")
def tutorial_page(tmp_path_factory):
    path = tmp_path_factory.mktemp("page") / "tutorial.html"
    subprocess.run([sys.executable, "-m", "fastbp", "explain", "--tutorial", "--format", "html",
                    "--epochs", "10000", "--output", str(path)], check=True, timeout=300)
    return path


def test_the_tutorial_page_is_small_and_self_contained(tutorial_page):
    text = tutorial_page.read_text()
    assert len(text.encode()) < 300_000
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "@import" not in text and "url(" not in text


def test_stepping_through_every_quantity_shows_the_traces_values(browser, tutorial_page,
                                                                 tmp_path):
    from selenium.webdriver.common.keys import Keys

    step = tutorial.step()
    _open(browser, tutorial_page)
    names = step.names()
    assert _text(browser, "position") == f"1 of {len(names)}"
    for k, name in enumerate(names):
        assert _text(browser, "step-name") == name
        assert _same(_text(browser, "step-exact"), step[name]), name
        assert _text(browser, "step-value") == f"{step[name]:.9g}"
        assert _text(browser, "step-formula") == step.entry(name).formula
        published = step.published.get(name)
        shown = browser.find_element("id", "published")
        if published is None:
            assert not shown.is_displayed()
        else:
            assert published["text"] in shown.text
            assert ("agrees" in shown.text) == published["matches"]
            if not published["matches"]:
                assert "comes from" in shown.text, name
        if k < len(names) - 1:
            browser.find_element("id", "next").click()
    assert not browser.find_element("id", "next").is_enabled()
    # The arrow keys, the Back button and the list move too.
    body = browser.find_element("tag name", "body")
    body.send_keys(Keys.ARROW_LEFT)
    assert _text(browser, "step-name") == names[-2]
    browser.find_element("id", "back").click()
    assert _text(browser, "step-name") == names[-3]
    body.send_keys(Keys.ARROW_RIGHT)
    assert _text(browser, "step-name") == names[-2]
    browser.find_element("id", f"item-{names.index('dE_total/dw5')}").click()
    assert _text(browser, "step-name") == "dE_total/dw5"
    hot = {el.get_attribute("class") for el in browser.find_elements("css selector", ".hot")}
    assert any("ref-w5" in c for c in hot) and any("ref-o1" in c for c in hot)
    assert any("ref-h1" in c for c in hot) and not any("ref-w1 " in c for c in hot)
    assert _errors(browser) == []
    browser.save_screenshot(str(tmp_path / "tutorial.png"))


def test_the_slider_shows_the_run(browser, tutorial_page, tmp_path):
    from selenium.webdriver.common.keys import Keys

    _open(browser, tutorial_page)
    slider = browser.find_element("id", "slider")
    edge = browser.find_element("css selector", "line.ref-w5")
    width_at_start = edge.value_of_css_property("stroke-width")
    assert _text(browser, "epoch") == "0"
    slider.send_keys(Keys.END)
    assert _text(browser, "epoch") == "10000"
    net = tutorial.network()
    fastbp.train(net, tutorial.INPUTS, tutorial.TARGETS, epochs=10_000, lr=0.5)
    outputs = net.forward(tutorial.INPUTS)[0]
    shown = browser.find_element("id", "outputs").text
    assert f"{outputs[0]:.9g}" in shown and f"{outputs[1]:.9g}" in shown
    assert edge.value_of_css_property("stroke-width") != width_at_start
    label = browser.find_element("css selector", "text.label.ref-w5").text
    assert label == f"w5 = {net.weights[1][0, 0]:.3g}"
    marker = browser.find_element("css selector", "#curve .marker")
    assert float(marker.get_attribute("cx")) > 400
    # Each panel says which epoch it shows, where the eye is.
    assert "after epoch 10000" in _text(browser, "diagram-note")
    assert "initial weights (epoch 0)" in _text(browser, "step-epoch")
    assert "epoch 10000's" in _text(browser, "step-epoch")
    labels = [t.text for t in browser.find_elements("css selector", "#curve text")]
    assert sum(bool(re.fullmatch(r"\d\.\de[-+]\d+", t)) for t in labels) == 2, labels
    assert "output" in shown and "target" in shown.split("E_total")[-1]  # the bars' legend
    slider.send_keys(Keys.HOME)
    assert _text(browser, "epoch") == "0"
    assert "initial weights (epoch 0)" in _text(browser, "diagram-note")
    assert _errors(browser) == []
    browser.save_screenshot(str(tmp_path / "slider.png"))


@pytest.mark.parametrize("sizes", [[3, 10, 10, 10, 2], [2, 12, 1]])
def test_other_networks(browser, tmp_path, sizes):
    net = fastbp.Network(sizes, seed=3)
    rng = np.random.default_rng(0)
    step = fastbp.trace(net, rng.uniform(size=sizes[0]), rng.uniform(size=sizes[-1]))
    path = tmp_path / "page.html"
    path.write_text(step.to_html(epochs=50))
    _open(browser, path)
    assert _text(browser, "position") == f"1 of {len(step.names())}"
    if diagram.drawable(sizes):
        assert len(browser.find_elements("css selector", "line.edge")) == sum(
            a * b for a, b in itertools.pairwise(sizes))
        browser.find_element("id", "next").click()
        assert browser.find_elements("css selector", ".hot")
    else:
        assert "too large to draw" in browser.find_element("id", "diagram").text
    last = len(step.names()) - 1
    browser.find_element("id", f"item-{last}").click()
    assert _same(_text(browser, "step-exact"), step[step.names()[last]])
    assert _errors(browser) == []


def test_refs_name_what_a_formula_mentions():
    known = {"i1", "i2", "h1", "o1", "w1", "w5", "b1", "b_h1"}
    assert page.refs("dE_total/dw5 delta_o1 * out_h1", known) == ["w5", "o1", "h1"]
    assert page.refs("net_h1 w1 * i1 + b1 * 1", known) == ["h1", "w1", "i1", "b1"]
    assert page.refs("b_h1+ b_h1 - lr * dE_total/db_h1", known) == ["b_h1", "h1"]
    assert page.refs("E_total E_o1 + E_o2", known) == ["o1"]


def test_marks_and_history_sizes():
    assert page.marks(5) == [0, 1, 2, 3, 4, 5]
    marks = page.marks(10_000)
    assert marks[0] == 0 and marks[-1] == 10_000 and len(marks) <= page.SNAPSHOTS + 1
    assert marks == sorted(set(marks))


def test_the_trace_answers_to_the_texts_names():
    step = fastbp.trace(tutorial.network(), tutorial.INPUTS, tutorial.TARGETS)
    assert step["dE_o1/dnet_o1"] == step["delta_o1"] == step["dE_total/dnet_o1"]
    assert step["E_total after 1"] == step["E_total after"]
    assert "dE_o2/dnet_o1" not in step
    with pytest.raises(KeyError):
        step["dE_o2/dnet_o1"]
    for name in tutorial.PUBLISHED:
        if "10000" not in name:
            assert name in step, name


def test_svg_of_a_network():
    svg = tutorial.network()._repr_svg_()
    assert svg.startswith("<svg") and svg.count('class="edge') == 8
    assert "w5 = 0.4" in svg and "b1" in svg and "<script" not in svg
    assert "too large" in fastbp.Network([2, 11, 1])._repr_svg_()


def test_trainresult_plot_returns_its_axes(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = fastbp.train(tutorial.network(), tutorial.INPUTS, tutorial.TARGETS, epochs=100,
                          record_every=10)
    fig, ax = plt.subplots()
    assert result.plot(ax=ax) is ax
    line = ax.get_lines()[0]
    assert np.array_equal(line.get_ydata(), result.history)
    assert ax.get_yscale() == "log" and "100 epochs" in ax.get_title()
    plt.close(fig)


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = fastbp.train(tutorial.network(), tutorial.INPUTS, tutorial.TARGETS)
    with pytest.raises(ImportError, match=r"pip install 'fastbp\[plot\]'"):
        result.plot()
