"""``Value``: one number, its gradient, and the operation that produced it.

Every arithmetic operation on Values builds a new node that remembers its parents (``_prev``, a tuple in
argument order) and the name of its operation (``_op``). ``backward()`` then walks that graph once, in
reverse topological order, and applies each node's gradient rule: the chain rule, one node at a time.

Each operation's forward (a method of ``Value``) sits right beside its gradient rule. The rules are kept
in ``GRADIENT_RULES``, a dict from op name to a function of the output node, so the graph walk in
``backward()`` knows nothing about any particular op, and each rule can be called and tested alone.

Edge cases follow PyTorch and IEEE 754 instead of raising, so a long training run is not stopped by one
overflow and results can be compared with PyTorch number for number:

- ``exp`` overflows to ``inf`` (Python's ``math.exp`` would raise ``OverflowError``);
- ``log(0)`` is ``-inf`` and ``log(x < 0)`` is ``nan`` (``math.log`` would raise ``ValueError``);
- ``x / 0`` is ``±inf`` and ``0 / 0`` is ``nan`` (Python would raise ``ZeroDivisionError``);
- a negative base with a non-integer exponent is ``nan`` (Python's ``**`` would return a complex number),
  and so is the exponent's gradient for any negative base (it involves log(base));
- ``x ** y`` at ``x == 0``: the exponent's gradient is 0 for y >= 0 (not 0 * -inf), and ``x ** 0`` passes
  no gradient to ``x`` at all, PyTorch's two conventions;
- ``tanh`` and ``sigmoid`` are evaluated in forms that cannot overflow: ``tanh(1000) == 1`` with gradient 0.

One known difference from PyTorch: ``x ** 0.5`` and ``x ** -0.5`` follow C's ``pow`` everywhere, while
PyTorch computes them with ``sqrt``, which differs at two points: at ``x = -0.0`` (``pow`` gives +0.0 and
+inf, ``sqrt`` -0.0 and -inf) and at ``x = -inf`` (``pow`` gives +inf and +0.0, ``sqrt`` nan).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence

from ninjagrad.graph import topological_order

# Op name -> the rule that passes an output node's gradient back to its parents.
GRADIENT_RULES: dict[str, Callable[[Value], None]] = {}


def gradient_rule(op: str) -> Callable[[Callable[[Value], None]], Callable[[Value], None]]:
    """Register the decorated function as the gradient rule of ``op``; it receives the output node."""

    def register(rule: Callable[[Value], None]) -> Callable[[Value], None]:
        GRADIENT_RULES[op] = rule
        return rule

    return register


class Value:
    """A scalar that remembers how it was computed, so that ``backward()`` can fill in every ``.grad``.

    ``Value(data, label='')`` makes a leaf. ``data`` must be a real number (it is stored as a float);
    anything else raises ``TypeError``. ``grad`` is d(root)/d(this node) after ``root.backward()``.
    """

    # Slots: no per-node __dict__, which makes the tens of thousands of nodes of a training step cheap.
    __slots__ = ("data", "grad", "label", "_prev", "_op")

    def __init__(self, data: float, label: str = "", _prev: tuple[Value, ...] = (), _op: str = "") -> None:
        if data.__class__ is not float:  # the fast path: every op below already produces a float
            data = _as_float(data)
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
        self.data = data
        self.grad = 0.0
        self.label = label
        self._prev = _prev
        self._op = _op

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"

    # ---- the graph walk -------------------------------------------------------------------------------

    def backward(self) -> None:
        """Fill in d(self)/d(node) for every node this Value depends on.

        Leaf gradients *accumulate* across calls, as in PyTorch (call ``zero_grad()`` between training
        steps); interior gradients are reset and recomputed on every call. Unlike PyTorch, a Value graph is
        never freed, so a second ``backward()`` works without ``retain_graph`` and doubles the leaf grads.
        """
        for _node in self.backward_steps():
            pass

    def backward_steps(self) -> Iterator[Value]:
        """The walk of ``backward()``, one rule at a time: yields each node just before its rule runs.

        Resuming the generator runs that node's rule (``GRADIENT_RULES[node._op]``) and moves to the next
        one; exhausting it is exactly ``backward()`` (which is written as this loop). Nodes without a rule
        (leaves) are not yielded. The studio's stepper drives this, so it shows the engine's own rules.
        """
        order = topological_order(self)  # iterative: a chain a million nodes deep is fine
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            if node._prev:
                yield node
                GRADIENT_RULES[node._op](node)

    def _backward(self) -> None:
        """Apply this node's gradient rule once, by hand, as the lecture does before writing backward()."""
        if self._prev:
            GRADIENT_RULES[self._op](self)

    # ---- addition and multiplication --------------------------------------------------------------------

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else _constant(other, "+")
        return Value(self.data + other.data, "", (self, other), "+")

    @gradient_rule("+")
    def _add_backward(out: Value) -> None:  # d(a + b)/da = d(a + b)/db = 1
        a, b = out._prev
        a.grad += out.grad
        b.grad += out.grad

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else _constant(other, "*")
        return Value(self.data * other.data, "", (self, other), "*")

    @gradient_rule("*")
    def _mul_backward(out: Value) -> None:  # d(a * b)/da = b, d(a * b)/db = a
        a, b = out._prev
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    # ---- division ---------------------------------------------------------------------------------------

    def __truediv__(self, other: Value | float) -> Value:
        """x / y, IEEE: x / 0 is ±inf and 0 / 0 is nan.

        A primitive rather than micrograd's x * y**-1: the quotient is rounded once instead of twice, and
        the gradient (x / y) / y stays finite where y**-2 would overflow (y = 1e-183), as in PyTorch.
        """
        other = other if isinstance(other, Value) else _constant(other, "/")
        return Value(_divide(self.data, other.data), "", (self, other), "/")

    @gradient_rule("/")
    def _div_backward(out: Value) -> None:  # d(x / y)/dx = 1 / y, d(x / y)/dy = -(x / y) / y
        x, y = out._prev
        x.grad += _divide(out.grad, y.data)
        y.grad += -out.grad * _divide(out.data, y.data)

    # ---- powers -----------------------------------------------------------------------------------------

    def __pow__(self, exponent: Value | float) -> Value:
        """``x ** k`` for a number ``k`` (op ``**k``), or ``x ** y`` for a Value ``y`` (op ``**``).

        A number exponent is a constant: it is kept as a leaf parent, so drawings show it, but it gets no
        gradient (its gradient, x**k * log(x), is nan for every negative x and would only confuse).
        """
        if isinstance(exponent, Value):
            return Value(_pow(self.data, exponent.data), "", (self, exponent), "**")
        constant = _constant(exponent, "**")
        return Value(_pow(self.data, constant.data), "", (self, constant), "**k")

    @gradient_rule("**k")
    def _pow_constant_backward(out: Value) -> None:  # d(x ** k)/dx = k * x ** (k - 1)
        x, k = out._prev
        if k.data != 0.0:  # x ** 0 is the constant 1: no gradient at all, even where out.grad is inf or nan
            x.grad += out.grad * (k.data * _pow(x.data, k.data - 1.0))

    @gradient_rule("**")
    def _pow_backward(out: Value) -> None:  # d(x ** y)/dx = y * x ** (y - 1), d(x ** y)/dy = x ** y * log(x)
        x, y = out._prev
        if y.data != 0.0:  # as for x ** k above
            x.grad += out.grad * (y.data * _pow(x.data, y.data - 1.0))
        # At x == 0 and y >= 0, x ** y * log(x) would be 0 * -inf = nan; PyTorch defines it as 0, as here.
        # (Unlike the mask above, this 0 is still multiplied by out.grad: inf * 0 = nan, as in PyTorch.)
        dy = 0.0 if x.data == 0.0 and y.data >= 0.0 else out.data * _log(x.data)  # nan for x < 0
        y.grad += out.grad * dy

    # ---- elementwise functions --------------------------------------------------------------------------

    def exp(self) -> Value:
        """e**x; overflows to inf (x > ~709.78) instead of raising."""
        return Value(_exp(self.data), "", (self,), "exp")

    @gradient_rule("exp")
    def _exp_backward(out: Value) -> None:  # d(e**x)/dx = e**x: reuse the forward result
        (x,) = out._prev
        x.grad += out.data * out.grad

    def log(self) -> Value:
        """Natural log; log(0) = -inf and log(x < 0) = nan instead of raising."""
        return Value(_log(self.data), "", (self,), "log")

    @gradient_rule("log")
    def _log_backward(out: Value) -> None:  # d(log x)/dx = 1 / x (PyTorch keeps it at x < 0: -1 at x = -1)
        (x,) = out._prev
        x.grad += _divide(out.grad, x.data)

    def tanh(self) -> Value:
        """Hyperbolic tangent via ``math.tanh``, which saturates to ±1 instead of overflowing.

        The lecture's (e**2x - 1) / (e**2x + 1) overflows to inf / inf = nan for x > ~355.
        """
        return Value(math.tanh(self.data), "", (self,), "tanh")

    @gradient_rule("tanh")
    def _tanh_backward(out: Value) -> None:  # d(tanh x)/dx = 1 - tanh(x)**2: reuse the forward result
        (x,) = out._prev
        x.grad += (1.0 - out.data * out.data) * out.grad

    def sigmoid(self) -> Value:
        """The logistic function 1 / (1 + e**-x), evaluated so that e**(something > 0) is never taken."""
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:  # e**-x would overflow for x < ~-709; e**x / (1 + e**x) is the same number and cannot
            e = math.exp(x)
            s = e / (1.0 + e)
        return Value(s, "", (self,), "sigmoid")

    @gradient_rule("sigmoid")
    def _sigmoid_backward(out: Value) -> None:  # d(sigmoid x)/dx = s * (1 - s)
        (x,) = out._prev
        x.grad += out.grad * (1.0 - out.data) * out.data

    def relu(self) -> Value:
        """max(0, x); nan stays nan, as in PyTorch."""
        x = self.data
        return Value(0.0 if x < 0.0 else x, "", (self,), "relu")

    @gradient_rule("relu")
    def _relu_backward(out: Value) -> None:  # 1 where the output is positive, 0 where it was clipped
        (x,) = out._prev
        # Written as "not <= 0" (PyTorch's test) so that a nan passes its gradient through as PyTorch does.
        if not out.data <= 0.0:
            x.grad += out.grad

    # ---- composites: built from the primitives above, so they need no rules of their own ---------------

    def __neg__(self) -> Value:  # -x
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:  # x - y = x + (-y)
        other = other if isinstance(other, Value) else _constant(other, "-")
        return self + (-other)

    def __radd__(self, other: float) -> Value:  # 2 + x
        return self + other

    def __rmul__(self, other: float) -> Value:  # 2 * x
        return self * other

    def __rsub__(self, other: float) -> Value:  # 2 - x
        return _constant(other, "-") + (-self)

    def __rtruediv__(self, other: float) -> Value:  # 2 / x
        return _constant(other, "/") / self

    def __rpow__(self, other: float) -> Value:  # 2 ** x: the base is a constant, the exponent a Value
        return _constant(other, "**") ** self


