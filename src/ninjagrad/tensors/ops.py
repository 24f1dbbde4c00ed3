"""Every primitive tensor operation: its forward and its backward, side by side, registered by name.

An op is two plain NumPy functions that know nothing about graphs:

- ``FORWARD[name](*arrays, **attrs) -> (out, saved)``: computes the result and returns whatever the backward
  will need (``saved``; a tuple of arrays and settings);
- ``BACKWARD[name](saved, dout) -> (dinput, ...)``: given the gradient of the output, returns one gradient
  per input, in argument order, each shaped exactly like its input.

The graph walk (``tensor.py``) looks the rules up by ``node._op`` and does nothing else (the registry idea of
HIPS autograd's ``defvjp``), so each rule can be read, and tested, on its own.

Each backward is written in the plain textbook form, one expression per input, the same form PyTorch's
``derivatives.yaml`` uses (``mul``: ``dout * b``; ``log``: ``dout / x``; ``tanh``: ``dout * (1 - y**2)``).
That matters beyond taste: the makemore manual backward mirrors these expressions and is checked against this
engine *bit for bit* in float32, and floating-point results depend on the order of operations. The formula
of each rule is in its docstring. Rules never write into ``dout``: it may be shared with another input's
gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ninjagrad.tensors.broadcast import unbroadcast

Saved = tuple[Any, ...]
ForwardRule = Callable[..., tuple[np.ndarray, Saved]]
BackwardRule = Callable[[Saved, np.ndarray], tuple[np.ndarray, ...]]

FORWARD: dict[str, ForwardRule] = {}
BACKWARD: dict[str, BackwardRule] = {}


def forward(name: str) -> Callable[[ForwardRule], ForwardRule]:
    """Register ``fn`` as the forward of op ``name``."""

    def register(fn: ForwardRule) -> ForwardRule:
        FORWARD[name] = fn
        return fn

    return register


def backward(name: str) -> Callable[[BackwardRule], BackwardRule]:
    """Register ``fn`` as the gradient rule of op ``name``."""

    def register(fn: BackwardRule) -> BackwardRule:
        BACKWARD[name] = fn
        return fn

    return register


def broadcast_error(op: str, a: np.ndarray, b: np.ndarray) -> ValueError:
    """The message for operands NumPy cannot broadcast, with both shapes and the fix."""
    return ValueError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together (aligned from the right, each "
        f"pair of sizes must be equal or one of them 1); reshape one operand, e.g. with .view(...) or "
        f"keepdim=True"
    )


def reduced_size(shape: tuple[int, ...], dim: int | tuple[int, ...] | None) -> int:
    """How many elements a reduction over ``dim`` combines into each output element."""
    if type(dim) is int:  # the common case (mean(0)), without building a tuple
        return shape[dim]
    if dim is None:
        return math.prod(shape)
    dims = (dim,) if isinstance(dim, int) else dim
    return math.prod(shape[d] for d in dims)


def expand_reduced(dout: np.ndarray, shape: tuple[int, ...], dim, keepdim: bool) -> np.ndarray:
    """Copy the gradient of a reduction back over the axes it reduced: each element that was combined into
    an output element receives that output's gradient."""
    if dim is not None and not keepdim:
        dout = np.expand_dims(dout, dim)
    dx = np.empty(shape, dtype=dout.dtype)
    dx[...] = dout
    return dx


# ---------------------------------------------------------------------------------------------------------
# Elementwise arithmetic (broadcasting). Each gradient is first formed at the broadcast shape, then summed
# back to its input's shape by `unbroadcast`.


@forward("add")
def add(a, b):
    try:
        return a + b, (a.shape, b.shape)
    except ValueError:
        raise broadcast_error("add", a, b) from None


@backward("add")
def add_backward(saved, dout):
    """da = dout, db = dout (summed back over broadcast axes)."""
    a_shape, b_shape = saved
    return unbroadcast(dout, a_shape), unbroadcast(dout, b_shape)


