"""Runs a learner's workbook for the checker, in a process of its own (``python -m ninjagrad.kata.runner``).

The only place where the learner's code runs. The file runs top to bottom, once per data set, one top-level
statement at a time; right after the last statement of each gradient the learner's value is recorded and
the reference value put in its place, so every line is judged on the upstream gradients it should have been
given. It compares nothing: it sends back a :class:`~ninjagrad.kata.record.Report` and the arrays.
"""

from __future__ import annotations

import ast
import builtins
import faulthandler
import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

from ninjagrad.kata.exercise import stored_names
from ninjagrad.kata.exercises import Exercise, get_exercise
from ninjagrad.kata.record import Captured, DatasetRequest, LearnerError, PassRecord, Report, Request
from ninjagrad.kata.workbook import Statement, Workbook, parse_workbook, read_source

NAMESPACE_NAME = "__kata__"  # the workbook's __name__ here: its `if __name__ == "__main__":` check is skipped


def main(argv: list[str]) -> int:
    """Run the request named by ``argv[0]``, or by the first line of stdin (the checker starts this process
    before its request is ready, so that the imports overlap)."""
    where = argv[0] if argv else sys.stdin.readline().strip()
    if not where:  # a spare runner whose checker ended before giving it a request
        return 0
    sys.stdin = open(os.devnull, encoding="utf-8")  # the learner's file reads nothing of ours
    request = Request.from_json(Path(where).read_text(encoding="utf-8"))
    with open(request.dump, "w", encoding="utf-8") as dump:
        faulthandler.dump_traceback_later(request.timeout, exit=True, file=dump)
        report, arrays = run(request)
        faulthandler.cancel_dump_traceback_later()
    np.savez(request.result, report=np.array(report.to_json()), **arrays)
    return 0


def run(request: Request) -> tuple[Report, dict[str, np.ndarray]]:
    """Run the workbook once per data set; the report and the arrays it names."""
    exercise = get_exercise(request.exercise)
    path = request.workbook
    workbook = parse_workbook(read_source(path), path, exercise)
    with np.load(request.arrays, allow_pickle=False) as stored:
        reference = {key: stored[key] for key in stored.files}
    sys.path.insert(0, str(Path(path).resolve().parent))  # the learner's own modules, as with `python FILE`
    sys.argv = [path]
    arrays: dict[str, np.ndarray] = {}
    passes = []
    for dataset in request.datasets:
        record = PassRecord(dataset.dataset)
        namespace = _run_in_order(workbook, exercise, reference, dataset, record, arrays)
        if record.error is None:
            for name, overrides in dataset.probes.items():
                _run_probe(name, workbook, namespace, reference, overrides, record, arrays)
        passes.append(record)
        if dataset.dataset == 0 and record.error is not None:
            break  # the report shows this error; the other data sets would only repeat it
    return Report(passes), arrays