# ---- fused ops: one node where the composite would make a long chain ------------------------------------


def linear(weights: Sequence[Value], inputs: Sequence[Value | float], bias: Value) -> Value:
    """``bias + w0*x0 + w1*x1 + ...`` as ONE node with 2n + 1 parents: ``(w0.., x0.., bias)``.

    Why fuse: built from primitives, a neuron with n inputs makes 2n nodes, and the graph walk, not the
    arithmetic, dominates the time. One node per neuron (with ``sum_values``) shrinks the moons demo's
    graph from 65,818 nodes per step (micrograd) to 8,081.

    The sum is taken in exactly the order the composite ``bias + w0*x0 + w1*x1 + ...`` would take it, so
    the forward value is bit-identical to the composite, and every gradient (x_i for w_i, w_i for x_i,
    1 for the bias) is the same product the composite would form. Only when one Value is a parent more
    than once can the order of the gradient additions differ; the tests allow a relative 1e-12 there.
    """
    if len(weights) != len(inputs):
        raise ValueError(
            f"linear needs one weight per input, got {len(weights)} weights and {len(inputs)} inputs; "
            "pass lists of the same length"
        )
    inputs = [x if isinstance(x, Value) else Value(x) for x in inputs]
    total = bias.data
    for w, x in zip(weights, inputs, strict=True):
        total += w.data * x.data
    return Value(total, "", (*weights, *inputs, bias), "linear")