@forward("sub")
def sub(a, b):
    try:
        return a - b, (a.shape, b.shape)
    except ValueError:
        raise broadcast_error("sub", a, b) from None


@backward("sub")
def sub_backward(saved, dout):
    """da = dout, db = -dout (negated after the sum back to shape: the same numbers, one pass less)."""
    a_shape, b_shape = saved
    return unbroadcast(dout, a_shape), -unbroadcast(dout, b_shape)


@forward("mul")
def mul(a, b):
    try:
        return a * b, (a, b)
    except ValueError:
        raise broadcast_error("mul", a, b) from None


@backward("mul")
def mul_backward(saved, dout):
    """da = dout * b, db = dout * a."""
    a, b = saved
    return unbroadcast(dout * b, a.shape), unbroadcast(dout * a, b.shape)


@forward("div")
def div(a, b):
    try:
        return a / b, (a, b)
    except ValueError:
        raise broadcast_error("div", a, b) from None


@backward("div")
def div_backward(saved, dout):
    """da = dout / b, db = -dout * ((a / b) / b): PyTorch's form, which stays finite where b**2 would
    underflow (x / x at x = 1e-30)."""
    a, b = saved
    return unbroadcast(dout / b, a.shape), unbroadcast(-dout * ((a / b) / b), b.shape)


@forward("neg")
def neg(x):
    return -x, ()


@backward("neg")
def neg_backward(saved, dout):
    """dx = -dout."""
    return (-dout,)


@forward("pow")
def pow_(x, exponent: float):
    return x**exponent, (x, exponent)


@backward("pow")
def pow_backward(saved, dout):
    """The power rule with a constant exponent p: dx = dout * (p * x**(p - 1)).

    For p = 0 the result is the constant 1, so dx = 0 everywhere, as in PyTorch; the formula would give
    0 * 0**-1 = NaN at x = 0.
    """
    x, p = saved
    if p == 0:
        return (np.zeros_like(dout),)
    return (dout * (p * x ** (p - 1)),)


@forward("pow_tensor")
def pow_tensor(base, exponent):
    if exponent.dtype.kind in "iu" and base.dtype.kind in "iu" and np.any(exponent < 0):
        raise ValueError(  # NumPy's own ValueError would read as a broadcasting error below
            f"pow: integers to negative integer powers are not supported (the {exponent.dtype} exponent "
            f"holds {exponent.min()}); make the base float first: x.float() ** p"
        )
    try:
        y = base**exponent
    except ValueError:
        raise broadcast_error("pow", base, exponent) from None
    return y, (base, exponent, y)


@backward("pow_tensor")
def pow_tensor_backward(saved, dout):
    """y = x**p with p a tensor: dx = dout * (p * x**(p - 1)), dp = dout * y * log(x).

    Two limits are taken as PyTorch takes them, where the formulas would give 0 * inf = NaN: dx = 0 where
    p = 0 (x**0 is constant), and dp = 0 where x = 0 and p >= 0 (0**p stays 0, or 1, as p moves). A
    negative base still gives NaN in dp (and in the value, for a fractional p), as in PyTorch.
    """
    x, p, y = saved
    with np.errstate(divide="ignore", invalid="ignore"):  # 0**-1 and log(x <= 0): masked or honest NaN
        dx = np.where(p == 0, 0.0, dout * (p * x ** (p - 1)))
        dp = dout * np.where((x == 0) & (p >= 0), 0.0, y * np.log(x))  # a NaN dout stays NaN, as PyTorch
    return unbroadcast(dx, x.shape), unbroadcast(dp, p.shape)


# ---------------------------------------------------------------------------------------------------------
# Elementwise functions. Those whose derivative is simplest in terms of the output y save y, not x.


@forward("sqrt")
def sqrt(x):
    y = np.sqrt(x)
    return y, (y,)


@backward("sqrt")
def sqrt_backward(saved, dout):
    """dx = dout / (2 y), PyTorch's form (so sqrt(-0) = -0 has the gradient -inf there too)."""
    (y,) = saved
    return (dout / (2 * y),)


