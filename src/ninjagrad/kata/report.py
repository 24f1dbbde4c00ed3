"""What a learner reads after a check: the table, the first wrong line, its shapes and the likely mistake.

The table is ``ninjagrad.check``'s (name | exact | approximate | maxdiff | shape) with a verdict column,
every gradient in backward order; the first wrong one is marked and explained below the table.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from ninjagrad.check import format_row, format_table
from ninjagrad.errors import UserError
from ninjagrad.kata.checker import DEFAULT_TIMEOUT, Broken, KataResult, RowResult, check
from ninjagrad.kata.exercises import Exercise, get_exercise
from ninjagrad.kata.workbook import WorkbookError, parse_workbook, read_kata_name, read_source

MAX_OUTPUT_LINES = 40  # of what the learner's file printed, shown above the report
MAX_OUTPUT_WIDTH = 200  # characters of each of those lines
WIDTH = 100  # characters per line of the diagnosis and the hint
NO_BREAK = "\0"  # stands in for the spaces inside `code` while a paragraph is wrapped


def check_file(
    path: str | Path,
    *,
    hint: bool = False,
    solution: str | None = None,
    as_json: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Check a workbook, print the report (or JSON), return the exit code: 0 all right, 1 not yet, 2 broken.

    ``hint`` adds a nudge for the first wrong line; ``solution`` (a gradient's name) adds that one line's
    answer from the reference solution. This is what ``ninjagrad kata check`` and ``python WORKBOOK`` run.
    """
    if solution is not None:
        _check_solution_name(Path(path), solution)
    result = check(path, timeout=timeout)
    if as_json:
        record = result.as_dict()
        target = _target_row(result)
        if hint and target is not None:
            record["hint"] = result.exercise.gradient(target).hint
        if solution is not None and result.exercise is not None:
            record["solution"] = {"name": solution, "lines": solution_lines(result.exercise, solution)}
        print(json.dumps(record, indent=2))
    else:
        print(format_report(result, hint=hint, solution=solution))
    return result.exit_code


def format_report(result: KataResult, *, hint: bool = False, solution: str | None = None) -> str:
    """The whole text report of one check: blocks separated by blank lines."""
    blocks = []
    if result.output.strip():
        printed = result.output.rstrip("\n").splitlines()
        if len(printed) > MAX_OUTPUT_LINES:
            printed = printed[:MAX_OUTPUT_LINES] + [f"... ({len(printed) - MAX_OUTPUT_LINES} more lines)"]
        printed = [
            line
            if len(line) <= MAX_OUTPUT_WIDTH
            else f"{line[:MAX_OUTPUT_WIDTH]}... ({len(line)} characters)"
            for line in printed
        ]
        blocks.append("\n".join(["your file printed:", *printed]))
    exercise = result.exercise
    if exercise is not None:
        blocks.append(
            f"{result.path}: exercise {exercise.name!r}, {_count(len(exercise.gradients), 'gradient')} "
            f"checked against {exercise.engine_name}, each line on its own"
        )
    rows = list(result.rows)
    first = result.first_wrong
    if any(row.status != "not_reached" for row in rows):
        blocks.append(format_verdicts(rows, first))
    right = (
        f"{sum(row.ok for row in rows)} of {_count(len(exercise.gradients), 'gradient') if exercise else 0}"
    )
    if result.broken is not None:
        blocks.append(_format_broken(result.broken, result))
    elif first is not None and first.status == "not_written":
        where = f"{first.gradient.variable} is not written yet ({result.path}, line {first.lines[0]}):"
        blocks.append("\n".join([where, *_source_lines(result, first.lines), f"{right} right so far."]))
    elif first is not None:
        advice = f"(`--hint` for a nudge, `--solution {first.gradient.variable}` for its answer)"
        blocks.append(
            _format_wrong(first, result) + f"\n{right} right; this is the first wrong one {advice}."
        )
    elif len(rows) == 1:
        how = "bit for bit" if rows[0].comparison.exact else "to rounding, not bit for bit"
        blocks.append(f"{rows[0].gradient.variable} is right ({how}). Well done.")
    else:
        exact = sum(row.comparison is not None and row.comparison.exact for row in rows)
        blocks.append(
            f"All {_count(len(rows), 'gradient')} right ({exact} of {len(rows)} bit for bit). Well done."
        )
    target = _target_row(result)
    if hint and target is not None:
        blocks.append(_wrapped(f"hint for d{target}: {exercise.gradient(target).hint}"))
    if solution is not None and exercise is not None:
        gradient = exercise.gradient(solution)
        lines = ["    " + line for line in solution_lines(exercise, solution)]
        blocks.append(
            "\n".join([f"solution for {gradient.variable} (the reference solution's lines):", *lines])
        )
    return "\n\n".join(blocks)


VERDICTS = {
    "right": "right",
    "wrong": "wrong",
    "not_written": "not written yet",
    "not_reached": "not reached",
}


