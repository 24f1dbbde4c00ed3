"""What an exercise is, and how its one file is read.

An exercise is one file, ``kata/exercises/<name>.py``: a solved workbook (set-up, forward pass, backward
pass, between marker lines), then, below ``EXERCISE_BEGIN``, the :class:`Exercise` record (hints, data).
Everything else is computed from that text: ``kata new`` blanks its backward lines, makemore's atomic chain
runs them on arrays, and the autograd reference runs its forward lines on an engine (``kata.traced``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ninjagrad.errors import UserError

FORWARD_BEGIN = "# ---- forward pass (given) ----"
BACKWARD_BEGIN = "# ---- backward pass: one line per gradient, in this order ----"
BACKWARD_END = "# ---- end of the backward pass ----"
EXERCISE_BEGIN = "# ---- the exercise, for the checker (a workbook ends above this line) ----"


@dataclass(frozen=True)
class Gradient:
    """One row of an exercise: the gradient of one forward variable."""

    name: str  # the forward variable
    hint: str  # which local derivative applies, without the answer (`kata check --hint`)
    ties_in: str | None = None  # the variable whose row maxima route this gradient (the max's tie rule)
    scatter: tuple[str, str] | None = None  # (indices, upstream gradient) for an embedding table's gradient
    hidden: str | None = None  # why the real data hides mistakes in this line: then the probe runs it again
    # For a gradient whose solution is one formula: the paths it sums, each (the variable it comes through,
    # an expression of the workbook's variables), so that one wrong path can be named.
    paths: tuple[tuple[str, str], ...] = ()
    of: str | None = None  # the forward variable, when the row is a second way to its gradient (x_fused)
    reads_only: tuple[str, ...] | None = None  # the only gradients a fused line may use (None: any)

    @property
    def variable(self) -> str:
        """The learner's variable: ``dprobs`` for ``probs``."""
        return "d" + self.name

    @property
    def target(self) -> str:
        """The forward variable whose gradient this row is."""
        return self.of or self.name


@dataclass(frozen=True)
class Probe:
    """A second run of the lines whose real upstream gradient would hide a mistake (``Gradient.hidden``).

    ``build(namespace, rng)`` gets the reference namespace in float64 and returns the values to put in place
    of some of its entries (random upstream gradients, forward values with ties).
    """

    build: Callable[[Mapping[str, Any], np.random.Generator], dict[str, np.ndarray]]
    description: str  # what is different in the second run, for the report
    seed: int = 0  # the random upstream values are the same on every check


@dataclass(frozen=True)
class Exercise:
    """A kata: a forward pass given, a backward pass to write, an autograd reference to check it against."""

    name: str  # what `kata new NAME` takes; also the workbook's KATA value
    title: str  # one line for `kata list`
    order: int  # where `kata list` shows it
    engine: str  # "tensor" or "value": which autograd computes the reference
    gradients: tuple[Gradient, ...]  # backward order: the TODO lines, the table and "first wrong" follow it
    given: Callable[[int], dict[str, Any]]  # data set k -> the given numbers by name (0: the lecture's)
    outputs: tuple[tuple[str, str | None], ...] = (("loss", None),)  # (output, its given upstream gradient)
    datasets: int = 2  # data sets each line runs on (see README: a second one catches pasted numbers)
    graded_datasets: int = 2  # of those, the ones a line must be right on (the rest only help diagnose)
    batch_size: str | None = None  # the variable holding n, so a factor of 1/n or n/(n-1) can be named
    probe: Probe | None = None  # see Probe; None when the real upstream gradients show every mistake
    # the exercise whose solution lines (and the comments above them) for these gradients are this one's, so
    # that each backward line is written once; this file's backward section then holds only a comment
    backward_from: str | None = None
    source: str = field(default="", repr=False)  # the exercise file's text, filled in by `load`

    @property
    def engine_name(self) -> str:
        return "the Value engine's autograd" if self.engine == "value" else "the Tensor engine's autograd"

    @property
    def probed(self) -> tuple[Gradient, ...]:
        return tuple(g for g in self.gradients if g.hidden) if self.probe else ()

    def gradient(self, name: str) -> Gradient:
        """The row for ``name``, given as the forward variable (``probs``) or the learner's (``dprobs``)."""
        for gradient in self.gradients:
            if name in (gradient.name, gradient.variable):
                return gradient
        names = ", ".join(g.variable for g in self.gradients)
        raise UserError(f"exercise {self.name!r} has no gradient {name!r}; its gradients are: {names}")

    def solution_source(self) -> str:
        """The solved workbook: the exercise file down to (not including) its EXERCISE block, with the
        backward lines of ``backward_from`` put in its backward section if it borrows them."""
        lines = self.source.splitlines(keepends=True)
        end = next(i for i, line in enumerate(lines) if line.rstrip() == EXERCISE_BEGIN)
        lines = lines[:end]
        if self.backward_from is not None:
            begin = next(i for i, line in enumerate(lines) if line.rstrip() == BACKWARD_BEGIN)
            stop = next(i for i, line in enumerate(lines) if line.rstrip() == BACKWARD_END)
            lines = lines[: begin + 1] + self._borrowed() + lines[stop:]
        return "".join(lines).rstrip("\n") + "\n"

    def _borrowed(self) -> list[str]:
        """The lines of ``backward_from``'s solution for this exercise's gradients, each with the comment
        lines right above its first statement."""
        from ninjagrad.kata.exercises import get_exercise

        donor = get_exercise(self.backward_from)
        solution, text = donor.solution, donor.solution_source().splitlines(keepends=True)
        out: list[str] = []
        for gradient in self.gradients:
            statements = solution.statements_of(donor.gradient(gradient.name).name)
            first = statements[0].first_line - 1
            while first > 0 and text[first - 1].lstrip().startswith("#"):
                first -= 1
            out += text[first : statements[0].first_line - 1]
            for statement in statements:
                out += text[statement.first_line - 1 : statement.last_line]
        return out

    @cached_property
    def solution(self):
        """The solved workbook, parsed (statements tagged with their gradients)."""
        from ninjagrad.kata.workbook import parse_workbook

        return parse_workbook(self.solution_source(), f"<solution {self.name}>", self)

    @cached_property
    def sections(self) -> Sections:
        return Sections.of(self.solution_source(), f"<exercise {self.name}>")