@forward("exp")
def exp(x):
    y = np.exp(x)
    return y, (y,)


@backward("exp")
def exp_backward(saved, dout):
    """dx = dout * y, since d exp(x)/dx = exp(x)."""
    (y,) = saved
    return (dout * y,)


@forward("log")
def log(x):
    return np.log(x), (x,)


@backward("log")
def log_backward(saved, dout):
    """dx = dout / x."""
    (x,) = saved
    return (dout / x,)


@forward("tanh")
def tanh(x):
    # np.tanh saturates to +-1 for large |x| (no overflow at x=1000, unlike (e^2x - 1)/(e^2x + 1)).
    y = np.tanh(x)
    return y, (y,)


@backward("tanh")
def tanh_backward(saved, dout):
    """dx = dout * (1 - y**2), the derivative of tanh written with its output y."""
    (y,) = saved
    if y.ndim == 0 or dout.dtype != y.dtype:  # NumPy makes scalars of 0-d results; a float64 dout promotes
        return (dout * (1 - y**2),)
    slope = np.square(y)  # y**2, then 1 - y**2 and the product in this one buffer: the same numbers
    np.subtract(1, slope, out=slope)
    return (np.multiply(dout, slope, out=slope),)


@forward("abs")
def abs_(x):
    return np.abs(x), (x,)


@backward("abs")
def abs_backward(saved, dout):
    """dx = dout * sign(x) (0 at x = 0, and at x = NaN, as PyTorch)."""
    (x,) = saved
    sign = np.sign(x)
    if np.isnan(sign).any():
        sign[np.isnan(sign)] = 0
    return (dout * sign,)


@forward("relu")
def relu(x):
    y = np.maximum(x, 0)
    return y, (y,)


@backward("relu")
def relu_backward(saved, dout):
    """dx = dout where the unit was active (y > 0), exactly 0 elsewhere (0 at x = 0, and a NaN arriving
    from upstream stays out of inactive units, as in PyTorch's ``threshold_backward``)."""
    (y,) = saved
    return (np.where(y <= 0, 0, dout),)


@forward("clamp")
def clamp(x, low, high):
    return np.clip(x, low, high), (x, low, high)


@backward("clamp")
def clamp_backward(saved, dout):
    """dx = dout where low <= x <= high, exactly 0 elsewhere (as PyTorch)."""
    x, low, high = saved
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside &= x >= low
    if high is not None:
        inside &= x <= high
    return (np.where(inside, dout, 0),)


@forward("sigmoid")
def sigmoid(x):
    # exp(-x) overflows to inf for x < -88 in float32, giving 1/inf = 0: the right limit, so silence it.
    with np.errstate(over="ignore"):
        y = 1 / (1 + np.exp(-x))
    return y, (y,)


@backward("sigmoid")
def sigmoid_backward(saved, dout):
    """dx = dout * y * (1 - y)."""
    (y,) = saved
    return (dout * y * (1 - y),)


@forward("cast")
def cast(x, dtype):
    return x.astype(dtype), (x.dtype,)


@backward("cast")
def cast_backward(saved, dout):
    """dx = dout, converted back to the input's dtype."""
    (dtype,) = saved
    return (dout.astype(dtype),)


@forward("clone")
def clone(x):
    return x.copy(), ()


@backward("clone")
def clone_backward(saved, dout):
    """dx = dout."""
    return (dout,)


@forward("masked_fill")
def masked_fill(x, mask, value):
    return np.where(mask, np.asarray(value, dtype=x.dtype), x), (mask,)


@backward("masked_fill")
def masked_fill_backward(saved, dout):
    """dx = dout where the mask is False, 0 where the value was written."""
    (mask,) = saved
    return (np.where(mask, 0, dout),)


@forward("where")
def where(a, b, condition):
    try:
        return np.where(condition, a, b), (condition, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: condition {condition.shape}, input {a.shape} and other {b.shape} cannot be broadcast "
            f"together"
        ) from None


