"""Scalar graphs as JSON for the studio: the nodes, the DOT source ``draw_dot`` makes, and each rule in words.

Plain functions from engine objects to JSON-ready data, tested without a browser. The walk is the one
``draw_dot`` and ``backward()`` use (``ninjagrad.graph.topological_order``), and node ids are draw_dot's
graphviz names (``n0``, ``n1``, ... in topological order), so the page can find a node in the drawing.

``rule_view(node, names)`` says what a node's gradient rule does, with its numbers, e.g.
``a.grad += b.data × L.grad: -1.5 = 2 × -0.75``. The words explain; the gradients themselves are always
the engine's (``Value.backward_steps`` runs the rule; the view reads the grads afterwards).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from ninjagrad.graph import topological_order
from ninjagrad.scalar.engine import Value

_PLAIN_NAME = re.compile(r"[A-Za-z_]\w*(\[[\d,]+\])?")  # x1, w1[3,0]: readable in a rule without brackets


def number(x: float) -> float | str:
    """A float for JSON: finite numbers as they are, nan and ±inf as the strings 'nan', 'inf', '-inf'."""
    return x if math.isfinite(x) else str(x)


def short(x: float) -> str:
    """A number as a rule's text shows it: six significant digits."""
    return f"{x:.6g}"


def node_names(order: list[Value]) -> dict[int, str]:
    """id(node) -> draw_dot's graphviz name for it: its position in the topological order."""
    return {id(node): f"n{i}" for i, node in enumerate(order)}


def display_names(order: list[Value]) -> dict[int, str]:
    """id(node) -> how the rules name it: its label when no other node has that label, else its id."""
    counts = Counter(node.label for node in order if node.label)
    names = {}
    for i, node in enumerate(order):
        label = node.label
        if label and counts[label] == 1:
            names[id(node)] = label if _PLAIN_NAME.fullmatch(label) else f"[{label}]"
        else:
            names[id(node)] = f"n{i}"
    return names


def graph_view(root: Value) -> dict[str, Any]:
    """Every node ``root`` depends on (id, label, name, op, data, grad, parents) and draw_dot's DOT source."""
    from ninjagrad.viz.dot import draw_dot

    order = topological_order(root)
    ids = node_names(order)
    names = display_names(order)
    nodes = [
        {
            "id": ids[id(node)],
            "label": node.label,
            "name": names[id(node)],
            "op": node._op,
            "data": number(node.data),
            "grad": number(node.grad),
            "parents": [ids[id(p)] for p in node._prev],
        }
        for node in order
    ]
    return {"root": ids[id(root)], "nodes": nodes, "dot": draw_dot(root).source}


# ---- each rule in words -----------------------------------------------------------------------------------

# A rule's explanation: (target parent, formula text, increment, factors shown after the '=')
Line = tuple[Value, str, float, str]
EXPLAIN: dict[str, Callable[[Value, Callable[[Value], str]], list[Line]]] = {}


def explains(op: str) -> Callable:
    def register(function: Callable) -> Callable:
        EXPLAIN[op] = function
        return function

    return register


@explains("+")
def _add(out: Value, n: Callable[[Value], str]) -> list[Line]:
    return [(p, f"{n(p)}.grad += {n(out)}.grad", out.grad, short(out.grad)) for p in out._prev]


@explains("*")
def _mul(out: Value, n: Callable[[Value], str]) -> list[Line]:
    a, b = out._prev
    g = out.grad
    return [
        (a, f"{n(a)}.grad += {n(b)}.data × {n(out)}.grad", b.data * g, f"{short(b.data)} × {short(g)}"),
        (b, f"{n(b)}.grad += {n(a)}.data × {n(out)}.grad", a.data * g, f"{short(a.data)} × {short(g)}"),
    ]


@explains("/")
def _div(out: Value, n: Callable[[Value], str]) -> list[Line]:
    x, y = out._prev
    g = out.grad
    return [
        (
            x,
            f"{n(x)}.grad += {n(out)}.grad / {n(y)}.data",
            _quotient(g, y.data),
            f"{short(g)} / {short(y.data)}",
        ),
        (
            y,
            f"{n(y)}.grad += -{n(out)}.grad × {n(out)}.data / {n(y)}.data",
            -g * _quotient(out.data, y.data),
            f"-{short(g)} × {short(out.data)} / {short(y.data)}",
        ),
    ]


@explains("**k")
def _pow_constant(out: Value, n: Callable[[Value], str]) -> list[Line]:
    x, k = out._prev
    g = out.grad
    if k.data == 0.0:
        return [(x, f"{n(x)} ** 0 is constant: {n(x)}.grad unchanged", 0.0, "0")]
    return [
        (
            x,
            f"{n(x)}.grad += {short(k.data)} × {n(x)}.data ** {short(k.data - 1)} × {n(out)}.grad",
            k.data * _power(x.data, k.data - 1.0) * g,
            f"{short(k.data)} × {short(x.data)} ** {short(k.data - 1)} × {short(g)}",
        )
    ]


