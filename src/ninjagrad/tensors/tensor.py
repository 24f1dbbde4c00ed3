"""The Tensor: a NumPy array that remembers how it was made, and the backward walk over those records.

Names and signatures follow PyTorch (``dim=``, ``keepdim=``, ``.T``, ``.view``, ``retain_grad()``) so the
makemore lectures' code ports line for line. The arithmetic itself lives in ``ops.py``, one registered
forward/backward pair per op; this file only builds graph nodes and walks them.

Graph nodes follow the protocol shared with the scalar ``Value`` and ``draw_dot``: ``_prev`` (the input
tensors, in argument order), ``_op`` (the op's name, ``''`` for leaves) and ``label``.

Semantics, as in PyTorch:

- a graph is recorded only when some input requires a gradient, and never inside ``no_grad()``;
- ``backward()`` fills ``.grad`` (a tensor) of the leaves, adding to what is already there (zero it between
  steps); interior tensors get a ``.grad`` only if ``retain_grad()`` was called on them;
- after ``backward()`` the graph is freed (interior ``_prev`` emptied, saved arrays dropped) unless
  ``retain_graph=True``; walking a freed graph again is an error that says so;
- dtypes promote as in PyTorch (``dtypes.py``).

One deliberate difference: ``.data`` is the NumPy array itself (PyTorch gives a tensor), so the manual
backward pass, the kata and the drawings work on plain arrays; ``W.data += -lr * W.grad`` works as in torch.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from ninjagrad.graph import topological_order
from ninjagrad.tensors import dtypes, ops

DEFAULT_FLOAT = dtypes.DEFAULT_FLOAT  # Python floats and float lists become float32 (PyTorch's default)


class _GradMode(threading.local):
    """Whether ops record a graph, per thread; ``no_grad()`` switches it off for a ``with`` block."""

    enabled = True


_grad_mode = _GradMode()

# In-place writes (x += 1 under no_grad(), x[i] = v, or either through a .detach() that shares the data)
# are stamped, per array written into, from the clock that also stamps each recorded node. A node whose
# saved arrays (what its backward reads: mul's inputs, exp's result) were written after the node was made
# would compute its gradient from the new numbers, so backward() refuses it: PyTorch's version counter,
# kept per array. (Writes through .data are not tracked, as in PyTorch.)
_clock = itertools.count(1)
_writes: dict[int, tuple[int, weakref.ref]] = {}  # id(base array) -> (stamp of its last write, the array)
_prune_at = [4096]  # forget the arrays that are gone once this many were written into


def _base(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory ``array`` views (``x[0]``, ``x.T`` and ``x`` share one)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _record_write(array: np.ndarray) -> None:
    """Stamp a write into ``array``'s memory."""
    if len(_writes) >= _prune_at[0]:
        for key in [key for key, (_, ref) in _writes.items() if ref() is None]:
            del _writes[key]
        _prune_at[0] = max(4096, 2 * len(_writes))
    base = _base(array)
    _writes[id(base)] = (next(_clock), weakref.ref(base))


def _written_after(node: Tensor) -> np.ndarray | None:
    """The first array ``node`` saved for its backward whose memory was written after ``node`` was made."""
    for saved in node._saved:
        if type(saved) is np.ndarray:
            base = _base(saved)
            write = _writes.get(id(base))
            if write is not None and write[0] > node._stamp and write[1]() is base:
                return saved
    return None


class no_grad:
    """Context manager in which tensor ops record no graph: for SGD updates and evaluation.

    Results computed inside are plain leaves with ``requires_grad=False``, so they cost no memory for the
    backward pass and cannot be backpropagated through. As in PyTorch it also decorates a function
    (``@no_grad()`` above an evaluation function, as in the makemore lectures), generator functions
    included: each step of the generator runs without grad, the caller's code between steps with it.
    """

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):
            return _generator_without_grad(fn)

        @functools.wraps(fn)
        def without_grad(*args: Any, **kwargs: Any) -> Any:
            with no_grad():  # a fresh context per call, so recursive and concurrent calls nest correctly
                return fn(*args, **kwargs)

        return without_grad

    def __enter__(self) -> no_grad:
        self._previous = _grad_mode.enabled
        _grad_mode.enabled = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        _grad_mode.enabled = self._previous