@gradient_rule("linear")
def _linear_backward(out: Value) -> None:  # d/dw_i = x_i, d/dx_i = w_i, d/dbias = 1
    parents = out._prev
    n = len(parents) // 2  # (w0..w_{n-1}, x0..x_{n-1}, bias)
    g = out.grad
    for w, x in zip(parents[:n], parents[n : 2 * n], strict=True):
        w.grad += x.data * g
        x.grad += w.data * g
    parents[-1].grad += g


def sum_values(values: Iterable[Value | float]) -> Value:
    """``v0 + v1 + v2 + ...`` as ONE node whose parents are the terms, in order.

    Why fuse: Python's ``sum(values)`` builds a chain as deep as the list is long. The moons loss sums
    100 hinge terms and 337 squared weights; as chains, every term's edge to its far-away addition made
    graphviz's ``dot`` lay out ~95,000 virtual nodes, and a one-point loss graph took over two minutes
    to draw. As one node each, it draws in seconds (and backward has 437 fewer nodes per step).

    The terms are added left to right starting from 0.0, exactly as ``sum(values, Value(0.0))`` would,
    so the result is bit-identical to the chain, and so is every gradient (each term receives the
    output's gradient unchanged).
    """
    terms = tuple(v if isinstance(v, Value) else _constant(v, "sum") for v in values)
    total = 0.0
    for v in terms:
        total += v.data
    return Value(total, "", terms, "sum")


