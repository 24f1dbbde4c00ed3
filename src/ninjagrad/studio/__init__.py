"""The ninjagrad studio: a local web app that shows the engines at work, live.

``ninjagrad studio`` runs it from the shell; in a notebook, ``ninjagrad.studio.show()`` starts it in the
background (once per kernel) and returns an IFrame of its page. The Python process holds every model and
graph; the browser only draws (see docs/studio.md for how it is built and how to add a page).
"""

from __future__ import annotations

from typing import Any

_running: Any = None  # the notebook's studio, started by the first show()


def start(port: int = 0) -> Any:
    """Start a studio in a background thread, or return the running one; it has ``.url`` and ``.stop()``."""
    global _running
    from ninjagrad.studio.server import StudioServer

    if _running is None or not _running.server.started or _running.server.should_exit:
        _running = StudioServer(port=port).start()
    return _running


def show(width: str | int = "100%", height: int = 720, port: int = 0) -> Any:
    """Show the studio inside Jupyter: an ``IPython.display.IFrame`` of the local server's page."""
    from IPython.display import IFrame

    return IFrame(start(port).url, width=width, height=height)


__all__ = ["show", "start"]
