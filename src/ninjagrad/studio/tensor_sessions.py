"""The tensor level's two sessions: the atomic chain with the kata beside it, and makemore training live.

- ``tensor``: the graph of :mod:`ninjagrad.studio.tensor_graph` (built once), the node the page selected,
  and a kata workbook (``ninjagrad studio --kata FILE`` or picked in the page) re-checked by a watcher
  thread whenever the file changes on disk (polled every ``POLL_SECONDS``; the check itself runs outside the
  lock, so the page stays responsive while the learner's file runs, endless loop or not).
- ``makemore``: a :class:`~ninjagrad.studio.tensor_training.LiveRun` trained off the request path; each
  ``train_step`` of the studio's training thread runs up to ``SEGMENT_SECONDS`` of SGD steps, so commands
  wait at most that long and the snapshot (a few tens of kB) is built a few times a second, not per step.

Options come from the command line through the server's ``Studio.options``: ``input`` (a data file for
``makemore``) and ``kata`` (the workbooks named with ``--kata``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ninjagrad.errors import UserError
from ninjagrad.studio.sessions import Session, TrainingSession, command, session_type

POLL_SECONDS = 0.1  # how often the watcher looks at the workbook's modification time
SEGMENT_SECONDS = 0.2  # SGD steps per train_step, in time: commands wait at most this long (5 snapshots/s)
SEGMENT_STEPS = 250  # steps per LiveRun.advance call inside a segment (it stops at its own boundaries too)


def _options(studio: Any) -> dict[str, Any]:
    return dict(getattr(studio, "options", None) or {})


@session_type("tensor")
class TensorSession(Session):
    """The atomic chain as a graph, the selected node, and the kata's marks on it."""

    timeout = None  # seconds for one check of the workbook; None: tensor_kata.TIMEOUT

    def __init__(self, studio: Any = None) -> None:
        from ninjagrad.kata.checker import Checker
        from ninjagrad.studio.tensor_graph import build_chain, graph_json
        from ninjagrad.studio.tensor_kata import AllowedFiles

        super().__init__(studio)
        options = _options(studio)
        self.chain = build_chain()
        self.graph = graph_json(self.chain)
        self._details: dict[str, dict[str, Any]] = {}  # node_json per node, built on its first click
        self.selected = "logits"  # the lecture's dlogits picture, to start with
        self.revealed: set[str] = set()  # nodes whose backward line the page asked to see
        self.allowed = AllowedFiles.start(options.get("kata") or [], options.get("root"))
        self.candidates = self.allowed.candidates()  # listed again by the command refresh_workbooks
        self.workbook: Path | None = None
        self.verdict: dict[str, Any] | None = None
        self.checking = False
        self.checked_at = 0.0  # time.time() of the last verdict
        self.checks = 0  # verdicts so far (the page and the tests see a new one arrive)
        self.hints: dict[str, str] = {}
        self.solutions: dict[str, list[str]] = {}
        self._seen: tuple[float, int] | None = None  # (mtime, size) of the file last checked
        self._checker = Checker()  # keeps the references and a warm runner process between saves
        self._stopping = threading.Event()
        self._wake = threading.Event()
        named = sorted(self.allowed.named)
        if named:
            self.workbook = named[0]
        elif self.candidates:  # a workbook will be picked from the list: have a runner ready for its check
            self._checker.warm()
        self._watcher = threading.Thread(target=self._watch, name="studio-tensor-kata", daemon=True)
        self._watcher.start()

    # ---- commands ------------------------------------------------------------------------------------

    def _detail(self, name: str) -> dict[str, Any]:
        from ninjagrad.studio.tensor_graph import node_json

        if name not in self._details:
            self._details[name] = node_json(self.chain, name)  # a UserError for a name not in the graph
        return self._details[name]

    @command
    def select(self, name: str) -> None:
        self._detail(name)
        self.selected = name

    @command
    def show_answer(self, name: str) -> None:
        self.select(name)
        self.revealed.add(name)

    @command
    def open_workbook(self, path: str) -> None:
        """Check ``path`` from now on, if the studio may read it (see tensor_kata.AllowedFiles)."""
        self.workbook = self.allowed.resolve(path)
        self.verdict, self._seen, self.hints, self.solutions = None, None, {}, {}
        self._wake.set()

    @command
    def refresh_workbooks(self) -> None:
        """List the start directory's workbooks again (a file created since the studio started)."""
        self.candidates = self.allowed.candidates()

    @command
    def close_workbook(self) -> None:
        self.workbook, self.verdict, self._seen = None, None, None

    @command
    def recheck(self) -> None:
        self._seen = None
        self._wake.set()

    @command
    def hint(self, name: str) -> None:
        from ninjagrad.studio.tensor_kata import hint

        self.hints[name] = hint(self._exercise(), name)

    @command
    def solution(self, name: str) -> None:
        from ninjagrad.studio.tensor_kata import solution

        self.solutions[name] = solution(self._exercise(), name)

    def _exercise(self) -> str:
        if not self.verdict or not self.verdict.get("exercise"):
            raise UserError("open a workbook first (ninjagrad studio --kata FILE, or pick one in the page)")
        return self.verdict["exercise"]

    # ---- the watcher ---------------------------------------------------------------------------------

    def _watch(self) -> None:
        from ninjagrad.studio.tensor_kata import TIMEOUT, check_workbook

        while not self._stopping.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            path = self.workbook
            if path is None:
                continue
            verdict, failure = None, ""
            try:
                stat = path.stat()
                seen: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
            except OSError as error:
                seen, failure = None, f"cannot read {path}: {error.strerror}"
            if seen is not None and seen == self._seen:
                continue
            with self.lock:
                self.checking = True
                self.publish()
            if seen is not None:
                try:
                    verdict = check_workbook(path, timeout=self.timeout or TIMEOUT, checker=self._checker)
                except UserError as error:  # an unreadable file: say so, keep watching
                    failure = str(error)
            with self.lock:
                if path == self.workbook:
                    self._seen = seen
                    self.verdict = verdict or {
                        "file": str(path),
                        "status": "broken",
                        "gradients": [],
                        "broken": {"kind": "unreadable", "message": failure},
                    }
                    self.checked_at = time.time()
                    self.checks += 1
                self.checking = False
                self.publish()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._watcher.join(timeout=2)
        self._checker.close()

    # ---- the view ------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        detail = self._detail(self.selected)
        if detail["gradient"] is not None and self.selected not in self.revealed:
            detail = {**detail, "gradient": {**detail["gradient"], "backward": None}}  # until "show answer"
        return {
            "graph": self.graph,
            "selected": detail,
            "kata": {
                "workbook": None if self.workbook is None else str(self.workbook),
                "checking": self.checking,
                "checks": self.checks,
                "checked_at": self.checked_at,
                "verdict": self.verdict,
                "hints": self.hints,
                "solutions": self.solutions,
                "candidates": self.candidates,
                "root": str(self.allowed.root),
            },
        }


