"""Value: every op's gradient against finite differences and PyTorch float64, the edge cases, the walk.

A Value is a scalar, so the broadcast-shape sweep of the tensor tests has no counterpart here; instead each
op is checked at several points, including the awkward ones (0, negative bases, overflow).
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from ninjagrad.scalar import GRADIENT_RULES, Value, linear, sum_values
from scalar_reference import finite_difference_grads, ninjagrad_result, same, torch_result

# name -> (the function, shared by ninjagrad, PyTorch and finite differences; the points to check it at).
# Points stay away from kinks (relu at 0) and from the edges, which have their own table below.
OPS = {
    "a + b": (lambda a, b: a + b, [(1.5, -2.25), (0.3, 0.7)]),
    "a + 2.5": (lambda a: a + 2.5, [(-1.2,), (4.0,)]),
    "2.5 + a": (lambda a: 2.5 + a, [(-1.2,), (4.0,)]),
    "a - b": (lambda a, b: a - b, [(1.5, -2.25), (0.3, 0.7)]),
    "a - 2.5": (lambda a: a - 2.5, [(-1.2,), (4.0,)]),
    "1 - a": (lambda a: 1.0 - a, [(-1.2,), (4.0,)]),
    "a * b": (lambda a, b: a * b, [(1.5, -2.25), (0.3, 0.7)]),
    "a * -3": (lambda a: a * -3.0, [(-1.2,), (4.0,)]),
    "-3 * a": (lambda a: -3.0 * a, [(-1.2,), (4.0,)]),
    "a / b": (lambda a, b: a / b, [(1.5, -2.25), (-0.3, 0.7)]),
    "a / 4": (lambda a: a / 4.0, [(-1.2,), (4.0,)]),
    "10 / a": (lambda a: 10.0 / a, [(-1.2,), (4.0,)]),
    "-a": (lambda a: -a, [(-1.2,), (4.0,)]),
    "a ** 2": (lambda a: a**2, [(-1.2,), (4.0,)]),
    "a ** 3": (lambda a: a**3, [(-1.2,), (0.5,)]),
    "a ** -1": (lambda a: a**-1, [(-1.2,), (4.0,)]),
    "a ** 0.5": (lambda a: a**0.5, [(0.3,), (4.0,)]),
    "a ** b": (lambda a, b: a**b, [(1.5, -2.25), (0.3, 0.7), (2.0, 3.0)]),
    "2 ** a": (lambda a: 2.0**a, [(-1.2,), (4.0,)]),
    "exp": (lambda a: a.exp(), [(-1.2,), (4.0,), (0.0,)]),
    "log": (lambda a: a.log(), [(0.3,), (4.0,)]),
    "tanh": (lambda a: a.tanh(), [(-1.2,), (0.3,), (4.0,)]),
    "sigmoid": (lambda a: a.sigmoid(), [(-3.5,), (0.0,), (2.0,)]),
    "relu": (lambda a: a.relu(), [(-1.2,), (0.8,)]),
    "a * b + a": (lambda a, b: a * b + a, [(1.5, -2.25)]),  # a used twice: contributions add up
}
CASES = [
    pytest.param(name, point, id=f"{name} at {point}") for name, (_, pts) in OPS.items() for point in pts
]


@pytest.mark.parametrize("name, point", CASES)
def test_op_gradient_matches_finite_differences(name, point):
    f = OPS[name][0]
    _, grads = ninjagrad_result(f, point)
    numeric = finite_difference_grads(f, point)
    for ours, theirs in zip(grads, numeric, strict=True):
        assert math.isclose(ours, theirs, rel_tol=1e-6, abs_tol=1e-8), (name, point, grads, numeric)


@pytest.mark.parametrize("name, point", CASES)
def test_op_value_and_gradient_match_pytorch(name, point):
    f = OPS[name][0]
    data, grads = ninjagrad_result(f, point)
    ref_data, ref_grads = torch_result(f, point)
    # Not bit-exact: PyTorch computes x ** 3 as x * x * x and has its own tanh and sigmoid, so a few
    # points differ in the last place (a ** 3, a ** -1, tanh, sigmoid here).
    assert same(data, ref_data, rel=1e-14), (name, point, data, ref_data)
    for ours, theirs in zip(grads, ref_grads, strict=True):
        assert same(ours, theirs, rel=1e-13, abs_=1e-15), (name, point, grads, ref_grads)


# ---- the edges: IEEE and PyTorch semantics instead of exceptions ---------------------------------------

INF, NAN = math.inf, math.nan
EDGES = [
    ("tanh(1000)", lambda a: a.tanh(), (1000.0,)),
    ("tanh(-1000)", lambda a: a.tanh(), (-1000.0,)),
    ("sigmoid(1000)", lambda a: a.sigmoid(), (1000.0,)),
    ("sigmoid(-1000)", lambda a: a.sigmoid(), (-1000.0,)),
    ("sigmoid(-40)", lambda a: a.sigmoid(), (-40.0,)),
    ("exp(1000) overflows to inf", lambda a: a.exp(), (1000.0,)),
    ("exp(-1000) underflows to 0", lambda a: a.exp(), (-1000.0,)),
    ("log(0)", lambda a: a.log(), (0.0,)),
    ("log(-1)", lambda a: a.log(), (-1.0,)),
    ("1 / 0", lambda a, b: a / b, (1.0, 0.0)),
    ("-1 / 0", lambda a, b: a / b, (-1.0, 0.0)),
    ("0 / 0", lambda a, b: a / b, (0.0, 0.0)),
    ("1 / -0.0", lambda a, b: a / b, (1.0, -0.0)),
    ("0 ** 0 (number exponent)", lambda a: a**0, (0.0,)),
    ("0 ** -1 (number exponent)", lambda a: a**-1, (0.0,)),
    ("-0.0 ** -1 (number exponent)", lambda a: a**-1, (-0.0,)),
    ("0 ** 0.5 (number exponent)", lambda a: a**0.5, (0.0,)),
    ("(-8) ** (1/3) (number exponent)", lambda a: a ** (1 / 3), (-8.0,)),
    ("(-2) ** 3 (number exponent)", lambda a: a**3, (-2.0,)),
    ("0 ** 2 (Value exponent)", lambda a, b: a**b, (0.0, 2.0)),
    ("0 ** 0 (Value exponent)", lambda a, b: a**b, (0.0, 0.0)),
    ("0 ** -1 (Value exponent)", lambda a, b: a**b, (0.0, -1.0)),
    ("0 ** 0.5 (Value exponent)", lambda a, b: a**b, (0.0, 0.5)),
    ("(-2) ** 2 (Value exponent)", lambda a, b: a**b, (-2.0, 2.0)),
    ("(-2) ** 3 (Value exponent)", lambda a, b: a**b, (-2.0, 3.0)),
    ("(-2) ** 0.5 (Value exponent)", lambda a, b: a**b, (-2.0, 0.5)),
    ("10 ** 1000 overflows", lambda a, b: a**b, (10.0, 1000.0)),
    ("(-10) ** 1001 overflows to -inf", lambda a, b: a**b, (-10.0, 1001.0)),
    ("1 ** inf", lambda a, b: a**b, (1.0, INF)),
    # An infinite upstream gradient (log(log(1)) = log(0)): PyTorch masks the base gradient of x ** 0 to 0
    # after multiplying by it, but the exponent gradient at x = 0 before (so inf * 0 = nan there).
    ("0 ** 0 (Value exponent), inf upstream", lambda a, b: (a**b).log().log(), (0.0, 0.0)),
    ("2 ** 0 (Value exponent), inf upstream", lambda a, b: (a**b).log().log(), (2.0, 0.0)),
    ("0 ** 0 (number exponent), inf upstream", lambda a: (a**0).log().log(), (0.0,)),
    ("relu(0)", lambda a: a.relu(), (0.0,)),
    ("relu(nan)", lambda a: a.relu(), (NAN,)),
]


@pytest.mark.parametrize("name, f, point", EDGES, ids=[e[0] for e in EDGES])
def test_edge_cases_follow_pytorch(name, f, point):
    data, grads = ninjagrad_result(f, point)
    ref_data, ref_grads = torch_result(f, point)
    assert same(data, ref_data), (name, data, ref_data)
    assert all(same(ours, theirs) for ours, theirs in zip(grads, ref_grads, strict=True)), (
        name,
        grads,
        ref_grads,
    )


def test_edge_values_are_the_documented_ones():
    """The documented semantics, written out (PyTorch is the source of these numbers; see the table above)."""
    assert Value(1000.0).tanh().data == 1.0
    assert Value(1000.0).exp().data == INF
    assert Value(0.0).log().data == -INF
    assert math.isnan(Value(-1.0).log().data)
    assert math.isnan((Value(-8.0) ** (1 / 3)).data)  # Python's (-8.0) ** (1/3) is a complex number
    assert (Value(1.0) / 0.0).data == INF and (Value(-1.0) / 0.0).data == -INF
    assert math.isnan((Value(0.0) / 0.0).data)
    # The documented difference: C's pow at -0.0 (PyTorch's sqrt path gives -0.0 and -inf).
    assert math.copysign(1.0, (Value(-0.0) ** 0.5).data) == 1.0
    assert (Value(-0.0) ** -0.5).data == INF


# ---- the README example and the lecture neuron (the lecture's numbers are facts, not our output) -----


def test_micrograd_readme_example():
    a, b = Value(-4.0), Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert round(g.data, 4) == 24.7041
    assert round(a.grad, 4) == 138.8338
    assert round(b.grad, 4) == 645.5773


def test_lecture_neuron():
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    assert round(o.data, 4) == 0.7071
    assert [round(v.grad, 4) for v in (x1, w1, x2, w2)] == [-1.5, 1.0, 0.5, 0.0]


def test_lecture_neuron_backpropagated_by_hand_node_by_node():
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    x1w1, x2w2 = x1 * w1, x2 * w2
    s = x1w1 + x2w2
    n = s + b
    o = n.tanh()
    o.grad = 1.0
    for node in (o, n, s, x2w2, x1w1):  # reverse topological order, written out
        node._backward()
    assert [round(v.grad, 4) for v in (x1, w1, x2, w2, b)] == [-1.5, 1.0, 0.5, 0.0, 0.5]


# ---- the graph walk -------------------------------------------------------------------------------------


def test_a_million_deep_chain_backpropagates():
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y.relu()  # one node per step: relu of a positive number passes the gradient through
    y.backward()
    assert y.data == 0.5
    assert x.grad == 1.0


def test_backward_twice_doubles_leaf_grads_and_recomputes_interior_grads():
    a, b = Value(1.5), Value(-2.0)
    c = a * b
    d = (c + a).tanh()
    d.backward()
    first = (a.grad, b.grad, c.grad, d.grad)
    d.backward()
    assert (a.grad, b.grad) == (2 * first[0], 2 * first[1])  # leaves accumulate, exactly
    assert (c.grad, d.grad) == (first[2], first[3])  # interior nodes: recomputed, not accumulated


def test_zeroing_leaf_grads_between_calls_gives_the_same_grads():
    a = Value(0.7)
    out = a.exp() * a
    out.backward()
    first = a.grad
    a.grad = 0.0
    out.backward()
    assert a.grad == first == pytest.approx(math.exp(0.7) * 1.7)


def test_reused_nodes_sum_their_contributions():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    b = Value(3.0)
    (b * b).backward()
    assert b.grad == 6.0
    c = Value(-1.5)
    d = c * 2.0
    (d * d + d).backward()  # d(4c² + 2c)/dc = 8c + 2
    assert c.grad == 8 * -1.5 + 2


def test_backward_of_a_leaf_is_one():
    a = Value(4.0)
    a.backward()
    assert a.grad == 1.0


def test_backward_from_an_interior_node_only_touches_its_ancestors():
    a, b = Value(2.0), Value(5.0)
    c = a * 3.0
    d = c + b
    c.backward()
    assert (a.grad, b.grad) == (3.0, 0.0)
    assert d.grad == 0.0


def test_parents_are_a_tuple_in_argument_order_and_ops_are_named():
    a, b = Value(1.0), Value(2.0)
    assert (a - b)._prev[0] is a
    assert (b * a)._prev == (b, a)
    assert (a + b)._op == "+" and a._op == "" and a._prev == ()
    assert (a**2)._op == "**k" and (a**b)._op == "**"
    assert [(a.exp())._op, a.log()._op, a.tanh()._op, a.sigmoid()._op, a.relu()._op] == [
        "exp",
        "log",
        "tanh",
        "sigmoid",
        "relu",
    ]


def test_every_op_has_a_registered_rule_and_rules_work_alone():
    a, b = Value(2.0), Value(3.0)
    nodes = [a + b, a * b, a / b, a**2, a**b, a.exp(), a.log(), a.tanh(), a.sigmoid(), a.relu()]
    nodes += [linear([a], [b], a), sum_values([a, b])]
    assert {node._op for node in nodes} == set(GRADIENT_RULES)
    # A rule needs nothing but the output node: d(a*b)/da = b, d(a*b)/db = a.
    x, y = Value(2.0), Value(3.0)
    out = x * y
    out.grad = 10.0
    GRADIENT_RULES["*"](out)
    assert (x.grad, y.grad) == (30.0, 20.0)


def test_a_number_exponent_gets_no_gradient_but_a_value_exponent_does():
    a = Value(-2.0)
    square = a**2
    square.backward()
    constant = square._prev[1]
    assert constant.data == 2.0 and constant.grad == 0.0  # not nan (log of a negative base)
    x, y = Value(2.0), Value(3.0)
    (x**y).backward()
    assert y.grad == pytest.approx(8.0 * math.log(2.0))


# ---- the fused linear op against its composite ---------------------------------------------------------


def test_linear_matches_the_composite_of_primitives():
    """Tolerance: forward bit-identical (same summation order); gradients within 1e-12 relative.

    Gradients of distinct parents are the very same products, so they match exactly too; only a Value that
    is a parent more than once (x0 twice below) may see its contributions added in another order.
    """
    ws, bias = [0.3, -1.7, 2.2, 0.05], 0.9
    xs = [1.1, -0.4, 2.5]

    def build(fused: bool):
        w = [Value(v) for v in ws]
        x = [Value(v) for v in xs]
        b = Value(bias)
        inputs = [x[0], x[1], x[2], x[0]]  # x0 is used twice
        if fused:
            out = linear(w, inputs, b)
        else:
            out = b
            for wi, xi in zip(w, inputs, strict=True):
                out = out + wi * xi
        (out.tanh() * 3.0).backward()
        return out.data, [v.grad for v in (*w, *x, b)]

    fused_data, fused_grads = build(fused=True)
    composite_data, composite_grads = build(fused=False)
    assert fused_data == composite_data
    for ours, theirs in zip(fused_grads, composite_grads, strict=True):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=0.0)
    assert fused_grads[:4] == composite_grads[:4]  # the weights: exactly the same products
    assert fused_grads[-1] == composite_grads[-1]  # the bias


def test_linear_gradient_matches_finite_differences():
    def f(w0, w1, x0, x1, b):
        return linear([w0, w1], [x0, x1], b).tanh()

    point = (0.4, -1.1, 0.9, 0.3, 0.2)
    _, grads = ninjagrad_result(f, point)
    for ours, numeric in zip(grads, finite_difference_grads(f, point), strict=True):
        assert math.isclose(ours, numeric, rel_tol=1e-6, abs_tol=1e-8)


def test_linear_takes_plain_numbers_as_inputs_and_checks_lengths():
    w, b = [Value(2.0), Value(3.0)], Value(1.0)
    assert linear(w, [4.0, 5.0], b).data == 1.0 + 8.0 + 15.0
    with pytest.raises(ValueError, match="2 weights and 3 inputs"):
        linear(w, [1.0, 2.0, 3.0], b)


def test_sum_values_matches_the_chain_of_additions_exactly():
    """Tolerance: none. The same additions in the same order, and every term's gradient is out.grad."""
    terms = [0.1, 0.7, -0.3, 1e-17, 2.5]

    def build(fused: bool):
        x = [Value(v) for v in terms]
        inputs = [*x, x[1]]  # x1 is used twice
        out = sum_values(inputs) if fused else sum(inputs, Value(0.0))
        (out * out).backward()
        return out.data, [v.grad for v in x]

    assert build(fused=True) == build(fused=False)


