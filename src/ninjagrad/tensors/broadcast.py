"""The one place that undoes broadcasting in a backward pass.

When NumPy broadcasts ``a + b`` with ``a`` of shape (32, 64) and ``b`` of shape (1, 64), it reuses each row of
``b`` 32 times. Every reuse passes gradient back, so the gradient of ``b`` is the gradient of the output
*summed* over the broadcast axes: that is the whole rule. Forgetting it is the classic backprop-ninja bug
(``db`` of shape (32, 64) where (1, 64) is right), so every gradient rule that broadcasts calls this function
and no other code sums gradients back to shape.
"""

from __future__ import annotations

import functools

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` (shaped like a broadcast result) back to the operand's ``shape``.

    Two kinds of axes were created by broadcasting: leading axes the operand did not have at all, and axes
    where the operand had size 1. Both are summed; the second kind keeps its axis (``keepdims``) so the
    result has exactly ``shape``.
    """
    if grad.shape == shape:  # nothing was broadcast: the common case, and free
        return grad
    leading, stretched = summed_axes(grad.shape, shape)
    if leading:
        grad = np.add.reduce(grad, axis=leading)
    if stretched:
        grad = np.add.reduce(grad, axis=stretched, keepdims=True)
    return grad


@functools.lru_cache(maxsize=1024)
def summed_axes(grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """The axes ``unbroadcast`` sums, worked out once per pair of shapes: the leading ones (axes of
    ``grad_shape``), then the stretched ones (axes of what is left, where ``shape`` has size 1)."""
    leading = max(len(grad_shape) - len(shape), 0)
    kept = grad_shape[leading:]  # the shape after the leading axes are summed
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and kept[axis] != 1)
    return tuple(range(leading)), stretched