def _generator_without_grad(fn: Callable) -> Callable:
    """Wrap a generator function so that its body runs under ``no_grad()``, one step at a time."""

    @functools.wraps(fn)
    def generator_without_grad(*args: Any, **kwargs: Any) -> Any:
        with no_grad():
            generator = fn(*args, **kwargs)
        step, message = generator.send, None
        while True:
            try:
                with no_grad():
                    item = step(message)
            except StopIteration as stop:
                return stop.value
            try:
                message = yield item
                step = generator.send
            except GeneratorExit:
                with no_grad():
                    generator.close()
                raise
            except BaseException as error:  # thrown in by the caller: pass it to the generator
                step, message = generator.throw, error

    return generator_without_grad


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``."""
    return _grad_mode.enabled


class MaxResult(NamedTuple):
    """What ``Tensor.max(dim)`` returns, like ``torch.return_types.max``: unpack it or use the names."""

    values: Tensor
    indices: Tensor


class MinResult(NamedTuple):
    """What ``Tensor.min(dim)`` returns, like ``torch.return_types.min``."""

    values: Tensor
    indices: Tensor


def _check_can_require_grad(dtype: np.dtype) -> None:
    if dtype.kind != "f":
        raise TypeError(
            f"only floating-point tensors can require gradients, this one is {dtype}; integer tensors hold "
            f"indices (like Xb, Yb). For values, make it float: Tensor(data, dtype=np.float32)"
        )


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """A fresh array for ``Tensor(data)``, typed as ``torch.tensor(data)`` types it: a NumPy array or scalar
    keeps its dtype, Python floats (and lists of them) become float32, Python ints int64."""
    if dtype is not None:
        return np.array(data, dtype=np.dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    array = np.array(data)
    if array.dtype.kind == "f" and array.dtype != DEFAULT_FLOAT:
        return array.astype(DEFAULT_FLOAT)
    if array.dtype.kind == "i" and array.dtype != dtypes.int64:  # a C long is 32 bits on Windows
        return array.astype(dtypes.int64)
    return array


# Which NumPy ufuncs are Tensor arithmetic: `ndarray * tensor` arrives here and becomes `tensor.__rmul__`.
_UFUNC_METHODS = {
    np.add: ("__add__", "__radd__"),
    np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"),
    np.true_divide: ("__truediv__", "__rtruediv__"),
    np.power: ("__pow__", "__rpow__"),
    np.matmul: ("__matmul__", "__rmatmul__"),
}


class Tensor:
    """An n-dimensional array with an autograd record. See the module docstring for the semantics.

    Comparisons (``==``, ``<``, ...) are elementwise and give bool tensors; tensors hash by identity, as in
    PyTorch, so they can key dicts.
    """

    __slots__ = (
        "data", "_grad", "label", "_requires_grad", "_prev", "_op", "_saved", "_retains_grad", "_stamp",
    )  # fmt: skip

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, label: str = ""):
        """``data``: a number, nested lists, an array or a Tensor (copied). Typed as ``torch.tensor``: an
        array keeps its dtype, Python floats become float32 and Python ints int64, unless ``dtype`` says
        otherwise. ``label`` names the node in drawings."""
        if isinstance(data, Tensor):
            data = data.data
        array = _as_array(data, dtype)  # a copy: the tensor owns its memory, like torch.tensor
        if array.dtype.kind not in "fiub":
            raise TypeError(
                f"Tensor holds numbers (bool, integer or float), got data of dtype {array.dtype}; pass a "
                f"number, nested lists of numbers or a numeric array"
            )
        if requires_grad:
            _check_can_require_grad(array.dtype)
        self.data = array
        self._grad: Tensor | None = None
        self.label = label
        self._requires_grad = bool(requires_grad)
        self._prev: tuple[Tensor, ...] = ()
        self._op = ""
        self._saved: tuple | None = None
        self._retains_grad = False
        self._stamp = 0  # when it was recorded as a node (see _clock)

    # ---- attributes --------------------------------------------------------------------------------------

    @property
    def grad(self) -> Tensor | None:
        """The gradient, a tensor of this tensor's shape and dtype, filled by ``backward()``; set it to
        ``None`` to start afresh (``p.grad = None``)."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = None
            return
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
        if array.shape != self.shape:
            raise ValueError(f"assigned grad has shape {array.shape}, the tensor has shape {self.shape}")
        if isinstance(value, Tensor) and array.dtype != self.data.dtype:  # a grad has its tensor's dtype
            raise TypeError(
                f"assigned grad has dtype {array.dtype}, the tensor has dtype {self.dtype} (PyTorch refuses "
                f"it too); convert it first: .to({self.dtype})"
            )
        self._grad = value if isinstance(value, Tensor) else _leaf(np.array(array, dtype=self.data.dtype))

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as a parameter (or not). Returns self, as in PyTorch."""
        if self._op and not requires_grad:  # (True on a tensor made in the graph changes nothing)
            raise RuntimeError(
                f"requires_grad can only be changed on leaf tensors; this one was made by {self._op!r}. "
                f"Use .detach() to get a leaf"
            )
        if requires_grad:
            _check_can_require_grad(self.data.dtype)
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or the size of one dim (``x.size(0)``)."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_dims(dim, self.ndim)] if self.ndim else 1

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        """The number of dims (``x.ndim``)."""
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return not self._op

    def numel(self) -> int:
        """The number of elements: ``sum(p.numel() for p in parameters)`` counts a model's parameters."""
        return self.data.size

    nelement = numel  # the lectures' spelling

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        """The rows (``for row in x``), each a tensor in the graph; a 0-d tensor has none, and says so
        (Python's fallback would stop at the first failing index and yield nothing)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor; use .item() for its value")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        """The truth of a one-element tensor (``if loss > 3.0:``), as PyTorch; more elements are ambiguous."""
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} ({self.data.size} elements) is "
                f"ambiguous; test one element (t[i] > 0) or a reduction (t.max() > 0, t.sum().item() == 0)"
            )
        return bool(self.data)

    __hash__ = object.__hash__  # by identity, although == is elementwise (as in PyTorch)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=20)
        extra = (
            f", grad_fn={self._op!r}" if self._op else (", requires_grad=True" if self._requires_grad else "")
        )
        label = f", label={self.label!r}" if self.label else ""
        return f"Tensor({body}, dtype={self.data.dtype}{extra}{label})"

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor's number; an empty spec gives the repr."""
        if spec and self.data.size == 1:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(tensor)`` is the data (no gradient comes along)."""
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy meeting a tensor: ``ndarray * tensor`` is tensor arithmetic (in the graph); anything else
        (``np.abs(t)``, ``W.data += -lr * W.grad``) runs on the data and gives arrays, with no graph."""
        if method == "__call__" and len(inputs) == 2:
            a, b = inputs
            if not kwargs:
                methods = _UFUNC_METHODS.get(ufunc)
                if methods is not None:
                    return getattr(a, methods[0])(b) if isinstance(a, Tensor) else getattr(b, methods[1])(a)
            elif type(b) is Tensor and type(a) is np.ndarray and kwargs.keys() == {"out"}:
                # W.data -= lr * W.grad: NumPy asks with out=(W.data,); the SGD update, answered directly
                out = kwargs["out"]
                if len(out) == 1 and type(out[0]) is np.ndarray:
                    return ufunc(a, b.data, out=out)
        inputs = [x.data if isinstance(x, Tensor) else x for x in inputs]
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(x.data if isinstance(x, Tensor) else x for x in out)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element; this one has shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """A one-element integer tensor can index a list (``itos[ix]``) or size a range."""
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors of a single element can be an index, this is {self.dtype}")
        return int(self.item())

    def tolist(self) -> Any:
        """The data as (nested) Python lists of numbers."""
        return self.data.tolist()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def detach(self) -> Tensor:
        """A leaf sharing this tensor's data, cut from the graph."""
        return _leaf(self.data)

    def clone(self) -> Tensor:
        """A copy of the data, in the graph (the gradient passes through unchanged)."""
        return apply_op("clone", (self,))

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this interior tensor after ``backward()`` (leaves always keep theirs)."""
        if not self._requires_grad:
            raise RuntimeError(
                "retain_grad() on a tensor that does not require grad: no input of its graph has "
                "requires_grad=True (or it was computed under no_grad())"
            )
        self._retains_grad = True

    # ---- backward ----------------------------------------------------------------------------------------

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor: fill ``.grad`` of every leaf it depends on.

        ``gradient`` is d(something)/d(self); it may be omitted only for a one-element tensor (a loss), where
        it is 1. Nodes are visited in reverse topological order (``ninjagrad.graph.topological_order``), so a
        node's gradient is complete, every use having contributed, before it is passed on.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of its graph has "
                "requires_grad=True (or it was computed under no_grad()); create the parameters with "
                "Tensor(..., requires_grad=True)"
            )
        if gradient is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a one-element tensor (a loss), this one has shape "
                    f"{self.shape}; reduce it first (.sum(), .mean()) or pass gradient= of shape {self.shape}"
                )
            gradient = np.ones_like(self.data)
        else:
            gradient = np.asarray(
                gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.data.dtype
            )
            if gradient.shape != self.shape:
                raise ValueError(
                    f"backward(): gradient shape {gradient.shape} != tensor shape {self.shape}; pass a "
                    f"gradient of the tensor's own shape"
                )
        rules = ops.BACKWARD
        grads = {self: gradient}  # gradients still being accumulated, by node (hashed by identity)
        take, pending = grads.pop, grads.get
        for node in reversed(topological_order(self)):
            dnode = take(node, None)
            if dnode is None:  # no gradient reached it (it needs none)
                continue
            if not node._prev:
                if node._op:
                    raise RuntimeError(
                        f"backward() through a freed graph (at a {node._op!r} node): the graph is freed by "
                        f"the first backward(); pass retain_graph=True to the first call to walk it again"
                    )
                node._accumulate_grad(dnode)
                continue
            if node._retains_grad:
                node._accumulate_grad(dnode)
            if _writes:
                _check_not_written(node)
            dinputs = rules[node._op](node._saved, dnode)
            for parent, dparent in zip(node._prev, dinputs, strict=True):
                if parent._requires_grad:
                    earlier = pending(parent)
                    grads[parent] = dparent if earlier is None else earlier + dparent
            if not retain_graph:
                node._prev = ()
                node._saved = None

    def _accumulate_grad(self, dself: np.ndarray) -> None:
        """Add to ``.grad``, in this tensor's dtype (a float32 leaf of a float64 op gets a float32 grad)."""
        if dself.shape != self.data.shape:  # a rule returned a wrongly shaped gradient: a ninjagrad bug
            raise RuntimeError(
                f"internal: gradient of shape {dself.shape} for a tensor of shape {self.shape}"
            )
        if self._grad is None:
            self._grad = _leaf(np.array(dself, dtype=self.data.dtype))  # a copy this tensor owns
        else:
            self._grad.data += dself

    # ---- dtypes ------------------------------------------------------------------------------------------

    def _operands(self, other: Any) -> tuple[Tensor, Tensor]:
        """``self`` and ``other`` as tensors of the dtype PyTorch's promotion gives (``dtypes.py``).

        Numbers, and NumPy scalars and arrays, count as plain numbers: a float32 tensor keeps float32
        (``x * 0.5``, ``x * np.float64(0.1)``), an integer tensor meeting a float becomes float32.
        """
        mine = self.data.dtype
        if isinstance(other, Tensor):
            theirs = other.data.dtype
            if theirs == mine:
                return self, other
            if (self.data.ndim == 0) == (other.data.ndim == 0):
                dtype = dtypes.promote(mine, theirs)
            elif self.data.ndim:
                dtype = dtypes.combine(mine, theirs)
            else:
                dtype = dtypes.combine(theirs, mine)
            return self._as(dtype), other._as(dtype)
        if mine.kind == "f" and isinstance(other, (int, float)):  # the common case: x * 0.5
            return self, _leaf(np.asarray(other, dtype=mine))
        if isinstance(other, (list, tuple)):
            other = _as_array(other, None)
        dtype = dtypes.combine(mine, dtypes.number_dtype(other))
        return self._as(dtype), _leaf(np.asarray(other, dtype=dtype))

    def _as(self, dtype: np.dtype) -> Tensor:
        """This tensor in ``dtype``: a differentiable cast if it needs a gradient, else a plain copy."""
        if dtype == self.data.dtype:
            return self
        if self._requires_grad:
            return self.to(dtype)
        return _leaf(self.data.astype(dtype))

    def _floating(self) -> Tensor:
        """Integer and bool tensors become float32 for exp, log, tanh... (PyTorch's rule for such ops)."""
        return self if self.data.dtype.kind == "f" else _leaf(self.data.astype(DEFAULT_FLOAT))

    def to(self, dtype: Any) -> Tensor:
        """This tensor in another dtype: differentiable between float dtypes; an integer or bool result is
        cut from the graph (its gradient would be zero), as in PyTorch."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        if dtype.kind != "f":
            return _leaf(self.data.astype(dtype))
        return apply_op("cast", (self,), dtype=dtype)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    # ---- arithmetic --------------------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return apply_op("add", self._operands(other))

    def __radd__(self, other: Any) -> Tensor:
        a, b = self._operands(other)
        return apply_op("add", (b, a))

    def __sub__(self, other: Any) -> Tensor:
        _check_no_bool("subtraction (-)", self, other)
        return apply_op("sub", self._operands(other))

    def __rsub__(self, other: Any) -> Tensor:
        _check_no_bool("subtraction (-)", self, other)
        a, b = self._operands(other)
        return apply_op("sub", (b, a))

    def __mul__(self, other: Any) -> Tensor:
        if type(other) is float and not self._requires_grad and self.data.dtype.kind == "f":
            return _scaled(self, other)
        return apply_op("mul", self._operands(other))

    def __rmul__(self, other: Any) -> Tensor:
        if type(other) is float and not self._requires_grad and self.data.dtype.kind == "f":
            return _scaled(self, other)  # lr * p.grad in an SGD update
        a, b = self._operands(other)
        return apply_op("mul", (b, a))

    def __truediv__(self, other: Any) -> Tensor:
        a, b = self._operands(other)
        return apply_op("div", (a._floating(), b._floating()))  # int / int is float32, as in PyTorch

    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = self._operands(other)
        return apply_op("div", (b._floating(), a._floating()))

    def __floordiv__(self, other: Any) -> Tensor:
        """Rounded-down division, outside the graph (it has no useful gradient)."""
        a, b = self._operands(other)
        return _floor_divide(a, b)

    def __rfloordiv__(self, other: Any) -> Tensor:
        a, b = self._operands(other)
        return _floor_divide(b, a)

    def __neg__(self) -> Tensor:
        _check_no_bool("negation (-x)", self)
        return apply_op("neg", (self,))

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            # np.float64(2.0) is a float too: as a plain Python number it cannot widen float32 to float64
            exponent = float(exponent) if isinstance(exponent, float) else int(exponent)
            x = self
            if self.data.dtype.kind != "f" and isinstance(exponent, float):  # int ** 0.5 is float32
                x = self._floating()
            elif self.data.dtype == np.bool_:  # bool ** 2 is int64, as in PyTorch (NumPy makes int8)
                x = self._as(dtypes.int64)
            return apply_op("pow", (x,), exponent=exponent)
        if not isinstance(exponent, bool):  # bool ** True is bool ** bool's one case PyTorch allows
            _check_not_both_bool("pow (**)", self, exponent)
        return _power(*self._operands(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        _check_not_both_bool("pow (**)", base, self)
        a, b = self._operands(base)
        return _power(b, a)

    def __matmul__(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            _check_same_dtype("matmul", self, other)
            return apply_op("matmul", (self, other))
        return apply_op("matmul", self._operands(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        a, b = self._operands(other)
        return apply_op("matmul", (b, a))

    # Comparisons give boolean tensors outside the graph: the accuracy idiom
    # `(logits.argmax(1) == Yb).float().mean()` and the saturation statistic `(h.abs() > 0.97).float()`.

    def _compare(self, other: Any, compare: Callable) -> Tensor:
        if other is None:
            return NotImplemented
        try:
            a, b = self._operands(other)
        except TypeError:
            return NotImplemented
        return _leaf(np.asarray(compare(a.data, b.data)))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        if other is None:
            return False
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        if other is None:
            return True
        return self._compare(other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    # ---- in place ------------------------------------------------------------------------------------------

    def _in_place(self, name: str, other: Any) -> Tensor:
        """``x += y`` and friends, with PyTorch's outcomes:

        - nothing needs a gradient (or inside ``no_grad()``): the data changes in place, keeping x's dtype
          (``layer.weight *= 5/3`` under no_grad changes the tensor every list holds);
        - x is a leaf that requires grad: an error, as in PyTorch;
        - otherwise (``self.out += self.bias`` in a forward pass) the op is recorded in the graph and the
          name is bound to its result; other names for the old tensor keep the old value (PyTorch would
          change them too).
        """
        other_requires = isinstance(other, Tensor) and other._requires_grad
        if _grad_mode.enabled and (self._requires_grad or other_requires):
            if self._requires_grad and not self._op:
                raise RuntimeError(
                    "a leaf tensor that requires grad cannot be changed in place (x += ...) while grad is "
                    "recorded; update parameters under `with no_grad():` or through x.data"
                )
            result = getattr(self, name)(other)
            if dtypes.category(result.dtype) > dtypes.category(self.dtype):
                raise _in_place_dtype_error(result.dtype, self.dtype)
            return result._as(self.data.dtype)
        theirs = other.data if isinstance(other, Tensor) else other
        ufunc = _IN_PLACE_UFUNCS[name]
        try:
            ufunc(self.data, theirs, out=self.data, casting="same_kind")
            _record_write(self.data)
        except TypeError:  # NumPy's casting error (UFuncTypeError) is a TypeError
            raise _in_place_dtype_error(getattr(self.detach(), name)(other).dtype, self.dtype) from None
        except ValueError as error:
            raise ValueError(
                f"in-place {name.strip('_')}: {error}; the result of an in-place op must have the tensor's "
                f"shape {self.shape}"
            ) from None
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._in_place("__add__", other)

    def __isub__(self, other: Any) -> Tensor:
        return self._in_place("__sub__", other)

    def __imul__(self, other: Any) -> Tensor:
        return self._in_place("__mul__", other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._in_place("__truediv__", other)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``N[ix1, ix2] += 1``, ``x[mask] = 0``: writes into the data. Not for tensors in a graph (PyTorch
        records such writes; ninjagrad refuses them rather than give a wrong gradient)."""
        value_requires = isinstance(value, Tensor) and value._requires_grad
        if _grad_mode.enabled and (self._requires_grad or value_requires):
            raise RuntimeError(
                "assigning into a tensor that is part of a graph (x[i] = ...) is not supported: build the "
                "result with torch.where, cat or masked_fill instead, or write under `with no_grad():`"
            )
        index, _ = _normalize_index(index)
        self.data[index] = value.data if isinstance(value, Tensor) else value
        _record_write(self.data)

    # ---- elementwise functions ---------------------------------------------------------------------------

    def exp(self) -> Tensor:
        return apply_op("exp", (self._floating(),))

    def log(self) -> Tensor:
        return apply_op("log", (self._floating(),))

    def log10(self) -> Tensor:
        """log(x) / ln 10, composed (the lectures plot ``loss.log10()``)."""
        return self.log() / math.log(10)

    def sqrt(self) -> Tensor:
        return apply_op("sqrt", (self._floating(),))

    def abs(self) -> Tensor:
        _check_no_bool("abs", self)
        return apply_op("abs", (self,))

    def tanh(self) -> Tensor:
        return apply_op("tanh", (self._floating(),))

    def relu(self) -> Tensor:
        _check_no_bool("relu", self)
        return apply_op("relu", (self,))

    def sigmoid(self) -> Tensor:
        return apply_op("sigmoid", (self._floating(),))

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Each element limited to [min, max] (either may be None); the gradient passes where x is inside."""
        if min is None and max is None:
            raise ValueError("clamp needs min or max (or both)")
        bounds = [b for b in (min, max) if b is not None]
        tensors = [b for b in bounds if isinstance(b, Tensor)]
        for bound in tensors:  # constants here: a bound in the graph would get no gradient
            if bound._requires_grad or not _broadcasts_to(bound.shape, self.shape):
                raise ValueError(
                    f"clamp: a tensor bound must be a constant that fits the tensor's shape {self.shape}, "
                    f"got shape {bound.shape} with requires_grad={bound._requires_grad}; for a bound in the "
                    f"graph write torch.where(x < low, low, x)"
                )
        # PyTorch's promotion over all three: a 0-d float64 bound does not widen a float32 tensor
        dtype = dtypes.result_dtype((self.data.dtype, self.ndim), *[(b.dtype, b.ndim) for b in tensors])
        for bound in bounds:
            if not isinstance(bound, Tensor):
                dtype = dtypes.combine(dtype, dtypes.number_dtype(bound))
        low, high = (
            None if b is None else np.asarray(b.data if isinstance(b, Tensor) else b, dtype=dtype)
            for b in (min, max)
        )  # np.clip with a NumPy float64 bound would widen float32
        return apply_op("clamp", (self._as(dtype),), low=low, high=high)

    clip = clamp

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """``value`` where ``mask`` (a bool tensor broadcastable to x) is True, x elsewhere."""
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_fill needs a bool mask, got {mask.dtype}; compare first (t == 0)")
        if not _broadcasts_to(mask.shape, self.shape):
            raise ValueError(
                f"masked_fill: mask of shape {mask.shape} does not fit tensor shape {self.shape}"
            )
        value = value.item() if isinstance(value, Tensor) else value
        return apply_op("masked_fill", (self,), mask=mask, value=value)

    def where(self, condition: Any, other: Any) -> Tensor:
        """``self`` where ``condition``, ``other`` elsewhere (``torch.where(condition, self, other)``)."""
        from ninjagrad.tensors.api import where

        return where(condition, self, other)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle (the last two dims), zeros above the ``diagonal``-th diagonal."""
        if self.ndim < 2:
            raise ValueError(f"tril needs at least 2 dims, got shape {self.shape}")
        return apply_op("tril", (self,), diagonal=diagonal)

    def softmax(self, dim: int) -> Tensor:
        from ninjagrad.tensors.functional import softmax

        return softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        from ninjagrad.tensors.functional import log_softmax

        return log_softmax(self, dim)

    # ---- reductions --------------------------------------------------------------------------------------

    # Every reduction also takes ``keepdims``, NumPy's spelling, as PyTorch does: makemore part 1 writes
    # ``P.sum(1, keepdims=True)``.

    def sum(
        self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, keepdims: bool = False
    ) -> Tensor:
        """The sum over ``dim``; integer and bool tensors sum to int64, as in PyTorch."""
        x = self if self.data.dtype.kind == "f" else self._as(dtypes.int64)
        return apply_op("sum", (x,), dim=_reduced_dims(dim, self.ndim), keepdim=keepdim or keepdims)

    def mean(
        self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, keepdims: bool = False
    ) -> Tensor:
        _check_floating(self, "mean")
        return apply_op("mean", (self,), dim=_reduced_dims(dim, self.ndim), keepdim=keepdim or keepdims)

    def var(
        self,
        dim: int | Sequence[int] | None = None,
        keepdim: bool = False,
        unbiased: bool = True,
        *,
        correction: int | None = None,
        keepdims: bool = False,
    ) -> Tensor:
        """Variance over ``dim``; ``unbiased=True`` divides by n - 1 (Bessel's correction), as PyTorch.

        ``correction`` (PyTorch's newer spelling) overrides ``unbiased``: the divisor is n - correction.
        Too few numbers (n - correction <= 0, an empty tensor) give NaN, as in PyTorch.
        """
        _check_floating(self, "var")
        if correction is None:
            correction = 1 if unbiased else 0
        dim = _reduced_dims(dim, self.ndim)
        return apply_op("var", (self,), dim=dim, keepdim=keepdim or keepdims, correction=correction)

    def std(
        self,
        dim: int | Sequence[int] | None = None,
        keepdim: bool = False,
        unbiased: bool = True,
        *,
        correction: int | None = None,
        keepdims: bool = False,
    ) -> Tensor:
        """The square root of ``var`` (same arguments); its gradient is 0 where the std is 0, as PyTorch."""
        _check_floating(self, "std")
        if correction is None:
            correction = 1 if unbiased else 0
        dim = _reduced_dims(dim, self.ndim)
        return apply_op("std", (self,), dim=dim, keepdim=keepdim or keepdims, correction=correction)

    def max(
        self, dim: int | None = None, keepdim: bool = False, *, keepdims: bool = False
    ) -> Tensor | MaxResult:
        """As PyTorch: without ``dim``, the largest element (a tensor; on ties the gradient is shared evenly);
        with ``dim``, a ``(values, indices)`` pair whose gradient goes to one index per row, the first of
        any ties (NaN counts as the largest)."""
        if dim is None:
            return apply_op("max_all", (self,))
        return MaxResult(*self._select(dim, keepdim or keepdims, np.argmax, "max"))

    def min(
        self, dim: int | None = None, keepdim: bool = False, *, keepdims: bool = False
    ) -> Tensor | MinResult:
        """The smallest element, or with ``dim`` a ``(values, indices)`` pair: ``max``'s rules, mirrored."""
        if dim is None:
            return apply_op("min_all", (self,))
        return MinResult(*self._select(dim, keepdim or keepdims, np.argmin, "min"))

    def _select(self, dim: int, keepdim: bool, arg: Callable, op: str) -> tuple[Tensor, Tensor]:
        """The values at the arg-max (or min) along ``dim``, and those indices."""
        if self.ndim == 0:  # PyTorch allows dim 0 (or -1) of a 0-d tensor: the element, at index 0
            _dims(dim, 0)
            values, indices = self.view(1)._select(0, False, arg, op)
            return values, indices
        dim = _dims(dim, self.ndim)
        if self.data.shape[dim] == 0:
            raise ValueError(f"{op}(dim={dim}) of an empty dimension (shape {self.shape}) has no value")
        indices = np.expand_dims(arg(self.data, axis=dim), dim)
        values = apply_op(op, (self,), dim=dim, keepdim=keepdim, indices=indices)
        return values, _leaf(indices if keepdim else np.squeeze(indices, axis=dim))

    def all(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Whether every element (along ``dim``) is nonzero: a bool tensor, no graph."""
        return _leaf(np.asarray(np.all(self.data, axis=_reduced_dims(dim, self.ndim), keepdims=keepdim)))

    def any(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Whether some element (along ``dim``) is nonzero: a bool tensor, no graph."""
        return _leaf(np.asarray(np.any(self.data, axis=_reduced_dims(dim, self.ndim), keepdims=keepdim)))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """The index of the largest element (of the flattened tensor without ``dim``); int64, no graph."""
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return self._arg(np.argmin, dim, keepdim)

    def _arg(self, arg: Callable, dim: int | None, keepdim: bool) -> Tensor:
        axis = _dims(dim, self.ndim)
        if self.data.size == 0 and (axis is None or self.shape[axis] == 0):  # (0, 3).argmax(1) has rows
            raise ValueError(f"argmax/argmin of an empty tensor (shape {self.shape}) has no value")
        if axis is None:
            index = arg(self.data)
            return _leaf(np.asarray(index, dtype=np.int64).reshape((1,) * self.ndim if keepdim else ()))
        return _leaf(np.asarray(arg(self.data, axis=axis, keepdims=keepdim), dtype=np.int64))

    # ---- shape and indexing ------------------------------------------------------------------------------

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in another shape; one size may be -1. (NumPy needs no contiguity: view and
        reshape are one op here.)"""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return apply_op("reshape", (self,), shape=tuple(shape))

    reshape = view

    def squeeze(self, dim: int | Sequence[int] | None = None) -> Tensor:
        """Drop dims of size 1 (all of them, or those in ``dim``; a named dim of another size stays)."""
        if dim is None:
            drop = {d for d, size in enumerate(self.shape) if size == 1}
        else:
            dims = _dims(dim, self.ndim)
            dims = () if dims is None else ((dims,) if isinstance(dims, int) else dims)
            drop = {d % self.ndim for d in dims if self.shape[d] == 1}
        return self.view(tuple(size for d, size in enumerate(self.shape) if d not in drop))

    def unsqueeze(self, dim: int) -> Tensor:
        """A new dim of size 1 at position ``dim`` (-1: last)."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(
                f"unsqueeze dim {dim} is out of range for {self.ndim} dims (use -{self.ndim + 1}"
                f"..{self.ndim})"
            )
        dim = dim % (self.ndim + 1)
        return self.view(self.shape[:dim] + (1,) + self.shape[dim:])

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Dims ``start_dim`` to ``end_dim`` merged into one."""
        if self.ndim == 0:
            return self.view(1)
        start, end = (_dims(d, self.ndim) % self.ndim for d in (start_dim, end_dim))
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.view(self.shape[:start] + (-1,) + self.shape[end + 1 :])

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        """Broadcast to ``sizes`` without copying (-1 keeps a dim); only dims of size 1 can grow."""
        if len(sizes) == 1 and not isinstance(sizes[0], (int, np.integer)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a tensor with {self.ndim} dims {self.shape}")
        shape = tuple(
            self.shape[i - lead] if size == -1 and i >= lead else int(size) for i, size in enumerate(sizes)
        )
        try:
            fits = np.broadcast_shapes(self.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"expand: cannot expand shape {self.shape} to {shape}; only size-1 dims grow")
        return apply_op("expand", (self,), shape=shape)

    def repeat(self, *sizes: int | Sequence[int]) -> Tensor:
        """The tensor tiled ``sizes[i]`` times along each dim (``np.tile``), as ``torch.Tensor.repeat``."""
        if len(sizes) == 1 and not isinstance(sizes[0], (int, np.integer)):
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise ValueError(
                f"repeat: {len(sizes)} repeat counts for a tensor with {self.ndim} dims; give one per dim"
            )
        return apply_op("repeat", (self,), reps=tuple(int(s) for s in sizes))

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
            dims = tuple(dims[0])
        _dims(dims, self.ndim)  # each in range, or an error that names the rank
        dims = tuple(int(d) % max(self.ndim, 1) for d in dims)  # the backward inverts non-negative dims
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(
                f"permute{dims} must name each of the {self.ndim} dims of shape {self.shape} once"
            )
        return apply_op("permute", (self,), dims=dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        _dims((dim0, dim1), self.ndim)  # both in range, or an error that names the rank
        dims = list(range(self.ndim))
        if dims:  # a 0-d tensor has nothing to swap (dims 0 and -1 are allowed, as PyTorch)
            dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return apply_op("permute", (self,), dims=tuple(dims))

    @property
    def T(self) -> Tensor:
        """The dims reversed: the matrix transpose for 2-D tensors."""
        return apply_op("permute", (self,), dims=tuple(reversed(range(self.ndim))))

    def __getitem__(self, index: Any) -> Tensor:
        """Ints, slices, integer arrays/Tensors (``C[Xb]``) and index pairs (``logprobs[range(n), Yb]``)."""
        index, advanced = _normalize_index(index)
        return apply_op("getitem", (self,), index=index, advanced=advanced)


_IN_PLACE_UFUNCS = {
    "__add__": np.add,
    "__sub__": np.subtract,
    "__mul__": np.multiply,
    "__truediv__": np.true_divide,
}


def _check_not_written(node: Tensor) -> None:
    written = _written_after(node)
    if written is not None:
        raise RuntimeError(
            f"backward() through a {node._op!r} node whose numbers changed: an array of shape "
            f"{written.shape} that its gradient needs (an input or its result) was changed in place "
            f"(x += ..., x[i] = ..., under no_grad() or through .detach()) after the node was made, so its "
            f"gradient would be computed from the new values (PyTorch refuses this too); write it out of "
            f"place (x = x + 1), or change it after backward()"
        )


def _in_place_dtype_error(result: np.dtype, dtype: np.dtype) -> TypeError:
    return TypeError(
        f"an in-place op would turn a {dtype} tensor into {result} (result type {result} can't be cast to "
        f"{dtype}, as in PyTorch); write it out of place (x = x + y) or convert first (x.float())"
    )


def _scaled(t: Tensor, number: float) -> Tensor:
    """``t * number`` for a float tensor that needs no gradient (``lr * p.grad``): no node to record, so only
    the product, the number in ``t``'s dtype as ``_operands`` makes it (the same bits as the "mul" op)."""
    out = np.multiply(np.asarray(number, dtype=t.data.dtype), t.data)
    return _leaf(out if type(out) is np.ndarray else np.asarray(out))


