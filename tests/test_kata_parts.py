"""The learner's own line, parsed (kata/parts.py): its interpreter, and the wrong part it names.

The first tests need no workbook; the last plant mistakes that are in no other test in a real workbook
and check them end to end (`kata check` runs the learner's file in its own process).
"""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from ninjagrad.kata import checker
from ninjagrad.kata.exercises import get_exercise
from ninjagrad.kata.parts import MAX_ELEMENTS, MAX_NODES, Refused, evaluate, execute, fold, parsed_diagnosis
from ninjagrad.kata.workbook import render_workbook

sys.path.insert(0, str(Path(__file__).parent))
from test_kata_mistakes import ForkedRunner  # noqa: E402

rng = np.random.default_rng(3)
NAMES = {"x": rng.standard_normal((4, 3)), "y": rng.standard_normal((4, 3)), "n": 4}


def value(code, names=NAMES):
    return evaluate(ast.parse(code, mode="eval").body, names)


def test_the_interpreter_computes_arithmetic_and_numpy_as_numpy_does():
    x, y = NAMES["x"], NAMES["y"]
    assert np.allclose(value("x * (1 - np.tanh(y) ** 2) / n"), x * (1 - np.tanh(y) ** 2) / 4)
    assert np.allclose(value("(x @ y.T).sum(1, keepdims=True)"), (x @ y.T).sum(1, keepdims=True))
    assert np.allclose(value("np.broadcast_to(x.sum(0), x.shape)"), np.broadcast_to(x.sum(0), (4, 3)))
    assert np.allclose(value("x[np.arange(n), 0] - x[range(n), 0]"), 0)
    assert value("x.shape") == (4, 3) and value("-2") == -2


@pytest.mark.parametrize(
    "code",
    [
        "__import__('os').getcwd()",  # a builtin that is not in the table
        "open('/tmp/ninjagrad-parts-test', 'w')",
        "x.__class__",  # an attribute that is not in the table
        "np.load('x.npy')",  # a NumPy function that is not in the table
        "helper(x)",  # the learner's own function: never called
        "(lambda: x)()",
        "[x] * 3",
        "z + 1",  # a name the line may not use
        "np.broadcast_to(x, (1 << 12, 1 << 12))",  # too large to make
        "np.eye(1 << 12)",
        "x.sum(axis=0, out=y)",  # a keyword that is not in the table
        "np.array((x,) * (10**7))",  # a tuple takes no part in arithmetic
    ],
)
def test_the_interpreter_refuses_anything_else(code):
    with pytest.raises(Refused):
        value(code, {**NAMES, "helper": lambda a: a})
    assert not Path("/tmp/ninjagrad-parts-test").exists()


@pytest.mark.parametrize(
    "code",
    [
        "np.arange(n * 1000)[:, None] * np.arange(n * 1000)[None, :]",
        "x[np.arange(n * 1000)[:, None] * 0, np.arange(n * 1000)[None, :] * 0]",  # an index picking too many
        "np.where(np.broadcast_to(x, (4096, 4, 3)).reshape(-1, 1), np.broadcast_to(y, (4096, 4, 3))"
        ".reshape(1, -1), 0)",
        "np.broadcast_to(n, (2048, 2048)) @ np.broadcast_to(n, (2048, 2048))",  # too long
    ],
)
def test_work_over_the_bounds_is_refused_before_it_is_done(code):
    with pytest.raises(Refused, match="too large|too long"):
        value(code)


def test_a_result_over_the_size_bound_is_refused_before_it_is_made():
    side = 1 << 12  # a (side, 1) times a (1, side): side**2 > MAX_ELEMENTS entries
    assert side * side > MAX_ELEMENTS
    with pytest.raises(Refused):
        value("a * b", {"a": np.ones((side, 1)), "b": np.ones((1, side))})


def test_a_line_too_long_or_too_deep_to_take_apart_names_nothing():
    runs = [(np.zeros((5, 4)), np.ones((5, 4)), data(0))]
    long = ast.parse("d = a" + " + a" * MAX_NODES).body
    assert parsed_diagnosis(long, ast.parse("d = a * b").body, [], runs, "d", "d", {"a", "b"}, {}) is None


def test_statements_are_bounded_as_expressions_are():
    with pytest.raises(Refused):
        execute(ast.parse("t = (x,)\nt *= 10**7").body, NAMES)
    with pytest.raises(Refused, match="too large"):
        execute(ast.parse("t = np.arange(n * 1000)[:, None]\nt += np.arange(n * 1000)[None, :]").body, NAMES)


def test_statements_change_only_their_own_copies():
    names = {"p": np.ones((3, 2)), "i": np.arange(3), "j": np.array([1, 0, 1])}
    local = execute(ast.parse("d = p\nd[i, j] -= 1\nd /= 3").body, names)
    assert np.allclose(local["d"], (np.ones((3, 2)) - _one_hot()) / 3)
    assert (names["p"] == 1).all()  # the given array is untouched


def _one_hot():
    hot = np.zeros((3, 2))
    hot[[0, 1, 2], [1, 0, 1]] = 1
    return hot


def test_a_gradients_lines_fold_into_one_expression():
    lines = ast.parse("t = a * b\nd = t + c\nd += t * 2").body
    assert ast.unparse(fold(lines, "d")) == "a * b + c + a * b * 2"
    assert fold(ast.parse("d = a.copy()\nd[i] -= 1").body, "d") is None  # indexed: aligned instead


