"""Property: for random expressions over three inputs, ninjagrad's value and gradients equal PyTorch's.

Expressions are trees of depth <= 8 using every op: + - * / ** between Values, the same with a number on
either side, unary -, exp, log, tanh, sigmoid, relu, and the fused ``linear`` and ``sum_values``. One
evaluator walks the tree for both engines (they share the operator and method names); only the two fused
ops, which PyTorch lacks, are spelled as their composites (b + w0*x0 + w1*x1, v0 + v1 + v2) there.
"""

from __future__ import annotations

import math
import operator

import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ninjagrad.scalar import Value, linear, sum_values
from scalar_reference import same

MAX_DEPTH = 8
BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}
UNARY = {
    "neg": operator.neg,
    "exp": lambda v: v.exp(),
    "log": lambda v: v.log(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "relu": lambda v: v.relu(),
}
NUMBERS = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0]  # constants on either side of + - * /
# Exponents for ``x ** number``. Not ±0.5, nor 1.5 (its gradient takes x ** 0.5): PyTorch computes those
# powers with sqrt, which gives -0.0 at x = -0.0 and nan at x = -inf, where C's pow (and ninjagrad) give
# +0.0 and +inf. The documented difference; everything else about pow is compared here.
EXPONENTS = [-2.0, -1.0, 2.0, 2.5, 3.0]
BASES = [0.5, 2.0, 3.0]  # for ``number ** x``: a negative base would give nan for almost every x

# Inputs in [-2, 2], exactly 0 allowed but nothing tinier than 0.01: z / z with z = 1e-291 sums two
# gradient terms near 1e290 that cancel, and a 1-ulp difference upstream (PyTorch's exp and tanh are not
# libm's) leaves 1e274 in one engine and 0 in the other. Both are right to rounding; no tolerance can say so.
input_value = st.tuples(st.sampled_from([0.0, *[1.0, -1.0] * 4]), st.floats(0.01, 2.0)).map(
    lambda sign_and_size: sign_and_size[0] * sign_and_size[1]  # 0 about one time in nine
)
inputs = st.tuples(input_value, input_value, input_value)


def tree_depth(expr) -> int:
    """Levels of operations above the inputs: an input is 0, ``x.exp()`` is 1."""
    return 0 if expr[0] == "input" else 1 + max(tree_depth(e) for e in expr[1:] if isinstance(e, tuple))


@st.composite
def expressions(draw, depth: int | None = None):
    """A tree (nested tuples) exactly ``depth`` levels deep; by default a depth from 0 to MAX_DEPTH.

    One child of each operation carries the full remaining depth (the spine); the other children are
    shallow (at most 2 levels), so a depth-8 tree stays a few dozen nodes and does not almost surely end
    in inf or nan, as a full binary tree of depth 8 would.
    """
    if depth is None:
        depth = draw(st.integers(0, MAX_DEPTH))
    if depth == 0:
        return ("input", draw(st.integers(0, 2)))
    spine = draw(expressions(depth - 1))

    def side():
        return draw(expressions(draw(st.integers(0, min(depth - 1, 2)))))

    kind = draw(st.sampled_from(["unary", "binary", "number right", "number left", "linear", "sum"]))
    if kind == "unary":
        return ("unary", draw(st.sampled_from(sorted(UNARY))), spine)
    op = draw(st.sampled_from(sorted(BINARY)))
    if kind == "binary":
        return ("binary", op, *draw(st.permutations([spine, side()])))
    if kind == "number right":
        return ("number right", op, spine, draw(st.sampled_from(EXPONENTS if op == "**" else NUMBERS)))
    if kind == "number left":
        return ("number left", op, draw(st.sampled_from(BASES if op == "**" else NUMBERS)), spine)
    if kind == "sum":
        return ("sum", *draw(st.permutations([spine, side(), side()])))
    children = [spine, side(), side(), side(), side()]
    return ("linear", *draw(st.permutations(children)))


def evaluate(expr, leaves, fused):
    """The value of ``expr``; ``fused`` spells ``linear`` and ``sum`` for the engine at hand."""
    kind = expr[0]
    if kind == "input":
        return leaves[expr[1]]
    children = [evaluate(e, leaves, fused) if isinstance(e, tuple) else e for e in expr[1:]]
    if kind == "unary":
        return UNARY[children[0]](children[1])
    if kind in ("binary", "number right", "number left"):
        return BINARY[children[0]](children[1], children[2])
    if kind == "sum":
        return fused.sum(children)
    w0, x0, w1, x1, b = children
    return fused.linear([w0, w1], [x0, x1], b)


class NinjagradFused:
    linear = staticmethod(linear)
    sum = staticmethod(sum_values)


class TorchComposites:
    """The fused ops as PyTorch would compute them: the chains of additions they replace."""

    @staticmethod
    def linear(ws, xs, b):
        out = b
        for w, x in zip(ws, xs, strict=True):
            out = out + w * x
        return out

    @staticmethod
    def sum(terms):
        out = 0.0
        for term in terms:
            out = out + term
        return out


def close(ours: float, theirs: float, scale: float) -> bool:
    """nan/inf must agree exactly; finite numbers to 1e-9 relative, or 1e-9 of the expression's scale.

    The two engines round differently in the last place (PyTorch has its own exp and tanh, and computes
    x ** 3 as x * x * x, not with pow), and deep expressions amplify that: 1e-9, not machine precision.
    """
    return same(ours, theirs, rel=1e-9, abs_=1e-9 * scale)


# 400 examples: about 70% of them end finite (the rest check that nan and inf appear where PyTorch's do),
# so well over 200 compare finite numbers. `pytest --hypothesis-show-statistics` prints the split and the
# depths.
@settings(max_examples=400, deadline=None)
@given(expr=expressions(), xs=inputs)
def test_random_expressions_match_pytorch(expr, xs):
    values = [Value(x) for x in xs]
    out = evaluate(
        expr, values, NinjagradFused
    )  # every tree has an input at the bottom of its spine: a Value
    out.backward()

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    ref = evaluate(expr, tensors, TorchComposites)
    ref.backward()
    ref_grads = [0.0 if t.grad is None else t.grad.item() for t in tensors]

    grads = [v.grad for v in values]
    event("finite" if all(math.isfinite(g) for g in (out.data, *grads)) else "inf or nan")
    event(f"depth {tree_depth(expr)}")
    finite = [abs(g) for g in (*ref_grads, ref.item()) if math.isfinite(g)]
    scale = max([1.0, *finite])
    assert close(out.data, ref.item(), scale), (out.data, ref.item())
    for ours, theirs in zip(grads, ref_grads, strict=True):
        assert close(ours, theirs, scale), (grads, ref_grads)
