"""The one checker: a workbook's gradients (or the exercise's own solution's) against autograd.

``check_workbook(path)`` runs a learner's file in its own process (``kata.runner``), once per data set,
and judges every gradient on its own; ``check_solution`` judges the exercise's own lines on given arrays
(what ``ninjagrad check`` shows). Both get their reference from ``build_reference`` and compare with
``ninjagrad.check.compare``. The README's kata section explains the steps and the ``--json`` record.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

import ninjagrad
from ninjagrad.check import Comparison, compare
from ninjagrad.errors import UserError
from ninjagrad.kata.data import SIZES
from ninjagrad.kata.diagnose import (
    Context,
    Contribution,
    Diagnosis,
    diagnose,
    not_an_array,
    not_assigned,
    not_written,
)
from ninjagrad.kata.exercise import run_with_given
from ninjagrad.kata.exercises import Exercise, Gradient, get_exercise
from ninjagrad.kata.record import Captured, DatasetRequest, LearnerError, PassRecord, Report, Request
from ninjagrad.kata.runner import NAMESPACE_NAME
from ninjagrad.kata.traced import AutogradBackend, autograd_gradients
from ninjagrad.kata.workbook import (
    Statement,
    Workbook,
    WorkbookError,
    parse_workbook,
    read_kata_name,
    read_source,
)

DEFAULT_TIMEOUT = 10.0  # seconds for the learner's whole file: its lines take milliseconds, a loop never ends
MAX_TIMEOUT = 3600.0  # an hour: far beyond any workbook, and within what the runner's alarm can count
GRACE = 10.0  # extra seconds before the runner process itself is killed (its own limit should fire first)
FORWARD_RTOL = 1e-4  # a forward variable differs from the exercise's by more: a changed line, not rounding
READ_GRACE = 2.0  # seconds to collect the output once the runner has ended
MAX_OUTPUT_BYTES = 64_000  # of what the file prints (and of its stderr): far more than a report shows


@dataclass(frozen=True)
class Broken:
    """Why a workbook could not be checked (exit code 2), pointing at the learner's line if there is one."""

    kind: str  # syntax, not_a_workbook, missing_variable, changed_forward, exception, exit, timeout, crashed
    message: str
    line: int | None = None
    text: str = ""  # the learner's line
    shapes: dict[str, str] = field(default_factory=dict)  # the variables on that line
    gradient: str | None = None  # the gradient (forward name) whose line it is, in the backward pass

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "line": self.line,
            "text": self.text,
            "shapes": self.shapes,
            "gradient": self.gradient,
        }


@dataclass(frozen=True)
class RowResult:
    """The verdict on one gradient."""

    gradient: Gradient
    lines: tuple[int, ...]  # the learner's lines that compute it
    status: str  # "right", "wrong", "not_written" or "not_reached" (the run stopped above it)
    comparison: Comparison | None  # against autograd, on data set 0 (None if there is no number)
    probe: Comparison | None = None  # against the reference solution, on the probe's values
    diagnosis: Diagnosis | None = None  # why it is wrong
    shapes: dict[str, str] = field(default_factory=dict)  # the variables on its lines: shape and dtype
    second: Comparison | None = None  # against autograd, on data set 1 (another n and H)

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.gradient.variable, "variable": self.gradient.target}
        if self.comparison is not None:
            record |= self.comparison.as_dict()
        else:
            record |= {"exact": False, "approximate": False, "maxdiff": None, "shape_ok": False}
        record |= {
            "status": self.status,
            "lines": list(self.lines),
            "probe": None if self.probe is None else self.probe.as_dict(),
            "diagnosis": None if self.diagnosis is None else self.diagnosis.as_dict(),
            "shapes": self.shapes,
            "second": None if self.second is None else self.second.as_dict(),
        }
        return record