def _power(base: Tensor, exponent: Tensor) -> Tensor:
    """base ** exponent of one dtype; bool ** True stays bool, as in PyTorch (NumPy makes int8)."""
    if base.data.dtype == np.bool_:
        return _leaf(np.asarray(base.data | ~exponent.data))
    return apply_op("pow_tensor", (base, exponent))


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an operand of ``shape`` broadcasts to ``target`` without growing it."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _check_no_bool(op: str, *operands: Any) -> None:
    """PyTorch refuses ``-`` (and abs, relu) on bool tensors and Python bools, rather than guess a meaning."""
    for operand in operands:
        if isinstance(operand, bool) or (isinstance(operand, Tensor) and operand.data.dtype == np.bool_):
            raise TypeError(
                f"{op} of a bool operand is not supported (as in PyTorch), got {operand!r}; invert a mask "
                f"with ~mask, or convert first (mask.float(), mask.long())"
            )


def _check_not_both_bool(op: str, a: Any, b: Any) -> None:
    """PyTorch refuses pow of two bool operands (bool ** bool tensor, True ** bool tensor)."""
    if all(isinstance(x, bool) or (isinstance(x, Tensor) and x.data.dtype == np.bool_) for x in (a, b)):
        raise TypeError(f"{op} of two bool operands is not supported (as in PyTorch); convert one (.long())")