@backward("where")
def where_backward(saved, dout):
    """da = dout where the condition holds, db = dout where it does not (each summed back to shape)."""
    condition, a_shape, b_shape = saved
    return unbroadcast(np.where(condition, dout, 0), a_shape), unbroadcast(
        np.where(condition, 0, dout), b_shape
    )


# ---------------------------------------------------------------------------------------------------------
# Matrix product.


@forward("matmul")
def matmul(a, b):
    try:
        if a.ndim > 2 and b.ndim == 2 and a.shape[-1] == b.shape[0]:  # (B, T, C) @ (C, H): one product
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[1:]), (a, b)
        return a @ b, (a, b)
    except ValueError:
        inner_a = a.shape[-1] if a.ndim else None
        inner_b = b.shape[-2] if b.ndim > 1 else (b.shape[0] if b.ndim else None)
        raise ValueError(
            f"matmul: shapes {a.shape} @ {b.shape} do not fit: the last size of the left ({inner_a}) must "
            f"equal the first size of the right ({inner_b}); transpose (.T) or reshape one operand"
        ) from None


@backward("matmul")
def matmul_backward(saved, dout):
    """For y = a @ b: da = dout @ b.T and db = a.T @ dout.

    Vectors are treated as NumPy does (a 1-D left operand is a row, a 1-D right operand a column), and
    stacked (batched) matrices transpose their last two axes, summing over broadcast batch axes.
    """
    a, b = saved
    if a.ndim == 2 and b.ndim == 2:  # the common case, in its textbook form
        return dout @ b.T, a.T @ dout
    if a.ndim > 2 and b.ndim == 2:  # (B, T, C) @ (C, H): the batch dims are rows of one matrix product
        a2 = a.reshape(-1, a.shape[-1])  # (B*T, C)
        dout2 = dout.reshape(-1, b.shape[1])  # (B*T, H)
        return (dout2 @ b.T).reshape(a.shape), a2.T @ dout2
    a2 = a[np.newaxis, :] if a.ndim == 1 else a  # (1, k) row
    b2 = b[:, np.newaxis] if b.ndim == 1 else b  # (k, 1) column
    dout2 = np.reshape(dout, np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
    da = dout2 @ np.swapaxes(b2, -1, -2)
    db = np.swapaxes(a2, -1, -2) @ dout2
    return unbroadcast(da, a2.shape).reshape(a.shape), unbroadcast(db, b2.shape).reshape(b.shape)


# ---------------------------------------------------------------------------------------------------------
# Reductions. `dim` is None (all axes), an int or a tuple of ints; `keepdim` as in PyTorch.


# The reductions call the ufuncs' reduce directly: what ndarray.sum and .max compute, bit for bit, minus a
# layer of Python.


@forward("sum")
def sum_(x, dim, keepdim):
    return np.add.reduce(x, axis=dim, keepdims=keepdim), (x.shape, dim, keepdim)


@backward("sum")
def sum_backward(saved, dout):
    """dx = dout copied to every element that was summed."""
    shape, dim, keepdim = saved
    return (expand_reduced(dout, shape, dim, keepdim),)


@forward("mean")
def mean(x, dim, keepdim):
    # The sum divided by n is what np.mean computes, bit for bit.
    return np.add.reduce(x, axis=dim, keepdims=keepdim) / reduced_size(x.shape, dim), (x.shape, dim, keepdim)


@backward("mean")
def mean_backward(saved, dout):
    """dx = dout / n copied to every element that was averaged (n of them)."""
    shape, dim, keepdim = saved
    return (expand_reduced(dout / reduced_size(shape, dim), shape, dim, keepdim),)


@forward("var")
def var(x, dim, keepdim, correction):
    n = reduced_size(x.shape, dim)
    centered = x - np.add.reduce(x, axis=dim, keepdims=True) / n
    # Too few numbers (n - correction <= 0, or an empty tensor) divide by 0: NaN, and NumPy warns, as
    # PyTorch does.
    y = np.add.reduce(centered**2, axis=dim, keepdims=keepdim) / max(n - correction, 0)
    return y, (centered, dim, keepdim, n - correction)


@backward("var")
def var_backward(saved, dout):
    """With dof = n - correction (n - 1 for the unbiased variance): dx = (2 / dof) * dout * (x - mean)."""
    centered, dim, keepdim, dof = saved
    if dim is not None and not keepdim:
        dout = np.expand_dims(dout, dim)  # broadcasting against `centered` then copies it along dim
    scale = 2 / dof if dof > 0 else math.inf  # too few numbers: 0 * inf gives NaN, as in PyTorch
    return (scale * dout * centered,)


@forward("std")
def std(x, dim, keepdim, correction):
    variance, (centered, dim, keepdim, dof) = var(x, dim, keepdim, correction)
    y = np.sqrt(variance)
    return y, (centered, dim, keepdim, dof, y)


@backward("std")
def std_backward(saved, dout):
    """y = sqrt(var): dvar = dout / (2 y), then var's rule; dvar = 0 where y = 0 (a constant input has a
    zero gradient, as in PyTorch, where 1 / (2 * 0) would give NaN)."""
    centered, dim, keepdim, dof, y = saved
    with np.errstate(divide="ignore", invalid="ignore"):
        dvar = np.where(y == 0, 0, dout / (2 * y))
    return var_backward((centered, dim, keepdim, dof), dvar)


@forward("max")
def max_(x, dim, keepdim, indices):
    """The maximum along ``dim`` at ``indices`` (the argmax, kept as an axis of size 1; the caller computes
    it once so that the returned values and indices agree)."""
    values = np.take_along_axis(x, indices, axis=dim)
    if not keepdim:
        values = np.squeeze(values, axis=dim)
    return values, (x.shape, dim, indices)


@backward("max")
def max_backward(saved, dout):
    """dx = dout at the one index per row that won (the first on ties, as PyTorch), zero elsewhere."""
    shape, dim, indices = saved
    dx = np.zeros(shape, dtype=dout.dtype)
    np.put_along_axis(dx, indices, np.reshape(dout, indices.shape), axis=dim)
    return (dx,)


FORWARD["min"] = max_  # the values at the argmin: the same selection, the same gradient rule
BACKWARD["min"] = max_backward


@forward("max_all")
def max_all(x):
    y = x.max()
    return y, (x, y)


@backward("max_all")
def max_all_backward(saved, dout):
    """The maximum of all elements: dout is shared evenly among the elements equal to it (as PyTorch's
    ``max()`` with no ``dim``; the maximum is NaN if any element is, and then the NaNs share it). The
    others get exactly 0, even when dout is NaN."""
    x, y = saved
    winners = np.isnan(x) if np.isnan(y) else x == y
    return (np.where(winners, dout / np.count_nonzero(winners), 0),)


@forward("min_all")
def min_all(x):
    y = x.min()
    return y, (x, y)


BACKWARD["min_all"] = max_all_backward  # shared evenly among the elements equal to the minimum


# ---------------------------------------------------------------------------------------------------------
# Shape and indexing. Forward results may be views of the input, as in PyTorch.


@forward("reshape")
def reshape(x, shape):
    try:
        return x.reshape(shape), (x.shape,)
    except ValueError:
        raise ValueError(
            f"view/reshape: cannot arrange a tensor of shape {x.shape} ({x.size} elements) as "
            f"{tuple(shape)}; the sizes must multiply to {x.size} (one size may be -1 to infer it)"
        ) from None


@backward("reshape")
def reshape_backward(saved, dout):
    """dx = dout arranged back into the input's shape."""
    (shape,) = saved
    return (dout.reshape(shape),)


@forward("permute")
def permute(x, dims):
    return np.transpose(x, dims), (dims,)


@backward("permute")
def permute_backward(saved, dout):
    """dx = dout with the axes put back: the inverse permutation (for .T, dout.T)."""
    (dims,) = saved
    return (np.transpose(dout, np.argsort(dims)),)


def picks_rows(x: np.ndarray, index: Any) -> bool:
    """Whether ``x[index]`` picks whole rows with one integer array (the lecture's ``C[Xb]``): then
    ``take`` along dim 0 makes the same copy without NumPy's general indexing machinery."""
    return type(index) is np.ndarray and index.dtype.kind == "i" and index.ndim > 0 and x.ndim > 0


@forward("getitem")
def getitem(x, index, advanced):
    """``x[index]``; ``advanced`` says whether the index holds integer/boolean arrays (so may repeat)."""
    if picks_rows(x, index):
        return x.take(index, axis=0), (x.shape, index, "rows")  # the same IndexError when out of range
    return x[index], (x.shape, index, advanced)


@backward("getitem")
def getitem_backward(saved, dout):
    """dx = zeros, with dout added back at the indexed positions.

    With integer arrays an element can be picked several times (``C[Xb]`` picks the same character embedding
    for every occurrence), and each pick contributes: ``np.add.at`` is the scatter-*add* that sums them,
    where ``dx[index] += dout`` would keep only the last write. Basic indices (ints, slices) never repeat.
    Whole rows are scattered element by element into the flat array, where ``np.add.at`` is fastest: each
    element still receives its picks in the same order, so the sums are the same to the bit.
    """
    shape, index, advanced = saved
    if advanced == "rows":
        rows, row_size = shape[0], math.prod(shape[1:])
        # (picks * row_size,) every element picked; a negative row r gives r * row_size + column, which
        # counts from the end of the flat array just as r counts from the last row
        flat = (index.reshape(-1, 1) * row_size + np.arange(row_size)).reshape(-1)
        dx = np.zeros(rows * row_size, dtype=dout.dtype)
        np.add.at(dx, flat, dout.reshape(-1))
        return (dx.reshape(shape),)
    dx = np.zeros(shape, dtype=dout.dtype)
    if advanced:
        np.add.at(dx, index, dout)
    else:
        dx[index] = dout
    return (dx,)


@forward("expand")
def expand(x, shape):
    return np.broadcast_to(x, shape), (x.shape,)


@backward("expand")
def expand_backward(saved, dout):
    """dx = dout summed over the dims that were expanded (broadcasting's rule)."""
    (shape,) = saved
    return (unbroadcast(dout, shape),)


@forward("repeat")
def repeat(x, reps):
    return np.tile(x, reps), (x.shape, reps)


@backward("repeat")
def repeat_backward(saved, dout):
    """Each dim of the result is (copy, element) = (reps[i], size[i]): dx sums dout over the copies."""
    shape, reps = saved
    padded = (1,) * (len(reps) - len(shape)) + shape
    interleaved = [n for pair in zip(reps, padded, strict=True) for n in pair]  # (r0, s0, r1, s1, ...)
    return (dout.reshape(interleaved).sum(axis=tuple(range(0, len(interleaved), 2))).reshape(shape),)


@forward("cat")
def cat(*arrays, dim):
    try:
        return np.concatenate(arrays, axis=dim), ([a.shape[dim] for a in arrays], dim)
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(
            f"cat: shapes {shapes} must be equal except in dim {dim}, the dim they are joined along"
        ) from None


@backward("cat")
def cat_backward(saved, dout):
    """Each input gets its own slice of dout along dim."""
    sizes, dim = saved
    return tuple(np.split(dout, np.cumsum(sizes)[:-1], axis=dim))


@forward("tril")
def tril(x, diagonal):
    return np.tril(x, diagonal), (diagonal,)


@backward("tril")
def tril_backward(saved, dout):
    """dx = tril(dout): the elements above the diagonal were zeroed, so they get no gradient."""
    (diagonal,) = saved
    return (np.tril(dout, diagonal),)