def test_sum_values_takes_numbers_and_an_empty_list():
    a = Value(2.0)
    total = sum_values([a, 3.0, a])
    total.backward()
    assert (total.data, a.grad) == (7.0, 2.0)
    assert sum_values([]).data == 0.0


# ---- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, type_name",
    [
        (lambda: Value("x"), "str"),
        (lambda: Value(None), "NoneType"),
        (lambda: Value(1 + 2j), "complex"),
        (lambda: Value([1.0]), "list"),
        (lambda: Value(1) + "a", "str"),
        (lambda: "a" + Value(1), "str"),
        (lambda: Value(1) - None, "NoneType"),
        (lambda: Value(1) * [2], "list"),
        (lambda: Value(1) / "2", "str"),
        (lambda: Value(1) ** "2", "str"),
        (lambda: 2j * Value(1), "complex"),
        (lambda: Value(1.0, label=3), "int"),
    ],
)
def test_bad_input_is_a_type_error_naming_the_type(make, type_name):
    with pytest.raises(TypeError, match=type_name):
        make()


def test_any_real_number_is_accepted_and_stored_as_float():
    for number in (3, True, 2.5, Fraction(1, 4), np.float32(1.5), np.int64(7)):
        v = Value(number)
        assert type(v.data) is float and v.data == float(number)


def test_repr_shows_data_grad_and_label():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(2.0, "x")) == "Value(data=2.0, grad=0.0, label='x')"


def test_importing_the_scalar_engine_pulls_in_no_heavy_or_reference_library():
    code = (
        "import sys, ninjagrad.scalar, ninjagrad.nn; "
        "print(sorted(m for m in ('torch', 'micrograd', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
