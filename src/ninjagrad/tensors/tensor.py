"""The Tensor: a NumPy array that remembers how it was made, and the backward walk over those records.

Names and signatures follow PyTorch (``dim=``, ``keepdim=``, ``.T``, ``.view``, ``retain_grad()``) so the
makemore lectures' code ports line for line. The arithmetic itself lives in ``ops.py``, one registered
forward/backward pair per op; this file only builds graph nodes and walks them.

Graph nodes follow the protocol shared with the scalar ``Value`` and ``draw_dot``: ``_prev`` (the input
tensors, in argument order), ``_op`` (the op's name, ``''`` for leaves) and ``label``.

Semantics, as in PyTorch:

- a graph is recorded only when some input requires a gradient, and never inside ``no_grad()``;
- ``backward()`` fills ``.grad`` of the leaves, adding to what is already there (zero it between steps);
  interior tensors get a ``.grad`` only if ``retain_grad()`` was called on them;
- after ``backward()`` the graph is freed (interior ``_prev`` emptied, saved arrays dropped) unless
  ``retain_graph=True``; walking a freed graph again is an error that says so.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from ninjagrad.graph import topological_order
from ninjagrad.tensors import ops

DEFAULT_FLOAT = np.float32  # floating data becomes float32 unless a dtype is given (PyTorch's default)


class _GradMode(threading.local):
    """Whether ops record a graph, per thread; ``no_grad()`` switches it off for a ``with`` block."""

    enabled = True


_grad_mode = _GradMode()


class no_grad:
    """Context manager in which tensor ops record no graph: for SGD updates and evaluation.

    Results computed inside are plain leaves with ``requires_grad=False``, so they cost no memory for the
    backward pass and cannot be backpropagated through. As in PyTorch it also decorates a function
    (``@no_grad()`` above an evaluation function, as in the makemore lectures).
    """

    def __call__(self, fn: Callable) -> Callable:
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


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``."""
    return _grad_mode.enabled


class MaxResult(NamedTuple):
    """What ``Tensor.max(dim)`` returns, like ``torch.return_types.max``: unpack it or use the names."""

    values: Tensor
    indices: Tensor


def _check_can_require_grad(dtype: np.dtype) -> None:
    if dtype.kind != "f":
        raise TypeError(
            f"only floating-point tensors can require gradients, this one is {dtype}; integer tensors hold "
            f"indices (like Xb, Yb). For values, make it float: Tensor(data, dtype=np.float32)"
        )


