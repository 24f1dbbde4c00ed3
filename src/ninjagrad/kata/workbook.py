"""Workbooks: writing a new one, and reading which of its statements compute which gradient.

A workbook is an ordinary Python file, read with :mod:`ast` (ninjagrad never imports it). The rules:

- ``KATA = "<name>"`` at the top level names the exercise;
- a statement *belongs to* the gradient ``dX`` it assigns (``dX = ...``, ``dX += ...``, ``dX[i] = ...``, or a
  loop that does so) or changes in place (``np.add.at(dX, ...)``, ``dX.fill(0)``); any other statement after
  the first of those (a helper such as ``onehot = ...``, a ``print``) belongs to the next gradient line below
  it, or to the last gradient if none follows; statements before the first gradient line are the set-up and
  the forward pass;
- a gradient is *not written yet* while one of its statements is still ``dX = ...``.

A gradient's statements need not be next to each other: ``dcounts = ...`` may come before ``dcounts_sum``'s
line and ``dcounts += ...`` after it, as in the lecture. The gradient is complete after its last statement.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ninjagrad.errors import UserError
from ninjagrad.kata.exercise import BACKWARD_BEGIN, BACKWARD_END, Exercise

__all__ = ["BACKWARD_BEGIN", "BACKWARD_END", "Workbook", "WorkbookError", "parse_workbook", "render_workbook"]


class WorkbookError(Exception):
    """The file cannot be checked as it is: a syntax error, no KATA line, a gradient never assigned."""

    def __init__(self, kind: str, message: str, line: int | None = None, text: str = ""):
        super().__init__(message)
        self.kind = kind  # "syntax", "not_a_workbook", "missing_variable"
        self.message = message
        self.line = line  # 1-based, in the learner's file
        self.text = text  # that line's text


@dataclass(frozen=True)
class Statement:
    """One top-level statement of a workbook."""

    node: ast.stmt
    gradients: tuple[str, ...]  # forward names of the gradients it belongs to; () before the backward pass
    placeholder: bool  # `dX = ...`: the learner has not written this line yet

    @property
    def first_line(self) -> int:
        return self.node.lineno

    @property
    def last_line(self) -> int:
        return self.node.end_lineno or self.node.lineno


@dataclass(frozen=True)
class Workbook:
    """A parsed workbook: its text and its statements, each tagged with the gradients it computes."""

    path: str
    lines: tuple[str, ...]  # the source, line i + 1 at index i
    statements: tuple[Statement, ...]

    def statements_of(self, name: str) -> list[Statement]:
        return [s for s in self.statements if name in s.gradients]

    def is_written(self, name: str) -> bool:
        return not any(s.placeholder for s in self.statements_of(name))

    def line_numbers(self, name: str) -> tuple[int, ...]:
        return tuple(line for s in self.statements_of(name) for line in range(s.first_line, s.last_line + 1))

    def text(self, line: int) -> str:
        return self.lines[line - 1].rstrip() if 0 < line <= len(self.lines) else ""

    def names_used(self, name: str) -> list[str]:
        """Every variable named on ``name``'s lines, in order of first appearance."""
        seen: dict[str, None] = {}
        for statement in self.statements_of(name):
            for node in ast.walk(statement.node):
                if isinstance(node, ast.Name):
                    seen.setdefault(node.id, None)
        return list(seen)


def read_kata_name(source: str, path: str) -> str:
    """The exercise a workbook is for, from its top-level ``KATA = "<name>"``."""
    tree = _parse(source, path)
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "KATA"
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise WorkbookError(
        "not_a_workbook",
        f'{path} has no line `KATA = "<exercise>"`, so it is not a kata workbook (or that line was lost); '
        "start one with `ninjagrad kata new NAME`",
    )


def parse_workbook(source: str, path: str, exercise: Exercise) -> Workbook:
    """Tag every top-level statement with the gradients of ``exercise`` it computes (see the module doc)."""
    nodes = _parse(source, path).body
    wanted = {g.variable: g.name for g in exercise.gradients}
    own = [_assigned(node, wanted) or _changed_in_place(node, wanted) for node in nodes]
    first = next((i for i, gradients in enumerate(own) if gradients), len(nodes))
    owners: list[tuple[str, ...]] = [()] * len(nodes)
    below = next((gradients for gradients in reversed(own) if gradients), ())  # trailing lines: the last one
    for i in reversed(range(first, len(nodes))):
        below = own[i] or below
        owners[i] = below
    statements = tuple(
        Statement(node, owners[i], bool(own[i]) and _is_placeholder(node)) for i, node in enumerate(nodes)
    )
    workbook = Workbook(path, tuple(source.splitlines()), statements)
    _check_every_gradient_is_assigned(workbook, exercise)
    return workbook


