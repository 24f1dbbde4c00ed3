"""``draw_dot``: a graphviz picture of a computation graph, for scalar Values and for Tensors alike.

Each node of the graph becomes a record (label | data | grad); each node made by an operation gets a small
oval with the op's name in front of it, so ``a * b`` reads as a -> (*) -> result. Any node type works if it
follows the node protocol both engines share: ``_prev`` (parents, in argument order), ``_op``, ``label``,
``data`` and ``grad``. A node whose ``data`` is a plain number is drawn with its data and grad; any other
``data`` (a NumPy array) is drawn with its shape and a short summary of data and grad.

Graphviz node names are the nodes' positions in the topological order (``n0``, ``n1``, ...), never
``id()``, so the same graph gives the same DOT source byte for byte, on every run and every machine.
"""

from __future__ import annotations

import contextlib
import numbers
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.graph import topological_order

RANKDIRS = ("LR", "TB", "RL", "BT")  # graphviz's layout directions: left to right, top to bottom, ...
SAVE_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}  # file suffix -> output format
INSTALL_DOT = (
    "graphviz's `dot` program was not found on PATH; install it with `apt-get install graphviz` (Debian, "
    "Ubuntu), `brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`, or save as .dot "
    "(needs no `dot`)"
)


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering says how to install ``dot`` when it is missing.

    Jupyter displays it through graphviz's own hook (``_repr_mimebundle_``, which calls ``pipe``), so the
    same message reaches a notebook user too, instead of graphviz's ``ExecutableNotFound``.
    """

    def pipe(self, *args: Any, **kwargs: Any) -> bytes | str:
        with _explain_missing_dot():
            return super().pipe(*args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> str:
        with _explain_missing_dot():
            return super().render(*args, **kwargs)


@contextlib.contextmanager
def _explain_missing_dot() -> Iterator[None]:
    try:
        yield
    except graphviz.ExecutableNotFound as error:
        raise UserError(INSTALL_DOT) from error


def draw_dot(root: Any, format: str = "svg", rankdir: str = "LR") -> Drawing:
    """Draw every node ``root`` depends on. ``format`` is what ``render()`` writes; ``rankdir`` "LR" or "TB".

    Returns a ``graphviz.Digraph`` (a ``Drawing``): in Jupyter it displays itself; elsewhere ``save`` it.
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    drawing = Drawing(format=format, graph_attr={"rankdir": rankdir})
    # In a left-to-right layout a record's top-level fields stack vertically; braces turn them back into
    # one row, so the record reads "label | data | grad" in either direction.
    row = "{%s}" if rankdir in ("LR", "RL") else "%s"

    order = topological_order(root)
    names = {id(node): f"n{i}" for i, node in enumerate(order)}
    for node in order:
        name = names[id(node)]
        drawing.node(name, label=row % " | ".join(_record_fields(node)), shape="record")
        if node._op:
            drawing.node(name + "_op", label=node._op, shape="ellipse", height="0.3")
            drawing.edge(name + "_op", name)
            for parent in node._prev:
                drawing.edge(names[id(parent)], name + "_op")
    return drawing


def save(drawing: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write ``drawing`` to ``path``, in the format its suffix names (.svg, .png, .pdf, or .dot source).

    .dot needs nothing else; the other formats need graphviz's ``dot`` program (``UserError`` says how to
    install it when it is missing). Missing parent directories are created.
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(
            f"cannot tell the output format from {str(path)!r}: the suffix {path.suffix!r} is not one of "
            f"{', '.join(SAVE_FORMATS)}; name the file e.g. graph.svg"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(drawing.source, encoding="utf-8")
        return path
    with _explain_missing_dot():
        data = drawing.pipe(format=fmt)
    path.write_bytes(data)
    return path


# ---- what a node shows ---------------------------------------------------------------------------------


def _record_fields(node: Any) -> list[str]:
    """The record's fields: [label,] data, grad for a scalar; label with shape, data, grad for a tensor."""
    if isinstance(node.data, numbers.Real):
        fields = [f"data {_number(node.data)}", f"grad {_number(node.grad)}"]
        return [_escape(f) for f in ([node.label] if node.label else []) + fields]
    data = np.asarray(node.data)
    title = f"{node.label} {data.shape}" if node.label else str(data.shape)
    grad = "grad None" if node.grad is None else f"grad {_summary(np.asarray(node.grad))}"
    return [_escape(title), _escape(f"data {_summary(data)}"), _escape(grad)]


def _number(x: float) -> str:
    """Four decimals, as in the lecture's drawings; scientific notation once that would be unreadable."""
    x = float(x)
    return f"{x:.4e}" if x != 0.0 and (abs(x) >= 1e6 or abs(x) < 1e-4) else f"{x:.4f}"


def _summary(values: np.ndarray) -> str:
    """A few values when the array is tiny, else its mean, std, min and max."""
    if values.size <= 4:
        return "[" + ", ".join(_number(v) for v in values.ravel()) + "]"
    return (
        f"mean {_number(values.mean())} std {_number(values.std())} "
        f"min {_number(values.min())} max {_number(values.max())}"
    )


def _escape(text: str) -> str:
    """Escape the characters that structure a graphviz record label, so a label is shown as typed."""
    for char in '\\{}|<>"':
        text = text.replace(char, "\\" + char)
    return text
