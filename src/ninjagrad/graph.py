"""The one graph walk shared by the scalar engine, the tensor engine and the drawing.

A *node* is any object with a ``_prev`` attribute: the tuple of nodes it was computed from, in argument
order (``a * b`` keeps ``(a, b)``). Tuples, not sets, so the walk, and every drawing made from it, is the
same on every run.

Backpropagation visits nodes in reverse topological order: a node's gradient is complete only once every
node that used it has passed its contribution back. The sort below is iterative (an explicit stack), so a
chain a million nodes deep works where a recursive sort stops at Python's recursion limit (about 1,000).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def topological_order(root: Any) -> list[Any]:
    """Every node ``root`` depends on, parents before children; ``root`` itself is last.

    Depth-first, post-order, with an explicit stack of (node, iterator over its parents). Nodes are
    recognised by identity (``id``), so node types are free to overload ``==`` (tensors do). A leaf (no
    parents) is placed as soon as it is met, without a visit of its own: the same order, fewer steps.
    """
    order: list[Any] = []
    seen = {id(root)}
    stack = [(root, iter(root._prev))]
    place, mark, visit = order.append, seen.add, stack.append
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if id(parent) not in seen:
                mark(id(parent))
                if parent._prev:
                    visit((parent, iter(parent._prev)))
                    break
                place(parent)
        else:  # every parent is placed: the node can follow them
            stack.pop()
            place(node)
    return order


def edges(order: Iterable[Any]) -> list[tuple[Any, Any]]:
    """The (parent, child) pairs among ``order``, in a deterministic order (for drawing)."""
    return [(parent, node) for node in order for parent in node._prev]
