"""Shared test set-up: the tests that render with graphviz's ``dot`` program.

Mark such a test ``@pytest.mark.needs_dot``. Without ``dot`` on PATH it is skipped, and the reason is given
once: in the header of the run and as a single line of the skip summary (every skip is raised from here).
"""

from __future__ import annotations

import os
import shutil
import sys

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


# The browser tests (test_studio_browser.py, test_studio_tensor_browser.py) share one chromium per module
# and open their pages with `open_page`; each of those modules skips itself where no browser is available.


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from ninjagrad.studio import headless

    with sync_playwright() as p:
        chromium = headless.launch(p)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser):
    """``open_page(url, ready, width, height)``: a page at ``url`` once ``ready`` (a selector) is there; after
    the test its context is closed, and a script error the page raised fails the test."""
    opened = []

    def open_(url: str, ready: str, width: int, height: int):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        opened.append((context, errors))
        page.goto(url)
        page.wait_for_selector(ready, timeout=60_000)
        return page

    yield open_
    for context, errors in opened:
        context.close()
        assert not errors, errors


# The command-line tests' finished tiny run (cli_helpers.py has the rest of what they share).
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished tiny run (model.npz, metrics.json, loss.png); copy it (run_copy) before changing it."""
    from cli_helpers import TINY
    from ninjagrad.cli import main

    directory = tmp_path_factory.mktemp("finished") / "run"
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            assert main(["train", "-o", str(directory), *TINY]) == 0
        finally:
            sys.stdout = stdout
    return directory


@pytest.fixture
def run_copy(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy
