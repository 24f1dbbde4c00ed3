"""``ninjagrad.check``: compare (the lecture's cmp) and gradcheck (finite differences)."""

import json

import numpy as np
import pytest
import torch

from ninjagrad.check import Comparison, compare, format_table, gradcheck
from ninjagrad.tensors import Tensor, ops

# ---- compare -----------------------------------------------------------------------------------------------


def test_identical_arrays_are_exact_and_approximate():
    g = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    c = compare("dlogits", g.copy(), g, show=False)
    assert c.exact and c.approximate and c.shape_ok and c.maxdiff == 0.0
    assert c.manual_shape == c.reference_shape == (3, 4)


def test_a_rounding_difference_is_approximate_but_not_exact():
    g = np.linspace(-1, 1, 12).reshape(3, 4)
    c = compare("dh", g * (1 + 1e-7), g, show=False)
    assert not c.exact and c.approximate and 0 < c.maxdiff < 1e-6


def test_allclose_uses_pytorchs_default_tolerances():
    reference = np.array([1.0, 0.0])
    just_inside = reference + np.array([1e-5 * 1.0 + 1e-8, 0.0]) * 0.99
    just_outside = reference + np.array([0.0, 1e-8 * 1.5])
    assert compare("in", just_inside, reference, show=False).approximate
    assert not compare("out", just_outside, reference, show=False).approximate
    assert torch.allclose(torch.tensor(just_inside), torch.tensor(reference))
    assert not torch.allclose(torch.tensor(just_outside), torch.tensor(reference))


def test_a_shape_mismatch_fails_even_when_broadcasting_would_hide_it():
    reference = np.arange(64.0).reshape(1, 64)
    c = compare("dbngain", reference.reshape(64), reference, show=False)
    assert not c.shape_ok and not c.exact and not c.approximate
    assert c.maxdiff == 0.0  # the values agree: only the shape is wrong
    assert c.manual_shape == (64,) and c.reference_shape == (1, 64)
    assert np.allclose(reference.reshape(64), reference)  # what a value-only check would have said


def test_shapes_that_cannot_broadcast_give_nan_maxdiff():
    c = compare("x", np.zeros(3), np.zeros(4), show=False)
    assert not c.approximate and np.isnan(c.maxdiff)
    assert json.loads(json.dumps(c.as_dict()))["maxdiff"] is None


def test_wrong_values_fail_and_report_the_largest_difference():
    c = compare("dW1", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]), show=False)
    assert not c.exact and not c.approximate and c.maxdiff == 0.5


def test_equal_infinities_are_equal_with_no_difference():
    c = compare("d", np.array([np.inf, -np.inf, 1.0]), np.array([np.inf, -np.inf, 1.5]), show=False)
    assert c.maxdiff == 0.5  # inf - inf would make it NaN
    assert not compare("d", np.array([np.inf]), np.array([-np.inf]), show=False).approximate


def test_a_gradient_that_is_not_numbers_is_a_clear_error():
    with pytest.raises(TypeError, match=r"compare\('dW1'\): the manual gradient .* got NoneType; compute it"):
        compare("dW1", None, np.zeros(3), show=False)
    with pytest.raises(TypeError, match="reference gradient .* got str"):
        compare("dW1", np.zeros(3), "abc", show=False)


def test_nan_never_passes():
    c = compare("d", np.array([np.nan]), np.array([np.nan]), show=False)
    assert not c.exact and not c.approximate


def test_reference_can_be_a_ninjagrad_tensor_a_torch_tensor_or_an_array():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    (tx * tx).sum().backward()
    manual = np.array([2.0, 4.0], dtype=np.float32)
    assert compare("x", manual, x, show=False).exact
    assert compare("x", manual, tx, show=False).exact
    assert compare("x", Tensor(manual), np.array([2.0, 4.0]), show=False).exact  # a Tensor manual: its data


