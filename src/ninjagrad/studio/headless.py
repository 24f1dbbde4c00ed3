"""Headless Chromium for the studio's browser tests, benchmarks and screenshots (one copy of the flags).

Playwright (the `test` extra) drives Debian's chromium; Playwright's own browser downloads are not used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# Root needs --no-sandbox; the rest keep a closed network from being tried at every start.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def missing() -> str | None:
    """Why no browser can be launched here (to skip with), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def launch(playwright: Any, *extra_args: str) -> Any:
    """A headless Debian chromium from a running ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])