def _floor_divide(a: Tensor, b: Tensor) -> Tensor:
    """``a // b`` of one dtype, outside the graph; integer division by zero is an error, as in PyTorch."""
    if a.data.dtype == np.bool_:
        raise TypeError("floor division (//) of bool tensors is not supported (as in PyTorch); use .long()")
    if a.data.dtype.kind != "f" and not np.all(b.data):
        raise ZeroDivisionError(
            f"integer floor division (//) by zero: the divisor ({b.dtype}, shape {b.shape}) holds a 0; "
            f"divide floats (a.float() // b) for inf"
        )
    return _leaf(np.asarray(np.floor_divide(a.data, b.data)))


def _check_floating(t: Tensor, op: str) -> None:
    if t.data.dtype.kind != "f":
        raise TypeError(f"{op}() needs a floating-point tensor, got {t.dtype} (as in PyTorch); use .float()")


def _check_same_dtype(op: str, a: Tensor, b: Tensor) -> None:
    if a.data.dtype != b.data.dtype:
        raise TypeError(
            f"{op} needs both operands of one dtype (as in PyTorch), got {a.dtype} and {b.dtype}; convert "
            f"one (.float(), .double())"
        )


def _leaf(data: np.ndarray) -> Tensor:
    """A leaf around ``data`` as is (no copy, no checks): for values ninjagrad made itself."""
    t = Tensor.__new__(Tensor)
    t.data = data
    t._grad = None
    t.label = ""
    t._requires_grad = False
    t._prev = ()
    t._op = ""
    t._saved = None
    t._retains_grad = False
    t._stamp = 0
    return t


