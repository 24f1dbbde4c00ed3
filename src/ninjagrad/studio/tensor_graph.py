"""The tensor page's graph: the atomic chain of the makemore MLP, engine state -> JSON, every shape shown.

The chain's text has one home, the atomic kata's exercise file (``kata/exercises/atomic.py``): its forward
lines, each ``name = expression``, give the nodes, their edges (the names on the right) and their ops; its
backward lines, grouped per gradient by the kata's own workbook parser, are the answers behind *show
answer*. The numbers come from the engine on the kata's batch (32 examples, 64 hidden units, seeded):
:func:`~ninjagrad.makemore.atomic.forward_atomic`, the hand-written
:func:`~ninjagrad.makemore.atomic.backward_atomic`, and the Tensor engine's autograd
(:func:`~ninjagrad.makemore.atomic.reference_gradients`), compared with :func:`ninjagrad.check.compare`.

:func:`build_chain` does the work once; :func:`graph_json` and :func:`node_json` are the views. The layout
is a grid the page scales: the chain top to bottom in forward order (column 0), each parameter and input in
column 1 beside the first line that uses it, so the page never needs to scroll sideways.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import numpy as np

from ninjagrad.check import compare
from ninjagrad.makemore.atomic import GRADIENT_NAMES, backward_atomic, forward_atomic, reference_gradients
from ninjagrad.makemore.model import PARAM_NAMES

HEATMAP_CELLS = 64  # a heatmap has at most this many rows and columns; larger arrays are block-averaged
INPUTS = ("Xb", "Yb")  # the batch: integer inputs, no gradient
_OPERATORS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.USub: "neg",
}


@dataclass(frozen=True)
class ChainNode:
    """One node of the graph: a forward variable, a parameter or an input."""

    name: str
    kind: str  # "variable", "parameter", "input" or "loss"
    op: str  # the operations of its forward line, in evaluation order ("" for a leaf)
    line: str  # its forward line, as the solution file writes it ("" for a leaf)
    comment: str  # the comment beside that line
    inputs: tuple[str, ...]  # the nodes its line reads, in order of first appearance
    row: int
    column: int


@dataclass(frozen=True)
class Chain:
    """The atomic chain on one batch: its nodes, values, gradients and their check against autograd."""

    nodes: tuple[ChainNode, ...]
    values: dict[str, np.ndarray]  # every node's value by name
    gradients: dict[str, np.ndarray]  # the hand-written backward's 26 gradients
    comparisons: dict[str, Any]  # name -> check.Comparison against the Tensor engine's autograd
    backward_lines: dict[str, tuple[str, ...]]  # name -> its backward lines (with their comments)
    constants: dict[str, Any]  # non-node names on the lines, e.g. n

    def node(self, name: str) -> ChainNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)


def build_chain() -> Chain:
    """The atomic kata's chain with the engine's numbers on the kata's batch."""
    from ninjagrad.kata.exercises import get_exercise

    exercise = get_exercise("atomic")
    given = exercise.given(0)  # the lecture's data set: batch 32, 64 hidden units
    Xb, Yb = given["Xb"], given["Yb"]
    params = {name: given[name] for name in PARAM_NAMES}
    forward = forward_atomic(params, Xb, Yb)
    gradients = backward_atomic(params, Xb, Yb, forward)
    reference = reference_gradients(params, Xb, Yb)
    comparisons = {
        name: compare(name, gradients[name], reference[name], show=False) for name in GRADIENT_NAMES
    }
    values = {"Xb": Xb, "Yb": Yb, **params, **forward}
    source = exercise.solution_source()
    lines = _forward_lines(source, set(forward))
    nodes = _layout(lines, set(params))
    return Chain(
        nodes=nodes,
        values=values,
        gradients=gradients,
        comparisons=comparisons,
        backward_lines=_backward_lines(source, exercise),
        constants={"n": int(Xb.shape[0]), "eps": _constant(source, "eps")},
    )


def _constant(source: str, name: str) -> float | None:
    """The number a top-level ``name = <number>`` of the exercise assigns (e.g. eps = 1e-5)."""
    for statement in ast.parse(source).body:
        if (
            isinstance(statement, ast.Assign)
            and [getattr(t, "id", None) for t in statement.targets] == [name]
            and isinstance(statement.value, ast.Constant)
        ):
            return statement.value.value
    return None


