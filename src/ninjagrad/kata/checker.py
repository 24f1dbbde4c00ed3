"""Checking a workbook: the reference, the learner's run, and one verdict per gradient.

How a check works (the README has the same in one paragraph):

1. The workbook is parsed (:mod:`ninjagrad.kata.workbook`): a syntax error, a missing ``KATA`` line or a
   gradient that is never assigned stops here, with the line.
2. The reference is built in this process from ninjagrad's own files: the solution's forward lines give the
   forward values, autograd (``Value`` or ``Tensor``) gives every gradient, and the solution's backward lines
   (or a gradient's ``paths``) give the contributions of gradients that sum several paths, the upstream
   gradients each line multiplies, and the probe's expected values.
3. The learner's file runs in a fresh Python process with a time limit (:mod:`ninjagrad.kata.runner`), where
   each gradient is recorded and then replaced by the reference value, so each line is judged on its own.
4. Each gradient is compared with ``ninjagrad.check.compare`` (allclose passes; exactness is recorded), and a
   wrong one gets a :class:`~ninjagrad.kata.diagnose.Diagnosis` from the catalogue.

Nothing the learner's code does can reach this process: it gets back arrays, which are compared here.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

import ninjagrad
from ninjagrad.check import Comparison, compare
from ninjagrad.errors import UserError
from ninjagrad.kata.diagnose import (
    Context,
    Contribution,
    Diagnosis,
    diagnose,
    not_an_array,
    not_assigned,
    not_written,
)
from ninjagrad.kata.exercises import Exercise, Gradient, get_exercise
from ninjagrad.kata.runner import NAMESPACE_NAME
from ninjagrad.kata.workbook import Statement, Workbook, WorkbookError, parse_workbook, read_kata_name

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
    status: str  # "right", "wrong" or "not_written"
    comparison: (
        Comparison | None
    )  # against autograd, on the real data (None if there is no number to compare)
    probe: Comparison | None = (
        None  # against the reference solution, on the probe's values (probed rows only)
    )
    diagnosis: Diagnosis | None = None  # why it is wrong
    shapes: dict[str, str] = field(
        default_factory=dict
    )  # the variables on its lines: shape and dtype, or value

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def as_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.gradient.variable, "variable": self.gradient.name}
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
        }
        return record


@dataclass(frozen=True)
class KataResult:
    """Everything a check found: the rows it reached and, for a broken workbook, why it stopped."""

    path: str
    exercise: Exercise | None
    rows: tuple[RowResult, ...] = ()
    broken: Broken | None = None
    output: str = ""  # what the learner's file printed
    source: tuple[str, ...] = ()  # the workbook's lines, to quote them

    @property
    def first_wrong(self) -> RowResult | None:
        return next((row for row in self.rows if not row.ok), None)

    @property
    def status(self) -> str:
        if self.broken is not None:
            return "broken"
        return "pass" if self.first_wrong is None else "fail"

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
            "rows": [row.as_dict() for row in self.rows],
            "broken": None if self.broken is None else self.broken.as_dict(),
            "output": self.output,
        }


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
    """What a workbook is checked against, all computed from ninjagrad's own files."""

    forward: dict[str, Any]  # the given numbers and forward variables, from the solution's forward lines
    gradients: dict[str, np.ndarray]  # autograd's, by forward name
    solution: Workbook
    contributions: dict[str, tuple[Contribution, ...]]  # the terms of gradients that sum several paths
    upstream: dict[str, tuple[str, ...]]  # the gradients from above each gradient's reference line uses
    probes: dict[str, ProbeCase]

    def namespace(self) -> dict[str, Any]:
        """The forward variables and every reference gradient (as ``d<name>``), like a correct workbook's."""
        return self.forward | {"d" + name: value for name, value in self.gradients.items()}

    def forward_names(self) -> list[str]:
        """The variables a workbook must leave as given: the numbers of the set-up and the forward pass."""
        return [
            name for name, value in self.forward.items() if not name.startswith("__") and _is_number(value)
        ]


