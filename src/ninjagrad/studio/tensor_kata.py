"""The kata beside the graph: a workbook's verdict per gradient node, re-checked whenever the file is saved.

One checker, two views: the verdicts come from the checker ``ninjagrad kata check`` runs
(:func:`ninjagrad.kata.check_workbook`: the workbook in its own process, with its time limit), through
:func:`check_workbook`, the one thin adapter from its result to what the page draws. Each of the exercise's
gradients gets one status:

- ``right``, ``wrong``, ``not_written`` (still ``dX = ...``): the checker's verdict on a line it reached;
- ``not_reached``: the run stopped before that line (an error or the time limit above it).

Which files may be read is decided here too (:class:`AllowedFiles`): the ones named on the command line,
and ``.py`` files the page picks inside the directory the studio was started in. Nothing else is opened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ninjagrad.errors import UserError

STATUSES = ("right", "wrong", "not_written", "not_reached")
TIMEOUT = 5.0  # seconds for one run of the learner's file in the studio (an endless loop is reported then)
MAX_LISTED = 200  # workbook candidates the page lists from the start directory
MAX_DEPTH = 2  # levels of subdirectories searched for them


def check_workbook(path: str | Path, *, timeout: float = TIMEOUT, checker: Any = None) -> dict[str, Any]:
    """The checker's verdict on the workbook at ``path``, per gradient, as JSON-ready data. ``checker``: a
    :class:`ninjagrad.kata.checker.Checker` kept between saves (its spare process makes a re-check fast)."""
    from ninjagrad.kata.checker import check_workbook as check

    result = (checker.check if checker is not None else check)(Path(path), timeout=timeout)
    record = result.as_dict()
    exercise = result.exercise
    rows = {row["name"]: row for row in record["table"]}  # every gradient, not_reached ones too
    gradients = []
    for gradient in exercise.gradients if exercise is not None else ():
        row = rows.get(gradient.variable)
        gradients.append(
            {
                "name": gradient.name,
                "variable": gradient.variable,
                "target": gradient.target,  # the graph node it marks
                "status": row["status"] if row else "not_reached",
                "lines": row["lines"] if row else [],
                "diagnosis": row["diagnosis"] if row else None,
                "maxdiff": row["maxdiff"] if row else None,
                "shape_ok": row["shape_ok"] if row else None,
                "shapes": row["shapes"] if row else {},
            }
        )
    first = record["first_wrong"]
    return {
        "file": record["file"],
        "exercise": record["exercise"],
        "status": record["status"],  # pass, fail or broken
        "passed": record["passed"],
        "total": record["total"],
        "first_wrong": exercise.gradient(first).target if first else None,  # the graph's node
        "gradients": gradients,
        "broken": record["broken"],
        "output": record["output"][-2000:],
    }


def hint(exercise_name: str, gradient: str) -> str:
    from ninjagrad.kata.exercises import get_exercise

    return get_exercise(exercise_name).gradient(gradient).hint


def solution(exercise_name: str, gradient: str) -> list[str]:
    """The reference solution's lines for one gradient (a spoiler, given on request)."""
    from ninjagrad.kata.exercises import get_exercise
    from ninjagrad.kata.workbook import parse_workbook

    exercise = get_exercise(exercise_name)
    name = exercise.gradient(gradient).name
    workbook = parse_workbook(exercise.solution_source(), f"<solution {exercise.name}>", exercise)
    return [
        workbook.text(line)
        for statement in workbook.statements_of(name)
        for line in range(statement.first_line, statement.last_line + 1)
    ]


@dataclass
class AllowedFiles:
    """The workbooks the studio may read: named on the command line, or picked under ``root``."""

    root: Path  # the directory the studio was started in
    named: set[Path] = field(default_factory=set)  # resolved paths from the command line

    @classmethod
    def start(cls, named: list[str | Path] = (), root: str | Path | None = None) -> AllowedFiles:
        allowed = cls(Path(root or os.getcwd()).resolve())
        for path in named:
            resolved = Path(path).resolve()
            if resolved.is_dir():
                raise UserError(
                    f"--kata {path} is a directory; name a workbook file in it (the page lists the "
                    f"workbooks of the directory the studio starts in)"
                )
            if not resolved.is_file():
                raise UserError(f"--kata {path}: no such file; start one with `ninjagrad kata new atomic`")
            allowed.named.add(resolved)
        return allowed

    def resolve(self, path: str) -> Path:
        """The file ``path`` names (relative to the root) if the studio may read it, else a UserError."""
        if not isinstance(path, str) or not path or "\0" in path:
            raise UserError(f"a workbook path is a non-empty text, got {path!r}")
        candidate = Path(path)
        resolved = (candidate if candidate.is_absolute() else self.root / candidate).resolve()
        if resolved in self.named:
            return resolved
        if not resolved.is_relative_to(self.root):
            raise UserError(
                f"{path} is outside {self.root}, the directory the studio was started in; the studio reads "
                "only workbooks named on its command line (--kata FILE) or inside that directory"
            )
        if resolved.suffix != ".py":
            raise UserError(f"{path} is not a Python file (.py); a workbook is one")
        if not resolved.is_file():
            raise UserError(f"{path}: no such file in {self.root}")
        return resolved

    def candidates(self) -> list[str]:
        """The ``.py`` files in the root and two levels below (not hidden ones), to pick from in the page."""
        found: list[str] = sorted(str(p) for p in self.named)
        for directory, subdirectories, files in os.walk(self.root):
            depth = len(Path(directory).relative_to(self.root).parts)
            keep = depth < MAX_DEPTH
            subdirectories[:] = sorted(d for d in subdirectories if keep and not d.startswith((".", "__")))
            for name in sorted(files):
                if name.endswith(".py") and not name.startswith("."):
                    found.append(os.path.relpath(os.path.join(directory, name), self.root))
                    if len(found) >= MAX_LISTED:
                        return found
        return found