def _forward_lines(source: str, names: set[str]) -> list[tuple[str, ast.expr, str, str]]:
    """(name, expression, line text, comment) of each forward line ``name = ...`` of the solution."""
    text = source.splitlines()
    found = []
    for statement in ast.parse(source).body:
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id in names
        ):
            raw = text[statement.lineno - 1]
            code, _, comment = raw.partition("  # ")
            found.append((statement.targets[0].id, statement.value, code.strip(), comment.strip()))
    return found


def _names(expression: ast.expr) -> list[str]:
    """The names an expression reads, in the order they appear in its text."""
    found = sorted(
        (node.lineno, node.col_offset, node.id) for node in ast.walk(expression) if isinstance(node, ast.Name)
    )
    return list(dict.fromkeys(name for _, _, name in found))


def op_label(expression: ast.expr, nodes: set[str]) -> str:
    """The operations of an expression on ``nodes``, in evaluation order: ``embcat @ W1 + b1`` -> ``"@ +"``.

    Arithmetic on constants alone (``1 / n``, ``-0.5``) is left out: it is a number, not a step of the chain.
    """
    ops: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            visit(child)
        if not isinstance(node, ast.expr) or not any(name in nodes for name in _names(node)):
            return
        if isinstance(node, ast.BinOp | ast.UnaryOp) and type(node.op) in _OPERATORS:
            ops.append(_OPERATORS[type(node.op)])
        elif isinstance(node, ast.Subscript):
            ops.append("index")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr != "arange":  # np.arange(n) only builds the row indices of an index
                ops.append(node.func.attr)

    visit(expression)
    return " ".join(ops)


def _layout(lines, parameters: set[str]) -> tuple[ChainNode, ...]:
    """Column 0: the chain in forward order; columns 1, 2: each leaf beside the line that first reads it."""
    nodes: list[ChainNode] = []
    placed: set[str] = set()
    every = parameters | set(INPUTS) | {name for name, *_ in lines}
    for row, (name, expression, code, comment) in enumerate(lines):
        used = [n for n in _names(expression) if n in parameters or n in INPUTS or n in placed]
        column = 1
        for leaf in used:
            if leaf not in placed and (leaf in parameters or leaf in INPUTS):
                kind = "parameter" if leaf in parameters else "input"
                nodes.append(ChainNode(leaf, kind, "", "", "", (), row, column))
                placed.add(leaf)
                column += 1
        kind = "loss" if name == "loss" else "variable"
        nodes.append(ChainNode(name, kind, op_label(expression, every), code, comment, tuple(used), row, 0))
        placed.add(name)
    return tuple(nodes)


def _backward_lines(source: str, exercise) -> dict[str, tuple[str, ...]]:
    """Each gradient's statements in the solution, with the comment line above the first of them."""
    from ninjagrad.kata.workbook import parse_workbook

    workbook = parse_workbook(source, f"<exercise {exercise.name}>", exercise)
    answers = {}
    for gradient in exercise.gradients:
        statements = workbook.statements_of(gradient.name)
        lines: list[str] = []
        comment = workbook.text(statements[0].first_line - 1).strip()
        if comment.startswith("#"):
            lines.append(comment)
        for statement in statements:
            lines.extend(workbook.text(i) for i in range(statement.first_line, statement.last_line + 1))
        answers[gradient.name] = tuple(lines)
    return answers


# ---- views --------------------------------------------------------------------------------------------


def summary(array: np.ndarray) -> dict[str, Any]:
    """min, max, mean and std of an array (as float64), and its shape and dtype."""
    values = np.asarray(array)
    as_float = values.astype(np.float64)
    finite = as_float[np.isfinite(as_float)]
    stats = (
        {key: float(getattr(np, key)(finite)) for key in ("min", "max", "mean", "std")}
        if finite.size
        else dict.fromkeys(("min", "max", "mean", "std"))
    )
    return {"shape": list(values.shape), "dtype": str(values.dtype), **stats}