@dataclass(frozen=True)
class CheckResult:
    """Everything a check found: a row per gradient, in backward order, and why a broken one stopped."""

    path: str
    exercise: Exercise | None
    rows: tuple[RowResult, ...] = ()
    broken: Broken | None = None
    output: str = ""  # what the learner's file printed
    source: tuple[str, ...] = ()  # the workbook's lines, to quote them

    @property
    def first_wrong(self) -> RowResult | None:
        return next((row for row in self.rows if row.status in ("wrong", "not_written")), None)

    @property
    def status(self) -> str:
        if self.broken is not None:
            return "broken"
        return "pass" if self.rows and all(row.ok for row in self.rows) else "fail"

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "broken": 2}[self.status]

    def as_dict(self) -> dict[str, Any]:
        first = self.first_wrong
        return {
            "file": self.path,
            "exercise": None if self.exercise is None else self.exercise.name,
            "status": self.status,
            "passed": sum(row.ok for row in self.rows),
            "total": None if self.exercise is None else len(self.exercise.gradients),
            "first_wrong": None if first is None else first.gradient.variable,
            "rows": [row.as_dict() for row in self.rows if row.status != "not_reached"],
            "broken": None if self.broken is None else self.broken.as_dict(),
            "output": self.output,
            "table": [row.as_dict() for row in self.rows],
        }


KataResult = CheckResult  # the earlier name


# ---------------------------------------------------------------------------------------------------------
# The reference


@dataclass(frozen=True)
class ProbeCase:
    """One probed gradient: the values put into the learner's namespace, and what the line must give then."""

    overrides: dict[str, np.ndarray]
    expected: np.ndarray  # the reference solution's line, run on the overrides
    namespace: dict[str, Any]  # the whole namespace the line ran in (for the diagnosis)
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True)
class Reference:
    """What a workbook is checked against on one data set, all computed from the exercise's one file."""

    dataset: int
    given: dict[str, Any]  # the given numbers by name
    forward: dict[str, Any]  # the given numbers and forward variables, from the forward lines
    gradients: dict[str, np.ndarray]  # autograd's, by row name
    solution: Workbook
    contributions: dict[str, tuple[Contribution, ...]]  # the terms of gradients that sum several paths
    upstream: dict[str, tuple[str, ...]]  # the gradients from above each gradient's reference line uses
    probes: dict[str, ProbeCase]
    solution_rows: tuple[str, ...] = ()  # the gradients' names, in backward order

    def namespace(self) -> dict[str, Any]:
        """The forward variables and every reference gradient (as ``d<name>``), like a correct workbook's."""
        return self.forward | {"d" + name: value for name, value in self.gradients.items()}

    def scope(self, gradient: Gradient) -> frozenset[str]:
        """The names a line for ``gradient`` may use: the forward variables and the gradients above it."""
        above = []
        for row in self.solution_rows:
            if row == gradient.name:
                break
            above.append("d" + row)
        return frozenset(self.forward_names()) | frozenset(above)

    def forward_names(self) -> list[str]:
        """The variables a workbook must leave as given: the numbers of the set-up and the forward pass."""
        return [
            name for name, value in self.forward.items() if not name.startswith("__") and _is_number(value)
        ]


