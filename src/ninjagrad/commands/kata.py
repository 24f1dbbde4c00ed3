"""The backprop kata: write the backward pass yourself; ninjagrad finds the first wrong line and says why.

  ninjagrad kata list                     the exercises
  ninjagrad kata new NAME [-o FILE]       write a workbook: the forward pass given, each backward line a TODO
  ninjagrad kata check FILE [--hint]      check it: the table, and a diagnosis of the first wrong gradient

Exit codes of `check`: 0 every gradient right, 1 some wrong or not written yet, 2 the workbook cannot be
checked (a syntax error, an exception, a missing variable, a time-out), with the line to look at.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "the backprop kata: write the backward pass, find the first wrong line"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="kata_command", metavar="ACTION", required=True)
    actions.add_parser("list", help="list the exercises")

    new = actions.add_parser("new", help="write a new workbook for an exercise")
    new.add_argument("name", metavar="NAME", help="the exercise (see `ninjagrad kata list`)")
    new.add_argument("-o", "--output", type=Path, help="the workbook to write (default: NAME.py here)")
    new.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    new.add_argument("--solved", action="store_true", help="write the reference solution instead (spoiler)")

    check = actions.add_parser("check", help="check a workbook, stop at the first wrong gradient")
    check.add_argument("file", type=Path, metavar="FILE", help="the workbook")
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
    from ninjagrad.kata.exercises import EXERCISES, get_exercise

    if args.kata_command == "list":
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
    return check_file(args.file, **options)
