"""PyTorch's dtype names and its type-promotion rules, on NumPy dtypes.

A ninjagrad dtype *is* a NumPy dtype (``ninjagrad.float32 == np.float32``). What PyTorch adds, and NumPy does
not do, is its promotion (``torch.result_type``): operands come in three groups, tensors with dims,
0-d tensors and plain numbers, and a later group only changes the result if it is of a higher *category*
(bool < integer < floating). So ``int64 * float32`` is float32 (NumPy: float64), a float32 tensor times a
0-d float64 tensor stays float32, ``int_tensor * 0.5`` is float32 (the default float) and
``int_tensor + 1`` keeps the tensor's integer type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

DEFAULT_FLOAT = float32  # what Python floats, and float lists, become (torch.get_default_dtype())

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def category(dtype: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating point."""
    return _CATEGORY[dtype.kind]


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """``torch.promote_types``: the higher category wins; within one, the wider type (int32, int64: int64)."""
    if a == b:
        return a
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """Join a group's dtype with a lower-priority group's: the lower one counts only if its category is
    higher (PyTorch's ``combine_categories``)."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or _CATEGORY[lower.kind] > _CATEGORY[higher.kind]:
        return promote(higher, lower)
    return higher


def number_dtype(value: Any) -> np.dtype:
    """The dtype a plain number (or a NumPy scalar or array met in an op) stands for: a float is the default
    float, an integer int64 (NumPy integer arrays keep their width), a bool bool."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    if isinstance(value, float):
        return DEFAULT_FLOAT
    dtype = np.asarray(value).dtype
    if dtype.kind not in _CATEGORY:
        raise TypeError(f"a tensor op needs numbers, got {type(value).__name__} of dtype {dtype}")
    return DEFAULT_FLOAT if dtype.kind == "f" else dtype


def result_dtype(*dtypes_and_ndims: tuple[np.dtype, int]) -> np.dtype:
    """The dtype of an op on tensors given as (dtype, ndim) pairs (``torch.result_type``)."""
    dimmed: np.dtype | None = None
    zero: np.dtype | None = None
    for dtype, ndim in dtypes_and_ndims:
        if ndim:
            dimmed = dtype if dimmed is None else promote(dimmed, dtype)
        else:
            zero = dtype if zero is None else promote(zero, dtype)
    return combine(dimmed, zero)
