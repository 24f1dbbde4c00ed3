"""Helpers for the scalar tests: one function evaluated by ninjagrad, by PyTorch and by finite differences.

A test writes its function once (``lambda a, b: (a * b).tanh()``) and hands the same lambda to each
evaluator: Values and float64 tensors both understand ``+ - * / **``, ``.exp()``, ``.log()``, ``.tanh()``,
``.sigmoid()`` and ``.relu()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ninjagrad.scalar import Value


def ninjagrad_result(f: Callable, xs: Sequence[float]) -> tuple[float, list[float]]:
    """f(*xs) and its gradient with respect to each x, by ninjagrad."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def torch_result(f: Callable, xs: Sequence[float]) -> tuple[float, list[float]]:
    """f(*xs) and its gradient with respect to each x, by PyTorch in float64."""
    leaves = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.item(), [0.0 if leaf.grad is None else leaf.grad.item() for leaf in leaves]


def finite_difference_grads(f: Callable, xs: Sequence[float], h: float = 1e-6) -> list[float]:
    """Central differences (f(x + h) - f(x - h)) / 2h, one input at a time; error O(h²) in float64."""
    grads = []
    for i, x in enumerate(xs):
        step = h * max(1.0, abs(x))
        up = [Value(v + step if j == i else v) for j, v in enumerate(xs)]
        down = [Value(v - step if j == i else v) for j, v in enumerate(xs)]
        grads.append((f(*up).data - f(*down).data) / (2 * step))
    return grads


def same(a: float, b: float, rel: float = 1e-12, abs_: float = 1e-12) -> bool:
    """Equal within tolerance, where nan matches nan and an infinity matches the same infinity."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)
