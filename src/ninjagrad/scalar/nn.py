"""A tiny neural-network library on top of ``Value``, with micrograd's API and parameter order.

``MLP(2, [16, 16, 1], seed=0)`` is a multi-layer perceptron: ReLU hidden layers, a linear output layer.
Call it on a list of numbers (or Values); it returns a Value when the last layer has one neuron, else a
list. ``parameters()`` lists, per neuron, its weights then its bias, layer by layer, as micrograd does,
so weights can be copied between the two one for one.

Initialisation is seedable and explicit: pass ``seed=`` (an int) or ``rng=`` (a ``random.Random``). A
``Neuron`` draws its weights from U(-1, 1) and starts its bias at 0, in the order micrograd draws them.
"""

from __future__ import annotations

import numbers
import random
from collections.abc import Sequence

from ninjagrad.scalar.engine import Value, linear, sum_values


def make_rng(seed: int | None = None, rng: random.Random | None = None) -> random.Random:
    """The random generator to initialise with: ``rng`` itself, or a new one seeded with ``seed``.

    With neither, a generator seeded from the operating system: a different network every run, as in
    PyTorch. The module-level ``random`` functions are never used, so no hidden global state is involved.
    """
    if seed is not None and rng is not None:
        raise ValueError(f"pass seed or rng, not both (got seed={seed!r} and rng={rng!r})")
    if rng is not None:
        return rng
    return random.Random(seed)


def _is_int(n: object) -> bool:
    return isinstance(n, numbers.Integral) and not isinstance(n, bool)  # True is an int, but not a width


def _check_width(name: str, n: object) -> None:
    """``nin`` and ``nout`` count inputs and neurons: an int of at least 1."""
    if not _is_int(n):
        raise TypeError(
            f"{name} must be an int (a number of inputs or neurons), got {type(n).__name__} {n!r}"
        )
    if n < 1:
        raise ValueError(f"{name} must be at least 1, got {n}")


