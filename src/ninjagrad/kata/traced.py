"""The autograd reference: an exercise's own forward text, run on an autograd engine instead of NumPy.

As HIPS autograd traces NumPy code, the forward lines run unchanged with ``np`` (and ``math``) bound to
:data:`numpy_on`'s stand-in and each given float array (or number) made a leaf: ``Traced`` wraps the
engine's tensor and answers NumPy's spellings (``sum(0, keepdims=True)``, ``max(1, keepdims=True)``,
``var(ddof=1)``) with PyTorch's, which ninjagrad's Tensor and torch.Tensor both speak. There is no second
copy of any forward pass.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from ninjagrad.kata.exercise import Exercise, stored_names


@dataclass(frozen=True)
class AutogradBackend:
    """An autograd library that speaks PyTorch's names, seen through four conversions."""

    name: str  # shown in reports, e.g. "ninjagrad" or "torch 2.13.0"
    parameter: Callable[[np.ndarray], Any]  # a float array -> a leaf tensor that requires grad (same dtype)
    constant: Callable[[np.ndarray], Any]  # a float array -> a tensor that does not
    indices: Callable[[np.ndarray], Any]  # an integer array -> something the library can index with
    gradient: Callable[[Any], np.ndarray | None]  # a tensor after backward() -> its .grad as an array


def ninjagrad_backend() -> AutogradBackend:
    """ninjagrad's own Tensor engine: the default reference, expected to agree bit for bit."""
    from ninjagrad.tensors import Tensor

    return AutogradBackend(
        name="ninjagrad",
        parameter=lambda array: Tensor(array, requires_grad=True, dtype=array.dtype),
        constant=lambda array: Tensor(array, dtype=array.dtype),
        indices=np.asarray,
        gradient=lambda tensor: None if tensor.grad is None else np.asarray(tensor.grad),
    )


class Traced:
    """An engine tensor under NumPy's names (only those the exercises' forward lines use)."""

    __array_ufunc__ = None  # `ndarray * Traced` gives way to Traced.__rmul__

    def __init__(self, tensor: Any, backend: AutogradBackend):
        self.tensor, self.backend = tensor, backend

    def _wrap(self, tensor: Any) -> Traced:
        return Traced(tensor, self.backend)

    def _lift(self, other: Any) -> Any:
        if isinstance(other, Traced):
            return other.tensor
        if isinstance(other, np.ndarray):
            return self.backend.constant(other.astype(self.dtype) if other.dtype.kind in "fiub" else other)
        return other

    shape = property(lambda self: tuple(self.tensor.shape))
    ndim = property(lambda self: len(self.tensor.shape))
    dtype = property(lambda self: np.dtype(str(self.tensor.dtype).replace("torch.", "")))
    T = property(lambda self: self._wrap(self.tensor.T))

    def __add__(self, other):
        return self._wrap(self.tensor + self._lift(other))

    def __radd__(self, other):
        return self._wrap(self._lift(other) + self.tensor)

    def __sub__(self, other):
        return self._wrap(self.tensor - self._lift(other))

    def __rsub__(self, other):
        return self._wrap(self._lift(other) - self.tensor)

    def __mul__(self, other):
        return self._wrap(self.tensor * self._lift(other))

    def __rmul__(self, other):
        return self._wrap(self._lift(other) * self.tensor)

    def __truediv__(self, other):
        return self._wrap(self.tensor / self._lift(other))

    def __rtruediv__(self, other):
        return self._wrap(self._lift(other) / self.tensor)

    def __pow__(self, other):
        return self._wrap(self.tensor ** self._lift(other))

    def __neg__(self):
        return self._wrap(-self.tensor)

    def __matmul__(self, other):
        return self._wrap(self.tensor @ self._lift(other))

    def __rmatmul__(self, other):
        return self._wrap(self._lift(other) @ self.tensor)

    def _values(self) -> np.ndarray:
        return np.asarray(self.tensor.detach() if hasattr(self.tensor, "detach") else self.tensor)

    def __gt__(self, other):  # comparisons have no gradient: plain arrays
        return self._values() > np.asarray(other)

    def __lt__(self, other):
        return self._values() < np.asarray(other)

    def __ge__(self, other):
        return self._values() >= np.asarray(other)

    def __le__(self, other):
        return self._values() <= np.asarray(other)

    def __getitem__(self, index):
        parts = index if isinstance(index, tuple) else (index,)
        parts = tuple(
            self.backend.indices(np.asarray(p)) if isinstance(p, (np.ndarray, range, list)) else p
            for p in parts
        )
        return self._wrap(self.tensor[parts if isinstance(index, tuple) else parts[0]])

    def sum(self, axis=None, keepdims=False):
        return self._wrap(self.tensor.sum() if axis is None else self.tensor.sum(axis, keepdim=keepdims))

    def mean(self, axis=None, keepdims=False):
        return self._wrap(self.tensor.mean() if axis is None else self.tensor.mean(axis, keepdim=keepdims))

    def max(self, axis=None, keepdims=False):
        if axis is None:
            return self._wrap(self.tensor.max())
        return self._wrap(self.tensor.max(axis, keepdim=keepdims).values)

    def var(self, axis=None, keepdims=False, ddof=0):
        return self._wrap(self.tensor.var(axis, keepdim=keepdims, correction=ddof))

    def reshape(self, *shape):
        return self._wrap(self.tensor.reshape(*shape))

    def swapaxes(self, a, b):
        return self._wrap(self.tensor.transpose(a, b))


