"""The backprop kata: learners write the backward pass; ninjagrad finds the first wrong line and says why.

``ninjagrad kata new NAME`` writes a workbook, ``ninjagrad kata check FILE`` checks it. From Python:
:func:`check_workbook` returns a :class:`~ninjagrad.kata.checker.CheckResult` (one row per gradient, each
with a ``status``); :func:`check_file` prints the report. This module stays light: a workbook imports
:func:`exercise_data` from it, and the checker is imported only when called.
"""

from __future__ import annotations

from pathlib import Path

from ninjagrad.kata.data import exercise_data

__all__ = ["check_file", "check_workbook", "exercise_data"]


def check_workbook(path: str | Path, *, timeout: float | None = None):
    """Check a workbook; see :func:`ninjagrad.kata.checker.check_workbook`."""
    from ninjagrad.kata.checker import DEFAULT_TIMEOUT
    from ninjagrad.kata.checker import check_workbook as check

    return check(path, timeout=DEFAULT_TIMEOUT if timeout is None else timeout)


def check_file(path: str | Path, **options) -> int:
    """Check a workbook and print the report; see :func:`ninjagrad.kata.report.check_file`."""
    from ninjagrad.kata.report import check_file as check_and_report

    return check_and_report(path, **options)
