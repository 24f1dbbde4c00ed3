"""The studio's views and sessions without a server or a browser: JSON facts, the stepper, the parser."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ninjagrad.errors import UserError
from ninjagrad.graph import topological_order
from ninjagrad.scalar.engine import Value, sum_values
from ninjagrad.scalar.moons import numpy_scores
from ninjagrad.studio.expression import EXAMPLES, ExpressionSession, Program
from ninjagrad.studio.moons import MoonsSession
from ninjagrad.studio.server import Studio
from ninjagrad.viz.moons_view import curve_view
from ninjagrad.viz.scalar_view import EXPLAIN, display_names, graph_view

# Every op the engine has a rule for, in one program (and `linear`/`sum` via the moons sample graph).
ALL_OPS = (
    "a = 1.5\nb = -0.7\nc = 2.0\n"
    "d = a*b + c/a - b\ne = d**2 + c**b\nf = exp(b) + log(c) + tanh(a*b) + sigmoid(d) + relu(a) + relu(b)\n"
    "g = e*f/(1 + a**2)\n"
)


def state(session) -> dict:
    session.publish()
    return json.loads(session.latest()[1])


def grads_by_label(snapshot: dict) -> dict[str, float]:
    return {n["label"]: n["grad"] for n in snapshot["graph"]["nodes"] if n["label"]}


@pytest.fixture
def expression():
    return ExpressionSession()


def test_neuron_grads_after_backward_all(expression):
    expression.handle("example", {"name": "tanh neuron"})
    expression.handle("backward_all", {})
    snapshot = state(expression)
    grads = grads_by_label(snapshot)
    for name, expected in {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0}.items():
        assert grads[name] == pytest.approx(expected, abs=1e-12), name
    o = next(n for n in snapshot["graph"]["nodes"] if n["label"] == "o")
    assert o["data"] == pytest.approx(1 / math.sqrt(2), abs=1e-12)


def test_readme_example_numbers(expression):
    expression.handle("example", {"name": "micrograd README"})
    expression.handle("backward_all", {})
    assert expression.root.data == pytest.approx(24.7041, abs=5e-5)
    assert expression.inputs["a"].grad == pytest.approx(138.8338, abs=5e-5)
    assert expression.inputs["b"].grad == pytest.approx(645.5773, abs=5e-5)


@pytest.mark.parametrize("program", [*EXAMPLES.values(), ALL_OPS])
def test_stepper_runs_the_engine_walk_in_reverse_topological_order(expression, program):
    expression.handle("parse", {"text": program})
    root = expression.root
    expected = [expression.ids[id(n)] for n in reversed(topological_order(root)) if n._prev]
    seen = []
    while not expression.done:
        expression.handle("backward_step", {})
        seen.append(state(expression)["stepper"]["last"]["node"])
    assert seen == expected
    # The same grads as Value.backward() on a fresh copy of the graph, bit for bit.
    fresh, _ = Program(program).build({})
    fresh.backward()
    stepped = [n.grad for n in topological_order(root)]
    assert stepped == [n.grad for n in topological_order(fresh)]


def test_backward_all_equals_value_backward_also_midway_and_twice(expression):
    expression.handle("parse", {"text": ALL_OPS})
    fresh, _ = Program(ALL_OPS).build({})
    fresh.backward()
    reference = [n.grad for n in topological_order(fresh)]
    for _ in range(3):
        expression.handle("backward_step", {})
    expression.handle("backward_all", {})  # finishes the walk under way
    assert [n.grad for n in topological_order(expression.root)] == reference
    expression.handle("backward_all", {})  # a new walk from zero grads, not an accumulation
    assert [n.grad for n in topological_order(expression.root)] == reference


def test_backward_steps_yields_each_node_before_its_rule():
    x = Value(3.0, "x")
    y = x * x + x.tanh()
    at_yield = {}
    for i, node in enumerate(y.backward_steps()):
        if i == 0:  # the root, seeded; no rule has run yet
            assert node is y and y.grad == 1.0
            assert all(n.grad == 0.0 for n in topological_order(y) if n is not y)
        at_yield[id(node)] = node.grad
    # A node's grad is complete when it is yielded: nothing after changes it.
    assert all(n.grad == at_yield[id(n)] for n in topological_order(y) if n._prev)
    assert x.grad == pytest.approx(2 * 3.0 + (1 - math.tanh(3.0) ** 2), abs=1e-12)
    x2 = Value(3.0)
    y2 = x2 * x2 + x2.tanh()
    y2.backward()  # backward() is the exhausted generator: the same grads
    assert x2.grad == x.grad


def _sample_graph() -> Value:
    session = MoonsSession()
    try:
        root, _ = session.sample_loss_builder(7)({})
    finally:
        session.close()
    return root


def _sum_graph() -> Value:
    a = Value(1.5, "a")
    return sum_values([a, a * Value(-2.0), a.exp(), 4.0]) * a


@pytest.mark.parametrize(
    "make", [lambda: Program(ALL_OPS).build({})[0], _sample_graph, _sum_graph], ids=["ops", "mlp", "sum"]
)
def test_rule_words_add_what_the_engine_adds(make):
    """Each explained increment equals the change the engine's own rule makes to that parent's grad."""
    root = make()
    order = topological_order(root)
    names = display_names(order)
    steps = root.backward_steps()
    node = next(steps, None)
    count = 0
    while node is not None:
        lines = EXPLAIN[node._op](node, lambda v: names[id(v)])
        before = {id(p): p.grad for p in node._prev}
        expected: dict[int, float] = {}
        for target, _formula, increment, _factors in lines:
            expected[id(target)] = expected.get(id(target), 0.0) + increment
        following = next(steps, None)  # resuming the generator runs node's rule
        for parent in node._prev:
            change = parent.grad - before[id(parent)]
            assert change == pytest.approx(expected.get(id(parent), 0.0), rel=1e-9, abs=1e-12), node._op
        node = following
        count += 1
    assert count == sum(1 for n in topological_order(root) if n._prev)


def test_rule_text_reads_like_the_lecture(expression):
    expression.handle("example", {"name": "tanh neuron"})
    expression.handle("backward_all", {})
    rules = state(expression)["stepper"]["history"]
    by_name = {rule["name"]: rule for rule in rules}
    assert (
        by_name["o"]["lines"][0]["text"]
        == "n.grad += (1 - o.data²) × o.grad: 0.5 = (1 - 0.707107²) × 1 → grad 0.5"
    )
    assert (
        by_name["x1w1"]["lines"][0]["text"] == "x1.grad += w1.data × x1w1.grad: -1.5 = -3 × 0.5 → grad -1.5"
    )


def test_graph_view_uses_draw_dots_names_and_walk():
    from ninjagrad.viz.dot import draw_dot

    root, _ = Program(EXAMPLES["L = (a*b + c)*f"]).build({})
    view = graph_view(root)
    assert [n["id"] for n in view["nodes"]] == [f"n{i}" for i in range(len(topological_order(root)))]
    assert view["dot"] == draw_dot(root).source
    assert view["root"] == view["nodes"][-1]["id"]
    assert {n["label"]: n["data"] for n in view["nodes"]}["L"] == -8.0


def test_graph_view_sends_nan_and_inf_as_text():
    root, _ = Program("a = -1.0\nb = 0.0\nc = log(a) + log(b)").build({})
    values = {n["label"]: n["data"] for n in graph_view(root)["nodes"]}
    assert values["c"] == "nan"
    json.dumps(graph_view(root), allow_nan=False)  # valid JSON, no NaN literal


def test_nudge_slope_is_next_to_the_grad(expression):
    expression.handle("example", {"name": "L = (a*b + c)*f"})
    expression.handle("backward_all", {})
    expression.handle("nudge", {"name": "a", "h": 1e-6})
    nudge = state(expression)["nudge"]
    assert nudge["grad"] == 6.0
    assert nudge["slope"] == pytest.approx(6.0, rel=1e-5)
    assert "a.grad = 6" in nudge["text"]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo hacked')",
        "a = 1\nb = a.__class__",
        "a = [1, 2]",
        "a = 'text'",
        "a = 1\nb = a[0]",
        "f = lambda: 1",
        "import os",
        "a = 1\nb = a if a else 2",
        "a = 1\nb = a == 1",
        "a = 1\nb = tanh(a, a)",
        "a = 1\nb = tanh(x=a)",
        "a = 1\nb = open(a)",
        "def f(): pass",
        "a = 1\nb = c * 2",
        "a = (1",
        "a, b = 1, 2",
        "a = 2\nb = a ** 10**7",
        "",
        "x" * 5000,
    ],
)
def test_parser_refuses_anything_off_the_whitelist_and_keeps_the_session(expression, text):
    before = expression.root
    with pytest.raises(UserError) as error:
        expression.handle("parse", {"text": text})
    assert str(error.value)
    assert expression.root is before
    assert state(expression)["message"] == str(error.value)
    expression.handle("backward_all", {})  # the session goes on
    assert state(expression)["message"] == ""


def test_unknown_command_and_bad_arguments_are_user_errors(expression):
    with pytest.raises(UserError, match="unknown command"):
        expression.handle("snapshot", {})
    with pytest.raises(UserError, match="bad arguments"):
        expression.handle("example", {"nom": "x"})
    with pytest.raises(UserError, match="no input"):
        expression.handle("nudge", {"name": "zz"})
    with pytest.raises(UserError, match="h must be"):
        expression.handle("nudge", {"name": "x1", "h": "nan"})


@pytest.fixture
def moons():
    session = MoonsSession()
    yield session
    session.close()


def test_moons_snapshot_and_steps(moons):
    first = state(moons)
    assert first["network"]["parameters"] == 337
    assert first["network"]["widths"] == [2, 16, 16, 1]
    assert len(first["points"]["x"]) == 100
    assert len(first["boundary"]["levels"]) == first["boundary"]["resolution"] ** 2
    for _ in range(5):
        moons.handle("one_step", {})
    after = state(moons)
    assert after["step"] == 5
    assert after["curves"]["loss"]["values"][-1] < after["curves"]["loss"]["values"][0]
    # The boundary is the model's own score at each cell centre.
    b = after["boundary"]
    n = b["resolution"]
    x = b["x_min"] + 0.5 * (b["x_max"] - b["x_min"]) / n
    y = b["y_min"] + 0.5 * (b["y_max"] - b["y_min"]) / n
    score = numpy_scores(moons.model, np.array([[x, y]]))[0]
    assert b["levels"][0] == round(100 * min(1.0, max(-1.0, score)))
    assert set(b["levels"]) & {-100, 100} and min(b["levels"]) < 0 < max(
        b["levels"]
    )  # both classes, saturated


@pytest.mark.parametrize(
    "args, match",
    [
        ({"hidden": [0]}, "width"),
        ({"hidden": [16, -1]}, "width"),
        ({"hidden": []}, "list"),
        ({"hidden": [16, 2.5]}, "width"),
        ({"lr": "nan"}, "learning rate"),
        ({"lr": float("nan")}, "learning rate"),
        ({"lr": -1}, "learning rate"),
        ({"seed": -3}, "seed"),
    ],
)
def test_moons_bad_settings_are_refused_and_training_goes_on(moons, args, match):
    moons.handle("one_step", {})
    model, config = moons.model, moons.config
    with pytest.raises(UserError, match=match):
        moons.handle("configure", args)
    assert moons.model is model and moons.config == config and moons.step == 1
    moons.handle("one_step", {})
    assert moons.step == 2 and state(moons)["message"] == ""


def test_moons_new_widths_make_a_new_model(moons):
    moons.handle("configure", {"hidden": [4, 3], "lr": 0.1})
    snapshot = state(moons)
    assert snapshot["network"]["widths"] == [2, 4, 3, 1]
    assert snapshot["config"]["lr"] == 0.1 and snapshot["step"] == 0


def test_inspect_shows_the_points_loss_graph_in_the_expression_view():
    studio = Studio()
    try:
        moons = studio.session("moons")
        for _ in range(3):
            moons.handle("one_step", {})
        moons.handle("inspect", {"index": 11})
        expression = studio.session("expression")
        snapshot = state(expression)
        assert snapshot["title"] == "loss of point 11"
        labels = {n["label"]: n for n in snapshot["graph"]["nodes"]}
        score = numpy_scores(moons.model, moons.X[11:12])[0]
        expected_loss = max(0.0, 1.0 - moons.y[11] * score)
        assert labels["loss"]["data"] == pytest.approx(expected_loss, abs=1e-12)
        assert {"x0", "x1", "w1[0,0]", "b3[0]"} <= set(labels)
        expression.handle("backward_all", {})
        # The copy's grads are the point's own; the training model's grads are untouched by it.
        assert expression.inputs["b3[0]"].grad == (-moons.y[11] if expected_loss > 0 else 0.0)
        with pytest.raises(UserError, match="point index"):
            moons.handle("inspect", {"index": 100})
    finally:
        studio.close()


def test_curve_view_thins_long_runs():
    values = [float(i) for i in range(10_000)]
    view = curve_view(values)
    assert len(view["steps"]) <= 500
    assert view["steps"][0] == 0 and view["steps"][-1] == 9_999
    assert view["values"][-1] == 9_999.0