def format_verdicts(rows: list[RowResult], first: RowResult | None) -> str:
    """Every row in backward order, with its comparisons (the probe's, and the second data set's where it
    failed, beneath it) and a verdict; the first wrong row is marked."""
    table = []
    for row in rows:
        verdict = VERDICTS[row.status] + ("   <- first wrong" if row is first else "")
        shown = [c for c in (row.comparison, row.probe) if c is not None]
        if row.second is not None and not row.second.approximate:
            shown.append(row.second)
        if not shown:
            table.append((row.gradient.variable, None, verdict))
        for i, comparison in enumerate(shown):
            table.append((comparison.name, comparison, verdict if i == 0 else ""))
    width = max([15, *(len(name) for name, _, _ in table)])
    shape_width = max([5, *(len(c.shape_text) for _, c, _ in table if c is not None)])
    header = format_table([], name_width=width).splitlines()[0]
    lines = [f"{header:<{len(header) + shape_width - 5}} | verdict"]
    lines.append("-" * (len(lines[0]) + 10))
    for name, comparison, verdict in table:
        if comparison is None:
            cells = f"{name:<{width}} | {'-':<5} | {'-':<11} | {'-':<9} | -"
        else:
            cells = format_row(comparison, width)
        lines.append(f"{cells:<{len(header) + shape_width - 5}} | {verdict}".rstrip())
    return "\n".join(lines)


def solution_lines(exercise: Exercise, name: str) -> list[str]:
    """The reference solution's lines for one gradient (``probs`` or ``dprobs``), as written there."""
    gradient = exercise.gradient(name)
    solution = parse_workbook(exercise.solution_source(), f"<solution {exercise.name}>", exercise)
    return [solution.text(line) for line in solution.line_numbers(gradient.name)]


def _check_solution_name(path: Path, name: str) -> None:
    """An unknown gradient name is the user's error: say so before running anything."""
    try:
        exercise = get_exercise(read_kata_name(read_source(path), str(path)))
    except (OSError, UnicodeDecodeError, WorkbookError, UserError):
        return  # the check itself explains what is wrong with the file
    exercise.gradient(name)


def _target_row(result: KataResult) -> str | None:
    """The gradient a hint is about: the first wrong one, or the one whose line broke the run."""
    if result.exercise is None:
        return None
    if result.broken is not None:
        return result.broken.gradient
    first = result.first_wrong
    return None if first is None else first.gradient.name


def _format_wrong(row: RowResult, result: KataResult) -> str:
    where = f", line {row.lines[0]}" if row.lines else ""
    parts = [f"{row.gradient.variable} is the first wrong gradient ({result.path}{where}):"]
    parts += _source_lines(result, row.lines)
    parts += _shape_lines(row.shapes, mine=row.gradient.variable, lines=len(row.lines))
    if row.diagnosis is not None:
        parts.append(_wrapped(f"likely mistake ({row.diagnosis.kind}): {row.diagnosis.message}", indent="  "))
    return "\n".join(parts)


def _format_broken(broken: Broken, result: KataResult) -> str:
    where = f", line {broken.line}" if broken.line else ""
    parts = [f"{result.path}{where}: the workbook cannot be checked ({broken.kind.replace('_', ' ')})"]
    if broken.line:
        parts.append(f"  {broken.line:>4} | {broken.text}")
    parts += _shape_lines(broken.shapes)
    parts.append(_wrapped(broken.message, indent="  "))
    return "\n".join(parts)


def _source_lines(result: KataResult, lines: tuple[int, ...]) -> list[str]:
    return [
        f"  {line:>4} | {result.source[line - 1].rstrip()}"
        for line in lines
        if 0 < line <= len(result.source)
    ]


def _wrapped(text: str, indent: str = "") -> str:
    """A long message as a paragraph; lines it already has (a stderr tail) are kept, and so is each piece of
    code in backticks (`dC[Xb] += demb` broken after `dC[Xb]` reads as two statements)."""
    paragraphs = text.splitlines() or [""]
    return "\n".join(
        textwrap.fill(_glue_code(p), WIDTH, initial_indent=indent, subsequent_indent=indent + "  ").replace(
            NO_BREAK, " "
        )
        for p in paragraphs
    )


def _glue_code(paragraph: str) -> str:
    return re.sub(r"`[^`]*`", lambda code: code.group(0).replace(" ", NO_BREAK), paragraph)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _shape_lines(shapes: dict[str, str], mine: str | None = None, lines: int = 1) -> list[str]:
    if not shapes:
        return []
    width = max(len(name) for name in shapes)
    out = [f"  the variables on {'this line' if lines == 1 else 'these lines'}:"]
    for name, shape in shapes.items():
        note = "   <- yours" if name == mine else ""
        out.append(f"    {name:<{width}}  {shape}{note}")
    return out