class Tensor:
    """An n-dimensional array with an autograd record. See the module docstring for the semantics.

    Tensors compare and hash by identity (there is no elementwise ``==``), so they can key dicts.
    """

    __slots__ = ("data", "grad", "label", "_requires_grad", "_prev", "_op", "_saved", "_retains_grad")
    __array_ufunc__ = None  # `ndarray * Tensor` defers to Tensor.__rmul__ instead of looping over elements

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, label: str = ""):
        """``data``: a number, nested lists, an array or a Tensor (copied). Floating data becomes float32
        unless ``dtype`` says otherwise (float32 halves the memory and is what PyTorch defaults to; use
        float64 for gradient checks); integer data stays integer. ``label`` names the node in drawings."""
        if isinstance(data, Tensor):
            data = data.data
        array = np.array(data, dtype=dtype)  # a copy: the tensor owns its memory, like torch.tensor
        if dtype is None and array.dtype.kind == "f" and array.dtype != DEFAULT_FLOAT:
            array = array.astype(DEFAULT_FLOAT)
        if array.dtype.kind not in "fiub":
            raise TypeError(
                f"Tensor holds numbers (bool, integer or float), got data of dtype {array.dtype}; pass a "
                f"number, nested lists of numbers or a numeric array"
            )
        if requires_grad:
            _check_can_require_grad(array.dtype)
        self.data = array
        self.grad: np.ndarray | None = None
        self.label = label
        self._requires_grad = bool(requires_grad)
        self._prev: tuple[Tensor, ...] = ()
        self._op = ""
        self._saved: tuple | None = None
        self._retains_grad = False

    # ---- attributes --------------------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as a parameter (or not). Returns self, as in PyTorch."""
        if self._op:
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

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return not self._op

    def numel(self) -> int:
        """The number of elements: ``sum(p.numel() for p in parameters)`` counts a model's parameters."""
        return self.data.size

    nelement = numel  # the lectures' spelling

    def __len__(self) -> int:
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

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=20)
        extra = (
            f", grad_fn={self._op!r}" if self._op else (", requires_grad=True" if self._requires_grad else "")
        )
        label = f", label={self.label!r}" if self.label else ""
        return f"Tensor({body}, dtype={self.data.dtype}{extra}{label})"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(tensor)`` is the data (no gradient comes along)."""
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element; this one has shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def detach(self) -> Tensor:
        """A leaf sharing this tensor's data, cut from the graph."""
        return _leaf(self.data)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this interior tensor after ``backward()`` (leaves always keep theirs)."""
        if not self._requires_grad:
            raise RuntimeError(
                "retain_grad() on a tensor that does not require grad: no input of its graph has "
                "requires_grad=True (or it was computed under no_grad())"
            )
        self._retains_grad = True

    # ---- backward ----------------------------------------------------------------------------------------

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor: fill ``.grad`` of every leaf it depends on.

        ``grad`` is d(something)/d(self); it may be omitted only for a one-element tensor (a loss), where it
        is 1. Nodes are visited in reverse topological order (``ninjagrad.graph.topological_order``), so a
        node's gradient is complete, every use having contributed, before it is passed on.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of its graph has "
                "requires_grad=True (or it was computed under no_grad()); create the parameters with "
                "Tensor(..., requires_grad=True)"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a grad needs a one-element tensor (a loss), this one has shape "
                    f"{self.shape}; reduce it first (.sum(), .mean()) or pass grad= of shape {self.shape}"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(): grad shape {grad.shape} != tensor shape {self.shape}; pass a gradient "
                    f"of the tensor's own shape"
                )
        rules = ops.BACKWARD
        grads = {self: grad}  # gradients still being accumulated, by node
        for node in reversed(topological_order(self)):
            dnode = grads.pop(node, None)
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
            dinputs = rules[node._op](node._saved, dnode)
            for parent, dparent in zip(node._prev, dinputs, strict=True):
                if not parent._requires_grad:
                    continue
                earlier = grads.get(parent)
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
        if self.grad is None:
            self.grad = np.array(dself, dtype=self.data.dtype)  # a copy this tensor owns
        else:
            self.grad += dself

    # ---- arithmetic --------------------------------------------------------------------------------------

    def _lift(self, other: Any) -> Tensor:
        """Make a constant tensor of a number or array met in an op with ``self``.

        Numbers and arrays (Python's or NumPy's, integer or float) met by a float tensor take its dtype, as
        PyTorch does, so ``x * 0.5`` and ``x * np.int64(2)`` stay float32. Integer tensors (indices) follow
        NumPy's promotion rules.
        """
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float)) and self.data.dtype.kind == "f":
            return _leaf(np.asarray(other, dtype=self.data.dtype))
        array = np.asarray(other)
        if array.dtype.kind in "fiub" and self.data.dtype.kind == "f":
            array = array.astype(self.data.dtype, copy=False)
        return _leaf(array)

    def __add__(self, other: Any) -> Tensor:
        return apply_op("add", (self, self._lift(other)))

    def __radd__(self, other: Any) -> Tensor:
        return apply_op("add", (self._lift(other), self))

    def __sub__(self, other: Any) -> Tensor:
        return apply_op("sub", (self, self._lift(other)))

    def __rsub__(self, other: Any) -> Tensor:
        return apply_op("sub", (self._lift(other), self))

    def __mul__(self, other: Any) -> Tensor:
        return apply_op("mul", (self, self._lift(other)))

    def __rmul__(self, other: Any) -> Tensor:
        return apply_op("mul", (self._lift(other), self))

    def __truediv__(self, other: Any) -> Tensor:
        return apply_op("div", (self, self._lift(other)))

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply_op("div", (self._lift(other), self))

    def __neg__(self) -> Tensor:
        return apply_op("neg", (self,))

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, (int, float)):
            return apply_op("pow", (self,), exponent=exponent)
        return apply_op("pow_tensor", (self, self._lift(exponent)))

    def __rpow__(self, base: Any) -> Tensor:
        return apply_op("pow_tensor", (self._lift(base), self))

    # Comparisons give boolean tensors outside the graph (``(h.abs() > 0.99).float().mean()``, the lectures'
    # saturation statistic). ``==`` stays identity: the backward pass keys its gradient table by tensor.

    def __lt__(self, other: Any) -> Tensor:
        return _leaf(np.asarray(self.data < self._lift(other).data))

    def __le__(self, other: Any) -> Tensor:
        return _leaf(np.asarray(self.data <= self._lift(other).data))

    def __gt__(self, other: Any) -> Tensor:
        return _leaf(np.asarray(self.data > self._lift(other).data))

    def __ge__(self, other: Any) -> Tensor:
        return _leaf(np.asarray(self.data >= self._lift(other).data))

    def __matmul__(self, other: Any) -> Tensor:
        return apply_op("matmul", (self, self._lift(other)))

    def __rmatmul__(self, other: Any) -> Tensor:
        return apply_op("matmul", (self._lift(other), self))

    # ---- elementwise functions ---------------------------------------------------------------------------

    def exp(self) -> Tensor:
        return apply_op("exp", (self,))

    def log(self) -> Tensor:
        return apply_op("log", (self,))

    def log10(self) -> Tensor:
        """log(x) / ln 10, composed (the lectures plot ``loss.log10()``)."""
        return self.log() / math.log(10)

    def sqrt(self) -> Tensor:
        return self**0.5

    def abs(self) -> Tensor:
        return apply_op("abs", (self,))

    def tanh(self) -> Tensor:
        return apply_op("tanh", (self,))

    def relu(self) -> Tensor:
        return apply_op("relu", (self,))

    def sigmoid(self) -> Tensor:
        return apply_op("sigmoid", (self,))

    def to(self, dtype: Any) -> Tensor:
        """This tensor in another dtype (differentiable between float dtypes)."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return apply_op("cast", (self,), dtype=dtype)

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    # ---- reductions --------------------------------------------------------------------------------------

    # Every reduction also takes ``keepdims``, NumPy's spelling, as PyTorch does: makemore part 1 writes
    # ``P.sum(1, keepdims=True)``.

    def sum(
        self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, keepdims: bool = False
    ) -> Tensor:
        return apply_op("sum", (self,), dim=_dims(dim, self.ndim), keepdim=keepdim or keepdims)

    def mean(
        self, dim: int | Sequence[int] | None = None, keepdim: bool = False, *, keepdims: bool = False
    ) -> Tensor:
        return apply_op("mean", (self,), dim=_dims(dim, self.ndim), keepdim=keepdim or keepdims)

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
        """
        if correction is None:
            correction = 1 if unbiased else 0
        dim = _dims(dim, self.ndim)
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
        """The square root of ``var`` (same arguments), composed: makemore part 3 normalises by it."""
        return self.var(dim, keepdim, unbiased, correction=correction, keepdims=keepdims) ** 0.5

    def max(
        self, dim: int | None = None, keepdim: bool = False, *, keepdims: bool = False
    ) -> Tensor | MaxResult:
        """As PyTorch: without ``dim``, the largest element (a tensor; on ties the gradient is shared evenly);
        with ``dim``, a ``(values, indices)`` pair whose gradient goes to one index per row, the first of
        any ties (NaN counts as the largest)."""
        keepdim = keepdim or keepdims
        if dim is None:
            return apply_op("max_all", (self,))
        if self.ndim == 0:  # PyTorch allows dim 0 (or -1) of a 0-d tensor: the element, at index 0
            _dims(dim, 0)
            return self.view(1).max(0)
        dim = _dims(dim, self.ndim)
        if self.data.shape and self.data.shape[dim] == 0:
            raise ValueError(f"max(dim={dim}) of an empty dimension (shape {self.shape}) has no value")
        indices = np.expand_dims(np.argmax(self.data, axis=dim), dim)
        values = apply_op("max", (self,), dim=dim, keepdim=keepdim, indices=indices)
        return MaxResult(values, _leaf(indices if keepdim else np.squeeze(indices, axis=dim)))

    # ---- shape and indexing ------------------------------------------------------------------------------

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in another shape; one size may be -1. (NumPy needs no contiguity: view and
        reshape are one op here.)"""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return apply_op("reshape", (self,), shape=shape)

    reshape = view

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
            dims = tuple(dims[0])
        _dims(dims, self.ndim)  # each in range, or an error that names the rank
        if sorted(d % max(self.ndim, 1) for d in dims) != list(range(self.ndim)):
            raise ValueError(
                f"permute{dims} must name each of the {self.ndim} dims of shape {self.shape} once"
            )
        return apply_op("permute", (self,), dims=tuple(dims))

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


def _leaf(data: np.ndarray) -> Tensor:
    """A leaf around ``data`` as is (no copy, no checks): for values ninjagrad made itself."""
    t = Tensor.__new__(Tensor)
    t.data = data
    t.grad = None
    t.label = ""
    t._requires_grad = False
    t._prev = ()
    t._op = ""
    t._saved = None
    t._retains_grad = False
    return t


def apply_op(name: str, inputs: tuple[Tensor, ...], **attrs: Any) -> Tensor:
    """Run op ``name`` forward on the inputs' arrays and, if a gradient will be needed, record the node."""
    out, saved = ops.FORWARD[name](*[t.data for t in inputs], **attrs)
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


def _normalize_index(index: Any) -> tuple[Any, bool]:
    """Turn Tensors, ranges and lists inside an index into arrays; say whether any array is present."""
    items = index if isinstance(index, tuple) else (index,)
    normalized = []
    advanced = False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, (range, list)):
            item = np.asarray(item)
        if isinstance(item, np.ndarray):
            advanced = True
        normalized.append(item)
    return (tuple(normalized) if isinstance(index, tuple) else normalized[0]), advanced