def _run_in_order(
    workbook: Workbook,
    exercise: Exercise,
    reference: dict[str, np.ndarray],
    dataset: DatasetRequest,
    record: PassRecord,
    arrays: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One run: top to bottom, each gradient replaced by the reference right after its last statement.

    On the first data set an exception stops the run (the report shows it); on the others it marks the
    gradient whose line raised it, which is then given the reference value like any other.
    """
    namespace: dict[str, Any] = {
        "__name__": NAMESPACE_NAME,
        "__file__": workbook.path,
        "__builtins__": builtins,
    }
    statements = workbook.statements
    last = {
        g.name: max(i for i, s in enumerate(statements) if g.name in s.gradients) for g in exercise.gradients
    }
    backward_start = next(i for i, s in enumerate(statements) if s.gradients)
    failed: dict[str, Captured] = {}
    for index, statement in enumerate(statements):
        if index == backward_start:
            record.forward = _record_forward(dataset.forward, namespace, arrays, dataset.dataset)
        if all(workbook.is_written(name) for name in statement.gradients):  # `dX = ...` lines are skipped
            error = _execute(statement, workbook, namespace)
            if error is not None:
                if dataset.dataset == 0 or not statement.gradients:
                    record.error = error
                    break
                for name in statement.gradients:
                    failed[name] = Captured("error", error.shapes, f"{error.exception}: {error.message}")
        if index < backward_start:
            for name in stored_names(statement.node):
                if name in dataset.given:
                    namespace[name] = _fresh(reference[dataset.given[name]])
        for name in statement.gradients:
            if last[name] == index:
                key = f"{dataset.dataset}.row.{name}"
                record.rows[name] = failed.get(name) or _capture(name, workbook, namespace, key, arrays)
                namespace["d" + name] = _fresh(reference[dataset.gradients[name]])
    return namespace


def _run_probe(
    name: str,
    workbook: Workbook,
    namespace: dict[str, Any],
    reference: dict[str, np.ndarray],
    overrides: dict[str, str],
    record: PassRecord,
    arrays: dict[str, np.ndarray],
) -> None:
    """Run d<name>'s statements again, in a float64 copy of the namespace with the probe's values put in."""
    if not workbook.is_written(name):
        return
    probe_namespace = {key: _float64_copy(value) for key, value in namespace.items()}
    probe_namespace |= {variable: _fresh(reference[key]) for variable, key in overrides.items()}
    for statement in workbook.statements_of(name):
        error = _execute(statement, workbook, probe_namespace)
        if error is not None:
            record.probes[name] = Captured("error", error.shapes, f"{error.exception}: {error.message}")
            return
    record.probes[name] = _capture(name, workbook, probe_namespace, f"{record.dataset}.probe.{name}", arrays)


def _execute(statement: Statement, workbook: Workbook, namespace: dict[str, Any]) -> LearnerError | None:
    """Run one statement of the learner's; on an exception, describe it at the learner's innermost line."""
    code = compile(ast.Module(body=[statement.node], type_ignores=[]), workbook.path, "exec")
    try:
        exec(code, namespace)
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: the learner's line raised them
        # (a Ctrl-C at the terminal interrupts the checker as well, which then stops without a report)
        line = statement.first_line
        traceback = error.__traceback__
        while traceback is not None:  # the innermost frame that is the learner's file
            if traceback.tb_frame.f_code.co_filename == workbook.path:
                line = traceback.tb_lineno
            traceback = traceback.tb_next
        names = [
            n.id for n in ast.walk(statement.node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        ]
        return LearnerError(
            "exit" if isinstance(error, SystemExit) else "exception",
            type(error).__name__,
            str(error),
            line,
            list(statement.gradients),
            _describe_names(dict.fromkeys(names), namespace),
        )
    return None


def _capture(name: str, workbook: Workbook, namespace: dict[str, Any], key: str, arrays: dict) -> Captured:
    """Record the learner's gradient (a copy: later lines may change it in place) and the shapes around it.

    A gradient must be a NumPy array or a number: a list (``.tolist()``) is refused, not converted.
    """
    variable = "d" + name
    shapes = _describe_names(workbook.names_used(name), namespace)
    if not workbook.is_written(name):
        return Captured("not_written", shapes)
    if variable not in namespace:
        return Captured("missing", shapes)
    value = namespace[variable]
    is_number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not (isinstance(value, np.ndarray) or is_number) or np.asarray(value).dtype.kind not in "biuf":
        return Captured("not_an_array", shapes, _kind_of(value))
    arrays[key] = np.array(value)
    return Captured("value", shapes, array=key)


def _record_forward(
    names: list[str], namespace: dict[str, Any], arrays: dict, dataset: int
) -> dict[str, Captured]:
    """The forward variables as the learner's file left them, for the checker to compare with the given."""
    forward = {}
    for name in names:
        if name not in namespace:
            forward[name] = Captured("missing")
            continue
        array = np.array(namespace[name]) if _is_number_like(namespace[name]) else np.array(None)
        if array.dtype.kind in "biuf":
            key = f"{dataset}.forward.{name}"
            arrays[key] = array
            forward[name] = Captured("value", array=key)
        else:
            forward[name] = Captured("not_an_array", what=type(namespace[name]).__name__)
    return forward


def _describe_names(names, namespace: dict[str, Any]) -> dict[str, str]:
    """``{"dprobs": "(32, 27) float32", "n": "32", ...}`` for the names that hold numbers."""
    described = {}
    for name in names:
        if name not in namespace:
            if not hasattr(builtins, name):
                described[name] = "not defined"
            continue
        value = namespace[name]
        if isinstance(value, np.ndarray):
            described[name] = f"{value.shape} {value.dtype}"
        elif isinstance(value, (bool, int, float, np.number)):
            described[name] = repr(value.item() if isinstance(value, np.number) else value)
        elif value is Ellipsis:
            described[name] = "... (not written yet)"
        elif not isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
            described[name] = type(value).__name__
    return described


def _kind_of(value: Any) -> str:
    """What a value that is not an array of real numbers is: ``None``, ``a complex128 array``, ``a str``."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array"
    return f"a {type(value).__name__}"


def _fresh(array: np.ndarray) -> Any:
    """A copy the learner's code may change in place; a 0-d array becomes a number (the scalar exercise)."""
    return array[()] if array.ndim == 0 else array.copy()


def _is_number_like(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.number, bool, int, float))


def _float64_copy(value: Any) -> Any:
    """Floating arrays and numbers as float64 copies (so a probe cannot fail on float32 rounding)."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind == "f" else value.copy()
    if isinstance(value, np.floating):
        return np.float64(value)
    return value


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # done: threads the workbook started, and its atexit handlers, are not waited for
