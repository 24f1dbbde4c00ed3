"""The backprop kata: write the backward pass yourself; ninjagrad finds the first wrong line and says why.

  ninjagrad kata list                     the exercises
  ninjagrad kata new NAME [-o FILE]       write a workbook: the forward pass given, each backward line a TODO
  ninjagrad kata check FILE [--hint]      check it: the table, and a diagnosis of the first wrong gradient
  (-o FILE, in each of them, writes to FILE instead of printing)

Exit codes of `check`: 0 every gradient right, 1 some wrong or not written yet, 2 the workbook cannot be
checked (a syntax error, an exception, a missing variable, a time-out), with the line to look at.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

from ninjagrad.errors import UserError

HELP = "the backprop kata: write the backward pass, find the first wrong line"


OUTPUT_HELP = "write to FILE instead of printing"  # -o means an output file in every subcommand


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="kata_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="list the exercises",
        description="List the exercises: their names (for `kata new NAME`), how many gradients each asks "
        "for, and what they are.",
    )
    listing.add_argument("-o", "--output", type=Path, metavar="FILE", help=OUTPUT_HELP)

    new = actions.add_parser(
        "new",
        help="write a new workbook for an exercise",
        description="Write a workbook for exercise NAME: the set-up and forward pass given, each backward "
        "line a TODO that names the shape it must have. An existing file is kept unless --force.",
    )
    new.add_argument("name", metavar="NAME", help="the exercise (see `ninjagrad kata list`)")
    new.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="the workbook to write (default: NAME.py here)"
    )
    new.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    new.add_argument("--solved", action="store_true", help="write the reference solution instead (spoiler)")

    check = actions.add_parser(
        "check",
        help="check a workbook: every gradient against autograd, and why the first wrong one is wrong",
        description="Run the workbook in a process of its own, once per data set (the lecture's and "
        "another with other sizes), judge every gradient on its own against autograd, and name the likely "
        "mistake of the first wrong one. Exit code 0: all right; 1: some wrong or not written yet; 2: the "
        "workbook cannot be checked (the line to look at is shown).",
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the workbook")
    check.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help=OUTPUT_HELP + " (the report, or JSON)"
    )
    check.add_argument(
        "--hint", action="store_true", help="a nudge for the first wrong line (not the answer)"
    )
    check.add_argument("--solution", metavar="NAME", help="show the answer for one gradient (e.g. dprobs)")
    check.add_argument(
        "--json", action="store_true", help="print the records as JSON (every row, each judged)"
    )
    check.add_argument(
        "--timeout", type=float, metavar="S", help="seconds the workbook's lines may run (default: 10)"
    )


def run(args: argparse.Namespace) -> int:
    if "numpy" not in sys.modules:  # a fresh `ninjagrad kata` process (not a test or the studio calling in)
        # The kata's arrays are small, so BLAS runs them on one thread anyway; a pool of threads only slows
        # NumPy's import, here and in the runner process, which inherits this (~0.1 s each on 2 cores). A
        # value the user set stays.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from ninjagrad.kata.exercises import EXERCISES, get_exercise

    if args.kata_command == "list":
        with _to(args.output):
            width = max(len(name) for name in EXERCISES)
            print(f"{'NAME':<{width}}  GRADIENTS  WHAT")
            for exercise in EXERCISES.values():
                print(f"{exercise.name:<{width}}  {len(exercise.gradients):>9}  {exercise.title}")
            print("\nStart one with `ninjagrad kata new NAME`, then `ninjagrad kata check NAME.py`.")
        return 0

    if args.kata_command == "new":
        from ninjagrad.kata.workbook import write_workbook

        exercise = get_exercise(args.name)
        path = args.output or Path(f"{exercise.name}.py")
        write_workbook(exercise, path, solved=args.solved, force=args.force)
        what = "the reference solution of" if args.solved else "a workbook for"
        print(f"wrote {what} exercise {exercise.name!r} to {path}")
        if not args.solved:
            todo = (
                "the TODO line"
                if len(exercise.gradients) == 1
                else f"the {len(exercise.gradients)} TODO lines"
            )
            print(f"write {todo}, then: ninjagrad kata check {path}")
        return 0

    from ninjagrad.kata.report import check_file

    options = {"hint": args.hint, "solution": args.solution, "as_json": args.json}
    if args.timeout is not None:  # the checker says what is allowed
        options["timeout"] = args.timeout
    with _to(args.output):
        return check_file(args.file, **options)


@contextlib.contextmanager
def _to(path: Path | None):
    """Print to ``path`` (written whole, atomically, at the end) when it is given, else to stdout."""
    if path is None:
        yield
        return
    from ninjagrad.files import write_atomically

    if path.is_dir():
        raise UserError(f"{path} is a directory; give -o a file name")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    write_atomically(path, buffer.getvalue().encode("utf-8"))