def diagnosis(mine, right, names_list, scope, variable="d", right_value=None):
    runs = []
    for names in names_list:
        got = execute(ast.parse(mine).body, names)[variable]
        want = execute(ast.parse(right).body, names)[variable] if right_value is None else right_value
        runs.append((got, want, names))
    return parsed_diagnosis(
        ast.parse(mine).body, ast.parse(right).body, [], runs, variable, variable[1:], scope, {}
    )


def data(k):
    g = np.random.default_rng(k)
    return {"a": g.standard_normal((5, 4)), "b": g.standard_normal((5, 4)), "c": g.standard_normal((1, 4))}


def test_the_one_wrong_factor_is_named_and_the_right_ones_said_right():
    kind, message = diagnosis("d = c * np.exp(b) * a", "d = a * c * b", [data(0), data(1)], {"a", "b", "c"})
    assert kind == "wrong_factor"
    assert "the factor np.exp(b) is not" in message and "the factors c and a are right" in message
    assert "* b" not in message.replace("np.exp(b) * a", "")  # the reference's factor is not handed over


def test_a_factor_that_equals_a_right_one_is_not_called_right_or_wrong():
    names = [{**data(k), "e": data(k)["a"].copy()} for k in (0, 1)]  # e has a's values
    kind, message = diagnosis("d = a * e * b", "d = a * b", names, {"a", "b", "e"})
    assert kind == "extra_factor" and "have the same value" in message
    assert "right, and" not in message


def test_a_name_outside_the_lines_scope_or_a_value_it_cannot_reproduce_names_nothing():
    assert diagnosis("d = a * b * c", "d = a * b", [data(0)], {"a", "b"}) is None  # c: not in scope
    runs = [(np.zeros((5, 4)), data(0)["a"] * data(0)["b"], data(0))]  # not what the line computes
    lines = ast.parse("d = a * c").body
    assert (
        parsed_diagnosis(lines, ast.parse("d = a * b").body, [], runs, "d", "d", {"a", "b", "c"}, {}) is None
    )


# ---- end to end, on mistakes in no other test -----------------------------------------------------------


@pytest.fixture
def check(monkeypatch, tmp_path):
    import os

    if hasattr(os, "fork"):
        monkeypatch.setattr(checker, "_spawn", ForkedRunner)

    def run(exercise, old, new):
        text = render_workbook(get_exercise(exercise), solved=True)
        assert text.count(old) == 1
        path = tmp_path / f"{exercise}.py"
        path.write_text(text.replace(old, new))
        return checker.check_workbook(path).first_wrong

    return run


def test_an_extra_factor_in_a_product(check):
    first = check("atomic", "dbnraw = dhpreact * bngain", "dbnraw = dhpreact * bngain * bnraw")
    assert first.gradient.name == "bnraw" and first.diagnosis.kind == "extra_factor"
    assert "the factors dhpreact and bngain are right, and the factor bnraw should not be there" in (
        first.diagnosis.message
    )


def test_two_wrong_factors_are_both_named_and_the_right_one_kept(check):
    old = "dbnvar = dbnvar_inv * (-0.5 * (bnvar + eps) ** -1.5)"
    first = check("atomic", old, "dbnvar = dbnvar_inv * (0.5 * (bnvar + eps) ** -0.5)")
    assert first.diagnosis.kind == "wrong_factor"
    assert "the factor dbnvar_inv is right, and the factors 0.5 and (bnvar + eps) ** (-0.5) are not" in (
        first.diagnosis.message
    )
    assert "-1.5" not in first.diagnosis.message


def test_a_wrong_part_inside_a_wrong_term_of_a_sum_in_the_learners_names(check):
    # 2 * xdiff**2 is also 2 * xdiff2 (a one-step swap), but the line says xdiff ** 2: its parts are named
    old = "dxdiff = dxhat * var_inv\ndxdiff += dxdiff2 * (2 * xdiff)"
    first = check("layernorm", old, "dxdiff = dxhat * var_inv + dxdiff2 * 2 * xdiff**2")
    assert first.gradient.name == "xdiff" and first.diagnosis.kind == "wrong_factor"
    message = first.diagnosis.message
    assert "the term dxhat * var_inv is right, and the term dxdiff2 * 2 * xdiff ** 2 is not" in message
    assert "the factors dxdiff2 and 2 are right, and the factor xdiff ** 2 is not" in message
    assert "xdiff2 where" not in message


def test_the_right_idea_in_another_form_with_a_slip_no_part_shows_gets_the_honest_catch_all(check):
    # exp(logits) is not the reference's counts (no max subtracted), so no part matches: it says less
    first = check(
        "cross_entropy", "dlogits = probs.copy()", "dlogits = np.exp(logits) / np.exp(logits).sum()"
    )
    assert first.gradient.name == "logits" and first.diagnosis.kind == "wrong_values"


def test_a_matrix_products_wrong_operand_is_named_with_the_right_one():
    def names(k):
        g = np.random.default_rng(10 + k)
        return {"a": g.standard_normal((5, 4)), "b": g.standard_normal((4, 3))}

    kind, message = diagnosis("d = a @ np.tanh(b)", "d = a @ b", [names(0), names(1)], {"a", "b"})
    assert kind == "wrong_operand"
    assert "the left operand a is right, and the right operand np.tanh(b) is not" in message


def test_a_constant_inside_a_sum_is_a_factor_of_it_and_a_minus_is_said_as_written():
    kind, message = diagnosis(
        "d = -(a * b).sum(0) * 3", "d = (-(a * b)).sum(0)", [data(0), data(1)], {"a", "b"}
    )
    assert kind == "extra_factor"
    assert "the minus sign and the factor (a * b).sum(0) are right, and the factor 3 should not be" in message