def apply_op(name: str, inputs: tuple[Tensor, ...], **attrs: Any) -> Tensor:
    """Run op ``name`` forward on the inputs' arrays and, if a gradient will be needed, record the node."""
    forward = ops.FORWARD[name]
    if len(inputs) == 2:  # the common cases, without building a list
        out, saved = forward(inputs[0].data, inputs[1].data, **attrs)
    elif len(inputs) == 1:
        out, saved = forward(inputs[0].data, **attrs)
    else:
        out, saved = forward(*[t.data for t in inputs], **attrs)
    if type(out) is not np.ndarray:  # NumPy returns scalars for 0-d results; a tensor always holds an array
        out = np.asarray(out)
    result = _leaf(out)
    if _grad_mode.enabled:
        for t in inputs:
            if t._requires_grad:  # some input needs a gradient: record how `result` was made
                result._requires_grad = True
                result._prev = inputs
                result._op = name
                result._saved = saved
                result._stamp = next(_clock)
                break
    return result


def _dims(dim: int | Sequence[int] | None, ndim: int) -> int | tuple[int, ...] | None:
    """PyTorch's ``dim`` argument as NumPy's ``axis``, checked so a bad value names the tensor's rank."""
    if dim is None:
        return None
    if type(dim) is int and -ndim <= dim < ndim:  # the common case, checked cheaply
        return dim
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(
                f"dim {d} is out of range for a tensor with {ndim} dims (use 0..{max(ndim, 1) - 1})"
            )
    if ndim == 0:  # PyTorch accepts dim 0 / -1 on a 0-d tensor; NumPy has no axis to reduce
        return None
    return int(dims[0]) if isinstance(dim, (int, np.integer)) else tuple(int(d) for d in dims)


