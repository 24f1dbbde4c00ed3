"""The backprop kata: learners write the backward pass, ninjagrad finds the first wrong line and says why.

``ninjagrad kata new NAME`` writes a workbook (the forward pass given, each backward line a TODO);
``ninjagrad kata check FILE`` runs it in a fresh process, judges every gradient on its own against autograd,
and explains the first wrong one. The pieces: ``exercises`` (what each kata asks), ``data`` (the numbers a
workbook starts from), ``workbook`` (reading and writing workbooks), ``runner`` (the learner's process),
``checker`` (the verdicts), ``diagnose`` (the catalogue of mistakes), ``report`` (what is printed).

A workbook imports :func:`exercise_data` from here, so this module stays light: the checker is imported only
when :func:`check_file` is called.
"""

from __future__ import annotations

from pathlib import Path

from ninjagrad.kata.data import exercise_data

__all__ = ["check_file", "exercise_data"]


def check_file(path: str | Path, **options) -> int:
    """Check a workbook and print the report; see :func:`ninjagrad.kata.report.check_file`."""
    from ninjagrad.kata.report import check_file as check_and_report

    return check_and_report(path, **options)
