"""Sessions: the studio's state, one object per page, living in the Python process.

A :class:`Session` owns engine objects (a ``Value`` graph, an MLP ...), answers *commands* from the page
(``handle("forward", {...})``) and *publishes* snapshots: JSON text built by the view functions, with a
version number. The server streams the latest snapshot to the page, at most ``MAX_UPDATES_PER_SECOND``
times a second, however fast the session publishes, so the page sees the newest state and never a queue.

A :class:`TrainingSession` also trains in a background thread (off the request path): ``play`` starts
the loop, ``pause`` stops it; one ``train_step()`` at a time runs under the session's lock, so a command
always sees the state between two steps. Bad input is a ``UserError``; its message goes back to the page
and the session carries on.

Session types are registered by name with :func:`session_type`; the server makes one of each, on first
use, and routes ``/api/<name>/...`` to it (see docs/studio.md).
"""

from __future__ import annotations

import inspect
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from ninjagrad.errors import UserError

MAX_UPDATES_PER_SECOND = 30  # the stream's bound, whatever the training speed

# Session name -> class; filled by @session_type in the modules listed in SESSION_MODULES.
SESSION_TYPES: dict[str, type[Session]] = {}
# Imported by the server so that their @session_type registrations run; a new page adds its module here.
SESSION_MODULES: tuple[str, ...] = (
    "ninjagrad.studio.expression",
    "ninjagrad.studio.moons",
    "ninjagrad.studio.tensor_sessions",
)


def session_type(name: str) -> Callable[[type[Session]], type[Session]]:
    """Register the decorated Session subclass under ``name`` (the ``/api/<name>/`` of its page)."""

    def register(cls: type[Session]) -> type[Session]:
        if name in SESSION_TYPES:
            raise ValueError(f"session type {name!r} is registered twice ({SESSION_TYPES[name]} and {cls})")
        cls.name = name
        SESSION_TYPES[name] = cls
        return cls

    return register


def command(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a method as a command the page may send; its keyword arguments come from the JSON body."""
    function.is_command = True
    return function


class Session:
    """State behind one page: commands in, versioned JSON snapshots out."""

    name: ClassVar[str] = ""

    def __init__(self, studio: Any = None) -> None:
        self.studio = studio  # the server's Studio: lets one page's command reach another page's session
        self.lock = threading.RLock()  # held by a command, a training step or a snapshot, one at a time
        self._published: tuple[int, str] = (0, "{}")  # (version, JSON text): replaced whole, never mutated
        self.message = ""  # the last error, shown in the page until the next command succeeds

    # ---- what subclasses provide ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The page's whole state as JSON-ready data (built by view functions); called under the lock."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop any background work (the server calls it on shutdown)."""

    # ---- commands ------------------------------------------------------------------------------------

    def commands(self) -> list[str]:
        return sorted(n for n in dir(type(self)) if getattr(getattr(type(self), n), "is_command", False))

    def handle(self, name: str, args: dict[str, Any]) -> None:
        """Run command ``name`` with ``args``; a ``UserError`` is kept as the message and re-raised."""
        method = getattr(type(self), name, None)
        if not getattr(method, "is_command", False):
            raise UserError(f"unknown command {name!r} for {self.name}; known: {', '.join(self.commands())}")
        if not isinstance(args, dict):
            raise UserError(f"a command's arguments are a JSON object, got {type(args).__name__}")
        with self.lock:
            try:
                inspect.signature(method).bind(self, **args)  # the names only; a bug inside stays a bug
            except TypeError as error:  # wrong or missing argument names from the page
                self.message = f"{name}: bad arguments {sorted(args)} ({error})"
                self.publish()
                raise UserError(self.message) from None
            try:
                getattr(self, name)(**args)
            except UserError as error:
                self.message = str(error)
                self.publish()
                raise
            self.message = ""
            self.publish()

    # ---- publishing ----------------------------------------------------------------------------------

    def publish(self) -> None:
        """Build a snapshot and make it the latest (one assignment, so readers never see half of one)."""
        with self.lock:
            state = self.snapshot()
            state["session"] = self.name
            state["message"] = self.message
            version = self._published[0] + 1
            state["version"] = version
            self._published = (version, json.dumps(state, allow_nan=False, default=_json_default))

    def latest(self) -> tuple[int, str]:
        """(version, JSON text) of the newest snapshot; publishes a first one if there is none yet."""
        if self._published[0] == 0:
            self.publish()
        return self._published


class TrainingSession(Session):
    """A session whose model trains in a background thread while ``playing``.

    Subclasses write ``train_step()`` (one optimisation step, called under the lock). The thread publishes
    a snapshot after a step only when the last one is at least ``1 / MAX_UPDATES_PER_SECOND`` old, so
    building snapshots costs a bounded share of the training time.
    """

    def __init__(self, studio: Any = None) -> None:
        super().__init__(studio)
        self.playing = False
        self.steps_per_second = 0.0  # measured over the last second of play
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"studio-{self.name}", daemon=True)
        self._thread.start()

    def train_step(self) -> None:
        raise NotImplementedError

    @command
    def play(self) -> None:
        self.playing = True
        self._wake.set()

    @command
    def pause(self) -> None:
        self.playing = False

    def close(self) -> None:
        self._stopping = True
        self.playing = False
        self._wake.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        interval = 1.0 / MAX_UPDATES_PER_SECOND
        last_publish = 0.0
        window_start, window_steps = time.perf_counter(), 0
        while not self._stopping:
            if not self.playing:
                self._wake.wait(0.5)
                self._wake.clear()
                window_start, window_steps = time.perf_counter(), 0
                continue
            with self.lock:
                if not self.playing:  # paused while this thread waited for the lock
                    continue
                try:
                    self.train_step()
                except UserError as error:  # e.g. the loss became nan: stop and say so
                    self.playing = False
                    self.message = str(error)
                    self.publish()
                    continue
                window_steps += 1
                now = time.perf_counter()
                if now - window_start >= 1.0:
                    self.steps_per_second = window_steps / (now - window_start)
                    window_start, window_steps = now, 0
                if now - last_publish >= interval or not self.playing:
                    self.publish()
                    last_publish = now
            # Let go of the GIL for a moment so the server's event loop and commands get their turn.
            time.sleep(0)


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays as plain JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot send {type(value).__name__} to the page")


def finite_or_none(x: float) -> float | None:
    """JSON has no nan or inf: the page shows None as 'nan/inf' text."""
    return x if math.isfinite(x) else None