def _where(condition, x, y):
    """``np.where(condition, x, y)`` for a constant condition: masked_fill written with primitives (the
    gradient reaches x where the condition holds, nothing elsewhere)."""
    condition = np.asarray(condition)
    traced = x if isinstance(x, Traced) else y
    if isinstance(x, Traced) and isinstance(y, Traced):
        raise NotImplementedError("np.where of two traced arrays")
    keep = condition if traced is x else ~condition
    other = y if traced is x else x
    filler = np.where(keep, 0.0, np.broadcast_to(other, np.broadcast_shapes(condition.shape, traced.shape)))
    return traced * keep.astype(traced.dtype) + filler.astype(traced.dtype)


def _unary(name: str, fallback: Callable) -> Callable:
    def apply(x):
        if isinstance(x, Traced):
            return x._wrap(getattr(x.tensor, name)())
        if hasattr(x, name):  # a Value
            return getattr(x, name)()
        return fallback(x)

    return apply


def numpy_on() -> SimpleNamespace:
    """The stand-in for ``np`` and ``math`` in a traced forward pass: NumPy, except for traced values."""
    stand_in = SimpleNamespace(**{name: getattr(np, name) for name in dir(np) if not name.startswith("_")})
    stand_in.tanh = _unary("tanh", np.tanh)
    stand_in.exp = _unary("exp", np.exp)
    stand_in.log = _unary("log", np.log)
    stand_in.sqrt = _unary("sqrt", np.sqrt)
    stand_in.where = _where
    stand_in.pi, stand_in.e = math.pi, math.e
    return stand_in


def autograd_gradients(
    exercise: Exercise, namespace: Mapping[str, Any], backend: AutogradBackend | None = None
) -> dict[str, np.ndarray]:
    """Every gradient the exercise asks for, by forward name, from autograd on the forward text.

    ``namespace`` is the set-up's (the given numbers by name); the forward lines run on top of it, each
    given float value becoming a leaf, and the exercise's outputs are differentiated.
    """
    if exercise.engine == "value":
        from ninjagrad.scalar import Value

        leaf: Callable[[Any], Any] = lambda value: Value(float(value))  # noqa: E731
        read: Callable[[Any], Any] = lambda node: np.float64(node.grad)  # noqa: E731
    else:
        backend = backend or ninjagrad_backend()
        leaf = lambda value: Traced(backend.parameter(np.asarray(value)), backend)  # noqa: E731
        read = lambda node: backend.gradient(node.tensor) if isinstance(node, Traced) else None  # noqa: E731
    stand_in = numpy_on()

    def lift(value):
        """A given float array (a float, in the scalar exercise) becomes a leaf; the rest stays as it is."""
        if exercise.engine == "value":
            return leaf(value) if isinstance(value, (float, np.floating)) else value
        return leaf(value) if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value

    traced = {key: lift(value) for key, value in namespace.items() if not key.startswith("__")}
    traced |= {"np": stand_in, "math": stand_in, "__builtins__": __builtins__}
    sections = exercise.sections
    for node in sections.forward:
        exec(compile(ast.Module([node], []), sections.path, "exec"), traced)
        for name in stored_names(node):  # a number written out in the forward lines is given as well
            if (
                isinstance(traced[name], (float, int))
                and not isinstance(traced[name], bool)
                and name in namespace
            ):
                traced[name] = lift(float(namespace[name]))
    wanted = {g.target for g in exercise.gradients}
    if exercise.engine != "value":
        for name in wanted:
            node = traced.get(name)
            if isinstance(node, Traced) and not _is_leaf(node):
                node.tensor.retain_grad()
    for output, upstream in exercise.outputs:
        node = traced[output]
        if exercise.engine == "value":
            node.backward()
        elif upstream is None:
            node.tensor.backward()
        else:
            node.tensor.backward(backend.constant(np.asarray(namespace[upstream])))
    gradients = {}
    for gradient in exercise.gradients:
        node = traced[gradient.target]
        value = read(node)
        gradients[gradient.name] = (
            np.zeros(np.shape(namespace_value(node))) if value is None else np.asarray(value)
        )
    return gradients


def _is_leaf(node: Traced) -> bool:
    return bool(getattr(node.tensor, "is_leaf", False))


def namespace_value(node: Any) -> Any:
    return np.asarray(node.tensor) if isinstance(node, Traced) else getattr(node, "data", node)
