"""Runs a learner's workbook for the checker, in a process of its own (``python -m ninjagrad.kata.runner``).

This is the only place where the learner's code runs. It runs the file top to bottom, one top-level statement
at a time, in one namespace, like ``python FILE`` would, with one difference: right after the last statement
of each gradient it records the learner's value and puts the *reference* value in its place. A mistake in
``dprobs`` therefore cannot spoil ``dcounts``: every line is judged on the upstream gradients it should have
been given, and the first wrong row of the table really is the first wrong line.

Then it runs the exercise's probed lines again (see ``Probe``) in a float64 copy of the namespace with the
values the checker chose. It compares nothing: the values go back to the checker in an ``.npz`` file, with
a JSON description (shapes of the variables on each gradient's lines, and any error with its line).

A learner's exception stops the run and is reported with the learner's line; an endless loop is stopped by
``faulthandler`` when the time limit is up, and it writes where it was (the checker reads the line there).
"""

from __future__ import annotations

import ast
import builtins
import faulthandler
import json
import os
import sys
import types
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ninjagrad.kata.exercises import Exercise, get_exercise
from ninjagrad.kata.workbook import Statement, Workbook, parse_workbook

NAMESPACE_NAME = "__kata__"  # the workbook's __name__ here: its `if __name__ == "__main__":` check is skipped


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with open(request["dump"], "w", encoding="utf-8") as dump:
        description, arrays = run(request, dump)
    np.savez(request["result"], description=np.array(json.dumps(description)), **arrays)
    return 0


def run(request: dict[str, Any], dump: TextIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run the workbook; return its description (JSON-ready) and the arrays (learner and forward values).

    The time limit counts from the learner's first line: when it is up, ``faulthandler`` writes every
    thread's stack (the learner's line among them) to ``dump`` and ends the process.
    """
    path = request["workbook"]
    exercise = get_exercise(request["exercise"])
    workbook = parse_workbook(Path(path).read_text(encoding="utf-8"), path, exercise)
    with np.load(request["reference"], allow_pickle=False) as stored:
        reference = {key: stored[key] for key in stored.files}
    sys.path.insert(0, str(Path(path).resolve().parent))  # the learner's own modules, as with `python FILE`
    sys.argv = [path]
    description: dict[str, Any] = {"rows": {}, "probes": {}, "forward": {}, "error": None}
    arrays: dict[str, np.ndarray] = {}
    faulthandler.dump_traceback_later(request["timeout"], exit=True, file=dump)
    namespace = _run_in_order(workbook, exercise, reference, request["forward"], description, arrays)
    if description["error"] is None:
        for name in request["probes"]:
            _run_probe(name, workbook, namespace, reference, description, arrays)
    faulthandler.cancel_dump_traceback_later()
    return description, arrays


def _run_in_order(
    workbook: Workbook,
    exercise: Exercise,
    reference: dict[str, np.ndarray],
    forward: list[str],
    description: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> dict[str, Any]:
    """The main run: top to bottom, each gradient replaced by the reference right after its last statement."""
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
    for index, statement in enumerate(statements):
        if index == backward_start:
            _record_forward(forward, namespace, description, arrays)
        if all(workbook.is_written(name) for name in statement.gradients):  # `dX = ...` lines are skipped
            description["error"] = _execute(statement, workbook, namespace)
            if description["error"] is not None:
                break
        for name in statement.gradients:
            if last[name] == index:
                description["rows"][name] = _capture(name, workbook, namespace, f"learner/{name}", arrays)
                namespace["d" + name] = _fresh(reference[f"gradient/{name}"])
    return namespace


def _run_probe(
    name: str,
    workbook: Workbook,
    namespace: dict[str, Any],
    reference: dict[str, np.ndarray],
    description: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> None:
    """Run d<name>'s statements again, in a float64 copy of the namespace with the probe's values put in."""
    if not workbook.is_written(name):
        return
    probe_namespace = {key: _float64_copy(value) for key, value in namespace.items()}
    prefix = f"probe/{name}/"
    probe_namespace |= {
        key[len(prefix) :]: _fresh(reference[key]) for key in reference if key.startswith(prefix)
    }
    for statement in workbook.statements_of(name):
        error = _execute(statement, workbook, probe_namespace)
        if error is not None:
            description["probes"][name] = {"state": "error", "error": error}
            return
    description["probes"][name] = _capture(name, workbook, probe_namespace, f"probe/{name}", arrays)


def _execute(statement: Statement, workbook: Workbook, namespace: dict[str, Any]) -> dict[str, Any] | None:
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
        return {
            "kind": "exit" if isinstance(error, SystemExit) else "exception",
            "exception": type(error).__name__,
            "message": str(error),
            "line": line,
            "gradients": list(statement.gradients),
            "shapes": _describe_names(dict.fromkeys(names), namespace),
        }
    return None


def _capture(
    name: str, workbook: Workbook, namespace: dict[str, Any], key: str, arrays: dict
) -> dict[str, Any]:
    """Record the learner's d<name> (a copy: later lines may change it in place) and the shapes around it."""
    shapes = _describe_names(workbook.names_used(name), namespace)
    if not workbook.is_written(name):
        return {"state": "not_written", "shapes": shapes}
    if "d" + name not in namespace:
        return {"state": "missing", "shapes": shapes}
    value = namespace["d" + name]
    try:
        array = np.array(value)
    except Exception:  # an object NumPy cannot even wrap
        array = np.array(None)
    if array.dtype.kind not in "biuf":
        return {"state": "not_an_array", "type": _kind_of(value), "shapes": shapes}
    arrays[key] = array
    return {"state": "value", "shapes": shapes}


def _record_forward(names: list[str], namespace: dict[str, Any], description: dict, arrays: dict) -> None:
    """The forward variables as the learner's file left them, for the checker to compare with the given."""
    for name in names:
        if name not in namespace:
            description["forward"][name] = "missing"
            continue
        array = np.array(namespace[name]) if _is_number_like(namespace[name]) else np.array(None)
        if array.dtype.kind in "biuf":
            arrays[f"forward/{name}"] = array
            description["forward"][name] = "value"
        else:
            description["forward"][name] = type(namespace[name]).__name__


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
