"""Op-by-op sweep, in the spirit of PyTorch's OpInfo tests.

Every op is a case: ONE function ``fn(F, *tensors)`` written with PyTorch's names, so the very same code runs
on ninjagrad and on torch (``F`` is ``ninjagrad.functional`` or ``torch.nn.functional``), and a list of input
shapes. Each case is checked twice in float64:

- against central finite differences (``ninjagrad.check.gradcheck``), which knows nothing of either engine;
- against ``torch.autograd.grad``: values and every input's gradient.

Shapes sweep (), (3,), (2, 3), (1, 3), (2, 1), (4, 3, 2) for unary ops and reductions, and broadcasting
pairs for binary ops. Inputs are drawn per case from a seeded generator, kept inside each op's domain.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

import ninjagrad
import ninjagrad.functional as ninja_F
from ninjagrad.check import gradcheck
from ninjagrad.tensors import Tensor, ops

SHAPES = [(), (3,), (2, 3), (1, 3), (2, 1), (4, 3, 2)]
BROADCAST_PAIRS = [(s, s) for s in SHAPES] + [
    ((), (2, 3)),
    ((3,), ()),
    ((2, 3), (3,)),
    ((2, 3), (1, 3)),
    ((2, 3), (2, 1)),
    ((2, 1), (1, 3)),
    ((1, 3), (2, 1)),
    ((4, 3, 2), (3, 2)),
    ((4, 3, 2), (3, 1)),
    ((4, 1, 2), (3, 2)),
    ((2,), (4, 3, 2)),
]


@dataclass(frozen=True)
class Case:
    op: str  # the registered op this case exercises (see test_every_registered_op_is_swept)
    fn: Callable  # fn(F, *inputs): the one function both engines run
    shapes: tuple  # shapes of the float inputs
    domain: str = "any"  # "any", "positive" (log, fractional powers) or "nonzero" (divisors, relu's kink)
    extra: tuple = ()  # non-differentiable trailing arguments (integer targets, indices)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.fn.__name__}-{'x'.join(map(str, self.shapes)) or 'scalar'}"


def sample(shape, domain: str, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(shape)
    if domain == "positive":
        return np.abs(x) + 0.5
    if domain == "nonzero":
        return np.sign(x) * (np.abs(x) + 0.3) + 0.0 * x
    return x


def top(F):
    """The top-level module (``torch`` or ``ninjagrad``) that goes with functional module ``F``."""
    return ninjagrad if F is ninja_F else torch


def named(name: str, fn: Callable) -> Callable:
    fn.__name__ = name
    return fn


UNARY = [
    ("neg", named("neg", lambda F, x: -x), "any"),
    ("exp", named("exp", lambda F, x: x.exp()), "any"),
    ("log", named("log", lambda F, x: x.log()), "positive"),
    ("log", named("log10", lambda F, x: x.log10()), "positive"),
    ("abs", named("abs", lambda F, x: x.abs()), "nonzero"),
    ("tanh", named("tanh", lambda F, x: x.tanh()), "any"),
    ("relu", named("relu", lambda F, x: x.relu()), "nonzero"),
    ("sigmoid", named("sigmoid", lambda F, x: x.sigmoid()), "any"),
    ("pow", named("square", lambda F, x: x**2), "any"),
    ("pow", named("cube", lambda F, x: x**3), "any"),
    ("pow", named("rsqrt", lambda F, x: (x + 1e-5) ** -0.5), "positive"),
    ("pow", named("sqrt", lambda F, x: x**0.5), "positive"),
    ("sqrt", named("sqrt_method", lambda F, x: x.sqrt()), "positive"),
    ("pow", named("reciprocal", lambda F, x: x**-1), "nonzero"),
    ("pow_tensor", named("two_to_the_x", lambda F, x: 2.0**x), "any"),
    ("add", named("plus_number", lambda F, x: x + 1.5), "any"),
    ("add", named("number_plus", lambda F, x: 1.5 + x), "any"),
    ("sub", named("minus_number", lambda F, x: x - 0.5), "any"),
    ("sub", named("number_minus", lambda F, x: 0.5 - x), "any"),
    ("mul", named("times_number", lambda F, x: x * 2.5), "any"),
    ("mul", named("number_times", lambda F, x: 2.5 * x), "any"),
    ("div", named("over_number", lambda F, x: x / 4.0), "any"),
    ("div", named("number_over", lambda F, x: 1.0 / x), "nonzero"),
    ("clamp", named("clamp", lambda F, x: x.clamp(-0.5, 0.5)), "any"),
    ("clamp", named("clamp_min", lambda F, x: x.clamp(min=0.2)), "any"),
    ("clamp", named("clamp_max", lambda F, x: x.clamp(max=-0.1)), "any"),
    ("clone", named("clone", lambda F, x: x.clone() * x), "any"),
    ("masked_fill", named("masked_fill", lambda F, x: x.masked_fill(x > 0, -2.0) * x), "nonzero"),
    ("expand", named("expand", lambda F, x: x.expand(2, *x.shape) * 1.5), "any"),
    ("repeat", named("repeat", lambda F, x: x.repeat(2, *[1] * x.ndim).tanh()), "any"),
    ("reshape", named("flatten", lambda F, x: x.flatten() * 2.0), "any"),
    ("reshape", named("unsqueeze", lambda F, x: x.unsqueeze(-1) * 2.0), "any"),
    ("reshape", named("unsqueeze_squeeze", lambda F, x: x.unsqueeze(0).squeeze() * 2.0), "any"),
    ("tanh", named("F_tanh", lambda F, x: F.tanh(x)), "any"),
    ("relu", named("F_relu", lambda F, x: F.relu(x)), "nonzero"),
    ("sigmoid", named("F_sigmoid", lambda F, x: F.sigmoid(x)), "any"),
    ("exp", named("top_level_exp", lambda F, x: top(F).exp(x)), "any"),
    ("log", named("top_level_log", lambda F, x: top(F).log(x)), "positive"),
    ("sqrt", named("top_level_sqrt", lambda F, x: top(F).sqrt(x)), "positive"),
    ("tanh", named("top_level_tanh", lambda F, x: top(F).tanh(x)), "any"),
]

BINARY = [
    ("add", named("add", lambda F, a, b: a + b), "any"),
    ("sub", named("sub", lambda F, a, b: a - b), "any"),
    ("mul", named("mul", lambda F, a, b: a * b), "any"),
    ("div", named("div", lambda F, a, b: a / b), "nonzero"),
    ("pow_tensor", named("pow", lambda F, a, b: a**b), "positive"),
    ("where", named("where", lambda F, a, b: top(F).where(a > 0, a, b)), "nonzero"),
    ("where", named("where_method", lambda F, a, b: a.where(b < 0, b * 2.0)), "nonzero"),
]


def reduction_cases() -> list[Case]:
    cases = []
    for shape in SHAPES:
        dims = [None, *range(len(shape)), *([-1] if shape else [])]
        for dim in dims:
            for keepdim in (False, True):
                kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
                if dim is None and keepdim:
                    continue
                tag = f"dim{dim}{'k' if keepdim else ''}"
                cases.append(Case("sum", named(f"sum_{tag}", lambda F, x, kw=kw: x.sum(**kw)), (shape,)))
                cases.append(Case("mean", named(f"mean_{tag}", lambda F, x, kw=kw: x.mean(**kw)), (shape,)))
                reduced = int(np.prod(shape)) if dim is None else (shape[dim] if shape else 1)
                if reduced > 1:  # the unbiased variance of one number is 0/0
                    cases.append(Case("var", named(f"var_{tag}", lambda F, x, kw=kw: x.var(**kw)), (shape,)))
                    cases.append(
                        Case(
                            "var",
                            named(f"var_biased_{tag}", lambda F, x, kw=kw: x.var(**kw, unbiased=False)),
                            (shape,),
                        )
                    )
                    cases.append(Case("std", named(f"std_{tag}", lambda F, x, kw=kw: x.std(**kw)), (shape,)))
                    cases.append(
                        Case(
                            "std",
                            named(f"std_biased_{tag}", lambda F, x, kw=kw: x.std(**kw, unbiased=False)),
                            (shape,),
                        )
                    )
                if dim is not None:
                    cases.append(
                        Case("max", named(f"max_{tag}", lambda F, x, kw=kw: x.max(**kw).values), (shape,))
                    )
                    cases.append(
                        Case("min", named(f"min_{tag}", lambda F, x, kw=kw: x.min(**kw).values), (shape,))
                    )
        cases.append(Case("max_all", named("max_all", lambda F, x: x.max()), (shape,)))
        cases.append(Case("min_all", named("min_all", lambda F, x: x.min()), (shape,)))
    cases.append(Case("sum", named("sum_dims01", lambda F, x: x.sum(dim=(0, 1))), ((4, 3, 2),)))
    cases.append(Case("var", named("var_dims01k", lambda F, x: x.var((0, 1), keepdim=True)), ((4, 3, 2),)))
    cases.append(Case("std", named("std_dims01k", lambda F, x: x.std((0, 1), keepdim=True)), ((4, 3, 2),)))
    cases.append(
        Case("mean", named("mean_dims02k", lambda F, x: x.mean(dim=(0, 2), keepdim=True)), ((4, 3, 2),))
    )
    return cases


def shape_cases() -> list[Case]:
    cases = []
    for shape in SHAPES:
        cases.append(Case("reshape", named("view_flat", lambda F, x: x.view(-1) * x.view(-1)), (shape,)))
        if len(shape) >= 2:
            if len(shape) == 2:  # torch deprecates .T on other ranks
                cases.append(Case("permute", named("T", lambda F, x: x.T * 1.0), (shape,)))
            cases.append(Case("permute", named("transpose", lambda F, x: x.transpose(0, -1) * 1.0), (shape,)))
    cases += [
        Case("reshape", named("view_rows", lambda F, x: x.view(4, -1).tanh()), ((4, 3, 2),)),
        Case("reshape", named("reshape_tuple", lambda F, x: x.reshape((3, 8)).exp()), ((4, 3, 2),)),
        Case("permute", named("permute", lambda F, x: x.permute(2, 0, 1) * 2.0), ((4, 3, 2),)),
        Case("getitem", named("int", lambda F, x: x[1]), ((4, 3, 2),)),
        Case("getitem", named("slice", lambda F, x: x[1:, ::2]), ((4, 3, 2),)),
        Case("getitem", named("neg_int_slice", lambda F, x: x[-1, :2]), ((2, 3),)),
        Case(
            "getitem",
            named("rows_with_repeats", lambda F, x, i: x[i]),
            ((4, 3),),
            extra=(np.array([0, 2, 2, 3, 0, 0]),),
        ),
        Case(
            "getitem",
            named("lookup_2d", lambda F, x, i: x[i]),
            ((5, 3),),
            extra=(np.array([[0, 4, 4], [1, 0, 4]]),),
        ),
        Case(
            "getitem",
            named("pairs", lambda F, x, i: x[range(4), i]),
            ((4, 3),),
            extra=(np.array([2, 0, 2, 1]),),
        ),
        Case(
            "getitem",
            named("slice_and_array", lambda F, x, i: x[:, i]),
            ((2, 5),),
            extra=(np.array([4, 4, 1]),),
        ),
        Case("cast", named("to_same_precision", lambda F, x: x.double() * 3.0), ((2, 3),)),
        Case("permute", named("permute_negative", lambda F, x: x.permute(-1, 0) * 1.0), ((2, 3),)),
        Case("permute", named("permute_negative_3d", lambda F, x: x.permute(-1, 0, -2).exp()), ((4, 3, 2),)),
        Case(
            "permute", named("permute_all_negative", lambda F, x: x.permute(-2, -3, -1) * 2.0), ((4, 3, 2),)
        ),
        Case(
            "reshape",
            named("view_B_T_C", lambda F, x: x.view(4, 3 // 3, 2 * 3).squeeze(1).tanh()),
            ((4, 3, 2),),
        ),
        Case("reshape", named("flatten_1", lambda F, x: x.flatten(1).exp()), ((4, 3, 2),)),
        Case("expand", named("expand_keep", lambda F, x: x.expand(-1, 3) * 1.0), ((2, 1),)),
        Case("expand", named("expand_3d", lambda F, x: x.expand(4, 3, 2).tanh()), ((3, 1),)),
        Case("repeat", named("repeat_2d", lambda F, x: x.repeat(2, 3).tanh()), ((2, 3),)),
        Case("repeat", named("repeat_3d", lambda F, x: x.repeat(1, 2, 3).exp()), ((4, 3, 2),)),
        Case("repeat", named("repeat_new_dims", lambda F, x: x.repeat(2, 1, 2).tanh()), ((3,),)),
        Case("tril", named("tril", lambda F, x: x.tril() * x), ((3, 3),)),
        Case("tril", named("tril_minus_1", lambda F, x: top(F).tril(x, -1).exp()), ((4, 3),)),
        Case("tril", named("tril_plus_1_batched", lambda F, x: x.tril(1).tanh()), ((4, 3, 2),)),
        Case("cat", named("cat_dim0", lambda F, a, b: top(F).cat([a, b]) * 2.0), ((2, 3), (4, 3))),
        Case("cat", named("cat_dim1", lambda F, a, b: top(F).cat([a, b, a], 1).tanh()), ((2, 3), (2, 1))),
        Case(
            "cat", named("cat_dim_neg", lambda F, a, b: top(F).cat((a, b), -2).exp()), ((4, 3, 2), (4, 1, 2))
        ),
        Case("cat", named("stack", lambda F, a, b: top(F).stack([a, b], 1).tanh()), ((2, 3), (2, 3))),
        Case("cat", named("stack_scalars", lambda F, a, b: top(F).stack([a, b, a])), ((), ())),
        Case(
            "cat",
            named("unbind_cat", lambda F, x: top(F).cat(top(F).unbind(x, 1), 1) * x.view(4, 6)),
            ((4, 3, 2),),
        ),
        Case(
            "masked_fill",
            named(
                "masked_fill_row",
                lambda F, x: x.masked_fill(top(F).tril(top(F).ones(3, 3)) == 0, float("-inf")).softmax(-1),
            ),
            ((3, 3),),
        ),
    ]
    return cases


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3, 4)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((1, 3), (3, 1)),
    ((4, 2, 3), (3, 5)),
    ((4, 2, 3), (4, 3, 5)),
    ((2, 3), (4, 3, 2)),
    ((1, 2, 3), (4, 3, 2)),
]


def functional_cases() -> list[Case]:
    cases = []
    for dim in (0, 1, -1):
        cases.append(
            Case("softmax", named(f"softmax_dim{dim}", lambda F, x, d=dim: F.softmax(x, dim=d)), ((3, 4),))
        )
        cases.append(
            Case(
                "log_softmax",
                named(f"log_softmax_dim{dim}", lambda F, x, d=dim: F.log_softmax(x, dim=d)),
                ((3, 4),),
            )
        )
    cases.append(Case("softmax", named("softmax_3d", lambda F, x: F.softmax(x, dim=1)), ((4, 3, 2),)))
    targets = (np.array([0, 3, 3, 1, 2]),)
    for reduction in ("mean", "sum", "none"):
        cases.append(
            Case(
                "cross_entropy",
                named(
                    f"cross_entropy_{reduction}",
                    lambda F, x, t, r=reduction: F.cross_entropy(x, t, reduction=r),
                ),
                ((5, 4),),
                extra=targets,
            )
        )
    cases.append(
        Case(
            "cross_entropy",
            named("cross_entropy_scaled", lambda F, x, t: 3.0 * F.cross_entropy(x * 10.0, t)),
            ((5, 4),),
            extra=targets,
        )
    )
    for weight_shape in ((4,), (1, 4)):
        cases.append(
            Case(
                "batch_norm",
                named("batch_norm", lambda F, x, w, b: batch_norm_unbiased(F, x, w, b)),
                ((6, 4), weight_shape, weight_shape),
            )
        )
    cases.append(
        Case("matmul", named("linear", lambda F, x, w, b: F.linear(x, w, b)), ((5, 3), (4, 3), (4,)))
    )
    cases.append(Case("matmul", named("linear_no_bias", lambda F, x, w: F.linear(x, w)), ((2, 5, 3), (4, 3))))
    for reduction in ("mean", "sum", "none"):
        cases.append(
            Case(
                "getitem",
                named(
                    f"nll_loss_{reduction}",
                    lambda F, x, t, r=reduction: F.nll_loss(F.log_softmax(x, 1), t, reduction=r),
                ),
                ((5, 4),),
                extra=targets,
            )
        )
    cases.append(
        Case(
            "getitem",
            named("embedding", lambda F, w, i: F.embedding(i, w)),
            ((5, 3),),
            extra=(np.array([[1, 1], [4, 0]]),),
        )
    )
    return cases


def batch_norm_unbiased(F, x, w, b):
    """The lecture's batch norm, which divides by sqrt(unbiased variance + eps).

    torch's F.batch_norm divides by sqrt(biased variance + eps); as v_unbiased = v_biased * n / (n - 1),
    (x - mean) / sqrt(v_unbiased + eps) = sqrt((n - 1) / n) * (x - mean) / sqrt(v_biased + eps * (n - 1) / n).
    """
    if F is ninja_F:
        return F.batch_norm(x, None, None, w, b, training=True)
    n = x.shape[0]
    normalized = F.batch_norm(x, None, None, None, None, training=True, eps=1e-5 * (n - 1) / n)
    return ((n - 1) / n) ** 0.5 * normalized * w + b


CASES = (
    [Case(op, fn, (shape,), domain) for op, fn, domain in UNARY for shape in SHAPES]
    + [Case(op, fn, pair, domain) for op, fn, domain in BINARY for pair in BROADCAST_PAIRS]
    + [Case("mul", named("mse_loss", lambda F, a, b: F.mse_loss(a, b)), (s, s)) for s in SHAPES]
    + [Case("matmul", named("matmul", lambda F, a, b: a @ b), pair) for pair in MATMUL_SHAPES]
    + [Case("matmul", named("rmatmul_T", lambda F, a, b: (a.T @ b).tanh()), ((3, 2), (3, 4)))]
    + reduction_cases()
    + shape_cases()
    + functional_cases()
)


def inputs_for(case: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    return [sample(shape, case.domain, rng) for shape in case.shapes]


def run_ninjagrad(case: Case, arrays, projection):
    leaves = [Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    out = case.fn(ninja_F, *leaves, *[Tensor(e) for e in case.extra])
    out.backward(projection)
    return out.data, [leaf.grad for leaf in leaves]


def run_torch(case: Case, arrays, projection):
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = case.fn(torch_F, *leaves, *[torch.tensor(e) for e in case.extra])
    grads = torch.autograd.grad(out, leaves, torch.tensor(projection))
    return out.detach().numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradients_match_finite_differences(case):
    report = gradcheck(lambda *xs: case.fn(ninja_F, *xs), [*inputs_for(case), *case.extra])
    assert report, str(report)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_values_and_gradients_match_pytorch_float64(case):
    arrays = inputs_for(case)
    with torch.no_grad():
        shape = case.fn(
            torch_F, *[torch.tensor(a) for a in arrays], *[torch.tensor(e) for e in case.extra]
        ).shape
    projection = np.random.default_rng(1).standard_normal(tuple(shape))  # d(sum(out * R))/d inputs
    our_out, our_grads = run_ninjagrad(case, arrays, projection)
    their_out, their_grads = run_torch(case, arrays, projection)
    assert our_out.shape == their_out.shape
    assert our_out.dtype == np.float64
    np.testing.assert_allclose(our_out, their_out, rtol=1e-12, atol=1e-12)
    for i, (ours, theirs) in enumerate(zip(our_grads, their_grads, strict=True)):
        assert ours.shape == theirs.shape, f"input {i}"
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=f"input {i}")


def test_every_registered_op_is_swept():
    swept = {case.op for case in CASES}
    assert swept == set(ops.FORWARD), set(ops.FORWARD) ^ swept
    assert set(ops.FORWARD) == set(ops.BACKWARD)


def test_the_sweep_covers_every_shape_for_each_unary_op_and_the_broadcast_pairs():
    for op, fn, _ in UNARY:
        covered = {c.shapes[0] for c in CASES if c.fn is fn}
        assert covered == set(SHAPES), op
    assert len(BROADCAST_PAIRS) >= 15
