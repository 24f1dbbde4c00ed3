"""Shared test set-up: the tests that render with graphviz's ``dot`` program.

Mark such a test ``@pytest.mark.needs_dot``. Without ``dot`` on PATH it is skipped, and the reason is given
once: in the header of the run and as a single line of the skip summary (every skip is raised from here).
"""

from __future__ import annotations

import shutil

import pytest

DOT = shutil.which("dot")
NO_DOT = (
    "graphviz's `dot` program is not on PATH, so the tests that render drawings are skipped; "
    "install it with `apt-get install graphviz` (`make test` does so when it runs as root with apt-get)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_dot: renders with graphviz's `dot`; skipped when it is missing")


def pytest_report_header(config: pytest.Config) -> str:
    return f"graphviz dot: {DOT}" if DOT else f"graphviz dot: not found. {NO_DOT}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if DOT is None and item.get_closest_marker("needs_dot") is not None:
        pytest.skip(NO_DOT)
