"""The ``ninjagrad`` command line: the only place that reads ``sys.argv``.

Each subcommand lives in ``ninjagrad/commands/<name>.py`` and exposes ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import their heavy dependencies
(matplotlib, graphviz) inside ``run`` so that ``ninjagrad --help`` stays fast.

Exit codes: 0 success, 1 a check that ran and failed, 2 bad input (a clear message, no traceback),
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ninjagrad.errors import UserError

# The subcommands, in the order `ninjagrad --help` lists them.
COMMANDS: tuple[str, ...] = ("graph", "moons", "train", "sample", "check", "kata", "studio")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ninjagrad",
        description="Learn, see and trust backpropagation.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"ninjagrad.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.run(args) or 0)
    except UserError as error:
        print(f"ninjagrad {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ninjagrad {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ninjagrad check --json | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
