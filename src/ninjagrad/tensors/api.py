"""PyTorch's top-level tensor functions (``torch.zeros``, ``torch.cat``, ``torch.histogram``, ...), so that
lecture code ports with ``import ninjagrad as torch``. Random numbers are in ``random.py``.

Each function means what PyTorch's does, with its dtype: creation functions make float32 unless told
otherwise (``arange`` of integers makes int64), and ``tensor`` types its data as ``torch.tensor`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ninjagrad.tensors import dtypes
from ninjagrad.tensors.tensor import Tensor, _dims, _leaf, apply_op


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (``torch.tensor``): lists of ints give int64, of floats
    float32; a NumPy array keeps its dtype."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _size(size: tuple) -> tuple[int, ...]:
    """``zeros(2, 3)`` and ``zeros((2, 3))`` both mean shape (2, 3)."""
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _filled(fill: Any, shape: tuple[int, ...], dtype: Any, requires_grad: bool) -> Tensor:
    t = _leaf(np.full(shape, fill, dtype=np.dtype(dtype) if dtype is not None else dtypes.DEFAULT_FLOAT))
    return t.requires_grad_(requires_grad) if requires_grad else t


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, float32 unless ``dtype`` says otherwise (``zeros((27, 27), dtype=int32)``)."""
    return _filled(0, _size(size), dtype, requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(1, _size(size), dtype, requires_grad)


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``fill_value``; its dtype follows the value (int64, bool or float32) unless given."""
    if dtype is None:
        dtype = dtypes.number_dtype(fill_value)
    return _filled(fill_value, _size((size,)), dtype, requires_grad)


def zeros_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(0, input.shape, dtype if dtype is not None else input.dtype, requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(1, input.shape, dtype if dtype is not None else input.dtype, requires_grad)


def arange(
    start: float, end: float | None = None, step: float = 1, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``arange(n)`` is 0..n-1 as int64; any float bound or step makes it float32, as in PyTorch."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if integral else dtypes.DEFAULT_FLOAT
    if step == 0:
        raise ValueError("arange: step must not be 0")
    t = _leaf(np.arange(start, end, step).astype(dtype))
    return t.requires_grad_(requires_grad) if requires_grad else t


def linspace(
    start: float, end: float, steps: int, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced numbers from ``start`` to ``end`` inclusive, float32 unless told otherwise
    (``10**torch.linspace(-3, 0, 1000)``: the lecture's learning rates)."""
    if steps < 0:
        raise ValueError(f"linspace: steps must be >= 0, got {steps}")
    t = _leaf(np.linspace(start, end, steps).astype(dtype if dtype is not None else dtypes.DEFAULT_FLOAT))
    return t.requires_grad_(requires_grad) if requires_grad else t


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors joined along ``dim`` (``torch.cat(torch.unbind(emb, 1), 1)``), promoted to one dtype."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"cat expects tensors, got {type(t).__name__}")
    dtype = dtypes.result_dtype(*[(t.dtype, 1) for t in tensors])
    ndim = tensors[0].ndim
    if ndim == 0 or any(t.ndim != ndim for t in tensors):
        raise ValueError(
            f"cat needs tensors with the same number of dims (at least 1), got shapes "
            f"{', '.join(str(t.shape) for t in tensors)}"
        )
    return apply_op("cat", tuple(t._as(dtype) for t in tensors), dim=_dims(dim, ndim))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """The tensors (all of one shape) stacked along a new dim ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {', '.join(map(str, sorted(shapes)))}")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, each without that dim (``torch.unbind(emb, 1)``: one (n, 10) per char)."""
    if input.ndim == 0:
        raise ValueError("unbind of a 0-d tensor: there is no dim to split")
    dim = _dims(dim, input.ndim) % input.ndim  # a count of the dims before it (dim -1: all but one)
    before = (slice(None),) * dim
    return tuple(input[(*before, i)] for i in range(input.shape[dim]))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle: zeros above the ``diagonal``-th diagonal (``torch.tril(torch.ones(T, T))``)."""
    return input.tril(diagonal)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """``input`` where ``condition`` is True, ``other`` elsewhere, all three broadcast together."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if condition.dtype != np.bool_:
        raise TypeError(f"where needs a bool condition, got {condition.dtype}; compare first (t > 0)")
    if not isinstance(input, Tensor):
        if not isinstance(other, Tensor):  # two numbers: typed as numbers, promoted together (as PyTorch)
            input = _leaf(np.asarray(input, dtype=dtypes.number_dtype(input)))
            a, b = input._operands(other)
        else:
            b, a = other._operands(input)
    else:
        a, b = input._operands(other)
    return apply_op("where", (a, b), condition=condition)


def softmax(input: Tensor, dim: int) -> Tensor:
    return input.softmax(dim)


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def exp(input: Tensor) -> Tensor:
    return input.exp()


def log(input: Tensor) -> Tensor:
    return input.log()


def sqrt(input: Tensor) -> Tensor:
    return input.sqrt()


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def relu(input: Tensor) -> Tensor:
    return input.relu()


def abs(input: Tensor) -> Tensor:
    return input.abs()


class Histogram(NamedTuple):
    """What ``histogram`` returns, like ``torch.return_types.histogram``."""

    hist: Tensor
    bin_edges: Tensor


def histogram(
    input: Any,
    bins: int | Sequence[float] | Tensor = 100,
    *,
    range: tuple[float, float] | None = None,
    weight: Any = None,
    density: bool = False,
) -> Histogram:
    """Counts of ``input``'s elements in ``bins`` equal bins over ``range`` (default: min to max), or over
    given bin edges; ``density=True`` scales them to integrate to 1. Both results have the input's dtype
    (float, as PyTorch requires); no gradient."""
    data = np.asarray(input.data if isinstance(input, Tensor) else input)
    if data.dtype.kind != "f":
        raise TypeError(
            f"histogram needs a floating-point tensor (as PyTorch), got {data.dtype}; use .float()"
        )
    if isinstance(bins, Tensor):
        bins = bins.data
    weights = None if weight is None else np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    counts, edges = np.histogram(data.ravel(), bins=bins, range=range, weights=weights, density=density)
    return Histogram(_leaf(counts.astype(data.dtype)), _leaf(edges.astype(data.dtype)))
