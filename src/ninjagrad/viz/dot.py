"""``draw_dot``: a graphviz picture of a computation graph, for scalar Values and for Tensors alike.

Each node of the graph becomes a record (label | data | grad); each node made by an operation gets a small
oval with the op's name in front of it, so ``a * b`` reads as a -> (*) -> result. Any node type works if it
follows the node protocol both engines share: ``_prev`` (parents, in argument order), ``_op``, ``label``,
``data`` and ``grad``. A node whose ``data`` is a plain number is drawn with its data and grad; any other
``data`` (a NumPy array) is drawn with its shape and a short summary of data and grad.

Graphviz node names are the nodes' positions in the topological order (``n0``, ``n1``, ...), never
``id()``, so the same graph gives the same DOT source byte for byte, on every run and every machine.

Tensor graphs are freed by ``backward()``, as in PyTorch: each op node lets go of its inputs, so only the
root is left to draw. ``draw_dot`` then says so twice, in the picture (a dashed note on each op whose inputs
are gone) and with a ``UserWarning``, rather than silently drawing a lone node. Call
``backward(retain_graph=True)`` to draw the whole graph with its gradients. Scalar ``Value`` graphs are
never freed.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.files import check_writable, write_atomically
from ninjagrad.graph import topological_order

RANKDIRS = ("LR", "TB", "RL", "BT")  # graphviz's layout directions: left to right, top to bottom, ...
SAVE_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}  # file suffix -> output format
# Picture suffixes that ``Drawing.save`` refuses rather than filling the file with DOT text.
OTHER_PICTURES = (".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".eps", ".ps")
INSTALL_DOT = (
    "graphviz's `dot` program was not found on PATH; install it with `sudo apt-get install graphviz` "
    "(Debian, Ubuntu; `make test` does this itself when it runs as root), `brew install graphviz` (macOS) "
    "or `conda install -c conda-forge graphviz`, or save as .dot (DOT source, needs no `dot`)"
)
# Drawn beside an op whose inputs backward() has freed (tensor graphs only).
FREED_NOTE = "inputs freed by backward()\\nuse backward(retain_graph=True)\\nto draw them"


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

    def save(self, filename=None, directory=None, *, skip_existing=False) -> str:
        """Like ``graphviz.Digraph.save``, but a picture suffix (.svg, .png, .pdf) renders the picture.

        graphviz's own ``save`` writes the DOT source under any name, so ``save("x.png")`` would leave DOT
        text in a .png file. Other picture suffixes (.jpg, ...) are refused; anything else (.gv, .dot, no
        suffix, which ``render`` uses for its source file) is DOT source, as in graphviz.
        """
        path = Path(directory if directory is not None else self.directory) / (filename or self.filename)
        suffix = path.suffix.lower()
        if suffix in SAVE_FORMATS and suffix != ".dot":
            return str(save(self, path))
        if suffix in OTHER_PICTURES:
            raise UserError(
                f"cannot draw {str(path)!r}: {suffix!r} is not a format ninjagrad renders; "
                f"use one of {', '.join(SAVE_FORMATS)}"
            )
        return super().save(filename, directory=directory, skip_existing=skip_existing)


@contextlib.contextmanager
def _explain_missing_dot() -> Iterator[None]:
    try:
        yield
    except graphviz.ExecutableNotFound as error:
        raise UserError(INSTALL_DOT) from error


def draw_dot(root: Any, format: str = "svg", rankdir: str = "LR") -> Drawing:
    """Draw every node ``root`` depends on. ``format`` is what ``render()`` writes; ``rankdir`` "LR" or "TB".

    Returns a ``graphviz.Digraph`` (a ``Drawing``): in Jupyter it displays itself; elsewhere ``save`` it.
    A tensor graph already freed by ``backward()`` is drawn as far as it still exists, with a note and a
    ``UserWarning`` saying how to keep it (see the module docstring).
    """
    if not hasattr(root, "_prev"):
        raise TypeError(
            f"draw_dot draws a Value or a Tensor (a node of a computation graph), got "
            f"{type(root).__name__} {root!r}; pass the result of a computation, e.g. draw_dot(loss)"
        )
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    drawing = Drawing(format=format, graph_attr={"rankdir": rankdir})
    # In a left-to-right layout a record's top-level fields stack vertically; braces turn them back into
    # one row, so the record reads "label | data | grad" in either direction.
    row = "{%s}" if rankdir in ("LR", "RL") else "%s"

    order = topological_order(root)
    names = {id(node): f"n{i}" for i, node in enumerate(order)}
    freed = []  # op nodes whose inputs backward() has let go of
    for node in order:
        name = names[id(node)]
        drawing.node(name, label=row % " | ".join(_record_fields(node)), shape="record")
        if node._op:
            drawing.node(name + "_op", label=node._op, shape="ellipse", height="0.3")
            drawing.edge(name + "_op", name)
            for parent in node._prev:
                drawing.edge(names[id(parent)], name + "_op")
            if _is_freed(node):
                freed.append(node)
                drawing.node(name + "_freed", label=FREED_NOTE, shape="note", style="dashed")
                drawing.edge(name + "_freed", name + "_op", style="dashed")
    if freed:
        warnings.warn(
            f"draw_dot: backward() has freed the graph behind {len(freed)} op node(s) (first: "
            f"{_describe(freed[0])}), so their inputs cannot be drawn; call backward(retain_graph=True) "
            "to keep the graph for drawing, or draw before backward()",
            UserWarning,
            stacklevel=2,
        )
    return drawing


def save(drawing: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write ``drawing`` to ``path``, in the format its suffix names (.svg, .png, .pdf, or .dot source).

    .dot needs nothing else; the other formats need graphviz's ``dot`` program (``UserError`` says how to
    install it when it is missing). Missing parent directories are created. The file is written whole or
    not at all (see ``write_atomically``).
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(
            f"cannot tell the output format from {str(path)!r}: the suffix {path.suffix!r} is not one of "
            f"{', '.join(SAVE_FORMATS)}; name the file e.g. graph.svg"
        )
    if fmt == "dot":
        return write_atomically(path, drawing.source.encode("utf-8"))
    check_writable(path)  # a place that cannot be written is the first thing to say, before a missing `dot`
    with _explain_missing_dot():
        data = drawing.pipe(format=fmt)
    return write_atomically(path, data)


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


def _is_freed(node: Any) -> bool:
    """A tensor made by an op whose inputs ``backward()`` has let go of.

    Only array nodes count: Values keep their graph, and the one scalar op node without inputs is an empty
    ``sum_values([])``, which has nothing to draw rather than something lost.
    """
    return bool(node._op) and not node._prev and not isinstance(node.data, numbers.Real)


def _describe(node: Any) -> str:
    """How a warning names a node: its label if it has one, else its op."""
    return repr(node.label) if node.label else f"a {node._op!r} result"


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