def _reduced_dims(dim: int | Sequence[int] | None, ndim: int) -> int | tuple[int, ...] | None:
    """The ``dim`` of a reduction (sum, mean, var, ...) as NumPy's ``axis``: as ``_dims``, and, as PyTorch,
    an empty tuple reduces over every dim (NumPy's ``axis=()`` would reduce none) and a dim named twice is
    an error."""
    if dim is None or type(dim) is int:
        return _dims(dim, ndim)
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return None
    axis = _dims(dims, ndim)
    if isinstance(dim, (int, np.integer)):
        return axis
    positions = [int(d) % max(ndim, 1) for d in dims]
    if len(set(positions)) != len(positions):
        raise ValueError(
            f"dim {tuple(int(d) for d in dims)} names a dim more than once (as positions "
            f"{tuple(positions)} of a tensor with {ndim} dims); name each dim once"
        )
    return axis


def _normalize_index(index: Any) -> tuple[Any, bool]:
    """Turn Tensors, ranges and lists inside an index into arrays; say whether any array is present.

    A list that holds lists, slices, None, ``...`` or arrays is refused: PyTorch 2.13 reads
    ``x[[[0, 1], [1, 0]]]`` as ``x[[0, 1], [1, 0]]`` (deprecated, with a warning), NumPy and later PyTorch
    as one 2-D index, and the two give different results.
    """
    if type(index) is list and len(index) < 32 and any(_is_index_part(item) for item in index):
        raise IndexError(  # from 32 items on, PyTorch too reads the list as one index array
            f"x[{index!r}]: a list of lists (or of slices, None, ...) as an index is ambiguous (PyTorch "
            f"reads it as a tuple of indices, a deprecated rule; NumPy as one index array); write "
            f"x[tuple(seq)] for one index per dim, or x[torch.tensor(seq)] for one index array"
        )
    items = index if isinstance(index, tuple) else (index,)
    normalized = []
    advanced = False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, (range, list)):
            item = np.asarray(item)
            if item.size == 0:  # x[[]] picks no rows: NumPy would make [] a float array, not an index
                item = item.astype(np.int64)
        if isinstance(item, np.ndarray):
            advanced = True
        normalized.append(item)
    return (tuple(normalized) if isinstance(index, tuple) else normalized[0]), advanced


def _is_index_part(item: Any) -> bool:
    """Whether ``item``, inside a list used as an index, would make PyTorch read the list as a tuple."""
    return (
        item is None or item is Ellipsis or isinstance(item, (slice, list, tuple, range, Tensor, np.ndarray))
    )