@gradient_rule("sum")
def _sum_backward(out: Value) -> None:  # d(v0 + v1 + ...)/dv_i = 1
    g = out.grad
    for v in out._prev:
        v.grad += g


# ---- IEEE 754 arithmetic where Python's math module would raise ----------------------------------------


def _as_float(data: object) -> float:
    """A real number as a float; anything else (str, None, complex, a list) is a TypeError."""
    if isinstance(data, numbers.Real):  # int, bool, float, Fraction, NumPy scalars
        return float(data)
    raise TypeError(
        f"Value needs a real number, got {type(data).__name__} {data!r}; convert it first (e.g. float(...))"
    )


def _constant(other: object, op: str) -> Value:
    """A plain number on the other side of an operator, as a leaf Value; anything else is a TypeError."""
    if isinstance(other, numbers.Real):
        return Value(float(other))
    raise TypeError(
        f"unsupported operand type for {op} with a Value: {type(other).__name__} {other!r}; "
        "use a number or a Value"
    )


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def _pow(x: float, y: float) -> float:
    """x ** y with IEEE 754 results where Python raises or goes complex."""
    try:
        return math.pow(x, y)
    except OverflowError:  # |result| too large: ±inf, negative only for a negative base and an odd exponent
        return -math.inf if x < 0.0 and _is_odd_integer(y) else math.inf
    except ValueError:
        if x == 0.0:  # 0 ** negative: inf, signed like the zero when the exponent is an odd integer
            return math.copysign(math.inf, x) if _is_odd_integer(y) else math.inf
        return math.nan  # a negative base with a non-integer exponent: no real result


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x: float) -> float:
    if x > 0.0 or math.isnan(x):
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _divide(a: float, b: float) -> float:
    """a / b with IEEE 754 results for b == 0 (±inf, or nan for 0 / 0) instead of ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