@dataclass(frozen=True)
class Sections:
    """The exercise text cut at its marker lines, each part parsed and compiled once."""

    setup: tuple[ast.stmt, ...]
    forward: tuple[ast.stmt, ...]
    backward: tuple[ast.stmt, ...]
    path: str

    @classmethod
    def of(cls, source: str, path: str) -> Sections:
        lines = [line.rstrip() for line in source.splitlines()]
        try:
            begin, middle, end = (lines.index(m) + 1 for m in (FORWARD_BEGIN, BACKWARD_BEGIN, BACKWARD_END))
        except ValueError:  # a broken installation, not the user's doing
            raise RuntimeError(f"{path} lacks one of the marker lines") from None
        body = ast.parse(source, filename=path).body
        setup = tuple(node for node in body if node.lineno < begin)
        forward = tuple(node for node in body if begin < node.lineno < middle)
        backward = tuple(node for node in body if middle < node.lineno < end)
        return cls(setup, forward, backward, path)

    @cached_property
    def forward_code(self):
        return compile(ast.Module(list(self.forward), []), self.path, "exec")

    @cached_property
    def backward_code(self):
        return compile(ast.Module(list(self.backward), []), self.path, "exec")

    @cached_property
    def setup_code(self):
        return compile(ast.Module(list(self.setup), []), self.path, "exec")

    @cached_property
    def forward_names(self) -> tuple[str, ...]:
        """The variables the forward lines assign, in order."""
        return tuple(dict.fromkeys(name for node in self.forward for name in stored_names(node)))


def stored_names(node: ast.AST) -> list[str]:
    """The plain names a statement assigns (``a, b = ...`` gives both)."""
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def run_with_given(
    statements: tuple[ast.stmt, ...], namespace: dict[str, Any], given: Mapping[str, Any], path: str
) -> None:
    """Run ninjagrad's own statements; each given name they assign takes the data set's value instead."""
    for node in statements:
        exec(_compiled(node, path), namespace)
        for name in stored_names(node):
            if name in given:
                namespace[name] = copy_value(given[name])


_CODE: dict[int, tuple[ast.stmt, Any]] = {}  # statement id -> (the statement, kept alive; its code)


def _compiled(node: ast.stmt, path: str):
    """One statement's code, compiled once (the exercises' statements live as long as the process)."""
    if id(node) not in _CODE or _CODE[id(node)][0] is not node:
        _CODE[id(node)] = (node, compile(ast.Module([node], []), path, "exec"))
    return _CODE[id(node)][1]


def copy_value(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value
