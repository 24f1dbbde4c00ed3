"""What the command-line tests (test_cli_robust.py, test_cli_adversarial.py) share: a tiny training config,
the CLI run in this process, the check of a refusal, and file checksums. Their fixtures of a finished tiny
run, ``finished_run`` and ``run_copy``, are in conftest.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ninjagrad.cli import main

TINY = ["--steps", "60", "--embd", "3", "--hidden", "8", "--save-every", "20"]


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of the CLI run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def checksums(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory``, by relative path."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def assert_refused(code, out, err, *phrases):
    """Exit 2 with a short message holding every phrase, and no traceback."""
    assert code == 2, (code, err)
    assert "Traceback" not in out + err
    assert err.count("\n") <= 3 and len(err) < 1200, err  # a message, not a dump
    for phrase in phrases:
        assert phrase in err, (phrase, err)
