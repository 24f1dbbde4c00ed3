"""The ``ninjagrad`` command line: the only place that reads ``sys.argv``.

Each subcommand lives in ``ninjagrad/commands/<name>.py`` and exposes ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import their heavy dependencies
(matplotlib, graphviz) inside ``run`` so that ``ninjagrad --help`` stays fast.

Exit codes: 0 success, 1 a check that ran and failed, 2 bad input (a clear message, no traceback) or no
command (the help), 130 interrupted (Ctrl-C at any moment, start-up included).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from ninjagrad.errors import UserError

# The subcommands, in the order `ninjagrad --help` lists them.
COMMANDS: tuple[str, ...] = ("graph", "moons", "train", "sample", "check", "kata", "studio")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) just that command's part: then the other commands' modules
    and their defaults (``train`` imports the trainer for them) are not loaded."""
    parser = argparse.ArgumentParser(
        prog="ninjagrad",
        description="Learn, see and trust backpropagation.",
        epilog="`ninjagrad COMMAND --help` describes each command and its defaults.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show program's version number and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")  # none given: the help
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"ninjagrad.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


class _Version(argparse.Action):
    """``--version``: the version is looked up only when asked for (importlib.metadata takes ~30 ms)."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser._print_message(f"ninjagrad {version()}\n", sys.stdout)  # as argparse's own action does
        parser.exit()


def version() -> str:
    """The installed distribution's version (the package's own when it runs from a source tree)."""
    from importlib import metadata

    try:
        return metadata.version("ninjagrad")
    except metadata.PackageNotFoundError:
        from ninjagrad import __version__

        return __version__


def main(argv: list[str] | None = None) -> int:
    _give_closed_streams_a_sink()
    _escape_what_the_terminal_cannot_show()
    with _noting_ctrl_c() as ctrl_c:
        return _main(argv, ctrl_c)


def _main(argv: list[str] | None, ctrl_c: _CtrlC) -> int:
    command = "ninjagrad"  # how messages name the command, once it is known
    try:
        argv = sys.argv[1:] if argv is None else argv
        parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
        args = parser.parse_args(argv)
        if args.command is None:  # bare `ninjagrad`: the help, not a usage error
            parser.print_help(sys.stderr)
            return 2
        command = f"ninjagrad {args.command}"
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a write that fails (a full disk) fails here, not in the flush at exit
        return code
    except UserError as error:
        _say(f"{command}: error: {error}")
        return 2
    except KeyboardInterrupt:  # Ctrl-C at any moment, start-up included: no traceback
        _say(f"{command}: interrupted")
        return 130
    except BrokenPipeError:  # `ninjagrad check --json | head`: the reader left; stop quietly
        _silence_stdout()  # no second error at exit
        return 141
    except OSError as error:
        # What library code writes is a UserError already (ninjagrad.files); an error with no file name
        # is a print() to stdout or stderr that the disk (`> /dev/full`, a full disk) or device refused.
        if error.filename is not None or error.errno not in OUTPUT_ERRNOS:
            raise
        _silence_stdout()
        _say(f"{command}: error: cannot write the output: {error.strerror}; write it somewhere else")
        return 2
    except Exception:
        if not ctrl_c.pressed:
            raise
        # Ctrl-C inside an extension module's import (NumPy's, say) comes back as that module's ImportError
        _say(f"{command}: interrupted")
        return 130


# A stream's write failed for good: full (ENOSPC, EDQUOT), too large (EFBIG), the device failed (EIO).
OUTPUT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO") if hasattr(errno, name)
)


def _say(message: str) -> None:
    """A message on stderr; one that cannot be written (stderr full or closed) is dropped, not a traceback."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr)


def _silence_stdout() -> None:
    """Send what stdout still holds to /dev/null, so the flush at exit cannot fail a second time."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # capsys's stream has no file descriptor
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _give_closed_streams_a_sink() -> None:
    """Started with stdout or stderr closed (`2>&-`), Python has None there; the progress bar and print
    would then fail (or silently do nothing) mid-run, so both go to /dev/null instead."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (for the process)


class _CtrlC:
    """Ctrl-C raises KeyboardInterrupt as usual, and is remembered where an import turns it into an error."""

    def __init__(self):
        self.pressed = False

    def __call__(self, signum, frame):
        self.pressed = True
        raise KeyboardInterrupt


@contextlib.contextmanager
def _noting_ctrl_c() -> Iterator[_CtrlC]:
    ctrl_c = _CtrlC()
    mine = threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )  # a caller's own handler (or none, in a thread) is left alone
    if mine:
        signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield ctrl_c
    finally:
        if mine:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _escape_what_the_terminal_cannot_show() -> None:
    """Print characters the output's encoding lacks as escapes (\\xe9) instead of failing.

    With ``PYTHONIOENCODING=ascii`` (or a console in another code page) a sampled name such as "zoë" would
    otherwise end the command with a UnicodeEncodeError; so would, even in UTF-8, a file name that is not
    UTF-8 (Python holds its byte b"\xe9" as the character "\udce9", which UTF-8 cannot encode).
    """
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        strict = getattr(stream, "errors", None) == "strict"
        if (encoding != "utf8" or strict) and hasattr(stream, "reconfigure"):
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