@session_type("makemore")
class MakemoreSession(TrainingSession):
    """The makemore MLP training live, with the diagnostics of makemore part 3."""

    def __init__(self, studio: Any = None) -> None:
        from ninjagrad.makemore.data import load_dataset
        from ninjagrad.studio.tensor_training import LiveConfig

        options = _options(studio)
        self.data = load_dataset(options.get("input"))
        self.config = LiveConfig()
        self._new_run()
        super().__init__(studio)

    def _new_run(self) -> None:
        from ninjagrad.studio.tensor_training import LiveRun

        self.run = LiveRun(self.config, self.data)
        self._rate_steps, self._rate_start, self.rate = 0, time.perf_counter(), 0.0

    def train_step(self) -> None:
        """SGD steps for up to SEGMENT_SECONDS (the studio's training thread calls this under the lock)."""
        run = self.run
        start = time.perf_counter()
        while not run.done and time.perf_counter() - start < SEGMENT_SECONDS:
            self._rate_steps += run.advance(SEGMENT_STEPS)
        now = time.perf_counter()
        if now - self._rate_start >= 1.0:
            self.rate = self._rate_steps / (now - self._rate_start)
            self._rate_steps, self._rate_start = 0, now
        if run.done:
            self.playing = False
            if run.error:
                raise UserError(run.error)

    @command
    def play(self) -> None:
        self._rate_steps, self._rate_start = 0, time.perf_counter()
        super().play()

    @command
    def reset(self) -> None:
        self.playing = False
        self._new_run()

    @command
    def configure(self, **values: Any) -> None:
        """New controls (steps, lr, decay_step, batch_size, n_hidden, seed): a fresh run with them."""
        from ninjagrad.studio.tensor_training import LiveConfig

        known = set(asdict(self.config))
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown control(s) {unknown}; the controls are {sorted(known)}")
        config = replace(self.config, **values)  # LiveConfig checks each value
        if not isinstance(config, LiveConfig):  # pragma: no cover - replace keeps the type
            raise UserError("bad configuration")
        self.playing = False
        self.config = config
        self._new_run()

    def snapshot(self) -> dict[str, Any]:
        from ninjagrad.studio.tensor_training import training_json

        return training_json(
            self.run, steps_per_second=self.rate if self.playing else 0.0, playing=self.playing
        )