def build_reference(exercise: Exercise) -> Reference:
    """Run the solution's forward lines, autograd, and the solution's backward lines for the extras."""
    solution = parse_workbook(exercise.solution_source(), f"<solution {exercise.name}>", exercise)
    forward: dict[str, Any] = {"__name__": NAMESPACE_NAME}
    for statement in solution.statements:
        if not statement.gradients:
            _run(statement, solution, forward)
    gradients = {name: np.asarray(value) for name, value in exercise.autograd(forward).items()}
    main = forward | {"d" + name: value for name, value in gradients.items()}
    contributions = {g.name: _contributions(solution, g, main, exercise) for g in exercise.gradients}
    upstream = {g.name: _upstream(solution, g, forward) for g in exercise.gradients}
    probes = _probe_cases(exercise, solution, main) if exercise.probed else {}
    return Reference(forward, gradients, solution, contributions, upstream, probes)


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
        overrides = overrides | {
            gradient.variable: after[gradient.variable]
        }  # what the lines below are given
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


def check(path: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> KataResult:
    """Check the workbook at ``path`` (see the module docstring); a UserError only if it is unreadable, or
    the time limit is not a number of seconds in (0, MAX_TIMEOUT]."""
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
        return KataResult(shown, exercise, broken=broken, source=tuple(source.splitlines()))
    except UserError as error:  # KATA names no exercise
        return KataResult(shown, None, broken=Broken("not_a_workbook", str(error)))
    reference = build_reference(exercise)
    outcome, output = _run_learner(Path(path).resolve(), exercise, reference, timeout)
    if isinstance(outcome, Broken):
        broken = _with_text(outcome, workbook)
        return KataResult(shown, exercise, broken=broken, output=output, source=workbook.lines)
    description, arrays = outcome

    broken = _check_forward(description, arrays, reference, workbook)
    if broken is not None or not description["forward"]:
        # other numbers in the forward pass (or no backward pass reached): no gradient would mean anything
        broken = broken or _learner_error(description["error"], workbook, exercise)
        return KataResult(
            shown, exercise, broken=_with_text(broken, workbook), output=output, source=workbook.lines
        )
    if description["error"] is not None:  # in the backward pass: the rows above it stand
        broken = _with_text(_learner_error(description["error"], workbook, exercise), workbook)
    rows = tuple(
        _judge(g, description, arrays, reference, workbook, exercise) for g in _reached(exercise, description)
    )
    return KataResult(shown, exercise, rows, broken, output, workbook.lines)


def _reached(exercise: Exercise, description: dict[str, Any]) -> list[Gradient]:
    """The gradients the run recorded, in backward order, up to the first one it did not reach."""
    reached = []
    for gradient in exercise.gradients:
        if gradient.name not in description["rows"]:
            break
        reached.append(gradient)
    return reached


def _judge(
    gradient: Gradient,
    description: dict[str, Any],
    arrays: dict[str, np.ndarray],
    reference: Reference,
    workbook: Workbook,
    exercise: Exercise,
) -> RowResult:
    """One gradient's verdict: compared with autograd, and (if probed) with the probe's expected values."""
    info = description["rows"][gradient.name]
    lines = workbook.line_numbers(gradient.name)
    shapes = info["shapes"]
    if info["state"] == "not_written":
        placeholder = next(s.first_line for s in workbook.statements_of(gradient.name) if s.placeholder)
        return RowResult(
            gradient, lines, "not_written", None, None, not_written(gradient, placeholder), shapes
        )
    if info["state"] != "value":
        found = not_assigned(gradient) if info["state"] == "missing" else not_an_array(gradient, info["type"])
        return RowResult(gradient, lines, "wrong", None, None, found, shapes)

    constants = {"n": reference.forward[exercise.batch_size]} if exercise.batch_size else {}
    mine = arrays[f"learner/{gradient.name}"]
    expected = reference.gradients[gradient.name]
    comparison = compare(gradient.variable, mine, expected, show=False)
    diagnosis = None
    if not comparison.approximate:
        context = Context(
            gradient,
            reference.namespace(),
            reference.contributions[gradient.name],
            constants,
            reference.upstream[gradient.name],
        )
        diagnosis = diagnose(mine, expected, context)
    probe = None
    if gradient.name in reference.probes:
        probe, probe_diagnosis = _judge_probe(gradient, description, arrays, reference, exercise, constants)
        diagnosis = diagnosis or probe_diagnosis
    status = "right" if diagnosis is None else "wrong"
    return RowResult(gradient, lines, status, comparison, probe, diagnosis, shapes)


def _judge_probe(
    gradient: Gradient,
    description: dict[str, Any],
    arrays: dict[str, np.ndarray],
    reference: Reference,
    exercise: Exercise,
    constants: dict[str, float],
) -> tuple[Comparison | None, Diagnosis | None]:
    """The second opinion on a probed gradient: its lines run again on the probe's values."""
    case = reference.probes[gradient.name]
    info = description["probes"].get(gradient.name, {"state": "not_written"})
    if info["state"] == "not_written":
        return None, None
    if info["state"] != "value":  # an exception, or no array at all, on the probe's values
        error = info.get("error", {"exception": "no array", "message": info.get("type", "nothing assigned")})
        return None, Diagnosis(
            "probe_error",
            f"{gradient.variable}'s lines failed when run again with {exercise.probe.description}: "
            f"{error['exception']}: {error['message']}",
        )
    mine = arrays[f"probe/{gradient.name}"]
    comparison = compare(f"{gradient.variable} (probe)", mine, case.expected, show=False)
    if comparison.approximate:
        return comparison, None
    context = Context(
        gradient, case.namespace, case.contributions, constants, reference.upstream[gradient.name]
    )
    found = diagnose(mine, case.expected, context)
    return comparison, Diagnosis(
        found.kind,
        f"{gradient.variable} passes on the real batch, but {gradient.hidden}. Run again with "
        f"{exercise.probe.description} (the probe row), it is wrong: {found.message}",
    )


def _check_forward(
    description: dict[str, Any], arrays: dict[str, np.ndarray], reference: Reference, workbook: Workbook
) -> Broken | None:
    """The set-up and forward pass are given: a changed or missing variable makes every gradient moot."""
    for name, state in description["forward"].items():
        line = _assignment_line(workbook, name)
        if state == "missing":
            return Broken(
                "missing_variable",
                f"{name} is not defined when the backward pass starts: the forward pass is given, restore "
                "its line (`ninjagrad kata new` writes a fresh copy to compare with)",
                line,
            )
        given = np.asarray(reference.forward[name])
        if state != "value":
            return Broken(
                "changed_forward", f"{name} should be numbers, {given.shape}, but is a {state}", line
            )
        mine = arrays[f"forward/{name}"]
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


def _learner_error(error: dict[str, Any], workbook: Workbook, exercise: Exercise) -> Broken:
    """An exception (or exit) in the learner's code, said in the learner's terms."""
    if error["kind"] == "exit":
        message = "the file called exit() or sys.exit(); a workbook must run to its end"
    else:
        message = f"{error['exception']}: {error['message']}"
        later = re.fullmatch(r"name '(d\w+)' is not defined", error["message"])
        if later:
            owners = [g for g in exercise.gradients if g.variable == later.group(1)]
            if owners:
                first = workbook.statements_of(owners[0].name)[0].first_line
                message += (
                    f" yet: {later.group(1)} is computed further down (line {first}); a backward line can "
                    "only use gradients computed above it"
                )
        elif "ellipsis" in error["message"]:
            message += " (this line still has a `...` in it)"
        elif torch_word := re.search(r"unexpected keyword argument '(keepdim|dim)'", error["message"]):
            numpy_word = {"keepdim": "keepdims=True", "dim": "axis="}[torch_word.group(1)]
            message += (
                f" (the arrays are NumPy's, which spells PyTorch's {torch_word.group(1)}= as {numpy_word})"
            )
    gradients = error["gradients"]
    return Broken(
        error["kind"], message, error["line"], shapes=error["shapes"], gradient=next(iter(gradients), None)
    )


# ---------------------------------------------------------------------------------------------------------
# The learner's process


def _run_learner(
    path: Path, exercise: Exercise, reference: Reference, timeout: float
) -> tuple[Broken | tuple[dict[str, Any], dict[str, np.ndarray]], str]:
    """The runner's description and arrays for ``path`` (or why it stopped), and what the file printed."""
    with tempfile.TemporaryDirectory(prefix="ninjagrad-kata-") as tmp:
        folder = Path(tmp)
        given = {f"gradient/{name}": value for name, value in reference.gradients.items()}
        for name, case in reference.probes.items():
            given |= {f"probe/{name}/{key}": value for key, value in case.overrides.items()}
        np.savez(folder / "reference.npz", **given)
        request = {
            "workbook": str(path),
            "exercise": exercise.name,
            "reference": str(folder / "reference.npz"),
            "forward": reference.forward_names(),
            "probes": list(reference.probes),
            "result": str(folder / "result.npz"),
            "dump": str(folder / "dump.txt"),
            "timeout": timeout,
        }
        (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
        package_root = str(Path(ninjagrad.__file__).resolve().parent.parent)  # run this same ninjagrad
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        )
        command = [sys.executable, "-m", "ninjagrad.kata.runner", str(folder / "request.json")]
        code, output, errors = _run_bounded(command, env, timeout + GRACE)
        if code is None:
            return Broken(
                "timeout", f"the file did not finish within {timeout:g} s (an endless loop?)"
            ), output
        if code == 0 and (folder / "result.npz").exists():
            with np.load(folder / "result.npz", allow_pickle=False) as stored:
                arrays = {key: stored[key] for key in stored.files if key != "description"}
                description = json.loads(str(stored["description"]))
            return (description, arrays), output
        dump = (folder / "dump.txt").read_text(encoding="utf-8") if (folder / "dump.txt").exists() else ""
        if dump.startswith("Timeout"):
            shown_there = str(path).encode("ascii", "backslashreplace").decode()  # as faulthandler writes it
            lines = [
                int(m.group(1)) for m in re.finditer(rf'File "{re.escape(shown_there)}", line (\d+)', dump)
            ]
            where = ": stopped at this line" if lines else ""
            message = f"the file did not finish within {timeout:g} s{where} (an endless loop?)"
            return Broken("timeout", message, lines[0] if lines else None), output
        return Broken("crashed", _crash_message(code, errors)), output


def _run_bounded(command: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str, str]:
    """Run ``command``: its exit code (None if it was killed at ``timeout``), stdout and stderr.

    Only the first MAX_OUTPUT_BYTES of each stream are kept: a workbook that prints in an endless loop
    writes gigabytes before its time is up, and they must not pile up in this process's memory.
    """
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    heads = (bytearray(), bytearray())
    readers = [
        threading.Thread(target=_keep_head, args=(stream, head), daemon=True)
        for stream, head in zip((process.stdout, process.stderr), heads, strict=True)
    ]
    for reader in readers:
        reader.start()
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:  # on a time-out, and on Ctrl-C: the learner's process must not outlive the check
        if process.poll() is None:
            process.kill()
            process.wait()
    deadline = time.monotonic() + READ_GRACE
    for reader in readers:  # a process the file started in the background may hold the pipes open
        reader.join(timeout=max(deadline - time.monotonic(), 0))
    output, errors = (bytes(head).decode("utf-8", errors="replace") for head in heads)
    return code, output, errors


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
    try:
        return path.read_text(encoding="utf-8")
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