def forward_namespace(exercise: Exercise, given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The exercise's set-up and forward lines run with NumPy on ``given``: (after the set-up, after both)."""
    sections = exercise.sections
    namespace: dict[str, Any] = {"__name__": NAMESPACE_NAME}
    run_with_given(sections.setup, namespace, given, sections.path)
    setup = dict(namespace) | dict(given)
    run_with_given(sections.forward, namespace, given, sections.path)
    return setup, namespace


def build_reference(
    exercise: Exercise, dataset: int = 0, backend: AutogradBackend | None = None
) -> Reference:
    """Data set ``dataset`` through the forward lines (NumPy) and autograd; the solution's lines for the
    extras (the paths a gradient sums, the upstream gradients each line reads, the probe's values)."""
    given = exercise.given(dataset)
    setup, forward = forward_namespace(exercise, given)
    gradients = autograd_gradients(exercise, setup, backend)
    solution = exercise.solution
    main = forward | {"d" + name: value for name, value in gradients.items()}
    contributions = {g.name: _contributions(solution, g, main, exercise) for g in exercise.gradients}
    upstream = {g.name: _upstream(solution, g, forward) for g in exercise.gradients}
    probes = _probe_cases(exercise, solution, main) if exercise.probed and dataset == 0 else {}
    rows = tuple(g.name for g in exercise.gradients)
    return Reference(dataset, given, forward, gradients, solution, contributions, upstream, probes, rows)


def check_solution(
    exercise: Exercise, given: Mapping[str, Any], backend: AutogradBackend | None = None
) -> tuple[dict[str, Any], list[Comparison]]:
    """The exercise's own backward lines on ``given`` against autograd there: (the namespace, a comparison
    per gradient in backward order). ``ninjagrad check`` shows these."""
    setup, namespace = forward_namespace(exercise, given)
    reference = autograd_gradients(exercise, setup, backend)
    exec(exercise.sections.backward_code, namespace)
    comparisons = [
        compare(g.variable, namespace[g.variable], reference[g.name], show=False) for g in exercise.gradients
    ]
    return namespace, comparisons


def _probe_cases(exercise: Exercise, solution: Workbook, main: dict[str, Any]) -> dict[str, ProbeCase]:
    """Run the solution's probed lines in float64 on the probe's values, each on the ones above's results."""
    rng = np.random.default_rng(exercise.probe.seed)
    float64 = {key: _float64(value) for key, value in main.items()}
    overrides = exercise.probe.build(float64, rng)
    cases = {}
    for gradient in exercise.probed:
        namespace = float64 | overrides
        after = dict(namespace)
        for statement in solution.statements_of(gradient.name):
            _run(statement, solution, after)
        contributions = _contributions(solution, gradient, namespace, exercise)
        cases[gradient.name] = ProbeCase(dict(overrides), after[gradient.variable], namespace, contributions)
        overrides = overrides | {gradient.variable: after[gradient.variable]}  # what the lines below get
    return cases


def _run(statement: Statement, solution: Workbook, namespace: dict[str, Any]) -> None:
    """Run one of ninjagrad's own solution lines (never a learner's: those run in the runner's process)."""
    exec(compile(ast.Module([statement.node], []), solution.path, "exec"), namespace)


def _contributions(
    solution: Workbook, gradient: Gradient, namespace: dict[str, Any], exercise: Exercise
) -> tuple[Contribution, ...]:
    """The terms of a gradient written as ``dX = a`` then ``dX += b`` in the solution, or its ``paths``."""
    if gradient.paths:
        return tuple(
            Contribution(path, np.asarray(eval(expression, dict(namespace))))
            for path, expression in gradient.paths
        )
    upstream = {g.variable: g.name for g in exercise.gradients}
    terms = []
    for statement in solution.statements_of(gradient.name):
        node = statement.node
        simple = isinstance(node, ast.Assign) and len(node.targets) == 1
        target = node.targets[0] if simple else getattr(node, "target", None)
        added = isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add)
        if not (simple or added) or not isinstance(target, ast.Name) or target.id != gradient.variable:
            return ()
        read = [n.id for n in ast.walk(node.value) if isinstance(n, ast.Name) and n.id in upstream]
        path = " and ".join(dict.fromkeys(upstream[name] for name in read)) or ast.unparse(node.value)
        value = eval(compile(ast.Expression(node.value), solution.path, "eval"), dict(namespace))
        terms.append(Contribution(path, np.asarray(value)))
    return tuple(terms) if len(terms) > 1 else ()