def read_source(path: str | Path) -> str:
    """A workbook's text. A byte-order mark (Windows Notepad writes one) is skipped, as Python does."""
    return Path(path).read_text(encoding="utf-8-sig")


def _parse(source: str, path: str) -> ast.Module:
    try:
        tree = ast.parse(source, filename=path)
        compile(tree, path, "exec")  # what only the compiler refuses: `return` or `yield` outside a function
        return tree
    except SyntaxError as error:
        line = error.lineno
        lines = source.splitlines()
        shown = error.text or (lines[line - 1] if line and 0 < line <= len(lines) else "")
        raise WorkbookError("syntax", f"SyntaxError: {error.msg}", line, shown.rstrip("\n")) from None


def _assigned(node: ast.stmt, wanted: dict[str, str]) -> tuple[str, ...]:
    """The gradients (forward names) a statement stores into, in order: ``dX = ``, ``dX[i] += ``, ..."""
    found: dict[str, None] = {}
    for sub in ast.walk(node):
        if isinstance(getattr(sub, "ctx", None), ast.Store):
            root = sub
            while isinstance(root, (ast.Subscript, ast.Attribute, ast.Starred)):
                root = root.value
            if isinstance(root, ast.Name) and root.id in wanted:
                found.setdefault(wanted[root.id], None)
    return tuple(found)


def _changed_in_place(node: ast.stmt, wanted: dict[str, str]) -> tuple[str, ...]:
    """The gradient a bare call changes in place: ``np.add.at(dC, ...)`` or ``dC.fill(0)``."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return ()
    call = node.value
    candidates = [call.args[0]] if call.args else []
    if isinstance(call.func, ast.Attribute):
        candidates.append(call.func.value)
    for candidate in candidates:
        if isinstance(candidate, ast.Name) and candidate.id in wanted:
            return (wanted[candidate.id],)
    return ()


def _is_placeholder(node: ast.stmt) -> bool:
    """``dX = ...`` (the TODO line as written by ``kata new``)."""
    value = (
        getattr(node, "value", None) if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) else None
    )
    return isinstance(value, ast.Constant) and value.value is Ellipsis


def _check_every_gradient_is_assigned(workbook: Workbook, exercise: Exercise) -> None:
    previous = None
    for gradient in exercise.gradients:
        statements = workbook.statements_of(gradient.name)
        if not statements:
            where = f" after {previous.variable}'s line" if previous else ""
            raise WorkbookError(
                "missing_variable",
                f"{workbook.path} never assigns {gradient.variable}: every gradient of exercise "
                f"{exercise.name!r} needs its line (`{gradient.variable} = ...`){where}, in backward order",
            )
        previous = gradient


def render_workbook(exercise: Exercise, *, solved: bool = False) -> str:
    """The text of a new workbook: the solution file with its backward lines replaced by TODO lines."""
    source = exercise.solution_source()
    if solved:
        return source
    lines = source.splitlines(keepends=True)
    try:
        begin = next(i for i, line in enumerate(lines) if line.rstrip() == BACKWARD_BEGIN)
        end = next(i for i, line in enumerate(lines) if line.rstrip() == BACKWARD_END)
    except StopIteration:  # a broken installation, not the user's doing
        raise RuntimeError(
            f"the solution of {exercise.name!r} lacks the backward-pass marker lines"
        ) from None
    todo = [f"{g.variable} = ...  # TODO -> {_target_shape(exercise, g)}\n" for g in exercise.gradients]
    return "".join(lines[: begin + 1] + todo + lines[end:])


def _target_shape(exercise: Exercise, gradient) -> str:
    """What the TODO line must produce: the shape of its variable on the lecture's data (or "a number")."""
    from ninjagrad.kata.checker import forward_namespace

    _, namespace = forward_namespace(exercise, exercise.given(0))
    value = namespace[gradient.target]
    return str(tuple(value.shape)) if isinstance(value, np.ndarray) else "a number"


def write_workbook(exercise: Exercise, path: Path, *, solved: bool = False, force: bool = False) -> None:
    """Write a new workbook to ``path``; an existing file is the learner's work, kept unless ``force``.

    Written with ``write_atomically``: a full disk or a Ctrl-C leaves either the old file or the whole new
    one, never half a workbook.
    """
    if path.exists() and not path.is_file():
        raise UserError(
            f"{path} is a directory or a device, not a file; give the workbook's file name "
            f"(e.g. -o {path / (exercise.name + '.py') if path.is_dir() else exercise.name + '.py'})"
        )
    if path.exists() and not force:
        raise UserError(
            f"{path} already exists and may hold your work; pass --force to overwrite it, or -o to write "
            "the new workbook elsewhere"
        )
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"cannot write {path}: the directory {folder} does not exist; create it first")
    from ninjagrad.files import write_atomically  # only here: the checker and its runner write no workbook

    text = render_workbook(exercise, solved=solved)
    write_atomically(path, text.encode("utf-8"))
