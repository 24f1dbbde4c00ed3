"""The studio in a real browser: Debian's chromium, headless, driven by Playwright (the Python package).

Everything is read as text from the page (the node table, the rule, the status line), as a person or a
screen reader would. Skipped, with the reason, where /usr/bin/chromium or playwright is missing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from ninjagrad.graph import topological_order
from ninjagrad.studio import headless
from ninjagrad.studio.expression import EXAMPLES, Program
from ninjagrad.studio.server import StudioServer
from ninjagrad.viz.scalar_view import node_names

if headless.missing():
    pytest.skip(f"studio browser tests: {headless.missing()}", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    server = StudioServer().start()
    yield server
    server.stop()


@pytest.fixture
def page(open_page, server):
    return open_page(server.url, "#expr-graph svg", 1300, 900)


def grads_in_table(page) -> dict[str, str]:
    """Label -> grad text, read from the node table in one call."""
    rows = page.eval_on_selector_all(
        "#node-table tbody tr",
        "rows => rows.map(r => ['label', 'grad'].map(c => r.querySelector('td.' + c).textContent))",
    )
    return {label: grad for label, grad in rows if label}


def load_example(page, name):
    page.select_option("#expr-example", name)
    page.click("#expr-load")
    page.wait_for_function("name => document.querySelector('#expr-title').textContent === name", arg=name)
    page.wait_for_function(
        "() => /0 of \\d+ rules run/.test(document.querySelector('#stepper-progress').textContent)"
    )


def test_neuron_grads_after_backward_all(page):
    load_example(page, "tanh neuron")
    page.click("#expr-backward-all")
    page.wait_for_function("() => document.querySelector('#stepper-progress').textContent.includes('done')")
    grads = grads_in_table(page)
    assert grads["x1"] == "-1.5000"
    assert grads["w1"] == "1.0000"
    assert grads["x2"] == "0.5000"
    assert grads["w2"] == "0.0000"
    # The drawing (draw_dot's records, laid out by Graphviz in WebAssembly) says the same, as SVG text.
    page.wait_for_function(
        "() => document.querySelector('#expr-graph svg').textContent.includes('grad -1.5000')"
    )


def test_stepper_fires_the_rules_in_the_engines_order(page):
    load_example(page, "micrograd README")
    root, inputs = Program(EXAMPLES["micrograd README"]).build({})
    order = topological_order(root)
    ids = node_names(order)
    expected = [ids[id(n)] for n in reversed(order) if n._prev]
    total = int(re.search(r"of (\d+) rules", page.inner_text("#stepper-progress")).group(1))
    assert total == len(expected)
    for k in range(1, total + 1):
        page.click("#expr-step")
        page.wait_for_function(
            "k => document.querySelector('#stepper-progress').textContent.startsWith(k + ' of')", arg=k
        )
    fired = page.eval_on_selector_all("#rule-history li", "items => items.map(li => li.dataset.node)")
    assert fired == expected
    # The highlighted row is the last node whose rule ran; the rule is shown with its numbers.
    assert page.get_attribute("#node-table tr.fired", "data-id") == expected[-1]
    assert "→ grad" in page.inner_text("#rule-current")
    root.backward()
    shown = grads_in_table(page)
    assert shown["a"] == f"{inputs['a'].grad:.4f}" == "138.8338"
    assert shown["b"] == f"{inputs['b'].grad:.4f}" == "645.5773"


def test_bad_expression_gives_a_message_and_the_session_goes_on(page):
    load_example(page, "L = (a*b + c)*f")
    page.fill("#expr-program", "a = 2\nb = a.__class__")
    page.click("#expr-build")
    page.wait_for_function(
        "() => document.querySelector('#expr-message').textContent.includes('not allowed')"
    )
    assert page.inner_text("#expr-title") == "L = (a*b + c)*f"
    page.click("#expr-backward-all")
    page.wait_for_function("() => document.querySelector('#stepper-progress').textContent.includes('done')")
    assert grads_in_table(page)["a"] == "6.0000"
    assert page.inner_text("#expr-message") == ""
    # A typed expression that is fine is drawn.
    page.fill("#expr-program", "x = 3.0\ny = x**2 + sigmoid(x)")
    page.click("#expr-build")
    page.wait_for_function("() => document.querySelector('#expr-title').textContent === 'typed expression'")
    page.click("#expr-backward-all")
    page.wait_for_function("() => document.querySelector('#stepper-progress').textContent.includes('done')")
    assert grads_in_table(page)["x"] == f"{6 + 0.9525741268224334 * (1 - 0.9525741268224334):.4f}"


def test_nudge_shows_the_slope_beside_the_grad(page):
    load_example(page, "L = (a*b + c)*f")
    page.click("#expr-backward-all")
    page.select_option("#nudge-input", "b")
    page.fill("#nudge-h", "0.0001")
    page.click("#expr-nudge")
    page.wait_for_function(
        "() => document.querySelector('#nudge-result').textContent.includes('b.grad = -4')"
    )
    slope = float(re.search(r"= (-?[\d.]+); b.grad", page.inner_text("#nudge-result")).group(1))
    assert slope == pytest.approx(-4.0, rel=1e-3)


def test_play_loss_falls_and_accuracy_reaches_100_percent(page):
    page.click("#tab-moons")
    page.click("#moons-reset")
    page.wait_for_function("() => document.querySelector('#moons-step').textContent === '0'")
    page.click("#moons-one-step")
    page.wait_for_function("() => document.querySelector('#moons-step').textContent === '1'")
    first_loss = float(page.inner_text("#moons-loss"))
    page.click("#moons-play")
    try:
        page.wait_for_function(
            "() => document.querySelector('#moons-accuracy').textContent === '100%'", timeout=90_000
        )
    finally:
        page.click("#moons-play")  # pause
    page.wait_for_function("() => document.querySelector('#moons-running').textContent === 'paused'")
    assert float(page.inner_text("#moons-loss")) < first_loss / 2
    assert int(page.inner_text("#moons-step")) > 1
    assert "337 parameters" in page.inner_text("#moons-network-caption")


def test_clicking_a_point_shows_its_loss_graph(page):
    page.click("#tab-moons")
    page.wait_for_selector("#moons-points circle[data-index='5']")
    label = page.get_attribute("#moons-points circle[data-index='5']", "aria-label")
    assert label.startswith("point 5: (")
    page.click("#moons-points circle[data-index='5']", force=True)
    page.wait_for_function("() => document.querySelector('#expr-title').textContent === 'loss of point 5'")
    assert page.get_attribute("#tab-expression", "aria-selected") == "true"
    page.wait_for_function("() => document.querySelector('#expr-graph svg').textContent.includes('loss')")
    labels = set(grads_in_table(page))
    assert {"loss", "score", "x0", "x1", "w1[0,0]", "b3[0]"} <= labels


def test_bad_moons_settings_give_a_message_and_training_goes_on(page):
    page.click("#tab-moons")
    page.wait_for_selector("#moons-step")
    page.fill("#moons-widths", "16, 0")
    page.click("#moons-apply")
    page.wait_for_function("() => document.querySelector('#moons-message').textContent.includes('width')")
    page.fill("#moons-widths", "16, 16")
    page.fill("#moons-lr", "nan")
    page.click("#moons-apply")
    page.wait_for_function(
        "() => document.querySelector('#moons-message').textContent.includes('learning rate')"
    )
    before = int(page.inner_text("#moons-step"))
    page.click("#moons-one-step")
    page.wait_for_function(
        "n => Number(document.querySelector('#moons-step').textContent) === n + 1", arg=before
    )
    assert page.inner_text("#moons-message") == ""


def test_no_token_is_403(browser, server):
    context = browser.new_context()
    page = context.new_page()
    parts = urlsplit(server.url)
    response = page.goto(f"{parts.scheme}://{parts.netloc}/")
    assert response.status == 403
    assert "token" in page.inner_text("body")
    response = page.goto(f"{parts.scheme}://{parts.netloc}/?token=not-the-token")
    assert response.status == 403
    context.close()
