"""Hypothesis-generated compositions of ops, run through ninjagrad and PyTorch (float64), same program.

A program is a list of steps over a growing pool of tensors: each step applies one op to one or two
earlier entries. Inputs get shapes that all broadcast to (2, 3), and every op keeps results in that family,
so any op can follow any other: this is where broadcasting, reductions with keepdim, variables used many
times, and scatter-adds meet. The structure comes from hypothesis, the numbers from a seeded generator
(continuous values: no accidental ties). The final value is projected to a scalar with fixed random weights
and both engines' gradients for every input are compared.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as torch_F
from hypothesis import given, settings
from hypothesis import strategies as st

import ninjagrad.functional as ninja_F
from ninjagrad.tensors import Tensor

FAMILY = [(), (3,), (1,), (1, 3), (2, 1), (2, 3)]  # everything broadcasts to (2, 3)


def last_dim_3(x) -> bool:
    return len(x.shape) >= 1 and x.shape[-1] == 3


# Each op: (name, arity, fn(F, W, *operands)). Ops that need a shape fall back to a plain product.
UNARY = {
    "tanh": lambda F, W, x: x.tanh(),
    "sigmoid": lambda F, W, x: x.sigmoid(),
    "exp_tanh": lambda F, W, x: x.tanh().exp(),
    "softlog": lambda F, W, x: (x * x + 1.0).log(),
    "relu": lambda F, W, x: x.relu(),
    "square": lambda F, W, x: x**2,
    "neg": lambda F, W, x: -x,
    "scale": lambda F, W, x: 0.5 * x,
    "rsub": lambda F, W, x: 1.5 - x,
    "rsqrt": lambda F, W, x: (x * x + 1e-2) ** -0.5,
    "sum_keep": lambda F, W, x: x.sum(len(x.shape) - 1, keepdim=True) if len(x.shape) else x * 2.0,
    "sum0_keep": lambda F, W, x: x.sum(0, keepdim=True) if len(x.shape) else x * 2.0,
    "mean_keep": lambda F, W, x: x.mean(0, keepdim=True) if len(x.shape) else x * 3.0,
    "max_keep": lambda F, W, x: x.max(len(x.shape) - 1, keepdim=True).values if len(x.shape) else x * 1.0,
    "var_keep": lambda F, W, x: x.var(-1, keepdim=True) if last_dim_3(x) else x * 0.25,
    "matmul": lambda F, W, x: x @ W if last_dim_3(x) else x * 1.5,
    "softmax": lambda F, W, x: F.softmax(x, dim=-1) if len(x.shape) else x.tanh(),
    "log_softmax": lambda F, W, x: F.log_softmax(x, dim=-1) if len(x.shape) else x.sigmoid(),
    "gather_repeat": lambda F, W, x: x[..., [0, 2, 2]] if last_dim_3(x) else x * x,
}
BINARY = {
    "add": lambda F, W, a, b: a + b,
    "sub": lambda F, W, a, b: a - b,
    "mul": lambda F, W, a, b: a * b,
    "div": lambda F, W, a, b: a / (b * b + 1.0),
    "pow": lambda F, W, a, b: (a * a + 1.0) ** b.tanh(),
}


@st.composite
def programs(draw):
    n_inputs = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from(FAMILY)) for _ in range(n_inputs)]
    steps = []
    for k in range(draw(st.integers(1, 8))):
        pool = n_inputs + k
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(UNARY))), (draw(st.integers(0, pool - 1)),)))
        else:
            operands = (draw(st.integers(0, pool - 1)), draw(st.integers(0, pool - 1)))
            steps.append((draw(st.sampled_from(sorted(BINARY))), operands))
    seed = draw(st.integers(0, 2**32 - 1))
    return shapes, steps, seed


def run_program(F, W, inputs, steps):
    pool = list(inputs)
    for name, operands in steps:
        fn = UNARY.get(name) or BINARY[name]
        pool.append(fn(F, W, *(pool[i] for i in operands)))
    return pool[-1]


@settings(max_examples=300, deadline=None)
@given(programs())
def test_random_compositions_match_pytorch_float64(program):
    shapes, steps, seed = program
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    W = rng.standard_normal((3, 3))

    ours_in = [Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    ours_W = Tensor(W, dtype=np.float64, requires_grad=True)
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs_W = torch.tensor(W, requires_grad=True)

    ours = run_program(ninja_F, ours_W, ours_in, steps)
    theirs = run_program(torch_F, theirs_W, theirs_in, steps)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)

    projection = rng.standard_normal(ours.shape)
    ours.backward(projection)
    grads = torch.autograd.grad(theirs, [*theirs_in, theirs_W], torch.tensor(projection), allow_unused=True)
    for leaf, grad in zip([*ours_in, ours_W], grads, strict=True):
        mine = np.zeros(leaf.shape) if leaf.grad is None else leaf.grad
        reference = np.zeros(leaf.shape) if grad is None else grad.numpy()
        assert mine.shape == reference.shape
        np.testing.assert_allclose(mine, reference, rtol=1e-8, atol=1e-10)