def heatmap(array: np.ndarray, cells: int = HEATMAP_CELLS) -> dict[str, Any]:
    """A 2-D picture of an array of any rank, at most ``cells`` x ``cells``.

    A scalar is 1 x 1, a vector one row, an (n, a, b) array the (n, a * b) matrix its rows flatten to (the
    lecture's view of ``emb``). A dimension longer than ``cells`` is averaged in equal blocks, so the picture
    keeps the array's mean; ``block`` says how many entries one cell stands for.
    """
    values = np.asarray(array, dtype=np.float64)
    matrix = values.reshape(1, -1) if values.ndim < 2 else values.reshape(values.shape[0], -1)
    rows, columns = matrix.shape
    row_block, column_block = -(-rows // cells), -(-columns // cells)  # ceil division
    if row_block > 1 or column_block > 1:
        out_rows, out_columns = -(-rows // row_block), -(-columns // column_block)
        padded = np.full((out_rows * row_block, out_columns * column_block), np.nan)
        padded[:rows, :columns] = matrix
        with np.errstate(invalid="ignore"):
            matrix = np.nanmean(padded.reshape(out_rows, row_block, out_columns, column_block), axis=(1, 3))
    finite = np.isfinite(matrix)
    return {
        "rows": int(matrix.shape[0]),
        "columns": int(matrix.shape[1]),
        "block": [int(row_block), int(column_block)],
        "values": [
            [float(f"{v:.4g}") if ok else None for v, ok in zip(row, row_ok, strict=True)]
            for row, row_ok in zip(matrix, finite, strict=True)
        ],
    }


def shape_text(shape) -> str:
    """A shape as the lecture prints it: ``(32, 27)``, ``(27,)``, ``()``."""
    return str(tuple(int(s) for s in shape))


def graph_json(chain: Chain) -> dict[str, Any]:
    """The whole graph for the page: nodes (name, kind, shape, op, grid position) and edges."""
    nodes = []
    for node in chain.nodes:
        shape = np.shape(chain.values[node.name])
        entry = {
            "name": node.name,
            "kind": node.kind,
            "op": node.op,
            "shape": shape_text(shape),
            "row": node.row,
            "column": node.column,
            "gradient": None,
        }
        if node.name in chain.gradients:
            comparison = chain.comparisons[node.name]
            entry["gradient"] = {
                "name": "d" + node.name,
                "shape": shape_text(chain.gradients[node.name].shape),
                "exact": comparison.exact,
                "approximate": comparison.approximate,
            }
        nodes.append(entry)
    edges = [{"from": source, "to": node.name} for node in chain.nodes for source in node.inputs]
    return {
        "nodes": nodes,
        "edges": edges,
        "rows": 1 + max(node.row for node in chain.nodes),
        "gradients": list(GRADIENT_NAMES),
    }


def node_json(chain: Chain, name: str) -> dict[str, Any]:
    """What a click on ``name`` shows: its line with every variable's shape, heatmaps, answer and check."""
    from ninjagrad.errors import UserError

    try:
        node = chain.node(name)
    except KeyError:
        raise UserError(f"the graph has no node {name!r}; its nodes are the lecture's variables") from None
    on_line = [node.name, *node.inputs] if node.line else [node.name]
    for extra in _names(ast.parse(node.line).body[0].value) if node.line else ():
        if extra in chain.constants and extra not in on_line:
            on_line.append(extra)
    shapes = []
    for variable in on_line:
        if variable in chain.constants:
            shapes.append({"name": variable, "shape": "()", "value": chain.constants[variable]})
        else:
            shapes.append({"name": variable, "shape": shape_text(np.shape(chain.values[variable]))})
    data = chain.values[name]
    detail: dict[str, Any] = {
        "name": name,
        "kind": node.kind,
        "op": node.op,
        "line": node.line,
        "comment": node.comment,
        "shapes": shapes,
        "data": {"summary": summary(data), "heatmap": heatmap(data)},
        "gradient": None,
    }
    if name in chain.gradients:
        gradient = chain.gradients[name]
        detail["gradient"] = {
            "name": "d" + name,
            "summary": summary(gradient),
            "heatmap": heatmap(gradient),
            "backward": list(chain.backward_lines[name]),
            "check": chain.comparisons[name].as_dict(),
        }
    return detail