def test_a_reference_without_grad_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'h'.*no \.grad.*retain_grad"):
        compare("h", np.zeros(2), Tensor([1.0, 2.0], requires_grad=True), show=False)
    with pytest.raises(ValueError, match="retain_grad"):
        compare("h", np.zeros(2), torch.zeros(2, requires_grad=True), show=False)


def test_show_prints_one_labelled_line_like_the_lectures_cmp(capsys):
    """Printed one at a time there is no header, so each value carries its label, as in the lecture."""
    compare("logprobs", np.ones((32, 27)), np.ones((32, 27)))
    compare("bngain", np.ones(64), np.ones((1, 64)))
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2
    assert rows[0].split(" | ") == [
        "logprobs       ",
        "exact: True ",
        "approximate: True ",
        "maxdiff: 0.00e+00",
        "shape: (32, 27)",
    ]
    assert "exact: False" in rows[1] and "shape: (64,) != reference (1, 64)" in rows[1]
    assert len({row.index("|") for row in rows}) == 1


def test_the_table_has_a_header_and_aligned_columns():
    a = compare("logprobs", np.ones((32, 27)), np.ones((32, 27)), show=False)
    b = compare("bngain", np.ones(64), np.ones((1, 64)), show=False)
    table = format_table([a, b]).splitlines()
    assert [cell.strip() for cell in table[0].split("|")] == [
        "name",
        "exact",
        "approximate",
        "maxdiff",
        "shape",
    ]
    assert set(table[1]) == {"-"}
    assert [cell.strip() for cell in table[2].split("|")] == [
        "logprobs",
        "True",
        "True",
        "0.00e+00",
        "(32, 27)",
    ]
    assert "(64,) != reference (1, 64)" in table[3] and "False" in table[3]
    for line in (table[0], *table[2:]):
        assert [i for i, ch in enumerate(line) if ch == "|"] == [
            i for i, ch in enumerate(table[0]) if ch == "|"
        ]


def test_long_names_widen_the_table():
    c = compare("a_rather_long_gradient_name", np.ones(2), np.ones(2), show=False)
    short = compare("x", np.ones(2), np.ones(2), show=False)
    lines = format_table([c, short]).splitlines()
    assert len({line.index("|") for line in lines if "|" in line}) == 1


def test_comparison_is_frozen_and_as_dict_is_json_ready():
    c = compare("d", np.ones((2, 1)), np.ones((2, 1)), show=False)
    with pytest.raises(AttributeError):
        c.exact = False
    record = json.loads(json.dumps(c.as_dict()))
    assert record == {
        "name": "d",
        "exact": True,
        "approximate": True,
        "maxdiff": 0.0,
        "shape_ok": True,
        "manual_shape": [2, 1],
        "reference_shape": [2, 1],
    }
    assert isinstance(c, Comparison)


# ---- gradcheck ---------------------------------------------------------------------------------------------


def test_gradcheck_passes_correct_rules_element_by_element():
    rng = np.random.default_rng(0)
    report = gradcheck(
        lambda a, b: (a * b).tanh().sum(), [rng.standard_normal((2, 3)), rng.standard_normal(3)]
    )
    assert report and report.ok
    assert [c.mode for c in report.inputs] == ["elements", "elements"]
    assert "ok" in str(report)


def test_gradcheck_catches_a_wrong_rule_and_names_the_input_and_element(monkeypatch):
    # A classic ninja bug: forgetting to sum over the broadcast axis... here, a wrong factor for input b.
    monkeypatch.setitem(ops.BACKWARD, "mul", lambda saved, dout: (dout * saved[1], 1.01 * dout * saved[0]))
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    report = gradcheck(lambda x, y: (x * y).sum(), [a, b])
    assert not report
    first, second = report.inputs
    assert first.ok and not second.ok and second.input == 1
    worst = int(np.argmax(np.abs(a)))  # the error 0.01 * a[i] is largest where |a| is
    assert second.index == (worst,)
    np.testing.assert_allclose(second.analytic, 1.01 * a[worst], rtol=1e-9)
    np.testing.assert_allclose(second.numeric, a[worst], rtol=1e-6)
    np.testing.assert_allclose(second.allowed, 1e-5 + 1e-3 * abs(a[worst]), rtol=1e-6)
    text = str(report)
    assert "input 1 'y' (4,): FAILED" in text and f"element ({worst},)" in text
    assert f"|difference| {0.01 * abs(a[worst]):.2g} > allowed {second.allowed:.2g}" in text
    assert "input 0 'x' (4,): ok" in text and "<= allowed" in text