@explains("**")
def _pow(out: Value, n: Callable[[Value], str]) -> list[Line]:
    x, y = out._prev
    g = out.grad
    return [
        (
            x,
            f"{n(x)}.grad += {n(y)}.data × {n(x)}.data ** ({n(y)}.data - 1) × {n(out)}.grad",
            y.data * _power(x.data, y.data - 1.0) * g,
            f"{short(y.data)} × {short(x.data)} ** {short(y.data - 1)} × {short(g)}",
        ),
        (
            y,
            f"{n(y)}.grad += {n(out)}.data × log({n(x)}.data) × {n(out)}.grad",
            out.data * (math.log(x.data) if x.data > 0 else math.nan) * g,
            f"{short(out.data)} × log({short(x.data)}) × {short(g)}",
        ),
    ]


@explains("exp")
def _exp(out: Value, n: Callable[[Value], str]) -> list[Line]:
    (x,) = out._prev
    g = out.grad
    return [
        (x, f"{n(x)}.grad += {n(out)}.data × {n(out)}.grad", out.data * g, f"{short(out.data)} × {short(g)}")
    ]


@explains("log")
def _log(out: Value, n: Callable[[Value], str]) -> list[Line]:
    (x,) = out._prev
    g = out.grad
    return [
        (
            x,
            f"{n(x)}.grad += {n(out)}.grad / {n(x)}.data",
            _quotient(g, x.data),
            f"{short(g)} / {short(x.data)}",
        )
    ]


@explains("tanh")
def _tanh(out: Value, n: Callable[[Value], str]) -> list[Line]:
    (x,) = out._prev
    t, g = out.data, out.grad
    return [
        (
            x,
            f"{n(x)}.grad += (1 - {n(out)}.data²) × {n(out)}.grad",
            (1.0 - t * t) * g,
            f"(1 - {short(t)}²) × {short(g)}",
        )
    ]


@explains("sigmoid")
def _sigmoid(out: Value, n: Callable[[Value], str]) -> list[Line]:
    (x,) = out._prev
    s, g = out.data, out.grad
    return [
        (
            x,
            f"{n(x)}.grad += {n(out)}.data × (1 - {n(out)}.data) × {n(out)}.grad",
            s * (1.0 - s) * g,
            f"{short(s)} × (1 - {short(s)}) × {short(g)}",
        )
    ]


@explains("relu")
def _relu(out: Value, n: Callable[[Value], str]) -> list[Line]:
    (x,) = out._prev
    passes = not out.data <= 0.0
    g = out.grad
    return [
        (
            x,
            f"{n(x)}.grad += ({n(out)}.data > 0) × {n(out)}.grad",
            g if passes else 0.0,
            f"{int(passes)} × {short(g)}",
        )
    ]


@explains("linear")
def _linear(out: Value, n: Callable[[Value], str]) -> list[Line]:
    parents = out._prev
    k = len(parents) // 2  # (w0..w_{k-1}, x0..x_{k-1}, bias)
    g = out.grad
    lines: list[Line] = []
    for w, x in zip(parents[:k], parents[k : 2 * k], strict=True):
        lines.append(
            (w, f"{n(w)}.grad += {n(x)}.data × {n(out)}.grad", x.data * g, f"{short(x.data)} × {short(g)}")
        )
        lines.append(
            (x, f"{n(x)}.grad += {n(w)}.data × {n(out)}.grad", w.data * g, f"{short(w.data)} × {short(g)}")
        )
    bias = parents[-1]
    lines.append((bias, f"{n(bias)}.grad += {n(out)}.grad", g, short(g)))
    return lines


@explains("sum")
def _sum(out: Value, n: Callable[[Value], str]) -> list[Line]:
    return [(p, f"{n(p)}.grad += {n(out)}.grad", out.grad, short(out.grad)) for p in out._prev]


def rule_view(node: Value, ids: dict[int, str], names: dict[int, str]) -> dict[str, Any]:
    """What ``node``'s gradient rule adds to each parent, in words and numbers; call it BEFORE the rule runs.

    Returns ``{"node", "op", "lines": [{"target", "text"}]}``; each text reads
    ``a.grad += b.data × L.grad: -1.5 = 2 × -0.75``. ``rule_result`` adds the grads after the rule.
    """

    def name(v: Value) -> str:
        return names[id(v)]

    lines = [
        {"target": ids[id(target)], "text": f"{formula}: {short(increment)} = {factors}"}
        for target, formula, increment, factors in EXPLAIN[node._op](node, name)
    ]
    return {"node": ids[id(node)], "name": name(node), "op": node._op, "lines": lines}


def rule_result(rule: dict[str, Any], by_id: dict[str, Value]) -> dict[str, Any]:
    """``rule`` with each target's grad after the rule ran (the engine's number), e.g. ``→ a.grad = 6``."""
    for line in rule["lines"]:
        line["grad_after"] = number(by_id[line["target"]].grad)
        line["text"] += f" → grad {short(by_id[line['target']].grad)}"
    return rule


def _quotient(a: float, b: float) -> float:
    if b == 0.0:
        return math.nan if a == 0.0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _power(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except (OverflowError, ValueError):
        return math.nan