class Module:
    """Something with parameters: ``parameters()`` lists them, ``zero_grad()`` resets their gradients."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        """Reset every parameter's gradient: ``backward()`` *adds* to leaf gradients (see Value.backward)."""
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """relu(b + w·x), or b + w·x when ``nonlin=False``; one fused ``linear`` node for the weighted sum."""

    def __init__(
        self, nin: int, nonlin: bool = True, *, seed: int | None = None, rng: random.Random | None = None
    ) -> None:
        _check_width("nin", nin)
        rng = make_rng(seed, rng)
        self.w = [Value(rng.uniform(-1.0, 1.0)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        act = linear(self.w, x, self.b)  # b + w0*x0 + w1*x1 + ..., summed in micrograd's order
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs.

    Always returns a *list* of Values, even for one neuron: micrograd returned a bare Value there, which
    the next layer could not iterate over, so width-1 hidden layers broke. Only ``MLP`` unwraps, and only
    for its last layer.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        nonlin: bool = True,
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_width("nout", nout)
        rng = make_rng(seed, rng)
        self.neurons = [Neuron(nin, nonlin, rng=rng) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        x = [
            xi if isinstance(xi, Value) else Value(xi) for xi in x
        ]  # numbers become leaves once, not per neuron
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then one layer per entry of ``nouts``.

    Hidden layers use ReLU, the last layer is linear. The result is a Value when the last layer has one
    neuron (a score, as in the moons demo), else a list of Values.
    """

    def __init__(
        self, nin: int, nouts: Sequence[int], *, seed: int | None = None, rng: random.Random | None = None
    ) -> None:
        if not isinstance(nouts, Sequence) or not all(_is_int(n) for n in nouts):
            raise TypeError(f"nouts must be a list of layer widths (ints), e.g. [16, 16, 1], got {nouts!r}")
        _check_width("nin", nin)
        if not nouts or any(n < 1 for n in nouts):
            raise ValueError(
                f"MLP needs at least one layer, each of width >= 1, got nouts={list(nouts)}; e.g. [16, 16, 1]"
            )
        rng = make_rng(seed, rng)
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != last, rng=rng) for i in range(len(nouts))]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        nin = len(self.layers[0].neurons[0].w)
        if not hasattr(x, "__len__"):
            raise TypeError(f"MLP expects a list of {nin} numbers or Values, got {type(x).__name__} {x!r}")
        if len(x) != nin:
            raise ValueError(f"MLP expects {nin} inputs, got {len(x)}; pass one number per input feature")
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


class SGD:
    """Plain stochastic gradient descent: ``p.data -= lr * p.grad`` for every parameter.

    ``lr`` is an ordinary attribute, so a schedule is one assignment per step (``opt.lr = 1 - 0.9*k/100``).
    """

    def __init__(self, params: Sequence[Value], lr: float) -> None:
        self.params = list(params)
        self.lr = lr

    def step(self) -> None:
        lr = self.lr
        for p in self.params:
            p.data -= lr * p.grad

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = 0.0


# ---- losses ---------------------------------------------------------------------------------------------


def _mean(values: Sequence[Value]) -> Value:
    if not values:
        raise ValueError("cannot average an empty list of losses; pass at least one prediction")
    return sum_values(values) * (1.0 / len(values))


def _check_lengths(predictions: Sequence[Value], targets: Sequence[float]) -> None:
    if len(predictions) != len(targets):
        raise ValueError(
            f"got {len(predictions)} predictions and {len(targets)} targets; pass one target per prediction"
        )


def max_margin_loss(scores: Sequence[Value], labels: Sequence[float]) -> Value:
    """The hinge (SVM) loss mean(relu(1 - y * score)) for labels y in {-1, +1}.

    A point stops contributing once it is on the right side with a margin of 1, so training spends its
    effort on the points near the boundary.
    """
    _check_lengths(scores, labels)
    return _mean([(1.0 - y * s).relu() for s, y in zip(scores, labels, strict=True)])


def mse_loss(predictions: Sequence[Value], targets: Sequence[float]) -> Value:
    """Mean squared error mean((prediction - target)**2)."""
    _check_lengths(predictions, targets)
    return _mean([(p - t) ** 2 for p, t in zip(predictions, targets, strict=True)])


def binary_cross_entropy(logits: Sequence[Value], labels: Sequence[float]) -> Value:
    """Mean binary cross-entropy from LOGITS z (not probabilities), for labels y in {0, 1}.

    -[y log sigmoid(z) + (1-y) log(1 - sigmoid(z))] simplifies to softplus(z) - y*z, with
    softplus(z) = log(1 + e**z). Taking logits rather than probabilities is what makes it stable: no
    probability is rounded to exactly 0 or 1 before its log is taken (sigmoid(40) is 1.0 in float64).
    softplus is built from primitives in whichever of its two equal forms keeps the exponent <= 0:
    log(1 + e**z) for z < 0, z + log(1 + e**-z) for z >= 0. Both are smooth, so the gradient is
    sigmoid(z) - y everywhere (a relu(z) + log(1 + e**-|z|) form would give 0 instead of 0.5 at z = 0,
    where relu and |z| have their kinks).
    """
    _check_lengths(logits, labels)
    for y in labels:
        if y not in (0, 1):
            raise ValueError(f"binary_cross_entropy needs labels 0 or 1, got {y!r}; map -1/+1 labels first")
    losses = []
    for z, y in zip(logits, labels, strict=True):
        softplus = z + (1.0 + (-z).exp()).log() if z.data >= 0.0 else (1.0 + z.exp()).log()
        losses.append(softplus - z * y)
    return _mean(losses)


def l2_penalty(params: Sequence[Value], alpha: float) -> Value:
    """alpha * Σ p²: weight decay, which keeps the weights (and the decision boundary) smooth."""
    return alpha * sum_values([p * p for p in params])