def _upstream(solution: Workbook, gradient: Gradient, forward: dict[str, Any]) -> tuple[str, ...]:
    """The gradients from above that the solution's lines for ``gradient`` read: ``dh`` for ``dhpreact``."""
    read = (
        node.id
        for statement in solution.statements_of(gradient.name)
        for node in ast.walk(statement.node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    )
    return tuple(
        dict.fromkeys(
            name for name in read if name != gradient.variable and name[:1] == "d" and name[1:] in forward
        )
    )


# ---------------------------------------------------------------------------------------------------------
# The check


def check_workbook(path: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check the workbook at ``path``: a :class:`CheckResult` with a row per gradient, each ``status``
    "right", "wrong", "not_written" or "not_reached". A UserError only if the file is unreadable or the
    time limit is not a number of seconds in (0, MAX_TIMEOUT]."""
    return _check(path, timeout, _build_references, None)


class Checker:
    """Checks workbooks one after another, as the studio does on every save: each exercise's references are
    built once, and a spare runner process is started after each check, so that the next check finds one
    that has already imported NumPy and ninjagrad. Each check still runs the file in a process of its own."""

    def __init__(self) -> None:
        self._references: dict[str, list[Reference]] = {}
        self._spare: _Process | None = None
        self._lock = threading.Lock()  # one check at a time

    def check(self, path: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
        """As :func:`check_workbook`, with the kept references and the spare process."""
        with self._lock:
            spare, self._spare = self._spare, None
            if spare is not None and not spare.running:  # it died while waiting
                spare = None
            try:
                return _check(path, timeout, self._references_of, spare)
            finally:
                self._spare = _start_runner()

    def warm(self) -> None:
        """Start a spare process now, so that even the first check finds one (the studio calls this when it
        lists workbooks to pick from). Does nothing while one waits."""
        with self._lock:
            if self._spare is None or not self._spare.running:
                self._spare = _start_runner()

    def close(self) -> None:
        """Stop the spare process (it would also end by itself when this process does)."""
        with self._lock:
            if self._spare is not None:
                self._spare.stop()
                self._spare = None

    def _references_of(self, exercise: Exercise) -> list[Reference]:
        if exercise.name not in self._references:
            self._references[exercise.name] = _build_references(exercise)
        return self._references[exercise.name]


def _build_references(exercise: Exercise) -> list[Reference]:
    return [build_reference(exercise, k) for k in range(exercise.datasets)]


def _check(path: str | Path, timeout: float, references_of: Any, runner: _Process | None) -> CheckResult:
    """One check: ``references_of(exercise)`` gives the references, ``runner`` a started runner (or None)."""
    if not 0 < timeout <= MAX_TIMEOUT:  # also False for NaN
        raise UserError(
            f"the time limit (--timeout) must be more than 0 and at most {MAX_TIMEOUT:g} seconds, "
            f"got {timeout}"
        )
    shown = str(path)
    source = _read(Path(path))
    exercise = None
    try:
        exercise = get_exercise(read_kata_name(source, shown))
        workbook = parse_workbook(source, shown, exercise)
    except WorkbookError as error:
        broken = Broken(error.kind, error.message, error.line, error.text)
        return CheckResult(shown, exercise, broken=broken, source=tuple(source.splitlines()))
    except UserError as error:  # KATA names no exercise
        return CheckResult(shown, None, broken=Broken("not_a_workbook", str(error)))
    outcome, output, references = _run_learner(
        Path(path).resolve(), exercise, lambda: references_of(exercise), timeout, runner
    )
    if isinstance(outcome, Broken):
        broken = _with_text(outcome, workbook)
        return CheckResult(shown, exercise, broken=broken, output=output, source=workbook.lines)
    report, arrays = outcome
    first = report.passes[0]
    broken = _check_forward(first, arrays, references[0], workbook)
    if broken is not None or not first.forward:
        # other numbers in the forward pass (or no backward pass reached): no gradient would mean anything
        broken = broken or _learner_error(first.error, workbook, exercise)
        return CheckResult(
            shown, exercise, broken=_with_text(broken, workbook), output=output, source=workbook.lines
        )
    if first.error is not None:  # in the backward pass: the rows above it stand
        broken = _with_text(_learner_error(first.error, workbook, exercise), workbook)
    rows = tuple(_judge(g, report, arrays, references, workbook, exercise) for g in exercise.gradients)
    return CheckResult(shown, exercise, rows, broken, output, workbook.lines)


check = check_workbook  # the earlier name


def _judge(
    gradient: Gradient,
    report: Report,
    arrays: dict[str, np.ndarray],
    references: list[Reference],
    workbook: Workbook,
    exercise: Exercise,
) -> RowResult:
    """One gradient's verdict: against autograd on every graded data set, and (if probed) on the probe."""
    lines = workbook.line_numbers(gradient.name)
    first, reference = report.passes[0], references[0]
    info = first.rows.get(gradient.name)
    if info is None:
        return RowResult(gradient, lines, "not_reached", None)
    shapes = info.shapes
    if info.state == "not_written":
        placeholder = next(s.first_line for s in workbook.statements_of(gradient.name) if s.placeholder)
        return RowResult(
            gradient, lines, "not_written", None, None, not_written(gradient, placeholder), shapes
        )
    if info.state != "value":
        found = not_assigned(gradient) if info.state == "missing" else not_an_array(gradient, info.what)
        return RowResult(gradient, lines, "wrong", None, None, found, shapes)
    constants = {"n": reference.forward[exercise.batch_size]} if exercise.batch_size else {}
    mine = arrays[info.array]
    expected = reference.gradients[gradient.name]
    comparison = compare(gradient.variable, mine, expected, show=False)
    others = _other_values(gradient, report, arrays, references, exercise, workbook)
    diagnosis = None
    if not comparison.approximate:
        diagnosis = diagnose(mine, expected, _context(gradient, reference, constants, workbook), others)
    probe = None
    if gradient.name in reference.probes:  # before the second data set: there too the real values are ~0
        probe, probe_diagnosis = _judge_probe(
            gradient, first, arrays, reference, exercise, constants, workbook
        )
        diagnosis = diagnosis or probe_diagnosis
    second = None
    if len(report.passes) > 1 and exercise.graded_datasets > 1:
        second, second_diagnosis = _judge_second(gradient, report.passes[1], arrays, references[1], exercise)
        diagnosis = diagnosis or second_diagnosis
    if diagnosis is None:
        diagnosis = _reads_outside(gradient, workbook, exercise)
    status = "right" if diagnosis is None else "wrong"
    return RowResult(gradient, lines, status, comparison, probe, diagnosis, shapes, second)


def _context(
    gradient: Gradient, reference: Reference, constants: dict[str, float], workbook: Workbook | None = None
) -> Context:
    return Context(
        gradient,
        reference.namespace(),
        reference.contributions[gradient.name],
        constants,
        reference.upstream[gradient.name],
        reference.solution,
        reference.scope(gradient),
        workbook,
    )


def _other_values(
    gradient: Gradient,
    report: Report,
    arrays: dict[str, np.ndarray],
    references: list[Reference],
    exercise: Exercise,
    workbook: Workbook | None = None,
) -> list[tuple[np.ndarray, np.ndarray, Context]]:
    """The learner's value on each further data set, with its context: a named edit must explain them too."""
    others = []
    for record, reference in zip(report.passes[1:], references[1:], strict=False):
        info = record.rows.get(gradient.name)
        if info is None or info.state != "value":
            continue
        constants = {"n": reference.forward[exercise.batch_size]} if exercise.batch_size else {}
        expected = reference.gradients[gradient.name]
        others.append((arrays[info.array], expected, _context(gradient, reference, constants, workbook)))
    return others


def _judge_second(
    gradient: Gradient,
    record: PassRecord,
    arrays: dict[str, np.ndarray],
    reference: Reference,
    exercise: Exercise,
) -> tuple[Comparison | None, Diagnosis | None]:
    """Data set 1 (another batch size and width): catches hard-coded sizes and pasted numbers."""
    n, hidden = SIZES[1]
    info = record.rows.get(gradient.name)
    where = f"on the second data set (batch n = {n}, {hidden} hidden units)"
    if info is None:
        return None, None
    if info.state == "error":
        return None, Diagnosis(
            "second_dataset",
            f"{gradient.variable} is right on the lecture's numbers, but {where} its line fails: "
            f"{info.what}. A size written as a number (32, 64) instead of taken from the arrays?",
        )
    if info.state != "value":
        return None, not_an_array(gradient, info.what) if info.state == "not_an_array" else None
    mine = arrays[info.array]
    expected = reference.gradients[gradient.name]
    comparison = compare(f"{gradient.variable} (n={n})", mine, expected, show=False)
    if comparison.approximate:
        return comparison, None
    if mine.shape != expected.shape:
        what = f"has shape {mine.shape} where {gradient.target} has {expected.shape}"
    else:
        what = "has other numbers than autograd"
    return comparison, Diagnosis(
        "second_dataset",
        f"{gradient.variable} is right on the lecture's numbers, but {where} it {what}: a size written "
        "as a number (32, 64, 27) instead of read from the arrays, or numbers pasted in?",
    )


def _reads_outside(gradient: Gradient, workbook: Workbook, exercise: Exercise) -> Diagnosis | None:
    """A fused line that reads the gradients it is meant to replace."""
    if gradient.reads_only is None:
        return None
    variables = {g.variable for g in exercise.gradients}
    read = {
        node.id
        for statement in workbook.statements_of(gradient.name)
        for node in ast.walk(statement.node)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    extra = sorted((read & variables) - set(gradient.reads_only) - {gradient.variable})
    if not extra:
        return None
    allowed = ", ".join(gradient.reads_only)
    return Diagnosis(
        "not_fused",
        f"{gradient.variable} has the right values, but it reads {', '.join(extra)}: the fused line is one "
        f"formula of the forward variables and {allowed} only.",
    )


def _judge_probe(
    gradient: Gradient,
    record: PassRecord,
    arrays: dict[str, np.ndarray],
    reference: Reference,
    exercise: Exercise,
    constants: dict[str, float],
    workbook: Workbook | None = None,
) -> tuple[Comparison | None, Diagnosis | None]:
    """The second opinion on a probed gradient: its lines run again on the probe's values."""
    case = reference.probes[gradient.name]
    info = record.probes.get(gradient.name, Captured("not_written"))
    if info.state == "not_written":
        return None, None
    if info.state != "value":  # an exception, or no array at all, on the probe's values
        return None, Diagnosis(
            "probe_error",
            f"{gradient.variable}'s lines failed when run again with {exercise.probe.description}: "
            f"{info.what or 'nothing assigned'}",
        )
    mine = arrays[info.array]
    comparison = compare(f"{gradient.variable} (probe)", mine, case.expected, show=False)
    if comparison.approximate:
        return comparison, None
    context = Context(
        gradient,
        case.namespace,
        case.contributions,
        constants,
        reference.upstream[gradient.name],
        reference.solution,
        reference.scope(gradient),
        workbook,
    )
    found = diagnose(mine, case.expected, context, [])
    return comparison, Diagnosis(
        found.kind,
        f"{gradient.variable} passes on the real batch, but {gradient.hidden}. Run again with "
        f"{exercise.probe.description} (the probe row), it is wrong: {_mid_sentence(found.message)}",
    )


def _mid_sentence(message: str) -> str:
    """A diagnosis quoted after a colon: "in your dX = ..." rather than "In your dX = ..."."""
    return "i" + message[1:] if message.startswith("In your ") else message


def _check_forward(
    record: PassRecord, arrays: dict[str, np.ndarray], reference: Reference, workbook: Workbook
) -> Broken | None:
    """The set-up and forward pass are given: a changed or missing variable makes every gradient moot."""
    for name, captured in record.forward.items():
        if captured.state == "value":
            mine, given = arrays[captured.array], np.asarray(reference.forward[name])
            if mine.shape == given.shape and _same_numbers(mine, given):
                continue
        line = _assignment_line(workbook, name)
        if captured.state == "missing":
            return Broken(
                "missing_variable",
                f"{name} is not defined when the backward pass starts: the forward pass is given, restore "
                "its line (`ninjagrad kata new` writes a fresh copy to compare with)",
                line,
            )
        given = np.asarray(reference.forward[name])
        if captured.state != "value":
            return Broken(
                "changed_forward", f"{name} should be numbers, {given.shape}, but is a {captured.what}", line
            )
        mine = arrays[captured.array]
        if mine.shape != given.shape or not _same_numbers(mine, given):
            difference = (
                f"shape {mine.shape} instead of {given.shape}"
                if mine.shape != given.shape
                else "other values"
            )
            return Broken(
                "changed_forward",
                f"{name} is not the exercise's ({difference}): the set-up and the forward pass are given, "
                "and the gradients are checked against them; undo the change (`ninjagrad kata new` writes "
                "a fresh copy)",
                line,
            )
    return None


def _same_numbers(mine: np.ndarray, given: np.ndarray) -> bool:
    """Equal up to float32 rounding: a forward pass run in float64 (``C = C.astype(np.float64)``) is the
    exercise's; a changed line (``bndiff**3``, ``1/n`` for ``1/(n-1)``) is not."""
    scale = float(np.abs(given).max()) if given.size and np.isfinite(given).all() else 1.0
    return bool(np.allclose(mine, given, rtol=FORWARD_RTOL, atol=FORWARD_RTOL * scale, equal_nan=True))


def _learner_error(error: LearnerError, workbook: Workbook, exercise: Exercise) -> Broken:
    """An exception (or exit) in the learner's code, said in the learner's terms."""
    if error.kind == "exit":
        message = "the file called exit() or sys.exit(); a workbook must run to its end"
    else:
        message = f"{error.exception}: {error.message}" + torch_spelling(error.message)
        later = re.fullmatch(r"name '(d\w+)' is not defined", error.message)
        if later:
            owners = [g for g in exercise.gradients if g.variable == later.group(1)]
            if owners:
                first = workbook.statements_of(owners[0].name)[0].first_line
                message += (
                    f" yet: {later.group(1)} is computed further down (line {first}); a backward line can "
                    "only use gradients computed above it"
                )
        elif "ellipsis" in error.message:
            message += " (this line still has a `...` in it)"
    return Broken(
        error.kind, message, error.line, shapes=error.shapes, gradient=next(iter(error.gradients), None)
    )


# PyTorch's spellings a learner of the lecture reaches for, and NumPy's
TORCH_SPELLINGS = (
    (r"unexpected keyword argument 'keepdim'", "PyTorch's keepdim= is NumPy's keepdims="),
    (r"unexpected keyword argument 'dim'", "PyTorch's dim= is NumPy's axis= (or the axis alone: x.sum(0))"),
    (r"has no attribute 'clone'", "PyTorch's .clone() is NumPy's .copy()"),
    (r"has no attribute 'view'", "PyTorch's .view(...) is NumPy's .reshape(...)"),
    (
        r"has no attribute 'unsqueeze'",
        "PyTorch's .unsqueeze(d) is NumPy's np.expand_dims(x, d) or x[:, None]",
    ),
    (
        r"has no attribute 'exp'|has no attribute 'log'|has no attribute 'tanh'",
        "PyTorch's x.exp() is NumPy's np.exp(x) (and so for log and tanh)",
    ),
    (r"has no attribute 'item'", ".item() works on a NumPy array of one element only"),
    (
        r"has no attribute 'index_add_'|has no attribute 'scatter_add_'",
        "PyTorch's in-place scatter functions have a NumPy counterpart in the np.add family",
    ),
    (r"has no attribute 'zero_'", "PyTorch's .zero_() is NumPy's x.fill(0) (or np.zeros_like)"),
    (r"has no attribute 'float'", "PyTorch's .float() is NumPy's .astype(np.float32)"),
)


def torch_spelling(message: str) -> str:
    """A pointer to NumPy's spelling, when ``message`` comes from a PyTorch spelling ("" otherwise)."""
    for pattern, pointer in TORCH_SPELLINGS:
        if re.search(pattern, message):
            return f" (the arrays are NumPy's: {pointer})"
    return ""


# ---------------------------------------------------------------------------------------------------------
# The learner's process


def _run_learner(
    path: Path, exercise: Exercise, build: Any, timeout: float, runner: _Process | None = None
) -> tuple[Broken | tuple[Report, dict[str, np.ndarray]], str, list[Reference]]:
    """The runner's report and arrays for ``path`` (or why it stopped), what the file printed, and the
    references ``build()`` made. The runner (``runner``, or one started here) imports while they are built."""
    with tempfile.TemporaryDirectory(prefix="ninjagrad-kata-") as tmp:
        folder = Path(tmp)
        runner = runner or _start_runner()
        try:
            references = build()
            request = _write_request(folder, path, exercise, references, timeout)
            code, output, errors = runner.finish(str(request), timeout + GRACE)
        finally:
            runner.stop()
        if code is None:
            return (
                Broken("timeout", f"the file did not finish within {timeout:g} s (an endless loop?)"),
                output,
                references,
            )
        if code == 0 and (folder / "result.npz").exists():
            with np.load(folder / "result.npz", allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files if key != "report"}
                report = Report.from_json(str(stored["report"]))
            return (report, arrays), output, references
        dump = (folder / "dump.txt").read_text(encoding="utf-8") if (folder / "dump.txt").exists() else ""
        if dump.startswith("Timeout"):
            shown_there = str(path).encode("ascii", "backslashreplace").decode()  # as faulthandler writes it
            lines = [
                int(m.group(1)) for m in re.finditer(rf'File "{re.escape(shown_there)}", line (\d+)', dump)
            ]
            where = ": stopped at this line" if lines else ""
            message = f"the file did not finish within {timeout:g} s{where} (an endless loop?)"
            return Broken("timeout", message, lines[0] if lines else None), output, references
        return Broken("crashed", _crash_message(code, errors)), output, references


def _write_request(
    folder: Path, path: Path, exercise: Exercise, references: list[Reference], timeout: float
) -> Path:
    """The runner's request (typed, as JSON) and the arrays it names, in ``folder``."""
    given: dict[str, np.ndarray] = {}

    def key(value: Any) -> str:
        name = f"a{len(given)}"
        given[name] = np.asarray(value)
        return name

    datasets = [
        DatasetRequest(
            reference.dataset,
            {name: key(value) for name, value in reference.given.items()},
            {name: key(value) for name, value in reference.gradients.items()},
            reference.forward_names(),
            {
                name: {variable: key(value) for variable, value in case.overrides.items()}
                for name, case in reference.probes.items()
            },
        )
        for reference in references
    ]
    np.savez(folder / "reference.npz", **given)
    request = Request(
        str(path),
        exercise.name,
        str(folder / "reference.npz"),
        str(folder / "result.npz"),
        str(folder / "dump.txt"),
        timeout,
        datasets,
    )
    (folder / "request.json").write_text(request.to_json(), encoding="utf-8")
    return folder / "request.json"


class _Process:
    """The runner's process: started at once, told its request on stdin, its output kept (bounded)."""

    def __init__(self, command: list[str], env: dict[str, str]):
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.heads = (bytearray(), bytearray())
        self.readers = [
            threading.Thread(target=_keep_head, args=(stream, head), daemon=True)
            for stream, head in zip((self.process.stdout, self.process.stderr), self.heads, strict=True)
        ]
        for reader in self.readers:
            reader.start()

    @property
    def running(self) -> bool:
        """Still running (a spare: still waiting for its request)."""
        return self.process.poll() is None

    def finish(self, request: str, timeout: float) -> tuple[int | None, str, str]:
        """Send the request; the exit code (None if killed at ``timeout``), stdout and stderr."""
        try:
            self.process.stdin.write(request.encode() + b"\n")
            self.process.stdin.close()
        except BrokenPipeError:  # it died before reading: its exit code says why
            pass
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        self.stop()
        deadline = time.monotonic() + READ_GRACE
        for reader in self.readers:  # a process the file started in the background may hold the pipes open
            reader.join(timeout=max(deadline - time.monotonic(), 0))
        output, errors = (bytes(head).decode("utf-8", errors="replace") for head in self.heads)
        return code, output, errors

    def stop(self) -> None:
        """On a time-out, and on Ctrl-C: the learner's process must not outlive the check."""
        if self.running:
            self.process.kill()
            self.process.wait()


_spawn = _Process  # how the runner is started (a test may fork instead)


def _start_runner() -> _Process:
    """A runner process of this same ninjagrad, waiting on stdin for its request."""
    package_root = str(Path(ninjagrad.__file__).resolve().parent.parent)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    )
    return _spawn([sys.executable, "-m", "ninjagrad.kata.runner"], env)


def _keep_head(stream: IO[bytes], head: bytearray) -> None:
    """Read ``stream`` to its end, keeping its first MAX_OUTPUT_BYTES in ``head`` (and a note if cut)."""
    cut = False
    with stream:
        while chunk := stream.read(1 << 16):
            room = MAX_OUTPUT_BYTES - len(head)
            head += chunk[: max(room, 0)]
            cut = cut or len(chunk) > room
    if cut:
        head += f"\n... (cut: only the first {MAX_OUTPUT_BYTES // 1000} kB are kept)\n".encode()


def _crash_message(code: int, errors: str) -> str:
    """A process that died without a report: os._exit, a signal (the OOM killer), a crash in C code."""
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        how = f"was killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
    else:
        how = f"ended with exit code {code} (os._exit?)"
    tail = "\n".join(errors.strip().splitlines()[-15:])
    return f"the file's process {how} before the check could finish" + (f":\n{tail}" if tail else "")


def _with_text(broken: Broken, workbook: Workbook) -> Broken:
    """Fill in the text of the learner's line, and the gradient it computes (if it is a backward line)."""
    if broken.line is None:
        return broken
    statement = next((s for s in workbook.statements if s.first_line <= broken.line <= s.last_line), None)
    gradient = broken.gradient or (statement.gradients[0] if statement and statement.gradients else None)
    return Broken(
        broken.kind, broken.message, broken.line, workbook.text(broken.line), broken.shapes, gradient
    )


def _assignment_line(workbook: Workbook, name: str) -> int | None:
    """The last line before the backward pass that assigns ``name``."""
    line = None
    for statement in workbook.statements:
        if statement.gradients:
            break
        stored = {
            n.id for n in ast.walk(statement.node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        if name in stored:
            line = statement.first_line
    return line


def _read(path: Path) -> str:
    with contextlib.suppress(OSError):  # a missing file is said below
        if not stat.S_ISREG(path.stat().st_mode) and not path.is_dir():  # /dev/zero never ends, a FIFO waits
            raise UserError(f"{path} is not a regular file (a device or a pipe); give the workbook's file")
    try:
        return read_source(path)
    except FileNotFoundError:
        raise UserError(
            f"{path} does not exist; write a workbook with `ninjagrad kata new NAME -o {path}`"
        ) from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory; give the workbook's file") from None
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
        ) from None
    except OSError as error:  # no permission, an I/O error
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.number, int, float)) and not isinstance(value, bool)


def _float64(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float64)
    return value