def test_gradcheck_uses_random_directions_for_large_inputs_and_still_catches_errors(monkeypatch):
    rng = np.random.default_rng(2)
    big = rng.standard_normal((30, 20))
    assert gradcheck(lambda x: (x.tanh() ** 2).sum(), [big]).inputs[0].mode == "directions"
    assert gradcheck(lambda x: (x.tanh() ** 2).sum(), [big])
    monkeypatch.setitem(ops.BACKWARD, "tanh", lambda saved, dout: (dout * (1 - saved[0]),))
    report = gradcheck(lambda x: (x.tanh() ** 2).sum(), [big])
    assert not report and report.inputs[0].mode == "directions"
    assert "direction" in str(report)


def test_gradcheck_projects_non_scalar_outputs_so_errors_cannot_cancel(monkeypatch):
    """A rule whose error sums to zero over the output would pass a plain .sum() reduction."""

    def off_by_a_permutation(saved, dout):
        (y,) = saved
        return (np.roll(dout, 1) * y,)  # right values, wrong places: the sum of dx is unchanged

    x = np.array([0.1, 0.2, 0.3])
    assert gradcheck(lambda t: t.exp(), [x])
    monkeypatch.setitem(ops.BACKWARD, "exp", off_by_a_permutation)
    assert not gradcheck(lambda t: t.exp(), [x])


def test_gradcheck_runs_in_float64_and_passes_integer_inputs_through():
    seen = []

    def f(logits, targets):
        seen.append((logits.dtype, targets.dtype))
        n = logits.shape[0]
        return -(logits.tanh()[range(n), targets]).sum()

    logits32 = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    assert gradcheck(f, [Tensor(logits32), np.array([0, 2, 2, 1])])
    assert all(dtype == np.float64 for dtype, _ in seen) and all(t.kind == "i" for _, t in seen)


def test_gradcheck_refuses_inputs_and_functions_it_cannot_judge():
    """Each of these would otherwise end in an unrelated traceback, or pass without checking anything."""
    x = np.linspace(-1, 1, 5)
    cases = [
        (lambda t: (t * t).sum(), [[1, 2, 3]], ValueError, "at least one floating-point input.*int64"),
        (lambda t: 3.0, [x], TypeError, "f must return a Tensor, got float"),
        (lambda t: Tensor(1.0, dtype=np.float64), [x], ValueError, "does not depend on any floating-point"),
        (lambda t: t.float().tanh().sum(), [x], ValueError, "f returned float32.*Remove the cast"),
    ]
    for f, inputs, error, message in cases:
        with pytest.raises(error, match=message):
            gradcheck(f, inputs)
    for settings in ({"eps": 0.0}, {"eps": -1e-6}, {"directions": 0}):
        with pytest.raises(ValueError, match="eps > 0, directions >= 1"):
            gradcheck(lambda t: t.tanh().sum(), [x], **settings)


def test_gradcheck_fails_where_a_gradient_is_infinite_or_nan():
    # d/dx sqrt(x) at 0 is infinite, and sqrt(0 - eps) is NaN: neither may pass silently
    with np.errstate(divide="ignore", invalid="ignore"):
        report = gradcheck(lambda x: (x**0.5).sum(), [np.array([0.0, 1.0])])
    assert not report and report.inputs[0].index == (0,)
